//! Pearson's chi-square test of independence for an r×c table, Cramér's V
//! and adjusted standardized residuals; the chi-square tail in log space.

use statrs::function::gamma::ln_gamma;

use super::PValue;

/// ln Q(a, x), the log of the regularized upper incomplete gamma function.
///
/// Series for P(a, x) when x < a + 1 (then Q = 1 − P is not small), else
/// the continued fraction for Q evaluated with the modified Lentz method,
/// with the prefactor e^(−x) x^a / Γ(a) kept in log space (Numerical
/// Recipes §6.2), so tails far below 1e-308 keep their magnitude.
pub(crate) fn ln_gamma_q(a: f64, x: f64) -> f64 {
    assert!(a > 0.0, "shape must be positive");
    if x <= 0.0 {
        return 0.0;
    }
    let ln_prefix = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) = e^(−x) x^a / Γ(a + 1) · Σ x^n / ((a+1)…(a+n))
        let mut term = 1.0 / a;
        let mut sum = term;
        let mut ap = a;
        for _ in 0..10_000 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-17 {
                break;
            }
        }
        let p = (ln_prefix + sum.ln()).exp();
        return (-p).ln_1p();
    }
    let tiny = 1e-300;
    let mut b = x + 1.0 - a;
    let mut c = 1.0 / tiny;
    let mut d = 1.0 / b;
    let mut h = d;
    for i in 1..10_000 {
        let an = -(i as f64) * (i as f64 - a);
        b += 2.0;
        d = an * d + b;
        if d.abs() < tiny {
            d = tiny;
        }
        c = b + an / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = d * c;
        h *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    ln_prefix + h.ln()
}

/// Upper tail of the chi-square distribution, P(χ²_df ≥ x).
pub(crate) fn chi2_sf(x: f64, df: f64) -> PValue {
    PValue::from_ln(ln_gamma_q(df / 2.0, x / 2.0))
}

/// The result of [`pearson_chi_square`].
#[derive(Debug, Clone, PartialEq)]
pub struct ChiSquare {
    /// Pearson's chi-square statistic (no continuity correction).
    pub statistic: f64,
    /// Degrees of freedom: (rows used − 1) · (columns used − 1).
    pub df: u64,
    /// Upper-tail p-value of the statistic.
    pub p_value: PValue,
    /// √(χ² / (n · (min(r, c) − 1))), over the rows and columns used.
    pub cramers_v: f64,
    /// (O − E) / √(E (1 − row/n) (1 − col/n)) per cell, in the input's shape;
    /// `None` for cells of rows or columns left out for being empty.
    pub adjusted_residuals: Vec<Vec<Option<f64>>>,
    /// Rows and columns left out because their total was 0.
    pub rows_dropped: usize,
    /// Columns left out because their total was 0.
    pub columns_dropped: usize,
}

/// Pearson's chi-square test of independence without continuity correction
/// (scipy `chi2_contingency(table, correction=False)`), with Cramér's V and
/// adjusted standardized residuals (Haberman 1973).
///
/// Rows and columns whose total is 0 carry no information and are left out
/// (scipy refuses such tables). `None` if fewer than two rows or columns remain.
pub fn pearson_chi_square(table: &[Vec<u64>]) -> Option<ChiSquare> {
    let ncols = table.first().map_or(0, Vec::len);
    assert!(table.iter().all(|r| r.len() == ncols), "ragged table");
    let row_tot: Vec<f64> = table.iter().map(|r| r.iter().sum::<u64>() as f64).collect();
    let col_tot: Vec<f64> = (0..ncols)
        .map(|j| table.iter().map(|r| r[j]).sum::<u64>() as f64)
        .collect();
    let rows: Vec<usize> = (0..table.len()).filter(|&i| row_tot[i] > 0.0).collect();
    let cols: Vec<usize> = (0..ncols).filter(|&j| col_tot[j] > 0.0).collect();
    if rows.len() < 2 || cols.len() < 2 {
        return None;
    }
    let n: f64 = row_tot.iter().sum();
    let mut statistic = 0.0;
    let mut adjusted_residuals = vec![vec![None; ncols]; table.len()];
    for &i in &rows {
        for &j in &cols {
            let e = row_tot[i] * col_tot[j] / n;
            let o = table[i][j] as f64;
            statistic += (o - e) * (o - e) / e;
            let v = e * (1.0 - row_tot[i] / n) * (1.0 - col_tot[j] / n);
            adjusted_residuals[i][j] = Some(if v > 0.0 { (o - e) / v.sqrt() } else { 0.0 });
        }
    }
    let df = ((rows.len() - 1) * (cols.len() - 1)) as u64;
    let k = rows.len().min(cols.len()) as f64;
    Some(ChiSquare {
        statistic,
        df,
        p_value: chi2_sf(statistic, df as f64),
        cramers_v: (statistic / (n * (k - 1.0))).sqrt(),
        adjusted_residuals,
        rows_dropped: table.len() - rows.len(),
        columns_dropped: ncols - cols.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi2_tail_known_values() {
        // P(χ²_1 ≥ 3.841458820694124) = 0.05
        assert!((chi2_sf(3.841458820694124, 1.0).p - 0.05).abs() < 1e-13);
        // P(χ²_2 ≥ x) = e^(−x/2) exactly
        for x in [0.5, 3.0, 40.0, 2000.0] {
            let got = chi2_sf(x, 2.0);
            assert!(
                (got.ln_p - (-x / 2.0)).abs() < 1e-11 * (1.0 + x),
                "{x}: {got:?}"
            );
        }
    }

    #[test]
    fn empty_rows_and_columns_are_left_out() {
        let t = vec![vec![10, 0, 20], vec![0, 0, 0], vec![30, 0, 5]];
        let r = pearson_chi_square(&t).unwrap();
        assert_eq!((r.df, r.rows_dropped, r.columns_dropped), (1, 1, 1));
        assert_eq!(r.adjusted_residuals[1][0], None);
        assert!(pearson_chi_square(&[vec![1, 2]]).is_none());
    }
}
