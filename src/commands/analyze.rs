//! `stopaudit analyze`: one pass over the inputs into count tables.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::InputSettings;
use crate::counting::{CountCube, CountTables};
use crate::error::{Error, Result};
use crate::ingest;
use crate::output::{csv_string, write_atomic};
use crate::provenance::Provenance;
use crate::quarantine::QuarantineSink;

/// Output format of `stopaudit analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnalyzeFormat {
    #[default]
    Table,
    Json,
    Csv,
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
}

/// Everything `analyze` produces.
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    pub provenance: Provenance,
    /// Analysed rows with no value, per optional field and group attribute.
    pub missing_values: BTreeMap<String, u64>,
    pub counts: CountTables,
}

/// Runs ingestion and counting.
pub fn analyze(input: &InputSettings, quarantine: Option<&Path>) -> Result<Analysis> {
    let (config, inputs) = input.resolve()?;
    let codes = config.code_lists()?;
    let mut sink = match quarantine {
        Some(p) => QuarantineSink::to_file(p)?,
        None => QuarantineSink::counting_only(),
    };
    let mut cube = CountCube::default();
    let (summary, dicts) = ingest::ingest(&inputs, &config, !input.quiet, &mut sink, &mut |frame, _| {
        let attributes: Vec<String> = frame
            .get_column_names()
            .iter()
            .filter_map(|n| n.strip_prefix(crate::canonical::columns::GROUP_PREFIX).map(str::to_string))
            .collect();
        cube.add_frame(frame, &attributes)
            .map_err(|e| Error::Engine { path: "<count tables>".into(), message: e.to_string() })
    })?;
    if summary.rows_analyzed == 0 {
        return Err(Error::NoData(format!(
            "no rows could be analysed: {} read, {} quarantined; run `stopaudit validate` on the same inputs to see why",
            summary.rows_read, summary.rows_quarantined
        )));
    }
    let counts = cube.tables(&dicts, &codes, &summary.attributes);
    assert_eq!(counts.total_stops, summary.rows_analyzed, "every analysed row is counted once");
    sink.commit()?;
    Ok(Analysis {
        provenance: Provenance::new(&summary, input.config.as_deref())?,
        missing_values: summary.missing_values,
        counts,
    })
}

pub fn run(settings: &AnalyzeSettings, out: &mut dyn Write) -> Result<()> {
    if settings.format == AnalyzeFormat::Csv && settings.out.is_none() {
        return Err(Error::Usage("--format csv writes several files: give a folder with --out".into()));
    }
    let analysis = analyze(&settings.input, settings.quarantine.as_deref())?;
    let text = match settings.format {
        AnalyzeFormat::Json => Some(to_json(&analysis)),
        AnalyzeFormat::Table => Some(render_table(&analysis)),
        AnalyzeFormat::Csv => {
            write_csv_dir(&analysis, settings.out.as_deref().expect("checked"))?;
            None
        }
    };
    match (text, &settings.out) {
        (Some(t), Some(path)) => write_atomic(path, t.as_bytes()),
        (Some(t), None) => out.write_all(t.as_bytes()).map_err(|e| Error::io("<stdout>", e)),
        (None, Some(dir)) => writeln!(out, "count tables written to {}", dir.display()).map_err(|e| Error::io("<stdout>", e)),
        (None, None) => unreachable!("csv needs --out"),
    }
}

/// Pretty JSON, ending in a newline.
pub fn to_json(analysis: &Analysis) -> String {
    serde_json::to_string_pretty(analysis).expect("serialisable") + "\n"
}

/// Writes one CSV per table plus provenance.json into `dir`.
pub fn write_csv_dir(analysis: &Analysis, dir: &Path) -> Result<()> {
    let c = &analysis.counts;
    let gjo: Vec<Vec<String>> = c
        .by_group_justification_outcome
        .iter()
        .map(|r| vec![r.attribute.clone(), r.group.clone(), r.justification.clone(), r.outcome.clone(), r.stops.to_string()])
        .collect();
    let units: Vec<Vec<String>> = c
        .by_unit
        .iter()
        .map(|r| {
            vec![r.unit.clone(), r.attribute.clone(), r.group.clone(), r.justification.clone(), r.outcome.clone(), r.stops.to_string()]
        })
        .collect();
    let files = [
        (
            "counts_by_group_justification_outcome.csv",
            csv_string(&["attribute", "group", "justification", "outcome", "stops"], &gjo),
        ),
        (
            "counts_by_unit.csv",
            csv_string(&["unit", "attribute", "group", "justification", "outcome", "stops"], &units),
        ),
        (
            "provenance.json",
            serde_json::to_string_pretty(&serde_json::json!({"provenance": analysis.provenance, "missing_values": analysis.missing_values}))
                .expect("serialisable")
                + "\n",
        ),
    ];
    for (name, text) in files {
        write_atomic(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// A readable summary: accounting, then per attribute a group × justification table of outcomes.
pub fn render_table(analysis: &Analysis) -> String {
    let p = &analysis.provenance;
    let c = &analysis.counts;
    let mut s = String::new();
    s.push_str(&format!("stopaudit {} — count tables\n", p.version));
    for f in &p.inputs {
        s.push_str(&format!("input: {} ({}, sha256 {}…)\n", f.path, f.format, &f.sha256[..12.min(f.sha256.len())]));
    }
    s.push_str(&format!("{}\n", p.accounting_line()));
    if !p.quarantine_reasons.is_empty() {
        let reasons: Vec<String> = p.quarantine_reasons.iter().map(|(r, n)| format!("{r} {n}")).collect();
        s.push_str(&format!("quarantined: {}\n", reasons.join(", ")));
    }
    if let (Some(a), Some(b)) = (&p.first_stop, &p.last_stop) {
        s.push_str(&format!("period: {a} to {b}\n"));
    }
    let outcomes: Vec<String> = {
        let mut o: Vec<String> = Vec::new();
        for r in &c.by_group_justification_outcome {
            if !o.contains(&r.outcome) {
                o.push(r.outcome.clone());
            }
        }
        let order = crate::codes::CodeList::outcome();
        o.sort_by_key(|x| order.index_of(x).unwrap_or(u8::MAX));
        o
    };
    let mut by_attr: BTreeMap<(usize, String, String), BTreeMap<String, u64>> = BTreeMap::new();
    let attr_order = |a: &str| c.attributes.iter().position(|x| x == a).unwrap_or(0);
    let just = crate::codes::CodeList::justification();
    for r in &c.by_group_justification_outcome {
        let j = format!("{:03}{}", just.index_of(&r.justification).unwrap_or(u8::MAX), r.justification);
        *by_attr
            .entry((attr_order(&r.attribute), r.group.clone(), j))
            .or_default()
            .entry(r.outcome.clone())
            .or_default() += r.stops;
    }
    let mut current: Option<usize> = None;
    for ((a, group, j), counts) in &by_attr {
        if current != Some(*a) {
            current = Some(*a);
            let name = c.attributes.get(*a).map(String::as_str).unwrap_or("all");
            s.push_str(&format!("\n{name}\n{:<24} {:<20} {:>9}", "group", "justification", "stops"));
            for o in &outcomes {
                s.push_str(&format!(" {:>10}", o));
            }
            s.push('\n');
        }
        let total: u64 = counts.values().sum();
        s.push_str(&format!("{:<24} {:<20} {:>9}", truncate(group, 24), &j[3..], total));
        for o in &outcomes {
            s.push_str(&format!(" {:>10}", counts.get(o).copied().unwrap_or(0)));
        }
        s.push('\n');
    }
    s
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        s.chars().take(n - 1).collect::<String>() + "…"
    }
}
