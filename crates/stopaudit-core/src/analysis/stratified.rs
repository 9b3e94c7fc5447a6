//! The stratified comparison: the odds of a hit, group against reference,
//! pooled across strata (Mantel–Haenszel), so that differences in the mix
//! of justifications (or units, …) cannot masquerade as differences in
//! outcome. Reversals between the crude and the pooled direction (Simpson's
//! paradox) are flagged.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{Attribute, Inputs, stratum_value, tally};
use crate::stats::mantel_haenszel::mantel_haenszel;

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
    /// Cochran–Mantel–Haenszel test (1 df, no continuity correction); `None` when
    /// undefined or suppressed.
    pub cmh_p_value: Option<f64>,
    /// log10 of `cmh_p_value`, finite even when the p-value underflows to 0.
    pub cmh_p_value_log10: Option<f64>,
    /// Benjamini–Hochberg q-value over the CMH tests of all rows.
    pub q_value: Option<f64>,
    /// Breslow–Day test of a common odds ratio across strata; `None` with fewer
    /// than two strata used, when undefined or suppressed.
    pub breslow_day_p_value: Option<f64>,
    /// Strata in which both the group and the reference had stops.
    pub strata_used: usize,
    /// Strata left out because the group or the reference had no stops there.
    pub strata_dropped: usize,
    /// The crude and the pooled odds ratio lie on opposite sides of 1, each
    /// at least 10% away from it (ratios ≥ 1.1 against ≤ 1/1.1).
    pub reversal: bool,
    /// A hit or non-hit count of the group or the reference is from 1 to `min_cell − 1`:
    /// the group's counts and everything derived from them are `None`.
    pub suppressed: bool,
}

/// One row per attribute and non-reference group, pooled over the strata of
/// `strata_by`; stops with a missing stratum value are left out, and a group
/// sharing no stratum with the reference gets no row.
pub fn stratified(inputs: &Inputs, attrs: &[Attribute]) -> Vec<StratifiedRow> {
    let hits = inputs.settings.hit_codes(inputs.codes);
    let by = &inputs.settings.strata_by;
    let mut rows = Vec::new();
    for attr in attrs {
        // Stops with a missing value in any stratum field are left out of the
        // comparison (they make no stratum; `strata_dropped` counts strata
        // where the group or the reference has no stops).
        let cells = tally(
            inputs.cube,
            attr.index,
            |k| {
                by.iter()
                    .map(|f| stratum_value(f, k, inputs.cube, inputs.dicts, inputs.codes))
                    .collect::<Option<Vec<String>>>()
            },
            |k| hits.contains(&k.outcome),
        );
        let strata: Vec<Vec<String>> = {
            let mut s: Vec<Vec<String>> = cells.keys().map(|(_, k)| k.clone()).collect();
            s.sort();
            s.dedup();
            s
        };
        let (rc, rl) = &attr.reference;
        for (g, label) in attr.groups.iter().filter(|(g, _)| g != rc) {
            let tables: Vec<[u64; 4]> = strata
                .iter()
                .map(|s| {
                    let gt = cells.get(&(*g, s.clone())).copied().unwrap_or_default();
                    let rt = cells.get(&(*rc, s.clone())).copied().unwrap_or_default();
                    [gt.hits, gt.stops - gt.hits, rt.hits, rt.stops - rt.hits]
                })
                .filter(|t| t.iter().sum::<u64>() > 0)
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
                strata_by: by.clone(),
                stops: Some(a + b),
                hits: Some(a),
                ref_stops: Some(c + d),
                ref_hits: Some(c),
                crude_odds_ratio: crude,
                mh_odds_ratio: mh.odds_ratio,
                mh_odds_ratio_ci: mh.odds_ratio_ci.map(|i| [i.low, i.high]),
                cmh_p_value: mh.cmh_p_value.map(|p| p.p),
                cmh_p_value_log10: mh.cmh_p_value.map(|p| p.log10()),
                q_value: None,
                breslow_day_p_value: mh.breslow_day_p_value.map(|p| p.p),
                strata_used: mh.strata_used,
                strata_dropped: mh.strata_dropped,
                reversal,
                suppressed: false,
            });
        }
    }
    rows
}
