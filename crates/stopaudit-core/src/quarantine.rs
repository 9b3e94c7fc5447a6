//! Rows that cannot be analysed, each with the reason why.
//!
//! Nothing is dropped silently: every input row either reaches the analysis
//! or lands here, with its file, row (for CSV: the line the record starts
//! on), the field and value at fault and a message. The I/O crate's
//! quarantine sink writes them out as CSV or Parquet.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Why a row was quarantined. One reason per row: the first problem found,
/// checking fields in schema order, then the checks across fields, then the
/// period, then duplicates.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The line could not be split into the header's columns (or was not valid text/JSON).
    MalformedLine,
    /// A required field is empty.
    MissingRequired,
    /// `stopped_at` (or `registered_at`) could not be read, or names a local
    /// time that does not exist.
    InvalidDatetime,
    /// A coded field holds a value that matches no code.
    UnknownCategory,
    /// A boolean, coordinate or area code that cannot be read.
    InvalidValue,
    /// `contraband_found` is true but `search_conducted` is false.
    ContrabandWithoutSearch,
    /// `stopped_at` falls outside `[input] earliest_date`–`latest_date`
    /// (by default 2000 to a year after the run): a typed year 0, 1900 or 2200.
    ImplausibleDate,
    /// `stopped_at` falls outside the configured `[period]`.
    OutsidePeriod,
    /// The `stop_id` was seen before (the first occurrence is kept).
    DuplicateStopId,
}

impl Reason {
    /// All reasons, in the order they are checked.
    pub const ALL: [Reason; 9] = [
        Reason::MalformedLine,
        Reason::MissingRequired,
        Reason::InvalidDatetime,
        Reason::UnknownCategory,
        Reason::InvalidValue,
        Reason::ContrabandWithoutSearch,
        Reason::ImplausibleDate,
        Reason::OutsidePeriod,
        Reason::DuplicateStopId,
    ];

    /// The snake_case name used in every output.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::MalformedLine => "malformed_line",
            Reason::MissingRequired => "missing_required",
            Reason::InvalidDatetime => "invalid_datetime",
            Reason::UnknownCategory => "unknown_category",
            Reason::InvalidValue => "invalid_value",
            Reason::ContrabandWithoutSearch => "contraband_without_search",
            Reason::ImplausibleDate => "implausible_date",
            Reason::OutsidePeriod => "outside_period",
            Reason::DuplicateStopId => "duplicate_stop_id",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with one row, before it is tied to a file.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejection {
    /// Why the row is rejected.
    pub reason: Reason,
    /// Canonical field at fault (empty for a malformed line).
    pub field: String,
    /// The offending raw value (may be empty).
    pub value: String,
    /// What is wrong, in plain English, for whoever corrects the data.
    pub message: String,
}

impl Rejection {
    /// A rejection of `field` holding `value`, with its reason and message.
    pub fn new(
        reason: Reason,
        field: impl Into<String>,
        value: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Rejection {
            reason,
            field: field.into(),
            value: value.into(),
            message: message.into(),
        }
    }
}

/// One quarantined row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuarantineRecord {
    /// Input file, as given on the command line.
    pub file: String,
    /// Row number: the line a CSV/JSONL record starts on (header = line 1),
    /// the sheet row for Excel, the 1-based row for Parquet/IPC.
    pub row: u64,
    /// Why the row was quarantined.
    pub reason: Reason,
    /// Canonical field at fault (empty for a malformed line).
    pub field: String,
    /// The offending raw value (may be empty).
    pub value: String,
    /// What is wrong, in plain English.
    pub message: String,
    /// The original record as a JSON object (column -> value).
    pub record: String,
}

/// Counts per reason, in check order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ReasonCounts(pub BTreeMap<Reason, u64>);

impl ReasonCounts {
    /// Adds `n` rows quarantined for `reason`.
    pub fn add(&mut self, reason: Reason, n: u64) {
        *self.0.entry(reason).or_default() += n;
    }

    /// Rows counted over all reasons.
    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// Rows counted for `reason` (0 if none).
    pub fn get(&self, reason: Reason) -> u64 {
        self.0.get(&reason).copied().unwrap_or(0)
    }

    /// reason name -> count, for JSON output.
    pub(crate) fn to_named(&self) -> BTreeMap<&'static str, u64> {
        self.0.iter().map(|(r, n)| (r.as_str(), *n)).collect()
    }
}
