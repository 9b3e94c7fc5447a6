//! The binary on real files: every bad-input case of the foundation issue,
//! with the exact accounting and messages.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::Succeeds;
use crate::common::{json_of, stopaudit};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Runs `validate --format json` and returns the report.
fn validate_json(args: &[&str]) -> Value {
    json_of(
        stopaudit()
            .arg("validate")
            .args(args)
            .args(["--format", "json", "--quiet"]),
    )
}

fn reasons(report: &Value) -> Vec<(String, u64)> {
    report["provenance"]["quarantine_reasons"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
        .collect()
}

fn accounting(report: &Value) -> (u64, u64, u64) {
    let p = &report["provenance"];
    (
        p["rows_read"].as_u64().unwrap(),
        p["rows_analyzed"].as_u64().unwrap(),
        p["rows_quarantined"].as_u64().unwrap(),
    )
}

/// Runs the binary expecting exit code 2, returns stderr.
fn fails(args: &[&str]) -> String {
    let out = stopaudit().args(args).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn dutch_export_with_bom_crlf_semicolons_quotes_and_dst() {
    let path = fixture("dutch_export.csv");
    let report = validate_json(&[path.to_str().unwrap()]);
    assert_eq!(accounting(&report), (11, 5, 6));
    assert_eq!(
        reasons(&report),
        [
            ("contraband_without_search".to_string(), 1),
            ("duplicate_stop_id".to_string(), 1),
            ("invalid_datetime".to_string(), 1),
            ("malformed_line".to_string(), 1),
            ("missing_required".to_string(), 1),
            ("unknown_category".to_string(), 1),
        ]
    );
    let file = &report["files"][0];
    // The BOM is not part of the first column name, the split date/time columns were found.
    assert_eq!(file["columns"]["stop_id"], "Registratienummer");
    assert_eq!(file["columns"]["stopped_at"], "Datum + Tijd");
    assert_eq!(file["columns"]["nationality"], "Nationaliteit");
    assert_eq!(report["attributes"], serde_json::json!(["nationality"]));
    // Row numbers are the lines records start on: the quoted newline in line 3 moves A3 to line 5.
    let rows: Vec<(u64, &str)> = report["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["reason"].as_str().unwrap()))
        .collect();
    assert_eq!(
        rows,
        [
            (6, "invalid_datetime"),
            (7, "unknown_category"),
            (8, "duplicate_stop_id"),
            (9, "missing_required"),
            (10, "malformed_line"),
            (12, "contraband_without_search"),
        ]
    );
    let messages: Vec<&str> = report["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages[0],
        "2025-03-30 02:30 does not exist in Europe/Amsterdam: the clocks were put forward that night (set [input] nonexistent_time = \"shift_forward\" to move such times to the end of the gap)"
    );
    assert!(
        messages[1].starts_with("unknown justification \"gedrg\"; closest codes: behaviour"),
        "{}",
        messages[1]
    );
    assert_eq!(
        messages[2],
        "stop_id \"A1\" appeared earlier; the first occurrence is kept"
    );
    assert_eq!(
        messages[4],
        "line 10 has 6 fields but the header has 10 (delimiter \";\"); check quoting"
    );
    // The original rows (personal data) are only in the quarantine file, not in the report.
    assert!(
        report["examples"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["record"] == "")
    );
    // The repeated autumn hour takes the earlier instant (+02:00); the period runs from A10 (2024) on.
    assert_eq!(
        report["provenance"]["first_stop"],
        "2024-04-01T11:00:00+02:00"
    );
    assert_eq!(report["missing_values"]["nationality"], 1);
}

#[test]
fn a_time_skipped_by_the_spring_clock_change_can_be_shifted_forward() {
    // Officers do write 02:30 on the spring-forward night. By default the
    // row is quarantined; with nonexistent_time = "shift_forward" it is
    // analysed at 03:00, the end of the gap.
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("map.toml");
    std::fs::write(&cfg, "[input]\nnonexistent_time = \"shift_forward\"\n").unwrap();
    let path = fixture("dutch_export.csv");
    let report = validate_json(&[path.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(accounting(&report), (11, 6, 5));
    assert!(
        !reasons(&report)
            .iter()
            .any(|(r, _)| r == "invalid_datetime"),
        "{:?}",
        reasons(&report)
    );
    assert_eq!(report["provenance"]["timezone_assumed"], true);
    // The text output says which zone was assumed.
    let out = stopaudit()
        .args(["validate", "--quiet"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("time zone: Europe/Amsterdam (assumed"),
        "{text}"
    );
    // A configured zone is named as configured.
    std::fs::write(&cfg, "[input]\ntimezone = \"America/New_York\"\n").unwrap();
    let report = validate_json(&[path.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(report["provenance"]["timezone_assumed"], false);
    assert_eq!(report["provenance"]["timezone"], "America/New_York");
}

#[test]
fn a_quarantined_row_keeps_the_columns_the_analysis_does_not_use() {
    // `state` and `violation_raw` are mapped to nothing; the data owner
    // checking why a row was dropped must see them as they were.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ri.csv");
    std::fs::write(
        &path,
        "stop_id,stopped_at,state,justification,outcome,violation_raw,nationality\n\
         1,2025-03-05 14:30,RI,behaviour,fine,Speeding,Nederlands\n\
         2,2025-03-05 14:40,RI,behaviour,fine,Speeding,Nederlands\n\
         3,2025-03-32 09:00,RI,behaviour,no_action,Equipment,Nederlands\n",
    )
    .unwrap();
    let quarantine = dir.path().join("q.csv");
    stopaudit()
        .args(["validate", "--quiet", "--quarantine"])
        .arg(&quarantine)
        .arg(&path)
        .succeeds();
    let mut rows = csv::Reader::from_path(&quarantine).unwrap();
    let records: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
    assert_eq!(records.len(), 1);
    let record: Value = serde_json::from_str(&records[0][6]).unwrap();
    assert_eq!(record["state"], "RI", "{record}");
    assert_eq!(record["violation_raw"], "Equipment", "{record}");
    assert_eq!(record["stopped_at"], "2025-03-32 09:00", "{record}");
}

#[test]
fn period_from_the_mapping_file_quarantines_rows_outside_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("map.toml");
    std::fs::write(&cfg, "[period]\nstart = 2025-01-01\nend = 2025-12-31\n").unwrap();
    let path = fixture("dutch_export.csv");
    let report = validate_json(&[path.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(accounting(&report), (11, 4, 7));
    assert!(reasons(&report).contains(&("outside_period".to_string(), 1)));
    assert_eq!(
        report["provenance"]["first_stop"],
        "2025-03-05T14:30:00+01:00"
    );
    // The autumn double hour: 02:30 on 26 October is read as the first (summer time) 02:30.
    assert_eq!(
        report["provenance"]["last_stop"],
        "2025-10-26T02:30:00+02:00"
    );
}

#[test]
fn quarantine_file_lists_every_rejected_row_with_file_row_and_reason() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.csv");
    let path = fixture("dutch_export.csv");
    stopaudit()
        .args([
            "validate",
            path.to_str().unwrap(),
            "--quiet",
            "--quarantine",
            q.to_str().unwrap(),
        ])
        .succeeds();
    let mut reader = csv::Reader::from_path(&q).unwrap();
    assert_eq!(
        reader.headers().unwrap(),
        vec![
            "file", "row", "reason", "field", "value", "message", "record"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 6);
    assert_eq!(&rows[1][1], "7");
    assert_eq!(&rows[1][2], "unknown_category");
    assert_eq!(&rows[1][3], "justification");
    assert_eq!(&rows[1][4], "gedrg");
    assert!(rows[1][0].ends_with("dutch_export.csv"));
    let record: Value = serde_json::from_str(&rows[1][6]).unwrap();
    assert_eq!(record["Aanleiding"], "gedrg");
    assert_eq!(record["Registratienummer"], "A5");
    // No temporary files are left next to it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn windows_1252_is_detected_and_decoded() {
    let path = fixture("windows1252.csv");
    let report = validate_json(&[path.to_str().unwrap()]);
    assert_eq!(accounting(&report), (3, 3, 0));
    let notes = report["files"][0]["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n == "read as Windows-1252 (the file is not valid UTF-8)"),
        "{notes:?}"
    );
    let out = stopaudit()
        .args([
            "analyze",
            path.to_str().unwrap(),
            "--format",
            "json",
            "--quiet",
            "--min-cell",
            "0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let analysis: Value = serde_json::from_slice(&out.stdout).unwrap();
    let groups: Vec<&str> = analysis["counts"]["by_group_justification_outcome"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["group"].as_str().unwrap())
        .collect();
    assert!(groups.contains(&"Curaçaos"), "{groups:?}");
}

#[test]
fn windows_1252_read_as_utf8_when_forced_is_quarantined_not_garbled() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("map.toml");
    std::fs::write(&cfg, "[input]\nencoding = \"utf-8\"\n").unwrap();
    let path = fixture("windows1252.csv");
    let report = validate_json(&[path.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(accounting(&report), (3, 1, 2));
    assert_eq!(reasons(&report), [("malformed_line".to_string(), 2)]);
    let msg = report["examples"][0]["message"].as_str().unwrap();
    assert!(msg.contains("not valid UTF-8"), "{msg}");
}

#[test]
fn tab_separated_with_english_labels() {
    let path = fixture("tab_separated.tsv");
    let report = validate_json(&[path.to_str().unwrap()]);
    assert_eq!(accounting(&report), (2, 2, 0));
    assert_eq!(report["attributes"], serde_json::json!(["gender"]));
    assert_eq!(report["provenance"]["duplicates_checked"], false);
    let notes = report["files"][0]["notes"].as_array().unwrap();
    assert!(notes.iter().any(|n| {
        n.as_str()
            .unwrap()
            .contains("duplicates could not be checked")
    }));
}

#[test]
fn missing_required_column_names_file_and_closest_columns() {
    let path = fixture("missing_column.csv");
    let err = fails(&["validate", path.to_str().unwrap()]);
    assert!(
        err.contains("missing_column.csv: required column `outcome` not found"),
        "{err}"
    );
    assert!(
        err.contains("closest columns in the file: \"uitkomst_controle\""),
        "{err}"
    );
}

#[test]
fn empty_file_is_an_input_error() {
    let path = fixture("empty.csv");
    let err = fails(&["validate", path.to_str().unwrap()]);
    assert!(
        err.contains("empty.csv: the file is empty (no header, no rows)"),
        "{err}"
    );
}

#[test]
fn header_only_file_validates_to_zero_rows_but_cannot_be_analysed() {
    let path = fixture("header_only.csv");
    let report = validate_json(&[path.to_str().unwrap()]);
    assert_eq!(accounting(&report), (0, 0, 0));
    let notes = report["files"][0]["notes"].as_array().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n == "the file has a header but no rows")
    );
    let err = fails(&["analyze", path.to_str().unwrap(), "--quiet"]);
    assert!(
        err.contains("no rows could be analysed: 0 read, 0 quarantined"),
        "{err}"
    );
}

#[test]
fn wrong_file_types_are_refused() {
    let err = fails(&["validate", fixture("image.csv").to_str().unwrap()]);
    assert!(
        err.contains("image.csv: does not look like a CSV text file"),
        "{err}"
    );
    let err = fails(&["validate", fixture("export.docx").to_str().unwrap()]);
    assert!(
        err.contains("export.docx: is a ZIP archive with extension .docx"),
        "{err}"
    );
    let err = fails(&["validate", "no/such/file.csv"]);
    assert!(err.contains("no/such/file.csv: file not found"), "{err}");
}

#[test]
fn a_bad_file_among_good_ones_stops_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let q = dir.path().join("q.csv");
    let out = dir.path().join("counts.json");
    let err = fails(&[
        "analyze",
        fixture("dutch_export.csv").to_str().unwrap(),
        fixture("missing_column.csv").to_str().unwrap(),
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
        "--quarantine",
        q.to_str().unwrap(),
    ]);
    assert!(err.contains("required column `outcome`"), "{err}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn json_lines_with_a_broken_line() {
    let path = fixture("stops.jsonl");
    let report = validate_json(&[path.to_str().unwrap()]);
    // Lines 1, 2, 3 (cut off), 5 (an array) and 6; line 4 is blank.
    assert_eq!(accounting(&report), (5, 3, 2));
    assert_eq!(reasons(&report), [("malformed_line".to_string(), 2)]);
    let rows: Vec<u64> = report["examples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["row"].as_u64().unwrap())
        .collect();
    assert_eq!(rows, [3, 5]);
    // A key only a later object has ("extra") is a column like any other,
    // left unmapped, not a reason for a note.
    let notes = report["files"][0]["notes"].as_array().unwrap();
    assert!(notes.is_empty(), "{notes:?}");
}

#[test]
fn excel_named_sheet_with_dates_times_and_a_blank_row() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("map.toml");
    std::fs::write(&cfg, "[input]\nsheet = \"Export\"\n").unwrap();
    let path = fixture("stops.xlsx");
    let report = validate_json(&[path.to_str().unwrap(), "--config", cfg.to_str().unwrap()]);
    assert_eq!(accounting(&report), (4, 3, 1));
    assert_eq!(report["examples"][0]["row"], 5);
    assert_eq!(report["examples"][0]["reason"], "unknown_category");
    assert_eq!(
        report["provenance"]["first_stop"],
        "2025-03-05T14:30:00+01:00"
    );
    assert_eq!(report["missing_values"]["gender"], 1);
    // The first sheet is a cover note: without the sheet name the columns are missing.
    let err = fails(&["validate", path.to_str().unwrap()]);
    assert!(
        err.contains("required column `stopped_at` not found"),
        "{err}"
    );
}

#[test]
fn several_files_are_concatenated_and_duplicates_checked_across_them() {
    let a = fixture("dutch_export.csv");
    let report = validate_json(&[a.to_str().unwrap(), a.to_str().unwrap()]);
    // The second copy: every id already seen, or broken as before.
    assert_eq!(accounting(&report), (22, 5, 17));
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    assert_eq!(files[1]["rows_analyzed"], 0);
    assert_eq!(
        report["provenance"]["quarantine_reasons"]["duplicate_stop_id"],
        7
    );
}

#[test]
fn schema_and_example_config() {
    let out = stopaudit().arg("schema").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("justification      required"), "{text}");
    assert!(text.contains("waargenomen overtreding"));
    let out = stopaudit()
        .args(["schema", "--example-config"])
        .output()
        .unwrap();
    let cfg = String::from_utf8(out.stdout).unwrap();
    let shipped = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/example-config.toml"),
    )
    .unwrap();
    assert_eq!(cfg, shipped);
}

#[test]
fn bad_configuration_is_reported_with_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[columns]\noutcom = \"Resultaat\"\n").unwrap();
    let err = fails(&[
        "validate",
        fixture("dutch_export.csv").to_str().unwrap(),
        "--config",
        cfg.to_str().unwrap(),
    ]);
    assert!(err.contains("bad.toml: [columns] names `outcom`"), "{err}");
    assert!(err.contains("closest: outcome"), "{err}");
}

/// Runs `analyze` on one input with extra environment, returning the results
/// (without provenance, which names the configuration) and the quarantine file.
fn analyze_with(
    input: &Path,
    config: Option<&Path>,
    env: &[(&str, &str)],
) -> (Value, String, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.json");
    let quarantine = dir.path().join("q.csv");
    let mut cmd = stopaudit();
    cmd.args(["analyze", "--quiet", "--format", "json", "--out"])
        .arg(&out)
        .arg("--quarantine")
        .arg(&quarantine)
        .arg(input);
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let done = cmd.output().unwrap();
    assert!(
        done.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&done.stderr)
    );
    let mut results: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let provenance = results
        .as_object_mut()
        .unwrap()
        .remove("provenance")
        .unwrap();
    (
        results,
        std::fs::read_to_string(&quarantine).unwrap(),
        provenance,
    )
}

fn generate(dir: &Path, name: &str, rows: &str, dirty: &str) -> PathBuf {
    let path = dir.join(name);
    let format = path.extension().unwrap().to_str().unwrap();
    let done = stopaudit()
        .args([
            "generate", "-q", "--rows", rows, "--seed", "11", "--dirty", dirty,
        ])
        .args(["--format", format, "--out"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(done.status.success());
    path
}

#[test]
fn native_parquet_reader_matches_the_polars_scan() {
    // A generated file with every kind of bad row, read both ways.
    let dir = tempfile::tempdir().unwrap();
    let parquet = generate(dir.path(), "dirty.parquet", "30000", "0.05");
    let polars = dir.path().join("polars.toml");
    std::fs::write(&polars, "[input]\nparquet_reader = \"polars\"\n").unwrap();
    let (native, native_q, native_p) = analyze_with(&parquet, None, &[]);
    let (scan, scan_q, scan_p) = analyze_with(&parquet, Some(&polars), &[]);
    assert_eq!(native, scan);
    assert_eq!(native_q, scan_q);
    for field in [
        "rows_read",
        "rows_analyzed",
        "rows_quarantined",
        "quarantine_reasons",
        "first_stop",
        "last_stop",
    ] {
        assert_eq!(native_p[field], scan_p[field], "{field}");
    }
    assert_eq!(native_p["rows_read"], 30000);
    assert!(
        native_p["quarantine_reasons"]["duplicate_stop_id"]
            .as_u64()
            .unwrap()
            > 0
    );
}

#[test]
fn duplicates_beyond_the_memory_limit_are_found_in_a_second_pass() {
    // With room for 100 ids in memory, the ids spill to disk after the first
    // batch and later duplicates turn up only at the end: the data is read
    // again and the results are those of a run that kept every id in memory.
    let dir = tempfile::tempdir().unwrap();
    for name in ["dirty.csv", "dirty.parquet"] {
        let input = generate(dir.path(), name, "150000", "0.01");
        let (memory, memory_q, memory_p) = analyze_with(&input, None, &[]);
        let (spilled, spilled_q, spilled_p) =
            analyze_with(&input, None, &[("STOPAUDIT_ID_MEMORY", "100")]);
        assert_eq!(memory, spilled, "{name}");
        assert_eq!(memory_q, spilled_q, "{name}");
        assert_eq!(
            memory_p["quarantine_reasons"],
            spilled_p["quarantine_reasons"]
        );
        // Spilled partitions checked in shares of at most 50 hashes (each
        // holds about 580 here): the same again.
        let (shared, shared_q, _) = analyze_with(
            &input,
            None,
            &[
                ("STOPAUDIT_ID_MEMORY", "100"),
                ("STOPAUDIT_CHECK_IDS", "50"),
            ],
        );
        assert_eq!(memory, shared, "{name}");
        assert_eq!(memory_q, shared_q, "{name}");
        assert!(
            memory_p["quarantine_reasons"]["duplicate_stop_id"]
                .as_u64()
                .unwrap()
                > 0
        );
        let notes = |env: &[(&str, &str)]| {
            let mut cmd = stopaudit();
            cmd.args(["validate", "--format", "json", "--quiet"])
                .arg(&input);
            for (k, v) in env {
                cmd.env(k, v);
            }
            let report: Value = serde_json::from_slice(&cmd.output().unwrap().stdout).unwrap();
            report["files"][0]["notes"].to_string()
        };
        assert!(notes(&[("STOPAUDIT_ID_MEMORY", "100")]).contains("read twice"));
        assert!(!notes(&[]).contains("read twice"));
    }
}
