//! Wording: each finding's fact put into an English and a Dutch sentence,
//! from the strings of `crate::i18n` (`finding.*`, `phrase.*`). Rules decide
//! ([`crate::findings`]); this only writes. Every sentence about a group ends
//! with the caveat that a statistical signal is a reason for review, not
//! proof; data-quality findings, facts about the registrations, do not.

use std::collections::BTreeMap;

use crate::analysis::AnalysisSettings;
use crate::analysis::compare::ComparisonRow;
use crate::codes::CodeLists;
use crate::findings::{Fact, Finding};
use crate::i18n::{Lang, Messages};

/// Writes `summary_en` and `summary_nl` of every finding from its fact.
pub fn write(findings: &mut [Finding], settings: &AnalysisSettings, codes: &CodeLists) {
    let w = Writer { settings, codes };
    let langs = [Messages::new(Lang::En), Messages::new(Lang::Nl)];
    for f in findings {
        let [en, nl] = langs.each_ref().map(|m| w.sentence(m, f));
        f.summary_en = en;
        f.summary_nl = nl;
    }
}

/// Words for one run's findings: its settings and code lists.
struct Writer<'a> {
    settings: &'a AnalysisSettings,
    codes: &'a CodeLists,
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
        if value == crate::findings::SOME_CATEGORY {
            return m.fill("phrase.stratum_some", &[("field", &self.field(m, field))]);
        }
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

    /// ` The same difference is significant on its own in stops under
    /// justification 'behaviour' and with legal basis 'x'.`, or nothing.
    fn also_within(&self, m: &Messages, strata: &[BTreeMap<String, String>]) -> String {
        if strata.is_empty() {
            return String::new();
        }
        let list: Vec<String> = strata
            .iter()
            .map(|s| self.stratum(m, s).trim_start().to_string())
            .collect();
        m.fill(
            "phrase.also_within",
            &[(
                "strata",
                &format!(" {}", list.join(m.text("phrase.list_and"))),
            )],
        )
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
                ("ratio_part", &self.ratio_part(m, r)),
            ],
        );
        format!("{text}{extra} {}", m.text("finding.caveat"))
    }

    /// `: a rate ratio of 0.68 (95% CI 0.57–0.82; q = 0.002)`, or, when the
    /// reference group has no hits (no ratio exists), that no ratio can be given.
    fn ratio_part(&self, m: &Messages, r: &ComparisonRow) -> String {
        let q = r.q_value.map(|q| m.q_value(q)).unwrap_or_default();
        match r.rate_ratio {
            Some(ratio) => m.fill(
                "phrase.ratio",
                &[
                    ("ratio", &m.number(ratio, 2)),
                    ("ratio_ci", &self.ci(m, r.rate_ratio_ci, false, 2)),
                    ("q", &q),
                ],
            ),
            None => m.fill("phrase.no_ratio", &[("q", &q)]),
        }
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
    /// The finding in the language of `m`.
    fn sentence(&self, m: &Messages, f: &Finding) -> String {
        let w = self;
        let with_caveat = |text: String| format!("{text} {}", m.text("finding.caveat"));
        match &f.fact {
            Fact::Comparison { key, row, holds } => {
                let extra = holds
                    .as_ref()
                    .map(|s| {
                        let similar = s.breslow_day_p_value.is_some_and(|bd| bd >= 0.05);
                        m.fill(
                            if similar {
                                "finding.stratified_holds"
                            } else {
                                "finding.stratified_holds_varies"
                            },
                            &[
                                ("strata", &w.strata(m, &s.strata_by)),
                                (
                                    "mh",
                                    &s.mh_rate_ratio.map(|x| m.number(x, 2)).unwrap_or_default(),
                                ),
                                ("mh_ci", &w.ci(m, s.mh_rate_ratio_ci, false, 2)),
                            ],
                        )
                    })
                    .unwrap_or_default()
                    + &w.also_within(m, &f.also_within);
                w.comparison(m, &format!("finding.{key}"), row, &extra)
            }
            Fact::ExplainedByMix { row, stratified }
            | Fact::InconclusiveWithinStrata { row, stratified } => m.fill(
                &format!(
                    "finding.{}{}",
                    if matches!(f.fact, Fact::ExplainedByMix { .. }) {
                        "explained_by_mix"
                    } else {
                        "inconclusive_within_strata"
                    },
                    find_suffix(&row.stage)
                ),
                &[
                    ("subject", &w.subject(m, &row.attribute, &row.group)),
                    ("hits", &w.list(m, &self.settings.hit_outcomes, "outcome")),
                    ("rate", &row.rate.map(|x| m.percent(x)).unwrap_or_default()),
                    (
                        "ref_rate",
                        &row.ref_rate.map(|x| m.percent(x)).unwrap_or_default(),
                    ),
                    (
                        "reference",
                        &m.fill("phrase.reference", &[("reference", &row.reference)]),
                    ),
                    (
                        "ratio",
                        &row.rate_ratio.map(|x| m.number(x, 2)).unwrap_or_default(),
                    ),
                    ("ratio_ci", &w.ci(m, row.rate_ratio_ci, false, 2)),
                    ("strata", &w.strata(m, &stratified.strata_by)),
                    (
                        "mh",
                        &stratified
                            .mh_rate_ratio
                            .map(|x| m.number(x, 2))
                            .unwrap_or_default(),
                    ),
                    ("mh_ci", &w.ci(m, stratified.mh_rate_ratio_ci, false, 2)),
                    (
                        "q",
                        &stratified.q_value.map(|q| m.q_value(q)).unwrap_or_default(),
                    ),
                ],
            ),
            Fact::Stratified(s) => with_caveat(
                m.fill(
                    &format!("finding.stratified{}", find_suffix(&s.stage)),
                    &[
                        ("subject", &w.subject(m, &s.attribute, &s.group)),
                        ("hits", &w.list(m, &self.settings.hit_outcomes, "outcome")),
                        (
                            "reference",
                            &m.fill("phrase.reference", &[("reference", &s.reference)]),
                        ),
                        ("strata", &w.strata(m, &s.strata_by)),
                        (
                            "mh",
                            &s.mh_rate_ratio.map(|x| m.number(x, 2)).unwrap_or_default(),
                        ),
                        ("mh_ci", &w.ci(m, s.mh_rate_ratio_ci, false, 2)),
                        ("q", &s.q_value.map(|q| m.q_value(q)).unwrap_or_default()),
                        (
                            "spread",
                            m.text(if s.breslow_day_p_value.is_some_and(|bd| bd >= 0.05) {
                                "finding.stratified_similar"
                            } else {
                                "finding.stratified_varies"
                            }),
                        ),
                    ],
                ) + &w.also_within(m, &f.also_within),
            ),
            Fact::Insufficient { key } => {
                w.insufficient(m, key, &f.attribute, &f.group, &f.reference, &f.stratum)
            }
            Fact::Withheld { key } => m.fill(
                "finding.withheld",
                &[
                    ("subject", &w.subject(m, &f.attribute, &f.group)),
                    ("stratum", &w.stratum(m, &f.stratum)),
                    ("measure", m.text(&format!("measure.{key}"))),
                    (
                        "reference",
                        &m.fill("phrase.reference", &[("reference", &f.reference)]),
                    ),
                    ("min_cell", &w.settings.min_cell.to_string()),
                ],
            ),
            Fact::ReferenceTooSmall => m.fill(
                "finding.reference_too_small",
                &[
                    (
                        "attribute",
                        &m.text_or(&format!("attribute.{}", f.attribute), &f.attribute),
                    ),
                    ("reference", &f.reference),
                    ("min_cell", &w.settings.min_cell.to_string()),
                ],
            ),
            Fact::Population(p) => with_caveat({
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
            }),
            Fact::Reversal(s) => with_caveat(
                m.fill(
                    &format!("finding.reversal{}", find_suffix(&s.stage)),
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
                ),
            ),
            Fact::Threshold {
                difference,
                location_field,
            } => {
                let (threshold, ref_threshold) = (
                    f.threshold.expect("a threshold finding has thresholds"),
                    f.ref_threshold.expect("a threshold finding has thresholds"),
                );
                let ci = f
                    .threshold_difference_ci
                    .expect("a threshold finding has an interval");
                let difference = *difference;
                with_caveat(m.fill(
                    "finding.threshold_test",
                    &[
                        ("subject", &w.subject(m, &f.attribute, &f.group)),
                        (
                            "reference",
                            &m.fill("phrase.reference", &[("reference", &f.reference)]),
                        ),
                        ("threshold", &m.percent(threshold)),
                        ("ref_threshold", &m.percent(ref_threshold)),
                        // In percentage points.
                        ("difference", &m.number(100.0 * difference, 1)),
                        ("low", &m.number(100.0 * ci[0], 1)),
                        ("high", &m.number(100.0 * ci[1], 1)),
                        (
                            "level",
                            &format!("{}%", m.number(100.0 * self.settings.confidence, 0)),
                        ),
                        ("location", &w.field(m, location_field)),
                    ],
                ))
            }
            Fact::DataQuality(d) => {
                let key = if d.check == "officer_volume" && d.subject == "all" {
                    "finding.data_quality_officer_volume_all".to_string()
                } else {
                    format!("finding.data_quality_{}", d.check)
                };
                let pct = |x: Option<f64>| x.map(|x| m.percent(x)).unwrap_or_default();
                let subject = match d.check {
                    "coverage" => m.text_or(
                        &format!("field.{}", d.subject),
                        &m.text_or(&format!("attribute.{}", d.subject), &d.subject),
                    ),
                    _ => d.subject.clone(),
                };
                let text = m.fill(
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
                );
                match &d.scope {
                    Some(scope) => format!(
                        "{text} {}",
                        m.fill("finding.data_quality_scoped", &[("scope", scope)])
                    ),
                    None => text,
                }
            }
            Fact::InternalBenchmark(r) => {
                let (ratio, ci) = (
                    r.ratio.expect("a benchmark finding has a ratio"),
                    r.ratio_ci.expect("a benchmark finding has an interval"),
                );
                with_caveat(
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
                    ),
                )
            }
            Fact::Veil(v) => {
                let (ratio, ci) = (
                    f.dark_odds_ratio.expect("a veil finding has an odds ratio"),
                    f.dark_odds_ratio_ci
                        .expect("a veil finding has an interval"),
                );
                with_caveat(m.fill(
                    "finding.veil_of_darkness",
                    &[
                        ("subject", &w.subject(m, &v.attribute, &v.group)),
                        (
                            "reference",
                            &m.fill("phrase.reference", &[("reference", &v.reference)]),
                        ),
                        ("ratio", &m.number(ratio, 2)),
                        ("ratio_ci", &w.ci(m, Some(ci), false, 2)),
                        ("q", &v.q_value.map(|q| m.q_value(q)).unwrap_or_default()),
                    ],
                ))
            }
        }
    }
}

/// `_find` for the sentence variant about finds per search (`stage`
/// `contraband`), nothing for the sanction rate of all stops.
fn find_suffix(stage: &Option<String>) -> &'static str {
    if stage.is_some() { "_find" } else { "" }
}
