//! `stopaudit validate`: read the inputs, account for every row, and say why
//! rows were quarantined (optionally writing them to a file).

use std::io::Write;
use std::path::PathBuf;

use serde::Serialize;

use super::TextOrJson;
use crate::settings::Reading;
use stopaudit_core::accounting::{FileSummary, IngestSummary};
use stopaudit_core::counting::CountPlan;
use stopaudit_core::error::{Error, Result};
use stopaudit_core::provenance::Provenance;
use stopaudit_io::quarantine::{QuarantineRecord, QuarantineSink, Reason};
use stopaudit_io::scan;

/// Settings of `stopaudit validate`.
#[derive(Debug, Clone)]
pub struct ValidateSettings {
    pub reading: Reading,
    /// Where to write quarantined rows (.csv or .parquet).
    pub quarantine: Option<PathBuf>,
    pub format: TextOrJson,
}

/// The validation report.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    pub provenance: Provenance,
    pub files: Vec<FileSummary>,
    pub attributes: Vec<String>,
    pub missing_values: std::collections::BTreeMap<String, u64>,
    /// The first quarantined rows, for a quick look. Their `record` (the
    /// original row, which can hold personal data and officer ids) is left
    /// empty here; it is written only to the quarantine file.
    pub examples: Vec<QuarantineRecord>,
}

/// Reads everything and builds the report; writes the quarantine file if asked.
pub fn validate(settings: &ValidateSettings) -> Result<ValidationReport> {
    let reading = &settings.reading;
    let mut sink = match &settings.quarantine {
        Some(p) => QuarantineSink::to_file(p)?,
        None => QuarantineSink::counting_only(),
    };
    // Validation needs the row accounting, not the analyses' tables.
    let plan = CountPlan::default();
    let summary = scan::scan(&reading.inputs, &reading.scan(&plan), &mut sink)?.summary;
    let examples = examples(&sink);
    sink.commit()?;
    Ok(report(summary, reading, examples))
}

/// The first quarantined rows of a sink, without their original record.
pub(crate) fn examples(sink: &QuarantineSink) -> Vec<QuarantineRecord> {
    sink.examples
        .iter()
        .map(|r| QuarantineRecord {
            record: String::new(),
            ..r.clone()
        })
        .collect()
}

/// The validation report of an ingestion.
pub(crate) fn report(
    summary: IngestSummary,
    reading: &Reading,
    examples: Vec<QuarantineRecord>,
) -> ValidationReport {
    ValidationReport {
        provenance: Provenance::new(&summary, reading.config_file.clone(), &reading.scope),
        attributes: summary.attributes.clone(),
        missing_values: summary.missing_values.clone(),
        files: summary.files,
        examples,
    }
}

pub fn run(settings: &ValidateSettings, out: &mut dyn Write) -> Result<()> {
    let report = validate(settings)?;
    let text = match settings.format {
        TextOrJson::Json => serde_json::to_string_pretty(&report).expect("serialisable") + "\n",
        TextOrJson::Text => render_text(&report, settings.quarantine.as_deref()),
    };
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("<stdout>", e))
}

/// What a quarantine file holds, said wherever one is written.
pub const PERSONAL_DATA: &str = "original records with personal data and officer ids: a working file for the data owner, not for publication";

/// The human summary of a validation.
pub fn render_text(report: &ValidationReport, quarantine: Option<&std::path::Path>) -> String {
    let p = &report.provenance;
    let mut s = String::new();
    for f in &report.files {
        s.push_str(&format!(
            "{} ({}): {} rows read, {} analysed, {} quarantined{}\n",
            f.path,
            f.format.as_str(),
            f.rows_read,
            f.rows_analyzed,
            f.rows_quarantined,
            if f.rows_out_of_scope > 0 {
                format!(", {} out of scope", f.rows_out_of_scope)
            } else {
                String::new()
            }
        ));
        for note in &f.notes {
            s.push_str(&format!("  note: {note}\n"));
        }
    }
    s.push_str(&format!("\n{}\n", p.accounting_line()));
    if let (Some(first), Some(last)) = (&p.first_stop, &p.last_stop) {
        s.push_str(&format!("period covered: {first} to {last}\n"));
    }
    s.push_str(&p.timezone_line());
    s.push('\n');
    if report.attributes.is_empty() {
        s.push_str("group attributes: none declared or recognised\n");
    } else {
        s.push_str(&format!(
            "group attributes: {}\n",
            report.attributes.join(", ")
        ));
    }
    if p.rows_quarantined > 0 {
        s.push_str("\nquarantined rows by reason:\n");
        for reason in Reason::ALL {
            if let Some(n) = p.quarantine_reasons.get(reason.as_str()) {
                s.push_str(&format!("  {:<26} {n:>10}\n", reason.as_str()));
            }
        }
        s.push_str("\nfirst quarantined rows:\n");
        for r in report.examples.iter().take(10) {
            s.push_str(&format!(
                "  {}:{}  {}  {}\n",
                r.file, r.row, r.reason, r.message
            ));
        }
    }
    if let Some(q) = quarantine {
        s.push_str(&format!(
            "\nquarantined rows written to {} ({PERSONAL_DATA})\n",
            q.display()
        ));
    }
    s
}
