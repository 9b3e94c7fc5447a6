//! Data drawn from the threshold test's own model: parameters from the
//! priors, searches and hits from the likelihood. With the true thresholds
//! known, the 95% credible intervals can be checked to cover them about 95%
//! of the time (calibration holds on average over the prior, which is why
//! the parameters are drawn from it).

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::CountRow;
use super::model::{Cell, ThresholdModel};
use crate::mcmc::LogDensity;

/// A simulated dataset with the thresholds that generated it.
#[derive(Debug, Clone)]
pub struct Simulated {
    /// The simulated counts, one row per (location, group) cell.
    pub rows: Vec<CountRow>,
    /// True threshold per row.
    pub thresholds: Vec<f64>,
}

/// Binomial(n, p) by summing Bernoulli draws (exact; n is small in tests).
fn binomial(rng: &mut ChaCha8Rng, n: u64, p: f64) -> u64 {
    (0..n).filter(|_| rng.random::<f64>() < p).count() as u64
}

/// Draws one dataset: `locations` × `groups` cells (group names `g0`, `g1`,
/// …, location names `loc00`, …) with stop counts drawn uniformly from
/// `stops`, parameters from the priors.
pub fn simulate(
    locations: usize,
    groups: usize,
    stops: std::ops::Range<u64>,
    seed: u64,
) -> Simulated {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cells = Vec::new();
    for location in 0..locations {
        for group in 0..groups {
            cells.push(Cell {
                location,
                group,
                stops: rng.random_range(stops.clone()),
                searches: 0,
                hits: 0,
            });
        }
    }
    let mut model = ThresholdModel {
        cells,
        groups,
        locations,
    };
    let theta = loop {
        let theta = super::prior_draw(&model, &mut rng);
        let mut grad = vec![0.0; model.dim()];
        if model.log_density(&theta, &mut grad).is_finite() {
            break theta;
        }
    };
    let states = model.cell_states(&theta).expect("finite density");
    let mut rows = Vec::with_capacity(states.len());
    for (cell, state) in model.cells.iter_mut().zip(&states) {
        cell.searches = binomial(&mut rng, cell.stops, state.search_rate);
        cell.hits = binomial(&mut rng, cell.searches, state.hit_rate);
        rows.push(CountRow {
            location: format!("loc{:02}", cell.location),
            group: format!("g{}", cell.group),
            stops: cell.stops,
            searches: cell.searches,
            hits: cell.hits,
        });
    }
    Simulated {
        rows,
        thresholds: states.iter().map(|s| s.threshold).collect(),
    }
}
