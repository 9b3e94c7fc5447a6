//! The count cube as a portable artifact (`stopaudit count`, `--cube`).
//!
//! A cube on disk is a folder of tables of whole counts (Parquet, written
//! and read by the I/O crate) and a `manifest.json` ([`Manifest`]). The
//! tables hold *labels*, not the run's dictionary codes: a unit's name, a
//! group, a code of the code lists. That makes a cube readable by anyone
//! with a Parquet reader, writable by another engine (a Spark job), and
//! mergeable by plain addition: the cubes of the ten regional units,
//! concatenated table by table, are the cube of the whole, because
//! [`assemble`] adds the counts of rows with the same labels and gives the
//! dictionaries' values their codes in sorted order, as one run over all
//! inputs does ([`crate::counting::SharedCube::finish`]).
//!
//! A cube is a working file of the data owner: exact counts, nothing
//! suppressed, officer ids as in the data ([`NOTICE`]). The disclosure step
//! and pseudonymisation run when a cube (or the sum of several) is analysed.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::benchmark::{BenchCell, BenchSpec};
use super::calendar::{NO_PERIOD, PeriodCell};
use super::darkness::DarkCell;
use super::{CellKey, CountCube, MISSING};
use crate::accounting::{FileSummary, IngestSummary};
use crate::canonical::{Dictionaries, Dictionary, NONE_U32, TEXT_FIELDS, text_index};
use crate::codes::{CodeList, CodeLists};
use crate::daylight::Light;
use crate::error::{Error, Result};

/// What `manifest.json` says a cube is ([`Manifest::format`]).
pub const FORMAT: &str = "stopaudit count cube";

/// Version of the cube's tables and manifest; a reader refuses another.
pub const CUBE_VERSION: u32 = 1;

/// What every manifest says about the cube's use.
pub const NOTICE: &str = "A working file of the data owner: exact counts with nothing suppressed, and officer ids as they are in the data. Do not publish or share it outside the organisation that owns the data. Suppression of small cells and pseudonymisation of officers happen when the cube, or the sum of several, is analysed (stopaudit analyze --cube, stopaudit report --cube).";

/// The file name of the manifest in a cube's folder.
pub const MANIFEST_FILE: &str = "manifest.json";

/// One column of a [`Table`]: whole numbers, text or yes/no, each value
/// possibly missing.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// 64-bit integers (counts, years, minutes).
    Int(Vec<Option<i64>>),
    /// Labels.
    Text(Vec<Option<String>>),
    /// Yes or no.
    Bool(Vec<Option<bool>>),
}

impl Column {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::Int(v) => v.len(),
            Column::Text(v) => v.len(),
            Column::Bool(v) => v.len(),
        }
    }

    /// Whether the column has no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn kind(&self) -> &'static str {
        match self {
            Column::Int(_) => "whole numbers",
            Column::Text(_) => "text",
            Column::Bool(_) => "true/false",
        }
    }
}

/// A table of a cube: named columns of equal length, rows sorted by their
/// labels (so the same counts give the same bytes).
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The table's name, also its file's stem (`cells` → `cells.parquet`).
    pub name: String,
    /// Column name and values, in order.
    pub columns: Vec<(String, Column)>,
}

impl Table {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    fn column(&self, name: &str) -> Result<&Column> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .ok_or_else(|| {
                Error::Config(format!("cube table {}: has no column {name:?}", self.name))
            })
    }

    fn text(&self, name: &str) -> Result<&[Option<String>]> {
        match self.column(name)? {
            Column::Text(v) => Ok(v),
            other => Err(self.wrong_kind(name, "text", other)),
        }
    }

    fn int(&self, name: &str) -> Result<&[Option<i64>]> {
        match self.column(name)? {
            Column::Int(v) => Ok(v),
            other => Err(self.wrong_kind(name, "whole numbers", other)),
        }
    }

    fn bool(&self, name: &str) -> Result<&[Option<bool>]> {
        match self.column(name)? {
            Column::Bool(v) => Ok(v),
            other => Err(self.wrong_kind(name, "true/false", other)),
        }
    }

    fn wrong_kind(&self, name: &str, want: &str, got: &Column) -> Error {
        Error::Config(format!(
            "cube table {}, column {name}: holds {}, expected {want}",
            self.name,
            got.kind()
        ))
    }
}

/// The tables of a cube, by name, in this order.
pub const TABLES: [&str; 9] = [
    "cells",
    "light_classes",
    "darkness",
    "periods",
    "unit_months",
    "unit_minutes",
    "officer_months",
    "benchmark",
    "dictionaries",
];

/// Who counted a cube.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Engine {
    /// `stopaudit` (native) or `spark`.
    pub name: String,
    /// The engine's version.
    pub version: String,
}

/// One table's file in a cube's folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableFile {
    /// Table name (see [`TABLES`]).
    pub name: String,
    /// File name in the cube's folder.
    pub file: String,
    /// Rows in the table.
    pub rows: u64,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
}

/// `manifest.json`: what a cube is, how it was counted and from what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// [`CUBE_VERSION`] of the writer.
    pub cube_version: u32,
    /// [`NOTICE`]: a working file, never published.
    pub notice: String,
    /// Who counted it.
    pub engine: Engine,
    /// SHA-256 of [`Manifest::specification`] (compact JSON): cubes merge,
    /// and a configuration analyses a cube, only when theirs are equal.
    pub specification_sha256: String,
    /// Everything that decides what is counted and how: the column and
    /// value maps, code lists, `[input]`, `[period]`, the scope, the group
    /// attributes, the extra strata, the sun settings of the veil of
    /// darkness, the internal-benchmarking spec and the calendar's date.
    pub specification: serde_json::Value,
    /// The group attributes of the cube (declared or detected).
    pub attributes: Vec<String>,
    /// The extra strata of the `cells` table, in order.
    pub extra_fields: Vec<String>,
    /// Row accounting, the inputs with their SHA-256, the period covered
    /// and missing values (as `stopaudit analyze` reports them).
    pub summary: IngestSummary,
    /// Analysed rows without a value per field, for every field (the
    /// summary's `missing_values` leaves out fields no input has as a
    /// column; merged cubes decide that over all their inputs).
    pub missing_values_all: BTreeMap<String, u64>,
    /// The table files.
    pub tables: Vec<TableFile>,
}

/// SHA-256 of a specification, as written in [`Manifest::specification_sha256`].
pub fn specification_sha256(spec: &serde_json::Value) -> String {
    let text = serde_json::to_string(spec).expect("JSON values serialise");
    crate::accounting::sha256_bytes(text.as_bytes())
}

/// The labels a cube's tables are written in.
struct Labels<'a> {
    dicts: &'a Dictionaries,
    attributes: &'a [String],
}

impl Labels<'_> {
    fn attribute(&self, a: u16) -> Cell {
        Cell::Text(self.attributes.get(usize::from(a)).cloned())
    }

    fn group(&self, a: u16, g: u32) -> Cell {
        if self.attributes.is_empty() {
            return Cell::Text(None);
        }
        Cell::Text(Some(self.dicts.groups[usize::from(a)].label(g).to_string()))
    }

    fn text(&self, field: &str, code: u32) -> Cell {
        Cell::Text((code != NONE_U32).then(|| self.dicts.text(field).label(code).to_string()))
    }

    fn code(list: &CodeList, c: u8) -> Cell {
        Cell::Text(Some(list.get(c).code.clone()))
    }
}

/// One value of a row being built, ordered so rows sort by their labels.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Cell {
    Text(Option<String>),
    Int(Option<i64>),
    Bool(Option<bool>),
}

/// Rows of a table, sorted and turned into columns by [`Rows::table`].
struct Rows {
    name: &'static str,
    columns: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Rows {
    fn new(name: &'static str, columns: &[&str]) -> Self {
        Rows {
            name,
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<Cell>) {
        debug_assert_eq!(row.len(), self.columns.len());
        self.rows.push(row);
    }

    /// Column `k` of every row, through `f`.
    fn pick<T>(&self, k: usize, f: impl Fn(&Cell) -> T) -> Vec<T> {
        self.rows.iter().map(|r| f(&r[k])).collect()
    }

    fn table(mut self) -> Table {
        self.rows.sort();
        let mut columns: Vec<(String, Column)> = Vec::with_capacity(self.columns.len());
        for (k, name) in self.columns.iter().enumerate() {
            // The kind of a column is that of its values (every row of a
            // column holds the same kind); an empty table's from its name.
            let sample = self.rows.first().map(|r| &r[k]);
            let column = match sample {
                Some(Cell::Int(_)) => Column::Int(self.pick(k, |c| match c {
                    Cell::Int(v) => *v,
                    _ => unreachable!("one kind per column"),
                })),
                Some(Cell::Bool(_)) => Column::Bool(self.pick(k, |c| match c {
                    Cell::Bool(v) => *v,
                    _ => unreachable!("one kind per column"),
                })),
                Some(Cell::Text(_)) => Column::Text(self.pick(k, |c| match c {
                    Cell::Text(v) => v.clone(),
                    _ => unreachable!("one kind per column"),
                })),
                None => empty_column(name),
            };
            columns.push((name.clone(), column));
        }
        Table {
            name: self.name.to_string(),
            columns,
        }
    }
}

/// An empty column of the kind a cube's column `name` holds (every column
/// of every table has one kind, whatever the table): what a reader casts a
/// column to, and an empty table's columns.
pub fn empty_column(name: &str) -> Column {
    match name {
        "stops" | "year" | "minute" | "band" => Column::Int(Vec::new()),
        "search" | "contraband" | "dark" | "clock_change_window" | "weekend" => {
            Column::Bool(Vec::new())
        }
        _ => Column::Text(Vec::new()),
    }
}

fn count(n: u64) -> Cell {
    Cell::Int(Some(i64::try_from(n).expect("counts below 2^63")))
}

/// A month index (`year × 12 + month − 1`) as `YYYY-MM`.
fn month_label(m: u32) -> Cell {
    Cell::Text((m != NO_PERIOD).then(|| format!("{:04}-{:02}", m / 12, m % 12 + 1)))
}

/// The cells of the cube whose extra strata are `extra_fields`, with the
/// stratum columns named after them.
fn cells_columns(extra_fields: &[String]) -> Vec<String> {
    let mut columns: Vec<String> = [
        "attribute",
        "group",
        "justification",
        "outcome",
        "legal_basis",
        "unit",
        "search",
        "contraband",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    columns.extend(extra_fields.iter().cloned());
    columns.push("stops".into());
    columns
}

/// The light classes by name, in [`Light`] order.
const LIGHT_CLASSES: [&str; 5] = ["no_place", "outside_window", "twilight", "daylight", "dark"];

/// The cube and its dictionaries as tables of labels (see the module
/// documentation), in the order of [`TABLES`].
pub fn to_tables(
    cube: &CountCube,
    dicts: &Dictionaries,
    codes: &CodeLists,
    attributes: &[String],
    bench: Option<&BenchSpec>,
) -> Vec<Table> {
    let l = Labels { dicts, attributes };
    let columns = cells_columns(&cube.extra_fields);
    let mut cells = Rows {
        name: "cells",
        columns,
        rows: Vec::with_capacity(cube.cells.len()),
    };
    for (k, &n) in &cube.cells {
        let mut row = vec![
            l.attribute(k.attribute),
            l.group(k.attribute, k.group),
            Labels::code(&codes.justification, k.justification),
            Labels::code(&codes.outcome, k.outcome),
            Cell::Text(k.legal_basis.map(|b| codes.legal_basis.get(b).code.clone())),
            l.text("unit", k.unit.unwrap_or(NONE_U32)),
            Cell::Bool(k.search),
            Cell::Bool(k.contraband),
        ];
        for (slot, field) in cube.extra_fields.iter().enumerate() {
            let v = k.extra[slot];
            row.push(match (v, field.as_str()) {
                (MISSING, _) => Cell::Text(None),
                (v, "subject_type") => Labels::code(&codes.subject_type, v as u8),
                (v, "reason_explained") => Labels::code(&codes.reason_explained, v as u8),
                (v, text) => l.text(text, v),
            });
        }
        row.push(count(n));
        cells.push(row);
    }

    let mut light = Rows::new("light_classes", &["class", "stops"]);
    for (name, n) in LIGHT_CLASSES.iter().zip(cube.darkness.classes) {
        light.push(vec![Cell::Text(Some(name.to_string())), count(n)]);
    }

    let mut dark = Rows::new(
        "darkness",
        &[
            "attribute",
            "group",
            "unit",
            "year",
            "minute",
            "dark",
            "clock_change_window",
            "stops",
        ],
    );
    for (c, &n) in cube.darkness.cells().iter() {
        dark.push(vec![
            l.attribute(c.attribute),
            l.group(c.attribute, c.group),
            l.text("unit", c.unit),
            Cell::Int(Some(i64::from(c.year))),
            Cell::Int(Some(i64::from(c.minute))),
            Cell::Bool(Some(c.dark)),
            Cell::Bool(Some(c.clock_change_window)),
            count(n),
        ]);
    }

    let cal = &cube.calendar;
    let mut periods = Rows::new(
        "periods",
        &[
            "attribute",
            "group",
            "month",
            "justification",
            "outcome",
            "stops",
        ],
    );
    for (c, &n) in &cal.periods {
        periods.push(vec![
            l.attribute(c.attribute),
            l.group(c.attribute, c.group),
            month_label(c.month),
            Labels::code(&codes.justification, c.justification),
            Labels::code(&codes.outcome, c.outcome),
            count(n),
        ]);
    }
    let mut unit_months = Rows::new("unit_months", &["unit", "month", "stops"]);
    for (&(u, m), &n) in &cal.unit_months {
        unit_months.push(vec![l.text("unit", u), month_label(m), count(n)]);
    }
    let mut unit_minutes = Rows::new("unit_minutes", &["unit", "minute", "stops"]);
    for (&(u, minute), &n) in &cal.unit_minutes {
        unit_minutes.push(vec![
            l.text("unit", u),
            Cell::Int(Some(i64::from(minute))),
            count(n),
        ]);
    }
    let mut officer_months = Rows::new("officer_months", &["officer_id", "month", "stops"]);
    for (&(o, m), &n) in &cal.officer_months {
        officer_months.push(vec![l.text("officer_id", o), month_label(m), count(n)]);
    }

    let mut benchmark = Rows::new(
        "benchmark",
        &[
            "entity_field",
            "entity",
            "area",
            "band",
            "weekend",
            "month",
            "attribute",
            "group",
            "stops",
        ],
    );
    if let Some(spec) = bench {
        let area = spec.area.map(|k| TEXT_FIELDS[k]);
        for (c, &n) in &cube.bench.cells {
            let field = TEXT_FIELDS[spec.entities[usize::from(c.kind)]];
            benchmark.push(vec![
                Cell::Text(Some(field.to_string())),
                l.text(field, c.entity),
                match area {
                    Some(a) => l.text(a, c.area),
                    None => Cell::Text(None),
                },
                Cell::Int(Some(i64::from(c.band))),
                Cell::Bool(Some(c.weekend == 1)),
                if c.month == 0 {
                    Cell::Text(None)
                } else {
                    month_label(c.month)
                },
                l.attribute(c.attribute),
                l.group(c.attribute, c.group),
                count(n),
            ]);
        }
    }

    let mut dictionaries = Rows::new("dictionaries", &["kind", "field", "value"]);
    for (field, d) in TEXT_FIELDS.iter().zip(&dicts.texts) {
        for c in 0..d.len() as u32 {
            dictionaries.push(vec![
                Cell::Text(Some("text".into())),
                Cell::Text(Some(field.to_string())),
                Cell::Text(Some(d.label(c).to_string())),
            ]);
        }
    }
    for (attribute, d) in attributes.iter().zip(&dicts.groups) {
        for c in 0..d.len() as u32 {
            dictionaries.push(vec![
                Cell::Text(Some("group".into())),
                Cell::Text(Some(attribute.clone())),
                Cell::Text(Some(d.label(c).to_string())),
            ]);
        }
    }

    vec![
        cells.table(),
        light.table(),
        dark.table(),
        periods.table(),
        unit_months.table(),
        unit_minutes.table(),
        officer_months.table(),
        benchmark.table(),
        dictionaries.table(),
    ]
}

/// One cube read back: where it came from, its manifest and its tables.
#[derive(Debug, Clone)]
pub struct CubePart {
    /// The cube's folder, as given (for messages).
    pub name: String,
    /// Its manifest.
    pub manifest: Manifest,
    /// SHA-256 of the `manifest.json` bytes it was read from (for provenance).
    pub manifest_sha256: String,
    /// Its tables, by name.
    pub tables: Vec<Table>,
}

impl CubePart {
    fn table(&self, name: &str) -> Result<&Table> {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::Config(format!("cube {}: has no table {name}", self.name)))
    }
}

/// The run a set of cubes adds up to: the row accounting of all their
/// inputs, the summed counts and the dictionaries in sorted order.
#[derive(Debug, Clone)]
pub struct Assembled {
    /// Row accounting over every cube's inputs, in the order the cubes are given.
    pub summary: IngestSummary,
    /// The summed counts.
    pub cube: CountCube,
    /// The dictionaries, values coded in sorted order.
    pub dicts: Dictionaries,
}

/// Checks that `parts` were counted alike and that a run with the
/// specification `spec` may analyse them.
pub fn check_specifications(parts: &[CubePart], spec: &serde_json::Value) -> Result<()> {
    let want = specification_sha256(spec);
    for p in parts {
        let m = &p.manifest;
        if m.format != FORMAT || m.cube_version != CUBE_VERSION {
            return Err(Error::Config(format!(
                "{}: is not a stopaudit cube of version {CUBE_VERSION} (manifest says {:?}, version {}); count it again with this version",
                p.name, m.format, m.cube_version
            )));
        }
        if m.specification_sha256 != specification_sha256(&m.specification) {
            return Err(Error::Config(format!(
                "{}: manifest.json's specification does not match its specification_sha256: the manifest was edited; count the cube again",
                p.name
            )));
        }
        let spec_extra = m.specification.get("extra_fields").cloned();
        if spec_extra != Some(serde_json::json!(m.extra_fields)) {
            return Err(Error::Config(format!(
                "{}: manifest.json's extra_fields {:?} differ from its specification's: the manifest was edited; count the cube again",
                p.name, m.extra_fields
            )));
        }
        if m.specification_sha256 != want {
            let differ = differing_keys(&m.specification, spec);
            return Err(Error::Config(format!(
                "{}: was counted with other settings than this run's ({}); analyse it with the configuration, --period and --where it was counted with, or count it again",
                p.name,
                differ.join("; ")
            )));
        }
    }
    // An input counted into two cubes would be counted twice: the same
    // cube given twice, or one export counted by two units.
    let mut seen: BTreeMap<&str, &str> = BTreeMap::new();
    for p in parts {
        for f in p.manifest.summary.files.iter().filter(|f| f.rows_read > 0) {
            if let Some(other) = seen.insert(f.sha256.as_str(), p.name.as_str()) {
                return Err(Error::Config(format!(
                    "{} and {} both counted the input {} (SHA-256 {}): adding them would count its stops twice; give each cube once, and count an export into one cube only",
                    other, p.name, f.path, f.sha256
                )));
            }
        }
    }
    if let Some(first) = parts.first() {
        for p in &parts[1..] {
            if p.manifest.attributes != first.manifest.attributes {
                return Err(Error::Config(format!(
                    "{} has the group attributes [{}], {} has [{}]: cubes merge only with the same attributes (declare them in [groups] attributes)",
                    first.name,
                    first.manifest.attributes.join(", "),
                    p.name,
                    p.manifest.attributes.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The top-level keys in which two specifications differ, with both values (short).
fn differing_keys(cube: &serde_json::Value, run: &serde_json::Value) -> Vec<String> {
    let empty = serde_json::Map::new();
    let a = cube.as_object().unwrap_or(&empty);
    let b = run.as_object().unwrap_or(&empty);
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let short = |v: Option<&serde_json::Value>| {
        let s = v.map_or("absent".to_string(), |v| v.to_string());
        if s.chars().count() > 200 {
            format!("{}…", s.chars().take(200).collect::<String>())
        } else {
            s
        }
    };
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| format!("{k}: cube {} / run {}", short(a.get(k)), short(b.get(k))))
        .collect()
}

/// The run the cubes `parts` add up to (checked with
/// [`check_specifications`] first): tables concatenated and counts of the
/// same labels added, dictionaries merged and coded in sorted order, row
/// accounting added file by file.
pub fn assemble(
    parts: &[CubePart],
    codes: &CodeLists,
    bench: Option<&BenchSpec>,
) -> Result<Assembled> {
    let first = parts
        .first()
        .ok_or_else(|| Error::Usage("no cube given".into()))?;
    let attributes = first.manifest.attributes.clone();
    let extra_fields = first.manifest.extra_fields.clone();

    // The dictionaries: every value of every cube, in sorted order.
    let mut text_values: Vec<BTreeSet<String>> = vec![BTreeSet::new(); TEXT_FIELDS.len()];
    let mut group_values: Vec<BTreeSet<String>> = vec![BTreeSet::new(); attributes.len()];
    for p in parts {
        let t = p.table("dictionaries")?;
        let (kind, field, value) = (t.text("kind")?, t.text("field")?, t.text("value")?);
        for r in 0..t.rows() {
            let at = |c: &[Option<String>], col: &str| {
                c[r].clone().ok_or_else(|| missing(&p.name, t, col, r))
            };
            let (k, f, v) = (at(kind, "kind")?, at(field, "field")?, at(value, "value")?);
            let set = match k.as_str() {
                "text" if TEXT_FIELDS.contains(&f.as_str()) => &mut text_values[text_index(&f)],
                "group" => match attributes.iter().position(|a| *a == f) {
                    Some(a) => &mut group_values[a],
                    None => return Err(bad(&p.name, t, "field", r, &f, "no such group attribute")),
                },
                _ => return Err(bad(&p.name, t, "kind", r, &k, "expected text or group")),
            };
            set.insert(v);
        }
    }
    let dictionary = |values: BTreeSet<String>| {
        let mut d = Dictionary::default();
        for v in values {
            d.code(&v);
        }
        d
    };
    let dicts = Dictionaries {
        texts: text_values.into_iter().map(dictionary).collect(),
        groups: group_values.into_iter().map(dictionary).collect(),
    };

    for p in parts {
        check_totals(p)?;
    }
    let mut cube = CountCube::with_extra_fields(&extra_fields);
    for p in parts {
        let d = Decoder {
            part: &p.name,
            dicts: &dicts,
            codes,
            attributes: &attributes,
        };
        d.cells(p.table("cells")?, &extra_fields, &mut cube)?;
        d.light(p.table("light_classes")?, &mut cube)?;
        d.darkness(p.table("darkness")?, &mut cube)?;
        d.calendar(p, &mut cube)?;
        d.benchmark(p.table("benchmark")?, bench, &mut cube)?;
    }

    let summary = merge_summaries(parts)?;
    if cube.total() != summary.rows_analyzed {
        return Err(Error::Config(format!(
            "the cubes' cells hold {} stops but their manifests account for {} analysed rows: a table or manifest was changed; count the cubes again",
            cube.total(),
            summary.rows_analyzed
        )));
    }
    Ok(Assembled {
        summary,
        cube,
        dicts,
    })
}

/// Every table that counts each analysed stop once (per group attribute)
/// adds up to the manifest's analysed rows, summed without overflow: a
/// count changed by hand anywhere is refused, not analysed.
fn check_totals(p: &CubePart) -> Result<()> {
    let want = u128::from(p.manifest.summary.rows_analyzed);
    for name in [
        "cells",
        "periods",
        "unit_months",
        "unit_minutes",
        "officer_months",
        "light_classes",
    ] {
        let t = p.table(name)?;
        let stops = t.int("stops")?;
        let by_attribute =
            ["cells", "periods"].contains(&name) && !p.manifest.attributes.is_empty();
        let mut totals: BTreeMap<Option<&str>, i128> = BTreeMap::new();
        let attribute = if by_attribute {
            Some(t.text("attribute")?)
        } else {
            None
        };
        for (r, n) in stops.iter().enumerate() {
            let key = attribute.and_then(|a| a[r].as_deref());
            *totals.entry(key).or_default() += i128::from(n.unwrap_or(0));
        }
        let expected: Vec<Option<&str>> = if by_attribute {
            p.manifest
                .attributes
                .iter()
                .map(|a| Some(a.as_str()))
                .collect()
        } else {
            vec![None]
        };
        // The light classes are all 0 when the veil of darkness is off.
        let empty_ok = name == "light_classes" && totals.values().all(|n| *n == 0);
        // Stops without an officer are in no row of officer_months.
        let at_most = name == "officer_months";
        let fits = expected.iter().all(|k| {
            let n = totals.get(k).copied().unwrap_or(0);
            n == want as i128 || (at_most && (0..=want as i128).contains(&n))
        }) && totals.len() <= expected.len().max(1);
        if !(fits || empty_ok || (want == 0 && totals.values().all(|n| *n == 0))) {
            return Err(Error::Config(format!(
                "cube {}, table {name}: its stops do not add up to the {want} analysed rows of manifest.json (per group attribute): a table or the manifest was changed; count the cube again",
                p.name
            )));
        }
    }
    Ok(())
}

fn missing(part: &str, t: &Table, column: &str, row: usize) -> Error {
    Error::Config(format!(
        "cube {part}, table {}, row {}, column {column}: has no value",
        t.name,
        row + 1
    ))
}

fn bad(part: &str, t: &Table, column: &str, row: usize, value: &str, why: &str) -> Error {
    Error::Config(format!(
        "cube {part}, table {}, row {}, column {column}: {value:?}: {why}",
        t.name,
        row + 1
    ))
}

/// Turns one cube's labels into the merged run's codes.
struct Decoder<'a> {
    part: &'a str,
    dicts: &'a Dictionaries,
    codes: &'a CodeLists,
    attributes: &'a [String],
}

impl Decoder<'_> {
    fn attribute_group(
        &self,
        t: &Table,
        r: usize,
        attribute: &Option<String>,
        group: &Option<String>,
    ) -> Result<(u16, u32)> {
        if self.attributes.is_empty() {
            return Ok((0, 0));
        }
        let a = attribute
            .as_deref()
            .ok_or_else(|| missing(self.part, t, "attribute", r))?;
        let k = self
            .attributes
            .iter()
            .position(|x| x == a)
            .ok_or_else(|| bad(self.part, t, "attribute", r, a, "no such group attribute"))?;
        let g = group
            .as_deref()
            .ok_or_else(|| missing(self.part, t, "group", r))?;
        let code = self.dicts.groups[k]
            .get(g)
            .ok_or_else(|| bad(self.part, t, "group", r, g, "not in the cube's dictionary"))?;
        Ok((k as u16, code))
    }

    /// The code of a text field's value, [`NONE_U32`] when missing.
    fn text(&self, t: &Table, r: usize, field: &str, value: &Option<String>) -> Result<u32> {
        match value {
            None => Ok(NONE_U32),
            Some(v) => self
                .dicts
                .text(field)
                .get(v)
                .ok_or_else(|| bad(self.part, t, field, r, v, "not in the cube's dictionary")),
        }
    }

    fn code(
        &self,
        t: &Table,
        r: usize,
        column: &str,
        list: &CodeList,
        v: &Option<String>,
    ) -> Result<u8> {
        let v = v
            .as_deref()
            .ok_or_else(|| missing(self.part, t, column, r))?;
        list.index_of(v).ok_or_else(|| {
            bad(
                self.part,
                t,
                column,
                r,
                v,
                "not a code of this run's code lists (count with the same configuration)",
            )
        })
    }

    fn stops(&self, t: &Table, r: usize, stops: &[Option<i64>]) -> Result<u64> {
        match stops[r] {
            Some(n) if n > 0 => Ok(n as u64),
            Some(n) => Err(bad(
                self.part,
                t,
                "stops",
                r,
                &n.to_string(),
                "counts are positive",
            )),
            None => Err(missing(self.part, t, "stops", r)),
        }
    }

    fn month(&self, t: &Table, r: usize, v: &Option<String>) -> Result<u32> {
        let Some(v) = v else { return Ok(NO_PERIOD) };
        let parsed = v.split_once('-').and_then(|(y, m)| {
            let (y, m) = (y.parse::<u32>().ok()?, m.parse::<u32>().ok()?);
            (y <= 9999 && (1..=12).contains(&m)).then_some(y * 12 + m - 1)
        });
        parsed.ok_or_else(|| bad(self.part, t, "month", r, v, "expected YYYY-MM"))
    }

    fn int<T: TryFrom<i64>>(&self, t: &Table, r: usize, column: &str, v: Option<i64>) -> Result<T> {
        let v = v.ok_or_else(|| missing(self.part, t, column, r))?;
        T::try_from(v).map_err(|_| bad(self.part, t, column, r, &v.to_string(), "out of range"))
    }

    /// A whole number below `end` (a minute of the day or hour, a time band).
    fn below(&self, t: &Table, r: usize, column: &str, v: Option<i64>, end: i64) -> Result<i64> {
        let v = v.ok_or_else(|| missing(self.part, t, column, r))?;
        if (0..end).contains(&v) {
            Ok(v)
        } else {
            Err(bad(
                self.part,
                t,
                column,
                r,
                &v.to_string(),
                &format!("expected 0 to {}", end - 1),
            ))
        }
    }

    fn cells(&self, t: &Table, extra_fields: &[String], cube: &mut CountCube) -> Result<()> {
        let (attribute, group) = (t.text("attribute")?, t.text("group")?);
        let (justification, outcome) = (t.text("justification")?, t.text("outcome")?);
        let (legal_basis, unit) = (t.text("legal_basis")?, t.text("unit")?);
        let (search, contraband) = (t.bool("search")?, t.bool("contraband")?);
        let extra: Vec<&[Option<String>]> = extra_fields
            .iter()
            .map(|f| t.text(f))
            .collect::<Result<_>>()?;
        let stops = t.int("stops")?;
        for r in 0..t.rows() {
            let (attribute, group) = self.attribute_group(t, r, &attribute[r], &group[r])?;
            let legal_basis = match &legal_basis[r] {
                None => None,
                v => Some(self.code(t, r, "legal_basis", &self.codes.legal_basis, v)?),
            };
            let unit = self.text(t, r, "unit", &unit[r])?;
            let mut codes = [MISSING; 2];
            for (slot, field) in extra_fields.iter().enumerate() {
                let v = &extra[slot][r];
                codes[slot] = match (v, field.as_str()) {
                    (None, _) => MISSING,
                    (v, "subject_type") => {
                        u32::from(self.code(t, r, field, &self.codes.subject_type, v)?)
                    }
                    (v, "reason_explained") => {
                        u32::from(self.code(t, r, field, &self.codes.reason_explained, v)?)
                    }
                    (v, text) => self.text(t, r, text, v)?,
                };
            }
            let key = CellKey {
                attribute,
                group,
                justification: self.code(
                    t,
                    r,
                    "justification",
                    &self.codes.justification,
                    &justification[r],
                )?,
                outcome: self.code(t, r, "outcome", &self.codes.outcome, &outcome[r])?,
                legal_basis,
                unit: (unit != NONE_U32).then_some(unit),
                search: search[r],
                contraband: contraband[r],
                extra: codes,
            };
            *cube.cells.entry(key).or_default() += self.stops(t, r, stops)?;
        }
        Ok(())
    }

    fn light(&self, t: &Table, cube: &mut CountCube) -> Result<()> {
        let (class, stops) = (t.text("class")?, t.int("stops")?);
        for r in 0..t.rows() {
            let name = class[r]
                .as_deref()
                .ok_or_else(|| missing(self.part, t, "class", r))?;
            let k = LIGHT_CLASSES
                .iter()
                .position(|c| *c == name)
                .ok_or_else(|| bad(self.part, t, "class", r, name, "not a light class"))?;
            debug_assert_eq!(LIGHT_CLASSES[Light::Dark as usize], "dark");
            let n: u64 = self.int(t, r, "stops", stops[r])?;
            cube.darkness.classes[k] += n;
        }
        Ok(())
    }

    fn darkness(&self, t: &Table, cube: &mut CountCube) -> Result<()> {
        let (attribute, group, unit) = (t.text("attribute")?, t.text("group")?, t.text("unit")?);
        let (year, minute) = (t.int("year")?, t.int("minute")?);
        let (dark, window) = (t.bool("dark")?, t.bool("clock_change_window")?);
        let stops = t.int("stops")?;
        for r in 0..t.rows() {
            let (attribute, group) = self.attribute_group(t, r, &attribute[r], &group[r])?;
            let cell = DarkCell {
                attribute,
                group,
                unit: self.text(t, r, "unit", &unit[r])?,
                year: self.int(t, r, "year", year[r])?,
                minute: self.below(t, r, "minute", minute[r], 24 * 60)? as u16,
                dark: dark[r].ok_or_else(|| missing(self.part, t, "dark", r))?,
                clock_change_window: window[r]
                    .ok_or_else(|| missing(self.part, t, "clock_change_window", r))?,
            };
            cube.darkness.add_cell(cell, self.stops(t, r, stops)?, 1);
        }
        Ok(())
    }

    fn calendar(&self, p: &CubePart, cube: &mut CountCube) -> Result<()> {
        let cal = &mut cube.calendar;
        let t = p.table("periods")?;
        let (attribute, group, month) = (t.text("attribute")?, t.text("group")?, t.text("month")?);
        let (justification, outcome) = (t.text("justification")?, t.text("outcome")?);
        let stops = t.int("stops")?;
        for r in 0..t.rows() {
            let (attribute, group) = self.attribute_group(t, r, &attribute[r], &group[r])?;
            let cell = PeriodCell {
                attribute,
                group,
                month: self.month(t, r, &month[r])?,
                justification: self.code(
                    t,
                    r,
                    "justification",
                    &self.codes.justification,
                    &justification[r],
                )?,
                outcome: self.code(t, r, "outcome", &self.codes.outcome, &outcome[r])?,
            };
            *cal.periods.entry(cell).or_default() += self.stops(t, r, stops)?;
        }
        let t = p.table("unit_months")?;
        let (unit, month, stops) = (t.text("unit")?, t.text("month")?, t.int("stops")?);
        for r in 0..t.rows() {
            let key = (
                self.text(t, r, "unit", &unit[r])?,
                self.month(t, r, &month[r])?,
            );
            *cal.unit_months.entry(key).or_default() += self.stops(t, r, stops)?;
        }
        let t = p.table("unit_minutes")?;
        let (unit, minute, stops) = (t.text("unit")?, t.int("minute")?, t.int("stops")?);
        for r in 0..t.rows() {
            let key = (
                self.text(t, r, "unit", &unit[r])?,
                self.below(t, r, "minute", minute[r], 60)? as u8,
            );
            *cal.unit_minutes.entry(key).or_default() += self.stops(t, r, stops)?;
        }
        let t = p.table("officer_months")?;
        let (officer, month, stops) = (t.text("officer_id")?, t.text("month")?, t.int("stops")?);
        for r in 0..t.rows() {
            let key = (
                self.text(t, r, "officer_id", &officer[r])?,
                self.month(t, r, &month[r])?,
            );
            *cal.officer_months.entry(key).or_default() += self.stops(t, r, stops)?;
        }
        Ok(())
    }

    fn benchmark(&self, t: &Table, spec: Option<&BenchSpec>, cube: &mut CountCube) -> Result<()> {
        if t.rows() == 0 {
            return Ok(());
        }
        let Some(spec) = spec else {
            return Err(Error::Config(format!(
                "cube {}: has an internal-benchmarking table but this run has internal benchmarking off",
                self.part
            )));
        };
        let (field, entity, area) = (t.text("entity_field")?, t.text("entity")?, t.text("area")?);
        let (band, weekend, month) = (t.int("band")?, t.bool("weekend")?, t.text("month")?);
        let (attribute, group, stops) = (t.text("attribute")?, t.text("group")?, t.int("stops")?);
        let area_field = spec.area.map(|k| TEXT_FIELDS[k]);
        for r in 0..t.rows() {
            let f = field[r]
                .as_deref()
                .ok_or_else(|| missing(self.part, t, "entity_field", r))?;
            let kind = spec
                .entities
                .iter()
                .position(|&k| TEXT_FIELDS[k] == f)
                .ok_or_else(|| {
                    bad(
                        self.part,
                        t,
                        "entity_field",
                        r,
                        f,
                        "not an entity of this run's internal benchmarking",
                    )
                })?;
            let (attribute, group) = self.attribute_group(t, r, &attribute[r], &group[r])?;
            let cell = BenchCell {
                kind: kind as u8,
                entity: self.text(t, r, f, &entity[r])?,
                area: match area_field {
                    Some(a) => self.text(t, r, a, &area[r])?,
                    None => NONE_U32,
                },
                band: self.below(t, r, "band", band[r], 4)? as u8,
                weekend: u8::from(weekend[r].ok_or_else(|| missing(self.part, t, "weekend", r))?),
                month: match &month[r] {
                    None => 0,
                    v => self.month(t, r, v)?,
                },
                attribute,
                group,
            };
            *cube.bench.cells.entry(cell).or_default() += self.stops(t, r, stops)?;
        }
        Ok(())
    }
}

/// The row accounting of several cubes' inputs, as one run over all of
/// them in the same order reports it.
fn merge_summaries(parts: &[CubePart]) -> Result<IngestSummary> {
    let first = &parts[0].manifest.summary;
    let mut files: Vec<FileSummary> = Vec::new();
    let mut reasons = crate::quarantine::ReasonCounts::default();
    let mut missing_all: BTreeMap<String, u64> = BTreeMap::new();
    let (mut first_stop, mut last_stop): (Option<String>, Option<String>) = (None, None);
    let mut duplicates_checked = true;
    for p in parts {
        let s = &p.manifest.summary;
        let adds_up = |f: &FileSummary| {
            u128::from(f.rows_read)
                == u128::from(f.rows_analyzed)
                    + u128::from(f.rows_quarantined)
                    + u128::from(f.rows_out_of_scope)
        };
        let sum =
            |g: fn(&FileSummary) -> u64| s.files.iter().map(|f| u128::from(g(f))).sum::<u128>();
        let (read, analysed, quarantined, out) = (
            u128::from(s.rows_read),
            u128::from(s.rows_analyzed),
            u128::from(s.rows_quarantined),
            u128::from(s.rows_out_of_scope),
        );
        if !s.files.iter().all(adds_up)
            || read != sum(|f| f.rows_read)
            || analysed != sum(|f| f.rows_analyzed)
            || quarantined != sum(|f| f.rows_quarantined)
            || out != sum(|f| f.rows_out_of_scope)
            || s.quarantine_reasons
                .0
                .values()
                .map(|&n| u128::from(n))
                .sum::<u128>()
                != quarantined
        {
            return Err(Error::Config(format!(
                "{}: manifest.json's row accounting does not add up (rows read = analysed + quarantined + out of scope, per file and in total): the manifest was changed; count the cube again",
                p.name
            )));
        }
        if (s.timezone.as_str(), s.timezone_assumed)
            != (first.timezone.as_str(), first.timezone_assumed)
        {
            return Err(Error::Config(format!(
                "{}: counted in time zone {}, {} in {}: cubes merge only in one zone",
                p.name, s.timezone, parts[0].name, first.timezone
            )));
        }
        files.extend(s.files.iter().cloned());
        for (r, n) in &s.quarantine_reasons.0 {
            reasons.add(*r, *n);
        }
        for (f, n) in &p.manifest.missing_values_all {
            *missing_all.entry(f.clone()).or_default() += n;
        }
        duplicates_checked &= s.duplicates_checked;
        first_stop = earliest(first_stop, s.first_stop.clone(), true);
        last_stop = earliest(last_stop, s.last_stop.clone(), false);
    }
    // All cubes' rows together fit in u64, or the manifests were changed.
    let sum = |f: fn(&FileSummary) -> u64| files.iter().try_fold(0u64, |a, x| a.checked_add(f(x)));
    let (Some(rows_read), Some(rows_analyzed), Some(rows_quarantined), Some(rows_out_of_scope)) = (
        sum(|f| f.rows_read),
        sum(|f| f.rows_analyzed),
        sum(|f| f.rows_quarantined),
        sum(|f| f.rows_out_of_scope),
    ) else {
        return Err(Error::Config(
            "the cubes' manifests account for more rows than can be counted: a manifest was changed; count the cubes again".into(),
        ));
    };
    let missing_values =
        crate::accounting::published_missing_values(&missing_all, &first.attributes, &files);
    Ok(IngestSummary {
        rows_read,
        rows_analyzed,
        rows_quarantined,
        rows_out_of_scope,
        files,
        quarantine_reasons: reasons,
        duplicates_checked,
        attributes: first.attributes.clone(),
        timezone: first.timezone.clone(),
        timezone_assumed: first.timezone_assumed,
        first_stop,
        last_stop,
        missing_values,
    })
}

/// The earlier (`first`) or later of two local times with UTC offsets
/// (`2025-10-26T02:30:00+02:00`), compared as instants (text order is wrong
/// in the hour repeated when clocks go back).
fn earliest(a: Option<String>, b: Option<String>, first: bool) -> Option<String> {
    match (a, b) {
        (None, x) | (x, None) => x,
        (Some(a), Some(b)) => {
            let instant = |s: &str| chrono::DateTime::parse_from_rfc3339(s).ok();
            let a_first = match (instant(&a), instant(&b)) {
                (Some(x), Some(y)) => x <= y,
                _ => a <= b,
            };
            Some(if a_first == first { a } else { b })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounting::Format;
    use crate::canonical::StopRow;
    use crate::counting::{BatchCounts, SharedCube};
    use crate::daylight::Daylight;
    use crate::testing::{arb_full_stop, batch_of};
    use proptest::prelude::*;

    fn attrs() -> Vec<String> {
        ["nationality", "gender", "age_band"]
            .map(String::from)
            .to_vec()
    }

    fn extra() -> Vec<String> {
        ["district", "reason_explained"].map(String::from).to_vec()
    }

    /// Units, officers and areas as entities; every stratum on.
    fn bench() -> BenchSpec {
        BenchSpec {
            entities: vec![text_index("unit"), text_index("officer_id")],
            area: Some(text_index("district")),
            band: true,
            day_type: true,
            month: true,
        }
    }

    /// Stops over three years (clock changes, year ends), with officers,
    /// explained reasons and registration times.
    fn arb_timed_stop() -> impl Strategy<Value = StopRow> {
        (
            arb_full_stop(),
            0..(3 * 365 * 24 * 60i64),
            prop::option::of(0..4usize),
            prop::option::of(0..3u8),
        )
            .prop_map(|(mut s, minutes, officer, explained)| {
                s.stopped_at = 1_704_067_200_000 + minutes * 60_000;
                s.texts[4] = officer.map(|o| format!("officer {o}"));
                s.reason_explained = explained;
                s.registered_at = (minutes % 5 != 0).then(|| s.stopped_at + 3_600_000);
                s
            })
    }

    /// What one run counts from `rows`: every table, in sorted codes.
    fn counted(rows: &[StopRow]) -> (CountCube, Dictionaries) {
        let attrs = attrs();
        let tz = chrono_tz::Europe::Amsterdam;
        let daylight = Daylight::new(tz, &[], Some((52.0, 4.5)), 0.1, 30);
        let shared = SharedCube::new(attrs.len(), &extra()).with_benchmark(Some(bench()));
        let batch = batch_of(rows, &attrs);
        let counts = BatchCounts::count(&batch, shared.extra_fields());
        let (texts, groups) = shared.codes_of(&batch);
        shared.add(&counts, &texts, &groups);
        shared.add_time_tables(&batch, tz, Some(&daylight), &texts, &groups);
        let removed = shared.builder();
        shared.finish(removed)
    }

    fn summary(name: &str, stops: u64) -> IngestSummary {
        IngestSummary {
            files: vec![FileSummary {
                path: format!("{name}.csv"),
                format: Format::Csv,
                sha256: format!("{name:0>64}"),
                bytes: 1,
                rows_read: stops,
                rows_analyzed: stops,
                rows_quarantined: 0,
                rows_out_of_scope: 0,
                columns: BTreeMap::new(),
                notes: Vec::new(),
            }],
            rows_read: stops,
            rows_analyzed: stops,
            rows_quarantined: 0,
            rows_out_of_scope: 0,
            quarantine_reasons: Default::default(),
            duplicates_checked: true,
            attributes: attrs(),
            timezone: "Europe/Amsterdam".into(),
            timezone_assumed: false,
            first_stop: None,
            last_stop: None,
            missing_values: BTreeMap::new(),
        }
    }

    fn spec() -> serde_json::Value {
        serde_json::json!({"extra_fields": extra(), "scope": {}})
    }

    /// A cube of `rows` as it would be read back from its folder.
    fn part(name: &str, rows: &[StopRow]) -> CubePart {
        let (cube, dicts) = counted(rows);
        CubePart {
            name: name.into(),
            manifest_sha256: String::new(),
            manifest: Manifest {
                format: FORMAT.into(),
                cube_version: CUBE_VERSION,
                notice: NOTICE.into(),
                engine: Engine {
                    name: "stopaudit".into(),
                    version: "test".into(),
                },
                specification_sha256: specification_sha256(&spec()),
                specification: spec(),
                attributes: attrs(),
                extra_fields: extra(),
                summary: summary(name, rows.len() as u64),
                missing_values_all: BTreeMap::new(),
                tables: Vec::new(),
            },
            tables: to_tables(
                &cube,
                &dicts,
                &CodeLists::default(),
                &attrs(),
                Some(&bench()),
            ),
        }
    }

    fn labels(d: &[Dictionary]) -> Vec<&[String]> {
        d.iter().map(Dictionary::labels).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// cube(A) + cube(B) = cube(A ∪ B): the cubes of two parts, written
        /// as tables and assembled, are the cube (codes, dictionaries and
        /// every table) of one run over all the stops.
        #[test]
        fn the_cubes_of_parts_add_up_to_the_cube_of_the_whole(
            rows in prop::collection::vec(arb_timed_stop(), 1..300),
            cut in 0..300usize,
        ) {
            let cut = cut.min(rows.len());
            let (whole, whole_dicts) = counted(&rows);
            let parts = [part("a", &rows[..cut]), part("b", &rows[cut..])];
            check_specifications(&parts, &spec()).unwrap();
            let merged = assemble(&parts, &CodeLists::default(), Some(&bench())).unwrap();
            prop_assert_eq!(labels(&merged.dicts.texts), labels(&whole_dicts.texts));
            prop_assert_eq!(labels(&merged.dicts.groups), labels(&whole_dicts.groups));
            // Every table was counted (benchmarking counts stops with a unit or an officer).
            prop_assert!(!whole.darkness.is_empty());
            let entities = rows.iter().any(|r| r.texts[0].is_some() || r.texts[4].is_some());
            prop_assert_eq!(whole.bench.cells.is_empty(), !entities);
            prop_assert_eq!(&merged.cube, &whole);
            prop_assert_eq!(merged.summary.rows_analyzed, rows.len() as u64);
            prop_assert_eq!(merged.summary.files.len(), 2);
            // One cube read back alone is itself.
            let one = assemble(&[part("all", &rows)], &CodeLists::default(), Some(&bench())).unwrap();
            prop_assert_eq!(&one.cube, &whole);
        }
    }

    /// Every table has the same bytes whatever the order the counts were
    /// made in: rows sorted by their labels.
    #[test]
    fn tables_are_sorted_by_their_labels() {
        let rows: Vec<StopRow> = {
            use proptest::strategy::ValueTree;
            let mut runner = proptest::test_runner::TestRunner::deterministic();
            prop::collection::vec(arb_timed_stop(), 200)
                .new_tree(&mut runner)
                .unwrap()
                .current()
        };
        let forward = part("a", &rows).tables;
        let mut reversed = rows.clone();
        reversed.reverse();
        assert_eq!(forward, part("a", &reversed).tables);
        let names: Vec<&str> = forward.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, TABLES);
        let cells = &forward[0];
        assert_eq!(
            cells
                .columns
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>(),
            [
                "attribute",
                "group",
                "justification",
                "outcome",
                "legal_basis",
                "unit",
                "search",
                "contraband",
                "district",
                "reason_explained",
                "stops"
            ]
        );
        for t in &forward {
            for (name, column) in &t.columns {
                assert_eq!(
                    std::mem::discriminant(column),
                    std::mem::discriminant(&empty_column(name)),
                    "{}.{name}",
                    t.name
                );
            }
        }
    }

    /// Cubes counted with other settings, tables changed by hand and labels
    /// no code list has are refused with a message naming cube, table, row
    /// and column.
    #[test]
    fn mismatched_or_damaged_cubes_are_refused_with_where_and_why() {
        let rows: Vec<StopRow> = (0..40)
            .map(|i| {
                let mut s =
                    crate::testing::stop(["NL", "MA"][i % 2], 0, 0, Some("Rotterdam"), None);
                s.groups.extend(["man".to_string(), "18-24".to_string()]);
                s
            })
            .collect();
        let good = part("north", &rows);

        let refused = |parts: &[CubePart], want: &[&str]| {
            let err = check_specifications(parts, &spec())
                .unwrap_err()
                .to_string();
            assert!(want.iter().all(|w| err.contains(w)), "{want:?}: {err}");
        };
        let mut other = good.clone();
        other.name = "south".into();
        other.manifest.specification = serde_json::json!({"extra_fields": ["team"], "scope": {}});
        other.manifest.specification_sha256 = specification_sha256(&other.manifest.specification);
        refused(&[good.clone(), other], &["south", "extra_fields"]);

        let mut twice = good.clone();
        twice.name = "north again".into();
        refused(&[good.clone(), twice], &["north again", "twice"]);

        let mut edited = good.clone();
        edited.manifest.specification = serde_json::json!({"extra_fields": [], "scope": {}});
        refused(&[edited], &["edited"]);

        let mut attributes = good.clone();
        attributes.name = "west".into();
        attributes.manifest.attributes.pop();
        attributes.manifest.summary.files[0].sha256 = format!("{:0>64}", "west");
        refused(&[good.clone(), attributes], &["west", "attributes"]);

        let mut unknown = good.clone();
        if let Column::Text(v) = &mut unknown.tables[0].columns[2].1 {
            v[0] = Some("astrology".into());
        }
        let err = assemble(&[unknown], &CodeLists::default(), Some(&bench()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("north")
                && err.contains("cells")
                && err.contains("row 1")
                && err.contains("justification")
                && err.contains("astrology"),
            "{err}"
        );

        // A count raised in any attribute's cells (the first row is of
        // age_band, not the attribute the total is taken from), or in a
        // calendar table, is refused.
        for (table, row) in [
            ("cells", 0),
            ("cells", usize::MAX),
            ("periods", 0),
            ("light_classes", 0),
        ] {
            let mut inflated = good.clone();
            let t = inflated
                .tables
                .iter_mut()
                .find(|t| t.name == table)
                .unwrap();
            if let Column::Int(v) = &mut t.columns.last_mut().unwrap().1 {
                let n = v.len();
                let cell = &mut v[row.min(n - 1)];
                *cell = cell.map(|n| n + (1 << 40));
            }
            let err = assemble(&[inflated], &CodeLists::default(), Some(&bench()))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(table) && err.contains("do not add up to the 40 analysed rows"),
                "{table}: {err}"
            );
        }

        let mut forged = good.clone();
        forged.manifest.summary.rows_read += 1;
        let err = assemble(&[forged], &CodeLists::default(), Some(&bench()))
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not add up"), "{err}");

        let mut late = good.clone();
        let minutes = late
            .tables
            .iter_mut()
            .find(|t| t.name == "unit_minutes")
            .unwrap();
        if let Column::Int(v) = &mut minutes.columns[1].1 {
            v[0] = Some(60);
        }
        let err = assemble(&[late], &CodeLists::default(), Some(&bench()))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("unit_minutes") && err.contains("expected 0 to 59"),
            "{err}"
        );

        let err = assemble(&[good], &CodeLists::default(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("internal benchmarking"), "{err}");
    }

    /// The first and last stop of merged cubes are compared as instants:
    /// in the hour repeated when clocks go back, text order is wrong.
    #[test]
    fn first_and_last_stops_are_compared_as_instants() {
        let summer = Some("2025-10-26T02:30:00+02:00".to_string());
        let winter = Some("2025-10-26T02:10:00+01:00".to_string());
        assert_eq!(earliest(winter.clone(), summer.clone(), true), summer);
        assert_eq!(earliest(winter.clone(), summer.clone(), false), winter);
        assert_eq!(earliest(None, summer.clone(), true), summer);
    }
}
