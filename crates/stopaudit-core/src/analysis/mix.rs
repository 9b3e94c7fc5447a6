//! The justification mix: does the reason recorded for a stop depend on the
//! group? A group × justification table with Pearson's chi-square test,
//! Cramér's V, each cell's share within its group (Wilson interval) and its
//! adjusted standardized residual; plus, per group, the share of stops on
//! "weak" justifications against the reference group's.

use std::collections::BTreeMap;

use serde::Serialize;

use super::compare::{Adverse, ComparisonRow};
use super::{Attribute, Inputs, Tally, tally};
use crate::stats::chisq::pearson_chi_square;
use crate::stats::proportion::wilson_interval;

/// One cell of the group × justification table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixCell {
    /// The group (row of the table).
    pub group: String,
    /// The justification code (column of the table).
    pub justification: String,
    /// Stops of the group with this justification; `None` when suppressed.
    pub count: Option<u64>,
    /// count / stops of the group.
    pub share: Option<f64>,
    /// Wilson interval of `share` at the configured confidence level.
    pub share_ci: Option<[f64; 2]>,
    /// (O − E) / √(E (1 − row/n) (1 − col/n)); beyond ±2 the cell departs from independence.
    pub adjusted_residual: Option<f64>,
    /// Small or complementary cell: count, share, interval and residual are `None`.
    pub suppressed: bool,
}

/// The justification mix of one attribute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MixResult {
    /// The group attribute.
    pub attribute: String,
    /// The attribute's reference group.
    pub reference: String,
    /// All stops of the attribute's groups.
    pub stops: u64,
    /// Pearson's chi-square statistic; `None` when fewer than two non-empty groups or
    /// justifications remain.
    pub chi2: Option<f64>,
    /// Degrees of freedom of the test, over the non-empty groups and justifications.
    pub df: Option<u64>,
    /// p-value of the chi-square test.
    pub p_value: Option<f64>,
    /// log10 of the p-value, finite even when `p_value` underflows to 0.
    pub p_value_log10: Option<f64>,
    /// Over the attributes' chi-square tests.
    pub q_value: Option<f64>,
    /// Cramér's V, from 0 (independence) to 1.
    pub cramers_v: Option<f64>,
    /// Every group × justification cell, by group, then justification in code-list order.
    pub cells: Vec<MixCell>,
    /// Groups with a hidden cell, tested together as one row (0: none).
    #[serde(skip_serializing_if = "is_zero")]
    pub groups_pooled: u64,
    /// Per group: share of stops on weak justifications vs the reference
    /// (`hits` = stops on weak justifications).
    pub weak_justification: Vec<ComparisonRow>,
}

/// Runs the justification mix per attribute (q-values and suppression come later).
/// The chi-square test (statistic, df, p, Cramér's V) pools the groups
/// with a cell that disclosure control hides (`patterns`) into one row: a
/// statistic over the hidden cells would give them back (with every other
/// number published, the one table that fits a chi-square to 10 digits).
/// Each cell's adjusted residual is its own (made from the cell, its
/// group's and its justification's totals).
pub fn justification_mix(
    inputs: &Inputs,
    attrs: &[Attribute],
    patterns: &[super::stratified::StrataPattern],
) -> Vec<MixResult> {
    let codes = &inputs.codes.justification;
    let weak = inputs.settings.weak_codes(inputs.codes);
    let conf = inputs.settings.confidence;
    attrs
        .iter()
        .map(|attr| {
            let by_j = tally(
                inputs.cube,
                attr.index,
                |k| Some(k.justification),
                |_| false,
            );
            let table: Vec<Vec<u64>> = attr
                .groups
                .iter()
                .map(|(g, _)| {
                    (0..codes.codes().len())
                        .map(|j| by_j.get(&(*g, j as u8)).map_or(0, |t| t.stops))
                        .collect()
                })
                .collect();
            let test = pearson_chi_square(&table);
            let pattern = patterns
                .iter()
                .find(|p| p.attribute == attr.name && p.field == "justification");
            let pooled: Vec<usize> = attr
                .groups
                .iter()
                .enumerate()
                .filter(|(_, (_, label))| {
                    pattern.is_some_and(|p| {
                        codes.codes().iter().any(|c| p.stops_hidden(label, &c.code))
                    })
                })
                .map(|(i, _)| i)
                .collect();
            let pooled_test = (!pooled.is_empty()).then(|| {
                let mut t: Vec<Vec<u64>> = (0..table.len())
                    .filter(|i| !pooled.contains(i))
                    .map(|i| table[i].clone())
                    .collect();
                t.push(
                    (0..codes.codes().len())
                        .map(|j| pooled.iter().map(|&i| table[i][j]).sum())
                        .collect(),
                );
                pearson_chi_square(&t)
            });
            let overall = match &pooled_test {
                Some(t) => t.as_ref(),
                None => test.as_ref(),
            };
            let mut cells = Vec::new();
            for (i, (g, label)) in attr.groups.iter().enumerate() {
                let total = attr.stops[g];
                for (j, code) in codes.codes().iter().enumerate() {
                    let count = table[i][j];
                    cells.push(MixCell {
                        group: label.clone(),
                        justification: code.code.clone(),
                        count: Some(count),
                        share: Some(count as f64 / total as f64),
                        share_ci: wilson_interval(count, total, conf).map(|c| [c.low, c.high]),
                        adjusted_residual: test.as_ref().and_then(|t| t.adjusted_residuals[i][j]),
                        suppressed: false,
                    });
                }
            }
            let weak_tally = |g: u32| Tally {
                stops: attr.stops[&g],
                hits: weak
                    .iter()
                    .map(|j| by_j.get(&(g, *j)).map_or(0, |t| t.stops))
                    .sum(),
            };
            let (rc, rl) = &attr.reference;
            let weak_justification = attr
                .groups
                .iter()
                .filter(|(g, _)| g != rc)
                .map(|(g, label)| {
                    ComparisonRow::new(
                        &attr.name,
                        label,
                        rl,
                        BTreeMap::new(),
                        weak_tally(*g),
                        weak_tally(*rc),
                        Adverse::Higher,
                        conf,
                    )
                })
                .collect();
            MixResult {
                attribute: attr.name.clone(),
                reference: rl.clone(),
                stops: attr.stops.values().sum(),
                chi2: overall.map(|t| t.statistic),
                df: overall.map(|t| t.df),
                p_value: overall.map(|t| t.p_value.p),
                p_value_log10: overall.map(|t| t.p_value.log10()),
                q_value: None,
                cramers_v: overall.map(|t| t.cramers_v),
                groups_pooled: pooled.len() as u64,
                cells,
                weak_justification,
            }
        })
        .collect()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// q-values of the chi-square tests across attributes.
pub(crate) fn assign_q_values(results: &mut [MixResult]) {
    super::compare::assign_q(results, |r| r.p_value, |r, q| r.q_value = q);
}
