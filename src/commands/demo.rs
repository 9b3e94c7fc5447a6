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
    // The report folder is one set, staged and moved into place at the end
    // (src/output_set.rs); the private folder beside it holds the quarantine.
    let set = crate::output_set::OutputSet::begin(&settings.out)?;
    let dir = &set.dir().to_path_buf();
    // Quarantined rows are original records (personal data, officer ids):
    // a working file for the data owner, kept out of the report folder.
    let private = private_folder(&settings.out);
    let quarantine = private.join("quarantine.csv");
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
    set.commit()?;
    let dir = &settings.out;
    write_atomic(&private.join("README.txt"), PRIVATE_README.as_bytes())?;
    let text = format!(
        "{table}\n{}\nwritten to {}: validation.txt, validation.json, report.html, report.md, results.txt, results.json and one CSV per analysis\nquarantined rows written to {} ({})\n",
        analysis.provenance.accounting_line(),
        dir.display(),
        quarantine.display(),
        super::validate::PERSONAL_DATA
    );
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("<stdout>", e))
}

/// What the demo's private folder holds, said in the folder itself.
const PRIVATE_README: &str = "NOT FOR PUBLICATION\n\n\
quarantine.csv holds the rows stopaudit could not use, each with its\n\
original record: personal data and officer identifiers included. It is a\n\
working file for whoever corrects the data (the data owner), kept apart\n\
from the report folder so that it is never published with it.\n";

/// The folder beside `report` for the data owner's working files:
/// `reports/demo` gives `reports/demo-private`.
fn private_folder(report: &std::path::Path) -> PathBuf {
    match report.file_name() {
        Some(name) => report.with_file_name(format!("{}-private", name.to_string_lossy())),
        None => PathBuf::from("stopaudit-private"),
    }
}
