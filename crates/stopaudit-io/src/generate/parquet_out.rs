//! Parquet output of the generator: row groups encoded and compressed on
//! the worker threads, written in order by one.
//!
//! polars' batched Parquet writer encodes a data frame where it is handed
//! over, and compresses its pages as it writes them: with the generator's
//! chunks made in parallel, that one thread did the category remapping,
//! the dictionary and run-length encoding and zstd of every column, about
//! 40% of the run's CPU time, and set the pace. Here
//! [`ChunkEncoder::encode`] does all of that for one chunk on any thread,
//! and [`ParquetOut::write`] appends the finished pages. The pages, the
//! options (zstd, default statistics, format version 1) and the footer with
//! the Arrow schema are those of polars' writer, so the file is the same,
//! byte for byte.

use std::io::Write;
use std::sync::Arc;

use polars::prelude::{ArrayRef, CompatLevel, PolarsResult, Schema, SchemaExt};
use polars_parquet::write::{
    CompressedPage, DynIter, DynStreamingIterator, Encoding, FileWriter, ParquetType,
    StatisticsOptions, Version, WriteOptions, array_to_columns, compress,
    fallible_streaming_iterator, to_parquet_schema,
};

/// One chunk's row group, encoded and compressed: its row count and each
/// leaf column's pages.
pub(crate) struct Encoded {
    rows: u64,
    columns: Vec<Vec<CompressedPage>>,
}

/// A Parquet file being written, row group by row group, from columns of
/// one schema.
pub(crate) struct ParquetOut<W: Write> {
    file: FileWriter<W>,
    encoder: Arc<ChunkEncoder>,
}

/// What encoding a row group needs, shared by the threads that encode.
pub(crate) struct ChunkEncoder {
    fields: Vec<ParquetType>,
    encodings: Vec<Vec<Encoding>>,
    options: WriteOptions,
}

impl<W: Write> ParquetOut<W> {
    /// A writer of row groups with `schema` (a data frame's) to `sink`.
    pub fn new(sink: W, schema: &Schema) -> PolarsResult<Self> {
        let arrow = schema.to_arrow(CompatLevel::newest());
        let options = WriteOptions {
            statistics: StatisticsOptions::default(),
            version: Version::V1,
            compression: polars::io::parquet::write::ParquetCompression::default().into(),
            data_page_size: None,
        };
        let fields = to_parquet_schema(&arrow)?.fields().to_vec();
        let encodings = polars::io::parquet::write::get_encodings(&arrow).to_vec();
        Ok(ParquetOut {
            file: FileWriter::try_new(sink, arrow, options)?,
            encoder: Arc::new(ChunkEncoder {
                fields,
                encodings,
                options,
            }),
        })
    }

    /// The encoder of this file's row groups, for any thread.
    pub(crate) fn encoder(&self) -> Arc<ChunkEncoder> {
        Arc::clone(&self.encoder)
    }

    /// Appends an encoded row group.
    pub fn write(&mut self, encoded: Encoded) -> PolarsResult<()> {
        let pages = encoded.columns.iter().map(|pages| {
            Ok(DynStreamingIterator::new(
                fallible_streaming_iterator::convert(pages.iter().map(Ok)),
            ))
        });
        self.file.write(encoded.rows, DynIter::new(pages))
    }

    /// Writes the footer.
    pub fn finish(mut self) -> PolarsResult<()> {
        self.file.end(None)?;
        Ok(())
    }
}

impl ChunkEncoder {
    /// One row group of `rows` rows from its columns (in schema order),
    /// encoded and compressed on this thread.
    pub fn encode(&self, rows: usize, columns: &[ArrayRef]) -> PolarsResult<Encoded> {
        let mut pages = Vec::new();
        for ((array, field), encoding) in columns.iter().zip(&self.fields).zip(&self.encodings) {
            for leaf in array_to_columns(array, field.clone(), self.options, encoding)? {
                pages.push(
                    leaf.map(|page| Ok(compress(page?, Vec::new(), self.options.compression)?))
                        .collect::<PolarsResult<Vec<_>>>()?,
                );
            }
        }
        Ok(Encoded {
            rows: rows as u64,
            columns: pages,
        })
    }
}
