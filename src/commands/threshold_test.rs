//! `stopaudit threshold-test`: the threshold test on aggregated counts (one
//! row per location and group with stops, searches and hits), as a table or
//! as JSON.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::TextOrJson;
use stopaudit_core::accounting::sha256_file;
use stopaudit_core::error::{Error, Result};
use stopaudit_core::output::write_atomic;
use stopaudit_core::provenance::{TOOL, VERSION};
use stopaudit_core::threshold_test::{CountRow, FitSettings, ThresholdFit, fit};
use stopaudit_io::read::csv::{decode, detect_delimiter, detect_encoding};
use stopaudit_io::read::mapping::closest_columns;

/// Which columns of the counts file hold what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountColumns {
    pub location: String,
    pub group: String,
    pub stops: String,
    pub searches: String,
    pub hits: String,
}

#[derive(Debug, Clone)]
pub struct ThresholdTestSettings {
    pub input: PathBuf,
    pub columns: CountColumns,
    /// The reference group (e.g. the majority group).
    pub reference: String,
    /// Only rows whose COLUMN equals VALUE (all must hold).
    pub filters: Vec<(String, String)>,
    pub fit: FitSettings,
    pub format: TextOrJson,
    /// Output file; standard output when absent.
    pub out: Option<PathBuf>,
}

/// The counts read from the file, with how many rows were read and used.
#[derive(Debug, Clone, PartialEq)]
pub struct CountsFile {
    pub rows: Vec<CountRow>,
    pub rows_read: u64,
    /// Rows left out by the filters.
    pub rows_filtered_out: u64,
}

/// Reads a counts CSV (comma, semicolon or tab separated; UTF-8, with or
/// without BOM, or Windows-1252, detected as for stop exports), checking
/// every row: counts are whole numbers ≥ 0 and hits ≤ searches ≤ stops.
pub fn read_counts(
    path: &Path,
    columns: &CountColumns,
    filters: &[(String, String)],
) -> Result<CountsFile> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let input_error = |message: String| Error::Input {
        path: path.to_path_buf(),
        message,
    };
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let text = decode(bytes, detect_encoding(bytes, true)).map_err(&input_error)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(detect_delimiter(bytes))
        .from_reader(text.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| input_error(format!("header: {e}")))?
        .iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let position = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| Error::MissingColumn {
                path: path.to_path_buf(),
                field: name.to_owned(),
                tried: vec![name.to_owned()],
                suggestions: closest_columns(&header, name),
            })
    };
    let location = position(&columns.location)?;
    let group = position(&columns.group)?;
    let stops = position(&columns.stops)?;
    let searches = position(&columns.searches)?;
    let hits = position(&columns.hits)?;
    let filters = filters
        .iter()
        .map(|(c, v)| Ok((position(c)?, v.as_str())))
        .collect::<Result<Vec<_>>>()?;
    let mut out = CountsFile {
        rows: Vec::new(),
        rows_read: 0,
        rows_filtered_out: 0,
    };
    for (i, record) in reader.records().enumerate() {
        // Line 1 is the header.
        let line = i + 2;
        let record = record.map_err(|e| input_error(format!("row {line}: {e}")))?;
        out.rows_read += 1;
        if !filters
            .iter()
            .all(|&(c, v)| record.get(c).is_some_and(|x| x.trim() == v))
        {
            out.rows_filtered_out += 1;
            continue;
        }
        let field = |index: usize, name: &str| -> Result<u64> {
            let text = record.get(index).unwrap_or("").trim();
            text.parse::<u64>().map_err(|_| {
                input_error(format!(
                    "row {line}, field `{name}`: {text:?} is not a whole number of 0 or more"
                ))
            })
        };
        let row = CountRow {
            location: record.get(location).unwrap_or("").trim().to_owned(),
            group: record.get(group).unwrap_or("").trim().to_owned(),
            stops: field(stops, &columns.stops)?,
            searches: field(searches, &columns.searches)?,
            hits: field(hits, &columns.hits)?,
        };
        if row.searches > row.stops {
            return Err(input_error(format!(
                "row {line}, field `{}`: {} searches but only {} stops",
                columns.searches, row.searches, row.stops
            )));
        }
        if row.hits > row.searches {
            return Err(input_error(format!(
                "row {line}, field `{}`: {} hits but only {} searches",
                columns.hits, row.hits, row.searches
            )));
        }
        out.rows.push(row);
    }
    Ok(out)
}

/// The `threshold-test --format json` document.
#[derive(Debug, Serialize)]
pub struct ThresholdTestDocument<'a> {
    pub provenance: CountsProvenance,
    #[serde(flatten)]
    pub fit: &'a ThresholdFit,
}

/// Where the counts came from.
#[derive(Debug, Serialize)]
pub struct CountsProvenance {
    pub tool: &'static str,
    pub version: &'static str,
    pub input: String,
    pub sha256: String,
    pub rows_read: u64,
    pub rows_used: u64,
    pub rows_filtered_out: u64,
    pub filters: Vec<String>,
    pub columns: serde_json::Value,
}

fn text_table(fit: &ThresholdFit, counts: &CountsFile) -> String {
    let mut t = String::new();
    t.push_str(&format!(
        "Threshold test: {} cells, {} rows read ({} used, {} filtered out); reference group {:?}\n\n",
        fit.cells.len(),
        counts.rows_read,
        counts.rows.len(),
        counts.rows_filtered_out,
        fit.reference
    ));
    let width = |f: &dyn Fn(&stopaudit_core::threshold_test::CellFit) -> usize, title: &str| {
        fit.cells.iter().map(f).max().unwrap_or(0).max(title.len())
    };
    let lw = width(&|c| c.location.chars().count(), "location");
    let gw = width(&|c| c.group.chars().count(), "group");
    t.push_str(&format!(
        "{:lw$}  {:gw$}  {:>9}  {:>8}  {:>7}  {:>9}  {:>17}\n",
        "location",
        "group",
        "stops",
        "searches",
        "hits",
        "threshold",
        format!("{}% interval", 100.0 * fit.diagnostics.credible_level)
    ));
    for c in &fit.cells {
        t.push_str(&format!(
            "{:lw$}  {:gw$}  {:>9}  {:>8}  {:>7}  {:>9.3}  [{:.3}, {:.3}]\n",
            c.location,
            c.group,
            c.stops,
            c.searches,
            c.hits,
            c.threshold,
            c.threshold_ci[0],
            c.threshold_ci[1]
        ));
    }
    t.push_str("\nStop-weighted average threshold per group:\n");
    let gw = fit
        .groups
        .iter()
        .map(|g| g.group.chars().count())
        .max()
        .unwrap_or(0)
        .max(5);
    for g in &fit.groups {
        t.push_str(&format!(
            "  {:gw$}  {:.3} [{:.3}, {:.3}]",
            g.group, g.threshold, g.threshold_ci[0], g.threshold_ci[1]
        ));
        match (
            g.difference_from_reference,
            g.difference_ci,
            g.probability_lower,
        ) {
            (Some(d), Some(ci), Some(p)) => t.push_str(&format!(
                "  difference {d:+.3} [{:+.3}, {:+.3}], P(lower) = {p:.3}\n",
                ci[0], ci[1]
            )),
            _ => t.push_str("  (reference)\n"),
        }
    }
    let d = &fit.diagnostics;
    t.push_str(&format!(
        "\nSampler: {} chains × {} draws after {} warmup (seed {}); max R-hat {:.4}, min bulk ESS {:.0}, \
         min tail ESS {:.0}, divergent transitions: {}, at max tree depth: {}.\n\
         Fit: RMS error of search rates {:.4} (weighted by stops), of hit rates {:.4} (weighted by searches).\n",
        d.chains,
        d.draws_per_chain,
        d.warmup,
        d.seed,
        d.max_rhat.max(d.max_rhat_parameters),
        d.min_ess_bulk,
        d.min_ess_tail,
        d.divergences,
        d.max_depth_hits,
        d.search_rate_rmse,
        d.hit_rate_rmse
    ));
    if !d.converged {
        t.push_str(
            "WARNING: the sampler did not converge (R-hat ≥ 1.01); \
             do not use these thresholds; run with more --warmup and --draws.\n",
        );
    }
    if d.divergences > 0 {
        t.push_str(&format!(
            "Note: divergent transitions ({}): parts of the posterior may be poorly explored; \
             check that the thresholds hold with --target-accept 0.95.\n",
            d.divergences
        ));
    }
    t.push_str(
        "\nA lower threshold means a group is searched on less evidence than the reference group. \
         It rests on the model's assumptions and is a reason for review, not proof of discrimination.\n",
    );
    t
}

pub fn run(settings: &ThresholdTestSettings, out: &mut dyn Write) -> Result<()> {
    let counts = read_counts(&settings.input, &settings.columns, &settings.filters)?;
    // A bar on stderr while the chains run (on a terminal only).
    let sampling = stopaudit_io::progress::SamplingProgress::start(true);
    let fitted =
        fit(&counts.rows, &settings.reference, &settings.fit).map_err(|e| Error::Input {
            path: settings.input.clone(),
            message: e.to_string(),
        })?;
    drop(sampling);
    let text = match settings.format {
        TextOrJson::Text => text_table(&fitted, &counts),
        TextOrJson::Json => {
            let c = &settings.columns;
            let doc = ThresholdTestDocument {
                provenance: CountsProvenance {
                    tool: TOOL,
                    version: VERSION,
                    input: settings.input.display().to_string(),
                    sha256: sha256_file(&settings.input)?,
                    rows_read: counts.rows_read,
                    rows_used: counts.rows.len() as u64,
                    rows_filtered_out: counts.rows_filtered_out,
                    filters: settings
                        .filters
                        .iter()
                        .map(|(c, v)| format!("{c}={v}"))
                        .collect(),
                    columns: serde_json::json!({
                        "location": c.location, "group": c.group, "stops": c.stops,
                        "searches": c.searches, "hits": c.hits,
                    }),
                },
                fit: &fitted,
            };
            let mut s = serde_json::to_string_pretty(&doc).expect("serialisable");
            s.push('\n');
            s
        }
    };
    match &settings.out {
        Some(path) => write_atomic(path, text.as_bytes()),
        None => out
            .write_all(text.as_bytes())
            .map_err(|e| Error::io("<stdout>", e)),
    }
}
