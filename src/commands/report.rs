//! `stopaudit report`: the analysis as a report to publish (HTML, Markdown,
//! CSV tables), in English or Dutch.

use std::io::Write;
use std::path::PathBuf;

use chrono::NaiveDate;

use super::analyze::{Analysis, analyze, write_csv_dir};
use crate::settings::Audit;
use stopaudit_core::error::{Error, Result};
use stopaudit_core::i18n::Lang;
use stopaudit_core::output::write_atomic;
use stopaudit_core::report::{build, html, markdown};

/// Report output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Html,
    Md,
    Csv,
    /// Charts as PNG files in `charts/`.
    Png,
    /// Charts as SVG files in `charts/`.
    Svg,
    /// `report.pdf`: the HTML report printed to A4 by a Chromium-based
    /// browser.
    Pdf,
}

/// Settings of `stopaudit report`.
#[derive(Debug)]
pub struct ReportSettings {
    pub audit: Audit,
    pub output: ReportOutput,
    /// Exit with code 1 (after writing) when a finding at or above this severity exists.
    pub fail_on: Option<stopaudit_core::findings::Severity>,
}

/// What a report is written as, and where.
#[derive(Debug, Clone)]
pub struct ReportOutput {
    /// Output folder.
    pub out: PathBuf,
    pub lang: Lang,
    /// How the CSV tables are written.
    pub csv: stopaudit_core::output::CsvDialect,
    /// At least one.
    pub formats: Vec<ReportFormat>,
    pub as_of: Option<NaiveDate>,
    /// The command line, shown in the provenance section.
    pub command: String,
    /// The browser that prints `report.pdf` (found when `pdf` is asked for).
    pub browser: Option<PathBuf>,
}

/// Analyses the inputs and writes the report files; returns the paths
/// written, the accounting line (rows read = analysed + quarantined + out
/// of scope) and the `--fail-on` check, to report after the paths.
pub fn write_report_checked(
    settings: &ReportSettings,
) -> Result<(Vec<PathBuf>, String, Result<()>)> {
    let analysis = analyze(&settings.audit, None)?;
    // The whole set is staged beside the folder and moved into place at
    // the end: a run that fails leaves the folder as it was.
    let set = crate::output_set::OutputSet::begin(&settings.output.out)?;
    let staged = ReportOutput {
        out: set.dir().to_path_buf(),
        ..settings.output.clone()
    };
    let written: Vec<PathBuf> = write_files(&analysis, &staged)?
        .paths
        .iter()
        .map(|p| set.final_path(p))
        .collect();
    set.commit()?;
    let verdict = super::analyze::check_fail_on(&analysis, settings.fail_on);
    Ok((written, analysis.provenance.accounting_line(), verdict))
}

/// What [`write_files`] wrote.
pub struct Written {
    /// The files and folders, in the order of the formats.
    pub paths: Vec<PathBuf>,
    /// The summary's "In brief" part as plain lines ([`stopaudit_core::report::Document::in_brief`]).
    pub in_brief: Vec<String>,
}

/// Writes the report of an analysis already made.
pub fn write_files(analysis: &Analysis, settings: &ReportOutput) -> Result<Written> {
    let doc = build::build(
        analysis,
        &analysis.codes,
        &build::ReportOptions {
            lang: settings.lang,
            as_of: settings.as_of,
            command: settings.command.clone(),
            title: analysis_title(analysis),
        },
    );
    let mut written = Vec::new();
    let chart_ext = if settings.formats.contains(&ReportFormat::Svg) {
        Some("svg")
    } else if settings.formats.contains(&ReportFormat::Png) {
        Some("png")
    } else {
        None
    };
    for format in &settings.formats {
        match format {
            ReportFormat::Html => {
                let path = settings.out.join("report.html");
                write_atomic(&path, html::render(&doc).as_bytes())?;
                written.push(path);
            }
            ReportFormat::Pdf => {
                let browser = settings
                    .browser
                    .as_deref()
                    .ok_or_else(|| Error::Usage("--format pdf: no browser to print with".into()))?;
                // The page the browser prints is a working file beside the
                // PDF, removed afterwards (the HTML may not be asked for).
                let page = settings
                    .out
                    .join(format!(".print-{}.html", std::process::id()));
                write_atomic(&page, html::render(&doc).as_bytes())?;
                let path = settings.out.join("report.pdf");
                let day: String = settings
                    .as_of
                    .map(|d| d.to_string())
                    .or_else(|| analysis.provenance.last_stop.clone())
                    .unwrap_or_default()
                    .chars()
                    .filter(char::is_ascii_digit)
                    .take(8)
                    .collect();
                let printed = crate::pdf::print(browser, &page, &path, &settings.out, &day);
                let _ = std::fs::remove_file(&page);
                if printed.is_err() {
                    // Whatever a failing browser left is not a report.
                    let _ = std::fs::remove_file(&path);
                }
                printed?;
                written.push(path);
            }
            ReportFormat::Md => {
                let path = settings.out.join("report.md");
                let md = markdown::render(&doc, chart_ext);
                write_atomic(&path, md.as_bytes())?;
                written.push(path);
            }
            ReportFormat::Csv => {
                let dir = settings.out.join("tables");
                write_csv_dir(analysis, &dir, settings.csv)?;
                written.push(dir);
            }
            ReportFormat::Svg => {
                for (name, chart) in doc.charts() {
                    let path = settings.out.join("charts").join(format!("{name}.svg"));
                    write_atomic(&path, chart.svg_file().as_bytes())?;
                    written.push(path);
                }
            }
            ReportFormat::Png => {
                for (name, chart) in doc.charts() {
                    let path = settings.out.join("charts").join(format!("{name}.png"));
                    let tmp = settings
                        .out
                        .join("charts")
                        .join(format!(".{name}.partial-{}.png", std::process::id()));
                    std::fs::create_dir_all(settings.out.join("charts"))
                        .map_err(|e| Error::io(&path, e))?;
                    chart.png(&tmp).map_err(|m| {
                        Error::input(&path, format!("drawing the chart failed: {m}"))
                    })?;
                    std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))?;
                    written.push(path);
                }
            }
        }
    }
    Ok(Written {
        paths: written,
        in_brief: doc.in_brief(),
    })
}

pub fn run(settings: &ReportSettings, out: &mut dyn Write) -> Result<()> {
    let (written, accounting, verdict) = write_report_checked(settings)?;
    let mut text = String::new();
    for p in written {
        text.push_str(&format!("wrote {}\n", p.display()));
    }
    text.push_str(&accounting);
    text.push('\n');
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("<stdout>", e))?;
    verdict
}

/// `[report] title` of the configuration the analysis ran with.
fn analysis_title(analysis: &Analysis) -> Option<String> {
    analysis.provenance.configuration["report"]["title"]
        .as_str()
        .map(str::to_string)
}
