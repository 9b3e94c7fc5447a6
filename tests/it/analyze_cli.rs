//! `analyze` and `demo`: count tables that add up, agree across formats,
//! do not depend on the thread count, and carry provenance.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::Succeeds;
use crate::common::{stdout_of, stopaudit};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn analyze_json(args: &[&str]) -> (Value, Vec<u8>) {
    // Counts are compared exactly here: no small-cell suppression.
    let out = stdout_of(
        stopaudit()
            .args(["analyze", "--quiet", "--format", "json", "--min-cell", "0"])
            .args(args),
    );
    (serde_json::from_slice(&out).unwrap(), out)
}

fn generate(dir: &Path, name: &str, format: &str) -> PathBuf {
    let out = dir.join(name);
    stopaudit()
        .args([
            "generate", "--quiet", "--rows", "30000", "--seed", "77", "--dirty", "0.02", "--bias",
            "combined",
        ])
        .args(["--format", format, "--out", out.to_str().unwrap()])
        .succeeds();
    out
}

#[test]
fn counts_add_up_to_the_analysed_rows_for_every_attribute() {
    let dir = tempfile::tempdir().unwrap();
    let csv = generate(dir.path(), "s.csv", "csv");
    let (a, _) = analyze_json(&[csv.to_str().unwrap()]);
    let analysed = a["provenance"]["rows_analyzed"].as_u64().unwrap();
    assert_eq!(a["counts"]["total_stops"].as_u64().unwrap(), analysed);
    let sum = |table: &str, attr: &str| -> u64 {
        a["counts"][table]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["attribute"] == attr)
            .map(|r| r["stops"].as_u64().unwrap())
            .sum()
    };
    for attr in ["nationality", "gender", "age_band"] {
        assert_eq!(
            sum("by_group_justification_outcome", attr),
            analysed,
            "{attr}"
        );
        assert_eq!(sum("by_unit", attr), analysed, "{attr}");
    }
    let p = &a["provenance"];
    assert_eq!(
        p["rows_read"].as_u64().unwrap(),
        p["rows_analyzed"].as_u64().unwrap() + p["rows_quarantined"].as_u64().unwrap()
    );
    assert_eq!(p["inputs"][0]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(p["tool"], "stopaudit");
}

#[test]
fn csv_parquet_and_ipc_of_the_same_stops_give_the_same_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut counts = Vec::new();
    // Spoilt rows differ between formats (a CSV line can be malformed, a Parquet row cannot),
    // so compare clean data sets made from the same seed. More rows than one generator
    // chunk (65,536), so each file is written in several batches (an IPC file of several
    // batches once failed: its text columns had a dictionary per batch).
    for (name, format) in [("s.csv", "csv"), ("s.parquet", "parquet"), ("s.ipc", "ipc")] {
        let clean = dir.path().join(format!("clean-{name}"));
        stopaudit()
            .args([
                "generate", "--quiet", "--rows", "70000", "--seed", "3", "--bias", "combined",
            ])
            .args(["--format", format, "--out", clean.to_str().unwrap()])
            .succeeds();
        let (a, _) = analyze_json(&[clean.to_str().unwrap()]);
        counts.push(a["counts"].clone());
    }
    assert_eq!(counts[0], counts[1], "csv vs parquet");
    assert_eq!(counts[0], counts[2], "csv vs ipc");
}

#[test]
fn output_is_byte_identical_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let csv = generate(dir.path(), "s.csv", "csv");
    let mut outputs = Vec::new();
    for threads in ["1", "2", "3"] {
        let out = stopaudit()
            .args([
                "--threads",
                threads,
                "analyze",
                "--quiet",
                "--format",
                "json",
                csv.to_str().unwrap(),
            ])
            .args(["--by", "justification,unit"])
            .output()
            .unwrap();
        assert!(out.status.success());
        outputs.push(out.stdout);
    }
    assert_eq!(outputs[0], outputs[1]);
    assert_eq!(outputs[0], outputs[2]);
}

#[test]
fn files_split_in_two_count_the_same_as_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole.csv");
    stopaudit()
        .args([
            "generate",
            "--quiet",
            "--rows",
            "10000",
            "--seed",
            "8",
            "--out",
            whole.to_str().unwrap(),
        ])
        .succeeds();
    let text = std::fs::read_to_string(&whole).unwrap();
    let lines: Vec<&str> = text.split_inclusive("\r\n").collect();
    let (header, body) = lines.split_first().unwrap();
    let (a, b) = body.split_at(body.len() / 2);
    let part_a = dir.path().join("part-a.csv");
    let part_b = dir.path().join("part-b.csv");
    std::fs::write(&part_a, format!("{header}{}", a.concat())).unwrap();
    std::fs::write(
        &part_b,
        format!("{}{}", header.trim_start_matches('\u{feff}'), b.concat()),
    )
    .unwrap();
    let (one, _) = analyze_json(&[whole.to_str().unwrap()]);
    // A glob pattern, expanded by stopaudit itself (sorted: part-a, part-b).
    let pattern = dir.path().join("part-*.csv");
    let (two, _) = analyze_json(&[pattern.to_str().unwrap()]);
    assert_eq!(one["counts"], two["counts"]);
    assert_eq!(two["provenance"]["inputs"].as_array().unwrap().len(), 2);
    assert_eq!(
        two["provenance"]["rows_read"],
        one["provenance"]["rows_read"]
    );
}

#[test]
fn csv_format_writes_tables_and_provenance_safely() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    // A unit name that a spreadsheet would execute.
    std::fs::write(
        &input,
        "stopped_at;justification;outcome;unit;nationality\n2025-02-01 10:00;gedrag;bekeuring;=HYPERLINK(\"x\");NL\n2025-02-01 11:00;gedrag;geen actie;Utrecht;NL\n",
    )
    .unwrap();
    let out = dir.path().join("tables");
    stopaudit()
        .args([
            "analyze",
            "--quiet",
            "--format",
            "csv",
            "--min-cell",
            "0",
            "--out",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .succeeds();
    let units = std::fs::read_to_string(out.join("counts_by_unit.csv")).unwrap();
    assert!(
        units.starts_with("unit,attribute,group,justification,outcome,stops\n"),
        "{units}"
    );
    assert!(
        units.contains("\"'=HYPERLINK(\"\"x\"\")\",nationality,NL,behaviour,fine,1\n"),
        "{units}"
    );
    let gjo =
        std::fs::read_to_string(out.join("counts_by_group_justification_outcome.csv")).unwrap();
    assert_eq!(
        gjo,
        "attribute,group,justification,outcome,stops\nnationality,NL,behaviour,no_action,1\nnationality,NL,behaviour,fine,1\n"
    );
    let prov: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("provenance.json")).unwrap())
            .unwrap();
    assert_eq!(prov["provenance"]["rows_analyzed"], 2);
    // csv without --out is a usage error
    let o = stopaudit()
        .args([
            "analyze",
            "--quiet",
            "--format",
            "csv",
            input.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn table_output_shows_the_accounting() {
    let out = stopaudit()
        .args([
            "analyze",
            "--quiet",
            root()
                .join("tests/fixtures/dutch_export.csv")
                .to_str()
                .unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("rows read 11 = analysed 5 + quarantined 6"),
        "{text}"
    );
    assert!(text.contains("nationality\ngroup"), "{text}");
}

#[test]
fn quarantine_as_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.parquet");
    let counts = dir.path().join("c.json");
    stopaudit()
        .args([
            "analyze",
            "--quiet",
            "--format",
            "json",
            "--out",
            counts.to_str().unwrap(),
            "--quarantine",
            q.to_str().unwrap(),
        ])
        .args(["--min-cell", "0"])
        .arg(root().join("tests/fixtures/dutch_export.csv"))
        .succeeds();
    let bytes = std::fs::read(&q).unwrap();
    assert_eq!(&bytes[..4], b"PAR1");
    // Read it back through stopaudit's own Parquet reader: 6 rows, with the original columns.
    let cfg = dir.path().join("q.toml");
    std::fs::write(
        &cfg,
        "[columns]\nstopped_at = \"file\"\njustification = \"reason\"\noutcome = \"field\"\n",
    )
    .unwrap();
    let o = stopaudit()
        .args([
            "validate",
            "--quiet",
            "--format",
            "json",
            q.to_str().unwrap(),
            "--config",
            cfg.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["provenance"]["rows_read"], 6);
    let o = stopaudit()
        .args([
            "validate",
            "--quiet",
            "--quarantine",
            dir.path().join("q.txt").to_str().unwrap(),
        ])
        .arg(root().join("tests/fixtures/dutch_export.csv"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("must end in .csv or .parquet"));
}

#[test]
fn demo_runs_on_the_bundled_sample_and_matches_its_truth() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = stopaudit()
        .current_dir(root())
        .args(["demo", "--quiet", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let truth: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("datasets/sample/proco_2025_sample.truth.json"))
            .unwrap(),
    )
    .unwrap();
    let counts: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(counts["provenance"]["rows_read"], truth["rows"]);
    assert_eq!(counts["provenance"]["rows_analyzed"], truth["clean_rows"]);
    assert_eq!(
        counts["provenance"]["quarantine_reasons"],
        truth["dirty_rows"]
    );
    assert_eq!(
        counts["provenance"]["inputs"][0]["path"],
        "datasets/sample/proco_2025_sample.csv"
    );
    for f in [
        "validation.txt",
        "validation.json",
        "results.txt",
        "report.html",
        "report.md",
        "outcome_test.csv",
        "findings.csv",
        "counts_by_group_justification_outcome.csv",
        "counts_by_unit.csv",
        "provenance.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    // The quarantine file (original records) is kept out of the report
    // folder, in a private one that says what it holds.
    assert!(!out.join("quarantine.csv").exists());
    let private = dir.path().join("demo-private");
    assert!(
        std::fs::read_to_string(private.join("README.txt"))
            .unwrap()
            .starts_with("NOT FOR PUBLICATION")
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("not for publication"));
    // No officer id of the sample appears in anything the demo publishes.
    let sample =
        std::fs::read_to_string(root().join("datasets/sample/proco_2025_sample.csv")).unwrap();
    let officer_ids: std::collections::BTreeSet<&str> = sample
        .lines()
        .skip(1)
        .filter_map(|l| l.split(';').nth(16))
        .filter(|id| id.len() >= 6)
        .collect();
    assert!(officer_ids.len() > 10, "{officer_ids:?}");
    for entry in std::fs::read_dir(&out).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let leaked: Vec<&&str> = officer_ids
            .iter()
            .filter(|id| text.contains(**id))
            .collect();
        assert!(
            leaked.is_empty(),
            "{} names officers {leaked:?}",
            path.display()
        );
    }
    let quarantined = std::fs::read_to_string(private.join("quarantine.csv"))
        .unwrap()
        .lines()
        .count()
        - 1;
    assert_eq!(
        quarantined as u64,
        counts["provenance"]["rows_quarantined"].as_u64().unwrap()
    );
}
