//! `stopaudit analyze`: one pass over the inputs into count tables, then
//! every analysis and the findings.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::settings::Audit;
use stopaudit_core::analysis::{self, AnalysisSettings, SCHEMA_VERSION};
use stopaudit_core::error::{Error, Result};
use stopaudit_core::output::write_atomic;
use stopaudit_core::provenance::Provenance;
pub use stopaudit_core::results::{Analysis, check_fail_on, render_table, to_json, write_csv_dir};
use stopaudit_io::quarantine::QuarantineSink;
use stopaudit_io::scan;

/// Output format of `stopaudit analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnalyzeFormat {
    #[default]
    Table,
    Json,
    Csv,
}

/// Command-line values that override `[analysis]` in the configuration.
#[derive(Debug, Clone, Default)]
pub struct AnalysisOverrides {
    pub strata_by: Option<Vec<String>>,
    pub min_cell: Option<u64>,
    pub population: Option<PathBuf>,
    pub confidence: Option<f64>,
    pub fdr: Option<f64>,
    /// Enables the threshold test with this location field.
    pub threshold_test: Option<String>,
}

impl AnalysisOverrides {
    /// Whether no value is given.
    pub fn is_empty(&self) -> bool {
        let AnalysisOverrides {
            strata_by,
            min_cell,
            population,
            confidence,
            fdr,
            threshold_test,
        } = self;
        strata_by.is_none()
            && min_cell.is_none()
            && population.is_none()
            && confidence.is_none()
            && fdr.is_none()
            && threshold_test.is_none()
    }

    /// `s` with these values on top.
    pub fn apply(&self, mut s: AnalysisSettings) -> AnalysisSettings {
        if let Some(by) = &self.strata_by {
            s.strata_by = by.clone();
        }
        if let Some(k) = self.min_cell {
            s.min_cell = k;
        }
        if let Some(p) = &self.population {
            s.population = Some(p.clone());
        }
        if let Some(c) = self.confidence {
            s.confidence = c;
        }
        if let Some(f) = self.fdr {
            s.fdr = f;
        }
        if let Some(location) = &self.threshold_test {
            s.threshold_test.enabled = true;
            s.threshold_test.location = location.clone();
        }
        s
    }
}

/// Settings of `stopaudit analyze`.
#[derive(Debug)]
pub struct AnalyzeSettings {
    pub audit: Audit,
    pub format: AnalyzeFormat,
    /// A file (table, json) or a folder (csv); stdout when absent (not for csv).
    pub out: Option<PathBuf>,
    /// How `--format csv` writes its tables.
    pub csv: stopaudit_core::output::CsvDialect,
    /// Also write quarantined rows here.
    pub quarantine: Option<PathBuf>,
    /// Exit with code 1 (after writing everything) when a finding at or above this severity exists.
    pub fail_on: Option<stopaudit_core::findings::Severity>,
}

/// Runs ingestion, counting and every analysis.
pub fn analyze(audit: &Audit, quarantine: Option<&Path>) -> Result<Analysis> {
    Ok(analyze_and_validate(audit, quarantine)?.0)
}

/// [`analyze`], and the validation report of the same pass (what
/// `stopaudit validate` would say), for the demo.
pub fn analyze_and_validate(
    audit: &Audit,
    quarantine: Option<&Path>,
) -> Result<(Analysis, super::validate::ValidationReport)> {
    let reading = &audit.reading;
    let (config, codes) = (&reading.config, &reading.codes);
    let settings: &AnalysisSettings = &config.analysis;
    let population = audit.population.as_ref().map(|(p, _)| p);
    let mut sink = match quarantine {
        Some(p) => QuarantineSink::to_file(p)?,
        None => QuarantineSink::counting_only(),
    };
    let plan = settings.count_plan(population, config.timezone())?;
    let (summary, dicts, cube, cubes) = if reading.cubes.is_empty() {
        let scanned = scan::scan(&reading.inputs, &reading.scan(&plan), &mut sink)?;
        (scanned.summary, scanned.dicts, scanned.cube, Vec::new())
    } else {
        let (assembled, cubes) = read_cubes(audit, &plan)?;
        (assembled.summary, assembled.dicts, assembled.cube, cubes)
    };
    if summary.rows_analyzed == 0 && summary.rows_out_of_scope > 0 && reading.cubes.is_empty() {
        // Everything fell outside the scope: a misspelt --where value is
        // the usual cause; name the closest values the data do have.
        if let Some(e) = unknown_where_value(audit)? {
            return Err(e);
        }
    }
    if summary.rows_analyzed == 0 {
        return Err(Error::NoData(format!(
            "no rows could be analysed: {} read, {} quarantined, {} out of scope; run `stopaudit validate` on the same inputs to see why",
            summary.rows_read, summary.rows_quarantined, summary.rows_out_of_scope
        )));
    }
    let counts = cube.tables(&dicts, codes, &summary.attributes);
    assert_eq!(
        counts.total_stops, summary.rows_analyzed,
        "every analysed row is counted once"
    );
    // The threshold test takes up to a minute: a bar on stderr meanwhile.
    let _sampling = stopaudit_io::progress::SamplingProgress::start(
        reading.progress && settings.threshold_test.enabled,
    );
    let published = stopaudit_core::results::audit(
        &analysis::Inputs {
            cube: &cube,
            dicts: &dicts,
            codes,
            attributes: &summary.attributes,
            references: &config.groups.reference,
            settings,
            population,
            summary: &summary,
            scope: &reading.scope,
            pseudonym_key: audit.pseudonym_key.as_ref(),
        },
        counts,
    )?;
    let mut provenance = Provenance::new(&summary, reading.config_file.clone(), &reading.scope);
    provenance.configuration = serde_json::to_value(config).expect("serialisable");
    provenance.population = audit.population.as_ref().map(|(_, id)| id.clone());
    provenance.cubes = cubes;
    let validation =
        super::validate::report(summary.clone(), reading, super::validate::examples(&sink));
    sink.commit()?;
    let analysis = Analysis {
        schema_version: SCHEMA_VERSION,
        provenance,
        settings: settings.clone(),
        missing_values: published.missing_values,
        results: published.results,
        findings: published.findings,
        counts: published.counts,
        codes: codes.clone(),
    };
    Ok((analysis, validation))
}

/// The cubes of `--cube`, read, checked against this run's counting
/// specification (configuration, scope and count plan) and added up.
fn read_cubes(
    audit: &Audit,
    plan: &stopaudit_core::counting::CountPlan,
) -> Result<(
    stopaudit_core::counting::artifact::Assembled,
    Vec<stopaudit_core::provenance::CubeProvenance>,
)> {
    use stopaudit_core::counting::artifact;
    let reading = &audit.reading;
    let parts = reading
        .cubes
        .iter()
        .map(|dir| stopaudit_io::cube::read(dir))
        .collect::<Result<Vec<_>>>()?;
    let spec = reading
        .config
        .counting_specification(&reading.codes, &reading.scope, plan);
    artifact::check_specifications(&parts, &spec)?;
    let assembled = artifact::assemble(&parts, &reading.codes, plan.bench.as_ref())?;
    let provenance = reading
        .cubes
        .iter()
        .zip(&parts)
        .map(|(dir, part)| stopaudit_core::provenance::CubeProvenance {
            path: dir.display().to_string(),
            manifest_sha256: part.manifest_sha256.clone(),
            engine: format!(
                "{} {}",
                part.manifest.engine.name, part.manifest.engine.version
            ),
        })
        .collect();
    Ok((assembled, provenance))
}

/// When a scope leaves no stop: a `--where` value on a text field (unit,
/// district, …) or a group attribute that no stop has, with the closest
/// values that occur — found by counting the inputs once more without the
/// scope (only on this error path).
fn unknown_where_value(audit: &Audit) -> Result<Option<Error>> {
    use stopaudit_core::canonical::TEXT_FIELDS;
    let reading = &audit.reading;
    let filters: Vec<_> = reading
        .scope
        .filters
        .iter()
        .filter(|f| {
            TEXT_FIELDS.contains(&f.field.as_str())
                || reading.config.groups.attributes.contains(&f.field)
                || !stopaudit_core::scope::FILTER_FIELDS.contains(&f.field.as_str())
        })
        .collect();
    if filters.is_empty() {
        return Ok(None);
    }
    let mut unscoped = reading.clone();
    unscoped.scope = stopaudit_core::scope::Scope::default();
    let plan = stopaudit_core::counting::CountPlan::default();
    let scanned = scan::scan(
        &unscoped.inputs,
        &unscoped.scan(&plan),
        &mut QuarantineSink::counting_only(),
    )?;
    for f in filters {
        let dict = if TEXT_FIELDS.contains(&f.field.as_str()) {
            Some(scanned.dicts.text(&f.field))
        } else {
            scanned
                .summary
                .attributes
                .iter()
                .position(|a| a == &f.field)
                .map(|a| &scanned.dicts.groups[a])
        };
        let Some(dict) = dict else { continue };
        let known: Vec<&str> = (0..dict.len() as u32).map(|c| dict.label(c)).collect();
        let norm = stopaudit_core::codes::normalize_label;
        for v in &f.values {
            if !known.iter().any(|k| norm(k) == norm(v)) {
                return Ok(Some(Error::Usage(format!(
                    "--where {}={v}: no stop has this value; closest: {}",
                    f.field,
                    stopaudit_core::config::closest(v, &known).join(", ")
                ))));
            }
        }
    }
    Ok(None)
}

pub fn run(settings: &AnalyzeSettings, out: &mut dyn Write) -> Result<()> {
    let analysis = analyze(&settings.audit, settings.quarantine.as_deref())?;
    let text = match settings.format {
        AnalyzeFormat::Json => Some(to_json(&analysis)),
        AnalyzeFormat::Table => Some(render_table(&analysis)),
        AnalyzeFormat::Csv => {
            // One set, staged and moved into place (src/output_set.rs).
            let set =
                crate::output_set::OutputSet::begin(settings.out.as_deref().expect("checked"))?;
            write_csv_dir(&analysis, set.dir(), settings.csv)?;
            set.commit()?;
            None
        }
    };
    match (text, &settings.out) {
        (Some(t), Some(path)) => write_atomic(path, t.as_bytes())?,
        (Some(t), None) => out
            .write_all(t.as_bytes())
            .map_err(|e| Error::io("<stdout>", e))?,
        (None, Some(dir)) => writeln!(out, "results written to {}", dir.display())
            .map_err(|e| Error::io("<stdout>", e))?,
        (None, None) => unreachable!("csv needs --out"),
    }
    check_fail_on(&analysis, settings.fail_on)
}
