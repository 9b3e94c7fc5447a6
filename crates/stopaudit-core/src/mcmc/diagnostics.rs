//! Posterior summaries and convergence diagnostics of a scalar quantity
//! across chains, as Stan and ArviZ compute them (Vehtari, Gelman, Simpson,
//! Carpenter & Bürkner 2021, "Rank-normalization, folding, and
//! localization"):
//!
//! - R-hat: the larger of the rank-normalised split R-hat of the draws and of
//!   their distances from the median (the "folded" draws);
//! - bulk ESS: the effective sample size of the rank-normalised split chains;
//! - tail ESS: the smaller effective sample size of the indicators of the
//!   5% and 95% quantiles.
//!
//! The effective sample size uses the chains' autocorrelations combined as
//! in Stan (within-chain autocovariances against the pooled variance
//! estimate) truncated by Geyer's initial monotone sequence.

use statrs::distribution::{ContinuousCDF, Normal};

use super::ChainDraws;

/// What is known about one quantity from the draws of all chains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Mean over all draws.
    pub mean: f64,
    /// Standard deviation over all draws (n − 1 denominator).
    pub sd: f64,
    /// 2.5% quantile.
    pub q025: f64,
    /// 97.5% quantile.
    pub q975: f64,
    /// Rank-normalised split R-hat (the larger of bulk and folded); near 1 when converged.
    pub rhat: f64,
    /// Bulk effective sample size (rank-normalised split chains).
    pub ess_bulk: f64,
    /// Tail effective sample size: the smaller of those at the 5% and 95% quantiles.
    pub ess_tail: f64,
}

/// Summarises `quantity(draw)` over every kept draw of every chain.
pub fn summarise(chains: &[ChainDraws], quantity: impl Fn(&[f64]) -> f64) -> Summary {
    let values: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| (0..c.len()).map(|i| quantity(c.draw(i))).collect())
        .collect();
    summarise_values(&values)
}

/// Summarises draws given per chain (all chains of equal length).
pub(crate) fn summarise_values(chains: &[Vec<f64>]) -> Summary {
    let pooled: Vec<f64> = chains.iter().flatten().copied().collect();
    let n = pooled.len() as f64;
    let mean = pooled.iter().sum::<f64>() / n;
    let sd = (pooled.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0)).sqrt();
    let mut sorted = pooled.clone();
    sorted.sort_by(f64::total_cmp);
    let split = split_chains(chains);
    let median = quantile(&sorted, 0.5);
    let folded: Vec<Vec<f64>> = split
        .iter()
        .map(|c| c.iter().map(|x| (x - median).abs()).collect())
        .collect();
    let z = rank_normalise(&split);
    let rhat = split_rhat(&z).max(split_rhat(&rank_normalise(&folded)));
    let ess_bulk = ess(&z);
    let tail = |q: f64| {
        let cut = quantile(&sorted, q);
        let ind: Vec<Vec<f64>> = split
            .iter()
            .map(|c| c.iter().map(|&x| f64::from(u8::from(x <= cut))).collect())
            .collect();
        ess(&ind)
    };
    Summary {
        mean,
        sd,
        q025: quantile(&sorted, 0.025),
        q975: quantile(&sorted, 0.975),
        rhat,
        ess_bulk,
        ess_tail: tail(0.05).min(tail(0.95)),
    }
}

/// Quantile of sorted values, interpolated between order statistics (the
/// default of numpy and R, type 7).
pub(crate) fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Each chain cut into its first and second half (odd middle draw dropped).
fn split_chains(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    chains
        .iter()
        .flat_map(|c| {
            let half = c.len() / 2;
            [c[..half].to_vec(), c[c.len() - half..].to_vec()]
        })
        .collect()
}

/// Normal scores of the pooled ranks (average ranks for ties), with Blom's
/// offset: Φ⁻¹((r − 3/8)/(S + 1/4)).
fn rank_normalise(chains: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let mut all: Vec<(f64, usize, usize)> = chains
        .iter()
        .enumerate()
        .flat_map(|(c, v)| v.iter().enumerate().map(move |(i, &x)| (x, c, i)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let s = all.len() as f64;
    let normal = Normal::standard();
    let mut out: Vec<Vec<f64>> = chains.iter().map(|c| vec![0.0; c.len()]).collect();
    let mut start = 0;
    while start < all.len() {
        let mut end = start + 1;
        while end < all.len() && all[end].0 == all[start].0 {
            end += 1;
        }
        // Ranks are 1-based; ties share their mean rank.
        let rank = (start + end + 1) as f64 / 2.0;
        let z = normal.inverse_cdf((rank - 0.375) / (s + 0.25));
        for &(_, c, i) in &all[start..end] {
            out[c][i] = z;
        }
        start = end;
    }
    out
}

fn mean_and_variance(x: &[f64]) -> (f64, f64) {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let var = x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var)
}

/// Gelman–Rubin potential scale reduction over (already split) chains.
fn split_rhat(chains: &[Vec<f64>]) -> f64 {
    let n = chains[0].len() as f64;
    let stats: Vec<(f64, f64)> = chains.iter().map(|c| mean_and_variance(c)).collect();
    let m = stats.len() as f64;
    let grand = stats.iter().map(|s| s.0).sum::<f64>() / m;
    let b = n / (m - 1.0) * stats.iter().map(|s| (s.0 - grand).powi(2)).sum::<f64>();
    let w = stats.iter().map(|s| s.1).sum::<f64>() / m;
    if w == 0.0 {
        // Constant draws: converged if all chains agree, else not.
        return if b == 0.0 { 1.0 } else { f64::INFINITY };
    }
    (((n - 1.0) / n * w + b / n) / w).sqrt()
}

/// Effective sample size of (already split) chains.
fn ess(chains: &[Vec<f64>]) -> f64 {
    let m = chains.len() as f64;
    let n = chains[0].len();
    let nf = n as f64;
    let stats: Vec<(f64, f64)> = chains.iter().map(|c| mean_and_variance(c)).collect();
    let grand = stats.iter().map(|s| s.0).sum::<f64>() / m;
    let w = stats.iter().map(|s| s.1).sum::<f64>() / m;
    let b_over_n = stats.iter().map(|s| (s.0 - grand).powi(2)).sum::<f64>() / (m - 1.0);
    let var_plus = (nf - 1.0) / nf * w + b_over_n;
    if var_plus.is_nan() || var_plus <= 0.0 {
        return m * nf;
    }
    // Mean over chains of the biased autocovariance at a lag.
    let autocov = |lag: usize| -> f64 {
        chains
            .iter()
            .zip(&stats)
            .map(|(c, &(mean, _))| {
                (0..n - lag)
                    .map(|i| (c[i] - mean) * (c[i + lag] - mean))
                    .sum::<f64>()
                    / nf
            })
            .sum::<f64>()
            / m
    };
    // Chain variance with the n/(n−1) factor, as the autocovariances are biased.
    let rho = |lag: usize| 1.0 - (w - autocov(lag) * nf / (nf - 1.0)) / var_plus;
    // Geyer: sum pairs of autocorrelations while positive, kept monotone.
    let mut tau = -1.0;
    let mut previous_pair = f64::INFINITY;
    let mut lag = 0;
    while lag + 1 < n {
        let r0 = if lag == 0 { 1.0 } else { rho(lag) };
        let pair = r0 + rho(lag + 1);
        if pair < 0.0 {
            break;
        }
        let pair = pair.min(previous_pair);
        tau += 2.0 * pair;
        previous_pair = pair;
        lag += 2;
    }
    // Stan caps the estimate at m·n·log10(m·n) (antithetic chains).
    let total = m * nf;
    (total / tau.max(1.0 / total.log10())).min(total * total.log10())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcmc::standard_normal;
    use rand::SeedableRng;

    fn ar1(phi: f64, n: usize, seed: u64) -> Vec<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut x = 0.0;
        (0..n)
            .map(|_| {
                x = phi * x + standard_normal(&mut rng);
                x
            })
            .collect()
    }

    #[test]
    fn independent_draws_have_ess_near_their_count() {
        let chains: Vec<Vec<f64>> = (0..4).map(|s| ar1(0.0, 1000, s)).collect();
        let s = summarise_values(&chains);
        assert!(s.ess_bulk > 3000.0 && s.ess_bulk < 5000.0, "{}", s.ess_bulk);
        assert!(s.rhat < 1.01);
        assert!((s.q975 - 1.96).abs() < 0.15 && (s.q025 + 1.96).abs() < 0.15);
    }

    #[test]
    fn autocorrelated_draws_have_the_ar1_ess() {
        // For AR(1), ESS/N = (1 − φ)/(1 + φ) = 1/19 at φ = 0.9.
        let chains: Vec<Vec<f64>> = (0..4).map(|s| ar1(0.9, 5000, s)).collect();
        let s = summarise_values(&chains);
        let expected = 20_000.0 / 19.0;
        assert!((s.ess_bulk / expected - 1.0).abs() < 0.25, "{}", s.ess_bulk);
    }

    #[test]
    fn chains_that_disagree_have_a_large_rhat() {
        let mut chains: Vec<Vec<f64>> = (0..4).map(|s| ar1(0.0, 500, s)).collect();
        chains[3].iter_mut().for_each(|x| *x += 3.0);
        assert!(summarise_values(&chains).rhat > 1.1);
        // A chain with a different spread shows in the folded R-hat.
        let mut chains: Vec<Vec<f64>> = (0..4).map(|s| ar1(0.0, 500, s)).collect();
        chains[3].iter_mut().for_each(|x| *x *= 4.0);
        assert!(summarise_values(&chains).rhat > 1.05);
    }

    #[test]
    fn quantiles_interpolate_like_numpy() {
        let v = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&v, 0.5), 2.5);
        assert_eq!(quantile(&v, 0.0), 1.0);
        assert!((quantile(&v, 0.975) - 3.925).abs() < 1e-12);
    }
}
