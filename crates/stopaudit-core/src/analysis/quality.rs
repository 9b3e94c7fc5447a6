//! Data-quality diagnostics: problems in the registrations that make every
//! comparison less reliable, checked before any disparity is read.
//!
//! - coverage: the share of analysed stops without a value, per optional
//!   field and group attribute (fields the export does not have are
//!   `absent`, not failures);
//! - conditional coverage: searched stops without a recorded find;
//! - duplicates: rows quarantined for a repeated stop id, as a share of rows read;
//! - heaping: the share of clock times on :00, :15, :30 and :45 against the
//!   4 in 60 expected, overall and per unit;
//! - registration gaps: months in which a unit registered far fewer stops
//!   than its median month (the first and last month of the data, often
//!   partial, are not judged);
//! - volumes: unit months far above the unit's median, and officer months
//!   far above all officer months (Tukey's far-out fence on the log scale);
//!   officers appear only as keyed pseudonyms, or only as a count without a key.
//!
//! Each check that fails its threshold (`[analysis.data_quality]`) becomes
//! a `data_quality` finding, shown before the disparity findings.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Inputs;
use crate::canonical::NONE_U32;
use crate::error::{Error, Result};
use crate::quarantine::Reason;

/// `[analysis.data_quality]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QualitySettings {
    /// Run the diagnostics (on by default).
    pub enabled: bool,
    /// A field missing in more than this share of stops fails.
    pub max_missing_share: f64,
    /// Duplicate stop ids above this share of rows read fail.
    pub max_duplicate_share: f64,
    /// Clock times on quarter hours more than this many times the 4/60 expected fail…
    pub heaping_ratio: f64,
    /// …when at least this many stops are judged.
    pub heaping_min_stops: u64,
    /// A unit month below this share of the unit's median month is a gap…
    pub gap_share: f64,
    /// …for units whose median month has at least this many stops.
    pub gap_min_median: u64,
    /// A unit month above this many times the unit's median is implausible.
    pub unit_spike_ratio: f64,
    /// An officer month above exp(Q3 + this × IQR) of the logs of all officer months is implausible.
    pub officer_iqr_fence: f64,
    /// …and has at least this many stops: in a narrow scope (one group, one
    /// unit's quarter) most officer months hold one or two stops, the
    /// interquartile range is 0, and the fence alone would flag every
    /// officer with two.
    pub officer_min_month_stops: u64,
    /// Key for officer pseudonyms (else `STOPAUDIT_PSEUDONYM_KEY`); without
    /// one, officers are only counted.
    pub pseudonym_key_file: Option<PathBuf>,
}

impl Default for QualitySettings {
    fn default() -> Self {
        QualitySettings {
            enabled: true,
            max_missing_share: 0.10,
            max_duplicate_share: 0.005,
            heaping_ratio: 2.0,
            heaping_min_stops: 200,
            gap_share: 0.5,
            gap_min_median: 20,
            unit_spike_ratio: 3.0,
            officer_iqr_fence: 3.0,
            officer_min_month_stops: 50,
            pseudonym_key_file: None,
        }
    }
}

impl QualitySettings {
    /// Rejects shares below 0 or not below 1, ratios not above 1 and a negative officer fence.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(format!("[analysis.data_quality] {m}")));
        for (name, v) in [
            ("max_missing_share", self.max_missing_share),
            ("max_duplicate_share", self.max_duplicate_share),
            ("gap_share", self.gap_share),
        ] {
            if !(0.0..1.0).contains(&v) {
                return bad(format!("{name} {v} must be at least 0 and below 1"));
            }
        }
        for (name, v) in [
            ("heaping_ratio", self.heaping_ratio),
            ("unit_spike_ratio", self.unit_spike_ratio),
        ] {
            if v.is_nan() || v <= 1.0 {
                return bad(format!("{name} {v} must be above 1"));
            }
        }
        if self.officer_iqr_fence.is_nan() || self.officer_iqr_fence < 0.0 {
            return bad(format!(
                "officer_iqr_fence {} must be at least 0",
                self.officer_iqr_fence
            ));
        }
        Ok(())
    }
}

/// One check on one subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Diagnostic {
    /// `coverage`, `conditional_coverage`, `duplicates`, `heaping`,
    /// `registration_gap`, `unit_volume` or `officer_volume`.
    pub check: &'static str,
    /// The field, unit or officer pseudonym checked (`all` for everything).
    pub subject: String,
    /// The count found and its base (e.g. missing values and stops).
    pub count: Option<u64>,
    /// The base of `count` (stops, searched stops, rows read, months judged, officers); `None`
    /// where there is none.
    pub base: Option<u64>,
    /// The measured share or ratio, and the threshold it is held to.
    pub value: Option<f64>,
    /// What `value` is held to: a share, a ratio, or (officer volume) the fence in stops per
    /// officer month.
    pub threshold: f64,
    /// `ok`, `fail`, `absent` (the export has no such field) or `not_checked`.
    pub status: &'static str,
    /// Months concerned (gaps and volumes), `YYYY-MM`.
    pub months: Vec<String>,
    /// The run's scope (`--period`, `--where`) when the check judged only
    /// the stops in it (gaps and volumes of a scoped run); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
}

/// All diagnostics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DataQuality {
    /// Whether the diagnostics ran; when false the list is empty.
    pub enabled: bool,
    /// Why officer volumes are not shown per officer (no key), if so.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub officers_note: Option<String>,
    /// Every check, in the order coverage, conditional coverage, duplicates, heaping, unit gaps and
    /// volumes, officer volumes.
    pub diagnostics: Vec<Diagnostic>,
    /// Months at the edges of the data with a handful of stops (stray
    /// dates: fewer than a tenth of the busiest month's stops), left out of
    /// the registration-gap and volume checks, which judge the data's main
    /// span only; empty when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub months_left_out: Vec<String>,
}

fn month_label(m: u32) -> String {
    super::trends::Grain::Month.label(m)
}

fn median(v: &mut [u64]) -> f64 {
    v.sort_unstable();
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    if n % 2 == 1 {
        v[n / 2] as f64
    } else {
        (v[n / 2 - 1] + v[n / 2]) as f64 / 2.0
    }
}

/// Quantile by linear interpolation (numpy's default).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * q;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Runs every check. Fails only on an unusable pseudonymisation key.
pub fn data_quality(inputs: &Inputs) -> Result<DataQuality> {
    let s = &inputs.settings.data_quality;
    if !s.enabled {
        return Ok(DataQuality::default());
    }
    let summary = inputs.summary;
    let stops = summary.rows_analyzed;
    let mut out = Vec::new();
    let diag = |check, subject: &str, count, base, value, threshold, fail: bool| Diagnostic {
        check,
        subject: subject.to_string(),
        count,
        base,
        value,
        threshold,
        status: if fail { "fail" } else { "ok" },
        months: Vec::new(),
        scope: None,
    };
    // Gaps and volumes of a scoped run describe the stops in scope (one
    // group's, one category's), not all of a unit's registrations: say so.
    let scope = (!inputs.scope.is_everything()).then(|| inputs.scope.describe());
    // A month's count is a Poisson draw around its unit's level: in a
    // scoped or small unit a month at 49% of a median of 40 is noise
    // around one at 59%. A month fails only when its exact two-sided
    // Poisson interval at the run's confidence lies entirely beyond the
    // limit (the median itself is taken as known).
    let tail = (1.0 - inputs.settings.confidence) / 2.0;
    let surely_below =
        |n: u64, limit: f64| crate::stats::exact::poisson_lower_tail(n, limit) < tail;
    let surely_above = |n: u64, limit: f64| {
        crate::stats::exact::poisson_upper(n, limit) < tail && n as f64 > limit
    };

    // Coverage of every optional field and group attribute.
    let mapped: Vec<&String> = summary
        .files
        .iter()
        .flat_map(|f| f.columns.keys())
        .collect();
    let fields = crate::schema::FIELDS
        .iter()
        .filter(|f| !f.required)
        .map(|f| f.name.to_string())
        .chain(summary.attributes.iter().cloned());
    for field in fields {
        // Conditional: judged among searched stops (conditional_coverage,
        // below), never against every stop (empty is correct without a search).
        if field == "contraband_found" {
            continue;
        }
        let missing = summary.missing_values.get(&field).copied().unwrap_or(0);
        let present = mapped.iter().any(|m| **m == field) || summary.attributes.contains(&field);
        let share = missing as f64 / stops as f64;
        let mut d = diag(
            "coverage",
            &field,
            Some(missing),
            Some(stops),
            Some(share),
            s.max_missing_share,
            share > s.max_missing_share,
        );
        if !present {
            d.status = "absent";
        }
        out.push(d);
    }

    // Finds among searched stops.
    let (mut searched, mut without_find) = (0u64, 0u64);
    for (k, &n) in &inputs.cube.cells {
        if k.attribute == 0 && k.search == Some(true) {
            searched += n;
            if k.contraband.is_none() {
                without_find += n;
            }
        }
    }
    if searched > 0 {
        let share = without_find as f64 / searched as f64;
        out.push(diag(
            "conditional_coverage",
            "contraband_found | search_conducted",
            Some(without_find),
            Some(searched),
            Some(share),
            s.max_missing_share,
            share > s.max_missing_share,
        ));
    }

    // Duplicate registrations.
    let duplicates = summary.quarantine_reasons.get(Reason::DuplicateStopId);
    let share = duplicates as f64 / summary.rows_read.max(1) as f64;
    let mut d = diag(
        "duplicates",
        "stop_id",
        Some(duplicates),
        Some(summary.rows_read),
        Some(share),
        s.max_duplicate_share,
        share > s.max_duplicate_share,
    );
    if !summary.duplicates_checked {
        d.status = "not_checked";
    }
    out.push(d);

    let cal = &inputs.cube.calendar;
    let unit_name = |u: u32| {
        if u == NONE_U32 {
            "(no unit)".to_string()
        } else {
            inputs.dicts.text("unit").label(u).to_string()
        }
    };

    // Heaping of clock times, overall and per unit.
    let mut minutes: BTreeMap<u32, [u64; 60]> = BTreeMap::new();
    for (&(u, m), &n) in &cal.unit_minutes {
        minutes.entry(u).or_insert([0; 60])[usize::from(m)] += n;
    }
    let mut heaping = |subject: String, hist: &[u64; 60]| {
        let n: u64 = hist.iter().sum();
        let quarter: u64 = [0, 15, 30, 45].iter().map(|&m| hist[m]).sum();
        let ratio = (quarter as f64 / n.max(1) as f64) / (4.0 / 60.0);
        let judged = n >= s.heaping_min_stops;
        let mut d = diag(
            "heaping",
            &subject,
            Some(quarter),
            Some(n),
            Some(ratio),
            s.heaping_ratio,
            judged && ratio > s.heaping_ratio,
        );
        if !judged {
            d.status = "not_checked";
        }
        out.push(d);
    };
    let mut all = [0u64; 60];
    for hist in minutes.values() {
        for (a, b) in all.iter_mut().zip(hist) {
            *a += b;
        }
    }
    heaping("all".into(), &all);
    if minutes.len() > 1 {
        for (&u, hist) in &minutes {
            heaping(unit_name(u), hist);
        }
    }

    // Registration gaps and volume spikes per unit, over the data's main
    // span: from the first to the last month with at least a tenth of the
    // busiest month's stops (the busiest, not the median: stray months can
    // outnumber real ones). Stray dates months away would otherwise make
    // every real month look like a spike against nearly empty ones.
    let mut totals: BTreeMap<u32, u64> = BTreeMap::new();
    for (&(_, m), &n) in &cal.unit_months {
        *totals.entry(m).or_default() += n;
    }
    let busiest = totals.values().copied().max().unwrap_or(0);
    let span: Vec<u32> = totals
        .iter()
        .filter(|&(_, &n)| n as f64 >= 0.1 * busiest as f64)
        .map(|(&m, _)| m)
        .collect();
    let (span_first, span_last) = (span.first().copied(), span.last().copied());
    let months_left_out: Vec<String> = totals
        .keys()
        .filter(|&&m| span_first.is_some_and(|f| m < f) || span_last.is_some_and(|l| m > l))
        .map(|&m| month_label(m))
        .collect();
    if let (Some(first), Some(last)) = (span_first, span_last) {
        let mut units: BTreeMap<u32, BTreeMap<u32, u64>> = BTreeMap::new();
        for (&(u, m), &n) in &cal.unit_months {
            *units.entry(u).or_default().entry(m).or_default() += n;
        }
        for (u, by_month) in &units {
            // Inner months only: the data's first and last month may be partial.
            let inner: Vec<(u32, u64)> = (first + 1..last)
                .map(|m| (m, by_month.get(&m).copied().unwrap_or(0)))
                .collect();
            if inner.len() < 3 {
                continue;
            }
            let med = median(&mut inner.iter().map(|x| x.1).collect::<Vec<_>>());
            let name = unit_name(*u);
            if med >= s.gap_min_median as f64 {
                let low: Vec<&(u32, u64)> = inner
                    .iter()
                    .filter(|(_, n)| surely_below(*n, s.gap_share * med))
                    .collect();
                let mut d = diag(
                    "registration_gap",
                    &name,
                    Some(low.len() as u64),
                    Some(inner.len() as u64),
                    // The lowest month, as a share of the median.
                    inner
                        .iter()
                        .map(|x| x.1 as f64 / med)
                        .min_by(f64::total_cmp),
                    s.gap_share,
                    !low.is_empty(),
                );
                d.months = low.iter().map(|x| month_label(x.0)).collect();
                d.scope = scope.clone();
                out.push(d);
            }
            if med > 0.0 {
                let high: Vec<&(u32, u64)> = inner
                    .iter()
                    .filter(|(_, n)| surely_above(*n, s.unit_spike_ratio * med))
                    .collect();
                let mut d = diag(
                    "unit_volume",
                    &name,
                    Some(high.len() as u64),
                    Some(inner.len() as u64),
                    inner
                        .iter()
                        .map(|x| x.1 as f64 / med)
                        .max_by(f64::total_cmp),
                    s.unit_spike_ratio,
                    !high.is_empty(),
                );
                d.months = high.iter().map(|x| month_label(x.0)).collect();
                d.scope = scope.clone();
                out.push(d);
            }
        }
    }

    // Officer months far above all officer months, on the log scale:
    // officers of busy and quiet units differ by factors, not by amounts.
    let mut officers_note = None;
    let mut logs: Vec<f64> = cal
        .officer_months
        .values()
        .map(|&n| (n as f64).ln())
        .collect();
    logs.sort_by(f64::total_cmp);
    if logs.len() >= 20 {
        let (q1, q3) = (quantile(&logs, 0.25), quantile(&logs, 0.75));
        let fence = (q3 + s.officer_iqr_fence * (q3 - q1))
            .exp()
            .max(s.officer_min_month_stops as f64 - 0.5);
        let mut flagged: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for (&(o, m), &n) in &cal.officer_months {
            if n as f64 > fence {
                flagged.entry(o).or_default().push(m);
            }
        }
        match inputs.pseudonym_key {
            Some(key) => {
                let mut rows: Vec<Diagnostic> = flagged
                    .iter()
                    .map(|(&o, months)| {
                        let id = inputs.dicts.text("officer_id").label(o);
                        let worst = months
                            .iter()
                            .map(|&m| cal.officer_months[&(o, m)])
                            .max()
                            .unwrap_or(0);
                        let mut months: Vec<u32> = months.clone();
                        months.sort_unstable();
                        let mut d = diag(
                            "officer_volume",
                            &key.pseudonym(id),
                            Some(worst),
                            None,
                            Some(worst as f64),
                            fence,
                            true,
                        );
                        d.months = months.into_iter().map(month_label).collect();
                        d.scope = scope.clone();
                        d
                    })
                    .collect();
                rows.sort_by(|a, b| a.subject.cmp(&b.subject));
                if rows.is_empty() {
                    let mut d = diag("officer_volume", "all", Some(0), None, None, fence, false);
                    d.scope = scope.clone();
                    out.push(d);
                }
                out.extend(rows);
            }
            None => {
                officers_note = Some(format!(
                    "officers are counted, not named: set {} or [analysis.data_quality] pseudonym_key_file for pseudonyms",
                    crate::pseudonym::KEY_VARIABLE
                ));
                let officers = cal
                    .officer_months
                    .keys()
                    .map(|k| k.0)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len() as u64;
                let mut d = diag(
                    "officer_volume",
                    "all",
                    Some(flagged.len() as u64),
                    Some(officers),
                    Some(fence),
                    fence,
                    !flagged.is_empty(),
                );
                d.scope = scope.clone();
                out.push(d);
            }
        }
    }
    Ok(DataQuality {
        enabled: true,
        officers_note,
        diagnostics: out,
        months_left_out,
    })
}
