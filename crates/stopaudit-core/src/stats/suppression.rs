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
    complete(values, primary)
}

/// Complementary suppression from a given set of hidden cells: while some
/// hidden cell is a bridge, hide the cheapest rectangle through it (the
/// three other corners, counting cells already hidden as free), which puts
/// it on a cycle. A table with a single row or column cannot be protected
/// this way and is hidden whole when anything in it is.
pub(crate) fn complete(values: &[Vec<u64>], mut hidden: Vec<Vec<bool>>) -> Vec<Vec<bool>> {
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
        let cost = |i: usize, j: usize| if hidden[i][j] { 0 } else { values[i][j] + 1 };
        let best = (0..rows)
            .filter(|&r2| r2 != r)
            .flat_map(|r2| (0..cols).filter(move |&c2| c2 != c).map(move |c2| (r2, c2)))
            .min_by_key(|&(r2, c2)| (cost(r, c2) + cost(r2, c) + cost(r2, c2), r2, c2))
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
