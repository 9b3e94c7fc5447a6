//! Writing quarantined rows to the data owner's file (`--quarantine FILE`),
//! all or nothing. The records themselves are `stopaudit_core::quarantine`'s.

use std::path::{Path, PathBuf};

use stopaudit_core::error::{Error, Result};
use stopaudit_core::output::{AtomicFile, csv_safe};
pub use stopaudit_core::quarantine::*;

/// Output format for quarantined rows, chosen by the file extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QuarantineFormat {
    Csv,
    Parquet,
}

/// Collects quarantined rows and writes them at the end, all or nothing.
///
/// Rows are kept in memory up to a limit and spilled to a temporary CSV
/// beside the target after that, so quarantining millions of rows stays in
/// bounded memory. Nothing appears at the target path unless
/// [`QuarantineSink::commit`] succeeds.
pub struct QuarantineSink {
    target: Option<(PathBuf, QuarantineFormat)>,
    spill: Option<(AtomicFile, csv::Writer<std::io::BufWriter<std::fs::File>>)>,
    buffered: Vec<QuarantineRecord>,
    /// The Parquet target, written a row group at a time (all 1 million
    /// quarantined rows were held in memory first: 1.48 GB).
    parquet: Option<(
        AtomicFile,
        polars::io::parquet::write::BatchedWriter<std::fs::File>,
    )>,
    /// Rows kept for display (the first few).
    pub examples: Vec<QuarantineRecord>,
    pub counts: ReasonCounts,
}

const EXAMPLES_KEPT: usize = 20;

impl QuarantineSink {
    /// A sink that only counts (and keeps a few examples).
    pub fn counting_only() -> Self {
        QuarantineSink {
            target: None,
            spill: None,
            buffered: Vec::new(),
            parquet: None,
            examples: Vec::new(),
            counts: ReasonCounts::default(),
        }
    }

    /// A sink that writes to `path` (`.csv` or `.parquet`) on commit.
    pub fn to_file(path: &Path) -> Result<Self> {
        let format = match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
        {
            Some(e) if e == "csv" => QuarantineFormat::Csv,
            Some(e) if e == "parquet" => QuarantineFormat::Parquet,
            _ => {
                return Err(Error::Usage(format!(
                    "--quarantine {}: the file name must end in .csv or .parquet",
                    path.display()
                )));
            }
        };
        let mut sink = Self::counting_only();
        sink.target = Some((path.to_path_buf(), format));
        Ok(sink)
    }

    /// Forgets everything pushed so far (the inputs are read again).
    pub(crate) fn restart(&mut self) {
        self.spill = None;
        self.parquet = None;
        self.buffered.clear();
        self.examples.clear();
        self.counts = ReasonCounts::default();
    }

    /// Adds quarantined rows (already in row order for their file).
    /// Whether the records go to a file: then the whole source row is
    /// kept, every column, read or not by the analysis.
    pub fn keeps_records(&self) -> bool {
        self.target.is_some()
    }

    pub fn push(&mut self, records: Vec<QuarantineRecord>) -> Result<()> {
        for r in &records {
            self.counts.add(r.reason, 1);
        }
        let room = EXAMPLES_KEPT.saturating_sub(self.examples.len());
        self.examples.extend(records.iter().take(room).cloned());
        if let Some((path, QuarantineFormat::Csv)) = &self.target {
            if self.spill.is_none() {
                let file = AtomicFile::create(path)?;
                let writer = csv::Writer::from_writer(std::io::BufWriter::new(
                    file.handle().map_err(|e| Error::io(path, e))?,
                ));
                self.spill = Some((file, writer));
                let (_, w) = self.spill.as_mut().expect("just set");
                w.write_record(HEADER).map_err(|e| csv_err(path, e))?;
            }
            let (_, w) = self.spill.as_mut().expect("spill is open");
            for r in &records {
                let row = r.row.to_string();
                w.write_record([
                    csv_safe(&r.file).as_ref(),
                    row.as_str(),
                    r.reason.as_str(),
                    csv_safe(&r.field).as_ref(),
                    csv_safe(&r.value).as_ref(),
                    csv_safe(&r.message).as_ref(),
                    csv_safe(&r.record).as_ref(),
                ])
                .map_err(|e| csv_err(path, e))?;
            }
        } else if let Some((path, _)) = &self.target {
            self.buffered.extend(records);
            if self.buffered.len() >= PARQUET_GROUP_ROWS {
                let path = path.clone();
                self.write_group(&path)?;
            }
        }
        Ok(())
    }

    /// Writes the buffered rows as one Parquet row group.
    fn write_group(&mut self, path: &Path) -> Result<()> {
        use polars::prelude::ParquetWriter;
        let df = frame(path, &self.buffered)?;
        if self.parquet.is_none() {
            let file = AtomicFile::create(path)?;
            let writer = ParquetWriter::new(file.handle().map_err(|e| Error::io(path, e))?)
                .batched(df.schema())
                .map_err(|e| Error::engine(path, e))?;
            self.parquet = Some((file, writer));
        }
        let (_, writer) = self.parquet.as_mut().expect("just opened");
        writer
            .write_batch(&df)
            .map_err(|e| Error::engine(path, e))?;
        self.buffered.clear();
        Ok(())
    }

    /// Writes the quarantine file (if one was asked for); before this nothing is visible.
    pub fn commit(mut self) -> Result<()> {
        let Some((path, format)) = self.target.take() else {
            return Ok(());
        };
        match format {
            QuarantineFormat::Csv => {
                if self.spill.is_none() {
                    // No rows: still write the header, so the file says "none".
                    self.push(Vec::new())?;
                }
                let (file, mut w) = self.spill.take().expect("spill is open");
                w.flush().map_err(|e| Error::io(&path, e))?;
                drop(w);
                file.commit()
            }
            QuarantineFormat::Parquet => {
                if !self.buffered.is_empty() || self.parquet.is_none() {
                    self.write_group(&path)?;
                }
                let (file, writer) = self.parquet.take().expect("opened");
                writer.finish().map_err(|e| Error::engine(&path, e))?;
                drop(writer);
                file.commit()
            }
        }
    }
}

const HEADER: [&str; 7] = [
    "file", "row", "reason", "field", "value", "message", "record",
];

fn csv_err(path: &Path, e: csv::Error) -> Error {
    Error::input(path, format!("writing CSV failed: {e}"))
}

/// Quarantined rows per Parquet row group.
const PARQUET_GROUP_ROWS: usize = 64 * 1024;

/// Quarantined rows as a frame of the quarantine's columns.
fn frame(path: &Path, records: &[QuarantineRecord]) -> Result<polars::prelude::DataFrame> {
    use polars::prelude::*;
    fn text<'a>(name: &str, values: impl Iterator<Item = &'a str>) -> Column {
        StringChunked::from_iter_values(name.into(), values).into_column()
    }
    let columns = vec![
        text("file", records.iter().map(|r| r.file.as_str())),
        Column::new(
            "row".into(),
            records.iter().map(|r| r.row).collect::<Vec<u64>>(),
        ),
        text("reason", records.iter().map(|r| r.reason.as_str())),
        text("field", records.iter().map(|r| r.field.as_str())),
        text("value", records.iter().map(|r| r.value.as_str())),
        text("message", records.iter().map(|r| r.message.as_str())),
        text("record", records.iter().map(|r| r.record.as_str())),
    ];
    DataFrame::new(records.len(), columns).map_err(|e| Error::engine(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stopaudit_core::quarantine::Reason;

    #[test]
    fn a_parquet_quarantine_is_written_a_row_group_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.parquet");
        let mut sink = QuarantineSink::to_file(&path).unwrap();
        let n = 2 * PARQUET_GROUP_ROWS + 7;
        for chunk in (0..n as u64).collect::<Vec<_>>().chunks(10_000) {
            let records = chunk
                .iter()
                .map(|&row| QuarantineRecord {
                    file: "in.csv".into(),
                    row,
                    reason: Reason::MalformedLine,
                    field: String::new(),
                    value: String::new(),
                    message: format!("line {row}"),
                    record: "x;y".into(),
                })
                .collect();
            sink.push(records).unwrap();
            // Never more than one row group waits in memory.
            assert!(sink.buffered.len() < PARQUET_GROUP_ROWS);
        }
        assert!(!path.exists(), "nothing visible before the commit");
        sink.commit().unwrap();
        let mut file = std::fs::File::open(&path).unwrap();
        let meta = polars_parquet::read::read_metadata(&mut file).unwrap();
        assert_eq!(meta.num_rows, n);
        assert_eq!(meta.row_groups.len(), 2); // at 70,000 rows, and the rest
        // An empty quarantine is still a file that says "none".
        let empty = dir.path().join("e.parquet");
        QuarantineSink::to_file(&empty).unwrap().commit().unwrap();
        let meta =
            polars_parquet::read::read_metadata(&mut std::fs::File::open(&empty).unwrap()).unwrap();
        assert_eq!(meta.num_rows, 0);
    }
}
