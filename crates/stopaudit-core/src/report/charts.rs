//! Charts with plotters, as inline SVG for the HTML report and as SVG or PNG
//! files on request. Text uses DejaVu Sans compiled into the binary, so a
//! chart looks the same on every machine. Colours are the Okabe–Ito
//! palette (safe for colour-blind readers); suppressed values are never
//! drawn.

use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

/// Okabe–Ito colours.
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
    RGBColor(0, 0, 0),
];

/// Grey: the hidden shares of a stacked bar, together.
pub(crate) const HIDDEN: RGBColor = RGBColor(190, 190, 190);

/// The family name charts use; SVG text names it, so viewers use the embedded copy.
pub(crate) const FONT: &str = "DejaVu Sans";
/// Size in pixels of axis labels and legends, and of titles. A chart is 860
/// pixels wide and printed about 703 CSS pixels wide (A4 less margins), so
/// 15 pixels print at 9.2 pt.
const LABEL: u32 = 15;
const TITLE: u32 = 18;
/// DejaVu Sans, compiled in.
pub(crate) static FONT_BYTES: &[u8] = include_bytes!("../../../../assets/fonts/DejaVuSans.ttf");

/// A CSS `@font-face` rule carrying the embedded font as a data URL.
pub(crate) fn font_face_css() -> String {
    use base64::Engine as _;
    format!(
        "@font-face {{ font-family: \"{FONT}\"; src: url(data:font/ttf;base64,{}) format(\"truetype\"); }}",
        base64::engine::general_purpose::STANDARD.encode(FONT_BYTES)
    )
}

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_err() {
            panic!("the embedded DejaVu Sans font is valid");
        }
    });
}

/// One horizontal stacked bar: a label and (segment index, share) pairs.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedBar {
    /// Label of the bar, e.g. a group.
    pub label: String,
    /// Shares in [0, 1] per segment; `None` for a hidden segment (not drawn as itself: the hidden
    /// shares together fill the bar to 100% in grey).
    pub shares: Vec<Option<f64>>,
}

/// Data of a stacked bar chart of shares.
#[derive(Debug, Clone, PartialEq)]
pub struct StackedChart {
    /// Title above the chart.
    pub title: String,
    /// Label of each segment, by index (the legend).
    pub segments: Vec<String>,
    /// The bars, top to bottom.
    pub bars: Vec<StackedBar>,
    /// Label of the x axis.
    pub x_label: String,
    /// Legend of the grey segment that fills a bar to 100% where shares
    /// are hidden (drawn only then), e.g. "hidden (x)".
    pub hidden: String,
}

/// One line of a forest plot.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    /// Label of the row, e.g. a group.
    pub label: String,
    /// The ratio (positive).
    pub estimate: f64,
    /// Lower end of its interval (positive).
    pub low: f64,
    /// Upper end of its interval (finite).
    pub high: f64,
    /// Part of a finding: drawn as a larger diamond in another colour, its
    /// label marked with ◆ (not colour alone).
    pub finding: bool,
}

/// Data of a forest plot of ratios on a log scale, with the reference line
/// at 1 and the practical band shaded.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestChart {
    /// Title above the chart.
    pub title: String,
    /// The lines, top to bottom.
    pub rows: Vec<ForestRow>,
    /// The practical band `[low, high]`, shaded.
    pub band: [f64; 2],
    /// Label of the x axis.
    pub x_label: String,
    /// Decimal separator of the axis labels (`.` or `,`).
    pub decimal: char,
    /// Legend of the ◆ mark, e.g. "◆ part of a finding" (drawn only when a
    /// row is marked).
    pub finding_label: String,
}

/// One point of a scatter plot with its interval on both axes.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterPoint {
    /// Value for the reference group.
    pub x: f64,
    /// Value for the group.
    pub y: f64,
    /// Interval of `x`.
    pub x_ci: [f64; 2],
    /// Interval of `y`.
    pub y_ci: [f64; 2],
    /// Marker area scales with this (e.g. stops).
    pub weight: f64,
}

/// Data of a scatter plot of one quantity for a group (y) against the
/// reference group (x), per location, with the diagonal y = x: the
/// threshold test's figure (Simoiu et al. 2017, fig. 4b). Points below the
/// diagonal: the group's value is lower.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterChart {
    /// Title above the chart.
    pub title: String,
    /// One point per location.
    pub points: Vec<ScatterPoint>,
    /// Label of the x axis (the reference group's value).
    pub x_label: String,
    /// Label of the y axis (the group's value).
    pub y_label: String,
    /// Decimal separator of the axis labels (`.` or `,`).
    pub decimal: char,
}

/// A chart in any of the supported forms.
#[derive(Debug, Clone, PartialEq)]
pub enum Chart {
    /// A stacked bar chart of shares.
    Stacked(StackedChart),
    /// A forest plot of ratios.
    Forest(ForestChart),
    /// A scatter plot of a group against the reference group.
    Scatter(ScatterChart),
    /// A line chart over periods.
    Line(LineChart),
}

/// One line of a line chart: a value per period (`None`: not drawn, e.g.
/// suppressed or undefined), with its interval drawn as a band.
#[derive(Debug, Clone, PartialEq)]
pub struct LineSeries {
    /// Label of the line (a group).
    pub label: String,
    /// Per period of the chart: the value and its interval, or `None`.
    pub points: Vec<Option<(f64, [f64; 2])>>,
}

/// Data of a line chart over periods with interval bands (the trends).
#[derive(Debug, Clone, PartialEq)]
pub struct LineChart {
    /// Title above the chart.
    pub title: String,
    /// Period labels along the x axis, e.g. `2025-Q1`.
    pub periods: Vec<String>,
    /// The lines.
    pub series: Vec<LineSeries>,
    /// Label of the y axis.
    pub y_label: String,
    /// Values are shares, drawn as percentages.
    pub percent: bool,
    /// A horizontal reference line (1 for ratios).
    pub reference: Option<f64>,
    /// Decimal separator of the axis labels (`.` or `,`).
    pub decimal: char,
}

const WIDTH: u32 = 860;

impl Chart {
    fn height(&self) -> u32 {
        let rows = match self {
            Chart::Stacked(c) => c.bars.len(),
            Chart::Forest(c) => c.rows.len(),
            Chart::Scatter(_) => return 480,
            Chart::Line(c) => {
                let rows = c.series.len().div_ceil(PANEL_COLUMNS).max(1) as u32;
                return PANEL_TITLE + PANEL_HEIGHT * rows;
            }
        } as u32;
        let legend = match self {
            Chart::Stacked(c) => 8 + LEGEND_ROW * stacked_legend_rows(c),
            Chart::Forest(c) if c.rows.iter().any(|r| r.finding) => FOREST_LEGEND,
            _ => 0,
        };
        100 + legend + 28 * rows.max(1)
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        root.fill(&WHITE)?;
        match self {
            Chart::Stacked(c) => draw_stacked(c, &root)?,
            Chart::Forest(c) => draw_forest(c, &root)?,
            Chart::Scatter(c) => draw_scatter(c, &root)?,
            Chart::Line(c) => draw_line(c, &root)?,
        }
        root.present()
    }

    /// The chart as an SVG document.
    pub fn svg(&self) -> String {
        register_font();
        let mut out = String::new();
        {
            let root =
                SVGBackend::with_string(&mut out, (WIDTH, self.height())).into_drawing_area();
            self.draw(root).expect("drawing into a string cannot fail");
        }
        crate::output::without_bidi_controls(&out).into_owned()
    }

    /// The chart as a standalone SVG file: the font is embedded, so its text
    /// renders the same with or without fonts installed.
    pub fn svg_file(&self) -> String {
        let svg = self.svg();
        match svg.find('>') {
            Some(i) if svg.starts_with("<svg") => {
                format!(
                    "{}\n<defs><style>{}</style></defs>{}",
                    &svg[..=i],
                    font_face_css(),
                    &svg[i + 1..]
                )
            }
            _ => svg,
        }
    }

    /// Writes the chart as a PNG file.
    pub fn png(&self, path: &std::path::Path) -> Result<(), String> {
        register_font();
        let root = BitMapBackend::new(path, (WIDTH, self.height())).into_drawing_area();
        self.draw(root).map_err(|e| e.to_string())
    }
}

fn label_width(labels: impl Iterator<Item = usize>) -> u32 {
    (labels.max().unwrap_or(8) as u32 * 9 + 16).clamp(90, 380)
}

/// The label of the category at a y segment centre (rows are drawn top down).
fn category_label(labels: &[String], y: &SegmentValue<i32>) -> String {
    match y {
        SegmentValue::CenterOf(v) if (*v as usize) < labels.len() => {
            labels[labels.len() - 1 - *v as usize].clone()
        }
        _ => String::new(),
    }
}

/// Row `i` (0 = top) of `n` as a y segment.
fn row(i: usize, n: usize) -> i32 {
    (n - 1 - i) as i32
}

fn draw_stacked<DB: DrawingBackend>(
    c: &StackedChart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let (top, bottom) =
        root.split_vertically(root.dim_in_pixel().1 - LEGEND_ROW * stacked_legend_rows(c) - 8);
    let labels: Vec<String> = c.bars.iter().map(|b| b.label.clone()).collect();
    let n = labels.len().max(1);
    let mut chart = ChartBuilder::on(&top)
        .caption(&c.title, (FONT, TITLE))
        .margin(8)
        // Room for the last tick label, "100%".
        .margin_right(28)
        .x_label_area_size(36)
        .y_label_area_size(label_width(labels.iter().map(|l| l.chars().count())))
        .build_cartesian_2d(0f64..100f64, (0..n as i32).into_segmented())?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(c.x_label.as_str())
        .x_label_formatter(&|x| format!("{x:.0}%"))
        .y_labels(n)
        .y_label_formatter(&|y| category_label(&labels, y))
        .label_style((FONT, LABEL))
        .draw()?;
    for (i, bar) in c.bars.iter().enumerate() {
        let y = row(i, n);
        let mut x = 0.0;
        for (s, share) in bar.shares.iter().enumerate() {
            if let Some(share) = share {
                let w = 100.0 * share;
                let mut rect = Rectangle::new(
                    [
                        (x, SegmentValue::Exact(y)),
                        (x + w, SegmentValue::Exact(y + 1)),
                    ],
                    PALETTE[s % PALETTE.len()].filled(),
                );
                rect.set_margin(4, 4, 0, 0);
                chart.draw_series(std::iter::once(rect))?;
                x += w;
            }
        }
        // The hidden shares together, in grey: the bar reaches 100%.
        if bar.shares.iter().any(Option::is_none) && x < 100.0 - 1e-9 {
            let mut rect = Rectangle::new(
                [
                    (x, SegmentValue::Exact(y)),
                    (100.0, SegmentValue::Exact(y + 1)),
                ],
                HIDDEN.filled(),
            );
            rect.set_margin(4, 4, 0, 0);
            chart.draw_series(std::iter::once(rect))?;
        }
    }
    // Legend below: a square and a name per segment (and the hidden one),
    // laid out by the names' widths, on as many rows as they need.
    for (name, x, row) in stacked_legend(c) {
        let colour = c
            .segments
            .iter()
            .position(|s| s == name)
            .map_or(HIDDEN, |s| PALETTE[s % PALETTE.len()]);
        let y = 10 + LEGEND_ROW as i32 * row as i32;
        bottom.draw(&Rectangle::new([(x, y), (x + 12, y + 12)], colour.filled()))?;
        bottom.draw(&Text::new(
            name.to_string(),
            (x + 16, y - 1),
            (FONT, LABEL).into_font(),
        ))?;
    }
    Ok(())
}

/// Height of a forest plot's legend of the ◆ mark.
const FOREST_LEGEND: u32 = 28;

/// Height of a legend row in pixels.
const LEGEND_ROW: u32 = 24;

/// Rows of a stacked chart's legend.
fn stacked_legend_rows(c: &StackedChart) -> u32 {
    stacked_legend(c)
        .iter()
        .map(|&(_, _, r)| r)
        .max()
        .unwrap_or(0) as u32
        + 1
}

/// Where each legend entry of a stacked chart goes: (name, x, row). An
/// entry takes its name's width (about 9 pixels a character at 15 px) plus
/// the square and a gap; a row holds what fits in the chart's width.
fn stacked_legend(c: &StackedChart) -> Vec<(&str, i32, usize)> {
    let any_hidden = c.bars.iter().any(|b| b.shares.iter().any(Option::is_none));
    let names = c
        .segments
        .iter()
        .map(String::as_str)
        .chain(any_hidden.then_some(c.hidden.as_str()));
    let (mut x, mut row) = (10, 0);
    let mut placed = Vec::new();
    for name in names {
        let width = 16 + 9 * name.chars().count() as i32 + 24;
        if x > 10 && x + width > WIDTH as i32 - 10 {
            (x, row) = (10, row + 1);
        }
        placed.push((name, x, row));
        x += width;
    }
    placed
}

fn ratio_ticks(lo: f64, hi: f64) -> Vec<f64> {
    const TICKS: [f64; 19] = [
        0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.33, 0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0, 3.0, 4.0, 5.0,
        10.0, 20.0,
    ];
    let inside: Vec<f64> = TICKS
        .into_iter()
        .filter(|t| (lo..=hi).contains(t))
        .collect();
    if inside.len() <= 11 {
        return inside;
    }
    // On a wide axis the finer ticks would crowd: every other one, 1 kept.
    let one = inside.iter().position(|&t| t == 1.0).unwrap_or(0);
    inside
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i.abs_diff(one) % 2 == 0)
        .map(|(_, t)| t)
        .collect()
}

/// A tick label: at most two decimals, trailing zeros dropped (1, 1.25, 0.5).
fn tick_label(x: f64, decimal: char) -> String {
    let text = format!("{x:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    text.replace('.', &decimal.to_string())
}

fn draw_forest<DB: DrawingBackend>(
    c: &ForestChart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let n = c.rows.len().max(1);
    let lo = c
        .rows
        .iter()
        .map(|r| r.low)
        .fold(c.band[0], f64::min)
        .max(1e-2)
        * 0.9;
    let hi = c
        .rows
        .iter()
        .map(|r| r.high)
        .fold(c.band[1], f64::max)
        .min(1e2)
        * 1.1;
    let marked = c.rows.iter().any(|r| r.finding);
    let labels: Vec<String> = c
        .rows
        .iter()
        .map(|r| {
            if r.finding {
                format!("{} ◆", r.label)
            } else {
                r.label.clone()
            }
        })
        .collect();
    let (area, legend) = if marked {
        let (a, l) = root.split_vertically(root.dim_in_pixel().1 - FOREST_LEGEND);
        (a, Some(l))
    } else {
        (root.clone(), None)
    };
    let ticks = ratio_ticks(lo, hi);
    let mut chart = ChartBuilder::on(&area)
        .caption(&c.title, (FONT, TITLE))
        .margin(8)
        .x_label_area_size(44)
        .y_label_area_size(label_width(labels.iter().map(|l| l.chars().count())))
        .build_cartesian_2d(
            (lo..hi).log_scale().with_key_points(ticks),
            (0..n as i32).into_segmented(),
        )?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .x_desc(c.x_label.as_str())
        .x_label_formatter(&|x| tick_label(*x, c.decimal))
        .y_labels(n)
        .y_label_formatter(&|y| category_label(&labels, y))
        .label_style((FONT, LABEL))
        .draw()?;
    // The practical band, then the reference line at 1.
    chart.draw_series(std::iter::once(Rectangle::new(
        [
            (c.band[0], SegmentValue::Exact(0)),
            (c.band[1], SegmentValue::Last),
        ],
        RGBColor(225, 225, 225).filled(),
    )))?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(1.0, SegmentValue::Exact(0)), (1.0, SegmentValue::Last)],
        BLACK.stroke_width(1),
    )))?;
    for (i, r) in c.rows.iter().enumerate() {
        let y = SegmentValue::CenterOf(row(i, n));
        let (low, high) = (r.low.clamp(lo, hi), r.high.clamp(lo, hi));
        // Every line the same weight; a finding differs in colour and mark.
        let colour = if r.finding { PALETTE[5] } else { PALETTE[0] };
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(low, y.clone()), (high, y.clone())],
            colour.stroke_width(2),
        )))?;
        let at = (r.estimate.clamp(lo, hi), y);
        if r.finding {
            chart.draw_series(std::iter::once(EmptyElement::at(at) + diamond(7, colour)))?;
        } else {
            chart.draw_series(std::iter::once(Circle::new(at, 4, colour.filled())))?;
        }
    }
    if let Some(legend) = legend {
        legend.draw(&(EmptyElement::at((20, 12)) + diamond(7, PALETTE[5])))?;
        legend.draw(&Text::new(
            c.finding_label.clone(),
            (34, 4),
            (FONT, LABEL).into_font(),
        ))?;
    }
    Ok(())
}

/// A filled diamond of half-width `r` around its anchor.
fn diamond(r: i32, colour: RGBColor) -> Polygon<(i32, i32)> {
    Polygon::new(vec![(0, -r), (r, 0), (0, r), (-r, 0)], colour.filled())
}

/// Panels per row of a trend chart's small multiples.
const PANEL_COLUMNS: usize = 2;
/// Height of one panel, and of the title above the panels.
const PANEL_HEIGHT: u32 = 200;
const PANEL_TITLE: u32 = 56;

/// Trends as small multiples: one panel per group, the same periods in
/// every panel; ratios on one value range (they compare around 1), shares
/// of stops each on their own (a group with 1% of the stops would lie flat
/// on an axis to 75%); each line with its interval band.
fn draw_line<DB: DrawingBackend>(
    c: &LineChart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let scale = if c.percent { 100.0 } else { 1.0 };
    // The value range of some series (with the reference line), padded.
    let range = |series: &[&LineSeries]| {
        let (mut lo, mut hi) = series
            .iter()
            .flat_map(|s| s.points.iter().flatten())
            .flat_map(|(v, ci)| [*v, ci[0], ci[1]])
            .filter(|v| v.is_finite())
            .map(|v| v * scale)
            .chain(c.reference)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
        if !lo.is_finite() {
            (lo, hi) = (0.0, 1.0);
        }
        let pad = ((hi - lo) * 0.05).max(1e-6);
        (
            if c.percent {
                (lo - pad).max(0.0)
            } else {
                lo - pad
            },
            hi + pad,
        )
    };
    // Ratios share one axis (they compare around 1); shares of stops get
    // each their own, or a small group's line lies flat at the bottom.
    let all: Vec<&LineSeries> = c.series.iter().collect();
    let shared = range(&all);
    let (head, body) = root.split_vertically(PANEL_TITLE);
    head.draw(&Text::new(
        c.title.clone(),
        (10, 6),
        (FONT, TITLE).into_font(),
    ))?;
    head.draw(&Text::new(
        c.y_label.clone(),
        (10, 32),
        (FONT, LABEL).into_font().color(&RGBColor(85, 85, 85)),
    ))?;
    let columns = PANEL_COLUMNS.min(c.series.len().max(1));
    let rows = c.series.len().div_ceil(columns).max(1);
    let panels = body.split_evenly((rows, columns));
    let n = c.periods.len().max(1);
    let periods = c.periods.clone();
    let decimal = c.decimal.to_string();
    for (series, panel) in c.series.iter().zip(panels.iter()) {
        let (lo, hi) = if c.percent { range(&[series]) } else { shared };
        let mut chart = ChartBuilder::on(panel)
            .caption(&series.label, (FONT, LABEL))
            .margin(8)
            .x_label_area_size(30)
            .y_label_area_size(62)
            .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
        chart
            .configure_mesh()
            .x_labels(n.min(6))
            .x_label_formatter(&|x| {
                let i = x.round();
                if (x - i).abs() < 1e-6 && i >= 0.0 {
                    periods.get(i as usize).cloned().unwrap_or_default()
                } else {
                    String::new()
                }
            })
            .y_labels(5)
            .y_label_formatter(&|y| {
                let text = if c.percent && hi - lo >= 5.0 {
                    format!("{y:.0}%")
                } else if c.percent {
                    format!("{y:.1}%")
                } else {
                    format!("{y:.2}")
                };
                text.replace('.', &decimal)
            })
            .label_style((FONT, LABEL))
            .draw()?;
        if let Some(r) = c.reference {
            chart.draw_series(std::iter::once(PathElement::new(
                vec![(-0.5, r), (n as f64 - 0.5, r)],
                BLACK.stroke_width(1),
            )))?;
        }
        let colour = PALETTE[0];
        // Runs of consecutive defined points: a band and a line each.
        let mut runs: Vec<Vec<(f64, f64, [f64; 2])>> = vec![Vec::new()];
        for (i, p) in series.points.iter().enumerate() {
            match p {
                Some((v, ci)) => runs.last_mut().expect("a run").push((
                    i as f64,
                    v * scale,
                    [ci[0] * scale, ci[1] * scale],
                )),
                None => runs.push(Vec::new()),
            }
        }
        for run in runs.iter().filter(|r| !r.is_empty()) {
            let band: Vec<(f64, f64)> = run
                .iter()
                .map(|&(x, _, ci)| (x, ci[1].min(hi)))
                .chain(run.iter().rev().map(|&(x, _, ci)| (x, ci[0].max(lo))))
                .collect();
            chart.draw_series(std::iter::once(Polygon::new(
                band,
                colour.mix(0.2).filled(),
            )))?;
            chart.draw_series(std::iter::once(PathElement::new(
                run.iter().map(|&(x, v, _)| (x, v)).collect::<Vec<_>>(),
                colour.stroke_width(2),
            )))?;
            chart.draw_series(
                run.iter()
                    .map(|&(x, v, _)| Circle::new((x, v), 3, colour.filled())),
            )?;
        }
    }
    Ok(())
}

fn draw_scatter<DB: DrawingBackend>(
    c: &ScatterChart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    // A square plot on a common axis from 0 to just above the largest upper bound.
    let top = c
        .points
        .iter()
        .flat_map(|p| [p.x_ci[1], p.y_ci[1]])
        .filter(|v| v.is_finite())
        .fold(0.05, f64::max)
        .min(1.0)
        * 1.05;
    // Square, centred.
    let (width, height) = root.dim_in_pixel();
    let side = height + 40;
    let (_, rest) = root.split_horizontally(width.saturating_sub(side) / 2);
    let (plot, _) = rest.split_horizontally(side);
    let mut chart = ChartBuilder::on(&plot)
        .caption(&c.title, (FONT, TITLE))
        .margin(8)
        .x_label_area_size(40)
        .y_label_area_size(56)
        .build_cartesian_2d(0.0..top, 0.0..top)?;
    let decimal = c.decimal.to_string();
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .x_desc(c.x_label.as_str())
        .y_desc(c.y_label.as_str())
        .x_label_formatter(&|v| format!("{v:.2}").replace('.', &decimal))
        .y_label_formatter(&|v| format!("{v:.2}").replace('.', &decimal))
        .label_style((FONT, LABEL))
        .draw()?;
    chart.draw_series(std::iter::once(PathElement::new(
        vec![(0.0, 0.0), (top, top)],
        BLACK.stroke_width(1),
    )))?;
    let max_weight = c.points.iter().map(|p| p.weight).fold(1.0, f64::max);
    let colour = PALETTE[0].mix(0.35);
    for p in &c.points {
        chart.draw_series([
            PathElement::new(
                vec![(p.x_ci[0], p.y), (p.x_ci[1], p.y)],
                colour.stroke_width(1),
            ),
            PathElement::new(
                vec![(p.x, p.y_ci[0]), (p.x, p.y_ci[1])],
                colour.stroke_width(1),
            ),
        ])?;
    }
    chart.draw_series(c.points.iter().map(|p| {
        let radius = (3.0 + 9.0 * (p.weight / max_weight).sqrt()).round() as i32;
        Circle::new((p.x, p.y), radius, PALETTE[0].mix(0.8).stroke_width(2))
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_is_deterministic_and_has_the_labels() {
        let chart = Chart::Forest(ForestChart {
            title: "Rate ratios".into(),
            rows: vec![
                ForestRow {
                    label: "A · behaviour".into(),
                    estimate: 0.7,
                    low: 0.5,
                    high: 0.9,
                    finding: true,
                },
                ForestRow {
                    label: "B <x> & y".into(),
                    estimate: 1.2,
                    low: 0.9,
                    high: 1.6,
                    finding: false,
                },
            ],
            band: [0.8, 1.25],
            x_label: "rate ratio".into(),
            decimal: ',',
            finding_label: "part of a finding".into(),
        });
        let a = chart.svg();
        assert_eq!(a, chart.svg());
        assert!(a.starts_with("<svg"));
        assert!(a.contains("A · behaviour"));
        // Ticks a reader can use, in Dutch with a decimal comma: 0,5, 0,67,
        // 0,8, 1, 1,25, 1,5.
        let ticks: Vec<&str> = a.lines().map(str::trim).collect();
        for tick in ["0,5", "0,67", "0,8", "1", "1,25", "1,5"] {
            assert!(ticks.contains(&tick), "no tick {tick}");
        }
        // A finding: marked in its label and in the legend, not by colour alone.
        assert!(a.contains("A · behaviour ◆") && a.contains("part of a finding"));
        assert!(!a.contains("B &lt;x&gt; &amp; y ◆"));
        // Labels from the data are escaped by the SVG backend.
        assert!(!a.contains("<x>"));
    }

    #[test]
    fn ratio_ticks_are_reciprocal_pairs_and_never_crowd() {
        assert_eq!(
            ratio_ticks(0.45, 2.2),
            [0.5, 0.67, 0.8, 1.0, 1.25, 1.5, 2.0]
        );
        let wide = ratio_ticks(0.009, 25.0);
        assert!(wide.len() <= 11 && wide.contains(&1.0), "{wide:?}");
        assert_eq!(tick_label(0.67, ','), "0,67");
        assert_eq!(tick_label(1.0, '.'), "1");
        assert_eq!(tick_label(1.25, '.'), "1.25");
    }

    #[test]
    fn suppressed_segments_are_not_drawn() {
        let with = Chart::Stacked(StackedChart {
            title: "t".into(),
            segments: vec!["a".into(), "b".into()],
            bars: vec![StackedBar {
                label: "g".into(),
                shares: vec![Some(0.5), Some(0.5)],
            }],
            x_label: "share".into(),
            hidden: "hidden (x)".into(),
        });
        let without = Chart::Stacked(StackedChart {
            title: "t".into(),
            segments: vec!["a".into(), "b".into()],
            bars: vec![StackedBar {
                label: "g".into(),
                shares: vec![Some(0.5), None],
            }],
            x_label: "share".into(),
            hidden: "hidden (x)".into(),
        });
        // The hidden share is not drawn as itself: one grey segment fills
        // the bar to 100%, with its own legend square.
        let (w, wo) = (with.svg(), without.svg());
        let count = |s: &str| s.matches("<rect").count();
        assert_eq!(count(&wo), count(&w) + 1);
        assert!(wo.contains("hidden (x)") && !w.contains("hidden (x)"));
    }
}
