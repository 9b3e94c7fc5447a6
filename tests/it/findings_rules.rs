//! The findings' rules (docs/methods.md, "Findings") on exports made for
//! each rule: the comparison of like with like decides a finding's
//! strength, only differences adverse to the group are findings, and the
//! `unknown` group (a missing value) is never compared as a group of people.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{json_of, stopaudit};

/// `n` stops of one kind: nationality, gender, justification, outcome,
/// whether the person was searched.
type Stops = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    u32,
);

/// Writes the stops as a CSV export with canonical column names, spread
/// over 2025 at midday.
fn export(dir: &Path, stops: &[Stops]) -> PathBuf {
    let path = dir.join("stops.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(
        f,
        "stop_id,stopped_at,justification,outcome,search_conducted,contraband_found,nationality,gender,unit"
    )
    .unwrap();
    let mut id = 0u32;
    for &(nationality, gender, justification, outcome, searched, n) in stops {
        for _ in 0..n {
            id += 1;
            let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
                + chrono::Days::new(u64::from(id % 360));
            let (search, found) = if searched { ("ja", "nee") } else { ("nee", "") };
            writeln!(
                f,
                "S{id},{day} 12:00,{justification},{outcome},{search},{found},{nationality},{gender},Utrecht"
            )
            .unwrap();
        }
    }
    f.flush().unwrap();
    path
}

fn analyze(path: &Path) -> Value {
    json_of(stopaudit().args([
        "analyze",
        "--quiet",
        "--format",
        "json",
        path.to_str().unwrap(),
    ]))
}

/// The findings of one analysis about one group.
fn findings<'a>(a: &'a Value, analysis: &str, group: &str) -> Vec<&'a Value> {
    a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["analysis"] == analysis && f["group"] == group)
        .collect()
}

/// The outcome-test findings about a group over all its stops.
fn overall<'a>(a: &'a Value, group: &str) -> Vec<&'a Value> {
    findings(a, "outcome_test", group)
        .into_iter()
        .filter(|f| f["stratum"].as_object().unwrap().is_empty())
        .collect()
}

/// Hits (`fine`) and non-hits (`no_action`) of one group in one justification.
fn cell(
    nationality: &'static str,
    justification: &'static str,
    hits: u32,
    others: u32,
) -> [Stops; 2] {
    [
        (nationality, "man", justification, "fine", false, hits),
        (
            nationality,
            "man",
            justification,
            "no_action",
            false,
            others,
        ),
    ]
}

#[test]
fn an_overall_gap_that_the_mix_of_justifications_explains_is_a_note_not_a_finding() {
    // Within each justification the rates are almost equal (ratios 0.94 and
    // 0.97), but Moroccan nationals are mostly stopped on behaviour, where
    // few stops lead to a result: overall 14% against 53%.
    let dir = tempfile::tempdir().unwrap();
    let stops = |k: u32| -> Vec<Stops> {
        [
            cell("Marokkaans", "behaviour", 85 * k, 815 * k),
            cell("Marokkaans", "observed_violation", 58 * k, 42 * k),
            cell("Nederlands", "behaviour", 30 * k, 270 * k),
            cell("Nederlands", "observed_violation", 1020 * k, 680 * k),
        ]
        .concat()
    };
    // With 3,000 stops the pooled odds ratio's interval (0.69–1.25)
    // reaches outside the practical band: the data cannot tell.
    let small = analyze(&export(dir.path(), &stops(1)));
    let note = overall(&small, "Marokkaans");
    assert_eq!(note.len(), 1, "{note:?}");
    assert_eq!(note[0]["severity"], "note");
    assert!(
        note[0]["summary_en"]
            .as_str()
            .unwrap()
            .contains("the data cannot tell whether a practically relevant difference remains"),
        "{}",
        note[0]
    );
    // Six times the stops: the interval lies inside the band.
    let a = analyze(&export(dir.path(), &stops(6)));
    let overall = overall(&a, "Marokkaans");
    assert_eq!(overall.len(), 1, "{overall:?}");
    let note = overall[0];
    assert_eq!(note["severity"], "note", "{note}");
    let mh = note["mh_odds_ratio"].as_f64().unwrap();
    assert!(mh > 0.8 && mh < 1.0, "{mh}");
    assert!(
        note["summary_en"].as_str().unwrap().contains(
            "the overall difference comes from how the stops are spread over justification"
        ),
        "{note}"
    );
    assert!(
        note["summary_nl"]
            .as_str()
            .unwrap()
            .contains("verdeling van de controles over aanleiding"),
        "{note}"
    );
    // Selection on weak grounds is itself adverse: that finding stays.
    assert!(
        findings(&a, "justification_mix", "Marokkaans")
            .iter()
            .any(|f| f["severity"] == "medium")
    );
    assert!(findings(&a, "stratified", "Marokkaans").is_empty());
}

#[test]
fn a_gap_that_holds_within_justifications_is_high() {
    // Under half the odds of a result in both justifications (odds ratios
    // 0.47 in each), and two thirds of the rate overall.
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = [
        cell("Marokkaans", "behaviour", 25, 475),
        cell("Marokkaans", "observed_violation", 208, 292),
        cell("Nederlands", "behaviour", 100, 900),
        cell("Nederlands", "observed_violation", 600, 400),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let overall = overall(&a, "Marokkaans");
    assert_eq!(overall.len(), 1, "{overall:?}");
    assert_eq!(overall[0]["severity"], "high", "{}", overall[0]);
    let mh = overall[0]["mh_odds_ratio"].as_f64().unwrap();
    assert!(mh < 0.8, "{mh}");
    assert!(
        overall[0]["summary_en"]
            .as_str()
            .unwrap()
            .contains("no evidence that its size differs between them")
    );
}

#[test]
fn a_gap_within_justifications_that_the_overall_rate_hides_is_a_finding() {
    // Simpson's paradox: within each justification Moroccan nationals' stops
    // lead to a result less often (5% against 10%, 50% against 60%), but
    // they are mostly stopped for observed violations, where most stops do:
    // overall 46% against 15%, in their favour.
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = [
        cell("Marokkaans", "behaviour", 5, 95),
        cell("Marokkaans", "observed_violation", 450, 450),
        cell("Nederlands", "behaviour", 180, 1620),
        cell("Nederlands", "observed_violation", 120, 80),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let overall = overall(&a, "Marokkaans");
    assert!(overall.is_empty(), "{overall:?}");
    let within = findings(&a, "stratified", "Marokkaans");
    let strong: Vec<&&Value> = within
        .iter()
        .filter(|f| f["severity"] == "high" || f["severity"] == "medium")
        .collect();
    assert_eq!(strong.len(), 1, "{within:?}");
    assert!(strong[0]["mh_odds_ratio"].as_f64().unwrap() < 0.8);
    assert!(
        strong[0]["summary_en"]
            .as_str()
            .unwrap()
            .contains("the overall comparison does not show it")
    );
    // The reversal itself is still explained in a note.
    assert!(within.iter().any(|f| f["severity"] == "note"));
}

#[test]
fn differences_in_the_groups_favour_are_shown_but_never_findings() {
    // Women are searched less than half as often as men (4% against 9%).
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = vec![
        ("Nederlands", "vrouw", "behaviour", "no_action", true, 40),
        ("Nederlands", "vrouw", "behaviour", "no_action", false, 960),
        ("Nederlands", "man", "behaviour", "no_action", true, 180),
        ("Nederlands", "man", "behaviour", "no_action", false, 1820),
    ];
    let a = analyze(&export(dir.path(), &stops));
    let row = a["search_funnel"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            r["group"] == "vrouw" && r["stage"] == "search" && r["stratum"] == serde_json::json!({})
        })
        .expect("the women's search row");
    assert!((row["rate_ratio"].as_f64().unwrap() - 0.04 / 0.09).abs() < 1e-9);
    assert!(row["q_value"].as_f64().unwrap() < 1e-4, "{row}");
    assert!(findings(&a, "search_funnel", "vrouw").is_empty());
}

#[test]
fn the_unknown_group_is_compared_in_the_tables_but_never_a_finding() {
    // Stops without a nationality lead to a result far less often.
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = [
        cell("", "behaviour", 20, 980),
        cell("Nederlands", "behaviour", 300, 700),
        cell("Marokkaans", "behaviour", 290, 710),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let unknown = a["outcome_test"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["attribute"] == "nationality" && r["group"] == "unknown")
        .expect("the unknown group's row");
    assert!(unknown["q_value"].as_f64().unwrap() < 1e-6, "{unknown}");
    let about_unknown: Vec<&Value> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["group"] == "unknown")
        .collect();
    assert!(about_unknown.is_empty(), "{about_unknown:?}");
}
