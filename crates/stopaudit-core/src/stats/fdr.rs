//! Multiple testing: Benjamini–Hochberg false discovery rate q-values.

/// Benjamini–Hochberg adjusted p-values (q-values), in the input's order
/// (Benjamini & Hochberg 1995; statsmodels `multipletests(method="fdr_bh")`):
/// sort ascending, q_(i) = min over j ≥ i of p_(j) · m / j, capped at 1.
/// NaN p-values are not counted in m and stay NaN.
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    order.sort_by(|&i, &j| p[i].total_cmp(&p[j]).then(i.cmp(&j)));
    let m = order.len() as f64;
    let mut q = vec![f64::NAN; p.len()];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * m / (rank + 1) as f64);
        q[i] = running.min(1.0);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q_values_are_monotone_in_p_and_at_least_p() {
        let p = [0.01, 0.04, 0.03, 0.005, 0.5];
        let q = benjamini_hochberg(&p);
        for i in 0..p.len() {
            assert!(q[i] >= p[i]);
            for j in 0..p.len() {
                if p[i] <= p[j] {
                    assert!(q[i] <= q[j]);
                }
            }
        }
        assert!((q[3] - 0.025).abs() < 1e-15);
        let with_nan = benjamini_hochberg(&[0.01, f64::NAN]);
        assert_eq!(with_nan[0], 0.01);
        assert!(with_nan[1].is_nan());
    }
}
