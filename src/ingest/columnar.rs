//! Parquet and Arrow IPC (Feather v2) files, read through polars' lazy scans,
//! a slice at a time and only the columns the mapping needs.
//!
//! Typed columns keep their types: a timezone-aware datetime is an instant,
//! a naive datetime is a wall-clock time, booleans stay booleans; anything
//! else (categoricals, numbers in text fields) is read as text.

use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDate};
use polars::prelude::*;

use super::source::{BATCH_ROWS, Cell, Format, RawBatch, Source};
use crate::error::{Error, Result};

pub struct ColumnarSource {
    path: PathBuf,
    frame: LazyFrame,
    columns: Vec<String>,
    dtypes: Vec<DataType>,
    selected: Vec<usize>,
    total_rows: u64,
    offset: u64,
}

impl ColumnarSource {
    pub fn open(path: &Path, format: Format) -> Result<Self> {
        let pl_path = PlRefPath::try_from_path(path).map_err(|e| Error::engine(path, e))?;
        let frame = match format {
            Format::Parquet => {
                let args = ScanArgsParquet {
                    glob: false,
                    cache: false,
                    ..Default::default()
                };
                LazyFrame::scan_parquet(pl_path, args)
            }
            Format::Ipc => {
                let args = UnifiedScanArgs {
                    glob: false,
                    cache: false,
                    ..Default::default()
                };
                LazyFrame::scan_ipc(pl_path, Default::default(), args)
            }
            _ => unreachable!("columnar formats only"),
        }
        .map_err(|e| Error::input(path, format!("cannot read as {}: {e}", format.as_str())))?;
        let mut frame = frame;
        let schema = frame
            .collect_schema()
            .map_err(|e| Error::input(path, format!("cannot read as {}: {e}", format.as_str())))?;
        let columns: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
        let dtypes: Vec<DataType> = schema.iter_values().cloned().collect();
        let counted =
            frame.clone().select([len()]).collect().map_err(|e| {
                Error::input(path, format!("cannot read as {}: {e}", format.as_str()))
            })?;
        let total_rows = counted
            .columns()
            .first()
            .and_then(|c| c.get(0).ok())
            .and_then(|v| v.extract::<u64>())
            .unwrap_or(0);
        Ok(ColumnarSource {
            path: path.to_path_buf(),
            frame,
            selected: (0..columns.len()).collect(),
            columns,
            dtypes,
            total_rows,
            offset: 0,
        })
    }
}

fn text_cells(values: &StringChunked) -> Vec<Cell> {
    values
        .iter()
        .map(|v| match v {
            Some(s) if !s.trim().is_empty() => Cell::Text(s.to_string()),
            _ => Cell::Null,
        })
        .collect()
}

fn to_cells(col: &Column, dtype: &DataType, n: usize) -> PolarsResult<Vec<Cell>> {
    let series = col.as_materialized_series().rechunk();
    let cells: Vec<Cell> = match dtype {
        DataType::String => text_cells(series.str()?),
        DataType::Boolean => series
            .bool()?
            .iter()
            .map(|v| v.map(Cell::Bool).unwrap_or(Cell::Null))
            .collect(),
        DataType::Float32 | DataType::Float64 => series
            .cast(&DataType::Float64)?
            .f64()?
            .iter()
            .map(|v| v.map(Cell::Float).unwrap_or(Cell::Null))
            .collect(),
        d if d.is_integer() => series
            .cast(&DataType::Int64)?
            .i64()?
            .iter()
            .map(|v| v.map(Cell::Int).unwrap_or(Cell::Null))
            .collect(),
        DataType::Datetime(unit, tz) => {
            let to_ms = |v: i64| match unit {
                TimeUnit::Nanoseconds => v.div_euclid(1_000_000),
                TimeUnit::Microseconds => v.div_euclid(1_000),
                TimeUnit::Milliseconds => v,
            };
            let physical = series.cast(&DataType::Int64)?;
            physical
                .i64()?
                .iter()
                .map(|v| match v {
                    None => Cell::Null,
                    Some(v) if tz.is_some() => Cell::Instant(to_ms(v)),
                    Some(v) => DateTime::from_timestamp_millis(to_ms(v))
                        .map(|d| Cell::Local(d.naive_utc()))
                        .unwrap_or(Cell::Null),
                })
                .collect()
        }
        DataType::Date => {
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
            series
                .cast(&DataType::Int32)?
                .i32()?
                .iter()
                .map(|v| {
                    match v.and_then(|d| epoch.checked_add_signed(chrono::Duration::days(d.into())))
                    {
                        Some(d) => Cell::Date(d),
                        None => Cell::Null,
                    }
                })
                .collect()
        }
        _ => text_cells(series.cast(&DataType::String)?.str()?),
    };
    debug_assert_eq!(cells.len(), n);
    Ok(cells)
}

impl Source for ColumnarSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn project(&mut self, needed: &[usize]) {
        self.selected = needed.to_vec();
    }

    fn next_batch(&mut self) -> Result<Option<RawBatch>> {
        if self.offset >= self.total_rows {
            return Ok(None);
        }
        let take = (self.total_rows - self.offset).min(BATCH_ROWS as u64);
        let names: Vec<Expr> = self
            .selected
            .iter()
            .map(|&i| col(self.columns[i].as_str()))
            .collect();
        let df = self
            .frame
            .clone()
            .select(names)
            .slice(self.offset as i64, take as IdxSize)
            .collect()
            .map_err(|e| Error::engine(&self.path, e))?;
        let n = df.height();
        let mut by_column: Vec<Option<std::vec::IntoIter<Cell>>> = vec![None; 0];
        by_column.resize_with(self.columns.len(), || None);
        for (k, &i) in self.selected.iter().enumerate() {
            let cells = to_cells(&df.columns()[k], &self.dtypes[i], n)
                .map_err(|e| Error::engine(&self.path, e))?;
            by_column[i] = Some(cells.into_iter());
        }
        let mut batch = RawBatch::default();
        for r in 0..n {
            batch.row_numbers.push(self.offset + r as u64 + 1);
            batch.rows.push(
                by_column
                    .iter_mut()
                    .map(|c| c.as_mut().and_then(Iterator::next).unwrap_or(Cell::Null))
                    .collect(),
            );
        }
        self.offset += n as u64;
        if n == 0 {
            self.offset = self.total_rows;
        }
        Ok(if batch.is_empty() { None } else { Some(batch) })
    }

    fn progress(&self) -> u64 {
        self.offset
    }

    fn progress_total(&self) -> u64 {
        self.total_rows
    }

    fn notes(&self) -> Vec<String> {
        Vec::new()
    }
}
