//! Provenance: what produced an output, so it can be checked and reproduced.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::accounting::{IngestSummary, sha256_bytes, sha256_file};
use crate::error::Result;
use crate::scope::Scope;

/// Tool name and version, as written in every output.
pub const TOOL: &str = "stopaudit";
/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One input file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InputProvenance {
    /// The path as given.
    pub path: String,
    /// The detected format: `csv`, `parquet`, `ipc`, `jsonl` or `xlsx`.
    pub format: String,
    /// SHA-256 of the file, as lowercase hex.
    pub sha256: String,
    /// File size in bytes.
    pub bytes: u64,
    /// Rows read from the file.
    pub rows_read: u64,
    /// Rows analysed.
    pub rows_analyzed: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Valid rows left out by the scope.
    pub rows_out_of_scope: u64,
}

/// A count cube an analysis read instead of the inputs (`--cube`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CubeProvenance {
    /// The cube's folder, as given.
    pub path: String,
    /// SHA-256 of its `manifest.json` (which holds each table file's SHA-256).
    pub manifest_sha256: String,
    /// Who counted it (`stopaudit`, `spark`) and with which version.
    pub engine: String,
}

/// The configuration file, if any.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConfigProvenance {
    /// The path as given.
    pub path: String,
    /// SHA-256 of the file, as lowercase hex.
    pub sha256: String,
}

impl ConfigProvenance {
    /// The identity of the file at `path` whose contents are `bytes`.
    pub fn of(path: &std::path::Path, bytes: &[u8]) -> Self {
        ConfigProvenance {
            path: path.display().to_string(),
            sha256: sha256_bytes(bytes),
        }
    }

    /// The identity of the file at `path`, hashed from disk.
    pub fn of_file(path: &std::path::Path) -> Result<Self> {
        Ok(ConfigProvenance {
            path: path.display().to_string(),
            sha256: sha256_file(path)?,
        })
    }
}

/// The `provenance` object that opens every JSON output.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Provenance {
    /// Always `stopaudit`.
    pub tool: &'static str,
    /// The crate version that produced the output.
    pub version: &'static str,
    /// Per input file, in the order given.
    pub inputs: Vec<InputProvenance>,
    /// The mapping file, or `None` without one.
    pub config: Option<ConfigProvenance>,
    /// Rows read over all inputs.
    pub rows_read: u64,
    /// Rows analysed over all inputs.
    pub rows_analyzed: u64,
    /// Rows quarantined over all inputs.
    pub rows_quarantined: u64,
    /// Valid rows left out by the scope; rows_read = analysed + quarantined + out of scope.
    pub rows_out_of_scope: u64,
    /// The period and filters the rows were limited to (empty means everything).
    pub scope: Scope,
    /// Quarantined rows per reason name (only reasons that occurred).
    pub quarantine_reasons: BTreeMap<&'static str, u64>,
    /// False when some file had no `stop_id` column, so duplicates could not be checked there.
    pub duplicates_checked: bool,
    /// Name of the time zone used for local times.
    pub timezone: String,
    /// True when no time zone was configured and the default was assumed
    /// for local times without a UTC offset.
    pub timezone_assumed: bool,
    /// Earliest analysed stop, local ISO time with offset; `None` when no row was analysed.
    pub first_stop: Option<String>,
    /// Latest analysed stop, local ISO time with offset; `None` when no row was analysed.
    pub last_stop: Option<String>,
    /// The effective configuration (mapping file plus command-line settings); `null` where not applicable.
    pub configuration: serde_json::Value,
    /// The population file of the benchmark, if any.
    pub population: Option<ConfigProvenance>,
    /// The count cubes analysed instead of reading the inputs (`--cube`),
    /// in order; absent when the inputs were read. `inputs` then lists the
    /// files the cubes were counted from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cubes: Vec<CubeProvenance>,
}

impl Provenance {
    /// One line on the time zone of local times, saying when it was
    /// assumed rather than configured.
    pub fn timezone_line(&self) -> String {
        if self.timezone_assumed {
            format!(
                "time zone: {} (assumed: the configuration sets none; local times without a UTC offset were read in it — set [input] timezone for an export from elsewhere)",
                self.timezone
            )
        } else {
            format!("time zone: {} (configured)", self.timezone)
        }
    }

    /// Provenance from the ingest summary and the mapping file's identity
    /// ([`ConfigProvenance::of`], taken when it was read); `configuration` and
    /// `population` are left empty for the caller to fill.
    pub fn new(summary: &IngestSummary, config: Option<ConfigProvenance>, scope: &Scope) -> Self {
        Provenance {
            tool: TOOL,
            version: VERSION,
            inputs: summary
                .files
                .iter()
                .map(|f| InputProvenance {
                    path: f.path.clone(),
                    format: f.format.as_str().to_string(),
                    sha256: f.sha256.clone(),
                    bytes: f.bytes,
                    rows_read: f.rows_read,
                    rows_analyzed: f.rows_analyzed,
                    rows_quarantined: f.rows_quarantined,
                    rows_out_of_scope: f.rows_out_of_scope,
                })
                .collect(),
            config,
            rows_read: summary.rows_read,
            rows_analyzed: summary.rows_analyzed,
            rows_quarantined: summary.rows_quarantined,
            rows_out_of_scope: summary.rows_out_of_scope,
            scope: scope.clone(),
            quarantine_reasons: summary.quarantine_reasons.to_named(),
            duplicates_checked: summary.duplicates_checked,
            timezone: summary.timezone.clone(),
            timezone_assumed: summary.timezone_assumed,
            first_stop: summary.first_stop.clone(),
            last_stop: summary.last_stop.clone(),
            configuration: serde_json::Value::Null,
            population: None,
            cubes: Vec::new(),
        }
    }

    /// The accounting line shown in every text output.
    pub fn accounting_line(&self) -> String {
        if self.scope.is_everything() && self.rows_out_of_scope == 0 {
            format!(
                "rows read {} = analysed {} + quarantined {}",
                self.rows_read, self.rows_analyzed, self.rows_quarantined
            )
        } else {
            format!(
                "rows read {} = analysed {} + quarantined {} + out of scope {} (scope: {})",
                self.rows_read,
                self.rows_analyzed,
                self.rows_quarantined,
                self.rows_out_of_scope,
                self.scope.describe()
            )
        }
    }
}
