//! The integration tests, in one binary so that the suite links polars once
//! (one module per former test file; shared helpers in `common`).

mod analysis_cli;
mod analyze_cli;
mod ask_cli;
mod browser;
mod common;
mod cube;
mod data_quality;
mod disclosure;
mod findings_rules;
mod generate_cli;
mod hostile;
mod ingest_cli;
mod internal_benchmark;
mod report_cli;
mod report_snapshot;
mod spark;
mod threshold_test;
mod trends;
mod veil_of_darkness;
