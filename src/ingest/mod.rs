//! Ingestion: input files -> canonical stops + quarantine, losing nothing.
//!
//! All files are opened and their columns mapped before any row is read, so a
//! file-level problem (missing file, unsupported format, missing required
//! column) stops the run before anything is written. Then each file is read
//! in batches, in order: rows are validated in parallel, duplicates are
//! checked in file order (first occurrence kept), valid stops become a
//! canonical frame handed to the caller, and the rest go to quarantine. The
//! invariant rows_read = rows_analyzed + rows_quarantined + rows_out_of_scope
//! is checked per file (rows out of scope are valid rows that the
//! `--period`/`--where` scope leaves out).

pub mod columnar;
pub mod csv;
pub mod datetime;
pub mod jsonl;
pub mod mapping;
pub mod source;
pub mod validate;
pub mod xlsx;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use rayon::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::canonical::{Dictionaries, FrameBuilder};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::quarantine::{QuarantineRecord, QuarantineSink, Reason, ReasonCounts};
use crate::scope::Scope;
use source::{Cell, Format, Source};
use validate::{TEXT_FIELDS, Validator};

/// What happened to one input file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FileSummary {
    /// The path as given.
    pub path: String,
    pub format: Format,
    pub sha256: String,
    pub bytes: u64,
    pub rows_read: u64,
    pub rows_analyzed: u64,
    pub rows_quarantined: u64,
    /// Valid rows outside the scope (`--period`, `--where`).
    pub rows_out_of_scope: u64,
    /// canonical field -> source column(s).
    pub columns: BTreeMap<String, String>,
    pub notes: Vec<String>,
}

/// What happened to all inputs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IngestSummary {
    pub files: Vec<FileSummary>,
    pub rows_read: u64,
    pub rows_analyzed: u64,
    pub rows_quarantined: u64,
    pub rows_out_of_scope: u64,
    pub quarantine_reasons: ReasonCounts,
    /// False when some file had no `stop_id` column: duplicates could not be checked there.
    pub duplicates_checked: bool,
    pub attributes: Vec<String>,
    pub timezone: String,
    /// First and last stop (local ISO time), if any row was analysed.
    pub first_stop: Option<String>,
    pub last_stop: Option<String>,
    /// Analysed rows with no value, per optional field and group attribute.
    pub missing_values: BTreeMap<String, u64>,
}

/// Runs ingestion. `on_frame` receives every canonical frame (in file order)
/// with the dictionaries that decode it so far; the final dictionaries are
/// returned with the summary.
pub fn ingest(
    inputs: &[PathBuf],
    config: &Config,
    scope: &Scope,
    progress: bool,
    quarantine: &mut QuarantineSink,
    on_frame: &mut dyn FnMut(&DataFrame, &Dictionaries) -> Result<()>,
) -> Result<(IngestSummary, Dictionaries)> {
    if inputs.is_empty() {
        return Err(Error::Usage("no input files given".into()));
    }
    let codes = config.code_lists()?;
    let tz = config.timezone();

    // Open everything and map columns first: file-level errors stop the run here.
    let mut opened: Vec<(PathBuf, Format, Box<dyn Source>)> = Vec::new();
    for path in inputs {
        if !path.exists() {
            return Err(Error::input(path, "file not found"));
        }
        let format = source::detect_format(path)?;
        let src = source::open(path, format, &config.input)?;
        opened.push((path.clone(), format, src));
    }
    let attributes = if config.groups.attributes.is_empty() {
        mapping::detect_group_attributes(opened[0].2.columns())
    } else {
        config.groups.attributes.clone()
    };
    scope.check(&attributes, &codes)?;
    let mut mappings = Vec::new();
    for (path, _, src) in &mut opened {
        let m = mapping::resolve(path, src.columns(), config, &attributes)?;
        src.project(&m.used_columns());
        mappings.push(m);
    }

    // Hash the files on another thread while reading them.
    let paths: Vec<PathBuf> = inputs.to_vec();
    let hasher = std::thread::spawn(move || {
        paths
            .iter()
            .map(|p| sha256_file(p))
            .collect::<Result<Vec<_>>>()
    });

    let mut state = State {
        dicts: Dictionaries::new(attributes.len()),
        seen_ids: foldhash::HashSet::default(),
        first: None,
        last: None,
        missing: BTreeMap::new(),
    };
    let mut files = Vec::new();
    let mut reasons = ReasonCounts::default();
    let mut duplicates_checked = true;
    for (file_idx, ((path, format, mut src), mapping)) in
        opened.into_iter().zip(&mappings).enumerate()
    {
        if mapping.column("stop_id").is_none() {
            duplicates_checked = false;
        }
        let bar = progress_bar(progress, &path, src.progress_total());
        let validator = Validator::new(
            mapping,
            &codes,
            tz,
            config.input.datetime_format.as_deref(),
            (config.period.start, config.period.end),
            &config.values,
        );
        let tz_name = tz.name().to_string();
        let display = path.display().to_string();
        let mut summary = FileSummary {
            path: display.clone(),
            format,
            sha256: String::new(),
            bytes: std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0),
            rows_read: 0,
            rows_analyzed: 0,
            rows_quarantined: 0,
            rows_out_of_scope: 0,
            columns: mapping.describe(src.columns()),
            notes: Vec::new(),
        };
        while let Some(batch) = src.next_batch()? {
            summary.rows_read += batch.len() as u64;
            let checked: Vec<_> = batch
                .rows
                .par_iter()
                .map(|row| validator.validate(row))
                .collect();
            let mut builder = FrameBuilder::new(&attributes, &tz_name);
            let mut rejected: Vec<QuarantineRecord> = batch
                .malformed
                .iter()
                .map(|m| QuarantineRecord {
                    file: display.clone(),
                    row: m.row,
                    reason: Reason::MalformedLine,
                    field: String::new(),
                    value: String::new(),
                    message: m.message.clone(),
                    record: serde_json::Value::String(m.raw.clone()).to_string(),
                })
                .collect();
            for ((result, cells), &row) in
                checked.into_iter().zip(&batch.rows).zip(&batch.row_numbers)
            {
                let outcome = result.and_then(|stop| state.check_duplicate(stop));
                match outcome {
                    Ok(stop) if !scope.matches(&stop, &codes, &attributes, tz) => {
                        summary.rows_out_of_scope += 1
                    }
                    Ok(stop) => {
                        state.observe(&stop, &attributes);
                        builder.push(file_idx as u32, row, stop, &mut state.dicts);
                    }
                    Err(r) => rejected.push(QuarantineRecord {
                        file: display.clone(),
                        row,
                        reason: r.reason,
                        field: r.field,
                        value: r.value,
                        message: r.message,
                        record: record_json(src.columns(), cells),
                    }),
                }
            }
            rejected.sort_by_key(|r| r.row);
            summary.rows_quarantined += rejected.len() as u64;
            for r in &rejected {
                reasons.add(r.reason, 1);
            }
            quarantine.push(rejected)?;
            summary.rows_analyzed += builder.len() as u64;
            if !builder.is_empty() {
                let frame = builder.finish().map_err(|e| Error::engine(&path, e))?;
                on_frame(&frame, &state.dicts)?;
            }
            bar.set_position(src.progress());
        }
        bar.finish_and_clear();
        assert_eq!(
            summary.rows_read,
            summary.rows_analyzed + summary.rows_quarantined + summary.rows_out_of_scope,
            "every row of {display} is analysed, quarantined or out of scope"
        );
        summary.notes = src.notes();
        if summary.rows_read == 0 {
            summary
                .notes
                .push("the file has a header but no rows".into());
        }
        if mapping.column("stop_id").is_none() {
            summary
                .notes
                .push("no stop_id column: rows are identified by file and row number, and duplicates could not be checked".into());
        }
        files.push(summary);
    }

    let hashes = hasher
        .join()
        .map_err(|_| Error::Usage("hashing the input files failed".into()))??;
    for (f, h) in files.iter_mut().zip(hashes) {
        f.sha256 = h;
    }
    let rows_read = files.iter().map(|f| f.rows_read).sum();
    let rows_analyzed = files.iter().map(|f| f.rows_analyzed).sum();
    let rows_quarantined = files.iter().map(|f| f.rows_quarantined).sum();
    let rows_out_of_scope = files.iter().map(|f| f.rows_out_of_scope).sum();
    assert_eq!(
        reasons.total(),
        rows_quarantined,
        "quarantine reasons add up"
    );
    let fmt = |ms: Option<i64>| ms.map(|ms| datetime::format_local(ms, tz));
    let summary = IngestSummary {
        files,
        rows_read,
        rows_analyzed,
        rows_quarantined,
        rows_out_of_scope,
        quarantine_reasons: reasons,
        duplicates_checked,
        attributes,
        timezone: tz.name().to_string(),
        first_stop: fmt(state.first),
        last_stop: fmt(state.last),
        missing_values: state.missing,
    };
    Ok((summary, state.dicts))
}

struct State {
    dicts: Dictionaries,
    /// 128-bit hashes of the stop ids seen so far (16 bytes per id instead of the id itself).
    seen_ids: foldhash::HashSet<u128>,
    first: Option<i64>,
    last: Option<i64>,
    missing: BTreeMap<String, u64>,
}

impl State {
    fn check_duplicate(
        &mut self,
        stop: validate::StopRow,
    ) -> std::result::Result<validate::StopRow, crate::quarantine::Rejection> {
        if let Some(id) = &stop.stop_id
            && !self
                .seen_ids
                .insert(xxhash_rust::xxh3::xxh3_128(id.as_bytes()))
        {
            return Err(crate::quarantine::Rejection::new(
                Reason::DuplicateStopId,
                "stop_id",
                id.clone(),
                format!("stop_id \"{id}\" appeared earlier; the first occurrence is kept"),
            ));
        }
        Ok(stop)
    }

    fn observe(&mut self, stop: &validate::StopRow, attributes: &[String]) {
        self.first = Some(
            self.first
                .map_or(stop.stopped_at, |f| f.min(stop.stopped_at)),
        );
        self.last = Some(
            self.last
                .map_or(stop.stopped_at, |l| l.max(stop.stopped_at)),
        );
        let mut miss = |field: &str, missing: bool| {
            if missing {
                *self.missing.entry(field.to_string()).or_default() += 1;
            }
        };
        miss("stop_id", stop.stop_id.is_none());
        for (k, f) in TEXT_FIELDS.iter().enumerate() {
            miss(f, stop.texts[k].is_none());
        }
        miss("latitude", stop.latitude.is_none());
        miss("longitude", stop.longitude.is_none());
        miss("subject_type", stop.subject_type.is_none());
        miss("legal_basis", stop.legal_basis.is_none());
        miss("search_conducted", stop.search_conducted.is_none());
        miss("contraband_found", stop.contraband_found.is_none());
        miss("reason_explained", stop.reason_explained.is_none());
        for (attr, g) in attributes.iter().zip(&stop.groups) {
            miss(attr, g == crate::schema::UNKNOWN_GROUP);
        }
    }
}

fn record_json(columns: &[String], cells: &[Cell]) -> String {
    let mut map = serde_json::Map::new();
    for (name, cell) in columns.iter().zip(cells) {
        let value = match cell {
            Cell::Null => serde_json::Value::Null,
            other => serde_json::Value::String(other.display().into_owned()),
        };
        map.insert(name.clone(), value);
    }
    serde_json::Value::Object(map).to_string()
}

/// SHA-256 of a file, as lowercase hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex(&hasher.finalize()))
}

/// Lowercase hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn progress_bar(enabled: bool, path: &Path, total: u64) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:30}] {percent}% {elapsed_precise}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(path.display().to_string());
    bar
}

/// Expands glob patterns among the inputs (for shells that do not), keeping order.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in inputs {
        let text = p.to_string_lossy();
        if text.contains(['*', '?', '[']) && !p.exists() {
            let mut matched: Vec<PathBuf> = glob::glob(&text)
                .map_err(|e| Error::Usage(format!("bad pattern {text}: {e}")))?
                .filter_map(|r| r.ok())
                .filter(|p| p.is_file())
                .collect();
            if matched.is_empty() {
                return Err(Error::input(p, "no file matches this pattern"));
            }
            matched.sort();
            out.extend(matched);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}
