//! Exact tests: Fisher's exact test of a 2×2 table and the exact binomial
//! test, both two-sided by the "probabilities no larger than the observed
//! one" rule, computed in log space.

use super::discrete::{Binomial, Hypergeometric};
use super::{PValue, log_add_exp};

/// The distribution of `a` under the null hypothesis given the margins of
/// `[[a, b], [c, d]]`; `None` when a row or column is empty (nothing to test).
fn null_distribution(a: u64, b: u64, c: u64, d: u64) -> Option<Hypergeometric> {
    let (n1, n2, n) = (a + b, c + d, a + c);
    (n1 > 0 && n2 > 0 && n > 0 && b + d > 0).then_some(Hypergeometric {
        total: n1 + n2,
        successes: n1,
        draws: n,
    })
}

/// Two-sided Fisher exact test of the 2×2 table `[[a, b], [c, d]]`.
///
/// Under the null hypothesis (odds ratio 1, margins fixed) `a` is
/// hypergeometric: `a+c` draws from `a+b+c+d` items of which `a+b` are
/// successes. The p-value sums the probabilities of all tables no more
/// likely than the observed one (with scipy's relative tolerance 1e-14),
/// as `scipy.stats.fisher_exact(table)`. A table with an empty row or
/// column gives 1.
pub fn fisher_exact(a: u64, b: u64, c: u64, d: u64) -> PValue {
    let Some(h) = null_distribution(a, b, c, d) else {
        return PValue::ONE;
    };
    let mode = h.mode();
    let ln_exact = h.ln_pmf(a);
    let ln_mode = h.ln_pmf(mode);
    let eps = 1e-14;
    // |pexact - pmode| / pmode <= eps
    if -(ln_exact - ln_mode).exp_m1() <= eps {
        return PValue::ONE;
    }
    let threshold = ln_exact + eps.ln_1p();
    let ln_p = if a < mode {
        let lower = h.ln_cdf_lower(a);
        // First k above the mode whose probability is below the observed one.
        match first_below(mode, h.high(), threshold, |k| h.ln_pmf(k)) {
            Some(k) => log_add_exp(lower, h.ln_sf_upper(k)),
            None => lower,
        }
    } else {
        let upper = h.ln_sf_upper(a);
        match last_below(h.low(), mode, threshold, |k| h.ln_pmf(k)) {
            Some(k) => log_add_exp(upper, h.ln_cdf_lower(k)),
            None => upper,
        }
    };
    PValue::from_ln(ln_p)
}

/// The tail of a one-sided test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tail {
    /// Small values are the evidence: P(X ≤ observed).
    Lower,
    /// Large values are the evidence: P(X ≥ observed).
    Upper,
}

/// ln(1 − e^l), for a log-probability `l` ≤ 0.
fn ln_complement(l: f64) -> f64 {
    (-l.exp()).ln_1p()
}

/// One-sided Fisher exact test of `[[a, b], [c, d]]`: P(A ≤ a) for
/// [`Tail::Lower`] (the group's rate lower than the reference's; scipy's
/// `fisher_exact(table, alternative="less")`) or P(A ≥ a) for
/// [`Tail::Upper`] (`alternative="greater"`). A table with an empty row or
/// column gives 1.
pub fn fisher_one_sided(a: u64, b: u64, c: u64, d: u64, tail: Tail) -> PValue {
    let Some(h) = null_distribution(a, b, c, d) else {
        return PValue::ONE;
    };
    let mode = h.mode();
    // Each tail is summed outward from its end on its own side of the
    // mode; past the mode it is one minus the other tail.
    let ln_p = match tail {
        Tail::Lower if a <= mode => h.ln_cdf_lower(a),
        Tail::Lower if a >= h.high() => 0.0,
        Tail::Lower => ln_complement(h.ln_sf_upper(a + 1)),
        Tail::Upper if a >= mode => h.ln_sf_upper(a),
        Tail::Upper if a <= h.low() => 0.0,
        Tail::Upper => ln_complement(h.ln_cdf_lower(a - 1)),
    };
    PValue::from_ln(ln_p)
}

/// One-sided exact binomial test: P(X ≥ x) for X ~ Binomial(n, p)
/// (scipy's `binomtest(x, n, p, alternative="greater")`).
pub fn binomial_upper(x: u64, n: u64, p: f64) -> PValue {
    assert!(x <= n, "more successes than trials");
    if x == 0 || p >= 1.0 {
        return PValue::ONE;
    }
    if p <= 0.0 {
        return PValue::from_ln(f64::NEG_INFINITY);
    }
    let dist = Binomial { n, p };
    // The mode is ⌊(n + 1) p⌋: at or above it the upper tail shrinks outward.
    let mode = (((n + 1) as f64) * p).floor() as u64;
    let ln_p = if x >= mode {
        dist.ln_sf_upper(x)
    } else {
        ln_complement(dist.ln_cdf_lower(x - 1))
    };
    PValue::from_ln(ln_p)
}

/// One-sided exact Poisson test: P(O ≥ observed) for O ~ Poisson(expected)
/// (scipy's `poisson.sf(observed - 1, expected)`); 1 for `observed` 0.
pub fn poisson_upper(observed: u64, expected: f64) -> f64 {
    use statrs::distribution::{DiscreteCDF, Poisson};
    if observed == 0 {
        return 1.0;
    }
    match Poisson::new(expected) {
        Ok(d) => d.sf(observed - 1),
        Err(_) => 0.0,
    }
}

/// One-sided exact Poisson test: P(O ≤ observed) for O ~ Poisson(expected)
/// (scipy's `poisson.cdf(observed, expected)`); 1 for `expected` 0.
pub fn poisson_lower_tail(observed: u64, expected: f64) -> f64 {
    use statrs::distribution::{DiscreteCDF, Poisson};
    match Poisson::new(expected) {
        Ok(d) => d.cdf(observed),
        Err(_) => 1.0,
    }
}

/// Two-sided exact binomial test of `x` successes in `n` trials against
/// success probability `p`: the sum of the probabilities of all outcomes no
/// more likely than `x` (relative tolerance 1e-7), as R's `binom.test` and
/// `scipy.stats.binomtest`.
pub(crate) fn binomial_test(x: u64, n: u64, p: f64) -> PValue {
    assert!(x <= n, "more successes than trials");
    if n == 0 || p <= 0.0 || p >= 1.0 {
        let possible = (p <= 0.0 && x == 0) || (p >= 1.0 && x == n) || n == 0;
        return if possible {
            PValue::ONE
        } else {
            PValue::from_ln(f64::NEG_INFINITY)
        };
    }
    let dist = Binomial { n, p };
    let np = n as f64 * p;
    let xf = x as f64;
    if xf == np {
        return PValue::ONE;
    }
    let ln_d = dist.ln_pmf(x);
    let threshold = ln_d + 1e-7f64.ln_1p();
    // [ceil(np), n] lies on the decreasing side of the mode and [0, floor(np)]
    // on the increasing side, so the other tail is found by bisection.
    let ln_p = if xf < np {
        let lower = dist.ln_cdf_lower(x);
        match first_below(np.ceil() as u64, n, threshold, |k| dist.ln_pmf(k)) {
            Some(k) => log_add_exp(lower, dist.ln_sf_upper(k)),
            None => lower,
        }
    } else {
        let upper = dist.ln_sf_upper(x);
        match last_below(0, np.floor() as u64, threshold, |k| dist.ln_pmf(k)) {
            Some(k) => log_add_exp(upper, dist.ln_cdf_lower(k)),
            None => upper,
        }
    };
    PValue::from_ln(ln_p)
}

/// On a stretch where `ln_pmf` decreases (`from` at or after the mode), the
/// first k with `ln_pmf(k) <= threshold`, by bisection.
fn first_below(from: u64, to: u64, threshold: f64, ln_pmf: impl Fn(u64) -> f64) -> Option<u64> {
    if ln_pmf(to) > threshold {
        return None;
    }
    let (mut lo, mut hi) = (from, to);
    // invariant: ln_pmf(hi) <= threshold
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if ln_pmf(mid) <= threshold {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(hi)
}

/// On a stretch where `ln_pmf` increases (`to` at or before the mode), the
/// last k with `ln_pmf(k) <= threshold`, by bisection.
fn last_below(from: u64, to: u64, threshold: f64, ln_pmf: impl Fn(u64) -> f64) -> Option<u64> {
    if ln_pmf(from) > threshold {
        return None;
    }
    let (mut lo, mut hi) = (from, to);
    // invariant: ln_pmf(lo) <= threshold
    while lo < hi {
        let mid = lo + (hi - lo).div_ceil(2);
        if ln_pmf(mid) <= threshold {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    Some(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_lower_tail_matches_scipy() {
        // scipy.stats.poisson.cdf(n, mu)
        for (n, mu, want) in [
            (20, 20.5, 0.5147661541315517),
            (0, 10.0, 4.539992976248486e-05),
            (47, 79.0, 6.94726879008512e-05),
            (93, 79.0, 0.94555298679975),
        ] {
            let got = poisson_lower_tail(n, mu);
            assert!(
                (got - want).abs() <= 1e-10 * want,
                "{n} {mu}: {got} vs {want}"
            );
        }
        assert_eq!(poisson_lower_tail(3, 0.0), 1.0);
    }

    #[test]
    fn fisher_small_tables_by_enumeration() {
        // [[3, 1], [1, 3]]: tables with a in 0..=4 have probabilities 1, 16, 36, 16, 1 over 70.
        let p = fisher_exact(3, 1, 1, 3);
        assert!((p.p - 34.0 / 70.0).abs() < 1e-14, "{p:?}");
        assert_eq!(fisher_exact(0, 0, 5, 5), PValue::ONE);
        assert_eq!(fisher_exact(2, 2, 2, 2).p, 1.0);
    }

    #[test]
    fn binomial_test_small_case() {
        // x = 2 of 10 at p = 0.5: P(X<=2) + P(X>=8) = 2 * 56/1024
        let p = binomial_test(2, 10, 0.5);
        assert!((p.p - 112.0 / 1024.0).abs() < 1e-14, "{p:?}");
        assert_eq!(binomial_test(5, 10, 0.5).p, 1.0);
        assert_eq!(binomial_test(0, 0, 0.3).p, 1.0);
    }
}
