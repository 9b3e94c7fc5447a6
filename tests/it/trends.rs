//! Trends end to end: the per-quarter counts against an independent count
//! of the export, the changes against their definitions, month, quarter and
//! year grains consistent with each other, and suppression that leaves no
//! hidden count recoverable.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::Succeeds;
use crate::common::{json_of, stopaudit};

fn analyze(args: &[&str]) -> Value {
    json_of(
        stopaudit()
            .args(["analyze", "--quiet", "--format", "json"])
            .args(args),
    )
}

fn generate(dir: &Path) -> PathBuf {
    let out = dir.join("two_years.csv");
    stopaudit()
        .args([
            "generate", "--quiet", "--rows", "30000", "--seed", "4", "--days", "730",
        ])
        .arg("--out")
        .arg(&out)
        .succeeds();
    out
}

fn series<'a>(a: &'a Value, attribute: &str, group: &str, measure: &str) -> &'a Value {
    a["trends"]["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["attribute"] == attribute && s["group"] == group && s["measure"] == measure)
        .unwrap_or_else(|| panic!("{attribute} {group} {measure}"))
}

/// (quarter label, nationality) -> (stops, hits), counted from the CSV itself.
fn count_export(path: &Path) -> BTreeMap<(String, String), (u64, u64)> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let header: Vec<&str> = lines.next().unwrap().split(';').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (date, nationality, result) = (col("Datum"), col("Nationaliteit"), col("Resultaat"));
    let mut out = BTreeMap::new();
    for line in lines {
        let f: Vec<&str> = line.split(';').collect();
        let d: Vec<u32> = f[date].split('-').map(|x| x.parse().unwrap()).collect();
        let quarter = format!("{}-Q{}", d[2], (d[1] - 1) / 3 + 1);
        let group = if f[nationality].is_empty() {
            "unknown"
        } else {
            f[nationality]
        };
        let hit = ["bekeuring", "proces-verbaal", "aanhouding"].contains(&f[result]);
        let e = out.entry((quarter, group.to_string())).or_insert((0, 0));
        e.0 += 1;
        e.1 += u64::from(hit);
    }
    out
}

#[test]
fn quarters_match_an_independent_count_and_changes_their_definition() {
    let dir = tempfile::tempdir().unwrap();
    let csv = generate(dir.path());
    let a = analyze(&[csv.to_str().unwrap(), "--min-cell", "0"]);
    let t = &a["trends"];
    assert_eq!(t["grain"], "quarter");
    let periods: Vec<&str> = t["periods"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert_eq!(periods.len(), 8);
    assert_eq!(periods[0], "2025-Q1");
    assert_eq!(periods[7], "2026-Q4");
    let expected = count_export(&csv);
    let totals: BTreeMap<&str, u64> = periods
        .iter()
        .map(|p| {
            let n = expected
                .iter()
                .filter(|((q, _), _)| q == p)
                .map(|(_, v)| v.0)
                .sum();
            (*p, n)
        })
        .collect();
    for group in ["Marokkaans", "Turks", "Nederlands"] {
        let s = series(&a, "nationality", group, "share_of_stops");
        for p in s["points"].as_array().unwrap() {
            let period = p["period"].as_str().unwrap();
            let (stops, _) = expected[&(period.to_string(), group.to_string())];
            assert_eq!(p["numerator"].as_u64(), Some(stops), "{group} {period}");
            assert_eq!(p["denominator"].as_u64(), Some(totals[period]));
            let value = p["value"].as_f64().unwrap();
            assert!((value - stops as f64 / totals[period] as f64).abs() < 1e-12);
            let ci = &p["ci"];
            assert!(ci[0].as_f64().unwrap() < value && value < ci[1].as_f64().unwrap());
        }
        // Each change is the difference of the two shares, inside its interval.
        let value_of = |period: &str| {
            s["points"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["period"] == period)
                .unwrap()["value"]
                .as_f64()
                .unwrap()
        };
        let changes = s["changes"].as_array().unwrap();
        assert_eq!(
            changes.len(),
            7 + 4,
            "7 previous-period and 4 year-earlier changes"
        );
        for c in changes {
            let (now, then) = (
                c["period"].as_str().unwrap(),
                c["compared_with"].as_str().unwrap(),
            );
            let d = c["change"].as_f64().unwrap();
            assert!((d - (value_of(now) - value_of(then))).abs() < 1e-12);
            let ci = &c["change_ci"];
            assert!(ci[0].as_f64().unwrap() <= d && d <= ci[1].as_f64().unwrap());
            let (p, q) = (
                c["p_value"].as_f64().unwrap(),
                c["q_value"].as_f64().unwrap(),
            );
            assert!(p <= q && q <= 1.0);
            if c["kind"] == "year_earlier" {
                assert_eq!(
                    &then[..4],
                    (now[..4].parse::<u32>().unwrap() - 1).to_string()
                );
                assert_eq!(&then[4..], &now[4..]);
            }
        }
    }
    // The hit-rate ratio from the same independent count.
    let s = series(&a, "nationality", "Marokkaans", "hit_rate_ratio");
    for p in s["points"].as_array().unwrap() {
        let period = p["period"].as_str().unwrap().to_string();
        let (n, h) = expected[&(period.clone(), "Marokkaans".into())];
        let (m, r) = expected[&(period, "Nederlands".into())];
        let ratio = (h as f64 / n as f64) / (r as f64 / m as f64);
        assert!((p["value"].as_f64().unwrap() - ratio).abs() < 1e-12);
    }
}

#[test]
fn grains_add_up_and_suppression_leaves_nothing_recoverable() {
    let dir = tempfile::tempdir().unwrap();
    let csv = generate(dir.path());
    let by = |grain: &str| {
        let config = dir.path().join(format!("{grain}.toml"));
        std::fs::write(&config, format!("[analysis.trends]\ngrain = \"{grain}\"\n")).unwrap();
        analyze(&[
            csv.to_str().unwrap(),
            "--min-cell",
            "0",
            "--config",
            config.to_str().unwrap(),
        ])
    };
    let (months, years) = (by("month"), by("year"));
    assert_eq!(months["trends"]["periods"].as_array().unwrap().len(), 24);
    assert_eq!(
        years["trends"]["periods"],
        serde_json::json!(["2025", "2026"])
    );
    let year_series = series(&years, "nationality", "Turks", "weak_justification_share");
    assert!(
        year_series["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["kind"] == "previous_period")
    );
    let month_series = series(&months, "nationality", "Turks", "weak_justification_share");
    for (y, year_point) in year_series["points"].as_array().unwrap().iter().enumerate() {
        let sum: u64 = month_series["points"].as_array().unwrap()[12 * y..12 * (y + 1)]
            .iter()
            .map(|p| p["numerator"].as_u64().unwrap())
            .sum();
        assert_eq!(year_point["numerator"].as_u64(), Some(sum));
    }

    // Monthly counts of small groups are small: suppressed, and never one
    // alone in a period whose total is shown.
    let a = analyze(&[
        csv.to_str().unwrap(),
        "--config",
        dir.path().join("month.toml").to_str().unwrap(),
    ]);
    let all = a["trends"]["series"].as_array().unwrap();
    let mut hidden = 0;
    for s in all {
        let points = s["points"].as_array().unwrap();
        for p in points {
            if p["suppressed"] == true {
                hidden += 1;
                assert!(p["numerator"].is_null() && p["value"].is_null() && p["ci"].is_null());
            } else if let Some(n) = p["numerator"].as_u64() {
                assert!(n == 0 || n >= 10, "{s:?}");
            }
        }
        for c in s["changes"].as_array().unwrap() {
            let shown = |label: &Value| {
                points
                    .iter()
                    .any(|p| &p["period"] == label && p["suppressed"] == false)
            };
            if !(shown(&c["period"]) && shown(&c["compared_with"])) {
                assert_eq!(c["suppressed"], true);
                assert!(c["change"].is_null() && c["p_value"].is_null());
            }
        }
    }
    assert!(hidden > 0, "monthly counts of small groups are small");
    for attribute in ["nationality", "gender", "age_band"] {
        let shares: Vec<&Value> = all
            .iter()
            .filter(|s| s["attribute"] == attribute && s["measure"] == "share_of_stops")
            .collect();
        for t in 0..24 {
            let alone = shares
                .iter()
                .filter(|s| s["points"][t]["suppressed"] == true)
                .count();
            assert_ne!(
                alone, 1,
                "{attribute}: one hidden share in period {t} is recoverable"
            );
        }
    }
}

#[test]
fn the_period_can_come_from_the_registration_date() {
    let dir = tempfile::tempdir().unwrap();
    let csv = generate(dir.path());
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.trim_start_matches('\u{feff}').lines();
    let header = lines.next().unwrap();
    let names: Vec<&str> = header.split(';').collect();
    let col = |n: &str| names.iter().position(|h| *h == n).unwrap();
    let (date, nationality) = (col("Datum"), col("Nationaliteit"));
    // Registered 0-39 days after the stop; every 50th not recorded, one unreadable.
    let mut out = vec![format!("{header};Registratiedatum")];
    let mut expected: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut unrecorded = 0u64;
    for (i, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(';').collect();
        let d: Vec<u32> = f[date].split('-').map(|x| x.parse().unwrap()).collect();
        let stop = chrono::NaiveDate::from_ymd_opt(d[2] as i32, d[1], d[0]).unwrap();
        let registered = stop + chrono::Days::new((i % 40) as u64);
        let cell = if i == 7 {
            "31-02-2025".to_string()
        } else if i % 50 == 0 {
            unrecorded += 1;
            String::new()
        } else {
            use chrono::Datelike;
            let group = if f[nationality].is_empty() {
                "unknown"
            } else {
                f[nationality]
            };
            let quarter = format!("{}-Q{}", registered.year(), registered.month0() / 3 + 1);
            *expected.entry((quarter, group.to_string())).or_default() += 1;
            registered.format("%d-%m-%Y").to_string()
        };
        out.push(format!("{line};{cell}"));
    }
    let with_registration = dir.path().join("registered.csv");
    std::fs::write(&with_registration, out.join("\n") + "\n").unwrap();
    let config = dir.path().join("registered.toml");
    std::fs::write(
        &config,
        "[analysis.trends]\nperiod_column = \"registered_at\"\n",
    )
    .unwrap();
    let a = analyze(&[
        with_registration.to_str().unwrap(),
        "--min-cell",
        "0",
        "--config",
        config.to_str().unwrap(),
    ]);
    assert_eq!(a["trends"]["period_column"], "registered_at");
    assert_eq!(
        a["trends"]["stops_without_period"].as_u64(),
        Some(unrecorded)
    );
    // The unreadable date is quarantined, naming the field.
    assert_eq!(a["provenance"]["rows_quarantined"].as_u64(), Some(1));
    let periods = a["trends"]["periods"].as_array().unwrap();
    assert_eq!(
        periods.last().unwrap(),
        "2027-Q1",
        "registrations run into 2027"
    );
    for group in ["Turks", "Nederlands"] {
        for p in series(&a, "nationality", group, "share_of_stops")["points"]
            .as_array()
            .unwrap()
        {
            let key = (p["period"].as_str().unwrap().to_string(), group.to_string());
            assert_eq!(
                p["numerator"].as_u64().unwrap(),
                expected.get(&key).copied().unwrap_or(0),
                "{key:?}"
            );
        }
    }
    // Without such a column the setting is refused.
    let out = stopaudit()
        .args(["analyze", "--quiet", "--format", "json"])
        .arg(&csv)
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no input has a registered_at column"));
}
