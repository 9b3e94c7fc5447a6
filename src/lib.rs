//! stopaudit: audits police stop registrations for signs of discriminatory
//! selection (ethnic profiling).
//!
//! The pipeline: input files are read and mapped onto a canonical schema
//! ([`ingest`], [`schema`], [`codes`], [`config`]); rows that cannot be used
//! go to [`quarantine`] with a reason, so nothing is lost; valid stops
//! become batches of small integer codes ([`canonical`]) that one pass
//! counts into mergeable [`counting`] tables. [`stats`] holds the estimators, pure functions over
//! counts; analyses and reports build on them.
//! [`generate`] makes synthetic data with known, planted bias.

pub mod analysis;
pub mod canonical;
pub mod clock;
pub mod codes;
pub mod commands;
pub mod config;
pub mod counting;
pub mod daylight;
pub mod error;
pub mod generate;
pub mod i18n;
pub mod ingest;
pub mod mcmc;
pub mod ordered;
pub mod output;
pub mod provenance;
pub mod pseudonym;
pub mod quarantine;
pub mod report;
pub mod schema;
pub mod scope;
pub mod stats;
pub mod sun;
pub mod threshold_test;

pub use error::{Error, Result};
