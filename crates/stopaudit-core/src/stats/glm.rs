//! Logistic regression on aggregated counts (a binomial GLM with the logit
//! link), fitted by iteratively reweighted least squares, and the natural
//! cubic spline basis the veil-of-darkness test adjusts clock time with.
//!
//! Matches statsmodels' `GLM(successes/failures, X, family=Binomial()).fit()`:
//! the same estimates, standard errors from the inverse Fisher information
//! (scale 1), Wald z, two-sided normal p-values and normal intervals
//! (`tests/statistics_reference.rs`, reference made by
//! `tests/reference/make_glm_reference.py`).

use statrs::distribution::{ContinuousCDF, Normal};

use super::linalg::{cholesky, cholesky_inverse, cholesky_solve};
use super::{PValue, logistic, z_value};

/// Aggregated binomial data: one row per covariate pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct BinomialData {
    /// Number of columns of the design matrix.
    pub columns: usize,
    /// Design matrix, row-major (`rows × columns`); include an intercept
    /// column if wanted.
    pub x: Vec<f64>,
    /// Successes per row, from 0 to the row's trials.
    pub successes: Vec<f64>,
    /// Trials per row; rows with none add nothing to the fit.
    pub trials: Vec<f64>,
}

/// A fitted coefficient.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Coefficient {
    /// The coefficient, on the log-odds scale.
    pub estimate: f64,
    /// Standard error from the inverse Fisher information.
    pub standard_error: f64,
    /// Wald statistic: `estimate / standard_error`.
    pub z: f64,
    /// Two-sided normal p-value of `z`.
    pub p_value: PValue,
    /// Normal interval at the requested confidence.
    pub interval: [f64; 2],
}

/// The fit.
#[derive(Debug, Clone, PartialEq)]
pub struct GlmFit {
    /// One per column of the design matrix, in order.
    pub coefficients: Vec<Coefficient>,
    /// Binomial deviance at the estimates.
    pub deviance: f64,
    /// IRLS iterations until the deviance settled.
    pub iterations: usize,
}

/// Why a model cannot be fitted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GlmError {
    /// The design matrix is rank deficient.
    #[error("the design matrix is rank deficient (a column is a combination of others)")]
    Singular,
    /// The deviance did not settle within this many iterations (perfect separation?).
    #[error("no convergence in {0} iterations (perfect separation?)")]
    NoConvergence(usize),
    /// The data do not fit together (lengths, successes outside 0..trials, no columns).
    #[error("inconsistent data: {0}")]
    Data(String),
}

/// Binomial deviance 2 Σ [y ln(y/μ̂) + (m−y) ln((m−y)/(m−μ̂))].
fn deviance(successes: &[f64], trials: &[f64], mu: &[f64]) -> f64 {
    let term = |k: f64, expected: f64| {
        if k > 0.0 {
            k * (k / expected).ln()
        } else {
            0.0
        }
    };
    2.0 * successes
        .iter()
        .zip(trials)
        .zip(mu)
        .map(|((&y, &m), &p)| term(y, m * p) + term(m - y, m * (1.0 - p)))
        .sum::<f64>()
}

/// Fits the logistic regression by IRLS (Newton's method on the binomial
/// log likelihood), from β = 0, until the deviance changes by less than
/// 1e-12 relative. Rows with no trials are ignored.
pub fn logistic_regression(data: &BinomialData, confidence: f64) -> Result<GlmFit, GlmError> {
    let p = data.columns;
    let n = data.successes.len();
    if p == 0 {
        return Err(GlmError::Data("the design matrix has no columns".into()));
    }
    if data.x.len() != n * p || data.trials.len() != n {
        return Err(GlmError::Data(
            "design, successes and trials differ in length".into(),
        ));
    }
    if let Some(i) = (0..n).find(|&i| !(0.0..=data.trials[i]).contains(&data.successes[i])) {
        return Err(GlmError::Data(format!(
            "row {i}: successes outside 0..trials"
        )));
    }
    // Design rows as their non-zero entries: dummy-coded fixed effects make
    // most of a row zero, and X'WX costs the square of a row's length.
    let mut offsets = Vec::with_capacity(n + 1);
    let mut columns = Vec::new();
    let mut values = Vec::new();
    offsets.push(0);
    for row in data.x.chunks_exact(p) {
        for (c, &v) in row.iter().enumerate() {
            if v != 0.0 {
                columns.push(c);
                values.push(v);
            }
        }
        offsets.push(columns.len());
    }
    let mut beta = vec![0.0; p];
    let mut previous = f64::INFINITY;
    const MAX_ITERATIONS: usize = 100;
    for iteration in 1..=MAX_ITERATIONS {
        // Information X'WX and score X'(y − mμ) at β (lower triangle first).
        let mut info = vec![0.0; p * p];
        let mut score = vec![0.0; p];
        let mut mu = vec![0.0; n];
        for (i, m) in mu.iter_mut().enumerate() {
            let (cols, vals) = (
                &columns[offsets[i]..offsets[i + 1]],
                &values[offsets[i]..offsets[i + 1]],
            );
            let eta: f64 = cols.iter().zip(vals).map(|(&c, x)| x * beta[c]).sum();
            *m = logistic(eta);
            let w = data.trials[i] * *m * (1.0 - *m);
            let r = data.successes[i] - data.trials[i] * *m;
            for (j, (&a, &xa)) in cols.iter().zip(vals).enumerate() {
                score[a] += xa * r;
                let wa = w * xa;
                let row = &mut info[a * p..a * p + a + 1];
                for (&b, &xb) in cols[..=j].iter().zip(&vals[..=j]) {
                    row[b] += wa * xb;
                }
            }
        }
        for a in 0..p {
            for b in 0..a {
                info[b * p + a] = info[a * p + b];
            }
        }
        let dev = deviance(&data.successes, &data.trials, &mu);
        let l = cholesky(&info, p).ok_or(GlmError::Singular)?;
        if (previous - dev).abs() <= 1e-12 * dev.abs().max(1e-12) {
            let cov = cholesky_inverse(&l, p);
            let z_crit = z_value(confidence);
            let normal = Normal::standard();
            let coefficients = (0..p)
                .map(|k| {
                    let se = cov[k * p + k].sqrt();
                    let z = beta[k] / se;
                    // Two-sided, in log space for tiny p-values.
                    let ln_p = (2.0f64).ln() + normal.sf(z.abs()).ln();
                    Coefficient {
                        estimate: beta[k],
                        standard_error: se,
                        z,
                        p_value: PValue::from_ln(ln_p),
                        interval: [beta[k] - z_crit * se, beta[k] + z_crit * se],
                    }
                })
                .collect();
            return Ok(GlmFit {
                coefficients,
                deviance: dev,
                iterations: iteration,
            });
        }
        previous = dev;
        let step = cholesky_solve(&l, p, &score);
        for (b, s) in beta.iter_mut().zip(step) {
            *b += s;
        }
    }
    Err(GlmError::NoConvergence(MAX_ITERATIONS))
}

/// The natural cubic spline basis of Hastie, Tibshirani & Friedman (ESL
/// eq. 5.4–5.5) with knots ξ₁ < … < ξ_K (the first and last are the
/// boundary knots), without the constant: x, then dₖ(x) − d_{K−1}(x) for
/// k = 1 … K−2, where dₖ(x) = ((x − ξₖ)³₊ − (x − ξ_K)³₊)/(ξ_K − ξₖ). Cubic
/// between knots, linear beyond the boundary knots; K − 1 columns, spanning
/// the same space as R's `ns(x, knots = interior, Boundary.knots = ...)`,
/// so a model's other coefficients do not depend on which basis is used.
/// `x` and the knots are first scaled to [0, 1] by the boundary knots (the
/// cubes of raw minutes would be ill-conditioned).
pub fn natural_cubic_basis(x: f64, knots: &[f64]) -> Vec<f64> {
    let k = knots.len();
    assert!(k >= 2, "a natural spline needs two boundary knots");
    let (lo, hi) = (knots[0], knots[k - 1]);
    let scale = |v: f64| (v - lo) / (hi - lo);
    let u = scale(x);
    let xi: Vec<f64> = knots.iter().map(|&v| scale(v)).collect();
    let cube = |v: f64| v.max(0.0).powi(3);
    let d = |j: usize| (cube(u - xi[j]) - cube(u - xi[k - 1])) / (xi[k - 1] - xi[j]);
    let last = d(k - 2);
    std::iter::once(u)
        .chain((0..k - 2).map(|j| d(j) - last))
        .collect()
}

/// Knots for a natural spline with `df` columns: the boundary knots at the
/// smallest and largest x, and df − 1 interior knots at the quantiles
/// j/df (j = 1 … df−1) of x weighted by `weights` (e.g. stops), as R's `ns`
/// places them for the unaggregated data.
pub fn spline_knots(x: &[f64], weights: &[f64], df: usize) -> Vec<f64> {
    let mut pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(weights)
        .filter(|(_, w)| **w > 0.0)
        .map(|(&x, &w)| (x, w))
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: f64 = pairs.iter().map(|p| p.1).sum();
    let (Some(first), Some(last)) = (pairs.first(), pairs.last()) else {
        return Vec::new();
    };
    let mut knots = vec![first.0];
    for j in 1..df {
        let target = total * j as f64 / df as f64;
        let mut cumulative = 0.0;
        let knot = pairs
            .iter()
            .find(|p| {
                cumulative += p.1;
                cumulative >= target
            })
            .map_or(last.0, |p| p.0);
        knots.push(knot);
    }
    knots.push(last.0);
    knots.dedup();
    knots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basis_is_linear_beyond_the_boundary_and_cubic_inside() {
        let knots = [0.0, 2.0, 5.0, 7.0, 10.0];
        // Second differences vanish beyond the last knot (linear there).
        let f = |x: f64| natural_cubic_basis(x, &knots);
        let (a, b, c) = (f(11.0), f(12.0), f(13.0));
        for j in 0..a.len() {
            assert!((a[j] - 2.0 * b[j] + c[j]).abs() < 1e-9);
        }
        assert_eq!(f(3.0).len(), 4);
        // Continuous at a knot.
        let (l, r) = (f(5.0 - 1e-9), f(5.0 + 1e-9));
        for j in 0..l.len() {
            assert!((l[j] - r[j]).abs() < 1e-6);
        }
    }

    #[test]
    fn knots_sit_at_weighted_quantiles() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let w = vec![1.0; 10];
        assert_eq!(spline_knots(&x, &w, 2), vec![0.0, 4.0, 9.0]);
        let mut heavy = w.clone();
        heavy[9] = 100.0;
        assert_eq!(spline_knots(&x, &heavy, 2), vec![0.0, 9.0]);
    }

    #[test]
    fn separated_data_give_no_fit() {
        let data = BinomialData {
            columns: 2,
            x: vec![1.0, 0.0, 1.0, 1.0],
            successes: vec![0.0, 5.0],
            trials: vec![5.0, 5.0],
        };
        // The likelihood has no maximum: IRLS runs off (or its
        // information matrix degenerates); either way, no fit.
        assert!(logistic_regression(&data, 0.95).is_err());
    }
}
