//! The threshold test (Simoiu, Corbett-Davies & Goel 2017), fitted natively:
//! from stop, search and hit counts per (location, group), the risk
//! threshold officers appear to apply to each group before searching.
//!
//! A lower threshold for a group than for the reference group means its
//! members are searched on less evidence, a sign of discrimination that
//! the outcome test (comparing hit rates) can miss or invent through
//! infra-marginality. Like every finding of stopaudit, it is a reason for
//! review, not proof: the inference rests on the model's assumptions (one
//! risk distribution per cell, of beta form, and a threshold rule).
//!
//! [`model`] holds the likelihood and its gradient, [`crate::mcmc`] the
//! sampler, [`simulate`] data drawn from the model itself (for checking that
//! the intervals cover).

pub mod model;
pub mod simulate;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::mcmc::diagnostics::{quantile, summarise, summarise_values};
use crate::mcmc::{self, ChainDraws, NutsSettings, standard_normal};
use model::{Cell, ThresholdModel};

/// Counts of one (location, group) cell, by name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountRow {
    /// Location name (a value of the location field).
    pub location: String,
    /// Group name.
    pub group: String,
    /// Stops in the cell.
    pub stops: u64,
    /// Searches among those stops.
    pub searches: u64,
    /// Searches that found something (the hits).
    pub hits: u64,
}

/// How the model is fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FitSettings {
    /// Number of chains, run in parallel.
    pub chains: usize,
    /// Warmup (adaptation) iterations per chain, not kept.
    pub warmup: usize,
    /// Draws kept per chain after warmup.
    pub draws: usize,
    /// Seed of the random streams: the same seed gives the same draws.
    pub seed: u64,
    /// Target acceptance statistic (the paper used 0.9).
    pub target_accept: f64,
    /// Largest tree depth of the sampler (at most 2^depth leapfrog steps per draw).
    pub max_depth: u32,
    /// Probability inside the central credible intervals (the run's
    /// `--confidence`; 0.95 by default).
    pub interval: f64,
}

impl Default for FitSettings {
    fn default() -> Self {
        FitSettings {
            chains: 4,
            warmup: 1000,
            draws: 1000,
            seed: 1,
            target_accept: 0.9,
            max_depth: 10,
            interval: 0.95,
        }
    }
}

/// Why the counts cannot be fitted.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InputError {
    /// A count row that cannot be: more searches than stops, or more hits than searches.
    #[error("location {location:?}, group {group:?}: {what}")]
    Inconsistent {
        /// The row's location.
        location: String,
        /// The row's group.
        group: String,
        /// What is wrong with the row.
        what: String,
    },
    /// The reference group (named) has no stops in the counts.
    #[error("the reference group {0:?} has no stops in the counts")]
    NoReference(String),
    /// Fewer than two groups have stops (the number that do).
    #[error(
        "the counts hold {0} group(s); the threshold test needs the reference and at least one other group"
    )]
    TooFewGroups(usize),
    /// No cell has a search.
    #[error("the counts have no searches at all; the threshold test needs searches and hits")]
    NoSearches,
    /// More (location, group) cells than the sampler is run on (the number).
    #[error(
        "not fitted: the counts hold {0} (location, group) cells, more than the {MAX_CELLS} this test is run on (its dense mass matrix and draws grow with the square of the cells); use a coarser location field"
    )]
    TooManyCells(usize),
    /// Sampling failed (the sampler's message).
    #[error("sampling failed: {0}")]
    Sampling(String),
}

/// One cell's inferred threshold.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CellFit {
    /// Location name.
    pub location: String,
    /// Group name.
    pub group: String,
    /// Stops in the cell.
    pub stops: u64,
    /// Searches in the cell.
    pub searches: u64,
    /// Hits (searches that found something) in the cell.
    pub hits: u64,
    /// Posterior mean of the threshold.
    pub threshold: f64,
    /// Central credible interval ([`FitSettings::interval`], 95% by default).
    pub threshold_ci: [f64; 2],
    /// Posterior mean of the model's search rate (compare with searches/stops).
    pub predicted_search_rate: f64,
    /// Posterior mean of the model's hit rate (compare with hits/searches).
    pub predicted_hit_rate: f64,
    /// R-hat of the threshold over the chains.
    pub rhat: f64,
    /// Bulk effective sample size of the threshold.
    pub ess_bulk: f64,
}

/// One group's stop-weighted average threshold.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GroupFit {
    /// Group name.
    pub group: String,
    /// Whether this is the reference group.
    pub is_reference: bool,
    /// `null` when suppressed in published output.
    pub stops: Option<u64>,
    /// Posterior mean of the average threshold over locations, each weighted
    /// by the location's stops of all groups (as in the paper).
    pub threshold: f64,
    /// Central credible interval of the average threshold ([`FitSettings::interval`]).
    pub threshold_ci: [f64; 2],
    /// Posterior mean of (this group's − the reference group's) average
    /// threshold; null for the reference. Negative: searched on less evidence.
    pub difference_from_reference: Option<f64>,
    /// Central credible interval of the difference; `None` for the reference.
    pub difference_ci: Option<[f64; 2]>,
    /// Posterior probability that the difference is below zero.
    pub probability_lower: Option<f64>,
}

/// How well the sampler did and how well the model fits.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FitDiagnostics {
    /// Number of chains.
    pub chains: usize,
    /// Warmup iterations per chain.
    pub warmup: usize,
    /// Draws kept per chain.
    pub draws_per_chain: usize,
    /// Seed of the random streams.
    pub seed: u64,
    /// Target acceptance statistic of the step-size adaptation.
    pub target_accept: f64,
    /// Probability inside the credible intervals (`threshold_ci`, `difference_ci`).
    pub credible_level: f64,
    /// Largest R-hat over every cell and group threshold.
    pub max_rhat: f64,
    /// Smallest bulk and tail effective sample sizes over those thresholds.
    pub min_ess_bulk: f64,
    /// Smallest tail effective sample size over those thresholds.
    pub min_ess_tail: f64,
    /// Largest R-hat over every model parameter.
    pub max_rhat_parameters: f64,
    /// Divergent transitions after warmup, all chains.
    pub divergences: usize,
    /// Transitions after warmup that stopped at the maximum tree depth, all chains.
    pub max_depth_hits: usize,
    /// Leapfrog steps of all chains, warmup included: the work done.
    pub leapfrog_steps: u64,
    /// Adapted step size, per chain.
    pub step_sizes: Vec<f64>,
    /// Posterior predictive check: root mean square of (predicted − observed)
    /// search rate over cells, weighted by stops.
    pub search_rate_rmse: f64,
    /// The same for hit rates, weighted by searches.
    pub hit_rate_rmse: f64,
    /// R-hat < 1.01 for every threshold and parameter. Divergent transitions
    /// are reported separately: a few mean parts of the posterior may be
    /// poorly explored (check by refitting with a higher target acceptance).
    pub converged: bool,
}

/// The fitted threshold test.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThresholdFit {
    /// Name of the reference group.
    pub reference: String,
    /// One per (location, group) cell with stops, by location (most stops first) and group name.
    pub cells: Vec<CellFit>,
    /// One per group, by name.
    pub groups: Vec<GroupFit>,
    /// How the sampler did and how the model fits.
    pub diagnostics: FitDiagnostics,
}

/// At most this many (location, group) cells are fitted. The sampler's
/// dense mass matrix has (cells + 2 × locations)² entries per chain and
/// the kept draws chains × draws × cells: 2,500 cells (500 locations × 5
/// groups, 3,500 dimensions) come to about 0.4 GB of mass matrices for four
/// chains and 0.35 GB of draws; 10,000 cells would need over 4 GB and hours.
pub const MAX_CELLS: usize = 2_500;

/// The counts as model cells, with the location and group names by index:
/// locations from most to fewest stops (ties by name; the first, the largest,
/// is the one whose location effects are pinned to 0, as in the published
/// fits), groups by name, duplicates summed, cells without stops left out.
pub fn index_counts(
    rows: &[CountRow],
    reference: &str,
) -> Result<(ThresholdModel, Vec<String>, Vec<String>), InputError> {
    let mut merged: BTreeMap<(&str, &str), (u64, u64, u64)> = BTreeMap::new();
    for row in rows {
        let bad = |what: &str| InputError::Inconsistent {
            location: row.location.clone(),
            group: row.group.clone(),
            what: what.to_owned(),
        };
        if row.searches > row.stops {
            return Err(bad("more searches than stops"));
        }
        if row.hits > row.searches {
            return Err(bad("more hits than searches"));
        }
        let e = merged
            .entry((row.location.as_str(), row.group.as_str()))
            .or_default();
        e.0 += row.stops;
        e.1 += row.searches;
        e.2 += row.hits;
    }
    merged.retain(|_, c| c.0 > 0);
    let mut location_stops: BTreeMap<&str, u64> = BTreeMap::new();
    for (&(l, _), c) in &merged {
        *location_stops.entry(l).or_default() += c.0;
    }
    let mut locations: Vec<(&str, u64)> = location_stops.into_iter().collect();
    locations.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let locations: Vec<String> = locations.into_iter().map(|(l, _)| l.to_owned()).collect();
    let groups: Vec<String> = merged
        .keys()
        .map(|k| k.1.to_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if !groups.iter().any(|g| g == reference) {
        return Err(InputError::NoReference(reference.to_owned()));
    }
    if groups.len() < 2 {
        return Err(InputError::TooFewGroups(groups.len()));
    }
    if merged.values().all(|c| c.1 == 0) {
        return Err(InputError::NoSearches);
    }
    if merged.len() > MAX_CELLS {
        return Err(InputError::TooManyCells(merged.len()));
    }
    let position =
        |names: &[String], name: &str| names.iter().position(|n| n == name).expect("indexed");
    let mut cells: Vec<Cell> = merged
        .iter()
        .map(|(&(l, g), &(stops, searches, hits))| Cell {
            location: position(&locations, l),
            group: position(&groups, g),
            stops,
            searches,
            hits,
        })
        .collect();
    cells.sort_by_key(|c| (c.location, c.group));
    let model = ThresholdModel {
        cells,
        groups: groups.len(),
        locations: locations.len(),
    };
    Ok((model, locations, groups))
}

/// A starting point drawn from the priors (overdispersed relative to the
/// posterior, as R-hat needs).
fn prior_draw(model: &ThresholdModel, rng: &mut rand_chacha::ChaCha8Rng) -> Vec<f64> {
    let l = model.layout();
    let mut theta = vec![0.0; l.dim];
    for r in 0..model.groups {
        theta[l.ln_sigma + r] = (0.25 * standard_normal(rng)).abs().max(1e-3).ln();
        theta[l.t_r + r] = -2.0 + standard_normal(rng);
        theta[l.phi_r + r] = -3.5 + 0.25 * standard_normal(rng);
        theta[l.lambda_r + r] = 2.0 + 0.5 * standard_normal(rng);
    }
    for d in 0..model.locations.saturating_sub(1) {
        theta[l.phi_d + d] = 0.25 * standard_normal(rng);
        theta[l.lambda_d + d] = 0.5 * standard_normal(rng);
    }
    for i in 0..model.cells.len() {
        theta[l.z + i] = standard_normal(rng);
    }
    theta
}

/// Fits the threshold test to counts per (location, group).
pub fn fit(
    rows: &[CountRow],
    reference: &str,
    settings: &FitSettings,
) -> Result<ThresholdFit, InputError> {
    let (model, locations, groups) = index_counts(rows, reference)?;
    let nuts = NutsSettings {
        warmup: settings.warmup,
        draws: settings.draws,
        target_accept: settings.target_accept,
        max_depth: settings.max_depth,
        metric: mcmc::MetricKind::Dense,
    };
    let chains = mcmc::sample(&model, &nuts, settings.chains, settings.seed, |rng| {
        prior_draw(&model, rng)
    })
    .map_err(|e| InputError::Sampling(e.to_string()))?;
    Ok(summarise_fit(
        &model, &chains, &locations, &groups, reference, settings,
    ))
}

/// Per draw and chain: every cell's state and every group's average threshold.
struct Derived {
    /// [chain][draw][cell] thresholds, search rates, hit rates.
    cells: Vec<Vec<Vec<model::CellState>>>,
    /// [chain][draw][group] average thresholds.
    groups: Vec<Vec<Vec<f64>>>,
}

fn derive(model: &ThresholdModel, chains: &[ChainDraws]) -> Derived {
    let mut location_stops = vec![0.0; model.locations];
    for c in &model.cells {
        location_stops[c.location] += c.stops as f64;
    }
    let mut weight = vec![0.0; model.groups];
    for c in &model.cells {
        weight[c.group] += location_stops[c.location];
    }
    let mut cells = Vec::with_capacity(chains.len());
    let mut groups = Vec::with_capacity(chains.len());
    for chain in chains {
        let mut chain_cells = Vec::with_capacity(chain.len());
        let mut chain_groups = Vec::with_capacity(chain.len());
        for i in 0..chain.len() {
            // A kept draw always has a finite density, so its rates exist.
            let states = model.cell_states(chain.draw(i)).unwrap_or_else(|| {
                vec![
                    model::CellState {
                        threshold: f64::NAN,
                        search_rate: f64::NAN,
                        hit_rate: f64::NAN,
                    };
                    model.cells.len()
                ]
            });
            let mut avg = vec![0.0; model.groups];
            for (c, s) in model.cells.iter().zip(&states) {
                avg[c.group] += s.threshold * location_stops[c.location];
            }
            for (a, w) in avg.iter_mut().zip(&weight) {
                *a /= w;
            }
            chain_cells.push(states);
            chain_groups.push(avg);
        }
        cells.push(chain_cells);
        groups.push(chain_groups);
    }
    Derived { cells, groups }
}

fn per_chain(d: &[Vec<Vec<f64>>], f: impl Fn(&[f64]) -> f64) -> Vec<Vec<f64>> {
    d.iter().map(|c| c.iter().map(|x| f(x)).collect()).collect()
}

/// The central credible interval of draws given per chain, holding `level`
/// of the pooled draws.
fn credible_interval(chains: &[Vec<f64>], level: f64) -> [f64; 2] {
    let mut pooled: Vec<f64> = chains.iter().flatten().copied().collect();
    pooled.sort_by(f64::total_cmp);
    central(&pooled, level)
}

/// The central interval holding `level` of sorted draws. Levels are given
/// in decimals: the tail is rounded to 12 of them, so that 0.95 asks for
/// exactly the quantiles 0.025 and 0.975 ((1 - 0.95) / 2 is 0.025000000000000022
/// in binary floating point).
fn central(sorted: &[f64], level: f64) -> [f64; 2] {
    const SCALE: f64 = 1e12;
    let tail = ((1.0 - level) / 2.0 * SCALE).round();
    [
        quantile(sorted, tail / SCALE),
        quantile(sorted, (SCALE - tail) / SCALE),
    ]
}

fn summarise_fit(
    model: &ThresholdModel,
    chains: &[ChainDraws],
    locations: &[String],
    groups: &[String],
    reference: &str,
    settings: &FitSettings,
) -> ThresholdFit {
    let derived = derive(model, chains);
    let reference_index = groups.iter().position(|g| g == reference).expect("checked");
    let mut threshold_summaries = Vec::new();
    let mut cells = Vec::with_capacity(model.cells.len());
    for (i, c) in model.cells.iter().enumerate() {
        let thresholds: Vec<Vec<f64>> = derived
            .cells
            .iter()
            .map(|ch| ch.iter().map(|d| d[i].threshold).collect())
            .collect();
        let s = summarise_values(&thresholds);
        let mean_of = |f: &dyn Fn(&model::CellState) -> f64| {
            let v: Vec<f64> = derived.cells.iter().flatten().map(|d| f(&d[i])).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        cells.push(CellFit {
            location: locations[c.location].clone(),
            group: groups[c.group].clone(),
            stops: c.stops,
            searches: c.searches,
            hits: c.hits,
            threshold: s.mean,
            threshold_ci: credible_interval(&thresholds, settings.interval),
            predicted_search_rate: mean_of(&|d| d.search_rate),
            predicted_hit_rate: mean_of(&|d| d.hit_rate),
            rhat: s.rhat,
            ess_bulk: s.ess_bulk,
        });
        threshold_summaries.push(s);
    }
    let mut group_fits = Vec::with_capacity(groups.len());
    for (g, name) in groups.iter().enumerate() {
        let group_thresholds = per_chain(&derived.groups, |d| d[g]);
        let s = summarise_values(&group_thresholds);
        threshold_summaries.push(s);
        let (difference, difference_ci, probability_lower) = if g == reference_index {
            (None, None, None)
        } else {
            let diffs = per_chain(&derived.groups, |d| d[g] - d[reference_index]);
            let mut pooled: Vec<f64> = diffs.iter().flatten().copied().collect();
            pooled.sort_by(f64::total_cmp);
            let n = pooled.len() as f64;
            let below = pooled.iter().filter(|&&d| d < 0.0).count() as f64 / n;
            (
                Some(pooled.iter().sum::<f64>() / n),
                Some(central(&pooled, settings.interval)),
                Some(below),
            )
        };
        group_fits.push(GroupFit {
            group: name.clone(),
            is_reference: g == reference_index,
            stops: Some(
                model
                    .cells
                    .iter()
                    .filter(|c| c.group == g)
                    .map(|c| c.stops)
                    .sum(),
            ),
            threshold: s.mean,
            threshold_ci: credible_interval(&group_thresholds, settings.interval),
            difference_from_reference: difference,
            difference_ci,
            probability_lower,
        });
    }
    let max_rhat_parameters = (0..model.layout().dim)
        .map(|k| summarise(chains, |d| d[k]).rhat)
        .fold(0.0, f64::max);
    let (mut se_search, mut w_search, mut se_hit, mut w_hit) = (0.0, 0.0, 0.0, 0.0);
    for c in &cells {
        let (n, s) = (c.stops as f64, c.searches as f64);
        se_search += n * (c.predicted_search_rate - s / n).powi(2);
        w_search += n;
        if c.searches > 0 {
            se_hit += s * (c.predicted_hit_rate - c.hits as f64 / s).powi(2);
            w_hit += s;
        }
    }
    let max_rhat = threshold_summaries
        .iter()
        .map(|s| s.rhat)
        .fold(0.0, f64::max);
    let divergences = chains.iter().map(|c| c.divergences).sum();
    let diagnostics = FitDiagnostics {
        chains: settings.chains,
        warmup: settings.warmup,
        draws_per_chain: settings.draws,
        seed: settings.seed,
        target_accept: settings.target_accept,
        credible_level: settings.interval,
        max_rhat,
        min_ess_bulk: threshold_summaries
            .iter()
            .map(|s| s.ess_bulk)
            .fold(f64::INFINITY, f64::min),
        min_ess_tail: threshold_summaries
            .iter()
            .map(|s| s.ess_tail)
            .fold(f64::INFINITY, f64::min),
        max_rhat_parameters,
        divergences,
        max_depth_hits: chains.iter().map(|c| c.max_depth_hits).sum(),
        leapfrog_steps: chains
            .iter()
            .map(|c| c.warmup_leapfrog_steps + c.leapfrog_steps)
            .sum(),
        step_sizes: chains.iter().map(|c| c.step_size).collect(),
        search_rate_rmse: (se_search / w_search).sqrt(),
        hit_rate_rmse: if w_hit > 0.0 {
            (se_hit / w_hit).sqrt()
        } else {
            f64::NAN
        },
        converged: max_rhat < 1.01 && max_rhat_parameters < 1.01,
    };
    ThresholdFit {
        reference: reference.to_owned(),
        cells,
        groups: group_fits,
        diagnostics,
    }
}
