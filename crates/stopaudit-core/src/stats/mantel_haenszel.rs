//! Stratified 2×2 tables: the Mantel–Haenszel pooled odds ratio with the
//! Robins–Breslow–Greenland interval, the Cochran–Mantel–Haenszel test and
//! the Breslow–Day test of homogeneity.
//!
//! Each stratum is `[a, b, c, d]` = `[[a, b], [c, d]]`: rows are the group
//! and the reference, columns are hit and no hit.

use super::chisq::chi2_sf;
use super::{Interval, PValue, z_value};

/// The result of [`mantel_haenszel`].
#[derive(Debug, Clone, PartialEq)]
pub struct MantelHaenszel {
    /// Σ(a d / n) / Σ(b c / n); `None` when either sum is 0.
    pub odds_ratio: Option<f64>,
    /// Robins–Breslow–Greenland interval of the odds ratio; `None` with it.
    pub odds_ratio_ci: Option<Interval>,
    /// Cochran–Mantel–Haenszel statistic (no continuity correction), 1 df.
    pub cmh_statistic: Option<f64>,
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
        cmh_statistic: None,
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
    for &[a, b, c, d] in &used {
        let n = a + b + c + d;
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
    if var > 0.0 {
        let stat = (obs - exp) * (obs - exp) / var;
        out.cmh_statistic = Some(stat);
        out.cmh_p_value = Some(chi2_sf(stat, 1.0));
    }
    if r_sum > 0.0 && s_sum > 0.0 {
        let or = r_sum / s_sum;
        out.odds_ratio = Some(or);
        let v = (pr / (r_sum * r_sum) + ps_qr / (r_sum * s_sum) + qs / (s_sum * s_sum)) / 2.0;
        let z = z_value(confidence);
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
    fn empty_sides_are_dropped_and_counted() {
        let r = mantel_haenszel(&[[0, 0, 5, 5], [3, 7, 6, 4], [4, 6, 0, 0]], 0.95);
        assert_eq!((r.strata_used, r.strata_dropped), (1, 2));
    }
}
