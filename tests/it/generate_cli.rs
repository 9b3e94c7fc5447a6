//! The generator end to end: what it plants and spoils is exactly what the
//! reader finds, in every format, and its output depends only on the seed.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::Succeeds;
use crate::common::{json_of, stopaudit};

fn generate(dir: &Path, name: &str, extra: &[&str]) -> (PathBuf, Value) {
    let out = dir.join(name);
    let truth = dir.join(format!("{name}.truth.json"));
    stopaudit()
        .args([
            "generate",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--truth",
            truth.to_str().unwrap(),
        ])
        .args(extra)
        .succeeds();
    let t: Value = serde_json::from_str(&std::fs::read_to_string(&truth).unwrap()).unwrap();
    (out, t)
}

fn period_config(dir: &Path) -> PathBuf {
    let cfg = dir.join("period.toml");
    std::fs::write(&cfg, "[period]\nstart = 2025-01-01\nend = 2025-12-31\n").unwrap();
    cfg
}

fn validate(path: &Path, config: &Path) -> Value {
    json_of(stopaudit().args([
        "validate",
        "--quiet",
        "--format",
        "json",
        path.to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]))
}

/// Every spoilt row is caught by the reason the generator meant, and only those.
fn assert_truth_matches(report: &Value, truth: &Value) {
    let p = &report["provenance"];
    assert_eq!(p["rows_read"], truth["rows"]);
    assert_eq!(p["rows_analyzed"], truth["clean_rows"]);
    assert_eq!(p["quarantine_reasons"], truth["dirty_rows"]);
}

#[test]
fn csv_spoilt_rows_are_quarantined_exactly_as_planted() {
    let dir = tempfile::tempdir().unwrap();
    let (csv, truth) = generate(
        dir.path(),
        "s.csv",
        &[
            "--rows", "5000", "--seed", "11", "--dirty", "0.08", "--bias", "combined",
        ],
    );
    let dirty = truth["dirty_rows"].as_object().unwrap();
    assert_eq!(
        dirty.len(),
        8,
        "every spoil kind occurs in 400 spoilt rows: {dirty:?}"
    );
    let report = validate(&csv, &period_config(dir.path()));
    assert_truth_matches(&report, &truth);
    // The Dutch-style export is recognised without a mapping of its columns.
    assert_eq!(
        report["attributes"],
        serde_json::json!(["nationality", "gender", "age_band"])
    );
    assert_eq!(report["files"][0]["columns"]["stopped_at"], "Datum + Tijd");
}

#[test]
fn parquet_and_ipc_spoilt_rows_are_quarantined_exactly_as_planted() {
    let dir = tempfile::tempdir().unwrap();
    for format in ["parquet", "ipc"] {
        let name = format!("s.{format}");
        let (file, truth) = generate(
            dir.path(),
            &name,
            &[
                "--rows", "3000", "--seed", "5", "--dirty", "0.06", "--format", format,
            ],
        );
        let report = validate(&file, &period_config(dir.path()));
        assert_truth_matches(&report, &truth);
        assert_eq!(report["files"][0]["format"], format);
        assert!(truth["dirty_rows"].get("malformed_line").is_none());
    }
}

#[test]
fn same_seed_same_bytes_whatever_the_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    for (format, ext) in [("csv", "csv"), ("parquet", "parquet")] {
        let mut outputs = Vec::new();
        for threads in ["1", "2"] {
            let out = dir.path().join(format!("t{threads}.{ext}"));
            stopaudit()
                .args([
                    "--threads",
                    threads,
                    "generate",
                    "--quiet",
                    "--rows",
                    "150000",
                    "--seed",
                    "42",
                    "--dirty",
                    "0.01",
                ])
                .args([
                    "--format",
                    format,
                    "--bias",
                    "lower-threshold",
                    "--out",
                    out.to_str().unwrap(),
                ])
                .succeeds();
            outputs.push(std::fs::read(&out).unwrap());
        }
        assert_eq!(
            outputs[0], outputs[1],
            "{format} output differs between 1 and 2 threads"
        );
    }
    let other = dir.path().join("other.csv");
    stopaudit()
        .args([
            "generate",
            "--quiet",
            "--rows",
            "1000",
            "--seed",
            "43",
            "--out",
            other.to_str().unwrap(),
        ])
        .succeeds();
    let first = dir.path().join("t1.csv");
    assert_ne!(
        std::fs::read(&other).unwrap()[..5000],
        std::fs::read(&first).unwrap()[..5000]
    );
}

/// Hit rate of stops under `behaviour` in Amsterdam and Rotterdam per nationality.
fn behaviour_hit_rates(path: &Path) -> (f64, f64, u64, u64) {
    let a = json_of(stopaudit().args([
        "analyze",
        "--quiet",
        "--format",
        "json",
        "--min-cell",
        "0",
        path.to_str().unwrap(),
    ]));
    let (mut stops, mut hits) = ([0u64; 2], [0u64; 2]);
    for r in a["counts"]["by_unit"].as_array().unwrap() {
        let unit = r["unit"].as_str().unwrap();
        if r["attribute"] != "nationality"
            || r["justification"] != "behaviour"
            || !(unit == "Amsterdam" || unit == "Rotterdam")
        {
            continue;
        }
        let g = match r["group"].as_str().unwrap() {
            "Marokkaans" => 0,
            "Nederlands" => 1,
            _ => continue,
        };
        let n = r["stops"].as_u64().unwrap();
        stops[g] += n;
        if ["fine", "report", "arrest"].contains(&r["outcome"].as_str().unwrap()) {
            hits[g] += n;
        }
    }
    (
        hits[0] as f64 / stops[0] as f64,
        hits[1] as f64 / stops[1] as f64,
        stops[0],
        stops[1],
    )
}

#[test]
fn planted_lower_threshold_shows_as_more_stops_and_fewer_hits() {
    let dir = tempfile::tempdir().unwrap();
    let (biased, truth) = generate(
        dir.path(),
        "b.parquet",
        &[
            "--rows",
            "200000",
            "--seed",
            "9",
            "--format",
            "parquet",
            "--bias",
            "lower-threshold",
        ],
    );
    let (fair, _) = generate(
        dir.path(),
        "f.parquet",
        &[
            "--rows", "200000", "--seed", "9", "--format", "parquet", "--bias", "none",
        ],
    );
    let planted = truth["planted"][0]["rows"].as_u64().unwrap();
    let (m_b, n_b, stops_b, _) = behaviour_hit_rates(&biased);
    let (m_f, n_f, stops_f, _) = behaviour_hit_rates(&fair);
    // Without bias, both groups' behaviour stops hit at about the base rate (0.22).
    assert!(
        (m_f - n_f).abs() < 0.06,
        "no bias planted, yet {m_f:.3} vs {n_f:.3}"
    );
    // With bias, the planted stops (hit rate 0.22 * 0.35) pull the group's rate down.
    assert!(
        m_b < n_b - 0.06,
        "planted bias not visible: {m_b:.3} vs {n_b:.3}"
    );
    assert!(
        stops_b > stops_f + planted / 2,
        "extra stops not visible: {stops_b} vs {stops_f} (planted {planted})"
    );
}

#[test]
fn bad_generator_arguments_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.csv");
    for args in [
        vec!["--rows", "0"],
        vec!["--rows", "10", "--dirty", "0.9"],
        vec!["--rows", "10", "--bias", "nonexistent"],
    ] {
        let o = stopaudit()
            .args(["generate", "--quiet", "--out", out.to_str().unwrap()])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!out.exists());
    }
}
