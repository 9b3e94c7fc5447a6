//! Internal benchmarking end to end: a team and an officer who stop one
//! group more often than their peers in the same strata are found (the
//! officer only under a keyed pseudonym), nothing is found in data without
//! such a pattern, and officer benchmarking without a key is refused.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::Succeeds;
use crate::common::stopaudit;

fn generate(dir: &Path) -> PathBuf {
    let out = dir.join("stops.csv");
    stopaudit()
        .args(["generate", "--quiet", "--rows", "60000", "--seed", "12"])
        .arg("--out")
        .arg(&out)
        .succeeds();
    out
}

/// The export with one team and one officer stopping more Moroccan nationals.
fn plant(clean: &Path, dir: &Path) -> (PathBuf, String) {
    let text = std::fs::read_to_string(clean).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let names: Vec<&str> = header.trim_start_matches('\u{feff}').split(';').collect();
    let col = |n: &str| names.iter().position(|h| *h == n).unwrap();
    let (team, officer, nationality) = (col("Ploeg"), col("Agent"), col("Nationaliteit"));
    let rows: Vec<Vec<String>> = lines
        .map(|l| l.split(';').map(str::to_string).collect())
        .collect();
    // The officer with the most stops.
    let mut counts = std::collections::BTreeMap::new();
    for r in &rows {
        *counts.entry(r[officer].clone()).or_insert(0u32) += 1;
    }
    let busiest = counts.iter().max_by_key(|(_, n)| **n).unwrap().0.clone();
    let mut out = vec![header.to_string()];
    for (i, mut r) in rows.into_iter().enumerate() {
        let team_plant = r[team] == "Ploeg A" && i % 7 == 0;
        let officer_plant = r[officer] == busiest && i % 2 == 0;
        if (team_plant || officer_plant) && r[nationality] == "Nederlands" {
            r[nationality] = "Marokkaans".into();
        }
        out.push(r.join(";"));
    }
    let path = dir.join("planted.csv");
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    (path, busiest)
}

fn analyze(path: &Path, dir: &Path, entities: &str, key: Option<&str>) -> std::process::Output {
    let config = dir.join("bench.toml");
    std::fs::write(
        &config,
        format!("[analysis.benchmarking]\nenabled = true\nentities = {entities}\n"),
    )
    .unwrap();
    let mut cmd = stopaudit();
    cmd.args(["analyze", "--quiet", "--format", "json"])
        .arg(path)
        .arg("--config")
        .arg(&config)
        .env_remove("STOPAUDIT_PSEUDONYM_KEY");
    if let Some(key) = key {
        cmd.env("STOPAUDIT_PSEUDONYM_KEY", key);
    }
    cmd.output().unwrap()
}

fn json(out: std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn findings(a: &Value) -> Vec<String> {
    a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["analysis"] == "internal_benchmark")
        .map(|f| {
            let (kind, entity) = f["stratum"].as_object().unwrap().iter().next().unwrap();
            format!(
                "{kind} {} {}",
                entity.as_str().unwrap(),
                f["group"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn a_team_and_an_officer_stopping_one_group_more_are_found() {
    let dir = tempfile::tempdir().unwrap();
    let clean = generate(dir.path());
    let key = "a-test-key-of-24-bytes!!";
    let entities = r#"["unit", "team", "officer"]"#;
    let a = json(analyze(&clean, dir.path(), entities, Some(key)));
    assert_eq!(a["internal_benchmark"]["enabled"], true);
    assert!(findings(&a).is_empty(), "{:?}", findings(&a));

    let (planted, busiest) = plant(&clean, dir.path());
    let p = json(analyze(&planted, dir.path(), entities, Some(key)));
    let found = findings(&p);
    assert!(
        found.contains(&"team Ploeg A Marokkaans".to_string()),
        "{found:?}"
    );
    let officers: Vec<&String> = found
        .iter()
        .filter(|f| f.starts_with("officer O-"))
        .collect();
    assert_eq!(officers.len(), 1, "{found:?}");
    assert!(officers[0].ends_with(" Marokkaans"));
    // Units are shown but never findings; the raw officer id never appears.
    assert!(found.iter().all(|f| !f.starts_with("unit ")));
    assert!(
        p["internal_benchmark"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["entity_kind"] == "unit")
    );
    assert!(!String::from_utf8_lossy(&serde_json::to_vec(&p).unwrap()).contains(&busiest));
    // The report's section names the team, and the officer only by pseudonym.
    let out = dir.path().join("report");
    stopaudit()
        .args(["report", "--quiet", "--format", "md,html"])
        .arg(&planted)
        .arg("--config")
        .arg(dir.path().join("bench.toml"))
        .arg("--out")
        .arg(&out)
        .env("STOPAUDIT_PSEUDONYM_KEY", key)
        .succeeds();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let section = md.split("Internal benchmarking\n").nth(1).unwrap_or(&md);
    assert!(md.contains(". Internal benchmarking"), "no section");
    assert!(
        section.contains("| Ploeg A | nationality | Marokkaans |"),
        "{section}"
    );
    assert!(section.contains("| O-"));
    for text in [
        md,
        std::fs::read_to_string(out.join("report.html")).unwrap(),
    ] {
        assert!(!text.contains(&busiest));
    }
    // Every published row has at least min_cell stops.
    for r in p["internal_benchmark"]["results"].as_array().unwrap() {
        assert!(r["stops"].as_u64().unwrap() >= 10);
        if r["suppressed"] == false {
            let (o, e) = (
                r["observed"].as_f64().unwrap(),
                r["expected"].as_f64().unwrap(),
            );
            if e > 0.0 {
                assert!((r["ratio"].as_f64().unwrap() - o / e).abs() < 1e-12);
            }
        }
    }
}

#[test]
fn officers_without_a_key_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clean = generate(dir.path());
    let out = analyze(&clean, dir.path(), r#"["officer"]"#, None);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("pseudonymisation key"), "{stderr}");
    // Teams need no key.
    json(analyze(&clean, dir.path(), r#"["team"]"#, None));
}

/// The key is resolved once per run: a `pseudonym_key_file` relative to the
/// configuration file (whatever the working directory) gives the same
/// pseudonyms as the same key in the environment; two different key files
/// in one configuration are refused before any row is read.
#[test]
fn one_key_per_run_from_a_file_beside_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let clean = generate(dir.path());
    let key = "a-test-key-of-24-bytes!!";
    let from_env = json(analyze(&clean, dir.path(), r#"["officer"]"#, Some(key)));

    let conf_dir = dir.path().join("conf");
    std::fs::create_dir(&conf_dir).unwrap();
    std::fs::write(conf_dir.join("officers.key"), key).unwrap();
    let config = conf_dir.join("bench.toml");
    let run = |extra: &str| {
        std::fs::write(
            &config,
            format!(
                "[analysis.benchmarking]\nenabled = true\nentities = [\"officer\"]\npseudonym_key_file = \"officers.key\"\n{extra}"
            ),
        )
        .unwrap();
        stopaudit()
            .args(["analyze", "--quiet", "--format", "json"])
            .arg(&clean)
            .arg("--config")
            .arg(&config)
            .env_remove("STOPAUDIT_PSEUDONYM_KEY")
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    let from_file = json(run(""));
    let officers = |a: &Value| -> Vec<String> {
        a["internal_benchmark"]["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["entity_kind"] == "officer")
            .map(|r| r["entity"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(!officers(&from_env).is_empty());
    assert_eq!(officers(&from_env), officers(&from_file));

    std::fs::write(conf_dir.join("other.key"), "another-key-of-24-bytes!").unwrap();
    let out = run("[analysis.data_quality]\npseudonym_key_file = \"other.key\"\n");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("one run uses one key"), "{stderr}");
}
