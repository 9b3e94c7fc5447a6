//! `stopaudit count --engine spark --emit DIR`: a Spark job that counts the
//! cube where the data lives, instead of counting here.
//!
//! The job is a folder a data engineer can read and run with
//! `spark-submit` (YARN, Kubernetes, Databricks or `local[2]`):
//!
//! - `count.sql`: the SQL ([`sql`]): every check of stopaudit's validation
//!   as a `CASE` naming a row's quarantine reason (bad rows are counted per
//!   reason, never dropped), the duplicate check as a window in file order,
//!   and every `GROUP BY` of the cube;
//! - `dimensions/*.parquet`: small tables computed here and joined in the
//!   engine: the code lists with every spelling they accept, the value maps
//!   of the group attributes, the attributes, the unit locations, the sun
//!   tables of the veil of darkness (sunset and civil dusk per grid place
//!   and day) and the calendar of clock changes, and the settings (`params`);
//! - `job.json`: the inputs, each input column's name and kind, and the
//!   parts of the cube's manifest known before counting (the counting
//!   specification and its hash, attributes, extra strata);
//! - `driver.py`: reads the inputs, checks every file's columns against
//!   `job.json`, runs the SQL in the session time zone, and writes the cube
//!   (the same Parquet tables and `manifest.json` as `stopaudit count`,
//!   with the inputs' SHA-256 and row accounting).
//!
//! Officer ids stay in the cluster's data and in the cube as they are (as
//! in a native cube): pseudonymisation happens when the cube is analysed,
//! with the key of the machine that analyses it, so no key goes to the
//! cluster.
//!
//! What the job cannot express exactly is refused here, with what to do
//! instead (count natively): inputs other than Parquet, a `stopped_at`
//! that is not a timestamp with a zone, `--where`, the internal
//! benchmarking table (`[analysis.benchmarking]`).

mod sql;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use serde_json::json;

use crate::read::mapping::{self, DateTimeColumns};
use stopaudit_core::codes::{CodeLists, normalize_label};
use stopaudit_core::config::Config;
use stopaudit_core::counting::CountPlan;
use stopaudit_core::counting::artifact::{self, Column, Table};
use stopaudit_core::error::{Error, Result};
use stopaudit_core::scope::Scope;

pub use sql::Kind;

/// The driver the job runs (see the module documentation).
pub const DRIVER: &str = include_str!("driver.py");

/// Version of the job folder's layout (`job.json`'s `job_version`).
pub const JOB_VERSION: u32 = 1;

/// The area the sun tables cover, in degrees: stops with coordinates
/// outside it make the job stop with a message (see [`JobSettings::sun_area`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SunArea {
    pub south: f64,
    pub west: f64,
    pub north: f64,
    pub east: f64,
}

impl Default for SunArea {
    /// The Netherlands with a margin (the Wadden Islands to South Limburg).
    fn default() -> Self {
        SunArea {
            south: 50.6,
            west: 3.2,
            north: 53.7,
            east: 7.3,
        }
    }
}

/// What the job is made from.
#[derive(Debug, Clone)]
pub struct JobSettings<'a> {
    /// The inputs as the cluster names them (paths or URIs, in order).
    pub inputs: &'a [String],
    /// A local Parquet file with the inputs' columns, to map them.
    pub like: &'a Path,
    pub config: &'a Config,
    pub codes: &'a CodeLists,
    pub scope: &'a Scope,
    pub plan: &'a CountPlan,
    /// `implausible_date` outside these dates.
    pub plausible: (NaiveDate, NaiveDate),
    /// Years the sun tables and calendar cover (the veil of darkness).
    pub years: Option<(i32, i32)>,
    pub sun_area: SunArea,
    /// The counting specification, as a native cube's manifest holds it.
    pub specification: serde_json::Value,
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Emitted {
    /// Files of the job folder, relative to it.
    pub files: Vec<String>,
    /// Rows of the sun table (0 without the veil of darkness).
    pub sun_rows: usize,
}

fn refuse(what: impl std::fmt::Display) -> Error {
    Error::Usage(format!(
        "the Spark job cannot count this: {what}; count these inputs natively (`stopaudit count … --out DIR`)"
    ))
}

/// Writes the job into `dir` (which exists and is empty).
pub fn emit(dir: &Path, s: &JobSettings) -> Result<Emitted> {
    if !s.scope.filters.is_empty() {
        return Err(refuse("`--where` filters"));
    }
    if s.plan.bench.is_some() {
        return Err(refuse(
            "the internal-benchmarking table (`[analysis.benchmarking]`)",
        ));
    }
    let tz = s.config.timezone();
    if s.plan.registration_periods.is_some_and(|z| z != tz) {
        return Err(refuse(
            "periods by registration time in another zone than `[input] timezone`",
        ));
    }
    let format = crate::read::detect_format(s.like)?;
    if format != crate::read::Format::Parquet {
        return Err(Error::input(
            s.like,
            "the Spark job reads Parquet: give a Parquet file with the inputs' columns (--like), or count CSV, JSON Lines and Excel natively",
        ));
    }
    for input in s.inputs {
        let p = Path::new(input);
        if p.is_file() && crate::read::detect_format(p)? != crate::read::Format::Parquet {
            return Err(Error::input(
                p,
                "the Spark job reads Parquet; count CSV, JSON Lines and Excel natively",
            ));
        }
    }
    let src = crate::read::open(s.like, format, &s.config.input)?;
    let columns = src.columns().to_vec();
    let attributes = if s.config.groups.attributes.is_empty() {
        mapping::detect_group_attributes(&columns)
    } else {
        s.config.groups.attributes.clone()
    };
    if attributes.is_empty() {
        return Err(refuse("inputs without a group attribute"));
    }
    s.scope.check(&attributes, s.codes)?;
    let m = mapping::resolve(s.like, &columns, s.config, &attributes)?;
    let kinds: BTreeMap<String, &'static str> =
        crate::read::column_kinds(s.like)?.into_iter().collect();
    let kind_of = |field: &str, column: usize, allowed: &[Kind]| -> Result<Kind> {
        let name = &columns[column];
        let raw = kinds.get(name).copied().unwrap_or("other");
        let kind = match raw {
            "text" => Some(Kind::Text),
            "int" => Some(Kind::Int),
            "float" => Some(Kind::Float),
            "bool" => Some(Kind::Bool),
            "instant" => Some(Kind::Instant),
            _ => None,
        };
        match kind {
            Some(k) if allowed.contains(&k) => Ok(k),
            _ => Err(Error::input(
                s.like,
                format!(
                    "column \"{name}\" ({field}) holds {raw} values, which the Spark job does not read as stopaudit does; count natively, or store {field} as {}",
                    allowed
                        .iter()
                        .map(|k| match k {
                            Kind::Text => "text",
                            Kind::Int => "whole numbers",
                            Kind::Float => "numbers",
                            Kind::Bool => "yes/no",
                            Kind::Instant => "a timestamp with a time zone",
                        })
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            )),
        }
    };
    let DateTimeColumns::One(stamp) = m.stopped_at else {
        return Err(refuse(
            "a date and a time in separate columns (store stopped_at as one timestamp with a time zone)",
        ));
    };
    kind_of("stopped_at", stamp, &[Kind::Instant])?;
    let mut job_columns = vec![json!({
        "name": "c_stopped_at", "source": columns[stamp], "kind": Kind::Instant,
    })];
    let mut fields = Vec::new();
    for (&field, &column) in &m.fields {
        let allowed: &[Kind] = match field {
            "latitude" | "longitude" => &[Kind::Float, Kind::Int, Kind::Text],
            "registered_at" => &[Kind::Instant],
            "search_conducted" | "contraband_found" => &[Kind::Bool, Kind::Int, Kind::Text],
            "stop_id" => &[Kind::Text, Kind::Int],
            _ => &[Kind::Text, Kind::Int, Kind::Bool],
        };
        let kind = kind_of(field, column, allowed)?;
        fields.push((field, kind));
        job_columns.push(json!({
            "name": format!("c_{field}"), "source": columns[column], "kind": kind,
        }));
    }
    let mut groups = Vec::new();
    for (k, (attribute, column)) in m.groups.iter().enumerate() {
        let kind = kind_of(attribute, *column, &[Kind::Text, Kind::Int, Kind::Bool])?;
        groups.push(kind);
        job_columns.push(json!({
            "name": format!("c_g{k}"), "source": columns[*column], "kind": kind,
        }));
    }

    let darkness = s.plan.daylight.is_some();
    let period = |p: Option<(NaiveDate, NaiveDate)>| p.map(|(a, b)| (a.year(), b.year()));
    let years = s
        .years
        .or(period(s.scope.period.as_ref().map(|p| (p.start, p.end))))
        .or(period(s.config.period.start.zip(s.config.period.end)));
    if darkness && years.is_none() {
        return Err(Error::Usage(
            "the Spark job's sun tables (veil of darkness) need the years the stops fall in: give --years FIRST..LAST, or --period".into(),
        ));
    }

    let plan = sql::Plan {
        fields,
        group_maps: m
            .groups
            .iter()
            .map(|(a, _)| s.config.values.get(a).is_some_and(|v| !v.is_empty()))
            .collect(),
        groups,
        extra_fields: s.plan.extra_fields.clone(),
        darkness,
        registration_periods: s.plan.registration_periods.is_some(),
        config_period: s.config.period.start.is_some() || s.config.period.end.is_some(),
        scope_period: s.scope.period.is_some(),
    };

    // Dimension tables.
    let dims = dir.join("dimensions");
    std::fs::create_dir(&dims).map_err(|e| Error::io(&dims, e))?;
    let mut tables = vec![
        code_table(s.codes),
        group_table(s.config, &m.groups),
        Table {
            name: "attributes".into(),
            columns: vec![
                (
                    "attribute_index".into(),
                    Column::Int((0..attributes.len() as i64).map(Some).collect()),
                ),
                (
                    "name".into(),
                    Column::Text(attributes.iter().cloned().map(Some).collect()),
                ),
            ],
        },
    ];
    let day = |d: NaiveDate| Some(d.format("%Y-%m-%d").to_string());
    let mut params: Vec<(String, Column)> = vec![
        ("earliest".into(), Column::Text(vec![day(s.plausible.0)])),
        ("latest".into(), Column::Text(vec![day(s.plausible.1)])),
        (
            "period_start".into(),
            Column::Text(vec![s.config.period.start.and_then(day)]),
        ),
        (
            "period_end".into(),
            Column::Text(vec![s.config.period.end.and_then(day)]),
        ),
        (
            "scope_start".into(),
            Column::Text(vec![s.scope.period.as_ref().and_then(|p| day(p.start))]),
        ),
        (
            "scope_end".into(),
            Column::Text(vec![s.scope.period.as_ref().and_then(|p| day(p.end))]),
        ),
    ];
    let mut sun_rows = 0;
    if let (Some(daylight), Some((first, last))) = (&s.plan.daylight, years) {
        let grid = daylight.grid();
        params.push(("grid".into(), Column::Text(vec![Some(grid.to_string())])));
        let default = daylight.default_place();
        params.push((
            "default_lat".into(),
            Column::Int(vec![default.map(|p| i64::from(p.0))]),
        ));
        params.push((
            "default_lon".into(),
            Column::Int(vec![default.map(|p| i64::from(p.1))]),
        ));
        let units = daylight.unit_places();
        tables.push(Table {
            name: "unit_places".into(),
            columns: vec![
                (
                    "unit".into(),
                    Column::Text(units.iter().map(|(n, _)| Some(n.clone())).collect()),
                ),
                (
                    "place_lat".into(),
                    Column::Int(units.iter().map(|(_, p)| Some(i64::from(p.0))).collect()),
                ),
                (
                    "place_lon".into(),
                    Column::Int(units.iter().map(|(_, p)| Some(i64::from(p.1))).collect()),
                ),
            ],
        });
        let a = s.sun_area;
        let (lo, hi) = (
            daylight.place_of(a.south, a.west),
            daylight.place_of(a.north, a.east),
        );
        let mut places: Vec<(i32, i32)> = (lo.0..=hi.0)
            .flat_map(|lat| (lo.1..=hi.1).map(move |lon| (lat, lon)))
            .chain(units.iter().map(|(_, p)| *p))
            .chain(default)
            .collect();
        places.sort_unstable();
        places.dedup();
        let sun = sun_table(daylight, &places, first, last);
        sun_rows = sun.rows();
        tables.push(sun);
        tables.push(calendar_table(daylight, first, last));
    }
    tables.push(Table {
        name: "params".into(),
        columns: params,
    });
    let mut files = vec![
        "README.md".to_string(),
        "job.json".into(),
        "count.sql".into(),
        "driver.py".into(),
    ];
    for t in &tables {
        let path = dims.join(format!("{}.parquet", t.name));
        crate::cube::write_table(&path, t)?;
        files.push(format!("dimensions/{}.parquet", t.name));
    }

    let file_columns = m.describe(&columns);
    let notes = src.notes();
    // The fields the scan counts missing values of, then the attributes,
    // with the SQL's column of each count.
    let missing_fields: Vec<(String, String)> = crate::scan::missing_fields()
        .map(|f| (f.to_string(), format!("missing_{f}")))
        .chain(
            attributes
                .iter()
                .enumerate()
                .map(|(k, a)| (a.clone(), format!("missing_g{k}"))),
        )
        .collect();
    let job = json!({
        "format": "stopaudit spark job",
        "job_version": JOB_VERSION,
        "stopaudit_version": stopaudit_core::provenance::VERSION,
        "inputs": s.inputs,
        "timezone": tz.name(),
        "columns": job_columns,
        "dates": {
            "params": ["earliest", "latest", "period_start", "period_end", "scope_start", "scope_end"],
            "sun": ["day"],
            "calendar": ["day"],
        },
        "doubles": { "params": ["grid"] },
        "darkness": darkness,
        "file": {
            "format": format,
            "columns": file_columns,
            "notes": notes,
            "no_rows_note": crate::scan::NO_ROWS_NOTE,
            "no_stop_id_note": crate::scan::NO_STOP_ID_NOTE,
        },
        "missing_fields": missing_fields,
        "tables": artifact::TABLES,
        "manifest": {
            "format": artifact::FORMAT,
            "cube_version": artifact::CUBE_VERSION,
            "notice": artifact::NOTICE,
            "specification_sha256": artifact::specification_sha256(&s.specification),
            "specification": s.specification,
            "attributes": attributes,
            "extra_fields": s.plan.extra_fields,
        },
        "summary": {
            "duplicates_checked": m.column("stop_id").is_some(),
            "attributes": attributes,
            "timezone": tz.name(),
            "timezone_assumed": s.config.input.timezone.is_none(),
        },
    });
    let mut job_text = serde_json::to_string_pretty(&job).expect("JSON serialises");
    job_text.push('\n');
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        stopaudit_core::output::write_atomic(&path, text.as_bytes())
    };
    write("job.json", &job_text)?;
    write("count.sql", &sql::job_sql(&plan))?;
    write("driver.py", DRIVER)?;
    write("README.md", &readme(s, years))?;
    Ok(Emitted { files, sun_rows })
}

/// Every spelling of every code, normalised.
fn code_table(codes: &CodeLists) -> Table {
    let lists = [
        &codes.justification,
        &codes.outcome,
        &codes.legal_basis,
        &codes.subject_type,
        &codes.reason_explained,
    ];
    let (mut field, mut spelling, mut code) = (Vec::new(), Vec::new(), Vec::new());
    for list in lists {
        for (s, idx) in list.spellings() {
            field.push(Some(list.field().to_string()));
            spelling.push(Some(s.to_string()));
            code.push(Some(list.get(idx).code.clone()));
        }
    }
    Table {
        name: "codes".into(),
        columns: vec![
            ("field".into(), Column::Text(field)),
            ("spelling".into(), Column::Text(spelling)),
            ("code".into(), Column::Text(code)),
        ],
    }
}

/// `[values.<attribute>]`: normalised source value -> group, per attribute
/// (a later spelling of the same normalised value wins, as in validation).
fn group_table(config: &Config, groups: &[(String, usize)]) -> Table {
    let (mut attribute, mut spelling, mut label) = (Vec::new(), Vec::new(), Vec::new());
    for (k, (name, _)) in groups.iter().enumerate() {
        let Some(map) = config.values.get(name) else {
            continue;
        };
        let mut by_spelling: BTreeMap<String, String> = BTreeMap::new();
        for (from, to) in map {
            by_spelling.insert(normalize_label(from), to.clone());
        }
        for (from, to) in by_spelling {
            attribute.push(Some(k as i64));
            spelling.push(Some(from));
            label.push(Some(to));
        }
    }
    Table {
        name: "group_values".into(),
        columns: vec![
            ("attribute".into(), Column::Int(attribute)),
            ("spelling".into(), Column::Text(spelling)),
            ("label".into(), Column::Text(label)),
        ],
    }
}

/// Sunset, civil dusk and the inter-twilight window per place and day.
fn sun_table(
    daylight: &stopaudit_core::daylight::Daylight,
    places: &[(i32, i32)],
    first: i32,
    last: i32,
) -> Table {
    let mut cols: [Vec<Option<i64>>; 6] = Default::default();
    let mut days = Vec::new();
    for &place in places {
        for year in first..=last {
            let sun = daylight.evenings(place, year);
            let start = NaiveDate::from_ymd_opt(year, 1, 1).expect("a year");
            for (d, [sunset, dusk]) in sun.evenings.iter().enumerate() {
                let date = start + chrono::Days::new(d as u64);
                cols[0].push(Some(i64::from(place.0)));
                cols[1].push(Some(i64::from(place.1)));
                cols[2].push(sunset.map(i64::from));
                cols[3].push(dusk.map(i64::from));
                cols[4].push(sun.window.map(|w| i64::from(w.0)));
                cols[5].push(sun.window.map(|w| i64::from(w.1)));
                days.push(Some(date.format("%Y-%m-%d").to_string()));
            }
        }
    }
    let [lat, lon, sunset, dusk, window_first, window_last] = cols;
    Table {
        name: "sun".into(),
        columns: vec![
            ("place_lat".into(), Column::Int(lat)),
            ("place_lon".into(), Column::Int(lon)),
            ("day".into(), Column::Text(days)),
            ("sunset".into(), Column::Int(sunset)),
            ("dusk".into(), Column::Int(dusk)),
            ("window_first".into(), Column::Int(window_first)),
            ("window_last".into(), Column::Int(window_last)),
        ],
    }
}

/// Each day of the years, and whether it lies near a clock change.
fn calendar_table(daylight: &stopaudit_core::daylight::Daylight, first: i32, last: i32) -> Table {
    let (mut days, mut window) = (Vec::new(), Vec::new());
    let mut d = NaiveDate::from_ymd_opt(first, 1, 1).expect("a year");
    while d.year() <= last {
        days.push(Some(d.format("%Y-%m-%d").to_string()));
        window.push(Some(daylight.in_clock_change_window(d)));
        d = d.succ_opt().expect("a next day");
    }
    Table {
        name: "calendar".into(),
        columns: vec![
            ("day".into(), Column::Text(days)),
            ("clock_change_window".into(), Column::Bool(window)),
        ],
    }
}

fn readme(s: &JobSettings, years: Option<(i32, i32)>) -> String {
    let inputs = s
        .inputs
        .iter()
        .map(|i| format!("- `{i}`"))
        .collect::<Vec<_>>()
        .join("\n");
    let sun = match (s.plan.daylight.is_some(), years) {
        (true, Some((a, b))) => format!(
            "The sun tables (veil of darkness) cover the years {a} to {b} and latitudes {} to {}, longitudes {} to {}; stops outside them make the job stop with a message (emit the job again with `--years` or `--sun-area`).",
            s.sun_area.south, s.sun_area.north, s.sun_area.west, s.sun_area.east
        ),
        _ => "The veil of darkness is off: no sun tables.".into(),
    };
    format!(
        "# stopaudit count on Apache Spark\n\n\
         Made by stopaudit {version}. It counts these inputs (Parquet, in this order) into a count cube:\n\n{inputs}\n\n\
         ## Run it\n\n\
         ```\nspark-submit \\\n  --conf spark.driver.extraJavaOptions=-XX:-DontCompileHugeMethods \\\n  --conf spark.executor.extraJavaOptions=-XX:-DontCompileHugeMethods \\\n  driver.py --out CUBE_DIR\n```\n\n\
         (The two options let the JIT compile the long methods Spark generates for the job's wide rows: about twice as fast.)\n\
         with this folder on storage the cluster reads (it reads `dimensions/` and `count.sql` next to `driver.py`), e.g.\n\
         `spark-submit --master local[2] driver.py --out cube` on one machine, or on YARN, Kubernetes or Databricks as any PySpark job.\n\
         The driver sets the session time zone to `{tz}`, checks that every input has the columns and kinds of `job.json`,\n\
         runs `count.sql` and writes `CUBE_DIR`: the cube's Parquet tables and `manifest.json`, as `stopaudit count` writes them.\n\
         Analyse it where stopaudit runs, with the same configuration: `stopaudit report --cube CUBE_DIR --config …`.\n\n\
         ## What it does\n\n\
         Every input row is counted as analysed, quarantined (per reason: the `CASE` in `count.sql` names the first problem of a row,\n\
         in stopaudit's order; the first valid occurrence of a stop id is kept, in file order) or out of scope (`--period`).\n\
         {sun}\n\n\
         ## What leaves the cluster\n\n\
         Only counts. The cube is still a working file of the data owner: exact counts with nothing suppressed, and officer ids as they\n\
         are in the data (pseudonymised only when the cube is analysed, with the analysing machine's key). Do not publish or share it.\n",
        version = stopaudit_core::provenance::VERSION,
        tz = s.config.timezone().name(),
    )
}
