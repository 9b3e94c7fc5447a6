//! Stratified 2×2 tables: the Mantel–Haenszel pooled odds ratio with the
//! Robins–Breslow–Greenland interval, the Mantel–Haenszel rate ratio with
//! the Greenland–Robins interval, the Cochran–Mantel–Haenszel test (two- and
//! one-sided) and the Breslow–Day test of homogeneity.
//!
//! Each stratum is `[a, b, c, d]` = `[[a, b], [c, d]]`: rows are the group
//! and the reference, columns are hit and no hit.

use super::chisq::chi2_sf;
use super::exact::Tail;
use super::{Interval, PValue, z_value};

/// The result of [`mantel_haenszel`].
#[derive(Debug, Clone, PartialEq)]
pub struct MantelHaenszel {
    /// Σ(a d / n) / Σ(b c / n); `None` when either sum is 0.
    pub odds_ratio: Option<f64>,
    /// Robins–Breslow–Greenland interval of the odds ratio; `None` with it.
    pub odds_ratio_ci: Option<Interval>,
    /// Σ(a (c+d) / n) / Σ(c (a+b) / n): the ratio of the group's rate to the
    /// reference's, pooled over the strata; `None` when either sum is 0.
    pub rate_ratio: Option<f64>,
    /// Greenland–Robins interval of the rate ratio; `None` with it.
    pub rate_ratio_ci: Option<Interval>,
    /// Cochran–Mantel–Haenszel statistic (no continuity correction), 1 df.
    pub cmh_statistic: Option<f64>,
    /// Σ a − Σ E a: the group's hits above (positive) or below what equal
    /// odds would give; its sign makes the one-sided test.
    pub cmh_excess: Option<f64>,
    /// p-value of the CMH statistic; `None` when its variance is 0.
    pub cmh_p_value: Option<PValue>,
    /// Breslow–Day statistic (no Tarone adjustment), K − 1 df.
    pub breslow_day_statistic: Option<f64>,
    /// p-value of the Breslow–Day statistic; `None` without it or with fewer than
    /// two strata used.
    pub breslow_day_p_value: Option<PValue>,
    /// Strata used (both rows non-empty) and left out.
    pub strata_used: usize,
    /// Strata left out: the group's or the reference's row is empty.
    pub strata_dropped: usize,
}

/// Mantel–Haenszel analysis of stratified 2×2 tables (statsmodels
/// `StratifiedTable`: `oddsratio_pooled`, `oddsratio_pooled_confint`,
/// `test_null_odds(correction=False)`, `test_equal_odds(adjust=False)`).
///
/// - Pooled odds ratio OR = Σ R_k / Σ S_k with R = a d / n, S = b c / n.
/// - Var(ln OR) (Robins, Breslow & Greenland 1986) =
///   Σ P R / (2 R₊²) + Σ (P S + Q R) / (2 R₊ S₊) + Σ Q S / (2 S₊²),
///   with P = (a + d)/n, Q = (b + c)/n.
/// - Pooled rate ratio RR = Σ a n₀ / n ÷ Σ c n₁ / n (statsmodels
///   `riskratio_pooled`), with n₁ = a + b, n₀ = c + d, m₁ = a + c and
///   Var(ln RR) (Greenland & Robins 1985) =
///   Σ (m₁ n₁ n₀ / n² − a c / n) ÷ (Σ a n₀ / n · Σ c n₁ / n); with one
///   stratum it is Katz's 1/a − 1/n₁ + 1/c − 1/n₀.
/// - CMH = (Σ a − Σ E a)² / Σ Var a, E a = (a+b)(a+c)/n,
///   Var a = (a+b)(c+d)(a+c)(b+d) / (n² (n − 1)).
/// - Breslow–Day = Σ (a − â)² / Var(â), where â is the expected first cell
///   of each stratum, given its margins, under the pooled odds ratio (the
///   root inside the margins of (1 − OR) â² + (OR (n₁ + m₁) + d − a) â −
///   OR n₁ m₁ = 0, with n₁ = a + b and m₁ = a + c), and
///   1/Var(â) = 1/â + 1/(m₁ − â) + 1/(n₁ − â) + 1/(d − a + â).
///
/// Strata in which the group or the reference has no stops are left out and
/// counted. p-values use the exact chi-square tail (statsmodels reports
/// 1 − cdf, which loses everything below 1e-16).
pub fn mantel_haenszel(strata: &[[u64; 4]], confidence: f64) -> MantelHaenszel {
    let used: Vec<[f64; 4]> = strata
        .iter()
        .filter(|s| s[0] + s[1] > 0 && s[2] + s[3] > 0)
        .map(|s| s.map(|v| v as f64))
        .collect();
    let strata_used = used.len();
    let strata_dropped = strata.len() - strata_used;
    let mut out = MantelHaenszel {
        odds_ratio: None,
        odds_ratio_ci: None,
        rate_ratio: None,
        rate_ratio_ci: None,
        cmh_statistic: None,
        cmh_excess: None,
        cmh_p_value: None,
        breslow_day_statistic: None,
        breslow_day_p_value: None,
        strata_used,
        strata_dropped,
    };
    if used.is_empty() {
        return out;
    }

    let (mut r_sum, mut s_sum) = (0.0, 0.0);
    let (mut pr, mut ps_qr, mut qs) = (0.0, 0.0, 0.0);
    let (mut obs, mut exp, mut var) = (0.0, 0.0, 0.0);
    let (mut rr_num, mut rr_den, mut rr_var) = (0.0, 0.0, 0.0);
    for &[a, b, c, d] in &used {
        let n = a + b + c + d;
        let (n1, n0, m1) = (a + b, c + d, a + c);
        rr_num += a * n0 / n;
        rr_den += c * n1 / n;
        rr_var += m1 * n1 * n0 / (n * n) - a * c / n;
        let (r, s) = (a * d / n, b * c / n);
        let (p, q) = ((a + d) / n, (b + c) / n);
        r_sum += r;
        s_sum += s;
        pr += p * r;
        ps_qr += p * s + q * r;
        qs += q * s;
        obs += a;
        exp += (a + b) * (a + c) / n;
        if n > 1.0 {
            var += (a + b) * (c + d) * (a + c) * (b + d) / (n * n * (n - 1.0));
        }
    }
    let z = z_value(confidence);
    if rr_num > 0.0 && rr_den > 0.0 {
        let rr = rr_num / rr_den;
        let se = (rr_var / (rr_num * rr_den)).sqrt();
        out.rate_ratio = Some(rr);
        out.rate_ratio_ci = Some(Interval {
            low: rr * (-z * se).exp(),
            high: rr * (z * se).exp(),
        });
    }
    if var > 0.0 {
        let stat = (obs - exp) * (obs - exp) / var;
        out.cmh_statistic = Some(stat);
        out.cmh_excess = Some(obs - exp);
        out.cmh_p_value = Some(chi2_sf(stat, 1.0));
    }
    if r_sum > 0.0 && s_sum > 0.0 {
        let or = r_sum / s_sum;
        out.odds_ratio = Some(or);
        let v = (pr / (r_sum * r_sum) + ps_qr / (r_sum * s_sum) + qs / (s_sum * s_sum)) / 2.0;
        let (ln_or, se) = (or.ln(), v.sqrt());
        out.odds_ratio_ci = Some(Interval {
            low: (ln_or - z * se).exp(),
            high: (ln_or + z * se).exp(),
        });
        if let Some(stat) = breslow_day(&used, or) {
            out.breslow_day_statistic = Some(stat);
            if used.len() > 1 {
                out.breslow_day_p_value = Some(chi2_sf(stat, (used.len() - 1) as f64));
            }
        }
    }
    out
}

impl MantelHaenszel {
    /// One-sided CMH test: the group's hits fewer ([`Tail::Lower`]) or more
    /// ([`Tail::Upper`]) than equal odds give. The signed root of the
    /// statistic is standard normal under the null, so the p-value is half
    /// the two-sided one on the evidence's side and one minus that on the
    /// other.
    pub fn cmh_one_sided(&self, tail: Tail) -> Option<PValue> {
        let (two_sided, excess) = (self.cmh_p_value?, self.cmh_excess?);
        Some(two_sided.one_sided(match tail {
            Tail::Lower => excess < 0.0,
            Tail::Upper => excess > 0.0,
        }))
    }
}

/// The Breslow–Day statistic for a common odds ratio `or`; `None` if some
/// stratum has a degenerate expected table.
fn breslow_day(strata: &[[f64; 4]], or: f64) -> Option<f64> {
    let mut stat = 0.0;
    for &[a, b, c, d] in strata {
        let (row1, col1) = (a + b, a + c);
        let dma = d - a;
        // (1 − OR) e² + (OR (row1 + col1) + d − a) e − OR row1 col1 = 0
        let qa = 1.0 - or;
        let qb = or * (row1 + col1) + dma;
        let qc = -or * row1 * col1;
        let e = if qa.abs() < 1e-12 * qb.abs().max(1.0) {
            -qc / qb
        } else {
            (-qb + (qb * qb - 4.0 * qa * qc).sqrt()) / (2.0 * qa)
        };
        let inv_var = 1.0 / e + 1.0 / (col1 - e) + 1.0 / (row1 - e) + 1.0 / (dma + e);
        if !inv_var.is_finite() || inv_var <= 0.0 {
            return None;
        }
        stat += (a - e) * (a - e) * inv_var;
    }
    stat.is_finite().then_some(stat)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_strata_pool_to_the_single_table() {
        let one = mantel_haenszel(&[[12, 8, 5, 15]], 0.95);
        let three = mantel_haenszel(&[[12, 8, 5, 15]; 3], 0.95);
        let or = (12.0 * 15.0) / (8.0 * 5.0);
        assert!((one.odds_ratio.unwrap() - or).abs() < 1e-12);
        assert!((three.odds_ratio.unwrap() - or).abs() < 1e-12);
        // Homogeneous strata: Breslow–Day is 0.
        assert!(three.breslow_day_statistic.unwrap() < 1e-9);
        assert!(three.odds_ratio_ci.unwrap().contains(or));
    }

    #[test]
    fn one_stratum_rate_ratio_has_katz_interval() {
        let (a, b, c, d) = (12u64, 8, 5, 15);
        let one = mantel_haenszel(&[[a, b, c, d]], 0.95);
        let katz = crate::stats::proportion::katz_rate_ratio(a, a + b, c, c + d, 0.95).unwrap();
        assert!((one.rate_ratio.unwrap() - katz.estimate).abs() < 1e-12);
        let (x, y) = (one.rate_ratio_ci.unwrap(), katz.interval);
        assert!((x.low - y.low).abs() < 1e-12 && (x.high - y.high).abs() < 1e-12);
    }

    #[test]
    fn one_sided_cmh_halves_the_two_sided_test_on_its_side() {
        let r = mantel_haenszel(&[[5, 45, 20, 30], [8, 42, 18, 32]], 0.95);
        let two = r.cmh_p_value.unwrap().p;
        let lower = r.cmh_one_sided(Tail::Lower).unwrap().p;
        let upper = r.cmh_one_sided(Tail::Upper).unwrap().p;
        assert!((lower - two / 2.0).abs() < 1e-15, "{lower} {two}");
        assert!((lower + upper - 1.0).abs() < 1e-12);
    }

    #[test]
    fn empty_sides_are_dropped_and_counted() {
        let r = mantel_haenszel(&[[0, 0, 5, 5], [3, 7, 6, 4], [4, 6, 0, 0]], 0.95);
        assert_eq!((r.strata_used, r.strata_dropped), (1, 2));
    }
}
