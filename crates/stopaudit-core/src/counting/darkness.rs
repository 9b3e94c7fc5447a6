//! The veil-of-darkness count table: stops in the inter-twilight window by
//! group, unit, year, clock minute, light or dark, and clock-change window
//! (see [`crate::daylight`]), plus how many stops fell in each
//! [`Light`] class. It is counted in the same pass as the cube, straight
//! into the pooled builders in the run's codes, and follows the cube through
//! duplicate removal and renumbering; like the cube it is mergeable.
//!
//! Counting goes into a dense `Tally` first: one array per unit and year,
//! indexed by clock minute, light and window, then by (attribute, group).
//! A stop's cells for all its attributes then lie side by side, and are
//! found by arithmetic instead of one hash-map lookup each (the hash map of
//! a 10-million-stop run held hundreds of thousands of cells, and its
//! lookups were the largest item of the profile). The tally is folded into
//! the sparse cells when it would outgrow its memory budget and whenever
//! the table is read.

use crate::canonical::{NONE_U32, StopBatch};
use crate::clock::LocalTime;
use crate::daylight::{DaylightBatch, Light};

/// One cell of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DarkCell {
    /// Index of the group attribute, in the run's order.
    pub attribute: u16,
    /// The stop's group code for that attribute, in the run's codes.
    pub group: u32,
    /// Unit code, [`NONE_U32`] when missing.
    pub unit: u32,
    /// Calendar year of the stop's local date.
    pub year: u16,
    /// Local clock time, minutes after midnight.
    pub minute: u16,
    /// Dark (from civil dusk on) rather than light (before sunset).
    pub dark: bool,
    /// Within the configured number of days of a clock change.
    pub clock_change_window: bool,
}

impl std::hash::Hash for DarkCell {
    /// As one 128-bit word: one hasher step per cell, not seven.
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let low = u64::from(self.group) | u64::from(self.unit) << 32;
        let high = u64::from(self.attribute)
            | u64::from(self.year) << 16
            | u64::from(self.minute) << 32
            | u64::from(self.dark) << 48
            | u64::from(self.clock_change_window) << 49;
        state.write_u128(u128::from(low) | u128::from(high) << 64);
    }
}

/// Stops per [`DarkCell`] (daylight and dark stops only) and per [`Light`] class (all stops).
#[derive(Debug, Clone, Default)]
pub struct DarknessCounts {
    /// Counts settled from the tally or added cell by cell.
    cells: foldhash::HashMap<DarkCell, u64>,
    /// Counts not yet in `cells` (only ever positive).
    tally: Tally,
    /// Set once the tally stopped paying for itself (see [`Self::count`]):
    /// stops then go straight into `cells`.
    sparse: bool,
    /// Stops per [`Light`] class, indexed by `Light as usize`.
    pub classes: [u64; 5],
}

impl PartialEq for DarknessCounts {
    fn eq(&self, other: &Self) -> bool {
        self.classes == other.classes && self.cells() == other.cells()
    }
}

impl Eq for DarknessCounts {}

impl DarknessCounts {
    /// Counts (`sign` 1) or takes out (`sign` -1) stop `i` of `batch` (local
    /// time `local`), with
    /// the batch's unit and group codes replaced by the run's (`units[old]`,
    /// `groups[attribute][old]`).
    pub(crate) fn add_stop(
        &mut self,
        batch: &StopBatch,
        i: usize,
        local: LocalTime,
        view: &mut DaylightBatch,
        (units, groups): (&[u32], &[Vec<u32>]),
        sign: i64,
    ) {
        let time = view.stop_time(batch, i, local);
        add_signed(&mut self.classes[time.light as usize], 1, sign);
        if !matches!(time.light, Light::Daylight | Light::Dark) {
            return;
        }
        let unit = match batch.texts[view.unit_field()][i] {
            NONE_U32 => NONE_U32,
            u => units[u as usize],
        };
        let codes = batch.groups.iter().zip(groups);
        let codes = codes.map(|(codes, run)| run[codes[i] as usize]);
        let at = (unit, time.year, time.minute);
        self.count(
            at,
            time.light == Light::Dark,
            time.clock_change_window,
            codes,
            sign,
        );
    }

    /// Counts (`sign` 1) or takes out (`sign` -1) one stop of
    /// `(unit, year, minute)`, light or dark, in the clock-change window or
    /// not, of the given group per attribute.
    fn count(
        &mut self,
        (unit, year, minute): (u32, u16, u16),
        dark: bool,
        clock_change_window: bool,
        groups: impl Iterator<Item = u32> + Clone,
        sign: i64,
    ) {
        if sign > 0 && !self.sparse {
            let time = Tally::time(minute, dark, clock_change_window);
            if self.tally.add((unit, year), time, groups.clone()) {
                return;
            }
            // Full: fold it into the cells. Folding reads every entry, so a
            // tally that filled up with fewer stops than a sixteenth of its
            // entries (many groups, units or years for the budget) costs
            // more than it saves, and so does one without room for a
            // single block: from then on this table counts cell by cell.
            let (stops, entries) = (self.tally.stops, self.tally.entries());
            self.settle();
            if stops.saturating_mul(16) >= entries
                && self.tally.add((unit, year), time, groups.clone())
            {
                return;
            }
            self.sparse = true;
        }
        for (a, group) in groups.enumerate() {
            let cell = DarkCell {
                attribute: a as u16,
                group,
                unit,
                year,
                minute,
                dark,
                clock_change_window,
            };
            self.add_cell(cell, 1, sign);
        }
    }

    pub(super) fn add_cell(&mut self, cell: DarkCell, n: u64, sign: i64) {
        let count = self.cells.entry(cell).or_default();
        add_signed(count, n, sign);
        if *count == 0 {
            self.cells.remove(&cell);
        }
    }

    /// Folds the tally into the cells.
    fn settle(&mut self) {
        let budget = self.tally.budget;
        let tally = std::mem::replace(
            &mut self.tally,
            Tally {
                budget,
                ..Tally::default()
            },
        );
        tally.for_each(|cell, n| self.add_cell(cell, n, 1));
    }

    /// Calls `f` on every cell with a non-zero count, tallied or not.
    fn for_each(&self, mut f: impl FnMut(DarkCell, u64)) {
        for (c, &n) in &self.cells {
            f(*c, n);
        }
        self.tally.for_each(f);
    }

    /// Stops per cell (cells with stops only), the tally folded in.
    pub fn cells(&self) -> std::borrow::Cow<'_, foldhash::HashMap<DarkCell, u64>> {
        if self.tally.is_empty() {
            return std::borrow::Cow::Borrowed(&self.cells);
        }
        // Into a copy of the cells alone: the tally itself need not be copied.
        let mut all = DarknessCounts {
            cells: self.cells.clone(),
            ..DarknessCounts::default()
        };
        self.tally.for_each(|cell, n| all.add_cell(cell, n, 1));
        std::borrow::Cow::Owned(all.cells)
    }

    /// Adds `other` with `sign`, its unit and group codes replaced by
    /// `units[old]` and `groups[attribute][old]`.
    pub(crate) fn add_recoded(
        &mut self,
        other: &DarknessCounts,
        units: &[u32],
        groups: &[Vec<u32>],
        sign: i64,
    ) {
        other.for_each(|c, n| {
            let cell = DarkCell {
                unit: if c.unit == NONE_U32 {
                    NONE_U32
                } else {
                    units[c.unit as usize]
                },
                group: groups[usize::from(c.attribute)][c.group as usize],
                ..c
            };
            self.add_cell(cell, n, sign);
        });
        for (t, o) in self.classes.iter_mut().zip(other.classes) {
            add_signed(t, o, sign);
        }
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) `other`, in the same codes.
    pub fn add(&mut self, other: &DarknessCounts, sign: i64) {
        other.for_each(|c, n| self.add_cell(c, n, sign));
        for (t, o) in self.classes.iter_mut().zip(other.classes) {
            add_signed(t, o, sign);
        }
    }

    /// Whether no stop has been counted in any light class.
    pub fn is_empty(&self) -> bool {
        self.classes.iter().all(|&n| n == 0)
    }
}

fn add_signed(count: &mut u64, n: u64, sign: i64) {
    *count = count.wrapping_add_signed(sign * n as i64);
}

/// Clock times in a tally block: minute of the day × dark × clock-change window.
const TIMES: usize = 24 * 60 * 4;

/// Memory all threads' tallies may take together before they are folded
/// into the sparse cells (each thread's builder gets its share, at least
/// [`MIN_TALLY_BYTES`]): a run with a few dozen units and years stays under
/// it, one with thousands of units (or years) folds now and then and stays
/// within it.
const TALLY_BYTES: usize = 128 << 20;

/// The smallest share of [`TALLY_BYTES`] a tally gets, however many threads.
const MIN_TALLY_BYTES: usize = 8 << 20;

/// Dense counts of tallied stops, block by block (see the module
/// documentation).
#[derive(Debug, Clone, Default)]
struct Tally {
    /// The block of each (unit, year).
    block_of: foldhash::HashMap<(u32, u16), usize>,
    /// Each block's (unit, year) and counts, indexed `time * stride + slot`.
    blocks: Vec<((u32, u16), Vec<u32>)>,
    /// The block of the previous stop: stops of a batch often share it.
    last: Option<((u32, u16), usize)>,
    /// Slots per time in every block, a power of two.
    stride: usize,
    /// The slot of each (attribute, group): `slot_of[attribute][group]`,
    /// [`NONE_U32`] when it has none yet.
    slot_of: Vec<Vec<u32>>,
    /// The (attribute, group) of each slot in use.
    owners: Vec<(u16, u32)>,
    /// Stops tallied: no count exceeds it, so the `u32` counts cannot
    /// overflow while it is below `u32::MAX`.
    stops: u64,
    /// Memory budget in bytes; when 0, this thread's share of
    /// [`TALLY_BYTES`] (tests set less).
    budget: usize,
}

impl Tally {
    /// The time index of a clock minute, light and clock-change window.
    fn time(minute: u16, dark: bool, clock_change_window: bool) -> usize {
        usize::from(minute) * 4 + usize::from(dark) * 2 + usize::from(clock_change_window)
    }

    fn is_empty(&self) -> bool {
        self.stops == 0
    }

    /// Counters held (read in full by a fold).
    fn entries(&self) -> u64 {
        (self.blocks.len() * self.stride * TIMES) as u64
    }

    /// Whether `blocks` blocks of `stride` slots fit the budget.
    fn fits(&self, blocks: usize, stride: usize) -> bool {
        let budget = if self.budget == 0 {
            (TALLY_BYTES / rayon::current_num_threads()).max(MIN_TALLY_BYTES)
        } else {
            self.budget
        };
        blocks * stride * TIMES * std::mem::size_of::<u32>() <= budget
    }

    /// Counts one stop of unit and year `block` at `time` with the given
    /// group code per attribute; false (and nothing counted) when the
    /// tally is full.
    fn add(
        &mut self,
        block: (u32, u16),
        time: usize,
        groups: impl Iterator<Item = u32> + Clone,
    ) -> bool {
        if self.stops >= u64::from(u32::MAX) {
            return false;
        }
        // Give every (attribute, group) a slot, widening the blocks when
        // the slots outgrow the stride.
        for (a, g) in groups.clone().enumerate() {
            if self.slot_of.len() <= a {
                self.slot_of.resize(a + 1, Vec::new());
            }
            let slots = &mut self.slot_of[a];
            if slots.len() <= g as usize {
                slots.resize(g as usize + 1, NONE_U32);
            }
            if slots[g as usize] == NONE_U32 {
                if self.owners.len() == self.stride {
                    let stride = (self.stride * 2).max(8);
                    if !self.fits(self.blocks.len(), stride) {
                        return false;
                    }
                    self.widen(stride);
                }
                self.slot_of[a][g as usize] = self.owners.len() as u32;
                self.owners.push((a as u16, g));
            }
        }
        let at = match self.last {
            Some((key, at)) if key == block => at,
            _ => match self.block_of.get(&block) {
                Some(&at) => at,
                None => {
                    if !self.fits(self.blocks.len() + 1, self.stride) {
                        return false;
                    }
                    self.blocks.push((block, vec![0; self.stride * TIMES]));
                    self.block_of.insert(block, self.blocks.len() - 1);
                    self.blocks.len() - 1
                }
            },
        };
        self.last = Some((block, at));
        let row = &mut self.blocks[at].1[time * self.stride..][..self.stride];
        for (a, g) in groups.enumerate() {
            row[self.slot_of[a][g as usize] as usize] += 1;
        }
        self.stops += 1;
        true
    }

    /// Lays every block out again with `stride` slots per time.
    fn widen(&mut self, stride: usize) {
        let old = self.stride;
        if old == 0 {
            // No slots yet, so no block has counts.
            for (_, counts) in &mut self.blocks {
                *counts = vec![0; stride * TIMES];
            }
            self.stride = stride;
            return;
        }
        for (_, counts) in &mut self.blocks {
            let mut wide = vec![0; stride * TIMES];
            for (time, row) in counts.chunks_exact(old).enumerate() {
                wide[time * stride..][..old].copy_from_slice(row);
            }
            *counts = wide;
        }
        self.stride = stride;
    }

    /// Calls `f` on every cell with a non-zero count.
    fn for_each(&self, mut f: impl FnMut(DarkCell, u64)) {
        if self.stride == 0 {
            return; // no attributes: nothing is counted
        }
        for ((unit, year), counts) in &self.blocks {
            for (time, row) in counts.chunks_exact(self.stride).enumerate() {
                for (&n, &(attribute, group)) in row.iter().zip(&self.owners) {
                    if n > 0 {
                        let cell = DarkCell {
                            attribute,
                            group,
                            unit: *unit,
                            year: *year,
                            minute: (time / 4) as u16,
                            dark: time & 2 != 0,
                            clock_change_window: time & 1 != 0,
                        };
                        f(cell, u64::from(n));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A stop: (unit, year, minute), dark, clock-change window, group per attribute.
    type Stop = ((u32, u16, u16), bool, bool, [u32; 3]);

    fn arb_stop() -> impl Strategy<Value = Stop> {
        (
            (
                prop_oneof![Just(NONE_U32), 0..6u32],
                2023..2026u16,
                0..1440u16,
            ),
            any::<bool>(),
            any::<bool>(),
            [0..5u32, 0..3u32, 0..40u32],
        )
    }

    /// The cells counted one by one, without the tally.
    fn by_hand(stops: &[Stop]) -> foldhash::HashMap<DarkCell, u64> {
        let mut cells = foldhash::HashMap::default();
        for &((unit, year, minute), dark, clock_change_window, groups) in stops {
            for (a, group) in groups.into_iter().enumerate() {
                let cell = DarkCell {
                    attribute: a as u16,
                    group,
                    unit,
                    year,
                    minute,
                    dark,
                    clock_change_window,
                };
                *cells.entry(cell).or_default() += 1;
            }
        }
        cells
    }

    /// Far more groups than the budget has room for: the table gives up
    /// the tally and counts cell by cell, with the same cells.
    #[test]
    fn too_many_groups_for_the_tally_count_cell_by_cell() {
        let stops: Vec<Stop> = (0..3_000u32)
            .map(|i| {
                (
                    (i % 40, 2024 + (i % 3) as u16, (i * 7 % 1440) as u16),
                    i % 2 == 0,
                    false,
                    [i % 1_500, i % 3, i % 7],
                )
            })
            .collect();
        let mut counts = DarknessCounts::default();
        counts.tally.budget = 2 * 1024 * TIMES * 4;
        for &(at, dark, window, groups) in &stops {
            counts.count(at, dark, window, groups.into_iter(), 1);
        }
        assert!(counts.sparse);
        assert_eq!(counts.cells().into_owned(), by_hand(&stops));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The tally gives the same cells as counting cell by cell, also
        /// when its budget makes it fold into the cells mid-way (a budget of
        /// 8 slots × 2 blocks) or widen its blocks for new groups; taking
        /// every stop out again leaves nothing.
        #[test]
        fn tally_matches_cell_by_cell(stops in prop::collection::vec(arb_stop(), 0..400), small in any::<bool>()) {
            let mut counts = DarknessCounts::default();
            if small {
                counts.tally.budget = 2 * 8 * TIMES * 4;
            }
            for &(at, dark, window, groups) in &stops {
                counts.count(at, dark, window, groups.into_iter(), 1);
            }
            let expected = by_hand(&stops);
            prop_assert_eq!(counts.cells().into_owned(), expected.clone());
            // Merged into another table, tally and all.
            let mut merged = DarknessCounts::default();
            merged.add(&counts, 1);
            prop_assert!(merged.tally.is_empty());
            prop_assert_eq!(&merged.cells, &expected);
            for &(at, dark, window, groups) in &stops {
                counts.count(at, dark, window, groups.into_iter(), -1);
            }
            prop_assert!(counts.cells().is_empty());
        }
    }
}
