//! The report as Markdown (GitHub-flavoured tables), for a letter or a wiki.

use super::{Block, Document};

/// Escapes text for Markdown: characters that would start markup, and `|` in tables.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            c if crate::output::is_bidi_control(c) => {}
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' | '\r' => out.push(' '),
            _ => out.push(ch),
        }
    }
    out
}

/// Renders the document; `chart_ext` is the extension of the chart files
/// written to `charts/` next to the Markdown file, if any (charts are
/// linked as images then, and left out otherwise).
pub fn render(doc: &Document, chart_ext: Option<&str>) -> String {
    let mut s = format!("# {}\n\n{}\n\n", escape(&doc.title), escape(&doc.subtitle));
    s.push_str(&format!("**{}**\n\n", escape(&doc.toc_title)));
    for (i, sec) in doc.sections.iter().enumerate() {
        s.push_str(&format!(
            "{}. [{}](#{})\n",
            i + 1,
            escape(&sec.title),
            sec.anchor
        ));
    }
    s.push('\n');
    for (i, sec) in doc.sections.iter().enumerate() {
        s.push_str(&format!(
            "<a id=\"{}\"></a>\n\n## {}. {}\n\n",
            sec.anchor,
            i + 1,
            escape(&sec.title)
        ));
        for block in &sec.blocks {
            match block {
                Block::Paragraph(t) => s.push_str(&format!("{}\n\n", escape(t))),
                Block::Subheading(t) => s.push_str(&format!("### {}\n\n", escape(t))),
                Block::Chart { name, alt, .. } => {
                    if let Some(ext) = chart_ext {
                        s.push_str(&format!("![{}](charts/{name}.{ext})\n\n", escape(alt)));
                    }
                }
                Block::Code(t) => {
                    // A fence longer than any run of backticks in the text
                    // (a file name may hold backticks and line breaks): no
                    // line of it can close the block.
                    let t = crate::output::without_bidi_controls(t);
                    let longest = t.split(|c| c != '`').map(str::len).max().unwrap_or(0);
                    let fence = "`".repeat(longest.max(2) + 1);
                    s.push_str(&format!("{fence}\n{t}\n{fence}\n\n"));
                }
                Block::List(items) => {
                    for item in items {
                        s.push_str("- ");
                        if let Some(l) = &item.label {
                            s.push_str(&format!("**{}**: ", escape(l)));
                        }
                        s.push_str(&escape(&item.text));
                        if let Some((anchor, label)) = &item.link {
                            s.push_str(&format!(" ([{}](#{anchor}))", escape(label)));
                        }
                        s.push('\n');
                    }
                    s.push('\n');
                }
                Block::Table(t) => {
                    s.push_str(&format!("*{}*\n\n", escape(&t.caption)));
                    let head: Vec<String> = t.header.iter().map(|h| escape(h)).collect();
                    s.push_str(&format!("| {} |\n", head.join(" | ")));
                    let align: Vec<&str> = (0..t.header.len())
                        .map(|i| {
                            if t.numeric.get(i) == Some(&true) {
                                "---:"
                            } else {
                                "---"
                            }
                        })
                        .collect();
                    s.push_str(&format!("| {} |\n", align.join(" | ")));
                    for row in &t.rows {
                        let cells: Vec<String> = row.iter().map(|c| escape(&c.text())).collect();
                        s.push_str(&format!("| {} |\n", cells.join(" | ")));
                    }
                    s.push('\n');
                }
            }
        }
    }
    s
}
