//! Small-cell suppression of one table (docs/methods.md, "Small cells"):
//! primary suppression of counts from 1 to `k − 1`, then complementary
//! suppression until no hidden cell can be recovered from the row and
//! column totals. With the cells as edges of a bipartite graph (rows and
//! columns as vertices), a hidden cell is recoverable exactly when its edge
//! is a bridge of the graph of hidden cells, i.e. lies on no cycle; the
//! cheapest rectangle through each such cell is hidden until none is left.
//! Used by the disclosure step for every published table, and by the
//! stratified comparison, which pools only the strata that the outcome
//! test's published rows show.

/// Whether a count is small: from 1 to `k − 1`.
pub(crate) fn small(x: u64, k: u64) -> bool {
    x > 0 && x < k
}

/// Which cells of a table must be hidden: primary suppression, then
/// complementary suppression until no hidden cell can be recovered from the
/// row and column totals.
pub(crate) fn table(values: &[Vec<u64>], k: u64) -> Vec<Vec<bool>> {
    let primary = values
        .iter()
        .map(|r| r.iter().map(|&v| small(v, k)).collect())
        .collect();
    complete_lines(values, &[values], primary, |_, v| cell_cost(v), k)
}

/// [`table`] with more cells hidden from the start (`extra`): cells whose
/// value another table's hidden total would give back.
pub(crate) fn table_with(values: &[Vec<u64>], extra: Vec<Vec<bool>>, k: u64) -> Vec<Vec<bool>> {
    let primary = values
        .iter()
        .zip(extra)
        .map(|(r, e)| r.iter().zip(e).map(|(&v, x)| x || small(v, k)).collect())
        .collect();
    complete_lines(values, &[values], primary, |_, v| cell_cost(v), k)
}

/// [`complete_with_cost`], and then, while the hidden cells of some row or
/// column add up to a small count in one of `parts` (the hidden cells of a
/// line are known together: their sum is the line's total less the cells
/// shown), the cheapest visible cell of that line with stops is hidden too,
/// and the table completed again. So a hidden cell is never one of a few
/// hidden stops whose total is known.
pub(crate) fn complete_lines(
    values: &[Vec<u64>],
    parts: &[&[Vec<u64>]],
    mut hidden: Vec<Vec<bool>>,
    cost_of: impl Fn(usize, u64) -> u64 + Copy,
    k: u64,
) -> Vec<Vec<bool>> {
    let rows = values.len();
    let cols = values.first().map_or(0, Vec::len);
    loop {
        hidden = complete_with_cost(values, hidden, cost_of);
        let mut lines: Vec<Vec<(usize, usize)>> = (0..rows)
            .map(|r| (0..cols).map(|c| (r, c)).collect())
            .collect();
        lines.extend((0..cols).map(|c| (0..rows).map(|r| (r, c)).collect()));
        let add = lines.iter().find_map(|line| {
            let small_sum = parts.iter().any(|part| {
                small(
                    line.iter()
                        .filter(|&&(r, c)| hidden[r][c])
                        .map(|&(r, c)| part[r][c])
                        .sum(),
                    k,
                )
            });
            if !small_sum {
                return None;
            }
            line.iter()
                .filter(|&&(r, c)| !hidden[r][c] && values[r][c] > 0)
                .min_by_key(|&&(r, c)| (cost_of(r, values[r][c]), r, c))
                .copied()
        });
        match add {
            Some((r, c)) => hidden[r][c] = true,
            None => return hidden,
        }
    }
}

/// What hiding a cell of value `v` costs: its value, and a zero far more
/// than any count (a hidden zero protects nothing from below: a cell known
/// to be at least 0 cannot move down, so it is a partner of last resort).
pub(crate) fn cell_cost(v: u64) -> u64 {
    if v == 0 { 1 << 40 } else { v + 1 }
}

/// Complementary suppression from a given set of hidden cells: while some
/// hidden cell is a bridge, hide the cheapest rectangle through it (the
/// three other corners, counting cells already hidden as free), which puts
/// it on a cycle; the cost of hiding a cell is `cost(row, value)`
/// (e.g. far higher in the reference group's row, whose hidden cell would
/// take every comparison in its column with it).
pub(crate) fn complete_with_cost(
    values: &[Vec<u64>],
    mut hidden: Vec<Vec<bool>>,
    cost_of: impl Fn(usize, u64) -> u64 + Copy,
) -> Vec<Vec<bool>> {
    let rows = values.len();
    let cols = values.first().map_or(0, Vec::len);
    if rows == 0 || cols == 0 {
        return hidden;
    }
    if rows == 1 || cols == 1 {
        if hidden.iter().flatten().any(|h| *h) {
            return vec![vec![true; cols]; rows];
        }
        return hidden;
    }
    while let Some((r, c)) = first_bridge(&hidden) {
        let cost = |i: usize, j: usize| {
            if hidden[i][j] {
                0
            } else {
                cost_of(i, values[i][j])
            }
        };
        let best = (0..rows)
            .filter(|&r2| r2 != r)
            .flat_map(|r2| (0..cols).filter(move |&c2| c2 != c).map(move |c2| (r2, c2)))
            .min_by_key(|&(r2, c2)| {
                (
                    cost(r, c2)
                        .saturating_add(cost(r2, c))
                        .saturating_add(cost(r2, c2)),
                    r2,
                    c2,
                )
            })
            .expect("at least two rows and columns");
        let (r2, c2) = best;
        hidden[r][c2] = true;
        hidden[r2][c] = true;
        hidden[r2][c2] = true;
    }
    hidden
}

/// The first hidden cell (row-major) whose edge is a bridge of the graph of hidden cells.
pub(crate) fn first_bridge(hidden: &[Vec<bool>]) -> Option<(usize, usize)> {
    let rows = hidden.len();
    let cols = hidden.first().map_or(0, Vec::len);
    for r in 0..rows {
        for c in 0..cols {
            if hidden[r][c] && !connected_without(hidden, r, c) {
                return Some((r, c));
            }
        }
    }
    None
}

/// Whether row `r` and column `c` are connected through hidden cells other than (r, c).
fn connected_without(hidden: &[Vec<bool>], r: usize, c: usize) -> bool {
    let rows = hidden.len();
    let cols = hidden[0].len();
    // Vertices: rows 0..rows, columns rows..rows+cols.
    let mut seen = vec![false; rows + cols];
    let mut stack = vec![r];
    seen[r] = true;
    while let Some(v) = stack.pop() {
        if v == rows + c {
            return true;
        }
        let next: Vec<usize> = if v < rows {
            (0..cols)
                .filter(|&j| hidden[v][j] && !(v == r && j == c))
                .map(|j| rows + j)
                .collect()
        } else {
            let j = v - rows;
            (0..rows)
                .filter(|&i| hidden[i][j] && !(i == r && j == c))
                .collect()
        };
        for w in next {
            if !seen[w] {
                seen[w] = true;
                stack.push(w);
            }
        }
    }
    false
}

/// A cost that keeps the reference group's cells out of complementary
/// suppression unless nothing else will do.
const REFERENCE_COST: u64 = 1 << 50;

/// The hidden pattern of one attribute's comparisons by stratum (the rule
/// docs/methods.md, "Small cells", states): `overall[g]` is each group's
/// hits and non-hits over all its stops, `strata[g][s]` the same within
/// stratum `s`, `reference` the reference group's row. Every group's
/// totals and every stratum's totals over all groups are treated as known
/// (the same stops are published through every attribute), so each table is
/// protected with both margins known:
/// - `overall[g]`: a group whose hits or non-hits are small, and the
///   complementary groups (groups × {hits, non-hits});
/// - `stops[g][s]`: a stratum's stops that are small, with complements
///   (groups × strata of stops);
/// - `pairs[g][s]`: a stratum's hits and non-hits, hidden when either is
///   small, when its stops are hidden, or when the group's overall row is
///   (the strata would add up to it), with complements (groups × strata).
///
/// The reference group's cells are complements of last resort. The
/// outcome test's rows and the stratified comparison (which pools only the
/// strata left visible) use the same pattern.
#[derive(Debug, Clone)]
pub(crate) struct StrataGrid {
    /// Per group: its stops in all are hidden ([`totals`]).
    pub total: Vec<bool>,
    /// Per group: its overall hits and non-hits are hidden.
    pub overall: Vec<bool>,
    /// Per group and stratum: its stops are hidden.
    pub stops: Vec<Vec<bool>>,
    /// Per group and stratum: its hits (and non-hits) are hidden.
    pub pairs: Vec<Vec<bool>>,
}

/// Which groups' total stops must be hidden: every group's stops add up to
/// the run's total (published), so a small total takes others with it
/// until at least two are hidden and together not small (the cheapest
/// first, the reference last).
pub(crate) fn totals(stops: &[u64], reference: Option<usize>, k: u64) -> Vec<bool> {
    let mut hidden: Vec<bool> = stops.iter().map(|&n| small(n, k)).collect();
    loop {
        let count = hidden.iter().filter(|h| **h).count();
        let sum: u64 = (0..stops.len())
            .filter(|&g| hidden[g])
            .map(|g| stops[g])
            .sum();
        if count == 0 || (count >= 2 && !small(sum, k)) {
            return hidden;
        }
        let next = (0..stops.len())
            .filter(|&g| !hidden[g] && stops[g] > 0)
            .min_by_key(|&g| (Some(g) == reference, stops[g], g));
        match next {
            Some(g) => hidden[g] = true,
            None => return hidden,
        }
    }
}

/// See [`StrataGrid`].
pub(crate) fn strata_grid(
    overall: &[[u64; 2]],
    strata: &[Vec<[u64; 2]>],
    reference: Option<usize>,
    k: u64,
) -> StrataGrid {
    let cost = |g: usize, v: u64| {
        if Some(g) == reference {
            cell_cost(v).saturating_add(REFERENCE_COST)
        } else {
            cell_cost(v)
        }
    };
    let total = totals(
        &overall.iter().map(|p| p[0] + p[1]).collect::<Vec<u64>>(),
        reference,
        k,
    );
    let values: Vec<Vec<u64>> = overall.iter().map(|p| p.to_vec()).collect();
    let primary = overall
        .iter()
        .zip(&total)
        .map(|(p, &t)| {
            let h = t || p.iter().any(|&n| small(n, k));
            vec![h, h]
        })
        .collect();
    let overall_hidden: Vec<bool> = complete_lines(&values, &[&values], primary, cost, k)
        .into_iter()
        .map(|r| r.iter().any(|h| *h))
        .collect();
    let stops: Vec<Vec<u64>> = strata
        .iter()
        .map(|r| r.iter().map(|p| p[0] + p[1]).collect())
        .collect();
    // A group whose total is hidden has every stratum's stops hidden (they
    // would add up to it).
    let primary = stops
        .iter()
        .zip(&total)
        .map(|(r, &t)| r.iter().map(|&n| small(n, k) || (t && n > 0)).collect())
        .collect();
    let stops_hidden = complete_lines(&stops, &[&stops], primary, cost, k);
    let primary = strata
        .iter()
        .enumerate()
        .map(|(g, r)| {
            r.iter()
                .enumerate()
                .map(|(s, p)| {
                    let any = p[0] + p[1] > 0;
                    stops_hidden[g][s]
                        || p.iter().any(|&n| small(n, k))
                        || (overall_hidden[g] && any)
                })
                .collect()
        })
        .collect();
    let part = |i: usize| -> Vec<Vec<u64>> {
        strata
            .iter()
            .map(|r| r.iter().map(|p| p[i]).collect())
            .collect()
    };
    let (hits, non_hits) = (part(0), part(1));
    let pairs = complete_lines(&stops, &[&hits, &non_hits], primary, cost, k);
    StrataGrid {
        total,
        overall: overall_hidden,
        stops: stops_hidden,
        pairs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_stratum_is_protected_across_groups_not_only_within_its_own() {
        // Group 0 has 3 hits in stratum 1; every group's and every stratum's
        // totals are known, so another group's stratum-1 cell goes too.
        let overall = [[500, 500], [400, 400], [300, 300]];
        let strata = vec![
            vec![[200, 200], [3, 100], [297, 200]],
            vec![[150, 150], [100, 100], [150, 150]],
            vec![[100, 100], [100, 100], [100, 100]],
        ];
        let g = strata_grid(&overall, &strata, Some(2), 10);
        assert!(g.overall.iter().all(|h| !h));
        assert!(g.pairs[0][1]);
        assert!(g.stops.iter().flatten().all(|h| !h));
        let in_column_1 = (0..3).filter(|&r| g.pairs[r][1]).count();
        assert!(in_column_1 >= 2, "{:?}", g.pairs);
        // The reference (row 2) is left alone while another row can serve.
        assert!(g.pairs[2].iter().all(|h| !h), "{:?}", g.pairs);
        assert!(first_bridge(&g.pairs).is_none());
    }

    #[test]
    fn small_stops_are_hidden_with_their_complements_and_a_hidden_overall_hides_its_strata() {
        let overall = [[5, 500], [400, 400], [300, 300]];
        let strata = vec![
            vec![[2, 200], [3, 2], [0, 298]],
            vec![[150, 150], [100, 100], [150, 150]],
            vec![[100, 100], [100, 100], [100, 100]],
        ];
        let g = strata_grid(&overall, &strata, Some(2), 10);
        assert!(g.overall[0] && g.overall[1] && !g.overall[2]);
        assert!(g.stops[0][1]);
        assert!(first_bridge(&g.stops).is_none());
        assert!(g.pairs[0].iter().all(|h| *h));
        assert!(first_bridge(&g.pairs).is_none());
    }

    #[test]
    fn zero_cells_are_partners_of_last_resort() {
        let t = vec![vec![3, 0, 50], vec![0, 40, 60]];
        let h = table(&t, 10);
        assert!(h[0][0] && h[0][2] && h[1][0] && h[1][2], "{h:?}");
        assert!(!h[0][1] && !h[1][1]);
    }
}
