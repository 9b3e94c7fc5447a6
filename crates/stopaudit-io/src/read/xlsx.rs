//! Excel workbooks (.xlsx): the first sheet, or the one named in `[input] sheet`.
//! The first non-empty row is the header; row numbers are the sheet's own.

use std::path::Path;

use std::collections::BTreeMap;

use calamine::{Data, Reader, Xlsx, open_workbook};

use super::batch::{Cell, ColumnBatch, RawBatch};
use super::source::{BATCH_ROWS, BatchJob, Source, clean_header};
use crate::datetime::from_excel_serial;
use stopaudit_core::error::{Error, Result};

pub(crate) struct XlsxSource {
    columns: Vec<String>,
    rows: std::vec::IntoIter<(u64, Vec<Cell>)>,
    total: u64,
    done_rows: u64,
    notes: Vec<String>,
}

impl XlsxSource {
    pub fn open(path: &Path, sheet: Option<&str>) -> Result<Self> {
        let mut book: Xlsx<_> = open_workbook(path)
            .map_err(|e| Error::input(path, format!("cannot open as an Excel workbook: {e}")))?;
        let names = book.sheet_names();
        let name = match sheet {
            Some(s) => names
                .iter()
                .find(|n| n.as_str() == s)
                .cloned()
                .ok_or_else(|| {
                    Error::input(
                        path,
                        format!("has no sheet \"{s}\"; its sheets are: {}", names.join(", ")),
                    )
                })?,
            None => names
                .first()
                .cloned()
                .ok_or_else(|| Error::input(path, "the workbook has no sheets"))?,
        };
        // The used cells only, row by row: a sheet's range is as large as
        // its farthest cell (one cell at XFD1048576 asked for 24 GB).
        let cannot = |e: calamine::XlsxError| {
            Error::input(path, format!("cannot read sheet \"{name}\": {e}"))
        };
        let mut reader = book.worksheet_cells_reader(&name).map_err(cannot)?;
        let mut rows: BTreeMap<u32, Vec<(u32, Data)>> = BTreeMap::new();
        while let Some(cell) = reader.next_cell().map_err(cannot)? {
            let value = Data::from(cell.get_value().clone());
            if matches!(value, Data::Empty) || matches!(&value, Data::String(s) if s.is_empty()) {
                continue;
            }
            let (r, c) = cell.get_position();
            rows.entry(r).or_default().push((c, value));
        }
        drop(reader);
        let first_col = rows.values().flatten().map(|(c, _)| *c).min().unwrap_or(0);
        let mut rows = rows.into_iter();
        let Some((_, header)) = rows.next() else {
            return Err(Error::input(
                path,
                format!("sheet \"{name}\" is empty (no header, no rows)"),
            ));
        };
        let width = header
            .iter()
            .map(|(c, _)| c + 1 - first_col)
            .max()
            .unwrap_or(0) as usize;
        let mut names_row = vec![String::new(); width];
        for (c, v) in &header {
            names_row[(c - first_col) as usize] = v.to_string();
        }
        let (columns, mut notes) = clean_header(names_row);
        notes.insert(0, format!("read sheet \"{name}\""));
        let (mut out, mut outside, mut blank) = (Vec::new(), 0u64, 0u64);
        for (r, cells) in rows {
            let mut row = vec![Cell::Null; width];
            let mut any = false;
            for (c, v) in cells {
                match row.get_mut((c - first_col) as usize) {
                    Some(slot) => {
                        *slot = to_cell(&v);
                        any |= !matches!(slot, Cell::Null);
                    }
                    None => outside += 1,
                }
            }
            if any {
                out.push((u64::from(r) + 1, row));
            } else {
                blank += 1;
            }
        }
        if blank > 0 {
            notes.push(format!(
                "{blank} row(s) without a value under the header skipped (not rows)"
            ));
        }
        if outside > 0 {
            notes.push(format!(
                "{outside} cell(s) right of the header's last column ignored"
            ));
        }
        Ok(XlsxSource {
            columns,
            total: out.len() as u64,
            rows: out.into_iter(),
            done_rows: 0,
            notes,
        })
    }
}

fn to_cell(d: &Data) -> Cell {
    match d {
        Data::Empty => Cell::Null,
        Data::String(s) if s.trim().is_empty() => Cell::Null,
        Data::String(s) => Cell::Text(s.clone()),
        Data::Int(i) => Cell::Int(*i),
        Data::Float(f) => Cell::Float(*f),
        Data::Bool(b) => Cell::Bool(*b),
        Data::DateTime(dt) if dt.is_datetime() => match from_excel_serial(dt.as_f64()) {
            Some(local) => Cell::Local(local),
            None => Cell::Text(dt.as_f64().to_string()),
        },
        Data::DateTime(dt) => Cell::Float(dt.as_f64()),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Cell::Text(s.clone()),
        Data::Error(e) => Cell::Text(format!("#{e:?}")),
    }
}

impl Source for XlsxSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_batch(&mut self) -> Result<Option<BatchJob>> {
        let mut batch = RawBatch::default();
        for (row, cells) in self.rows.by_ref().take(BATCH_ROWS) {
            batch.row_numbers.push(row);
            batch.rows.push(cells);
        }
        self.done_rows += batch.len() as u64;
        Ok(if batch.is_empty() {
            None
        } else {
            let width = self.columns.len();
            Some(Box::new(move || Ok(ColumnBatch::from_rows(batch, width))) as BatchJob)
        })
    }

    fn progress(&self) -> u64 {
        self.done_rows
    }

    fn progress_total(&self) -> u64 {
        self.total
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}
