//! The scope of an analysis: a period and equality filters, as a researcher
//! answering one precise question needs them (`--period 2025-Q3 --where
//! unit=Rotterdam`). Rows outside the scope are counted as
//! `rows_out_of_scope`: not quarantined (nothing is wrong with them), not
//! silently gone.

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::Serialize;

use crate::canonical::{StopRow, TEXT_FIELDS};
use crate::clock::local_date;
use crate::codes::{CodeLists, normalize_label};
use crate::error::{Error, Result};
use crate::schema::UNKNOWN_GROUP;

/// An inclusive range of local dates, with the text it was given as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Period {
    /// The period as given, e.g. `2025-Q3`.
    pub label: String,
    /// First day, inclusive.
    pub start: NaiveDate,
    /// Last day, inclusive.
    pub end: NaiveDate,
}

/// `field = value[, value…]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Filter {
    /// The field filtered on (see [`FILTER_FIELDS`]) or a group attribute.
    pub field: String,
    /// Values kept: a row matches when its value is any of them.
    pub values: Vec<String>,
}

/// Period and filters; empty means everything.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Scope {
    /// `--period`; `None`: all dates.
    pub period: Option<Period>,
    /// `--where` filters; a row must match every one.
    #[serde(rename = "where")]
    pub filters: Vec<Filter>,
}

/// Fields a filter can name (besides group attributes).
pub const FILTER_FIELDS: &[&str] = &[
    "justification",
    "outcome",
    "legal_basis",
    "subject_type",
    "reason_explained",
    "search_conducted",
    "contraband_found",
    "unit",
    "district",
    "basisteam",
    "area_code",
    "team",
    "officer_id",
];

impl Period {
    /// Parses `2025`, `2025-Q3`, `2025-07`, `2025-07-14` (or day first,
    /// `14-07-2025`, `14/7/2025`, `14.07.2025`) or `FROM..TO` (each end any of these).
    pub fn parse(text: &str) -> Result<Self> {
        let bad = || {
            Error::Usage(format!(
                "--period {text}: expected a year (2025), quarter (2025-Q3), month (2025-07), day (2025-07-14 or 14-07-2025) or a range FROM..TO"
            ))
        };
        let (start, end) = match text.split_once("..") {
            Some((a, b)) => (
                one(a.trim()).ok_or_else(bad)?.0,
                one(b.trim()).ok_or_else(bad)?.1,
            ),
            None => one(text.trim()).ok_or_else(bad)?,
        };
        if start > end {
            return Err(Error::Usage(format!(
                "--period {text}: the start is after the end"
            )));
        }
        Ok(Period {
            label: text.trim().to_string(),
            start,
            end,
        })
    }

    /// Whether `day` lies in the period, both ends included.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.start <= day && day <= self.end
    }
}

/// First and last day of a year, quarter, month or day.
fn one(s: &str) -> Option<(NaiveDate, NaiveDate)> {
    let last_of_month = |y: i32, m: u32| {
        let next = if m == 12 {
            NaiveDate::from_ymd_opt(y + 1, 1, 1)
        } else {
            NaiveDate::from_ymd_opt(y, m + 1, 1)
        };
        next.and_then(|d| d.pred_opt())
    };
    // A day, ISO or day first as Dutch exports write it (01-07-2025, 1/7/2025, 01.07.2025).
    for fmt in ["%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%d.%m.%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(s, fmt) {
            return Some((d, d));
        }
    }
    let parts: Vec<&str> = s.split('-').collect();
    let year: i32 = parts
        .first()?
        .parse()
        .ok()
        .filter(|y| (1900..=2200).contains(y))?;
    match parts.as_slice() {
        [_] => Some((
            NaiveDate::from_ymd_opt(year, 1, 1)?,
            NaiveDate::from_ymd_opt(year, 12, 31)?,
        )),
        [_, q] if q.len() == 2 && (q.starts_with('Q') || q.starts_with('q')) => {
            let q: u32 = q[1..].parse().ok().filter(|q| (1..=4).contains(q))?;
            let first = NaiveDate::from_ymd_opt(year, 3 * q - 2, 1)?;
            Some((first, last_of_month(year, 3 * q)?))
        }
        [_, m] => {
            let m: u32 = m.parse().ok().filter(|m| (1..=12).contains(m))?;
            Some((
                NaiveDate::from_ymd_opt(year, m, 1)?,
                last_of_month(year, m)?,
            ))
        }
        _ => None,
    }
}

impl Filter {
    /// Parses `field=value` or `field=value1,value2`.
    pub fn parse(text: &str) -> Result<Self> {
        let (field, values) = text.split_once('=').ok_or_else(|| {
            Error::Usage(format!(
                "--where {text}: expected FIELD=VALUE or FIELD=VALUE1,VALUE2"
            ))
        })?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if field.trim().is_empty() || values.is_empty() {
            return Err(Error::Usage(format!(
                "--where {text}: expected FIELD=VALUE or FIELD=VALUE1,VALUE2"
            )));
        }
        Ok(Filter {
            field: field.trim().to_string(),
            values,
        })
    }
}

impl Scope {
    /// True when nothing is filtered.
    pub fn is_everything(&self) -> bool {
        self.period.is_none() && self.filters.is_empty()
    }

    /// Checks field names and coded values against the schema.
    pub fn check(&self, attributes: &[String], codes: &CodeLists) -> Result<()> {
        for f in &self.filters {
            let known = FILTER_FIELDS.contains(&f.field.as_str()) || attributes.contains(&f.field);
            if !known {
                let mut names: Vec<&str> = FILTER_FIELDS.to_vec();
                names.extend(attributes.iter().map(String::as_str));
                return Err(Error::Usage(format!(
                    "--where {}: unknown field; use one of {}",
                    f.field,
                    names.join(", ")
                )));
            }
            if let Some(list) = codes.for_field(&f.field) {
                for v in &f.values {
                    if list.lookup(v).is_none() {
                        return Err(Error::Usage(format!(
                            "--where {}={v}: not a code of {}; closest: {}",
                            f.field,
                            f.field,
                            list.closest(v, 3).join(", ")
                        )));
                    }
                }
            }
            if matches!(f.field.as_str(), "search_conducted" | "contraband_found") {
                for v in &f.values {
                    if crate::codes::parse_bool(v).is_none() {
                        return Err(Error::Usage(format!(
                            "--where {}={v}: expected yes or no",
                            f.field
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether a valid stop is inside the scope.
    pub fn matches(
        &self,
        stop: &StopRow,
        codes: &CodeLists,
        attributes: &[String],
        tz: Tz,
    ) -> bool {
        if let Some(p) = &self.period
            && !p.contains(local_date(stop.stopped_at, tz))
        {
            return false;
        }
        self.filters
            .iter()
            .all(|f| filter_matches(f, stop, codes, attributes))
    }

    /// One line for text outputs, e.g. `period 2025-Q3; unit = Rotterdam`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(p) = &self.period {
            parts.push(format!("period {} ({} to {})", p.label, p.start, p.end));
        }
        for f in &self.filters {
            parts.push(format!("{} = {}", f.field, f.values.join(" or ")));
        }
        if parts.is_empty() {
            "all stops".to_string()
        } else {
            parts.join("; ")
        }
    }
}

fn filter_matches(f: &Filter, stop: &StopRow, codes: &CodeLists, attributes: &[String]) -> bool {
    let code = |value: Option<u8>, field: &str| {
        let list = codes.for_field(field).expect("coded field");
        value.is_some_and(|v| f.values.iter().any(|want| list.lookup(want) == Some(v)))
    };
    let boolean = |value: Option<bool>| {
        value.is_some_and(|v| {
            f.values
                .iter()
                .any(|w| crate::codes::parse_bool(w) == Some(v))
        })
    };
    let text = |value: Option<&str>| {
        let v = normalize_label(value.unwrap_or(UNKNOWN_GROUP));
        f.values.iter().any(|w| normalize_label(w) == v)
    };
    match f.field.as_str() {
        "justification" => code(Some(stop.justification), "justification"),
        "outcome" => code(Some(stop.outcome), "outcome"),
        "legal_basis" => code(stop.legal_basis, "legal_basis"),
        "subject_type" => code(stop.subject_type, "subject_type"),
        "reason_explained" => code(stop.reason_explained, "reason_explained"),
        "search_conducted" => boolean(stop.search_conducted),
        "contraband_found" => boolean(stop.contraband_found),
        field => match TEXT_FIELDS.iter().position(|t| *t == field) {
            Some(k) => text(stop.texts[k].as_deref()),
            None => match attributes.iter().position(|a| a == field) {
                Some(a) => text(Some(&stop.groups[a])),
                None => false,
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn periods() {
        let p = Period::parse("2025-Q3").unwrap();
        assert_eq!((p.start, p.end), (d(2025, 7, 1), d(2025, 9, 30)));
        let p = Period::parse("2024-02").unwrap();
        assert_eq!((p.start, p.end), (d(2024, 2, 1), d(2024, 2, 29)));
        let p = Period::parse("2025").unwrap();
        assert_eq!((p.start, p.end), (d(2025, 1, 1), d(2025, 12, 31)));
        let p = Period::parse("2025-03-15..2025-Q2").unwrap();
        assert_eq!((p.start, p.end), (d(2025, 3, 15), d(2025, 6, 30)));
        let p = Period::parse("2025-12").unwrap();
        assert_eq!(p.end, d(2025, 12, 31));
        assert!(Period::parse("2025-Q5").is_err());
        assert!(Period::parse("2025-13").is_err());
        assert!(Period::parse("2025-06..2025-01").is_err());
        assert!(Period::parse("gisteren").is_err());
        // The date forms the data accept.
        let p = Period::parse("01-07-2025..30-09-2025").unwrap();
        assert_eq!((p.start, p.end), (d(2025, 7, 1), d(2025, 9, 30)));
        let p = Period::parse("1/7/2025..30.09.2025").unwrap();
        assert_eq!((p.start, p.end), (d(2025, 7, 1), d(2025, 9, 30)));
    }

    #[test]
    fn filters() {
        let f = Filter::parse("unit=Rotterdam, Amsterdam").unwrap();
        assert_eq!(f.values, ["Rotterdam", "Amsterdam"]);
        assert!(Filter::parse("unit").is_err());
        assert!(Filter::parse("unit=").is_err());
        let scope = Scope {
            period: None,
            filters: vec![Filter::parse("justification=gedrag").unwrap()],
        };
        assert!(scope.check(&[], &CodeLists::default()).is_ok());
        let scope = Scope {
            period: None,
            filters: vec![Filter::parse("justification=gedrg").unwrap()],
        };
        assert!(
            scope
                .check(&[], &CodeLists::default())
                .unwrap_err()
                .to_string()
                .contains("closest: behaviour")
        );
        let scope = Scope {
            period: None,
            filters: vec![Filter::parse("colour=red").unwrap()],
        };
        assert!(scope.check(&[], &CodeLists::default()).is_err());
    }
}
