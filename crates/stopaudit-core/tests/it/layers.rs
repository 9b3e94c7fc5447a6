//! The stages of docs/architecture.md, held: a module of the core imports
//! only modules of its own stage or an earlier one, and the core does not
//! depend on polars.

use std::path::Path;

#[path = "../../src/testing/layers.rs"]
mod check;

/// The core's modules by stage, earliest first (docs/architecture.md).
const STAGES: &[&[&str]] = &[
    // Foundations: errors, code lists and schema, clocks, wording, files.
    &[
        "error",
        "quarantine",
        "codes",
        "schema",
        "clock",
        "sun",
        "output",
        "pseudonym",
        "i18n",
    ],
    // Canonical stops and the accounting of every row.
    &["accounting", "canonical"],
    // The scan's counting: scope, daylight and the count cube.
    &["scope", "daylight", "counting"],
    // Estimators over counts.
    &["stats", "mcmc", "threshold_test"],
    // The analyses, as computed.
    &["analysis"],
    // Disclosure control over everything published.
    &["disclosure"],
    // The findings' rules (reading the rows as computed and as published).
    &["findings"],
    // What each comparison says when it is no finding.
    &["verdict"],
    // Their wording, in English and Dutch.
    &["wording"],
    // Settings (they embed the analyses' settings).
    &["config"],
    // The results document.
    &["provenance", "results"],
    // The report.
    &["report", "question"],
    // Test support.
    &["testing"],
];

#[test]
fn no_module_imports_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let seen = check::check(&src, STAGES, "crate::").unwrap();
    assert!(seen > 40, "only {seen} source files found");
}

#[test]
fn the_reader_finds_grouped_and_plain_imports() {
    let source = "use crate::{counting::{A, B}, stats};\nfn f() { crate::report::x(); }\n// crate::config\n#[cfg(test)]\nuse crate::results;";
    assert_eq!(
        check::imports(source, "crate::"),
        ["counting", "stats", "report"]
    );
}

#[test]
fn the_core_does_not_depend_on_polars() {
    let manifest =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml")).unwrap();
    let table: toml::Table = manifest.parse().unwrap();
    for section in ["dependencies", "dev-dependencies"] {
        let deps = table[section].as_table().unwrap();
        assert!(
            deps.keys().all(|k| !k.contains("polars")),
            "{section} of the core name polars: {:?}",
            deps.keys().collect::<Vec<_>>()
        );
    }
}
