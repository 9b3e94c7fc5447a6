//! Statistics over counts: pure functions, no polars types.
//!
//! Each estimator is one function named after it, with the formula and a
//! reference in its doc comment, and is checked against scipy/statsmodels in
//! `tests/statistics_reference.rs` (reference values made by
//! `tests/reference/make_reference.py`).
//!
//! p-values are returned as [`PValue`]: the value and its natural logarithm,
//! computed in log space, so a p-value below the smallest `f64` (about
//! 1e-308) still has an exact magnitude instead of a bare 0.

pub mod chisq;
pub(crate) mod discrete;
pub mod exact;
pub mod fdr;
pub mod glm;
pub mod incomplete_beta;
pub(crate) mod linalg;
pub mod mantel_haenszel;
pub mod proportion;
pub(crate) mod suppression;

use statrs::distribution::{ContinuousCDF, Normal};

/// The logistic function 1/(1 + e⁻ˣ), without overflow for large |x|.
pub(crate) fn logistic(x: f64) -> f64 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

/// A p-value with its natural logarithm.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PValue {
    /// The p-value, in \[0, 1\]; 0 only when `ln_p` is below about -745.
    pub p: f64,
    /// Its natural logarithm (`-inf` for an impossible observation, never for a real one).
    pub ln_p: f64,
}

impl PValue {
    /// From a natural logarithm (capped at 0).
    pub(crate) fn from_ln(ln_p: f64) -> Self {
        let ln_p = ln_p.min(0.0);
        PValue {
            p: ln_p.exp(),
            ln_p,
        }
    }

    /// A p-value of one.
    pub(crate) const ONE: PValue = PValue { p: 1.0, ln_p: 0.0 };

    /// The one-sided p-value from a two-sided one of a symmetric test: half
    /// of it when the evidence points `towards` the alternative, one minus
    /// that half otherwise.
    pub(crate) fn one_sided(self, towards: bool) -> Self {
        let half = PValue::from_ln(self.ln_p - std::f64::consts::LN_2);
        if towards {
            half
        } else {
            PValue::from_ln((-half.p).ln_1p())
        }
    }

    /// log10 of the p-value (finite even when `p` underflows to 0).
    pub(crate) fn log10(self) -> f64 {
        self.ln_p / std::f64::consts::LN_10
    }
}

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Interval {
    /// Whether `x` lies within the interval, bounds included.
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// The two-sided standard normal critical value for a confidence level:
/// z with P(|Z| ≤ z) = `confidence`.
pub fn z_value(confidence: f64) -> f64 {
    assert!(
        confidence > 0.0 && confidence < 1.0,
        "confidence level must be in (0, 1)"
    );
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    normal.inverse_cdf(1.0 - (1.0 - confidence) / 2.0)
}

/// ln(exp(a) + exp(b)) without overflow or underflow.
pub(crate) fn log_add_exp(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    if b == f64::NEG_INFINITY {
        return a;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_add_exp_is_stable() {
        assert!((log_add_exp(0.0, 0.0) - 2f64.ln()).abs() < 1e-15);
        assert_eq!(log_add_exp(-1e4, f64::NEG_INFINITY), -1e4);
        assert!((log_add_exp(-2000.0, -2000.0) - (-2000.0 + 2f64.ln())).abs() < 1e-12);
    }

    #[test]
    fn p_value_from_log_keeps_the_magnitude() {
        let p = PValue::from_ln(-2767.5);
        assert_eq!(p.p, 0.0);
        assert!((p.log10() + 1201.9).abs() < 0.1);
    }
}

#[cfg(test)]
mod properties {
    use super::exact::fisher_exact;
    use super::mantel_haenszel::mantel_haenszel;
    use super::proportion::{katz_rate_ratio, poisson_rate_ratio, wilson_interval};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn intervals_contain_their_estimates(a in 0u64..5000, extra in 0u64..5000, b in 1u64..5000, extra2 in 0u64..5000) {
            let n1 = a + extra;
            prop_assume!(n1 > 0);
            let ci = wilson_interval(a, n1, 0.95).unwrap();
            prop_assert!(ci.contains(a as f64 / n1 as f64));
            if let Some(r) = katz_rate_ratio(a, n1, b, b + extra2, 0.95) {
                prop_assert!(r.interval.contains(r.estimate));
            }
            let p = poisson_rate_ratio(a, n1 as f64 + 1.0, b, (b + extra2) as f64 + 1.0, 0.95);
            let i = p.interval.unwrap();
            prop_assert!(i.low <= p.estimate * (1.0 + 1e-12) && p.estimate <= i.high * (1.0 + 1e-12));
            prop_assert!(p.p_value.ln_p.is_finite() && p.p_value.p <= 1.0);
        }

        #[test]
        fn swapping_groups_inverts_ratios_and_keeps_p_values(a in 1u64..3000, x in 0u64..3000, b in 1u64..3000, y in 0u64..3000) {
            let r = katz_rate_ratio(a, a + x, b, b + y, 0.95).unwrap();
            let s = katz_rate_ratio(b, b + y, a, a + x, 0.95).unwrap();
            prop_assert!((r.estimate * s.estimate - 1.0).abs() < 1e-12);
            prop_assert!((r.interval.low * s.interval.high - 1.0).abs() < 1e-12);
            let p = fisher_exact(a, x, b, y);
            let q = fisher_exact(b, y, a, x);
            prop_assert!((p.ln_p - q.ln_p).abs() < 1e-9 * (1.0 + p.ln_p.abs()));
            let u = poisson_rate_ratio(a, 1000.0, b, 3000.0, 0.95);
            let v = poisson_rate_ratio(b, 3000.0, a, 1000.0, 0.95);
            prop_assert!((u.estimate * v.estimate - 1.0).abs() < 1e-12);
            prop_assert!((u.p_value.p - v.p_value.p).abs() < 1e-9);
        }

        #[test]
        fn pooling_identical_strata_equals_the_single_table(a in 1u64..500, b in 1u64..500, c in 1u64..500, d in 1u64..500, k in 1usize..6) {
            let one = mantel_haenszel(&[[a, b, c, d]], 0.95);
            let many = mantel_haenszel(&vec![[a, b, c, d]; k], 0.95);
            let or = (a as f64 * d as f64) / (b as f64 * c as f64);
            prop_assert!((one.odds_ratio.unwrap() / or - 1.0).abs() < 1e-12);
            prop_assert!((many.odds_ratio.unwrap() / or - 1.0).abs() < 1e-12);
            prop_assert!(many.odds_ratio_ci.unwrap().contains(or));
            if k > 1 {
                prop_assert!(many.breslow_day_statistic.unwrap() < 1e-6);
            }
        }
    }
}
