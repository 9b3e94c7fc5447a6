//! stopaudit's statistics against scipy/statsmodels reference values
//! (tests/reference/statistics.json, made by tests/reference/make_reference.py).

use serde_json::Value;
use stopaudit_core::stats::{
    chisq::pearson_chi_square,
    exact::{Tail, binomial_upper, fisher_exact, fisher_one_sided, poisson_upper},
    fdr::benjamini_hochberg,
    mantel_haenszel::mantel_haenszel,
    proportion::{
        katz_rate_ratio, newcombe_difference, poisson_rate_ratio, score_rate_ratio,
        two_proportion_z_test, wilson_interval,
    },
    z_value,
};

const REL: f64 = 1e-9;

fn reference() -> Value {
    let path = crate::project("tests/reference/statistics.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Relative agreement (absolute below `floor`, where relative error is meaningless).
fn close(got: f64, want: f64, floor: f64) -> bool {
    if want == 0.0 || want.abs() < floor {
        return (got - want).abs() <= floor.max(1e-300);
    }
    ((got - want) / want).abs() <= REL
}

fn check(what: &str, got: f64, want: &Value, floor: f64) {
    match want.as_f64() {
        Some(w) => assert!(close(got, w, floor), "{what}: got {got:e}, reference {w:e}"),
        None => assert!(
            !got.is_finite(),
            "{what}: got {got}, reference is not finite"
        ),
    }
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap()
}

#[test]
fn normal_quantiles() {
    for case in reference()["normal_quantiles"].as_array().unwrap() {
        check(
            "z",
            z_value(case["confidence"].as_f64().unwrap()),
            &case["z"],
            0.0,
        );
    }
}

#[test]
fn wilson_katz_and_fisher_on_two_by_two_tables() {
    let r = reference();
    let conf = r["confidence"].as_f64().unwrap();
    let cases = r["outcome"].as_array().unwrap();
    assert!(cases.len() > 50);
    for case in cases {
        let (a, n1, c, n2) = (
            u(&case["hits"]),
            u(&case["stops"]),
            u(&case["ref_hits"]),
            u(&case["ref_stops"]),
        );
        let label = format!("[{a}/{n1} vs {c}/{n2}]");
        if let Some(ci) = case.get("rate_ci") {
            let got = wilson_interval(a, n1, conf).unwrap();
            check(&format!("{label} wilson low"), got.low, &ci[0], 1e-15);
            check(&format!("{label} wilson high"), got.high, &ci[1], 1e-15);
        }
        match case.get("rate_ratio") {
            Some(rr) => {
                let got = katz_rate_ratio(a, n1, c, n2, conf).unwrap();
                check(&format!("{label} rate ratio"), got.estimate, rr, 0.0);
                check(
                    &format!("{label} katz low"),
                    got.interval.low,
                    &case["rate_ratio_ci"][0],
                    0.0,
                );
                check(
                    &format!("{label} katz high"),
                    got.interval.high,
                    &case["rate_ratio_ci"][1],
                    0.0,
                );
            }
            None => assert!(
                a == 0 || c == 0 || katz_rate_ratio(a, n1, c, n2, conf).is_none(),
                "{label}"
            ),
        }
        let p = fisher_exact(a, n1 - a, c, n2 - c);
        check(&format!("{label} fisher p"), p.p, &case["fisher_p"], 1e-300);
    }
}

#[test]
fn fisher_p_values_far_below_f64_keep_their_magnitude() {
    for case in reference()["fisher_extreme"].as_array().unwrap() {
        let t: Vec<u64> = case["table"].as_array().unwrap().iter().map(u).collect();
        let p = fisher_exact(t[0], t[1], t[2], t[3]);
        let want = case["fisher_ln_p"].as_f64().unwrap();
        assert!(
            ((p.ln_p - want) / want).abs() < 1e-9,
            "{t:?}: ln p {} vs {want}",
            p.ln_p
        );
        check(&format!("{t:?} p"), p.p, &case["fisher_p"], 1e-300);
    }
}

#[test]
fn chi_square_cramers_v_and_adjusted_residuals() {
    for case in reference()["chi_square"].as_array().unwrap() {
        let table: Vec<Vec<u64>> = case["table"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_array().unwrap().iter().map(u).collect())
            .collect();
        let got = pearson_chi_square(&table).unwrap();
        let label = format!("{table:?}");
        check(
            &format!("{label} chi2"),
            got.statistic,
            &case["chi2"],
            1e-12,
        );
        assert_eq!(got.df, u(&case["df"]), "{label}");
        check(
            &format!("{label} p"),
            got.p_value.p,
            &case["p_value"],
            1e-300,
        );
        if let Some(ln) = case["p_value_ln"].as_f64().filter(|l| l.is_finite()) {
            assert!(
                (got.p_value.ln_p - ln).abs() <= 1e-9 * ln.abs().max(1.0),
                "{label}: ln p {} vs {ln}",
                got.p_value.ln_p
            );
        }
        check(
            &format!("{label} V"),
            got.cramers_v,
            &case["cramers_v"],
            1e-12,
        );
        for (i, row) in case["adjusted_residuals"]
            .as_array()
            .unwrap()
            .iter()
            .enumerate()
        {
            for (j, want) in row.as_array().unwrap().iter().enumerate() {
                check(
                    &format!("{label} residual {i},{j}"),
                    got.adjusted_residuals[i][j].unwrap(),
                    want,
                    1e-9,
                );
            }
        }
    }
}

#[test]
fn mantel_haenszel_cmh_and_breslow_day() {
    let r = reference();
    let conf = r["confidence"].as_f64().unwrap();
    for case in r["stratified"].as_array().unwrap() {
        let strata: Vec<[u64; 4]> = case["strata"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let t = s.as_array().unwrap();
                let (r0, r1) = (t[0].as_array().unwrap(), t[1].as_array().unwrap());
                [u(&r0[0]), u(&r0[1]), u(&r1[0]), u(&r1[1])]
            })
            .collect();
        let label = format!("{strata:?}");
        let got = mantel_haenszel(&strata, conf);
        check(
            &format!("{label} OR"),
            got.odds_ratio.unwrap(),
            &case["mh_odds_ratio"],
            0.0,
        );
        let ci = got.odds_ratio_ci.unwrap();
        check(
            &format!("{label} OR low"),
            ci.low,
            &case["mh_odds_ratio_ci"][0],
            0.0,
        );
        check(
            &format!("{label} OR high"),
            ci.high,
            &case["mh_odds_ratio_ci"][1],
            0.0,
        );
        check(
            &format!("{label} MH RR"),
            got.rate_ratio.unwrap(),
            &case["mh_rate_ratio"],
            0.0,
        );
        let rr = got.rate_ratio_ci.unwrap();
        check(
            &format!("{label} RR low"),
            rr.low,
            &case["mh_rate_ratio_ci"][0],
            0.0,
        );
        check(
            &format!("{label} RR high"),
            rr.high,
            &case["mh_rate_ratio_ci"][1],
            0.0,
        );
        for (tail, key) in [(Tail::Lower, "cmh_p_less"), (Tail::Upper, "cmh_p_greater")] {
            check(
                &format!("{label} {key}"),
                got.cmh_one_sided(tail).unwrap().p,
                &case[key],
                1e-15,
            );
        }
        check(
            &format!("{label} CMH"),
            got.cmh_statistic.unwrap(),
            &case["cmh_statistic"],
            1e-12,
        );
        check(
            &format!("{label} CMH p"),
            got.cmh_p_value.unwrap().p,
            &case["cmh_p_value"],
            1e-300,
        );
        if case["breslow_day_statistic"].is_f64() {
            check(
                &format!("{label} BD"),
                got.breslow_day_statistic.unwrap(),
                &case["breslow_day_statistic"],
                1e-9,
            );
            if case["breslow_day_p_value"].is_f64() {
                check(
                    &format!("{label} BD p"),
                    got.breslow_day_p_value.unwrap().p,
                    &case["breslow_day_p_value"],
                    1e-300,
                );
            }
        }
    }
}

#[test]
fn benjamini_hochberg_q_values() {
    for case in reference()["benjamini_hochberg"].as_array().unwrap() {
        let p: Vec<f64> = case["p"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let q = benjamini_hochberg(&p);
        for (got, want) in q.iter().zip(case["q"].as_array().unwrap()) {
            check("q", *got, want, 1e-300);
        }
    }
}

#[test]
fn poisson_rate_ratio_as_r_poisson_test() {
    let r = reference();
    let conf = r["confidence"].as_f64().unwrap();
    for case in r["poisson"].as_array().unwrap() {
        let (a, pa, b, pb) = (
            u(&case["count"]),
            u(&case["population"]),
            u(&case["ref_count"]),
            u(&case["ref_population"]),
        );
        let label = format!("{a}/{pa} vs {b}/{pb}");
        let got = poisson_rate_ratio(a, pa as f64, b, pb as f64, conf);
        check(
            &format!("{label} p"),
            got.p_value.p,
            &case["p_value"],
            1e-300,
        );
        if case["rate_ratio"].is_f64() {
            check(
                &format!("{label} rr"),
                got.estimate,
                &case["rate_ratio"],
                0.0,
            );
        }
        let ci = got.interval.unwrap();
        check(
            &format!("{label} low"),
            ci.low,
            &case["rate_ratio_ci"][0],
            1e-300,
        );
        check(
            &format!("{label} high"),
            ci.high,
            &case["rate_ratio_ci"][1],
            0.0,
        );
    }
}

/// The change of a share between two periods (tests/reference/trend.json,
/// made by tests/reference/make_trend_reference.py).
#[test]
fn newcombe_difference_and_two_proportion_z_test() {
    let path = crate::project("tests/reference/trend.json");
    let r: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let conf = r["confidence"].as_f64().unwrap();
    for c in r["cases"].as_array().unwrap() {
        let (x1, n1, x2, n2) = (u(&c["x1"]), u(&c["n1"]), u(&c["x2"]), u(&c["n2"]));
        let d = newcombe_difference(x1, n1, x2, n2, conf).unwrap();
        check("newcombe low", d.interval.low, &c["low"], 1e-12);
        check("newcombe high", d.interval.high, &c["high"], 1e-12);
        let (z, p) = two_proportion_z_test(x1, n1, x2, n2).unwrap();
        check("z", z, &c["z"], 1e-12);
        check("p", p.p, &c["p"], 1e-300);
    }
}

#[test]
fn score_rate_ratio_intervals_match_statsmodels_at_the_edges_too() {
    let doc = reference();
    let cases = doc["score_ratio"].as_array().unwrap();
    assert!(cases.len() >= 10);
    let u = |c: &Value, k: &str| c[k].as_u64().unwrap();
    for c in cases {
        let (a, n1, b, n2) = (
            u(c, "hits"),
            u(c, "stops"),
            u(c, "ref_hits"),
            u(c, "ref_stops"),
        );
        let conf = c["confidence"].as_f64().unwrap();
        let label = format!("[{a}/{n1} vs {b}/{n2} at {conf}]");
        let got = score_rate_ratio(a, n1, b, n2, conf).unwrap();
        let want = |i: usize| c["ratio_ci"][i].as_f64().unwrap();
        // statsmodels finds the roots with tolerance about 1e-10.
        let near = |x: f64, y: f64| (x - y).abs() <= 1e-8 * y.abs().max(1e-12);
        assert!(
            near(got.interval.low, want(0)),
            "{label} low {} against {}",
            got.interval.low,
            want(0)
        );
        assert!(
            near(got.interval.high, want(1)),
            "{label} high {} against {}",
            got.interval.high,
            want(1)
        );
        assert!(got.interval.contains(got.estimate), "{label}");
    }
    assert!(score_rate_ratio(3, 10, 0, 10, 0.95).is_none());
}

#[test]
fn one_sided_fisher_binomial_and_poisson_tests() {
    let doc = reference();
    let cases = &doc["one_sided"];
    for case in cases["fisher"].as_array().unwrap() {
        let t: Vec<u64> = case["table"].as_array().unwrap().iter().map(u).collect();
        for (tail, key) in [(Tail::Lower, "less"), (Tail::Upper, "greater")] {
            let got = fisher_one_sided(t[0], t[1], t[2], t[3], tail).p;
            check(&format!("{t:?} {key}"), got, &case[key], 1e-14);
        }
    }
    for case in cases["binomial"].as_array().unwrap() {
        let (x, n, p) = (u(&case["x"]), u(&case["n"]), case["p"].as_f64().unwrap());
        let got = binomial_upper(x, n, p).p;
        check(
            &format!("binomial {x}/{n} p={p}"),
            got,
            &case["greater"],
            1e-14,
        );
    }
    for case in cases["poisson"].as_array().unwrap() {
        let (o, e) = (u(&case["observed"]), case["expected"].as_f64().unwrap());
        check(
            &format!("poisson {o} vs {e}"),
            poisson_upper(o, e),
            &case["greater"],
            1e-14,
        );
    }
}
