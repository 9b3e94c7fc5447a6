//! Trends: the key measures per period (quarter by default), with
//! intervals, and their change from the previous period and from the same
//! period a year earlier, each with an interval, a test and a q-value.
//!
//! Measures, per group attribute:
//! - `share_of_stops`: each group's share of all stops (Wilson interval;
//!   change: Newcombe difference, pooled z-test);
//! - `weak_justification_share`: the share of a group's stops on weak
//!   justifications (same statistics);
//! - `hit_rate_ratio`: a group's hit rate over the reference group's (Katz
//!   interval; change: ratio of the two ratios with a log-scale Wald
//!   interval and z-test).
//!
//! Periods come from the stop's local date (`stopped_at`, or
//! `registered_at` with `[analysis.trends] period_column`); every period
//! from the first to the last is listed, empty ones too (a gap is itself
//! information). q-values: Benjamini–Hochberg over all changes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Attribute, Inputs};
use crate::stats::proportion::{
    katz_rate_ratio, newcombe_difference, rate_ratio_change, two_proportion_z_test, wilson_interval,
};

/// Length of a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Grain {
    /// Calendar months, labelled `2025-03`.
    Month,
    /// Calendar quarters, labelled `2025-Q1`.
    Quarter,
    /// Calendar years, labelled `2025` (the previous period is the year earlier: one change only).
    Year,
}

impl Grain {
    /// Index of the period holding a month index (`year × 12 + month − 1`).
    fn period(self, month: u32) -> u32 {
        match self {
            Grain::Month => month,
            Grain::Quarter => month / 3,
            Grain::Year => month / 12,
        }
    }

    /// The label of a period index: `2025-03`, `2025-Q1` or `2025`.
    pub fn label(self, period: u32) -> String {
        match self {
            Grain::Month => format!("{}-{:02}", period / 12, period % 12 + 1),
            Grain::Quarter => format!("{}-Q{}", period / 4, period % 4 + 1),
            Grain::Year => format!("{period}"),
        }
    }

    /// Periods per year (the lag of the year-earlier comparison).
    fn per_year(self) -> u32 {
        match self {
            Grain::Month => 12,
            Grain::Quarter => 4,
            Grain::Year => 1,
        }
    }
}

pub(crate) use crate::counting::calendar::PeriodColumn;

/// `[analysis.trends]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrendSettings {
    /// Compute trends (on by default).
    pub enabled: bool,
    /// `month`, `quarter` (default) or `year`.
    pub grain: Grain,
    /// `stopped_at` (default) or `registered_at`.
    pub period_column: PeriodColumn,
}

impl Default for TrendSettings {
    fn default() -> Self {
        TrendSettings {
            enabled: true,
            grain: Grain::Quarter,
            period_column: PeriodColumn::StoppedAt,
        }
    }
}

/// One period of a series.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    /// The period's label (`2025-03`, `2025-Q1` or `2025`).
    pub period: String,
    /// Shares: the count and its base; hit-rate ratio: the group's hits and stops.
    pub numerator: Option<u64>,
    /// The base of `numerator` (see there); `None` when suppressed.
    pub denominator: Option<u64>,
    /// Hit-rate ratio only: the reference's hits and stops.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_numerator: Option<u64>,
    /// Hit-rate ratio only: the reference's stops; `None` otherwise or when suppressed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ref_denominator: Option<u64>,
    /// The share (0..1) or hit-rate ratio; `None` when undefined (no base, no hits) or suppressed.
    pub value: Option<f64>,
    /// Wilson interval of a share, Katz log interval of a ratio, at the run's confidence level.
    pub ci: Option<[f64; 2]>,
    /// Small or complementary counts: the counts, value and interval are `None`.
    pub suppressed: bool,
}

/// The change of a measure between two periods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendChange {
    /// The later period's label.
    pub period: String,
    /// The earlier period's label.
    pub compared_with: String,
    /// `previous_period` or `year_earlier`.
    pub kind: &'static str,
    /// Shares: the difference (later − earlier); ratio: later / earlier.
    pub change: Option<f64>,
    /// Newcombe interval of a difference of shares, log-scale Wald interval of a ratio of ratios.
    pub change_ci: Option<[f64; 2]>,
    /// Two-proportion z-test (shares) or z-test of the log ratio of ratios; `None` when undefined.
    pub p_value: Option<f64>,
    /// Benjamini–Hochberg over all changes of all series.
    pub q_value: Option<f64>,
    /// A change from or to a suppressed point: change, interval, p- and q-value are `None`.
    pub suppressed: bool,
}

/// One measure of one group over the periods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendSeries {
    /// The group attribute.
    pub attribute: String,
    /// The group measured.
    pub group: String,
    /// The attribute's reference group.
    pub reference: String,
    /// `share_of_stops`, `weak_justification_share` or `hit_rate_ratio`.
    pub measure: &'static str,
    /// One point per period in `Trends::periods`, in order.
    pub points: Vec<TrendPoint>,
    /// From the second period on: the change from the previous period and, for months and quarters,
    /// from a year earlier.
    pub changes: Vec<TrendChange>,
}

/// All trends.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Trends {
    /// Whether trends ran; when false everything else is empty.
    pub enabled: bool,
    /// The period length; `None` when off.
    pub grain: Option<Grain>,
    /// The column periods are taken from; `None` when off.
    pub period_column: Option<PeriodColumn>,
    /// Stops without a value in the period column (not in any period).
    pub stops_without_period: u64,
    /// Labels of every period from the first with stops to the last, empty ones between included.
    pub periods: Vec<String>,
    /// One per attribute, group and measure (`hit_rate_ratio` for every group but the reference).
    pub series: Vec<TrendSeries>,
}

/// Per group and period: stops, weak-justification stops, hits.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    stops: u64,
    weak: u64,
    hits: u64,
}

/// Computes every series (before suppression; see [`crate::disclosure`]).
/// Fails when the period column is `registered_at` and no input has it.
pub fn trends(inputs: &Inputs, attrs: &[Attribute]) -> crate::error::Result<Trends> {
    let settings = &inputs.settings.trends;
    if !settings.enabled {
        return Ok(Trends::default());
    }
    if settings.period_column == PeriodColumn::RegisteredAt
        && !inputs
            .summary
            .files
            .iter()
            .any(|f| f.columns.contains_key("registered_at"))
    {
        return Err(crate::error::Error::Usage(
            "[analysis.trends] period_column = \"registered_at\", but no input has a registered_at column (map one under [columns])".into(),
        ));
    }
    let grain = settings.grain;
    let cal = &inputs.cube.calendar;
    let without_period: u64 = cal
        .periods
        .iter()
        .filter(|(c, _)| c.attribute == 0 && c.month == crate::counting::calendar::NO_PERIOD)
        .map(|(_, n)| n)
        .sum();
    let weak = inputs.settings.weak_codes(inputs.codes);
    let hit = inputs.settings.hit_codes(inputs.codes);
    let Some((first, last)) = cal
        .periods
        .keys()
        .filter(|c| c.month != crate::counting::calendar::NO_PERIOD)
        .map(|c| grain.period(c.month))
        .fold(None, |acc: Option<(u32, u32)>, p| {
            Some(acc.map_or((p, p), |(lo, hi)| (lo.min(p), hi.max(p))))
        })
    else {
        return Ok(Trends {
            enabled: true,
            grain: Some(grain),
            period_column: Some(settings.period_column),
            stops_without_period: without_period,
            ..Trends::default()
        });
    };
    let periods: Vec<u32> = (first..=last).collect();
    let labels: Vec<String> = periods.iter().map(|&p| grain.label(p)).collect();
    let confidence = inputs.settings.confidence;
    let mut series = Vec::new();
    for a in attrs {
        // group -> per period counts
        let mut by_group: BTreeMap<u32, Vec<Counts>> = BTreeMap::new();
        for (c, &n) in &cal.periods {
            if c.attribute != a.index || c.month == crate::counting::calendar::NO_PERIOD {
                continue;
            }
            let t = (grain.period(c.month) - first) as usize;
            let counts = &mut by_group
                .entry(c.group)
                .or_insert_with(|| vec![Counts::default(); periods.len()])[t];
            counts.stops += n;
            if weak.contains(&c.justification) {
                counts.weak += n;
            }
            if hit.contains(&c.outcome) {
                counts.hits += n;
            }
        }
        let totals: Vec<u64> = (0..periods.len())
            .map(|t| by_group.values().map(|v| v[t].stops).sum())
            .collect();
        let empty = vec![Counts::default(); periods.len()];
        let reference = by_group.get(&a.reference.0).unwrap_or(&empty);
        for (code, label) in &a.groups {
            let Some(counts) = by_group.get(code) else {
                continue;
            };
            let share_series = |measure, num: &dyn Fn(usize) -> u64, den: &dyn Fn(usize) -> u64| {
                let points = (0..periods.len())
                    .map(|t| share_point(&labels[t], num(t), den(t), confidence))
                    .collect();
                let changes = changes(grain, &labels, |t, s| {
                    let d = newcombe_difference(num(t), den(t), num(s), den(s), confidence)?;
                    let (_, p) = two_proportion_z_test(num(t), den(t), num(s), den(s))?;
                    Some((d.estimate, [d.interval.low, d.interval.high], p.p))
                });
                TrendSeries {
                    attribute: a.name.clone(),
                    group: label.clone(),
                    reference: a.reference.1.clone(),
                    measure,
                    points,
                    changes,
                }
            };
            series.push(share_series("share_of_stops", &|t| counts[t].stops, &|t| {
                totals[t]
            }));
            series.push(share_series(
                "weak_justification_share",
                &|t| counts[t].weak,
                &|t| counts[t].stops,
            ));
            if *code == a.reference.0 {
                continue;
            }
            let tally = |c: &Counts| (c.hits, c.stops);
            let points = (0..periods.len())
                .map(|t| {
                    let ((a1, n1), (b1, m1)) = (tally(&counts[t]), tally(&reference[t]));
                    let r = katz_rate_ratio(a1, n1, b1, m1, confidence);
                    TrendPoint {
                        period: labels[t].clone(),
                        numerator: Some(a1),
                        denominator: Some(n1),
                        ref_numerator: Some(b1),
                        ref_denominator: Some(m1),
                        value: r.map(|r| r.estimate),
                        ci: r.map(|r| [r.interval.low, r.interval.high]),
                        suppressed: false,
                    }
                })
                .collect();
            let changes = changes(grain, &labels, |t, s| {
                let four = |t: usize| {
                    let ((a1, n1), (b1, m1)) = (tally(&counts[t]), tally(&reference[t]));
                    (a1, n1, b1, m1)
                };
                let (r, p) = rate_ratio_change(four(t), four(s), confidence)?;
                Some((r.estimate, [r.interval.low, r.interval.high], p.p))
            });
            series.push(TrendSeries {
                attribute: a.name.clone(),
                group: label.clone(),
                reference: a.reference.1.clone(),
                measure: "hit_rate_ratio",
                points,
                changes,
            });
        }
    }
    let mut all: Vec<&mut TrendChange> = series.iter_mut().flat_map(|s| &mut s.changes).collect();
    let ps: Vec<f64> = all.iter().map(|c| c.p_value.unwrap_or(f64::NAN)).collect();
    for (c, q) in all
        .iter_mut()
        .zip(crate::stats::fdr::benjamini_hochberg(&ps))
    {
        c.q_value = (!q.is_nan()).then_some(q);
    }
    Ok(Trends {
        enabled: true,
        grain: Some(grain),
        period_column: Some(settings.period_column),
        stops_without_period: without_period,
        periods: labels,
        series,
    })
}

fn share_point(period: &str, x: u64, n: u64, confidence: f64) -> TrendPoint {
    TrendPoint {
        period: period.to_string(),
        numerator: Some(x),
        denominator: Some(n),
        ref_numerator: None,
        ref_denominator: None,
        value: (n > 0).then(|| x as f64 / n as f64),
        ci: wilson_interval(x, n, confidence).map(|i| [i.low, i.high]),
        suppressed: false,
    }
}

/// Changes from the previous period and from a year earlier, for every
/// period that has them; `stat(t, s)` compares period t with period s.
fn changes(
    grain: Grain,
    labels: &[String],
    stat: impl Fn(usize, usize) -> Option<(f64, [f64; 2], f64)>,
) -> Vec<TrendChange> {
    let mut out = Vec::new();
    let lag = grain.per_year() as usize;
    for t in 1..labels.len() {
        let mut kinds = vec![("previous_period", t - 1)];
        if lag > 1 && t >= lag {
            kinds.push(("year_earlier", t - lag));
        }
        for (kind, s) in kinds {
            let r = stat(t, s);
            out.push(TrendChange {
                period: labels[t].clone(),
                compared_with: labels[s].clone(),
                kind,
                change: r.map(|r| r.0),
                change_ci: r.map(|r| r.1),
                p_value: r.map(|r| r.2),
                q_value: None,
                suppressed: false,
            });
        }
    }
    out
}
