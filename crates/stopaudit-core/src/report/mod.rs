//! The report an analyst can publish, built once as a document of blocks
//! and rendered to Markdown and HTML, so both have the same sections,
//! tables and text, in English or Dutch.

pub mod build;
pub mod charts;
pub mod html;
pub mod markdown;

/// A table cell: text, or a suppressed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text shown as it is.
    Text(String),
    /// A hidden count (small, or one that would reveal a small one; the
    /// run's `min_cell` is `k`): shown as `x`, as statistical offices mark
    /// confidential cells (CBS: "x = geheim"), never as a number or a bar.
    /// Not `<k`: a complementary cell is hidden at any size.
    Suppressed(u64),
}

impl Cell {
    /// The cell as shown: its text, or `x` for a hidden value.
    pub fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Suppressed(_) => "x".to_string(),
        }
    }
}

/// A table with a caption and one header row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Caption above the table.
    pub caption: String,
    /// Column headings.
    pub header: Vec<String>,
    /// Body rows, one cell per column.
    pub rows: Vec<Vec<Cell>>,
    /// Columns holding numbers (right-aligned).
    pub numeric: Vec<bool>,
    /// Rows the printed report leaves out (one flag per row, or empty for
    /// none): strata without a finding, checks that passed. The screen and
    /// the CSV tables keep every row; print says how many were left out.
    pub detail: Vec<bool>,
}

impl Table {
    /// Rows the printed report leaves out.
    pub fn detail_rows(&self) -> usize {
        self.detail.iter().filter(|&&d| d).count()
    }
}

/// One piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    /// A paragraph of text.
    Paragraph(String),
    /// A list of items, each with an optional link target (section anchor)
    /// and an optional severity label shown in words (not colour alone).
    List(Vec<ListItem>),
    /// A table.
    Table(Table),
    /// Preformatted text (configuration, command line).
    Code(String),
    /// A heading within the section.
    Subheading(String),
    /// A chart, with its file stem (for PNG/SVG files) and a text alternative.
    Chart {
        /// File stem of the chart's PNG or SVG file.
        name: String,
        /// The chart itself.
        chart: charts::Chart,
        /// Text alternative describing the chart.
        alt: String,
    },
}

/// One item of a [`Block::List`].
#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    /// A leading label (a finding's severity, in the report's language).
    pub label: Option<String>,
    /// The severity behind the label, which the renderers style by (never
    /// by the translated words).
    pub severity: Option<crate::findings::Severity>,
    /// The item's text.
    pub text: String,
    /// A link after the text: (section anchor, link text).
    pub link: Option<(String, String)>,
}

impl ListItem {
    /// An item of plain text: no label, no severity, no link.
    pub fn plain(text: String) -> Self {
        ListItem {
            label: None,
            severity: None,
            text,
            link: None,
        }
    }
}

/// A numbered section with an anchor.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Anchor id of the section, e.g. `threshold-test`.
    pub anchor: String,
    /// Title, without its number (the renderers number sections in order).
    pub title: String,
    /// The section's content, in order.
    pub blocks: Vec<Block>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// Language of the report.
    pub lang: crate::i18n::Lang,
    /// Title of the report.
    pub title: String,
    /// Line under the title: period, stops analysed and report date.
    pub subtitle: String,
    /// Heading of the table of contents.
    pub toc_title: String,
    /// The sections, in order (numbered from 1).
    pub sections: Vec<Section>,
    /// The line under a printed table that leaves detail rows out, with
    /// `{n}` for their number.
    pub print_left_out: String,
}

impl Document {
    /// The summary's opening part ("In brief"), as plain lines: its heading,
    /// then each paragraph and list item (with its label) up to the next
    /// heading. What `demo` prints.
    pub fn in_brief(&self) -> Vec<String> {
        let Some(summary) = self.sections.first() else {
            return Vec::new();
        };
        // The heading, then its paragraphs and lists up to the next heading.
        let mut lines = Vec::new();
        for block in &summary.blocks {
            match block {
                Block::Subheading(h) if lines.is_empty() => lines.push(h.clone()),
                Block::Subheading(_) => break,
                Block::Paragraph(p) => lines.push(p.clone()),
                Block::List(items) => lines.extend(items.iter().map(|i| match &i.label {
                    Some(l) => format!("- {l}: {}", i.text),
                    None => format!("- {}", i.text),
                })),
                _ => {}
            }
        }
        lines
    }

    /// Every chart with its file stem, in document order.
    pub fn charts(&self) -> Vec<(&str, &charts::Chart)> {
        self.sections
            .iter()
            .flat_map(|s| s.blocks.iter())
            .filter_map(|b| match b {
                Block::Chart { name, chart, .. } => Some((name.as_str(), chart)),
                _ => None,
            })
            .collect()
    }
}
