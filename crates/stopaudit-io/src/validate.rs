//! The validate stage: turning one raw row into a canonical stop, or saying
//! why it cannot be one.
//!
//! Fields are checked in schema order and the first problem decides the
//! quarantine reason; then the checks across fields (contraband without a
//! search) and the period. Duplicates need the rows seen before and are
//! checked afterwards, in file order (see [`crate::scan`]).

use std::collections::BTreeMap;

use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use stopaudit_core::config::NonexistentTime;

use crate::datetime::{
    ParsedDateTime, local_date, parse_date, parse_datetime, parse_time, to_instant,
};
use crate::nested;
use crate::read::mapping::{ColumnMapping, DateTimeColumns};
use rayon::prelude::*;

use crate::quarantine::{Reason, Rejection};
use crate::read::batch::{Cell, ColumnBatch, RawColumn};
use stopaudit_core::canonical::{NONE_I64, StopFields, StopRow, TEXT_FIELDS};
use stopaudit_core::codes::{CodeList, CodeLists, normalize_label, parse_bool};
use stopaudit_core::schema::UNKNOWN_GROUP;

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
    registered_at: Option<usize>,
}

/// Everything needed to check rows of one file.
pub(crate) struct Validator {
    mapping: ColumnMapping,
    cols: Columns,
    codes: CodeLists,
    tz: Tz,
    /// What a local time in the spring-forward gap becomes.
    nonexistent: NonexistentTime,
    datetime_format: Option<String>,
    period: (Option<NaiveDate>, Option<NaiveDate>),
    /// `[input] earliest_date`–`latest_date`, resolved.
    plausible: (NaiveDate, NaiveDate),
    /// `[input] two_digit_years = "20xx"`.
    twenty: bool,
    /// Per group attribute: normalised source value -> group.
    group_values: Vec<foldhash::HashMap<String, String>>,
}

impl Validator {
    pub fn new(
        mapping: &ColumnMapping,
        codes: &CodeLists,
        tz: Tz,
        input: &stopaudit_core::config::InputConfig,
        period: (Option<NaiveDate>, Option<NaiveDate>),
        plausible: (NaiveDate, NaiveDate),
        values: &BTreeMap<String, BTreeMap<String, String>>,
    ) -> Self {
        let nonexistent = input.nonexistent_time.unwrap_or_default();
        let datetime_format = input.datetime_format.as_deref();
        let twenty = input.two_digit_years == Some(stopaudit_core::config::TwoDigitYears::Twenty);
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
            registered_at: c("registered_at"),
        };
        Validator {
            mapping: mapping.clone(),
            cols,
            codes: codes.clone(),
            tz,
            nonexistent,
            datetime_format: datetime_format.map(str::to_string),
            period,
            plausible,
            twenty,
            group_values,
        }
    }

    #[cfg(test)]
    fn cell(row: &[Cell], column: Option<usize>) -> Option<&Cell> {
        column.map(|i| &row[i]).filter(|c| !c.is_missing())
    }

    /// Checks one row: the row-wise reference the tests hold
    /// [`Validator::validate_batch`] to (not used by the product).
    #[cfg(test)]
    pub fn validate(&self, row: &[Cell]) -> Result<StopRow, Rejection> {
        let cols = self.cols;
        let at = |c: Option<usize>| Self::cell(row, c);
        let stop_id = at(cols.stop_id).map(|c| c.display().trim().to_string());
        let stopped_at = self.stopped_at(
            &row[self.mapping.stopped_at.first()],
            self.mapping.stopped_at.second().map(|i| &row[i]),
        )?;
        let justification =
            self.required_code(at(cols.justification), &self.codes.justification)?;
        let outcome = self.required_code(at(cols.outcome), &self.codes.outcome)?;
        let mut texts: [Option<String>; 6] = Default::default();
        for (k, column) in cols.texts.iter().enumerate() {
            texts[k] = text_value(k, at(*column))?;
        }
        let latitude = coordinate(at(cols.latitude), "latitude", 90.0)?;
        let longitude = coordinate(at(cols.longitude), "longitude", 180.0)?;
        let subject_type = optional_code(at(cols.subject_type), &self.codes.subject_type)?;
        let legal_basis = optional_code(at(cols.legal_basis), &self.codes.legal_basis)?;
        let search_conducted = boolean(at(cols.search_conducted), "search_conducted")?;
        let contraband_found = boolean(at(cols.contraband_found), "contraband_found")?;
        let reason_explained =
            optional_code(at(cols.reason_explained), &self.codes.reason_explained)?;
        let registered_at = self.registered_at(at(cols.registered_at))?;
        let groups = (0..self.mapping.groups.len())
            .map(|a| self.group(a, &row[self.mapping.groups[a].1]))
            .collect();
        if contraband_found == Some(true) && search_conducted == Some(false) {
            return Err(contraband_without_search(
                at(cols.contraband_found)
                    .map(|c| c.display().into_owned())
                    .unwrap_or_default(),
            ));
        }
        self.check_period(stopped_at, || self.stamp_text(row))?;
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
            registered_at,
            texts,
            groups,
        })
    }

    /// Checks a batch column by column: each distinct value of a coded
    /// column once, fields in parallel. Per row, the first problem in
    /// schema order decides, exactly as in [`Validator::validate`].
    pub(crate) fn validate_batch(&self, batch: &ColumnBatch) -> CheckedBatch {
        let n = batch.rows();
        let cols = self.cols;
        let col = |c: Option<usize>| c.and_then(|i| batch.column(i));
        let codes = &self.codes;
        let (stopped_at, ((coded, registered_at), (rest, groups))) = nested::join(
            || self.stopped_at_batch(batch),
            || {
                nested::join(
                    || {
                        (
                            [
                                Field::of(col(cols.justification), n, |c| {
                                    self.required_code(c, &codes.justification)
                                }),
                                Field::of(col(cols.outcome), n, |c| {
                                    self.required_code(c, &codes.outcome)
                                }),
                                Field::of(col(cols.subject_type), n, |c| {
                                    optional(optional_code(c, &codes.subject_type))
                                }),
                                Field::of(col(cols.legal_basis), n, |c| {
                                    optional(optional_code(c, &codes.legal_basis))
                                }),
                                Field::of(col(cols.search_conducted), n, |c| {
                                    optional(
                                        boolean(c, "search_conducted").map(|b| b.map(u8::from)),
                                    )
                                }),
                                Field::of(col(cols.contraband_found), n, |c| {
                                    optional(
                                        boolean(c, "contraband_found").map(|b| b.map(u8::from)),
                                    )
                                }),
                                Field::of(col(cols.reason_explained), n, |c| {
                                    optional(optional_code(c, &codes.reason_explained))
                                }),
                            ],
                            Field::of(col(cols.registered_at), n, |c| {
                                self.registered_at(c).map(|v| v.unwrap_or(NONE_I64))
                            }),
                        )
                    },
                    || {
                        nested::join(
                            || {
                                let texts = std::array::from_fn(|k| {
                                    Field::of(col(cols.texts[k]), n, |c| text_value(k, c))
                                });
                                let lat = Field::of(col(cols.latitude), n, |c| {
                                    coordinate(c, "latitude", 90.0).map(|v| v.unwrap_or(f64::NAN))
                                });
                                let lon = Field::of(col(cols.longitude), n, |c| {
                                    coordinate(c, "longitude", 180.0).map(|v| v.unwrap_or(f64::NAN))
                                });
                                let ids = stop_id_hashes(col(cols.stop_id), n);
                                (texts, lat, lon, ids)
                            },
                            || {
                                (0..self.mapping.groups.len())
                                    .map(|a| {
                                        let column = batch.column(self.mapping.groups[a].1);
                                        Field::of(column, n, |c| {
                                            Ok(self.group(a, c.unwrap_or(&Cell::Null)))
                                        })
                                    })
                                    .collect::<Vec<_>>()
                            },
                        )
                    },
                )
            },
        );
        let [
            justification,
            outcome,
            subject_type,
            legal_basis,
            search,
            contraband,
            reason_explained,
        ] = coded;
        let (texts, latitude, longitude, stop_id) = rest;

        // The first problem per row, in the order of `validate` (boxed: a
        // pointer per row to clear and scan, not a whole rejection).
        let mut first: Vec<Option<Box<Rejection>>> = vec![None; n];
        let mut note = |errors: &[(u32, Rejection)]| {
            for (i, r) in errors {
                let slot = &mut first[*i as usize];
                if slot.is_none() {
                    *slot = Some(Box::new(r.clone()));
                }
            }
        };
        note(&stopped_at.errors);
        note(&justification.errors);
        note(&outcome.errors);
        for t in &texts {
            note(&t.errors);
        }
        note(&latitude.errors);
        note(&longitude.errors);
        note(&subject_type.errors);
        note(&legal_basis.errors);
        note(&search.errors);
        note(&contraband.errors);
        note(&reason_explained.errors);
        note(&registered_at.errors);
        let search_values = search.gather(NONE);
        let contraband_values = contraband.gather(NONE);
        for i in 0..n {
            if first[i].is_some() {
                continue;
            }
            if contraband_values[i] == 1 && search_values[i] == 0 {
                let raw = cols
                    .contraband_found
                    .map(|c| batch.cell(c, i).display().trim().to_string())
                    .unwrap_or_default();
                first[i] = Some(Box::new(contraband_without_search(raw)));
                continue;
            }
            if let Err(r) = self.check_period(stopped_at.values[i], || {
                self.stamp_text_at(|c| batch.cell(c, i))
            }) {
                first[i] = Some(Box::new(r));
            }
        }
        CheckedBatch {
            rejections: first,
            stop_id,
            fields: StopFields {
                stopped_at: stopped_at.values,
                justification: justification.gather(0),
                outcome: outcome.gather(0),
                legal_basis: legal_basis.gather(NONE),
                subject_type: subject_type.gather(NONE),
                reason_explained: reason_explained.gather(NONE),
                search_conducted: search_values,
                contraband_found: contraband_values,
                latitude: latitude.gather_f64(),
                longitude: longitude.gather_f64(),
                registered_at: registered_at.gather_i64(),
            },
            texts,
            groups,
        }
    }

    /// `stopped_at` of every row of a batch.
    fn stopped_at_batch(&self, batch: &ColumnBatch) -> Stamps {
        let n = batch.rows();
        let first = batch.column(self.mapping.stopped_at.first());
        let second = self
            .mapping
            .stopped_at
            .second()
            .and_then(|i| batch.column(i));
        let mut out = Stamps {
            values: vec![0; n],
            errors: Vec::new(),
        };
        let fast = match (first, second) {
            (
                Some(RawColumn::Coded {
                    values: dv,
                    codes: dc,
                }),
                Some(RawColumn::Coded {
                    values: tv,
                    codes: tc,
                }),
            ) => Some(self.split_stamps(dv, dc, tv, tc)),
            _ => None,
        };
        let chunk = 8192;
        type Part = (usize, Vec<i64>, Vec<(u32, Rejection)>);
        let pieces = n.div_ceil(chunk);
        let parts: Vec<Part> = (0..pieces)
            .into_par_iter()
            .with_min_len(nested::min_len(pieces))
            .map(|p| {
                let range = p * chunk..((p + 1) * chunk).min(n);
                let mut values = Vec::with_capacity(range.len());
                let mut errors = Vec::new();
                for i in range {
                    if let Some(ms) = fast.as_ref().and_then(|f| f[i]) {
                        values.push(ms);
                        continue;
                    }
                    let result = with_cell(first, i, |a| match second {
                        None => self.stopped_at(a, None),
                        Some(s) => with_cell(Some(s), i, |b| self.stopped_at(a, Some(b))),
                    });
                    match result {
                        Ok(ms) => values.push(ms),
                        Err(r) => {
                            values.push(0);
                            errors.push((i as u32, r));
                        }
                    }
                }
                (p * chunk, values, errors)
            })
            .collect();
        for (start, values, errors) in parts {
            out.values[start..start + values.len()].copy_from_slice(&values);
            out.errors.extend(errors);
        }
        out
    }

    /// `stopped_at` from coded date and time columns without parsing per
    /// row: each distinct date and time is parsed once, and each (date,
    /// hour) is resolved in the time zone once; a row gets its hour's
    /// instant plus its minutes. `None` for rows that need the full check
    /// (a missing or bad value, or an hour in which the offset changes).
    fn split_stamps(
        &self,
        dates: &[Cell],
        date_codes: &[u32],
        times: &[Cell],
        time_codes: &[u32],
    ) -> Vec<Option<i64>> {
        use chrono::Timelike;
        let ok = |c: &Cell| !c.is_missing();
        let days: Vec<Option<NaiveDate>> = dates
            .iter()
            .map(|c| ok(c).then(|| day_of(c, self.twenty).ok()).flatten())
            .collect();
        let clocks: Vec<Option<chrono::NaiveTime>> = times
            .iter()
            .map(|c| ok(c).then(|| clock_of(c).ok()).flatten())
            .collect();
        let mut hours: foldhash::HashMap<(u32, u32), Option<i64>> = Default::default();
        date_codes
            .iter()
            .zip(time_codes)
            .map(|(&d, &t)| {
                let (day, clock) = (days[d as usize]?, clocks[t as usize]?);
                let base = *hours.entry((d, clock.hour())).or_insert_with(|| {
                    let start = NaiveDateTime::new(
                        day,
                        clock.with_minute(0)?.with_second(0)?.with_nanosecond(0)?,
                    );
                    let end = start + chrono::Duration::milliseconds(3_599_999);
                    match (
                        // Only whole hours that exist: a gap hour takes the slow path.
                        crate::datetime::resolve_local(start, self.tz, NonexistentTime::Quarantine),
                        crate::datetime::resolve_local(end, self.tz, NonexistentTime::Quarantine),
                    ) {
                        (Ok(a), Ok(b)) if b - a == 3_599_999 => Some(a),
                        _ => None,
                    }
                });
                let into_hour = clock.minute() * 60_000
                    + clock.second() * 1_000
                    + clock.nanosecond() / 1_000_000;
                base.map(|b| b + i64::from(into_hour))
            })
            .collect()
    }

    fn group(&self, a: usize, cell: &Cell) -> String {
        if cell.is_missing() {
            return UNKNOWN_GROUP.to_string();
        }
        let raw = cell.display();
        let raw = raw.trim();
        let map = &self.group_values[a];
        if map.is_empty() {
            return raw.to_string();
        }
        map.get(&normalize_label(raw))
            .cloned()
            .unwrap_or_else(|| raw.to_string())
    }

    /// A date-time from one cell; with `date_alone`, a date without a time
    /// is read as midnight of that day.
    fn parse_cell(
        &self,
        cell: &Cell,
        date_alone: bool,
        invalid: &dyn Fn(String, String) -> Rejection,
    ) -> Result<ParsedDateTime, Rejection> {
        match cell {
            Cell::Text(s) => parse_datetime(s, self.datetime_format.as_deref(), self.twenty)
                .or_else(|m| {
                    if !date_alone {
                        return Err(m);
                    }
                    crate::datetime::parse_date(s, self.twenty)
                        .map(|d| ParsedDateTime::Local(d.and_hms_opt(0, 0, 0).expect("midnight")))
                })
                .map_err(|m| invalid(s.clone(), m)),
            Cell::Local(dt) => Ok(ParsedDateTime::Local(*dt)),
            Cell::Instant(ms) => Ok(ParsedDateTime::Instant(*ms)),
            other => {
                let v = other.display().into_owned();
                Err(invalid(
                    v.clone(),
                    format!("\"{v}\" is not a date-time with a time of day"),
                ))
            }
        }
    }

    /// `registered_at` from its cell: `None` when missing.
    fn registered_at(&self, cell: Option<&Cell>) -> Result<Option<i64>, Rejection> {
        let Some(cell) = cell.filter(|c| !c.is_missing()) else {
            return Ok(None);
        };
        let invalid = |value: String, message: String| {
            Rejection::new(Reason::InvalidDatetime, "registered_at", value, message)
        };
        let parsed = self.parse_cell(cell, true, &invalid)?;
        to_instant(parsed, self.tz, self.nonexistent)
            .map(Some)
            .map_err(|m| invalid(cell.display().into_owned(), m))
    }

    /// The instant of a stop from its date-time cell, or its date and time cells.
    fn stopped_at(&self, first: &Cell, second: Option<&Cell>) -> Result<i64, Rejection> {
        let invalid = |value: String, message: String| {
            Rejection::new(Reason::InvalidDatetime, "stopped_at", value, message)
        };
        let parsed = match second {
            None => match first {
                c if c.is_missing() => {
                    return Err(Rejection::new(
                        Reason::MissingRequired,
                        "stopped_at",
                        "",
                        "stopped_at is empty",
                    ));
                }
                cell => self.parse_cell(cell, false, &invalid)?,
            },
            Some(t) => {
                let d = first;
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
                let day = day_of(d, self.twenty).map_err(|(v, m)| invalid(v, m))?;
                let clock = clock_of(t).map_err(|(v, m)| invalid(v, m))?;
                ParsedDateTime::Local(NaiveDateTime::new(day, clock))
            }
        };
        to_instant(parsed, self.tz, self.nonexistent).map_err(|m| {
            let v = match second {
                None => first.display().into_owned(),
                Some(t) => format!("{} {}", first.display(), t.display()),
            };
            invalid(v, m)
        })
    }

    /// The raw text of a row's `stopped_at` (one column, or date and time).
    #[cfg(test)]
    fn stamp_text(&self, row: &[Cell]) -> String {
        self.stamp_text_at(|c| row[c].clone())
    }

    fn stamp_text_at(&self, cell: impl Fn(usize) -> Cell) -> String {
        match self.mapping.stopped_at {
            DateTimeColumns::One(i) => cell(i).display().into_owned(),
            DateTimeColumns::Split { date, time } => {
                format!("{} {}", cell(date).display(), cell(time).display())
            }
        }
    }

    /// The plausible range (`implausible_date`), then `[period]` (`outside_period`).
    fn check_period(&self, ms: i64, stamp: impl FnOnce() -> String) -> Result<(), Rejection> {
        let day = local_date(ms, self.tz);
        let (earliest, latest) = self.plausible;
        if day < earliest || day > latest {
            return Err(Rejection::new(
                Reason::ImplausibleDate,
                "stopped_at",
                stamp(),
                format!(
                    "{day} is not a plausible date of a stop (before {earliest} or after {latest}: a mistyped year?); [input] earliest_date and latest_date set the range"
                ),
            ));
        }
        let (start, end) = self.period;
        if start.is_none() && end.is_none() {
            return Ok(());
        }
        let before = start.is_some_and(|s| day < s);
        let after = end.is_some_and(|e| day > e);
        if before || after {
            let bound =
                |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "…".into());
            return Err(Rejection::new(
                Reason::OutsidePeriod,
                "stopped_at",
                stamp(),
                format!(
                    "{day} is outside the configured period {} to {}",
                    bound(start),
                    bound(end)
                ),
            ));
        }
        Ok(())
    }

    fn required_code(&self, cell: Option<&Cell>, list: &CodeList) -> Result<u8, Rejection> {
        match optional_code(cell, list)? {
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
}

/// The date in a (present) date cell, or its text and what is wrong with it.
fn day_of(d: &Cell, twenty: bool) -> Result<NaiveDate, (String, String)> {
    match d {
        Cell::Text(s) => parse_date(s, twenty).map_err(|m| (s.clone(), m)),
        Cell::Date(d) => Ok(*d),
        Cell::Local(dt) => Ok(dt.date()),
        other => {
            let v = other.display().into_owned();
            let m = format!("\"{v}\" is not a date");
            Err((v, m))
        }
    }
}

/// The time of day in a (present) time cell, or its text and what is wrong with it.
fn clock_of(t: &Cell) -> Result<chrono::NaiveTime, (String, String)> {
    match t {
        Cell::Text(s) => parse_time(s).map_err(|m| (s.clone(), m)),
        Cell::Local(dt) => Ok(dt.time()),
        Cell::Float(f) if (0.0..1.0).contains(f) => {
            let secs = (f * 86_400.0).round() as u32;
            Ok(
                chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs.min(86_399), 0)
                    .expect("in range"),
            )
        }
        other => {
            let v = other.display().into_owned();
            let m = format!("\"{v}\" is not a time of day");
            Err((v, m))
        }
    }
}

/// Code of a missing value in the `u8` fields of [`CheckedBatch`].
pub(crate) const NONE: u8 = stopaudit_core::canonical::NONE_U8;

fn optional(r: Result<Option<u8>, Rejection>) -> Result<u8, Rejection> {
    r.map(|v| v.unwrap_or(NONE))
}

fn contraband_without_search(raw: String) -> Rejection {
    Rejection::new(
        Reason::ContrabandWithoutSearch,
        "contraband_found",
        raw,
        "contraband_found is yes but search_conducted is no: something can only be found in a search",
    )
}

/// A text field's value; area codes are checked and upper-cased.
fn text_value(k: usize, cell: Option<&Cell>) -> Result<Option<String>, Rejection> {
    let Some(cell) = cell else { return Ok(None) };
    let value = cell.display().trim().to_string();
    if TEXT_FIELDS[k] == "area_code" {
        return check_area_code(&value).map(Some);
    }
    Ok(Some(value))
}

fn optional_code(cell: Option<&Cell>, list: &CodeList) -> Result<Option<u8>, Rejection> {
    let Some(cell) = cell else {
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

fn boolean(cell: Option<&Cell>, field: &str) -> Result<Option<bool>, Rejection> {
    let Some(cell) = cell else {
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

fn coordinate(cell: Option<&Cell>, field: &str, limit: f64) -> Result<Option<f64>, Rejection> {
    let Some(cell) = cell else {
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

/// Runs `f` on the cell at row `i` of a column (a null when it is not read).
fn with_cell<T>(column: Option<&RawColumn>, i: usize, f: impl FnOnce(&Cell) -> T) -> T {
    match column {
        None => f(&Cell::Null),
        Some(c) => c.with_cell(i, f),
    }
}

/// 128-bit hashes of the trimmed stop ids of a batch; `None` where missing.
fn stop_id_hashes(column: Option<&RawColumn>, n: usize) -> Vec<Option<u128>> {
    let hash = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| xxhash_rust::xxh3::xxh3_128(s.as_bytes()))
    };
    let hash_cell = |c: &Cell| match c {
        Cell::Null => None,
        Cell::Text(s) => hash(s),
        other => hash(&other.display()),
    };
    match column {
        None => vec![None; n],
        Some(RawColumn::Text(t)) => (0..n)
            .into_par_iter()
            .with_min_len(nested::min_len(n))
            .map(|i| hash(t.get(i)))
            .collect(),
        Some(RawColumn::Coded { values, codes }) => {
            let hashes: Vec<Option<u128>> = values.iter().map(hash_cell).collect();
            codes.iter().map(|&c| hashes[c as usize]).collect()
        }
        Some(other) => (0..n)
            .into_par_iter()
            .with_min_len(nested::min_len(n))
            .map(|i| other.with_cell(i, hash_cell))
            .collect(),
    }
}

/// The checked values of one field over a batch, kept coded: row `i` has
/// `values[codes[i]]`, `None` where that value was rejected.
#[derive(Debug, Clone)]
pub struct Field<T> {
    pub values: Vec<Option<T>>,
    pub codes: Vec<u32>,
    /// Rejected rows, in row order.
    pub errors: Vec<(u32, Rejection)>,
}

impl<T: Clone + Send> Field<T> {
    /// Checks a column with `check` (given `None` for a missing value): once
    /// per distinct value of a coded column, else once per row.
    fn of(
        column: Option<&RawColumn>,
        n: usize,
        check: impl Fn(Option<&Cell>) -> Result<T, Rejection> + Sync,
    ) -> Self {
        fn present(c: &Cell) -> Option<&Cell> {
            (!c.is_missing()).then_some(c)
        }
        let results: Vec<Result<T, Rejection>>;
        let codes: Vec<u32> = match column {
            None => {
                results = vec![check(None)];
                vec![0; n]
            }
            Some(RawColumn::Coded { values, codes }) => {
                results = values.iter().map(|c| check(present(c))).collect();
                codes.clone()
            }
            Some(other) => {
                results = (0..n)
                    .into_par_iter()
                    .with_min_len(nested::min_len(n))
                    .map(|i| other.with_cell(i, |c| check(present(c))))
                    .collect();
                (0..n as u32).collect()
            }
        };
        let mut errors = Vec::new();
        if results.iter().any(Result::is_err) {
            for (i, &c) in codes.iter().enumerate() {
                if let Err(r) = &results[c as usize] {
                    errors.push((i as u32, r.clone()));
                }
            }
        }
        Field {
            values: results.into_iter().map(Result::ok).collect(),
            codes,
            errors,
        }
    }

    /// The value of row `i` (`None` where rejected).
    pub fn get(&self, i: usize) -> Option<&T> {
        self.values[self.codes[i] as usize].as_ref()
    }
}

impl Field<u8> {
    /// One value per row, `rejected` where the row's value was rejected.
    fn gather(&self, rejected: u8) -> Vec<u8> {
        let table: Vec<u8> = self.values.iter().map(|v| v.unwrap_or(rejected)).collect();
        self.codes.iter().map(|&c| table[c as usize]).collect()
    }
}

impl Field<i64> {
    /// One value per row, [`NONE_I64`] where missing or rejected.
    fn gather_i64(&self) -> Vec<i64> {
        let table: Vec<i64> = self.values.iter().map(|v| v.unwrap_or(NONE_I64)).collect();
        self.codes.iter().map(|&c| table[c as usize]).collect()
    }
}

impl Field<f64> {
    /// One value per row, NaN where missing or rejected.
    fn gather_f64(&self) -> Vec<f64> {
        let table: Vec<f64> = self.values.iter().map(|v| v.unwrap_or(f64::NAN)).collect();
        self.codes.iter().map(|&c| table[c as usize]).collect()
    }
}

struct Stamps {
    values: Vec<i64>,
    errors: Vec<(u32, Rejection)>,
}

/// A batch after [`Validator::validate_batch`]: per row, its rejection or
/// its values.
#[derive(Debug)]
pub(crate) struct CheckedBatch {
    /// Per row: why it is rejected, or `None` for a valid stop.
    pub rejections: Vec<Option<Box<Rejection>>>,
    pub stop_id: Vec<Option<u128>>,
    /// Values of every row (meaningless where rejected).
    pub fields: StopFields,
    /// Values of [`TEXT_FIELDS`].
    pub texts: [Field<Option<String>>; 6],
    /// One per group attribute; missing values are [`UNKNOWN_GROUP`].
    pub groups: Vec<Field<String>>,
}

impl CheckedBatch {
    pub fn len(&self) -> usize {
        self.rejections.len()
    }

    /// Row `i` as a [`StopRow`] (for scope filters and tests); `None` when rejected.
    pub(crate) fn stop_row(&self, i: usize) -> Option<StopRow> {
        if self.rejections[i].is_some() {
            return None;
        }
        let opt = |v: u8| (v != NONE).then_some(v);
        let flag = |v: u8| (v != NONE).then_some(v == 1);
        let f = &self.fields;
        Some(StopRow {
            stop_id: None,
            stopped_at: f.stopped_at[i],
            justification: f.justification[i],
            outcome: f.outcome[i],
            legal_basis: opt(f.legal_basis[i]),
            subject_type: opt(f.subject_type[i]),
            reason_explained: opt(f.reason_explained[i]),
            search_conducted: flag(f.search_conducted[i]),
            contraband_found: flag(f.contraband_found[i]),
            latitude: None,
            longitude: None,
            registered_at: (f.registered_at[i] != NONE_I64).then_some(f.registered_at[i]),
            texts: std::array::from_fn(|k| self.texts[k].get(i).cloned().flatten()),
            groups: self
                .groups
                .iter()
                .map(|g| g.get(i).cloned().unwrap_or_default())
                .collect(),
        })
    }
}

/// Checks and upper-cases a CBS area code (GMxxxx, WKxxxxxx, BUxxxxxxxx).
pub(crate) fn check_area_code(raw: &str) -> Result<String, Rejection> {
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
    use crate::read::mapping::resolve;
    use std::path::Path;
    use stopaudit_core::config::Config;

    fn text(s: &str) -> Cell {
        if s.is_empty() {
            Cell::Null
        } else {
            Cell::Text(s.to_string())
        }
    }

    fn validator() -> Validator {
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
        let period = (
            NaiveDate::from_ymd_opt(2025, 1, 1),
            NaiveDate::from_ymd_opt(2025, 12, 31),
        );
        Validator::new(
            &mapping,
            &CodeLists::default(),
            chrono_tz::Europe::Amsterdam,
            &config.input,
            period,
            (
                NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
                NaiveDate::from_ymd_opt(2030, 1, 1).unwrap(),
            ),
            &config.values,
        )
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Column-wise validation (coded columns, distinct values checked
        /// once, dates and times resolved per hour) gives every row exactly
        /// what the row-wise reference gives: the same rejection, or the
        /// same values. Dates include both DST changes and the period's ends.
        #[test]
        fn batches_validate_like_rows(picks in proptest::collection::vec(proptest::collection::vec(0..64usize, 10), 1..300)) {
            let pick = |options: &[&'static str], k: usize| options[k % options.len()];
            let rows: Vec<Vec<&str>> = picks
                .iter()
                .map(|p| {
                    vec![
                        pick(&["A1", "A2", "A3", "", " A1 "], p[0]),
                        pick(&["30-03-2025", "26-10-2025", "05-03-2025", "2025-12-31", "01-01-2026", "31-12-2024", "not a date", ""], p[1]),
                        pick(&["02:30", "02:59:59", "03:00", "01:15", "14:30", "23:59", "25:00", "", "2.30"], p[2]),
                        pick(&["Gedrag", "gedrag", "informatie", "onbekend", ""], p[3]),
                        pick(&["bekeuring", "geen", "proces-verbaal", "??", ""], p[4]),
                        pick(&["ja", "nee", "", "misschien"], p[5]),
                        pick(&["ja", "nee", ""], p[6]),
                        pick(&["gm0363", "GM0599", "XX12", ""], p[7]),
                        pick(&["52,37", "51.9", "95", "", "abc"], p[8]),
                        pick(&["Nederlands", "Marokkaans", ""], p[9]),
                    ]
                })
                .collect();
            let v = validator();
            let raw = crate::read::batch::RawBatch {
                row_numbers: (2..2 + rows.len() as u64).collect(),
                rows: rows.iter().map(|r| r.iter().map(|s| text(s)).collect()).collect(),
                malformed: Vec::new(),
            };
            let batch = ColumnBatch::from_rows(raw, 10);
            let checked = v.validate_batch(&batch);
            for (i, row) in rows.iter().enumerate() {
                let cells: Vec<Cell> = row.iter().map(|s| text(s)).collect();
                match v.validate(&cells) {
                    Err(r) => proptest::prop_assert_eq!(checked.rejections[i].as_deref(), Some(&r), "row {:?}", row),
                    Ok(mut stop) => {
                        proptest::prop_assert!(checked.rejections[i].is_none(), "row {:?}: {:?}", row, checked.rejections[i]);
                        stop.stop_id = None;
                        stop.latitude = None;
                        stop.longitude = None;
                        proptest::prop_assert_eq!(checked.stop_row(i), Some(stop));
                    }
                }
            }
        }
    }

    fn check(row: &[&str]) -> Result<StopRow, Rejection> {
        let cells: Vec<Cell> = row.iter().map(|s| text(s)).collect();
        validator().validate(&cells)
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
