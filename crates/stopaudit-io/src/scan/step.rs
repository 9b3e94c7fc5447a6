//! The ordered step: what must happen to the batches in file order, on the
//! scan's own thread, because it depends on the rows before. Duplicate
//! stop ids are found (the first valid occurrence is kept, see
//! [`super::stop_ids`]) and taken out of the counts again, rejected rows go
//! to quarantine, and every row is accounted for.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::job::{FileContext, Processed};
use super::stop_ids::StopIds;
use crate::quarantine::{QuarantineSink, Reason, ReasonCounts, Rejection};
use crate::validate::CheckedBatch;
use stopaudit_core::accounting::FileSummary;
use stopaudit_core::canonical::{NONE_U32, StopBatch};
use stopaudit_core::counting::{
    BatchCounts, CubeBuilder, MAX_GROUPS, MAX_GROUPS_WHILE_READING, SharedCube,
};
use stopaudit_core::error::{Error, Result};

/// What the scan keeps across batches.
pub(super) struct State {
    pub(super) cube: Arc<SharedCube>,
    /// Counts of stops found to be duplicates after they were counted.
    pub(super) removed: CubeBuilder,
    pub(super) stop_ids: StopIds,
    pub(super) first: Option<i64>,
    pub(super) last: Option<i64>,
    /// Analysed rows with no value: [`missing_fields`], then group attributes.
    pub(super) missing: Vec<u64>,
}

/// One file's tallies, kept by the ordered step.
pub(super) struct FileStep<'a> {
    /// What the batch jobs of the file share.
    pub(super) context: &'a FileContext,
    /// The file's `stop_id` column, if mapped.
    pub(super) stop_id_column: Option<usize>,
    /// Its row accounting so far.
    pub(super) summary: &'a mut FileSummary,
    /// Quarantine reasons of the run so far.
    pub(super) reasons: &'a mut ReasonCounts,
    /// Where rejected rows go.
    pub(super) quarantine: &'a mut QuarantineSink,
}

impl State {
    /// Takes one processed batch, in file order: checks its stop ids
    /// against every earlier row, quarantines the duplicates (and takes
    /// them out of the counts), and accounts for its rows.
    pub(super) fn take(&mut self, mut p: Processed, file: &mut FileStep) -> Result<()> {
        let context = file.context;
        for (a, n) in self.cube.group_values().into_iter().enumerate() {
            if n > MAX_GROUPS_WHILE_READING {
                let name = &context.attributes[a];
                return Err(Error::Usage(format!(
                    "group attribute `{name}` has more than {MAX_GROUPS_WHILE_READING} distinct values in {} (stopped while reading; stopaudit compares at most {MAX_GROUPS} groups, every analysis is per group): is the right column mapped to it, or should its values be grouped with [values.{name}]?",
                    context.display
                )));
            }
        }
        let extra_fields = self.cube.extra_fields();
        file.summary.rows_read += p.rows_read;
        let duplicates = self.stop_ids.check(&p.ids)?;
        let mut removed: Vec<usize> = Vec::new();
        let mut duplicate_rows: Vec<u32> = duplicates.into_iter().collect();
        duplicate_rows.sort_unstable();
        for &i in &duplicate_rows {
            let id = file
                .stop_id_column
                .map(|c| p.batch.cell(c, i as usize).display().trim().to_string())
                .unwrap_or_default();
            let rejection = Rejection::new(
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
            let mut view = context
                .daylight
                .as_deref()
                .map(|d| stopaudit_core::daylight::DaylightBatch::new(d, &p.stops));
            let mut clock =
                stopaudit_core::clock::BatchClock::new(context.tz, &p.stops.fields.stopped_at);
            for &s in &removed {
                counts.add(&p.stops, s);
                self.removed.time_stop(
                    &p.stops,
                    s,
                    (&mut clock, view.as_mut()),
                    (&p.text_codes, &p.group_codes),
                    1,
                );
                add_missing(&mut p.missing, &p.checked, &p.stops, s, -1);
            }
            self.removed
                .merge_batch(&counts, &p.text_codes, &p.group_codes);
            span = super::job::span(
                (0..p.stops.len())
                    .filter(|s| removed.binary_search(s).is_err())
                    .map(|s| p.stops.fields.stopped_at[s]),
            );
        }
        if let Some((lo, hi)) = span {
            self.first = Some(self.first.map_or(lo, |f| f.min(lo)));
            self.last = Some(self.last.map_or(hi, |l| l.max(hi)));
        }
        for (total, n) in self.missing.iter_mut().zip(&p.missing) {
            *total += n;
        }
        let analysed = p.stops.len() - removed.len();
        p.rejected.sort_by_key(|r| r.row);
        let summary = &mut *file.summary;
        summary.rows_quarantined += p.rejected.len() as u64;
        summary.rows_out_of_scope += p.out_of_scope.len() as u64;
        summary.rows_analyzed += analysed as u64;
        for r in &p.rejected {
            file.reasons.add(r.reason, 1);
        }
        file.quarantine.push(std::mem::take(&mut p.rejected))?;
        // Free the batch on the pool, not on this (ordered) thread.
        rayon::spawn(move || drop(p));
        Ok(())
    }

    /// Fields with at least one missing value among analysed rows, every
    /// one (a field no input has is then missing in every row: the
    /// summary leaves those out with
    /// `stopaudit_core::accounting::published_missing_values`).
    pub(super) fn missing_values(&self, attributes: &[String]) -> BTreeMap<String, u64> {
        missing_fields()
            .map(str::to_string)
            .chain(attributes.iter().cloned())
            .zip(&self.missing)
            .filter(|(_, n)| **n > 0)
            .map(|(f, n)| (f, *n))
            .collect()
    }
}

/// Optional fields whose missing values are counted, in the order of
/// [`State::missing`] (the group attributes follow).
pub(crate) fn missing_fields() -> impl Iterator<Item = &'static str> {
    std::iter::once("stop_id")
        .chain(stopaudit_core::canonical::TEXT_FIELDS)
        .chain(stopaudit_core::canonical::StopFields::OPTIONAL)
}

/// Adds `sign` (1 or -1) for each field stop `i` of `stops` lacks (in the
/// order of the batch job's `count_missing`).
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
