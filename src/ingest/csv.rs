//! CSV exports as analysts receive them.
//!
//! - delimiter `,` `;` or tab, detected from the header line (quotes respected);
//! - UTF-8 with or without BOM, or Windows-1252: detected from the first
//!   megabyte (valid UTF-8 means UTF-8), or set in `[input] encoding`;
//! - CRLF or LF line ends, quoted fields with embedded delimiters and newlines;
//! - a record with another number of fields than the header is a malformed
//!   row, quarantined with the line it starts on; blank lines are not rows.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::batch::{ColumnBatch, RawColumn, TextColumn};
use super::source::{BATCH_ROWS, BatchJob, MalformedRow, Source, clean_header};
use crate::config::{Encoding, InputConfig, delimiter_byte};
use crate::error::{Error, Result};

const SNIFF_BYTES: usize = 1 << 20;

/// A CSV file being read.
pub struct CsvSource {
    path: PathBuf,
    reader: csv::Reader<BufReader<File>>,
    columns: Vec<String>,
    encoding: Encoding,
    encoding_detected: bool,
    delimiter: u8,
    bom: bool,
    total_bytes: u64,
    position: u64,
    blank_lines: u64,
    /// Line breaks inside quoted fields so far: the csv crate's line numbers
    /// count record ends only, so these are added to get physical lines.
    embedded_breaks: u64,
    notes: Vec<String>,
    done: bool,
    /// Columns to keep (all until [`Source::project`] says otherwise).
    needed: Vec<bool>,
}

impl CsvSource {
    pub fn open(path: &Path, input: &InputConfig) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let total_bytes = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut sniff = Vec::with_capacity(SNIFF_BYTES.min(total_bytes as usize));
        (&mut file)
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut sniff)
            .map_err(|e| Error::io(path, e))?;
        if sniff.contains(&0) {
            return Err(Error::input(
                path,
                "does not look like a CSV text file (it contains binary data); stopaudit reads CSV, Parquet, Arrow IPC, JSON Lines and Excel .xlsx",
            ));
        }
        let bom = sniff.starts_with(b"\xEF\xBB\xBF");
        let body = if bom { &sniff[3..] } else { &sniff[..] };
        let (encoding, encoding_detected) = match input.encoding {
            Some(e) => (e, false),
            None => (
                detect_encoding(body, sniff.len() as u64 == total_bytes),
                true,
            ),
        };
        let delimiter = match &input.delimiter {
            Some(d) => delimiter_byte(d)?,
            None => detect_delimiter(body),
        };
        file.seek(SeekFrom::Start(if bom { 3 } else { 0 }))
            .map_err(|e| Error::io(path, e))?;
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .double_quote(true)
            .from_reader(BufReader::with_capacity(1 << 16, file));

        let mut header = csv::ByteRecord::new();
        let got = reader
            .read_byte_record(&mut header)
            .map_err(|e| Error::input(path, format!("cannot read the header line: {e}")))?;
        if !got {
            return Err(Error::input(path, "the file is empty (no header, no rows)"));
        }
        let raw_names = header
            .iter()
            .map(|f| decode(f, encoding).map(|c| c.into_owned()))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|m| Error::input(path, format!("header line: {m}")))?;
        let (columns, mut notes) = clean_header(raw_names);
        if columns.len() == 1 && !columns[0].is_empty() {
            notes.push(format!(
                "the header has a single column \"{}\"; if the file uses another delimiter, set [input] delimiter",
                columns[0]
            ));
        }
        Ok(CsvSource {
            path: path.to_path_buf(),
            reader,
            columns,
            encoding,
            encoding_detected,
            delimiter,
            bom,
            total_bytes,
            position: 0,
            blank_lines: 0,
            embedded_breaks: line_breaks(&header),
            notes,
            done: false,
            needed: Vec::new(),
        })
    }

    /// The encoding in use.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The delimiter in use.
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }
}

/// UTF-8 if the sample is valid UTF-8 (a character cut off at the end of a
/// partial sample is allowed), otherwise Windows-1252.
pub fn detect_encoding(sample: &[u8], complete: bool) -> Encoding {
    match std::str::from_utf8(sample) {
        Ok(_) => Encoding::Utf8,
        Err(e) if !complete && e.error_len().is_none() => Encoding::Utf8,
        Err(_) => Encoding::Windows1252,
    }
}

/// Picks `;`, `,` or tab: the one occurring most often outside quotes on the
/// first line (ties go to `;`, the Dutch export default, then `,`).
pub fn detect_delimiter(sample: &[u8]) -> u8 {
    let mut counts = [0usize; 3];
    let candidates = [b';', b',', b'\t'];
    let mut in_quotes = false;
    for &b in sample {
        match b {
            b'"' => in_quotes = !in_quotes,
            b'\n' | b'\r' if !in_quotes => break,
            _ if !in_quotes => {
                if let Some(i) = candidates.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let best = (0..3).max_by_key(|&i| (counts[i], 3 - i)).unwrap_or(0);
    candidates[best]
}

fn decode(
    bytes: &[u8],
    encoding: Encoding,
) -> std::result::Result<std::borrow::Cow<'_, str>, String> {
    match encoding {
        Encoding::Utf8 => std::str::from_utf8(bytes)
            .map(std::borrow::Cow::Borrowed)
            .map_err(|_| {
                "not valid UTF-8 text; if the file is Windows-1252 (ANSI), set [input] encoding = \"windows-1252\"".to_string()
            }),
        Encoding::Windows1252 => Ok(encoding_rs::WINDOWS_1252.decode_without_bom_handling(bytes).0),
    }
}

/// Line breaks (LF, CRLF or a lone CR) inside the fields of a record.
fn line_breaks(record: &csv::ByteRecord) -> u64 {
    record
        .iter()
        .map(|field| {
            let mut n = 0;
            for (i, &b) in field.iter().enumerate() {
                if b == b'\n' || (b == b'\r' && field.get(i + 1) != Some(&b'\n')) {
                    n += 1;
                }
            }
            n
        })
        .sum()
}

fn raw_line(record: &csv::ByteRecord, delimiter: u8) -> String {
    let joined = record.iter().collect::<Vec<_>>().join(&[delimiter][..]);
    let mut text = String::from_utf8_lossy(&joined).into_owned();
    if text.len() > 500 {
        let mut cut = 500;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

impl Source for CsvSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn project(&mut self, needed: &[usize]) {
        self.needed = (0..self.columns.len())
            .map(|i| needed.contains(&i))
            .collect();
    }

    fn next_batch(&mut self) -> Result<Option<BatchJob>> {
        if self.done {
            return Ok(None);
        }
        let width = self.columns.len();
        let mut row_numbers = Vec::new();
        let mut malformed = Vec::new();
        let mut texts: Vec<Option<TextColumn>> = (0..width)
            .map(|i| {
                self.needed
                    .get(i)
                    .copied()
                    .unwrap_or(true)
                    .then(TextColumn::default)
            })
            .collect();
        let mut record = csv::ByteRecord::new();
        while row_numbers.len() + malformed.len() < BATCH_ROWS {
            let got = self.reader.read_byte_record(&mut record).map_err(|e| {
                Error::input(
                    &self.path,
                    format!(
                        "cannot read line {}: {e}",
                        e.position().map(|p| p.line()).unwrap_or(0)
                    ),
                )
            })?;
            if !got {
                self.done = true;
                break;
            }
            let pos = record
                .position()
                .expect("records from a reader have positions");
            let line = pos.line() + self.embedded_breaks;
            self.embedded_breaks += line_breaks(&record);
            self.position = pos.byte() + if self.bom { 3 } else { 0 };
            if record.len() == 1 && record[0].iter().all(|b| b.is_ascii_whitespace()) {
                self.blank_lines += 1;
                continue;
            }
            if record.len() != width {
                malformed.push(MalformedRow {
                    row: line,
                    message: format!(
                        "line {line} has {} fields but the header has {width} (delimiter \"{}\"); check quoting",
                        record.len(),
                        if self.delimiter == b'\t' { "tab".to_string() } else { (self.delimiter as char).to_string() }
                    ),
                    raw: raw_line(&record, self.delimiter),
                });
                continue;
            }
            let mut bad = None;
            for (i, field) in record.iter().enumerate() {
                match decode(field, self.encoding) {
                    Ok(text) => {
                        if let Some(column) = &mut texts[i] {
                            column.push(&text);
                        }
                    }
                    Err(m) => {
                        bad = Some(format!("column \"{}\": {m}", self.columns[i]));
                        // Take back this row's fields so far: it is quarantined whole.
                        for column in texts[..i].iter_mut().flatten() {
                            column.pop();
                        }
                        break;
                    }
                }
            }
            match bad {
                None => row_numbers.push(line),
                Some(message) => malformed.push(MalformedRow {
                    row: line,
                    message,
                    raw: raw_line(&record, self.delimiter),
                }),
            }
        }
        if self.done {
            self.position = self.total_bytes;
        }
        if row_numbers.is_empty() && malformed.is_empty() {
            return Ok(None);
        }
        Ok(Some(Box::new(move || {
            let columns = texts
                .into_par_iter()
                .map(|t| t.map(RawColumn::from_text_column))
                .collect();
            Ok(ColumnBatch {
                row_numbers,
                columns,
                malformed,
            })
        })))
    }

    fn progress(&self) -> u64 {
        self.position
    }

    fn progress_total(&self) -> u64 {
        self.total_bytes
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        if self.encoding_detected && self.encoding == Encoding::Windows1252 {
            notes.push("read as Windows-1252 (the file is not valid UTF-8)".into());
        }
        if self.blank_lines > 0 {
            notes.push(format!(
                "{} blank line(s) skipped (not rows)",
                self.blank_lines
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delimiter_detection_ignores_quoted_text() {
        assert_eq!(detect_delimiter(b"a;b;c\n1,2;3"), b';');
        assert_eq!(detect_delimiter(b"a,b,c\n"), b',');
        assert_eq!(detect_delimiter(b"a\tb\tc\r\n"), b'\t');
        assert_eq!(detect_delimiter(b"\"x,y,z\";b;c\n"), b';');
    }

    #[test]
    fn encoding_detection() {
        assert_eq!(detect_encoding("café".as_bytes(), true), Encoding::Utf8);
        assert_eq!(detect_encoding(b"caf\xe9", true), Encoding::Windows1252);
        // A UTF-8 character cut off by the sample boundary is still UTF-8.
        assert_eq!(
            detect_encoding(&"café".as_bytes()[..4], false),
            Encoding::Utf8
        );
    }
}
