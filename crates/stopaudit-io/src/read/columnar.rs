//! Parquet and Arrow IPC (Feather v2) files, read by polars' streaming
//! engine on its own threads, only the columns the mapping needs, and handed
//! over frame by frame in file order.
//!
//! Typed columns keep their types: a timezone-aware datetime is an instant,
//! a naive datetime is a wall-clock time, booleans stay booleans.
//! Categorical (dictionary) columns keep their codes, so each distinct value
//! is read and checked once per batch; other text is coded when it repeats.

use std::path::{Path, PathBuf};

use polars::prelude::*;

use std::num::NonZeroUsize;
use std::sync::mpsc::{Receiver, sync_channel};

use super::batch::{Cell, ColumnBatch, RawColumn, text_cell};
use super::source::{BatchJob, Source};
use stopaudit_core::accounting::Format;
use stopaudit_core::error::{Error, Result};

/// Checks that every record batch and dictionary an Arrow IPC file's
/// footer lists lies inside the file, its message length prefix included,
/// before polars reads it: a damaged length made polars reserve 1.8 GB for
/// a 1.5 KB file (the mutation test's bound is 256 MiB).
fn check_ipc_blocks(path: &Path) -> Result<()> {
    use polars_arrow::io::ipc::read::read_file_metadata;
    use std::io::{Read, Seek, SeekFrom};
    let damaged = |what: String| Error::input(path, format!("the file is damaged: {what}"));
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().map_err(|e| Error::io(path, e))?.len();
    let meta = read_file_metadata(&mut file)
        .map_err(|e| Error::input(path, format!("cannot read as ipc: {e}")))?;
    let blocks = meta.blocks.iter().chain(meta.dictionaries.iter().flatten());
    for (i, b) in blocks.enumerate() {
        let (offset, meta_len, body) = (b.offset, b.meta_data_length, b.body_length);
        let end = u64::try_from(offset)
            .ok()
            .zip(u64::try_from(meta_len).ok())
            .zip(u64::try_from(body).ok())
            .and_then(|((o, m), b)| o.checked_add(m)?.checked_add(b));
        if end.is_none_or(|e| e > size) {
            return Err(damaged(format!(
                "block {i} (offset {offset}, {meta_len} + {body} bytes) lies outside the file's {size} bytes"
            )));
        }
        // The message's own length prefix (after an optional continuation marker).
        let mut prefix = [0u8; 8];
        file.seek(SeekFrom::Start(offset as u64))
            .and_then(|_| file.read_exact(&mut prefix))
            .map_err(|_| damaged(format!("block {i} at offset {offset} is cut short")))?;
        let len = if prefix[..4] == [0xff; 4] {
            i32::from_le_bytes([prefix[4], prefix[5], prefix[6], prefix[7]])
        } else {
            i32::from_le_bytes([prefix[0], prefix[1], prefix[2], prefix[3]])
        };
        if u64::try_from(len).map_or(true, |l| l > size - offset as u64) {
            return Err(damaged(format!(
                "block {i} at offset {offset} claims a message of {len} bytes"
            )));
        }
        // The message's buffers lie inside the block's body, and a
        // compressed buffer decompresses to at most MAX_IPC_BUFFER bytes.
        let skip = if prefix[..4] == [0xff; 4] { 8 } else { 4 };
        let mut message = vec![0u8; len as usize];
        file.seek(SeekFrom::Start(offset as u64 + skip))
            .and_then(|_| file.read_exact(&mut message))
            .map_err(|_| damaged(format!("block {i} at offset {offset} is cut short")))?;
        let buffers = ipc_buffers(&message).map_err(|e| damaged(format!("block {i}: {e}")))?;
        let body_start = offset as u64 + meta_len as u64;
        for (at, length, compressed) in buffers {
            if at < 0 || length < 0 || at.saturating_add(length) > body {
                return Err(damaged(format!(
                    "block {i}: a buffer at {at} of {length} bytes lies outside its body of {body} bytes"
                )));
            }
            if compressed && length >= 8 {
                let mut stated = [0u8; 8];
                file.seek(SeekFrom::Start(body_start + at as u64))
                    .and_then(|_| file.read_exact(&mut stated))
                    .map_err(|_| damaged(format!("block {i} is cut short")))?;
                let stated = i64::from_le_bytes(stated);
                if stated > MAX_IPC_BUFFER {
                    return Err(damaged(format!(
                        "block {i}: a compressed buffer says it decompresses to {stated} bytes"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The most one compressed IPC buffer may decompress to (a column of one
/// record batch; writers make batches of some 64k rows).
const MAX_IPC_BUFFER: i64 = 256 << 20;

/// The (offset, length, compressed) of every buffer of a record batch or
/// dictionary batch message; none for other messages.
fn ipc_buffers(message: &[u8]) -> std::result::Result<Vec<(i64, i64, bool)>, String> {
    use polars_arrow::io::ipc::format::ipc::planus::ReadAsRoot;
    use polars_arrow::io::ipc::format::ipc::{MessageHeaderRef, MessageRef, RecordBatchRef};
    let e = |e: polars_arrow::io::ipc::format::ipc::planus::Error| e.to_string();
    let message = MessageRef::read_as_root(message).map_err(e)?;
    let batch: Option<RecordBatchRef> = match message.header().map_err(e)? {
        Some(MessageHeaderRef::RecordBatch(b)) => Some(b),
        Some(MessageHeaderRef::DictionaryBatch(d)) => d.data().map_err(e)?,
        _ => None,
    };
    let Some(batch) = batch else {
        return Ok(Vec::new());
    };
    let compressed = batch.compression().map_err(e)?.is_some();
    let mut out = Vec::new();
    for b in batch.buffers().map_err(e)?.into_iter().flatten() {
        out.push((b.offset(), b.length(), compressed));
    }
    Ok(out)
}

/// Rows per batch asked of polars' streaming engine.
const CHUNK_ROWS: usize = 128 * 1024;

/// Frames from the streaming engine, produced on its own threads.
type Frames = Receiver<PolarsResult<DataFrame>>;

pub(crate) struct ColumnarSource {
    path: PathBuf,
    frame: LazyFrame,
    columns: Vec<String>,
    selected: Vec<usize>,
    total_rows: u64,
    offset: u64,
    frames: Option<Frames>,
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
                check_ipc_blocks(path)?;
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
            total_rows,
            offset: 0,
            frames: None,
        })
    }

    /// Starts the streaming scan of the selected columns on polars' threads;
    /// frames come back in file order through a channel of two.
    fn start(&self) -> Result<Frames> {
        let (send, frames) = sync_channel::<PolarsResult<DataFrame>>(2);
        let on_error = send.clone();
        let names: Vec<Expr> = self
            .selected
            .iter()
            .map(|&i| col(self.columns[i].as_str()))
            .collect();
        let plan = self
            .frame
            .clone()
            .select(names)
            .sink_batches(
                // Returning true stops the scan: the reader has gone away.
                PlanCallback::new(move |df| Ok(send.send(Ok(df)).is_err())),
                true,
                NonZeroUsize::new(CHUNK_ROWS),
            )
            .map_err(|e| Error::engine(&self.path, e))?;
        let path = self.path.clone();
        std::thread::spawn(move || {
            // A panic in polars' decoders (a corrupt file) is an error for
            // the reader, not a closed channel that looks like the end.
            let outcome =
                super::source::contain(&path, || Ok(plan.collect_with_engine(Engine::Streaming)));
            let error = match outcome {
                Ok(Ok(_)) => return,
                Ok(Err(e)) => e,
                Err(e) => polars::prelude::PolarsError::ComputeError(e.to_string().into()),
            };
            let _ = on_error.send(Err(error));
        });
        Ok(frames)
    }
}

/// One polars column as a raw column: categoricals keep their codes,
/// text is coded when it repeats, other types become cells.
fn raw_column(column: &Column) -> PolarsResult<RawColumn> {
    let series = column.as_materialized_series();
    Ok(match series.dtype() {
        DataType::Categorical(..) | DataType::Enum(..) if series.cat32().is_ok() => {
            categorical(series.cat32()?)
        }
        DataType::String => {
            let text = series.str()?;
            RawColumn::from_texts(text.len(), || text.iter())
        }
        DataType::Boolean => RawColumn::booleans(series.bool()?.iter()),
        DataType::Float32 | DataType::Float64 => {
            RawColumn::floats(series.cast(&DataType::Float64)?.f64()?.iter())
        }
        d if d.is_integer() => RawColumn::integers(series.cast(&DataType::Int64)?.i64()?.iter()),
        DataType::Datetime(unit, tz) => {
            let to_ms = |v: i64| match unit {
                TimeUnit::Nanoseconds => v.div_euclid(1_000_000),
                TimeUnit::Microseconds => v.div_euclid(1_000),
                TimeUnit::Milliseconds => v,
            };
            let physical = series.cast(&DataType::Int64)?;
            RawColumn::timestamps(physical.i64()?.iter().map(|v| v.map(to_ms)), tz.is_some())
        }
        DataType::Date => RawColumn::dates(
            series
                .cast(&DataType::Int32)?
                .i32()?
                .iter()
                .map(|d| d.map(i64::from)),
        ),
        _ => {
            let cast = series.cast(&DataType::String)?;
            let text = cast.str()?;
            RawColumn::from_texts(text.len(), || text.iter())
        }
    })
}

/// Codes of a categorical column, renumbered from 0 in order of first
/// appearance in the batch; each category's text is looked up once.
fn categorical(cats: &Categorical32Chunked) -> RawColumn {
    let mapping = cats.get_mapping();
    let upper = mapping.num_cats_upper_bound();
    let mut scratch = vec![u32::MAX; upper + 1];
    let null = upper;
    let mut values = Vec::new();
    let mut codes = Vec::with_capacity(cats.len());
    for cat in cats.physical().iter() {
        let id = cat.map_or(null, |c| c as usize);
        let mut code = scratch[id];
        if code == u32::MAX {
            code = values.len() as u32;
            scratch[id] = code;
            values.push(match cat {
                None => Cell::Null,
                Some(c) => mapping.cat_to_str(c).map_or(Cell::Null, text_cell),
            });
        }
        codes.push(code);
    }
    RawColumn::Coded { values, codes }
}

impl Source for ColumnarSource {
    fn columns(&self) -> &[String] {
        &self.columns
    }

    fn project(&mut self, needed: &[usize]) {
        self.selected = needed.to_vec();
    }

    fn next_batch(&mut self) -> Result<Option<BatchJob>> {
        if self.frames.is_none() {
            if self.total_rows == 0 {
                return Ok(None);
            }
            self.frames = Some(self.start()?);
        }
        let frames = self.frames.as_ref().expect("started");
        let df = loop {
            match frames.recv() {
                Err(_) if self.offset < self.total_rows => {
                    return Err(Error::input(
                        &self.path,
                        format!(
                            "the file ended after {} of its {} rows: it is damaged",
                            self.offset, self.total_rows
                        ),
                    ));
                }
                Err(_) => return Ok(None),
                Ok(Err(e)) => return Err(Error::engine(&self.path, e)),
                Ok(Ok(df)) if df.height() == 0 => continue,
                Ok(Ok(df)) => break df,
            }
        };
        let n = df.height();
        let first = self.offset + 1;
        self.offset += n as u64;
        let selected = self.selected.clone();
        let width = self.columns.len();
        let path = self.path.clone();
        Ok(Some(Box::new(move || {
            let mut columns: Vec<Option<RawColumn>> = vec![None; width];
            for (k, &i) in selected.iter().enumerate() {
                columns[i] =
                    Some(raw_column(&df.columns()[k]).map_err(|e| Error::engine(&path, e))?);
            }
            Ok(ColumnBatch {
                row_numbers: (first..first + n as u64).collect(),
                columns,
                malformed: Vec::new(),
            })
        })))
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
