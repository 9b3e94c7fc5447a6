//! stopaudit's input and output of rows, in the stages of
//! docs/architecture.md: [`read`] (CSV, Parquet, IPC, JSON Lines and XLSX
//! into raw batches, columns mapped onto the canonical schema) →
//! [`validate`] (raw rows into canonical stops or quarantine records) →
//! [`scan`] (one ordered, parallel pass over every input that counts the
//! valid stops into `stopaudit_core`'s count cube and accounts for every
//! row), with the quarantine file ([`quarantine`]), a count cube's folder
//! on disk ([`cube`]) and the synthetic-data generator ([`generate`]).
//! polars lives here and nowhere else.
//!
//! A module imports only those of its own stage or an earlier one
//! (`tests/layers.rs` in this crate holds it): the helpers (`datetime`,
//! `nested`, `ordered`, `progress`, `quarantine`) → `read` → `validate` →
//! `scan` → `cube` → `generate`.

pub mod cube;
pub(crate) mod datetime;
pub mod generate;
pub(crate) mod nested;
mod ordered;
pub mod progress;
pub mod quarantine;
pub mod read;
#[cfg(test)]
mod reference;
pub mod scan;
pub mod spark;
pub(crate) mod validate;

#[cfg(test)]
mod mutation_tests;

#[cfg(test)]
mod tests {
    use std::path::Path;
    use stopaudit_core::testing::layers::check;

    /// The I/O crate's modules by stage, earliest first (docs/architecture.md).
    const STAGES: &[&[&str]] = &[
        // Helpers: date-times, parallel and ordered jobs, progress, quarantine.
        &["datetime", "nested", "ordered", "progress", "quarantine"],
        &["read"],
        &["validate"],
        &["scan"],
        // The count cube's files: what the scan counted, on disk.
        &["cube"],
        // The Spark job: maps columns as the readers do, writes tables as the cube does.
        &["spark"],
        // The generator writes files the readers read; it reads none.
        &["generate"],
        // Test references.
        &["reference", "mutation_tests"],
    ];

    #[test]
    fn no_module_imports_a_later_stage() {
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let seen = check(&src, STAGES, "crate::").unwrap();
        assert!(seen > 20, "only {seen} source files found");
    }

    #[test]
    fn the_readers_import_only_what_comes_before_them() {
        let read = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/read");
        let stages: &[&[&str]] = &[
            &["batch"],
            &["source"],
            &["csv", "jsonl", "xlsx", "columnar", "parquet", "mapping"],
            &["mod"],
        ];
        assert_eq!(check(&read, stages, "super::").unwrap(), 9);
    }

    #[test]
    fn a_later_stage_import_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("read.rs"), "use crate::scan::X;\n").unwrap();
        std::fs::write(dir.path().join("scan.rs"), "use crate::read::Y;\n").unwrap();
        let err = check(dir.path(), &[&["read"], &["scan"]], "crate::").unwrap_err();
        assert!(err.contains("read.rs") && err.contains("scan"), "{err}");
    }
}
