//! Parsing stop date-times as exports write them, and resolving local clock
//! times to instants with the time zone's DST rules.
//!
//! Accepted: ISO 8601 (`2025-03-05T14:30`, `2025-03-05 14:30:00`, with or
//! without a UTC offset) and Dutch day-first dates (`05-03-2025 14:30`,
//! `5/3/2025 14:30:05`). A configured chrono format is tried first. Dates
//! with a slash or dash and the year last are always read day first, as
//! Dutch exports write them.

use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike};
use chrono_tz::Tz;
use stopaudit_core::config::NonexistentTime;

const LOCAL_FORMATS: &[&str] = &[
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%d-%m-%Y %H:%M:%S",
    "%d-%m-%Y %H:%M",
    "%d/%m/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%d-%m-%Y %H.%M",
    "%d.%m.%Y %H:%M:%S",
    "%d.%m.%Y %H:%M",
];

const OFFSET_FORMATS: &[&str] = &["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%z"];

const DATE_FORMATS: &[&str] = &["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y"];

const TIME_FORMATS: &[&str] = &["%H:%M:%S%.f", "%H:%M", "%H.%M", "%H%M"];

/// A parsed date-time value before time-zone resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParsedDateTime {
    /// A wall-clock time in the configured zone.
    Local(NaiveDateTime),
    /// An instant (the value carried an offset), in milliseconds since the epoch.
    Instant(i64),
}

/// The date part of a date-time text with a two-digit year read by
/// `[input] two_digit_years`: `None` when the year has four digits (or the
/// text is no date of three numbers, left to the formats); the text with a
/// four-digit year when the rule allows it; an error otherwise. chrono's
/// `%Y` takes any number of digits, so `05-03-25` read as ISO was 25 March
/// of the year 5.
fn four_digit_year(s: &str, twenty: bool) -> Result<Option<String>, String> {
    let end = s.find([' ', 'T']).unwrap_or(s.len());
    let (date, rest) = s.split_at(end);
    let parts: Vec<&str> = date.split(['-', '/', '.']).collect();
    if parts.len() != 3
        || !parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Ok(None);
    }
    let lens: Vec<usize> = parts.iter().map(|p| p.len()).collect();
    if (lens[0] == 4 && lens[1] <= 2 && lens[2] <= 2)
        || (lens[2] == 4 && lens[0] <= 2 && lens[1] <= 2)
    {
        return Ok(None);
    }
    if lens == [2, 2, 2] || (lens[2] == 2 && lens[0] <= 2 && lens[1] <= 2) {
        if twenty {
            let sep = &date[parts[0].len()..parts[0].len() + 1];
            return Ok(Some(format!(
                "{}{sep}{}{sep}20{}{rest}",
                parts[0], parts[1], parts[2]
            )));
        }
        return Err(format!(
            "\"{s}\" has a two-digit year: day-month-year or year-month-day? Export four-digit years, or set [input] two_digit_years = \"20xx\" to read it as day-month-20yy"
        ));
    }
    Err(format!(
        "\"{s}\" has no four-digit year (expected e.g. 2025-03-05 or 05-03-2025)"
    ))
}

/// Parses one date-time text. The error says what was wrong, for the
/// quarantine message. `twenty`: `[input] two_digit_years = "20xx"`.
pub(crate) fn parse_datetime(
    raw: &str,
    custom: Option<&str>,
    twenty: bool,
) -> Result<ParsedDateTime, String> {
    let s = raw.trim();
    if let Some(fmt) = custom {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(ParsedDateTime::Local(dt));
        }
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Ok(ParsedDateTime::Instant(dt.timestamp_millis()));
        }
    }
    let fixed = four_digit_year(s, twenty)?;
    let s = fixed.as_deref().unwrap_or(s);
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Ok(ParsedDateTime::Instant(dt.timestamp_millis()));
    }
    for fmt in OFFSET_FORMATS {
        if let Ok(dt) = DateTime::parse_from_str(s, fmt) {
            return Ok(ParsedDateTime::Instant(dt.timestamp_millis()));
        }
    }
    for fmt in LOCAL_FORMATS {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Ok(ParsedDateTime::Local(dt));
        }
    }
    if parse_date(s, twenty).is_ok() {
        return Err(format!("\"{s}\" has a date but no time of day"));
    }
    Err(format!(
        "\"{s}\" is not a date-time (expected e.g. 2025-03-05 14:30 or 05-03-2025 14:30{})",
        custom
            .map(|f| format!(", or the configured format {f}"))
            .unwrap_or_default()
    ))
}

/// Parses a date-only text (for a separate date column); `twenty` as in
/// [`parse_datetime`].
pub(crate) fn parse_date(raw: &str, twenty: bool) -> Result<NaiveDate, String> {
    let s = raw.trim();
    // A date column exported with a midnight time ("05-03-2025 00:00") is common.
    let date_part = s.split([' ', 'T']).next().unwrap_or(s);
    let fixed = four_digit_year(date_part, twenty)?;
    let date_part = fixed.as_deref().unwrap_or(date_part);
    for fmt in DATE_FORMATS {
        if let Ok(d) = NaiveDate::parse_from_str(date_part, fmt) {
            return Ok(d);
        }
    }
    Err(format!(
        "\"{s}\" is not a date (expected e.g. 2025-03-05 or 05-03-2025)"
    ))
}

/// Parses a time-only text (for a separate time column).
pub(crate) fn parse_time(raw: &str) -> Result<NaiveTime, String> {
    let s = raw.trim();
    for fmt in TIME_FORMATS {
        if let Ok(t) = NaiveTime::parse_from_str(s, fmt) {
            return Ok(t);
        }
    }
    Err(format!(
        "\"{s}\" is not a time of day (expected e.g. 14:30)"
    ))
}

/// Resolves a wall-clock time to an instant (ms since the epoch) in `tz`.
///
/// In the repeated hour when clocks go back, the earlier instant is taken.
/// A time in the hour skipped when clocks go forward does not exist: an
/// error, or with [`NonexistentTime::ShiftForward`] the first existing
/// minute after the gap (03:00 for 02:30 in Europe/Amsterdam).
pub(crate) fn resolve_local(
    local: NaiveDateTime,
    tz: Tz,
    nonexistent: NonexistentTime,
) -> Result<i64, String> {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(dt) => Ok(dt.timestamp_millis()),
        LocalResult::Ambiguous(earliest, _) => Ok(earliest.timestamp_millis()),
        LocalResult::None => {
            let gap_end = (nonexistent == NonexistentTime::ShiftForward)
                .then(|| first_minute_after_gap(local, tz))
                .flatten();
            gap_end.ok_or_else(|| {
                format!(
                    "{} does not exist in {}: the clocks were put forward that night (set [input] nonexistent_time = \"shift_forward\" to move such times to the end of the gap)",
                    local.format("%Y-%m-%d %H:%M"),
                    tz.name()
                )
            })
        }
    }
}

/// The first whole minute after `local` that exists in `tz`, within three
/// hours (every real gap is shorter).
fn first_minute_after_gap(local: NaiveDateTime, tz: Tz) -> Option<i64> {
    let start = local.with_second(0)?.with_nanosecond(0)?;
    (1..=180).find_map(|m| {
        tz.from_local_datetime(&(start + chrono::Duration::minutes(m)))
            .earliest()
            .map(|dt| dt.timestamp_millis())
    })
}

/// Resolves any parsed value to an instant.
pub(crate) fn to_instant(
    parsed: ParsedDateTime,
    tz: Tz,
    nonexistent: NonexistentTime,
) -> Result<i64, String> {
    match parsed {
        ParsedDateTime::Local(local) => resolve_local(local, tz, nonexistent),
        ParsedDateTime::Instant(ms) => Ok(ms),
    }
}

pub use stopaudit_core::clock::{format_local, local_date};

/// Converts an Excel serial date (days since 1899-12-30) to a local date-time.
pub(crate) fn from_excel_serial(serial: f64) -> Option<NaiveDateTime> {
    if !serial.is_finite() || !(0.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    let ms = (serial * 86_400_000.0).round() as i64;
    base.checked_add_signed(chrono::Duration::milliseconds(ms))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::Europe::Amsterdam;
    use stopaudit_core::config::NonexistentTime::{Quarantine, ShiftForward};

    fn local(s: &str) -> NaiveDateTime {
        match parse_datetime(s, None, false).unwrap() {
            ParsedDateTime::Local(l) => l,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn iso_and_dutch_formats_give_the_same_time() {
        let want = NaiveDate::from_ymd_opt(2025, 3, 5)
            .unwrap()
            .and_hms_opt(14, 30, 0)
            .unwrap();
        for s in [
            "2025-03-05T14:30",
            "2025-03-05 14:30:00",
            "05-03-2025 14:30",
            "5-3-2025 14:30",
            "05/03/2025 14:30:00",
            " 05-03-2025 14:30 ",
        ] {
            assert_eq!(local(s), want, "{s}");
        }
    }

    #[test]
    fn offsets_make_instants() {
        let p = parse_datetime("2025-03-05T14:30:00+01:00", None, false).unwrap();
        assert_eq!(p, ParsedDateTime::Instant(1_741_181_400_000));
        let z = parse_datetime("2025-03-05T13:30:00Z", None, false).unwrap();
        assert_eq!(z, p);
    }

    #[test]
    fn autumn_repeated_hour_takes_the_earlier_instant() {
        // 2025-10-26 02:30 happens twice in Amsterdam: first at +02:00.
        let ms = resolve_local(local("26-10-2025 02:30"), Amsterdam, Quarantine).unwrap();
        assert_eq!(format_local(ms, Amsterdam), "2025-10-26T02:30:00+02:00");
        let utc = chrono::DateTime::from_timestamp_millis(ms).unwrap();
        assert_eq!(utc.to_rfc3339(), "2025-10-26T00:30:00+00:00");
    }

    #[test]
    fn spring_skipped_hour_is_an_error() {
        let err = resolve_local(local("30-03-2025 02:30"), Amsterdam, Quarantine).unwrap_err();
        assert!(err.contains("does not exist"), "{err}");
        assert!(err.contains("nonexistent_time"), "{err}");
        assert!(resolve_local(local("30-03-2025 03:00"), Amsterdam, Quarantine).is_ok());
        assert!(resolve_local(local("30-03-2025 01:59"), Amsterdam, Quarantine).is_ok());
    }

    #[test]
    fn shift_forward_moves_a_skipped_time_to_the_end_of_the_gap() {
        for skipped in ["30-03-2025 02:00", "30-03-2025 02:30", "30-03-2025 02:59"] {
            let ms = resolve_local(local(skipped), Amsterdam, ShiftForward).unwrap();
            assert_eq!(
                format_local(ms, Amsterdam),
                "2025-03-30T03:00:00+02:00",
                "{skipped}"
            );
        }
        // Times that exist are untouched.
        let ms = resolve_local(local("30-03-2025 03:10"), Amsterdam, ShiftForward).unwrap();
        assert_eq!(format_local(ms, Amsterdam), "2025-03-30T03:10:00+02:00");
    }

    #[test]
    fn two_digit_years_are_read_by_the_rule_or_refused() {
        // chrono's %Y took "05-03-25" as ISO: 25 March of the year 5.
        let e = parse_datetime("05-03-25 14:30", None, false).unwrap_err();
        assert!(
            e.contains("two-digit year") && e.contains("two_digit_years"),
            "{e}"
        );
        assert!(
            parse_date("31-12-24", false)
                .unwrap_err()
                .contains("two-digit year")
        );
        assert_eq!(
            parse_datetime("05-03-25 14:30", None, true).unwrap(),
            ParsedDateTime::Local(local("2025-03-05 14:30"))
        );
        assert_eq!(
            parse_date("31/12/24", true).unwrap(),
            NaiveDate::from_ymd_opt(2024, 12, 31).unwrap()
        );
        // Four digits are read as before; three or five are no year.
        assert_eq!(
            parse_datetime("2025-03-05 14:30", None, true).unwrap(),
            ParsedDateTime::Local(local("2025-03-05 14:30"))
        );
        assert!(
            parse_datetime("05-03-025 14:30", None, true)
                .unwrap_err()
                .contains("four-digit year")
        );
        assert!(parse_date("05-03-20255", true).is_err());
    }

    #[test]
    fn bad_values_say_why() {
        let e = parse_datetime("05-03-2025", None, false).unwrap_err();
        assert!(e.contains("no time of day"), "{e}");
        let e = parse_datetime("gisteren", None, false).unwrap_err();
        assert!(e.contains("not a date-time"), "{e}");
        assert!(parse_datetime("31-02-2025 10:00", None, false).is_err());
    }

    #[test]
    fn custom_format_first() {
        let p = parse_datetime("20250305 1430", Some("%Y%m%d %H%M"), false).unwrap();
        assert_eq!(p, ParsedDateTime::Local(local("2025-03-05 14:30")));
    }

    #[test]
    fn separate_date_and_time() {
        assert_eq!(
            parse_date("05-03-2025", false).unwrap(),
            NaiveDate::from_ymd_opt(2025, 3, 5).unwrap()
        );
        assert_eq!(
            parse_date("2025-03-05 00:00:00", false).unwrap(),
            NaiveDate::from_ymd_opt(2025, 3, 5).unwrap()
        );
        assert_eq!(
            parse_time("9:05").unwrap(),
            NaiveTime::from_hms_opt(9, 5, 0).unwrap()
        );
        assert!(parse_time("25:00").is_err());
    }

    #[test]
    fn excel_serials() {
        let dt = from_excel_serial(45721.604166666664).unwrap();
        assert_eq!(dt, local("2025-03-05 14:30"));
    }
}
