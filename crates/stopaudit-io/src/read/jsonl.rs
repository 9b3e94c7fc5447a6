//! JSON Lines: one JSON object per line.
//!
//! The columns are the union of the keys of every object (a first pass over
//! the file reads the keys only), named as CSV headers are (trimmed: a key
//! `"Nationaliteit "` is the column `Nationaliteit`, and keys that trim to
//! the same name are one column). A key an object lacks is an empty value.
//! A line that is not a JSON object is a malformed row.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::batch::{Cell, ColumnBatch, MalformedRow, RawBatch};
use super::source::{BATCH_ROWS, BatchJob, Source};
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
    /// Column of every key as the file writes it.
    index: HashMap<String, usize>,
    done: bool,
}

/// At most this many distinct keys: a stop export has tens.
pub(crate) const MAX_KEYS: usize = 1_000;

/// The column name of a key: as a CSV header is cleaned (trimmed, BOM
/// dropped), `column_N` for an empty one.
fn column_name(key: &str, n: usize) -> String {
    let name = key.trim().trim_start_matches('\u{feff}').trim();
    if name.is_empty() {
        format!("column_{n}")
    } else {
        name.to_string()
    }
}

/// The columns of a JSON Lines file: every key of every object, in order of
/// first appearance, and each raw key's column. Lines that are not objects
/// are skipped here (they are malformed rows when read).
fn keys_of(path: &Path) -> Result<(Vec<String>, HashMap<String, usize>)> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let (mut columns, mut index) = (Vec::<String>::new(), HashMap::new());
    let mut by_name: HashMap<String, usize> = HashMap::new();
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        let text = buf.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&buf);
        let Ok(keys) = serde_json::from_slice::<BTreeMap<String, serde::de::IgnoredAny>>(text)
        else {
            continue;
        };
        for key in keys.into_keys() {
            if index.contains_key(&key) {
                continue;
            }
            let name = column_name(&key, columns.len() + 1);
            let at = *by_name.entry(name.clone()).or_insert_with(|| {
                columns.push(name);
                columns.len() - 1
            });
            if columns.len() > MAX_KEYS {
                return Err(Error::input(
                    path,
                    format!(
                        "the objects have more than {MAX_KEYS} distinct keys: not an export of stops (one object per stop, a key per field)"
                    ),
                ));
            }
            index.insert(key, at);
        }
    }
    Ok((columns, index))
}

impl JsonlSource {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let total_bytes = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let (columns, index) = keys_of(path)?;
        let mut src = JsonlSource {
            path: path.to_path_buf(),
            reader: BufReader::with_capacity(1 << 16, file),
            columns,
            pending: None,
            line: 0,
            position: 0,
            total_bytes,
            index,
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
        let mut cells = vec![Cell::Null; self.columns.len()];
        for (key, value) in map {
            // Every key was seen by the first pass (a file changed since
            // is read as far as its keys match).
            let Some(&at) = self.index.get(&key) else {
                continue;
            };
            let cell = match value {
                Value::Null => Cell::Null,
                Value::String(s) if s.trim().is_empty() => Cell::Null,
                Value::String(s) => Cell::Text(s),
                Value::Bool(b) => Cell::Bool(b),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => Cell::Int(i),
                    None => Cell::Float(n.as_f64().unwrap_or(f64::NAN)),
                },
                other => Cell::Text(other.to_string()),
            };
            // Two keys of one object that name the same column: the first
            // with a value counts.
            if matches!(cells[at], Cell::Null) {
                cells[at] = cell;
            }
        }
        cells
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
                    raw: text.clone(),
                }),
                Err(e) => batch.malformed.push(MalformedRow {
                    row: line,
                    message: if text.starts_with('\u{0}') {
                        format!("line {line} is not valid UTF-8")
                    } else {
                        format!("line {line} is not valid JSON: {e}")
                    },
                    raw: text.trim_start_matches('\u{0}').to_string(),
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
        let mut merged: BTreeMap<usize, Vec<&str>> = BTreeMap::new();
        for (key, &at) in &self.index {
            if key != &self.columns[at] {
                merged.entry(at).or_default().push(key);
            }
        }
        merged
            .into_iter()
            .map(|(at, mut keys)| {
                keys.sort_unstable();
                format!(
                    "keys {} read as the column \"{}\"",
                    keys.iter()
                        .map(|k| format!("{k:?}"))
                        .collect::<Vec<_>>()
                        .join(", "),
                    self.columns[at]
                )
            })
            .collect()
    }
}
