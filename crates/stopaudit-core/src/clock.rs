//! Local clock time of a batch's stops, fast.
//!
//! Stops are instants (ms since the epoch); the time-based tables need their
//! local date and clock time in the run's zone. Asking chrono-tz per stop
//! costs more than the rest of counting, so a [`BatchClock`] caches, per UTC
//! day of the batch, the offset at the start of the day and the minute it
//! changes (if it does), and per local day its calendar facts: a stop then
//! costs two array lookups.

use chrono::{Datelike, NaiveDate, Offset, TimeZone};
use chrono_tz::Tz;

/// Milliseconds in a day (24 hours).
pub(crate) const DAY_MS: i64 = 86_400_000;

/// Days from 1970-01-01 to `date`.
pub(crate) fn days_since_epoch(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 719_163
}

/// The date of a day number (days since 1970-01-01).
pub(crate) fn date_of(day: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt((day + 719_163) as i32).expect("a representable date")
}

/// UTC offset (ms) of `tz` at an instant.
pub(crate) fn offset_ms(tz: Tz, utc_ms: i64) -> i64 {
    let utc = chrono::DateTime::from_timestamp_millis(utc_ms)
        .unwrap_or_default()
        .naive_utc();
    i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()) * 1000
}

/// The UTC offset during one UTC day.
#[derive(Debug, Clone, Copy)]
struct DayOffsets {
    /// Offset (ms) at the start of the day.
    start: i64,
    /// The instant from which the offset differs within the day, and that offset.
    change: Option<(i64, i64)>,
}

/// A local calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDate {
    /// Days since 1970-01-01.
    pub day: i64,
    /// Calendar year.
    pub year: i32,
    /// 1–12.
    pub month: u32,
    /// Day of the year, 0-based.
    pub ordinal0: u32,
    /// Monday = 0 … Sunday = 6.
    pub weekday: u32,
}

impl LocalDate {
    /// Months since year 0: `year × 12 + month − 1`.
    pub(crate) fn month_index(&self) -> u32 {
        (self.year.max(0) as u32) * 12 + self.month - 1
    }
}

/// A stop's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// The local calendar day.
    pub date: LocalDate,
    /// Seconds after local midnight.
    pub second: i32,
}

/// Local time of the stops of one batch, with caches sized to the batch's days.
pub struct BatchClock {
    tz: Tz,
    first_day: i64,
    offsets: Vec<Option<DayOffsets>>,
    /// From `first_day - 1` to `last_day + 1`.
    local_days: Vec<Option<LocalDate>>,
}

impl BatchClock {
    /// A clock for instants between the smallest and the largest of `times`.
    pub fn new(tz: Tz, times: &[i64]) -> Self {
        let first_day = times.iter().min().map_or(0, |t| t.div_euclid(DAY_MS));
        let last_day = times.iter().max().map_or(0, |t| t.div_euclid(DAY_MS));
        let days = (last_day - first_day + 1) as usize;
        BatchClock {
            tz,
            first_day,
            offsets: vec![None; days],
            local_days: vec![None; days + 2],
        }
    }

    /// The time zone the clock converts to.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    fn offset(&mut self, utc: i64) -> i64 {
        let k = (utc.div_euclid(DAY_MS) - self.first_day) as usize;
        let tz = self.tz;
        let day = *self.offsets[k].get_or_insert_with(|| {
            let from = (k as i64 + self.first_day) * DAY_MS;
            let (start, end) = (offset_ms(tz, from), offset_ms(tz, from + DAY_MS - 1));
            let change = (start != end).then(|| {
                // Bisect to the minute the offset changes.
                let (mut lo, mut hi) = (from, from + DAY_MS - 1);
                while hi - lo > 60_000 {
                    let mid = lo + (hi - lo) / 2;
                    if offset_ms(tz, mid) == start {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                ((lo / 60_000 + 1) * 60_000, end)
            });
            DayOffsets { start, change }
        });
        match day.change {
            Some((at, after)) if utc >= at => after,
            _ => day.start,
        }
    }

    fn local_date(&mut self, day: i64) -> LocalDate {
        let k = (day - self.first_day + 1) as usize;
        *self.local_days[k].get_or_insert_with(|| {
            let date = date_of(day);
            LocalDate {
                day,
                year: date.year(),
                month: date.month(),
                ordinal0: date.ordinal0(),
                weekday: date.weekday().num_days_from_monday(),
            }
        })
    }

    /// The local time of an instant within the batch's days.
    pub fn local(&mut self, utc: i64) -> LocalTime {
        let local = utc + self.offset(utc);
        LocalTime {
            date: self.local_date(local.div_euclid(DAY_MS)),
            second: (local.rem_euclid(DAY_MS) / 1000) as i32,
        }
    }
}

/// The local date of an instant in `tz`.
pub fn local_date(ms: i64, tz: Tz) -> NaiveDate {
    tz.timestamp_millis_opt(ms)
        .single()
        .map(|dt| dt.date_naive())
        .unwrap_or_default()
}

/// Formats an instant as local ISO time with offset, e.g. `2025-03-05T14:30:00+01:00`.
pub fn format_local(ms: i64, tz: Tz) -> String {
    match tz.timestamp_millis_opt(ms).single() {
        Some(dt) => dt.format("%Y-%m-%dT%H:%M:%S%:z").to_string(),
        None => ms.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{NaiveDateTime, Timelike};

    #[test]
    fn matches_chrono_tz_every_quarter_hour_across_both_clock_changes() {
        let tz = chrono_tz::Europe::Amsterdam;
        let start = chrono::DateTime::parse_from_rfc3339("2025-03-29T00:00:00Z")
            .unwrap()
            .timestamp_millis();
        let end = chrono::DateTime::parse_from_rfc3339("2025-10-28T00:00:00Z")
            .unwrap()
            .timestamp_millis();
        let times: Vec<i64> = (start..end).step_by(7 * 60_000 + 13_000).collect();
        let mut clock = BatchClock::new(tz, &times);
        for &t in &times {
            let want: NaiveDateTime = chrono::DateTime::from_timestamp_millis(t)
                .unwrap()
                .with_timezone(&tz)
                .naive_local();
            let got = clock.local(t);
            assert_eq!(date_of(got.date.day), want.date(), "{t}");
            assert_eq!(got.second as u32, want.num_seconds_from_midnight(), "{t}");
            assert_eq!(got.date.month, want.month());
            assert_eq!(got.date.weekday, want.weekday().num_days_from_monday());
        }
    }
}
