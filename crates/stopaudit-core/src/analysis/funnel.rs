//! The search funnel: how often a stop leads to a search, and how often a
//! search finds something. A group searched more often but with a lower
//! find rate may be searched on a lower threshold.

use std::collections::BTreeMap;

use super::compare::{Adverse, ComparisonRow};
use super::{Attribute, Inputs, tally};

/// Rows per non-reference group for the `search` and `contraband` stages,
/// when the data record searches at all.
pub fn search_funnel(inputs: &Inputs, attrs: &[Attribute]) -> Vec<ComparisonRow> {
    let mut rows = Vec::new();
    if !inputs.cube.cells.keys().any(|k| k.search.is_some()) {
        return rows;
    }
    for attr in attrs {
        // Stops with a known search status; hits = searched.
        let searched = tally(
            inputs.cube,
            attr.index,
            |k| k.search.map(|_| ()),
            |k| k.search == Some(true),
        );
        // Searches with a known result; hits = something found.
        let found = tally(
            inputs.cube,
            attr.index,
            |k| (k.search == Some(true) && k.contraband.is_some()).then_some(()),
            |k| k.contraband == Some(true),
        );
        let (rc, rl) = &attr.reference;
        for (g, label) in attr.groups.iter().filter(|(g, _)| g != rc) {
            for (stage, table) in [("search", &searched), ("contraband", &found)] {
                if let (Some(gt), Some(rt)) = (table.get(&(*g, ())), table.get(&(*rc, ())))
                    && gt.stops > 0
                    && rt.stops > 0
                {
                    let mut row = ComparisonRow::new(
                        &attr.name,
                        label,
                        rl,
                        BTreeMap::new(),
                        *gt,
                        *rt,
                        Adverse::of(stage),
                        inputs.settings.confidence,
                    );
                    row.stage = Some(stage.to_string());
                    rows.push(row);
                }
            }
        }
    }
    rows
}
