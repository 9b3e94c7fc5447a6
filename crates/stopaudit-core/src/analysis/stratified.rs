//! The stratified comparison: the hit rate (and odds), group against
//! reference, pooled across strata (Mantel–Haenszel), so that differences
//! in the mix of justifications (or units, …) cannot masquerade as
//! differences in outcome. The pooled rate ratio judges the size of a
//! difference, the one-sided CMH test (a lower hit rate is adverse) its
//! significance. Reversals between the crude and the pooled direction (Simpson's
//! paradox) are flagged.

use std::collections::BTreeMap;

use serde::Serialize;

use super::compare::Verdict;
use super::{Attribute, Inputs, stratum_value, tally};
use crate::stats::exact::Tail;
use crate::stats::mantel_haenszel::mantel_haenszel;
use crate::stats::suppression::{StrataGrid, strata_grid};

/// One group against the reference across strata.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StratifiedRow {
    /// Group attribute.
    pub attribute: String,
    /// Group compared.
    pub group: String,
    /// Reference group of the attribute.
    pub reference: String,
    /// Always `{}`: the row pools all strata.
    pub stratum: BTreeMap<String, String>,
    /// `null` for the sanction (hit) rate of all stops; `contraband` for
    /// the find rate of searches with a known result (then `stops` are
    /// searches and `hits` finds).
    pub stage: Option<String>,
    /// Fields the strata are made of.
    pub strata_by: Vec<String>,
    /// Totals over the strata used.
    pub stops: Option<u64>,
    /// The group's hits; `None` when suppressed.
    pub hits: Option<u64>,
    /// The reference group's stops.
    pub ref_stops: Option<u64>,
    /// The reference group's hits.
    pub ref_hits: Option<u64>,
    /// Odds ratio of a hit over the stops of the strata used, not stratified.
    pub crude_odds_ratio: Option<f64>,
    /// Mantel–Haenszel odds ratio of a hit, pooled over the strata; `None` when
    /// undefined or suppressed.
    pub mh_odds_ratio: Option<f64>,
    /// Robins–Breslow–Greenland interval of `mh_odds_ratio`.
    pub mh_odds_ratio_ci: Option<[f64; 2]>,
    /// Mantel–Haenszel rate ratio of a hit (the group's hit rate against
    /// the reference's, pooled over the strata): the size findings judge.
    pub mh_rate_ratio: Option<f64>,
    /// Greenland–Robins interval of `mh_rate_ratio`.
    pub mh_rate_ratio_ci: Option<[f64; 2]>,
    /// Cochran–Mantel–Haenszel test (1 df, no continuity correction); `None` when
    /// undefined or suppressed.
    pub cmh_p_value: Option<f64>,
    /// log10 of `cmh_p_value`, finite even when the p-value underflows to 0.
    pub cmh_p_value_log10: Option<f64>,
    /// One-sided CMH test on the adverse side (fewer hits than equal odds
    /// give): the p-value the q-value is made from.
    pub p_adverse: Option<f64>,
    /// Benjamini–Hochberg over the run's one family of adverse p-values.
    pub q_value: Option<f64>,
    /// Breslow–Day test of a common odds ratio across strata; `None` with fewer
    /// than two strata used, when undefined or suppressed.
    pub breslow_day_p_value: Option<f64>,
    /// Strata in which both the group and the reference had stops.
    pub strata_used: usize,
    /// Strata left out because the group or the reference had no stops there.
    pub strata_dropped: usize,
    /// Strata left out because their numbers are withheld: a small count of
    /// the group or the reference, and the strata that complementary
    /// suppression hides with them (the same strata the outcome test's
    /// published rows hide), so that the pooled numbers never rest on a
    /// hidden cell.
    pub strata_withheld: usize,
    /// The crude and the pooled odds ratio lie on opposite sides of 1, each
    /// at least 10% away from it (ratios ≥ 1.1 against ≤ 1/1.1).
    pub reversal: bool,
    /// A hit or non-hit count of the group or the reference over the strata
    /// used is from 1 to `min_cell − 1` (or a pooled stratum's row is hidden
    /// in the outcome test): the group's counts and everything derived from
    /// them are `None`.
    pub suppressed: bool,
    /// The values of the strata pooled (one per `strata_by` field), for the
    /// disclosure step's check against the outcome test's rows (not published).
    #[serde(skip)]
    pub used_strata: Vec<Vec<String>>,
    /// What the data say about a practically relevant difference to the
    /// group's disadvantage (docs/methods.md, "Verdicts"); `None` when
    /// suppressed and for the group `unknown`.
    pub verdict: Option<Verdict>,
    /// The pooled rate ratio closest to 1 on the adverse side that these counts would
    /// detect (approximated from the totals over the strata used) with the run's power at the run's level (one-sided, before
    /// the correction for multiple testing); `None` when suppressed or when
    /// no ratio is detectable.
    pub min_detectable_ratio: Option<f64>,
    /// An inconclusive comparison only: about how many more quarters of data
    /// at the current rate would make the edge of the practical band
    /// detectable (0 when it already is).
    pub more_quarters_needed: Option<f64>,
}

/// One row per attribute and non-reference group, pooled over the strata of
/// `strata_by`; stops with a missing stratum value are left out, and a group
/// sharing no stratum with the reference gets no row.
pub fn stratified(
    inputs: &Inputs,
    attrs: &[Attribute],
    patterns: &[StrataPattern],
) -> Vec<StratifiedRow> {
    let hits = inputs.settings.hit_codes(inputs.codes);
    let by = &inputs.settings.strata_by;
    let mut rows = Vec::new();
    // Two measures: the sanction (hit) rate of all stops, and the find rate
    // of searches with a known result (the Knowles–Persico–Todd quantity).
    for (stage, attr) in [None, Some("contraband")]
        .into_iter()
        .flat_map(|stage| attrs.iter().map(move |a| (stage, a)))
    {
        // Stops with a missing value in any stratum field are left out of the
        // comparison (they make no stratum; `strata_dropped` counts strata
        // where the group or the reference has no stops).
        let stratum_of = |k: &crate::counting::CellKey| {
            by.iter()
                .map(|f| stratum_value(f, k, inputs.cube, inputs.dicts, inputs.codes))
                .collect::<Option<Vec<String>>>()
        };
        let cells = match stage {
            None => tally(inputs.cube, attr.index, stratum_of, |k| {
                hits.contains(&k.outcome)
            }),
            Some(_) => tally(
                inputs.cube,
                attr.index,
                |k| {
                    (k.search == Some(true) && k.contraband.is_some())
                        .then(|| stratum_of(k))
                        .flatten()
                },
                |k| k.contraband == Some(true),
            ),
        };
        // In code order for a coded field (as the outcome test's rows), so
        // that complementary suppression picks the same strata.
        let strata: Vec<Vec<String>> = {
            let mut s: Vec<Vec<String>> = cells.keys().map(|(_, k)| k.clone()).collect();
            s.sort_by_key(|values| {
                by.iter()
                    .zip(values)
                    .map(|(f, v)| {
                        let index = inputs
                            .codes
                            .for_field(f)
                            .and_then(|l| l.index_of(v))
                            .map_or(usize::MAX, usize::from);
                        (index, v.clone())
                    })
                    .collect::<Vec<_>>()
            });
            s.dedup();
            s
        };
        let k = inputs.settings.min_cell;
        let (rc, rl) = &attr.reference;
        // The strata the outcome test publishes (one stratum field, the
        // sanction rate): the disclosure step's pattern, computed from the
        // same counts. Other strata (several fields, searches by stratum)
        // are never published one by one, so all are pooled: their totals
        // are the group's published totals.
        // The strata the outcome test publishes (one stratum field, the
        // sanction rate) follow the disclosure step's pattern, computed once
        // from the cube ([`strata_patterns`]). Other strata (several fields,
        // searches by stratum) are never published one by one, so all are
        // pooled: their totals are the group's published totals.
        let pattern = match (stage, by.as_slice()) {
            (None, [f]) if k > 0 => patterns
                .iter()
                .find(|p| p.attribute == attr.name && &p.field == f),
            _ => None,
        };
        for (g, label) in attr.groups.iter().filter(|(g, _)| g != rc) {
            let all: Vec<(&Vec<String>, [u64; 4])> = strata
                .iter()
                .map(|s| {
                    let gt = cells.get(&(*g, s.clone())).copied().unwrap_or_default();
                    let rt = cells.get(&(*rc, s.clone())).copied().unwrap_or_default();
                    (
                        s,
                        [gt.hits, gt.stops - gt.hits, rt.hits, rt.stops - rt.hits],
                    )
                })
                .filter(|(_, t)| t.iter().sum::<u64>() > 0)
                .collect();
            let (kept, strata_withheld) = match pattern {
                Some(p) => {
                    let hidden = |s: &Vec<String>| p.pair_hidden(label, &s[0]);
                    let withheld = all
                        .iter()
                        .filter(|(s, t)| t[0] + t[1] > 0 && t[2] + t[3] > 0 && hidden(s))
                        .count();
                    let kept: Vec<(&Vec<String>, [u64; 4])> =
                        all.into_iter().filter(|(s, _)| !hidden(s)).collect();
                    (kept, withheld)
                }
                None => (all, 0),
            };
            let tables: Vec<[u64; 4]> = kept.iter().map(|(_, t)| *t).collect();
            let used_strata: Vec<Vec<String>> = kept
                .iter()
                .filter(|(_, t)| t[0] + t[1] > 0 && t[2] + t[3] > 0)
                .map(|(s, _)| (*s).clone())
                .collect();
            let mh = mantel_haenszel(&tables, inputs.settings.confidence);
            let used: Vec<&[u64; 4]> = tables
                .iter()
                .filter(|t| t[0] + t[1] > 0 && t[2] + t[3] > 0)
                .collect();
            let sum = |i: usize| used.iter().map(|t| t[i]).sum::<u64>();
            let (a, b, c, d) = (sum(0), sum(1), sum(2), sum(3));
            let crude = (b > 0 && c > 0).then(|| (a as f64 * d as f64) / (b as f64 * c as f64));
            // A reversal worth a note: opposite sides of 1, each at least 10% away from it.
            let reversal = match (crude, mh.odds_ratio) {
                (Some(x), Some(y)) => (x >= 1.1 && y <= 1.0 / 1.1) || (x <= 1.0 / 1.1 && y >= 1.1),
                _ => false,
            };
            if used.is_empty() {
                continue;
            }
            rows.push(StratifiedRow {
                attribute: attr.name.clone(),
                group: label.clone(),
                reference: rl.clone(),
                stratum: BTreeMap::new(),
                stage: stage.map(str::to_string),
                strata_by: by.clone(),
                stops: Some(a + b),
                hits: Some(a),
                ref_stops: Some(c + d),
                ref_hits: Some(c),
                crude_odds_ratio: crude,
                mh_odds_ratio: mh.odds_ratio,
                mh_odds_ratio_ci: mh.odds_ratio_ci.map(|i| [i.low, i.high]),
                mh_rate_ratio: mh.rate_ratio,
                mh_rate_ratio_ci: mh.rate_ratio_ci.map(|i| [i.low, i.high]),
                cmh_p_value: mh.cmh_p_value.map(|p| p.p),
                cmh_p_value_log10: mh.cmh_p_value.map(|p| p.log10()),
                p_adverse: mh.cmh_one_sided(Tail::Lower).map(|p| p.p),
                q_value: None,
                breslow_day_p_value: mh.breslow_day_p_value.map(|p| p.p),
                strata_used: mh.strata_used,
                strata_dropped: mh.strata_dropped,
                strata_withheld,
                used_strata,
                reversal,
                suppressed: false,
                verdict: None,
                min_detectable_ratio: None,
                more_quarters_needed: None,
            });
        }
    }
    rows
}

/// The disclosure pattern of one attribute's comparisons by one stratum
/// field (justification or legal basis), computed once from the cube
/// ([`strata_patterns`]) and used by the stratified comparison (which pools
/// only the strata left visible) and by the disclosure step (which hides
/// the outcome test's rows and the justification mix's cells by it).
#[derive(Debug, Clone)]
pub struct StrataPattern {
    /// The group attribute.
    pub attribute: String,
    /// `justification` or `legal_basis`.
    pub field: String,
    /// Group labels, in label order (the reference among them).
    pub groups: Vec<String>,
    /// The reference group's label.
    pub reference: String,
    /// Stratum codes, in code order.
    pub strata: Vec<String>,
    pub(crate) grid: StrataGrid,
}

impl StrataPattern {
    fn at(&self, group: &str, stratum: &str) -> Option<(usize, usize)> {
        let g = self.groups.iter().position(|x| x == group)?;
        let s = self.strata.iter().position(|x| x == stratum)?;
        Some((g, s))
    }

    /// Whether the group's stops in all are hidden (everywhere they appear).
    pub fn total_hidden(&self, group: &str) -> bool {
        self.groups
            .iter()
            .position(|x| x == group)
            .is_some_and(|g| self.grid.total[g])
    }

    /// Whether the group's overall hits are hidden.
    pub fn overall_hidden(&self, group: &str) -> bool {
        self.groups
            .iter()
            .position(|x| x == group)
            .is_some_and(|g| self.grid.overall[g])
    }

    /// Whether the group's hits (and non-hits) in the stratum are hidden.
    pub fn pair_hidden(&self, group: &str, stratum: &str) -> bool {
        self.at(group, stratum)
            .is_some_and(|(g, s)| self.grid.pairs[g][s])
    }

    /// Whether the group's stops in the stratum are hidden.
    pub fn stops_hidden(&self, group: &str, stratum: &str) -> bool {
        self.at(group, stratum)
            .is_some_and(|(g, s)| self.grid.stops[g][s])
    }
}

/// The disclosure patterns of every attribute by justification and by
/// legal basis ([`StrataPattern`]; empty with `min_cell` 0). Every group's
/// stops, hits and non-hits per stratum go in, also where the outcome test
/// shows no row (the justification mix shows those stops): a pattern over
/// more cells than are published errs on the side of hiding.
pub fn strata_patterns(inputs: &Inputs, attrs: &[Attribute]) -> Vec<StrataPattern> {
    let k = inputs.settings.min_cell;
    if k == 0 {
        return Vec::new();
    }
    let hits = inputs.settings.hit_codes(inputs.codes);
    let is_hit = |c: &crate::counting::CellKey| hits.contains(&c.outcome);
    let mut out = Vec::new();
    for attr in attrs {
        let overall = tally(inputs.cube, attr.index, |_| Some(()), is_hit);
        let mut groups: Vec<(u32, String)> = attr.groups.clone();
        groups.sort_by(|a, b| a.1.cmp(&b.1));
        let pair = |t: Option<&super::Tally>| t.map_or([0, 0], |t| [t.hits, t.stops - t.hits]);
        let ov: Vec<[u64; 2]> = groups
            .iter()
            .map(|(g, _)| pair(overall.get(&(*g, ()))))
            .collect();
        let reference = groups.iter().position(|(g, _)| *g == attr.reference.0);
        for field in ["justification", "legal_basis"] {
            let list = inputs.codes.for_field(field).expect("a coded field");
            let by = tally(
                inputs.cube,
                attr.index,
                |c| match field {
                    "justification" => Some(c.justification),
                    _ => c.legal_basis,
                },
                is_hit,
            );
            let codes: Vec<u8> = (0..list.codes().len()).map(|i| i as u8).collect();
            let st: Vec<Vec<[u64; 2]>> = groups
                .iter()
                .map(|(g, _)| codes.iter().map(|c| pair(by.get(&(*g, *c)))).collect())
                .collect();
            out.push(StrataPattern {
                attribute: attr.name.clone(),
                field: field.to_owned(),
                groups: groups.iter().map(|(_, l)| l.clone()).collect(),
                reference: attr.reference.1.clone(),
                strata: list.codes().iter().map(|c| c.code.clone()).collect(),
                grid: strata_grid(&ov, &st, reference, k),
            });
        }
    }
    out
}

/// Below this Breslow–Day p-value the strata disagree on the ratio: a
/// pooled Mantel–Haenszel ratio is then a weighted average that describes
/// no stratum (Breslow & Day 1980; Rothman, Greenland & Lash): it neither
/// makes a strong finding nor shows "no difference".
pub(crate) const HETEROGENEITY_P: f64 = 0.05;

/// Whether the strata of a stratified comparison disagree on the ratio.
pub(crate) fn heterogeneous(breslow_day_p: Option<f64>) -> bool {
    breslow_day_p.is_some_and(|p| p < HETEROGENEITY_P)
}
