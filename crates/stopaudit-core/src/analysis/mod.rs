//! Analyses: from the count cube to disparity statistics and findings.
//!
//! Everything here works on plain counts ([`crate::counting::CountCube`]
//! with its dictionaries) and the estimators of [`crate::stats`]; nothing
//! reads data. Each analysis compares every group of every group attribute
//! with that attribute's reference group:
//!
//! - [`outcome`]: the outcome (hit-rate) test, overall and per justification and legal basis;
//! - [`mix`]: the justification mix (chi-square, Cramér's V, residuals) and the share of weak justifications;
//! - [`stratified`]: Mantel–Haenszel across strata, CMH and Breslow–Day, with Simpson reversals;
//! - [`funnel`]: search rate per stop and contraband rate per search;
//! - [`population`]: stops per 1,000 residents against a population file;
//! - [`threshold`]: the threshold test per location and group (opt-in, Bayesian);
//! - [`veil`]: the veil-of-darkness test (daylight against darkness at the same clock time);
//! - [`trends`]: key measures per quarter (or month, year) and their changes;
//! - [`quality`]: data-quality diagnostics (coverage, duplicates, heaping, gaps, volumes);
//! - [`benchmarking`]: units, teams and officers against peers in the same strata (opt-in);
//!
//! then Benjamini–Hochberg q-values per analysis. What follows is the
//! results document's ([`crate::results::audit`]): disclosure control
//! ([`crate::disclosure`]), findings ([`crate::findings`]) and their
//! wording ([`crate::wording`]).

pub mod benchmarking;
pub mod compare;
pub mod funnel;
pub mod mix;
pub mod outcome;
pub mod population;
pub mod quality;
pub mod stratified;
pub mod threshold;
pub mod trends;
pub mod veil;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::canonical::Dictionaries;
use crate::codes::CodeLists;
use crate::counting::{CellKey, CountCube, EXTRA_FIELDS, MISSING};
use crate::error::{Error, Result};
use crate::schema::UNKNOWN_GROUP;

/// Version of the results JSON contract (docs/results.md).
pub const SCHEMA_VERSION: &str = "1.4";

/// Settings of the analyses (`[analysis]` in the configuration, command-line flags on top).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AnalysisSettings {
    /// Confidence level of every interval.
    pub confidence: f64,
    /// False discovery rate for q-values and findings.
    pub fdr: f64,
    /// Outcomes that count as a "hit" (a result).
    pub hit_outcomes: Vec<String>,
    /// Justifications that count as weak grounds.
    pub weak_justifications: Vec<String>,
    /// Fields whose combinations form the strata of the stratified comparison.
    pub strata_by: Vec<String>,
    /// Rate ratios inside this band are not practically large.
    pub practical_band: [f64; 2],
    /// Power at which the minimum detectable ratio of each comparison is
    /// computed (docs/methods.md, "Verdicts").
    pub power: f64,
    /// Counts from 1 to `min_cell - 1` are suppressed in published output; 0 disables.
    pub min_cell: u64,
    /// Population file for the benchmark (CSV: attribute, group, population [, area_code]).
    pub population: Option<PathBuf>,
    /// `[analysis.threshold_test]`: the threshold test (off by default).
    pub threshold_test: threshold::ThresholdTestSettings,
    /// `[analysis.veil_of_darkness]`: the veil-of-darkness test (on by default).
    pub veil_of_darkness: veil::VeilSettings,
    /// `[analysis.trends]`: measures per period (on by default).
    pub trends: trends::TrendSettings,
    /// `[analysis.data_quality]`: thresholds of the data-quality diagnostics.
    pub data_quality: quality::QualitySettings,
    /// `[analysis.benchmarking]`: internal benchmarking (off by default).
    pub benchmarking: benchmarking::BenchmarkSettings,
}

impl Default for AnalysisSettings {
    fn default() -> Self {
        AnalysisSettings {
            confidence: 0.95,
            fdr: 0.05,
            hit_outcomes: vec!["fine".into(), "report".into(), "arrest".into()],
            weak_justifications: vec!["behaviour".into(), "none_recorded".into()],
            strata_by: vec!["justification".into()],
            practical_band: [0.8, 1.25],
            power: 0.8,
            min_cell: 10,
            population: None,
            threshold_test: threshold::ThresholdTestSettings::default(),
            veil_of_darkness: veil::VeilSettings::default(),
            trends: trends::TrendSettings::default(),
            data_quality: quality::QualitySettings::default(),
            benchmarking: benchmarking::BenchmarkSettings::default(),
        }
    }
}

/// Fields the cube knows besides the extra ones.
const BASE_STRATA: &[&str] = &["justification", "legal_basis", "unit"];

impl AnalysisSettings {
    /// The run's one pseudonymisation key file: `pseudonym_key_file` of
    /// `[analysis.data_quality]` or `[analysis.benchmarking]` (the same file
    /// when both are set; two different keys in one run are refused).
    pub fn pseudonym_key_file(&self) -> Result<Option<&std::path::Path>> {
        match (
            self.data_quality.pseudonym_key_file.as_deref(),
            self.benchmarking.pseudonym_key_file.as_deref(),
        ) {
            (Some(a), Some(b)) if a != b => Err(Error::Config(format!(
                "[analysis.data_quality] and [analysis.benchmarking] name different pseudonym_key_file values ({} and {}): one run uses one key; set it in one place",
                a.display(),
                b.display()
            ))),
            (a, b) => Ok(a.or(b)),
        }
    }

    /// Checks the settings against the code lists.
    pub fn check(&self, codes: &CodeLists) -> Result<()> {
        if !(self.confidence > 0.5 && self.confidence < 1.0) {
            return Err(Error::Usage(format!(
                "confidence {} must be between 0.5 and 1",
                self.confidence
            )));
        }
        if !(self.fdr > 0.0 && self.fdr < 1.0) {
            return Err(Error::Usage(format!(
                "FDR level {} must be between 0 and 1",
                self.fdr
            )));
        }
        for o in &self.hit_outcomes {
            if codes.outcome.index_of(o).is_none() {
                return Err(Error::Usage(format!(
                    "hit outcome `{o}` is not an outcome code ({})",
                    codes.outcome.code_names().join(", ")
                )));
            }
        }
        for j in &self.weak_justifications {
            if codes.justification.index_of(j).is_none() {
                return Err(Error::Usage(format!(
                    "weak justification `{j}` is not a justification code ({})",
                    codes.justification.code_names().join(", ")
                )));
            }
        }
        if self.strata_by.is_empty() {
            return Err(Error::Usage(
                "the stratified comparison needs at least one stratum field (--by)".into(),
            ));
        }
        for f in &self.strata_by {
            if !BASE_STRATA.contains(&f.as_str()) && !EXTRA_FIELDS.contains(&f.as_str()) {
                let mut known = BASE_STRATA.to_vec();
                known.extend(EXTRA_FIELDS);
                return Err(Error::Usage(format!(
                    "--by {f}: strata can be made of {}",
                    known.join(", ")
                )));
            }
        }
        let location = &self.threshold_test.location;
        if self.threshold_test.enabled
            && location != "unit"
            && !EXTRA_FIELDS.contains(&location.as_str())
        {
            return Err(Error::Usage(format!(
                "threshold test location `{location}`: locations can be unit, {}",
                EXTRA_FIELDS.join(", ")
            )));
        }
        let t = &self.threshold_test;
        if t.enabled && (t.chains < 2 || t.draws < 10) {
            return Err(Error::Usage(
                "the threshold test needs at least 2 chains and 10 draws (for R-hat)".into(),
            ));
        }
        if t.enabled && !(t.target_accept > 0.5 && t.target_accept < 1.0) {
            return Err(Error::Usage(format!(
                "threshold test target_accept {} must be between 0.5 and 1",
                t.target_accept
            )));
        }
        if self.extra_fields().len() > 2 {
            return Err(Error::Usage(
                "--by and the threshold test location: at most two fields besides justification, legal_basis and unit".into(),
            ));
        }
        self.veil_of_darkness.check()?;
        self.data_quality.check()?;
        self.benchmarking.check()?;
        if !(self.power > 0.5 && self.power < 1.0) {
            return Err(Error::Usage(format!(
                "power {} must be between 0.5 and 1",
                self.power
            )));
        }
        let [lo, hi] = self.practical_band;
        if !(lo > 0.0 && lo <= 1.0 && hi >= 1.0) {
            return Err(Error::Usage(
                "the practical band must contain 1, e.g. [0.8, 1.25]".into(),
            ));
        }
        Ok(())
    }

    /// The stratum fields the cube must count beyond its fixed ones
    /// (`area_code` too when the population file is per area).
    pub fn extra_fields(&self) -> Vec<String> {
        let mut extra: Vec<String> = self
            .strata_by
            .iter()
            .filter(|f| !BASE_STRATA.contains(&f.as_str()))
            .cloned()
            .collect();
        let location = &self.threshold_test.location;
        if self.threshold_test.enabled
            && !BASE_STRATA.contains(&location.as_str())
            && !extra.contains(location)
        {
            extra.push(location.clone());
        }
        extra
    }

    /// What the scan must count for these settings: the cube's extra strata
    /// (with `area_code` for a per-area population file), the darkness table
    /// for the veil of darkness, the benchmarking table, and the calendar's
    /// period column.
    pub fn count_plan(
        &self,
        population: Option<&population::Population>,
        tz: chrono_tz::Tz,
    ) -> Result<crate::counting::CountPlan> {
        Ok(crate::counting::CountPlan {
            extra_fields: self.extra_fields_with(population)?,
            daylight: self.veil_of_darkness.daylight(tz).map(std::sync::Arc::new),
            bench: self.benchmarking.spec(),
            registration_periods: (self.trends.period_column
                == crate::counting::calendar::PeriodColumn::RegisteredAt)
                .then_some(tz),
        })
    }

    /// [`Self::extra_fields`] plus `area_code` for a per-area population file.
    pub(crate) fn extra_fields_with(
        &self,
        population: Option<&population::Population>,
    ) -> Result<Vec<String>> {
        let mut extra = self.extra_fields();
        if population.is_some_and(|p| p.areas.is_some()) && !extra.iter().any(|f| f == "area_code")
        {
            extra.push("area_code".into());
        }
        if extra.len() > 2 {
            return Err(Error::Usage(
                "a population file per area needs area_code counted: use at most one --by field besides justification, legal_basis and unit".into(),
            ));
        }
        Ok(extra)
    }

    fn hit_codes(&self, codes: &CodeLists) -> Vec<u8> {
        self.hit_outcomes
            .iter()
            .filter_map(|o| codes.outcome.index_of(o))
            .collect()
    }

    fn weak_codes(&self, codes: &CodeLists) -> Vec<u8> {
        self.weak_justifications
            .iter()
            .filter_map(|j| codes.justification.index_of(j))
            .collect()
    }

    /// Whether a rate ratio lies outside the practical band.
    pub(crate) fn is_large(&self, ratio: f64) -> bool {
        ratio < self.practical_band[0] || ratio > self.practical_band[1]
    }
}

/// Everything the analyses read.
pub struct Inputs<'a> {
    /// The count cube the analyses start from.
    pub cube: &'a CountCube,
    /// Labels of the cube's group and text codes.
    pub dicts: &'a Dictionaries,
    /// The code lists (justification, outcome, legal basis, …) after the mapping file.
    pub codes: &'a CodeLists,
    /// Names of the group attributes, in the cube's attribute order.
    pub attributes: &'a [String],
    /// attribute -> configured reference group.
    pub references: &'a BTreeMap<String, String>,
    /// The run's effective settings, already checked.
    pub settings: &'a AnalysisSettings,
    /// The population file of the benchmark, loaded before counting.
    pub population: Option<&'a population::Population>,
    /// What ingestion read, quarantined and found missing.
    pub summary: &'a crate::accounting::IngestSummary,
    /// The run's `--period` and `--where`.
    pub scope: &'a crate::scope::Scope,
    /// The run's key for officer pseudonyms, resolved once by the command
    /// ([`AnalysisSettings::pseudonym_key_file`]); `None` without one.
    pub pseudonym_key: Option<&'a crate::pseudonym::PseudonymKey>,
}

/// One attribute with its groups and reference.
#[derive(Debug, Clone)]
pub struct Attribute {
    /// Position of the attribute in the cube (`CellKey::attribute`).
    pub index: u16,
    /// Name of the attribute.
    pub name: String,
    /// Group code -> label, sorted by label.
    pub groups: Vec<(u32, String)>,
    /// Code and label of the reference group.
    pub reference: (u32, String),
    /// Stops per group code.
    pub stops: BTreeMap<u32, u64>,
}

pub use crate::counting::{MAX_GROUPS, MAX_GROUPS_WHILE_READING};

/// The run's attributes with their groups and references (the reference:
/// the configured one, else the largest group other than `unknown`, ties
/// first by name); an attribute with more than [`MAX_GROUPS`] groups stops
/// the run (the scan stops earlier, past [`MAX_GROUPS_WHILE_READING`]).
pub fn attributes(inputs: &Inputs) -> Result<Vec<Attribute>> {
    let mut out = Vec::new();
    for (a, name) in inputs.attributes.iter().enumerate() {
        let index = u16::try_from(a).expect("few attributes");
        let mut stops: BTreeMap<u32, u64> = BTreeMap::new();
        for (k, n) in &inputs.cube.cells {
            if k.attribute == index {
                *stops.entry(k.group).or_default() += n;
            }
        }
        let dict = &inputs.dicts.groups[a];
        let mut groups: Vec<(u32, String)> = stops
            .keys()
            .map(|&g| (g, dict.label(g).to_string()))
            .collect();
        groups.sort_by(|x, y| x.1.cmp(&y.1));
        if groups.len() > MAX_GROUPS {
            return Err(Error::Usage(format!(
                "group attribute `{name}` has {} distinct values, more than the {MAX_GROUPS} stopaudit compares (every analysis is per group): is the right column mapped to it, or should its values be grouped with [values.{name}]?",
                groups.len()
            )));
        }
        let reference = match inputs.references.get(name) {
            Some(r) => groups.iter().find(|(_, l)| l == r).cloned().ok_or_else(|| {
                Error::Usage(format!(
                    "the reference group `{r}` of `{name}` does not occur in the analysed stops; groups: {}{}",
                    groups.iter().map(|(_, l)| l.as_str()).collect::<Vec<_>>().join(", "),
                    if inputs.scope.filters.iter().any(|f| &f.field == name) {
                        format!(". --where {name}=… leaves out the reference: to compare one group with it, use `stopaudit ask --group {name}=GROUP` instead")
                    } else {
                        String::new()
                    }
                ))
            })?,
            None => {
                let best = groups
                    .iter()
                    .filter(|(_, l)| l != UNKNOWN_GROUP)
                    .max_by(|x, y| stops[&x.0].cmp(&stops[&y.0]).then(y.1.cmp(&x.1)))
                    .or(groups.first());
                match best {
                    Some(b) => b.clone(),
                    None => continue,
                }
            }
        };
        out.push(Attribute {
            index,
            name: name.clone(),
            groups,
            reference,
            stops,
        });
    }
    Ok(out)
}

/// Stops and hits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Number of stops.
    pub stops: u64,
    /// Number of those stops that count as a hit (as the caller of [`tally`] decides).
    pub hits: u64,
}

impl Tally {
    fn add(&mut self, n: u64, hit: bool) {
        self.stops += n;
        if hit {
            self.hits += n;
        }
    }
}

/// Sums the cube cells of one attribute into (group, key) tallies. `key`
/// returns `None` to skip a cell (e.g. one whose search is unknown); `hit`
/// decides what counts as a hit.
pub fn tally<K: Ord + Clone>(
    cube: &CountCube,
    attribute: u16,
    key: impl Fn(&CellKey) -> Option<K>,
    hit: impl Fn(&CellKey) -> bool,
) -> BTreeMap<(u32, K), Tally> {
    let mut out: BTreeMap<(u32, K), Tally> = BTreeMap::new();
    for (k, &n) in &cube.cells {
        if k.attribute != attribute {
            continue;
        }
        if let Some(key) = key(k) {
            out.entry((k.group, key)).or_default().add(n, hit(k));
        }
    }
    out
}

/// Label of a stratum field's code in a cell, or `None` when missing.
pub(crate) fn stratum_value(
    field: &str,
    k: &CellKey,
    cube: &CountCube,
    dicts: &Dictionaries,
    codes: &CodeLists,
) -> Option<String> {
    match field {
        "justification" => Some(codes.justification.get(k.justification).code.clone()),
        "legal_basis" => k.legal_basis.map(|l| codes.legal_basis.get(l).code.clone()),
        "unit" => k.unit.map(|u| dicts.text("unit").label(u).to_string()),
        f => {
            let slot = cube.extra_fields.iter().position(|x| x == f)?;
            let v = k.extra[slot];
            if v == MISSING {
                return None;
            }
            match f {
                "subject_type" => Some(codes.subject_type.get(v as u8).code.clone()),
                "reason_explained" => Some(codes.reason_explained.get(v as u8).code.clone()),
                text => Some(dicts.text(text).label(v).to_string()),
            }
        }
    }
}

/// All results of `stopaudit analyze`.
#[derive(Debug, Clone, Serialize)]
pub struct Results {
    /// Outcome (hit-rate) test: overall, per justification and per legal basis.
    pub outcome_test: Vec<compare::ComparisonRow>,
    /// Justification mix, one per attribute, with its weak-justification rows.
    pub justification_mix: Vec<mix::MixResult>,
    /// Mantel–Haenszel comparison across strata, one per attribute and non-reference group.
    pub stratified: Vec<stratified::StratifiedRow>,
    /// Search funnel: search rate per stop and contraband rate per search.
    pub search_funnel: Vec<compare::ComparisonRow>,
    /// Stops per 1,000 residents; empty without a population file.
    pub population_benchmark: Vec<population::PopulationRow>,
    /// Why the population benchmark is empty although a population file
    /// was given (a run limited to places, a file without areas).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub population_benchmark_note: Option<String>,
    /// Empty unless the threshold test is enabled.
    pub threshold_test: Vec<threshold::ThresholdTestResult>,
    /// The veil-of-darkness test (`enabled` false when off).
    pub veil_of_darkness: veil::VeilOfDarkness,
    /// Measures per period and their changes (`enabled` false when off).
    pub trends: trends::Trends,
    /// Data-quality diagnostics (`enabled` false when off).
    pub data_quality: quality::DataQuality,
    /// Units, teams and officers against their peers (`enabled` false when off).
    pub internal_benchmark: benchmarking::InternalBenchmark,
    /// Per analysis and attribute, how many comparisons got each verdict
    /// (filled after the findings; docs/methods.md, "Verdicts").
    pub verdicts: Vec<compare::VerdictCount>,
    /// The disclosure patterns by stratum, computed once from the cube and
    /// applied by the disclosure step (not published).
    #[serde(skip)]
    pub strata_patterns: Vec<stratified::StrataPattern>,
}

/// Runs every analysis, then q-values: the results as computed, before
/// disclosure control. The settings are the run's effective ones, already
/// checked ([`AnalysisSettings::check`], once).
pub fn run(inputs: &Inputs) -> Result<Results> {
    let attrs = attributes(inputs)?;
    let outcome_test = outcome::outcome_test(inputs, &attrs);
    let strata_patterns = stratified::strata_patterns(inputs, &attrs);
    let mut justification_mix = mix::justification_mix(inputs, &attrs, &strata_patterns);
    let stratified = stratified::stratified(inputs, &attrs, &strata_patterns);
    let search_funnel = funnel::search_funnel(inputs, &attrs);
    let (population_benchmark, population_benchmark_note) = match inputs.population {
        Some(pop) => population::benchmark(inputs, &attrs, pop),
        None => (Vec::new(), None),
    };
    mix::assign_q_values(&mut justification_mix);
    let mut results = Results {
        outcome_test,
        justification_mix,
        stratified,
        search_funnel,
        population_benchmark,
        population_benchmark_note,
        threshold_test: threshold::threshold_tests(inputs, &attrs),
        veil_of_darkness: veil::veil_of_darkness(inputs, &attrs),
        trends: trends::trends(inputs, &attrs)?,
        data_quality: quality::data_quality(inputs)?,
        internal_benchmark: benchmarking::internal_benchmark(inputs, &attrs)?,
        verdicts: Vec::new(),
        strata_patterns,
    };
    assign_finding_q_values(&mut results);
    Ok(results)
}

/// Benjamini–Hochberg q-values over one family: every comparison of the run
/// that can become a finding (outcome test, weak justifications, search
/// funnel, stratified comparison, population benchmark, veil of darkness,
/// internal benchmarking), each by its one-sided p-value on the adverse
/// side, so that the false-discovery rate holds for the run's findings
/// together, not for each analysis apart, and a difference in a group's
/// favour (which is never a finding) does not lower the bar for the rest.
/// The `unknown` group is no group of people: it is not tested (no
/// q-value). (The justification mix's chi-square tests and the trends,
/// which make no findings, keep their own families.)
fn assign_finding_q_values(r: &mut Results) {
    let mut p = Vec::new();
    visit_finding_tests(r, &mut |group, pv, _| {
        if group != UNKNOWN_GROUP {
            p.push(pv.unwrap_or(f64::NAN));
        }
    });
    let mut q = crate::stats::fdr::benjamini_hochberg(&p).into_iter();
    visit_finding_tests(r, &mut |group, _, slot| {
        *slot = if group == UNKNOWN_GROUP {
            None
        } else {
            let qv = q.next().expect("the same tests in the same order");
            (!qv.is_nan()).then_some(qv)
        };
    });
}

/// What [`visit_finding_tests`] calls: group, adverse p-value, q-value slot.
type VisitTest<'a> = dyn FnMut(&str, Option<f64>, &mut Option<f64>) + 'a;

/// Calls `f` with the group, the adverse one-sided p-value and the q-value
/// slot of every test that can become a finding, always in the same order.
fn visit_finding_tests(r: &mut Results, f: &mut VisitTest) {
    let weak = r
        .justification_mix
        .iter_mut()
        .flat_map(|m| m.weak_justification.iter_mut());
    for row in r
        .outcome_test
        .iter_mut()
        .chain(weak)
        .chain(&mut r.search_funnel)
    {
        f(&row.group, row.p_adverse, &mut row.q_value);
    }
    for row in &mut r.stratified {
        f(&row.group, row.p_adverse, &mut row.q_value);
    }
    for row in &mut r.population_benchmark {
        f(&row.group, row.p_adverse, &mut row.q_value);
    }
    for v in &mut r.veil_of_darkness.results {
        f(&v.group, v.estimate.map(|e| e.p_adverse), &mut v.q_value);
    }
    for row in &mut r.internal_benchmark.results {
        f(&row.group, row.p_adverse, &mut row.q_value);
    }
}
