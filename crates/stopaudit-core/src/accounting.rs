//! Row accounting: what happened to every input row and file.
//!
//! Nothing is lost: every physical row read is analysed, quarantined with a
//! reason, or left out by the scope, so `rows_read = rows_analyzed +
//! rows_quarantined + rows_out_of_scope` per file and over all files. The
//! I/O crate fills these while it reads; provenance and the analyses read them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::quarantine::ReasonCounts;

/// Input file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Delimited text (comma, semicolon or tab).
    Csv,
    /// Apache Parquet.
    Parquet,
    /// Arrow IPC (Feather v2).
    Ipc,
    /// JSON Lines: one JSON object per line.
    Jsonl,
    /// Excel `.xlsx` workbook.
    Xlsx,
}

impl Format {
    /// The lowercase name used in outputs.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Csv => "csv",
            Format::Parquet => "parquet",
            Format::Ipc => "ipc",
            Format::Jsonl => "jsonl",
            Format::Xlsx => "xlsx",
        }
    }
}

/// What happened to one input file.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct FileSummary {
    /// The path as given.
    pub path: String,
    /// The detected file format.
    pub format: Format,
    /// SHA-256 of the file's bytes, as lowercase hex.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: u64,
    /// Physical rows read (header excluded).
    pub rows_read: u64,
    /// Rows that passed validation and are in scope: the analysed stops.
    pub rows_analyzed: u64,
    /// Rows rejected with a quarantine reason.
    pub rows_quarantined: u64,
    /// Valid rows outside the scope (`--period`, `--where`).
    pub rows_out_of_scope: u64,
    /// canonical field -> source column(s).
    pub columns: BTreeMap<String, String>,
    /// What the reader noticed, in plain words (encoding, blank lines, no `stop_id` column, ...).
    pub notes: Vec<String>,
}

/// What happened to all inputs.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct IngestSummary {
    /// Per input file, in the order given.
    pub files: Vec<FileSummary>,
    /// Rows read over all files.
    pub rows_read: u64,
    /// Rows analysed over all files.
    pub rows_analyzed: u64,
    /// Rows quarantined over all files.
    pub rows_quarantined: u64,
    /// Valid rows left out by the scope over all files.
    pub rows_out_of_scope: u64,
    /// Quarantined rows per reason.
    pub quarantine_reasons: ReasonCounts,
    /// False when some file had no `stop_id` column: duplicates could not be checked there.
    pub duplicates_checked: bool,
    /// The group attributes analysed (declared in the configuration, or detected from the columns).
    pub attributes: Vec<String>,
    /// Name of the time zone used for local times.
    pub timezone: String,
    /// The zone was not configured (`[input] timezone`): local times
    /// without a UTC offset were read in the default, Europe/Amsterdam.
    pub timezone_assumed: bool,
    /// First and last stop (local ISO time), if any row was analysed.
    pub first_stop: Option<String>,
    /// Last analysed stop (local ISO time); `None` when no row was analysed.
    pub last_stop: Option<String>,
    /// Analysed rows with no value, per optional field and group attribute.
    pub missing_values: BTreeMap<String, u64>,
}

/// The missing values a summary reports: of the counts per field (`all`,
/// every field with missing values), those of a group attribute or of a
/// field some input has as a column (a field no input has is missing
/// everywhere by design, not a data-quality finding).
pub fn published_missing_values(
    all: &BTreeMap<String, u64>,
    attributes: &[String],
    files: &[FileSummary],
) -> BTreeMap<String, u64> {
    all.iter()
        .filter(|(f, n)| {
            **n > 0
                && (attributes.contains(f)
                    || files.iter().any(|file| file.columns.contains_key(*f)))
        })
        .map(|(f, n)| (f.clone(), *n))
        .collect()
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// SHA-256 of bytes already read, as lowercase hex.
pub fn sha256_bytes(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lowercase hex of bytes.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
