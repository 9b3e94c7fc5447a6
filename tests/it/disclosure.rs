//! Disclosure control over everything one run publishes (docs/methods.md,
//! "Small cells"): the count tables rounded to 5, the analyses' counts
//! suppressed as linked tables, and an attacker's script that tries to get
//! the hidden counts back from one run's own outputs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::common::{Succeeds, json_of, stopaudit};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate(dir: &Path, name: &str, rows: &str, seed: &str, dirty: &str) -> PathBuf {
    let out = dir.join(name);
    stopaudit()
        .args(["generate", "--quiet", "--rows", rows, "--seed", seed])
        .args(["--bias", "combined", "--dirty", dirty, "--out"])
        .arg(&out)
        .succeeds();
    out
}

fn analyze(input: &Path, min_cell: &str, extra: &[&str]) -> Value {
    json_of(
        stopaudit()
            .args([
                "analyze",
                "--quiet",
                "--format",
                "json",
                "--min-cell",
                min_cell,
            ])
            .args(extra)
            .arg(input)
            .env_remove("STOPAUDIT_PSEUDONYM_KEY"),
    )
}

fn cells(a: &Value, table: &str) -> Vec<Value> {
    a["counts"][table].as_array().unwrap().clone()
}

fn label(r: &Value) -> String {
    ["unit", "attribute", "group", "justification", "outcome"]
        .iter()
        .map(|f| r[*f].as_str().unwrap_or("").to_string())
        .collect::<Vec<_>>()
        .join("|")
}

#[test]
fn count_tables_are_rounded_to_five_without_bias_and_the_same_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let csv = generate(dir.path(), "s.csv", "20000", "21", "0");
    let exact = analyze(&csv, "0", &[]);
    let rounded = analyze(&csv, "10", &[]);
    assert!(exact["counts"].get("rounded_to").is_none());
    assert_eq!(rounded["counts"]["rounded_to"], 5);
    assert_eq!(
        rounded["counts"]["total_stops"],
        exact["counts"]["total_stops"]
    );
    for table in ["by_group_justification_outcome", "by_unit"] {
        let truth: std::collections::BTreeMap<String, u64> = cells(&exact, table)
            .iter()
            .map(|r| (label(r), r["stops"].as_u64().unwrap()))
            .collect();
        let published = cells(&rounded, table);
        let (mut up, mut down, mut error_sum) = (0u64, 0u64, 0i64);
        for r in &published {
            let n = r["stops"].as_u64().unwrap();
            assert!(n > 0 && n % 5 == 0, "{r}");
            assert!(r.get("suppressed").is_none(), "{r}");
            let t = truth[&label(r)];
            // Each cell goes to one of the two multiples of 5 around it.
            assert!(n.abs_diff(t) < 5, "{r}: {t}");
            error_sum += n as i64 - t as i64;
            if n > t {
                up += 1;
            }
            if n < t {
                down += 1;
            }
        }
        // Cells not listed were rounded to 0: at most 4 stops each.
        let listed: std::collections::BTreeSet<String> = published.iter().map(label).collect();
        for (l, t) in &truth {
            if !listed.contains(l) {
                assert!(*t < 5, "{l}: {t} stops left out");
                error_sum -= *t as i64;
            }
        }
        // Random, not always the same way; unbiased: the rounding errors
        // of the table's cells add up to little against its total.
        assert!(up > 20 && down > 20, "{table}: {up} up, {down} down");
        let total = exact["counts"]["total_stops"].as_i64().unwrap();
        let cells = truth.len() as f64;
        assert!(
            (error_sum as f64).abs() < 4.0 * (2.0 * cells).sqrt(),
            "{table}: rounding errors add up to {error_sum} over {cells} cells (total {total})"
        );
    }
    // Reproducible: the same input gives the same rounded tables.
    assert_eq!(analyze(&csv, "10", &[])["counts"], rounded["counts"]);

    // A pseudonymisation key decides the rounding instead of the data.
    let key = dir.path().join("key");
    std::fs::write(&key, "0123456789abcdef0123456789abcdef").unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(
        &config,
        "[analysis.data_quality]\npseudonym_key_file = \"key\"\n",
    )
    .unwrap();
    let keyed = analyze(&csv, "10", &["--config", config.to_str().unwrap()]);
    assert_ne!(keyed["counts"], rounded["counts"]);
    let again = analyze(&csv, "10", &["--config", config.to_str().unwrap()]);
    assert_eq!(keyed["counts"], again["counts"]);
}

/// A Python 3 with numpy and SciPy (the attack's linear programs), if any.
fn python() -> Option<&'static str> {
    ["python3", "/usr/bin/python3"].into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import numpy, scipy.optimize"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// Publishes `input` at the default `min_cell` and, as the attack's truth
/// (only to check its recoveries afterwards), at 0; runs the attack.
fn attack(dir: &Path, name: &str, input: &[&str]) -> String {
    let run = |min_cell: &str| {
        let out = dir.join(format!("{name}-{min_cell}"));
        std::fs::create_dir_all(&out).unwrap();
        stopaudit()
            .args([
                "analyze",
                "--quiet",
                "--format",
                "json",
                "--min-cell",
                min_cell,
            ])
            .arg("--out")
            .arg(out.join("results.json"))
            .args(input)
            .succeeds();
        out
    };
    let (published, truth) = (run("10"), run("0"));
    let python = python().expect("Python 3 with numpy and SciPy (.ci/run installs them)");
    let o = Command::new(python)
        .arg(root().join("scripts/attack_disclosure.py"))
        .arg(&published)
        .arg("--truth")
        .arg(&truth)
        .args(["--quiet", "--rounded-sample", "40"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    text
}

/// The number after `label` on the line starting with `line`.
fn figure(text: &str, line: &str, label: &str) -> u64 {
    let l = text
        .lines()
        .find(|l| l.starts_with(line))
        .unwrap_or_else(|| panic!("no line {line}: {text}"));
    let rest = &l[l.find(label).unwrap_or_else(|| panic!("{label} in {l}")) + label.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
#[ignore = "needs Python 3 with numpy and SciPy (run by .ci/run, which installs them)"]
fn an_attacker_gets_no_small_count_back_from_what_one_run_publishes() {
    // The linear-programming attack of scripts/attack_disclosure.py over every
    // relation the published numbers obey (each attribute's tables against
    // the others, units against the whole, periods against the year, strata
    // against the group, references on hidden rows, notices about hidden
    // rows, the mix's chi-square). Before the linked-table step it got 675
    // counts from 1 to 9 back from the sample's own outputs.
    let dir = tempfile::tempdir().unwrap();
    let sample = root().join("datasets/sample/proco_2025_sample.csv");
    let config = root().join("datasets/sample/stopaudit.toml");
    let dirty = generate(dir.path(), "dirty.csv", "4000", "3", "0.02");
    for (name, input) in [
        (
            "sample",
            vec![
                sample.to_str().unwrap().to_string(),
                "--config".to_string(),
                config.to_str().unwrap().to_string(),
            ],
        ),
        ("dirty", vec![dirty.to_str().unwrap().to_string()]),
    ] {
        let args: Vec<&str> = input.iter().map(String::as_str).collect();
        let text = attack(dir.path(), name, &args);
        assert!(figure(&text, "hidden counts (targets):", ":") > 0, "{text}");
        assert_eq!(
            figure(&text, "WITHIN ONE RUN:", "truly 1..9:"),
            0,
            "{name}: {text}"
        );
        assert_eq!(
            figure(&text, "WITHIN ONE RUN:", "wrong:"),
            0,
            "{name}: {text}"
        );
        assert_eq!(
            figure(&text, "ROUNDED:", "the attack pins"),
            0,
            "{name}: {text}"
        );
        assert_eq!(
            figure(&text, "## published counts from 1 to 9", ":"),
            0,
            "{name}: {text}"
        );
    }
}
