//! The read stage: input files into batches of raw rows, whatever their
//! format (CSV, Parquet, Arrow IPC, JSON Lines, Excel), and their columns
//! mapped onto the canonical schema ([`mapping`]).
//!
//! A [`source::Source`] knows its column names up front and then hands out
//! [`batch::ColumnBatch`]es in file order (row-wise formats collect a
//! [`batch::RawBatch`] and transpose it). Rows that cannot even be split
//! into columns (a CSV line with the wrong number of fields, text that is
//! not valid in the file's encoding, a JSON line that is not an object) come
//! out as malformed rows with their line number, so they can be quarantined.
//!
//! Inside, each module imports only those before it: `batch` (cells and
//! batches) → `source` (the trait) → the readers → this file (`open`).

pub(crate) mod batch;
mod columnar;
pub mod csv;
mod jsonl;
pub mod mapping;
mod parquet;
pub(crate) use parquet::column_kinds;
pub(crate) mod source;
mod xlsx;

use std::path::Path;

use stopaudit_core::config::{InputConfig, ParquetReader};
use stopaudit_core::error::{Error, Result};

use source::Source;
pub use stopaudit_core::accounting::Format;

/// Decides the format from the file's first bytes, then its extension.
pub(crate) fn detect_format(path: &Path) -> Result<Format> {
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

pub(crate) use source::contain;
pub use source::panic_is_contained;

/// Opens a source for a file of a known format.
pub(crate) fn open(path: &Path, format: Format, input: &InputConfig) -> Result<Box<dyn Source>> {
    contain(path, || open_unguarded(path, format, input))
}

fn open_unguarded(path: &Path, format: Format, input: &InputConfig) -> Result<Box<dyn Source>> {
    Ok(match format {
        Format::Csv => Box::new(csv::CsvSource::open(path, input)?),
        Format::Jsonl => Box::new(jsonl::JsonlSource::open(path)?),
        Format::Xlsx => Box::new(xlsx::XlsxSource::open(path, input.sheet.as_deref())?),
        Format::Parquet if input.parquet_reader != Some(ParquetReader::Polars) => {
            match parquet::ParquetSource::open(path)? {
                Some(native) => Box::new(native),
                None => Box::new(columnar::ColumnarSource::open(path, format)?),
            }
        }
        Format::Parquet => match parquet::ParquetSource::open(path)? {
            // polars' scan reads a time32[s] column 1,000× off.
            Some(mut native) if !native.seconds_times().is_empty() => {
                let columns = native.seconds_times().join(", ");
                native.note(format!(
                    "read by the native Parquet reader, not polars: polars reads the time32[s] column(s) {columns} 1,000 times off"
                ));
                Box::new(native)
            }
            _ => Box::new(columnar::ColumnarSource::open(path, format)?),
        },
        Format::Ipc => Box::new(columnar::ColumnarSource::open(path, format)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
