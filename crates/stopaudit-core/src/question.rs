//! One question, one answer (`stopaudit ask`): a group against its
//! reference on one measure, in one scope, read from the published results
//! of a run, so that the answer carries the same disclosure control,
//! q-values and verdicts as the report. For the parliamentary question
//! "how many behaviour stops did unit Rotterdam make of people with
//! Moroccan nationality in Q3, and how does their outcome rate compare with
//! Dutch nationals?" the run is scoped (`--where unit=Rotterdam --period
//! 2025-Q3`) and the question picks the row (`--group
//! nationality=Marokkaans --within justification=behaviour`).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::compare::{ComparisonRow, Verdict};
use crate::codes::normalize_label;
use crate::error::{Error, Result};
use crate::i18n::{Lang, Messages};
use crate::results::Analysis;

/// What is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// The sanction (hit) rate of stops: the outcome test.
    Outcome,
    /// The share of stops on weak justifications.
    Weak,
    /// The share of stops with a search.
    Search,
    /// The find rate of searches with a known result.
    Find,
}

/// The question: one group of one attribute against the reference, on one
/// measure, over all stops in scope or within one justification or legal
/// basis.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    /// The group attribute, e.g. `nationality`.
    pub attribute: String,
    /// The group, e.g. `Marokkaans`.
    pub group: String,
    /// `{"justification": "behaviour"}` or `{"legal_basis": …}`; empty for all stops.
    pub within: BTreeMap<String, String>,
    /// The measure compared.
    pub measure: Measure,
}

/// The answer: the published comparison row and its sentences.
#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The question asked.
    pub question: Question,
    /// The run's scope, e.g. `period 2025-Q3 (2025-07-01 to 2025-09-30); unit = Rotterdam`.
    pub scope: String,
    /// Rows read = analysed + quarantined + out of scope.
    pub accounting: String,
    /// The comparison as published (suppression applied).
    pub comparison: ComparisonRow,
    /// How many comparisons share the q-value's family.
    pub comparisons_in_run: usize,
    /// The answer in words, in the language asked for.
    pub text: String,
}

impl Question {
    /// Parses `ATTRIBUTE=GROUP` and an optional `FIELD=VALUE` (justification
    /// or legal basis).
    pub fn parse(group: &str, within: Option<&str>, measure: Measure) -> Result<Self> {
        let (attribute, group) = group
            .split_once('=')
            .map(|(a, g)| (a.trim(), g.trim()))
            .filter(|(a, g)| !a.is_empty() && !g.is_empty())
            .ok_or_else(|| {
                Error::Usage(format!(
                    "--group {group}: expected ATTRIBUTE=GROUP, e.g. nationality=Marokkaans"
                ))
            })?;
        let mut map = BTreeMap::new();
        if let Some(w) = within {
            let (field, value) = w
                .split_once('=')
                .map(|(f, v)| (f.trim(), v.trim()))
                .filter(|(f, v)| matches!(*f, "justification" | "legal_basis") && !v.is_empty())
                .ok_or_else(|| {
                    Error::Usage(format!(
                        "--within {w}: expected justification=CODE or legal_basis=CODE"
                    ))
                })?;
            if measure != Measure::Outcome {
                return Err(Error::Usage(
                    "--within: only the sanction rate (--measure outcome) is compared within a justification or legal basis".into(),
                ));
            }
            map.insert(field.to_string(), value.to_string());
        }
        Ok(Question {
            attribute: attribute.to_string(),
            group: group.to_string(),
            within: map,
            measure,
        })
    }
}

/// The rows the measure is compared in.
fn rows_of(analysis: &Analysis, measure: Measure) -> Vec<&ComparisonRow> {
    let r = &analysis.results;
    match measure {
        Measure::Outcome => r.outcome_test.iter().collect(),
        Measure::Weak => r
            .justification_mix
            .iter()
            .flat_map(|m| &m.weak_justification)
            .collect(),
        Measure::Search => r
            .search_funnel
            .iter()
            .filter(|x| x.stage.as_deref() == Some("search"))
            .collect(),
        Measure::Find => r
            .search_funnel
            .iter()
            .filter(|x| x.stage.as_deref() == Some("contraband"))
            .collect(),
    }
}

/// Answers `q` from a run's published results, in `lang`.
pub fn answer(analysis: &Analysis, q: &Question, lang: Lang) -> Result<Answer> {
    let rows = rows_of(analysis, q.measure);
    let of_attribute: Vec<&&ComparisonRow> =
        rows.iter().filter(|r| r.attribute == q.attribute).collect();
    if of_attribute.is_empty() {
        let attributes = &analysis.counts.attributes;
        return Err(Error::Usage(format!(
            "--group {}={}: `{}` is not a group attribute of these stops ({})",
            q.attribute,
            q.group,
            q.attribute,
            attributes.join(", ")
        )));
    }
    let reference = &of_attribute[0].reference;
    let row = of_attribute
        .iter()
        .find(|r| normalize_label(&r.group) == normalize_label(&q.group) && r.stratum == q.within)
        .ok_or_else(|| {
            let mut groups: Vec<&str> = of_attribute.iter().map(|r| r.group.as_str()).collect();
            groups.sort_unstable();
            groups.dedup();
            if normalize_label(&q.group) == normalize_label(reference) {
                Error::Usage(format!(
                    "--group {}={}: that is the reference group; compare another group with it, or name another reference with --reference",
                    q.attribute, q.group
                ))
            } else if !groups.iter().any(|g| normalize_label(g) == normalize_label(&q.group)) {
                Error::Usage(format!(
                    "--group {}={}: no such group among the stops in scope; closest: {}",
                    q.attribute,
                    q.group,
                    crate::config::closest(&q.group, &groups).join(", ")
                ))
            } else {
                Error::Usage(format!(
                    "--within {}: the group and the reference have no stops in common there",
                    q.within
                        .iter()
                        .map(|(f, v)| format!("{f}={v}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ))
            }
        })?;
    let m = Messages::new(lang);
    let comparisons_in_run = family_size(analysis);
    let text = words(&m, analysis, q, row, comparisons_in_run);
    Ok(Answer {
        question: q.clone(),
        scope: analysis.provenance.scope.describe(),
        accounting: analysis.provenance.accounting_line(),
        comparison: (**row).clone(),
        comparisons_in_run,
        text,
    })
}

/// Comparisons with a q-value in the run (the family the q-value is from).
fn family_size(a: &Analysis) -> usize {
    let r = &a.results;
    let q = |x: Option<f64>| usize::from(x.is_some());
    r.outcome_test.iter().map(|x| q(x.q_value)).sum::<usize>()
        + r.justification_mix
            .iter()
            .flat_map(|m| &m.weak_justification)
            .map(|x| q(x.q_value))
            .sum::<usize>()
        + r.search_funnel.iter().map(|x| q(x.q_value)).sum::<usize>()
        + r.stratified.iter().map(|x| q(x.q_value)).sum::<usize>()
        + r.population_benchmark
            .iter()
            .map(|x| q(x.q_value))
            .sum::<usize>()
        + r.veil_of_darkness
            .results
            .iter()
            .map(|x| q(x.q_value))
            .sum::<usize>()
        + r.internal_benchmark
            .results
            .iter()
            .map(|x| q(x.q_value))
            .sum::<usize>()
}

/// The answer's sentences.
fn words(m: &Messages, a: &Analysis, q: &Question, r: &ComparisonRow, family: usize) -> String {
    let level = format!("{}%", m.number(100.0 * a.settings.confidence, 0));
    let pct_ci = |rate: Option<f64>, ci: Option<[f64; 2]>| match (rate, ci) {
        (Some(x), Some([lo, hi])) => format!(
            "{} ({} {}–{})",
            m.percent(x),
            m.fill("ask.ci", &[("level", &level)]),
            m.percent(lo),
            m.percent(hi)
        ),
        (Some(x), None) => m.percent(x),
        _ => "–".into(),
    };
    let count = |n: Option<u64>| match n {
        Some(n) => m.number(n as f64, 0),
        None => format!("<{}", a.settings.min_cell),
    };
    let within = q
        .within
        .iter()
        .next()
        .map(|(f, v)| {
            let label = a
                .codes
                .for_field(f)
                .and_then(|l| l.index_of(v).map(|i| m.code_label(l.get(i)).to_string()))
                .unwrap_or_else(|| v.clone());
            m.fill(&format!("phrase.stratum_{f}"), &[("value", &label)])
        })
        .unwrap_or_default();
    let attribute = m.text_or(&format!("attribute.{}", r.attribute), &r.attribute);
    let measure = m.text(&format!("ask.measure_{}", measure_key(q.measure)));
    let p = &a.provenance;
    let scope = describe_scope(m, &p.scope, &a.codes);
    let n = |x: u64| m.number(x as f64, 0);
    let mut lines = vec![
        m.fill("ask.scope", &[("scope", &scope)]),
        m.fill(
            "ask.rows",
            &[
                ("read", &n(p.rows_read)),
                ("analysed", &n(p.rows_analyzed)),
                ("quarantined", &n(p.rows_quarantined)),
                ("out", &n(p.rows_out_of_scope)),
            ],
        ),
        m.fill(
            "ask.question",
            &[
                ("measure", measure),
                ("attribute", &attribute),
                ("group", &r.group),
                ("within", &within),
                ("reference", &r.reference),
            ],
        ),
        m.fill(
            "ask.counts",
            &[
                ("group", &r.group),
                ("hits", &count(r.hits)),
                ("stops", &count(r.stops)),
                ("rate", &pct_ci(r.rate, r.rate_ci)),
                ("reference", &r.reference),
                ("ref_hits", &count(r.ref_hits)),
                ("ref_stops", &count(r.ref_stops)),
                ("ref_rate", &pct_ci(r.ref_rate, r.ref_rate_ci)),
            ],
        ),
    ];
    if r.suppressed {
        lines.push(m.fill(
            "ask.withheld",
            &[("min_cell", &a.settings.min_cell.to_string())],
        ));
    } else {
        let ratio = match (r.rate_ratio, r.rate_ratio_ci) {
            (Some(x), Some([lo, hi])) => format!(
                "{} ({} {}–{})",
                m.number(x, 2),
                m.fill("ask.ci", &[("level", &level)]),
                m.number(lo, 2),
                m.number(hi, 2)
            ),
            _ => "–".into(),
        };
        lines.push(
            m.fill(
                "ask.ratio",
                &[
                    ("ratio", &ratio),
                    (
                        "p",
                        &r.p_value
                            .map(|p| {
                                if p < 0.001 {
                                    "p < 0.001".replace('.', &m.number(0.5, 1)[1..2])
                                } else {
                                    format!("p = {}", m.number(p, 3))
                                }
                            })
                            .unwrap_or_else(|| "–".into()),
                    ),
                    (
                        "q",
                        &r.q_value
                            .map(|x| m.q_value(x))
                            .unwrap_or_else(|| "–".into()),
                    ),
                    ("n", &family.to_string()),
                ],
            ),
        );
        let verdict = match r.verdict {
            Some(v) => {
                let mut s = m.text(&format!("ask.verdict_{}", v.as_str())).to_string();
                if v != Verdict::Finding
                    && let Some(mdr) = r.min_detectable_ratio
                {
                    s.push(' ');
                    s.push_str(&m.fill(
                        "ask.detectable",
                        &[
                            ("mdr", &m.number(mdr, 2)),
                            ("power", &m.number(100.0 * a.settings.power, 0)),
                        ],
                    ));
                }
                if let Some(more) = r.more_quarters_needed.filter(|x| *x > 0.0) {
                    s.push(' ');
                    s.push_str(&if more <= 1.0 {
                        m.text("ask.more_quarter_one").to_string()
                    } else {
                        m.fill(
                            "ask.more_quarters",
                            &[("quarters", &m.number(more.ceil(), 0))],
                        )
                    });
                }
                s
            }
            None => m.text("ask.verdict_none").to_string(),
        };
        lines.push(verdict);
    }
    lines.push(m.text("finding.caveat").to_string());
    lines.join("\n") + "\n"
}

fn measure_key(m: Measure) -> &'static str {
    match m {
        Measure::Outcome => "outcome",
        Measure::Weak => "weak",
        Measure::Search => "search",
        Measure::Find => "find",
    }
}

/// The scope (`--period`, `--where`) in the language of `m`: "period
/// 2025-Q3 (2025-07-01 to 2025-09-30); unit = Rotterdam", or "all stops".
pub(crate) fn describe_scope(
    m: &Messages,
    scope: &crate::scope::Scope,
    codes: &crate::codes::CodeLists,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(period) = &scope.period {
        parts.push(m.fill(
            "ask.scope_period",
            &[
                ("label", &period.label),
                ("start", &m.date(&period.start.to_string())),
                ("end", &m.date(&period.end.to_string())),
            ],
        ));
    }
    for f in &scope.filters {
        // Codes by their label in the language ("gedrag", not "behaviour").
        let values: Vec<String> = f
            .values
            .iter()
            .map(|v| {
                codes
                    .for_field(&f.field)
                    .and_then(|l| l.index_of(v).map(|i| m.code_label(l.get(i)).to_string()))
                    .unwrap_or_else(|| v.clone())
            })
            .collect();
        parts.push(format!(
            "{} = {}",
            m.text_or(&format!("field.{}", f.field), &f.field),
            values.join(m.text("phrase.list_or"))
        ));
    }
    if parts.is_empty() {
        m.text("ask.scope_all").to_string()
    } else {
        parts.join("; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn questions_parse() {
        let q = Question::parse(
            "nationality=Marokkaans",
            Some("justification=behaviour"),
            Measure::Outcome,
        )
        .unwrap();
        assert_eq!(q.attribute, "nationality");
        assert_eq!(q.within["justification"], "behaviour");
        assert!(Question::parse("Marokkaans", None, Measure::Outcome).is_err());
        assert!(
            Question::parse("nationality=X", Some("unit=Rotterdam"), Measure::Outcome).is_err()
        );
        assert!(
            Question::parse(
                "nationality=X",
                Some("justification=behaviour"),
                Measure::Search
            )
            .is_err()
        );
    }
}
