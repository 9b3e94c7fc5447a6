//! One group compared with the reference on a rate: the row shape shared by
//! the outcome test, the weak-justification share and the search funnel.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Tally;
use crate::stats::exact::fisher_exact;
use crate::stats::fdr::benjamini_hochberg;
use crate::stats::proportion::{score_rate_ratio, wilson_interval};

/// A group's rate against the reference group's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonRow {
    /// The group attribute.
    pub attribute: String,
    /// The group compared with the reference.
    pub group: String,
    /// The attribute's reference group.
    pub reference: String,
    /// field -> value of the stratum (`{}` overall).
    pub stratum: BTreeMap<String, String>,
    /// Search funnel only: `search` (searches per stop) or `contraband` (finds per search).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// The group's denominator (stops, stops with known search status, or searches with known
    /// result); `None` when suppressed.
    pub stops: Option<u64>,
    /// The group's events counted in `stops` (hits, weak justifications, searches or finds); `None`
    /// when suppressed.
    pub hits: Option<u64>,
    /// hits / stops; `None` when there are no stops or the row is suppressed.
    pub rate: Option<f64>,
    /// Wilson interval of `rate` at the configured confidence level.
    pub rate_ci: Option<[f64; 2]>,
    /// The reference group's denominator.
    pub ref_stops: Option<u64>,
    /// The reference group's events.
    pub ref_hits: Option<u64>,
    /// ref_hits / ref_stops; `None` when the reference has no stops.
    pub ref_rate: Option<f64>,
    /// Wilson interval of `ref_rate`.
    pub ref_rate_ci: Option<[f64; 2]>,
    /// (hits/stops) / (ref_hits/ref_stops); null when either hit count is 0.
    pub rate_ratio: Option<f64>,
    /// Katz log interval of `rate_ratio`; null when either hit count is 0.
    pub rate_ratio_ci: Option<[f64; 2]>,
    /// Two-sided Fisher exact test of the 2×2 table.
    pub p_value: Option<f64>,
    /// log10 of the p-value, finite even when `p_value` underflows to 0.
    pub p_value_log10: Option<f64>,
    /// Benjamini–Hochberg over all rows of the same analysis; `None` when suppressed.
    pub q_value: Option<f64>,
    /// Small counts: the group's counts and everything derived from them are `None`.
    pub suppressed: bool,
}

impl ComparisonRow {
    /// Builds the row from the two tallies.
    pub fn new(
        attribute: &str,
        group: &str,
        reference: &str,
        stratum: BTreeMap<String, String>,
        g: Tally,
        r: Tally,
        confidence: f64,
    ) -> Self {
        let rate = |t: Tally| (t.stops > 0).then(|| t.hits as f64 / t.stops as f64);
        let ci = |t: Tally| wilson_interval(t.hits, t.stops, confidence).map(|i| [i.low, i.high]);
        let ratio = score_rate_ratio(g.hits, g.stops, r.hits, r.stops, confidence);
        let p = fisher_exact(g.hits, g.stops - g.hits, r.hits, r.stops - r.hits);
        ComparisonRow {
            attribute: attribute.to_string(),
            group: group.to_string(),
            reference: reference.to_string(),
            stratum,
            stage: None,
            stops: Some(g.stops),
            hits: Some(g.hits),
            rate: rate(g),
            rate_ci: ci(g),
            ref_stops: Some(r.stops),
            ref_hits: Some(r.hits),
            ref_rate: rate(r),
            ref_rate_ci: ci(r),
            rate_ratio: ratio.map(|x| x.estimate),
            rate_ratio_ci: ratio.map(|x| [x.interval.low, x.interval.high]),
            p_value: Some(p.p),
            p_value_log10: Some(p.log10()),
            q_value: None,
            suppressed: false,
        }
    }

    /// The rate ratio as a point estimate even when a hit count is 0
    /// (0 or infinity), for judging the size of an effect.
    pub(crate) fn raw_ratio(&self) -> Option<f64> {
        match (self.rate, self.ref_rate) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            (Some(a), Some(_)) if a > 0.0 => Some(f64::INFINITY),
            _ => None,
        }
    }
}

/// Benjamini–Hochberg over the p-values `p` reads from the rows, stored by `set`
/// (rows without a p-value get none).
pub(crate) fn assign_q<T>(
    rows: &mut [T],
    p: impl Fn(&T) -> Option<f64>,
    set: impl Fn(&mut T, Option<f64>),
) {
    let ps: Vec<f64> = rows.iter().map(|r| p(r).unwrap_or(f64::NAN)).collect();
    for (row, q) in rows.iter_mut().zip(benjamini_hochberg(&ps)) {
        set(row, (!q.is_nan()).then_some(q));
    }
}
