//! Rates and ratios of rates with their intervals.

use statrs::distribution::{Beta, ContinuousCDF};

use super::exact::binomial_test;
use super::{Interval, PValue, z_value};

/// Wilson score interval for a proportion x/n (Wilson 1927; statsmodels
/// `proportion_confint(method="wilson")`):
///
/// (x + z²/2)/(n + z²) ± z/(n + z²) · √(x(n−x)/n + z²/4).
///
/// `None` when n = 0.
pub fn wilson_interval(x: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    assert!(x <= n, "more events than trials");
    let z = z_value(confidence);
    let (x, n) = (x as f64, n as f64);
    let z2 = z * z;
    let p = x / n;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt() / denom;
    // At x = 0 and x = n the bounds are exactly 0 and 1 (rounding would leave ~1e-17).
    Some(Interval {
        low: if x == 0.0 {
            0.0
        } else {
            (center - half).max(0.0)
        },
        high: if x == n {
            1.0
        } else {
            (center + half).min(1.0)
        },
    })
}

/// A difference of two proportions with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    /// The difference of the proportions, from −1 to 1.
    pub estimate: f64,
    /// Confidence interval of the difference.
    pub interval: Interval,
}

/// Difference x1/n1 − x2/n2 with Newcombe's hybrid score interval (Newcombe
/// 1998, method 10; statsmodels `confint_proportions_2indep(method="newcomb",
/// compare="diff")`): with Wilson intervals [l₁, u₁] and [l₂, u₂],
///
/// d − √((p₁ − l₁)² + (u₂ − p₂)²)  …  d + √((u₁ − p₁)² + (p₂ − l₂)²).
///
/// For the change of a share between two periods. `None` when n1 or n2 is 0.
pub fn newcombe_difference(
    x1: u64,
    n1: u64,
    x2: u64,
    n2: u64,
    confidence: f64,
) -> Option<Difference> {
    let w1 = wilson_interval(x1, n1, confidence)?;
    let w2 = wilson_interval(x2, n2, confidence)?;
    let (p1, p2) = (x1 as f64 / n1 as f64, x2 as f64 / n2 as f64);
    let d = p1 - p2;
    Some(Difference {
        estimate: d,
        interval: Interval {
            low: d - ((p1 - w1.low).powi(2) + (w2.high - p2).powi(2)).sqrt(),
            high: d + ((w1.high - p1).powi(2) + (p2 - w2.low).powi(2)).sqrt(),
        },
    })
}

/// Two-sided z-test of equal proportions with the pooled variance
/// (statsmodels `proportions_ztest([x1, x2], [n1, n2])`):
/// z = (p₁ − p₂) / √(p̄(1 − p̄)(1/n₁ + 1/n₂)). `None` when a sample is empty
/// or the pooled proportion is 0 or 1 (no variance).
pub fn two_proportion_z_test(x1: u64, n1: u64, x2: u64, n2: u64) -> Option<(f64, PValue)> {
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let var = pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f);
    if var <= 0.0 {
        return None;
    }
    let z = (x1 as f64 / n1f - x2 as f64 / n2f) / var.sqrt();
    let tail = statrs::distribution::Normal::standard().sf(z.abs());
    Some((z, PValue::from_ln(std::f64::consts::LN_2 + tail.ln())))
}

/// A ratio with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ratio {
    /// The ratio.
    pub estimate: f64,
    /// Confidence interval of the ratio.
    pub interval: Interval,
}

/// Rate ratio (a/n1)/(b/n2) with the Katz log interval (Katz et al. 1978;
/// statsmodels `Table2x2.riskratio_confint`):
///
/// exp(ln RR ± z · √(1/a − 1/n1 + 1/b − 1/n2)).
///
/// `None` when a, b, n1 or n2 is 0 (the interval does not exist).
pub fn katz_rate_ratio(a: u64, n1: u64, b: u64, n2: u64, confidence: f64) -> Option<Ratio> {
    if a == 0 || b == 0 || n1 == 0 || n2 == 0 {
        return None;
    }
    let (a, n1, b, n2) = (a as f64, n1 as f64, b as f64, n2 as f64);
    let ln_rr = (a / n1).ln() - (b / n2).ln();
    let se = (1.0 / a - 1.0 / n1 + 1.0 / b - 1.0 / n2).max(0.0).sqrt();
    let z = z_value(confidence);
    Some(Ratio {
        estimate: ln_rr.exp(),
        interval: Interval {
            low: (ln_rr - z * se).exp(),
            high: (ln_rr + z * se).exp(),
        },
    })
}

/// Rate ratio (a/n1)/(b/n2) with the score interval of Koopman (1984): the
/// ratios θ whose score statistic
///
/// z(θ) = (a/n1 − θ·b/n2) / √(p̃1(1 − p̃1)/n1 + θ²·p̃2(1 − p̃2)/n2),
///
/// with p̃1 = θ·p̃2 the maximum-likelihood rates under p1/p2 = θ (Farrington
/// & Manning 1990), lies within ±z. statsmodels
/// `confint_proportions_2indep(compare="ratio", method="score",
/// correction=False)`. Unlike the Katz interval it keeps its coverage at the
/// edges: a rate of 100% (a = n1) and no hits in the group (a = 0, estimate
/// 0, lower bound 0).
///
/// `None` when n1 or n2 is 0, or when the reference has no hits (b = 0: the
/// ratio is infinite or undefined).
pub fn score_rate_ratio(a: u64, n1: u64, b: u64, n2: u64, confidence: f64) -> Option<Ratio> {
    if n1 == 0 || n2 == 0 || b == 0 {
        return None;
    }
    assert!(a <= n1 && b <= n2, "more events than trials");
    let z = z_value(confidence);
    let (x1, x2, m1, m2) = (a as f64, b as f64, n1 as f64, n2 as f64);
    let estimate = (x1 / m1) / (x2 / m2);
    // The score statistic at θ; it falls as θ grows.
    let score = |theta: f64| {
        let big_a = theta * (m1 + m2);
        let big_b = -(x1 + theta * x2 + theta * m1 + m2);
        let big_c = x1 + x2;
        let disc = (big_b * big_b - 4.0 * big_a * big_c).max(0.0);
        // The smaller root, in the form that keeps its digits when A is tiny.
        let p2 = (2.0 * big_c / (-big_b + disc.sqrt())).clamp(0.0, 1.0);
        let p1 = (theta * p2).clamp(0.0, 1.0);
        let var = p1 * (1.0 - p1) / m1 + theta * theta * p2 * (1.0 - p2) / m2;
        let diff = x1 / m1 - theta * x2 / m2;
        if var > 0.0 {
            diff / var.sqrt()
        } else if diff > 0.0 {
            f64::INFINITY
        } else if diff < 0.0 {
            f64::NEG_INFINITY
        } else {
            0.0
        }
    };
    // Solves score(θ) = target on the log scale between lo and hi, where
    // score(lo) > target > score(hi).
    let solve = |target: f64, mut lo: f64, mut hi: f64| {
        for _ in 0..200 {
            let mid = (0.5 * (lo.ln() + hi.ln())).exp();
            if score(mid) > target {
                lo = mid;
            } else {
                hi = mid;
            }
            if hi / lo - 1.0 < 1e-13 {
                break;
            }
        }
        0.5 * (lo + hi)
    };
    let low = if a == 0 {
        0.0
    } else {
        solve(z, f64::MIN_POSITIVE.sqrt(), estimate)
    };
    let high = solve(-z, estimate.max(f64::MIN_POSITIVE.sqrt()), 1e12);
    Some(Ratio {
        estimate,
        interval: Interval { low, high },
    })
}

/// The change of a rate ratio between two periods: the ratio of the two
/// Katz rate ratios RR₁/RR₂ (period 1: a1 of n1 against b1 of m1; period 2
/// likewise), with a Wald interval and two-sided z-test on the log scale,
/// SE = √(SE₁² + SE₂²) for independent periods (Altman & Bland 2003,
/// "Interaction revisited"). `None` when a rate ratio is undefined.
pub(crate) fn rate_ratio_change(
    (a1, n1, b1, m1): (u64, u64, u64, u64),
    (a2, n2, b2, m2): (u64, u64, u64, u64),
    confidence: f64,
) -> Option<(Ratio, PValue)> {
    let log_rr = |a: u64, n: u64, b: u64, m: u64| {
        if a == 0 || b == 0 || n == 0 || m == 0 {
            return None;
        }
        let (a, n, b, m) = (a as f64, n as f64, b as f64, m as f64);
        Some((
            (a / n).ln() - (b / m).ln(),
            (1.0 / a - 1.0 / n + 1.0 / b - 1.0 / m).max(0.0),
        ))
    };
    let (l1, v1) = log_rr(a1, n1, b1, m1)?;
    let (l2, v2) = log_rr(a2, n2, b2, m2)?;
    let (d, se) = (l1 - l2, (v1 + v2).sqrt());
    if se == 0.0 {
        return None;
    }
    let z = z_value(confidence);
    let tail = statrs::distribution::Normal::standard().sf((d / se).abs());
    Some((
        Ratio {
            estimate: d.exp(),
            interval: Interval {
                low: (d - z * se).exp(),
                high: (d + z * se).exp(),
            },
        },
        PValue::from_ln(std::f64::consts::LN_2 + tail.ln()),
    ))
}

/// Clopper–Pearson ("exact") interval for a proportion x/n, from beta
/// quantiles: [B(α/2; x, n−x+1), B(1−α/2; x+1, n−x)], with 0 and 1 at the
/// edges (scipy `binomtest(...).proportion_ci(method="exact")`).
pub(crate) fn clopper_pearson(x: u64, n: u64, confidence: f64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let alpha = 1.0 - confidence;
    let (xf, nf) = (x as f64, n as f64);
    let low = if x == 0 {
        0.0
    } else {
        Beta::new(xf, nf - xf + 1.0)
            .expect("positive shapes")
            .inverse_cdf(alpha / 2.0)
    };
    let high = if x == n {
        1.0
    } else {
        Beta::new(xf + 1.0, nf - xf)
            .expect("positive shapes")
            .inverse_cdf(1.0 - alpha / 2.0)
    };
    Some(Interval { low, high })
}

/// The smallest practically detectable ratio: the ratio θ closest to 1,
/// on the side `higher` (θ > 1) or below 1, at which a one-sided test at
/// level `alpha` on the log scale rejects with probability `power`, i.e.
/// |ln θ| = (z₁₋α + z_power) · se(θ), where `se(θ)` is the standard error of
/// the log ratio when the true ratio is θ. θ runs from 1 to `limit` (a
/// bound beyond which the ratio is impossible, e.g. a rate above 100%);
/// `None` when no θ in that range is detectable (too few counts).
pub fn min_detectable_ratio(
    alpha: f64,
    power: f64,
    higher: bool,
    limit: f64,
    se: impl Fn(f64) -> f64,
) -> Option<f64> {
    use statrs::distribution::{ContinuousCDF, Normal};
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    let z = normal.inverse_cdf(1.0 - alpha) + normal.inverse_cdf(power);
    let sign = if higher { 1.0 } else { -1.0 };
    // g(t) ≥ 0 when θ = e^(sign·t) is detectable.
    let g = |t: f64| {
        let s = se((sign * t).exp());
        if s.is_finite() {
            t - z * s
        } else {
            f64::NEG_INFINITY
        }
    };
    let t_max = limit.ln().abs().min(12.0);
    // The first detectable step on a fine grid, then bisection inside it.
    let step: f64 = 0.005;
    let mut lo = 0.0;
    let mut t = step;
    loop {
        let t_now = t.min(t_max);
        if g(t_now) >= 0.0 {
            let mut hi = t_now;
            for _ in 0..60 {
                let mid = 0.5 * (lo + hi);
                if g(mid) >= 0.0 {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            return Some((sign * hi).exp());
        }
        if t_now >= t_max {
            return None;
        }
        lo = t_now;
        t += step;
    }
}

/// [`min_detectable_ratio`] for a rate comparison: `n1` trials of the group
/// at θ times the reference's rate `p0`, `n0` trials of the reference; the
/// standard error is Katz's, √((1 − θp₀)/(n₁θp₀) + (1 − p₀)/(n₀p₀)).
pub fn min_detectable_rate_ratio(
    p0: f64,
    n1: u64,
    n0: u64,
    alpha: f64,
    power: f64,
    higher: bool,
) -> Option<f64> {
    if !(p0 > 0.0 && p0 < 1.0) || n1 == 0 || n0 == 0 {
        return None;
    }
    let (n1, n0) = (n1 as f64, n0 as f64);
    let reference = (1.0 - p0) / (n0 * p0);
    let limit = if higher { 1.0 / p0 } else { 0.0 };
    min_detectable_ratio(alpha, power, higher, limit, |theta| {
        let p1 = theta * p0;
        ((1.0 - p1).max(0.0) / (n1 * p1) + reference).sqrt()
    })
}

/// Comparison of two event counts over exposures (e.g. stops over
/// residents), as R's `poisson.test(c(a, b), T = c(ta, tb))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PoissonRatio {
    /// (a/ta)/(b/tb); infinite when b = 0.
    pub estimate: f64,
    /// Exact conditional interval; `high` is infinite when b = 0.
    pub interval: Option<Interval>,
    /// Two-sided exact binomial test of equal rates, given a + b events.
    pub p_value: PValue,
}

/// Exact conditional test and interval for the ratio of two Poisson rates:
/// given a + b events, a is binomial with p = ta/(ta + tb) under equal rates.
/// The p-value is the two-sided exact binomial test; the interval is the
/// Clopper–Pearson interval for p mapped to the rate ratio by
/// p/(1 − p) · tb/ta.
pub fn poisson_rate_ratio(a: u64, ta: f64, b: u64, tb: f64, confidence: f64) -> PoissonRatio {
    assert!(ta > 0.0 && tb > 0.0, "exposures must be positive");
    let n = a + b;
    let p0 = ta / (ta + tb);
    let estimate = (a as f64 / ta) / (b as f64 / tb);
    let to_ratio = |p: f64| {
        if p >= 1.0 {
            f64::INFINITY
        } else {
            p / (1.0 - p) * tb / ta
        }
    };
    let interval = clopper_pearson(a, n, confidence).map(|ci| Interval {
        low: to_ratio(ci.low),
        high: to_ratio(ci.high),
    });
    PoissonRatio {
        estimate,
        interval,
        p_value: binomial_test(a, n, p0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_minimum_detectable_ratio_is_detected_with_the_power_asked() {
        use rand::{RngExt, SeedableRng};
        // 600 stops against 3,000 at a reference rate of 30%.
        let (p0, n1, n0) = (0.3, 600u64, 3000u64);
        let mdr = min_detectable_rate_ratio(p0, n1, n0, 0.05, 0.8, false).unwrap();
        assert!(mdr > 0.7 && mdr < 0.95, "{mdr}");
        // Simulated: the one-sided Fisher test at 5% rejects in about 80%
        // of data sets whose true ratio is the minimum detectable one.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
        let mut binomial =
            |p: f64, n: u64| (0..n).filter(|_| rng.random::<f64>() < p).count() as u64;
        let runs = 1000;
        let rejected = (0..runs)
            .filter(|_| {
                let (a, c) = (binomial(mdr * p0, n1), binomial(p0, n0));
                let p = crate::stats::exact::fisher_one_sided(
                    a,
                    n1 - a,
                    c,
                    n0 - c,
                    crate::stats::exact::Tail::Lower,
                );
                p.p < 0.05
            })
            .count();
        let power = rejected as f64 / runs as f64;
        assert!((0.74..0.86).contains(&power), "{power}");
        // More data, smaller detectable differences; a tiny group detects nothing.
        let more = min_detectable_rate_ratio(p0, 4 * n1, 4 * n0, 0.05, 0.8, false).unwrap();
        assert!(more > mdr, "{more} {mdr}");
        let up = min_detectable_rate_ratio(p0, n1, n0, 0.05, 0.8, true).unwrap();
        assert!(up > 1.05 && up < 1.3, "{up}");
        assert_eq!(
            min_detectable_rate_ratio(0.01, 3, 100, 0.05, 0.8, false),
            None
        );
    }

    /// Share of simulated data sets whose interval covers the true ratio.
    fn coverage(
        (p1, n1): (f64, u64),
        (p2, n2): (f64, u64),
        interval: fn(u64, u64, u64, u64, f64) -> Option<Ratio>,
    ) -> f64 {
        use rand::{RngExt, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut binomial =
            |p: f64, n: u64| (0..n).filter(|_| rng.random::<f64>() < p).count() as u64;
        let (mut covered, mut defined) = (0, 0);
        for _ in 0..4000 {
            let (a, b) = (binomial(p1, n1), binomial(p2, n2));
            if let Some(r) = interval(a, n1, b, n2, 0.95) {
                defined += 1;
                covered += u32::from(r.interval.contains(p1 / p2));
            }
        }
        assert!(defined > 3900, "{defined}");
        f64::from(covered) / f64::from(defined)
    }

    #[test]
    fn the_score_interval_keeps_its_coverage_where_katz_loses_it() {
        // Near the edges (a rate near 100% or near 0) the score interval may
        // be conservative, never too narrow; in the middle it is close to 95%.
        for (group, reference, at_least, at_most) in [
            ((0.98, 40), (0.5, 600), 0.93, 0.99),
            ((0.97, 40), (0.995, 40), 0.93, 1.0),
            ((0.99, 40), (0.95, 40), 0.93, 1.0),
            ((0.01, 60), (0.3, 200), 0.93, 0.99),
            ((0.3, 25), (0.35, 400), 0.93, 0.97),
            ((0.5, 200), (0.5, 200), 0.93, 0.97),
        ] {
            let score = coverage(group, reference, score_rate_ratio);
            assert!(
                (at_least..=at_most).contains(&score),
                "{group:?} {reference:?}: {score}"
            );
        }
        // Katz, when both rates are near 100%: far too narrow (its standard
        // error is 0 when both groups hit every time).
        let katz = coverage((0.97, 40), (0.995, 40), katz_rate_ratio);
        assert!(katz < 0.8, "{katz}");
    }

    #[test]
    fn rate_ratio_change_matches_the_log_scale_wald_formula() {
        // Reference from numpy/scipy: RR1 = (30/200)/(60/250), RR2 = (45/210)/(50/240).
        let (r, p) = rate_ratio_change((30, 200, 60, 250), (45, 210, 50, 240), 0.95).unwrap();
        assert!((r.estimate - 0.6076388888888891).abs() < 1e-12);
        assert!((r.interval.low - 0.35615146390605856).abs() < 1e-9);
        assert!((r.interval.high - 1.0367078524419977).abs() < 1e-9);
        assert!((p.p - 0.0675941223358079).abs() < 1e-9);
        assert!(rate_ratio_change((0, 200, 60, 250), (45, 210, 50, 240), 0.95).is_none());
    }

    #[test]
    fn wilson_contains_the_estimate_and_stays_in_unit_interval() {
        for (x, n) in [(0, 5), (5, 5), (3, 10), (500, 1000), (1, 1_000_000)] {
            let ci = wilson_interval(x, n, 0.95).unwrap();
            let p = x as f64 / n as f64;
            assert!(
                ci.contains(p) && ci.low >= 0.0 && ci.high <= 1.0,
                "{x}/{n}: {ci:?}"
            );
        }
        assert!(wilson_interval(0, 0, 0.95).is_none());
    }

    #[test]
    fn katz_is_symmetric_under_swapping_groups() {
        let r = katz_rate_ratio(30, 100, 20, 120, 0.95).unwrap();
        let s = katz_rate_ratio(20, 120, 30, 100, 0.95).unwrap();
        assert!((r.estimate * s.estimate - 1.0).abs() < 1e-12);
        assert!((r.interval.low * s.interval.high - 1.0).abs() < 1e-12);
        assert!(katz_rate_ratio(0, 100, 20, 120, 0.95).is_none());
    }
}
