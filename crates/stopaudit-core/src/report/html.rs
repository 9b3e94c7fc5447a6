//! The report as one self-contained HTML file: inline CSS, the font embedded
//! as a data URL, no scripts, nothing fetched from anywhere (a
//! Content-Security-Policy forbids it), a print stylesheet (A4 pages
//! numbered in the margin, the table of contents printed, tables at full
//! page width in a smaller type with their headers repeated on every page,
//! so that no column is cut at the page edge; the rows a table marks as
//! detail left out with a line saying how many), table headers with scope,
//! and severity in words, not colour alone.

use super::{Block, Cell, Document};
use crate::findings::Severity;

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            c if crate::output::is_bidi_control(c) => {}
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// The policy: nothing may be loaded; only the inline style and inline images (charts) are allowed.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; script-src 'none'; connect-src 'none'; form-action 'none'; base-uri 'none'";

const STYLE: &str = r#"
:root { --ink: #1b1b1b; --muted: #555; --rule: #c8c8c8; --accent: #0072b2; --high: #d55e00; --medium: #e69f00; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", "Segoe UI", Arial, sans-serif; color: var(--ink); max-width: 72rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.45; }
h1 { font-size: 1.8rem; margin-bottom: .2rem; }
.subtitle { color: var(--muted); margin-top: 0; }
h2 { border-bottom: 2px solid var(--accent); padding-bottom: .2rem; margin-top: 2.5rem; }
h3 { margin-top: 1.5rem; }
.table-wrap { overflow-x: auto; margin: .5rem 0 1.5rem; }
figure { margin: 1rem 0; overflow-x: auto; }
figure svg { max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: .85rem; }
table { border-collapse: collapse; font-size: .9rem; }
caption { text-align: left; font-weight: bold; padding: .3rem 0; }
th, td { border-bottom: 1px solid var(--rule); padding: .25rem .6rem; vertical-align: top; unicode-bidi: isolate; }
th { text-align: left; background: #f2f2f2; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.suppressed { color: var(--muted); font-style: italic; }
pre { background: #f6f6f6; padding: .7rem; overflow-x: auto; font-size: .8rem; white-space: pre-wrap; overflow-wrap: anywhere; }
.severity { font-weight: bold; border: 1px solid var(--ink); border-radius: 3px; padding: 0 .35rem; margin-right: .4rem; font-size: .8rem; }
.severity-high { background: var(--high); color: #000; }
.severity-medium { background: var(--medium); color: #000; }
.severity-withheld { background: #fff; border-style: dashed; }
.severity-data-quality { background: #e8e8e8; }
li { margin-bottom: .5rem; }
nav ol { columns: 2; }
@page {
  size: A4; margin: 14mm 12mm 16mm;
  @bottom-right { content: counter(page) " / " counter(pages); font-family: "DejaVu Sans", sans-serif; font-size: 8pt; color: #555; }
}
.print-only { display: none; }
@media print {
  body { max-width: none; margin: 0; font-size: 9.5pt; line-height: 1.35; }
  h1 { font-size: 16pt; }
  h2 { font-size: 13pt; margin-top: 1.2rem; }
  h3 { font-size: 11pt; margin-top: .9rem; }
  h2, h3, caption { break-after: avoid; page-break-after: avoid; }
  .table-wrap, figure { overflow: visible; }
  figure { break-inside: avoid; page-break-inside: avoid; margin: .5rem 0; }
  table { width: 100%; font-size: 7.5pt; }
  th, td { padding: .1rem .25rem; }
  thead { display: table-header-group; }
  tr.detail { display: none; }
  .print-only { display: block; color: var(--muted); font-size: 8pt; margin-top: -.3rem; }
  nav ol { font-size: 9pt; margin: .2rem 0; }
  nav h2 { border: none; font-size: 11pt; margin: .6rem 0 .2rem; }
  nav li { margin-bottom: 0; }
  section:first-of-type { break-before: auto; }
  tr { break-inside: avoid; page-break-inside: avoid; }
  pre { font-size: 7.5pt; }
  pre.long { columns: 2; column-gap: 6mm; }
  .table-wrap.all-detail { display: none; }
  a { color: inherit; text-decoration: none; }
}
"#;

/// The whole report as one HTML page: head with the policy and style, table of contents, then each
/// section numbered from 1.
pub fn render(doc: &Document) -> String {
    let mut s = String::new();
    s.push_str("<!DOCTYPE html>\n");
    s.push_str(&format!(
        "<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n",
        doc.lang.code()
    ));
    s.push_str(&format!(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"{CONTENT_SECURITY_POLICY}\">\n"
    ));
    s.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    // The font is embedded (not fetched): text and charts look the same everywhere, on screen and in print.
    s.push_str(&format!(
        "<title>{}</title>\n<style>{}\n{STYLE}</style>\n</head>\n<body>\n",
        escape(&doc.title),
        super::charts::font_face_css()
    ));
    s.push_str(&format!(
        "<header>\n<h1>{}</h1>\n<p class=\"subtitle\">{}</p>\n</header>\n",
        escape(&doc.title),
        escape(&doc.subtitle)
    ));
    s.push_str(&format!(
        "<nav aria-label=\"{0}\">\n<h2>{0}</h2>\n<ol>\n",
        escape(&doc.toc_title)
    ));
    for sec in &doc.sections {
        s.push_str(&format!(
            "<li><a href=\"#{}\">{}</a></li>\n",
            sec.anchor,
            escape(&sec.title)
        ));
    }
    s.push_str("</ol>\n</nav>\n<main>\n");
    for (i, sec) in doc.sections.iter().enumerate() {
        s.push_str(&format!(
            "<section id=\"{}\">\n<h2>{}. {}</h2>\n",
            sec.anchor,
            i + 1,
            escape(&sec.title)
        ));
        for block in &sec.blocks {
            match block {
                Block::Paragraph(t) => s.push_str(&format!("<p>{}</p>\n", escape(t))),
                Block::Subheading(t) => s.push_str(&format!("<h3>{}</h3>\n", escape(t))),
                // A long block (the configuration) prints in two columns.
                Block::Code(t) if t.lines().count() > 12 => {
                    s.push_str(&format!("<pre class=\"long\">{}</pre>\n", escape(t)))
                }
                Block::Code(t) => s.push_str(&format!("<pre>{}</pre>\n", escape(t))),
                Block::Chart { chart, alt, .. } => {
                    let svg = chart.svg();
                    let svg = svg.trim_start_matches(|c| c != '<');
                    s.push_str(&format!(
                        "<figure role=\"img\" aria-label=\"{0}\">\n{svg}\n<figcaption>{0}</figcaption>\n</figure>\n",
                        escape(alt)
                    ));
                }
                Block::List(items) => {
                    s.push_str("<ul>\n");
                    for item in items {
                        s.push_str("<li>");
                        if let Some(l) = &item.label {
                            let class = severity_class(item.severity);
                            s.push_str(&format!(
                                "<span class=\"severity {class}\">{}</span>",
                                escape(l)
                            ));
                        }
                        s.push_str(&escape(&item.text));
                        if let Some((anchor, label)) = &item.link {
                            s.push_str(&format!(" (<a href=\"#{anchor}\">{}</a>)", escape(label)));
                        }
                        s.push_str("</li>\n");
                    }
                    s.push_str("</ul>\n");
                }
                Block::Table(t) => {
                    // A table whose rows are all detail is left out of
                    // print whole (its line says how many rows).
                    let all_detail = !t.rows.is_empty() && t.detail_rows() == t.rows.len();
                    s.push_str(&format!(
                        "<div class=\"table-wrap{}\">\n<table>\n<caption>{}</caption>\n<thead><tr>",
                        if all_detail { " all-detail" } else { "" },
                        escape(&t.caption)
                    ));
                    for h in &t.header {
                        s.push_str(&format!("<th scope=\"col\">{}</th>", escape(h)));
                    }
                    s.push_str("</tr></thead>\n<tbody>\n");
                    for (i, row) in t.rows.iter().enumerate() {
                        s.push_str(if t.detail.get(i) == Some(&true) {
                            "<tr class=\"detail\">"
                        } else {
                            "<tr>"
                        });
                        for (j, cell) in row.iter().enumerate() {
                            let numeric = t.numeric.get(j) == Some(&true);
                            match (j, cell) {
                                (0, c) => s.push_str(&format!(
                                    "<th scope=\"row\">{}</th>",
                                    escape(&c.text())
                                )),
                                (_, Cell::Suppressed(_)) => s.push_str(&format!(
                                    "<td class=\"num suppressed\" title=\"hidden\">{}</td>",
                                    escape(&cell.text())
                                )),
                                (_, c) => s.push_str(&format!(
                                    "<td{}>{}</td>",
                                    if numeric { " class=\"num\"" } else { "" },
                                    escape(&c.text())
                                )),
                            }
                        }
                        s.push_str("</tr>\n");
                    }
                    s.push_str("</tbody>\n</table>\n</div>\n");
                    let left_out = t.detail_rows();
                    if left_out > 0 {
                        s.push_str(&format!(
                            "<p class=\"print-only\">{}</p>\n",
                            escape(&doc.print_left_out.replace("{n}", &left_out.to_string()))
                        ));
                    }
                }
            }
        }
        s.push_str("</section>\n");
    }
    s.push_str("</main>\n</body>\n</html>\n");
    s
}

/// CSS class for a label's severity (the label's words carry the meaning;
/// colour only adds to it).
fn severity_class(severity: Option<Severity>) -> &'static str {
    match severity {
        Some(Severity::High) => "severity-high",
        Some(Severity::Medium) => "severity-medium",
        Some(Severity::Withheld) => "severity-withheld",
        Some(Severity::DataQuality) => "severity-data-quality",
        _ => "severity-other",
    }
}
