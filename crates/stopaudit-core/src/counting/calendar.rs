//! The calendar tables: what the quarterly trends and the data-quality
//! diagnostics read, counted in the same pass as the cube.
//!
//! - `periods`: stops per group attribute, group, month, justification and
//!   outcome (months roll up to quarters and years);
//! - `unit_months`: stops per unit and month (registration gaps);
//! - `unit_minutes`: stops per unit and minute of the hour (heaping of
//!   clock times on :00, :15, :30, :45);
//! - `officer_months`: stops per officer and month (implausible volumes;
//!   per day would be a table as large as officers × days, which cost a
//!   tenth of the whole scan to merge, measured at 10 million stops).
//!
//! All in the run's codes, bounded by the category space, mergeable. A
//! batch is counted into dense arrays in its own codes first (one array
//! increment per stop and table, instead of a hash-map update), then the
//! non-zero cells are added to the pooled builder; [`CalendarCounts::add_stop`]
//! does the same for one stop (duplicates taken out again) and is the
//! reference the batch path is tested against.

use crate::canonical::{NONE_U32, StopBatch};
use crate::clock::LocalTime;
use serde::{Deserialize, Serialize};

/// The date whose period a stop counts in (`[analysis.trends] period_column`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PeriodColumn {
    /// The time of the stop (the default).
    StoppedAt,
    /// The time of registration; stops without one are in no period.
    RegisteredAt,
}

/// A cell of the `periods` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeriodCell {
    /// Index of the group attribute.
    pub attribute: u16,
    /// Dictionary code of the group within that attribute.
    pub group: u32,
    /// Months since year 0 (`year × 12 + month − 1`), local time.
    pub month: u32,
    /// Index of the justification in its code list.
    pub justification: u8,
    /// Index of the outcome in its code list.
    pub outcome: u8,
}

/// The calendar tables (see the module documentation). Unit and officer
/// codes are [`NONE_U32`] when missing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarCounts {
    /// (attribute, group, month, justification, outcome) -> stops.
    pub periods: foldhash::HashMap<PeriodCell, u64>,
    /// (unit, month) -> stops.
    pub unit_months: foldhash::HashMap<(u32, u32), u64>,
    /// (unit, minute of the hour) -> stops.
    pub unit_minutes: foldhash::HashMap<(u32, u8), u64>,
    /// (officer, month) -> stops.
    pub officer_months: foldhash::HashMap<(u32, u32), u64>,
}

/// Where the unit and officer columns are among a batch's text columns,
/// and which date gives a stop's period.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TextColumns {
    /// Index of `unit` among the batch's text columns.
    pub unit: usize,
    /// Index of `officer_id` among the batch's text columns.
    pub officer: usize,
    /// `Some(zone)`: the `periods` table counts months of `registered_at`
    /// (local time of the zone; [`NO_PERIOD`] when missing) instead of `stopped_at`.
    pub period_registered: Option<chrono_tz::Tz>,
}

impl Default for TextColumns {
    /// `unit` and `officer_id` as in [`crate::canonical::TEXT_FIELDS`]; periods by `stopped_at`.
    fn default() -> Self {
        TextColumns {
            unit: 0,
            officer: 4,
            period_registered: None,
        }
    }
}

/// The month of a stop without the date its period comes from.
pub const NO_PERIOD: u32 = u32::MAX;

/// Local month index of an instant.
fn month_of(tz: chrono_tz::Tz, utc: i64) -> u32 {
    use chrono::Datelike;
    let local = utc + crate::clock::offset_ms(tz, utc);
    let date = crate::clock::date_of(local.div_euclid(crate::clock::DAY_MS));
    (date.year().max(0) as u32) * 12 + date.month() - 1
}

impl TextColumns {
    /// The period month of stop `i`, given its local time.
    fn period(&self, batch: &StopBatch, i: usize, time: LocalTime) -> u32 {
        match self.period_registered {
            None => time.date.month_index(),
            Some(tz) => match batch.fields.registered_at[i] {
                crate::canonical::NONE_I64 => NO_PERIOD,
                t => month_of(tz, t),
            },
        }
    }
}

fn add_signed<K: std::hash::Hash + Eq + Copy>(
    map: &mut foldhash::HashMap<K, u64>,
    key: K,
    n: u64,
    sign: i64,
) {
    let count = map.entry(key).or_default();
    *count = count.wrapping_add_signed(sign * n as i64);
    if *count == 0 {
        map.remove(&key);
    }
}

fn recode(codes: &[u32], c: u32) -> u32 {
    if c == NONE_U32 {
        NONE_U32
    } else {
        codes[c as usize]
    }
}

/// Above this many dense cells a batch is counted stop by stop instead.
const DENSE_LIMIT: usize = 1 << 22;

impl CalendarCounts {
    /// Counts (`sign` 1) or takes out (`sign` -1) stop `i` of `batch`, in
    /// the run's codes (`texts[k][old]`, `groups[a][old]`).
    pub fn add_stop(
        &mut self,
        batch: &StopBatch,
        i: usize,
        time: LocalTime,
        columns: TextColumns,
        (texts, groups): (&[Vec<u32>], &[Vec<u32>]),
        sign: i64,
    ) {
        let month = time.date.month_index();
        let period = columns.period(batch, i, time);
        let unit = recode(&texts[columns.unit], batch.texts[columns.unit][i]);
        let officer = recode(&texts[columns.officer], batch.texts[columns.officer][i]);
        self.add_periods(batch, i, period, groups, sign);
        add_signed(&mut self.unit_months, (unit, month), 1, sign);
        let minute = ((time.second / 60) % 60) as u8;
        add_signed(&mut self.unit_minutes, (unit, minute), 1, sign);
        if officer != NONE_U32 {
            add_signed(&mut self.officer_months, (officer, month), 1, sign);
        }
    }

    /// Counts stop `i` in `periods` at `period`, per attribute (run codes).
    fn add_periods(
        &mut self,
        batch: &StopBatch,
        i: usize,
        period: u32,
        groups: &[Vec<u32>],
        sign: i64,
    ) {
        let f = &batch.fields;
        for (a, (codes, run)) in batch.groups.iter().zip(groups).enumerate() {
            let cell = PeriodCell {
                attribute: a as u16,
                group: run[codes[i] as usize],
                month: period,
                justification: f.justification[i],
                outcome: f.outcome[i],
            };
            add_signed(&mut self.periods, cell, 1, sign);
        }
    }

    /// Counts every stop of `batch`, whose local times are `times` (see the
    /// module documentation).
    pub fn add_batch(
        &mut self,
        batch: &StopBatch,
        times: &[LocalTime],
        columns: TextColumns,
        codes: (&[Vec<u32>], &[Vec<u32>]),
    ) {
        let n = batch.len();
        if n == 0 {
            return;
        }
        let months: Vec<u32> = times.iter().map(|t| t.date.month_index()).collect();
        let first_month = *months.iter().min().expect("a stop");
        let span = (*months.iter().max().expect("a stop") - first_month + 1) as usize;
        let f = &batch.fields;
        let width = |v: &[u8]| v.iter().map(|&c| usize::from(c) + 1).max().unwrap_or(1);
        let (n_just, n_out) = (width(&f.justification), width(&f.outcome));
        // Group slots: attribute a's local code c is slot offsets[a] + c.
        let mut offsets = Vec::with_capacity(batch.groups.len());
        let mut slots = 0usize;
        for values in &batch.group_values {
            offsets.push(slots);
            slots += values.len();
        }
        // Units: the batch's, then one for "missing".
        let units = batch.text_values[columns.unit].len() + 1;
        let officers = batch.text_values[columns.officer].len();
        if (slots * n_just * n_out).max(units).max(officers) * span > DENSE_LIMIT {
            for (i, &t) in times.iter().enumerate() {
                self.add_stop(batch, i, t, columns, codes, 1);
            }
            return;
        }
        let (texts, groups) = codes;
        let local_unit = |i: usize| match batch.texts[columns.unit][i] {
            NONE_U32 => units - 1,
            u => u as usize,
        };
        // Periods by registration date are counted stop by stop (below).
        let dense_periods = columns.period_registered.is_none();
        let mut periods = vec![
            0u32;
            if dense_periods {
                slots * span * n_just * n_out
            } else {
                0
            }
        ];
        let mut unit_months = vec![0u32; units * span];
        let mut unit_minutes = vec![0u32; units * 60];
        let mut officer_months = vec![0u32; officers * span];
        for i in 0..n {
            let m = (months[i] - first_month) as usize;
            let cell =
                (m * n_just + usize::from(f.justification[i])) * n_out + usize::from(f.outcome[i]);
            if dense_periods {
                for (a, g) in batch.groups.iter().enumerate() {
                    let slot = offsets[a] + g[i] as usize;
                    periods[slot * span * n_just * n_out + cell] += 1;
                }
            } else {
                let period = columns.period(batch, i, times[i]);
                self.add_periods(batch, i, period, groups, 1);
            }
            let u = local_unit(i);
            unit_months[u * span + m] += 1;
            unit_minutes[u * 60 + ((times[i].second / 60) % 60) as usize] += 1;
            let officer = batch.texts[columns.officer][i];
            if officer != NONE_U32 {
                officer_months[officer as usize * span + m] += 1;
            }
        }
        let run_unit = |u: usize| {
            if u == units - 1 {
                NONE_U32
            } else {
                texts[columns.unit][u]
            }
        };
        for (a, codes) in groups.iter().enumerate().filter(|_| dense_periods) {
            for (c, &group) in codes.iter().enumerate() {
                let base = (offsets[a] + c) * span * n_just * n_out;
                for (k, &count) in periods[base..base + span * n_just * n_out]
                    .iter()
                    .enumerate()
                {
                    if count == 0 {
                        continue;
                    }
                    let cell = PeriodCell {
                        attribute: a as u16,
                        group,
                        month: first_month + (k / (n_just * n_out)) as u32,
                        justification: ((k / n_out) % n_just) as u8,
                        outcome: (k % n_out) as u8,
                    };
                    *self.periods.entry(cell).or_default() += u64::from(count);
                }
            }
        }
        for (k, &count) in unit_months.iter().enumerate() {
            if count > 0 {
                let key = (run_unit(k / span), first_month + (k % span) as u32);
                *self.unit_months.entry(key).or_default() += u64::from(count);
            }
        }
        for (k, &count) in unit_minutes.iter().enumerate() {
            if count > 0 {
                let key = (run_unit(k / 60), (k % 60) as u8);
                *self.unit_minutes.entry(key).or_default() += u64::from(count);
            }
        }
        for (k, &count) in officer_months.iter().enumerate() {
            if count > 0 {
                let key = (
                    texts[columns.officer][k / span],
                    first_month + (k % span) as u32,
                );
                *self.officer_months.entry(key).or_default() += u64::from(count);
            }
        }
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) `other`, whose unit,
    /// officer and group codes become `texts[..][old]` and `groups[a][old]`.
    pub(crate) fn add_recoded(
        &mut self,
        other: &CalendarCounts,
        columns: TextColumns,
        (texts, groups): (&[Vec<u32>], &[Vec<u32>]),
        sign: i64,
    ) {
        for (c, &n) in &other.periods {
            let cell = PeriodCell {
                group: groups[usize::from(c.attribute)][c.group as usize],
                ..*c
            };
            add_signed(&mut self.periods, cell, n, sign);
        }
        let unit = |u: u32| recode(&texts[columns.unit], u);
        for (&(u, m), &n) in &other.unit_months {
            add_signed(&mut self.unit_months, (unit(u), m), n, sign);
        }
        for (&(u, m), &n) in &other.unit_minutes {
            add_signed(&mut self.unit_minutes, (unit(u), m), n, sign);
        }
        for (&(o, m), &n) in &other.officer_months {
            let o = recode(&texts[columns.officer], o);
            add_signed(&mut self.officer_months, (o, m), n, sign);
        }
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) `other`, in the same codes.
    pub fn add(&mut self, other: &CalendarCounts, sign: i64) {
        for (c, &n) in &other.periods {
            add_signed(&mut self.periods, *c, n, sign);
        }
        for (k, &n) in &other.unit_months {
            add_signed(&mut self.unit_months, *k, n, sign);
        }
        for (k, &n) in &other.unit_minutes {
            add_signed(&mut self.unit_minutes, *k, n, sign);
        }
        for (k, &n) in &other.officer_months {
            add_signed(&mut self.officer_months, *k, n, sign);
        }
    }
}
