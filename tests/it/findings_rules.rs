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

/// The outcome-test row of a group over all its stops.
fn overall_row<'a>(a: &'a Value, group: &str) -> &'a Value {
    a["outcome_test"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == group && r["stratum"] == serde_json::json!({}))
        .expect("the group's overall row")
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
    // With half of those 3,000 stops the pooled rate ratio's interval
    // (0.76–1.22) reaches outside the practical band: the data cannot tell.
    let half: Vec<Stops> = [
        cell("Marokkaans", "behaviour", 43, 407),
        cell("Marokkaans", "observed_violation", 29, 21),
        cell("Nederlands", "behaviour", 15, 135),
        cell("Nederlands", "observed_violation", 510, 340),
    ]
    .concat();
    let small = analyze(&export(dir.path(), &half));
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
    // Twice the stops: the interval (0.81–1.13) lies inside the band.
    let a = analyze(&export(dir.path(), &stops(1)));
    let overall = overall(&a, "Marokkaans");
    assert_eq!(overall.len(), 1, "{overall:?}");
    let note = overall[0];
    assert_eq!(note["severity"], "note", "{note}");
    let mh = note["mh_rate_ratio"].as_f64().unwrap();
    assert!(mh > 0.8 && mh < 1.0, "{mh}");
    let ci = note["mh_rate_ratio_ci"].as_array().unwrap();
    assert!(ci[0].as_f64().unwrap() > 0.8 && ci[1].as_f64().unwrap() < 1.25);
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
    let mh = overall[0]["mh_rate_ratio"].as_f64().unwrap();
    assert!(mh < 0.8, "{mh}");
    let summary = overall[0]["summary_en"].as_str().unwrap();
    assert!(summary.contains("no evidence that its size differs between them"));
    // The same difference within each justification is reported once: as
    // part of the overall finding, not as two more findings.
    let all = findings(&a, "outcome_test", "Marokkaans");
    assert_eq!(all.len(), 1, "{all:?}");
    let within: Vec<&str> = overall[0]["also_within"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["justification"].as_str().unwrap())
        .collect();
    assert_eq!(within, ["behaviour", "observed_violation"]);
    assert!(
        summary.contains("significant on its own in stops under justification"),
        "{summary}"
    );
}

#[test]
fn the_stratified_comparison_pools_only_strata_whose_numbers_are_published() {
    // Moroccan nationals have 5 results in behaviour stops. The outcome
    // test hides that stratum and, so that the 5 cannot be recovered from
    // the group's totals, one more (complementary suppression). The pooled
    // comparison leaves out the same strata: its numbers rest only on
    // published ones, and never give the 5 back.
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = [
        cell("Marokkaans", "behaviour", 5, 195),
        cell("Marokkaans", "observed_violation", 300, 300),
        cell("Marokkaans", "information", 40, 160),
        cell("Nederlands", "behaviour", 100, 900),
        cell("Nederlands", "observed_violation", 600, 400),
        cell("Nederlands", "information", 200, 800),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let outcome: Vec<&Value> = a["outcome_test"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["group"] == "Marokkaans" && r["stratum"]["justification"].is_string())
        .collect();
    let hidden: Vec<&str> = outcome
        .iter()
        .filter(|r| r["suppressed"] == true)
        .map(|r| r["stratum"]["justification"].as_str().unwrap())
        .collect();
    assert_eq!(hidden.len(), 2, "{outcome:?}");
    assert!(hidden.contains(&"behaviour"));
    let shown = outcome.iter().find(|r| r["suppressed"] == false).unwrap();
    let row = a["stratified"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "Marokkaans")
        .expect("the stratified row");
    assert_eq!(row["strata_withheld"], 2, "{row}");
    assert_eq!(row["strata_used"], 1, "{row}");
    // Its totals and ratio are the published stratum's own.
    assert_eq!(row["stops"], shown["stops"], "{row}");
    assert_eq!(row["hits"], shown["hits"], "{row}");
    let (x, y) = (
        row["mh_rate_ratio"].as_f64().unwrap(),
        shown["rate_ratio"].as_f64().unwrap(),
    );
    assert!((x - y).abs() < 1e-12, "{x} {y}");

    // With two strata, hiding one hides both: nothing is left to pool.
    let two: Vec<Stops> = [
        cell("Marokkaans", "behaviour", 5, 195),
        cell("Marokkaans", "observed_violation", 300, 300),
        cell("Nederlands", "behaviour", 100, 900),
        cell("Nederlands", "observed_violation", 600, 400),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &two));
    assert!(
        a["stratified"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["group"] != "Marokkaans"),
        "{}",
        a["stratified"]
    );
    assert!(findings(&a, "stratified", "Marokkaans").is_empty());
}

#[test]
fn a_gap_within_justifications_that_the_overall_rate_hides_is_a_finding() {
    // Simpson's paradox: within each justification Moroccan nationals' stops
    // lead to a result less often (5% against 10%, 44% against 60%), but
    // they are mostly stopped for observed violations, where most stops do:
    // overall 35% against 15%, in their favour.
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = [
        cell("Marokkaans", "behaviour", 15, 285),
        cell("Marokkaans", "observed_violation", 400, 500),
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
    assert!(strong[0]["mh_rate_ratio"].as_f64().unwrap() < 0.8);
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
    // Clearly different (two-sided), but not on the adverse side: the
    // one-sided p-value behind the q-value is near 1.
    assert!(row["p_value"].as_f64().unwrap() < 1e-4, "{row}");
    assert!(row["p_adverse"].as_f64().unwrap() > 0.99, "{row}");
    assert!(row["q_value"].as_f64().unwrap() > 0.5, "{row}");
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
    // Shown with its test, but not in the run's family: no q-value.
    assert!(unknown["p_value"].as_f64().unwrap() < 1e-6, "{unknown}");
    assert!(unknown["q_value"].is_null(), "{unknown}");
    let about_unknown: Vec<&Value> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["group"] == "unknown")
        .collect();
    assert!(about_unknown.is_empty(), "{about_unknown:?}");
}

#[test]
fn every_comparison_says_whether_the_data_could_tell() {
    // Three groups against 4,000 Dutch nationals with a 30% hit rate:
    // Polish nationals, 60 stops at the same rate (too few to tell);
    // Moroccan nationals, 3,000 at the same rate (no practically relevant
    // difference); Belgian nationals, 1,000 at 45% (in their favour).
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = [
        cell("Nederlands", "behaviour", 1200, 2800),
        cell("Pools", "behaviour", 18, 42),
        cell("Marokkaans", "behaviour", 900, 2100),
        cell("Belgisch", "behaviour", 450, 550),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let (pl, ma, be) = (
        overall_row(&a, "Pools"),
        overall_row(&a, "Marokkaans"),
        overall_row(&a, "Belgisch"),
    );
    assert_eq!(pl["verdict"], "inconclusive", "{pl}");
    assert_eq!(ma["verdict"], "no_difference", "{ma}");
    assert_eq!(be["verdict"], "favourable", "{be}");
    // 60 stops detect only a large difference; 3,000 detect a small one.
    let mdr = |r: &Value| r["min_detectable_ratio"].as_f64().unwrap();
    assert!(mdr(pl) < 0.6, "{pl}");
    assert!(mdr(ma) > 0.85 && mdr(ma) < 1.0, "{ma}");
    // A year of data: Polish nationals need years more to detect 0.8.
    let more = pl["more_quarters_needed"].as_f64().unwrap();
    assert!(more > 8.0, "{pl}");
    assert!(ma["more_quarters_needed"].is_null());
    // The counts per attribute add up to the rows with a verdict.
    let counts = a["verdicts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["analysis"] == "outcome_test" && c["attribute"] == "nationality")
        .unwrap();
    let with_verdict = a["outcome_test"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["attribute"] == "nationality" && r["verdict"].is_string())
        .count() as u64;
    let sum: u64 = [
        "finding",
        "explained_by_mix",
        "no_difference",
        "favourable",
        "inconclusive",
    ]
    .iter()
    .map(|k| counts[*k].as_u64().unwrap())
    .sum();
    assert_eq!(sum, with_verdict, "{counts}");
    assert!(counts["inconclusive"].as_u64().unwrap() >= 1);
}

#[test]
fn a_significant_comparison_that_suppression_hides_is_named_without_its_numbers() {
    // Moroccan nationals: 5 results in 300 stops (1.7%) against 30% for
    // Dutch nationals. The 5 is below the small-cell threshold, so the row
    // is withheld; the finding says so, names group and measure, and shows
    // no number.
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = [
        cell("Marokkaans", "behaviour", 5, 295),
        cell("Nederlands", "behaviour", 600, 1400),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let row = overall_row(&a, "Marokkaans");
    assert_eq!(row["suppressed"], true, "{row}");
    let withheld: Vec<&Value> = overall(&a, "Marokkaans");
    assert_eq!(withheld.len(), 1, "{withheld:?}");
    let f = withheld[0];
    assert_eq!(f["severity"], "withheld", "{f}");
    for field in ["rate", "ref_rate", "rate_ratio", "rate_ratio_ci", "q_value"] {
        assert!(f[field].is_null(), "{field}: {f}");
    }
    let text = f["summary_en"].as_str().unwrap();
    assert!(
        text.contains("Marokkaans") && text.contains("withheld"),
        "{text}"
    );
    assert!(
        !text
            .chars()
            .any(|c| c.is_ascii_digit() && c != '1' && c != '0'),
        "{text}"
    );
    assert!(
        f["summary_nl"]
            .as_str()
            .unwrap()
            .contains("niet gepubliceerd")
    );
}

#[test]
fn a_reference_group_too_small_for_any_comparison_is_said_so() {
    // Dutch nationals are the largest group, but only 5 of their stops led
    // to a result: no comparison with them can be published.
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = [
        cell("Nederlands", "behaviour", 5, 995),
        cell("Marokkaans", "behaviour", 100, 200),
        cell("Turks", "behaviour", 80, 220),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let notes: Vec<&Value> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["attribute"] == "nationality" && f["group"] == "")
        .collect();
    assert_eq!(notes.len(), 1, "{notes:?}");
    assert_eq!(notes[0]["severity"], "insufficient_data");
    assert_eq!(notes[0]["reference"], "Nederlands");
    assert!(
        notes[0]["summary_en"]
            .as_str()
            .unwrap()
            .contains("too few stops with or without a result"),
        "{}",
        notes[0]
    );
}

/// Writes searched stops: (nationality, justification, finds, searches
/// without a find), each at midday over 2025, with a sanction-free outcome.
fn searches(dir: &Path, cells: &[(&str, &str, u32, u32)]) -> PathBuf {
    let path = dir.join("searches.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(
        f,
        "stop_id,stopped_at,justification,outcome,search_conducted,contraband_found,nationality,unit"
    )
    .unwrap();
    let mut id = 0u32;
    for &(nationality, justification, finds, empty) in cells {
        for found in std::iter::repeat_n("ja", finds as usize)
            .chain(std::iter::repeat_n("nee", empty as usize))
        {
            id += 1;
            let day = chrono::NaiveDate::from_ymd_opt(2025, 1, 1).unwrap()
                + chrono::Days::new(u64::from(id % 360));
            writeln!(
                f,
                "S{id},{day} 12:00,{justification},no_action,ja,{found},{nationality},Utrecht"
            )
            .unwrap();
        }
    }
    f.flush().unwrap();
    path
}

#[test]
fn the_find_rate_of_searches_is_compared_within_justifications_too() {
    // Searches of Moroccan nationals find something less often within each
    // justification (15% against 30%, 40% against 60%), but most of them
    // follow an observed violation, where searches often find something:
    // overall 35% against 36%. Only the comparison within justifications
    // shows it; it does not depend on whether a stop ends in a fine.
    let dir = tempfile::tempdir().unwrap();
    let path = searches(
        dir.path(),
        &[
            ("Marokkaans", "behaviour", 30, 170),
            ("Marokkaans", "observed_violation", 320, 480),
            ("Nederlands", "behaviour", 600, 1400),
            ("Nederlands", "observed_violation", 300, 200),
        ],
    );
    let a = analyze(&path);
    let row = a["stratified"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "Marokkaans" && r["stage"] == "contraband")
        .expect("a stratified row of finds per search");
    assert_eq!(row["stops"], 1000, "{row}");
    assert_eq!(row["hits"], 350, "{row}");
    let rr = row["mh_rate_ratio"].as_f64().unwrap();
    assert!(rr < 0.8, "{row}");
    let funnel = a["search_funnel"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["group"] == "Marokkaans" && r["stage"] == "contraband")
        .unwrap();
    assert_eq!(funnel["verdict"], "no_difference", "{funnel}");
    assert!(findings(&a, "search_funnel", "Marokkaans").is_empty());
    let strong: Vec<&Value> = findings(&a, "stratified", "Marokkaans")
        .into_iter()
        .filter(|f| f["severity"] == "high" || f["severity"] == "medium")
        .collect();
    assert_eq!(strong.len(), 1, "{strong:?}");
    assert_eq!(strong[0]["stage"], "contraband");
    let text = strong[0]["summary_en"].as_str().unwrap();
    assert!(
        text.contains("searches of people with nationality Marokkaans found something less often"),
        "{text}"
    );
    assert!(
        strong[0]["summary_nl"]
            .as_str()
            .unwrap()
            .contains("leverden fouilleringen"),
        "{}",
        strong[0]["summary_nl"]
    );
}

#[test]
fn suppression_hides_the_small_count_not_the_stops_around_it() {
    // Polish nationals: 3 results in 42 stops. The 3 is small; the 42 is
    // not (and is published in the justification mix anyway): the row shows
    // 42 stops and withholds the results and all made from them.
    let dir = tempfile::tempdir().unwrap();
    // A third group takes the complementary cell: every group's and the
    // whole column's totals are known (other attributes publish the same
    // stops), so another group's hits must go with the 3.
    let stops: Vec<Stops> = [
        cell("Pools", "behaviour", 3, 39),
        cell("Duits", "behaviour", 60, 140),
        cell("Nederlands", "behaviour", 300, 700),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let duits = overall_row(&a, "Duits");
    assert_eq!(duits["suppressed"], true, "{duits}");
    assert!(duits["hits"].is_null(), "{duits}");
    assert_eq!(duits["stops"], 200, "{duits}");
    let row = overall_row(&a, "Pools");
    assert_eq!(row["suppressed"], true, "{row}");
    assert_eq!(row["stops"], 42, "{row}");
    for field in [
        "hits",
        "rate",
        "rate_ci",
        "rate_ratio",
        "p_value",
        "q_value",
    ] {
        assert!(row[field].is_null(), "{field}: {row}");
    }
    // The reference's counts are not small: they stay.
    assert_eq!(row["ref_hits"], 300, "{row}");

    // A reference with one non-result: its hits would give the 1 back from
    // ref_stops, so they go too.
    let stops: Vec<Stops> = [
        cell("Pools", "behaviour", 30, 70),
        cell("Nederlands", "behaviour", 150, 1),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let row = overall_row(&a, "Pools");
    assert_eq!(row["suppressed"], true, "{row}");
    assert!(
        row["ref_hits"].is_null() && row["ref_rate"].is_null(),
        "{row}"
    );
    assert_eq!(row["stops"], 100, "{row}");
}

/// A pooled ratio inside the practical band is "no difference" only when
/// the strata agree: a group whose sanction rate is lower within behaviour
/// (0.75) and higher within observed violations (1.10), with the same mix
/// of justifications as the reference, pools to about 0.96 — an average of
/// strata that disagree (Breslow–Day p < 0.05), not equal treatment. A
/// group with 0.96 in both strata is the control.
#[test]
fn strata_that_disagree_are_not_pooled_into_no_difference() {
    let dir = tempfile::tempdir().unwrap();
    let stops: Vec<Stops> = [
        cell("NL", "behaviour", 1600, 2400),
        cell("NL", "observed_violation", 2400, 1600),
        cell("Split", "behaviour", 300, 700),
        cell("Split", "observed_violation", 660, 340),
        cell("Even", "behaviour", 384, 616),
        cell("Even", "observed_violation", 576, 424),
    ]
    .concat();
    let a = analyze(&export(dir.path(), &stops));
    let stratified = |group: &str| {
        a["stratified"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["group"] == group && r.get("stage").is_none_or(Value::is_null))
            .unwrap_or_else(|| panic!("no stratified row for {group}"))
            .clone()
    };
    let (split, even) = (stratified("Split"), stratified("Even"));
    let inside = |r: &Value| {
        let ci = r["mh_rate_ratio_ci"].as_array().unwrap();
        ci[0].as_f64().unwrap() >= 0.8 && ci[1].as_f64().unwrap() <= 1.25
    };
    // Both pooled intervals lie inside the band ...
    assert!(inside(&split) && inside(&even), "{split}\n{even}");
    // ... but only the group whose strata agree shows no difference.
    assert!(
        split["breslow_day_p_value"].as_f64().unwrap() < 0.05,
        "{split}"
    );
    assert_eq!(split["verdict"], "inconclusive", "{split}");
    assert!(split["more_quarters_needed"].is_null(), "{split}");
    assert!(
        even["breslow_day_p_value"].as_f64().unwrap() >= 0.05,
        "{even}"
    );
    assert_eq!(even["verdict"], "no_difference", "{even}");
    // The overall gap of the split group is not 'explained by the mix'.
    assert!(
        findings(&a, "outcome_test", "Split")
            .iter()
            .all(|f| !f["summary_en"].as_str().unwrap().contains("explained")),
        "{a}"
    );
}
