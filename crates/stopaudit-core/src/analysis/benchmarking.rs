//! Internal benchmarking (after Ridgeway & MacDonald 2009): each unit, team
//! or officer against peers who work under the same circumstances.
//!
//! Stops are split into strata: area (a configured field such as district),
//! time-of-day band (00–06, 06–12, 12–18, 18–24), weekday or weekend, and
//! month (configurable). For an entity e and group g, the expected number
//! of its stops of g is what its peers' share in each stratum predicts:
//!
//! E = Σₛ nₑₛ · (Nₛ,g − nₑₛ,g) / (Nₛ − nₑₛ)
//!
//! (indirect standardisation; strata where e has no peers are left out and
//! counted). Observed O against E gives a standardised ratio O/E with an
//! exact Poisson (Garwood) interval and an exact two-sided Poisson test
//! (twice the smaller tail), and q-values by Benjamini–Hochberg over all
//! comparisons. Units are compared without the area stratum (areas lie
//! within units). Officers appear only as keyed pseudonyms; without a key,
//! officer benchmarking is refused.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, DiscreteCDF, Poisson};

use super::{Attribute, Inputs};
use crate::canonical::text_index;
use crate::counting::benchmark::BenchSpec;
use crate::error::{Error, Result};
use crate::pseudonym::KeyError;
use crate::schema::UNKNOWN_GROUP;
use crate::stats::exact::poisson_upper;

/// Entities that can be benchmarked, and their fields.
pub(crate) const ENTITIES: &[(&str, &str)] = &[
    ("unit", "unit"),
    ("team", "team"),
    ("officer", "officer_id"),
];
/// Fields that can be the area stratum.
pub(crate) const AREAS: &[&str] = &["district", "basisteam", "area_code"];
/// Stratum components.
pub(crate) const STRATA: &[&str] = &["area", "time_band", "day_type", "month"];

/// `[analysis.benchmarking]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BenchmarkSettings {
    /// Off by default (it counts a table per entity in the scan).
    pub enabled: bool,
    /// Any of `unit`, `team`, `officer` (officers need a pseudonymisation key).
    pub entities: Vec<String>,
    /// The area stratum's field: `district`, `basisteam` or `area_code`.
    pub area: String,
    /// Stratum components: any of `area`, `time_band`, `day_type`, `month`.
    pub strata: Vec<String>,
    /// Key for officer pseudonyms (else `STOPAUDIT_PSEUDONYM_KEY`).
    pub pseudonym_key_file: Option<PathBuf>,
}

impl Default for BenchmarkSettings {
    fn default() -> Self {
        BenchmarkSettings {
            enabled: false,
            entities: vec!["unit".into(), "team".into()],
            area: "district".into(),
            strata: STRATA.iter().map(|s| s.to_string()).collect(),
            pseudonym_key_file: None,
        }
    }
}

impl BenchmarkSettings {
    /// Rejects unknown entities, area fields or stratum components, and an enabled run with no
    /// entities.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(format!("[analysis.benchmarking] {m}")));
        for e in &self.entities {
            if !ENTITIES.iter().any(|(n, _)| n == e) {
                return bad(format!("entity `{e}`: choose from unit, team, officer"));
            }
        }
        if !AREAS.contains(&self.area.as_str()) {
            return bad(format!(
                "area `{}`: choose from {}",
                self.area,
                AREAS.join(", ")
            ));
        }
        for s in &self.strata {
            if !STRATA.contains(&s.as_str()) {
                return bad(format!("stratum `{s}`: choose from {}", STRATA.join(", ")));
            }
        }
        if self.enabled && self.entities.is_empty() {
            return bad("no entities to compare".into());
        }
        Ok(())
    }

    /// What the scan counts, when on.
    pub fn spec(&self) -> Option<BenchSpec> {
        self.enabled.then(|| BenchSpec {
            entities: self
                .entities
                .iter()
                .map(|e| {
                    let field = ENTITIES.iter().find(|(n, _)| n == e).expect("checked").1;
                    text_index(field)
                })
                .collect(),
            area: self
                .strata
                .iter()
                .any(|x| x == "area")
                .then(|| text_index(&self.area)),
            band: self.strata.iter().any(|x| x == "time_band"),
            day_type: self.strata.iter().any(|x| x == "day_type"),
            month: self.strata.iter().any(|x| x == "month"),
        })
    }
}

/// One entity and group against peers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchmarkRow {
    /// `unit`, `team` or `officer`.
    pub entity_kind: String,
    /// The unit or team name, or the officer's pseudonym.
    pub entity: String,
    /// The group attribute.
    pub attribute: String,
    /// The group compared (never the reference or `unknown`).
    pub group: String,
    /// The entity's stops in strata where it has peers.
    pub stops: Option<u64>,
    /// The entity's stops of the group in strata with peers; `None` when suppressed.
    pub observed: Option<u64>,
    /// Stops of the group its peers' shares predict, summed over strata; `None` when suppressed.
    pub expected: Option<f64>,
    /// observed / expected.
    pub ratio: Option<f64>,
    /// Garwood exact Poisson interval of the ratio; `None` when suppressed or expected is 0.
    pub ratio_ci: Option<[f64; 2]>,
    /// Exact two-sided Poisson test of observed against expected; `None` like `ratio_ci`.
    pub p_value: Option<f64>,
    /// One-sided exact Poisson test on the adverse side (more stops of the
    /// group than expected): the p-value the q-value is made from.
    pub p_adverse: Option<f64>,
    /// Benjamini–Hochberg over the run's one family of adverse p-values;
    /// `None` when the p-value is and for the `unknown` group.
    pub q_value: Option<f64>,
    /// The observed count is from 1 to `min_cell − 1`: only the labels and `stops` remain.
    pub suppressed: bool,
}

/// All of internal benchmarking.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct InternalBenchmark {
    /// Whether internal benchmarking ran; when false everything else is empty.
    pub enabled: bool,
    /// The configured area field (set even when `area` is not among `strata`); `None` when off.
    pub area: Option<String>,
    /// Stratum components used: any of `area`, `time_band`, `day_type`, `month`.
    pub strata: Vec<String>,
    /// Per entity kind: stops in strata where the entity had no peers.
    pub stops_without_peers: BTreeMap<String, u64>,
    /// Per entity kind: entities left out for having fewer than `min_cell` stops.
    pub entities_too_small: BTreeMap<String, u64>,
    /// One row per entity, attribute and compared group, sorted by entity kind, attribute, group
    /// and entity.
    pub results: Vec<BenchmarkRow>,
}

/// Stratum key: area, band, weekend, month (components not used are 0).
type Stratum = (u32, u8, u8, u32);

/// Garwood's exact interval for a Poisson mean, divided by `e`.
fn garwood(o: u64, e: f64, confidence: f64) -> [f64; 2] {
    let alpha = 1.0 - confidence;
    let low = if o == 0 {
        0.0
    } else {
        ChiSquared::new(2.0 * o as f64)
            .expect("positive degrees of freedom")
            .inverse_cdf(alpha / 2.0)
            / 2.0
    };
    let high = ChiSquared::new(2.0 * o as f64 + 2.0)
        .expect("positive degrees of freedom")
        .inverse_cdf(1.0 - alpha / 2.0)
        / 2.0;
    [low / e, high / e]
}

/// Exact two-sided Poisson test of `o` against mean `e`: twice the smaller tail.
fn poisson_test(o: u64, e: f64) -> f64 {
    let d = Poisson::new(e).expect("a positive mean");
    let below = d.cdf(o);
    let above = if o == 0 { 1.0 } else { d.sf(o - 1) };
    (2.0 * below.min(above)).min(1.0)
}

/// Runs the comparisons (before suppression).
pub fn internal_benchmark(inputs: &Inputs, attrs: &[Attribute]) -> Result<InternalBenchmark> {
    let s = &inputs.settings.benchmarking;
    if !s.enabled {
        return Ok(InternalBenchmark::default());
    }
    let key = if s.entities.iter().any(|e| e == "officer") {
        Some(inputs.pseudonym_key.ok_or_else(|| {
            Error::Usage(format!(
                "[analysis.benchmarking] officers: {}",
                KeyError::Missing
            ))
        })?)
    } else {
        None
    };
    let uses = |c: &str| s.strata.iter().any(|x| x == c);
    let confidence = inputs.settings.confidence;
    let mut out = InternalBenchmark {
        enabled: true,
        area: Some(s.area.clone()),
        strata: s.strata.clone(),
        ..Default::default()
    };
    for (kind, name) in s.entities.iter().enumerate() {
        let field = ENTITIES.iter().find(|(n, _)| n == name).expect("checked").1;
        let dict = inputs.dicts.text(field);
        let label = |e: u32| match &key {
            Some(k) if name == "officer" => k.pseudonym(dict.label(e)),
            _ => dict.label(e).to_string(),
        };
        let with_area = uses("area") && name != "unit";
        for a in attrs {
            // entity -> stratum -> group -> stops
            let mut n: BTreeMap<u32, BTreeMap<Stratum, BTreeMap<u32, u64>>> = BTreeMap::new();
            for (c, &count) in &inputs.cube.bench.cells {
                if usize::from(c.kind) != kind || c.attribute != a.index {
                    continue;
                }
                let stratum = (
                    if with_area { c.area } else { 0 },
                    if uses("time_band") { c.band } else { 0 },
                    if uses("day_type") { c.weekend } else { 0 },
                    if uses("month") { c.month } else { 0 },
                );
                *n.entry(c.entity)
                    .or_default()
                    .entry(stratum)
                    .or_default()
                    .entry(c.group)
                    .or_default() += count;
            }
            let mut totals: BTreeMap<Stratum, BTreeMap<u32, u64>> = BTreeMap::new();
            for strata in n.values() {
                for (st, groups) in strata {
                    for (&g, &c) in groups {
                        *totals.entry(*st).or_default().entry(g).or_default() += c;
                    }
                }
            }
            let compared: Vec<&(u32, String)> = a
                .groups
                .iter()
                .filter(|(g, l)| *g != a.reference.0 && l != UNKNOWN_GROUP)
                .collect();
            let mut without_peers = 0u64;
            for (&e, strata) in &n {
                let mut stops = 0u64;
                let mut observed: BTreeMap<u32, u64> = BTreeMap::new();
                let mut expected: BTreeMap<u32, f64> = BTreeMap::new();
                for (st, groups) in strata {
                    let mine: u64 = groups.values().sum();
                    let all: u64 = totals[st].values().sum();
                    if all == mine {
                        without_peers += mine;
                        continue;
                    }
                    stops += mine;
                    for (g, _) in &compared {
                        let own = groups.get(g).copied().unwrap_or(0);
                        let peers = totals[st].get(g).copied().unwrap_or(0) - own;
                        *observed.entry(*g).or_default() += own;
                        *expected.entry(*g).or_default() +=
                            mine as f64 * peers as f64 / (all - mine) as f64;
                    }
                }
                if stops == 0 {
                    continue;
                }
                for (g, group) in &compared {
                    let (o, ex) = (observed[g], expected[g]);
                    let defined = ex > 0.0;
                    out.results.push(BenchmarkRow {
                        entity_kind: name.clone(),
                        entity: label(e),
                        attribute: a.name.clone(),
                        group: group.clone(),
                        stops: Some(stops),
                        observed: Some(o),
                        expected: Some(ex),
                        ratio: defined.then(|| o as f64 / ex),
                        ratio_ci: defined.then(|| garwood(o, ex, confidence)),
                        p_value: defined.then(|| poisson_test(o, ex)),
                        p_adverse: defined.then(|| poisson_upper(o, ex)),
                        q_value: None,
                        suppressed: false,
                    });
                }
            }
            if a.index == 0 {
                out.stops_without_peers.insert(name.clone(), without_peers);
            }
        }
    }
    out.results.sort_by(|x, y| {
        (&x.entity_kind, &x.attribute, &x.group, &x.entity).cmp(&(
            &y.entity_kind,
            &y.attribute,
            &y.group,
            &y.entity,
        ))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garwood_and_poisson_test_match_scipy() {
        // scipy: chi2.ppf(0.025, 20)/2, chi2.ppf(0.975, 22)/2; poisson.cdf / sf.
        let [lo, hi] = garwood(10, 1.0, 0.95);
        assert!((lo - 4.795_388_696_132_433_5).abs() < 1e-9, "{lo}");
        assert!((hi - 18.390_356_042_017_78).abs() < 1e-9, "{hi}");
        // 2 * poisson.sf(9, 4.0) = 2 * P(X >= 10 | 4)
        assert!((poisson_test(10, 4.0) - 0.016_264_485_593_867_742).abs() < 1e-9);
        assert!((poisson_test(0, 4.0) - 2.0 * (-4.0f64).exp()).abs() < 1e-12);
        assert_eq!(poisson_test(4, 4.0), 1.0);
    }
}
