//! The results document (docs/results.md): everything `analyze` produces,
//! and its renderings as JSON, a folder of CSV tables and a text table.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::analysis::{self, AnalysisSettings, Results};
use crate::counting::CountTables;
use crate::error::{Error, Result};
use crate::findings::{self, Finding, Rows, Severity, Sources};
use crate::output::{CsvDialect, csv_string, write_atomic};
use crate::provenance::Provenance;

/// The `--fail-on` check: an error (exit code 1) when a finding is at least as severe as `level`.
pub fn check_fail_on(analysis: &Analysis, level: Option<Severity>) -> Result<()> {
    let Some(level) = level else { return Ok(()) };
    let hits: Vec<&str> = analysis
        .findings
        .iter()
        .filter(|f| f.severity <= level)
        .map(|f| f.id.as_str())
        .collect();
    if hits.is_empty() {
        return Ok(());
    }
    Err(Error::FindingsFailure(format!(
        "{} finding(s) at severity {} or above ({}); output was written (--fail-on {})",
        hits.len(),
        level.as_str(),
        hits.join(", "),
        level.as_str()
    )))
}

/// What a run publishes, made from the count cube in the stages of
/// docs/architecture.md.
#[derive(Debug, Clone)]
pub struct Published {
    /// Every analysis, after disclosure control.
    pub results: Results,
    /// The findings, worded in English and Dutch.
    pub findings: Vec<Finding>,
    /// The count tables, after disclosure control.
    pub counts: CountTables,
    /// Analysed rows with no value per field, after disclosure control.
    pub missing_values: BTreeMap<String, Option<u64>>,
}

/// Everything after the scan: the analyses ([`analysis::run`]), disclosure
/// control over all of it at once ([`crate::disclosure::protect`]), the
/// findings' rules ([`findings::findings`], which see each row as computed
/// and as published) and their wording ([`crate::wording::write`]).
pub fn audit(inputs: &analysis::Inputs, mut counts: CountTables) -> Result<Published> {
    let settings = inputs.settings;
    let computed = analysis::run(inputs)?;
    let mut results = computed.clone();
    crate::disclosure::protect(&mut results, &mut counts, settings, inputs.pseudonym_key);
    let mut findings = findings::findings(
        settings,
        &Sources {
            outcome_test: Rows {
                original: &computed.outcome_test,
                published: &results.outcome_test,
            },
            justification_mix: Rows {
                original: &computed.justification_mix,
                published: &results.justification_mix,
            },
            stratified: Rows {
                original: &computed.stratified,
                published: &results.stratified,
            },
            search_funnel: Rows {
                original: &computed.search_funnel,
                published: &results.search_funnel,
            },
            population_benchmark: Rows {
                original: &computed.population_benchmark,
                published: &results.population_benchmark,
            },
            threshold_test: &results.threshold_test,
            veil_of_darkness: &computed.veil_of_darkness.results,
            data_quality: &results.data_quality,
            internal_benchmark: Rows {
                original: &computed.internal_benchmark.results,
                published: &results.internal_benchmark.results,
            },
        },
    );
    let quarters = crate::verdict::quarters_covered(
        inputs.summary.first_stop.as_deref(),
        inputs.summary.last_stop.as_deref(),
    );
    crate::verdict::assign(&mut results, &findings, settings, quarters);
    crate::wording::write(&mut findings, settings, inputs.codes);
    let missing_values = crate::disclosure::missing_values(
        &inputs.summary.missing_values,
        settings.min_cell,
        &results.strata_patterns,
    );
    Ok(Published {
        results,
        findings,
        counts,
        missing_values,
    })
}

/// Everything `analyze` produces: the results JSON (docs/results.md).
#[derive(Debug, Clone, Serialize)]
pub struct Analysis {
    /// Version of the results format ([`analysis::SCHEMA_VERSION`]).
    pub schema_version: &'static str,
    /// What produced the results: tool, inputs, configuration, row accounting.
    pub provenance: Provenance,
    /// The analysis settings in effect.
    pub settings: AnalysisSettings,
    /// Analysed rows with no value, per optional field and group attribute
    /// (`null`: from 1 to `min_cell − 1`, hidden).
    pub missing_values: BTreeMap<String, Option<u64>>,
    /// Every analysis, as top-level keys of the JSON.
    #[serde(flatten)]
    pub results: Results,
    /// Findings, sorted by severity, with ids `F001`, `F002`, ….
    pub findings: Vec<Finding>,
    /// The count tables the analyses start from (suppressed like the rest).
    pub counts: CountTables,
    /// The code lists in effect (for labels in reports); not part of the results JSON.
    #[serde(skip)]
    pub codes: crate::codes::CodeLists,
}

/// Pretty JSON, ending in a newline.
pub fn to_json(analysis: &Analysis) -> String {
    serde_json::to_string_pretty(analysis).expect("serialisable") + "\n"
}

/// Writes one CSV per analysis and count table, plus provenance.json, into
/// `dir`, in `dialect`.
pub fn write_csv_dir(analysis: &Analysis, dir: &Path, dialect: CsvDialect) -> Result<()> {
    let rows_csv = |rows: &dyn ErasedRows| rows_csv_in(rows.values(), dialect);
    let r = &analysis.results;
    let mix_tests: Vec<serde_json::Value> = r
        .justification_mix
        .iter()
        .map(|m| {
            let mut v = serde_json::to_value(m).expect("serialisable");
            let o = v.as_object_mut().expect("an object");
            o.remove("cells");
            o.remove("weak_justification");
            v
        })
        .collect();
    let mix_cells: Vec<serde_json::Value> = r
        .justification_mix
        .iter()
        .flat_map(|m| {
            let context = serde_json::json!({"attribute": m.attribute, "reference": m.reference});
            m.cells.iter().map(move |c| with_context(&context, c))
        })
        .collect();
    let threshold_context = |t: &analysis::threshold::ThresholdTestResult| {
        serde_json::json!({
            "attribute": t.attribute,
            "location_field": t.location_field,
            "reference": t.reference,
        })
    };
    let threshold_cells: Vec<serde_json::Value> = r
        .threshold_test
        .iter()
        .flat_map(|t| {
            let context = threshold_context(t);
            t.cells.iter().map(move |c| with_context(&context, c))
        })
        .collect();
    let threshold_groups: Vec<serde_json::Value> = r
        .threshold_test
        .iter()
        .flat_map(|t| {
            let context = threshold_context(t);
            t.groups.iter().map(move |g| with_context(&context, g))
        })
        .collect();
    let veil: Vec<analysis::veil::VeilCsvRow> = r
        .veil_of_darkness
        .results
        .iter()
        .flat_map(|v| v.csv_rows())
        .collect();
    let trend_context = |s: &analysis::trends::TrendSeries| {
        serde_json::json!({
            "attribute": s.attribute,
            "group": s.group,
            "reference": s.reference,
            "measure": s.measure,
        })
    };
    let trend_points: Vec<serde_json::Value> = r
        .trends
        .series
        .iter()
        .flat_map(|s| {
            let context = trend_context(s);
            s.points.iter().map(move |p| with_context(&context, p))
        })
        .collect();
    let trend_changes: Vec<serde_json::Value> = r
        .trends
        .series
        .iter()
        .flat_map(|s| {
            let context = trend_context(s);
            s.changes.iter().map(move |c| with_context(&context, c))
        })
        .collect();
    let weak: Vec<&analysis::compare::ComparisonRow> = r
        .justification_mix
        .iter()
        .flat_map(|m| &m.weak_justification)
        .collect();
    let files = [
        ("outcome_test.csv", rows_csv(&r.outcome_test)),
        ("justification_mix.csv", rows_csv(&mix_tests)),
        ("justification_mix_cells.csv", rows_csv(&mix_cells)),
        ("weak_justification.csv", rows_csv(&weak)),
        ("stratified.csv", rows_csv(&r.stratified)),
        ("search_funnel.csv", rows_csv(&r.search_funnel)),
        (
            "population_benchmark.csv",
            rows_csv(&r.population_benchmark),
        ),
        ("threshold_test_cells.csv", rows_csv(&threshold_cells)),
        ("threshold_test_groups.csv", rows_csv(&threshold_groups)),
        ("veil_of_darkness.csv", rows_csv(&veil)),
        ("trends.csv", rows_csv(&trend_points)),
        ("trend_changes.csv", rows_csv(&trend_changes)),
        ("findings.csv", rows_csv(&analysis.findings)),
        (
            "counts_by_group_justification_outcome.csv",
            rows_csv(&analysis.counts.by_group_justification_outcome),
        ),
        ("counts_by_unit.csv", rows_csv(&analysis.counts.by_unit)),
        (
            "provenance.json",
            serde_json::to_string_pretty(&serde_json::json!({
                "schema_version": analysis.schema_version,
                "provenance": analysis.provenance,
                "settings": analysis.settings,
                "missing_values": analysis.missing_values,
            }))
            .expect("serialisable")
                + "\n",
        ),
    ];
    for (name, text) in files {
        write_atomic(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

/// `context` (an object) followed by the fields of `item`: one row of a
/// nested array, flattened for CSV.
fn with_context(context: &serde_json::Value, item: &impl Serialize) -> serde_json::Value {
    let mut v = context.clone();
    if let (Some(o), serde_json::Value::Object(fields)) = (
        v.as_object_mut(),
        serde_json::to_value(item).expect("serialisable"),
    ) {
        o.extend(fields);
    }
    v
}

/// Rows of any serialisable type, as JSON values (so that one closure can
/// take every table of [`write_csv_dir`]).
trait ErasedRows {
    fn values(&self) -> Vec<serde_json::Value>;
}

impl<T: Serialize> ErasedRows for Vec<T> {
    fn values(&self) -> Vec<serde_json::Value> {
        self.iter()
            .map(|r| serde_json::to_value(r).expect("serialisable"))
            .collect()
    }
}

/// Rows (as JSON values) as CSV in `dialect`: one column per field in
/// declaration order; an interval `[low, high]` becomes two columns
/// `x_low`, `x_high`; a stratum object becomes `field=value; …`; null and
/// suppressed values are empty.
fn rows_csv_in(values: Vec<serde_json::Value>, dialect: CsvDialect) -> String {
    let mut header: Vec<String> = Vec::new();
    let mut pairs: Vec<(String, bool)> = Vec::new();
    for v in &values {
        for (k, x) in v.as_object().into_iter().flatten() {
            if !pairs.iter().any(|(n, _)| n == k) {
                let is_pair = x.as_array().is_some_and(|a| {
                    a.len() == 2 && a.iter().all(|e| e.is_number() || e.is_null())
                });
                pairs.push((k.clone(), is_pair || k.ends_with("_ci")));
            }
        }
    }
    for (k, pair) in &pairs {
        if *pair {
            header.push(format!("{k}_low"));
            header.push(format!("{k}_high"));
        } else {
            header.push(k.clone());
        }
    }
    let cell = |x: Option<&serde_json::Value>| -> String {
        match x {
            None | Some(serde_json::Value::Null) => String::new(),
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Object(o)) => o
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                .collect::<Vec<_>>()
                .join("; "),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|e| {
                    e.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| e.to_string())
                })
                .collect::<Vec<_>>()
                .join(";"),
            Some(other) => other.to_string(),
        }
    };
    let body: Vec<Vec<String>> = values
        .iter()
        .map(|v| {
            let mut row = Vec::with_capacity(header.len());
            for (k, pair) in &pairs {
                let x = v.get(k);
                if *pair {
                    let a = x.and_then(|x| x.as_array());
                    row.push(cell(a.and_then(|a| a.first())));
                    row.push(cell(a.and_then(|a| a.get(1))));
                } else {
                    row.push(cell(x));
                }
            }
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    csv_string(&header, &body, dialect)
}

/// A readable summary: accounting, findings, then per attribute a group ×
/// justification table of outcomes (suppressed cells shown as `<k`).
pub fn render_table(analysis: &Analysis) -> String {
    let p = &analysis.provenance;
    let c = &analysis.counts;
    let mut s = String::new();
    s.push_str(&format!(
        "stopaudit {} — analysis (results schema {})\n",
        p.version, analysis.schema_version
    ));
    for f in &p.inputs {
        s.push_str(&format!(
            "input: {} ({}, sha256 {}…)\n",
            f.path,
            f.format,
            &f.sha256[..12.min(f.sha256.len())]
        ));
    }
    for c in &p.cubes {
        s.push_str(&format!(
            "cube: {} ({}, manifest sha256 {}…)\n",
            c.path,
            c.engine,
            &c.manifest_sha256[..12.min(c.manifest_sha256.len())]
        ));
    }
    s.push_str(&format!("{}\n", p.accounting_line()));
    if !p.quarantine_reasons.is_empty() {
        let reasons: Vec<String> = p
            .quarantine_reasons
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        s.push_str(&format!("quarantined: {}\n", reasons.join(", ")));
    }
    if let (Some(a), Some(b)) = (&p.first_stop, &p.last_stop) {
        s.push_str(&format!("period: {a} to {b}\n"));
    }
    s.push_str(&p.timezone_line());
    s.push('\n');
    let findings = &analysis.findings;
    s.push_str(&format!("\nfindings ({}):\n", findings.len()));
    if findings.is_empty() {
        s.push_str("  none: no comparison is both statistically significant (after correction for multiple testing) and practically large.\n");
    }
    for f in findings {
        s.push_str(&format!(
            "  {} [{}] {}\n",
            f.id,
            f.severity.as_str(),
            f.summary_en
        ));
    }
    if let Some(b) = c.rounded_to {
        s.push_str(&format!(
            "\ncounts per cell: each rounded to a multiple of {b} (unbiased random rounding, docs/methods.md \"Small cells\"), so a cell may differ from its count by up to {}; a cell of 0 to {} stops may be left out\n",
            b - 1,
            b - 1
        ));
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
        let j = format!(
            "{:03}{}",
            just.index_of(&r.justification).unwrap_or(u8::MAX),
            r.justification
        );
        by_attr
            .entry((attr_order(&r.attribute), r.group.clone(), j))
            .or_default()
            .insert(r.outcome.clone(), r.stops);
    }
    let mut current: Option<usize> = None;
    for ((a, group, j), counts) in &by_attr {
        if current != Some(*a) {
            current = Some(*a);
            let name = c.attributes.get(*a).map(String::as_str).unwrap_or("all");
            s.push_str(&format!(
                "\n{name}\n{:<24} {:<20} {:>9}",
                "group", "justification", "stops"
            ));
            for o in &outcomes {
                s.push_str(&format!(" {:>10}", o));
            }
            s.push('\n');
        }
        let total: u64 = counts.values().sum();
        s.push_str(&format!(
            "{:<24} {:<20} {:>9}",
            truncate(group, 24),
            &j[3..],
            total
        ));
        for o in &outcomes {
            let cell = counts.get(o).copied().unwrap_or(0).to_string();
            s.push_str(&format!(" {:>10}", cell));
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
