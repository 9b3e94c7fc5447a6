//! One group compared with the reference on a rate: the row shape shared by
//! the outcome test, the weak-justification share and the search funnel.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Tally;
use crate::stats::exact::{Tail, fisher_exact, fisher_one_sided};
use crate::stats::fdr::benjamini_hochberg;
use crate::stats::proportion::{score_rate_ratio, wilson_interval};

/// What the data say about one comparison (docs/methods.md, "Verdicts").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Part of a finding (high or medium): significant, practically large,
    /// adverse.
    Finding,
    /// An overall difference that the comparison within strata shows to
    /// come from the mix of strata.
    ExplainedByMix,
    /// The interval lies inside the practical band: no practically
    /// relevant difference either way.
    NoDifference,
    /// The interval lies wholly on the group's favourable side of 1 and
    /// reaches outside the band: a difference in the group's favour.
    Favourable,
    /// The interval reaches outside the practical band and the comparison
    /// is no finding: the data cannot tell.
    Inconclusive,
}

impl Verdict {
    /// The name as serialized.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Finding => "finding",
            Verdict::ExplainedByMix => "explained_by_mix",
            Verdict::NoDifference => "no_difference",
            Verdict::Favourable => "favourable",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

/// How many comparisons of one analysis and attribute got each verdict.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VerdictCount {
    /// The analysis: `outcome_test`, `justification_mix` (weak
    /// justifications), `stratified`, `search_funnel` or `population_benchmark`.
    pub analysis: String,
    /// The group attribute.
    pub attribute: String,
    /// Comparisons that are part of a finding.
    pub finding: u64,
    /// Overall differences explained by the mix of strata.
    pub explained_by_mix: u64,
    /// Comparisons with no practically relevant difference.
    pub no_difference: u64,
    /// Comparisons with a difference in the group's favour.
    pub favourable: u64,
    /// Comparisons the data cannot decide.
    pub inconclusive: u64,
    /// Comparisons whose numbers are withheld (small counts).
    pub withheld: u64,
}

/// Which side of 1 is adverse to the group, per measure (docs/methods.md,
/// "Direction"): a lower outcome rate, a lower find rate per search, a
/// lower share of stops after dark (the group stopped on less evidence, or
/// more when visible); a higher share of weak justifications, a higher
/// search rate, more stops per resident or than peers (selected more
/// often). Findings are made on the adverse side only, from one-sided
/// p-values on that side; differences in the group's favour stay in the
/// tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adverse {
    /// A ratio below 1 is adverse.
    Lower,
    /// A ratio above 1 is adverse.
    Higher,
}

impl Adverse {
    /// The adverse side of a rate comparison's measure: `outcome_test`,
    /// `weak_justification`, `search` or `contraband`.
    pub fn of(measure: &str) -> Self {
        match measure {
            "weak_justification" | "search" => Adverse::Higher,
            _ => Adverse::Lower,
        }
    }

    /// Whether `ratio` (group against reference) lies on the adverse side.
    pub fn holds(self, ratio: f64) -> bool {
        match self {
            Adverse::Lower => ratio < 1.0,
            Adverse::Higher => ratio > 1.0,
        }
    }

    /// The tail of the group's count that is evidence of an adverse difference.
    pub fn tail(self) -> Tail {
        match self {
            Adverse::Lower => Tail::Lower,
            Adverse::Higher => Tail::Upper,
        }
    }
}

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
    /// One-sided Fisher exact test on the measure's adverse side (lower
    /// outcome or find rate; higher weak-justification share or search
    /// rate): the p-value the q-value is made from.
    pub p_adverse: Option<f64>,
    /// Benjamini–Hochberg over the run's one family of adverse p-values
    /// (docs/methods.md); `None` for the `unknown` group and when suppressed.
    pub q_value: Option<f64>,
    /// Small counts: the group's counts and everything derived from them are `None`.
    pub suppressed: bool,
    /// What the data say about a practically relevant difference to the
    /// group's disadvantage (docs/methods.md, "Verdicts"); `None` when
    /// suppressed and for the group `unknown`.
    pub verdict: Option<Verdict>,
    /// The ratio closest to 1 on the adverse side that these counts would
    /// detect with the run's power at the run's level (one-sided, before
    /// the correction for multiple testing); `None` when suppressed or when
    /// no ratio is detectable.
    pub min_detectable_ratio: Option<f64>,
    /// An inconclusive comparison only: about how many more quarters of data
    /// at the current rate would make the edge of the practical band
    /// detectable (0 when it already is).
    pub more_quarters_needed: Option<f64>,
}

impl ComparisonRow {
    /// Builds the row from the two tallies, with the one-sided test on the
    /// `adverse` side.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        attribute: &str,
        group: &str,
        reference: &str,
        stratum: BTreeMap<String, String>,
        g: Tally,
        r: Tally,
        adverse: Adverse,
        confidence: f64,
    ) -> Self {
        let rate = |t: Tally| (t.stops > 0).then(|| t.hits as f64 / t.stops as f64);
        let ci = |t: Tally| wilson_interval(t.hits, t.stops, confidence).map(|i| [i.low, i.high]);
        let ratio = score_rate_ratio(g.hits, g.stops, r.hits, r.stops, confidence);
        let table = (g.hits, g.stops - g.hits, r.hits, r.stops - r.hits);
        let p = fisher_exact(table.0, table.1, table.2, table.3);
        let one_sided = fisher_one_sided(table.0, table.1, table.2, table.3, adverse.tail());
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
            p_adverse: Some(one_sided.p),
            q_value: None,
            suppressed: false,
            verdict: None,
            min_detectable_ratio: None,
            more_quarters_needed: None,
        }
    }

    /// The measure the row compares, as findings and verdicts name it:
    /// `outcome_test`, `weak_justification` (rows of the justification
    /// mix), `search` or `contraband` (search-funnel stages).
    pub fn measure(&self, analysis: &str) -> &'static str {
        match (analysis, self.stage.as_deref()) {
            ("outcome_test", _) => "outcome_test",
            ("justification_mix", _) => "weak_justification",
            (_, Some("search")) => "search",
            _ => "contraband",
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
