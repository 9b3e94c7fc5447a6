//! Findings: the comparisons that deserve review, in plain English and Dutch.
//!
//! A comparison becomes a finding when its q-value is below the FDR level
//! and its rate ratio lies outside the practical band. Severity:
//!
//! - `high`: an overall outcome-test difference that also holds in the
//!   stratified comparison (CMH q below the FDR level, Breslow–Day p ≥ 0.05:
//!   similar in every stratum, and the pooled odds ratio on the same side of 1);
//! - `medium`: any other finding (a difference in some strata only, or
//!   heterogeneous across strata; weak justifications, searches, population);
//! - `insufficient_data`: the point estimate is outside the band but the
//!   comparison is not significant and the group's counts are small
//!   (suppressed, or fewer than 20 hits or non-hits), so no conclusion either
//!   way; given for overall comparisons and justification strata only;
//! - `note`: a reversal between the crude and the stratified comparison
//!   (Simpson's paradox: opposite sides of 1, each at least 10% away from
//!   it, with a significant CMH test).
//!
//! The threshold test (when run) gives a `medium` finding for a group whose
//! average search threshold is lower than the reference group's with a 95%
//! credible interval of the difference entirely below zero, a ratio of the
//! thresholds outside the practical band, and a converged fit.
//!
//! Every summary ends with the caveat that a statistical signal is a reason
//! for review, not proof of discrimination. A finding never shows a number
//! that small-cell suppression hides.

use std::collections::BTreeMap;

use serde::Serialize;

use super::AnalysisSettings;
use super::compare::ComparisonRow;
use super::mix::MixResult;
use super::population::PopulationRow;
use super::stratified::StratifiedRow;
use super::threshold::ThresholdTestResult;
use super::veil::VeilResult;
use crate::codes::CodeLists;
use crate::i18n::{Lang, Messages};

/// How strongly a finding calls for review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// A problem in the registrations themselves (listed first: it limits every comparison).
    DataQuality,
    High,
    Medium,
    InsufficientData,
    Note,
}

impl Severity {
    /// Parses `data_quality`, `high`, `medium`, `insufficient_data` or `note`.
    pub fn parse(s: &str) -> Option<Self> {
        [
            Severity::DataQuality,
            Severity::High,
            Severity::Medium,
            Severity::InsufficientData,
            Severity::Note,
        ]
        .into_iter()
        .find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::DataQuality => "data_quality",
            Severity::High => "high",
            Severity::Medium => "medium",
            Severity::InsufficientData => "insufficient_data",
            Severity::Note => "note",
        }
    }
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: String,
    pub severity: Severity,
    /// `outcome_test`, `justification_mix`, `search_funnel`, `population_benchmark` or `stratified`.
    pub analysis: String,
    pub attribute: String,
    pub group: String,
    pub reference: String,
    pub stratum: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    pub rate: Option<f64>,
    pub ref_rate: Option<f64>,
    pub rate_ratio: Option<f64>,
    pub rate_ratio_ci: Option<[f64; 2]>,
    pub q_value: Option<f64>,
    pub mh_odds_ratio: Option<f64>,
    pub mh_odds_ratio_ci: Option<[f64; 2]>,
    /// Threshold test only: the group's and the reference's average
    /// threshold and the difference's credible interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub threshold_difference_ci: Option<[f64; 2]>,
    /// Veil of darkness only: the odds ratio of being of the group in
    /// darkness against daylight, and its interval.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dark_odds_ratio: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dark_odds_ratio_ci: Option<[f64; 2]>,
    pub summary_en: String,
    pub summary_nl: String,
}

/// Rows before and after suppression, side by side.
pub struct Rows<'a, T> {
    pub original: &'a [T],
    pub published: &'a [T],
}

/// Everything findings are made from.
pub struct Sources<'a> {
    pub outcome_test: Rows<'a, ComparisonRow>,
    pub justification_mix: Rows<'a, MixResult>,
    pub stratified: Rows<'a, StratifiedRow>,
    pub search_funnel: Rows<'a, ComparisonRow>,
    pub population_benchmark: Rows<'a, PopulationRow>,
    /// Thresholds are not counts: nothing to suppress.
    pub threshold_test: &'a [ThresholdTestResult],
    /// Before suppression; findings show only odds ratios and q-values.
    pub veil_of_darkness: &'a [VeilResult],
    pub data_quality: &'a super::quality::DataQuality,
    pub internal_benchmark: Rows<'a, super::benchmarking::BenchmarkRow>,
}

const SMALL: u64 = 20;

/// Too few hits or non-hits in the group for a difference to be detectable.
fn is_small(r: &ComparisonRow) -> bool {
    let (s, h) = (r.stops.unwrap_or(0), r.hits.unwrap_or(0));
    h < SMALL || s - h < SMALL
}

struct Writer<'a> {
    settings: &'a AnalysisSettings,
    codes: &'a CodeLists,
    langs: [Messages; 2],
}

impl Writer<'_> {
    fn subject(&self, m: &Messages, attribute: &str, group: &str) -> String {
        let attr = m.text_or(&format!("attribute.{attribute}"), attribute);
        m.fill("phrase.subject", &[("attribute", &attr), ("group", group)])
    }

    fn stratum(&self, m: &Messages, stratum: &BTreeMap<String, String>) -> String {
        let Some((field, value)) = stratum.iter().next() else {
            return String::new();
        };
        let label = match self
            .codes
            .for_field(field)
            .and_then(|l| l.index_of(value).map(|i| l.get(i)))
        {
            Some(code) => m.code_label(code).to_string(),
            None => value.clone(),
        };
        let key = match field.as_str() {
            "justification" => "phrase.stratum_justification",
            "legal_basis" => "phrase.stratum_legal_basis",
            _ => "phrase.stratum_other",
        };
        m.fill(key, &[("field", &self.field(m, field)), ("value", &label)])
    }

    /// A field's name in this language.
    fn field(&self, m: &Messages, field: &str) -> String {
        m.text_or(&format!("field.{field}"), field)
    }

    /// Stratum fields joined, e.g. `justification × unit`.
    fn strata(&self, m: &Messages, fields: &[String]) -> String {
        fields
            .iter()
            .map(|f| self.field(m, f))
            .collect::<Vec<_>>()
            .join(" × ")
    }

    fn ci(&self, m: &Messages, ci: Option<[f64; 2]>, percent: bool, decimals: usize) -> String {
        let level = format!("{}%", m.number(100.0 * self.settings.confidence, 0));
        match ci {
            Some([lo, hi]) => {
                let f = |x: f64| {
                    if percent {
                        m.percent(x)
                    } else {
                        m.number(x, decimals)
                    }
                };
                m.fill(
                    "phrase.ci",
                    &[("level", &level), ("low", &f(lo)), ("high", &f(hi))],
                )
            }
            None => m.fill(
                "phrase.ci",
                &[("level", &level), ("low", "–"), ("high", "–")],
            ),
        }
    }

    fn list(&self, m: &Messages, codes: &[String], field: &str) -> String {
        let list = self.codes.for_field(field).expect("coded field");
        codes
            .iter()
            .filter_map(|c| {
                list.index_of(c)
                    .map(|i| m.code_label(list.get(i)).to_string())
            })
            .collect::<Vec<_>>()
            .join(m.text("phrase.list_or"))
    }

    /// The summary of a rate comparison in one language.
    fn comparison(&self, m: &Messages, key: &str, r: &ComparisonRow, extra: &str) -> String {
        let subject = self.subject(m, &r.attribute, &r.group);
        let reference = m.fill("phrase.reference", &[("reference", &r.reference)]);
        let text = m.fill(
            key,
            &[
                ("subject", &subject),
                ("stratum", &self.stratum(m, &r.stratum)),
                (
                    "hits",
                    &self.list(m, &self.settings.hit_outcomes, "outcome"),
                ),
                (
                    "weak",
                    &self.list(m, &self.settings.weak_justifications, "justification"),
                ),
                ("rate", &r.rate.map(|x| m.percent(x)).unwrap_or_default()),
                ("ci", &self.ci(m, r.rate_ci, true, 1)),
                (
                    "ref_rate",
                    &r.ref_rate.map(|x| m.percent(x)).unwrap_or_default(),
                ),
                ("reference", &reference),
                (
                    "ratio",
                    &r.rate_ratio
                        .map(|x| m.number(x, 2))
                        .unwrap_or_else(|| "–".into()),
                ),
                ("ratio_ci", &self.ci(m, r.rate_ratio_ci, false, 2)),
                ("q", &r.q_value.map(|q| m.q_value(q)).unwrap_or_default()),
            ],
        );
        format!("{text}{extra} {}", m.text("finding.caveat"))
    }

    fn insufficient(
        &self,
        m: &Messages,
        analysis_key: &str,
        attribute: &str,
        group: &str,
        reference: &str,
        stratum: &BTreeMap<String, String>,
    ) -> String {
        let text = m.fill(
            "finding.insufficient",
            &[
                ("subject", &self.subject(m, attribute, group)),
                ("stratum", &self.stratum(m, stratum)),
                ("measure", m.text(&format!("measure.{analysis_key}"))),
                (
                    "reference",
                    &m.fill("phrase.reference", &[("reference", reference)]),
                ),
            ],
        );
        format!("{text} {}", m.text("finding.caveat"))
    }
}

impl Writer<'_> {
    /// The same sentence in English and Dutch, each followed by the caveat.
    fn both(&self, text: impl Fn(&Messages) -> String) -> (String, String) {
        let [en, nl] = &self.langs;
        (
            format!("{} {}", text(en), en.text("finding.caveat")),
            format!("{} {}", text(nl), nl.text("finding.caveat")),
        )
    }
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
            mh_odds_ratio: None,
            mh_odds_ratio_ci: None,
            threshold: None,
            ref_threshold: None,
            threshold_difference_ci: None,
            dark_odds_ratio: None,
            dark_odds_ratio_ci: None,
            summary_en: String::new(),
            summary_nl: String::new(),
        }
    }
}

/// A finding with the numbers of a rate comparison.
fn base(analysis: &str, r: &ComparisonRow, severity: Severity) -> Finding {
    Finding {
        stratum: r.stratum.clone(),
        stage: r.stage.clone(),
        rate: r.rate,
        ref_rate: r.ref_rate,
        rate_ratio: r.rate_ratio,
        rate_ratio_ci: r.rate_ratio_ci,
        q_value: r.q_value,
        ..Finding::new(severity, analysis, &r.attribute, &r.group, &r.reference)
    }
}

/// Builds the findings, sorted by severity, then analysis, attribute, group and stratum.
pub fn findings(settings: &AnalysisSettings, codes: &CodeLists, src: &Sources) -> Vec<Finding> {
    let w = Writer {
        settings,
        codes,
        langs: [Messages::new(Lang::En), Messages::new(Lang::Nl)],
    };
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
    for (analysis, original, published) in families {
        for (o, p) in original.iter().zip(published) {
            let key = match (analysis, o.stage.as_deref()) {
                ("outcome_test", _) => "outcome_test",
                ("justification_mix", _) => "weak_justification",
                (_, Some("search")) => "search",
                _ => "contraband",
            };
            let large = o.raw_ratio().is_some_and(|x| settings.is_large(x));
            if !large {
                continue;
            }
            if !p.suppressed && significant(p.q_value) {
                let mut f = base(analysis, p, Severity::Medium);
                let mut extra = [String::new(), String::new()];
                if analysis == "outcome_test" && p.stratum.is_empty() {
                    let s = src
                        .stratified
                        .published
                        .iter()
                        .find(|s| s.attribute == p.attribute && s.group == p.group);
                    if let Some(s) = s.filter(|s| !s.suppressed) {
                        let same_side = match (s.mh_odds_ratio, p.rate_ratio) {
                            (Some(or), Some(rr)) => (or < 1.0) == (rr < 1.0),
                            _ => false,
                        };
                        let homogeneous = s.breslow_day_p_value.is_none_or(|bd| bd >= 0.05);
                        if significant(s.q_value) && homogeneous && same_side {
                            f.severity = Severity::High;
                            f.mh_odds_ratio = s.mh_odds_ratio;
                            f.mh_odds_ratio_ci = s.mh_odds_ratio_ci;
                            for (i, m) in w.langs.iter().enumerate() {
                                extra[i] = m.fill(
                                    "finding.stratified_holds",
                                    &[
                                        ("strata", &w.strata(m, &s.strata_by)),
                                        (
                                            "mh",
                                            &s.mh_odds_ratio
                                                .map(|x| m.number(x, 2))
                                                .unwrap_or_default(),
                                        ),
                                        ("mh_ci", &w.ci(m, s.mh_odds_ratio_ci, false, 2)),
                                    ],
                                );
                            }
                        }
                    }
                }
                f.summary_en = w.comparison(&w.langs[0], &format!("finding.{key}"), p, &extra[0]);
                f.summary_nl = w.comparison(&w.langs[1], &format!("finding.{key}"), p, &extra[1]);
                out.push(f);
            } else if !significant(o.q_value)
                && (p.suppressed || is_small(o))
                && (o.stratum.is_empty() || o.stratum.contains_key("justification"))
            {
                let mut f = base(analysis, p, Severity::InsufficientData);
                // Only what suppression leaves visible.
                if p.suppressed {
                    f.rate = None;
                    f.ref_rate = None;
                    f.rate_ratio = None;
                    f.rate_ratio_ci = None;
                    f.q_value = None;
                }
                f.summary_en = w.insufficient(
                    &w.langs[0],
                    key,
                    &p.attribute,
                    &p.group,
                    &p.reference,
                    &p.stratum,
                );
                f.summary_nl = w.insufficient(
                    &w.langs[1],
                    key,
                    &p.attribute,
                    &p.group,
                    &p.reference,
                    &p.stratum,
                );
                out.push(f);
            }
        }
    }

    // Population benchmark.
    for p in src.population_benchmark.published {
        let large = p.rate_ratio.is_some_and(|x| settings.is_large(x));
        if !p.suppressed && large && significant(p.q_value) {
            let row = ComparisonRow {
                attribute: p.attribute.clone(),
                group: p.group.clone(),
                reference: p.reference.clone(),
                stratum: p.stratum.clone(),
                stage: None,
                stops: p.stops,
                hits: None,
                rate: p.rate_per_1000,
                rate_ci: None,
                ref_stops: p.ref_stops,
                ref_hits: None,
                ref_rate: p.ref_rate_per_1000,
                ref_rate_ci: None,
                rate_ratio: p.rate_ratio,
                rate_ratio_ci: p.rate_ratio_ci,
                p_value: p.p_value,
                p_value_log10: p.p_value_log10,
                q_value: p.q_value,
                suppressed: false,
            };
            let mut f = base("population_benchmark", &row, Severity::Medium);
            (f.summary_en, f.summary_nl) = w.both(|m| {
                let subject = w.subject(m, &p.attribute, &p.group);
                let mut cap = subject.clone();
                if let Some(first) = cap.get(..1) {
                    cap = first.to_uppercase() + &cap[1..];
                }
                m.fill(
                    "finding.population",
                    &[
                        ("subject_cap", &cap),
                        (
                            "rate",
                            &p.rate_per_1000.map(|x| m.number(x, 1)).unwrap_or_default(),
                        ),
                        (
                            "ref_rate",
                            &p.ref_rate_per_1000
                                .map(|x| m.number(x, 1))
                                .unwrap_or_default(),
                        ),
                        (
                            "reference",
                            &m.fill("phrase.reference", &[("reference", &p.reference)]),
                        ),
                        (
                            "ratio",
                            &p.rate_ratio.map(|x| m.number(x, 2)).unwrap_or_default(),
                        ),
                        ("ratio_ci", &w.ci(m, p.rate_ratio_ci, false, 2)),
                        ("q", &p.q_value.map(|q| m.q_value(q)).unwrap_or_default()),
                    ],
                )
            });
            out.push(f);
        }
    }

    // Reversals.
    for s in src
        .stratified
        .published
        .iter()
        .filter(|s| s.reversal && !s.suppressed && significant(s.q_value))
    {
        let mut f = Finding {
            q_value: s.q_value,
            mh_odds_ratio: s.mh_odds_ratio,
            mh_odds_ratio_ci: s.mh_odds_ratio_ci,
            ..Finding::new(
                Severity::Note,
                "stratified",
                &s.attribute,
                &s.group,
                &s.reference,
            )
        };
        (f.summary_en, f.summary_nl) = w.both(|m| {
            m.fill(
                "finding.reversal",
                &[
                    ("subject", &w.subject(m, &s.attribute, &s.group)),
                    (
                        "reference",
                        &m.fill("phrase.reference", &[("reference", &s.reference)]),
                    ),
                    ("strata", &w.strata(m, &s.strata_by)),
                    (
                        "crude",
                        &s.crude_odds_ratio
                            .map(|x| m.number(x, 2))
                            .unwrap_or_default(),
                    ),
                    (
                        "mh",
                        &s.mh_odds_ratio.map(|x| m.number(x, 2)).unwrap_or_default(),
                    ),
                ],
            )
        });
        out.push(f);
    }

    // Threshold test: lower thresholds, credibly and practically.
    for t in src.threshold_test {
        if !t.diagnostics.as_ref().is_some_and(|d| d.converged) {
            continue;
        }
        let Some(reference) = t.groups.iter().find(|g| g.is_reference) else {
            continue;
        };
        for g in &t.groups {
            let (Some(difference), Some(ci)) = (g.difference_from_reference, g.difference_ci)
            else {
                continue;
            };
            let ratio = g.threshold / reference.threshold;
            if ci[1] >= 0.0 || !settings.is_large(ratio) {
                continue;
            }
            let mut f = Finding {
                threshold: Some(g.threshold),
                ref_threshold: Some(reference.threshold),
                threshold_difference_ci: Some(ci),
                ..Finding::new(
                    Severity::Medium,
                    "threshold_test",
                    &t.attribute,
                    &g.group,
                    &t.reference,
                )
            };
            (f.summary_en, f.summary_nl) = w.both(|m| {
                m.fill(
                    "finding.threshold_test",
                    &[
                        ("subject", &w.subject(m, &t.attribute, &g.group)),
                        (
                            "reference",
                            &m.fill("phrase.reference", &[("reference", &t.reference)]),
                        ),
                        ("threshold", &m.percent(g.threshold)),
                        ("ref_threshold", &m.percent(reference.threshold)),
                        // In percentage points.
                        ("difference", &m.number(100.0 * difference, 1)),
                        ("low", &m.number(100.0 * ci[0], 1)),
                        ("high", &m.number(100.0 * ci[1], 1)),
                        (
                            "level",
                            &format!("{}%", m.number(100.0 * settings.confidence, 0)),
                        ),
                        ("location", &w.field(m, &t.location_field)),
                    ],
                )
            });
            out.push(f);
        }
    }

    // Data quality: every failed check.
    for d in src
        .data_quality
        .diagnostics
        .iter()
        .filter(|d| d.status == "fail")
    {
        let mut f = Finding::new(Severity::DataQuality, "data_quality", "", "", "");
        f.stratum = BTreeMap::from([
            ("check".to_string(), d.check.to_string()),
            ("subject".to_string(), d.subject.clone()),
        ]);
        let key = if d.check == "officer_volume" && d.subject == "all" {
            "finding.data_quality_officer_volume_all".to_string()
        } else {
            format!("finding.data_quality_{}", d.check)
        };
        // No discrimination caveat: these are facts about the registrations.
        let [en, nl] = w.langs.each_ref().map(|m| {
            let pct = |x: Option<f64>| x.map(|x| m.percent(x)).unwrap_or_default();
            let subject = match d.check {
                "coverage" => m.text_or(
                    &format!("field.{}", d.subject),
                    &m.text_or(&format!("attribute.{}", d.subject), &d.subject),
                ),
                _ => d.subject.clone(),
            };
            m.fill(
                &key,
                &[
                    ("subject", &subject),
                    ("share", &pct(d.value)),
                    ("threshold", &pct(Some(d.threshold))),
                    (
                        "ratio",
                        &d.value.map(|x| m.number(x, 1)).unwrap_or_default(),
                    ),
                    ("limit", &m.number(d.threshold, 1)),
                    (
                        "count",
                        &d.count.map(|n| m.number(n as f64, 0)).unwrap_or_default(),
                    ),
                    (
                        "base",
                        &d.base.map(|n| m.number(n as f64, 0)).unwrap_or_default(),
                    ),
                    ("months", &d.months.join(", ")),
                ],
            )
        });
        (f.summary_en, f.summary_nl) = (en, nl);
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
            )
        };
        f.stratum = BTreeMap::from([(r.entity_kind.clone(), r.entity.clone())]);
        (f.summary_en, f.summary_nl) = w.both(|m| {
            m.fill(
                "finding.internal_benchmark",
                &[
                    (
                        "entity",
                        &m.fill(
                            &format!("phrase.entity_{}", r.entity_kind),
                            &[("name", &r.entity)],
                        ),
                    ),
                    ("subject", &w.subject(m, &r.attribute, &r.group)),
                    ("ratio", &m.number(ratio, 2)),
                    ("ratio_ci", &w.ci(m, Some(ci), false, 2)),
                    (
                        "observed",
                        &r.observed
                            .map(|o| m.number(o as f64, 0))
                            .unwrap_or_default(),
                    ),
                    (
                        "expected",
                        &r.expected.map(|e| m.number(e, 1)).unwrap_or_default(),
                    ),
                    ("q", &r.q_value.map(|q| m.q_value(q)).unwrap_or_default()),
                ],
            )
        });
        out.push(f);
    }

    // Veil of darkness: a share that falls after dark, significantly,
    // practically and whatever the spline's flexibility.
    for v in src.veil_of_darkness {
        let Some(e) = v.estimate else { continue };
        let robust = v
            .robustness
            .iter()
            .all(|r| r.estimate.is_none_or(|e| e.odds_ratio < 1.0));
        if !(significant(v.q_value) && e.odds_ratio < settings.practical_band[0] && robust) {
            continue;
        }
        let mut f = Finding {
            q_value: v.q_value,
            dark_odds_ratio: Some(e.odds_ratio),
            dark_odds_ratio_ci: Some(e.odds_ratio_ci),
            ..Finding::new(
                Severity::Medium,
                "veil_of_darkness",
                &v.attribute,
                &v.group,
                &v.reference,
            )
        };
        (f.summary_en, f.summary_nl) = w.both(|m| {
            m.fill(
                "finding.veil_of_darkness",
                &[
                    ("subject", &w.subject(m, &v.attribute, &v.group)),
                    (
                        "reference",
                        &m.fill("phrase.reference", &[("reference", &v.reference)]),
                    ),
                    ("ratio", &m.number(e.odds_ratio, 2)),
                    ("ratio_ci", &w.ci(m, Some(e.odds_ratio_ci), false, 2)),
                    ("q", &v.q_value.map(|q| m.q_value(q)).unwrap_or_default()),
                ],
            )
        });
        out.push(f);
    }

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
