//! The sampler's metric (mass matrix) and its estimation during warmup.
//!
//! The inverse metric is an estimate of the posterior covariance: diagonal
//! (Stan's `diag_e`) or dense (`dense_e`). A dense metric removes linear
//! correlations between parameters, which a diagonal one leaves to the step
//! size; the price is a matrix-vector product per leapfrog step.

use rand::RngExt;

use super::standard_normal;
use crate::stats::linalg::cholesky;

/// Which metric warmup estimates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricKind {
    /// Variances only (Stan's `diag_e`).
    Diagonal,
    /// The full covariance (Stan's `dense_e`); the default.
    #[default]
    Dense,
}

/// The inverse metric M⁻¹ (with what sampling momenta needs).
#[derive(Debug, Clone)]
pub(crate) enum Metric {
    /// Variances.
    Diagonal(Vec<f64>),
    /// Row-major covariance and its lower Cholesky factor L (M⁻¹ = L Lᵀ).
    Dense {
        /// Number of parameters: the matrices are `dim` × `dim`.
        dim: usize,
        /// The covariance M⁻¹, row-major.
        cov: Vec<f64>,
        /// Its lower Cholesky factor L, row-major.
        chol: Vec<f64>,
    },
}

impl Metric {
    /// The identity: unit variances for `dim` parameters.
    pub fn unit(dim: usize) -> Self {
        Metric::Diagonal(vec![1.0; dim])
    }

    /// The velocity M⁻¹ p.
    pub(crate) fn velocity(&self, p: &[f64]) -> Vec<f64> {
        match self {
            Metric::Diagonal(var) => var.iter().zip(p).map(|(v, p)| v * p).collect(),
            Metric::Dense { dim, cov, .. } => {
                cov.chunks_exact(*dim).map(|row| dot(row, p)).collect()
            }
        }
    }

    /// A momentum drawn from N(0, M): p = L⁻ᵀ z for z standard normal.
    pub(crate) fn sample_momentum(&self, rng: &mut impl RngExt) -> Vec<f64> {
        match self {
            Metric::Diagonal(var) => var
                .iter()
                .map(|v| standard_normal(rng) / v.sqrt())
                .collect(),
            Metric::Dense { dim, chol, .. } => {
                let n = *dim;
                let z: Vec<f64> = (0..n).map(|_| standard_normal(rng)).collect();
                // Back substitution in Lᵀ p = z.
                let mut p = vec![0.0; n];
                for i in (0..n).rev() {
                    let mut s = z[i];
                    for k in i + 1..n {
                        s -= chol[k * n + i] * p[k];
                    }
                    p[i] = s / chol[i * n + i];
                }
                p
            }
        }
    }
}

/// A dot product with eight independent sums, so that it vectorises (a
/// single running sum cannot be reordered by the compiler).
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0.0; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k] * y[k];
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// Running means and co-moments of the positions in one adaptation window.
pub(crate) struct WindowEstimator {
    kind: MetricKind,
    dim: usize,
    n: f64,
    mean: Vec<f64>,
    /// Σ (x − mean)(x − mean)ᵀ: the diagonal only, or the full matrix.
    m2: Vec<f64>,
}

impl WindowEstimator {
    /// An empty window estimating a metric of `kind` for `dim` parameters.
    pub fn new(kind: MetricKind, dim: usize) -> Self {
        let size = match kind {
            MetricKind::Diagonal => dim,
            MetricKind::Dense => dim * dim,
        };
        WindowEstimator {
            kind,
            dim,
            n: 0.0,
            mean: vec![0.0; dim],
            m2: vec![0.0; size],
        }
    }

    /// Welford's update with one draw.
    pub fn add(&mut self, x: &[f64]) {
        self.n += 1.0;
        let before: Vec<f64> = x.iter().zip(&self.mean).map(|(x, m)| x - m).collect();
        for (m, d) in self.mean.iter_mut().zip(&before) {
            *m += d / self.n;
        }
        let after: Vec<f64> = x.iter().zip(&self.mean).map(|(x, m)| x - m).collect();
        match self.kind {
            MetricKind::Diagonal => {
                for ((m, b), a) in self.m2.iter_mut().zip(&before).zip(&after) {
                    *m += b * a;
                }
            }
            MetricKind::Dense => {
                for (row, b) in self.m2.chunks_exact_mut(self.dim).zip(&before) {
                    for (r, a) in row.iter_mut().zip(&after) {
                        *r += b * a;
                    }
                }
            }
        }
    }

    /// The window's metric. Variances are Stan's regularised ones (shrunk
    /// towards 1e-3 by 5 pseudo-draws). The covariances of a dense metric are
    /// further shrunk towards zero by the factor n/(n + d/16) (d parameters,
    /// n draws): a short window's sample covariance is noisy in high
    /// dimensions. The divisor 16 was chosen by measuring leapfrog steps on
    /// the threshold test's largest published state (d/1 and d/4 shrank away
    /// the correlations the dense metric is for; d/64 was no better). If the
    /// matrix is not positive definite the diagonal is used.
    pub(crate) fn metric(&self) -> Metric {
        let (n, d) = (self.n, self.dim);
        let regularise = |m2: f64| {
            let var = if n > 1.0 { m2 / (n - 1.0) } else { 1.0 };
            (n / (n + 5.0)) * var + 1e-3 * (5.0 / (n + 5.0))
        };
        let diagonal: Vec<f64> = match self.kind {
            MetricKind::Diagonal => self.m2.iter().map(|&m| regularise(m)).collect(),
            MetricKind::Dense => (0..d).map(|i| regularise(self.m2[i * d + i])).collect(),
        };
        if self.kind == MetricKind::Diagonal || n < 2.0 {
            return Metric::Diagonal(diagonal);
        }
        let df = d as f64;
        let keep = n / (n + df / 16.0);
        let mut cov = vec![0.0; d * d];
        for i in 0..d {
            for j in 0..d {
                cov[i * d + j] = if i == j {
                    diagonal[i]
                } else {
                    keep * (n / (n + 5.0)) * self.m2[i * d + j] / (n - 1.0)
                };
            }
        }
        match cholesky(&cov, d) {
            Some(chol) => Metric::Dense { dim: d, cov, chol },
            None => Metric::Diagonal(diagonal),
        }
    }
}

/// The early diagonal estimate of nutpie (Seyboldt et al., nuts-rs): for a
/// Gaussian the posterior variance of a coordinate is the square root of the
/// ratio of the variances of the draws and of the gradients, which settles
/// after a few draws, long before a sample variance does. Used before the
/// first adaptation window, so that the first iterations are not spent with
/// a unit metric on a badly scaled posterior.
pub(crate) struct EarlyDiagonal {
    draws: WindowEstimator,
    gradients: WindowEstimator,
}

impl EarlyDiagonal {
    /// An empty estimate for `dim` parameters.
    pub fn new(dim: usize) -> Self {
        EarlyDiagonal {
            draws: WindowEstimator::new(MetricKind::Diagonal, dim),
            gradients: WindowEstimator::new(MetricKind::Diagonal, dim),
        }
    }

    /// The metric scaling the gradient at the starting point to unit size.
    pub(crate) fn from_gradient(gradient: &[f64]) -> Metric {
        Metric::Diagonal(
            gradient
                .iter()
                .map(|g| (1.0 / g.abs()).clamp(1e-8, 1e2))
                .collect(),
        )
    }

    /// Adds one draw and the log density's gradient there.
    pub fn add(&mut self, draw: &[f64], gradient: &[f64]) {
        self.draws.add(draw);
        self.gradients.add(gradient);
    }

    /// √(var draws / var gradients) per coordinate, once there are 3 draws.
    pub(crate) fn metric(&self) -> Option<Metric> {
        if self.draws.n < 3.0 {
            return None;
        }
        let var = self
            .draws
            .m2
            .iter()
            .zip(&self.gradients.m2)
            .map(|(q, g)| {
                let ratio = (q / g).sqrt();
                if ratio.is_finite() && ratio > 0.0 {
                    ratio.clamp(1e-10, 1e10)
                } else {
                    1.0
                }
            })
            .collect();
        Some(Metric::Diagonal(var))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn dense_momenta_have_the_inverse_covariance() {
        // With M⁻¹ = Σ, p ~ N(0, Σ⁻¹): then Σ p ~ N(0, Σ), so the velocity
        // has covariance Σ.
        let cov = vec![2.0, 0.9, 0.9, 1.0];
        let chol = cholesky(&cov, 2).unwrap();
        let metric = Metric::Dense {
            dim: 2,
            cov: cov.clone(),
            chol,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut est = WindowEstimator::new(MetricKind::Dense, 2);
        for _ in 0..40_000 {
            let p = metric.sample_momentum(&mut rng);
            est.add(&metric.velocity(&p));
        }
        for (k, want) in cov.iter().enumerate() {
            let sample = est.m2[k] / (est.n - 1.0);
            assert!((sample - want).abs() < 0.05, "{k}: {sample}");
        }
    }
}
