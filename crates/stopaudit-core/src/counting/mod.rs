//! Count tables: the narrow waist between the data and the statistics.
//!
//! One pass over the canonical stops fills a [`CountCube`]: for each group
//! attribute, stops per combination of group, justification, outcome, legal
//! basis, unit, search and contraband. Every table a later analysis needs is
//! a margin of that cube. Its size is bounded by the category space, not by
//! the number of stops. Cubes are plain mergeable data: the cubes of two
//! parts of the data sum to the cube of the whole.
//!
//! The kernel ([`BatchCounts`]) counts a [`StopBatch`] per stratum and
//! group attribute; a
//! [`SharedCube`] merges batch counts from many threads. The I/O crate's tests
//! hold the kernel to a polars group-by on the same stops.

pub mod artifact;
pub mod benchmark;
pub mod calendar;
pub mod darkness;

use std::collections::BTreeMap;

use serde::Serialize;

use std::sync::{Condvar, Mutex, RwLock};

use crate::canonical::{Dictionaries, Dictionary, NONE_U8, NONE_U32, StopBatch};
use crate::canonical::{TEXT_FIELDS, text_index};
use crate::clock::{BatchClock, LocalTime};
use crate::codes::CodeLists;
use crate::daylight::{Daylight, DaylightBatch};
use crate::schema::UNKNOWN_GROUP;
use benchmark::{BenchCounts, BenchSpec};
use calendar::{CalendarCounts, TextColumns};
use darkness::DarknessCounts;

/// What the scan counts besides the cube's cells, decided once from the
/// run's effective settings (`AnalysisSettings::count_plan`) and handed to
/// the scan. The default counts the cube alone: what `validate` needs.
#[derive(Debug, Clone, Default)]
pub struct CountPlan {
    /// Extra strata the cube keeps (at most two, from [`EXTRA_FIELDS`]).
    pub extra_fields: Vec<String>,
    /// Sun tables of the veil-of-darkness test; with them the darkness
    /// table is counted.
    pub daylight: Option<std::sync::Arc<Daylight>>,
    /// The internal-benchmarking table, when that analysis is on.
    pub bench: Option<BenchSpec>,
    /// Calendar periods by registration time in this zone (else by the
    /// time of the stop).
    pub registration_periods: Option<chrono_tz::Tz>,
}

/// One cell of the cube, in codes (see [`crate::canonical`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    /// Index of the group attribute (0 when there are none).
    pub attribute: u16,
    /// Dictionary code of the group within that attribute (0 when there are none).
    pub group: u32,
    /// Index of the justification in its code list.
    pub justification: u8,
    /// Index of the outcome in its code list.
    pub outcome: u8,
    /// Index of the legal basis in its code list; `None` when missing.
    pub legal_basis: Option<u8>,
    /// Dictionary code of the unit; `None` when missing.
    pub unit: Option<u32>,
    /// Whether a search took place; `None` when not recorded.
    pub search: Option<bool>,
    /// Whether something was found; `None` when not recorded.
    pub contraband: Option<bool>,
    /// Codes of up to two more stratum fields (see [`CountCube::extra_fields`]);
    /// [`MISSING`] when the value is missing or the slot is unused.
    pub extra: [u32; 2],
}

/// Code of a missing value in [`CellKey::extra`].
pub const MISSING: u32 = u32::MAX;

/// Fields that can be counted as extra strata (besides justification, legal basis and unit).
pub const EXTRA_FIELDS: &[&str] = &[
    "district",
    "basisteam",
    "area_code",
    "team",
    "subject_type",
    "reason_explained",
];

/// Counts of one [`StopBatch`] per group attribute, in the batch's own
/// codes: the counting kernel's output, made on any thread and merged into
/// the run's cube by [`CubeBuilder::merge_batch`].
///
/// A batch's stops fall into a few thousand *strata* (everything of a cell
/// but the groups: justification, outcome, legal basis, search, contraband,
/// unit and the extra strata), and each attribute has a handful of groups.
/// So each stratum gets an index (as in the builders' `AttributeCells`),
/// and each attribute a dense row of counts per stratum, one per group:
/// counting a stop is one lookup and an increment per attribute, and the
/// counts handed on are per attribute (what the cube keeps), not per joint
/// combination of all attributes (many more). Strata past those that fit
/// in `DENSE_COUNTS`, and stops added one by one, are counted in the
/// sparse per-attribute maps of `cells` instead.
#[derive(Debug, Clone, Default)]
pub struct BatchCounts {
    /// The batch's strata, and the cells of those without a dense row.
    cells: AttributeCells,
    /// Per attribute (one of width 1 without attributes): its groups, and
    /// its counts at `stratum × width + group` for the first
    /// `dense_strata` strata.
    widths: Vec<usize>,
    dense: Vec<Vec<u32>>,
    dense_strata: usize,
    extra: Vec<String>,
}

/// The most counts (strata × groups of all attributes) the dense rows of
/// one batch take: 16 MB.
const DENSE_COUNTS: usize = 4 << 20;

/// Bits of the fixed codes at the bottom of a stratum
/// (justification, outcome, legal basis, search, contraband).
const FIXED_BITS: u32 = 28;

/// Index of `unit` in [`TEXT_FIELDS`].
const UNIT_FIELD: usize = 0;

/// Unit and officer among [`TEXT_FIELDS`], for the calendar tables.
const TEXT_COLUMNS: TextColumns = TextColumns {
    unit: UNIT_FIELD,
    officer: 4,
    period_registered: None,
};

impl BatchCounts {
    /// Counts every stop of a batch (see [`BatchCounts`]).
    pub fn count(batch: &StopBatch, extra_fields: &[String]) -> Self {
        Self::count_dense_up_to(batch, extra_fields, DENSE_COUNTS)
    }

    /// [`BatchCounts::count`] with at most `limit` dense counts (0: all in
    /// the sparse maps).
    fn count_dense_up_to(batch: &StopBatch, extra_fields: &[String], limit: usize) -> Self {
        let columns = KeyColumns::of(batch, extra_fields);
        let widths: Vec<usize> = if batch.groups.is_empty() {
            vec![1]
        } else {
            batch.group_values.iter().map(|v| v.len().max(1)).collect()
        };
        // Dense counts are `u32`: a batch of more stops is counted sparsely.
        let dense_strata = if u32::try_from(batch.len()).is_ok() {
            limit / widths.iter().sum::<usize>()
        } else {
            0
        };
        let mut counts = BatchCounts {
            dense: vec![Vec::new(); widths.len()],
            widths,
            dense_strata,
            ..Self::empty(extra_fields)
        };
        for i in 0..batch.len() {
            let s = counts.cells.stratum(columns.rest(i));
            counts.count_stop(&columns, i, s, 1);
        }
        counts
    }

    /// Nothing counted yet.
    pub fn empty(extra_fields: &[String]) -> Self {
        BatchCounts {
            cells: AttributeCells::default(),
            widths: Vec::new(),
            dense: Vec::new(),
            dense_strata: 0,
            extra: extra_fields.to_vec(),
        }
    }

    /// Adds (`sign` 1) or takes out (`sign` -1) stop `i` of stratum `s`.
    #[inline]
    fn count_stop(&mut self, columns: &KeyColumns, i: usize, s: u32, sign: i64) {
        let groups = &columns.batch.groups;
        let s = s as usize;
        if s >= self.dense_strata {
            if groups.is_empty() {
                self.cells.add(s as u32, 0, 0, 1, sign);
            }
            for (a, g) in groups.iter().enumerate() {
                self.cells.add(s as u32, a, g[i], 1, sign);
            }
            return;
        }
        for (a, (counts, &w)) in self.dense.iter_mut().zip(&self.widths).enumerate() {
            if counts.len() <= s * w {
                // Strata are numbered as they come: this one is new.
                counts.resize((s + 1) * w, 0);
            }
            let at = s * w + groups.get(a).map_or(0, |g| g[i] as usize);
            counts[at] = counts[at].wrapping_add_signed(sign as i32);
        }
    }

    /// Calls `f(stratum, attribute, group, count)` for every cell with a
    /// count in the dense rows (attribute and group 0 without attributes).
    fn each_dense_cell(&self, mut f: impl FnMut(u32, usize, u32, u64)) {
        for (a, (counts, &w)) in self.dense.iter().zip(&self.widths).enumerate() {
            for (at, &n) in counts.iter().enumerate().filter(|(_, n)| **n > 0) {
                f((at / w) as u32, a, (at % w) as u32, u64::from(n));
            }
        }
    }

    /// Calls `f(rest, attribute, group, count)` for every cell of every
    /// attribute with a count (attribute and group 0 when there are none).
    fn each_cell(&self, mut f: impl FnMut(u128, usize, u32, u64)) {
        let strata = &self.cells.strata;
        self.each_dense_cell(|s, a, g, n| f(strata[s as usize], a, g, n));
        for (rest, a, g, n) in self.cells.each() {
            f(rest, a, g, n);
        }
    }

    /// Counts one more stop (row `i` of `batch`).
    pub fn add(&mut self, batch: &StopBatch, i: usize) {
        let columns = KeyColumns::of(batch, &self.extra);
        let s = self.cells.stratum(columns.rest(i));
        self.count_stop(&columns, i, s, 1);
    }

    /// Takes one stop (row `i` of the batch it was counted from) out again.
    pub fn remove(&mut self, batch: &StopBatch, i: usize) {
        let columns = KeyColumns::of(batch, &self.extra);
        let s = self.cells.index[&columns.rest(i)];
        self.count_stop(&columns, i, s, -1);
    }

    /// Cells with a count.
    pub fn len(&self) -> usize {
        let mut cells = 0;
        self.each_dense_cell(|_, _, _, _| cells += 1);
        cells + self.cells.cells.iter().map(|c| c.len()).sum::<usize>()
    }

    /// Whether no cell has a count.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops counted.
    pub fn total(&self) -> u64 {
        let mut total = 0;
        self.each_cell(|_, a, _, n| {
            if a == 0 {
                total += n;
            }
        });
        total
    }
}

/// The columns of a batch that make up its strata, looked up once.
struct KeyColumns<'a> {
    batch: &'a StopBatch,
    unit: &'a [u32],
    extra: Vec<ExtraColumn<'a>>,
}

/// An extra stratum column of a [`StopBatch`].
enum ExtraColumn<'a> {
    Code(&'a [u8]),
    /// A text field's codes.
    Dictionary(&'a [u32]),
}

impl<'a> KeyColumns<'a> {
    fn of(batch: &'a StopBatch, extra_fields: &[String]) -> Self {
        KeyColumns {
            batch,
            unit: &batch.texts[UNIT_FIELD],
            extra: extra_fields
                .iter()
                .map(|f| match f.as_str() {
                    "subject_type" => ExtraColumn::Code(&batch.fields.subject_type),
                    "reason_explained" => ExtraColumn::Code(&batch.fields.reason_explained),
                    text => ExtraColumn::Dictionary(&batch.texts[text_index(text)]),
                })
                .collect(),
        }
    }

    /// The fixed codes of row `i`: the low [`FIXED_BITS`] of its stratum.
    #[inline]
    fn fixed(&self, i: usize) -> u64 {
        let b = &self.batch.fields;
        let flag = |v: u8| match v {
            0 => 0u64,
            1 => 1,
            _ => 2,
        };
        u64::from(b.justification[i])
            | u64::from(b.outcome[i]) << 8
            | u64::from(b.legal_basis[i]) << 16
            | flag(b.search_conducted[i]) << 24
            | flag(b.contraband_found[i]) << 26
    }

    /// Row `i`'s stratum: the fixed codes and the unit in the low 64 bits,
    /// the two extra strata ([`MISSING`] when missing or unused) in the high.
    #[inline]
    fn rest(&self, i: usize) -> u128 {
        let low = self.fixed(i) | u64::from(self.unit[i]) << FIXED_BITS;
        let mut extra = [MISSING; 2];
        for (slot, column) in self.extra.iter().enumerate() {
            extra[slot] = match column {
                ExtraColumn::Code(v) => code_or_missing(v[i]),
                ExtraColumn::Dictionary(v) => v[i],
            };
        }
        let high = u64::from(extra[0]) | u64::from(extra[1]) << 32;
        u128::from(low) | u128::from(high) << 64
    }
}

/// Cells of the group attributes: each stratum (see [`KeyColumns::rest`])
/// gets an index, and each attribute a map from
/// (stratum index, group) in one word to the count. A batch's cells come
/// stratum by stratum, so a stratum is looked up once for all its cells,
/// and the maps' entries are a third of the size of whole cells'.
#[derive(Debug, Clone, Default)]
struct AttributeCells {
    index: foldhash::HashMap<u128, u32>,
    strata: Vec<u128>,
    /// Per attribute: count by `stratum << 32 | group`.
    cells: Vec<foldhash::HashMap<u64, u64>>,
}

impl AttributeCells {
    /// The index of stratum `rest`, made when new.
    fn stratum(&mut self, rest: u128) -> u32 {
        *self.index.entry(rest).or_insert_with(|| {
            self.strata.push(rest);
            u32::try_from(self.strata.len() - 1).expect("fewer than 2^32 strata")
        })
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) `n` stops in the cell of
    /// stratum `s`, attribute `a`, group `g`; a cell that reaches zero is
    /// dropped.
    fn add(&mut self, s: u32, a: usize, g: u32, n: u64, sign: i64) {
        if self.cells.len() <= a {
            self.cells.resize_with(a + 1, Default::default);
        }
        let key = u64::from(s) << 32 | u64::from(g);
        let cells = &mut self.cells[a];
        let count = cells.entry(key).or_default();
        *count = count.wrapping_add_signed(sign * n as i64);
        if *count == 0 {
            cells.remove(&key);
        }
    }

    /// Every cell: `(rest, attribute, group, count)`.
    fn each(&self) -> impl Iterator<Item = (u128, usize, u32, u64)> + '_ {
        self.cells.iter().enumerate().flat_map(move |(a, cells)| {
            cells
                .iter()
                .map(move |(&key, &n)| (self.strata[(key >> 32) as usize], a, key as u32, n))
        })
    }

    /// This map's index of each of `other`'s strata, passed through
    /// `recode` first.
    fn strata_of(&mut self, other: &AttributeCells, recode: impl Fn(u128) -> u128) -> Vec<u32> {
        other
            .strata
            .iter()
            .map(|&r| self.stratum(recode(r)))
            .collect()
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) `other`'s cells, with each
    /// stratum and group passed through `recode` and `group` first.
    fn add_all(
        &mut self,
        other: &AttributeCells,
        recode: impl Fn(u128) -> u128,
        group: impl Fn(usize, u32) -> u32,
        sign: i64,
    ) {
        let strata = self.strata_of(other, recode);
        self.add_cells(other, &strata, group, sign);
    }

    /// [`AttributeCells::add_all`] with `other`'s strata already looked up
    /// (`strata`, from [`AttributeCells::strata_of`]).
    fn add_cells(
        &mut self,
        other: &AttributeCells,
        strata: &[u32],
        group: impl Fn(usize, u32) -> u32,
        sign: i64,
    ) {
        for (a, cells) in other.cells.iter().enumerate() {
            for (&key, &n) in cells {
                self.add(
                    strata[(key >> 32) as usize],
                    a,
                    group(a, key as u32),
                    n,
                    sign,
                );
            }
        }
    }
}

/// Batch counts merged in the run's codes, one cell per attribute
/// (so its size is that of the cube, not of the joint combinations of all
/// attributes); [`CubeBuilder::finish`] unpacks them into a [`CountCube`].
#[derive(Debug, Clone, Default)]
pub struct CubeBuilder {
    cells: AttributeCells,
    darkness: DarknessCounts,
    calendar: CalendarCounts,
    bench: BenchCounts,
    /// What the benchmarking table counts (none: it is off).
    bench_spec: Option<BenchSpec>,
    /// The calendar tables' columns and period date.
    calendar_columns: TextColumns,
    extra_fields: Vec<String>,
    /// Per extra field: its index in [`TEXT_FIELDS`], if it is a text field.
    extra_texts: Vec<Option<usize>>,
}

impl CubeBuilder {
    /// An empty builder for a cube with these extra stratum fields.
    pub fn new(extra_fields: &[String]) -> Self {
        CubeBuilder {
            cells: Default::default(),
            darkness: DarknessCounts::default(),
            calendar: CalendarCounts::default(),
            bench: BenchCounts::default(),
            bench_spec: None,
            calendar_columns: TEXT_COLUMNS,
            extra_fields: extra_fields.to_vec(),
            extra_texts: extra_fields
                .iter()
                .map(|f| TEXT_FIELDS.iter().position(|t| t == f))
                .collect(),
        }
    }

    /// The same builder, also counting the internal-benchmarking table.
    pub fn with_benchmark(mut self, spec: Option<BenchSpec>) -> Self {
        self.bench_spec = spec;
        self
    }

    /// The same builder, counting the trends' periods by `registered_at`
    /// (local time of `tz`) when given.
    pub fn with_registration_periods(mut self, tz: Option<chrono_tz::Tz>) -> Self {
        self.calendar_columns.period_registered = tz;
        self
    }

    /// Adds a batch's counts: `texts[k]` and `groups[a]` give the run's
    /// dictionary code of each batch code.
    pub fn merge_batch(&mut self, counts: &BatchCounts, texts: &[Vec<u32>], groups: &[Vec<u32>]) {
        assert_eq!(
            counts.extra, self.extra_fields,
            "cubes count the same fields"
        );
        // The run's code of group `g` of attribute `a` (none to recode
        // without attributes).
        let group = |a: usize, g: u32| groups.get(a).map_or(g, |codes| codes[g as usize]);
        let recode = |rest| recode_rest(&self.extra_texts, rest, texts);
        let cells = &mut self.cells;
        let strata = cells.strata_of(&counts.cells, recode);
        counts.each_dense_cell(|s, a, g, n| cells.add(strata[s as usize], a, group(a, g), n, 1));
        cells.add_cells(&counts.cells, &strata, group, 1);
    }

    /// Counts (`sign` 1) or takes out (`sign` -1) stop `i` of `batch` in the
    /// time tables: the calendar tables through `clock`, the veil-of-darkness
    /// table through `view` when the test is on (both made for `batch`);
    /// `texts[k]` and `groups[a]` give the run's code of each batch code.
    pub fn time_stop(
        &mut self,
        batch: &StopBatch,
        i: usize,
        (clock, view): (&mut BatchClock, Option<&mut DaylightBatch>),
        (texts, groups): (&[Vec<u32>], &[Vec<u32>]),
        sign: i64,
    ) {
        let time = clock.local(batch.fields.stopped_at[i]);
        self.calendar
            .add_stop(batch, i, time, self.calendar_columns, (texts, groups), sign);
        if let Some(spec) = &self.bench_spec {
            self.bench
                .add_stop(batch, i, time, spec, (texts, groups), sign);
        }
        if let Some(view) = view {
            self.darkness
                .add_stop(batch, i, time, view, (&texts[UNIT_FIELD], groups), sign);
        }
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) another builder's counts;
    /// cells that reach zero are dropped.
    pub fn add(&mut self, other: &CubeBuilder, sign: i64) {
        // The darkness table is the largest: merged beside the others.
        rayon::join(
            || self.darkness.add(&other.darkness, sign),
            || {
                self.calendar.add(&other.calendar, sign);
                self.bench.add(&other.bench, sign);
                self.cells
                    .add_all(&other.cells, |rest| rest, |_, g| g, sign);
            },
        );
    }

    /// The same counts with text and group codes replaced: `texts[k][old]`
    /// and `groups[a][old]` are the new codes.
    pub fn renumbered(self, texts: &[Vec<u32>], groups: &[Vec<u32>]) -> CubeBuilder {
        let mut out = CubeBuilder::new(&self.extra_fields)
            .with_benchmark(self.bench_spec.clone())
            .with_registration_periods(self.calendar_columns.period_registered);
        let CubeBuilder {
            darkness: out_darkness,
            calendar: out_calendar,
            bench: out_bench,
            cells: out_cells,
            ..
        } = &mut out;
        rayon::join(
            || out_darkness.add_recoded(&self.darkness, &texts[UNIT_FIELD], groups, 1),
            || {
                if let Some(spec) = &self.bench_spec {
                    out_bench.add_recoded(&self.bench, spec, (texts, groups), 1);
                }
                out_calendar.add_recoded(&self.calendar, TEXT_COLUMNS, (texts, groups), 1);
                out_cells.add_all(
                    &self.cells,
                    |rest| recode_rest(&self.extra_texts, rest, texts),
                    |a, g| groups.get(a).map_or(g, |codes| codes[g as usize]),
                    1,
                );
            },
        );
        out
    }

    /// The cube.
    pub fn finish(self) -> CountCube {
        let mut cube = CountCube::with_extra_fields(&self.extra_fields);
        cube.darkness = self.darkness;
        cube.calendar = self.calendar;
        cube.bench = self.bench;
        for (rest, attribute, group, count) in self.cells.each() {
            let code = |shift: u32| (rest >> shift) as u8;
            let flag = |shift: u32| match (rest >> shift) & 3 {
                0 => Some(false),
                1 => Some(true),
                _ => None,
            };
            let unit = ((rest as u64) >> 28) as u32;
            let legal_basis = code(16);
            let cell = CellKey {
                attribute: u16::try_from(attribute).expect("fewer than 65536 group attributes"),
                group,
                justification: code(0),
                outcome: code(8),
                legal_basis: (legal_basis != NONE_U8).then_some(legal_basis),
                unit: (unit != NONE_U32).then_some(unit),
                search: flag(24),
                contraband: flag(26),
                extra: [(rest >> 64) as u32, (rest >> 96) as u32],
            };
            *cube.cells.entry(cell).or_default() += count;
        }
        cube
    }
}

/// Counting from many threads at once: batch values get the run's codes
/// from shared dictionaries (read-locked; written only for new values) and
/// batch counts go into one of a few pooled [`CubeBuilder`]s. Codes are
/// handed out in whatever order threads get there, so [`SharedCube::finish`]
/// renumbers every dictionary in sorted order: the cube and dictionaries it
/// returns depend only on the data.
pub struct SharedCube {
    texts: Vec<RwLock<Dictionary>>,
    groups: Vec<RwLock<Dictionary>>,
    builders: Mutex<BuilderPool>,
    /// Signalled when a builder goes back into the pool.
    returned: Condvar,
    extra_fields: Vec<String>,
    bench_spec: Option<BenchSpec>,
    period_registered: Option<chrono_tz::Tz>,
}

/// At most this many groups per attribute are analysed (nationalities
/// number about 200): more stops the run (`analysis::attributes`).
pub const MAX_GROUPS: usize = 500;

/// While reading, a group attribute with more than this many distinct
/// values among the counted stops stops the run at once (duplicates found
/// later can lower the count, so the exact check of [`MAX_GROUPS`] comes
/// after the scan): 1 million distinct values took 1 GB and 7 s before
/// the run was refused.
pub const MAX_GROUPS_WHILE_READING: usize = 2 * MAX_GROUPS;

/// The most builders a [`SharedCube`] makes: each is as large as the cube
/// (some 25 MB on the 10M-row benchmark file), so with many threads they,
/// not the batches, would set the peak memory; a thread that finds them all
/// busy waits for one.
const MAX_BUILDERS: usize = 8;

/// The builders not in use, and how many were made.
#[derive(Default)]
struct BuilderPool {
    free: Vec<CubeBuilder>,
    made: usize,
}

impl SharedCube {
    /// Counting for `attributes` group attributes and these extra stratum fields.
    pub fn new(attributes: usize, extra_fields: &[String]) -> Self {
        SharedCube {
            texts: (0..TEXT_FIELDS.len()).map(|_| RwLock::default()).collect(),
            groups: (0..attributes).map(|_| RwLock::default()).collect(),
            builders: Mutex::default(),
            returned: Condvar::new(),
            extra_fields: extra_fields.to_vec(),
            bench_spec: None,
            period_registered: None,
        }
    }

    /// The same, counting the trends' periods by `registered_at` when given.
    pub fn with_registration_periods(mut self, tz: Option<chrono_tz::Tz>) -> Self {
        self.period_registered = tz;
        self
    }

    /// The same, also counting the internal-benchmarking table.
    pub fn with_benchmark(mut self, spec: Option<BenchSpec>) -> Self {
        self.bench_spec = spec;
        self
    }

    /// A new builder counting what this cube counts.
    pub fn builder(&self) -> CubeBuilder {
        CubeBuilder::new(&self.extra_fields)
            .with_benchmark(self.bench_spec.clone())
            .with_registration_periods(self.period_registered)
    }

    /// Distinct values coded so far per group attribute.
    pub fn group_values(&self) -> Vec<usize> {
        self.groups
            .iter()
            .map(|d| {
                d.read()
                    .expect("no thread panics holding a dictionary")
                    .len()
            })
            .collect()
    }

    /// The extra stratum fields the cube keeps.
    pub fn extra_fields(&self) -> &[String] {
        &self.extra_fields
    }

    /// The run's codes of a batch's text and group values: `(texts, groups)`,
    /// indexed like the batch's `text_values` and `group_values`.
    pub fn codes_of(&self, batch: &StopBatch) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
        fn code_all(dict: &RwLock<Dictionary>, values: &[String]) -> Vec<u32> {
            {
                let read = dict.read().expect("no thread panics holding a dictionary");
                let known: Option<Vec<u32>> = values.iter().map(|v| read.get(v)).collect();
                if let Some(codes) = known {
                    return codes;
                }
            }
            let mut write = dict.write().expect("no thread panics holding a dictionary");
            values.iter().map(|v| write.code(v)).collect()
        }
        let texts = self
            .texts
            .iter()
            .zip(&batch.text_values)
            .map(|(d, v)| code_all(d, v))
            .collect();
        let groups = self
            .groups
            .iter()
            .zip(&batch.group_values)
            .map(|(d, v)| code_all(d, v))
            .collect();
        (texts, groups)
    }

    /// Adds a batch's counts (see [`CubeBuilder::merge_batch`]).
    pub fn add(&self, counts: &BatchCounts, texts: &[Vec<u32>], groups: &[Vec<u32>]) {
        self.with_builder(|b| b.merge_batch(counts, texts, groups));
    }

    /// Counts a batch's stops in the time tables of a pooled builder: the
    /// calendar tables in local time of `tz`, and the veil-of-darkness table
    /// when `daylight` is given (codes as in [`SharedCube::add`]).
    pub fn add_time_tables(
        &self,
        batch: &StopBatch,
        tz: chrono_tz::Tz,
        daylight: Option<&Daylight>,
        texts: &[Vec<u32>],
        groups: &[Vec<u32>],
    ) {
        // Each stop's local time once, for every time table.
        let mut clock = BatchClock::new(tz, &batch.fields.stopped_at);
        let times: Vec<LocalTime> = batch
            .fields
            .stopped_at
            .iter()
            .map(|&t| clock.local(t))
            .collect();
        self.with_builder(|builder| {
            builder
                .calendar
                .add_batch(batch, &times, builder.calendar_columns, (texts, groups));
            if let Some(spec) = &self.bench_spec {
                for (i, &time) in times.iter().enumerate() {
                    builder
                        .bench
                        .add_stop(batch, i, time, spec, (texts, groups), 1);
                }
            }
            if let Some(daylight) = daylight {
                let mut view = DaylightBatch::new(daylight, batch);
                for (i, &time) in times.iter().enumerate() {
                    builder.darkness.add_stop(
                        batch,
                        i,
                        time,
                        &mut view,
                        (&texts[UNIT_FIELD], groups),
                        1,
                    );
                }
            }
        });
    }

    /// Runs `f` on a builder taken from the pool (a new one when all are
    /// busy and fewer than [`MAX_BUILDERS`] were made, else the first one
    /// back) and puts it back.
    fn with_builder(&self, f: impl FnOnce(&mut CubeBuilder)) {
        let lost = "no thread panics holding the pool";
        let mut builder = {
            let mut pool = self.builders.lock().expect(lost);
            loop {
                if let Some(b) = pool.free.pop() {
                    break b;
                }
                if pool.made < MAX_BUILDERS {
                    pool.made += 1;
                    break self.builder();
                }
                pool = self.returned.wait(pool).expect(lost);
            }
        };
        f(&mut builder);
        self.builders.lock().expect(lost).free.push(builder);
        self.returned.notify_one();
    }

    /// The cube and dictionaries, less the `removed` counts (stops counted
    /// and then found to be duplicates), with codes in sorted order.
    pub fn finish(mut self, removed: CubeBuilder) -> (CountCube, Dictionaries) {
        let mut builders = std::mem::take(
            &mut self
                .builders
                .get_mut()
                .expect("no thread panics holding the pool")
                .free,
        );
        // The first builder is the total's start: one merge fewer.
        let mut total = builders.pop().unwrap_or_else(|| self.builder());
        for b in builders {
            total.add(&b, 1);
        }
        total.add(&removed, -1);
        let sort = |d: Vec<RwLock<Dictionary>>| -> (Vec<Dictionary>, Vec<Vec<u32>>) {
            d.into_iter()
                .map(|d| {
                    d.into_inner()
                        .expect("no thread panics holding a dictionary")
                        .sorted()
                })
                .unzip()
        };
        let (texts, text_codes) = sort(self.texts);
        let (groups, group_codes) = sort(self.groups);
        let cube = total.renumbered(&text_codes, &group_codes).finish();
        (cube, Dictionaries { texts, groups })
    }
}

/// `rest` with its unit and dictionary extra strata recoded by `texts`.
fn recode_rest(extra_texts: &[Option<usize>], rest: u128, texts: &[Vec<u32>]) -> u128 {
    let recode = |field: usize, code: u32| {
        if code == NONE_U32 {
            NONE_U32
        } else {
            texts[field][code as usize]
        }
    };
    let low = rest as u64;
    let unit = recode(UNIT_FIELD, (low >> 28) as u32);
    let low = (low & ((1 << 28) - 1)) | u64::from(unit) << 28;
    let mut extra = [(rest >> 64) as u32, (rest >> 96) as u32];
    for (slot, field) in extra_texts.iter().enumerate() {
        if let Some(k) = field {
            extra[slot] = recode(*k, extra[slot]);
        }
    }
    let high = u64::from(extra[0]) | u64::from(extra[1]) << 32;
    u128::from(low) | u128::from(high) << 64
}

fn code_or_missing(v: u8) -> u32 {
    if v == NONE_U8 { MISSING } else { u32::from(v) }
}

/// Stop counts per [`CellKey`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountCube {
    /// Stops per cell.
    pub cells: foldhash::HashMap<CellKey, u64>,
    /// The fields in [`CellKey::extra`], in order (at most two, from [`EXTRA_FIELDS`]).
    pub extra_fields: Vec<String>,
    /// The veil-of-darkness table, in the same codes (empty unless counted).
    pub darkness: DarknessCounts,
    /// The calendar tables, in the same codes (empty unless counted).
    pub calendar: CalendarCounts,
    /// The internal-benchmarking table, in the same codes (empty unless counted).
    pub bench: BenchCounts,
}

impl CountCube {
    /// An empty cube that also counts the given extra stratum fields.
    pub fn with_extra_fields(extra_fields: &[String]) -> Self {
        assert!(extra_fields.len() <= 2, "at most two extra stratum fields");
        assert!(
            extra_fields
                .iter()
                .all(|f| EXTRA_FIELDS.contains(&f.as_str())),
            "unknown extra field"
        );
        CountCube {
            cells: Default::default(),
            extra_fields: extra_fields.to_vec(),
            darkness: DarknessCounts::default(),
            calendar: CalendarCounts::default(),
            bench: BenchCounts::default(),
        }
    }

    /// Total stops counted (every stop is counted once per attribute).
    pub fn total(&self) -> u64 {
        self.cells
            .iter()
            .filter(|(k, _)| k.attribute == 0)
            .map(|(_, n)| n)
            .sum()
    }

    /// Adds another cube's counts to this one.
    pub(crate) fn merge(&mut self, other: &CountCube) {
        assert_eq!(
            self.extra_fields, other.extra_fields,
            "cubes count the same fields"
        );
        for (k, n) in &other.cells {
            *self.cells.entry(*k).or_default() += n;
        }
        self.darkness.add(&other.darkness, 1);
        self.calendar.add(&other.calendar, 1);
        self.bench.add(&other.bench, 1);
    }

    /// Counts a batch of canonical stops and adds the counts, giving the
    /// batch's values their codes in `dicts` (in order of first appearance).
    pub fn add_batch(&mut self, batch: &StopBatch, dicts: &mut Dictionaries) {
        let counts = BatchCounts::count(batch, &self.extra_fields);
        let (texts, groups) = dicts.translate(batch);
        let mut builder = CubeBuilder::new(&self.extra_fields);
        builder.merge_batch(&counts, &texts, &groups);
        self.merge(&builder.finish());
    }

    /// Labelled tables for output.
    pub fn tables(
        &self,
        dicts: &Dictionaries,
        codes: &CodeLists,
        attributes: &[String],
    ) -> CountTables {
        let mut gjo: BTreeMap<(u16, &str, u8, u8), u64> = BTreeMap::new();
        let mut units: BTreeMap<(&str, u16, &str, u8, u8), u64> = BTreeMap::new();
        let unit_dict = dicts.text("unit");
        for (key, &n) in &self.cells {
            let unit = key
                .unit
                .map(|u| unit_dict.label(u))
                .unwrap_or(UNKNOWN_GROUP);
            let group = match dicts.groups.get(usize::from(key.attribute)) {
                Some(d) if !attributes.is_empty() => d.label(key.group),
                _ => "all",
            };
            *gjo.entry((key.attribute, group, key.justification, key.outcome))
                .or_default() += n;
            *units
                .entry((unit, key.attribute, group, key.justification, key.outcome))
                .or_default() += n;
        }
        let attr_name = |a: u16| {
            attributes
                .get(usize::from(a))
                .cloned()
                .unwrap_or_else(|| "all".into())
        };
        let row = |unit: Option<&str>, a: u16, group: &str, j: u8, o: u8, stops: u64| CountRow {
            unit: unit.map(str::to_string),
            attribute: attr_name(a),
            group: group.to_string(),
            justification: codes.justification.get(j).code.clone(),
            outcome: codes.outcome.get(o).code.clone(),
            stops,
        };
        CountTables {
            total_stops: self.total(),
            rounded_to: None,
            attributes: attributes.to_vec(),
            by_group_justification_outcome: gjo
                .into_iter()
                .map(|((a, group, j, o), stops)| row(None, a, group, j, o, stops))
                .collect(),
            by_unit: units
                .into_iter()
                .map(|((unit, a, group, j, o), stops)| row(Some(unit), a, group, j, o, stops))
                .collect(),
        }
    }
}

/// The count tables of `stopaudit analyze`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountTables {
    /// Stops counted, each once (whatever the number of attributes).
    pub total_stops: u64,
    /// Group attributes in use (empty: rows carry attribute and group `all`).
    pub attributes: Vec<String>,
    /// The base the cells' counts are rounded to by the disclosure step
    /// (docs/methods.md, "Small cells"); absent: exact counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rounded_to: Option<u64>,
    /// Stops per attribute × group × justification × outcome.
    pub by_group_justification_outcome: Vec<CountRow>,
    /// Stops per unit × attribute × group × justification × outcome.
    pub by_unit: Vec<CountRow>,
}

/// Stops in one cell of a count table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountRow {
    /// The unit, in `by_unit` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Group attribute (`all` without group attributes).
    pub attribute: String,
    /// Group (`all` without group attributes).
    pub group: String,
    /// Justification code.
    pub justification: String,
    /// Outcome code.
    pub outcome: String,
    /// Stops in the cell (rounded when the table's `rounded_to` says so;
    /// a cell whose count is, or is rounded to, 0 has no row).
    pub stops: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::StopBatch;
    use crate::canonical::StopRow;
    use crate::testing::{arb_full_stop, arb_stop, batch_of, stop};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;
    use rayon::prelude::*;

    /// A batch's counts per (rest, attribute, group), parts summed.
    fn cells_of(counts: &BatchCounts) -> BTreeMap<(u128, usize, u32), u64> {
        let mut cells = BTreeMap::new();
        counts.each_cell(|rest, a, g, n| *cells.entry((rest, a, g)).or_default() += n);
        cells
    }

    fn cube_of(rows: &[StopRow], dicts: &mut Dictionaries, attrs: &[String]) -> CountCube {
        let mut cube = CountCube::default();
        cube.add_batch(&batch_of(rows, attrs), dicts);
        cube
    }

    /// Stops spread over three years with officers and minutes, for the calendar tables.
    fn arb_timed_stop() -> impl Strategy<Value = StopRow> {
        (
            arb_full_stop(),
            0..(3 * 365 * 24 * 60i64),
            prop::option::of(0..4usize),
        )
            .prop_map(|(mut s, minutes, officer)| {
                // From 2024-01-01T00:00Z, across clock changes and year ends.
                s.stopped_at = 1_704_067_200_000 + minutes * 60_000;
                s.texts[4] = officer.map(|o| format!("officer {o}"));
                // Registered up to four days later, or not at all.
                s.registered_at =
                    (minutes % 5 != 0).then(|| s.stopped_at + (minutes % 97) * 3_600_000);
                s
            })
    }

    /// Batches counted through a [`SharedCube`] by more threads than it
    /// makes builders (so threads wait for one) give the same cube and
    /// dictionaries as one thread counting them in order.
    #[test]
    fn pooled_counting_matches_one_thread_when_threads_wait_for_builders() {
        let attrs: Vec<String> = ["nationality", "gender", "age_band"]
            .map(String::from)
            .to_vec();
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let batches: Vec<StopBatch> = (0..64)
            .map(|_| {
                let rows = prop::collection::vec(arb_timed_stop(), 1..200)
                    .new_tree(&mut runner)
                    .unwrap()
                    .current();
                batch_of(&rows, &attrs)
            })
            .collect();
        let count_with = |threads: usize| {
            let cube = SharedCube::new(attrs.len(), &[]);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                batches.par_iter().with_max_len(1).for_each(|batch| {
                    let counts = BatchCounts::count(batch, cube.extra_fields());
                    let (texts, groups) = cube.codes_of(batch);
                    // Held a while, so that threads find every builder busy.
                    cube.with_builder(|b| {
                        std::thread::sleep(std::time::Duration::from_millis(2));
                        b.merge_batch(&counts, &texts, &groups);
                    });
                    cube.add_time_tables(
                        batch,
                        chrono_tz::Europe::Amsterdam,
                        None,
                        &texts,
                        &groups,
                    );
                })
            });
            let made = cube.builders.lock().unwrap().made;
            let removed = cube.builder();
            let (cube, dicts) = cube.finish(removed);
            let labels = |d: &[Dictionary]| -> Vec<Vec<String>> {
                d.iter().map(|d| d.labels().to_vec()).collect()
            };
            (cube, labels(&dicts.texts), labels(&dicts.groups), made)
        };
        let (one, one_texts, one_groups, one_made) = count_with(1);
        let (many, many_texts, many_groups, many_made) = count_with(4 * MAX_BUILDERS);
        assert_eq!(one_made, 1);
        assert_eq!(many_made, MAX_BUILDERS);
        assert_eq!(one, many);
        assert_eq!(one_texts, many_texts);
        assert_eq!(one_groups, many_groups);
        assert_eq!(
            one.cells.values().sum::<u64>(),
            3 * batches.iter().map(|b| b.rows.len() as u64).sum::<u64>()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The calendar tables' dense batch path equals counting stop by stop.
        #[test]
        fn calendar_batch_path_matches_stop_by_stop(rows in prop::collection::vec(arb_timed_stop(), 0..300)) {
            let attrs: Vec<String> = ["nationality", "gender", "age_band"].map(String::from).to_vec();
            let batch = batch_of(&rows, &attrs);
            let identity = |values: &Vec<Vec<String>>| -> Vec<Vec<u32>> {
                values.iter().map(|v| (0..v.len() as u32).collect()).collect()
            };
            let (texts, groups) = (identity(&batch.text_values), identity(&batch.group_values));
            let tz = chrono_tz::Europe::Amsterdam;
            for columns in [TEXT_COLUMNS, TextColumns { period_registered: Some(tz), ..TEXT_COLUMNS }] {
                let mut dense = CalendarCounts::default();
                let mut clock = BatchClock::new(tz, &batch.fields.stopped_at);
                let times: Vec<_> = batch.fields.stopped_at.iter().map(|&t| clock.local(t)).collect();
                dense.add_batch(&batch, &times, columns, (&texts, &groups));
                let mut one_by_one = CalendarCounts::default();
                for i in 0..batch.len() {
                    let time = clock.local(batch.fields.stopped_at[i]);
                    one_by_one.add_stop(&batch, i, time, columns, (&texts, &groups), 1);
                }
                prop_assert_eq!(&dense, &one_by_one);
                let stops: u64 = dense.unit_months.values().sum();
                prop_assert_eq!(stops, rows.len() as u64);
                // Taking every stop out again leaves nothing.
                for i in 0..batch.len() {
                    let time = clock.local(batch.fields.stopped_at[i]);
                    one_by_one.add_stop(&batch, i, time, columns, (&texts, &groups), -1);
                }
                prop_assert_eq!(one_by_one, CalendarCounts::default());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// Dense rows give the same cells as the sparse maps, also when
        /// only the first strata of a batch fit their limit.
        #[test]
        fn dense_counts_match_sparse_counts(rows in prop::collection::vec(arb_full_stop(), 0..300), limit in 1..400usize) {
            let attrs: Vec<String> = ["nationality", "gender", "age_band"].map(String::from).to_vec();
            for attrs in [&attrs[..], &attrs[..1], &[]] {
                let rows: Vec<StopRow> = rows.iter().map(|r| StopRow { groups: r.groups[..attrs.len()].to_vec(), ..r.clone() }).collect();
                let batch = batch_of(&rows, attrs);
                for extra in [vec![], vec!["district".to_string(), "subject_type".to_string()]] {
                    let sparse = BatchCounts::count_dense_up_to(&batch, &extra, 0);
                    prop_assert!(sparse.dense.iter().all(Vec::is_empty));
                    let dense = BatchCounts::count_dense_up_to(&batch, &extra, DENSE_COUNTS);
                    prop_assert!(dense.cells.cells.iter().all(|c| c.is_empty()));
                    let part = BatchCounts::count_dense_up_to(&batch, &extra, limit);
                    prop_assert_eq!(cells_of(&dense), cells_of(&sparse));
                    prop_assert_eq!(cells_of(&part), cells_of(&sparse));
                    prop_assert_eq!(dense.total(), rows.len() as u64);
                    prop_assert_eq!(part.total(), rows.len() as u64);
                }
            }
        }

        /// Taking a stop out of a batch's counts is the same as never counting it.
        #[test]
        fn removing_a_stop_undoes_counting_it(rows in prop::collection::vec(arb_full_stop(), 1..100), pick in 0..100usize) {
            let attrs: Vec<String> = ["nationality", "gender", "age_band"].map(String::from).to_vec();
            let extra = vec!["district".to_string()];
            let pick = pick % rows.len();
            let batch = batch_of(&rows, &attrs);
            let mut counts = BatchCounts::count(&batch, &extra);
            counts.remove(&batch, pick);
            let mut fewer = rows.clone();
            fewer.remove(pick);
            // Counted again without the stop, coded against the first batch's values.
            let mut again = batch_of(&fewer, &attrs);
            again.text_values.clone_from(&batch.text_values);
            again.group_values.clone_from(&batch.group_values);
            for (k, codes) in again.texts.iter_mut().enumerate() {
                for (j, c) in codes.iter_mut().enumerate() {
                    if let Some(v) = fewer[j].texts[k].as_deref() {
                        *c = batch.text_values[k].iter().position(|x| x == v).unwrap() as u32;
                    }
                }
            }
            for (a, codes) in again.groups.iter_mut().enumerate() {
                for (j, c) in codes.iter_mut().enumerate() {
                    *c = batch.group_values[a].iter().position(|x| *x == fewer[j].groups[a]).unwrap() as u32;
                }
            }
            prop_assert_eq!(counts.total(), fewer.len() as u64);
            prop_assert_eq!(cells_of(&counts), cells_of(&BatchCounts::count(&again, &extra)));
            // The same for a stop counted in the sparse maps.
            let mut counts = BatchCounts::count_dense_up_to(&batch, &extra, 0);
            counts.remove(&batch, pick);
            prop_assert_eq!(cells_of(&counts), cells_of(&BatchCounts::count(&again, &extra)));
        }

        /// Cubes are mergeable: counting two parts and adding them gives the cube of the whole.
        #[test]
        fn partial_cubes_sum_to_the_whole(rows in prop::collection::vec(arb_stop(), 0..200), split in 0..200usize) {
            let attrs = vec!["nationality".to_string()];
            let mut dicts = Dictionaries::new(1);
            let split = split.min(rows.len());
            let whole = cube_of(&rows, &mut dicts, &attrs);
            let mut parts = cube_of(&rows[..split], &mut dicts, &attrs);
            parts.merge(&cube_of(&rows[split..], &mut dicts, &attrs));
            prop_assert_eq!(parts.total(), rows.len() as u64);
            prop_assert_eq!(whole, parts);
        }
    }

    #[test]
    fn unit_is_where_the_kernel_looks_for_it() {
        assert_eq!(TEXT_FIELDS[UNIT_FIELD], "unit");
        assert_eq!(TEXT_FIELDS[TEXT_COLUMNS.officer], "officer_id");
    }

    #[test]
    fn tables_are_labelled_margins_sorted_by_name_and_code() {
        let attrs = vec!["nationality".to_string()];
        let mut dicts = Dictionaries::new(1);
        let rows = vec![
            stop("TR", 0, 2, Some("Rotterdam"), Some(true)),
            stop("NL", 0, 0, Some("Amsterdam"), None),
            stop("NL", 0, 0, None, None),
            stop("NL", 3, 2, Some("Amsterdam"), Some(false)),
        ];
        let cube = cube_of(&rows, &mut dicts, &attrs);
        let t = cube.tables(&dicts, &CodeLists::default(), &attrs);
        assert_eq!(t.total_stops, 4);
        let gjo: Vec<(String, String, String, u64)> = t
            .by_group_justification_outcome
            .iter()
            .map(|r| {
                (
                    r.group.clone(),
                    r.justification.clone(),
                    r.outcome.clone(),
                    r.stops,
                )
            })
            .collect();
        assert_eq!(
            gjo,
            [
                ("NL".into(), "behaviour".into(), "no_action".into(), 2),
                ("NL".into(), "observed_violation".into(), "fine".into(), 1),
                ("TR".into(), "behaviour".into(), "fine".into(), 1),
            ]
        );
        let units: Vec<(&str, u64)> = t
            .by_unit
            .iter()
            .map(|r| (r.unit.as_deref().unwrap(), r.stops))
            .collect();
        assert_eq!(
            units,
            [
                ("Amsterdam", 1),
                ("Amsterdam", 1),
                ("Rotterdam", 1),
                ("unknown", 1)
            ]
        );
    }
}
