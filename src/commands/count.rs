//! `stopaudit count`: one pass over the inputs into a count cube on disk
//! (docs/results.md, "The count cube"), to analyse later or to add up with
//! the cubes of other units (`analyze --cube`, `report --cube`).

use std::io::Write;
use std::path::PathBuf;

use crate::settings::Audit;
use stopaudit_core::counting::artifact::{self, Engine, Manifest};
use stopaudit_core::error::{Error, Result};
use stopaudit_io::quarantine::QuarantineSink;
use stopaudit_io::scan;

/// Settings of `stopaudit count`.
#[derive(Debug)]
pub struct CountSettings {
    /// Inputs, configuration and the count plan's `[analysis]` values.
    pub audit: Audit,
    /// What to write.
    pub target: Target,
    /// Also write quarantined rows here.
    pub quarantine: Option<PathBuf>,
}

/// What `count` writes.
#[derive(Debug)]
pub enum Target {
    /// The cube, counted here, in this folder.
    Cube(PathBuf),
    /// A Spark job that counts the cube (`--engine spark --emit DIR`).
    Spark(SparkTarget),
}

impl Target {
    /// The folder written.
    pub fn folder(&self) -> &std::path::Path {
        match self {
            Target::Cube(p) => p,
            Target::Spark(s) => &s.dir,
        }
    }
}

/// `--engine spark`'s settings.
#[derive(Debug)]
pub struct SparkTarget {
    /// The job's folder (`--emit`).
    pub dir: PathBuf,
    /// `--like`: a local file with the inputs' columns.
    pub like: Option<PathBuf>,
    /// `--years`.
    pub years: Option<(i32, i32)>,
    /// `--sun-area`.
    pub sun_area: stopaudit_io::spark::SunArea,
}

/// `--years 2024..2025` (or one year, `2025`).
pub fn parse_years(text: &str) -> Result<(i32, i32)> {
    let bad = || {
        Error::Usage(format!(
            "--years `{text}`: expected FIRST..LAST (e.g. 2024..2025) or one year"
        ))
    };
    let year = |t: &str| -> Result<i32> {
        t.trim()
            .parse::<i32>()
            .ok()
            .filter(|y| (1900..=2200).contains(y))
            .ok_or_else(bad)
    };
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (year(a)?, year(b)?),
        None => (year(text)?, year(text)?),
    };
    if a > b {
        return Err(bad());
    }
    Ok((a, b))
}

/// `--sun-area south,west,north,east`.
pub fn parse_sun_area(text: &str) -> Result<stopaudit_io::spark::SunArea> {
    let parts: Vec<Option<f64>> = text
        .split(',')
        .map(|p| p.trim().parse::<f64>().ok().filter(|v| v.is_finite()))
        .collect();
    match parts.as_slice() {
        [Some(south), Some(west), Some(north), Some(east)]
            if south <= north
                && west <= east
                && south.abs() <= 90.0
                && north.abs() <= 90.0
                && west.abs() <= 180.0
                && east.abs() <= 180.0 =>
        {
            Ok(stopaudit_io::spark::SunArea {
                south: *south,
                west: *west,
                north: *north,
                east: *east,
            })
        }
        _ => Err(Error::Usage(format!(
            "--sun-area `{text}`: expected south,west,north,east in degrees (e.g. 50.6,3.2,53.7,7.3)"
        ))),
    }
}

pub fn run(settings: &CountSettings, out: &mut dyn Write) -> Result<()> {
    let audit = &settings.audit;
    let reading = &audit.reading;
    let config = &reading.config;
    let population = audit.population.as_ref().map(|(p, _)| p);
    let plan = config.analysis.count_plan(population, config.timezone())?;
    let target = match &settings.target {
        Target::Cube(dir) => dir,
        Target::Spark(spark) => return emit_spark(settings, spark, &plan, out),
    };
    let mut sink = match &settings.quarantine {
        Some(p) => QuarantineSink::to_file(p)?,
        None => QuarantineSink::counting_only(),
    };
    let scanned = scan::scan(&reading.inputs, &reading.scan(&plan), &mut sink)?;
    let spec = config.counting_specification(&reading.codes, &reading.scope, &plan);
    let summary = scanned.summary;
    let tables = artifact::to_tables(
        &scanned.cube,
        &scanned.dicts,
        &reading.codes,
        &summary.attributes,
        plan.bench.as_ref(),
    );
    let manifest = Manifest {
        format: artifact::FORMAT.into(),
        cube_version: artifact::CUBE_VERSION,
        notice: artifact::NOTICE.into(),
        engine: Engine {
            name: stopaudit_core::provenance::TOOL.into(),
            version: stopaudit_core::provenance::VERSION.into(),
        },
        specification_sha256: artifact::specification_sha256(&spec),
        specification: spec,
        attributes: summary.attributes.clone(),
        extra_fields: plan.extra_fields.clone(),
        summary,
        missing_values_all: scanned.missing_all,
        tables: Vec::new(),
    };
    // One set, staged and moved into place (src/output_set.rs).
    let set = crate::output_set::OutputSet::begin(target)?;
    let manifest = stopaudit_io::cube::write(set.dir(), &tables, manifest)?;
    set.commit()?;
    sink.commit()?;
    let s = &manifest.summary;
    let cells = manifest
        .tables
        .iter()
        .find(|t| t.name == "cells")
        .map_or(0, |t| t.rows);
    writeln!(
        out,
        "count cube written to {}: {} cells over {} tables\nrows read {} = analysed {} + quarantined {} + out of scope {}\nA working file with exact counts: do not publish it (analyse it with `stopaudit report --cube {}`).",
        target.display(),
        cells,
        manifest.tables.len(),
        s.rows_read,
        s.rows_analyzed,
        s.rows_quarantined,
        s.rows_out_of_scope,
        target.display(),
    )
    .map_err(|e| Error::io("<stdout>", e))
}

/// `--engine spark --emit DIR`: writes the Spark job (nothing is counted here).
fn emit_spark(
    settings: &CountSettings,
    spark: &SparkTarget,
    plan: &stopaudit_core::counting::CountPlan,
    out: &mut dyn Write,
) -> Result<()> {
    let reading = &settings.audit.reading;
    let inputs: Vec<String> = reading
        .inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let like = match &spark.like {
        Some(l) => l.clone(),
        None => match reading.inputs.first() {
            Some(first) if first.is_file() => first.clone(),
            _ => {
                return Err(Error::Usage(
                    "the inputs are not local files: give --like FILE, a local Parquet file with the same columns, to map them".into(),
                ));
            }
        },
    };
    let spec = reading
        .config
        .counting_specification(&reading.codes, &reading.scope, plan);
    let job = stopaudit_io::spark::JobSettings {
        inputs: &inputs,
        like: &like,
        config: &reading.config,
        codes: &reading.codes,
        scope: &reading.scope,
        plan,
        plausible: reading.plausible_dates,
        years: spark.years,
        sun_area: spark.sun_area,
        specification: spec,
    };
    let set = crate::output_set::OutputSet::begin(&spark.dir)?;
    let emitted = stopaudit_io::spark::emit(set.dir(), &job)?;
    set.commit()?;
    writeln!(
        out,
        "Spark job written to {dir} ({files} files; sun table {sun} rows). Run it where the data lives ({dir}/README.md has the options):\n  spark-submit {dir}/driver.py --out CUBE_DIR\nthen analyse the cube here: stopaudit report --cube CUBE_DIR (with the same configuration).",
        dir = spark.dir.display(),
        files = emitted.files.len(),
        sun = emitted.sun_rows,
    )
    .map_err(|e| Error::io("<stdout>", e))
}
