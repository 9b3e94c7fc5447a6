//! The analyses end to end: the JSON contract, the scope, suppression that
//! never leaks, and validity on synthetic data (planted bias is found, no
//! bias gives no high-severity finding).

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::Succeeds;
use crate::common::{json_of, stopaudit};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sample() -> [String; 3] {
    [
        root()
            .join("datasets/sample/proco_2025_sample.csv")
            .display()
            .to_string(),
        "--config".to_string(),
        root()
            .join("datasets/sample/stopaudit.toml")
            .display()
            .to_string(),
    ]
}

fn analyze(args: &[&str]) -> Value {
    json_of(
        stopaudit()
            .args(["analyze", "--quiet", "--format", "json"])
            .args(args),
    )
}

fn generate(dir: &Path, name: &str, rows: &str, seed: &str, bias: &str) -> PathBuf {
    let out = dir.join(name);
    stopaudit()
        .args([
            "generate", "--quiet", "--rows", rows, "--seed", seed, "--bias", bias, "--format",
            "parquet",
        ])
        .args(["--out", out.to_str().unwrap()])
        .succeeds();
    out
}

#[test]
fn results_follow_the_documented_contract() {
    let s = sample();
    let a = analyze(&[&s[0], &s[1], &s[2]]);
    assert_eq!(a["schema_version"], "1.4");
    for key in [
        "outcome_test",
        "justification_mix",
        "stratified",
        "search_funnel",
        "population_benchmark",
        "findings",
    ] {
        assert!(a[key].is_array(), "{key}");
    }
    // The sample's configuration names a population file: the benchmark runs.
    assert!(!a["population_benchmark"].as_array().unwrap().is_empty());
    assert!(
        a["provenance"]["population"]["sha256"]
            .as_str()
            .unwrap()
            .len()
            == 64
    );
    assert_eq!(
        a["provenance"]["configuration"]["groups"]["reference"]["nationality"],
        "Nederlands"
    );
    let row = &a["outcome_test"][0];
    for field in [
        "attribute",
        "group",
        "reference",
        "stratum",
        "stops",
        "hits",
        "rate",
        "rate_ci",
        "ref_stops",
        "ref_hits",
        "ref_rate",
        "rate_ratio",
        "rate_ratio_ci",
        "p_value",
        "q_value",
        "suppressed",
    ] {
        assert!(row.get(field).is_some(), "outcome_test row lacks {field}");
    }
    assert_eq!(row["stratum"], serde_json::json!({}));
    let mix = &a["justification_mix"][0];
    for field in ["chi2", "df", "p_value", "cramers_v", "cells"] {
        assert!(mix.get(field).is_some(), "justification_mix lacks {field}");
    }
    for field in [
        "group",
        "justification",
        "count",
        "share",
        "share_ci",
        "adjusted_residual",
    ] {
        assert!(mix["cells"][0].get(field).is_some(), "cell lacks {field}");
    }
    let st = &a["stratified"][0];
    for field in [
        "mh_odds_ratio",
        "mh_odds_ratio_ci",
        "cmh_p_value",
        "breslow_day_p_value",
        "strata_used",
        "strata_dropped",
        "strata_by",
    ] {
        assert!(st.get(field).is_some(), "stratified lacks {field}");
    }
    assert_eq!(st["strata_by"], serde_json::json!(["justification"]));
    let f = &a["findings"][0];
    for field in [
        "id",
        "severity",
        "analysis",
        "attribute",
        "group",
        "stratum",
        "summary_en",
        "summary_nl",
    ] {
        assert!(f.get(field).is_some(), "finding lacks {field}");
    }
    // Every q-value is at least the one-sided p-value it is made from,
    // which is half the two-sided one (or more) on the adverse side.
    for r in a["outcome_test"].as_array().unwrap() {
        if let (Some(p), Some(q)) = (r["p_adverse"].as_f64(), r["q_value"].as_f64()) {
            assert!(q >= p, "{r}");
            let two_sided = r["p_value"].as_f64().unwrap();
            let adverse = r["rate_ratio"].as_f64().is_some_and(|x| x < 1.0);
            if adverse {
                assert!(p <= two_sided, "{r}");
            }
        }
    }
}

#[test]
fn the_planted_bias_of_the_sample_is_among_the_findings() {
    let s = sample();
    let a = analyze(&[&s[0], &s[1], &s[2]]);
    let findings = a["findings"].as_array().unwrap();
    let found = |analysis: &str, group: &str, pred: &dyn Fn(&Value) -> bool| {
        findings.iter().any(|f| {
            f["analysis"] == analysis
                && f["group"] == group
                && f["severity"] != "insufficient_data"
                && pred(f)
        })
    };
    // Lower hit rate for Moroccan nationals stopped on 'behaviour'.
    assert!(found(
        "outcome_test",
        "Marokkaans",
        &|f| f["stratum"]["justification"] == "behaviour"
            && f["rate_ratio"].as_f64().unwrap() < 0.8
    ));
    // Their stops rest on weak grounds more often.
    assert!(found(
        "justification_mix",
        "Marokkaans",
        &|f| f["rate_ratio"].as_f64().unwrap() > 1.25
    ));
    // Turkish nationals searched more often, with fewer finds.
    assert!(found("search_funnel", "Turks", &|f| f["stage"] == "search"
        && f["rate_ratio"].as_f64().unwrap() > 1.25));
    assert!(found("search_funnel", "Turks", &|f| f["stage"]
        == "contraband"
        && f["rate_ratio"].as_f64().unwrap() < 0.8));
    // Summaries in both languages, with the caveat.
    let f = findings
        .iter()
        .find(|f| f["group"] == "Marokkaans" && f["analysis"] == "outcome_test")
        .unwrap();
    assert!(
        f["summary_en"]
            .as_str()
            .unwrap()
            .ends_with("a reason for review, not proof of discrimination.")
    );
    assert!(
        f["summary_nl"]
            .as_str()
            .unwrap()
            .contains("aanleiding 'gedrag'"),
        "{}",
        f["summary_nl"]
    );
    assert!(
        f["summary_nl"]
            .as_str()
            .unwrap()
            .ends_with("geen bewijs van discriminatie.")
    );
}

/// Walks every object of a JSON document.
fn objects<'a>(v: &'a Value, out: &mut Vec<&'a serde_json::Map<String, Value>>) {
    match v {
        Value::Object(o) => {
            out.push(o);
            o.values().for_each(|x| objects(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| objects(x, out)),
        _ => {}
    }
}

#[test]
fn small_cells_never_show() {
    let s = sample();
    let a = analyze(&[&s[0], &s[1], &s[2]]);
    assert_eq!(a["settings"]["min_cell"], 10);
    let mut all = Vec::new();
    objects(&a, &mut all);
    let mut suppressed = 0;
    for o in all {
        if o.get("suppressed") == Some(&Value::Bool(true)) {
            suppressed += 1;
            for field in ["hits", "count", "rate", "share", "rate_ratio", "p_value"] {
                if let Some(v) = o.get(field) {
                    assert!(v.is_null(), "suppressed {field} shown: {o:?}");
                }
            }
            // A suppressed row keeps its stops only when they are not small
            // (hide exactly what is small and what reveals it).
            for field in ["stops", "ref_stops", "ref_hits"] {
                if let Some(n) = o.get(field).and_then(Value::as_u64) {
                    assert!(n == 0 || n >= 10, "small {field} = {n} shown: {o:?}");
                }
            }
        } else if o.contains_key("suppressed") {
            for field in ["stops", "hits", "count", "ref_stops", "ref_hits"] {
                if let Some(n) = o.get(field).and_then(Value::as_u64) {
                    assert!(n == 0 || n >= 10, "small {field} = {n} shown: {o:?}");
                }
            }
        }
    }
    assert!(suppressed > 0, "the sample has small cells");
    // Findings from suppressed rows carry no numbers.
    for f in a["findings"].as_array().unwrap() {
        if f["severity"] == "insufficient_data" && f["rate"].is_null() {
            assert!(f["rate_ratio"].is_null() && f["q_value"].is_null());
        }
    }
    // --min-cell 0 shows everything.
    let open = analyze(&[&s[0], &s[1], &s[2], "--min-cell", "0"]);
    let mut all = Vec::new();
    objects(&open, &mut all);
    assert!(
        all.iter()
            .all(|o| o.get("suppressed") != Some(&Value::Bool(true)))
    );
}

#[test]
fn scope_cuts_are_counted_not_lost() {
    let s = sample();
    let all = analyze(&[&s[0], &s[1], &s[2]]);
    let cut = analyze(&[
        &s[0],
        &s[1],
        &s[2],
        "--period",
        "2025-Q3",
        "--where",
        "unit=Rotterdam,Amsterdam",
    ]);
    let p = &cut["provenance"];
    let n = |v: &Value| v.as_u64().unwrap();
    assert_eq!(
        n(&p["rows_read"]),
        n(&p["rows_analyzed"]) + n(&p["rows_quarantined"]) + n(&p["rows_out_of_scope"])
    );
    assert_eq!(p["rows_quarantined"], all["provenance"]["rows_quarantined"]);
    assert!(n(&p["rows_analyzed"]) < n(&all["provenance"]["rows_analyzed"]) / 3);
    assert_eq!(p["scope"]["period"]["start"], "2025-07-01");
    assert_eq!(p["scope"]["where"][0]["field"], "unit");
    assert!(p["first_stop"].as_str().unwrap().starts_with("2025-07"));
    let units: Vec<&str> = cut["counts"]["by_unit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["unit"].as_str().unwrap())
        .collect();
    assert!(units.iter().all(|u| *u == "Rotterdam" || *u == "Amsterdam"));
    // Bad scopes are usage errors.
    for bad in [
        vec!["--period", "2025-Q7"],
        vec!["--where", "colour=red"],
        vec!["--where", "justification=gedrg"],
    ] {
        let o = stopaudit()
            .args(["analyze", "--quiet", &s[0], &s[1], &s[2]])
            .args(&bad)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{bad:?}");
    }
}

#[test]
fn strata_by_justification_and_unit() {
    let s = sample();
    let a = analyze(&[
        &s[0],
        &s[1],
        &s[2],
        "--by",
        "justification,unit",
        "--min-cell",
        "0",
    ]);
    let st = &a["stratified"][0];
    assert_eq!(
        st["strata_by"],
        serde_json::json!(["justification", "unit"])
    );
    assert!(st["strata_used"].as_u64().unwrap() > 5);
    let a = analyze(&[&s[0], &s[1], &s[2], "--by", "basisteam"]);
    assert_eq!(
        a["stratified"][0]["strata_by"],
        serde_json::json!(["basisteam"])
    );
    let o = stopaudit()
        .args(["analyze", "--quiet", &s[0], &s[1], &s[2], "--by", "colour"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn csv_format_writes_one_file_per_analysis() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let s = sample();
    stopaudit()
        .args([
            "analyze",
            "--quiet",
            "--format",
            "csv",
            "--out",
            out.to_str().unwrap(),
            &s[0],
            &s[1],
            &s[2],
        ])
        .succeeds();
    for f in [
        "outcome_test.csv",
        "justification_mix.csv",
        "justification_mix_cells.csv",
        "weak_justification.csv",
        "stratified.csv",
        "search_funnel.csv",
        "population_benchmark.csv",
        "findings.csv",
        "provenance.json",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let text = std::fs::read_to_string(out.join("outcome_test.csv")).unwrap();
    let header = text.lines().next().unwrap();
    assert!(
        header.starts_with(
            "attribute,group,reference,stratum,stops,hits,rate,rate_ci_low,rate_ci_high"
        ),
        "{header}"
    );
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let rows = reader.records().count();
    let json = analyze(&[&s[0], &s[1], &s[2]]);
    assert_eq!(rows, json["outcome_test"].as_array().unwrap().len());
}

/// Without planted bias, at most the FDR level's share of data sets may show
/// a finding against a group (high or medium), at every size from a
/// quarter of one unit to a national year (the run's q-values are one
/// family); with it, the planted cell is found.
#[test]
fn validity_on_repeated_synthetic_data() {
    let dir = tempfile::tempdir().unwrap();
    let (mut sets, mut with_finding) = (0, Vec::new());
    for (rows, seeds) in [("5000", 10), ("15000", 10), ("40000", 10), ("200000", 5)] {
        for seed in 1..=seeds {
            let f = generate(
                dir.path(),
                &format!("null-{rows}-{seed}.parquet"),
                rows,
                &seed.to_string(),
                "none",
            );
            let a = analyze(&[f.to_str().unwrap()]);
            sets += 1;
            if a["findings"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["severity"] == "high" || f["severity"] == "medium")
            {
                with_finding.push(format!("{rows} rows, seed {seed}"));
            }
            std::fs::remove_file(f).unwrap();
        }
    }
    assert!(
        with_finding.len() as f64 / f64::from(sets) <= 0.05,
        "{} of {sets} unbiased data sets had a finding: {with_finding:?}",
        with_finding.len()
    );

    let f = generate(
        dir.path(),
        "biased.parquet",
        "100000",
        "7",
        "lower-threshold",
    );
    let a = analyze(&[f.to_str().unwrap()]);
    let planted = a["findings"].as_array().unwrap().iter().any(|f| {
        f["analysis"] == "outcome_test"
            && f["group"] == "Marokkaans"
            && f["stratum"]["justification"] == "behaviour"
            && f["severity"] == "medium"
    });
    assert!(planted, "{:#}", a["findings"]);
}

/// Writes a CSV where `group` hits at `rate` and the reference at `ref_rate`
/// in each of three justifications, with `n` stops per cell.
fn uniform_difference(dir: &Path, rate: f64, ref_rate: f64, n: usize) -> PathBuf {
    let mut text = String::from("stop_id;stopped_at;justification;outcome;nationality\n");
    let mut id = 0;
    for (j, share) in [
        ("gedrag", 1.0),
        ("informatie", 0.6),
        ("waargenomen overtreding", 1.4),
    ] {
        for (group, r) in [("X", rate * share), ("NL", ref_rate * share)] {
            let hits = (n as f64 * r).round() as usize;
            for i in 0..n {
                id += 1;
                let outcome = if i < hits { "bekeuring" } else { "geen actie" };
                text.push_str(&format!(
                    "S{id};2025-05-01 {:02}:{:02};{j};{outcome};{group}\n",
                    8 + i % 12,
                    i % 60
                ));
            }
        }
    }
    let path = dir.join(format!("uniform-{rate}-{ref_rate}.csv"));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_difference_in_every_stratum_is_high_severity() {
    let dir = tempfile::tempdir().unwrap();
    let csv = uniform_difference(dir.path(), 0.2, 0.4, 400);
    let a = analyze(&[csv.to_str().unwrap()]);
    let high: Vec<&Value> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "high")
        .collect();
    assert_eq!(high.len(), 1, "{:#}", a["findings"]);
    let f = high[0];
    assert_eq!(f["analysis"], "outcome_test");
    assert_eq!(f["group"], "X");
    assert_eq!(f["stratum"], serde_json::json!({}));
    assert!((f["rate_ratio"].as_f64().unwrap() - 0.5).abs() < 0.01);
    let rr = f["mh_rate_ratio"].as_f64().unwrap();
    assert!((rr - 0.5).abs() < 0.05, "{rr}");
    let ci = f["mh_rate_ratio_ci"].as_array().unwrap();
    assert!(ci[1].as_f64().unwrap() < 0.8, "{ci:?}");
    assert!(
        f["summary_en"]
            .as_str()
            .unwrap()
            .contains("holds when stops are compared within justification")
    );
    assert!(
        f["summary_nl"]
            .as_str()
            .unwrap()
            .contains("binnen aanleiding worden vergeleken"),
        "{}",
        f["summary_nl"]
    );
    // No difference at all: no finding.
    let csv = uniform_difference(dir.path(), 0.4, 0.4, 400);
    let a = analyze(&[csv.to_str().unwrap()]);
    assert!(
        a["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["severity"] != "high" && f["severity"] != "medium"),
        "{:#}",
        a["findings"]
    );
}

/// A nationality's analysed stops, from the published count table.
fn nationality_stops(a: &Value, group: &str) -> u64 {
    a["counts"]["by_group_justification_outcome"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["attribute"] == "nationality" && r["group"] == group)
        .map(|r| r["stops"].as_u64().unwrap())
        .sum()
}

#[test]
fn population_per_area_counts_only_stops_in_those_areas() {
    let dir = tempfile::tempdir().unwrap();
    let pop = dir.path().join("amsterdam.csv");
    std::fs::write(
        &pop,
        "area_code;attribute;group;population\nGM0363;nationality;Nederlands;700000\nGM0363;nationality;Marokkaans;80000\nGM0363;nationality;Turks;45000\n",
    )
    .unwrap();
    let s = sample();
    let a = analyze(&[
        &s[0],
        &s[1],
        &s[2],
        "--min-cell",
        "0",
        "--population",
        pop.to_str().unwrap(),
    ]);
    let rows = a["population_benchmark"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{rows:#?}");
    let cut = analyze(&[
        &s[0],
        &s[1],
        &s[2],
        "--min-cell",
        "0",
        "--where",
        "area_code=GM0363",
    ]);
    let stops_in_amsterdam = |group: &str| nationality_stops(&cut, group);
    let m = rows.iter().find(|r| r["group"] == "Marokkaans").unwrap();
    assert_eq!(
        m["stops"].as_u64().unwrap(),
        stops_in_amsterdam("Marokkaans")
    );
    assert_eq!(
        m["ref_stops"].as_u64().unwrap(),
        stops_in_amsterdam("Nederlands")
    );
    assert_eq!(m["population"], 80000.0);
    let rate = m["rate_per_1000"].as_f64().unwrap();
    assert!((rate - 1000.0 * stops_in_amsterdam("Marokkaans") as f64 / 80000.0).abs() < 1e-9);
    // A broken population file is an input error naming file, line and field.
    std::fs::write(
        &pop,
        "attribute,group,population\nnationality,Nederlands,veel\n",
    )
    .unwrap();
    let o = stopaudit()
        .args([
            "analyze",
            "--quiet",
            &s[0],
            &s[1],
            &s[2],
            "--population",
            pop.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("amsterdam.csv: population file line 2, field population"),
        "{err}"
    );
}

/// A run limited to some places is compared with the residents of those
/// places only; without areas in the population file it is not compared.
#[test]
fn a_run_scoped_to_places_is_compared_with_their_residents_only() {
    let dir = tempfile::tempdir().unwrap();
    let pop = dir.path().join("areas.csv");
    // Den Haag's stops are in GM0518 and GM0546; Amsterdam (GM0363) is
    // outside the scope and must not count.
    std::fs::write(
        &pop,
        "area_code;attribute;group;population\n\
         GM0518;nationality;Nederlands;400000\nGM0518;nationality;Marokkaans;30000\n\
         GM0546;nationality;Nederlands;100000\nGM0546;nationality;Marokkaans;5000\n\
         GM0363;nationality;Nederlands;700000\nGM0363;nationality;Marokkaans;80000\n",
    )
    .unwrap();
    let s = sample();
    let scoped = |population: &Path| {
        analyze(&[
            &s[0],
            &s[1],
            &s[2],
            "--min-cell",
            "0",
            "--where",
            "unit=Den Haag",
            "--population",
            population.to_str().unwrap(),
        ])
    };
    let a = scoped(&pop);
    let m = a["population_benchmark"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "Marokkaans")
        .expect("a row for Moroccan nationals");
    assert_eq!(m["population"], 35000.0, "{m}");
    assert_eq!(m["ref_population"], 500000.0, "{m}");
    // The stops: every analysed stop of the scoped run (all in those areas).
    let stops = |group: &str| nationality_stops(&a, group);
    assert_eq!(m["stops"].as_u64().unwrap(), stops("Marokkaans"));
    let rate = m["rate_per_1000"].as_f64().unwrap();
    assert!((rate - 1000.0 * stops("Marokkaans") as f64 / 35000.0).abs() < 1e-9);
    // Without area codes the residents cannot be limited: no benchmark, and
    // the results say why.
    let whole = dir.path().join("whole.csv");
    std::fs::write(
        &whole,
        "attribute;group;population\nnationality;Nederlands;1200000\nnationality;Marokkaans;115000\n",
    )
    .unwrap();
    let b = scoped(&whole);
    assert!(b["population_benchmark"].as_array().unwrap().is_empty());
    assert!(
        b["population_benchmark_note"]
            .as_str()
            .unwrap()
            .contains("no area_code column")
    );
    assert!(
        b["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["analysis"] != "population_benchmark")
    );
}

#[test]
fn simpsons_reversal_is_flagged() {
    // X is stopped mostly on information (many hits), NL mostly on behaviour
    // (few hits): X hits more often overall, but less often within each justification.
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from("stop_id;stopped_at;justification;outcome;nationality\n");
    let mut id = 0;
    for (group, j, n, rate) in [
        ("X", "informatie", 900, 0.7),
        ("X", "gedrag", 100, 0.1),
        ("NL", "informatie", 100, 0.8),
        ("NL", "gedrag", 900, 0.2),
    ] {
        let hits = (n as f64 * rate) as usize;
        for i in 0..n {
            id += 1;
            let outcome = if i < hits { "bekeuring" } else { "geen actie" };
            text.push_str(&format!(
                "S{id};2025-05-01 10:{:02};{j};{outcome};{group}\n",
                i % 60
            ));
        }
    }
    let csv = dir.path().join("simpson.csv");
    std::fs::write(&csv, text).unwrap();
    let a = analyze(&[csv.to_str().unwrap()]);
    let st = &a["stratified"][0];
    assert_eq!(st["group"], "X");
    assert!(st["crude_odds_ratio"].as_f64().unwrap() > 1.1);
    assert!(st["mh_odds_ratio"].as_f64().unwrap() < 1.0 / 1.1);
    assert_eq!(st["reversal"], true);
    let note = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "note")
        .expect("a reversal note");
    assert_eq!(note["analysis"], "stratified");
    assert!(
        note["summary_en"]
            .as_str()
            .unwrap()
            .contains("point the other way")
    );
}

#[test]
fn fail_on_exits_1_after_writing_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.json");
    let s = sample();
    // The sample has medium findings and one high (the find rate of Turkish
    // nationals' searches, within justification): --fail-on medium and
    // --fail-on high fail; on bias-free data --fail-on high does not.
    let o = stopaudit()
        .args([
            "analyze",
            "--quiet",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
            &s[0],
            &s[1],
            &s[2],
            "--fail-on",
            "medium",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("at severity medium or above"));
    assert!(out.is_file(), "the results are written before failing");
    let o = stopaudit()
        .args([
            "analyze",
            "--quiet",
            "--format",
            "json",
            "--out",
            out.to_str().unwrap(),
            &s[0],
            &s[1],
            &s[2],
            "--fail-on",
            "high",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let fair = generate(dir.path(), "fair.parquet", "5000", "11", "none");
    let o = stopaudit()
        .args(["analyze", "--quiet", "--format", "json", "--out"])
        .arg(&out)
        .arg(&fair)
        .args(["--fail-on", "high"])
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rep = dir.path().join("rep");
    let o = stopaudit()
        .args([
            "report",
            "--quiet",
            "--format",
            "md",
            "--out",
            rep.to_str().unwrap(),
            &s[0],
            &s[1],
            &s[2],
            "--fail-on",
            "medium",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    assert!(rep.join("report.md").is_file());
    let o = stopaudit()
        .args(["analyze", "--quiet", &s[0], "--fail-on", "severe"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
}
