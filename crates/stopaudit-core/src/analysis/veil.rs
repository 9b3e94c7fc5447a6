//! The veil-of-darkness test (Grogger & Ridgeway 2006, as the Stanford Open
//! Policing Project runs it).
//!
//! If officers can see less of a person after dark, a group whose share of
//! stops is higher in daylight than in darkness *at the same clock time*
//! may be selected partly on appearance. Within the inter-twilight window
//! (see [`crate::daylight`]) the same clock time is light on some days of
//! the year and dark on others, which separates darkness from the time of
//! day.
//!
//! Per attribute and group g (against the reference r), on the stops of g
//! and r in the window (twilight left out), a binomial GLM
//! P(g | stop of g or r) ~ is_dark + ns(clock minute, df) + unit + year,
//! fitted on the counts per (unit, year, minute, dark) ([`crate::stats::glm`]).
//! exp(β_dark) is the odds ratio of being g in darkness: below 1 means g's
//! share falls when it is dark. Reported with the main df and with df 1–6
//! (robustness), and on the stops within the clock-change windows only
//! (the same clock time an hour lighter or darker within weeks).

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Attribute, Inputs};
use crate::counting::darkness::DarknessCounts;
use crate::daylight::{Daylight, Light};
use crate::error::{Error, Result};
use crate::schema::UNKNOWN_GROUP;
use crate::stats::glm::{BinomialData, logistic_regression, natural_cubic_basis, spline_knots};
use crate::stats::proportion::wilson_interval;

/// `[analysis.veil_of_darkness]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VeilSettings {
    /// On by default; off saves the per-stop sun lookup.
    pub enabled: bool,
    /// Degrees of freedom of the clock-time spline (1–10).
    pub spline_df: usize,
    /// Fixed effects: any of `unit`, `year`.
    pub fixed_effects: Vec<String>,
    /// Days either side of a clock change for the clock-change variant.
    pub clock_change_days: u32,
    /// \[latitude, longitude\] for stops with neither coordinates nor a known unit location.
    pub default_location: Option<[f64; 2]>,
    /// Unit name -> \[latitude, longitude\], on top of the built-in Dutch units.
    pub unit_locations: BTreeMap<String, [f64; 2]>,
    /// Places are rounded to this many degrees before the sun is computed.
    pub grid_degrees: f64,
}

impl Default for VeilSettings {
    fn default() -> Self {
        VeilSettings {
            enabled: true,
            spline_df: 6,
            fixed_effects: vec!["unit".into(), "year".into()],
            clock_change_days: 30,
            default_location: None,
            unit_locations: BTreeMap::new(),
            grid_degrees: 0.1,
        }
    }
}

/// Spline degrees of freedom of the robustness table.
pub(crate) const ROBUSTNESS_DF: std::ops::RangeInclusive<usize> = 1..=6;

impl VeilSettings {
    /// Rejects a spline df outside 1–10, unknown fixed effects, `grid_degrees` outside (0, 1] and
    /// locations that are not latitude and longitude in degrees.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Usage(format!("[analysis.veil_of_darkness] {m}")));
        if !(1..=10).contains(&self.spline_df) {
            return bad(format!("spline_df {} must be 1 to 10", self.spline_df));
        }
        for f in &self.fixed_effects {
            if f != "unit" && f != "year" {
                return bad(format!("fixed effect `{f}`: choose from unit, year"));
            }
        }
        if !(self.grid_degrees > 0.0 && self.grid_degrees <= 1.0) {
            return bad(format!(
                "grid_degrees {} must be above 0 and at most 1",
                self.grid_degrees
            ));
        }
        let located = self
            .unit_locations
            .iter()
            .map(|(n, l)| (format!("unit_locations.{n}"), *l))
            .chain(
                self.default_location
                    .map(|l| ("default_location".into(), l)),
            );
        for (name, [lat, lon]) in located {
            if !((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)) {
                return bad(format!(
                    "{name} = [{lat}, {lon}] is not a [latitude, longitude] in degrees"
                ));
            }
        }
        Ok(())
    }

    /// What the counting pass needs, if the test is on.
    pub fn daylight(&self, tz: chrono_tz::Tz) -> Option<Daylight> {
        self.enabled.then(|| {
            let units: Vec<(String, f64, f64)> = self
                .unit_locations
                .iter()
                .map(|(n, [lat, lon])| (n.clone(), *lat, *lon))
                .collect();
            Daylight::new(
                tz,
                &units,
                self.default_location.map(|[lat, lon]| (lat, lon)),
                self.grid_degrees,
                self.clock_change_days,
            )
        })
    }
}

/// Stops by light class, over all analysed stops (`null` when suppressed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LightCounts {
    /// Stops with no place: no coordinates, no known unit location and no default.
    pub no_place: Option<u64>,
    /// Stops outside the inter-twilight window (or on a day without dusk).
    pub outside_window: Option<u64>,
    /// Stops in the window between sunset and civil dusk (left out of the test).
    pub twilight: Option<u64>,
    /// Stops in the window before sunset.
    pub daylight: Option<u64>,
    /// Stops in the window from civil dusk on.
    pub dark: Option<u64>,
}

impl LightCounts {
    fn of(counts: &DarknessCounts) -> Self {
        let n = |l: Light| Some(counts.classes[l as usize]);
        LightCounts {
            no_place: n(Light::NoPlace),
            outside_window: n(Light::OutsideWindow),
            twilight: n(Light::Twilight),
            daylight: n(Light::Daylight),
            dark: n(Light::Dark),
        }
    }
}

/// The darkness coefficient of one fit.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DarkEstimate {
    /// exp(β_dark): the odds of a stop being of the group in darkness
    /// relative to daylight, at the same clock time, unit and year.
    pub odds_ratio: f64,
    /// exp of the Wald interval of β_dark, at the run's confidence level.
    pub odds_ratio_ci: [f64; 2],
    /// β_dark, the darkness coefficient on the log-odds scale.
    pub log_odds_ratio: f64,
    /// Standard error of β_dark.
    pub standard_error: f64,
    /// Two-sided Wald test of β_dark = 0.
    pub p_value: f64,
    /// log10 of the p-value, finite even when `p_value` underflows to 0.
    pub p_value_log10: f64,
    /// One-sided Wald test on the adverse side (β_dark < 0: the group's
    /// share lower after dark, when officers can see it less): the p-value
    /// the q-value is made from.
    pub p_adverse: f64,
    /// Rows (covariate patterns) and parameters of the fit.
    pub rows: usize,
    /// Columns of the design: intercept, darkness, the spline's columns, and the fixed effects'
    /// levels but the first of each.
    pub parameters: usize,
}

/// One fit of the robustness table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RobustnessRow {
    /// Degrees of freedom of the clock-time spline (1 to 6).
    pub spline_df: usize,
    /// The darkness coefficient with that df; `None` when it cannot be fitted (see `note`).
    pub estimate: Option<DarkEstimate>,
    /// Why there is no estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Stops of the group and the reference in daylight and darkness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DarkStops {
    /// The group's stops in daylight.
    pub group_daylight: u64,
    /// The group's stops in darkness.
    pub group_dark: u64,
    /// The reference group's stops in daylight.
    pub ref_daylight: u64,
    /// The reference group's stops in darkness.
    pub ref_dark: u64,
}

/// The clock-change variant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockChangeVariant {
    /// Days either side of a clock change (`clock_change_days`).
    pub days: u32,
    /// `null` when suppressed.
    pub stops: Option<DarkStops>,
    /// The main model on the stops in the clock-change windows; `None` when it cannot be fitted
    /// (see `note`).
    pub estimate: Option<DarkEstimate>,
    /// Why there is no estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// `stops` hidden by small-cell suppression (the estimate stays).
    pub suppressed: bool,
}

/// The test for one group against its attribute's reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VeilResult {
    /// The group attribute.
    pub attribute: String,
    /// The group compared (never the reference or `unknown`).
    pub group: String,
    /// The attribute's reference group.
    pub reference: String,
    /// `null` when suppressed.
    pub stops: Option<DarkStops>,
    /// The group's share of the group's and reference's stops, in daylight
    /// and in darkness (crude: not adjusted for clock time).
    pub share_daylight: Option<f64>,
    /// Wilson interval of `share_daylight`; `None` when suppressed or there are no such stops.
    pub share_daylight_ci: Option<[f64; 2]>,
    /// The group's share of both groups' stops in darkness; `None` when suppressed or none.
    pub share_dark: Option<f64>,
    /// Wilson interval of `share_dark`; `None` like `share_dark`.
    pub share_dark_ci: Option<[f64; 2]>,
    /// Degrees of freedom of the main model's clock-time spline.
    pub spline_df: usize,
    /// Fixed effects of the main model: any of `unit`, `year`.
    pub fixed_effects: Vec<String>,
    /// The main model's darkness coefficient; `None` when it cannot be fitted (see `note`).
    pub estimate: Option<DarkEstimate>,
    /// Benjamini–Hochberg over the main estimates of all results; `None` without an estimate.
    pub q_value: Option<f64>,
    /// Why the main model has no estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The same model with spline df 1 to 6.
    pub robustness: Vec<RobustnessRow>,
    /// The main model on the stops within `days` of a clock change.
    pub clock_change: ClockChangeVariant,
    /// `stops` and the shares hidden by small-cell suppression.
    pub suppressed: bool,
}

/// Everything the test reports.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct VeilOfDarkness {
    /// Whether the test ran (`[analysis.veil_of_darkness] enabled`).
    pub enabled: bool,
    /// Analysed stops per light class, counted once whatever the attributes.
    pub stops: LightCounts,
    /// One per group of each attribute, except the reference and `unknown`.
    pub results: Vec<VeilResult>,
}

/// A covariate pattern: unit code, year, clock minute, dark.
pub(crate) type Pattern = (u32, u16, u16, bool);

/// Counts of the group (`.0`) and the reference (`.1`) per covariate pattern.
pub(crate) type Patterns = BTreeMap<Pattern, (u64, u64)>;

/// Runs the test for every group of every attribute.
pub fn veil_of_darkness(inputs: &Inputs, attrs: &[Attribute]) -> VeilOfDarkness {
    let settings = &inputs.settings.veil_of_darkness;
    let table = &inputs.cube.darkness;
    if !settings.enabled {
        return VeilOfDarkness::default();
    }
    let cells = table.cells();
    let jobs: Vec<(&Attribute, &u32, &String)> = attrs
        .iter()
        .flat_map(|a| {
            a.groups
                .iter()
                .filter(|(g, label)| *g != a.reference.0 && label != UNKNOWN_GROUP)
                .map(move |(g, label)| (a, g, label))
        })
        .collect();
    let confidence = inputs.settings.confidence;
    // Each comparison gathers its own patterns from the cells, on its own
    // thread: done one after another, the gathering took longer than the fits.
    let results: Vec<VeilResult> = jobs
        .into_par_iter()
        .map(|(a, g, label)| {
            let reference = &a.reference.0;
            let mut all = Patterns::new();
            let mut clock_change = Patterns::new();
            for (c, &n) in cells.iter() {
                if c.attribute != a.index || (c.group != *g && c.group != *reference) {
                    continue;
                }
                let key = (c.unit, c.year, c.minute, c.dark);
                let add = |p: &mut Patterns| {
                    let e = p.entry(key).or_default();
                    if c.group == *g {
                        e.0 += n;
                    } else {
                        e.1 += n;
                    }
                };
                add(&mut all);
                if c.clock_change_window {
                    add(&mut clock_change);
                }
            }
            let (attribute, group, reference) =
                (a.name.clone(), label.clone(), a.reference.1.clone());
            let fit =
                |p: &Patterns, df: usize| fit_darkness(p, df, &settings.fixed_effects, confidence);
            let (estimate, note) = split(fit(&all, settings.spline_df));
            let robustness = ROBUSTNESS_DF
                .map(|df| {
                    let (estimate, note) = if df == settings.spline_df {
                        (estimate, note.clone())
                    } else {
                        split(fit(&all, df))
                    };
                    RobustnessRow {
                        spline_df: df,
                        estimate,
                        note,
                    }
                })
                .collect();
            let (cc_estimate, cc_note) = split(fit(&clock_change, settings.spline_df));
            let stops = stops_of(&all);
            let share = |g: u64, r: u64| {
                let n = g + r;
                (
                    (n > 0).then(|| g as f64 / n as f64),
                    wilson_interval(g, n, confidence).map(|i| [i.low, i.high]),
                )
            };
            let (share_daylight, share_daylight_ci) =
                share(stops.group_daylight, stops.ref_daylight);
            let (share_dark, share_dark_ci) = share(stops.group_dark, stops.ref_dark);
            VeilResult {
                attribute,
                group,
                reference,
                stops: Some(stops),
                share_daylight,
                share_daylight_ci,
                share_dark,
                share_dark_ci,
                spline_df: settings.spline_df,
                fixed_effects: settings.fixed_effects.clone(),
                estimate,
                q_value: None,
                note,
                robustness,
                clock_change: ClockChangeVariant {
                    days: settings.clock_change_days,
                    stops: Some(stops_of(&clock_change)),
                    estimate: cc_estimate,
                    note: cc_note,
                    suppressed: false,
                },
                suppressed: false,
            }
        })
        .collect();
    VeilOfDarkness {
        enabled: true,
        stops: LightCounts::of(table),
        results,
    }
}

fn split(r: std::result::Result<DarkEstimate, String>) -> (Option<DarkEstimate>, Option<String>) {
    match r {
        Ok(e) => (Some(e), None),
        Err(m) => (None, Some(m)),
    }
}

fn stops_of(p: &Patterns) -> DarkStops {
    let mut s = [0u64; 4];
    for (&(_, _, _, dark), &(g, r)) in p {
        let k = usize::from(dark);
        s[k] += g;
        s[2 + k] += r;
    }
    DarkStops {
        group_daylight: s[0],
        group_dark: s[1],
        ref_daylight: s[2],
        ref_dark: s[3],
    }
}

/// At most this many fixed-effect levels in one veil-of-darkness fit.
pub const MAX_FIXED_EFFECTS: usize = 100;
/// At most this many cells (8 bytes each: 256 MiB) in its dense design.
pub const MAX_DESIGN_CELLS: usize = 32 << 20;

/// Fits P(group | stop of group or reference) ~ dark + ns(minute, df) +
/// fixed effects on the patterns and returns the darkness coefficient.
pub(crate) fn fit_darkness(
    patterns: &Patterns,
    df: usize,
    fixed_effects: &[String],
    confidence: f64,
) -> std::result::Result<DarkEstimate, String> {
    let stops = stops_of(patterns);
    let [gl, gd, rl, rd] = [
        stops.group_daylight,
        stops.group_dark,
        stops.ref_daylight,
        stops.ref_dark,
    ];
    if gl + gd == 0 || rl + rd == 0 {
        return Err("no stops of the group or the reference in the window".into());
    }
    if gl + rl == 0 || gd + rd == 0 {
        return Err("no stops in daylight or no stops in darkness".into());
    }
    let minutes: Vec<f64> = patterns.keys().map(|k| f64::from(k.2)).collect();
    let trials: Vec<f64> = patterns.values().map(|&(g, r)| (g + r) as f64).collect();
    let knots = spline_knots(&minutes, &trials, df);
    if knots.len() < 2 {
        return Err("all stops at one clock time".into());
    }
    let levels = |on: bool, f: &dyn Fn(&Pattern) -> u32| -> Vec<u32> {
        if !on {
            return Vec::new();
        }
        let set: BTreeSet<u32> = patterns.keys().map(f).collect();
        // The first level is the baseline.
        set.into_iter().skip(1).collect()
    };
    let units = levels(fixed_effects.iter().any(|f| f == "unit"), &|k| k.0);
    let years = levels(fixed_effects.iter().any(|f| f == "year"), &|k| {
        u32::from(k.1)
    });
    let spline_columns = knots.len() - 1;
    let columns = 2 + spline_columns + units.len() + years.len();
    // The design is dense (patterns × columns): 1 million units asked for
    // 434 GB, 1,000 took minutes. Past the bounds the fit is skipped with
    // a note that says what to change.
    if units.len() + years.len() > MAX_FIXED_EFFECTS
        || patterns.len().saturating_mul(columns) > MAX_DESIGN_CELLS
    {
        return Err(format!(
            "not fitted: {} unit and {} year levels over {} clock-time patterns make a design of {} × {columns} cells, more than this fit allows ({MAX_FIXED_EFFECTS} fixed effects, {MAX_DESIGN_CELLS} cells); set [analysis.veil_of_darkness] fixed_effects = [\"year\"] or group the units",
            units.len() + usize::from(fixed_effects.iter().any(|f| f == "unit")),
            years.len() + usize::from(fixed_effects.iter().any(|f| f == "year")),
            patterns.len(),
            patterns.len()
        ));
    }
    let mut x = Vec::with_capacity(patterns.len() * columns);
    let mut successes = Vec::with_capacity(patterns.len());
    for (&(unit, year, minute, dark), &(g, _)) in patterns {
        x.push(1.0);
        x.push(if dark { 1.0 } else { 0.0 });
        x.extend(natural_cubic_basis(f64::from(minute), &knots));
        x.extend(units.iter().map(|&u| f64::from(u8::from(u == unit))));
        x.extend(
            years
                .iter()
                .map(|&y| f64::from(u8::from(y == u32::from(year)))),
        );
        successes.push(g as f64);
    }
    let data = BinomialData {
        columns,
        x,
        successes,
        trials,
    };
    let fit = logistic_regression(&data, confidence).map_err(|e| e.to_string())?;
    let b = fit.coefficients[1];
    if !b.standard_error.is_finite() {
        return Err("the darkness coefficient is not estimable".into());
    }
    Ok(DarkEstimate {
        odds_ratio: b.estimate.exp(),
        odds_ratio_ci: [b.interval[0].exp(), b.interval[1].exp()],
        log_odds_ratio: b.estimate,
        standard_error: b.standard_error,
        p_value: b.p_value.p,
        p_value_log10: b.p_value.log10(),
        p_adverse: b.p_value.one_sided(b.estimate < 0.0).p,
        rows: data.successes.len(),
        parameters: columns,
    })
}

/// One model of one comparison, flat (the rows of `veil_of_darkness.csv`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct VeilCsvRow {
    /// The group attribute.
    pub attribute: String,
    /// The group compared.
    pub group: String,
    /// The attribute's reference group.
    pub reference: String,
    /// `main`, `robustness` or `clock_change`.
    pub model: &'static str,
    /// Degrees of freedom of this model's clock-time spline.
    pub spline_df: usize,
    /// The group's stops in daylight (in the clock-change windows for `clock_change`); `None` when
    /// suppressed.
    pub group_daylight: Option<u64>,
    /// The group's stops in darkness; `None` when suppressed.
    pub group_dark: Option<u64>,
    /// The reference group's stops in daylight; `None` when suppressed.
    pub ref_daylight: Option<u64>,
    /// The reference group's stops in darkness; `None` when suppressed.
    pub ref_dark: Option<u64>,
    /// exp(β_dark); `None` when the model cannot be fitted.
    pub odds_ratio: Option<f64>,
    /// Its Wald interval, exponentiated.
    pub odds_ratio_ci: Option<[f64; 2]>,
    /// Two-sided Wald p-value of the darkness coefficient.
    pub p_value: Option<f64>,
    /// The q-value, for the `main` model only.
    pub q_value: Option<f64>,
    /// Why there is no estimate.
    pub note: Option<String>,
}

impl VeilResult {
    /// The main model, the robustness fits and the clock-change variant as flat rows.
    pub(crate) fn csv_rows(&self) -> Vec<VeilCsvRow> {
        let row = |model,
                   df,
                   stops: &Option<DarkStops>,
                   e: &Option<DarkEstimate>,
                   q,
                   note: &Option<String>| {
            VeilCsvRow {
                attribute: self.attribute.clone(),
                group: self.group.clone(),
                reference: self.reference.clone(),
                model,
                spline_df: df,
                group_daylight: stops.map(|s| s.group_daylight),
                group_dark: stops.map(|s| s.group_dark),
                ref_daylight: stops.map(|s| s.ref_daylight),
                ref_dark: stops.map(|s| s.ref_dark),
                odds_ratio: e.map(|e| e.odds_ratio),
                odds_ratio_ci: e.map(|e| e.odds_ratio_ci),
                p_value: e.map(|e| e.p_value),
                q_value: q,
                note: note.clone(),
            }
        };
        let mut rows = vec![row(
            "main",
            self.spline_df,
            &self.stops,
            &self.estimate,
            self.q_value,
            &self.note,
        )];
        for r in &self.robustness {
            rows.push(row(
                "robustness",
                r.spline_df,
                &self.stops,
                &r.estimate,
                None,
                &r.note,
            ));
        }
        let c = &self.clock_change;
        rows.push(row(
            "clock_change",
            self.spline_df,
            &c.stops,
            &c.estimate,
            None,
            &c.note,
        ));
        rows
    }
}
