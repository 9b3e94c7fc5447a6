//! Excel workbooks (.xlsx): the first sheet, or the one named in `[input] sheet`.
//! The first non-empty row is the header; row numbers are the sheet's own.

use std::path::Path;

use calamine::{Data, Reader, open_workbook_auto};

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
        let mut book = open_workbook_auto(path)
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
        let range = book
            .worksheet_range(&name)
            .map_err(|e| Error::input(path, format!("cannot read sheet \"{name}\": {e}")))?;
        let first_row = u64::from(range.start().map(|(r, _)| r).unwrap_or(0));
        let mut rows = range.rows().enumerate();
        let header = loop {
            match rows.next() {
                None => {
                    return Err(Error::input(
                        path,
                        format!("sheet \"{name}\" is empty (no header, no rows)"),
                    ));
                }
                Some((_, r)) if r.iter().all(|c| matches!(c, Data::Empty)) => continue,
                Some((_, r)) => break r,
            }
        };
        let (columns, mut notes) = clean_header(header.iter().map(|c| c.to_string()).collect());
        notes.insert(0, format!("read sheet \"{name}\""));
        let mut out = Vec::new();
        let mut blank = 0u64;
        for (i, r) in rows {
            if r.iter().all(|c| matches!(c, Data::Empty)) {
                blank += 1;
                continue;
            }
            let cells = (0..columns.len())
                .map(|j| r.get(j).map(to_cell).unwrap_or(Cell::Null))
                .collect();
            out.push((first_row + i as u64 + 1, cells));
        }
        if blank > 0 {
            notes.push(format!("{blank} empty row(s) skipped (not rows)"));
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
