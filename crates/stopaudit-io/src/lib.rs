//! stopaudit's input and output of rows: the readers (CSV, Parquet, IPC,
//! JSON Lines, XLSX), validation against the canonical schema, the scan that
//! counts valid stops into `stopaudit_core`'s count cube ([`ingest`]), the
//! quarantine file ([`quarantine`]) and the synthetic-data generator
//! ([`generate`]). polars lives here and nowhere else.

pub mod generate;
pub mod ingest;
mod ordered;
mod progress;
pub mod quarantine;
#[cfg(test)]
mod reference;
