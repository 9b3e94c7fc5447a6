//! `stopaudit demo`: the main job on the bundled sample, written to reports/demo/.

use std::io::Write;
use std::path::PathBuf;

use super::analyze::{analyze_and_validate, render_table, to_json, write_csv_dir};
use super::validate::render_text;
use crate::settings::Audit;
use stopaudit_core::error::{Error, Result};
use stopaudit_core::output::write_atomic;

/// The bundled sample export, relative to the project root.
pub const SAMPLE: &str = "datasets/sample/proco_2025_sample.csv";
/// Its mapping file.
pub const SAMPLE_CONFIG: &str = "datasets/sample/stopaudit.toml";

/// Settings of `stopaudit demo`.
#[derive(Debug)]
pub struct DemoSettings {
    /// The bundled sample and its configuration.
    pub audit: Audit,
    pub out: PathBuf,
    /// Language of the report.
    pub lang: stopaudit_core::i18n::Lang,
}

pub fn run(settings: &DemoSettings, out: &mut dyn Write) -> Result<()> {
    let dir = &settings.out;
    let quarantine = dir.join("quarantine.csv");
    // One pass over the sample gives both the validation report and the analysis.
    let (analysis, validation) = analyze_and_validate(&settings.audit, Some(quarantine.as_path()))?;
    let validation_text = render_text(&validation, Some(quarantine.as_path()));
    let table = render_table(&analysis);
    write_atomic(&dir.join("validation.txt"), validation_text.as_bytes())?;
    write_atomic(
        &dir.join("validation.json"),
        (serde_json::to_string_pretty(&validation).expect("serialisable") + "\n").as_bytes(),
    )?;
    write_atomic(&dir.join("results.json"), to_json(&analysis).as_bytes())?;
    write_atomic(&dir.join("results.txt"), table.as_bytes())?;
    write_csv_dir(&analysis, dir)?;
    // The report is written from the same analysis: no second pass over the sample.
    super::report::write_files(
        &analysis,
        &super::report::ReportOutput {
            out: dir.clone(),
            lang: settings.lang,
            formats: vec![
                super::report::ReportFormat::Html,
                super::report::ReportFormat::Md,
            ],
            as_of: None,
            command: format!("stopaudit demo --lang {}", settings.lang.code()),
        },
    )?;
    let text = format!(
        "{table}\n{}\nwritten to {}: validation.txt, validation.json, quarantine.csv, report.html, report.md, results.txt, results.json and one CSV per analysis\n",
        analysis.provenance.accounting_line(),
        dir.display()
    );
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("<stdout>", e))
}
