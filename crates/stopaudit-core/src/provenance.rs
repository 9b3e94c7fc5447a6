//! Provenance: what produced an output, so it can be checked and reproduced.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::accounting::{IngestSummary, sha256_file};
use crate::error::Result;
use crate::scope::Scope;

/// Tool name and version, as written in every output.
pub const TOOL: &str = "stopaudit";
/// The crate version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// One input file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InputProvenance {
    pub path: String,
    pub format: String,
    pub sha256: String,
    pub bytes: u64,
    pub rows_read: u64,
    pub rows_analyzed: u64,
    pub rows_quarantined: u64,
    pub rows_out_of_scope: u64,
}

/// The configuration file, if any.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ConfigProvenance {
    pub path: String,
    pub sha256: String,
}

/// The `provenance` object that opens every JSON output.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Provenance {
    pub tool: &'static str,
    pub version: &'static str,
    pub inputs: Vec<InputProvenance>,
    pub config: Option<ConfigProvenance>,
    pub rows_read: u64,
    pub rows_analyzed: u64,
    pub rows_quarantined: u64,
    /// Valid rows left out by the scope; rows_read = analysed + quarantined + out of scope.
    pub rows_out_of_scope: u64,
    pub scope: Scope,
    pub quarantine_reasons: BTreeMap<&'static str, u64>,
    pub duplicates_checked: bool,
    pub timezone: String,
    pub first_stop: Option<String>,
    pub last_stop: Option<String>,
    /// The effective configuration (mapping file plus command-line settings); `null` where not applicable.
    pub configuration: serde_json::Value,
    /// The population file of the benchmark, if any.
    pub population: Option<ConfigProvenance>,
}

impl Provenance {
    pub fn new(summary: &IngestSummary, config_path: Option<&Path>, scope: &Scope) -> Result<Self> {
        let config = match config_path {
            Some(p) => Some(ConfigProvenance {
                path: p.display().to_string(),
                sha256: sha256_file(p)?,
            }),
            None => None,
        };
        Ok(Provenance {
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
            first_stop: summary.first_stop.clone(),
            last_stop: summary.last_stop.clone(),
            configuration: serde_json::Value::Null,
            population: None,
        })
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
