//! Reading input files into batches of raw rows, whatever their format.
//!
//! A [`Source`] knows its column names up front and then hands out
//! [`super::batch::ColumnBatch`]es in file order (row-wise formats collect a
//! [`RawBatch`] and transpose it). Rows that cannot even be split into columns
//! (a CSV line with the wrong number of fields, text that is not valid in the
//! file's encoding, a JSON line that is not an object) come out as
//! malformed rows with their line number, so they can be quarantined.

use std::borrow::Cow;
use std::path::Path;

use chrono::{NaiveDate, NaiveDateTime};

use stopaudit_core::config::{InputConfig, ParquetReader};
use stopaudit_core::error::{Error, Result};

pub use stopaudit_core::accounting::Format;

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
    pub fn is_missing(&self) -> bool {
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
pub struct MalformedRow {
    pub row: u64,
    pub message: String,
    /// The raw text of the line (possibly truncated).
    pub raw: String,
}

/// A batch of rows, in file order.
#[derive(Debug, Default)]
pub struct RawBatch {
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

/// Something that yields raw rows.
pub trait Source {
    /// Column names, in file order.
    fn columns(&self) -> &[String];
    /// Restricts reading to these columns (indices into [`Source::columns`]);
    /// the others read as empty. Formats that read whole rows anyway ignore it.
    fn project(&mut self, _needed: &[usize]) {}
    /// The next batch, or `None` at the end. The source does what must be
    /// done in file order (parsing a text file); the job it returns does the
    /// rest (decoding, coding) and may run on any thread, several at a time.
    fn next_batch(&mut self) -> Result<Option<BatchJob>>;
    /// Progress so far, in [`Source::progress_total`] units.
    fn progress(&self) -> u64;
    /// Size of the whole job in progress units (bytes or rows).
    fn progress_total(&self) -> u64;
    /// Notes about the file worth telling the user (encoding, delimiter, blank lines...).
    fn notes(&self) -> Vec<String>;
}

/// The work that turns one batch into columns; see [`Source::next_batch`].
pub type BatchJob = Box<dyn FnOnce() -> Result<super::batch::ColumnBatch> + Send>;

/// Rows per batch.
pub const BATCH_ROWS: usize = 64 * 1024;

/// Decides the format from the file's first bytes, then its extension.
pub fn detect_format(path: &Path) -> Result<Format> {
    use std::io::Read;
    let mut head = [0u8; 8];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = f.metadata().map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::input(path, "is a folder, not a file"));
    }
    let n = f.read(&mut head).map_err(|e| Error::io(path, e))?;
    let head = &head[..n];
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    if n == 0 {
        return Err(Error::input(path, "the file is empty (no header, no rows)"));
    }
    if head.starts_with(b"PAR1") {
        return Ok(Format::Parquet);
    }
    if head.starts_with(b"ARROW1") {
        return Ok(Format::Ipc);
    }
    if head.starts_with(b"PK\x03\x04") {
        return match ext.as_str() {
            "xlsx" | "xlsm" | "" => Ok(Format::Xlsx),
            _ => Err(Error::input(
                path,
                format!(
                    "is a ZIP archive with extension .{ext}; only Excel .xlsx workbooks are read from ZIP containers"
                ),
            )),
        };
    }
    if head.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(Error::input(
            path,
            "is an old binary Excel (.xls) or Office file; save it as .xlsx or CSV",
        ));
    }
    if head.starts_with(b"%PDF") {
        return Err(Error::input(path, "is a PDF document, not a data export"));
    }
    match ext.as_str() {
        "parquet" | "arrow" | "ipc" | "feather" | "xlsx" => Err(Error::input(
            path,
            format!("has extension .{ext} but its content is not a {ext} file"),
        )),
        "jsonl" | "ndjson" | "json" => Ok(Format::Jsonl),
        "csv" | "txt" | "tsv" | "" => Ok(Format::Csv),
        other => {
            if head.first() == Some(&b'{') {
                Ok(Format::Jsonl)
            } else if looks_like_text(path)? {
                Ok(Format::Csv)
            } else {
                Err(Error::input(
                    path,
                    format!(
                        "unsupported format (.{other}); stopaudit reads CSV, Parquet, Arrow IPC (Feather v2), JSON Lines and Excel .xlsx"
                    ),
                ))
            }
        }
    }
}

fn looks_like_text(path: &Path) -> Result<bool> {
    use std::io::Read;
    let mut buf = vec![0u8; 8192];
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
    Ok(!buf[..n].contains(&0))
}

/// Opens a source for a file of a known format.
pub fn open(path: &Path, format: Format, input: &InputConfig) -> Result<Box<dyn Source>> {
    Ok(match format {
        Format::Csv => Box::new(super::csv::CsvSource::open(path, input)?),
        Format::Jsonl => Box::new(super::jsonl::JsonlSource::open(path)?),
        Format::Xlsx => Box::new(super::xlsx::XlsxSource::open(path, input.sheet.as_deref())?),
        Format::Parquet if input.parquet_reader != Some(ParquetReader::Polars) => {
            match super::parquet::ParquetSource::open(path)? {
                Some(native) => Box::new(native),
                None => Box::new(super::columnar::ColumnarSource::open(path, format)?),
            }
        }
        Format::Parquet | Format::Ipc => {
            Box::new(super::columnar::ColumnarSource::open(path, format)?)
        }
    })
}

/// Makes header names usable: trimmed, empty ones named `column_N`, duplicates suffixed.
pub fn clean_header(raw: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut notes = Vec::new();
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, name) in raw.into_iter().enumerate() {
        let mut name = name.trim().trim_start_matches('\u{feff}').to_string();
        if name.is_empty() {
            name = format!("column_{}", i + 1);
        }
        if out.contains(&name) {
            let mut k = 2;
            while out.contains(&format!("{name}_{k}")) {
                k += 1;
            }
            notes.push(format!("column name \"{name}\" appears more than once; the repeat is read as \"{name}_{k}\""));
            name = format!("{name}_{k}");
        }
        out.push(name);
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_cleaned_and_made_unique() {
        let (cols, notes) = clean_header(vec![
            "\u{feff}Datum".into(),
            " Tijd ".into(),
            "".into(),
            "Tijd".into(),
        ]);
        assert_eq!(cols, ["Datum", "Tijd", "column_3", "Tijd_2"]);
        assert_eq!(notes.len(), 1);
    }

    #[test]
    fn formats_are_detected_by_content_before_extension() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        assert_eq!(
            detect_format(&write("a.dat", b"PAR1xxxx")).unwrap(),
            Format::Parquet
        );
        assert_eq!(
            detect_format(&write("a.bin", b"ARROW1\0\0")).unwrap(),
            Format::Ipc
        );
        assert_eq!(
            detect_format(&write("a.export", b"{\"a\":1}\n")).unwrap(),
            Format::Jsonl
        );
        assert_eq!(
            detect_format(&write("a.export", b"a;b\n1;2\n")).unwrap(),
            Format::Csv
        );
        assert_eq!(
            detect_format(&write("a.xlsx", b"PK\x03\x04rest")).unwrap(),
            Format::Xlsx
        );
        let e = detect_format(&write("a.parquet", b"a;b\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("its content is not a parquet file"), "{e}");
        let e = detect_format(&write("a.xls", &[0xD0, 0xCF, 0x11, 0xE0, 0, 0]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("old binary Excel"), "{e}");
        let e = detect_format(&write("a.bin", &[1, 2, 0, 4]))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unsupported format"), "{e}");
    }
}
