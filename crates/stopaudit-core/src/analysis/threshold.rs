//! The threshold test on the analysed stops: per group attribute, stops,
//! searches and hits per (location, group) from the count cube, fitted by
//! [`crate::threshold_test`]. Opt-in (`[analysis.threshold_test]` or
//! `--threshold-test`): a fit takes seconds to a minute, not milliseconds.
//!
//! Stops count where the search decision is known; a hit is a search that
//! found contraband. Stops without a location value and the `unknown` group
//! are left out (their numbers are reported). Published counts are
//! suppressed like every other count (`suppress::threshold_test`);
//! thresholds are not counts and stay.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Attribute, Inputs, stratum_value};
use crate::schema::UNKNOWN_GROUP;
use crate::threshold_test::{self, CountRow, FitDiagnostics, FitSettings, GroupFit};

/// `[analysis.threshold_test]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThresholdTestSettings {
    /// Run the threshold test (off by default: a fit takes seconds to a minute).
    pub enabled: bool,
    /// The field whose values are the locations: `unit` or a counted stratum
    /// field such as `district` or `basisteam`.
    pub location: String,
    /// Number of independent sampler chains.
    pub chains: usize,
    /// Warmup (adaptation) iterations per chain, not kept.
    pub warmup: usize,
    /// Draws kept per chain after warmup.
    pub draws: usize,
    /// Seed of the sampler's random numbers: the same seed gives the same fit.
    pub seed: u64,
    /// Target acceptance of the step-size adaptation (Stan's adapt_delta).
    pub target_accept: f64,
}

impl Default for ThresholdTestSettings {
    fn default() -> Self {
        let fit = FitSettings::default();
        ThresholdTestSettings {
            enabled: false,
            location: "unit".into(),
            chains: fit.chains,
            warmup: fit.warmup,
            draws: fit.draws,
            seed: fit.seed,
            target_accept: fit.target_accept,
        }
    }
}

/// One (location, group) cell as published.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThresholdCell {
    /// The location: a value of the location field.
    pub location: String,
    /// The group's label.
    pub group: String,
    /// `null` when suppressed (1 to min_cell − 1).
    pub stops: Option<u64>,
    /// Searches among those stops; `null` when suppressed.
    pub searches: Option<u64>,
    /// Searches that found contraband; `null` when suppressed.
    pub hits: Option<u64>,
    /// Some of the cell's counts are hidden (small or complementary cells).
    pub suppressed: bool,
    /// Posterior mean of the cell's threshold (a probability, 0..1).
    pub threshold: f64,
    /// Central credible interval of the threshold at the run's confidence level.
    pub threshold_ci: [f64; 2],
}

/// The threshold test of one group attribute.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ThresholdTestResult {
    /// The group attribute.
    pub attribute: String,
    /// The field whose values are the locations.
    pub location_field: String,
    /// The attribute's reference group.
    pub reference: String,
    /// Why the test was not fitted (too few groups, no searches); the other
    /// fields are then empty.
    pub skipped: Option<String>,
    /// Stops left out: search status unknown, no location, or group `unknown`.
    pub stops_left_out: u64,
    /// One per (location, group) with stops, ordered by location (most stops first) and group.
    pub cells: Vec<ThresholdCell>,
    /// Per group: the stop-weighted average threshold and its difference from the reference.
    pub groups: Vec<GroupFit>,
    /// How the sampler did and how well the model fits; `None` when skipped.
    pub diagnostics: Option<FitDiagnostics>,
}

/// Counts per (location, group label) of one attribute, and the stops left out.
fn counts(inputs: &Inputs, attr: &Attribute, location: &str) -> (Vec<CountRow>, u64) {
    let mut cells: BTreeMap<(String, u32), (u64, u64, u64)> = BTreeMap::new();
    let mut left_out = 0;
    let labels: BTreeMap<u32, &str> = attr.groups.iter().map(|(g, l)| (*g, l.as_str())).collect();
    for (k, &n) in &inputs.cube.cells {
        if k.attribute != attr.index {
            continue;
        }
        let place = stratum_value(location, k, inputs.cube, inputs.dicts, inputs.codes);
        match (k.search, place) {
            (Some(searched), Some(place)) if labels.get(&k.group) != Some(&UNKNOWN_GROUP) => {
                let e = cells.entry((place, k.group)).or_default();
                e.0 += n;
                if searched {
                    e.1 += n;
                    if k.contraband == Some(true) {
                        e.2 += n;
                    }
                }
            }
            _ => left_out += n,
        }
    }
    let rows = cells
        .into_iter()
        .map(|((location, g), (stops, searches, hits))| CountRow {
            location,
            group: labels.get(&g).copied().unwrap_or_default().to_owned(),
            stops,
            searches,
            hits,
        })
        .collect();
    (rows, left_out)
}

/// The threshold test of every attribute with a reference group, when enabled.
pub(crate) fn threshold_tests(inputs: &Inputs, attrs: &[Attribute]) -> Vec<ThresholdTestResult> {
    let s = &inputs.settings.threshold_test;
    if !s.enabled {
        return Vec::new();
    }
    let fit_settings = FitSettings {
        chains: s.chains,
        warmup: s.warmup,
        draws: s.draws,
        seed: s.seed,
        target_accept: s.target_accept,
        interval: inputs.settings.confidence,
        ..FitSettings::default()
    };
    attrs
        .iter()
        .map(|attr| {
            let (rows, stops_left_out) = counts(inputs, attr, &s.location);
            let mut result = ThresholdTestResult {
                attribute: attr.name.clone(),
                location_field: s.location.clone(),
                reference: attr.reference.1.clone(),
                skipped: None,
                stops_left_out,
                cells: Vec::new(),
                groups: Vec::new(),
                diagnostics: None,
            };
            match threshold_test::fit(&rows, &attr.reference.1, &fit_settings) {
                Ok(fit) => {
                    result.cells = fit
                        .cells
                        .into_iter()
                        .map(|c| ThresholdCell {
                            location: c.location,
                            group: c.group,
                            stops: Some(c.stops),
                            searches: Some(c.searches),
                            hits: Some(c.hits),
                            suppressed: false,
                            threshold: c.threshold,
                            threshold_ci: c.threshold_ci,
                        })
                        .collect();
                    result.groups = fit.groups;
                    result.diagnostics = Some(fit.diagnostics);
                }
                Err(e) => result.skipped = Some(e.to_string()),
            }
            result
        })
        .collect()
}
