//! Data-quality diagnostics end to end: a clean generated export passes
//! every check; the same export with damage planted on purpose (missing
//! legal bases, rounded clock times in one unit, a month without
//! registrations in another, one officer registering in bulk) fails exactly
//! those checks, as findings listed before every disparity finding;
//! officers are named only as keyed pseudonyms.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::Succeeds;
use crate::common::{json_of, stopaudit};

fn generate(dir: &Path) -> PathBuf {
    let out = dir.join("clean.csv");
    stopaudit()
        .args(["generate", "--quiet", "--rows", "40000", "--seed", "8"])
        .arg("--out")
        .arg(&out)
        .succeeds();
    out
}

fn analyze(path: &Path, key: Option<&Path>) -> Value {
    let mut cmd = stopaudit();
    cmd.args(["analyze", "--quiet", "--format", "json"])
        .arg(path)
        .env_remove("STOPAUDIT_PSEUDONYM_KEY");
    if let Some(key) = key {
        let config = path.with_extension("toml");
        write_key_config(&config, key);
        cmd.arg("--config").arg(config);
    }
    json_of(&mut cmd)
}

/// A configuration at `config` naming `key` as the pseudonym key file.
fn write_key_config(config: &Path, key: &Path) {
    std::fs::write(
        config,
        format!(
            "[analysis.data_quality]\npseudonym_key_file = \"{}\"\n",
            key.display()
        ),
    )
    .unwrap();
}

fn failed(a: &Value) -> Vec<String> {
    a["data_quality"]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["status"] == "fail")
        .map(|d| {
            format!(
                "{} {}",
                d["check"].as_str().unwrap(),
                d["subject"].as_str().unwrap()
            )
        })
        .collect()
}

/// The export with damage planted: returns the path.
fn damage(clean: &Path, dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(clean).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    let names: Vec<&str> = header.trim_start_matches('\u{feff}').split(';').collect();
    let col = |n: &str| names.iter().position(|h| *h == n).unwrap();
    let (date, time, unit, legal, officer) = (
        col("Datum"),
        col("Tijd"),
        col("Eenheid"),
        col("Grondslag"),
        col("Agent"),
    );
    let mut out = vec![header.to_string()];
    for (i, line) in lines.enumerate() {
        let mut f: Vec<String> = line.split(';').map(str::to_string).collect();
        // Every fifth legal basis left out.
        if i % 5 == 0 {
            f[legal].clear();
        }
        // Limburg rounds its clock times to the quarter hour.
        if f[unit] == "Limburg" {
            let (h, m) = f[time].split_once(':').unwrap();
            let m: u32 = m.parse().unwrap();
            f[time] = format!("{h}:{:02}", m / 15 * 15);
        }
        // Oost-Brabant registered nothing in June 2025.
        if f[unit] == "Oost-Brabant" && f[date].ends_with("-06-2025") {
            continue;
        }
        // One Rotterdam officer registers every Rotterdam stop of March.
        if f[unit] == "Rotterdam" && f[date].ends_with("-03-2025") {
            f[officer] = "RO-BULK".into();
        }
        out.push(f.join(";"));
    }
    let path = dir.join("damaged.csv");
    std::fs::write(&path, out.join("\n") + "\n").unwrap();
    path
}

#[test]
fn planted_problems_fail_exactly_their_checks_and_come_first() {
    let dir = tempfile::tempdir().unwrap();
    let clean = generate(dir.path());
    let a = analyze(&clean, None);
    assert_eq!(a["data_quality"]["enabled"], true);
    assert!(failed(&a).is_empty(), "{:?}", failed(&a));
    assert!(
        a["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "data_quality")
    );

    let damaged = damage(&clean, dir.path());
    let d = analyze(&damaged, None);
    let mut want = vec![
        "coverage legal_basis",
        "heaping Limburg",
        "officer_volume all",
        "registration_gap Oost-Brabant",
    ];
    want.sort_unstable();
    let mut got = failed(&d);
    got.sort_unstable();
    assert_eq!(got, want);
    let gap = d["data_quality"]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["check"] == "registration_gap" && x["subject"] == "Oost-Brabant")
        .unwrap();
    assert_eq!(gap["months"], serde_json::json!(["2025-06"]));
    // Data-quality findings come before every other finding.
    let severities: Vec<&str> = d["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    let n = severities.iter().filter(|s| **s == "data_quality").count();
    assert_eq!(n, 4);
    assert!(severities[..n].iter().all(|s| *s == "data_quality"));
    assert_eq!(d["findings"][0]["id"], "F001");
    // In the report's summary they come first, linking to the data section.
    let out = dir.path().join("report");
    stopaudit()
        .args(["report", "--quiet", "--format", "md"])
        .arg(&damaged)
        .arg("--out")
        .arg(&out)
        .env_remove("STOPAUDIT_PSEUDONYM_KEY")
        .succeeds();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let quality = md
        .find("### Data quality first")
        .expect("a data-quality list");
    // Before any other finding of the summary (there may be none).
    let others = md
        .find("Findings, most severe first")
        .or_else(|| md.find("## 2."))
        .expect("the rest of the report");
    assert!(quality < others);
    assert!(md.contains("Problems in the registrations themselves (4)"));
    assert!(md[quality..others].contains("([see section](#data))"));
    // Without a key the bulk officer is counted, never named.
    let text = serde_json::to_string(&d).unwrap();
    assert!(!text.contains("RO-BULK"));
    assert!(
        d["data_quality"]["officers_note"]
            .as_str()
            .unwrap()
            .contains("STOPAUDIT_PSEUDONYM_KEY")
    );

    // With a key: a pseudonym, the same in every run, and still no raw id.
    let key = dir.path().join("key");
    std::fs::write(&key, "0123456789abcdef-test-key\n").unwrap();
    let k1 = analyze(&damaged, Some(&key));
    let k2 = analyze(&damaged, Some(&key));
    let officers: Vec<&Value> = k1["data_quality"]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["check"] == "officer_volume")
        .collect();
    assert_eq!(officers.len(), 1);
    let pseudonym = officers[0]["subject"].as_str().unwrap();
    assert!(
        pseudonym.starts_with("O-") && pseudonym.len() == 18,
        "{pseudonym}"
    );
    assert_eq!(officers[0]["months"], serde_json::json!(["2025-03"]));
    assert_eq!(k1["data_quality"], k2["data_quality"]);
    assert!(!serde_json::to_string(&k1).unwrap().contains("RO-BULK"));
}

#[test]
fn a_short_key_is_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let clean = generate(dir.path());
    let key = dir.path().join("short");
    std::fs::write(&key, "too short").unwrap();
    let config = dir.path().join("c.toml");
    write_key_config(&config, &key);
    let out = stopaudit()
        .args(["analyze", "--quiet", "--format", "json"])
        .arg(&clean)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("at least 16 are needed"), "{stderr}");
}

#[test]
fn an_empty_find_beside_no_search_is_not_missing() {
    // docs/schema.md: contraband_found only applies to searched stops.
    // 1,000 stops, 100 searched (with a find or not), 900 without a search
    // and an empty find column; then one searched stop without a find.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stops.csv");
    let mut csv = String::from(
        "stop_id,stopped_at,justification,outcome,search_conducted,contraband_found,nationality,unit\n",
    );
    for i in 0..1000 {
        let day = 1 + i % 28;
        let (search, found) = match i % 10 {
            0 if i % 20 == 0 => ("ja", "ja"),
            0 => ("ja", "nee"),
            _ => ("nee", ""),
        };
        let (hour, minute) = (8 + i % 12, (i * 7) % 60);
        csv.push_str(&format!(
            "S{i},2025-03-{day:02} {hour:02}:{minute:02},behaviour,no_action,{search},{found},Nederlands,Utrecht\n"
        ));
    }
    std::fs::write(&path, &csv).unwrap();
    let a = analyze(&path, None);
    assert!(
        a["missing_values"].get("contraband_found").is_none(),
        "{}",
        a["missing_values"]
    );
    let diagnostics = a["data_quality"]["diagnostics"].as_array().unwrap();
    assert!(
        !diagnostics
            .iter()
            .any(|d| d["check"] == "coverage" && d["subject"] == "contraband_found"),
        "judged among searched stops only"
    );
    let conditional = diagnostics
        .iter()
        .find(|d| d["check"] == "conditional_coverage")
        .unwrap();
    assert_eq!(conditional["status"], "ok", "{conditional}");
    assert!(failed(&a).is_empty(), "{:?}", failed(&a));

    // A searched stop without a find is missing, and counted.
    csv.push_str("S9999,2025-03-05 12:00,behaviour,no_action,ja,,Nederlands,Utrecht\n");
    std::fs::write(&path, &csv).unwrap();
    let a = analyze(&path, None);
    // One missing find: counted, and hidden as a small count (1 to 9).
    assert!(
        a["missing_values"]
            .as_object()
            .unwrap()
            .contains_key("contraband_found")
            && a["missing_values"]["contraband_found"].is_null(),
        "{}",
        a["missing_values"]
    );
}

#[test]
fn a_few_stray_dates_do_not_make_every_unit_a_volume_spike() {
    // A clean year of 2025 stops, of which 360 carry dates in the 18 months
    // before it (a wrong year typed). Judged from the first stray month on,
    // each unit's median month was a stray one, and every real month looked
    // like a spike against it, for every unit.
    let dir = tempfile::tempdir().unwrap();
    let clean = generate(dir.path());
    let text = std::fs::read_to_string(&clean).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = lines[0].trim_start_matches('\u{feff}').to_string();
    let date = header.split(';').position(|h| h == "Datum").unwrap();
    for (i, line) in lines.iter_mut().skip(1).take(360).enumerate() {
        let month = i % 18; // 0 = June 2023 … 17 = November 2024
        let (year, m) = (2023 + (5 + month) / 12, (5 + month) % 12 + 1);
        let mut f: Vec<String> = line.split(';').map(str::to_string).collect();
        f[date] = format!("15-{m:02}-{year}");
        *line = f.join(";");
    }
    let path = dir.path().join("stray.csv");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let a = analyze(&path, None);
    assert!(failed(&a).is_empty(), "{:?}", failed(&a));
    let left_out = a["data_quality"]["months_left_out"].as_array().unwrap();
    assert_eq!(left_out.len(), 18, "{left_out:?}");
    assert_eq!(left_out[0], "2023-06");
    assert_eq!(left_out[17], "2024-11");
    // A real month without registrations is still caught: the planted
    // damage test (Oost-Brabant, June) keeps failing exactly its checks.
}

#[test]
fn a_narrow_scope_does_not_make_every_busy_officer_implausible() {
    // Limited to one nationality, most officer months hold a stop or two:
    // the fence of the officer-volume check fell to 1 stop and flagged 170
    // of 825 officers for registering two.
    let dir = tempfile::tempdir().unwrap();
    let clean = generate(dir.path());
    let a = json_of(
        stopaudit()
            .args([
                "analyze",
                "--quiet",
                "--format",
                "json",
                "--where",
                "nationality=Marokkaans",
            ])
            .arg(&clean)
            .env_remove("STOPAUDIT_PSEUDONYM_KEY"),
    );
    assert!(failed(&a).is_empty(), "{:?}", failed(&a));
}

#[test]
fn scoped_volume_checks_judge_the_scope_say_so_and_allow_for_chance() {
    // The bundled sample limited to two nationalities' behaviour stops: each
    // unit's months hold about 40 stops, and February's count in Den Haag
    // and Oost-Brabant (49% of the median; 59% and 70% without the scope)
    // failed the 50% gap rule by chance alone.
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/sample");
    let scoped = |where_: &[&str]| {
        let mut cmd = stopaudit();
        cmd.args(["analyze", "--quiet", "--format", "json", "--config"])
            .arg(sample.join("stopaudit.toml"))
            .arg(sample.join("proco_2025_sample.csv"))
            .env_remove("STOPAUDIT_PSEUDONYM_KEY");
        for w in where_ {
            cmd.args(["--where", w]);
        }
        json_of(&mut cmd)
    };
    let a = scoped(&[
        "nationality=Marokkaans,Nederlands",
        "justification=behaviour",
    ]);
    assert!(failed(&a).is_empty(), "{:?}", failed(&a));
    let gaps: Vec<&Value> = a["data_quality"]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["check"] == "registration_gap")
        .collect();
    assert!(!gaps.is_empty());
    for d in gaps {
        assert_eq!(
            d["scope"],
            "nationality = Marokkaans or Nederlands; justification = behaviour"
        );
    }
    let whole = scoped(&[]);
    assert!(
        whole["data_quality"]["diagnostics"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d.get("scope").is_none())
    );

    // A real gap is still caught in a scope, and the finding says what it
    // judged: Oost-Brabant registered nothing in June.
    let dir = tempfile::tempdir().unwrap();
    let damaged = damage(&generate(dir.path()), dir.path());
    let out = stopaudit()
        .args(["analyze", "--quiet", "--where", "nationality=Nederlands"])
        .arg(&damaged)
        .env_remove("STOPAUDIT_PSEUDONYM_KEY")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let gap = text
        .lines()
        .find(|l| l.contains("[data_quality] Oost-Brabant registered fewer than"))
        .unwrap_or_else(|| panic!("no gap finding:\n{text}"));
    assert!(gap.contains("2025-06"), "{gap}");
    assert!(
        gap.contains("Judged on the stops in this run's scope only (nationality = Nederlands)"),
        "{gap}"
    );
}
