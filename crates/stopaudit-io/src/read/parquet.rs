//! The native Parquet reader: column chunks decoded with polars' own Parquet
//! decoders (`polars-parquet`), one row group (or a slice of a large one) at
//! a time, straight into raw columns.
//!
//! Why not polars' scan: a scan turns dictionary-encoded text into a polars
//! categorical or string column, which looks every row's text up in a
//! global table; the profile of a 10-million-row audit spent a quarter of
//! its time there. Here a dictionary-encoded text column keeps its Parquet
//! dictionary indices as codes, so its text is read once per row group.
//! Chunks with plain-encoded pages are decoded as text. Files with column
//! types this reader does not map are read by [`super::columnar`] instead;
//! `tests/it/ingest_cli.rs` checks that both readers give the same results.

use std::fs::File;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use polars_arrow::array::{Array, BooleanArray, DictionaryArray, PrimitiveArray, Utf8ViewArray};
use polars_arrow::datatypes::{
    ArrowDataType, DTYPE_CATEGORICAL_NEW, Field, IntegerType, Metadata, TimeUnit,
};
use polars_buffer::Buffer;
use polars_parquet::read::{
    BasicDecompressor, ColumnChunkMetadata, FileMetadata, Filter, PageReader,
    column_iter_to_arrays, infer_schema, read_metadata,
};
use rayon::prelude::*;

use super::batch::{Cell, ColumnBatch, RawColumn, text_cell};

/// The most one Parquet page may decompress to: writers make pages of
/// about 1 MB; a stop export's page of 256 MiB would be a damaged header.
const MAX_PAGE_BYTES: usize = 256 << 20;
use super::source::{BatchJob, Source};
use stopaudit_core::error::{Error, Result};

/// Rows per batch: a row group, or a slice of one this long.
const BATCH_ROWS: usize = 256 * 1024;

/// How a column is decoded and turned into a raw column.
#[derive(Debug, Clone)]
enum Kind {
    Text,
    Timestamp {
        unit: TimeUnit,
        zoned: bool,
    },
    /// A time of day, in these units since midnight. The unit is the
    /// Parquet column's own (TIME_MILLIS, _MICROS, _NANOS): pyarrow stores
    /// a `time32[s]` column as milliseconds but names it seconds in the
    /// Arrow schema it keeps, and reading it as seconds was 1,000× off.
    Time {
        per_second: i64,
    },
    Date,
    Float,
    Integer,
    Boolean,
}

pub(crate) struct ParquetSource {
    file: Arc<ParquetFile>,
    columns: Vec<String>,
    selected: Vec<usize>,
    row_group: usize,
    /// Rows of the current row group already handed out.
    done_in_group: usize,
    offset: u64,
    notes: Vec<String>,
}

/// What every batch job needs to read its rows.
struct ParquetFile {
    path: PathBuf,
    file: File,
    /// The file's length in bytes.
    len: u64,
    metadata: FileMetadata,
    fields: Vec<(Field, Kind)>,
    /// Per column, learnt from earlier batches: its chunks have plain pages
    /// (do not try the dictionary first), its text is nearly unique (do not
    /// try to code it). Only saves work: the result is the same either way.
    plain_pages: Vec<AtomicBool>,
    unique_text: Vec<AtomicBool>,
}

impl ParquetSource {
    /// Opens a Parquet file for native reading, or `None` when one of its
    /// columns has a type this reader does not handle (nested, decimal,
    /// binary...): then the polars scan reads it.
    pub fn open(path: &Path) -> Result<Option<Self>> {
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let metadata = read_metadata(&mut file)
            .map_err(|e| Error::input(path, format!("cannot read as parquet: {e}")))?;
        let schema = infer_schema(&metadata)
            .map_err(|e| Error::input(path, format!("cannot read as parquet: {e}")))?;
        let leaves = metadata.schema().columns().len();
        if leaves != schema.len() {
            return Ok(None); // nested columns
        }
        let mut fields = Vec::new();
        for (field, column) in schema.iter_values().zip(metadata.schema().columns()) {
            let kind = match &field.dtype {
                ArrowDataType::Time32(_) | ArrowDataType::Time64(_) => {
                    let Some(per_second) = time_unit(&column.descriptor.primitive_type) else {
                        return Ok(None);
                    };
                    Kind::Time { per_second }
                }
                dtype => match kind_of(dtype) {
                    Some(kind) => kind,
                    None => return Ok(None),
                },
            };
            fields.push((field.clone(), kind));
        }
        Ok(Some(ParquetSource {
            columns: fields.iter().map(|(f, _)| f.name.to_string()).collect(),
            selected: (0..fields.len()).collect(),
            file: Arc::new(ParquetFile {
                path: path.to_path_buf(),
                len: file.metadata().map_err(|e| Error::io(path, e))?.len(),
                file,
                metadata,
                plain_pages: fields.iter().map(|_| AtomicBool::new(false)).collect(),
                unique_text: fields.iter().map(|_| AtomicBool::new(false)).collect(),
                fields,
            }),
            row_group: 0,
            done_in_group: 0,
            offset: 0,
            notes: Vec::new(),
        }))
    }
}

impl ParquetSource {
    /// Columns whose Arrow schema says `time32[s]`: Parquet has no such
    /// unit, the values are milliseconds, and polars' scan reads them as
    /// seconds (1,000× off).
    pub fn seconds_times(&self) -> Vec<String> {
        self.file
            .fields
            .iter()
            .filter(|(f, _)| f.dtype == ArrowDataType::Time32(TimeUnit::Second))
            .map(|(f, _)| f.name.to_string())
            .collect()
    }

    /// Adds a note for the run's summary.
    pub fn note(&mut self, note: String) {
        self.notes.push(note);
    }
}

impl ParquetFile {
    /// Bytes of one column chunk of the current row group.
    fn read_chunk(&self, meta: &ColumnChunkMetadata) -> Result<Buffer<u8>> {
        let range = meta.byte_range();
        // The metadata of a damaged file can name any range: check it
        // against the file before allocating (one asked for 2.3 EB).
        if range.start > range.end || range.end > self.len {
            return Err(Error::input(
                &self.path,
                format!(
                    "the file is damaged: a column chunk is said to lie at bytes {}..{} of a file of {} bytes",
                    range.start, range.end, self.len
                ),
            ));
        }
        let mut bytes = vec![0u8; (range.end - range.start) as usize];
        read_exact_at(&self.file, &mut bytes, range.start).map_err(|e| Error::io(&self.path, e))?;
        Ok(Buffer::from(bytes))
    }

    /// Checks a column chunk's data page headers before decoding: a page
    /// holds at most the row group's values (a flat column has one per
    /// row) and decompresses to at most the chunk's stated size and
    /// [`MAX_PAGE_BYTES`]. The decoders size their buffers by these
    /// headers: a damaged count made one ask for 2.3 EB (an abort, exit
    /// 134). Headers only; the pages are slices of the chunk.
    fn check_pages(
        &self,
        chunk: &Buffer<u8>,
        meta: &ColumnChunkMetadata,
        rows: usize,
    ) -> Result<()> {
        let bytes = usize::try_from(meta.uncompressed_size())
            .unwrap_or(0)
            .min(MAX_PAGE_BYTES);
        let damaged = |what: String| {
            Error::input(
                &self.path,
                format!(
                    "the file is damaged: column `{}`: {what}",
                    meta.descriptor().path_in_schema.join(".")
                ),
            )
        };
        let pages = PageReader::new(Cursor::new(chunk.clone()), meta, vec![], chunk.len());
        for page in pages {
            let page = page.map_err(|e| damaged(e.to_string()))?;
            if let polars_parquet::parquet::page::CompressedPage::Data(p) = page {
                if p.num_values() > rows {
                    return Err(damaged(format!(
                        "a page says it holds {} values in a row group of {rows} rows",
                        p.num_values()
                    )));
                }
                if p.uncompressed_size() > bytes {
                    return Err(damaged(format!(
                        "a page says it decompresses to {} bytes, more than its column chunk ({bytes})",
                        p.uncompressed_size()
                    )));
                }
            }
        }
        Ok(())
    }

    /// Decodes rows `start..end` of column `c` in row group `g`.
    fn decode(&self, g: usize, c: usize, start: usize, end: usize) -> Result<RawColumn> {
        let group = &self.metadata.row_groups[g];
        let meta = &group.parquet_columns()[c];
        let chunk = self.read_chunk(meta)?;
        self.check_pages(&chunk, meta, group.num_rows())?;
        let (field, kind) = &self.fields[c];
        let whole = start == 0 && end == group.num_rows();
        let run = |field: Field| {
            let pages = PageReader::new(Cursor::new(chunk.clone()), meta, vec![], chunk.len());
            let filter = (!whole).then(|| Filter::new_ranged(start, end));
            column_iter_to_arrays(
                vec![BasicDecompressor::new(pages, vec![])],
                vec![&meta.descriptor().descriptor.primitive_type],
                field,
                filter,
            )
            .map(|(arrays, _)| arrays)
        };
        let engine = |e: polars::prelude::PolarsError| Error::engine(&self.path, e);
        let arrays = match kind {
            Kind::Text => {
                // Dictionary-encoded chunks keep their indices; a chunk with
                // plain pages is decoded again as text.
                let as_text = || {
                    run(Field::new(
                        field.name.clone(),
                        ArrowDataType::Utf8View,
                        true,
                    ))
                };
                if self.plain_pages[c].load(Ordering::Relaxed) {
                    as_text().map_err(engine)?
                } else {
                    match run(dictionary_field(field)) {
                        Ok(arrays) => arrays,
                        Err(_) => {
                            self.plain_pages[c].store(true, Ordering::Relaxed);
                            as_text().map_err(engine)?
                        }
                    }
                }
            }
            // The stored integers, read as such: the unit is the column's.
            Kind::Time { .. } => {
                let physical = match meta.descriptor().descriptor.primitive_type.physical_type {
                    polars_parquet::parquet::schema::types::PhysicalType::Int32 => {
                        ArrowDataType::Int32
                    }
                    _ => ArrowDataType::Int64,
                };
                run(Field::new(field.name.clone(), physical, true)).map_err(engine)?
            }
            _ => run(field.clone()).map_err(engine)?,
        };
        let unique = self.unique_text[c].load(Ordering::Relaxed);
        let raw = to_raw(&arrays, kind, end - start, unique);
        if matches!(raw, RawColumn::Text(_)) {
            self.unique_text[c].store(true, Ordering::Relaxed);
        }
        Ok(raw)
    }
}

/// Units per second of a Parquet time-of-day column, from its logical type
/// (or the older converted type).
fn time_unit(t: &polars_parquet::parquet::schema::types::PrimitiveType) -> Option<i64> {
    use polars_parquet::parquet::schema::types::{
        PrimitiveConvertedType, PrimitiveLogicalType, TimeUnit as Unit,
    };
    match (&t.logical_type, &t.converted_type) {
        (Some(PrimitiveLogicalType::Time { unit, .. }), _) => Some(match unit {
            Unit::Milliseconds => 1_000,
            Unit::Microseconds => 1_000_000,
            Unit::Nanoseconds => 1_000_000_000,
        }),
        (None, Some(PrimitiveConvertedType::TimeMillis)) => Some(1_000),
        (None, Some(PrimitiveConvertedType::TimeMicros)) => Some(1_000_000),
        _ => None,
    }
}

/// The columns of a Parquet file and the kind of value each holds, by
/// name: `text`, `instant` (a timestamp with a zone), `local` (without),
/// `date`, `time`, `float`, `int`, `bool`, or another name (`other`,
/// `nanosecond timestamp`, `unsigned 64-bit integer`). For jobs that read
/// the file elsewhere (the Spark job of [`crate::spark`]).
pub(crate) fn column_kinds(path: &Path) -> Result<Vec<(String, &'static str)>> {
    let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
    let metadata = read_metadata(&mut file)
        .map_err(|e| Error::input(path, format!("cannot read as parquet: {e}")))?;
    let schema = infer_schema(&metadata)
        .map_err(|e| Error::input(path, format!("cannot read as parquet: {e}")))?;
    Ok(schema
        .iter_values()
        .map(|field| {
            let kind = match &field.dtype {
                ArrowDataType::Time32(_) | ArrowDataType::Time64(_) => "time",
                // Spark reads these as decimal(20, 0) and (3.5) refuses
                // nanosecond timestamps: named, so the Spark job refuses them.
                ArrowDataType::UInt64 => "unsigned 64-bit integer",
                ArrowDataType::Timestamp(TimeUnit::Nanosecond, _) => "nanosecond timestamp",
                dtype => match kind_of(dtype) {
                    Some(Kind::Text) => "text",
                    Some(Kind::Timestamp { zoned: true, .. }) => "instant",
                    Some(Kind::Timestamp { zoned: false, .. }) => "local",
                    Some(Kind::Date) => "date",
                    Some(Kind::Float) => "float",
                    Some(Kind::Integer) => "int",
                    Some(Kind::Boolean) => "bool",
                    _ => "other",
                },
            };
            (field.name.to_string(), kind)
        })
        .collect())
}

/// How a column of this Arrow type is read, if it can be.
fn kind_of(dtype: &ArrowDataType) -> Option<Kind> {
    Some(match dtype {
        ArrowDataType::Utf8View | ArrowDataType::Utf8 | ArrowDataType::LargeUtf8 => Kind::Text,
        ArrowDataType::Dictionary(_, values, _)
            if matches!(
                values.as_ref(),
                ArrowDataType::Utf8View | ArrowDataType::Utf8 | ArrowDataType::LargeUtf8
            ) =>
        {
            Kind::Text
        }
        ArrowDataType::Timestamp(unit, tz) => Kind::Timestamp {
            unit: *unit,
            zoned: tz.is_some(),
        },
        ArrowDataType::Date32 => Kind::Date,
        ArrowDataType::Float32 | ArrowDataType::Float64 => Kind::Float,
        ArrowDataType::Int8
        | ArrowDataType::Int16
        | ArrowDataType::Int32
        | ArrowDataType::Int64
        | ArrowDataType::UInt8
        | ArrowDataType::UInt16
        | ArrowDataType::UInt32 => Kind::Integer,
        ArrowDataType::Boolean => Kind::Boolean,
        _ => return None,
    })
}

/// A text field asked for as a dictionary with `u32` keys, which polars'
/// decoder fills from the Parquet dictionary indices.
fn dictionary_field(field: &Field) -> Field {
    let mut metadata = Metadata::new();
    metadata.insert(DTYPE_CATEGORICAL_NEW.into(), "".into());
    Field {
        name: field.name.clone(),
        dtype: ArrowDataType::Dictionary(
            IntegerType::UInt32,
            Box::new(ArrowDataType::Utf8View),
            false,
        ),
        is_nullable: true,
        metadata: Some(Arc::new(metadata)),
    }
}

/// Decoded arrays as one raw column.
fn to_raw(arrays: &[Box<dyn Array>], kind: &Kind, rows: usize, unique_text: bool) -> RawColumn {
    fn any(a: &dyn Array) -> &dyn std::any::Any {
        a.as_any()
    }
    match kind {
        Kind::Text
            if arrays
                .iter()
                .all(|a| any(a.as_ref()).is::<DictionaryArray<u32>>()) =>
        {
            let mut values = Vec::new();
            let mut codes = Vec::with_capacity(rows);
            for a in arrays {
                let dict = any(a.as_ref())
                    .downcast_ref::<DictionaryArray<u32>>()
                    .expect("checked");
                append_dictionary(dict, &mut values, &mut codes);
            }
            RawColumn::Coded { values, codes }
        }
        Kind::Text => {
            let texts: Vec<Option<&str>> = arrays
                .iter()
                .flat_map(|a| {
                    any(a.as_ref())
                        .downcast_ref::<Utf8ViewArray>()
                        .expect("text decodes as Utf8View")
                        .iter()
                })
                .collect();
            if unique_text {
                RawColumn::texts(texts.len(), || texts.iter().copied())
            } else {
                RawColumn::from_texts(texts.len(), || texts.iter().copied())
            }
        }
        Kind::Boolean => RawColumn::booleans(arrays.iter().flat_map(|a| {
            any(a.as_ref())
                .downcast_ref::<BooleanArray>()
                .expect("boolean")
                .iter()
        })),
        Kind::Timestamp { unit, zoned } => {
            let to_ms = |v: i64| match unit {
                TimeUnit::Nanosecond => v.div_euclid(1_000_000),
                TimeUnit::Microsecond => v.div_euclid(1_000),
                TimeUnit::Millisecond => v,
                TimeUnit::Second => v.saturating_mul(1_000),
            };
            RawColumn::timestamps(integers(arrays).map(|v| v.map(to_ms)), *zoned)
        }
        Kind::Time { per_second } => {
            // As text the validator reads like a time column of a CSV
            // file; a value outside one day is left as its number, which
            // it quarantines.
            let texts: Vec<Option<String>> = integers(arrays)
                .map(|v| v.map(|v| time_text(v, *per_second)))
                .collect();
            RawColumn::from_texts(texts.len(), || texts.iter().map(Option::as_deref))
        }
        Kind::Date => RawColumn::dates(integers(arrays)),
        Kind::Integer => RawColumn::integers(integers(arrays)),
        Kind::Float => RawColumn::floats(arrays.iter().flat_map(
            |a| -> Box<dyn Iterator<Item = Option<f64>>> {
                if let Some(p) = any(a.as_ref()).downcast_ref::<PrimitiveArray<f64>>() {
                    Box::new(p.iter().map(|v| v.copied()))
                } else {
                    let p = any(a.as_ref())
                        .downcast_ref::<PrimitiveArray<f32>>()
                        .expect("a float array");
                    Box::new(p.iter().map(|v| v.map(|x| f64::from(*x))))
                }
            },
        )),
    }
}

/// `HH:MM:SS.fff` of `v` units since midnight (`per_second` units a
/// second), or the number itself when it is not within a day.
fn time_text(v: i64, per_second: i64) -> String {
    let day = 86_400 * per_second;
    if !(0..day).contains(&v) {
        return v.to_string();
    }
    let ms = v / (per_second / 1_000).max(1);
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1_000 % 60,
        ms % 1_000
    )
}

/// Adds a dictionary array's values and keys, renumbering its keys after
/// the values already there (null keys point at a null value).
fn append_dictionary(dict: &DictionaryArray<u32>, values: &mut Vec<Cell>, codes: &mut Vec<u32>) {
    let base = values.len() as u32;
    let texts = dict
        .values()
        .as_any()
        .downcast_ref::<Utf8ViewArray>()
        .expect("dictionary of text");
    values.extend(texts.iter().map(|v| v.map_or(Cell::Null, text_cell)));
    let null = values.len() as u32;
    values.push(Cell::Null);
    let keys = dict.keys();
    match keys.validity() {
        None => codes.extend(keys.values().iter().map(|k| base + *k)),
        Some(valid) => codes.extend(
            keys.values()
                .iter()
                .zip(valid.iter())
                .map(|(k, ok)| if ok { base + *k } else { null }),
        ),
    }
}

/// Values of integer arrays of any width, as `i64`.
fn integers(arrays: &[Box<dyn Array>]) -> impl Iterator<Item = Option<i64>> + '_ {
    arrays
        .iter()
        .flat_map(|a| -> Box<dyn Iterator<Item = Option<i64>> + '_> {
            let any = a.as_any();
            macro_rules! try_type {
            ($($t:ty),*) => {
                $(if let Some(p) = any.downcast_ref::<PrimitiveArray<$t>>() {
                    return Box::new(p.iter().map(|v| v.map(|x| *x as i64)));
                })*
            };
        }
            try_type!(i64, i32, i16, i8, u32, u16, u8);
            unreachable!("an integer array")
        })
}

impl Source for ParquetSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn project(&mut self, needed: &[usize]) {
        self.selected = needed.to_vec();
    }

    fn next_batch(&mut self) -> Result<Option<BatchJob>> {
        let groups = &self.file.metadata.row_groups;
        while self
            .file
            .metadata
            .row_groups
            .get(self.row_group)
            .is_some_and(|g| self.done_in_group >= g.num_rows())
        {
            self.row_group += 1;
            self.done_in_group = 0;
        }
        let Some(group) = groups.get(self.row_group) else {
            return Ok(None);
        };
        let (g, start) = (self.row_group, self.done_in_group);
        let end = (start + BATCH_ROWS).min(group.num_rows());
        self.done_in_group = end;
        let first = self.offset + 1;
        self.offset += (end - start) as u64;
        let file = Arc::clone(&self.file);
        let selected = self.selected.clone();
        let width = self.columns.len();
        Ok(Some(Box::new(move || {
            let decoded: Vec<(usize, RawColumn)> = selected
                .par_iter()
                .with_min_len(crate::nested::min_len(selected.len()))
                .map(|&c| Ok((c, file.decode(g, c, start, end)?)))
                .collect::<Result<_>>()?;
            let mut columns: Vec<Option<RawColumn>> = vec![None; width];
            for (c, raw) in decoded {
                if raw.len() != end - start {
                    return Err(Error::input(
                        &file.path,
                        format!(
                            "column \"{}\" of row group {g} has {} rows where {} were expected",
                            file.fields[c].0.name,
                            raw.len(),
                            end - start
                        ),
                    ));
                }
                columns[c] = Some(raw);
            }
            Ok(ColumnBatch {
                row_numbers: (first..first + (end - start) as u64).collect(),
                columns,
                malformed: Vec::new(),
            })
        })))
    }

    fn progress(&self) -> u64 {
        self.offset
    }

    fn progress_total(&self) -> u64 {
        self.file.metadata.num_rows as u64
    }

    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }
}

/// Reads `buf.len()` bytes at `offset` without moving a shared file position
/// (batch jobs read column chunks of one file from several threads).
#[cfg(unix)]
fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

/// Reads `buf.len()` bytes at `offset`. Windows' positioned read moves the
/// file position, which no reader here relies on; it may return fewer bytes
/// than asked, so it is repeated until the buffer is full.
#[cfg(windows)]
fn read_exact_at(file: &std::fs::File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "file ended inside a column chunk",
                ));
            }
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
