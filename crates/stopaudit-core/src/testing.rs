//! Stops for tests: hand-made rows and proptest strategies, shared by this
//! crate's tests and (with the `testing` feature) the I/O crate's, which hold
//! the counting kernel to a polars group-by.

pub mod layers;

use proptest::prelude::*;

use crate::canonical::{StopBatch, StopRow};

/// A stop with one group attribute, at a fixed instant, and the given codes.
pub fn stop(
    group: &str,
    justification: u8,
    outcome: u8,
    unit: Option<&str>,
    search: Option<bool>,
) -> StopRow {
    StopRow {
        stop_id: None,
        stopped_at: 1_700_000_000_000,
        justification,
        outcome,
        legal_basis: None,
        subject_type: None,
        reason_explained: None,
        search_conducted: search,
        contraband_found: None,
        latitude: None,
        longitude: None,
        registered_at: None,
        texts: [unit.map(str::to_string), None, None, None, None, None],
        groups: vec![group.to_string()],
    }
}

/// The rows as one batch (batch-local codes in order of first appearance).
pub fn batch_of(rows: &[StopRow], attrs: &[String]) -> StopBatch {
    let mut b = StopBatch::new(attrs.len());
    for r in rows {
        b.push(r);
    }
    b
}

/// A stop of one attribute (four groups, 'unknown' among them), three units.
pub(crate) fn arb_stop() -> impl Strategy<Value = StopRow> {
    (
        0..4usize,
        0..5u8,
        0..6u8,
        prop::option::of(0..3usize),
        prop::option::of(any::<bool>()),
    )
        .prop_map(|(g, j, o, u, s)| {
            let units = ["Amsterdam", "Rotterdam", "Limburg"];
            stop(
                ["NL", "MA", "TR", "unknown"][g],
                j,
                o,
                u.map(|u| units[u]),
                s,
            )
        })
}

/// [`arb_stop`] with legal basis, subject type, contraband, district and
/// two more attributes (gender, age band).
pub fn arb_full_stop() -> impl Strategy<Value = StopRow> {
    (
        arb_stop(),
        prop::option::of(0..4u8),
        prop::option::of(0..3u8),
        prop::option::of(any::<bool>()),
        prop::option::of(0..3usize),
        (0..3usize, 0..2usize),
    )
        .prop_map(|(mut s, lb, st, c, d, (g2, g3))| {
            s.legal_basis = lb;
            s.subject_type = st;
            s.contraband_found = c;
            s.texts[1] = d.map(|d| ["Noord", "Zuid", "West"][d].to_string());
            s.groups.push(["man", "vrouw", "unknown"][g2].to_string());
            s.groups.push(["18-24", "25-34"][g3].to_string());
            s
        })
}
