//! Population benchmark: stops per 1,000 residents per group, compared with
//! the reference group by the exact conditional test for two Poisson rates
//! (R's `poisson.test`). Residential population is a weak benchmark: who is
//! on the street, on the road or in an area at a given time is not who lives
//! there, so a difference here is a question, not an answer.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::compare::Verdict;
use super::{Attribute, Inputs, stratum_value, tally};
use crate::error::{Error, Result};
use crate::stats::exact::binomial_upper;
use crate::stats::proportion::poisson_rate_ratio;

/// Residents per attribute and group (summed over areas when the file has them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Population {
    /// The file the residents were read from.
    pub path: PathBuf,
    /// attribute -> group -> residents.
    pub counts: BTreeMap<String, BTreeMap<String, f64>>,
    /// The CBS area codes covered, when the file has an `area_code` column:
    /// then only stops in these areas are compared with these residents.
    pub areas: Option<BTreeSet<String>>,
    /// Residents per area, attribute and group, when the file has areas: a
    /// run scoped to some places is compared with the residents of those
    /// places only.
    pub by_area: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>,
}

/// Fields whose `--where` filter limits the places of a run.
const PLACE_FIELDS: &[&str] = &["unit", "district", "basisteam", "area_code"];

/// Why a run has no population benchmark although a population file is
/// given, for the results and the report.
pub const SCOPED_WITHOUT_AREAS: &str = "the run is limited to some places (--where on unit, district, basisteam or area_code), but the population file has no area_code column, so its residents cannot be limited to the same places: no population benchmark";

impl Population {
    /// Reads a population CSV (`,` or `;`): columns `attribute`, `group`,
    /// `population`, optionally `area_code` and others (ignored; areas are summed).
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let text = text.trim_start_matches('\u{feff}');
        let first = text.lines().next().unwrap_or("");
        let delimiter = if first.matches(';').count() > first.matches(',').count() {
            b';'
        } else {
            b','
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .from_reader(text.as_bytes());
        let headers = reader
            .headers()
            .map_err(|e| Error::input(path, format!("population file: {e}")))?
            .clone();
        let col = |name: &str| {
            headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name)).ok_or_else(|| {
                Error::input(path, format!("population file: column `{name}` not found (need attribute, group, population)"))
            })
        };
        let (ia, ig, ip) = (col("attribute")?, col("group")?, col("population")?);
        let area_col = headers
            .iter()
            .position(|h| h.trim().eq_ignore_ascii_case("area_code"));
        let mut areas = area_col.map(|_| BTreeSet::new());
        let mut counts: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        let mut by_area: BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>> =
            BTreeMap::new();
        for (i, record) in reader.records().enumerate() {
            let line = i + 2;
            let record = record
                .map_err(|e| Error::input(path, format!("population file line {line}: {e}")))?;
            let value = record.get(ip).unwrap_or("").trim().replace(',', ".");
            let n: f64 = value.parse().ok().filter(|n: &f64| n.is_finite() && *n >= 0.0).ok_or_else(|| {
                Error::input(path, format!("population file line {line}, field population: \"{value}\" is not a number of residents"))
            })?;
            let attr = record.get(ia).unwrap_or("").trim().to_string();
            let group = record.get(ig).unwrap_or("").trim().to_string();
            if let (Some(i), Some(set)) = (area_col, areas.as_mut()) {
                let code = record.get(i).unwrap_or("").trim().to_ascii_uppercase();
                if code.is_empty() {
                    return Err(Error::input(
                        path,
                        format!("population file line {line}, field area_code: empty"),
                    ));
                }
                *by_area
                    .entry(code.clone())
                    .or_default()
                    .entry(attr.clone())
                    .or_default()
                    .entry(group.clone())
                    .or_default() += n;
                set.insert(code);
            }
            *counts.entry(attr).or_default().entry(group).or_default() += n;
        }
        if counts.is_empty() {
            return Err(Error::input(path, "population file: no rows"));
        }
        Ok(Population {
            path: path.to_path_buf(),
            counts,
            areas,
            by_area,
        })
    }
}

/// One group's stop rate per 1,000 residents against the reference's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PopulationRow {
    /// Group attribute.
    pub attribute: String,
    /// Group compared.
    pub group: String,
    /// Reference group of the attribute.
    pub reference: String,
    /// Always empty: all stops.
    pub stratum: BTreeMap<String, String>,
    /// The group's stops (only those in the file's areas when it has `area_code`);
    /// `None` when suppressed.
    pub stops: Option<u64>,
    /// The group's residents according to the population file.
    pub population: f64,
    /// The group's stops per 1,000 residents; `None` when suppressed.
    pub rate_per_1000: Option<f64>,
    /// The reference group's stops, counted the same way.
    pub ref_stops: Option<u64>,
    /// The reference group's residents.
    pub ref_population: f64,
    /// The reference group's stops per 1,000 residents.
    pub ref_rate_per_1000: Option<f64>,
    /// `rate_per_1000` / `ref_rate_per_1000`; `None` when not finite or suppressed.
    pub rate_ratio: Option<f64>,
    /// Exact conditional interval of the rate ratio; `None` when unbounded or suppressed.
    pub rate_ratio_ci: Option<[f64; 2]>,
    /// Two-sided exact conditional test of equal rates (R's `poisson.test`);
    /// `None` when suppressed.
    pub p_value: Option<f64>,
    /// log10 of `p_value`, finite even when the p-value underflows to 0.
    pub p_value_log10: Option<f64>,
    /// One-sided exact test on the adverse side (more stops per resident
    /// than the reference: the group's share of the stops binomial, upper
    /// tail): the p-value the q-value is made from.
    pub p_adverse: Option<f64>,
    /// Benjamini–Hochberg over the run's one family of adverse p-values.
    pub q_value: Option<f64>,
    /// The group's stops are from 1 to `min_cell − 1`: the stops and everything
    /// derived from them are `None`.
    pub suppressed: bool,
    /// What the data say about a practically relevant difference to the
    /// group's disadvantage (docs/methods.md, "Verdicts"); `None` when
    /// suppressed and for the group `unknown`.
    pub verdict: Option<Verdict>,
    /// The rate ratio closest to 1 above it that these counts would detect
    /// with the run's power at the run's level (one-sided, before the
    /// correction for multiple testing); `None` when suppressed or when no
    /// ratio is detectable.
    pub min_detectable_ratio: Option<f64>,
    /// An inconclusive comparison only: about how many more quarters of data
    /// at the current rate would make the edge of the practical band
    /// detectable (0 when it already is).
    pub more_quarters_needed: Option<f64>,
}

/// Rows per non-reference group found in the population file, and why
/// there are none when the run's scope rules the benchmark out. When the
/// file is per area, only stops in its areas count (the cube then carries
/// `area_code`; see `AnalysisSettings::extra_fields`); when the run is also
/// limited to some places (`--where` on unit, district, basisteam or
/// area_code), stops and residents both count only in the areas where the
/// run has stops.
pub fn benchmark(
    inputs: &Inputs,
    attrs: &[Attribute],
    population: &Population,
) -> (Vec<PopulationRow>, Option<String>) {
    let scoped_to_places = inputs
        .scope
        .filters
        .iter()
        .any(|f| PLACE_FIELDS.contains(&f.field.as_str()));
    let area_of = |k: &crate::counting::CellKey| {
        stratum_value("area_code", k, inputs.cube, inputs.dicts, inputs.codes)
    };
    // The areas compared: every area of the file, or (scoped to places) the
    // file's areas where the run has stops.
    let areas: Option<BTreeSet<String>> = match (&population.areas, scoped_to_places) {
        (None, true) => return (Vec::new(), Some(SCOPED_WITHOUT_AREAS.to_string())),
        (None, false) => None,
        (Some(all), false) => Some(all.clone()),
        (Some(all), true) => Some(
            inputs
                .cube
                .cells
                .keys()
                .filter_map(area_of)
                .filter(|a| all.contains(a))
                .collect(),
        ),
    };
    // Residents of the compared areas (all of them when the file has none).
    let residents: BTreeMap<String, BTreeMap<String, f64>> = match (&areas, scoped_to_places) {
        (Some(set), true) => {
            let mut sum: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
            for area in set {
                for (attr, groups) in &population.by_area[area] {
                    for (group, n) in groups {
                        *sum.entry(attr.clone())
                            .or_default()
                            .entry(group.clone())
                            .or_default() += n;
                    }
                }
            }
            sum
        }
        _ => population.counts.clone(),
    };
    let mut rows = Vec::new();
    for attr in attrs {
        let Some(pop) = residents.get(&attr.name) else {
            continue;
        };
        let (rc, rl) = &attr.reference;
        let Some(&ref_pop) = pop.get(rl).filter(|p| **p > 0.0) else {
            continue;
        };
        let in_areas = tally(
            inputs.cube,
            attr.index,
            |k| match &areas {
                None => Some(()),
                Some(set) => area_of(k).filter(|a| set.contains(a)).map(|_| ()),
            },
            |_| false,
        );
        let stops_of = |g: u32| in_areas.get(&(g, ())).map_or(0, |t| t.stops);
        let ref_stops = stops_of(*rc);
        if ref_stops == 0 {
            continue;
        }
        for (g, label) in attr.groups.iter().filter(|(g, _)| g != rc) {
            let Some(&group_pop) = pop.get(label).filter(|p| **p > 0.0) else {
                continue;
            };
            let stops = stops_of(*g);
            let test = poisson_rate_ratio(
                stops,
                group_pop,
                ref_stops,
                ref_pop,
                inputs.settings.confidence,
            );
            rows.push(PopulationRow {
                attribute: attr.name.clone(),
                group: label.clone(),
                reference: rl.clone(),
                stratum: BTreeMap::new(),
                stops: Some(stops),
                population: group_pop,
                rate_per_1000: Some(1000.0 * stops as f64 / group_pop),
                ref_stops: Some(ref_stops),
                ref_population: ref_pop,
                ref_rate_per_1000: Some(1000.0 * ref_stops as f64 / ref_pop),
                rate_ratio: test.estimate.is_finite().then_some(test.estimate),
                rate_ratio_ci: test
                    .interval
                    .map(|i| [i.low, i.high])
                    .filter(|i| i[1].is_finite()),
                p_value: Some(test.p_value.p),
                p_value_log10: Some(test.p_value.log10()),
                p_adverse: Some(
                    binomial_upper(stops, stops + ref_stops, group_pop / (group_pop + ref_pop)).p,
                ),
                q_value: None,
                suppressed: false,
                verdict: None,
                min_detectable_ratio: None,
                more_quarters_needed: None,
            });
        }
    }
    (rows, None)
}
