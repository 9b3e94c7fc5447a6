//! The binomial GLM and the natural-spline basis of src/stats/glm.rs against
//! statsmodels on aggregated data shaped like the veil-of-darkness test
//! (tests/reference/glm.json, made by tests/reference/make_glm_reference.py):
//! knots and basis exactly as the reference builds them, then estimates,
//! standard errors, p-values, intervals and deviance to 1e-6.

use serde_json::Value;
use stopaudit_core::stats::glm::{
    BinomialData, logistic_regression, natural_cubic_basis, spline_knots,
};

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(1e-3)
}

#[test]
fn logistic_regression_with_a_spline_of_clock_time_matches_statsmodels() {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(crate::project("tests/reference/glm.json")).unwrap(),
    )
    .unwrap();
    for case in doc["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let minutes = floats(&case["minutes"]);
        let trials = floats(&case["trials"]);
        let df = case["df"].as_u64().unwrap() as usize;
        let knots = spline_knots(&minutes, &trials, df);
        assert_eq!(knots, floats(&case["knots"]), "{name}: knots");

        let (dark, unit, year) = (
            floats(&case["is_dark"]),
            floats(&case["unit"]),
            floats(&case["year"]),
        );
        let mut x = Vec::new();
        let mut columns = 0;
        for (i, row) in case["basis"].as_array().unwrap().iter().enumerate() {
            let basis = natural_cubic_basis(minutes[i], &knots);
            for (got, want) in basis.iter().zip(floats(row)) {
                assert!((got - want).abs() < 1e-12, "{name}: basis row {i}");
            }
            let design: Vec<f64> = [1.0, dark[i]]
                .into_iter()
                .chain(basis)
                .chain([
                    f64::from(u8::from(unit[i] == 1.0)),
                    f64::from(u8::from(unit[i] == 2.0)),
                    f64::from(u8::from(year[i] == 2025.0)),
                ])
                .collect();
            columns = design.len();
            x.extend(design);
        }
        let data = BinomialData {
            columns,
            x,
            successes: floats(&case["successes"]),
            trials,
        };
        let fit = logistic_regression(&data, 0.95).unwrap();
        let (params, bse, pvalues) = (
            floats(&case["params"]),
            floats(&case["bse"]),
            floats(&case["pvalues"]),
        );
        let intervals: Vec<Vec<f64>> = case["conf_int"]
            .as_array()
            .unwrap()
            .iter()
            .map(floats)
            .collect();
        assert_eq!(fit.coefficients.len(), params.len(), "{name}");
        for (k, c) in fit.coefficients.iter().enumerate() {
            assert!(
                close(c.estimate, params[k], 1e-6),
                "{name} β{k}: {} vs {}",
                c.estimate,
                params[k]
            );
            assert!(
                close(c.standard_error, bse[k], 1e-6),
                "{name} se{k}: {} vs {}",
                c.standard_error,
                bse[k]
            );
            assert!(
                close(c.p_value.p, pvalues[k], 1e-6),
                "{name} p{k}: {} vs {}",
                c.p_value.p,
                pvalues[k]
            );
            assert!(
                close(c.interval[0], intervals[k][0], 1e-6)
                    && close(c.interval[1], intervals[k][1], 1e-6)
            );
        }
        let want = case["deviance"].as_f64().unwrap();
        assert!(
            close(fit.deviance, want, 1e-6),
            "{name}: deviance {} vs {want}",
            fit.deviance
        );
    }
}
