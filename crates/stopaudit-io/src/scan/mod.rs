//! The scan: one ordered, parallel pass over every input that turns rows
//! into counts, losing nothing.
//!
//! 1. **Open** ([`open`]): every file is opened and its columns mapped
//!    before any row is read, so a file-level problem (missing file,
//!    unsupported format, missing required column) stops the run before
//!    anything is written.
//! 2. **Batch jobs** ([`job`]): each file is read in batches; on the rayon
//!    pool, a job per batch validates, scopes, codes and counts its rows
//!    into the shared cube.
//! 3. **The ordered step** ([`step`]): in file order, duplicates are
//!    checked (the first valid occurrence kept, see `stop_ids`), rejected
//!    rows go to quarantine, and the rows are accounted for; the invariant
//!    rows_read = rows_analyzed + rows_quarantined + rows_out_of_scope is
//!    checked per file (rows out of scope are valid rows that the
//!    `--period`/`--where` scope leaves out).
//! 4. **Finish**: the cube, the dictionaries and a summary with the files'
//!    SHA-256 (hashed on another thread while they are read).
//!
//! What to count besides the cube is the caller's [`CountPlan`]. See
//! docs/architecture.md.

mod job;
mod step;
pub(crate) use step::missing_fields;

/// The note of a file with a header and no rows (also the Spark job's).
pub(crate) const NO_ROWS_NOTE: &str = "the file has a header but no rows";
/// The note of a file without a `stop_id` column (also the Spark job's).
pub(crate) const NO_STOP_ID_NOTE: &str = "no stop_id column: rows are identified by file and row number, and duplicates could not be checked";
mod stop_ids;

use std::path::PathBuf;
use std::sync::Arc;

use crate::quarantine::{QuarantineSink, ReasonCounts};
use crate::read::source::Source;
use crate::read::{self, Format, mapping};
use crate::validate::Validator;
use job::FileContext;
use step::{FileStep, State};
pub use stop_ids::IdLimits;
use stop_ids::StopIds;
use stopaudit_core::accounting::{FileSummary, IngestSummary, sha256_file};
use stopaudit_core::canonical::Dictionaries;
use stopaudit_core::codes::CodeLists;
use stopaudit_core::config::Config;
use stopaudit_core::counting::{CountCube, CountPlan, CubeBuilder, SharedCube};
use stopaudit_core::error::{Error, Result};
use stopaudit_core::scope::Scope;

/// Everything a scan produces.
pub struct Scanned {
    /// Row accounting, files, group attributes, period covered, missing values.
    pub summary: IngestSummary,
    /// The run's dictionaries of text and group values.
    pub dicts: Dictionaries,
    /// Counts of the analysed stops.
    pub cube: CountCube,
    /// Analysed stops without a value, for every field that has such
    /// stops (the summary's `missing_values` keeps those of fields some
    /// input has as a column); a cube's manifest keeps these, so merged
    /// cubes decide which to report over all their inputs.
    pub missing_all: std::collections::BTreeMap<String, u64>,
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
    /// Stops dated outside this range are quarantined as `implausible_date`
    /// ([`stopaudit_core::config::InputConfig::plausible_dates`]).
    pub plausible_dates: (chrono::NaiveDate, chrono::NaiveDate),
}

/// The inputs, opened and mapped, before any row is read.
struct Inputs {
    files: Vec<Opened>,
    /// The group attributes (declared, or detected in the first file).
    attributes: Vec<String>,
    /// Each file's column mapping.
    mappings: Vec<mapping::ColumnMapping>,
}

/// Opens every input, detects the group attributes, checks the scope
/// against them and maps each file's columns (reading only those, unless
/// `all_columns`: a quarantine file keeps each rejected row as it was).
fn open(
    inputs: &[PathBuf],
    config: &Config,
    codes: &CodeLists,
    scope: &Scope,
    all_columns: bool,
) -> Result<Inputs> {
    if inputs.is_empty() {
        return Err(Error::Usage("no input files given".into()));
    }
    let mut files: Vec<Opened> = Vec::new();
    for path in inputs {
        if !path.exists() {
            return Err(Error::input(path, "file not found"));
        }
        let format = read::detect_format(path)?;
        let src = read::open(path, format, &config.input)?;
        files.push((path.clone(), format, src));
    }
    let attributes = if config.groups.attributes.is_empty() {
        mapping::detect_group_attributes(files[0].2.columns())
    } else {
        config.groups.attributes.clone()
    };
    scope.check(&attributes, codes)?;
    let mut mappings = Vec::new();
    for (path, _, src) in &mut files {
        let m = mapping::resolve(path, src.columns(), config, &attributes)?;
        if !all_columns {
            src.project(&m.used_columns());
        }
        mappings.push(m);
    }
    Ok(Inputs {
        files,
        attributes,
        mappings,
    })
}

/// Scans the inputs: reads, checks and counts every row, quarantining what
/// cannot be used, counting the cube and what `plan` asks for besides it
/// (`CountPlan::default()`: the cube alone).
pub fn scan(
    inputs: &[PathBuf],
    settings: &ScanSettings,
    quarantine: &mut QuarantineSink,
) -> Result<Scanned> {
    let ScanSettings {
        config,
        codes,
        scope,
        plan,
        id_limits,
        ..
    } = *settings;
    let Inputs {
        files: opened,
        attributes,
        mappings,
    } = open(inputs, config, codes, scope, quarantine.keeps_records())?;

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
    let (mut files, reasons, state) = loop {
        let mut state = State {
            cube: Arc::new(
                SharedCube::new(attributes.len(), &plan.extra_fields)
                    .with_benchmark(plan.bench.clone())
                    .with_registration_periods(plan.registration_periods),
            ),
            removed: CubeBuilder::new(&plan.extra_fields)
                .with_benchmark(plan.bench.clone())
                .with_registration_periods(plan.registration_periods),
            stop_ids: match late.take() {
                Some(known) => StopIds::knowing(known, id_limits),
                None => StopIds::new(id_limits),
            },
            first: None,
            last: None,
            missing: vec![0; step::missing_fields().count() + attributes.len()],
        };
        let sources = match opened.take() {
            Some(sources) => sources,
            None => reopen(inputs, config, &mappings, quarantine.keeps_records())?,
        };
        let mut files = Vec::new();
        let mut reasons = ReasonCounts::default();
        for (file, mapping) in sources.into_iter().zip(&mappings) {
            let mut summary = scan_file(
                file,
                mapping,
                (settings, &attributes),
                &mut state,
                &mut reasons,
                quarantine,
            )?;
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
        break (files, reasons, state);
    };

    let hashes = hasher
        .join()
        .map_err(|_| Error::Usage("hashing the input files failed".into()))??;
    for (f, h) in files.iter_mut().zip(hashes) {
        f.sha256 = h;
    }
    let duplicates_checked = mappings.iter().all(|m| m.column("stop_id").is_some());
    let missing_all = state.missing_values(&attributes);
    let summary = summarise(
        files,
        reasons,
        duplicates_checked,
        attributes,
        (&state, &missing_all),
        config,
    );
    let shared = Arc::try_unwrap(state.cube)
        .unwrap_or_else(|_| unreachable!("every batch job has finished"));
    let (cube, dicts) = shared.finish(state.removed);
    Ok(Scanned {
        summary,
        dicts,
        cube,
        missing_all,
    })
}

/// Reads one file through the batch jobs and the ordered step; returns its
/// row accounting (hash still empty) and notes.
fn scan_file(
    (path, format, mut src): Opened,
    mapping: &mapping::ColumnMapping,
    (settings, attributes): (&ScanSettings, &[String]),
    state: &mut State,
    reasons: &mut ReasonCounts,
    quarantine: &mut QuarantineSink,
) -> Result<FileSummary> {
    let (config, tz) = (settings.config, settings.config.timezone());
    let bar = crate::progress::progress_bar(
        settings.progress,
        src.progress_total(),
        &path.display().to_string(),
        "{percent}% {elapsed_precise}",
    );
    let display = path.display().to_string();
    let context = Arc::new(FileContext {
        validator: Validator::new(
            mapping,
            settings.codes,
            tz,
            &config.input,
            (config.period.start, config.period.end),
            settings.plausible_dates,
            &config.values,
        ),
        scope: settings.scope.clone(),
        codes: settings.codes.clone(),
        attributes: attributes.to_vec(),
        tz,
        cube: Arc::clone(&state.cube),
        daylight: settings.plan.daylight.clone(),
        display: display.clone(),
        columns: src.columns().to_vec(),
    });
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
    let mut file = FileStep {
        context: &context,
        stop_id_column: mapping.column("stop_id"),
        summary: &mut summary,
        reasons,
        quarantine,
    };
    job::in_order(settings.threads, &mut *src, &context, &bar, |p| {
        state.take(p, &mut file)
    })?;
    bar.finish_and_clear();
    assert_eq!(
        summary.rows_read,
        summary.rows_analyzed + summary.rows_quarantined + summary.rows_out_of_scope,
        "every row of {display} is analysed, quarantined or out of scope"
    );
    summary.notes = src.notes();
    if summary.rows_read == 0 {
        summary.notes.push(NO_ROWS_NOTE.into());
    }
    if mapping.column("stop_id").is_none() {
        summary.notes.push(NO_STOP_ID_NOTE.into());
    }
    Ok(summary)
}

/// The run's row accounting from its files' and the state's tallies.
fn summarise(
    files: Vec<FileSummary>,
    reasons: ReasonCounts,
    duplicates_checked: bool,
    attributes: Vec<String>,
    (state, missing_all): (&State, &std::collections::BTreeMap<String, u64>),
    config: &Config,
) -> IngestSummary {
    let tz = config.timezone();
    let rows_read = files.iter().map(|f| f.rows_read).sum();
    let rows_analyzed = files.iter().map(|f| f.rows_analyzed).sum();
    let rows_quarantined = files.iter().map(|f| f.rows_quarantined).sum();
    let rows_out_of_scope = files.iter().map(|f| f.rows_out_of_scope).sum();
    assert_eq!(
        reasons.total(),
        rows_quarantined,
        "quarantine reasons add up"
    );
    let fmt = |ms: Option<i64>| ms.map(|ms| crate::datetime::format_local(ms, tz));
    let missing_values =
        stopaudit_core::accounting::published_missing_values(missing_all, &attributes, &files);
    IngestSummary {
        files,
        rows_read,
        rows_analyzed,
        rows_quarantined,
        rows_out_of_scope,
        quarantine_reasons: reasons,
        duplicates_checked,
        attributes,
        timezone: tz.name().to_string(),
        timezone_assumed: config.input.timezone.is_none(),
        first_stop: fmt(state.first),
        last_stop: fmt(state.last),
        missing_values,
    }
}

/// An input file, opened.
type Opened = (PathBuf, Format, Box<dyn Source>);

/// Reopens the inputs for a second pass, reading the same columns.
fn reopen(
    inputs: &[PathBuf],
    config: &Config,
    mappings: &[mapping::ColumnMapping],
    all_columns: bool,
) -> Result<Vec<Opened>> {
    inputs
        .iter()
        .zip(mappings)
        .map(|(path, m)| {
            let format = read::detect_format(path)?;
            let mut src = read::open(path, format, &config.input)?;
            if !all_columns {
                src.project(&m.used_columns());
            }
            Ok((path.clone(), format, src))
        })
        .collect()
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
