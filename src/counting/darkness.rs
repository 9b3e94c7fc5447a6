//! The veil-of-darkness count table: stops in the inter-twilight window by
//! group, unit, year, clock minute, light or dark, and clock-change window
//! (see [`crate::daylight`]), plus how many stops fell in each
//! [`Light`] class. It is counted in the same pass as the cube, straight
//! into the pooled builders in the run's codes (a batch-local table first
//! would double the hash-map work), and follows the cube through duplicate
//! removal and renumbering; like the cube it is mergeable.

use crate::canonical::{NONE_U32, StopBatch};
use crate::clock::LocalTime;
use crate::daylight::{DaylightBatch, Light};

/// One cell of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DarkCell {
    pub attribute: u16,
    pub group: u32,
    /// Unit code, [`NONE_U32`] when missing.
    pub unit: u32,
    pub year: u16,
    /// Local clock time, minutes after midnight.
    pub minute: u16,
    pub dark: bool,
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
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DarknessCounts {
    pub cells: foldhash::HashMap<DarkCell, u64>,
    /// Stops per [`Light`] class, indexed by `Light as usize`.
    pub classes: [u64; 5],
}

impl DarknessCounts {
    /// Counts (`sign` 1) or takes out (`sign` -1) stop `i` of `batch` (local
    /// time `local`), with
    /// the batch's unit and group codes replaced by the run's (`units[old]`,
    /// `groups[attribute][old]`).
    pub fn add_stop(
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
        for (a, (codes, run)) in batch.groups.iter().zip(groups).enumerate() {
            let cell = DarkCell {
                attribute: a as u16,
                group: run[codes[i] as usize],
                unit,
                year: time.year,
                minute: time.minute,
                dark: time.light == Light::Dark,
                clock_change_window: time.clock_change_window,
            };
            self.add_cell(cell, 1, sign);
        }
    }

    fn add_cell(&mut self, cell: DarkCell, n: u64, sign: i64) {
        let count = self.cells.entry(cell).or_default();
        add_signed(count, n, sign);
        if *count == 0 {
            self.cells.remove(&cell);
        }
    }

    /// Adds `other` with `sign`, its unit and group codes replaced by
    /// `units[old]` and `groups[attribute][old]`.
    pub fn add_recoded(
        &mut self,
        other: &DarknessCounts,
        units: &[u32],
        groups: &[Vec<u32>],
        sign: i64,
    ) {
        for (c, &n) in &other.cells {
            let cell = DarkCell {
                unit: if c.unit == NONE_U32 {
                    NONE_U32
                } else {
                    units[c.unit as usize]
                },
                group: groups[usize::from(c.attribute)][c.group as usize],
                ..*c
            };
            self.add_cell(cell, n, sign);
        }
        for (t, o) in self.classes.iter_mut().zip(other.classes) {
            add_signed(t, o, sign);
        }
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) `other`, in the same codes.
    pub fn add(&mut self, other: &DarknessCounts, sign: i64) {
        for (c, &n) in &other.cells {
            self.add_cell(*c, n, sign);
        }
        for (t, o) in self.classes.iter_mut().zip(other.classes) {
            add_signed(t, o, sign);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.classes.iter().all(|&n| n == 0)
    }
}

fn add_signed(count: &mut u64, n: u64, sign: i64) {
    *count = count.wrapping_add_signed(sign * n as i64);
}
