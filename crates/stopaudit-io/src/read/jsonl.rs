//! JSON Lines: one JSON object per line.
//!
//! The columns are the keys of the first object; later objects are matched by
//! key (a missing key is an empty value, extra keys are noted). A line that is
//! not a JSON object is a malformed row.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::batch::{Cell, ColumnBatch, MalformedRow, RawBatch};
use super::source::{BATCH_ROWS, BatchJob, Source, clean_header};
use stopaudit_core::error::{Error, Result};

pub(crate) struct JsonlSource {
    path: PathBuf,
    reader: BufReader<File>,
    columns: Vec<String>,
    /// The first object, returned with the first batch.
    pending: Option<(u64, Map<String, Value>)>,
    line: u64,
    position: u64,
    total_bytes: u64,
    extra_keys: BTreeSet<String>,
    done: bool,
}

impl JsonlSource {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let total_bytes = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut src = JsonlSource {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, file),
            columns: Vec::new(),
            pending: None,
            line: 0,
            position: 0,
            total_bytes,
            extra_keys: BTreeSet::new(),
            done: false,
        };
        // The first non-blank line must be an object: it defines the columns.
        loop {
            let Some(line) = src.read_line()? else {
                return Err(Error::input(path, "the file has no JSON objects"));
            };
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Value>(line.trim_start_matches('\u{feff}')) {
                Ok(Value::Object(map)) => {
                    let (columns, _) = clean_header(map.keys().cloned().collect());
                    src.columns = columns;
                    src.pending = Some((src.line, map));
                    break;
                }
                _ => {
                    return Err(Error::input(
                        path,
                        format!(
                            "line {}: not a JSON object; a .jsonl file holds one object per line",
                            src.line
                        ),
                    ));
                }
            }
        }
        Ok(src)
    }

    fn read_line(&mut self) -> Result<Option<String>> {
        let mut buf = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(&self.path, e))?;
        if n == 0 {
            return Ok(None);
        }
        self.line += 1;
        self.position += n as u64;
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        Ok(Some(String::from_utf8(buf).unwrap_or_else(|e| {
            // Keep the line; parsing will fail and quarantine it.
            format!("\u{0}{}", String::from_utf8_lossy(e.as_bytes()))
        })))
    }

    fn row(&mut self, map: Map<String, Value>) -> Vec<Cell> {
        for key in map.keys() {
            if !self.columns.contains(key) && self.extra_keys.len() < 20 {
                self.extra_keys.insert(key.clone());
            }
        }
        self.columns
            .iter()
            .map(|c| match map.get(c) {
                None | Some(Value::Null) => Cell::Null,
                Some(Value::String(s)) if s.trim().is_empty() => Cell::Null,
                Some(Value::String(s)) => Cell::Text(s.clone()),
                Some(Value::Bool(b)) => Cell::Bool(*b),
                Some(Value::Number(n)) => match n.as_i64() {
                    Some(i) => Cell::Int(i),
                    None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                Some(other) => Cell::Text(other.to_string()),
            })
            .collect()
    }
}

impl Source for JsonlSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn next_batch(&mut self) -> Result<Option<BatchJob>> {
        if self.done {
            return Ok(None);
        }
        let mut batch = RawBatch::default();
        if let Some((line, map)) = self.pending.take() {
            let cells = self.row(map);
            batch.row_numbers.push(line);
            batch.rows.push(cells);
        }
        while batch.len() < BATCH_ROWS {
            let Some(text) = self.read_line()? else {
                self.done = true;
                break;
            };
            if text.trim().is_empty() {
                continue;
            }
            let line = self.line;
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) => {
                    let cells = self.row(map);
                    batch.row_numbers.push(line);
                    batch.rows.push(cells);
                }
                Ok(_) => batch.malformed.push(MalformedRow {
                    row: line,
                    message: format!("line {line} is JSON but not an object"),
                    raw: text.chars().take(500).collect(),
                }),
                Err(e) => batch.malformed.push(MalformedRow {
                    row: line,
                    message: if text.starts_with('\u{0}') {
                        format!("line {line} is not valid UTF-8")
                    } else {
                        format!("line {line} is not valid JSON: {e}")
                    },
                    raw: text.trim_start_matches('\u{0}').chars().take(500).collect(),
                }),
            }
        }
        Ok(if batch.is_empty() {
            None
        } else {
            let width = self.columns.len();
            Some(Box::new(move || Ok(ColumnBatch::from_rows(batch, width))) as BatchJob)
        })
    }

    fn progress(&self) -> u64 {
        self.position
    }

    fn progress_total(&self) -> u64 {
        self.total_bytes
    }

    fn notes(&self) -> Vec<String> {
        if self.extra_keys.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "keys not in the first object were ignored: {}",
                self.extra_keys
                    .iter()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )]
        }
    }
}
