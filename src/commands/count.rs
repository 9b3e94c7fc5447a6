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
    /// The cube's folder.
    pub out: PathBuf,
    /// Also write quarantined rows here.
    pub quarantine: Option<PathBuf>,
}

pub fn run(settings: &CountSettings, out: &mut dyn Write) -> Result<()> {
    let audit = &settings.audit;
    let reading = &audit.reading;
    let config = &reading.config;
    let population = audit.population.as_ref().map(|(p, _)| p);
    let plan = config.analysis.count_plan(population, config.timezone())?;
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
    let set = crate::output_set::OutputSet::begin(&settings.out)?;
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
        settings.out.display(),
        cells,
        manifest.tables.len(),
        s.rows_read,
        s.rows_analyzed,
        s.rows_quarantined,
        s.rows_out_of_scope,
        settings.out.display(),
    )
    .map_err(|e| Error::io("<stdout>", e))
}
