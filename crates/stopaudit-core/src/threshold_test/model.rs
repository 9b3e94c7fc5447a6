//! The threshold test's likelihood and priors (Simoiu, Corbett-Davies & Goel
//! 2017; Pierson et al. 2020, the Stanford Open Policing Project's
//! `model_flat.stan`), with a hand-derived gradient.
//!
//! Per cell i (location d, group r) with n stops, s searches and h hits:
//!
//! - risk signal ~ Beta(λφ, λ(1−φ)), φ = logit⁻¹(φ_r + φ_d), λ = exp(λ_r + λ_d),
//!   with φ_d = λ_d = 0 for the first location;
//! - threshold t = logit⁻¹(t_r + σ_r z_i);
//! - search rate = P(risk > t) = 1 − I_t(a, b), hit rate = E[risk | risk > t]
//!   = (1 − I_t(a+1, b)) / (1 − I_t(a, b)) · a/(a+b), with a = λφ, b = λ(1−φ);
//! - s ~ Binomial(n, search rate), h ~ Binomial(s, hit rate);
//! - priors σ_r ~ N⁺(0, 0.25), t_r ~ N(−2, 1), z_i ~ N(0, 1),
//!   φ_r ~ N(−3.5, 0.25), λ_r ~ N(2, 0.5), φ_d ~ N(0, 0.25), λ_d ~ N(0, 0.5).
//!
//! Sampling is over an unconstrained vector: ln σ_r (with its Jacobian),
//! then the rest as they are. The identity I_t(a+1, b) = I_t(a, b) −
//! t^a (1−t)^b / (a B(a, b)) gives the hit rate from the same incomplete beta
//! evaluation as the search rate.

use crate::mcmc::LogDensity;
use crate::stats::incomplete_beta::incomplete_beta;
use crate::stats::logistic;

/// One (location, group) cell of counts, by index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cell {
    /// Location index; location 0 carries no location effects (φ_d = λ_d = 0).
    pub location: usize,
    /// Group index.
    pub group: usize,
    /// Stops in the cell.
    pub stops: u64,
    /// Searches among those stops (at most `stops`).
    pub searches: u64,
    /// Searches that found contraband (at most `searches`).
    pub hits: u64,
}

/// The model over a fixed set of cells.
#[derive(Debug, Clone)]
pub struct ThresholdModel {
    /// The cells of counts the likelihood runs over.
    pub cells: Vec<Cell>,
    /// Number of groups; `Cell::group` is below it.
    pub groups: usize,
    /// Number of locations; `Cell::location` is below it.
    pub locations: usize,
}

const SIGMA_T_SD: f64 = 0.25;
const T_R_MEAN: f64 = -2.0;
const T_R_SD: f64 = 1.0;
const PHI_R_MEAN: f64 = -3.5;
const PHI_R_SD: f64 = 0.25;
const LAMBDA_R_MEAN: f64 = 2.0;
const LAMBDA_R_SD: f64 = 0.5;
const PHI_D_SD: f64 = 0.25;
const LAMBDA_D_SD: f64 = 0.5;

/// Offsets of the parameter blocks in the unconstrained vector.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// Start of ln σ_r, the log spread of the group's cell thresholds (one per group).
    pub ln_sigma: usize,
    /// Start of t_r, the group's threshold on the logit scale (one per group).
    pub t_r: usize,
    /// Start of z_i, the cell's standardised threshold deviation (one per cell).
    pub z: usize,
    /// Start of φ_r, the group's mean risk on the logit scale (one per group).
    pub phi_r: usize,
    /// Start of φ_d, the location's shift of φ_r (one per location but the first).
    pub phi_d: usize,
    /// Start of λ_r, the group's log concentration of risk (one per group).
    pub lambda_r: usize,
    /// Start of λ_d, the location's shift of λ_r (one per location but the first).
    pub lambda_d: usize,
    /// Length of the whole vector (the model's dimension).
    pub dim: usize,
}

/// A cell's model quantities at one parameter value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct CellState {
    /// The threshold t, a probability of finding contraband (0..1).
    pub threshold: f64,
    /// Modelled search rate: P(risk > t).
    pub search_rate: f64,
    /// Modelled hit rate: E[risk | risk > t].
    pub hit_rate: f64,
}

/// The search and hit rates at threshold t for Beta(a, b) risk, with the
/// derivatives the gradient needs.
struct Rates {
    search: f64,
    not_search: f64,
    hit: f64,
    /// ∂ search / ∂(t, a, b).
    d_search: [f64; 3],
    /// ∂ ln hit / ∂(t, a, b).
    d_ln_hit: [f64; 3],
}

fn rates(t: f64, a: f64, b: f64) -> Option<Rates> {
    let ib = incomplete_beta(t, a, b)?;
    let search = ib.complement;
    let front = ib.ln_front.exp();
    // 1 − I_t(a+1, b): the mass above t of the size-biased distribution.
    let above = search + front;
    let hit = above / search * a / (a + b);
    if !(search > 0.0 && hit > 0.0 && hit.is_finite()) {
        return None;
    }
    let d_search = [-ib.d_x, -ib.d_a, -ib.d_b];
    let d_front = [
        front * ib.ln_front_d_x,
        front * ib.ln_front_d_a,
        front * ib.ln_front_d_b,
    ];
    let shape = [0.0, 1.0 / a - 1.0 / (a + b), -1.0 / (a + b)];
    let mut d_ln_hit = [0.0; 3];
    for k in 0..3 {
        d_ln_hit[k] = (d_search[k] + d_front[k]) / above - d_search[k] / search + shape[k];
    }
    Some(Rates {
        search,
        not_search: ib.value,
        hit,
        d_search,
        d_ln_hit,
    })
}

/// A normal log density term and its derivative.
fn normal(x: f64, mean: f64, sd: f64) -> (f64, f64) {
    let z = (x - mean) / sd;
    (-0.5 * z * z, -z / sd)
}

impl ThresholdModel {
    /// Where each parameter block starts in the unconstrained vector.
    pub fn layout(&self) -> Layout {
        let (r, n, d) = (self.groups, self.cells.len(), self.locations);
        let free_d = d.saturating_sub(1);
        Layout {
            ln_sigma: 0,
            t_r: r,
            z: 2 * r,
            phi_r: 2 * r + n,
            phi_d: 3 * r + n,
            lambda_r: 3 * r + n + free_d,
            lambda_d: 4 * r + n + free_d,
            dim: 4 * r + n + 2 * free_d,
        }
    }

    fn location_effect(theta: &[f64], offset: usize, location: usize) -> f64 {
        if location == 0 {
            0.0
        } else {
            theta[offset + location - 1]
        }
    }

    /// Threshold, search rate and hit rate of every cell at `theta`; `None`
    /// where the rates cannot be evaluated.
    pub(crate) fn cell_states(&self, theta: &[f64]) -> Option<Vec<CellState>> {
        let l = self.layout();
        self.cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let (t, a, b) = self.cell_parameters(theta, &l, i, c);
                let r = rates(t, a, b)?;
                Some(CellState {
                    threshold: t,
                    search_rate: r.search,
                    hit_rate: r.hit,
                })
            })
            .collect()
    }

    fn cell_parameters(&self, theta: &[f64], l: &Layout, i: usize, c: &Cell) -> (f64, f64, f64) {
        let sigma = theta[l.ln_sigma + c.group].exp();
        let t = logistic(theta[l.t_r + c.group] + theta[l.z + i] * sigma);
        let phi =
            logistic(theta[l.phi_r + c.group] + Self::location_effect(theta, l.phi_d, c.location));
        let lambda = (theta[l.lambda_r + c.group]
            + Self::location_effect(theta, l.lambda_d, c.location))
        .exp();
        (t, lambda * phi, lambda * (1.0 - phi))
    }
}

impl LogDensity for ThresholdModel {
    fn dim(&self) -> usize {
        self.layout().dim
    }

    fn log_density(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let l = self.layout();
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut lp = 0.0;
        let mut prior = |index: usize, mean: f64, sd: f64, lp: &mut f64| {
            let (v, d) = normal(theta[index], mean, sd);
            *lp += v;
            grad[index] += d;
        };
        for r in 0..self.groups {
            prior(l.t_r + r, T_R_MEAN, T_R_SD, &mut lp);
            prior(l.phi_r + r, PHI_R_MEAN, PHI_R_SD, &mut lp);
            prior(l.lambda_r + r, LAMBDA_R_MEAN, LAMBDA_R_SD, &mut lp);
        }
        for d in 0..self.locations.saturating_sub(1) {
            prior(l.phi_d + d, 0.0, PHI_D_SD, &mut lp);
            prior(l.lambda_d + d, 0.0, LAMBDA_D_SD, &mut lp);
        }
        for i in 0..self.cells.len() {
            prior(l.z + i, 0.0, 1.0, &mut lp);
        }
        for r in 0..self.groups {
            // σ = exp(η) ~ N⁺(0, 0.25), plus the Jacobian η.
            let eta = theta[l.ln_sigma + r];
            let sigma = eta.exp();
            let (v, d) = normal(sigma, 0.0, SIGMA_T_SD);
            lp += v + eta;
            grad[l.ln_sigma + r] += d * sigma + 1.0;
        }
        for (i, c) in self.cells.iter().enumerate() {
            let (t, a, b) = self.cell_parameters(theta, &l, i, c);
            let Some(r) = rates(t, a, b) else {
                return f64::NEG_INFINITY;
            };
            let (n, s, h) = (c.stops as f64, c.searches as f64, c.hits as f64);
            // Binomial log likelihoods (constants dropped); a zero count
            // contributes nothing even where its log is −∞.
            let term = |k: f64, ln: f64| if k > 0.0 { k * ln } else { 0.0 };
            lp += term(s, r.search.ln())
                + term(n - s, r.not_search.ln())
                + term(h, r.hit.ln())
                + term(s - h, (-r.hit).ln_1p());
            let c_search = s / r.search - if n > s { (n - s) / r.not_search } else { 0.0 };
            let c_ln_hit = h - if s > h {
                (s - h) * r.hit / (1.0 - r.hit)
            } else {
                0.0
            };
            let d: [f64; 3] =
                std::array::from_fn(|k| c_search * r.d_search[k] + c_ln_hit * r.d_ln_hit[k]);
            // Chain rule to the parameters.
            let sigma = theta[l.ln_sigma + c.group].exp();
            let d_u = d[0] * t * (1.0 - t);
            grad[l.t_r + c.group] += d_u;
            grad[l.z + i] += d_u * sigma;
            grad[l.ln_sigma + c.group] += d_u * theta[l.z + i] * sigma;
            let lambda = a + b;
            let phi = a / lambda;
            let d_p = (d[1] - d[2]) * lambda * phi * (1.0 - phi);
            let d_l = d[1] * a + d[2] * b;
            grad[l.phi_r + c.group] += d_p;
            grad[l.lambda_r + c.group] += d_l;
            if c.location > 0 {
                grad[l.phi_d + c.location - 1] += d_p;
                grad[l.lambda_d + c.location - 1] += d_l;
            }
        }
        if lp.is_finite() {
            lp
        } else {
            f64::NEG_INFINITY
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ThresholdModel {
        let cell = |location, group, stops, searches, hits| Cell {
            location,
            group,
            stops,
            searches,
            hits,
        };
        ThresholdModel {
            cells: vec![
                cell(0, 0, 30_000, 400, 150),
                cell(0, 1, 8_000, 280, 70),
                cell(1, 0, 12_000, 100, 40),
                cell(1, 1, 500, 20, 20),
                cell(2, 0, 900, 0, 0),
            ],
            groups: 2,
            locations: 3,
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let m = model();
        let dim = m.dim();
        assert_eq!(dim, 4 * 2 + 5 + 2 * 2);
        let theta: Vec<f64> = (0..dim)
            .map(|i| 0.3 * ((i as f64 * 1.7).sin()) + if i < 2 { -1.5 } else { 0.0 })
            .collect();
        let mut theta = theta;
        let l = m.layout();
        for r in 0..2 {
            theta[l.t_r + r] = -1.2;
            theta[l.phi_r + r] = -3.0;
            theta[l.lambda_r + r] = 2.0;
        }
        let mut grad = vec![0.0; dim];
        let lp = m.log_density(&theta, &mut grad);
        assert!(lp.is_finite());
        let mut scratch = vec![0.0; dim];
        for k in 0..dim {
            let h = 1e-5;
            let mut up = theta.clone();
            up[k] += h;
            let mut down = theta.clone();
            down[k] -= h;
            let fd =
                (m.log_density(&up, &mut scratch) - m.log_density(&down, &mut scratch)) / (2.0 * h);
            assert!(
                (grad[k] - fd).abs() <= 1e-5 * fd.abs().max(1.0),
                "∂/∂θ[{k}]: {} vs {fd}",
                grad[k]
            );
        }
    }

    #[test]
    fn rates_are_the_beta_tail_and_its_conditional_mean() {
        // Beta(1, 1) is uniform: P(X > t) = 1 − t, E[X | X > t] = (1 + t)/2.
        let r = rates(0.3, 1.0, 1.0).unwrap();
        assert!((r.search - 0.7).abs() < 1e-12);
        assert!((r.hit - 0.65).abs() < 1e-12);
        // Beta(2, 1) has density 2x: P(X > t) = 1 − t², E[X | X > t] = 2(1 − t³)/(3(1 − t²)).
        let t: f64 = 0.4;
        let r = rates(t, 2.0, 1.0).unwrap();
        assert!((r.search - (1.0 - t * t)).abs() < 1e-12);
        assert!((r.hit - 2.0 * (1.0 - t.powi(3)) / (3.0 * (1.0 - t * t))).abs() < 1e-12);
    }
}
