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
use stopaudit_core::error::Result;

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
    /// Loads the configuration (or the defaults) and expands globs.
    pub fn resolve(&self) -> Result<(Config, Vec<PathBuf>)> {
        let config = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        let inputs = stopaudit_io::ingest::expand_inputs(&self.inputs)?;
        Ok((config, inputs))
    }
}

/// Text for humans or JSON for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextOrJson {
    #[default]
    Text,
    Json,
}
