//! The count cube as an artifact (issue 20): `stopaudit count`, then
//! `analyze --cube` / `report --cube` over one cube or the sum of several,
//! compared with a direct run over the same inputs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{Succeeds, stopaudit};

/// A configuration that counts every table: the veil of darkness (on by
/// default), internal benchmarking by unit and officer, trends.
const CONFIG: &str = "[analysis.benchmarking]\nenabled = true\nentities = [\"unit\", \"officer\"]\npseudonym_key_file = \"officers.key\"\n";

fn setup(dir: &Path, rows: &str, seed: &str) -> (PathBuf, PathBuf) {
    let export = dir.join("export.csv");
    stopaudit()
        .args(["generate", "--quiet", "--rows", rows, "--seed", seed])
        .args(["--dirty", "0.03", "--bias", "combined"])
        .args(["--out", export.to_str().unwrap()])
        .succeeds();
    let config = dir.join("stopaudit.toml");
    std::fs::write(&config, CONFIG).unwrap();
    std::fs::write(dir.join("officers.key"), "a-key-for-the-cube-tests-of-32-b").unwrap();
    (export, config)
}

/// The export split into one file per unit, as each regional unit would
/// export its own registrations: lines in the order of the export, a line
/// that cannot be split (a spoilt one) or that repeats the previous line's
/// stop id (a registration saved twice) going with the line before it.
fn split_by_unit(export: &Path, dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(export).unwrap();
    let mut lines = text.split_inclusive('\n');
    let header = lines.next().unwrap();
    let delimiter = if header.contains(';') { ';' } else { ',' };
    let names: Vec<String> = header
        .trim_start_matches('\u{feff}')
        .trim_end()
        .split(delimiter)
        .map(|c| c.trim_matches('"').to_lowercase())
        .collect();
    let unit = names
        .iter()
        .position(|n| n == "eenheid" || n == "unit")
        .unwrap_or_else(|| panic!("no unit column in {names:?}"));
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    let (mut previous_unit, mut previous_id) = (String::new(), String::new());
    for line in lines {
        let fields: Vec<&str> = line.trim_end().split(delimiter).collect();
        let id = fields.first().copied().unwrap_or("").to_string();
        let to = if fields.len() != names.len() || (id == previous_id && !previous_unit.is_empty())
        {
            previous_unit.clone()
        } else {
            fields[unit].trim_matches('"').to_string()
        };
        let to = if to.is_empty() {
            "(none)".to_string()
        } else {
            to
        };
        files
            .entry(to.clone())
            .or_insert_with(|| header.to_string())
            .push_str(line);
        (previous_unit, previous_id) = (to, id);
    }
    assert!(files.len() >= 5, "only {} units", files.len());
    files
        .into_iter()
        .enumerate()
        .map(|(k, (_, body))| {
            let path = dir.join(format!("unit-{k:02}.csv"));
            std::fs::write(&path, body).unwrap();
            path
        })
        .collect()
}

/// `stopaudit count EXPORT --config CONFIG --quiet --out OUT`, to run.
fn count_into(export: &Path, config: &str, out: &Path) -> std::process::Command {
    let mut command = stopaudit();
    command
        .args([
            "count",
            export.to_str().unwrap(),
            "--config",
            config,
            "--quiet",
        ])
        .args(["--out", out.to_str().unwrap()]);
    command
}

fn strs(paths: &[PathBuf]) -> Vec<&str> {
    paths.iter().map(|p| p.to_str().unwrap()).collect()
}

/// Every file of a folder (names relative to it) and its bytes.
fn files_of(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

/// The JSON output with `provenance.cubes` cut out of its text (parsing
/// and printing again would not keep every float's digits), and that block.
pub(crate) fn without_cubes(json: &[u8]) -> (String, serde_json::Value) {
    let text = String::from_utf8(json.to_vec()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let key = text
        .find("\"cubes\": [")
        .expect("provenance names the cubes");
    let line = text[..key].rfind('\n').unwrap();
    let indent = &text[line + 1..key];
    let start = line - 1; // the comma ending the line before
    assert_eq!(&text[start..=line], ",\n");
    let close = format!("\n{indent}]");
    let end = key + text[key..].find(&close).unwrap() + close.len();
    let cut = format!("{}{}", &text[..start], &text[end..]);
    let cubes = v
        .get("provenance")
        .unwrap_or(&v)
        .get("cubes")
        .cloned()
        .unwrap();
    (cut, cubes)
}

/// Where two texts first differ, for a readable failure.
pub(crate) fn same_text(a: &str, b: &str, what: &str) {
    if a == b {
        return;
    }
    let line = a
        .lines()
        .zip(b.lines())
        .position(|(x, y)| x != y)
        .unwrap_or(a.lines().count().min(b.lines().count()));
    panic!(
        "{what} differ from line {}: {:?} / {:?}",
        line + 1,
        a.lines().nth(line),
        b.lines().nth(line)
    );
}

/// Ten regional units each count their own export; the national analysis
/// adds up their cubes. The result equals one run over the same exports
/// byte for byte (JSON and every CSV table), apart from the provenance
/// naming the cubes; only counts ever leave a unit.
#[test]
fn cubes_counted_per_unit_and_added_up_give_the_direct_run_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let (export, config) = setup(dir.path(), "40000", "11");
    let units = split_by_unit(&export, dir.path());
    let config = config.to_str().unwrap();

    let mut cube_args: Vec<String> = Vec::new();
    for (k, file) in units.iter().enumerate() {
        let cube = dir.path().join(format!("cubes/unit-{k:02}"));
        let out = stopaudit()
            .args([
                "count",
                file.to_str().unwrap(),
                "--config",
                config,
                "--quiet",
            ])
            .args(["--out", cube.to_str().unwrap()])
            .succeeds();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(
            said.contains("rows read") && said.contains("do not publish"),
            "{said}"
        );
        cube_args.extend(["--cube".to_string(), cube.display().to_string()]);
    }
    let cube_args: Vec<&str> = cube_args.iter().map(String::as_str).collect();

    let direct = stopaudit()
        .args(["analyze", "--config", config, "--format", "json", "--quiet"])
        .args(strs(&units))
        .succeeds()
        .stdout;
    let merged = stopaudit()
        .args(["analyze", "--config", config, "--format", "json", "--quiet"])
        .args(&cube_args)
        .succeeds()
        .stdout;
    let (merged_text, cubes) = without_cubes(&merged);
    same_text(
        &merged_text,
        &String::from_utf8(direct.clone()).unwrap(),
        "the JSON outputs",
    );
    assert_eq!(cubes.as_array().unwrap().len(), units.len());
    assert_eq!(cubes[0]["manifest_sha256"].as_str().unwrap().len(), 64);

    // What was tested is there: quarantined rows of several reasons, the
    // darkness, benchmarking and calendar tables.
    let v: serde_json::Value = serde_json::from_slice(&direct).unwrap();
    let reasons = v["provenance"]["quarantine_reasons"].as_object().unwrap();
    assert!(reasons.len() >= 5, "{reasons:?}");
    assert!(reasons["duplicate_stop_id"].as_u64().unwrap() > 0);
    assert!(
        !v["internal_benchmark"]["results"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(v["veil_of_darkness"]["stops"]["dark"].as_u64().unwrap() > 0);
    assert!(
        !v["veil_of_darkness"]["results"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    assert!(!v["trends"]["periods"].as_array().unwrap().is_empty());

    // The cubes are working files: exact small counts and raw officer ids.
    // Suppression and pseudonyms come after adding up, so the published
    // output holds neither (and equals the direct run's, above).
    let first = stopaudit_io::cube::read(&dir.path().join("cubes/unit-00")).unwrap();
    let table = |name: &str| first.tables.iter().find(|t| t.name == name).unwrap();
    let small = table("cells")
        .columns
        .iter()
        .find(|(n, _)| n == "stops")
        .map(|(_, c)| match c {
            stopaudit_core::counting::artifact::Column::Int(v) => {
                v.iter().filter(|n| matches!(n, Some(1..=9))).count()
            }
            _ => 0,
        });
    assert!(small.unwrap() > 0, "the cube keeps counts below 10");
    let officers: Vec<String> = match &table("officer_months").columns[0].1 {
        stopaudit_core::counting::artifact::Column::Text(v) => {
            v.iter().flatten().cloned().collect()
        }
        _ => unreachable!(),
    };
    assert!(!officers.is_empty());
    let published = String::from_utf8_lossy(&merged);
    for officer in &officers {
        assert!(
            !published.contains(&format!("\"{officer}\"")),
            "{officer} published"
        );
    }

    // The CSV tables, every one, byte for byte.
    let tables = |args: &[&str], name: &str| {
        let out = dir.path().join(name);
        stopaudit()
            .args(["analyze", "--config", config, "--format", "csv", "--quiet"])
            .args(args)
            .args(["--out", out.to_str().unwrap()])
            .succeeds();
        files_of(&out)
    };
    let direct_tables = tables(&strs(&units), "direct-tables");
    let merged_tables = tables(&cube_args, "merged-tables");
    assert!(direct_tables.len() > 10, "{:?}", direct_tables.keys());
    assert_eq!(
        direct_tables.keys().collect::<Vec<_>>(),
        merged_tables.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &direct_tables {
        if name == "provenance.json" {
            let cut = without_cubes(&merged_tables[name]).0;
            same_text(&cut, std::str::from_utf8(bytes).unwrap(), name);
        } else {
            assert!(merged_tables[name] == *bytes, "{name} differs");
        }
    }

    // The whole export in one run finds the same: the split only moved
    // lines between files.
    let whole = stopaudit()
        .args(["analyze", "--config", config, "--format", "json", "--quiet"])
        .arg(&export)
        .succeeds()
        .stdout;
    let whole: serde_json::Value = serde_json::from_slice(&whole).unwrap();
    for key in [
        "outcome_test",
        "stratified",
        "veil_of_darkness",
        "trends",
        "data_quality",
        "internal_benchmark",
        "verdicts",
        "findings",
        "counts",
        "missing_values",
    ] {
        assert_eq!(whole[key], v[key], "{key}");
    }
    for key in [
        "rows_read",
        "rows_analyzed",
        "rows_quarantined",
        "quarantine_reasons",
    ] {
        assert_eq!(whole["provenance"][key], v["provenance"][key], "{key}");
    }

    // A parliamentary question answered from the cubes, as from the rows.
    let ask = |args: &[&str]| {
        stopaudit()
            .args([
                "ask",
                "--config",
                config,
                "--group",
                "nationality=Marokkaans",
            ])
            .args([
                "--reference",
                "Nederlands",
                "--measure",
                "search",
                "--quiet",
            ])
            .args(args)
            .succeeds()
            .stdout
    };
    let answered = ask(&cube_args);
    assert!(String::from_utf8_lossy(&answered).contains("Marokkaans"));
    assert_eq!(answered, ask(&strs(&units)));

    // A report from the cubes says what the direct report says.
    let report = |args: &[&str], name: &str| {
        let out = dir.path().join(name);
        stopaudit()
            .args(["report", "--config", config, "--format", "md", "--quiet"])
            .args(["--as-of", "2026-01-15"])
            .args(args)
            .args(["--out", out.to_str().unwrap()])
            .succeeds();
        std::fs::read_to_string(out.join("report.md")).unwrap()
    };
    let from_cubes = report(&cube_args, "report-cubes");
    let from_rows = report(&strs(&units), "report-rows");
    // Up to the provenance, which names the cubes (and quotes the command).
    let body = |md: &str| -> String {
        let end = md.find(". Provenance\n").expect("a provenance section");
        md[..end].to_string()
    };
    same_text(&body(&from_cubes), &body(&from_rows), "the reports");
    assert!(from_cubes.contains("Count cubes added up") && from_cubes.contains("unit-09"));
    assert!(!from_rows.contains("Count cubes added up"));
}

/// A cube's files are the same bytes whatever the thread count, and
/// analysing one cube alone equals analysing its export.
#[test]
fn a_cube_is_the_same_bytes_on_one_thread_or_two_and_analyses_like_its_export() {
    let dir = tempfile::tempdir().unwrap();
    let (export, config) = setup(dir.path(), "12000", "5");
    let config = config.to_str().unwrap();
    let count = |threads: &str, name: &str| {
        let out = dir.path().join(name);
        count_into(&export, config, &out)
            .args(["--threads", threads])
            .succeeds();
        out
    };
    let one = count("1", "one");
    let two = count("2", "two");
    let (a, b) = (files_of(&one), files_of(&two));
    assert!(
        a.contains_key("manifest.json") && a.contains_key("cells.parquet"),
        "{:?}",
        a.keys()
    );
    assert_eq!(a, b);
    let manifest: serde_json::Value = serde_json::from_slice(&a["manifest.json"]).unwrap();
    assert!(
        manifest["notice"]
            .as_str()
            .unwrap()
            .contains("Do not publish")
    );
    let s = &manifest["summary"];
    assert_eq!(
        s["rows_read"].as_u64().unwrap(),
        s["rows_analyzed"].as_u64().unwrap()
            + s["rows_quarantined"].as_u64().unwrap()
            + s["rows_out_of_scope"].as_u64().unwrap()
    );
    assert_eq!(manifest["specification_sha256"].as_str().unwrap().len(), 64);

    let direct = stopaudit()
        .args([
            "analyze",
            export.to_str().unwrap(),
            "--config",
            config,
            "--format",
            "json",
            "--quiet",
        ])
        .succeeds()
        .stdout;
    let cubed = stopaudit()
        .args([
            "analyze",
            "--cube",
            one.to_str().unwrap(),
            "--config",
            config,
        ])
        .args(["--format", "json", "--quiet"])
        .succeeds()
        .stdout;
    same_text(
        &without_cubes(&cubed).0,
        &String::from_utf8(direct).unwrap(),
        "the JSON outputs",
    );
}

/// What cannot be analysed from a cube is refused before anything is
/// written, with exit code 2 and a message that says why and what to do.
#[test]
fn cubes_that_do_not_fit_the_run_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let (export, config) = setup(dir.path(), "3000", "2");
    let config = config.to_str().unwrap();
    let cube = dir.path().join("cube");
    let cube_s = cube.to_str().unwrap();
    count_into(&export, config, &cube).succeeds();
    let refused = |args: &[&str], expect: &[&str]| {
        let out = stopaudit().args(args).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        for e in expect {
            assert!(err.contains(e), "{args:?}: {err}");
        }
        assert!(out.stdout.is_empty(), "{args:?}");
    };
    // Other strata than counted: the cube lacks them.
    refused(
        &[
            "analyze",
            "--cube",
            cube_s,
            "--config",
            config,
            "--by",
            "justification,district",
        ],
        &["cube", "extra_fields", "count it again"],
    );
    // Another scope.
    refused(
        &[
            "analyze", "--cube", cube_s, "--config", config, "--period", "2025-Q3",
        ],
        &["scope"],
    );
    // Without the configuration it was counted with.
    refused(&["analyze", "--cube", cube_s], &["benchmarking"]);
    // The same cube twice would count every stop twice.
    refused(
        &[
            "analyze", "--cube", cube_s, "--cube", cube_s, "--config", config,
        ],
        &["twice"],
    );
    // Commands that read rows.
    refused(&["validate", "--cube", cube_s], &["--cube"]);
    refused(
        &["count", "--cube", cube_s, "--out", "elsewhere"],
        &["--cube"],
    );
    refused(
        &[
            "analyze",
            "--cube",
            cube_s,
            "--config",
            config,
            "--quarantine",
            "q.csv",
        ],
        &["--quarantine", "stopaudit count"],
    );
    // Not a cube, or a cube whose table changed.
    refused(
        &[
            "analyze",
            "--cube",
            dir.path().to_str().unwrap(),
            "--config",
            config,
        ],
        &["manifest.json", "stopaudit count"],
    );
    let cells = cube.join("cells.parquet");
    let mut bytes = std::fs::read(&cells).unwrap();
    bytes.truncate(bytes.len() - 1);
    std::fs::write(&cells, bytes).unwrap();
    refused(
        &["analyze", "--cube", cube_s, "--config", config],
        &["cells.parquet", "SHA-256"],
    );
    // Inputs and cubes together.
    let out = stopaudit()
        .args(["analyze", export.to_str().unwrap(), "--cube", cube_s])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
