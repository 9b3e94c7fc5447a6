//! stopaudit's core: everything after the count cube, with no dataframe
//! engine in it.
//!
//! The pipeline (docs/architecture.md): the I/O crate (`stopaudit-io`) reads
//! input files, maps them onto the canonical schema ([`schema`], [`codes`],
//! [`config`]), sends rows that cannot be used to [`quarantine`] with a
//! reason and counts valid stops ([`canonical`]) into mergeable [`counting`]
//! tables, accounting for every row ([`accounting`]). This crate holds those
//! plain data types and all that follows them: the estimators ([`stats`],
//! [`mcmc`], [`threshold_test`]), the analyses and findings ([`analysis`]),
//! the results document ([`results`], [`provenance`]), and the report in
//! English and Dutch ([`report`], [`i18n`]). It builds and tests without
//! polars.

#![warn(missing_docs)]

pub mod accounting;
pub mod analysis;
pub mod canonical;
pub mod clock;
pub mod codes;
pub mod config;
pub mod counting;
pub mod daylight;
pub mod disclosure;
pub mod error;
pub mod findings;
pub mod i18n;
pub mod mcmc;
pub mod output;
pub mod provenance;
pub mod pseudonym;
pub mod quarantine;
pub mod question;
pub mod report;
pub mod results;
pub mod schema;
pub mod scope;
pub mod stats;
pub mod sun;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod threshold_test;
pub mod verdict;
pub mod wording;

pub use error::{Error, Result};
