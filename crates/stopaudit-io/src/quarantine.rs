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
        } else if self.target.is_some() {
            self.buffered.extend(records);
        }
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
            QuarantineFormat::Parquet => write_parquet(&path, &self.buffered),
        }
    }
}

const HEADER: [&str; 7] = [
    "file", "row", "reason", "field", "value", "message", "record",
];

fn csv_err(path: &Path, e: csv::Error) -> Error {
    Error::input(path, format!("writing CSV failed: {e}"))
}

fn write_parquet(path: &Path, records: &[QuarantineRecord]) -> Result<()> {
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
    let mut df = DataFrame::new(records.len(), columns).map_err(|e| Error::engine(path, e))?;
    let file = AtomicFile::create(path)?;
    ParquetWriter::new(file.handle().map_err(|e| Error::io(path, e))?)
        .finish(&mut df)
        .map_err(|e| Error::engine(path, e))?;
    file.commit()
}
