//! One function per subcommand. Each takes resolved settings (built from the
//! command line in `cli.rs`) and writes its human output to the given writer;
//! files are written atomically.

pub mod analyze;
pub mod demo;
pub mod generate;
pub mod report;
pub mod schema;
pub mod threshold_test;
pub mod validate;

use std::path::PathBuf;

use stopaudit_core::config::Config;
use stopaudit_core::error::{Error, Result};
use stopaudit_io::ingest::IdLimits;

/// Inputs shared by the commands that read stop data.
#[derive(Debug, Clone, Default)]
pub struct InputSettings {
    /// Files or glob patterns, in order.
    pub inputs: Vec<PathBuf>,
    /// Mapping/configuration file.
    pub config: Option<PathBuf>,
    /// No progress bar.
    pub quiet: bool,
    /// Period and filters (`--period`, `--where`).
    pub scope: stopaudit_core::scope::Scope,
}

impl InputSettings {
    /// Loads the configuration (or the defaults), expands globs and reads the
    /// duplicate check's limits: everything a reading command needs, once.
    pub fn resolve(&self) -> Result<(Config, Vec<PathBuf>, IdLimits)> {
        let config = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        let inputs = stopaudit_io::ingest::expand_inputs(&self.inputs)?;
        Ok((config, inputs, id_limits(|name| std::env::var_os(name))?))
    }
}

/// The duplicate check's memory limits: the defaults, or for tests and
/// tuning `STOPAUDIT_ID_MEMORY` (distinct ids kept in memory) and
/// `STOPAUDIT_CHECK_IDS` (spilled ids checked at once, at least 1). The
/// only environment the library's limits come from; `env` looks a name up.
pub fn id_limits(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> Result<IdLimits> {
    let mut limits = IdLimits::default();
    let read = |name: &str, min: u64| -> Result<Option<u64>> {
        let Some(value) = env(name) else {
            return Ok(None);
        };
        match value.to_str().and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(n) if n >= min => Ok(Some(n)),
            _ => Err(Error::Usage(format!(
                "{name}={}: give a whole number of at least {min}",
                value.to_string_lossy()
            ))),
        }
    };
    if let Some(n) = read("STOPAUDIT_ID_MEMORY", 0)? {
        limits.in_memory = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(n) = read("STOPAUDIT_CHECK_IDS", 1)? {
        limits.checked_at_once = n;
    }
    Ok(limits)
}

/// Text for humans or JSON for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextOrJson {
    #[default]
    Text,
    Json,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_limits_come_from_the_environment_or_the_defaults() {
        let none = |_: &str| None;
        assert_eq!(id_limits(none).unwrap(), IdLimits::default());
        let set = |name: &str| match name {
            "STOPAUDIT_ID_MEMORY" => Some("100".into()),
            "STOPAUDIT_CHECK_IDS" => Some("50".into()),
            _ => None,
        };
        let limits = id_limits(set).unwrap();
        assert_eq!((limits.in_memory, limits.checked_at_once), (100, 50));
        let bad = |name: &str| (name == "STOPAUDIT_CHECK_IDS").then(|| "0".into());
        let err = id_limits(bad).unwrap_err().to_string();
        assert!(err.contains("STOPAUDIT_CHECK_IDS=0"), "{err}");
    }
}
