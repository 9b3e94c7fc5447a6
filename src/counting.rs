//! Count tables: the narrow waist between the data and the statistics.
//!
//! One scan over the canonical stops fills a [`CountCube`]: for each group
//! attribute, stops per combination of group, justification, outcome, legal
//! basis, unit, search and contraband. Every table a later analysis needs is
//! a margin of that cube. Its size is bounded by the category space, not by
//! the number of stops. Cubes are plain mergeable data: the cubes of two
//! parts of the data sum to the cube of the whole.

use std::collections::BTreeMap;

use polars::prelude::*;
use serde::Serialize;

use crate::canonical::{Dictionaries, columns as c};
use crate::codes::CodeLists;
use crate::schema::UNKNOWN_GROUP;

/// One cell of the cube, in codes (see [`crate::canonical`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CellKey {
    /// Index of the group attribute (0 when there are none).
    pub attribute: u16,
    /// Dictionary code of the group within that attribute (0 when there are none).
    pub group: u32,
    pub justification: u8,
    pub outcome: u8,
    pub legal_basis: Option<u8>,
    pub unit: Option<u32>,
    pub search: Option<bool>,
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

/// Stop counts per [`CellKey`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CountCube {
    pub cells: foldhash::HashMap<CellKey, u64>,
    /// The fields in [`CellKey::extra`], in order (at most two, from [`EXTRA_FIELDS`]).
    pub extra_fields: Vec<String>,
}

impl CountTables {
    /// Small-cell suppression: each group's justification × outcome table
    /// (per unit for `by_unit`) is suppressed as in [`crate::analysis::suppress::table`].
    pub fn suppress(&mut self, k: u64, codes: &CodeLists) {
        let nj = codes.justification.codes().len();
        let no = codes.outcome.codes().len();
        let ji = |j: &str| {
            codes
                .justification
                .index_of(j)
                .map(usize::from)
                .expect("a justification code")
        };
        let oi = |o: &str| {
            codes
                .outcome
                .index_of(o)
                .map(usize::from)
                .expect("an outcome code")
        };
        fn apply<R>(
            rows: &mut [R],
            key: impl Fn(&R) -> (String, String, String),
            cell: impl Fn(&R) -> (usize, usize, u64),
            hide: impl Fn(&mut R),
            nj: usize,
            no: usize,
            k: u64,
        ) {
            let mut tables: BTreeMap<(String, String, String), Vec<usize>> = BTreeMap::new();
            for (i, r) in rows.iter().enumerate() {
                tables.entry(key(r)).or_default().push(i);
            }
            for idx in tables.values() {
                let mut grid = vec![vec![0u64; no]; nj];
                for &i in idx {
                    let (j, o, n) = cell(&rows[i]);
                    grid[j][o] = n;
                }
                let hidden = crate::analysis::suppress::table(&grid, k);
                for &i in idx {
                    let (j, o, _) = cell(&rows[i]);
                    if hidden[j][o] {
                        hide(&mut rows[i]);
                    }
                }
            }
        }
        apply(
            &mut self.by_group_justification_outcome,
            |r| (String::new(), r.attribute.clone(), r.group.clone()),
            |r| (ji(&r.justification), oi(&r.outcome), r.stops.unwrap_or(0)),
            |r| {
                r.stops = None;
                r.suppressed = true;
            },
            nj,
            no,
            k,
        );
        apply(
            &mut self.by_unit,
            |r| (r.unit.clone(), r.attribute.clone(), r.group.clone()),
            |r| (ji(&r.justification), oi(&r.outcome), r.stops.unwrap_or(0)),
            |r| {
                r.stops = None;
                r.suppressed = true;
            },
            nj,
            no,
            k,
        );
    }
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
    pub fn merge(&mut self, other: &CountCube) {
        assert_eq!(
            self.extra_fields, other.extra_fields,
            "cubes count the same fields"
        );
        for (k, n) in &other.cells {
            *self.cells.entry(*k).or_default() += n;
        }
    }

    /// Counts one canonical frame with lazy polars group-bys (one per
    /// attribute) and adds the result.
    pub fn add_frame(&mut self, frame: &DataFrame, attributes: &[String]) -> PolarsResult<()> {
        if attributes.is_empty() {
            return self.add_attribute(frame, 0, None);
        }
        for (a, attr) in attributes.iter().enumerate() {
            let a = u16::try_from(a).expect("fewer than 65536 group attributes");
            self.add_attribute(frame, a, Some(&format!("{}{attr}", c::GROUP_PREFIX)))?;
        }
        Ok(())
    }

    fn add_attribute(
        &mut self,
        frame: &DataFrame,
        attribute: u16,
        group_col: Option<&str>,
    ) -> PolarsResult<()> {
        let mut keys: Vec<Expr> = group_col.iter().map(|g| col(*g)).collect();
        for k in [
            c::JUSTIFICATION,
            c::OUTCOME,
            c::LEGAL_BASIS,
            "unit",
            c::SEARCH_CONDUCTED,
            c::CONTRABAND_FOUND,
        ] {
            keys.push(col(k));
        }
        for f in &self.extra_fields {
            keys.push(col(f.as_str()).cast(DataType::UInt32));
        }
        let counted = frame
            .clone()
            .lazy()
            .group_by(keys)
            .agg([len().cast(DataType::UInt64).alias("stops")])
            .collect()?;
        let groups: Vec<Option<u32>> = match group_col {
            Some(g) => counted.column(g)?.u32()?.iter().collect(),
            None => vec![Some(0); counted.height()],
        };
        let u8s = |name: &str| -> PolarsResult<Vec<Option<u8>>> {
            Ok(counted.column(name)?.u8()?.iter().collect())
        };
        let bools = |name: &str| -> PolarsResult<Vec<Option<bool>>> {
            Ok(counted.column(name)?.bool()?.iter().collect())
        };
        let justification = u8s(c::JUSTIFICATION)?;
        let outcome = u8s(c::OUTCOME)?;
        let legal_basis = u8s(c::LEGAL_BASIS)?;
        let unit: Vec<Option<u32>> = counted.column("unit")?.u32()?.iter().collect();
        let search = bools(c::SEARCH_CONDUCTED)?;
        let contraband = bools(c::CONTRABAND_FOUND)?;
        let stops: Vec<Option<u64>> = counted.column("stops")?.u64()?.iter().collect();
        let extra: Vec<Vec<Option<u32>>> = self
            .extra_fields
            .iter()
            .map(|f| Ok(counted.column(f)?.u32()?.iter().collect()))
            .collect::<PolarsResult<_>>()?;
        for i in 0..counted.height() {
            let mut extra_codes = [MISSING; 2];
            for (slot, values) in extra.iter().enumerate() {
                extra_codes[slot] = values[i].unwrap_or(MISSING);
            }
            let key = CellKey {
                attribute,
                group: groups[i].expect("group codes are never null"),
                justification: justification[i].expect("required"),
                outcome: outcome[i].expect("required"),
                legal_basis: legal_basis[i],
                unit: unit[i],
                search: search[i],
                contraband: contraband[i],
                extra: extra_codes,
            };
            *self.cells.entry(key).or_default() += stops[i].unwrap_or(0);
        }
        Ok(())
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
        CountTables {
            total_stops: self.total(),
            attributes: attributes.to_vec(),
            by_group_justification_outcome: gjo
                .into_iter()
                .map(|((a, group, j, o), stops)| GroupJustificationOutcome {
                    attribute: attr_name(a),
                    group: group.to_string(),
                    justification: codes.justification.get(j).code.clone(),
                    outcome: codes.outcome.get(o).code.clone(),
                    stops: Some(stops),
                    suppressed: false,
                })
                .collect(),
            by_unit: units
                .into_iter()
                .map(
                    |((unit, a, group, j, o), stops)| UnitGroupJustificationOutcome {
                        unit: unit.to_string(),
                        attribute: attr_name(a),
                        group: group.to_string(),
                        justification: codes.justification.get(j).code.clone(),
                        outcome: codes.outcome.get(o).code.clone(),
                        stops: Some(stops),
                        suppressed: false,
                    },
                )
                .collect(),
        }
    }
}

/// The count tables of `stopaudit analyze`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CountTables {
    pub total_stops: u64,
    /// Group attributes in use (empty: rows carry attribute and group `all`).
    pub attributes: Vec<String>,
    /// Stops per attribute × group × justification × outcome.
    pub by_group_justification_outcome: Vec<GroupJustificationOutcome>,
    /// Stops per unit × attribute × group × justification × outcome.
    pub by_unit: Vec<UnitGroupJustificationOutcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupJustificationOutcome {
    pub attribute: String,
    pub group: String,
    pub justification: String,
    pub outcome: String,
    /// `null` when suppressed.
    pub stops: Option<u64>,
    pub suppressed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnitGroupJustificationOutcome {
    pub unit: String,
    pub attribute: String,
    pub group: String,
    pub justification: String,
    pub outcome: String,
    /// `null` when suppressed.
    pub stops: Option<u64>,
    pub suppressed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::FrameBuilder;
    use crate::ingest::validate::StopRow;
    use proptest::prelude::*;

    fn stop(
        group: &str,
        justification: u8,
        outcome: u8,
        unit: Option<&str>,
        search: Option<bool>,
    ) -> StopRow {
        StopRow {
            stop_id: None,
            stopped_at: 1_700_000_000_000,
            justification,
            outcome,
            legal_basis: None,
            subject_type: None,
            reason_explained: None,
            search_conducted: search,
            contraband_found: None,
            latitude: None,
            longitude: None,
            texts: [unit.map(str::to_string), None, None, None, None, None],
            groups: vec![group.to_string()],
        }
    }

    fn cube_of(rows: &[StopRow], dicts: &mut Dictionaries, attrs: &[String]) -> CountCube {
        let mut b = FrameBuilder::new(attrs, "Europe/Amsterdam");
        for (i, r) in rows.iter().enumerate() {
            b.push(0, i as u64, r.clone(), dicts);
        }
        let mut cube = CountCube::default();
        if !b.is_empty() {
            cube.add_frame(&b.finish().unwrap(), attrs).unwrap();
        }
        cube
    }

    fn arb_stop() -> impl Strategy<Value = StopRow> {
        (
            0..4usize,
            0..5u8,
            0..6u8,
            prop::option::of(0..3usize),
            prop::option::of(any::<bool>()),
        )
            .prop_map(|(g, j, o, u, s)| {
                let units = ["Amsterdam", "Rotterdam", "Limburg"];
                stop(
                    ["NL", "MA", "TR", "unknown"][g],
                    j,
                    o,
                    u.map(|u| units[u]),
                    s,
                )
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
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
                    r.stops.unwrap(),
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
            .map(|r| (r.unit.as_str(), r.stops.unwrap()))
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
