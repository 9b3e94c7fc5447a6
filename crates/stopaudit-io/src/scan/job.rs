//! The batch job: the work on one batch that does not depend on earlier
//! batches, run on the rayon pool several batches at a time. It checks the
//! rows ([`crate::validate`]), turns rejections into quarantine records,
//! leaves out what the scope excludes, codes the valid stops and counts them
//! into the shared cube.

use std::sync::Arc;

use super::stop_ids;
use crate::nested;
use crate::quarantine::{QuarantineRecord, Reason, Rejection};
use crate::read::batch::{Cell, ColumnBatch};
use crate::read::source::Source;
use crate::validate::{self, CheckedBatch, Validator};
use stopaudit_core::canonical::{NONE_U32, StopBatch};
use stopaudit_core::codes::CodeLists;
use stopaudit_core::counting::{BatchCounts, SharedCube};
use stopaudit_core::error::Result;
use stopaudit_core::scope::Scope;

/// What the batch jobs of one file share.
pub(super) struct FileContext {
    pub(super) validator: Validator,
    pub(super) scope: Scope,
    pub(super) codes: CodeLists,
    pub(super) attributes: Vec<String>,
    pub(super) tz: chrono_tz::Tz,
    pub(super) cube: Arc<SharedCube>,
    /// Sun tables of the veil-of-darkness test, when it is on.
    pub(super) daylight: Option<Arc<stopaudit_core::daylight::Daylight>>,
    pub(super) display: String,
    pub(super) columns: Vec<String>,
}

/// One batch after the work that can run on any thread: checked, its
/// rejections turned into quarantine records, its valid in-scope stops
/// coded and counted.
pub(super) struct Processed {
    pub(super) batch: ColumnBatch,
    pub(super) checked: CheckedBatch,
    pub(super) rows_read: u64,
    pub(super) rejected: Vec<QuarantineRecord>,
    /// Valid rows the scope leaves out (by batch row).
    pub(super) out_of_scope: Vec<u32>,
    pub(super) stops: StopBatch,
    /// The run's codes of the batch's text and group values.
    pub(super) text_codes: Vec<Vec<u32>>,
    pub(super) group_codes: Vec<Vec<u32>>,
    /// Missing values among `stops`, indexed like [`super::step::missing_fields`] then attributes.
    pub(super) missing: Vec<u64>,
    /// First and last `stopped_at` among `stops`.
    pub(super) span: Option<(i64, i64)>,
    /// Stop ids of the valid rows, grouped for the duplicate check.
    pub(super) ids: stop_ids::IdBuckets,
}

impl FileContext {
    /// Checks a batch, codes its valid in-scope stops and counts them: all
    /// that does not depend on earlier batches.
    pub(super) fn process(&self, batch: ColumnBatch) -> Processed {
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
    pub(super) fn record(&self, batch: &ColumnBatch, i: usize, r: Rejection) -> QuarantineRecord {
        QuarantineRecord {
            file: self.display.clone(),
            row: batch.row_numbers[i],
            reason: r.reason,
            field: r.field,
            value: r.value,
            message: r.message,
            record: record_json(&self.columns, |c| batch.column(c).map(|_| batch.cell(c, i))),
        }
    }
}

/// The first and last of some instants.
pub(super) fn span(times: impl Iterator<Item = i64>) -> Option<(i64, i64)> {
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
/// [`super::step::missing_fields`], then the group attributes).
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

/// The most batches in flight at once: each holds some 30 MB (a 64K-row
/// Parquet batch, decoded and checked), so memory stays bounded with many
/// threads (with 16 threads and no cap, 33 batches took 1.45 GB on the
/// 10M-row file).
const MAX_IN_FLIGHT: usize = 12;

/// Batches of a source processed on the rayon pool a few at a time
/// (twice the threads and one, at most [`MAX_IN_FLIGHT`]) and handed to
/// `each` in file order on this thread ([`crate::ordered::in_order`]).
pub(super) fn in_order(
    threads: usize,
    src: &mut dyn Source,
    context: &Arc<FileContext>,
    bar: &indicatif::ProgressBar,
    mut each: impl FnMut(Processed) -> Result<()>,
) -> Result<()> {
    let window = (2 * threads.max(1) + 1).min(MAX_IN_FLIGHT);
    crate::ordered::in_order(
        window,
        || {
            bar.set_position(src.progress());
            let path = std::path::PathBuf::from(&context.display);
            let Some(job) = crate::read::contain(&path, || src.next_batch())? else {
                return Ok(None);
            };
            let context = Arc::clone(context);
            Ok(Some(move |last: bool| {
                let run = || crate::read::contain(&path, job).map(|b| context.process(b));
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

/// The source row as a JSON object: every column read (all of them when
/// the records go to a quarantine file; `cell` gives `None` for a column
/// not read, which is left out rather than shown empty).
fn record_json(columns: &[String], cell: impl Fn(usize) -> Option<Cell>) -> String {
    let mut map = serde_json::Map::new();
    for (c, name) in columns.iter().enumerate() {
        let value = match cell(c) {
            None => continue,
            Some(Cell::Null) => serde_json::Value::Null,
            Some(other) => serde_json::Value::String(other.display().into_owned()),
        };
        map.insert(name.clone(), value);
    }
    serde_json::Value::Object(map).to_string()
}
