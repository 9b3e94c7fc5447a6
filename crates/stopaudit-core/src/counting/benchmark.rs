//! The internal-benchmarking table: stops per entity (unit, team or
//! officer), stratum (area, time-of-day band, weekday or weekend, month)
//! and group, counted in the same pass as the cube when internal
//! benchmarking is on. In the run's codes, mergeable, following the cube
//! through duplicate removal and renumbering.

use crate::canonical::{NONE_U32, StopBatch};
use crate::clock::LocalTime;

/// What to count: the entities (index of each in the text fields) and the area field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchSpec {
    /// Per entity kind (by position): its text field.
    pub entities: Vec<usize>,
    /// The text field of the area stratum, if any.
    pub area: Option<usize>,
    /// Whether the time-of-day band, weekday/weekend and month are strata
    /// (a component that is not is counted as 0, which keeps the table small).
    pub band: bool,
    /// Whether weekday or weekend is a stratum.
    pub day_type: bool,
    /// Whether the month is a stratum.
    pub month: bool,
}

/// One cell of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BenchCell {
    /// Position in [`BenchSpec::entities`].
    pub kind: u8,
    /// Dictionary code of the entity in its text field.
    pub entity: u32,
    /// Area code, [`NONE_U32`] when missing or not counted.
    pub area: u32,
    /// 0: 00–06, 1: 06–12, 2: 12–18, 3: 18–24 (local time).
    pub band: u8,
    /// 0 weekday, 1 weekend (Saturday, Sunday).
    pub weekend: u8,
    /// Months since year 0.
    pub month: u32,
    /// Index of the group attribute.
    pub attribute: u16,
    /// Dictionary code of the group within that attribute.
    pub group: u32,
}

/// Stops per [`BenchCell`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BenchCounts {
    /// Stops per cell.
    pub cells: foldhash::HashMap<BenchCell, u64>,
}

fn recode(codes: &[u32], c: u32) -> u32 {
    if c == NONE_U32 {
        NONE_U32
    } else {
        codes[c as usize]
    }
}

impl BenchCounts {
    fn add_cell(&mut self, cell: BenchCell, n: u64, sign: i64) {
        let count = self.cells.entry(cell).or_default();
        *count = count.wrapping_add_signed(sign * n as i64);
        if *count == 0 {
            self.cells.remove(&cell);
        }
    }

    /// Counts (`sign` 1) or takes out (`sign` -1) stop `i` of `batch`, in
    /// the run's codes (`texts[k][old]`, `groups[a][old]`). Entities with
    /// no value are not counted.
    pub(crate) fn add_stop(
        &mut self,
        batch: &StopBatch,
        i: usize,
        time: LocalTime,
        spec: &BenchSpec,
        (texts, groups): (&[Vec<u32>], &[Vec<u32>]),
        sign: i64,
    ) {
        let area = spec
            .area
            .map_or(NONE_U32, |f| recode(&texts[f], batch.texts[f][i]));
        let band = if spec.band {
            (time.second / (6 * 3600)).clamp(0, 3) as u8
        } else {
            0
        };
        let weekend = u8::from(spec.day_type && time.date.weekday >= 5);
        let month = if spec.month {
            time.date.month_index()
        } else {
            0
        };
        for (kind, &field) in spec.entities.iter().enumerate() {
            let entity = recode(&texts[field], batch.texts[field][i]);
            if entity == NONE_U32 {
                continue;
            }
            for (a, (codes, run)) in batch.groups.iter().zip(groups).enumerate() {
                let cell = BenchCell {
                    kind: kind as u8,
                    entity,
                    area,
                    band,
                    weekend,
                    month,
                    attribute: a as u16,
                    group: run[codes[i] as usize],
                };
                self.add_cell(cell, 1, sign);
            }
        }
    }

    /// Adds `other` with `sign`, its entity, area and group codes replaced
    /// (`texts[field][old]`, `groups[a][old]`).
    pub(crate) fn add_recoded(
        &mut self,
        other: &BenchCounts,
        spec: &BenchSpec,
        (texts, groups): (&[Vec<u32>], &[Vec<u32>]),
        sign: i64,
    ) {
        for (c, &n) in &other.cells {
            let cell = BenchCell {
                entity: recode(&texts[spec.entities[usize::from(c.kind)]], c.entity),
                area: spec.area.map_or(NONE_U32, |f| recode(&texts[f], c.area)),
                group: groups[usize::from(c.attribute)][c.group as usize],
                ..*c
            };
            self.add_cell(cell, n, sign);
        }
    }

    /// Adds (`sign` 1) or subtracts (`sign` -1) `other`, in the same codes.
    pub fn add(&mut self, other: &BenchCounts, sign: i64) {
        for (c, &n) in &other.cells {
            self.add_cell(*c, n, sign);
        }
    }
}
