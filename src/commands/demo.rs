//! `stopaudit demo`: the main job on the bundled sample, written to reports/demo/.

use std::io::Write;
use std::path::PathBuf;

use super::analyze::{analyze_and_validate, render_table, to_json, write_csv_dir};
use super::report::ReportFormat;
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
    /// The browser that prints `report.pdf`, if one was found (the demo
    /// writes no PDF without one, and says so).
    pub browser: Option<PathBuf>,
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
    let csv = stopaudit_core::output::CsvDialect::for_lang(settings.lang);
    write_csv_dir(&analysis, dir, csv)?;
    // The report is written from the same analysis: no second pass over the sample.
    let output = super::report::ReportOutput {
        out: dir.clone(),
        lang: settings.lang,
        csv,
        formats: vec![ReportFormat::Html, ReportFormat::Md],
        as_of: None,
        command: format!("stopaudit demo --lang {}", settings.lang.code()),
        browser: settings.browser.clone(),
    };
    let report = super::report::write_files(&analysis, &output)?;
    // The PDF is a bonus here: a browser that fails (a locked-down laptop)
    // is said, not fatal, as it is for `report --format pdf`.
    let pdf = match &settings.browser {
        None => Err(format!(
            "no Chromium, Chrome or Edge found (set {} to print one)",
            crate::pdf::BROWSER_VARIABLE
        )),
        Some(_) => super::report::write_files(
            &analysis,
            &super::report::ReportOutput {
                formats: vec![ReportFormat::Pdf],
                ..output.clone()
            },
        )
        .map(|_| ())
        .map_err(|e| e.to_string()),
    };
    set.commit()?;
    let dir = &settings.out;
    write_atomic(&private.join("README.txt"), PRIVATE_README.as_bytes())?;
    // A short summary: the count tables are in results.txt.
    let mut text = format!(
        "stopaudit demo: the bundled sample ({SAMPLE})\n{}\n\n",
        analysis.provenance.accounting_line()
    );
    for line in report.in_brief {
        text.push_str(&line);
        text.push('\n');
    }
    let also = if pdf.is_ok() { ", report.pdf" } else { "" };
    text.push_str(&format!(
        "\nreport: {}\nalso in {}: report.md{also}, results.txt (the count tables), results.json, validation.txt, validation.json and one CSV per analysis\n",
        dir.join("report.html").display(),
        dir.display(),
    ));
    if let Err(why) = &pdf {
        text.push_str(&format!("no report.pdf: {why}\n"));
    }
    text.push_str(&format!(
        "quarantined rows: {} ({})\n",
        quarantine.display(),
        super::validate::PERSONAL_DATA
    ));
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
