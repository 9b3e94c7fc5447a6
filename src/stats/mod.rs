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
pub mod discrete;
pub mod exact;
pub mod fdr;
pub mod mantel_haenszel;
pub mod proportion;

use statrs::distribution::{ContinuousCDF, Normal};

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
    pub fn from_ln(ln_p: f64) -> Self {
        let ln_p = ln_p.min(0.0);
        PValue { p: ln_p.exp(), ln_p }
    }

    /// A p-value of one.
    pub const ONE: PValue = PValue { p: 1.0, ln_p: 0.0 };

    /// log10 of the p-value (finite even when `p` underflows to 0).
    pub fn log10(self) -> f64 {
        self.ln_p / std::f64::consts::LN_10
    }
}

/// A two-sided confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    pub fn contains(&self, x: f64) -> bool {
        self.low <= x && x <= self.high
    }
}

/// The two-sided standard normal critical value for a confidence level:
/// z with P(|Z| ≤ z) = `confidence`.
pub fn z_value(confidence: f64) -> f64 {
    assert!(confidence > 0.0 && confidence < 1.0, "confidence level must be in (0, 1)");
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    normal.inverse_cdf(1.0 - (1.0 - confidence) / 2.0)
}

/// ln(exp(a) + exp(b)) without overflow or underflow.
pub fn log_add_exp(a: f64, b: f64) -> f64 {
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
