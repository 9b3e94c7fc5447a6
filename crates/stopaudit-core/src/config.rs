//! The mapping/configuration file (`--config stopaudit.toml`).
//!
//! It says how an export's columns and values map onto the canonical schema,
//! which columns are group attributes, and how to read the files. Every
//! section is optional; without a file the built-in aliases apply.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::codes::CodeLists;
use crate::error::{Error, Result};
use crate::schema;

/// The whole mapping file.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// canonical field (or group attribute) -> source column(s).
    #[serde(default)]
    pub columns: BTreeMap<String, ColumnSource>,
    /// canonical field (or group attribute) -> { source value -> canonical code or group }.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// extensible code list -> { new code -> labels }.
    #[serde(default)]
    pub codes: BTreeMap<String, BTreeMap<String, CodeLabels>>,
    /// `[groups]`: the group attributes and their reference groups.
    #[serde(default)]
    pub groups: GroupsConfig,
    /// `[input]`: how to read the files.
    #[serde(default)]
    pub input: InputConfig,
    /// `[period]`: the period of the audit; stops outside it are quarantined.
    #[serde(default)]
    pub period: PeriodConfig,
    /// `[analysis]`: confidence, FDR, hit outcomes, weak justifications, strata, band, min_cell, population.
    #[serde(default)]
    pub analysis: crate::analysis::AnalysisSettings,
    /// `[report]`: what the published report says about itself.
    #[serde(default)]
    pub report: ReportConfig,
}

/// `[report]`: the report's own words.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// The title, naming what the report covers, e.g. "ProCo-registraties
    /// eenheid Rotterdam, 3e kwartaal 2025"; default: "Audit of stop
    /// registrations" in the report's language.
    pub title: Option<String>,
}

/// Where a canonical field comes from: one column, or (for `stopped_at`) a
/// date column and a time column.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum ColumnSource {
    /// One source column.
    One(String),
    /// A date column and a time column, in that order (`stopped_at` only).
    DateAndTime([String; 2]),
}

/// Labels of a code added by the mapping file.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CodeLabels {
    /// Dutch label.
    pub nl: String,
    /// English label.
    pub en: String,
}

/// `[groups]`: which columns are group attributes, and the reference group of each.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupsConfig {
    /// Columns declared group attributes (e.g. `nationality`); when empty, the well-known
    /// attribute columns present in the input are used.
    #[serde(default)]
    pub attributes: Vec<String>,
    /// attribute -> reference group (default: the largest group).
    #[serde(default)]
    pub reference: BTreeMap<String, String>,
}

/// Character encoding of text inputs.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub enum Encoding {
    /// UTF-8 (also `utf8`, `UTF-8`).
    #[serde(rename = "utf-8", alias = "utf8", alias = "UTF-8")]
    Utf8,
    /// Windows-1252 (also `cp1252`, `latin1`, `iso-8859-1`, `ansi`).
    #[serde(
        rename = "windows-1252",
        alias = "cp1252",
        alias = "latin1",
        alias = "iso-8859-1",
        alias = "ansi"
    )]
    Windows1252,
}

/// `[input]`: how to read the files.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InputConfig {
    /// CSV delimiter; auto-detected among `,` `;` and tab when absent.
    pub delimiter: Option<String>,
    /// Text encoding; auto-detected (UTF-8, else Windows-1252) when absent.
    pub encoding: Option<Encoding>,
    /// A chrono format string for `stopped_at`, tried before the built-in formats.
    pub datetime_format: Option<String>,
    /// IANA time zone of local times (default Europe/Amsterdam).
    pub timezone: Option<String>,
    /// A local time in the hour skipped when clocks go forward (02:30 on
    /// the spring-forward night): `quarantine` (default) or `shift_forward`
    /// (to the first time after the gap, 03:00, as pandas'
    /// `nonexistent="shift_forward"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonexistent_time: Option<NonexistentTime>,
    /// A CSV field longer than this many bytes makes its line malformed
    /// (default [`DEFAULT_MAX_FIELD_BYTES`]): no real export has one, and a
    /// stray quote makes one out of many records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_field_bytes: Option<usize>,
    /// A quoted CSV field over more than this many line breaks is a
    /// malformed region read line by line (default
    /// [`DEFAULT_MAX_FIELD_LINES`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_field_lines: Option<u64>,
    /// How a date with a two-digit year (`05-03-25`) is read: `quarantine`
    /// (the default: `invalid_datetime`) or `20xx` (day-month-year, in
    /// 2000–2099).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub two_digit_years: Option<TwoDigitYears>,
    /// Stops dated before this day are quarantined as `implausible_date`
    /// (default [`DEFAULT_EARLIEST_DATE`]).
    #[serde(
        default,
        deserialize_with = "toml_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub earliest_date: Option<NaiveDate>,
    /// Stops dated after this day are quarantined as `implausible_date`
    /// (default: one year after the day of the run).
    #[serde(
        default,
        deserialize_with = "toml_date",
        skip_serializing_if = "Option::is_none"
    )]
    pub latest_date: Option<NaiveDate>,
    /// Excel sheet name (default: the first sheet).
    pub sheet: Option<String>,
    /// Parquet reader: `native` (default; keeps dictionary codes) or `polars`
    /// (polars' streaming scan). Both give the same results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parquet_reader: Option<ParquetReader>,
}

/// See [`InputConfig::two_digit_years`].
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
pub enum TwoDigitYears {
    /// Quarantined as an invalid date-time (the default).
    #[default]
    #[serde(rename = "quarantine")]
    Quarantine,
    /// Day-month-year with the year in 2000–2099 (`05-03-25` is 5 March 2025).
    #[serde(rename = "20xx")]
    Twenty,
}

/// Default of [`InputConfig::earliest_date`]: no ProCo registration is older.
pub const DEFAULT_EARLIEST_DATE: (i32, u32, u32) = (2000, 1, 1);

impl InputConfig {
    /// The range of plausible stop dates: `[earliest_date, latest_date]`,
    /// the latter by default a year after `today` (the run's date).
    pub fn plausible_dates(&self, today: NaiveDate) -> (NaiveDate, NaiveDate) {
        let (y, m, d) = DEFAULT_EARLIEST_DATE;
        let earliest = self
            .earliest_date
            .unwrap_or_else(|| NaiveDate::from_ymd_opt(y, m, d).expect("a date"));
        let latest = self.latest_date.unwrap_or_else(|| {
            today
                .checked_add_months(chrono::Months::new(12))
                .unwrap_or(NaiveDate::MAX)
        });
        (earliest, latest)
    }
}

/// Default of [`InputConfig::max_field_bytes`].
pub const DEFAULT_MAX_FIELD_BYTES: usize = 10_000;
/// Default of [`InputConfig::max_field_lines`].
pub const DEFAULT_MAX_FIELD_LINES: u64 = 20;

/// See [`InputConfig::nonexistent_time`].
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum NonexistentTime {
    /// The row is quarantined as an invalid date-time (the default).
    #[default]
    Quarantine,
    /// The time moves forward to the end of the gap (the first existing
    /// minute: 03:00 for 02:30 in Europe/Amsterdam).
    ShiftForward,
}

/// See [`InputConfig::parquet_reader`].
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ParquetReader {
    /// The built-in reader (the default; keeps dictionary codes).
    Native,
    /// Polars' streaming scan.
    Polars,
}

/// `[period]`: stops outside it are quarantined. Both ends inclusive.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PeriodConfig {
    /// First day of the period (local date); `None`: no lower bound.
    #[serde(default, deserialize_with = "toml_date")]
    pub start: Option<NaiveDate>,
    /// Last day of the period (local date); `None`: no upper bound.
    #[serde(default, deserialize_with = "toml_date")]
    pub end: Option<NaiveDate>,
}

/// Reads a TOML date (`start = 2025-01-01`) or a date string (`"2025-01-01"`).
fn toml_date<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Option<NaiveDate>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum DateInput {
        Toml(toml::value::Datetime),
        Text(String),
    }
    let invalid =
        |what: String| serde::de::Error::custom(format!("{what} is not a date like 2025-01-01"));
    match DateInput::deserialize(d)? {
        DateInput::Toml(dt) => match (dt.date, dt.time) {
            (Some(date), None) => {
                NaiveDate::from_ymd_opt(date.year.into(), date.month.into(), date.day.into())
                    .map(Some)
                    .ok_or_else(|| invalid(dt.to_string()))
            }
            _ => Err(invalid(dt.to_string())),
        },
        DateInput::Text(s) => s.parse::<NaiveDate>().map(Some).map_err(|_| invalid(s)),
    }
}

impl Config {
    /// Reads and checks a mapping file; see [`Config::parse`].
    pub fn load(path: &Path) -> Result<(Self, CodeLists)> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text, path)
    }

    /// Parses and checks the text of the mapping file at `path`, and returns
    /// it with the code lists it defines. Files it names (population,
    /// pseudonymisation key) are made relative to the file's folder.
    pub fn parse(text: &str, path: &Path) -> Result<(Self, CodeLists)> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            Error::Config(format!("{}: {}", path.display(), e.to_string().trim_end()))
        })?;
        if let Some(dir) = path.parent() {
            let a = &mut config.analysis;
            for file in [
                &mut a.population,
                &mut a.data_quality.pseudonym_key_file,
                &mut a.benchmarking.pseudonym_key_file,
            ]
            .into_iter()
            .flatten()
            {
                if file.is_relative() {
                    *file = dir.join(&*file);
                }
            }
        }
        let codes = config
            .check()
            .map_err(|e| Error::Config(format!("{}: {}", path.display(), strip_prefix(&e))))?;
        Ok((config, codes))
    }

    /// Checks what TOML parsing cannot: known field names, a valid time zone,
    /// a single-character delimiter, a sensible period, `[analysis]` against
    /// the code lists. Returns those code lists ([`Config::code_lists`]).
    pub fn check(&self) -> Result<CodeLists> {
        for (name, source) in &self.columns {
            let is_group = self.groups.attributes.iter().any(|a| a == name);
            if schema::field(name).is_none() && !is_group {
                let mut known: Vec<&str> = schema::FIELDS.iter().map(|f| f.name).collect();
                known.extend(self.groups.attributes.iter().map(String::as_str));
                return Err(Error::Config(format!(
                    "[columns] names `{name}`, which is neither a canonical field nor a declared group attribute; closest: {}",
                    closest(name, &known).join(", ")
                )));
            }
            if matches!(source, ColumnSource::DateAndTime(_)) && name != "stopped_at" {
                return Err(Error::Config(format!(
                    "[columns] `{name}`: only `stopped_at` can come from two columns (date and time)"
                )));
            }
        }
        for name in self.values.keys() {
            let is_group = self.groups.attributes.iter().any(|a| a == name);
            let coded = CodeLists::default().for_field(name).is_some();
            if !coded && !is_group {
                return Err(Error::Config(format!(
                    "[values.{name}]: values can be mapped for coded fields (justification, outcome, legal_basis, subject_type, reason_explained) and declared group attributes"
                )));
            }
        }
        for attr in self.groups.reference.keys() {
            if !self.groups.attributes.iter().any(|a| a == attr) {
                return Err(Error::Config(format!(
                    "[groups] reference names `{attr}`, which is not in [groups] attributes"
                )));
            }
        }
        for attr in &self.groups.attributes {
            if schema::field(attr).is_some() {
                return Err(Error::Config(format!(
                    "[groups] attribute `{attr}` is a canonical field name; give the group attribute another name"
                )));
            }
        }
        if let Some(tz) = &self.input.timezone {
            tz.parse::<chrono_tz::Tz>().map_err(|_| {
                Error::Config(format!(
                    "[input] timezone `{tz}` is not an IANA time zone name such as Europe/Amsterdam"
                ))
            })?;
        }
        if let Some(d) = &self.input.delimiter {
            delimiter_byte(d)?;
        }
        if let (Some(a), Some(b)) = (self.input.earliest_date, self.input.latest_date)
            && a > b
        {
            return Err(Error::Config(format!(
                "[input] earliest_date {a} is after latest_date {b}"
            )));
        }
        if self.input.max_field_bytes == Some(0) {
            return Err(Error::Config(
                "[input] max_field_bytes must be at least 1 (default 10000)".into(),
            ));
        }
        if let (Some(s), Some(e)) = (self.period.start, self.period.end)
            && s > e
        {
            return Err(Error::Config(format!(
                "[period] start {s} is after end {e}"
            )));
        }
        let codes = self.code_lists()?;
        self.analysis
            .check(&codes)
            .map_err(|e| Error::Config(format!("[analysis] {e}")))?;
        Ok(codes)
    }

    /// The code lists with this file's added codes and value mappings applied.
    pub fn code_lists(&self) -> Result<CodeLists> {
        let mut lists = CodeLists::default();
        for (field, codes) in &self.codes {
            let list = lists.for_field_mut(field).ok_or_else(|| {
                Error::Config(format!(
                    "[codes.{field}]: codes can be added to justification, legal_basis and outcome"
                ))
            })?;
            for (code, labels) in codes {
                list.add_code(code, &labels.nl, &labels.en)?;
            }
        }
        for (field, map) in &self.values {
            if let Some(list) = lists.for_field_mut(field) {
                for (source, code) in map {
                    list.add_alias(source, code)?;
                }
            }
        }
        Ok(lists)
    }

    /// What decides what a count cube holds, as JSON (its SHA-256 is the
    /// cube's specification hash, docs/results.md "The count cube"): the
    /// column and value maps, the code lists' codes, `[input]`, `[period]`,
    /// `[groups] attributes`, the time zone, the scope, and of the count
    /// plan the extra strata, the sun settings of the veil of darkness, the
    /// internal-benchmarking spec and which date gives a stop's month. A
    /// cube is analysed, and cubes are merged, only when these are equal;
    /// the analyses' own settings (confidence, FDR, bands, …) may differ.
    pub fn counting_specification(
        &self,
        codes: &CodeLists,
        scope: &crate::scope::Scope,
        plan: &crate::counting::CountPlan,
    ) -> serde_json::Value {
        use crate::canonical::TEXT_FIELDS;
        let list = |l: &crate::codes::CodeList| -> Vec<String> {
            l.codes().iter().map(|c| c.code.clone()).collect()
        };
        let veil = plan.daylight.as_ref().map(|_| {
            let v = &self.analysis.veil_of_darkness;
            serde_json::json!({
                "unit_locations": v.unit_locations,
                "default_location": v.default_location,
                "grid_degrees": v.grid_degrees,
                "clock_change_days": v.clock_change_days,
            })
        });
        let bench = plan.bench.as_ref().map(|b| {
            serde_json::json!({
                "entities": b.entities.iter().map(|&k| TEXT_FIELDS[k]).collect::<Vec<_>>(),
                "area": b.area.map(|k| TEXT_FIELDS[k]),
                "time_of_day": b.band,
                "day_type": b.day_type,
                "month": b.month,
            })
        });
        serde_json::json!({
            "columns": self.columns,
            "values": self.values,
            "codes": {
                "justification": list(&codes.justification),
                "outcome": list(&codes.outcome),
                "legal_basis": list(&codes.legal_basis),
                "subject_type": list(&codes.subject_type),
                "reason_explained": list(&codes.reason_explained),
            },
            "group_attributes": self.groups.attributes,
            "input": self.input,
            "period": self.period,
            "timezone": self.timezone().name(),
            "scope": scope,
            "extra_fields": plan.extra_fields,
            "veil_of_darkness": veil,
            "benchmarking": bench,
            "months_by_registration": plan.registration_periods.is_some(),
        })
    }

    /// The configured time zone (Europe/Amsterdam by default).
    pub fn timezone(&self) -> chrono_tz::Tz {
        self.input
            .timezone
            .as_deref()
            .and_then(|t| t.parse().ok())
            .unwrap_or(chrono_tz::Europe::Amsterdam)
    }
}

/// Parses a delimiter setting: one ASCII character, or `tab` / `\t`.
pub fn delimiter_byte(d: &str) -> Result<u8> {
    match d {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        s if s.len() == 1 && s.is_ascii() => Ok(s.as_bytes()[0]),
        s => Err(Error::Config(format!(
            "[input] delimiter `{s}` must be a single character such as \",\" or \";\", or \"tab\""
        ))),
    }
}

fn strip_prefix(e: &Error) -> String {
    match e {
        Error::Config(m) => m.clone(),
        other => other.to_string(),
    }
}

/// Up to three names from `candidates` closest to `name`.
pub fn closest<'a>(name: &str, candidates: &[&'a str]) -> Vec<&'a str> {
    let needle = schema::normalize_column(name);
    let mut scored: Vec<(f64, &str)> = candidates
        .iter()
        .map(|c| {
            (
                strsim::jaro_winkler(&needle, &schema::normalize_column(c)),
                *c,
            )
        })
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, c)| c).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config> {
        let c: Config = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        c.check()?;
        Ok(c)
    }

    #[test]
    fn full_mapping_file_parses() {
        let c = parse(
            r#"
            [columns]
            stopped_at = ["Datum", "Tijd"]
            justification = "Aanleiding controle"
            nationality = "Nationaliteit"
            [values.justification]
            "Rijgedrag" = "behaviour"
            [values.nationality]
            "NL" = "Nederlands"
            [codes.legal_basis]
            opium_act = { nl = "Opiumwet", en = "Opium Act" }
            [groups]
            attributes = ["nationality"]
            reference = { nationality = "Nederlands" }
            [input]
            delimiter = ";"
            encoding = "windows-1252"
            timezone = "Europe/Amsterdam"
            [period]
            start = 2024-01-01
            end = 2024-03-31
            "#,
        )
        .unwrap();
        assert_eq!(
            c.columns["stopped_at"],
            ColumnSource::DateAndTime(["Datum".into(), "Tijd".into()])
        );
        let lists = c.code_lists().unwrap();
        assert_eq!(lists.justification.lookup("rijgedrag"), Some(0));
        assert!(lists.legal_basis.index_of("opium_act").is_some());
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse("[columns]\njustifcation = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("closest: justification"), "{e}");
        assert!(
            parse("[input]\nmax_field_bytes = 0")
                .unwrap_err()
                .to_string()
                .contains("max_field_bytes")
        );
        let e = parse("[input]\ntimezone = \"Mars/Olympus\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("Mars/Olympus"), "{e}");
        let e = parse("[values.outcome]\n\"x\" = \"jail\"")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not a code of `outcome`"), "{e}");
        let e = parse("[groups]\nreference = { gender = \"man\" }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not in [groups] attributes"), "{e}");
        assert!(parse("[input]\ndelimiter = \";;\"").is_err());
        assert!(parse("[unknown]\nx = 1").is_err());
    }
}
