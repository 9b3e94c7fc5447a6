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
    Text(String),
    /// Shown as `<k`, never as a number or a bar.
    Suppressed(u64),
}

impl Cell {
    pub fn text(&self) -> String {
        match self {
            Cell::Text(t) => t.clone(),
            Cell::Suppressed(k) => format!("<{k}"),
        }
    }
}

/// A table with a caption and one header row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    /// Columns holding numbers (right-aligned).
    pub numeric: Vec<bool>,
}

/// One piece of a section.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Paragraph(String),
    /// A list of items, each with an optional link target (section anchor)
    /// and an optional severity label shown in words (not colour alone).
    List(Vec<ListItem>),
    Table(Table),
    /// Preformatted text (configuration, command line).
    Code(String),
    Subheading(String),
    /// A chart, with its file stem (for PNG/SVG files) and a text alternative.
    Chart {
        name: String,
        chart: charts::Chart,
        alt: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct ListItem {
    /// A leading label (a finding's severity, in the report's language).
    pub label: Option<String>,
    /// The severity behind the label, which the renderers style by (never
    /// by the translated words).
    pub severity: Option<crate::analysis::findings::Severity>,
    pub text: String,
    pub link: Option<(String, String)>,
}

/// A numbered section with an anchor.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    pub anchor: String,
    pub title: String,
    pub blocks: Vec<Block>,
}

/// The whole report.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub lang: crate::i18n::Lang,
    pub title: String,
    pub subtitle: String,
    pub toc_title: String,
    pub sections: Vec<Section>,
}

impl Document {
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
