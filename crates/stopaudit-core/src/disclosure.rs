//! Disclosure control: the one step between the results as computed and
//! what a run publishes. [`protect`] applies it to the whole results
//! document at once (every analysis and the count tables); the findings
//! then read what it leaves visible.
//!
//! Small-cell suppression. Primary: a count from 1 to `k − 1` is
//! suppressed. Complementary: in a table whose row and column totals can be
//! known, a suppressed cell must not be recoverable from the totals and the
//! cells shown.
//! With the cells
//! as edges of a bipartite graph (rows and columns as vertices), a
//! suppressed cell is recoverable exactly when its edge is a bridge of the
//! graph of suppressed cells, i.e. lies on no cycle. So more cells are
//! suppressed (smallest first) until every suppressed cell lies on a cycle.
//! Suppressed values become `null` with `"suppressed": true`, never a number.

use std::collections::BTreeMap;

use crate::analysis::AnalysisSettings;
use crate::analysis::Results;
use crate::analysis::benchmarking::InternalBenchmark;
use crate::analysis::compare::ComparisonRow;
use crate::analysis::mix::MixResult;
use crate::analysis::population::PopulationRow;
use crate::analysis::stratified::StrataPattern;
use crate::analysis::stratified::StratifiedRow;
use crate::analysis::threshold::ThresholdTestResult;
use crate::analysis::trends::{TrendSeries, Trends};
use crate::analysis::veil::{DarkStops, VeilOfDarkness};
use crate::counting::CountTables;
use crate::pseudonym::PseudonymKey;
use crate::stats::suppression::{small, strata_grid, table, table_with};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

/// Protects everything a run publishes with small-cell threshold `k`
/// (`settings.min_cell`; 0 publishes everything): every analysis of
/// `results` and the count tables, in one step.
pub fn protect(
    results: &mut Results,
    counts: &mut CountTables,
    settings: &AnalysisSettings,
    key: Option<&PseudonymKey>,
) {
    let k = settings.min_cell;
    if k == 0 {
        return;
    }
    let weak = &settings.weak_justifications;
    let patterns = results.strata_patterns.clone();
    let total_hidden = |a: &str, g: &str| group_total_hidden(&patterns, a, g);
    data_quality(&mut results.data_quality, k, &patterns);
    internal_benchmark(&mut results.internal_benchmark, k);
    threshold_test(&mut results.threshold_test, k, &total_hidden);
    veil_of_darkness(&mut results.veil_of_darkness, k);
    outcome_rows(&mut results.outcome_test, &results.strata_patterns, k);
    overall_rows(&mut results.search_funnel, k, &total_hidden);
    for m in &mut results.justification_mix {
        mix(m, &results.strata_patterns, weak, k);
    }
    stratified_rows(
        &mut results.stratified,
        &results.outcome_test,
        &results.search_funnel,
        k,
    );
    population_rows(&mut results.population_benchmark, k, &total_hidden);
    // A group whose hits or weak-justification stops are hidden in those
    // tables must not have them back as the sum of its trend points.
    let overall = results.outcome_test.iter().filter(|r| r.stratum.is_empty());
    let hidden_hits = hidden_hits_of(overall);
    let hidden_weak = hidden_hits_of(
        results
            .justification_mix
            .iter()
            .flat_map(|m| &m.weak_justification),
    );
    let hidden_totals: Vec<(String, String)> = patterns
        .iter()
        .filter(|p| p.field == "justification")
        .flat_map(|p| {
            p.groups
                .iter()
                .filter(|g| p.total_hidden(g))
                .map(|g| (p.attribute.clone(), g.clone()))
        })
        .collect();
    trends(
        &mut results.trends,
        k,
        &Hidden {
            hits: &hidden_hits,
            weak: &hidden_weak,
            stops: &hidden_totals,
        },
    );
    count_tables(counts, key);
}

/// Whether a group's stops in all are hidden ([`StrataPattern::total_hidden`]):
/// a small total, or one hidden with it, since every group's stops add up
/// to the published total; then they are hidden wherever they appear.
fn group_total_hidden(patterns: &[StrataPattern], attribute: &str, group: &str) -> bool {
    patterns
        .iter()
        .find(|p| p.attribute == attribute)
        .is_some_and(|p| p.total_hidden(group))
}

/// (attribute, group) of every group, and every reference, whose hits
/// `rows` hide.
fn hidden_hits_of<'a>(rows: impl Iterator<Item = &'a ComparisonRow>) -> Vec<(String, String)> {
    rows.flat_map(|r| {
        let group = r
            .hits
            .is_none()
            .then(|| (r.attribute.clone(), r.group.clone()));
        let reference = r
            .ref_hits
            .is_none()
            .then(|| (r.attribute.clone(), r.reference.clone()));
        group.into_iter().chain(reference)
    })
    .collect()
}

/// A row's hidden marks with its smallest cell that has stops hidden: one
/// cell more for a group whose row total is hidden elsewhere (its cells
/// would add up to it).
fn smallest_cell(row: &[u64]) -> Vec<bool> {
    let mut h = vec![false; row.len()];
    if let Some((i, _)) = row
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .min_by_key(|(i, n)| (**n, *i))
    {
        h[i] = true;
    }
    h
}

/// Groups (attribute, group) whose totals the comparisons hide: their trend
/// points must not add up to them.
struct Hidden<'a> {
    hits: &'a [(String, String)],
    weak: &'a [(String, String)],
    stops: &'a [(String, String)],
}

/// A trend series (its index) with, per point: hidden, may keep its
/// denominator, may keep its reference denominator.
type SeriesHide = (usize, Vec<bool>, Vec<bool>, Vec<bool>);

/// What a hidden comparison row must not show.
#[derive(Debug, Clone, Copy, Default)]
struct Hide {
    /// The group's hits and everything made from them (the row is hidden).
    hits: bool,
    /// The group's stops as well.
    stops: bool,
    /// The reference's hits (and rate) on this row.
    ref_hits: bool,
    /// The reference's stops on this row.
    ref_stops: bool,
}

/// Hides what `hide` says, and whatever of the row is small itself: the
/// group's stops when small, the reference's hits when they or its
/// non-hits are small, its stops when small.
fn redact_comparison(row: &mut ComparisonRow, k: u64, hide: Hide) {
    row.suppressed = true;
    if hide.stops || row.stops.is_some_and(|s| small(s, k)) {
        row.stops = None;
    }
    let (rs, rh) = (row.ref_stops.unwrap_or(0), row.ref_hits.unwrap_or(0));
    if hide.ref_hits || hide.ref_stops || small(rh, k) || small(rs - rh, k) {
        row.ref_hits = None;
        row.ref_rate = None;
        row.ref_rate_ci = None;
    }
    if hide.ref_stops || small(rs, k) {
        row.ref_stops = None;
    }
    row.hits = None;
    row.rate = None;
    row.rate_ci = None;
    row.rate_ratio = None;
    row.rate_ratio_ci = None;
    row.p_value = None;
    row.p_value_log10 = None;
    row.p_adverse = None;
    row.q_value = None;
}

/// Whether a comparison row shows a small count (in the group's or the
/// reference's 2×2 cells).
fn comparison_is_small(row: &ComparisonRow, k: u64) -> bool {
    let (Some(s), Some(h), Some(rs), Some(rh)) = (row.stops, row.hits, row.ref_stops, row.ref_hits)
    else {
        return row.suppressed;
    };
    small(h, k) || small(s - h, k) || small(rh, k) || small(rs - rh, k)
}

/// The outcome test's rows, hidden by the patterns computed once from the
/// cube ([`StrataPattern`]): per attribute, the groups' overall hits and
/// non-hits (groups × {hits, non-hits}), and per stratum field the
/// stratum rows (groups × strata, stops and hits apart), each with every
/// group total and every stratum total (over all groups) treated as known,
/// since the same stops are published through every attribute. A hidden
/// cell of the reference group hides the reference's numbers on every row
/// of that stratum (and so those rows' comparisons).
fn outcome_rows(rows: &mut [ComparisonRow], patterns: &[StrataPattern], k: u64) {
    let mut hide: Vec<Hide> = rows
        .iter()
        .map(|r| Hide {
            hits: comparison_is_small(r, k),
            ..Hide::default()
        })
        .collect();
    for (row, h) in rows.iter().zip(hide.iter_mut()) {
        let field = row.stratum.iter().next();
        let Some(p) = patterns
            .iter()
            .find(|p| p.attribute == row.attribute && field.is_none_or(|(f, _)| *f == p.field))
        else {
            continue;
        };
        match field {
            None => {
                h.hits |= p.overall_hidden(&row.group);
                h.stops |= p.total_hidden(&row.group);
                h.ref_hits |= p.overall_hidden(&p.reference);
                h.ref_stops |= p.total_hidden(&p.reference);
            }
            Some((_, v)) => {
                h.hits |= p.pair_hidden(&row.group, v);
                h.stops |= p.stops_hidden(&row.group, v);
                h.ref_hits |= p.pair_hidden(&p.reference, v);
                h.ref_stops |= p.stops_hidden(&p.reference, v);
            }
        }
        h.hits |= h.ref_hits || h.ref_stops;
    }
    for (row, h) in rows.iter_mut().zip(hide) {
        if h.hits {
            redact_comparison(row, k, h);
        }
    }
}

/// Rows with no strata (the search funnel's stages): per attribute and
/// stage, groups × {hits, non-hits} with every group's stops and every
/// column's total treated as known; the reference's counts are one more
/// group. A group whose searches are hidden has its contraband row hidden
/// with its stops (they are the same searches).
fn overall_rows(rows: &mut [ComparisonRow], k: u64, total_hidden: &dyn Fn(&str, &str) -> bool) {
    let mut families: BTreeMap<(String, Option<String>), Vec<usize>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        families
            .entry((r.attribute.clone(), r.stage.clone()))
            .or_default()
            .push(i);
    }
    let mut hide: Vec<Hide> = rows
        .iter()
        .map(|r| Hide {
            hits: comparison_is_small(r, k),
            ..Hide::default()
        })
        .collect();
    for idx in families.values() {
        let mut groups: Vec<&str> = idx.iter().map(|&i| rows[i].group.as_str()).collect();
        let reference = rows[idx[0]].reference.as_str();
        groups.push(reference);
        groups.sort_unstable();
        groups.dedup();
        let pair = |s: Option<u64>, h: Option<u64>| {
            let (s, h) = (s.unwrap_or(0), h.unwrap_or(0));
            [h, s.saturating_sub(h)]
        };
        let values: Vec<[u64; 2]> = groups
            .iter()
            .map(|g| {
                if *g == reference {
                    idx.iter()
                        .map(|&i| pair(rows[i].ref_stops, rows[i].ref_hits))
                        .next()
                        .unwrap_or([0, 0])
                } else {
                    idx.iter()
                        .find(|&&i| rows[i].group == *g)
                        .map_or([0, 0], |&i| pair(rows[i].stops, rows[i].hits))
                }
            })
            .collect();
        let r = groups.iter().position(|g| *g == reference);
        let grid = strata_grid(&values, &vec![Vec::new(); groups.len()], r, k);
        let ref_hidden = r.is_some_and(|r| grid.overall[r]);
        for &i in idx {
            let g = groups.iter().position(|g| *g == rows[i].group);
            hide[i].hits |= g.is_some_and(|g| grid.overall[g]) || ref_hidden;
            hide[i].ref_hits |= ref_hidden;
        }
    }
    // The search stage's stops are the group's stops: hidden with its total.
    for (r, h) in rows.iter().zip(hide.iter_mut()) {
        if r.stage.as_deref() == Some("search") {
            if total_hidden(&r.attribute, &r.group) {
                h.hits = true;
                h.stops = true;
            }
            if total_hidden(&r.attribute, &r.reference) {
                h.hits = true;
                h.ref_hits = true;
                h.ref_stops = true;
            }
        }
    }
    // Searches hidden: the contraband row's stops are those searches.
    let searched: Vec<(String, String)> = rows
        .iter()
        .zip(&hide)
        .filter(|(r, h)| h.hits && r.stage.as_deref() == Some("search"))
        .map(|(r, _)| (r.attribute.clone(), r.group.clone()))
        .collect();
    for (r, h) in rows.iter().zip(hide.iter_mut()) {
        if r.stage.as_deref() == Some("contraband")
            && searched
                .iter()
                .any(|(a, g)| *a == r.attribute && *g == r.group)
        {
            h.hits = true;
            h.stops = true;
        }
    }
    let ref_searches_hidden: Vec<String> = rows
        .iter()
        .zip(&hide)
        .filter(|(r, h)| h.ref_hits && r.stage.as_deref() == Some("search"))
        .map(|(r, _)| r.attribute.clone())
        .collect();
    for (r, h) in rows.iter().zip(hide.iter_mut()) {
        if r.stage.as_deref() == Some("contraband") && ref_searches_hidden.contains(&r.attribute) {
            h.hits = true;
            h.ref_hits = true;
            h.ref_stops = true;
        }
    }
    for (row, h) in rows.iter_mut().zip(hide) {
        if h.hits {
            redact_comparison(row, k, h);
        }
    }
}

/// The justification mix of one attribute: a cell's count is the stops of
/// that group and justification, the same number as the outcome test's
/// stratum row, so it is hidden by the same pattern. A weak-justification
/// row (its hits are the group's stops on weak grounds) is hidden when a
/// weak-justification cell of its group or of the reference is.
fn mix(m: &mut MixResult, patterns: &[StrataPattern], weak: &[String], k: u64) {
    let p = patterns
        .iter()
        .find(|p| p.attribute == m.attribute && p.field == "justification");
    let hidden = |g: &str, j: &str| match p {
        Some(p) => p.stops_hidden(g, j),
        None => false,
    };
    for cell in &mut m.cells {
        if hidden(&cell.group, &cell.justification) || cell.count.is_some_and(|n| small(n, k)) {
            cell.suppressed = true;
            cell.count = None;
            cell.share = None;
            cell.share_ci = None;
            cell.adjusted_residual = None;
        }
    }
    let weak_hidden = |g: &str| weak.iter().any(|j| hidden(g, j));
    let total = |g: &str| p.is_some_and(|p| p.total_hidden(g));
    let reference = m.reference.clone();
    for row in &mut m.weak_justification {
        let ref_hidden = weak_hidden(&reference) || total(&reference);
        if weak_hidden(&row.group) || total(&row.group) || ref_hidden || comparison_is_small(row, k)
        {
            // The row's stops are the group's stops in all.
            let h = Hide {
                hits: true,
                stops: total(&row.group),
                ref_hits: ref_hidden,
                ref_stops: total(&reference),
            };
            redact_comparison(row, k, h);
        }
    }
}

/// Suppresses stratified rows whose totals are small, and, as a safety
/// net, those pooling a stratum whose outcome-test row is hidden (the
/// analysis already leaves such strata out: pooled ratios with the
/// published totals would give a hidden stratum's counts back).
fn stratified_rows(
    rows: &mut [StratifiedRow],
    outcome: &[ComparisonRow],
    funnel: &[ComparisonRow],
    k: u64,
) {
    for r in rows {
        // The find rate of searches pooled over strata: its counts are
        // (nearly) the group's and the reference's searches and finds, so
        // it goes where the search funnel hides those.
        let searches_hidden = r.stage.is_some()
            && funnel.iter().any(|f| {
                f.attribute == r.attribute
                    && f.group == r.group
                    && (f.hits.is_none() || f.stops.is_none() || f.ref_hits.is_none())
            });
        let (Some(s), Some(h), Some(rs), Some(rh)) = (r.stops, r.hits, r.ref_stops, r.ref_hits)
        else {
            continue;
        };
        // A safety net: the analysis pools only the strata the outcome
        // test publishes (the same suppression rule); should a pooled
        // stratum's row be hidden all the same, the row is withheld.
        let strata_withheld = r.stage.is_none()
            && outcome.iter().any(|o| {
                o.suppressed
                    && o.attribute == r.attribute
                    && o.group == r.group
                    && o.stratum.keys().eq(r.strata_by.iter())
                    && r.used_strata
                        .iter()
                        .any(|s| s.iter().eq(o.stratum.values()))
            });
        if small(h, k)
            || small(s - h, k)
            || small(rh, k)
            || small(rs - rh, k)
            || strata_withheld
            || searches_hidden
        {
            r.suppressed = true;
            r.stops = None;
            r.hits = None;
            r.crude_odds_ratio = None;
            r.mh_odds_ratio = None;
            r.mh_odds_ratio_ci = None;
            r.mh_rate_ratio = None;
            r.mh_rate_ratio_ci = None;
            r.cmh_p_value = None;
            r.cmh_p_value_log10 = None;
            r.p_adverse = None;
            r.q_value = None;
            r.breslow_day_p_value = None;
        }
    }
}

/// Suppresses population rows with a small stop count.
fn population_rows(rows: &mut [PopulationRow], k: u64, total_hidden: &dyn Fn(&str, &str) -> bool) {
    for r in rows {
        if r.stops.is_some_and(|s| small(s, k)) || total_hidden(&r.attribute, &r.group) {
            r.suppressed = true;
            r.stops = None;
            r.rate_per_1000 = None;
            r.rate_ratio = None;
            r.rate_ratio_ci = None;
            r.p_value = None;
            r.p_value_log10 = None;
            r.p_adverse = None;
            r.q_value = None;
        }
    }
}

/// Suppresses the counts of threshold-test results: stops, searches and
/// hits each form a group × location table whose group totals of stops are
/// published, so each table gets primary and complementary suppression;
/// a small group total is suppressed too. Thresholds stay (not counts).
fn threshold_test(
    results: &mut [ThresholdTestResult],
    k: u64,
    total_hidden: &dyn Fn(&str, &str) -> bool,
) {
    for t in results {
        let groups: Vec<String> = t.groups.iter().map(|g| g.group.clone()).collect();
        let mut locations: Vec<&str> = t.cells.iter().map(|c| c.location.as_str()).collect();
        locations.sort_unstable();
        locations.dedup();
        let locations: Vec<String> = locations.into_iter().map(str::to_owned).collect();
        let place = |c: &crate::analysis::threshold::ThresholdCell| {
            let g = groups.iter().position(|g| *g == c.group);
            let l = locations.iter().position(|l| *l == c.location);
            g.zip(l)
        };
        type Count = fn(&mut crate::analysis::threshold::ThresholdCell) -> &mut Option<u64>;
        let measures: [Count; 3] = [|c| &mut c.stops, |c| &mut c.searches, |c| &mut c.hits];
        for measure in measures {
            let mut values = vec![vec![0u64; locations.len()]; groups.len()];
            for c in t.cells.iter_mut() {
                if let (Some((g, l)), Some(n)) = (place(c), *measure(c)) {
                    values[g][l] = n;
                }
            }
            // A group whose stops are hidden elsewhere loses one cell more
            // (its cells would add up to them).
            let extra: Vec<Vec<bool>> = groups
                .iter()
                .zip(&values)
                .map(|(g, row)| {
                    if total_hidden(&t.attribute, g) {
                        smallest_cell(row)
                    } else {
                        vec![false; row.len()]
                    }
                })
                .collect();
            let hidden = table_with(&values, extra, k);
            for c in t.cells.iter_mut() {
                if let Some((g, l)) = place(c)
                    && hidden[g][l]
                {
                    *measure(c) = None;
                    c.suppressed = true;
                }
            }
        }
        for g in &mut t.groups {
            if g.stops.is_some_and(|n| small(n, k)) || total_hidden(&t.attribute, &g.group) {
                g.stops = None;
            }
        }
    }
}

/// The veil-of-darkness test: a group's and its reference's daylight and
/// dark stops (all stops and the clock-change window) are hidden together
/// when any of them is small, and so are the shares made from them (a
/// share and one count give the other). The odds ratios stay (not counts).
/// A small count of stops per light class is hidden too.
fn veil_of_darkness(veil: &mut VeilOfDarkness, k: u64) {
    let small_row = |s: &Option<DarkStops>| {
        s.is_some_and(|s| {
            [s.group_daylight, s.group_dark, s.ref_daylight, s.ref_dark]
                .iter()
                .any(|&n| small(n, k))
        })
    };
    for r in &mut veil.results {
        if small_row(&r.stops) {
            r.stops = None;
            r.share_daylight = None;
            r.share_daylight_ci = None;
            r.share_dark = None;
            r.share_dark_ci = None;
            r.suppressed = true;
        }
        let c = &mut r.clock_change;
        if small_row(&c.stops) {
            c.stops = None;
            c.suppressed = true;
        }
    }
    let s = &mut veil.stops;
    for n in [
        &mut s.no_place,
        &mut s.outside_window,
        &mut s.twilight,
        &mut s.daylight,
        &mut s.dark,
    ] {
        if n.is_some_and(|n| small(n, k)) {
            *n = None;
        }
    }
}

/// Trends: per attribute, the group × period tables of stops, of
/// weak-justification stops (and the rest) and of hits (and non-hits) get
/// primary and complementary suppression, since group totals and period
/// totals are published; a point is hidden when a count it is made of is,
/// and so is every change from or to a hidden point.
fn trends(t: &mut Trends, k: u64, hidden: &Hidden) {
    let (hidden_hits, hidden_weak) = (hidden.hits, hidden.weak);
    let mut attributes: Vec<String> = t.series.iter().map(|s| s.attribute.clone()).collect();
    attributes.dedup();
    for attribute in attributes {
        let of = |series: &[TrendSeries], measure: &str| -> Vec<usize> {
            (0..series.len())
                .filter(|&i| series[i].attribute == attribute && series[i].measure == measure)
                .collect()
        };
        let shares = of(&t.series, "share_of_stops");
        let weak = of(&t.series, "weak_justification_share");
        let ratios = of(&t.series, "hit_rate_ratio");
        let counts = |rows: &[usize], f: &dyn Fn(&crate::analysis::trends::TrendPoint) -> u64| {
            rows.iter()
                .map(|&i| t.series[i].points.iter().map(f).collect::<Vec<u64>>())
                .collect::<Vec<_>>()
        };
        let either = |a: Vec<Vec<bool>>, b: Vec<Vec<bool>>| -> Vec<Vec<bool>> {
            a.into_iter()
                .zip(b)
                .map(|(x, y)| x.into_iter().zip(y).map(|(p, q)| p || q).collect())
                .collect()
        };
        let num = |p: &crate::analysis::trends::TrendPoint| p.numerator.unwrap_or(0);
        let rest = |p: &crate::analysis::trends::TrendPoint| {
            p.denominator.unwrap_or(0) - p.numerator.unwrap_or(0)
        };
        // Stops per group (rows in `shares` order).
        let share_num = counts(&shares, &num);
        let group_row = |group: &str| shares.iter().position(|&i| t.series[i].group == group);
        // Groups whose total is hidden elsewhere: one point of their row
        // goes first (the smallest with stops), then the table is completed.
        let totals_hidden =
            |rows: &[usize], values: &[Vec<u64>], set: &[(String, String)], extra: Option<&str>| {
                let mut groups: Vec<&str> =
                    rows.iter().map(|&i| t.series[i].group.as_str()).collect();
                if let Some(r) = extra {
                    groups.push(r);
                }
                groups
                    .iter()
                    .zip(values)
                    .map(|(g, row)| {
                        if set.iter().any(|(a, x)| *a == attribute && x == g) {
                            smallest_cell(row)
                        } else {
                            vec![false; row.len()]
                        }
                    })
                    .collect::<Vec<Vec<bool>>>()
            };
        let stops_extra = totals_hidden(&shares, &share_num, hidden.stops, None);
        let hidden_stops = table_with(&share_num, stops_extra, k);
        let weak_num = counts(&weak, &num);
        let weak_extra = totals_hidden(&weak, &weak_num, hidden_weak, None);
        let hidden_weak = either(
            table_with(&weak_num, weak_extra, k),
            table(&counts(&weak, &rest), k),
        );
        // Hits: the non-reference groups, then the reference (from any ratio series).
        let mut hits = counts(&ratios, &num);
        let mut non_hits = counts(&ratios, &rest);
        if let Some(&first) = ratios.first() {
            let points = &t.series[first].points;
            hits.push(
                points
                    .iter()
                    .map(|p| p.ref_numerator.unwrap_or(0))
                    .collect(),
            );
            non_hits.push(
                points
                    .iter()
                    .map(|p| p.ref_denominator.unwrap_or(0) - p.ref_numerator.unwrap_or(0))
                    .collect(),
            );
        }
        let reference = ratios.first().map(|&i| t.series[i].reference.clone());
        let hits_extra = totals_hidden(&ratios, &hits, hidden_hits, reference.as_deref());
        let hidden_hits = either(table_with(&hits, hits_extra, k), table(&non_hits, k));
        // A period with few stops in all (stray dates) is hidden whole:
        // every point of it, with its denominators.
        let small_period: Vec<bool> = match shares.first() {
            Some(&i) => t.series[i]
                .points
                .iter()
                .map(|p| p.denominator.is_some_and(|n| small(n, k)))
                .collect(),
            None => Vec::new(),
        };
        let period_small = |p: usize| small_period.get(p).copied().unwrap_or(false);
        let stops_hidden = |group: &str, p: usize| {
            period_small(p) || group_row(group).is_some_and(|r| hidden_stops[r][p])
        };
        // Per series: hidden points, and whether a hidden point may keep
        // its denominator (the group's stops in the period, shown in the
        // stops table) and its reference denominator.
        let mut hide: Vec<SeriesHide> = Vec::new();
        let periods = t.series.first().map_or(0, |s| s.points.len());
        for (r, &i) in shares.iter().enumerate() {
            // The denominator is the period's total: a published margin.
            let h = (0..periods)
                .map(|p| hidden_stops[r][p] || period_small(p))
                .collect();
            let den = (0..periods).map(|p| !period_small(p)).collect();
            hide.push((i, h, den, vec![false; periods]));
        }
        for (r, &i) in weak.iter().enumerate() {
            let g = t.series[i].group.clone();
            let h: Vec<bool> = (0..hidden_weak[r].len())
                .map(|p| hidden_weak[r][p] || stops_hidden(&g, p))
                .collect();
            let den = (0..h.len()).map(|p| !stops_hidden(&g, p)).collect();
            hide.push((i, h, den, vec![false; periods]));
        }
        let reference_row = ratios.len();
        for (r, &i) in ratios.iter().enumerate() {
            let (g, reference) = (t.series[i].group.clone(), t.series[i].reference.clone());
            let h: Vec<bool> = (0..hidden_hits[r].len())
                .map(|p| {
                    hidden_hits[r][p]
                        || hidden_hits[reference_row][p]
                        || stops_hidden(&g, p)
                        || stops_hidden(&reference, p)
                })
                .collect();
            let den = (0..h.len()).map(|p| !stops_hidden(&g, p)).collect();
            let ref_den = (0..h.len()).map(|p| !stops_hidden(&reference, p)).collect();
            hide.push((i, h, den, ref_den));
        }
        for (i, mut hidden, den, ref_den) in hide {
            let series = &mut t.series[i];
            // A small denominator (a period's or a group's few stops) is
            // hidden with its point even where the numerator is 0.
            for (h, p) in hidden.iter_mut().zip(&series.points) {
                *h |= p.denominator.is_some_and(|n| small(n, k))
                    || p.ref_denominator.is_some_and(|n| small(n, k));
            }
            let labels: Vec<String> = series.points.iter().map(|p| p.period.clone()).collect();
            for (((point, &h), &den), &ref_den) in series
                .points
                .iter_mut()
                .zip(&hidden)
                .zip(&den)
                .zip(&ref_den)
            {
                if h {
                    point.numerator = None;
                    if !den || point.denominator.is_some_and(|n| small(n, k)) {
                        point.denominator = None;
                    }
                    point.ref_numerator = None;
                    if !ref_den || point.ref_denominator.is_some_and(|n| small(n, k)) {
                        point.ref_denominator = None;
                    }
                    point.value = None;
                    point.ci = None;
                    point.suppressed = true;
                }
            }
            let is_hidden = |label: &str| {
                labels
                    .iter()
                    .position(|l| l == label)
                    .is_some_and(|p| hidden[p])
            };
            for c in &mut series.changes {
                if is_hidden(&c.period) || is_hidden(&c.compared_with) {
                    c.change = None;
                    c.change_ci = None;
                    c.p_value = None;
                    c.q_value = None;
                    c.suppressed = true;
                }
            }
        }
    }
}

/// Analysed rows with no value per field, with counts from 1 to `k − 1`
/// hidden (`None`): the missing values of a group attribute are the
/// `unknown` group's stops.
pub fn missing_values(
    missing: &BTreeMap<String, u64>,
    k: u64,
    patterns: &[StrataPattern],
) -> BTreeMap<String, Option<u64>> {
    missing
        .iter()
        .map(|(f, &n)| {
            let hidden = k > 0
                && (small(n, k) || group_total_hidden(patterns, f, crate::schema::UNKNOWN_GROUP));
            (f.clone(), (!hidden).then_some(n))
        })
        .collect()
}

/// Data-quality counts of stops that are small (a field's missing values
/// among the analysed stops or among those it applies to, which for a
/// group attribute are the `unknown` group's stops; stops at a round time;
/// duplicate rows) are hidden with the share made from them; the status
/// stays (it says whether the share passed its threshold, not the count).
fn data_quality(
    dq: &mut crate::analysis::quality::DataQuality,
    k: u64,
    patterns: &[StrataPattern],
) {
    for d in &mut dq.diagnostics {
        // A group attribute's missing values are its `unknown` group.
        let unknown_hidden = d.check == "coverage"
            && group_total_hidden(patterns, &d.subject, crate::schema::UNKNOWN_GROUP);
        if unknown_hidden {
            d.count = None;
            d.value = None;
        }
        if matches!(
            d.check,
            "coverage" | "conditional_coverage" | "heaping" | "duplicates"
        ) && d.count.is_some_and(|n| small(n, k))
        {
            d.count = None;
            d.value = None;
        }
    }
}

/// The base the count tables' cells are rounded to.
pub const ROUNDING_BASE: u64 = 5;

/// The count tables (every group × justification × outcome, per unit too)
/// are rounded, not suppressed: each cell to a multiple of
/// [`ROUNDING_BASE`] by unbiased random rounding (up with probability
/// `(n mod 5) / 5`, so a cell's expected published value is its count),
/// the direction drawn from a keyed hash of the cell's labels, so the same
/// cell rounds the same way wherever it appears. The key is the run's
/// pseudonymisation key when there is one (then the same cell with the
/// same count rounds the same way in every run), else a hash of the exact
/// tables themselves (secret as long as the hidden counts are). A cell
/// rounded to 0 is left out, like a cell with no stops: a missing row may
/// be 0 to 4 stops. Statistical offices publish detailed tables this way
/// (CBS rounds to 5); suppression across five linked dimensions would hide
/// most of the table (docs/methods.md, "Small cells").
fn count_tables(tables: &mut CountTables, key: Option<&PseudonymKey>) {
    let secret: Vec<u8> = match key {
        Some(key) => key.mac(b"stopaudit count-table rounding").to_vec(),
        None => {
            let mut h = Sha256::new();
            for r in tables
                .by_group_justification_outcome
                .iter()
                .chain(&tables.by_unit)
            {
                for part in [
                    r.unit.as_deref().unwrap_or(""),
                    &r.attribute,
                    &r.group,
                    &r.justification,
                    &r.outcome,
                ] {
                    h.update(part.as_bytes());
                    h.update([0x1f]);
                }
                h.update(r.stops.to_le_bytes());
            }
            h.finalize().to_vec()
        }
    };
    for (name, rows) in [
        (
            "by_group_justification_outcome",
            &mut tables.by_group_justification_outcome,
        ),
        ("by_unit", &mut tables.by_unit),
    ] {
        for r in rows.iter_mut() {
            let mut mac =
                Hmac::<Sha256>::new_from_slice(&secret).expect("HMAC takes keys of any length");
            for part in [
                name,
                r.unit.as_deref().unwrap_or(""),
                &r.attribute,
                &r.group,
                &r.justification,
                &r.outcome,
            ] {
                mac.update(part.as_bytes());
                mac.update(&[0x1f]);
            }
            let bytes: [u8; 32] = mac.finalize().into_bytes().into();
            let u = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
            r.stops = random_round(r.stops, ROUNDING_BASE, u);
        }
        rows.retain(|r| r.stops > 0);
    }
    tables.rounded_to = Some(ROUNDING_BASE);
}

/// `n` rounded to a multiple of `base`: up when `u mod base` is below
/// `n mod base` (for a uniform `u`, up with probability `(n mod base) / base`).
fn random_round(n: u64, base: u64, u: u64) -> u64 {
    let low = n / base * base;
    if u % base < n - low { low + base } else { low }
}

/// Small cells: an entity with fewer than `k` stops is left out entirely
/// (and counted); a row whose observed count is from 1 to `k − 1` keeps
/// only its labels (the expected count, ratio and p-value would give it away).
fn internal_benchmark(b: &mut InternalBenchmark, k: u64) {
    let mut too_small: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    b.results.retain(|r| {
        let keep = r.stops.is_some_and(|n| n >= k);
        if !keep {
            too_small
                .entry(r.entity_kind.clone())
                .or_default()
                .insert(r.entity.clone());
        }
        keep
    });
    b.entities_too_small = too_small
        .into_iter()
        .map(|(kind, set)| (kind, set.len() as u64))
        .collect();
    for r in &mut b.results {
        if r.observed.is_some_and(|o| o > 0 && o < k) {
            r.observed = None;
            r.expected = None;
            r.ratio = None;
            r.ratio_ci = None;
            r.p_value = None;
            r.p_adverse = None;
            r.q_value = None;
            r.suppressed = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_small_threshold_cell_cannot_be_recovered_from_the_group_total() {
        use crate::analysis::threshold::{ThresholdCell, ThresholdTestResult};
        use crate::threshold_test::GroupFit;
        let cell = |location: &str, group: &str, stops| ThresholdCell {
            location: location.into(),
            group: group.into(),
            stops: Some(stops),
            searches: Some(stops / 5),
            hits: Some(stops / 20),
            suppressed: false,
            threshold: 0.1,
            threshold_ci: [0.05, 0.15],
        };
        let group = |name: &str, stops| GroupFit {
            group: name.into(),
            is_reference: name == "a",
            stops: Some(stops),
            threshold: 0.1,
            threshold_ci: [0.05, 0.15],
            difference_from_reference: None,
            difference_ci: None,
            probability_lower: None,
        };
        let mut results = vec![ThresholdTestResult {
            attribute: "nationality".into(),
            location_field: "unit".into(),
            reference: "a".into(),
            skipped: None,
            stops_left_out: 0,
            cells: vec![
                cell("x", "a", 400),
                cell("y", "a", 500),
                cell("z", "a", 600),
                cell("x", "b", 300),
                cell("y", "b", 3),
                cell("z", "b", 200),
            ],
            groups: vec![group("a", 1500), group("b", 503)],
            diagnostics: None,
        }];
        threshold_test(&mut results, 10, &|_, _| false);
        let cells = &results[0].cells;
        // Group b's total is published: its small cell takes another with it.
        let hidden_b = cells
            .iter()
            .filter(|c| c.group == "b" && c.stops.is_none())
            .count();
        assert!(hidden_b >= 2, "{cells:?}");
        assert!(cells.iter().all(
            |c| c.suppressed == (c.stops.is_none() || c.searches.is_none() || c.hits.is_none())
        ));
        assert_eq!(results[0].groups[1].stops, Some(503));
        assert!(cells.iter().all(|c| c.threshold == 0.1));
    }

    #[test]
    fn a_single_small_cell_takes_three_others_with_it() {
        let t = vec![vec![50, 3, 40], vec![60, 70, 80], vec![90, 20, 30]];
        let h = table(&t, 10);
        let n: usize = h.iter().flatten().filter(|x| **x).count();
        assert!(h[0][1]);
        assert_eq!(n, 4, "{h:?}");
        assert!(crate::stats::suppression::first_bridge(&h).is_none());
    }

    #[test]
    fn a_small_veil_count_hides_all_four_counts_and_the_shares() {
        use crate::analysis::veil::{ClockChangeVariant, LightCounts, VeilResult};
        let stops = |n: [u64; 4]| {
            Some(DarkStops {
                group_daylight: n[0],
                group_dark: n[1],
                ref_daylight: n[2],
                ref_dark: n[3],
            })
        };
        let result = |main: [u64; 4], clock: [u64; 4]| VeilResult {
            attribute: "nationality".into(),
            group: "A".into(),
            reference: "B".into(),
            stops: stops(main),
            share_daylight: Some(0.1),
            share_daylight_ci: Some([0.05, 0.15]),
            share_dark: Some(0.1),
            share_dark_ci: Some([0.05, 0.15]),
            spline_df: 6,
            fixed_effects: Vec::new(),
            estimate: None,
            q_value: None,
            note: None,
            robustness: Vec::new(),
            clock_change: ClockChangeVariant {
                days: 30,
                stops: stops(clock),
                estimate: None,
                note: None,
                suppressed: false,
            },
            suppressed: false,
        };
        let mut veil = VeilOfDarkness {
            enabled: true,
            stops: LightCounts {
                no_place: Some(3),
                outside_window: Some(500),
                twilight: Some(0),
                daylight: Some(200),
                dark: Some(200),
            },
            results: vec![
                result([40, 3, 300, 310], [20, 0, 100, 90]),
                result([40, 30, 300, 310], [20, 12, 100, 90]),
                result([40, 30, 300, 310], [20, 2, 100, 90]),
            ],
        };
        veil_of_darkness(&mut veil, 10);
        let [small, fine, small_clock] = &veil.results[..] else {
            unreachable!()
        };
        assert!(small.suppressed && small.share_dark.is_none());
        assert!(small.share_daylight_ci.is_none() && small.stops.is_none());
        // Zero is not small: the clock-change counts stay.
        assert!(!small.clock_change.suppressed);
        assert_eq!(small.clock_change.stops.unwrap().group_dark, 0);
        assert!(!fine.suppressed && !fine.clock_change.suppressed);
        assert!(fine.stops.unwrap().group_dark == 30 && fine.share_dark.is_some());
        assert!(!small_clock.suppressed && small_clock.share_dark.is_some());
        assert!(small_clock.clock_change.suppressed);
        assert!(small_clock.clock_change.stops.is_none());
        assert_eq!(veil.stops.no_place, None);
        assert_eq!(veil.stops.twilight, Some(0));
    }

    #[test]
    fn nothing_small_nothing_hidden() {
        let t = vec![vec![50, 30], vec![60, 0]];
        assert!(table(&t, 10).iter().flatten().all(|x| !x));
    }

    #[test]
    fn a_single_row_is_hidden_whole() {
        assert_eq!(table(&[vec![0, 1]], 10), vec![vec![true, true]]);
        assert_eq!(table(&[vec![20, 30]], 10), vec![vec![false, false]]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// No hidden cell can be recovered from row totals, column totals and the cells shown.
        #[test]
        fn hidden_cells_cannot_be_recovered(t in prop::collection::vec(prop::collection::vec(0u64..40, 2..6), 2..6)) {
            let cols = t[0].len();
            let t: Vec<Vec<u64>> = t.into_iter().map(|mut r| { r.resize(cols, 0); r }).collect();
            let h = table(&t, 10);
            // Primary cells are hidden.
            for (row, hr) in t.iter().zip(&h) {
                for (&v, &x) in row.iter().zip(hr) {
                    if v > 0 && v < 10 { prop_assert!(x); }
                }
            }
            prop_assert!(crate::stats::suppression::first_bridge(&h).is_none(), "{:?} -> {:?}", t, h);
        }
    }
}
