//! Markov chain Monte Carlo: a NUTS sampler and the convergence diagnostics
//! that go with it. Model-agnostic: a model is a [`LogDensity`] over an
//! unconstrained parameter vector.
//!
//! Chains run in parallel, one random stream each (ChaCha8, the seed and the
//! chain number), so the draws depend on the seed and never on the thread
//! count.

pub mod diagnostics;
pub(crate) mod metric;
pub(crate) mod nuts;

use rand::RngExt;
use rayon::prelude::*;

pub(crate) use metric::MetricKind;
pub(crate) use nuts::{ChainDraws, NutsSettings};

/// A log density with its gradient, up to a constant.
pub trait LogDensity: Sync {
    /// Length of the parameter vector.
    fn dim(&self) -> usize;

    /// ln p(θ) up to a constant, writing ∂ ln p/∂θ into `gradient`. Returns
    /// `-inf` or NaN where the density is zero or cannot be evaluated (the
    /// sampler treats that as a divergence).
    fn log_density(&self, theta: &[f64], gradient: &mut [f64]) -> f64;
}

/// A standard normal draw (Marsaglia's polar method).
pub(crate) fn standard_normal(rng: &mut impl RngExt) -> f64 {
    loop {
        let u = 2.0 * rng.random::<f64>() - 1.0;
        let v = 2.0 * rng.random::<f64>() - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * s.ln() / s).sqrt();
        }
    }
}

/// Why sampling could not start.
#[derive(Debug, thiserror::Error)]
pub enum SamplingError {
    /// No starting point with a finite log density was found in 100 tries.
    #[error("no starting point with a finite log density was found for chain {chain} in 100 tries")]
    NoStartingPoint {
        /// The chain, numbered from 0.
        chain: usize,
    },
}

/// Iterations announced and done by every [`sample`] call of this
/// process: what a progress bar shows (the core writes nothing itself; the
/// binary reads [`progress`]). Counting costs one relaxed atomic add per
/// iteration and changes no result.
static ITERATIONS: [std::sync::atomic::AtomicU64; 2] = [
    std::sync::atomic::AtomicU64::new(0),
    std::sync::atomic::AtomicU64::new(0),
];

/// (iterations done, iterations announced) by the samplers of this process
/// so far, warmup included.
pub fn progress() -> (u64, u64) {
    use std::sync::atomic::Ordering::Relaxed;
    (ITERATIONS[0].load(Relaxed), ITERATIONS[1].load(Relaxed))
}

/// One more iteration done.
pub(crate) fn iteration_done() {
    ITERATIONS[0].fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

/// Runs `chains` chains in parallel. `init` draws a starting point for a
/// chain from its own random stream; up to 100 are tried until the log
/// density is finite there.
pub fn sample<M, I>(
    model: &M,
    settings: &NutsSettings,
    chains: usize,
    seed: u64,
    init: I,
) -> Result<Vec<ChainDraws>, SamplingError>
where
    M: LogDensity,
    I: Fn(&mut rand_chacha::ChaCha8Rng) -> Vec<f64> + Sync,
{
    use rand::SeedableRng;
    ITERATIONS[1].fetch_add(
        (chains * (settings.warmup + settings.draws)) as u64,
        std::sync::atomic::Ordering::Relaxed,
    );
    (0..chains)
        .into_par_iter()
        .map(|chain| {
            // Stream 0 of each chain draws its starting points, stream 1 drives the sampler.
            let mut init_rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            init_rng.set_stream(2 * chain as u64);
            for _ in 0..100 {
                if let Some(sampler) =
                    nuts::Nuts::new(model, init(&mut init_rng), seed, 2 * chain as u64 + 1)
                {
                    return Ok(sampler.run(settings));
                }
            }
            Err(SamplingError::NoStartingPoint { chain })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A correlated Gaussian with known moments.
    struct Gaussian {
        mean: Vec<f64>,
        sd: Vec<f64>,
    }

    impl LogDensity for Gaussian {
        fn dim(&self) -> usize {
            self.mean.len()
        }
        fn log_density(&self, theta: &[f64], gradient: &mut [f64]) -> f64 {
            let mut lp = 0.0;
            for i in 0..theta.len() {
                let z = (theta[i] - self.mean[i]) / self.sd[i];
                lp -= 0.5 * z * z;
                gradient[i] = -z / self.sd[i];
            }
            lp
        }
    }

    #[test]
    fn nuts_recovers_the_moments_of_a_badly_scaled_gaussian() {
        let model = Gaussian {
            mean: vec![1.0, -3.0, 100.0, 0.0, 5.0],
            sd: vec![0.01, 1.0, 30.0, 2.0, 0.5],
        };
        let settings = NutsSettings {
            warmup: 500,
            draws: 1000,
            ..NutsSettings::default()
        };
        let chains = sample(&model, &settings, 4, 7, |rng| {
            (0..5).map(|_| 2.0 * standard_normal(rng)).collect()
        })
        .unwrap();
        for (i, (&mean, &sd)) in model.mean.iter().zip(&model.sd).enumerate() {
            let summary = diagnostics::summarise(&chains, |d| d[i]);
            // Monte Carlo error of the mean: sd / sqrt(ESS); allow 5 of them.
            assert!(
                (summary.mean - mean).abs() < 5.0 * sd / summary.ess_bulk.sqrt(),
                "mean {i}: {} vs {mean}",
                summary.mean
            );
            assert!(
                (summary.sd / sd - 1.0).abs() < 0.1,
                "sd {i}: {}",
                summary.sd
            );
            assert!(summary.rhat < 1.01, "rhat {i}: {}", summary.rhat);
            assert!(summary.ess_bulk > 400.0, "ess {i}: {}", summary.ess_bulk);
        }
        assert!(chains.iter().all(|c| c.divergences == 0));
    }

    #[test]
    fn same_seed_same_draws() {
        let model = Gaussian {
            mean: vec![0.0, 1.0],
            sd: vec![1.0, 2.0],
        };
        let settings = NutsSettings {
            warmup: 100,
            draws: 50,
            ..NutsSettings::default()
        };
        let init = |rng: &mut rand_chacha::ChaCha8Rng| vec![standard_normal(rng), 0.0];
        let (done, announced) = progress();
        let a = sample(&model, &settings, 2, 11, init).unwrap();
        // Progress counts every iteration of both chains, warmup included
        // (other tests may sample at the same time: at least these).
        let (done_after, announced_after) = progress();
        assert!(
            announced_after - announced >= 300,
            "{announced} → {announced_after}"
        );
        assert!(done_after - done >= 300, "{done} → {done_after}");
        let b = sample(&model, &settings, 2, 11, init).unwrap();
        let c = sample(&model, &settings, 2, 12, init).unwrap();
        assert_eq!(a[1].positions, b[1].positions);
        assert_ne!(a[0].positions, a[1].positions);
        assert_ne!(a[0].positions, c[0].positions);
    }
}
