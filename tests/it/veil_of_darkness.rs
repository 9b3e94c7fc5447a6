//! The veil-of-darkness test end to end: stop classes and darkness odds
//! ratios against an independent reference (PyEphem for the sun,
//! statsmodels for the GLM; `tests/reference/make_veil_reference.py`),
//! a planted daylight bias found and no finding without it, and the table
//! unchanged by thread count and by duplicates taken out again.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::Succeeds;
use crate::common::{json_of, stopaudit};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    root().join("tests/fixtures/veil/stops.csv")
}

fn analyze(args: &[&str]) -> Value {
    json_of(
        stopaudit()
            .args(["analyze", "--quiet", "--format", "json", "--min-cell", "0"])
            .args(args),
    )
}

fn veil_result<'a>(results: &'a Value, group: &str) -> &'a Value {
    results["veil_of_darkness"]["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["attribute"] == "nationality" && r["group"] == group)
        .unwrap_or_else(|| panic!("a veil-of-darkness result for {group}"))
}

fn close(a: f64, b: f64, tol: f64, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: {a} against {b}");
}

#[test]
fn classes_counts_and_odds_ratios_match_pyephem_and_statsmodels() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/reference/veil.json")).unwrap(),
    )
    .unwrap();
    let a = analyze(&[fixture().to_str().unwrap()]);
    assert_eq!(a["veil_of_darkness"]["enabled"], true);
    assert_eq!(a["veil_of_darkness"]["stops"], reference["classes"]);
    for g in reference["groups"].as_array().unwrap() {
        let name = g["group"].as_str().unwrap();
        let r = veil_result(&a, name);
        assert_eq!(r["reference"], g["reference"]);
        assert_eq!(r["stops"], g["stops"], "{name}");
        assert_eq!(r["fixed_effects"], serde_json::json!(["unit", "year"]));
        let check = |ours: &Value, theirs: &Value, what: &str| {
            let f = |v: &Value, k: &str| v[k].as_f64().unwrap_or_else(|| panic!("{what}: {k}"));
            close(
                f(ours, "log_odds_ratio"),
                f(theirs, "log_odds_ratio"),
                1e-6,
                what,
            );
            close(
                f(ours, "standard_error"),
                f(theirs, "standard_error"),
                1e-6,
                what,
            );
            close(f(ours, "p_value"), f(theirs, "p_value"), 1e-6, what);
            assert_eq!(ours["rows"], theirs["rows"], "{what}");
            assert_eq!(ours["parameters"], theirs["parameters"], "{what}");
            close(
                f(ours, "odds_ratio"),
                f(theirs, "log_odds_ratio").exp(),
                1e-9,
                what,
            );
        };
        for row in r["robustness"].as_array().unwrap() {
            let df = row["spline_df"].as_u64().unwrap().to_string();
            check(
                &row["estimate"],
                &g["robustness"][&df],
                &format!("{name} df {df}"),
            );
        }
        // The main model is the df 6 one.
        check(
            &r["estimate"],
            &g["robustness"]["6"],
            &format!("{name} main"),
        );
        check(
            &r["clock_change"]["estimate"],
            &g["clock_change"],
            &format!("{name} clock change"),
        );
    }
}

#[test]
fn thread_count_and_late_duplicates_leave_the_table_unchanged() {
    let one = analyze(&["--threads", "1", fixture().to_str().unwrap()]);
    let two = analyze(&["--threads", "2", fixture().to_str().unwrap()]);
    assert_eq!(one["veil_of_darkness"], two["veil_of_darkness"]);

    // Every evening stop registered twice: the copies are quarantined as
    // duplicates and must leave no trace in the darkness table.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture()).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let body: Vec<&str> = lines.collect();
    let doubled = dir.path().join("doubled.csv");
    std::fs::write(
        &doubled,
        format!("{header}\n{}\n{}\n", body.join("\n"), body.join("\n")),
    )
    .unwrap();
    let d = analyze(&[doubled.to_str().unwrap()]);
    assert_eq!(
        d["provenance"]["rows_quarantined"].as_u64(),
        Some(body.len() as u64)
    );
    assert_eq!(one["veil_of_darkness"], d["veil_of_darkness"]);
}

#[test]
fn can_be_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("off.toml");
    std::fs::write(&config, "[analysis.veil_of_darkness]\nenabled = false\n").unwrap();
    let a = analyze(&[
        fixture().to_str().unwrap(),
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(a["veil_of_darkness"]["enabled"], false);
    assert_eq!(a["veil_of_darkness"]["results"], serde_json::json!([]));
}

#[test]
fn bad_settings_are_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    for (setting, message) in [
        ("spline_df = 0", "spline_df 0 must be 1 to 10"),
        ("fixed_effects = [\"district\"]", "fixed effect `district`"),
        ("default_location = [95.0, 5.0]", "default_location"),
    ] {
        let config = dir.path().join("bad.toml");
        std::fs::write(&config, format!("[analysis.veil_of_darkness]\n{setting}\n")).unwrap();
        let out = stopaudit()
            .args(["analyze", "--quiet", "--format", "json"])
            .arg(fixture())
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{setting}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{setting}: {stderr}");
    }
}

fn generate(dir: &Path, bias: &str) -> PathBuf {
    let out = dir.join(format!("{bias}.parquet"));
    stopaudit()
        .args([
            "generate", "--quiet", "--rows", "60000", "--seed", "21", "--format", "parquet",
            "--bias", bias,
        ])
        .arg("--out")
        .arg(&out)
        .succeeds();
    out
}

fn veil_findings(a: &Value) -> Vec<String> {
    a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["analysis"] == "veil_of_darkness")
        .map(|f| format!("{}={}", f["attribute"], f["group"]))
        .collect()
}

#[test]
fn a_planted_daylight_bias_is_found_and_no_bias_gives_no_finding() {
    let dir = tempfile::tempdir().unwrap();
    let biased = analyze(&[generate(dir.path(), "daylight").to_str().unwrap()]);
    let turks = veil_result(&biased, "Turks");
    let or = turks["estimate"]["odds_ratio"].as_f64().unwrap();
    let ci = &turks["estimate"]["odds_ratio_ci"];
    assert!(or < 0.8, "odds ratio {or}");
    assert!(ci[1].as_f64().unwrap() < 1.0, "{ci}");
    assert!(turks["q_value"].as_f64().unwrap() < 0.05);
    assert_eq!(veil_findings(&biased), ["\"nationality\"=\"Turks\""]);
    let finding = biased["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["analysis"] == "veil_of_darkness")
        .unwrap();
    assert_eq!(finding["dark_odds_ratio"].as_f64(), Some(or));
    assert!(
        finding["summary_nl"]
            .as_str()
            .unwrap()
            .contains("geen bewijs")
    );

    let clean = analyze(&[generate(dir.path(), "none").to_str().unwrap()]);
    assert!(
        veil_findings(&clean).is_empty(),
        "{:?}",
        veil_findings(&clean)
    );
    let turks = veil_result(&clean, "Turks");
    let ci = &turks["estimate"]["odds_ratio_ci"];
    assert!(
        ci[0].as_f64().unwrap() < 1.0 && ci[1].as_f64().unwrap() > 1.0,
        "{ci}"
    );
}
