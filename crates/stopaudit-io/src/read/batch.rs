//! Raw batches, column-wise: what every source yields.
//!
//! Stop data has few distinct values per column (codes, units, groups), so
//! columns are kept dictionary-coded wherever they are: each distinct value
//! is validated once per batch instead of once per row. Parquet and IPC
//! categorical columns arrive coded; text columns are coded on the way in
//! unless they turn out to be nearly unique (stop ids, timestamps), which
//! stay as plain text in one buffer.

use std::borrow::Cow;

use chrono::{NaiveDate, NaiveDateTime};
use foldhash::HashMap;

/// One raw cell value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Null,
    Text(String),
    Bool(bool),
    Int(i64),
    Float(f64),
    /// A wall-clock date-time without zone.
    Local(NaiveDateTime),
    /// An instant, ms since the epoch.
    Instant(i64),
    Date(NaiveDate),
}

impl Cell {
    /// The value as text, as it would appear in the file (for values, messages and quarantine).
    pub fn display(&self) -> Cow<'_, str> {
        match self {
            Cell::Null => Cow::Borrowed(""),
            Cell::Text(s) => Cow::Borrowed(s),
            Cell::Bool(b) => Cow::Owned(b.to_string()),
            Cell::Int(i) => Cow::Owned(i.to_string()),
            Cell::Float(f) => Cow::Owned(f.to_string()),
            Cell::Local(dt) => Cow::Owned(dt.format("%Y-%m-%d %H:%M:%S").to_string()),
            Cell::Instant(ms) => Cow::Owned(
                chrono::DateTime::from_timestamp_millis(*ms)
                    .map(|d| d.to_rfc3339())
                    .unwrap_or_else(|| ms.to_string()),
            ),
            Cell::Date(d) => Cow::Owned(d.to_string()),
        }
    }

    /// True for a missing value: null, or text that is empty after trimming.
    pub(crate) fn is_missing(&self) -> bool {
        match self {
            Cell::Null => true,
            Cell::Text(s) => s.trim().is_empty(),
            Cell::Float(f) => f.is_nan(),
            _ => false,
        }
    }
}

/// A row that could not be split into the header's columns.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MalformedRow {
    pub row: u64,
    pub message: String,
    /// The raw text of the line (possibly truncated).
    pub raw: String,
}

/// A batch of rows, in file order.
#[derive(Debug, Default)]
pub(crate) struct RawBatch {
    /// Row numbers of `rows` (see [`crate::quarantine::QuarantineRecord::row`]).
    pub row_numbers: Vec<u64>,
    /// Cells per row, aligned with the source's columns.
    pub rows: Vec<Vec<Cell>>,
    pub malformed: Vec<MalformedRow>,
}

impl RawBatch {
    /// Rows in this batch, well-formed and malformed.
    pub fn len(&self) -> usize {
        self.rows.len() + self.malformed.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Distinct values in a batch above which a text column is not worth coding
/// (and the fraction of rows they must stay below).
const MAX_CODED_VALUES: usize = 4096;

/// One column of a batch.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum RawColumn {
    /// Row `i` holds `values[codes[i]]`.
    Coded { values: Vec<Cell>, codes: Vec<u32> },
    /// One value per row.
    Plain(Vec<Cell>),
    /// Text, one string per row; empty or blank means missing.
    Text(TextColumn),
    /// Numbers, one per row; NaN means missing.
    Floats(Vec<f64>),
    /// Instants (ms since the epoch), one per row.
    Instants(Vec<Option<i64>>),
}

/// Strings of a column in one buffer.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TextColumn {
    bytes: String,
    ends: Vec<u32>,
}

impl TextColumn {
    pub fn with_capacity(rows: usize, bytes: usize) -> Self {
        TextColumn {
            bytes: String::with_capacity(bytes),
            ends: Vec::with_capacity(rows),
        }
    }

    pub fn push(&mut self, value: &str) {
        self.bytes.push_str(value);
        self.ends
            .push(u32::try_from(self.bytes.len()).expect("a batch holds less than 4 GiB of text"));
    }

    /// Removes the last value.
    pub fn pop(&mut self) {
        self.ends.pop();
        let end = self.ends.last().copied().unwrap_or(0) as usize;
        self.bytes.truncate(end);
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// The text of row `i` (empty when missing).
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.bytes[start..self.ends[i] as usize]
    }
}

impl RawColumn {
    pub fn len(&self) -> usize {
        match self {
            RawColumn::Coded { codes, .. } => codes.len(),
            RawColumn::Plain(cells) => cells.len(),
            RawColumn::Text(t) => t.len(),
            RawColumn::Floats(v) => v.len(),
            RawColumn::Instants(v) => v.len(),
        }
    }

    /// The value of row `i`, owned (for messages and quarantine records).
    pub fn cell(&self, i: usize) -> Cell {
        self.with_cell(i, Cell::clone)
    }

    /// Runs `f` on the value of row `i` (borrowed where it is stored as a
    /// cell, made on the stack where it is not).
    #[inline]
    pub(crate) fn with_cell<T>(&self, i: usize, f: impl FnOnce(&Cell) -> T) -> T {
        match self {
            RawColumn::Coded { values, codes } => f(&values[codes[i] as usize]),
            RawColumn::Plain(cells) => f(&cells[i]),
            RawColumn::Text(t) => f(&text_cell(t.get(i))),
            RawColumn::Floats(v) if v[i].is_nan() => f(&Cell::Null),
            RawColumn::Floats(v) => f(&Cell::Float(v[i])),
            RawColumn::Instants(v) => f(&v[i].map_or(Cell::Null, Cell::Instant)),
        }
    }

    /// Codes text values, or keeps them as one text buffer when nearly all
    /// are distinct. `None` is a null.
    pub(crate) fn from_texts<'a, I: Iterator<Item = Option<&'a str>>>(
        rows: usize,
        values: impl Fn() -> I,
    ) -> Self {
        match code_texts(rows, values()) {
            Some((values, codes)) => RawColumn::Coded { values, codes },
            None => Self::texts(rows, values),
        }
    }

    /// Text values kept as text, one buffer (for columns known to be nearly unique).
    pub fn texts<'a, I: Iterator<Item = Option<&'a str>>>(
        rows: usize,
        values: impl Fn() -> I,
    ) -> Self {
        let bytes: usize = values().map(|v| v.map_or(0, str::len)).sum();
        let mut text = TextColumn::with_capacity(rows, bytes);
        for v in values() {
            text.push(v.unwrap_or(""));
        }
        RawColumn::Text(text)
    }

    /// Codes a text column unless nearly all its values are distinct.
    pub(crate) fn from_text_column(text: TextColumn) -> Self {
        match code_texts(text.len(), (0..text.len()).map(|i| Some(text.get(i)))) {
            Some((values, codes)) => RawColumn::Coded { values, codes },
            None => RawColumn::Text(text),
        }
    }

    /// Yes/no values, coded (null, no, yes).
    pub(crate) fn booleans(values: impl Iterator<Item = Option<bool>>) -> Self {
        RawColumn::Coded {
            values: vec![Cell::Null, Cell::Bool(false), Cell::Bool(true)],
            codes: values.map(|v| v.map_or(0, |b| 1 + u32::from(b))).collect(),
        }
    }

    /// Numbers (null and NaN are missing).
    pub fn floats(values: impl Iterator<Item = Option<f64>>) -> Self {
        RawColumn::Floats(values.map(|v| v.unwrap_or(f64::NAN)).collect())
    }

    /// Whole numbers.
    pub(crate) fn integers(values: impl Iterator<Item = Option<i64>>) -> Self {
        RawColumn::Plain(values.map(|v| v.map_or(Cell::Null, Cell::Int)).collect())
    }

    /// Timestamps in ms since the epoch: instants when `zoned`, else wall-clock times.
    pub(crate) fn timestamps(ms: impl Iterator<Item = Option<i64>>, zoned: bool) -> Self {
        if zoned {
            return RawColumn::Instants(ms.collect());
        }
        RawColumn::Plain(
            ms.map(|v| {
                v.and_then(chrono::DateTime::from_timestamp_millis)
                    .map_or(Cell::Null, |d| Cell::Local(d.naive_utc()))
            })
            .collect(),
        )
    }

    /// Dates as days since 1970-01-01.
    pub fn dates(days: impl Iterator<Item = Option<i64>>) -> Self {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
        RawColumn::Plain(
            days.map(|d| {
                d.and_then(|d| epoch.checked_add_signed(chrono::Duration::days(d)))
                    .map_or(Cell::Null, Cell::Date)
            })
            .collect(),
        )
    }

    /// Codes owned cells whose text repeats (the row-wise sources).
    fn from_cells(cells: Vec<Cell>) -> Self {
        let texts = cells
            .iter()
            .all(|c| matches!(c, Cell::Text(_) | Cell::Null));
        if !texts || cells.is_empty() {
            return RawColumn::Plain(cells);
        }
        let coded = RawColumn::from_texts(cells.len(), || {
            cells.iter().map(|c| match c {
                Cell::Text(s) => Some(s.as_str()),
                _ => None,
            })
        });
        match coded {
            RawColumn::Coded { .. } => coded,
            _ => RawColumn::Plain(cells),
        }
    }
}

/// Distinct values (in order of first appearance) and per-row codes, or
/// `None` when there are too many distinct values to be worth it.
fn code_texts<'a>(
    rows: usize,
    values: impl Iterator<Item = Option<&'a str>>,
) -> Option<(Vec<Cell>, Vec<u32>)> {
    let limit = MAX_CODED_VALUES.max(rows / 8).min(rows / 2 + 1);
    let mut index: HashMap<&str, u32> = HashMap::default();
    let mut distinct: Vec<&str> = Vec::new();
    let mut codes = Vec::with_capacity(rows);
    for v in values {
        let v = v.unwrap_or("");
        let next = distinct.len() as u32;
        let code = *index.entry(v).or_insert_with(|| {
            distinct.push(v);
            next
        });
        if distinct.len() > limit {
            return None;
        }
        codes.push(code);
    }
    Some((distinct.into_iter().map(text_cell).collect(), codes))
}

/// A text value as a cell: blank text is missing.
pub(crate) fn text_cell(s: &str) -> Cell {
    if s.trim().is_empty() {
        Cell::Null
    } else {
        Cell::Text(s.to_string())
    }
}

/// A batch of rows, column by column, in file order.
#[derive(Debug, Default)]
pub(crate) struct ColumnBatch {
    /// Row numbers of the well-formed rows (see [`crate::quarantine::QuarantineRecord::row`]).
    pub row_numbers: Vec<u64>,
    /// One entry per source column; `None` for columns not read.
    pub columns: Vec<Option<RawColumn>>,
    pub malformed: Vec<MalformedRow>,
}

impl ColumnBatch {
    /// Well-formed rows.
    pub fn rows(&self) -> usize {
        self.row_numbers.len()
    }

    /// Rows in this batch, well-formed and malformed.
    pub fn len(&self) -> usize {
        self.rows() + self.malformed.len()
    }

    /// The column with source index `i`, if read.
    pub fn column(&self, i: usize) -> Option<&RawColumn> {
        self.columns.get(i).and_then(Option::as_ref)
    }

    /// The value at source column `c`, row `i` (null for columns not read).
    pub fn cell(&self, c: usize, i: usize) -> Cell {
        self.column(c).map_or(Cell::Null, |col| col.cell(i))
    }

    /// Transposes row-wise cells, coding the text columns.
    pub(crate) fn from_rows(batch: RawBatch, columns: usize) -> Self {
        let n = batch.rows.len();
        let mut by_column: Vec<Vec<Cell>> = (0..columns).map(|_| Vec::with_capacity(n)).collect();
        for row in batch.rows {
            for (c, cell) in row.into_iter().enumerate().take(columns) {
                by_column[c].push(cell);
            }
        }
        for col in &mut by_column {
            col.resize(n, Cell::Null);
        }
        ColumnBatch {
            row_numbers: batch.row_numbers,
            columns: by_column
                .into_iter()
                .map(|cells| Some(RawColumn::from_cells(cells)))
                .collect(),
            malformed: batch.malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_text_is_coded_and_unique_text_kept_as_text() {
        let repeated: Vec<Option<&str>> = (0..10_000)
            .map(|i| [Some("NL"), Some(" "), None, Some("MA")][i % 4])
            .collect();
        let col = RawColumn::from_texts(repeated.len(), || repeated.iter().copied());
        let RawColumn::Coded { values, codes } = &col else {
            panic!("expected coded, got {col:?}")
        };
        assert_eq!(values.len(), 4);
        assert_eq!(codes.len(), 10_000);
        assert_eq!(col.cell(0), Cell::Text("NL".into()));
        assert_eq!(col.cell(1), Cell::Null);
        assert_eq!(col.cell(2), Cell::Null);

        let ids: Vec<String> = (0..10_000).map(|i| format!("id-{i}")).collect();
        let col = RawColumn::from_texts(ids.len(), || ids.iter().map(|s| Some(s.as_str())));
        let RawColumn::Text(t) = &col else {
            panic!("expected text")
        };
        assert_eq!(t.len(), 10_000);
        assert_eq!(col.cell(9_999), Cell::Text("id-9999".into()));
        assert_eq!(t.get(0), "id-0");
    }

    #[test]
    fn rows_transpose_to_columns() {
        let batch = RawBatch {
            row_numbers: vec![2, 3],
            rows: vec![
                vec![Cell::Text("a".into()), Cell::Int(1)],
                vec![Cell::Text("a".into())],
            ],
            malformed: Vec::new(),
        };
        let b = ColumnBatch::from_rows(batch, 2);
        assert_eq!(b.rows(), 2);
        assert_eq!(b.cell(0, 1), Cell::Text("a".into()));
        assert_eq!(b.cell(1, 0), Cell::Int(1));
        assert_eq!(b.cell(1, 1), Cell::Null);
    }
}
