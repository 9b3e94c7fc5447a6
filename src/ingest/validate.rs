//! Turning one raw row into a canonical stop, or saying why it cannot be one.
//!
//! Fields are checked in schema order and the first problem decides the
//! quarantine reason; then the checks across fields (contraband without a
//! search) and the period. Duplicates need the rows seen before and are
//! checked afterwards, in file order (see [`super::Ingest`]).

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;

use super::datetime::{
    ParsedDateTime, local_date, parse_date, parse_datetime, parse_time, to_instant,
};
use super::mapping::{ColumnMapping, DateTimeColumns};
use super::source::Cell;
use crate::codes::{CodeList, CodeLists, normalize_label, parse_bool};
use crate::quarantine::{Reason, Rejection};
use crate::schema::UNKNOWN_GROUP;

/// Free-text fields of a stop, in schema order.
pub const TEXT_FIELDS: [&str; 6] = [
    "unit",
    "district",
    "basisteam",
    "area_code",
    "officer_id",
    "team",
];

/// A valid stop, before dictionary encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct StopRow {
    pub stop_id: Option<String>,
    /// Instant of the stop, ms since the epoch.
    pub stopped_at: i64,
    pub justification: u8,
    pub outcome: u8,
    pub legal_basis: Option<u8>,
    pub subject_type: Option<u8>,
    pub reason_explained: Option<u8>,
    pub search_conducted: Option<bool>,
    pub contraband_found: Option<bool>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Values of [`TEXT_FIELDS`], in that order.
    pub texts: [Option<String>; 6],
    /// One value per group attribute; missing values are [`UNKNOWN_GROUP`].
    pub groups: Vec<String>,
}

/// Column indices of the optional fields, looked up once per file.
#[derive(Debug, Clone, Copy)]
struct Columns {
    stop_id: Option<usize>,
    justification: Option<usize>,
    outcome: Option<usize>,
    texts: [Option<usize>; 6],
    latitude: Option<usize>,
    longitude: Option<usize>,
    subject_type: Option<usize>,
    legal_basis: Option<usize>,
    search_conducted: Option<usize>,
    contraband_found: Option<usize>,
    reason_explained: Option<usize>,
}

/// Everything needed to check rows of one file.
pub struct Validator<'a> {
    mapping: &'a ColumnMapping,
    cols: Columns,
    codes: &'a CodeLists,
    tz: Tz,
    datetime_format: Option<&'a str>,
    period: (Option<NaiveDate>, Option<NaiveDate>),
    /// Per group attribute: normalised source value -> group.
    group_values: Vec<foldhash::HashMap<String, String>>,
}

impl<'a> Validator<'a> {
    pub fn new(
        mapping: &'a ColumnMapping,
        codes: &'a CodeLists,
        tz: Tz,
        datetime_format: Option<&'a str>,
        period: (Option<NaiveDate>, Option<NaiveDate>),
        values: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Self {
        let group_values = mapping
            .groups
            .iter()
            .map(|(attr, _)| {
                values
                    .get(attr)
                    .map(|m| {
                        m.iter()
                            .map(|(k, v)| (normalize_label(k), v.clone()))
                            .collect()
                    })
                    .unwrap_or_default()
            })
            .collect();
        let c = |f: &str| mapping.column(f);
        let cols = Columns {
            stop_id: c("stop_id"),
            justification: c("justification"),
            outcome: c("outcome"),
            texts: TEXT_FIELDS.map(c),
            latitude: c("latitude"),
            longitude: c("longitude"),
            subject_type: c("subject_type"),
            legal_basis: c("legal_basis"),
            search_conducted: c("search_conducted"),
            contraband_found: c("contraband_found"),
            reason_explained: c("reason_explained"),
        };
        Validator {
            mapping,
            cols,
            codes,
            tz,
            datetime_format,
            period,
            group_values,
        }
    }

    fn cell(row: &[Cell], column: Option<usize>) -> Option<&Cell> {
        column.map(|i| &row[i]).filter(|c| !c.is_missing())
    }

    /// Checks one row.
    pub fn validate(&self, row: &[Cell]) -> Result<StopRow, Rejection> {
        let cols = self.cols;
        let stop_id = Self::cell(row, cols.stop_id).map(|c| c.display().trim().to_string());
        let stopped_at = self.stopped_at(row)?;
        let justification =
            self.required_code(row, cols.justification, &self.codes.justification)?;
        let outcome = self.required_code(row, cols.outcome, &self.codes.outcome)?;
        let mut texts: [Option<String>; 6] = Default::default();
        for (k, column) in cols.texts.iter().enumerate() {
            texts[k] = Self::cell(row, *column).map(|c| c.display().trim().to_string());
        }
        if let Some(area) = &mut texts[3] {
            *area = check_area_code(area)?;
        }
        let latitude = self.coordinate(row, cols.latitude, "latitude", 90.0)?;
        let longitude = self.coordinate(row, cols.longitude, "longitude", 180.0)?;
        let subject_type = self.optional_code(row, cols.subject_type, &self.codes.subject_type)?;
        let legal_basis = self.optional_code(row, cols.legal_basis, &self.codes.legal_basis)?;
        let search_conducted = self.boolean(row, cols.search_conducted, "search_conducted")?;
        let contraband_found = self.boolean(row, cols.contraband_found, "contraband_found")?;
        let reason_explained =
            self.optional_code(row, cols.reason_explained, &self.codes.reason_explained)?;
        let groups = self
            .mapping
            .groups
            .iter()
            .zip(&self.group_values)
            .map(|((_, i), map)| {
                let cell = &row[*i];
                if cell.is_missing() {
                    return UNKNOWN_GROUP.to_string();
                }
                let raw = cell.display();
                let raw = raw.trim();
                if map.is_empty() {
                    return raw.to_string();
                }
                map.get(&normalize_label(raw))
                    .cloned()
                    .unwrap_or_else(|| raw.to_string())
            })
            .collect();

        if contraband_found == Some(true) && search_conducted == Some(false) {
            return Err(Rejection::new(
                Reason::ContrabandWithoutSearch,
                "contraband_found",
                Self::cell(row, cols.contraband_found)
                    .map(|c| c.display().into_owned())
                    .unwrap_or_default(),
                "contraband_found is yes but search_conducted is no: something can only be found in a search",
            ));
        }
        self.check_period(stopped_at, row)?;
        Ok(StopRow {
            stop_id,
            stopped_at,
            justification,
            outcome,
            legal_basis,
            subject_type,
            reason_explained,
            search_conducted,
            contraband_found,
            latitude,
            longitude,
            texts,
            groups,
        })
    }

    fn stopped_at(&self, row: &[Cell]) -> Result<i64, Rejection> {
        let invalid = |value: String, message: String| {
            Rejection::new(Reason::InvalidDatetime, "stopped_at", value, message)
        };
        let missing = || {
            Rejection::new(
                Reason::MissingRequired,
                "stopped_at",
                "",
                "stopped_at is empty",
            )
        };
        let parsed = match self.mapping.stopped_at {
            DateTimeColumns::One(i) => match &row[i] {
                c if c.is_missing() => return Err(missing()),
                Cell::Text(s) => {
                    parse_datetime(s, self.datetime_format).map_err(|m| invalid(s.clone(), m))?
                }
                Cell::Local(dt) => ParsedDateTime::Local(*dt),
                Cell::Instant(ms) => ParsedDateTime::Instant(*ms),
                other => {
                    let v = other.display().into_owned();
                    return Err(invalid(
                        v.clone(),
                        format!("\"{v}\" is not a date-time with a time of day"),
                    ));
                }
            },
            DateTimeColumns::Split { date, time } => {
                let (d, t) = (&row[date], &row[time]);
                if d.is_missing() || t.is_missing() {
                    return Err(Rejection::new(
                        Reason::MissingRequired,
                        "stopped_at",
                        "",
                        if d.is_missing() {
                            "the date of stopped_at is empty"
                        } else {
                            "the time of stopped_at is empty"
                        },
                    ));
                }
                let day = match d {
                    Cell::Text(s) => parse_date(s).map_err(|m| invalid(s.clone(), m))?,
                    Cell::Date(d) => *d,
                    Cell::Local(dt) => dt.date(),
                    other => {
                        let v = other.display().into_owned();
                        return Err(invalid(v.clone(), format!("\"{v}\" is not a date")));
                    }
                };
                let clock = match t {
                    Cell::Text(s) => parse_time(s).map_err(|m| invalid(s.clone(), m))?,
                    Cell::Local(dt) => dt.time(),
                    Cell::Float(f) if (0.0..1.0).contains(f) => {
                        let secs = (f * 86_400.0).round() as u32;
                        chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs.min(86_399), 0)
                            .expect("in range")
                    }
                    other => {
                        let v = other.display().into_owned();
                        return Err(invalid(v.clone(), format!("\"{v}\" is not a time of day")));
                    }
                };
                ParsedDateTime::Local(NaiveDateTime::new(day, clock))
            }
        };
        to_instant(parsed, self.tz).map_err(|m| {
            let v = match self.mapping.stopped_at {
                DateTimeColumns::One(i) => row[i].display().into_owned(),
                DateTimeColumns::Split { date, time } => {
                    format!("{} {}", row[date].display(), row[time].display())
                }
            };
            invalid(v, m)
        })
    }

    fn check_period(&self, ms: i64, row: &[Cell]) -> Result<(), Rejection> {
        let (start, end) = self.period;
        if start.is_none() && end.is_none() {
            return Ok(());
        }
        let day = local_date(ms, self.tz);
        let before = start.is_some_and(|s| day < s);
        let after = end.is_some_and(|e| day > e);
        if before || after {
            let v = match self.mapping.stopped_at {
                DateTimeColumns::One(i) => row[i].display().into_owned(),
                DateTimeColumns::Split { date, time } => {
                    format!("{} {}", row[date].display(), row[time].display())
                }
            };
            let bound =
                |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "…".into());
            return Err(Rejection::new(
                Reason::OutsidePeriod,
                "stopped_at",
                v,
                format!(
                    "{day} is outside the configured period {} to {}",
                    bound(start),
                    bound(end)
                ),
            ));
        }
        Ok(())
    }

    fn required_code(
        &self,
        row: &[Cell],
        column: Option<usize>,
        list: &CodeList,
    ) -> Result<u8, Rejection> {
        match self.optional_code(row, column, list)? {
            Some(code) => Ok(code),
            None => {
                let field = list.field();
                Err(Rejection::new(
                    Reason::MissingRequired,
                    field,
                    "",
                    format!("{field} is empty"),
                ))
            }
        }
    }

    fn optional_code(
        &self,
        row: &[Cell],
        column: Option<usize>,
        list: &CodeList,
    ) -> Result<Option<u8>, Rejection> {
        let Some(cell) = Self::cell(row, column) else {
            return Ok(None);
        };
        let field = list.field();
        let raw = match cell {
            Cell::Bool(true) => std::borrow::Cow::Borrowed("yes"),
            Cell::Bool(false) => std::borrow::Cow::Borrowed("no"),
            other => other.display(),
        };
        list.lookup(&raw).map(Some).ok_or_else(|| {
            Rejection::new(
                Reason::UnknownCategory,
                field,
                raw.trim(),
                format!(
                    "unknown {field} \"{}\"; closest codes: {}; map it under [values.{field}]",
                    raw.trim(),
                    list.closest(&raw, 3).join(", ")
                ),
            )
        })
    }

    fn boolean(
        &self,
        row: &[Cell],
        column: Option<usize>,
        field: &str,
    ) -> Result<Option<bool>, Rejection> {
        let Some(cell) = Self::cell(row, column) else {
            return Ok(None);
        };
        let parsed = match cell {
            Cell::Bool(b) => Some(*b),
            Cell::Int(0) => Some(false),
            Cell::Int(1) => Some(true),
            Cell::Text(s) => parse_bool(s),
            _ => None,
        };
        parsed.map(Some).ok_or_else(|| {
            let v = cell.display();
            Rejection::new(
                Reason::InvalidValue,
                field,
                v.trim(),
                format!(
                    "{field} \"{}\" is not yes/no (ja/nee, true/false, 1/0)",
                    v.trim()
                ),
            )
        })
    }

    fn coordinate(
        &self,
        row: &[Cell],
        column: Option<usize>,
        field: &str,
        limit: f64,
    ) -> Result<Option<f64>, Rejection> {
        let Some(cell) = Self::cell(row, column) else {
            return Ok(None);
        };
        let value = match cell {
            Cell::Float(f) => Some(*f),
            Cell::Int(i) => Some(*i as f64),
            // Dutch exports write a decimal comma.
            Cell::Text(s) if s.contains(',') => s.trim().replace(',', ".").parse::<f64>().ok(),
            Cell::Text(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match value {
            Some(v) if v.is_finite() && v.abs() <= limit => Ok(Some(v)),
            _ => {
                let v = cell.display();
                Err(Rejection::new(
                    Reason::InvalidValue,
                    field,
                    v.trim(),
                    format!(
                        "{field} \"{}\" is not a number between -{limit} and {limit}",
                        v.trim()
                    ),
                ))
            }
        }
    }
}

/// Checks and upper-cases a CBS area code (GMxxxx, WKxxxxxx, BUxxxxxxxx).
pub fn check_area_code(raw: &str) -> Result<String, Rejection> {
    let code = raw.trim().to_ascii_uppercase();
    let digits = match code.get(..2) {
        Some("GM") => 4,
        Some("WK") => 6,
        Some("BU") => 8,
        _ => 0,
    };
    let ok =
        digits > 0 && code.len() == 2 + digits && code[2..].bytes().all(|b| b.is_ascii_digit());
    if ok {
        Ok(code)
    } else {
        Err(Rejection::new(
            Reason::InvalidValue,
            "area_code",
            raw.trim(),
            format!(
                "area_code \"{}\" is not a CBS code (GM + 4 digits, WK + 6 digits or BU + 8 digits)",
                raw.trim()
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::ingest::mapping::resolve;
    use std::path::Path;

    fn text(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Null
        } else {
            Cell::Text(s.to_string())
        }
    }

    fn check(row: &[&str]) -> Result<StopRow, Rejection> {
        let columns: Vec<String> = [
            "id",
            "datum",
            "tijd",
            "aanleiding",
            "resultaat",
            "gefouilleerd",
            "iets_gevonden",
            "gebiedscode",
            "lat",
            "nationaliteit",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let attrs = vec!["nationality".to_string()];
        let config = Config::default();
        let mapping = resolve(Path::new("t.csv"), &columns, &config, &attrs).unwrap();
        let codes = CodeLists::default();
        let period = (
            NaiveDate::from_ymd_opt(2025, 1, 1),
            NaiveDate::from_ymd_opt(2025, 12, 31),
        );
        let v = Validator::new(
            &mapping,
            &codes,
            chrono_tz::Europe::Amsterdam,
            None,
            period,
            &config.values,
        );
        let cells: Vec<Cell> = row.iter().map(|s| text(s)).collect();
        v.validate(&cells)
    }

    #[test]
    fn a_good_row() {
        let r = check(&[
            "A1",
            "05-03-2025",
            "14:30",
            "Gedrag",
            "bekeuring",
            "ja",
            "nee",
            "gm0363",
            "52,37",
            "",
        ])
        .unwrap();
        assert_eq!(r.stop_id.as_deref(), Some("A1"));
        assert_eq!(r.stopped_at, 1_741_181_400_000);
        assert_eq!(r.justification, 0);
        assert_eq!(r.outcome, 2);
        assert_eq!(r.search_conducted, Some(true));
        assert_eq!(r.contraband_found, Some(false));
        assert_eq!(r.texts[3].as_deref(), Some("GM0363"));
        assert_eq!(r.latitude, Some(52.37));
        assert_eq!(r.groups, ["unknown"]);
    }

    #[test]
    fn first_problem_decides_the_reason() {
        let reason = |row: &[&str]| check(row).unwrap_err().reason;
        assert_eq!(
            reason(&[
                "A",
                "",
                "14:30",
                "gedrag",
                "bekeuring",
                "",
                "",
                "",
                "",
                "NL"
            ]),
            Reason::MissingRequired
        );
        assert_eq!(
            reason(&[
                "A",
                "05-03-2025",
                "25:30",
                "gedrag",
                "bekeuring",
                "",
                "",
                "",
                "",
                "NL"
            ]),
            Reason::InvalidDatetime
        );
        assert_eq!(
            reason(&[
                "A",
                "30-03-2025",
                "02:15",
                "gedrag",
                "bekeuring",
                "",
                "",
                "",
                "",
                "NL"
            ]),
            Reason::InvalidDatetime
        );
        assert_eq!(
            reason(&[
                "A",
                "05-03-2025",
                "14:30",
                "",
                "bekeuring",
                "",
                "",
                "",
                "",
                "NL"
            ]),
            Reason::MissingRequired
        );
        assert_eq!(
            reason(&[
                "A",
                "05-03-2025",
                "14:30",
                "gedrg",
                "bekeuring",
                "",
                "",
                "",
                "",
                "NL"
            ]),
            Reason::UnknownCategory
        );
        assert_eq!(
            reason(&[
                "A",
                "05-03-2025",
                "14:30",
                "gedrag",
                "bekeuring",
                "misschien",
                "",
                "",
                "",
                "NL"
            ]),
            Reason::InvalidValue
        );
        assert_eq!(
            reason(&[
                "A",
                "05-03-2025",
                "14:30",
                "gedrag",
                "bekeuring",
                "",
                "",
                "GM12",
                "",
                "NL"
            ]),
            Reason::InvalidValue
        );
        assert_eq!(
            reason(&[
                "A",
                "05-03-2025",
                "14:30",
                "gedrag",
                "bekeuring",
                "",
                "",
                "",
                "95",
                "NL"
            ]),
            Reason::InvalidValue
        );
        assert_eq!(
            reason(&[
                "A",
                "05-03-2025",
                "14:30",
                "gedrag",
                "bekeuring",
                "nee",
                "ja",
                "",
                "",
                "NL"
            ]),
            Reason::ContrabandWithoutSearch
        );
        assert_eq!(
            reason(&[
                "A",
                "05-03-2024",
                "14:30",
                "gedrag",
                "bekeuring",
                "",
                "",
                "",
                "",
                "NL"
            ]),
            Reason::OutsidePeriod
        );
    }

    #[test]
    fn unknown_category_message_names_value_and_closest_codes() {
        let r = check(&[
            "A",
            "05-03-2025",
            "14:30",
            "Gedrg",
            "bekeuring",
            "",
            "",
            "",
            "",
            "",
        ])
        .unwrap_err();
        assert_eq!(r.field, "justification");
        assert_eq!(r.value, "Gedrg");
        assert!(
            r.message
                .starts_with("unknown justification \"Gedrg\"; closest codes: behaviour"),
            "{}",
            r.message
        );
    }
}
