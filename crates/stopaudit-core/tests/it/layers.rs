//! The stages of docs/architecture.md, held: a module of the core imports
//! only modules of its own stage or an earlier one, and the core does not
//! depend on polars.

use std::collections::BTreeMap;
use std::path::Path;

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
    // Analyses, findings and suppression.
    &["analysis"],
    // Settings (they embed the analyses' settings).
    &["config"],
    // The results document.
    &["provenance", "results"],
    // The report.
    &["report"],
    // Test support.
    &["testing"],
];

fn stage_of(module: &str) -> Option<usize> {
    STAGES.iter().position(|s| s.contains(&module))
}

/// The crate-level modules a source file refers to (`crate::name`), outside
/// comments and its test module.
fn imports(source: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::X, b}`: the first name of each top-level item.
            let mut depth = 0;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(first_name(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(ch);
            }
            found.push(first_name(&item));
        } else {
            found.push(first_name(rest));
        }
    }
    found.retain(|n| !n.is_empty());
    found
}

fn first_name(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_module_imports_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut violations: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen = 0;
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let stage = stage_of(&module)
            .unwrap_or_else(|| panic!("module `{module}` has no stage in this test"));
        seen += 1;
        for dep in imports(&std::fs::read_to_string(&file).unwrap()) {
            if dep == module || dep == "self" {
                continue;
            }
            let dep_stage =
                stage_of(&dep).unwrap_or_else(|| panic!("{rel:?} imports unknown `{dep}`"));
            if dep_stage > stage {
                violations
                    .entry(rel.display().to_string())
                    .or_default()
                    .push(dep);
            }
        }
    }
    assert!(seen > 40, "only {seen} source files found");
    assert!(
        violations.is_empty(),
        "imports from a later stage: {violations:?}"
    );
}

#[test]
fn the_reader_finds_grouped_and_plain_imports() {
    let source = "use crate::{counting::{A, B}, stats};\nfn f() { crate::report::x(); }\n// crate::config\n#[cfg(test)]\nuse crate::results;";
    assert_eq!(imports(source), ["counting", "stats", "report"]);
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
