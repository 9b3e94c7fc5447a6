//! The outcome (hit-rate) test (Becker 1957; Knowles, Persico & Todd 2001):
//! if stops of a group lead to a result less often than stops of the
//! reference group, officers may stop that group on weaker grounds. Its
//! known limit is infra-marginality: average hit rates can differ even with
//! equal thresholds when the groups' risk distributions differ (see
//! docs/methods.md). Overall, per justification and per legal basis.

use std::collections::BTreeMap;

use super::compare::{Adverse, ComparisonRow};
use super::{Attribute, Inputs, Tally, tally};

/// Rows for every non-reference group × {overall, each justification, each legal basis}
/// where both the group and the reference have stops.
pub fn outcome_test(inputs: &Inputs, attrs: &[Attribute]) -> Vec<ComparisonRow> {
    let hits = inputs.settings.hit_codes(inputs.codes);
    let is_hit = |k: &crate::counting::CellKey| hits.contains(&k.outcome);
    let mut rows = Vec::new();
    for attr in attrs {
        let overall = tally(inputs.cube, attr.index, |_| Some(()), is_hit);
        let by_j = tally(inputs.cube, attr.index, |k| Some(k.justification), is_hit);
        let by_l = tally(inputs.cube, attr.index, |k| k.legal_basis, is_hit);
        let (rc, rl) = &attr.reference;
        for (g, label) in attr.groups.iter().filter(|(g, _)| g != rc) {
            let mut push =
                |stratum: BTreeMap<String, String>, gt: Option<&Tally>, rt: Option<&Tally>| {
                    if let (Some(gt), Some(rt)) = (gt, rt)
                        && gt.stops > 0
                        && rt.stops > 0
                    {
                        rows.push(ComparisonRow::new(
                            &attr.name,
                            label,
                            rl,
                            stratum,
                            *gt,
                            *rt,
                            Adverse::Lower,
                            inputs.settings.confidence,
                        ));
                    }
                };
            push(
                BTreeMap::new(),
                overall.get(&(*g, ())),
                overall.get(&(*rc, ())),
            );
            for (j, code) in inputs.codes.justification.codes().iter().enumerate() {
                let j = j as u8;
                let stratum = BTreeMap::from([("justification".to_string(), code.code.clone())]);
                push(stratum, by_j.get(&(*g, j)), by_j.get(&(*rc, j)));
            }
            for (l, code) in inputs.codes.legal_basis.codes().iter().enumerate() {
                let l = l as u8;
                let stratum = BTreeMap::from([("legal_basis".to_string(), code.code.clone())]);
                push(stratum, by_l.get(&(*g, l)), by_l.get(&(*rc, l)));
            }
        }
    }
    rows
}
