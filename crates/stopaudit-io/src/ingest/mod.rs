//! Ingestion: input files -> canonical stops + quarantine, losing nothing.
//!
//! All files are opened and their columns mapped before any row is read, so a
//! file-level problem (missing file, unsupported format, missing required
//! column) stops the run before anything is written. Then each file is read
//! in batches: batch jobs on the rayon pool decode, validate, scope, code and
//! count their rows; in file order, duplicates are checked (first valid
//! occurrence kept, see [`stop_ids`]) and rejected rows go to quarantine.
//! The result is the count cube, the dictionaries and a summary. The
//! invariant rows_read = rows_analyzed + rows_quarantined + rows_out_of_scope
//! is checked per file (rows out of scope are valid rows that the
//! `--period`/`--where` scope leaves out). See docs/architecture.md.

mod batch;
mod columnar;
pub mod csv;
pub(crate) mod datetime;
mod jsonl;
pub mod mapping;
mod nested;
mod parquet;
mod source;
mod stop_ids;
mod validate;
mod xlsx;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::quarantine::{QuarantineRecord, QuarantineSink, Reason, ReasonCounts};
use source::{Cell, Format, Source};
pub use stop_ids::IdLimits;
use stop_ids::StopIds;
pub use stopaudit_core::accounting::{FileSummary, IngestSummary, hex, sha256_file};
use stopaudit_core::canonical::{Dictionaries, NONE_U32, StopBatch};
use stopaudit_core::codes::CodeLists;
use stopaudit_core::config::Config;
use stopaudit_core::counting::{BatchCounts, CountCube, CountPlan, CubeBuilder, SharedCube};
use stopaudit_core::error::{Error, Result};
use stopaudit_core::scope::Scope;
use validate::{CheckedBatch, Validator};

/// Everything ingestion produces.
pub struct Ingested {
    pub summary: IngestSummary,
    /// The run's dictionaries of text and group values.
    pub dicts: Dictionaries,
    /// Counts of the analysed stops.
    pub cube: CountCube,
}

/// What the batch jobs of one file share.
struct FileContext {
    validator: Validator,
    scope: Scope,
    codes: CodeLists,
    attributes: Vec<String>,
    tz: chrono_tz::Tz,
    cube: std::sync::Arc<SharedCube>,
    /// Sun tables of the veil-of-darkness test, when it is on.
    daylight: Option<std::sync::Arc<stopaudit_core::daylight::Daylight>>,
    display: String,
    columns: Vec<String>,
}

/// One batch after the work that can run on any thread: checked, its
/// rejections turned into quarantine records, its valid in-scope stops
/// coded and counted.
struct Processed {
    batch: batch::ColumnBatch,
    checked: CheckedBatch,
    rows_read: u64,
    rejected: Vec<QuarantineRecord>,
    /// Valid rows the scope leaves out (by batch row).
    out_of_scope: Vec<u32>,
    stops: StopBatch,
    /// The run's codes of the batch's text and group values.
    text_codes: Vec<Vec<u32>>,
    group_codes: Vec<Vec<u32>>,
    /// Missing values among `stops`, indexed like [`missing_fields`] then attributes.
    missing: Vec<u64>,
    /// First and last `stopped_at` among `stops`.
    span: Option<(i64, i64)>,
    /// Stop ids of the valid rows, grouped for the duplicate check.
    ids: stop_ids::IdBuckets,
}

impl FileContext {
    /// Checks a batch, codes its valid in-scope stops and counts them: all
    /// that does not depend on earlier batches.
    fn process(&self, batch: batch::ColumnBatch) -> Processed {
        let checked = self.validator.validate_batch(&batch);
        let mut rejected: Vec<QuarantineRecord> = batch
            .malformed
            .iter()
            .map(|m| QuarantineRecord {
                file: self.display.clone(),
                row: m.row,
                reason: Reason::MalformedLine,
                field: String::new(),
                value: String::new(),
                message: m.message.clone(),
                record: serde_json::Value::String(m.raw.clone()).to_string(),
            })
            .collect();
        let mut keep = vec![true; checked.len()];
        let mut out_of_scope = Vec::new();
        for (i, rejection) in checked.rejections.iter().enumerate() {
            if let Some(r) = rejection {
                keep[i] = false;
                rejected.push(self.record(&batch, i, (**r).clone()));
            } else if !self.scope.is_everything() {
                let stop = checked.stop_row(i).expect("a valid row");
                if !self
                    .scope
                    .matches(&stop, &self.codes, &self.attributes, self.tz)
                {
                    keep[i] = false;
                    out_of_scope.push(i as u32);
                }
            }
        }
        let stops = stop_batch(&checked, &keep);
        let counts = BatchCounts::count(&stops, self.cube.extra_fields());
        let (text_codes, group_codes) = self.cube.codes_of(&stops);
        self.cube.add(&counts, &text_codes, &group_codes);
        self.cube.add_time_tables(
            &stops,
            self.tz,
            self.daylight.as_deref(),
            &text_codes,
            &group_codes,
        );
        let missing = count_missing(&checked, &stops);
        let span = span(stops.fields.stopped_at.iter().copied());
        let ids = stop_ids::IdBuckets::of(&checked);
        Processed {
            rows_read: batch.len() as u64,
            batch,
            checked,
            rejected,
            out_of_scope,
            stops,
            text_codes,
            group_codes,
            missing,
            span,
            ids,
        }
    }

    /// The quarantine record of row `i` of a batch.
    fn record(
        &self,
        batch: &batch::ColumnBatch,
        i: usize,
        r: crate::quarantine::Rejection,
    ) -> QuarantineRecord {
        QuarantineRecord {
            file: self.display.clone(),
            row: batch.row_numbers[i],
            reason: r.reason,
            field: r.field,
            value: r.value,
            message: r.message,
            record: record_json(&self.columns, |c| batch.cell(c, i)),
        }
    }
}

/// The first and last of some instants.
fn span(times: impl Iterator<Item = i64>) -> Option<(i64, i64)> {
    times.fold(None, |acc, t| match acc {
        None => Some((t, t)),
        Some((lo, hi)) => Some((lo.min(t), hi.max(t))),
    })
}

/// The kept rows of a checked batch as canonical stops, with the batch's
/// own dictionaries in order of first appearance.
fn stop_batch(c: &CheckedBatch, keep: &[bool]) -> StopBatch {
    let kept: Vec<u32> = (0..keep.len() as u32)
        .filter(|&i| keep[i as usize])
        .collect();
    let (texts, text_values): (Vec<_>, Vec<_>) = c
        .texts
        .iter()
        .map(|f| recode(f, &kept, |v| v.as_deref()))
        .unzip();
    let (groups, group_values): (Vec<_>, Vec<_>) = c
        .groups
        .iter()
        .map(|f| recode(f, &kept, |v| Some(v.as_str())))
        .unzip();
    StopBatch {
        fields: if kept.len() == keep.len() {
            c.fields.clone()
        } else {
            c.fields.select(&kept)
        },
        rows: kept,
        texts,
        text_values,
        groups,
        group_values,
    }
}

const UNCODED: u32 = u32::MAX - 1;

/// A field's values at the kept rows, recoded 0, 1, ... in order of first
/// appearance (missing values: [`NONE_U32`]).
fn recode<T>(
    field: &validate::Field<T>,
    kept: &[u32],
    text: impl Fn(&T) -> Option<&str>,
) -> (Vec<u32>, Vec<String>) {
    let mut local = vec![UNCODED; field.values.len()];
    let mut values = Vec::new();
    let codes = kept
        .iter()
        .map(|&i| {
            let c = field.codes[i as usize] as usize;
            if local[c] == UNCODED {
                local[c] = match field.values[c].as_ref().and_then(&text) {
                    Some(v) => {
                        values.push(v.to_string());
                        (values.len() - 1) as u32
                    }
                    None => NONE_U32,
                };
            }
            local[c]
        })
        .collect();
    (codes, values)
}

/// Missing values among a batch's stops, column by column (indexed like
/// [`missing_fields`], then the group attributes).
fn count_missing(c: &CheckedBatch, stops: &StopBatch) -> Vec<u64> {
    let count = |n: usize| n as u64;
    let mut m = vec![count(
        stops
            .rows
            .iter()
            .filter(|&&r| c.stop_id[r as usize].is_none())
            .count(),
    )];
    m.extend(
        stops
            .texts
            .iter()
            .map(|t| count(t.iter().filter(|&&v| v == NONE_U32).count())),
    );
    m.extend(stops.fields.missing_counts());
    for (codes, values) in stops.groups.iter().zip(&stops.group_values) {
        m.push(
            match values
                .iter()
                .position(|v| v == stopaudit_core::schema::UNKNOWN_GROUP)
            {
                Some(unknown) => count(codes.iter().filter(|&&g| g == unknown as u32).count()),
                None => 0,
            },
        );
    }
    m
}

/// Adds `sign` (1 or -1) for each field stop `i` of `stops` lacks (in the
/// order of [`count_missing`]).
fn add_missing(m: &mut [u64], c: &CheckedBatch, stops: &StopBatch, i: usize, sign: i64) {
    let flags = std::iter::once(c.stop_id[stops.rows[i] as usize].is_none())
        .chain(stops.texts.iter().map(|t| t[i] == NONE_U32))
        .chain(stops.fields.missing(i))
        .chain(
            stops
                .groups
                .iter()
                .zip(&stops.group_values)
                .map(|(codes, values)| {
                    values[codes[i] as usize] == stopaudit_core::schema::UNKNOWN_GROUP
                }),
        );
    for (slot, missing) in m.iter_mut().zip(flags) {
        if missing {
            *slot = slot.wrapping_add_signed(sign);
        }
    }
}

/// The most batches in flight at once: each holds some 30 MB (a 64K-row
/// Parquet batch, decoded and checked), so memory stays bounded with many
/// threads (with 16 threads and no cap, 33 batches took 1.45 GB on the
/// 10M-row file).
const MAX_IN_FLIGHT: usize = 12;

/// Batches of a source processed on the rayon pool a few at a time
/// (twice the threads and one, at most [`MAX_IN_FLIGHT`]) and handed to
/// `each` in file order on this thread ([`crate::ordered::in_order`]).
fn in_order(
    threads: usize,
    src: &mut dyn Source,
    context: &std::sync::Arc<FileContext>,
    bar: &indicatif::ProgressBar,
    mut each: impl FnMut(Processed) -> Result<()>,
) -> Result<()> {
    let window = (2 * threads.max(1) + 1).min(MAX_IN_FLIGHT);
    crate::ordered::in_order(
        window,
        || {
            bar.set_position(src.progress());
            let Some(job) = src.next_batch()? else {
                return Ok(None);
            };
            let context = std::sync::Arc::clone(context);
            Ok(Some(move |last: bool| {
                let run = || job().map(|b| context.process(b));
                // Only the last batch splits its own work: the others keep
                // the threads busy by themselves (see `nested`). The job
                // lets go of the shared state before answering: once every
                // answer is in, the caller owns it alone.
                if last { run() } else { nested::serially(run) }
            }))
        },
        |processed| each(processed?),
    )
}

/// An input file, opened.
type Opened = (PathBuf, Format, Box<dyn Source>);

/// Reopens the inputs for a second pass, reading the same columns.
fn reopen(
    inputs: &[PathBuf],
    config: &Config,
    mappings: &[mapping::ColumnMapping],
) -> Result<Vec<Opened>> {
    inputs
        .iter()
        .zip(mappings)
        .map(|(path, m)| {
            let format = source::detect_format(path)?;
            let mut src = source::open(path, format, &config.input)?;
            src.project(&m.used_columns());
            Ok((path.clone(), format, src))
        })
        .collect()
}

/// What one scan of the inputs is to do, resolved once by the command.
#[derive(Debug, Clone, Copy)]
pub struct ScanSettings<'a> {
    /// The configuration file (or the defaults).
    pub config: &'a Config,
    /// Its code lists.
    pub codes: &'a CodeLists,
    /// `--period` and `--where`.
    pub scope: &'a Scope,
    /// What to count besides the cube.
    pub plan: &'a CountPlan,
    /// A progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// The duplicate check's memory limits.
    pub id_limits: IdLimits,
    /// Worker threads: batches in flight are at most twice this and one.
    pub threads: usize,
}

/// Runs ingestion: reads, checks and counts every input, quarantining what
/// cannot be used, counting the cube and what `plan` asks for besides the cube (`CountPlan::default()`: the cube
/// alone).
pub fn ingest(
    inputs: &[PathBuf],
    settings: &ScanSettings,
    quarantine: &mut QuarantineSink,
) -> Result<Ingested> {
    let ScanSettings {
        config,
        codes,
        scope,
        plan,
        progress,
        id_limits,
        threads,
    } = *settings;
    if inputs.is_empty() {
        return Err(Error::Usage("no input files given".into()));
    }
    let tz = config.timezone();

    // Open everything and map columns first: file-level errors stop the run here.
    let mut opened: Vec<Opened> = Vec::new();
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
    scope.check(&attributes, codes)?;
    let mut mappings = Vec::new();
    for (path, _, src) in &mut opened {
        let m = mapping::resolve(path, src.columns(), config, &attributes)?;
        src.project(&m.used_columns());
        mappings.push(m);
    }

    let extra_fields = &plan.extra_fields;
    let daylight = plan.daylight.clone();
    let bench_spec = plan.bench.clone();
    let registration_periods = plan.registration_periods;

    // Hash the files on another thread while reading them.
    let paths: Vec<PathBuf> = inputs.to_vec();
    let hasher = std::thread::spawn(move || {
        paths
            .iter()
            .map(|p| sha256_file(p))
            .collect::<Result<Vec<_>>>()
    });

    // A second pass is needed only when duplicate stop ids turn up after
    // the in-memory limit (see `stop_ids`).
    let mut opened = Some(opened);
    let mut late = None;
    let mut read_twice = None;
    let (mut files, reasons, duplicates_checked, state) = loop {
        let mut state = State {
            cube: std::sync::Arc::new(
                SharedCube::new(attributes.len(), extra_fields)
                    .with_benchmark(bench_spec.clone())
                    .with_registration_periods(registration_periods),
            ),
            removed: CubeBuilder::new(extra_fields)
                .with_benchmark(bench_spec.clone())
                .with_registration_periods(registration_periods),
            stop_ids: match late.take() {
                Some(known) => StopIds::knowing(known, id_limits),
                None => StopIds::new(id_limits),
            },
            first: None,
            last: None,
            missing: vec![0; missing_fields().count() + attributes.len()],
        };
        let sources = match opened.take() {
            Some(sources) => sources,
            None => reopen(inputs, config, &mappings)?,
        };
        let mut files = Vec::new();
        let mut reasons = ReasonCounts::default();
        let mut duplicates_checked = true;
        for ((path, format, mut src), mapping) in sources.into_iter().zip(&mappings) {
            if mapping.column("stop_id").is_none() {
                duplicates_checked = false;
            }
            let bar = crate::progress::progress_bar(
                progress,
                src.progress_total(),
                &path.display().to_string(),
                "{percent}% {elapsed_precise}",
            );
            let display = path.display().to_string();
            let context = std::sync::Arc::new(FileContext {
                validator: Validator::new(
                    mapping,
                    codes,
                    tz,
                    config.input.datetime_format.as_deref(),
                    (config.period.start, config.period.end),
                    &config.values,
                ),
                scope: scope.clone(),
                codes: codes.clone(),
                attributes: attributes.clone(),
                tz,
                cube: std::sync::Arc::clone(&state.cube),
                daylight: daylight.clone(),
                display: display.clone(),
                columns: src.columns().to_vec(),
            });
            let stop_id_column = mapping.column("stop_id");
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
            in_order(threads, &mut *src, &context, &bar, |mut p| {
                summary.rows_read += p.rows_read;
                // Duplicates depend on the rows before: the one step in file order.
                let duplicates = state.stop_ids.check(&p.ids)?;
                let mut removed: Vec<usize> = Vec::new();
                let mut duplicate_rows: Vec<u32> = duplicates.into_iter().collect();
                duplicate_rows.sort_unstable();
                for &i in &duplicate_rows {
                    let id = stop_id_column
                        .map(|c| p.batch.cell(c, i as usize).display().trim().to_string())
                        .unwrap_or_default();
                    let rejection = crate::quarantine::Rejection::new(
                        Reason::DuplicateStopId,
                        "stop_id",
                        id.clone(),
                        format!("stop_id \"{id}\" appeared earlier; the first occurrence is kept"),
                    );
                    p.rejected
                        .push(context.record(&p.batch, i as usize, rejection));
                    match p.stops.rows.binary_search(&i) {
                        Ok(s) => removed.push(s),
                        Err(_) => {
                            let at = p
                                .out_of_scope
                                .binary_search(&i)
                                .expect("valid rows are analysed or out of scope");
                            p.out_of_scope.remove(at);
                        }
                    }
                }
                let mut span = p.span;
                if !removed.is_empty() {
                    // Counted already: take the duplicates out again.
                    let mut counts = BatchCounts::empty(extra_fields);
                    let mut view = daylight
                        .as_deref()
                        .map(|d| stopaudit_core::daylight::DaylightBatch::new(d, &p.stops));
                    let mut clock =
                        stopaudit_core::clock::BatchClock::new(tz, &p.stops.fields.stopped_at);
                    for &s in &removed {
                        counts.add(&p.stops, s);
                        state.removed.time_stop(
                            &p.stops,
                            s,
                            (&mut clock, view.as_mut()),
                            (&p.text_codes, &p.group_codes),
                            1,
                        );
                        add_missing(&mut p.missing, &p.checked, &p.stops, s, -1);
                    }
                    state
                        .removed
                        .merge_batch(&counts, &p.text_codes, &p.group_codes);
                    span = self::span(
                        (0..p.stops.len())
                            .filter(|s| removed.binary_search(s).is_err())
                            .map(|s| p.stops.fields.stopped_at[s]),
                    );
                }
                if let Some((lo, hi)) = span {
                    state.first = Some(state.first.map_or(lo, |f| f.min(lo)));
                    state.last = Some(state.last.map_or(hi, |l| l.max(hi)));
                }
                for (total, n) in state.missing.iter_mut().zip(&p.missing) {
                    *total += n;
                }
                let analysed = p.stops.len() - removed.len();
                p.rejected.sort_by_key(|r| r.row);
                summary.rows_quarantined += p.rejected.len() as u64;
                summary.rows_out_of_scope += p.out_of_scope.len() as u64;
                summary.rows_analyzed += analysed as u64;
                for r in &p.rejected {
                    reasons.add(r.reason, 1);
                }
                quarantine.push(std::mem::take(&mut p.rejected))?;
                // Free the batch on the pool, not on this (ordered) thread.
                rayon::spawn(move || drop(p));
                Ok(())
            })?;
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
            if let Some(n) = read_twice {
                summary.notes.push(format!(
                    "read twice: {n} duplicate stop ids were found only after the first pass (more distinct stop ids than fit in memory)"
                ));
            }
            files.push(summary);
        }
        if let Some(found) = state.stop_ids.finish()? {
            read_twice = Some(found.count);
            late = Some(found);
            quarantine.restart();
            continue;
        }
        break (files, reasons, duplicates_checked, state);
    };

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
    let missing_values = state.missing_values(&attributes, |field| {
        files.iter().any(|f| f.columns.contains_key(field))
    });
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
        missing_values,
    };
    let shared = std::sync::Arc::try_unwrap(state.cube)
        .unwrap_or_else(|_| unreachable!("every batch job has finished"));
    let (cube, dicts) = shared.finish(state.removed);
    Ok(Ingested {
        summary,
        dicts,
        cube,
    })
}

/// Optional fields whose missing values are counted, in the order of
/// [`State::missing`] (the group attributes follow).
fn missing_fields() -> impl Iterator<Item = &'static str> {
    std::iter::once("stop_id")
        .chain(stopaudit_core::canonical::TEXT_FIELDS)
        .chain(stopaudit_core::canonical::StopFields::OPTIONAL)
}

/// What ingestion keeps across batches.
struct State {
    cube: std::sync::Arc<SharedCube>,
    /// Counts of stops found to be duplicates after they were counted.
    removed: CubeBuilder,
    stop_ids: StopIds,
    first: Option<i64>,
    last: Option<i64>,
    /// Analysed rows with no value: [`missing_fields`], then group attributes.
    missing: Vec<u64>,
}

impl State {
    /// Fields with at least one missing value among analysed rows.
    /// Fields no input has are absent, not missing: they are left out
    /// (the data-quality diagnostics list them as `absent`).
    fn missing_values(
        &self,
        attributes: &[String],
        present: impl Fn(&str) -> bool,
    ) -> BTreeMap<String, u64> {
        missing_fields()
            .map(str::to_string)
            .chain(attributes.iter().cloned())
            .zip(&self.missing)
            .filter(|(f, n)| **n > 0 && (attributes.contains(f) || present(f)))
            .map(|(f, n)| (f, *n))
            .collect()
    }
}

fn record_json(columns: &[String], cell: impl Fn(usize) -> Cell) -> String {
    let mut map = serde_json::Map::new();
    for (c, name) in columns.iter().enumerate() {
        let value = match cell(c) {
            Cell::Null => serde_json::Value::Null,
            other => serde_json::Value::String(other.display().into_owned()),
        };
        map.insert(name.clone(), value);
    }
    serde_json::Value::Object(map).to_string()
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
