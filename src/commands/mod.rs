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

use crate::config::Config;
use crate::error::Result;

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
    pub scope: crate::scope::Scope,
}

impl InputSettings {
    /// Loads the configuration (or the defaults) and expands globs.
    pub fn resolve(&self) -> Result<(Config, Vec<PathBuf>)> {
        let config = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        let inputs = crate::ingest::expand_inputs(&self.inputs)?;
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

/// Configures the worker threads of rayon and polars. Call before any work.
pub fn init_threads(threads: Option<usize>) {
    if let Some(n) = threads.filter(|&n| n > 0) {
        // SAFETY: called once at start-up from main, before any other thread exists.
        unsafe { std::env::set_var("POLARS_MAX_THREADS", n.to_string()) };
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}
