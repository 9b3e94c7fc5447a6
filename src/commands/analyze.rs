//! `stopaudit analyze`: one pass over the inputs into count tables, then
//! every analysis and the findings.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::InputSettings;
use stopaudit_core::analysis::{self, AnalysisSettings, SCHEMA_VERSION};
use stopaudit_core::error::{Error, Result};
use stopaudit_core::output::write_atomic;
use stopaudit_core::provenance::Provenance;
use stopaudit_core::pseudonym::{self, KeyError, PseudonymKey};
pub use stopaudit_core::results::{Analysis, check_fail_on, render_table, to_json, write_csv_dir};
use stopaudit_io::ingest;
use stopaudit_io::quarantine::QuarantineSink;

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
    fn apply(&self, mut s: AnalysisSettings) -> AnalysisSettings {
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
#[derive(Debug, Clone, Default)]
pub struct AnalyzeSettings {
    pub input: InputSettings,
    pub format: AnalyzeFormat,
    /// A file (table, json) or a folder (csv); stdout when absent (not for csv).
    pub out: Option<PathBuf>,
    /// Also write quarantined rows here.
    pub quarantine: Option<PathBuf>,
    pub overrides: AnalysisOverrides,
    /// Exit with code 1 (after writing everything) when a finding at or above this severity exists.
    pub fail_on: Option<stopaudit_core::analysis::findings::Severity>,
}

/// Runs ingestion, counting and every analysis.
pub fn analyze(
    input: &InputSettings,
    quarantine: Option<&Path>,
    overrides: &AnalysisOverrides,
) -> Result<Analysis> {
    Ok(analyze_and_validate(input, quarantine, overrides)?.0)
}

/// [`analyze`], and the validation report of the same pass (what
/// `stopaudit validate` would say), for the demo.
pub fn analyze_and_validate(
    input: &InputSettings,
    quarantine: Option<&Path>,
    overrides: &AnalysisOverrides,
) -> Result<(Analysis, super::validate::ValidationReport)> {
    let (config, inputs, id_limits) = input.resolve()?;
    let codes = config.code_lists()?;
    let settings = overrides.apply(config.analysis.clone());
    settings.check(&codes)?;
    // The pseudonymisation key, read once for every analysis that names officers.
    let pseudonym_key = match PseudonymKey::resolve(
        settings.pseudonym_key_file()?,
        std::env::var_os(pseudonym::KEY_VARIABLE),
    ) {
        Ok(key) => Some(key),
        Err(KeyError::Missing) => None,
        Err(e) => return Err(Error::Config(e.to_string())),
    };
    let mut sink = match quarantine {
        Some(p) => QuarantineSink::to_file(p)?,
        None => QuarantineSink::counting_only(),
    };
    let population = match &settings.population {
        Some(p) => Some(analysis::population::Population::load(p)?),
        None => None,
    };
    let plan = settings.count_plan(population.as_ref(), config.timezone())?;
    let ingest::Ingested {
        summary,
        dicts,
        cube,
    } = ingest::ingest(
        &inputs,
        &ingest::ScanSettings {
            config: &config,
            codes: &codes,
            scope: &input.scope,
            plan: &plan,
            progress: !input.quiet,
            id_limits,
        },
        &mut sink,
    )?;
    if summary.rows_analyzed == 0 {
        return Err(Error::NoData(format!(
            "no rows could be analysed: {} read, {} quarantined, {} out of scope; run `stopaudit validate` on the same inputs to see why",
            summary.rows_read, summary.rows_quarantined, summary.rows_out_of_scope
        )));
    }
    let mut counts = cube.tables(&dicts, &codes, &summary.attributes);
    assert_eq!(
        counts.total_stops, summary.rows_analyzed,
        "every analysed row is counted once"
    );
    let results = analysis::run(&analysis::Inputs {
        cube: &cube,
        dicts: &dicts,
        codes: &codes,
        attributes: &summary.attributes,
        references: &config.groups.reference,
        settings: &settings,
        population: population.as_ref(),
        summary: &summary,
        pseudonym_key: pseudonym_key.as_ref(),
    })?;
    if settings.min_cell > 0 {
        analysis::suppress::count_tables(&mut counts, settings.min_cell, &codes);
    }
    let mut effective = config.clone();
    effective.analysis = settings.clone();
    let mut provenance = Provenance::new(&summary, input.config.as_deref(), &input.scope)?;
    provenance.configuration = serde_json::to_value(&effective).expect("serialisable");
    if let Some(pop) = &settings.population {
        provenance.population = Some(stopaudit_core::provenance::ConfigProvenance {
            path: pop.display().to_string(),
            sha256: ingest::sha256_file(pop)?,
        });
    }
    let validation = super::validate::report(
        summary.clone(),
        input.config.as_deref(),
        &input.scope,
        super::validate::examples(&sink),
    )?;
    sink.commit()?;
    let analysis = Analysis {
        schema_version: SCHEMA_VERSION,
        provenance,
        settings,
        missing_values: summary.missing_values,
        results,
        counts,
        codes,
    };
    Ok((analysis, validation))
}

pub fn run(settings: &AnalyzeSettings, out: &mut dyn Write) -> Result<()> {
    if settings.format == AnalyzeFormat::Csv && settings.out.is_none() {
        return Err(Error::Usage(
            "--format csv writes several files: give a folder with --out".into(),
        ));
    }
    let analysis = analyze(
        &settings.input,
        settings.quarantine.as_deref(),
        &settings.overrides,
    )?;
    let text = match settings.format {
        AnalyzeFormat::Json => Some(to_json(&analysis)),
        AnalyzeFormat::Table => Some(render_table(&analysis)),
        AnalyzeFormat::Csv => {
            write_csv_dir(&analysis, settings.out.as_deref().expect("checked"))?;
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
