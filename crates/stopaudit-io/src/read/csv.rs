//! CSV exports as analysts receive them.
//!
//! - delimiter `,` `;` or tab, detected from the header line (quotes respected);
//! - UTF-8 with or without BOM, or Windows-1252: detected from the first
//!   megabyte (valid UTF-8 means UTF-8), or set in `[input] encoding`; when
//!   that megabyte is all ASCII (it fits both), a later chunk that is not
//!   UTF-8 is read as Windows-1252, with a note;
//! - CRLF or LF line ends, quoted fields with embedded delimiters and newlines;
//! - a record with another number of fields than the header is a malformed
//!   row, quarantined with the line it starts on; blank lines are not rows.
//!
//! The file is read in chunks of about 4 MB cut after the last record end
//! (a line feed preceded by an even number of quotes), so the chunks are
//! parsed by batch jobs in parallel; row numbers are physical lines, counted
//! from the bytes.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::batch::{ColumnBatch, MalformedRow, RawColumn, TextColumn};
use super::source::{BatchJob, Source, clean_header};
use stopaudit_core::config::{Encoding, InputConfig, delimiter_byte};
use stopaudit_core::error::{Error, Result};

const SNIFF_BYTES: usize = 1 << 20;

/// A CSV file being read.
pub(crate) struct CsvSource {
    path: PathBuf,
    /// Positioned at the first byte after the header line.
    file: File,
    columns: Vec<String>,
    encoding: Encoding,
    encoding_detected: bool,
    /// Detected as UTF-8 from a first megabyte of ASCII only, which fits
    /// Windows-1252 as well: a later chunk that is not UTF-8 is read as
    /// Windows-1252 (lines from such chunks, and the first of them, kept
    /// for the note).
    ascii_sniff: bool,
    late_1252: Arc<AtomicU64>,
    late_1252_first: Arc<AtomicU64>,
    delimiter: u8,
    total_bytes: u64,
    /// Bytes handed to batch jobs so far (BOM and header included).
    position: u64,
    /// Physical line number of the next unread line.
    next_line: u64,
    /// Bytes read after the last complete record, carried to the next batch.
    carry: Vec<u8>,
    blank_lines: Arc<AtomicU64>,
    notes: Vec<String>,
    done: bool,
    /// Columns to keep (all until [`Source::project`] says otherwise).
    needed: Vec<bool>,
    /// Bytes read per batch (at least; whole records).
    chunk_bytes: usize,
    /// [`InputConfig::max_field_bytes`] and [`InputConfig::max_field_lines`].
    max_field_bytes: usize,
    max_field_lines: u64,
    /// Records over more than one line (quoted line breaks), and the lines
    /// they add: why `rows_read` can be below the file's lines.
    multi_line: Arc<AtomicU64>,
    /// Lines of malformed regions (a quote left open across records).
    region_lines: Arc<AtomicU64>,
}

/// Bytes of text per batch (about 64k rows of a typical export).
const CHUNK_BYTES: usize = 4 << 20;

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
        // Rows are read in chunks from just after the header line (the csv
        // crate stops between the CR and LF of a CRLF: take the LF too).
        let mut header_end = reader.position().byte() + if bom { 3 } else { 0 };
        let end = header_end as usize;
        if end > 0 && sniff.get(end - 1) == Some(&b'\r') && sniff.get(end) == Some(&b'\n') {
            header_end += 1;
        }
        let mut file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut head = vec![0u8; header_end as usize];
        file.read_exact(&mut head).map_err(|e| Error::io(path, e))?;
        // A header cell may hold a quoted line break (Excel's Alt+Enter), but
        // a quote left open in the header would take rows into the column
        // names: past a few lines it is refused, naming the column.
        let header_breaks =
            count_breaks(&head) - u64::from(matches!(head.last(), Some(b'\n' | b'\r')));
        if header_breaks > MAX_HEADER_BREAKS {
            let column = header
                .iter()
                .position(|f| f.contains(&b'\n') || f.contains(&b'\r'))
                .map_or(0, |c| c + 1);
            return Err(Error::input(
                path,
                format!(
                    "line 1, column {column}: the header opens a quote that is not closed on that line; the header would run over {} lines. A stray quote? Fix the header's quoting",
                    header_breaks + 1
                ),
            ));
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
            file,
            columns,
            encoding,
            encoding_detected,
            ascii_sniff: encoding_detected && encoding == Encoding::Utf8 && body.is_ascii(),
            late_1252: Arc::default(),
            late_1252_first: Arc::new(AtomicU64::new(u64::MAX)),
            delimiter,
            total_bytes,
            position: header_end,
            next_line: 1 + count_breaks(&head),
            carry: Vec::new(),
            blank_lines: Arc::new(AtomicU64::new(0)),
            notes,
            done: false,
            needed: Vec::new(),
            chunk_bytes: CHUNK_BYTES,
            max_field_bytes: input
                .max_field_bytes
                .unwrap_or(stopaudit_core::config::DEFAULT_MAX_FIELD_BYTES)
                .max(1),
            max_field_lines: input
                .max_field_lines
                .unwrap_or(stopaudit_core::config::DEFAULT_MAX_FIELD_LINES),
            multi_line: Arc::new(AtomicU64::new(header_breaks)),
            region_lines: Arc::default(),
        })
    }
}

/// Quoted line breaks allowed in the header record (cells wrapped with
/// Alt+Enter in Excel); more is a quote left open.
const MAX_HEADER_BREAKS: u64 = 2;

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

/// Text in the given encoding.
pub fn decode(
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

/// Line breaks in some bytes: LF, CRLF (once) or a lone CR.
fn count_breaks(bytes: &[u8]) -> u64 {
    count_breaks_in(bytes, 0, bytes.len())
}

/// Line breaks in `bytes[from..to]`, looking one byte past `to` so that a
/// CRLF split there counts once (at its LF).
fn count_breaks_in(bytes: &[u8], from: usize, to: usize) -> u64 {
    let part = &bytes[from..to];
    let lf = memchr::memchr_iter(b'\n', part).count() as u64;
    let cr = memchr::memchr_iter(b'\r', part).count() as u64;
    if cr == 0 {
        return lf;
    }
    // CRs followed by an LF (also one just past `to`) are counted at their LF.
    let crlf = memchr::memmem::find_iter(&bytes[from..(to + 1).min(bytes.len())], b"\r\n").count();
    lf + cr - crlf as u64
}

/// Line breaks in `bytes[from..to]` counted as by [`count_breaks_in`], and
/// the quote characters there, in one pass (a record's: one scan of a short
/// slice instead of three).
fn breaks_and_quotes(bytes: &[u8], from: usize, to: usize) -> (u64, usize) {
    let (mut breaks, mut quotes) = (0, 0);
    for i in memchr::memchr3_iter(b'"', b'\r', b'\n', &bytes[from..to]) {
        match bytes[from + i] {
            b'"' => quotes += 1,
            b'\n' => breaks += 1,
            _ => breaks += u64::from(bytes.get(from + i + 1) != Some(&b'\n')),
        }
    }
    (breaks, quotes)
}

/// Line breaks (LF, CRLF or a lone CR) inside the fields of a record.
fn line_breaks(record: &csv::ByteRecord) -> u64 {
    record.iter().map(count_breaks).sum()
}

/// Where the last complete record in `bytes` ends (just after a line feed
/// outside quotes), given that `bytes` starts outside quotes; `None` if no
/// record ends in it. A line feed is outside quotes when an even number of
/// quote characters precede it.
fn last_record_end(bytes: &[u8]) -> Option<usize> {
    let mut quotes = memchr::memchr_iter(b'"', bytes).count();
    let mut end = bytes.len();
    while let Some(lf) = memchr::memrchr(b'\n', &bytes[..end]) {
        quotes -= memchr::memchr_iter(b'"', &bytes[lf..end]).count();
        if quotes.is_multiple_of(2) {
            return Some(lf + 1);
        }
        end = lf;
    }
    None
}

/// One chunk of whole records, parsed into a column batch by a job.
struct Chunk {
    bytes: Vec<u8>,
    first_line: u64,
    /// Line breaks in `bytes`: at least its records.
    lines: u64,
    delimiter: u8,
    encoding: Encoding,
    columns: Vec<String>,
    needed: Vec<bool>,
    blank_lines: Arc<AtomicU64>,
    path: PathBuf,
    max_field_bytes: usize,
    max_field_lines: u64,
    multi_line: Arc<AtomicU64>,
    region_lines: Arc<AtomicU64>,
    /// See [`CsvSource::ascii_sniff`]: `None` when the encoding is settled.
    late_1252: Option<(Arc<AtomicU64>, Arc<AtomicU64>)>,
    /// Whether `bytes` is valid UTF-8, checked once (see [`Chunk::is_utf8`]).
    utf8: std::cell::OnceCell<bool>,
}

impl Chunk {
    /// The chunk's records as columns: split directly when the chunk is
    /// plain (see [`Chunk::plain_text`]), else through the CSV parser.
    fn parse(self) -> Result<ColumnBatch> {
        self.parse_as(true)
    }

    /// [`Chunk::parse`], splitting directly only when allowed to (`plain`;
    /// tests compare both ways).
    fn parse_as(mut self, plain: bool) -> Result<ColumnBatch> {
        // Sniffed as UTF-8 from ASCII only: a chunk that is not UTF-8 is a
        // Windows-1252 export whose first accented letter came late (600
        // "Curaçaos" rows after the first megabyte were quarantined).
        if let Some((lines, first)) = &self.late_1252
            && self.encoding == Encoding::Utf8
            && !self.is_utf8()
        {
            self.encoding = Encoding::Windows1252;
            lines.fetch_add(self.lines.max(1), Ordering::Relaxed);
            first.fetch_min(self.first_line, Ordering::Relaxed);
        }
        let width = self.columns.len();
        let mut malformed = Vec::new();
        // Room for every record up front (growing the columns row by row
        // reallocated and copied them several times per chunk); the text
        // is guessed as an equal share of the chunk per column.
        let rows = usize::try_from(self.lines).unwrap_or(0) + 1;
        let text_bytes = self.bytes.len() / width.max(1);
        let mut texts: Vec<Option<TextColumn>> = (0..width)
            .map(|i| {
                self.needed
                    .get(i)
                    .copied()
                    .unwrap_or(true)
                    .then(|| TextColumn::with_capacity(rows, text_bytes))
            })
            .collect();
        let mut row_numbers = Vec::with_capacity(rows);
        if let Some(text) = self.plain_text().filter(|_| plain) {
            let blank = split_plain(
                text,
                self.delimiter,
                self.first_line,
                &self.columns,
                self.max_field_bytes,
                &mut texts,
                &mut row_numbers,
                &mut malformed,
            );
            self.blank_lines.fetch_add(blank, Ordering::Relaxed);
            return Ok(ColumnBatch {
                row_numbers,
                columns: texts
                    .into_iter()
                    .map(|t| t.map(RawColumn::from_text_column))
                    .collect(),
                malformed,
            });
        }
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(self.delimiter)
            .has_headers(false)
            .flexible(true)
            .double_quote(true)
            .from_reader(&self.bytes[..]);
        let mut record = csv::ByteRecord::new();
        // A UTF-8 chunk is checked once as a whole (one fast pass over
        // megabytes) rather than field by field, which took 6% of a CSV
        // audit; only a chunk with some invalid byte is checked per field,
        // to find the rows to quarantine.
        let whole_utf8 = self.encoding == Encoding::Utf8 && self.is_utf8();
        // The physical line `counted` bytes into the chunk is on.
        let (mut counted, mut line) = (0usize, self.first_line);
        let mut blank = 0;
        let mut sink = Sink {
            texts: &mut texts,
            row_numbers: &mut row_numbers,
            malformed: &mut malformed,
        };
        loop {
            let got = reader.read_byte_record(&mut record).map_err(|e| {
                let at = e.position().map_or(0, |p| p.byte() as usize);
                let l = self.first_line + count_breaks(&self.bytes[..at.min(self.bytes.len())]);
                Error::input(&self.path, format!("cannot read line {l}: {e}"))
            })?;
            if !got {
                break;
            }
            // The record's first line: lines up to its end, less its own
            // terminator and the line breaks inside its fields. (The start
            // position the csv crate reports can include skipped blank lines
            // or the LF of the previous CRLF.)
            let end = reader.position().byte() as usize;
            let (start, before) = (counted, line);
            // Empty lines the parser skipped before the record are blank
            // lines (so that every physical line is accounted for); an LF
            // that ends the previous record's CRLF is not one.
            let lead = self.bytes[start..end]
                .iter()
                .take_while(|b| matches!(b, b'\r' | b'\n'))
                .count();
            let lead_breaks = count_breaks_in(&self.bytes, start, start + lead);
            blank += lead_breaks
                - u64::from(
                    start > 0 && self.bytes[start] == b'\n' && self.bytes[start - 1] == b'\r',
                );
            let (breaks, quotes) = breaks_and_quotes(&self.bytes, counted, end);
            line += breaks;
            // A record that runs into the end of the file inside an open
            // quote has no terminator: its last line break is in its field.
            let open_quote = quotes % 2 == 1;
            counted = end;
            let terminated = !open_quote
                && match end.checked_sub(1).map(|i| self.bytes[i]) {
                    Some(b'\n') => true,
                    Some(b'\r') => self.bytes.get(end) != Some(&b'\n'),
                    _ => false,
                };
            let mut inner = 0;
            let line = if line - before == u64::from(terminated) {
                // The usual case: one line, no blank lines before it.
                before
            } else if quotes == 0 {
                // No quoted field, so no line break inside one (the usual
                // case of CRLF files, whose record slices start at the LF
                // of the record before).
                line - u64::from(terminated)
            } else {
                inner = line_breaks(&record);
                line - u64::from(terminated) - inner
            };
            if record.len() == 1 && record[0].iter().all(|b| b.is_ascii_whitespace()) {
                blank += 1;
                continue;
            }
            // A quoted field over several lines that breaks the record (the
            // wrong number of fields, a field past the bounds) is a stray
            // quote's doing, not a field: each of its lines is read on its own.
            if inner > 0
                && (record.len() != width
                    || record.iter().any(|f| {
                        f.len() > self.max_field_bytes || count_breaks(f) > self.max_field_lines
                    }))
            {
                blank += self.read_region(
                    start + lead,
                    end,
                    before + lead_breaks,
                    whole_utf8,
                    &mut sink,
                );
                continue;
            }
            if inner > 0 {
                self.multi_line.fetch_add(inner, Ordering::Relaxed);
            }
            // The record as the file has it: less blank lines the parser
            // skipped before it and its own line break.
            let mut raw = &self.bytes[start..end];
            while let [b'\r' | b'\n', rest @ ..] = raw {
                raw = rest;
            }
            while let [rest @ .., b'\r' | b'\n'] = raw {
                raw = rest;
            }
            self.take(&record, raw, line, whole_utf8, &mut sink);
        }
        // Empty lines after the last record.
        if counted < self.bytes.len() {
            blank += count_breaks_in(&self.bytes, counted, self.bytes.len())
                - u64::from(
                    counted > 0 && self.bytes[counted] == b'\n' && self.bytes[counted - 1] == b'\r',
                );
        }
        self.blank_lines.fetch_add(blank, Ordering::Relaxed);
        let columns = texts
            .into_iter()
            .map(|t| t.map(RawColumn::from_text_column))
            .collect();
        Ok(ColumnBatch {
            row_numbers,
            columns,
            malformed,
        })
    }
}

/// Where a chunk's records go.
struct Sink<'a> {
    texts: &'a mut [Option<TextColumn>],
    row_numbers: &'a mut Vec<u64>,
    malformed: &'a mut Vec<MalformedRow>,
}

impl Chunk {
    /// One record on physical line `line`: its fields into the columns, or
    /// a malformed row (another number of fields than the header, a field
    /// longer than the bound, text not in the file's encoding).
    fn take(
        &self,
        record: &csv::ByteRecord,
        raw: &[u8],
        line: u64,
        whole_utf8: bool,
        sink: &mut Sink,
    ) {
        let width = self.columns.len();
        if record.len() != width {
            sink.malformed.push(MalformedRow {
                row: line,
                message: field_count_message(line, record.len(), width, self.delimiter),
                raw: raw_text(raw, self.encoding),
            });
            return;
        }
        if let Some(i) = record.iter().position(|f| f.len() > self.max_field_bytes) {
            sink.malformed.push(MalformedRow {
                row: line,
                message: too_long_message(
                    line,
                    &self.columns[i],
                    record[i].len(),
                    self.max_field_bytes,
                ),
                raw: raw_text(raw, self.encoding),
            });
            return;
        }
        if whole_utf8 {
            for (field, column) in record.iter().zip(sink.texts.iter_mut()) {
                if let Some(column) = column {
                    // SAFETY: `bytes` is valid UTF-8, and a field is its
                    // bytes less ASCII ones (quotes), split at ASCII ones
                    // (delimiters, line breaks): an ASCII byte is never
                    // part of a multi-byte character, so every piece
                    // starts and ends on a character boundary.
                    column.push(unsafe { std::str::from_utf8_unchecked(field) });
                }
            }
            sink.row_numbers.push(line);
            return;
        }
        for (i, field) in record.iter().enumerate() {
            match decode(field, self.encoding) {
                Ok(text) => {
                    if let Some(column) = &mut sink.texts[i] {
                        column.push(&text);
                    }
                }
                Err(m) => {
                    // Take back this row's fields so far: it is quarantined whole.
                    for column in sink.texts[..i].iter_mut().flatten() {
                        column.pop();
                    }
                    sink.malformed.push(MalformedRow {
                        row: line,
                        message: format!("column \"{}\": {m}", self.columns[i]),
                        raw: raw_text(raw, self.encoding),
                    });
                    return;
                }
            }
        }
        sink.row_numbers.push(line);
    }

    /// A malformed region, `bytes[from..to]` starting on line `first`: a
    /// quote left open runs over records. Each physical line is read on
    /// its own: a line with an even number of quotes and the header's
    /// number of fields is a record; any other (the line with the stray
    /// quote) is malformed, with the region's lines named. Returns the
    /// blank lines (empty or blanks only) in it.
    fn read_region(
        &self,
        from: usize,
        to: usize,
        first: u64,
        whole_utf8: bool,
        sink: &mut Sink,
    ) -> u64 {
        let bytes = &self.bytes[from..to];
        // (line number, start, end) of every physical line, line breaks left out.
        let mut lines = Vec::new();
        let (mut start, mut line) = (0, first);
        for at in memchr::memchr2_iter(b'\r', b'\n', bytes) {
            if bytes[at] == b'\r' && bytes.get(at + 1) == Some(&b'\n') {
                continue; // counted at its LF
            }
            let stop = if bytes[at] == b'\n' && at > start && bytes[at - 1] == b'\r' {
                at - 1
            } else {
                at
            };
            lines.push((line, start, stop));
            (start, line) = (at + 1, line + 1);
        }
        if start < bytes.len() {
            lines.push((line, start, bytes.len()));
        }
        // Empty lines inside the region are blank lines.
        let empty = lines.iter().filter(|&&(_, a, b)| a == b).count() as u64;
        lines.retain(|&(_, a, b)| a < b);
        let Some(&(last, _, _)) = lines.last() else {
            return empty;
        };
        let first_line = lines[0].0;
        self.region_lines
            .fetch_add(lines.len() as u64, Ordering::Relaxed);
        let mut blank = empty;
        let mut record = csv::ByteRecord::new();
        for &(n, a, b) in &lines {
            let text = &bytes[a..b];
            if text.iter().all(u8::is_ascii_whitespace) {
                blank += 1;
                continue;
            }
            let quotes = memchr::memchr_iter(b'"', text).count();
            if quotes % 2 == 1 {
                sink.malformed.push(MalformedRow {
                    row: n,
                    message: format!(
                        "line {n} opens a quote (\") it does not close, so lines {first_line}–{last} read as one field; a stray quote? Each of those lines is read on its own, and this one is malformed"
                    ),
                    raw: raw_text(text, self.encoding),
                });
                continue;
            }
            let mut reader = csv::ReaderBuilder::new()
                .delimiter(self.delimiter)
                .has_headers(false)
                .flexible(true)
                .double_quote(true)
                .from_reader(text);
            match reader.read_byte_record(&mut record) {
                Ok(true) => self.take(&record, text, n, whole_utf8, sink),
                _ => sink.malformed.push(MalformedRow {
                    row: n,
                    message: format!("line {n} cannot be read as a record"),
                    raw: raw_text(text, self.encoding),
                }),
            }
        }
        blank
    }

    /// The chunk as text when it can be split without the CSV parser: UTF-8
    /// without a quote character or a lone CR. Then every record is one
    /// line (LF or CRLF) and every field the text between delimiters.
    fn plain_text(&self) -> Option<&str> {
        if self.encoding != Encoding::Utf8
            || !self.delimiter.is_ascii()
            || matches!(self.delimiter, b'\r' | b'\n' | b'"')
            || memchr::memchr(b'"', &self.bytes).is_some()
        {
            return None;
        }
        let lone_cr = memchr::memchr_iter(b'\r', &self.bytes)
            .any(|at| self.bytes.get(at + 1) != Some(&b'\n'));
        if lone_cr {
            return None;
        }
        // SAFETY: checked by `is_utf8`.
        self.is_utf8()
            .then(|| unsafe { std::str::from_utf8_unchecked(&self.bytes) })
    }

    /// Whether the chunk is valid UTF-8: one pass over its bytes, shared by
    /// the encoding fallback, the plain split and the parser.
    fn is_utf8(&self) -> bool {
        *self
            .utf8
            .get_or_init(|| std::str::from_utf8(&self.bytes).is_ok())
    }
}

/// Splits a plain chunk (see [`Chunk::plain_text`]) into columns, exactly as
/// the CSV parser reads it: an empty line or a line of blanks is counted
/// as a blank line, a line of the wrong width is malformed. Returns
/// the blank lines. One pass over the bytes, noting where each field ends:
/// the parser's byte-by-byte state machine was a seventh of a CSV audit,
/// and a memchr call per field (fields are a few bytes) no faster.
#[allow(clippy::too_many_arguments)]
fn split_plain(
    text: &str,
    delimiter: u8,
    first_line: u64,
    columns: &[String],
    max_field_bytes: usize,
    texts: &mut [Option<TextColumn>],
    row_numbers: &mut Vec<u64>,
    malformed: &mut Vec<MalformedRow>,
) -> u64 {
    let bytes = text.as_bytes();
    let width = columns.len();
    let mut blank = 0;
    // Where the fields of the current line end (at a delimiter).
    let mut ends: Vec<usize> = Vec::with_capacity(width);
    let (mut start, mut line) = (0, first_line);
    while start < bytes.len() {
        ends.clear();
        let mut at = start;
        while at < bytes.len() && bytes[at] != b'\n' {
            if bytes[at] == delimiter {
                ends.push(at);
            }
            at += 1;
        }
        let stop = if at > start && bytes[at - 1] == b'\r' {
            at - 1
        } else {
            at
        };
        let (first, this_line) = (start, line);
        let record = &text[first..stop];
        (start, line) = (at + 1, line + 1);
        if record.is_empty() {
            blank += 1;
            continue;
        }
        let found = ends.len() + 1;
        if found == 1 && record.bytes().all(|b| b.is_ascii_whitespace()) {
            blank += 1;
            continue;
        }
        if found != width {
            malformed.push(MalformedRow {
                row: this_line,
                message: field_count_message(this_line, found, width, delimiter),
                raw: record.to_string(),
            });
            continue;
        }
        if record.len() > max_field_bytes {
            let mut from = first;
            let long = ends
                .iter()
                .copied()
                .chain([stop])
                .enumerate()
                .find_map(|(i, end)| {
                    let len = end - from;
                    from = end + 1;
                    (len > max_field_bytes).then_some((i, len))
                });
            if let Some((i, len)) = long {
                malformed.push(MalformedRow {
                    row: this_line,
                    message: too_long_message(this_line, &columns[i], len, max_field_bytes),
                    raw: record.to_string(),
                });
                continue;
            }
        }
        let mut from = first;
        for (end, column) in ends.iter().copied().chain([stop]).zip(texts.iter_mut()) {
            if let Some(column) = column {
                column.push(&text[from..end]);
            }
            from = end + 1;
        }
        row_numbers.push(this_line);
    }
    blank
}

/// The message of a record with `found` fields where the header has `width`.
fn field_count_message(line: u64, found: usize, width: usize, delimiter: u8) -> String {
    format!(
        "line {line} has {found} fields but the header has {width} (delimiter \"{}\"); check quoting",
        if delimiter == b'\t' {
            "tab".to_string()
        } else {
            (delimiter as char).to_string()
        }
    )
}

/// A record's text for the quarantine, whole, in the file's encoding
/// (invalid bytes replaced).
fn raw_text(bytes: &[u8], encoding: Encoding) -> String {
    match decode(bytes, encoding) {
        Ok(text) => text.into_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The message of a field longer than [`InputConfig::max_field_bytes`].
fn too_long_message(line: u64, column: &str, len: usize, max: usize) -> String {
    format!(
        "line {line}: column \"{column}\" holds {len} bytes, more than [input] max_field_bytes = {max}; a stray quote, or a field no export has?"
    )
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
        // Read on until the chunk holds at least one whole record.
        let mut bytes = std::mem::take(&mut self.carry);
        // Room for the whole chunk up front: growing it step by step copied
        // it and faulted in fresh pages several times per chunk.
        bytes.reserve(self.chunk_bytes);
        let cut = loop {
            let n = (&mut self.file)
                .take(self.chunk_bytes as u64)
                .read_to_end(&mut bytes)
                .map_err(|e| Error::io(&self.path, e))?;
            if n == 0 {
                self.done = true;
                break bytes.len();
            }
            if let Some(end) = last_record_end(&bytes) {
                break end;
            }
            // No record ends in what was read: a quote is open. Past the
            // longest record the bounds allow it is a malformed region (the
            // chunk's parser reads it line by line), so the chunk ends at
            // its last line break instead of growing to the next quote,
            // which may be the end of the file.
            let longest = self.columns.len() * (self.max_field_bytes + 3) + 2;
            if bytes.len() > longest
                && let Some(lf) = memchr::memrchr(b'\n', &bytes)
            {
                break lf + 1;
            }
        };
        if bytes.is_empty() {
            return Ok(None);
        }
        self.carry = bytes.split_off(cut);
        self.position += bytes.len() as u64;
        let first_line = self.next_line;
        let lines = count_breaks(&bytes);
        self.next_line += lines;
        if self.done {
            self.position = self.total_bytes;
        }
        let chunk = Chunk {
            bytes,
            first_line,
            lines,
            delimiter: self.delimiter,
            encoding: self.encoding,
            columns: self.columns.clone(),
            needed: self.needed.clone(),
            blank_lines: Arc::clone(&self.blank_lines),
            path: self.path.clone(),
            max_field_bytes: self.max_field_bytes,
            max_field_lines: self.max_field_lines,
            multi_line: Arc::clone(&self.multi_line),
            region_lines: Arc::clone(&self.region_lines),
            late_1252: self.ascii_sniff.then(|| {
                (
                    Arc::clone(&self.late_1252),
                    Arc::clone(&self.late_1252_first),
                )
            }),
            utf8: std::cell::OnceCell::new(),
        };
        Ok(Some(Box::new(move || chunk.parse())))
    }

    fn progress(&self) -> u64 {
        self.position
    }

    fn progress_total(&self) -> u64 {
        self.total_bytes
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = self.notes.clone();
        let late = self.late_1252.load(Ordering::Relaxed);
        if late > 0 {
            notes.push(format!(
                "text that is not UTF-8 came after the first megabyte (all ASCII, which fits both encodings): the part of the file from line {} ({late} lines) was read as Windows-1252; set [input] encoding to choose",
                self.late_1252_first.load(Ordering::Relaxed)
            ));
        }
        if self.encoding_detected && self.encoding == Encoding::Windows1252 {
            notes.push("read as Windows-1252 (the file is not valid UTF-8)".into());
        }
        let blank = self.blank_lines.load(Ordering::Relaxed);
        if blank > 0 {
            notes.push(format!("{blank} blank line(s) skipped (not rows)"));
        }
        let inner = self.multi_line.load(Ordering::Relaxed);
        if inner > 0 {
            notes.push(format!(
                "{inner} line break(s) inside quoted fields: those records span several lines, so rows read are fewer than the file's lines"
            ));
        }
        let region = self.region_lines.load(Ordering::Relaxed);
        if region > 0 {
            notes.push(format!(
                "{region} line(s) where a quote was left open across records (a stray quote) were read one line at a time: a line that is a whole record on its own is read, the others are quarantined as malformed lines"
            ));
        }
        notes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_end_at_line_feeds_outside_quotes() {
        assert_eq!(last_record_end(b"a;b\r\n1;2\r\n3;"), Some(10));
        assert_eq!(last_record_end(b"a;\"x\ny\"\n1;\"open\n"), Some(8));
        assert_eq!(last_record_end(b"1;\"still\nopen"), None);
        assert_eq!(last_record_end(b"1;\"say \"\"hi\"\"\"\n2"), Some(15));
        assert_eq!(count_breaks(b"a\r\nb\rc\nd"), 3);
        assert_eq!(count_breaks(b"\r\r\n\r"), 3);
        // A CRLF split between two parts counts once, in the part with its LF.
        assert_eq!(count_breaks_in(b"a\r\nb", 0, 2), 0);
        assert_eq!(count_breaks_in(b"a\r\nb", 2, 4), 1);
        assert_eq!(count_breaks_in(b"a\rb", 0, 2), 1);
        for (text, from, to) in [
            (&b"1;\"a\r\nb\";\"\"\r\n"[..], 0, 13),
            (b"a\r\nb", 0, 2),
            (b"a\r\nb", 2, 4),
            (b"\r\r\n\"\r", 0, 5),
            (b"x;y", 0, 3),
        ] {
            let quotes = text[from..to].iter().filter(|&&b| b == b'"').count();
            let expected = (count_breaks_in(text, from, to), quotes);
            assert_eq!(breaks_and_quotes(text, from, to), expected);
        }
    }

    /// Every batch of a source, as (row numbers, cells, malformed rows).
    fn read_all(path: &Path, chunk_bytes: usize) -> (Vec<u64>, Vec<Vec<String>>, Vec<u64>) {
        let mut src = CsvSource::open(path, &InputConfig::default()).unwrap();
        src.chunk_bytes = chunk_bytes;
        let (mut rows, mut cells, mut bad) = (Vec::new(), Vec::new(), Vec::new());
        while let Some(job) = src.next_batch().unwrap() {
            let b = job().unwrap();
            for i in 0..b.rows() {
                cells.push(
                    (0..b.columns.len())
                        .map(|c| b.cell(c, i).display().into_owned())
                        .collect(),
                );
            }
            rows.extend(&b.row_numbers);
            bad.extend(b.malformed.iter().map(|m| m.row));
        }
        (rows, cells, bad)
    }

    #[test]
    fn tiny_chunks_give_the_same_rows_and_line_numbers_as_one_chunk() {
        // CRLF, BOM, quoted delimiters, quoted CRLF line breaks, escaped
        // quotes, a blank line and a short row: cut anywhere.
        let mut text = String::from("\u{feff}id;note;n\r\n");
        for i in 0..60 {
            match i % 6 {
                0 => text.push_str(&format!("{i};\"two\r\nlines\";1\r\n")),
                1 => text.push_str(&format!("{i};\"semi;colon \"\"q\"\"\";2\r\n")),
                2 => text.push_str("\r\n"),
                3 => text.push_str(&format!("{i};short\r\n")),
                _ => text.push_str(&format!("{i};plain;3\r\n")),
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, &text).unwrap();
        let whole = read_all(&path, CHUNK_BYTES);
        assert_eq!(whole.0.len() + whole.2.len(), 50);
        assert_eq!(whole.0[..3], [2, 4, 7]); // line 5 is blank, line 6 short
        assert_eq!(whole.2[..2], [6, 13]);
        assert_eq!(whole.1[0], ["0", "two\r\nlines", "1"]);
        assert_eq!(whole.1[1], ["1", "semi;colon \"q\"", "2"]);
        for chunk in [1, 7, 23, 64] {
            assert_eq!(read_all(&path, chunk), whole, "chunks of {chunk} bytes");
        }
        // A quote left open at the end: its lines are read one at a time,
        // and neither is a record of three fields.
        text.push_str("99;\"open;x\r\n100;y\r\n");
        std::fs::write(&path, &text).unwrap();
        let last_line = 1 + text.matches('\n').count() as u64 - 2;
        let open = read_all(&path, CHUNK_BYTES);
        assert_eq!(open.2[open.2.len() - 2..], [last_line, last_line + 1]);
        assert_eq!(open.0.len(), whole.0.len());
        for chunk in [1, 7, 23, 64] {
            assert_eq!(read_all(&path, chunk), open, "chunks of {chunk} bytes");
        }
    }

    /// Every line of a file with stray quotes: what the quarantine and the
    /// rows must be, however the file is cut into chunks.
    #[test]
    fn a_stray_quote_costs_its_own_line_not_the_records_after_it() {
        let mut text = String::from("id;unit;n\n");
        for i in 2..=400 {
            match i {
                // A stray quote at a field's start, closed by another 100 lines on.
                50 | 150 => text.push_str(&format!("{i};\"Rotterdam;1\n")),
                // A legitimate quoted line break: one record over two lines.
                200 => text.push_str(&format!("{i};\"two\nlines\";1\n")),
                201 => continue,
                // One left open to the end of the file.
                300 => text.push_str(&format!("{i};Utrecht;\"1\n")),
                _ => text.push_str(&format!("{i};Utrecht;1\n")),
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, &text).unwrap();
        let whole = read_all(&path, CHUNK_BYTES);
        assert_eq!(whole.2, [50, 150, 300]);
        let rows = &whole.0;
        assert_eq!(rows.len(), 399 - 1 - 3);
        assert!(rows.contains(&49) && rows.contains(&51) && rows.contains(&149));
        assert!(rows.contains(&200) && !rows.contains(&201) && rows.contains(&301));
        assert_eq!(rows.last(), Some(&400));
        for chunk in [1, 7, 64, 1000] {
            assert_eq!(read_all(&path, chunk), whole, "chunks of {chunk} bytes");
        }
        // The open quote from line 300 to the end is cut off by the bound
        // on a record's length (three fields of 20 bytes), not carried to
        // the end of the file: same rows, small chunks.
        let mut src = CsvSource::open(
            &path,
            &InputConfig {
                max_field_bytes: Some(20),
                ..InputConfig::default()
            },
        )
        .unwrap();
        src.chunk_bytes = 16;
        let (mut rows, mut bad, mut largest) = (Vec::new(), Vec::new(), 0);
        while let Some(job) = src.next_batch().unwrap() {
            largest = largest.max(src.carry.len());
            let b = job().unwrap();
            rows.extend(b.row_numbers);
            bad.extend(b.malformed.iter().map(|m| m.row));
        }
        assert_eq!((rows, bad), (whole.0.clone(), whole.2.clone()));
        // At most the longest record (3 × 23 + 2 bytes) and one read.
        assert!(largest <= 71 + 16, "{largest}");
    }

    #[test]
    fn a_field_past_the_bounds_is_a_malformed_line_kept_whole() {
        let long = "x".repeat(10_001);
        let many = "a\n".repeat(21);
        let text = format!("id;unit;n\n1;{long};1\n2;\"{long}\";1\n3;\"{many}\";1\n4;Utrecht;1\n");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.csv");
        std::fs::write(&path, &text).unwrap();
        let mut src = CsvSource::open(&path, &InputConfig::default()).unwrap();
        let (mut rows, mut bad) = (Vec::new(), Vec::new());
        while let Some(job) = src.next_batch().unwrap() {
            let b = job().unwrap();
            rows.extend(b.row_numbers);
            bad.extend(b.malformed);
        }
        // Line 4 opens a quote over 21 line breaks: its 22 lines are read
        // one by one, none a record (each "a" is one field; the last `";1`).
        assert_eq!(rows, [26]);
        assert_eq!(bad[0].row, 2);
        assert!(
            bad[0].message.contains("column \"unit\" holds 10001 bytes"),
            "{}",
            bad[0].message
        );
        assert_eq!(bad[0].raw, format!("1;{long};1"));
        assert_eq!(bad[1].row, 3);
        assert_eq!(bad[1].raw, format!("2;\"{long}\";1"));
        assert_eq!(bad.len(), 2 + 22);
        assert!(
            src.notes()
                .iter()
                .any(|n| n.contains("22 line(s) where a quote was left open")),
            "{:?}",
            src.notes()
        );
    }

    /// A chunk of `text` after a header of three columns.
    fn chunk_of(text: &str) -> Chunk {
        Chunk {
            bytes: text.as_bytes().to_vec(),
            first_line: 2,
            lines: count_breaks(text.as_bytes()),
            delimiter: b';',
            encoding: Encoding::Utf8,
            columns: vec!["a".into(), "b".into(), "c".into()],
            needed: vec![true, false, true],
            blank_lines: Arc::default(),
            path: PathBuf::from("t.csv"),
            max_field_bytes: 10_000,
            max_field_lines: 20,
            multi_line: Arc::default(),
            region_lines: Arc::default(),
            late_1252: None,
            utf8: std::cell::OnceCell::new(),
        }
    }

    /// A batch as comparable values: rows, cells, malformed rows and blank lines.
    type Parsed = (Vec<u64>, Vec<Vec<String>>, Vec<(u64, String, String)>, u64);

    fn read_chunk(text: &str, plain: bool) -> Parsed {
        let chunk = chunk_of(text);
        let blank = Arc::clone(&chunk.blank_lines);
        let b = chunk.parse_as(plain).unwrap();
        let cells = (0..b.rows())
            .map(|i| {
                [0, 2]
                    .iter()
                    .map(|&c| b.cell(c, i).display().into_owned())
                    .collect()
            })
            .collect();
        let bad = b
            .malformed
            .iter()
            .map(|m| (m.row, m.message.clone(), m.raw.clone()))
            .collect();
        (b.row_numbers, cells, bad, blank.load(Ordering::Relaxed))
    }

    proptest::proptest! {
        /// Plain chunks split directly read exactly as the CSV parser reads
        /// them: rows, line numbers, cells, malformed rows, blank lines.
        #[test]
        fn plain_chunks_split_as_the_parser_reads_them(
            lines in proptest::collection::vec(
                (
                    proptest::collection::vec("[a-zé0-9 ,]{0,4}", 1..5),
                    proptest::prop_oneof![
                        proptest::strategy::Just(""),
                        proptest::strategy::Just("  "),
                        proptest::strategy::Just("\t"),
                    ],
                    0..3usize,
                    proptest::bool::ANY,
                ),
                0..40,
            ),
            last_break in proptest::bool::ANY,
        ) {
            let mut text = String::new();
            for (fields, blank, kind, crlf) in &lines {
                match kind {
                    0 => text.push_str(&fields.join(";")),
                    1 => text.push_str(blank),
                    _ => text.push_str(&fields[..fields.len().min(3)].join(";")),
                }
                text.push_str(if *crlf { "\r\n" } else { "\n" });
            }
            if !last_break {
                text.pop();
            }
            proptest::prop_assume!(chunk_of(&text).plain_text().is_some());
            proptest::prop_assert_eq!(read_chunk(&text, true), read_chunk(&text, false));
        }
    }

    #[test]
    fn chunks_with_quotes_or_lone_carriage_returns_are_not_plain() {
        assert!(chunk_of("1;2;3\r\n4;5;6").plain_text().is_some());
        assert!(chunk_of("1;\"2\";3\n").plain_text().is_none());
        assert!(chunk_of("1;2;3\r4;5;6\n").plain_text().is_none());
        let mut latin = chunk_of("1;caf\u{e9};3\n");
        latin.bytes = b"1;caf\xe9;3\n".to_vec();
        assert!(latin.plain_text().is_none());
    }

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
