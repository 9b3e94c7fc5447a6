//! Builds the report document from an analysis.

use chrono::NaiveDate;

use super::charts::{
    Chart, ForestChart, ForestRow, ScatterChart, ScatterPoint, StackedBar, StackedChart,
};
use super::{Block, Cell, Document, ListItem, Section, Table};
use crate::analysis::compare::{ComparisonRow, Verdict};
use crate::analysis::stratified::StratifiedRow;
use crate::codes::CodeLists;
use crate::findings::Severity;
use crate::i18n::{Lang, Messages};
use crate::results::Analysis;

/// What the report needs besides the analysis.
#[derive(Debug, Clone)]
pub struct ReportOptions {
    /// Language of the report.
    pub lang: Lang,
    /// The report date; default: the date of the last analysed stop.
    pub as_of: Option<NaiveDate>,
    /// The command line that reproduces the report.
    pub command: String,
    /// `[report] title`, naming what the report covers; `None`: the
    /// language's general title.
    pub title: Option<String>,
}

struct B<'a> {
    m: Messages,
    a: &'a Analysis,
    codes: CodeLists,
    k: u64,
}

/// Forest plots with more rows than this are sorted by their ratio.
const FOREST_SORT_ROWS: usize = 16;

/// A forest plot's row before the rows without an interval are left out:
/// label, estimate, interval, part of a finding.
type ForestPoint = (String, Option<f64>, Option<[f64; 2]>, bool);

impl B<'_> {
    fn t(&self, key: &str) -> String {
        self.m.text(&format!("report.{key}")).to_string()
    }

    fn f(&self, key: &str, args: &[(&str, &str)]) -> String {
        self.m.fill(&format!("report.{key}"), args)
    }

    fn int(&self, n: u64) -> String {
        self.m.number(n as f64, 0)
    }

    fn count(&self, n: Option<u64>) -> Cell {
        match n {
            Some(n) => Cell::Text(self.int(n)),
            None => Cell::Suppressed(self.k),
        }
    }

    fn pct_ci(&self, rate: Option<f64>, ci: Option<[f64; 2]>) -> Cell {
        match (rate, ci) {
            (Some(r), Some([lo, hi])) => Cell::Text(format!(
                "{} ({}–{})",
                self.m.percent(r),
                self.m.percent(lo),
                self.m.percent(hi)
            )),
            (Some(r), None) => Cell::Text(self.m.percent(r)),
            _ => Cell::Text("–".into()),
        }
    }

    /// A number with `decimals` decimals, or a dash.
    fn num(&self, x: Option<f64>, decimals: usize) -> Cell {
        Cell::Text(x.map_or_else(|| "–".into(), |x| self.m.number(x, decimals)))
    }

    fn ratio_ci(&self, ratio: Option<f64>, ci: Option<[f64; 2]>) -> Cell {
        match (ratio, ci) {
            (Some(r), Some([lo, hi])) => Cell::Text(format!(
                "{} ({}–{})",
                self.m.number(r, 2),
                self.m.number(lo, 2),
                self.m.number(hi, 2)
            )),
            (Some(r), None) => Cell::Text(self.m.number(r, 2)),
            _ => Cell::Text("–".into()),
        }
    }

    fn q(&self, q: Option<f64>) -> Cell {
        match q {
            Some(q) if q < 0.001 => Cell::Text(format!("< {}", self.m.number(0.001, 3))),
            Some(q) => Cell::Text(self.m.number(q, 3)),
            None => Cell::Text("–".into()),
        }
    }

    fn code_label(&self, field: &str, code: &str) -> String {
        match self
            .codes
            .for_field(field)
            .and_then(|l| l.index_of(code).map(|i| l.get(i)))
        {
            Some(c) => self.m.code_label(c).to_string(),
            None => code.to_string(),
        }
    }

    fn stratum(&self, r: &ComparisonRow) -> String {
        match r.stratum.iter().next() {
            None => self.t("overall"),
            Some((field, value)) => {
                let name = self.m.text(&format!("field.{field}"));
                format!("{name}: {}", self.code_label(field, value))
            }
        }
    }

    /// A group as the reader sees it: the group of stops without a value
    /// ("unknown" in the data and the JSON) in the report's language.
    fn group(&self, g: &str) -> String {
        if g == crate::schema::UNKNOWN_GROUP {
            self.t("group_unknown")
        } else {
            g.to_string()
        }
    }

    /// Whether a finding (strong or indicative) names this group in
    /// `analysis` (its chart marks the row).
    fn is_finding(&self, analysis: &str, attribute: &str, group: &str) -> bool {
        self.a.findings.iter().any(|f| {
            matches!(f.severity, Severity::High | Severity::Medium)
                && f.analysis == analysis
                && f.attribute == attribute
                && f.group == group
        })
    }

    fn severity(&self, s: Severity) -> String {
        self.t(&format!("severity_{}", s.as_str()))
    }

    fn attribute_name(&self, attr: &str) -> String {
        self.m.text_or(&format!("attribute.{attr}"), attr)
    }

    /// A forest plot of rate ratios with intervals (suppressed rows and rows without an interval are left out).
    /// One forest plot per group attribute (named and titled after
    /// `section`): `point` gives a row's attribute, reference group, label,
    /// estimate and interval.
    fn forests_by_attribute<R>(
        &self,
        attributes: &[String],
        rows: &[R],
        section: &str,
        measure: &str,
        odds: bool,
        point: impl Fn(&R) -> (&str, &str, String, Option<f64>, Option<[f64; 2]>, bool),
    ) -> Vec<Block> {
        attributes
            .iter()
            .filter_map(|attr| {
                let points: Vec<_> = rows.iter().map(&point).filter(|p| p.0 == attr).collect();
                let reference = points.first()?.1.to_string();
                let title = format!("{} — {}", self.t(section), self.attribute_name(attr));
                self.forest(
                    format!("{section}-{attr}"),
                    title,
                    measure,
                    &reference,
                    points
                        .into_iter()
                        .map(|(_, _, l, e, ci, f)| (l, e, ci, f))
                        .collect(),
                    odds,
                )
            })
            .collect()
    }

    fn forest(
        &self,
        name: String,
        title: String,
        measure: &str,
        reference: &str,
        rows: Vec<ForestPoint>,
        odds: bool,
    ) -> Option<Block> {
        let mut rows: Vec<ForestRow> = rows
            .into_iter()
            .filter_map(|(label, est, ci, finding)| match (est, ci) {
                (Some(e), Some([lo, hi])) if e > 0.0 && lo > 0.0 && hi.is_finite() => {
                    Some(ForestRow {
                        label,
                        estimate: e,
                        low: lo,
                        high: hi,
                        finding,
                    })
                }
                _ => None,
            })
            .collect();
        if rows.is_empty() {
            return None;
        }
        // A long list is read by its effects: sorted by ratio, lowest first
        // (a caterpillar plot), and the text alternative says so.
        let sorted = rows.len() > FOREST_SORT_ROWS;
        if sorted {
            rows.sort_by(|x, y| x.estimate.total_cmp(&y.estimate));
        }
        let level = format!("{}%", self.m.number(100.0 * self.a.settings.confidence, 0));
        let mut alt = self.f(
            "chart_forest_alt",
            &[
                ("measure", &self.t(measure)),
                ("reference", reference),
                ("level", &level),
            ],
        );
        if sorted {
            alt = format!("{alt} {}", self.t("chart_forest_sorted"));
        }
        Some(Block::Chart {
            name: file_stem(&name),
            chart: Chart::Forest(ForestChart {
                title,
                rows,
                band: self.a.settings.practical_band,
                x_label: self.t(if odds {
                    "axis_odds_ratio"
                } else {
                    "axis_rate_ratio"
                }),
                decimal: if self.m.lang == Lang::Nl { ',' } else { '.' },
                finding_label: self.t("chart_finding"),
            }),
            alt,
        })
    }

    fn comparison_table(
        &self,
        caption: String,
        rows: &[&ComparisonRow],
        with_stage: bool,
    ) -> Table {
        let mut header = vec![self.t("group")];
        if with_stage {
            header.push(self.t("stage"));
        } else {
            header.push(self.t("stratum"));
        }
        header.extend([
            // A funnel's stages count different things: stops, then searches.
            self.t(if with_stage { "funnel_base" } else { "stops" }),
            self.t("rate"),
            self.t("ref_rate"),
            self.t("rate_ratio"),
            self.t("q_value"),
            self.t("verdict"),
        ]);
        let body = rows
            .iter()
            .map(|r| {
                let second = if with_stage {
                    self.t(&format!("stage_{}", r.stage.as_deref().unwrap_or("search")))
                } else {
                    self.stratum(r)
                };
                vec![
                    Cell::Text(self.group(&r.group)),
                    Cell::Text(second),
                    self.count(r.stops),
                    self.pct_ci(r.rate, r.rate_ci),
                    self.pct_ci(r.ref_rate, r.ref_rate_ci),
                    self.ratio_ci(r.rate_ratio, r.rate_ratio_ci),
                    self.q(r.q_value),
                    self.verdict(r.verdict, r.min_detectable_ratio),
                ]
            })
            .collect();
        // In print: each group's row over all stops, and the strata that
        // hold a finding or explain one.
        let detail = rows
            .iter()
            .map(|r| {
                !with_stage
                    && !r.stratum.is_empty()
                    && !matches!(r.verdict, Some(Verdict::Finding | Verdict::ExplainedByMix))
            })
            .collect();
        Table {
            caption,
            header,
            rows: body,
            detail,
            numeric: vec![false, false, true, true, true, true, true, false],
        }
    }

    /// A verdict with the minimum detectable ratio when it is not a
    /// finding: "inconclusive (detects 0.71)"; a dash when withheld.
    fn verdict(&self, v: Option<Verdict>, mdr: Option<f64>) -> Cell {
        let Some(v) = v else {
            return Cell::Text("–".into());
        };
        let name = self.t(&format!("verdict_{}", v.as_str()));
        Cell::Text(match (v, mdr) {
            (Verdict::Finding | Verdict::ExplainedByMix, _) | (_, None) => name,
            (_, Some(x)) => self.f(
                "verdict_with_mdr",
                &[("verdict", &name), ("mdr", &self.m.number(x, 2))],
            ),
        })
    }
}

/// A file name stem from a chart name: lower-case ASCII letters, digits,
/// dashes and underscores, at most 69 bytes, one per name.
pub(crate) fn file_stem(name: &str) -> String {
    // Names made of the safe characters stay as they are; any other name
    // (capitals, letters outside ASCII, spaces, a label of 300 characters)
    // is slugged, cut to a bounded length and made unique by a hash of
    // the name itself: "Turks", "turks" and "TURKS", or "日本" and "中国",
    // made one file each before, and another group's chart was shown.
    const MAX: usize = 60;
    let safe = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_';
    if !name.is_empty() && name.len() <= MAX && name.chars().all(safe) {
        return name.to_string();
    }
    let mut out = String::new();
    for ch in name.chars() {
        if out.len() >= MAX {
            break;
        }
        if ch.is_ascii_alphanumeric() || ch == '_' {
            out.push(ch.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    use sha2::{Digest, Sha256};
    let hash = Sha256::digest(name.as_bytes());
    let tag: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{tag}", out.trim_matches('-'))
        .trim_start_matches('-')
        .to_string()
}

/// Anchor of the section an analysis is reported in.
pub(crate) fn anchor(analysis: &str) -> &'static str {
    match analysis {
        "outcome_test" => "outcome-test",
        "justification_mix" => "justification-mix",
        "stratified" => "stratified",
        "search_funnel" => "search-funnel",
        "population_benchmark" => "population",
        "threshold_test" => "threshold-test",
        "veil_of_darkness" => "veil-of-darkness",
        "internal_benchmark" => "internal-benchmark",
        "data_quality" => "data",
        _ => "summary",
    }
}

/// The threshold test: per attribute the group averages, a scatter plot per
/// group against the reference, the diagnostics and the cells. Only in
/// reports of analyses that ran the test.
fn threshold_section(b: &B) -> Section {
    let a = b.a;
    let number = |x: f64, digits: usize| b.m.number(x, digits);
    let with_ci = |x: f64, ci: [f64; 2], digits: usize| {
        format!(
            "{} ({}–{})",
            number(x, digits),
            number(ci[0], digits),
            number(ci[1], digits)
        )
    };
    let location = a
        .results
        .threshold_test
        .first()
        .map(|t| {
            b.m.text_or(&format!("field.{}", t.location_field), &t.location_field)
        })
        .unwrap_or_default();
    let level = format!("{}%", b.m.number(100.0 * a.settings.confidence, 0));
    let mut blocks = vec![Block::Paragraph(b.f(
        "threshold_intro",
        &[("location", &location), ("level", &level)],
    ))];
    for t in &a.results.threshold_test {
        let attribute = b.attribute_name(&t.attribute);
        blocks.push(Block::Subheading(attribute.clone()));
        let Some(d) = &t.diagnostics else {
            let reason = t.skipped.clone().unwrap_or_default();
            blocks.push(Block::Paragraph(b.f(
                "threshold_skipped",
                &[("attribute", &attribute), ("reason", &reason)],
            )));
            continue;
        };
        if !d.converged {
            blocks.push(Block::Paragraph(b.t("threshold_not_converged")));
        }
        if d.divergences > 0 {
            blocks.push(Block::Paragraph(b.f(
                "threshold_divergences",
                &[("n", &d.divergences.to_string())],
            )));
        }
        blocks.push(Block::Table(Table {
            caption: b.f(
                "threshold_groups",
                &[("attribute", &attribute), ("location", &location)],
            ),
            header: vec![
                b.t("group"),
                b.t("stops"),
                b.t("threshold"),
                b.t("threshold_difference"),
                b.t("threshold_p_lower"),
            ],
            rows: t
                .groups
                .iter()
                .map(|g| {
                    vec![
                        Cell::Text(if g.is_reference {
                            format!(
                                "{} ({})",
                                b.group(&g.group),
                                b.t("reference").to_lowercase()
                            )
                        } else {
                            b.group(&g.group)
                        }),
                        b.count(g.stops),
                        Cell::Text(with_ci(g.threshold, g.threshold_ci, 3)),
                        // Signed: the interval's ends are joined by "…", not a dash.
                        Cell::Text(match (g.difference_from_reference, g.difference_ci) {
                            (Some(x), Some([lo, hi])) => {
                                format!("{} ({} … {})", number(x, 3), number(lo, 3), number(hi, 3))
                            }
                            _ => "–".into(),
                        }),
                        Cell::Text(g.probability_lower.map_or("–".into(), |p| number(p, 2))),
                    ]
                })
                .collect(),
            detail: Vec::new(),
            numeric: vec![false, true, true, true, true],
        }));
        for g in t.groups.iter().filter(|g| !g.is_reference) {
            let points: Vec<ScatterPoint> = t
                .cells
                .iter()
                .filter(|c| c.group == g.group)
                .filter_map(|c| {
                    let r = t
                        .cells
                        .iter()
                        .find(|r| r.location == c.location && r.group == t.reference)?;
                    Some(ScatterPoint {
                        x: r.threshold,
                        y: c.threshold,
                        x_ci: r.threshold_ci,
                        y_ci: c.threshold_ci,
                        // Suppressed counts give the smallest marker, not their size.
                        weight: c.stops.unwrap_or(0) as f64,
                    })
                })
                .collect();
            if points.is_empty() {
                continue;
            }
            let names = [
                ("group", g.group.as_str()),
                ("reference", t.reference.as_str()),
                ("level", level.as_str()),
            ];
            blocks.push(Block::Chart {
                name: file_stem(&format!("threshold-{}-{}", t.attribute, g.group)),
                chart: Chart::Scatter(ScatterChart {
                    title: b.f("chart_threshold_title", &names),
                    points,
                    x_label: b.t("axis_reference_threshold"),
                    y_label: b.t("axis_group_threshold"),
                    decimal: if b.m.lang == Lang::Nl { ',' } else { '.' },
                }),
                alt: b.f("chart_threshold_alt", &names),
            });
        }
        blocks.push(Block::Paragraph(b.f(
            "threshold_diagnostics",
            &[
                ("chains", &d.chains.to_string()),
                ("draws", &b.int(d.draws_per_chain as u64)),
                ("warmup", &b.int(d.warmup as u64)),
                ("rhat", &number(d.max_rhat.max(d.max_rhat_parameters), 3)),
                (
                    "ess",
                    &b.int(d.min_ess_bulk.min(d.min_ess_tail).floor() as u64),
                ),
                ("divergences", &d.divergences.to_string()),
                ("search_rmse", &number(d.search_rate_rmse, 4)),
                ("hit_rmse", &number(d.hit_rate_rmse, 4)),
            ],
        )));
        blocks.push(Block::Table(Table {
            caption: b.f(
                "threshold_cells",
                &[("attribute", &attribute), ("location", &location)],
            ),
            header: vec![
                b.t("location"),
                b.t("group"),
                b.t("stops"),
                b.t("searches"),
                b.t("finds"),
                b.t("threshold"),
            ],
            rows: t
                .cells
                .iter()
                .map(|c| {
                    vec![
                        Cell::Text(c.location.clone()),
                        Cell::Text(b.group(&c.group)),
                        b.count(c.stops),
                        b.count(c.searches),
                        b.count(c.hits),
                        Cell::Text(with_ci(c.threshold, c.threshold_ci, 3)),
                    ]
                })
                .collect(),
            detail: Vec::new(),
            numeric: vec![false, false, true, true, true, true],
        }));
    }
    Section {
        anchor: "threshold-test".into(),
        title: b.t("threshold_test"),
        blocks,
    }
}

fn veil_section(b: &B) -> Section {
    let v = &b.a.results.veil_of_darkness;
    let count = |n: Option<u64>| match n {
        Some(n) => b.int(n),
        None => format!("<{}", b.k),
    };
    let window = [v.stops.daylight, v.stops.dark]
        .iter()
        .try_fold(0u64, |acc, n| n.map(|n| acc + n));
    let mut blocks = vec![
        Block::Paragraph(
            b.f(
                "veil_intro",
                &[(
                    "days",
                    &v.results
                        .first()
                        .map_or(0, |r| r.clock_change.days)
                        .to_string(),
                )],
            ),
        ),
        Block::Paragraph(b.f(
            "veil_window",
            &[
                ("window", &count(window)),
                ("daylight", &count(v.stops.daylight)),
                ("dark", &count(v.stops.dark)),
                ("twilight", &count(v.stops.twilight)),
                ("outside", &count(v.stops.outside_window)),
                ("no_place", &count(v.stops.no_place)),
            ],
        )),
    ];
    // No estimate at all: why, and what would give one.
    blocks.extend(veil_untested(b).map(Block::Paragraph));
    let attributes: Vec<String> = {
        let mut seen: Vec<String> = Vec::new();
        for r in &v.results {
            if !seen.contains(&r.attribute) {
                seen.push(r.attribute.clone());
            }
        }
        seen
    };
    for attr in &attributes {
        let rows: Vec<&crate::analysis::veil::VeilResult> =
            v.results.iter().filter(|r| &r.attribute == attr).collect();
        let attribute = b.attribute_name(attr);
        let reference = rows.first().map_or("", |r| r.reference.as_str());
        blocks.push(Block::Subheading(attribute.clone()));
        if let Some(chart) = b.forest(
            format!("veil-of-darkness-{attr}"),
            format!("{} — {attribute}", b.t("veil_of_darkness")),
            "measure_veil",
            reference,
            rows.iter()
                .map(|r| {
                    (
                        b.group(&r.group),
                        r.estimate.map(|e| e.odds_ratio),
                        r.estimate.map(|e| e.odds_ratio_ci),
                        b.is_finding("veil_of_darkness", &r.attribute, &r.group),
                    )
                })
                .collect(),
            true,
        ) {
            blocks.push(chart);
        }
        blocks.push(Block::Table(Table {
            caption: b.f(
                "veil_table",
                &[
                    ("attribute", &attribute),
                    ("reference", reference),
                    ("df", &rows.first().map_or(0, |r| r.spline_df).to_string()),
                ],
            ),
            header: vec![
                b.t("group"),
                b.t("stops_daylight"),
                b.t("stops_dark"),
                b.t("share_daylight"),
                b.t("share_dark"),
                b.t("dark_odds_ratio"),
                b.t("q_value"),
                b.t("clock_change_odds_ratio"),
            ],
            rows: rows
                .iter()
                .map(|r| {
                    let cc = r.clock_change.estimate;
                    vec![
                        Cell::Text(b.group(&r.group)),
                        b.count(r.stops.map(|s| s.group_daylight)),
                        b.count(r.stops.map(|s| s.group_dark)),
                        b.pct_ci(r.share_daylight, r.share_daylight_ci),
                        b.pct_ci(r.share_dark, r.share_dark_ci),
                        b.ratio_ci(
                            r.estimate.map(|e| e.odds_ratio),
                            r.estimate.map(|e| e.odds_ratio_ci),
                        ),
                        b.q(r.q_value),
                        b.ratio_ci(cc.map(|e| e.odds_ratio), cc.map(|e| e.odds_ratio_ci)),
                    ]
                })
                .collect(),
            detail: Vec::new(),
            numeric: vec![false, true, true, true, true, true, true, true],
        }));
        let mut header = vec![b.t("group")];
        header.extend(
            crate::analysis::veil::ROBUSTNESS_DF
                .map(|df| b.f("spline_df", &[("df", &df.to_string())])),
        );
        blocks.push(Block::Table(Table {
            caption: b.f("veil_robustness", &[("attribute", &attribute)]),
            detail: Vec::new(),
            numeric: std::iter::once(false)
                .chain(crate::analysis::veil::ROBUSTNESS_DF.map(|_| true))
                .collect(),
            header,
            rows: rows
                .iter()
                .map(|r| {
                    std::iter::once(Cell::Text(b.group(&r.group)))
                        .chain(r.robustness.iter().map(|x| {
                            b.ratio_ci(
                                x.estimate.map(|e| e.odds_ratio),
                                x.estimate.map(|e| e.odds_ratio_ci),
                            )
                        }))
                        .collect()
                })
                .collect(),
        }));
        for r in &rows {
            if let Some(note) = &r.note {
                blocks.push(Block::Paragraph(b.f(
                    "veil_not_estimable",
                    &[("group", &b.group(&r.group)), ("reason", note)],
                )));
            }
        }
    }
    Section {
        anchor: "veil-of-darkness".into(),
        title: b.t("veil_of_darkness"),
        blocks,
    }
}

fn trends_section(b: &B) -> Section {
    use crate::analysis::trends::{TrendChange, TrendSeries};
    use crate::report::charts::{LineChart, LineSeries};
    let t = &b.a.results.trends;
    let grain = t
        .grain
        .map(|g| {
            b.t(&format!(
                "grain_{}",
                serde_json::to_value(g)
                    .expect("serialisable")
                    .as_str()
                    .unwrap_or("")
            ))
        })
        .unwrap_or_default();
    let level = format!("{}%", b.m.number(100.0 * b.a.settings.confidence, 0));
    let mut blocks = vec![Block::Paragraph(b.f(
        "trends_intro",
        &[
            ("grain", &grain),
            ("first", t.periods.first().map_or("", String::as_str)),
            ("last", t.periods.last().map_or("", String::as_str)),
            ("level", &level),
        ],
    ))];
    let mut attributes: Vec<&str> = t.series.iter().map(|s| s.attribute.as_str()).collect();
    attributes.dedup();
    let decimal = if b.m.lang == Lang::Nl { ',' } else { '.' };
    let stops_of = |s: &TrendSeries| -> u64 { s.points.iter().filter_map(|p| p.numerator).sum() };
    for attr in attributes {
        let attribute = b.attribute_name(attr);
        blocks.push(Block::Subheading(attribute.clone()));
        let of = |measure: &str| -> Vec<&TrendSeries> {
            t.series
                .iter()
                .filter(|s| s.attribute == attr && s.measure == measure)
                .collect()
        };
        for (measure, percent, reference) in [
            ("share_of_stops", true, None),
            ("hit_rate_ratio", false, Some(1.0)),
        ] {
            let mut series = of(measure);
            // The largest groups, as many as the palette has colours.
            series.sort_by_key(|s| std::cmp::Reverse(stops_of(s)));
            series.truncate(crate::report::charts::PALETTE.len());
            series.sort_by(|x, y| x.group.cmp(&y.group));
            if series.is_empty() {
                continue;
            }
            let names = [
                ("attribute", attribute.as_str()),
                ("reference", series[0].reference.as_str()),
            ];
            blocks.push(Block::Chart {
                name: file_stem(&format!("trend-{measure}-{attr}")),
                chart: Chart::Line(LineChart {
                    title: b.f(&format!("chart_trend_{measure}"), &names),
                    periods: t.periods.clone(),
                    series: series
                        .iter()
                        .map(|s| LineSeries {
                            label: b.group(&s.group),
                            points: s.points.iter().map(|p| p.value.zip(p.ci)).collect(),
                        })
                        .collect(),
                    y_label: b.t(&format!("trend_{measure}")),
                    percent,
                    reference,
                    decimal,
                }),
                alt: b.f(&format!("chart_trend_{measure}_alt"), &names),
            });
        }
        let Some(last) = t.periods.last() else {
            continue;
        };
        let change = |s: &TrendSeries, kind: &str| -> Cell {
            let c: Option<&TrendChange> = s
                .changes
                .iter()
                .find(|c| &c.period == last && c.kind == kind);
            match c {
                Some(c) if c.suppressed => Cell::Suppressed(b.k),
                Some(c) => match (c.change, c.change_ci) {
                    (Some(x), Some([lo, hi])) => {
                        let f = |v: f64| {
                            b.m.number(
                                if s.measure == "hit_rate_ratio" {
                                    v
                                } else {
                                    100.0 * v
                                },
                                2,
                            )
                        };
                        Cell::Text(format!(
                            "{} ({} … {}; q {})",
                            f(x),
                            f(lo),
                            f(hi),
                            c.q_value.map_or("–".into(), |q| if q < 0.001 {
                                format!("< {}", b.m.number(0.001, 3))
                            } else {
                                b.m.number(q, 3)
                            })
                        ))
                    }
                    _ => Cell::Text("–".into()),
                },
                None => Cell::Text("–".into()),
            }
        };
        let rows: Vec<Vec<Cell>> = t
            .series
            .iter()
            .filter(|s| s.attribute == attr)
            .map(|s| {
                let p = s.points.last().expect("a point per period");
                let value = if p.suppressed {
                    Cell::Suppressed(b.k)
                } else if s.measure == "hit_rate_ratio" {
                    b.ratio_ci(p.value, p.ci)
                } else {
                    b.pct_ci(p.value, p.ci)
                };
                vec![
                    Cell::Text(b.group(&s.group)),
                    Cell::Text(b.t(&format!("trend_{}", s.measure))),
                    value,
                    change(s, "previous_period"),
                    change(s, "year_earlier"),
                ]
            })
            .collect();
        blocks.push(Block::Table(Table {
            caption: b.f(
                "trends_table",
                &[("attribute", &attribute), ("period", last)],
            ),
            header: vec![
                b.t("group"),
                b.t("measure"),
                b.t("value"),
                b.t("change_previous"),
                b.t("change_year_earlier"),
            ],
            rows,
            detail: Vec::new(),
            numeric: vec![false, false, true, true, true],
        }));
    }
    Section {
        anchor: "trends".into(),
        title: b.t("trends"),
        blocks,
    }
}

fn benchmark_section(b: &B) -> Section {
    let ib = &b.a.results.internal_benchmark;
    let strata: Vec<String> = ib
        .strata
        .iter()
        .map(|s| b.t(&format!("stratum_{s}")))
        .collect();
    let mut blocks = vec![Block::Paragraph(
        b.f("benchmark_intro", &[("strata", &strata.join(", "))]),
    )];
    let q_limit = b.a.settings.fdr;
    let mut kinds: Vec<&str> = ib.results.iter().map(|r| r.entity_kind.as_str()).collect();
    kinds.dedup();
    for kind in kinds {
        let rows: Vec<&crate::analysis::benchmarking::BenchmarkRow> = ib
            .results
            .iter()
            .filter(|r| r.entity_kind == kind)
            .collect();
        let entities = rows
            .iter()
            .map(|r| r.entity.as_str())
            .collect::<std::collections::BTreeSet<_>>()
            .len();
        let mut flagged: Vec<&&crate::analysis::benchmarking::BenchmarkRow> = rows
            .iter()
            .filter(|r| r.q_value.is_some_and(|q| q < q_limit))
            .collect();
        flagged.sort_by(|x, y| y.ratio.unwrap_or(0.0).total_cmp(&x.ratio.unwrap_or(0.0)));
        blocks.push(Block::Subheading(b.t(&format!("entity_{kind}"))));
        blocks.push(Block::Paragraph(b.f(
            "benchmark_summary",
            &[
                ("entities", &b.int(entities as u64)),
                ("rows", &b.int(rows.len() as u64)),
                ("flagged", &b.int(flagged.len() as u64)),
                (
                    "without_peers",
                    &b.int(ib.stops_without_peers.get(kind).copied().unwrap_or(0)),
                ),
                (
                    "too_small",
                    &b.int(ib.entities_too_small.get(kind).copied().unwrap_or(0)),
                ),
            ],
        )));
        if kind == "unit" {
            blocks.push(Block::Paragraph(b.t("benchmark_units")));
        }
        if flagged.is_empty() {
            continue;
        }
        let shown: Vec<_> = flagged.iter().take(20).collect();
        if let Some(mut chart) = b.forest(
            format!("benchmark-{kind}"),
            format!("{} — {}", b.t("benchmark"), b.t(&format!("entity_{kind}"))),
            "measure_benchmark",
            "",
            shown
                .iter()
                .map(|r| {
                    (
                        format!("{} · {}", r.entity, r.group),
                        r.ratio,
                        r.ratio_ci,
                        false,
                    )
                })
                .collect(),
            false,
        ) {
            // Against peers, not a reference group.
            if let Block::Chart { alt, .. } = &mut chart {
                *alt = b.t("chart_benchmark_alt");
            }
            blocks.push(chart);
        }
        blocks.push(Block::Table(Table {
            caption: b.f("benchmark_table", &[("q", &b.m.number(q_limit, 2))]),
            header: vec![
                b.t("entity"),
                b.t("field"),
                b.t("group"),
                b.t("stops"),
                b.t("observed"),
                b.t("expected"),
                b.t("rate_ratio"),
                b.t("q_value"),
            ],
            rows: shown
                .iter()
                .map(|r| {
                    vec![
                        Cell::Text(r.entity.clone()),
                        Cell::Text(b.attribute_name(&r.attribute)),
                        Cell::Text(b.group(&r.group)),
                        b.count(r.stops),
                        b.count(r.observed),
                        Cell::Text(r.expected.map_or("–".into(), |e| b.m.number(e, 1))),
                        b.ratio_ci(r.ratio, r.ratio_ci),
                        b.q(r.q_value),
                    ]
                })
                .collect(),
            detail: Vec::new(),
            numeric: vec![false, false, false, true, true, true, true, true],
        }));
    }
    Section {
        anchor: "internal-benchmark".into(),
        title: b.t("benchmark"),
        blocks,
    }
}

/// The report document.
pub fn build(a: &Analysis, codes: &CodeLists, opts: &ReportOptions) -> Document {
    let b = B {
        m: Messages::new(opts.lang),
        a,
        codes: codes.clone(),
        k: a.settings.min_cell,
    };
    let p = &a.provenance;
    let as_of = opts
        .as_of
        .map(|d| b.m.date(&d.to_string()))
        .unwrap_or_else(|| date(&b, &p.last_stop));
    let period = format!("{} – {}", date(&b, &p.first_stop), date(&b, &p.last_stop));
    let mut sections = vec![
        summary_section(&b, opts),
        data_section(&b),
        mix_section(&b),
        outcome_section(&b),
        stratified_section(&b),
        funnel_section(&b),
        population_section(&b),
    ];

    if !a.results.threshold_test.is_empty() {
        sections.push(threshold_section(&b));
    }
    if a.results.veil_of_darkness.enabled {
        sections.push(veil_section(&b));
    }
    if a.results.trends.enabled && !a.results.trends.periods.is_empty() {
        sections.push(trends_section(&b));
    }
    if a.results.internal_benchmark.enabled {
        sections.push(benchmark_section(&b));
    }
    sections.push(methods_section(&b));
    sections.push(provenance_section(&b, opts));

    let stops = b.int(p.rows_analyzed);
    Document {
        lang: opts.lang,
        title: opts
            .title
            .clone()
            .filter(|t| !t.trim().is_empty())
            .unwrap_or_else(|| b.t("title")),
        subtitle: b.f(
            "subtitle",
            &[("period", &period), ("stops", &stops), ("as_of", &as_of)],
        ),
        toc_title: b.t("toc"),
        sections,
        print_left_out: b.t("print_left_out"),
    }
}

/// The date of a local ISO time, or a dash.
fn date(b: &B, s: &Option<String>) -> String {
    s.as_deref()
        .map(|s| b.m.date(s))
        .unwrap_or_else(|| "–".into())
}

/// 1. Summary: the findings, data-quality problems first.
fn summary_section(b: &B, opts: &ReportOptions) -> Section {
    let a = b.a;
    let band = format!(
        "[{}, {}]",
        b.m.number(a.settings.practical_band[0], 2),
        b.m.number(a.settings.practical_band[1], 2)
    );
    let mut blocks = vec![Block::Paragraph(b.f(
        "summary_intro",
        &[("fdr", &b.m.number(a.settings.fdr, 2)), ("band", &band)],
    ))];
    let findings = &a.findings;
    // The caveat is said once, after the lists, not in every item.
    let caveat = format!(" {}", b.m.text("finding.caveat"));
    let sentence = |f: &crate::findings::Finding| {
        let text = match opts.lang {
            Lang::En => &f.summary_en,
            Lang::Nl => &f.summary_nl,
        };
        text.strip_suffix(&caveat).unwrap_or(text).to_string()
    };
    let headline = headline_blocks(b, &sentence);
    let at = headline.len() + 1;
    blocks.splice(0..0, headline);
    blocks.insert(at - 1, Block::Subheading(b.t("findings_title")));
    let quality: Vec<&crate::findings::Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::DataQuality)
        .collect();
    if findings
        .iter()
        .all(|f| f.severity >= Severity::InsufficientData || f.severity == Severity::DataQuality)
    {
        blocks.push(Block::Paragraph(b.t("summary_none")));
    }
    let item = |f: &crate::findings::Finding| ListItem {
        label: Some(b.severity(f.severity)),
        severity: Some(f.severity),
        // The population benchmark is the weakest evidence: said at each
        // of its findings, not only in its section.
        text: if f.analysis == "population_benchmark" && f.severity < Severity::InsufficientData {
            format!("{} {}", sentence(f), b.t("population_weakest"))
        } else {
            sentence(f)
        },
        link: Some((anchor(&f.analysis).to_string(), b.t("see_section"))),
    };
    let main: Vec<ListItem> = findings
        .iter()
        .filter(|f| f.severity > Severity::DataQuality && f.severity < Severity::InsufficientData)
        .map(item)
        .collect();
    if !quality.is_empty() {
        // Before the disparities: problems in the data limit every comparison.
        blocks.insert(at + 1, Block::Subheading(b.t("summary_quality")));
        blocks.insert(
            at + 2,
            Block::Paragraph(b.f(
                "summary_quality_intro",
                &[("n", &quality.len().to_string())],
            )),
        );
        blocks.insert(
            at + 3,
            Block::List(quality.iter().map(|f| item(f)).collect()),
        );
    }
    let rest: Vec<ListItem> = findings
        .iter()
        .filter(|f| f.severity >= Severity::InsufficientData)
        .map(item)
        .collect();
    if !main.is_empty() {
        blocks.push(Block::Paragraph(b.t("summary_findings")));
        blocks.push(Block::List(main));
    }
    if !rest.is_empty() {
        blocks.push(Block::Subheading(b.t("summary_other")));
        blocks.push(Block::Paragraph(
            b.f("summary_other_intro", &[("n", &rest.len().to_string())]),
        ));
        blocks.push(Block::List(rest));
    }
    // The labels used above, explained once, and the caveat once.
    let mut used: Vec<Severity> = findings.iter().map(|f| f.severity).collect();
    used.sort();
    used.dedup();
    if !used.is_empty() {
        blocks.push(Block::Subheading(b.t("legend_title")));
        blocks.push(Block::List(
            used.iter()
                .map(|&s| ListItem {
                    label: Some(b.severity(s)),
                    severity: Some(s),
                    text: b.t(&format!("legend_{}", s.as_str())),
                    link: None,
                })
                .collect(),
        ));
        blocks.push(Block::Paragraph(b.m.text("finding.caveat").to_string()));
    }
    blocks.extend(evidence_blocks(b));
    Section {
        anchor: "summary".into(),
        title: b.t("summary"),
        blocks,
    }
}

/// "In brief": the strongest patterns, at most three, the most convincing
/// evidence first: a difference that holds within strata (strong), the
/// stratified comparison, the threshold test and the veil of darkness
/// before crude comparisons, then by q-value and by size. The population
/// benchmark, the weakest evidence (who is out on the street is not
/// known), never leads. A search-rate finding says what the find rate of
/// the same searches shows.
fn headline_blocks(b: &B, sentence: &dyn Fn(&crate::findings::Finding) -> String) -> Vec<Block> {
    let a = b.a;
    let strongest_first = |f: &crate::findings::Finding| {
        let like_with_like = f.severity == Severity::High
            || matches!(
                f.analysis.as_str(),
                "stratified" | "threshold_test" | "veil_of_darkness"
            );
        let q = f.q_value.unwrap_or(1.0);
        let size = f
            .mh_rate_ratio
            .or(f.rate_ratio)
            .map_or(0.0, |r| -r.ln().abs());
        (u8::from(!like_with_like), q, size)
    };
    let mut lead: Vec<&crate::findings::Finding> = a
        .findings
        .iter()
        .filter(|f| matches!(f.severity, Severity::High | Severity::Medium))
        .filter(|f| f.analysis != "population_benchmark")
        .collect();
    lead.sort_by(|x, y| {
        strongest_first(x)
            .partial_cmp(&strongest_first(y))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let population_only = lead.is_empty()
        && a.findings
            .iter()
            .any(|f| f.analysis == "population_benchmark");
    let mut blocks = vec![Block::Subheading(b.t("headline"))];
    if lead.is_empty() {
        blocks.push(Block::Paragraph(b.t(if population_only {
            "headline_population_only"
        } else {
            "headline_none"
        })));
        blocks.extend(checked_and_untested(b));
        return blocks;
    }
    blocks.push(Block::Paragraph(b.t("headline_intro")));
    let items = lead
        .into_iter()
        .take(3)
        .map(|f| {
            let mut text = sentence(f);
            if let Some(extra) = search_and_find(b, f) {
                text = format!("{text} {extra}");
            }
            // How many of the group's stops (or searches) it rests on.
            if let Some(base) = base_count(b, f) {
                text = format!("{text} {base}");
            }
            // Where: the same comparison per unit, from the published
            // per-unit counts.
            if let Some(place) = where_per_unit(b, f) {
                text = format!("{text} {place}");
            }
            ListItem {
                label: Some(b.severity(f.severity)),
                severity: Some(f.severity),
                text,
                link: Some((anchor(&f.analysis).to_string(), b.t("see_section"))),
            }
        })
        .collect();
    blocks.push(Block::List(items));
    blocks.extend(checked_and_untested(b));
    blocks
}

/// "Based on 180 searches of the group.": the published denominator of the
/// comparison behind a finding, when it is published (not suppressed).
fn base_count(b: &B, f: &crate::findings::Finding) -> Option<String> {
    let a = b.a;
    let same = |r: &&ComparisonRow| {
        r.attribute == f.attribute
            && r.group == f.group
            && r.stratum == f.stratum
            && r.stage == f.stage
    };
    let row = match f.analysis.as_str() {
        "outcome_test" => a.results.outcome_test.iter().find(same),
        "search_funnel" => a.results.search_funnel.iter().find(same),
        "justification_mix" => a
            .results
            .justification_mix
            .iter()
            .flat_map(|m| &m.weak_justification)
            .find(same),
        _ => None,
    }?;
    let key = if f.stage.as_deref() == Some("contraband") {
        "headline_base_searches"
    } else {
        "headline_base_stops"
    };
    Some(b.f(key, &[("n", &b.int(row.stops?))]))
}

/// Stops of the group and of the reference a unit needs for its ratio to
/// be shown in "where".
const WHERE_MIN_STOPS: u64 = 50;

/// Where a finding of the outcome test or the justification mix lies: the
/// same rate ratio per unit, computed from the per-unit count table the run
/// publishes (so it reveals nothing that table does not; its counts are
/// rounded when the table says so). The three units furthest in the
/// finding's direction, and in how many units the ratio points that way.
/// Descriptive: no test per unit. `None` for other analyses, for a
/// stratum the table has no column for, or with fewer than two units.
fn where_per_unit(b: &B, f: &crate::findings::Finding) -> Option<String> {
    let a = b.a;
    let weak = match f.analysis.as_str() {
        "outcome_test" => false,
        "justification_mix" => true,
        _ => return None,
    };
    let justification = f.stratum.get("justification");
    if f.stratum.keys().any(|k| k != "justification") || f.rate_ratio.is_none() {
        return None;
    }
    let event = |r: &crate::counting::CountRow| {
        if weak {
            a.settings.weak_justifications.contains(&r.justification)
        } else {
            a.settings.hit_outcomes.contains(&r.outcome)
        }
    };
    // unit -> [group stops, group events, reference stops, reference events]
    let mut per_unit: std::collections::BTreeMap<&str, [u64; 4]> = Default::default();
    for r in &a.counts.by_unit {
        let side = if r.group == f.group {
            0
        } else if r.group == f.reference {
            2
        } else {
            continue;
        };
        if r.attribute != f.attribute || justification.is_some_and(|j| *j != r.justification) {
            continue;
        }
        let Some(unit) = r.unit.as_deref() else {
            continue;
        };
        let cell = per_unit.entry(unit).or_default();
        cell[side] += r.stops;
        if event(r) {
            cell[side + 1] += r.stops;
        }
    }
    let lower = f.rate_ratio? < 1.0;
    let mut ratios: Vec<(&str, f64, u64)> = per_unit
        .into_iter()
        .filter(|(_, c)| c[0] >= WHERE_MIN_STOPS && c[2] >= WHERE_MIN_STOPS && c[3] > 0)
        .map(|(unit, c)| {
            let ratio = (c[1] as f64 / c[0] as f64) / (c[3] as f64 / c[2] as f64);
            (unit, ratio, c[0])
        })
        .collect();
    if ratios.len() < 2 {
        return None;
    }
    // Furthest in the finding's direction first.
    ratios.sort_by(|x, y| {
        let order = x.1.partial_cmp(&y.1).unwrap_or(std::cmp::Ordering::Equal);
        if lower { order } else { order.reverse() }
    });
    let this_side: Vec<&(&str, f64, u64)> = ratios
        .iter()
        .filter(|r| if lower { r.1 < 1.0 } else { r.1 > 1.0 })
        .collect();
    let rounding = a
        .counts
        .rounded_to
        .map(|k| b.f("headline_where_rounded", &[("k", &k.to_string())]))
        .unwrap_or_default();
    let args = |units: &str| {
        vec![
            ("units", units.to_string()),
            ("same", this_side.len().to_string()),
            ("total", ratios.len().to_string()),
            ("min", WHERE_MIN_STOPS.to_string()),
            ("rounding", rounding.clone()),
        ]
    };
    let fill = |key: &str, args: Vec<(&str, String)>| {
        let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
        b.f(key, &args)
    };
    if this_side.is_empty() {
        return Some(fill("headline_where_none", args("")));
    }
    let units = this_side
        .iter()
        .take(3)
        .map(|(unit, ratio, n)| {
            b.f(
                "headline_where_unit",
                &[
                    ("unit", unit),
                    ("ratio", &b.m.number(*ratio, 2)),
                    ("n", &b.int(*n)),
                ],
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Some(fill("headline_where", args(&units)))
}

/// Why the veil of darkness gave no estimate, if it gave none.
fn veil_untested(b: &B) -> Option<String> {
    let veil = &b.a.results.veil_of_darkness;
    if !veil.enabled {
        Some(b.t("untested_veil_off"))
    } else if veil.results.iter().all(|r| r.estimate.is_none()) {
        let no_place = veil.stops.no_place.unwrap_or(0);
        Some(if no_place > 0 && veil.stops.daylight.unwrap_or(0) == 0 {
            b.t("untested_veil_no_place")
        } else {
            b.t("untested_veil_too_few")
        })
    } else {
        None
    }
}

/// The rest of "In brief": how many comparisons found no practically
/// relevant difference and how many could not tell; then what was not
/// tested, why, and how to test it.
fn checked_and_untested(b: &B) -> Vec<Block> {
    let a = b.a;
    let mut blocks = Vec::new();
    let per_attribute = crate::verdict::per_attribute(&a.results.verdicts);
    let (no_difference, inconclusive) = per_attribute.values().fold((0, 0), |(n, i), c| {
        (n + c.no_difference, i + c.inconclusive)
    });
    if !per_attribute.is_empty() {
        blocks.push(Block::Paragraph(b.f(
            "headline_checked",
            &[
                ("no_difference", &b.int(no_difference)),
                ("inconclusive", &b.int(inconclusive)),
            ],
        )));
    }
    let mut untested: Vec<String> = Vec::new();
    if a.results.threshold_test.is_empty() {
        untested.push(b.t("untested_threshold"));
    }
    untested.extend(veil_untested(b));
    if a.settings.population.is_none() {
        untested.push(b.t("untested_population"));
    }
    if a.results.search_funnel.is_empty() {
        untested.push(b.t("untested_funnel"));
    }
    let trends = &a.results.trends;
    if trends.enabled && trends.periods.len() < 2 {
        untested.push(b.t("untested_trends"));
    }
    if !a.results.internal_benchmark.enabled {
        untested.push(b.t("untested_benchmark"));
    }
    if !untested.is_empty() {
        blocks.push(Block::Paragraph(b.t("headline_untested")));
        blocks.push(Block::List(
            untested.into_iter().map(ListItem::plain).collect(),
        ));
    }
    blocks
}

/// For an overall search-rate finding: the same group's find rate per
/// search beside it. Searched more often with a lower find rate is
/// consistent with a lower search threshold; with a similar find rate it
/// is not.
fn search_and_find(b: &B, f: &crate::findings::Finding) -> Option<String> {
    if f.analysis != "search_funnel"
        || f.stage.as_deref() != Some("search")
        || !f.stratum.is_empty()
    {
        return None;
    }
    let searched = f.rate_ratio?;
    let find = b.a.results.search_funnel.iter().find(|r| {
        r.attribute == f.attribute
            && r.group == f.group
            && r.stratum.is_empty()
            && r.stage.as_deref() == Some("contraband")
    })?;
    let (ratio, [lo, hi]) = (find.rate_ratio?, find.rate_ratio_ci?);
    let band = b.a.settings.practical_band;
    let threshold = b.t(if b.a.results.threshold_test.is_empty() {
        "synthesis_run_threshold"
    } else {
        "synthesis_see_threshold"
    });
    let args = [
        ("search", b.m.number(searched, 1)),
        ("find", b.m.number(ratio, 2)),
        ("threshold", threshold),
    ];
    let args: Vec<(&str, &str)> = args.iter().map(|(k, v)| (*k, v.as_str())).collect();
    if hi < 1.0 {
        Some(b.f("synthesis_lower_find", &args))
    } else if lo >= band[0] && hi <= band[1] {
        Some(b.f("synthesis_similar_find", &args))
    } else {
        None
    }
}

/// What the comparisons that are no finding say: per attribute, how many
/// found no practically relevant difference, how many favour the group and
/// how many the data cannot decide; then, per group, the overall outcome
/// comparisons that are inconclusive, with the smallest ratio the data
/// detect and about how many more quarters would detect the band's edge.
fn evidence_blocks(b: &B) -> Vec<Block> {
    let a = b.a;
    let per_attribute = crate::verdict::per_attribute(&a.results.verdicts);
    if per_attribute.is_empty() {
        return Vec::new();
    }
    let mut lines: Vec<ListItem> = Vec::new();
    for (attribute, c) in &per_attribute {
        let parts: Vec<(u64, &str)> = vec![
            (c.finding, "evidence_finding"),
            (c.explained_by_mix, "evidence_explained_by_mix"),
            (c.no_difference, "evidence_no_difference"),
            (c.favourable, "evidence_favourable"),
            (c.inconclusive, "evidence_inconclusive"),
            (c.withheld, "evidence_withheld"),
        ];
        let text = parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, key)| b.f(key, &[("n", &b.int(*n))]))
            .collect::<Vec<_>>()
            .join("; ");
        lines.push(ListItem {
            label: Some(b.attribute_name(attribute)),
            severity: None,
            text,
            link: None,
        });
    }
    let band = |i: usize| b.m.number(a.settings.practical_band[i], 2);
    let mut blocks = vec![
        Block::Subheading(b.t("evidence_title")),
        Block::Paragraph(b.f(
            "evidence_intro",
            &[
                ("power", &b.m.number(100.0 * a.settings.power, 0)),
                ("low", &band(0)),
                ("high", &band(1)),
            ],
        )),
        Block::List(lines),
    ];
    let open: Vec<ListItem> = a
        .results
        .outcome_test
        .iter()
        .filter(|r| r.stratum.is_empty() && r.verdict == Some(Verdict::Inconclusive))
        .map(|r| ListItem {
            label: Some(format!(
                "{}: {}",
                b.attribute_name(&r.attribute),
                b.group(&r.group)
            )),
            severity: None,
            text: match (r.min_detectable_ratio, r.more_quarters_needed) {
                (Some(mdr), Some(q)) if q > 0.0 => b.f(
                    "evidence_open_quarters",
                    &[
                        ("mdr", &b.m.number(mdr, 2)),
                        ("edge", &band(0)),
                        ("quarters", &b.int(q.ceil() as u64)),
                    ],
                ),
                (Some(mdr), _) => b.f("evidence_open_detectable", &[("mdr", &b.m.number(mdr, 2))]),
                (None, _) => b.t("evidence_open_nothing"),
            },
            link: Some(("outcome-test".into(), b.t("see_section"))),
        })
        .collect();
    if !open.is_empty() {
        blocks.push(Block::Paragraph(b.t("evidence_open_intro")));
        blocks.push(Block::List(open));
    }
    blocks
}

/// 2. Data and quality: row accounting, missing values, checks, limits.
fn data_section(b: &B) -> Section {
    let a = b.a;
    let p = &a.provenance;
    let mut blocks = Vec::new();
    let mut rows = vec![
        vec![Cell::Text(b.t("rows_read")), Cell::Text(b.int(p.rows_read))],
        vec![
            Cell::Text(b.t("rows_analyzed")),
            Cell::Text(b.int(p.rows_analyzed)),
        ],
        vec![
            Cell::Text(b.t("rows_quarantined")),
            Cell::Text(b.int(p.rows_quarantined)),
        ],
    ];
    if p.rows_out_of_scope > 0 || !p.scope.is_everything() {
        rows.push(vec![
            Cell::Text(b.t("rows_out_of_scope")),
            Cell::Text(b.int(p.rows_out_of_scope)),
        ]);
    }
    blocks.push(Block::Table(Table {
        caption: b.t("data_rows"),
        header: vec![String::new(), b.t("count")],
        rows,
        detail: Vec::new(),
        numeric: vec![false, true],
    }));
    if !p.quarantine_reasons.is_empty() {
        blocks.push(Block::Table(Table {
            caption: b.t("rows_quarantined"),
            header: vec![b.t("reason"), b.t("count")],
            rows: p
                .quarantine_reasons
                .iter()
                .map(|(r, n)| {
                    vec![
                        Cell::Text(b.m.text_or(&format!("quarantine_reason.{r}"), r)),
                        Cell::Text(b.int(*n)),
                    ]
                })
                .collect(),
            detail: Vec::new(),
            numeric: vec![false, true],
        }));
    }
    let analysed = p.rows_analyzed.max(1) as f64;
    blocks.push(Block::Table(Table {
        caption: b.t("missing"),
        header: vec![b.t("field"), b.t("count"), b.t("share")],
        rows: a
            .missing_values
            .iter()
            .map(|(f, n)| {
                // Fields and attributes by their names in the language.
                let name = b.m.text_or(&format!("field.{f}"), &b.attribute_name(f));
                match n {
                    Some(n) => vec![
                        Cell::Text(name),
                        Cell::Text(b.int(*n)),
                        Cell::Text(b.m.percent(*n as f64 / analysed)),
                    ],
                    None => vec![
                        Cell::Text(name),
                        Cell::Suppressed(b.k),
                        Cell::Suppressed(b.k),
                    ],
                }
            })
            .collect(),
        detail: Vec::new(),
        numeric: vec![false, true, true],
    }));
    let dq = &a.results.data_quality;
    if dq.enabled {
        // Fields recorded on every stop go in one sentence, not a row each.
        let fully_recorded = |d: &crate::analysis::quality::Diagnostic| {
            d.check == "coverage" && d.status == "ok" && d.count == Some(0)
        };
        let field_name = |f: &str| b.m.text_or(&format!("field.{f}"), &b.attribute_name(f));
        let complete: Vec<String> = dq
            .diagnostics
            .iter()
            .filter(|d| fully_recorded(d))
            .map(|d| field_name(&d.subject))
            .collect();
        let mut diagnostics: Vec<&crate::analysis::quality::Diagnostic> = dq
            .diagnostics
            .iter()
            .filter(|d| d.status != "absent" && !fully_recorded(d))
            .collect();
        // Failed checks first, then in the order they were made.
        diagnostics.sort_by_key(|d| d.status != "fail");
        blocks.push(Block::Table(Table {
            caption: b.t("quality_table"),
            header: vec![
                b.t("quality_check"),
                b.t("quality_subject"),
                b.t("quality_value"),
                b.t("quality_threshold"),
                b.t("quality_status"),
            ],
            rows: diagnostics
                .iter()
                .map(|d| {
                    let share =
                        matches!(d.check, "coverage" | "conditional_coverage" | "duplicates");
                    let show = |x: f64| {
                        if share {
                            b.m.percent(x)
                        } else {
                            b.m.number(x, 1)
                        }
                    };
                    let value = match (d.check, d.count, d.base) {
                        ("officer_volume", Some(n), Some(of)) => {
                            format!("{} / {}", b.int(n), b.int(of))
                        }
                        ("registration_gap" | "unit_volume", _, _) if !d.months.is_empty() => {
                            d.months.join(", ")
                        }
                        _ => d.value.map(show).unwrap_or_else(|| "–".into()),
                    };
                    vec![
                        Cell::Text(b.t(&format!("quality_{}", d.check))),
                        Cell::Text(match d.check {
                            "coverage" | "conditional_coverage" | "duplicates" => d
                                .subject
                                .split(" | ")
                                .map(field_name)
                                .collect::<Vec<_>>()
                                .join(" | "),
                            _ if d.subject == "all" => b.t("quality_subject_all"),
                            _ => d.subject.clone(),
                        }),
                        Cell::Text(value),
                        Cell::Text(show(d.threshold)),
                        Cell::Text(b.t(&format!("quality_status_{}", d.status))),
                    ]
                })
                .collect(),
            // Print keeps the checks that failed.
            detail: diagnostics.iter().map(|d| d.status != "fail").collect(),
            numeric: vec![false, false, true, true, false],
        }));
        if !complete.is_empty() {
            blocks.push(Block::Paragraph(
                b.f("quality_complete", &[("fields", &complete.join(", "))]),
            ));
        }
        let absent: Vec<String> = dq
            .diagnostics
            .iter()
            .filter(|d| d.status == "absent")
            .map(|d| field_name(&d.subject))
            .collect();
        if !absent.is_empty() {
            blocks.push(Block::Paragraph(
                b.f("quality_absent", &[("fields", &absent.join(", "))]),
            ));
        }
        if !dq.months_left_out.is_empty() {
            blocks.push(Block::Paragraph(b.f(
                "quality_months_left_out",
                &[
                    ("n", &dq.months_left_out.len().to_string()),
                    ("months", &dq.months_left_out.join(", ")),
                ],
            )));
        }
        // The checks' scope is the run's: said in the report's language.
        if dq.diagnostics.iter().any(|d| d.scope.is_some()) {
            let scope = crate::question::describe_scope(&b.m, &p.scope, &b.codes);
            blocks.push(Block::Paragraph(
                b.f("quality_scoped", &[("scope", &scope)]),
            ));
        }
        if dq.officers_note.is_some() {
            blocks.push(Block::Paragraph(b.f(
                "quality_officers_unnamed",
                &[
                    ("label", &b.t("quality_officer_volume")),
                    ("variable", crate::pseudonym::KEY_VARIABLE),
                ],
            )));
        }
    }
    blocks.push(Block::Paragraph(b.f(
        "period_covered",
        &[
            ("first", &date(b, &p.first_stop)),
            ("last", &date(b, &p.last_stop)),
        ],
    )));
    blocks.push(Block::Paragraph(b.f(
        if p.timezone_assumed {
            "timezone_assumed"
        } else {
            "timezone_configured"
        },
        &[("zone", &p.timezone)],
    )));
    if !p.scope.is_everything() {
        blocks.push(Block::Paragraph(b.f(
            "scope",
            &[(
                "scope",
                &crate::question::describe_scope(&b.m, &p.scope, &b.codes),
            )],
        )));
    }
    let mut limits = Vec::new();
    if !p.duplicates_checked {
        limits.push(b.t("limit_duplicates"));
    }
    if p.rows_quarantined > 0 {
        let share =
            b.m.percent(p.rows_quarantined as f64 / p.rows_read.max(1) as f64);
        limits.push(b.f("limit_quarantine", &[("share", &share)]));
    }
    for attr in &a.counts.attributes {
        if let Some(&Some(n)) = a.missing_values.get(attr)
            && n as f64 / analysed >= 0.05
        {
            limits.push(b.f(
                "limit_missing_group",
                &[
                    ("share", &b.m.percent(n as f64 / analysed)),
                    ("attribute", &b.attribute_name(attr)),
                ],
            ));
        }
    }
    if limits.is_empty() {
        limits.push(b.t("limit_none"));
    }
    if a.settings.min_cell > 1 {
        limits.push(b.f(
            "suppressed_note",
            &[("k", &(a.settings.min_cell - 1).to_string())],
        ));
    }
    blocks.push(Block::Subheading(b.t("limits")));
    blocks.push(Block::List(
        limits.into_iter().map(ListItem::plain).collect(),
    ));
    Section {
        anchor: "data".into(),
        title: b.t("data"),
        blocks,
    }
}

/// 3. Justification mix per group.
fn mix_section(b: &B) -> Section {
    let a = b.a;
    let mut blocks = Vec::new();
    let level = format!("{}%", b.m.number(100.0 * a.settings.confidence, 0));
    for mix in &a.results.justification_mix {
        let attr = b.attribute_name(&mix.attribute);
        blocks.push(Block::Subheading(attr.clone()));
        blocks.push(Block::Paragraph(
            b.f("mix_intro", &[("attribute", &attr), ("level", &level)]),
        ));
        let justifications: Vec<String> = b
            .codes
            .justification
            .codes()
            .iter()
            .map(|c| c.code.clone())
            .collect();
        {
            let mut groups: Vec<&str> = Vec::new();
            for c in &mix.cells {
                if !groups.contains(&c.group.as_str()) {
                    groups.push(&c.group);
                }
            }
            let bars = groups
                .iter()
                .map(|g| StackedBar {
                    label: b.group(g),
                    shares: justifications
                        .iter()
                        .map(|j| {
                            mix.cells
                                .iter()
                                .find(|c| c.group == *g && &c.justification == j)
                                .and_then(|c| if c.suppressed { None } else { c.share })
                        })
                        .collect(),
                })
                .collect();
            blocks.push(Block::Chart {
                name: file_stem(&format!("justification-mix-{}", mix.attribute)),
                chart: Chart::Stacked(StackedChart {
                    title: b.f("chart_mix_title", &[("attribute", &attr)]),
                    segments: justifications
                        .iter()
                        .map(|j| b.code_label("justification", j))
                        .collect(),
                    bars,
                    x_label: b.t("axis_share"),
                    hidden: b.t("chart_hidden"),
                }),
                alt: b.f(
                    "chart_mix_alt",
                    &[("attribute", &attr), ("k", &b.k.to_string())],
                ),
            });
        }
        let mut header = vec![b.t("group")];
        header.extend(
            justifications
                .iter()
                .map(|j| b.code_label("justification", j)),
        );
        let mut groups: Vec<&str> = Vec::new();
        for c in &mix.cells {
            if !groups.contains(&c.group.as_str()) {
                groups.push(&c.group);
            }
        }
        let rows = groups
            .iter()
            .map(|g| {
                let mut row = vec![Cell::Text(b.group(g))];
                for j in &justifications {
                    let cell = mix
                        .cells
                        .iter()
                        .find(|c| c.group == *g && &c.justification == j);
                    row.push(match cell {
                        Some(c) if c.suppressed => Cell::Suppressed(b.k),
                        Some(c) => {
                            let share = b.pct_ci(c.share, c.share_ci).text();
                            let res = c
                                .adjusted_residual
                                .map(|r| format!("; {}", b.m.number(r, 1)))
                                .unwrap_or_default();
                            Cell::Text(format!("{} · {share}{res}", b.int(c.count.unwrap_or(0))))
                        }
                        None => Cell::Text("0".into()),
                    });
                }
                row
            })
            .collect();
        let mut numeric = vec![false];
        numeric.extend(justifications.iter().map(|_| true));
        blocks.push(Block::Table(Table {
            caption: format!("{} — {}", b.t("mix"), attr),
            header,
            rows,
            detail: Vec::new(),
            numeric,
        }));
        if let (Some(chi2), Some(df), Some(pv), Some(v)) =
            (mix.chi2, mix.df, mix.p_value, mix.cramers_v)
        {
            let p_text = if pv < 0.001 {
                format!("< {}", b.m.number(0.001, 3))
            } else {
                format!("= {}", b.m.number(pv, 3))
            };
            blocks.push(Block::Paragraph(b.f(
                "mix_test",
                &[
                    ("chi2", &b.m.number(chi2, 1)),
                    ("df", &df.to_string()),
                    ("p", &p_text),
                    ("v", &b.m.number(v, 3)),
                ],
            )));
        }
        let weak: Vec<String> = a
            .settings
            .weak_justifications
            .iter()
            .map(|j| b.code_label("justification", j))
            .collect();
        let rows: Vec<&ComparisonRow> = mix.weak_justification.iter().collect();
        if !rows.is_empty() {
            blocks.push(Block::Table(b.comparison_table(
                b.f("weak", &[("weak", &weak.join(", "))]),
                &rows,
                false,
            )));
        }
    }
    if a.results.justification_mix.is_empty() {
        blocks.push(Block::Paragraph(b.t("not_available")));
    }
    Section {
        anchor: "justification-mix".into(),
        title: b.t("mix"),
        blocks,
    }
}

/// 4. Outcome test.
fn outcome_section(b: &B) -> Section {
    let a = b.a;
    let hits: Vec<String> = a
        .settings
        .hit_outcomes
        .iter()
        .map(|o| b.code_label("outcome", o))
        .collect();
    let mut blocks = vec![Block::Paragraph(
        b.f("outcome_intro", &[("hits", &hits.join(", "))]),
    )];
    for attr in &a.counts.attributes {
        let rows: Vec<&ComparisonRow> = a
            .results
            .outcome_test
            .iter()
            .filter(|r| &r.attribute == attr)
            .collect();
        if !rows.is_empty() {
            let title = format!("{} — {}", b.t("outcome"), b.attribute_name(attr));
            let points = rows
                .iter()
                .filter(|r| r.stratum.is_empty() || r.stratum.contains_key("justification"))
                .map(|r| {
                    (
                        format!("{} · {}", b.group(&r.group), b.stratum(r)),
                        r.rate_ratio,
                        r.rate_ratio_ci,
                        r.verdict == Some(Verdict::Finding),
                    )
                })
                .collect();
            if let Some(chart) = b.forest(
                format!("outcome-test-{attr}"),
                title.clone(),
                "measure_outcome",
                &rows[0].reference,
                points,
                false,
            ) {
                blocks.push(chart);
            }
            blocks.push(Block::Table(b.comparison_table(title, &rows, false)));
        }
    }
    if a.results.outcome_test.is_empty() {
        blocks.push(Block::Paragraph(b.t("not_available")));
    }
    Section {
        anchor: "outcome-test".into(),
        title: b.t("outcome"),
        blocks,
    }
}

/// 5a. The stratified comparison (like with like).
fn stratified_section(b: &B) -> Section {
    let a = b.a;
    let strata: Vec<String> = a
        .settings
        .strata_by
        .iter()
        .map(|f| b.m.text(&format!("field.{f}")).to_string())
        .collect();
    let mut blocks = vec![Block::Paragraph(
        b.f("stratified_intro", &[("strata", &strata.join(" × "))]),
    )];
    let (sanctions, finds): (Vec<&StratifiedRow>, Vec<&StratifiedRow>) =
        a.results.stratified.iter().partition(|r| r.stage.is_none());
    if sanctions.is_empty() {
        blocks.push(Block::Paragraph(b.t("not_available")));
    } else {
        blocks.extend(b.forests_by_attribute(
            &a.counts.attributes,
            &sanctions,
            "stratified",
            "measure_stratified",
            true,
            |r| {
                (
                    &r.attribute,
                    &r.reference,
                    b.group(&r.group),
                    r.mh_rate_ratio,
                    r.mh_rate_ratio_ci,
                    b.is_finding("stratified", &r.attribute, &r.group),
                )
            },
        ));
        blocks.push(Block::Table(stratified_table(
            b,
            b.t("stratified"),
            &sanctions,
        )));
    }
    if !finds.is_empty() {
        blocks.push(Block::Paragraph(
            b.f("stratified_find_intro", &[("strata", &strata.join(" × "))]),
        ));
        blocks.push(Block::Table(stratified_table(
            b,
            b.t("stratified_find"),
            &finds,
        )));
    }
    Section {
        anchor: "stratified".into(),
        title: b.t("stratified"),
        blocks,
    }
}

/// The stratified comparisons as a table: pooled rate ratio, odds ratios,
/// q, Breslow–Day, strata used and withheld, reversal, verdict.
fn stratified_table(b: &B, caption: String, rows: &[&StratifiedRow]) -> Table {
    let body = rows
        .iter()
        .map(|r| {
            vec![
                Cell::Text(b.attribute_name(&r.attribute)),
                Cell::Text(b.group(&r.group)),
                b.ratio_ci(r.mh_rate_ratio, r.mh_rate_ratio_ci),
                b.num(r.crude_odds_ratio, 2),
                b.ratio_ci(r.mh_odds_ratio, r.mh_odds_ratio_ci),
                b.q(r.q_value),
                b.num(r.breslow_day_p_value, 3),
                Cell::Text(format!(
                    "{} / {}",
                    r.strata_used,
                    r.strata_used + r.strata_dropped + r.strata_withheld
                )),
                Cell::Text(if r.reversal { b.t("yes") } else { b.t("no") }),
                b.verdict(r.verdict, r.min_detectable_ratio),
            ]
        })
        .collect();
    Table {
        caption,
        header: vec![
            b.t("field"),
            b.t("group"),
            b.t("mh_rr"),
            b.t("crude_or"),
            b.t("mh_or"),
            b.t("q_value"),
            b.t("bd_p"),
            b.t("strata_used"),
            b.t("reversal"),
            b.t("verdict"),
        ],
        rows: body,
        detail: Vec::new(),
        numeric: vec![
            false, false, true, true, true, true, true, false, false, false,
        ],
    }
}

/// 5b. The search funnel.
fn funnel_section(b: &B) -> Section {
    let a = b.a;
    let mut blocks = vec![Block::Paragraph(b.t("funnel_intro"))];
    if a.results.search_funnel.is_empty() {
        // Why, and what would give it: the same words as in the summary.
        blocks.push(Block::Paragraph(b.t("untested_funnel")));
    }
    for attr in &a.counts.attributes {
        let rows: Vec<&ComparisonRow> = a
            .results
            .search_funnel
            .iter()
            .filter(|r| &r.attribute == attr)
            .collect();
        if !rows.is_empty() {
            let title = format!("{} — {}", b.t("funnel"), b.attribute_name(attr));
            let points = rows
                .iter()
                .map(|r| {
                    (
                        format!(
                            "{} · {}",
                            b.group(&r.group),
                            b.t(&format!("stage_{}", r.stage.as_deref().unwrap_or("search")))
                        ),
                        r.rate_ratio,
                        r.rate_ratio_ci,
                        r.verdict == Some(Verdict::Finding),
                    )
                })
                .collect();
            if let Some(chart) = b.forest(
                format!("search-funnel-{attr}"),
                title.clone(),
                "measure_funnel",
                &rows[0].reference,
                points,
                false,
            ) {
                blocks.push(chart);
            }
            blocks.push(Block::Table(b.comparison_table(title, &rows, true)));
        }
    }
    Section {
        anchor: "search-funnel".into(),
        title: b.t("funnel"),
        blocks,
    }
}

/// 5c. The population benchmark.
fn population_section(b: &B) -> Section {
    let a = b.a;
    let mut blocks = vec![Block::Paragraph(b.t("population_intro"))];
    if a.results.population_benchmark_note.is_some() {
        blocks.push(Block::Paragraph(b.t("population_scoped_without_areas")));
    } else if a.settings.population.is_none() {
        blocks.push(Block::Paragraph(b.t("untested_population")));
    } else if a.results.population_benchmark.is_empty() {
        blocks.push(Block::Paragraph(b.t("not_available")));
    } else {
        let rows = a
            .results
            .population_benchmark
            .iter()
            .map(|r| {
                vec![
                    Cell::Text(b.attribute_name(&r.attribute)),
                    Cell::Text(b.group(&r.group)),
                    b.count(r.stops),
                    Cell::Text(b.int(r.population.round() as u64)),
                    b.num(r.rate_per_1000, 2),
                    b.num(r.ref_rate_per_1000, 2),
                    b.ratio_ci(r.rate_ratio, r.rate_ratio_ci),
                    b.q(r.q_value),
                ]
            })
            .collect();
        blocks.extend(b.forests_by_attribute(
            &a.counts.attributes,
            &a.results.population_benchmark,
            "population",
            "measure_population",
            false,
            |r| {
                (
                    &r.attribute,
                    &r.reference,
                    b.group(&r.group),
                    r.rate_ratio,
                    r.rate_ratio_ci,
                    b.is_finding("population_benchmark", &r.attribute, &r.group),
                )
            },
        ));
        blocks.push(Block::Table(Table {
            caption: b.t("population"),
            header: vec![
                b.t("field"),
                b.t("group"),
                b.t("stops"),
                b.t("residents"),
                b.t("per_1000"),
                b.t("ref_rate"),
                b.t("rate_ratio"),
                b.t("q_value"),
            ],
            rows,
            detail: Vec::new(),
            numeric: vec![false, false, true, true, true, true, true, true],
        }));
    }
    Section {
        anchor: "population".into(),
        title: b.t("population"),
        blocks,
    }
}

/// 6. Methods and caveats.
fn methods_section(b: &B) -> Section {
    let blocks = [
        "outcome",
        "mix",
        "stratified",
        "benchmark",
        "veil",
        "numbers",
        "legal",
        "review",
    ]
    .iter()
    .map(|k| Block::Paragraph(b.m.text(&format!("report_methods.{k}")).to_string()))
    .collect();
    Section {
        anchor: "methods".into(),
        title: b.t("methods"),
        blocks,
    }
}

/// 7. Provenance.
fn provenance_section(b: &B, opts: &ReportOptions) -> Section {
    let a = b.a;
    let p = &a.provenance;
    let mut blocks = vec![
        Block::Paragraph(format!("{}: {} {}", b.t("tool"), p.tool, p.version)),
        Block::Table(Table {
            caption: b.t("inputs"),
            header: vec![b.t("file"), "SHA-256".into(), b.t("rows_read")],
            rows: p
                .inputs
                .iter()
                .map(|f| {
                    vec![
                        Cell::Text(f.path.clone()),
                        Cell::Text(f.sha256.clone()),
                        Cell::Text(b.int(f.rows_read)),
                    ]
                })
                .collect(),
            detail: Vec::new(),
            numeric: vec![false, false, true],
        }),
    ];
    if !p.cubes.is_empty() {
        blocks.push(Block::Table(Table {
            caption: b.t("cubes"),
            header: vec![b.t("cube"), b.t("engine"), "SHA-256 (manifest.json)".into()],
            rows: p
                .cubes
                .iter()
                .map(|c| {
                    vec![
                        Cell::Text(c.path.clone()),
                        Cell::Text(c.engine.clone()),
                        Cell::Text(c.manifest_sha256.clone()),
                    ]
                })
                .collect(),
            detail: Vec::new(),
            numeric: vec![false, false, false],
        }));
    }
    blocks.extend([
        Block::Subheading(b.t("configuration")),
        Block::Code(configuration_toml(&p.configuration)),
        Block::Subheading(b.t("command")),
        Block::Code(opts.command.clone()),
    ]);
    Section {
        anchor: "provenance".into(),
        title: b.t("provenance"),
        blocks,
    }
}

/// The effective configuration as TOML, the form of the mapping file (so a
/// reader can copy it into one); settings left unset (`null`) are left out.
/// JSON if TOML cannot hold it.
fn configuration_toml(configuration: &serde_json::Value) -> String {
    fn without_nulls(v: &serde_json::Value) -> Option<serde_json::Value> {
        match v {
            serde_json::Value::Null => None,
            serde_json::Value::Object(o) => Some(serde_json::Value::Object(
                o.iter()
                    .filter_map(|(k, v)| without_nulls(v).map(|v| (k.clone(), v)))
                    .collect(),
            )),
            serde_json::Value::Array(a) => Some(serde_json::Value::Array(
                a.iter().filter_map(without_nulls).collect(),
            )),
            other => Some(other.clone()),
        }
    }
    without_nulls(configuration)
        .and_then(|v| toml::to_string(&v).ok())
        .unwrap_or_else(|| serde_json::to_string_pretty(configuration).expect("serialisable"))
}

#[cfg(test)]
mod tests {
    use super::file_stem;

    #[test]
    fn chart_file_names_are_unique_bounded_and_plain() {
        let names = [
            "threshold-nationality-Turks",
            "threshold-nationality-turks",
            "threshold-nationality-TURKS",
            "threshold-nationality-日本",
            "threshold-nationality-中国",
            "threshold-nationality-a b",
            "threshold-nationality-a-b",
        ];
        let stems: std::collections::BTreeSet<String> =
            names.iter().map(|n| file_stem(n)).collect();
        assert_eq!(stems.len(), names.len(), "{stems:?}");
        assert_eq!(
            file_stem("trend-search_rate-age_band"),
            "trend-search_rate-age_band"
        );
        let long = file_stem(&format!("threshold-nationality-{}", "x".repeat(300)));
        assert!(long.len() <= 69, "{long}");
        for s in &stems {
            assert!(
                s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'),
                "{s}"
            );
        }
    }
}
