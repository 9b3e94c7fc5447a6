//! Findings: the rules that decide which comparisons deserve review, as
//! facts ([`Fact`]); [`crate::wording`] puts each fact into English and
//! Dutch. The rules read the analyses' rows as computed and as
//! [`crate::disclosure`] publishes them, so that a finding never shows a
//! number the disclosure step hides.
//!
//! A comparison becomes a finding when its q-value (one Benjamini–Hochberg
//! family per run, over one-sided p-values on the adverse side) is below
//! the FDR level, its ratio lies outside the practical band, and it points
//! the way adverse to the group ([`Adverse`], per measure: docs/methods.md);
//! the `unknown` group is never a finding. A difference within one stratum
//! is folded into the group's finding over all stops on the same measure
//! when there is one (`also_within`). Severity (docs/methods.md):
//!
//! - `high`: an overall outcome-test difference confirmed within strata
//!   (the stratified comparison significant, its pooled rate ratio outside
//!   the band and below 1 over at least two strata, Breslow–Day p ≥ 0.05),
//!   or such a stratified difference that the overall comparison does not
//!   show;
//! - `medium`: the same but heterogeneous across strata, and every other
//!   finding (a difference within one justification or legal basis; weak
//!   justifications, searches, population);
//! - `insufficient_data`: the point estimate is outside the band on the
//!   adverse side but the comparison is not significant and the group's
//!   counts are small (suppressed, or fewer than 20 hits or non-hits), so no
//!   conclusion either way; given for overall comparisons and justification
//!   strata only;
//! - `note`: an overall difference the comparison within strata does not
//!   confirm — explained by the mix of strata (the stratified interval
//!   inside the band) or inconclusive within strata (it reaches outside) —
//!   and a reversal between the crude and the stratified comparison
//!   (Simpson's paradox: opposite sides of 1, each at least 10% away from
//!   it, with a significant CMH test).
//!
//! The threshold test (when run) gives a `medium` finding for a group whose
//! average search threshold is lower than the reference group's with a
//! credible interval of the difference (at the run's `--confidence`, 95% by
//! default) entirely below zero, a ratio of the thresholds outside the
//! practical band, and a converged fit.
//!
//! Every summary ends with the caveat that a statistical signal is a reason
//! for review, not proof of discrimination. A finding never shows a number
//! that small-cell suppression hides.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::AnalysisSettings;
use crate::analysis::benchmarking::BenchmarkRow;
use crate::analysis::compare::{Adverse, ComparisonRow};
use crate::analysis::mix::MixResult;
use crate::analysis::population::PopulationRow;
use crate::analysis::quality::Diagnostic;
use crate::analysis::stratified::StratifiedRow;
use crate::analysis::threshold::ThresholdTestResult;
use crate::analysis::veil::VeilResult;
use crate::schema::UNKNOWN_GROUP;

/// Whether a comparison's own counts (the group's hits or non-hits) are
/// small.
fn own_small(o: &ComparisonRow, k: u64) -> bool {
    [o.hits, o.stops.zip(o.hits).map(|(s, h)| s - h)]
        .into_iter()
        .flatten()
        .any(|n| crate::stats::suppression::small(n, k))
}

/// Adds a notice about a hidden comparison. One hidden for its own small
/// counts names its stratum field, not the category ([`SOME_CATEGORY`]),
/// once per group and field: with the published totals, "significant" or
/// "looks large" in a named category would narrow a small count to a few
/// values.
fn push_unnamed(out: &mut Vec<Finding>, mut f: Finding, o: &ComparisonRow, k: u64) {
    if own_small(o, k)
        && let Some(field) = f.stratum.keys().next().cloned()
    {
        f.stratum = BTreeMap::from([(field, SOME_CATEGORY.to_string())]);
        if out.iter().any(|x: &Finding| {
            x.severity == f.severity
                && x.analysis == f.analysis
                && x.attribute == f.attribute
                && x.group == f.group
                && x.stage == f.stage
                && x.stratum == f.stratum
        }) {
            return;
        }
    }
    out.push(f);
}

/// The stratum value of a withheld notice that names the stratum field but
/// not the category (docs/results.md, "Findings").
pub const SOME_CATEGORY: &str = "*";

/// How strongly a finding calls for review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A problem in the registrations themselves (listed first: it limits every comparison).
    DataQuality,
    /// A difference confirmed within strata: significant, practically large and
    /// similar across them.
    High,
    /// Any other finding: a difference heterogeneous across strata, within one
    /// stratum, or from another analysis than the outcome test.
    Medium,
    /// A comparison that would be a finding (significant, practically
    /// large, adverse) but whose numbers small-cell suppression withholds:
    /// named, without numbers, so that suppression never silently clears it.
    Withheld,
    /// A large but non-significant difference, on counts too small to conclude either way.
    InsufficientData,
    /// Not a finding against the group: an overall difference explained by the
    /// mix of strata, or a reversal between the crude and the stratified
    /// comparison (Simpson's paradox).
    Note,
}

impl Severity {
    /// Parses `data_quality`, `high`, `medium`, `withheld`, `insufficient_data` or `note`.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Severity::DataQuality,
            Severity::High,
            Severity::Medium,
            Severity::Withheld,
            Severity::InsufficientData,
            Severity::Note,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    /// The name as serialized: `data_quality`, `high`, `medium`, `withheld`,
    /// `insufficient_data` or `note`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::DataQuality => "data_quality",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::Withheld => "withheld",
            Severity::InsufficientData => "insufficient_data",
            Severity::Note => "note",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// `F001`, `F002`, … in sorted order.
    pub id: String,
    /// How strongly the finding calls for review.
    pub severity: Severity,
    /// The analysis it comes from: `outcome_test`, `justification_mix`,
    /// `search_funnel`, `population_benchmark`, `stratified`, `threshold_test`,
    /// `veil_of_darkness`, `internal_benchmark` or `data_quality`.
    pub analysis: String,
    /// Group attribute; empty for a data-quality finding.
    pub attribute: String,
    /// Group compared; empty for a data-quality finding.
    pub group: String,
    /// Reference group; empty for data-quality and internal-benchmarking findings.
    pub reference: String,
    /// Field → value of the comparison's stratum (`{}` for all stops); `check` and
    /// `subject` for a data-quality finding, entity kind → entity for internal benchmarking.
    pub stratum: BTreeMap<String, String>,
    /// Search funnel only: `search` or `contraband`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The group's rate (a proportion; stops per 1,000 residents for the population
    /// benchmark); `None` when the finding has no rate or suppression hides it.
    pub rate: Option<f64>,
    /// The reference group's rate, as `rate`.
    pub ref_rate: Option<f64>,
    /// `rate` / `ref_rate`; observed / expected for internal benchmarking.
    pub rate_ratio: Option<f64>,
    /// Interval of `rate_ratio` at the configured confidence level.
    pub rate_ratio_ci: Option<[f64; 2]>,
    /// Benjamini–Hochberg q-value of the comparison.
    pub q_value: Option<f64>,
    /// Mantel–Haenszel rate ratio over the strata (findings and notes that
    /// compare within strata).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mh_rate_ratio: Option<f64>,
    /// Greenland–Robins interval of `mh_rate_ratio`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mh_rate_ratio_ci: Option<[f64; 2]>,
    /// Mantel–Haenszel odds ratio over the strata (reversals only: the
    /// crude and the pooled odds ratio on opposite sides of 1).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mh_odds_ratio: Option<f64>,
    /// Interval of `mh_odds_ratio`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mh_odds_ratio_ci: Option<[f64; 2]>,
    /// The strata (e.g. `{"justification": "behaviour"}`) in which the same
    /// difference is significant and practically large on its own: folded
    /// into this finding instead of reported again.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub also_within: Vec<BTreeMap<String, String>>,
    /// Threshold test only: the group's and the reference's average
    /// threshold and the difference's credible interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The reference group's average threshold.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_threshold: Option<f64>,
    /// Credible interval of the group's threshold minus the reference's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_difference_ci: Option<[f64; 2]>,
    /// Veil of darkness only: the odds ratio of being of the group in
    /// darkness against daylight, and its interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dark_odds_ratio: Option<f64>,
    /// Interval of `dark_odds_ratio`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dark_odds_ratio_ci: Option<[f64; 2]>,
    /// The finding in English and Dutch, written by `wording` from `fact`.
    pub summary_en: String,
    /// The finding in Dutch.
    pub summary_nl: String,
    /// What the rule found, in numbers and names: all the wording needs.
    #[serde(skip)]
    pub fact: Fact,
}

/// What a rule found, before it is put into words (`wording`). Each
/// variant holds the published numbers its sentence shows.
#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// A rate comparison (outcome test, weak justifications, search funnel)
    /// that is significant and practically large: the sentence `key` (under
    /// `finding.`), the published row and, when it holds within strata,
    /// the stratified comparison.
    Comparison {
        /// Sentence key under `finding.`: `outcome_test`, `weak_justification`,
        /// `search` or `contraband`.
        key: &'static str,
        /// The published comparison row.
        row: ComparisonRow,
        /// The published stratified comparison when the difference holds within
        /// strata (a `high` finding); `None` otherwise.
        holds: Option<StratifiedRow>,
    },
    /// A comparison significant, practically large and adverse before
    /// suppression whose numbers are withheld: the measure (`measure.<key>`);
    /// group, reference and stratum are the finding's.
    Withheld {
        /// The measure's key under `measure.`: `outcome_test`,
        /// `weak_justification`, `search`, `contraband`, `stratified` or
        /// `population_benchmark`.
        key: &'static str,
    },
    /// The reference group of an attribute has too few stops, results or
    /// non-results for any comparison to be published: every comparison of
    /// the attribute is withheld. The finding's attribute and reference.
    ReferenceTooSmall,
    /// A large but inconclusive difference on few counts: the measure
    /// (`measure.<key>`); group, reference and stratum are the finding's.
    Insufficient {
        /// The measure's key under `measure.`: `outcome_test`, `weak_justification`,
        /// `search` or `contraband`.
        key: &'static str,
    },
    /// An overall outcome-test difference that disappears within strata (the
    /// stratified odds ratio and its whole interval inside the practical
    /// band): explained by the mix of strata, not a finding against the
    /// group. The published overall row and stratified row.
    ExplainedByMix {
        /// The published overall outcome-test row.
        row: ComparisonRow,
        /// The published stratified comparison of the same group.
        stratified: StratifiedRow,
    },
    /// An overall outcome-test difference that the comparison within strata
    /// neither confirms nor rules out (its interval reaches outside the
    /// practical band): the data cannot tell whether it remains within strata.
    InconclusiveWithinStrata {
        /// The published overall outcome-test row.
        row: ComparisonRow,
        /// The published stratified comparison of the same group.
        stratified: StratifiedRow,
    },
    /// A difference within strata (significant, practically large, adverse)
    /// that the overall comparison does not show as a finding.
    Stratified(StratifiedRow),
    /// A stop rate per 1,000 residents against the reference's.
    Population(PopulationRow),
    /// The crude and the stratified comparison on opposite sides of 1.
    Reversal(StratifiedRow),
    /// A lower search threshold: the difference from the reference's (the
    /// thresholds and the difference's interval are the finding's) and the
    /// field whose values are the locations.
    Threshold {
        /// Posterior mean of the group's average threshold minus the reference's.
        difference: f64,
        /// The field whose values are the locations, e.g. `unit`.
        location_field: String,
    },
    /// A failed data-quality check.
    DataQuality(Diagnostic),
    /// An entity stopping a group more often than its peers.
    InternalBenchmark(BenchmarkRow),
    /// A group's share of stops falling after dark.
    Veil(VeilResult),
}

/// Rows before and after suppression, side by side.
pub struct Rows<'a, T> {
    /// The rows as computed, before small-cell suppression.
    pub original: &'a [T],
    /// The same rows after suppression, in the same order.
    pub published: &'a [T],
}

/// Everything findings are made from.
pub struct Sources<'a> {
    /// Outcome-test rows.
    pub outcome_test: Rows<'a, ComparisonRow>,
    /// Justification-mix results, with their weak-justification rows.
    pub justification_mix: Rows<'a, MixResult>,
    /// Stratified (Mantel–Haenszel) rows.
    pub stratified: Rows<'a, StratifiedRow>,
    /// Search-funnel rows.
    pub search_funnel: Rows<'a, ComparisonRow>,
    /// Population-benchmark rows.
    pub population_benchmark: Rows<'a, PopulationRow>,
    /// Thresholds are not counts: nothing to suppress.
    pub threshold_test: &'a [ThresholdTestResult],
    /// Before suppression; findings show only odds ratios and q-values.
    pub veil_of_darkness: &'a [VeilResult],
    /// The data-quality diagnostics; every failed check is a finding.
    pub data_quality: &'a crate::analysis::quality::DataQuality,
    /// Internal-benchmarking rows.
    pub internal_benchmark: Rows<'a, crate::analysis::benchmarking::BenchmarkRow>,
}

const SMALL: u64 = 20;

/// Too few hits or non-hits in the group for a difference to be detectable.
fn is_small(r: &ComparisonRow) -> bool {
    let (s, h) = (r.stops.unwrap_or(0), r.hits.unwrap_or(0));
    h < SMALL || s - h < SMALL
}

impl Finding {
    /// A finding about a group against its reference, with no numbers yet
    /// (the id is given once all findings are sorted).
    fn new(
        severity: Severity,
        analysis: &str,
        attribute: &str,
        group: &str,
        reference: &str,
        fact: Fact,
    ) -> Self {
        Finding {
            id: String::new(),
            severity,
            analysis: analysis.to_string(),
            attribute: attribute.to_string(),
            group: group.to_string(),
            reference: reference.to_string(),
            stratum: BTreeMap::new(),
            stage: None,
            rate: None,
            ref_rate: None,
            rate_ratio: None,
            rate_ratio_ci: None,
            q_value: None,
            mh_rate_ratio: None,
            mh_rate_ratio_ci: None,
            mh_odds_ratio: None,
            mh_odds_ratio_ci: None,
            also_within: Vec::new(),
            threshold: None,
            ref_threshold: None,
            threshold_difference_ci: None,
            dark_odds_ratio: None,
            dark_odds_ratio_ci: None,
            summary_en: String::new(),
            summary_nl: String::new(),
            fact,
        }
    }
}

/// A finding with the numbers of a rate comparison.
fn base(analysis: &str, r: &ComparisonRow, severity: Severity, fact: Fact) -> Finding {
    Finding {
        stratum: r.stratum.clone(),
        stage: r.stage.clone(),
        rate: r.rate,
        ref_rate: r.ref_rate,
        rate_ratio: r.rate_ratio,
        rate_ratio_ci: r.rate_ratio_ci,
        q_value: r.q_value,
        ..Finding::new(
            severity,
            analysis,
            &r.attribute,
            &r.group,
            &r.reference,
            fact,
        )
    }
}

/// Folds a difference found within one stratum (a justification, a legal
/// basis) into the group's finding on the same measure over all its stops,
/// or, for the outcome test, its finding within strata, when there is one:
/// the same difference is reported once, with the strata where it shows on
/// its own listed (`also_within`).
fn fold_strata(findings: Vec<Finding>) -> Vec<Finding> {
    let is_main = |m: &Finding, f: &Finding| {
        matches!(m.severity, Severity::High | Severity::Medium)
            && m.attribute == f.attribute
            && m.group == f.group
            && m.stage == f.stage
            && ((m.analysis == f.analysis && m.stratum.is_empty())
                || (f.analysis == "outcome_test" && m.analysis == "stratified"))
    };
    let (strata, mut out): (Vec<Finding>, Vec<Finding>) = findings.into_iter().partition(|f| {
        !f.stratum.is_empty()
            && matches!(f.fact, Fact::Comparison { .. })
            && matches!(f.severity, Severity::High | Severity::Medium)
    });
    for f in strata {
        match out.iter_mut().find(|m| is_main(m, &f)) {
            Some(main) => main.also_within.push(f.stratum),
            None => out.push(f),
        }
    }
    out
}

/// Builds the findings, sorted by severity, then analysis, attribute, group and stratum.
pub fn findings(settings: &AnalysisSettings, src: &Sources) -> Vec<Finding> {
    let significant = |q: Option<f64>| q.is_some_and(|q| q < settings.fdr);
    let mut out = Vec::new();

    // Rate comparisons: outcome test, weak justifications, search funnel.
    let weak_original: Vec<ComparisonRow> = src
        .justification_mix
        .original
        .iter()
        .flat_map(|m| m.weak_justification.clone())
        .collect();
    let weak_published: Vec<ComparisonRow> = src
        .justification_mix
        .published
        .iter()
        .flat_map(|m| m.weak_justification.clone())
        .collect();
    let families: [(&str, &[ComparisonRow], &[ComparisonRow]); 3] = [
        (
            "outcome_test",
            src.outcome_test.original,
            src.outcome_test.published,
        ),
        ("justification_mix", &weak_original, &weak_published),
        (
            "search_funnel",
            src.search_funnel.original,
            src.search_funnel.published,
        ),
    ];
    // The stratified comparisons already made into findings (an overall
    // outcome-test finding carries its own); the others are judged below.
    let mut stratified_used: Vec<(&str, &str, Option<&str>)> = Vec::new();
    for (analysis, original, published) in families {
        for (o, p) in original.iter().zip(published) {
            if p.group == UNKNOWN_GROUP {
                continue;
            }
            let key = o.measure(analysis);
            let adverse = Adverse::of(key);
            let large = o
                .raw_ratio()
                .is_some_and(|x| settings.is_large(x) && adverse.holds(x));
            if !large {
                continue;
            }
            if p.suppressed && significant(o.q_value) {
                // Suppression hides the numbers, never the fact.
                let mut f = Finding::new(
                    Severity::Withheld,
                    analysis,
                    &p.attribute,
                    &p.group,
                    &p.reference,
                    Fact::Withheld { key },
                );
                f.stratum = p.stratum.clone();
                f.stage = p.stage.clone();
                push_unnamed(&mut out, f, o, settings.min_cell);
                continue;
            }
            if !p.suppressed && significant(p.q_value) {
                // Sanction rates and find rates over all stops are judged
                // within strata, where the stratified comparison has them.
                let overall =
                    p.stratum.is_empty() && (analysis == "outcome_test" || key == "contraband");
                let stratified = overall
                    .then(|| {
                        src.stratified.published.iter().find(|s| {
                            s.attribute == p.attribute && s.group == p.group && s.stage == p.stage
                        })
                    })
                    .flatten()
                    // One stratum compares nothing across strata.
                    .filter(|s| !s.suppressed && s.strata_used >= 2);
                let Some(s) = stratified else {
                    out.push(base(
                        analysis,
                        p,
                        Severity::Medium,
                        Fact::Comparison {
                            key,
                            row: p.clone(),
                            holds: None,
                        },
                    ));
                    continue;
                };
                stratified_used.push((&s.attribute, &s.group, s.stage.as_deref()));
                // Like with like decides: the difference must hold within
                // strata, significantly and practically, on the same side.
                let holds = significant(s.q_value)
                    && s.mh_rate_ratio
                        .is_some_and(|rr| settings.is_large(rr) && Adverse::Lower.holds(rr));
                if !holds {
                    if s.reversal && significant(s.q_value) {
                        // The reversal note below says it.
                        continue;
                    }
                    // Explained by the mix only when the data show no
                    // practically relevant difference within strata: the
                    // whole interval inside the band. Otherwise the data
                    // cannot tell.
                    // And only when the strata agree: a pooled ratio of
                    // strata that disagree explains nothing.
                    let inside = s
                        .mh_rate_ratio_ci
                        .is_some_and(|[lo, hi]| !settings.is_large(lo) && !settings.is_large(hi))
                        && !crate::analysis::stratified::heterogeneous(s.breslow_day_p_value);
                    let (row, stratified) = (p.clone(), s.clone());
                    let mut f = base(
                        analysis,
                        p,
                        Severity::Note,
                        if inside {
                            Fact::ExplainedByMix { row, stratified }
                        } else {
                            Fact::InconclusiveWithinStrata { row, stratified }
                        },
                    );
                    f.mh_rate_ratio = s.mh_rate_ratio;
                    f.mh_rate_ratio_ci = s.mh_rate_ratio_ci;
                    out.push(f);
                    continue;
                }
                let homogeneous = s.breslow_day_p_value.is_some()
                    && !crate::analysis::stratified::heterogeneous(s.breslow_day_p_value);
                let mut f = base(
                    analysis,
                    p,
                    if homogeneous {
                        Severity::High
                    } else {
                        Severity::Medium
                    },
                    Fact::Comparison {
                        key,
                        row: p.clone(),
                        holds: Some(s.clone()),
                    },
                );
                f.mh_rate_ratio = s.mh_rate_ratio;
                f.mh_rate_ratio_ci = s.mh_rate_ratio_ci;
                out.push(f);
            } else if !significant(o.q_value)
                && (p.suppressed || is_small(o))
                && (o.stratum.is_empty() || o.stratum.contains_key("justification"))
            {
                let mut f = base(
                    analysis,
                    p,
                    Severity::InsufficientData,
                    Fact::Insufficient { key },
                );
                // Only what suppression leaves visible.
                if p.suppressed {
                    f.rate = None;
                    f.ref_rate = None;
                    f.rate_ratio = None;
                    f.rate_ratio_ci = None;
                    f.q_value = None;
                    // "Looks large" about a hidden small count of the
                    // group's overall row would narrow it: no notice.
                    if own_small(o, settings.min_cell) && f.stratum.is_empty() {
                        continue;
                    }
                    push_unnamed(&mut out, f, o, settings.min_cell);
                } else {
                    out.push(f);
                }
            }
        }
    }

    // A difference within strata (like with like) that the overall
    // comparison does not show (or shows in the other direction): a
    // finding of its own.
    for s in src.stratified.published {
        let strong = !s.suppressed
            && s.strata_used >= 2
            && s.group != UNKNOWN_GROUP
            && significant(s.q_value)
            && s.mh_rate_ratio
                .is_some_and(|rr| settings.is_large(rr) && Adverse::Lower.holds(rr));
        if !strong || stratified_used.contains(&(&s.attribute, &s.group, s.stage.as_deref())) {
            continue;
        }
        let homogeneous = s.breslow_day_p_value.is_some()
            && !crate::analysis::stratified::heterogeneous(s.breslow_day_p_value);
        out.push(Finding {
            stage: s.stage.clone(),
            q_value: s.q_value,
            mh_rate_ratio: s.mh_rate_ratio,
            mh_rate_ratio_ci: s.mh_rate_ratio_ci,
            ..Finding::new(
                if homogeneous {
                    Severity::High
                } else {
                    Severity::Medium
                },
                "stratified",
                &s.attribute,
                &s.group,
                &s.reference,
                Fact::Stratified(s.clone()),
            )
        });
    }

    // Stratified and population comparisons that suppression hides.
    for (o, p) in src.stratified.original.iter().zip(src.stratified.published) {
        let strong = p.suppressed
            && o.group != UNKNOWN_GROUP
            && o.strata_used >= 2
            && significant(o.q_value)
            && o.mh_rate_ratio
                .is_some_and(|rr| settings.is_large(rr) && Adverse::Lower.holds(rr));
        if strong {
            let key = if o.stage.is_some() {
                "stratified_find"
            } else {
                "stratified"
            };
            let mut f = Finding::new(
                Severity::Withheld,
                "stratified",
                &o.attribute,
                &o.group,
                &o.reference,
                Fact::Withheld { key },
            );
            f.stage = o.stage.clone();
            out.push(f);
        }
    }
    for (o, p) in src
        .population_benchmark
        .original
        .iter()
        .zip(src.population_benchmark.published)
    {
        let strong = p.suppressed
            && o.group != UNKNOWN_GROUP
            && significant(o.q_value)
            && o.rate_ratio
                .is_some_and(|x| settings.is_large(x) && Adverse::Higher.holds(x));
        if strong {
            let mut f = Finding::new(
                Severity::Withheld,
                "population_benchmark",
                &o.attribute,
                &o.group,
                &o.reference,
                Fact::Withheld {
                    key: "population_benchmark",
                },
            );
            f.stratum = o.stratum.clone();
            out.push(f);
        }
    }

    // A reference group too small for any published comparison.
    let mut seen: Vec<&str> = Vec::new();
    for o in src
        .outcome_test
        .original
        .iter()
        .filter(|o| o.stratum.is_empty())
    {
        if seen.contains(&o.attribute.as_str()) {
            continue;
        }
        seen.push(&o.attribute);
        let (Some(rs), Some(rh)) = (o.ref_stops, o.ref_hits) else {
            continue;
        };
        let k = settings.min_cell;
        if crate::stats::suppression::small(rh, k) || crate::stats::suppression::small(rs - rh, k) {
            out.push(Finding::new(
                Severity::InsufficientData,
                "outcome_test",
                &o.attribute,
                "",
                &o.reference,
                Fact::ReferenceTooSmall,
            ));
        }
    }

    // Population benchmark.
    for p in src.population_benchmark.published {
        let large = p
            .rate_ratio
            .is_some_and(|x| settings.is_large(x) && Adverse::Higher.holds(x));
        if p.group == UNKNOWN_GROUP {
            continue;
        }
        if !p.suppressed && large && significant(p.q_value) {
            out.push(Finding {
                stratum: p.stratum.clone(),
                rate: p.rate_per_1000,
                ref_rate: p.ref_rate_per_1000,
                rate_ratio: p.rate_ratio,
                rate_ratio_ci: p.rate_ratio_ci,
                q_value: p.q_value,
                ..Finding::new(
                    Severity::Medium,
                    "population_benchmark",
                    &p.attribute,
                    &p.group,
                    &p.reference,
                    Fact::Population(p.clone()),
                )
            });
        }
    }

    // Reversals.
    for s in src.stratified.published.iter().filter(|s| {
        s.reversal && !s.suppressed && s.group != UNKNOWN_GROUP && significant(s.q_value)
    }) {
        out.push(Finding {
            stage: s.stage.clone(),
            q_value: s.q_value,
            mh_odds_ratio: s.mh_odds_ratio,
            mh_odds_ratio_ci: s.mh_odds_ratio_ci,
            ..Finding::new(
                Severity::Note,
                "stratified",
                &s.attribute,
                &s.group,
                &s.reference,
                Fact::Reversal(s.clone()),
            )
        });
    }

    // Threshold test: lower thresholds, credibly and practically.
    for t in src.threshold_test {
        if !t.diagnostics.as_ref().is_some_and(|d| d.converged) {
            continue;
        }
        let Some(reference) = t.groups.iter().find(|g| g.is_reference) else {
            continue;
        };
        for g in t.groups.iter().filter(|g| g.group != UNKNOWN_GROUP) {
            let (Some(difference), Some(ci)) = (g.difference_from_reference, g.difference_ci)
            else {
                continue;
            };
            let ratio = g.threshold / reference.threshold;
            if ci[1] >= 0.0 || !settings.is_large(ratio) {
                continue;
            }
            out.push(Finding {
                threshold: Some(g.threshold),
                ref_threshold: Some(reference.threshold),
                threshold_difference_ci: Some(ci),
                ..Finding::new(
                    Severity::Medium,
                    "threshold_test",
                    &t.attribute,
                    &g.group,
                    &t.reference,
                    Fact::Threshold {
                        difference,
                        location_field: t.location_field.clone(),
                    },
                )
            });
        }
    }

    // Data quality: every failed check.
    for d in src
        .data_quality
        .diagnostics
        .iter()
        .filter(|d| d.status == "fail")
    {
        let mut f = Finding::new(
            Severity::DataQuality,
            "data_quality",
            "",
            "",
            "",
            Fact::DataQuality(d.clone()),
        );
        f.stratum = BTreeMap::from([
            ("check".to_string(), d.check.to_string()),
            ("subject".to_string(), d.subject.clone()),
        ]);
        out.push(f);
    }

    // Internal benchmarking: an entity stopping a group markedly more often
    // than its peers in the same strata. Only published rows (never an
    // entity below the small-cell threshold).
    for r in src.internal_benchmark.published {
        let (Some(ratio), Some(ci)) = (r.ratio, r.ratio_ci) else {
            continue;
        };
        // Units have no peers in their own areas: shown, never findings.
        if r.entity_kind == "unit"
            || r.group == UNKNOWN_GROUP
            || r.suppressed
            || !significant(r.q_value)
            || ratio <= settings.practical_band[1]
        {
            continue;
        }
        let mut f = Finding {
            rate_ratio: Some(ratio),
            rate_ratio_ci: Some(ci),
            q_value: r.q_value,
            ..Finding::new(
                Severity::Medium,
                "internal_benchmark",
                &r.attribute,
                &r.group,
                "",
                Fact::InternalBenchmark(r.clone()),
            )
        };
        f.stratum = BTreeMap::from([(r.entity_kind.clone(), r.entity.clone())]);
        out.push(f);
    }

    // Veil of darkness: a share that falls after dark, significantly,
    // practically and whatever the spline's flexibility.
    for v in src.veil_of_darkness {
        let Some(e) = v.estimate else { continue };
        if v.group == UNKNOWN_GROUP {
            continue;
        }
        let robust = v
            .robustness
            .iter()
            .all(|r| r.estimate.is_none_or(|e| e.odds_ratio < 1.0));
        if !(significant(v.q_value) && e.odds_ratio < settings.practical_band[0] && robust) {
            continue;
        }
        out.push(Finding {
            q_value: v.q_value,
            dark_odds_ratio: Some(e.odds_ratio),
            dark_odds_ratio_ci: Some(e.odds_ratio_ci),
            ..Finding::new(
                Severity::Medium,
                "veil_of_darkness",
                &v.attribute,
                &v.group,
                &v.reference,
                Fact::Veil(v.clone()),
            )
        });
    }

    let mut out = fold_strata(out);

    let order = |a: &str| {
        [
            "data_quality",
            "outcome_test",
            "justification_mix",
            "stratified",
            "search_funnel",
            "threshold_test",
            "veil_of_darkness",
            "internal_benchmark",
            "population_benchmark",
        ]
        .iter()
        .position(|x| *x == a)
    };
    out.sort_by(|a, b| {
        (
            a.severity,
            order(&a.analysis),
            &a.attribute,
            &a.group,
            &a.stratum,
            &a.stage,
        )
            .cmp(&(
                b.severity,
                order(&b.analysis),
                &b.attribute,
                &b.group,
                &b.stratum,
                &b.stage,
            ))
    });
    for (i, f) in out.iter_mut().enumerate() {
        f.id = format!("F{:03}", i + 1);
    }
    out
}
