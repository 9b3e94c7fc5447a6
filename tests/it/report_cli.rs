//! `stopaudit report`: the same sections in Markdown and HTML, in English
//! and Dutch, escaped, self-contained and byte-identical across runs.

use std::path::{Path, PathBuf};

use crate::common::Succeeds;
use crate::common::stopaudit;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn report(out: &Path, extra: &[&str]) -> (String, String) {
    let o = stopaudit()
        .args(["report", "--quiet", "--out", out.to_str().unwrap()])
        .arg(root().join("datasets/sample/proco_2025_sample.csv"))
        .arg("--config")
        .arg(root().join("datasets/sample/stopaudit.toml"))
        .args(extra)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    (
        std::fs::read_to_string(out.join("report.md")).unwrap_or_default(),
        std::fs::read_to_string(out.join("report.html")).unwrap_or_default(),
    )
}

const SECTIONS_EN: [&str; 11] = [
    "Summary",
    "Data and quality",
    "Justification mix by group",
    "Outcome test (sanction rate)",
    "Stratified comparison",
    "Search funnel",
    "Population benchmark",
    "Veil of darkness",
    "Trends",
    "Methods and caveats",
    "Provenance",
];

#[test]
fn markdown_and_html_have_the_same_sections_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (md, html) = report(dir.path(), &["--lang", "en"]);
    let md_headings: Vec<&str> = md.lines().filter(|l| l.starts_with("## ")).collect();
    assert_eq!(md_headings.len(), 11);
    for (i, (h, want)) in md_headings.iter().zip(SECTIONS_EN).enumerate() {
        assert_eq!(*h, format!("## {}. {want}", i + 1));
        assert!(
            html.contains(&format!("<h2>{}. {want}</h2>", i + 1)),
            "{want}"
        );
    }
    assert_eq!(html.matches("<section id=").count(), 11);
    // Findings link to their sections; severity in words.
    assert!(md.contains(
        "- **Indicative**: Stops of people with nationality Marokkaans under justification 'behaviour'"
    ));
    assert!(html.contains("<span class=\"severity severity-medium\">Indicative</span>"));
    // The message first: at most three patterns, the strongest evidence
    // (holding within strata) first, the search rate read with the find rate.
    let brief = &md[md.find("### In brief").unwrap()..md.find("### Findings").unwrap()];
    assert_eq!(brief.matches("\n- **").count(), 3, "{brief}");
    assert!(
        brief.contains("\n- **Strong**: Searches of people with nationality Turks found something"),
        "{brief}"
    );
    assert!(brief.contains(
        "searched 2.0 times as often with a lower find rate, consistent with a lower search threshold (the threshold test examines it: run with --threshold-test)"
    ));
    assert!(!brief.contains("per 1,000 residents"), "{brief}");
    // Then what found no difference or could not tell, and what was not
    // tested, why and how to test it.
    let besides = brief
        .split("Besides: ")
        .nth(1)
        .unwrap_or_else(|| panic!("{brief}"));
    assert!(besides.starts_with(|c: char| c.is_ascii_digit()), "{brief}");
    assert!(besides.contains(" comparisons found no practically relevant difference, and "));
    assert!(
        brief.contains("Not tested, why, and how to test it:"),
        "{brief}"
    );
    assert!(brief.contains("- Threshold test (does a group need less suspicion to be searched?): not run. Run with --threshold-test"), "{brief}");
    // Where: per unit, from the published per-unit counts; the units
    // named lie on the finding's side of 1 (more weak grounds: above 1).
    let weak = brief
        .lines()
        .find(|l| l.contains("rested on weak grounds"))
        .unwrap_or_else(|| panic!("{brief}"));
    let place = weak
        .split("counts rounded to 5): most pronounced in ")
        .nth(1)
        .unwrap_or_else(|| panic!("{weak}"));
    let units = place.split(';').next().unwrap();
    for unit in units.split("), ") {
        let before = &unit[..unit.find(" (").unwrap()];
        let ratio: f64 = before.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(ratio > 1.0, "{unit} in {weak}");
    }
    assert!(
        place.contains(" units with at least 50 stops of both groups."),
        "{place}"
    );
    // The sample's configuration names a population file.
    assert!(
        !brief.contains("Population benchmark: no population file"),
        "{brief}"
    );
    assert!(md.contains("### Findings\n"));
    // Each population-benchmark finding says it is the weakest evidence.
    let population = md.matches("times per 1,000 residents").count();
    assert!(population > 0);
    assert_eq!(
        md.matches("(Weakest evidence: residents are not who is on the street or the road.)")
            .count(),
        population - brief.matches("times per 1,000 residents").count()
    );
    // The labels are explained once, and the caveat is said once in the
    // summary instead of closing every finding.
    let summary = &md[..md.find("\n## 2.").unwrap()];
    assert!(summary.contains("### How to read the labels"));
    assert!(summary.contains(
        "- **Indicative**: significant and practically large, but from one comparison only"
    ));
    assert_eq!(
        summary
            .matches("A statistical signal is a reason for review, not proof of discrimination.")
            .count(),
        1,
        "{summary}"
    );
    assert!(html.contains("(<a href=\"#outcome-test\">see section</a>)"));
    // A long forest plot (age band × justification: more than 16 rows) is
    // sorted by ratio and says so; a short one (gender) keeps its order.
    let figure = |title: &str| {
        let at = html
            .find(title)
            .unwrap_or_else(|| panic!("no chart {title}"));
        let end = at + html[at..].find("</figcaption>").unwrap();
        html[at..end].to_string()
    };
    assert!(
        figure("Outcome test (sanction rate) — age band")
            .contains("Rows are sorted by ratio, lowest first.")
    );
    assert!(!figure("Outcome test (sanction rate) — gender").contains("sorted by ratio"));
    // The legal frame and the caveat are there.
    assert!(md.contains("Article 1 of the Dutch Constitution"));
    assert!(md.contains("14 February 2023"));
    assert!(md.contains("A finding is a reason for review, not proof."));
    // Provenance: hashes and the command that reproduces the report.
    assert!(md.contains("proco_2025_sample.csv"));
    assert!(md.contains("stopaudit report --quiet --out"));
}

#[test]
fn html_is_self_contained_and_accessible() {
    let dir = tempfile::tempdir().unwrap();
    let (_, html) = report(dir.path(), &["--format", "html"]);
    assert!(!dir.path().join("report.md").exists());
    assert!(
        html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none';")
    );
    // The only URL is the SVG namespace name, which is never fetched.
    let without_ns = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
    for forbidden in [
        "<script", "http://", "https://", "@import", " src=", "<link", "<img",
    ] {
        assert!(!without_ns.contains(forbidden), "{forbidden}");
    }
    // The only url() is the embedded font.
    assert_eq!(html.matches("url(").count(), 1);
    assert!(html.contains("url(data:font/ttf;base64,AAEAAA"));
    assert!(html.contains("<th scope=\"col\">"));
    assert!(html.contains("<th scope=\"row\">"));
    // Every q-value is one-sided (the adverse side): the column says so, so
    // that q 1.000 beside a favourable interval is not read as "no evidence".
    assert!(html.contains("<th scope=\"col\">q (adverse side)</th>"));
    assert!(!html.contains("<th scope=\"col\">q</th>"));
    assert!(html.contains("@media print"));
    // A4 pages numbered in the margin; detail rows left out of print, with
    // a line saying how many.
    assert!(html.contains("size: A4") && html.contains("counter(page)"));
    assert!(html.contains("<tr class=\"detail\">"));
    assert!(html.contains("<p class=\"print-only\">In print, "));
    // Hidden cells show as x (a complementary cell is hidden at any size,
    // so "<10" would be a wrong label), never as a number.
    assert!(html.contains("<td class=\"num suppressed\" title=\"hidden\">x</td>"));
    assert!(!html.contains("&lt;10</td>"));
}

#[test]
fn dutch_report_uses_decimal_commas_and_dutch_labels() {
    let dir = tempfile::tempdir().unwrap();
    let (md, html) = report(dir.path(), &["--lang", "nl", "--format", "md,html"]);
    assert!(md.starts_with("# Analyse van controleregistraties\n"));
    assert!(md.contains("## 4. Uitkomstentoets"));
    assert!(md.contains("19.804 geanalyseerde controles"));
    assert!(md.contains("met aanleiding 'gedrag'"));
    assert!(md.contains("Artikel 1 van de Grondwet"));
    assert!(html.contains("<html lang=\"nl\">"));
    let rate = regex_like_percent(&md);
    assert!(rate.contains(','), "{rate}");
}

/// The first "NN,N%" in the text.
fn regex_like_percent(text: &str) -> String {
    let i = text.find('%').unwrap();
    text[i.saturating_sub(5)..=i].to_string()
}

#[test]
fn reports_are_byte_identical_across_runs_and_threads() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let (md1, html1) = report(a.path(), &["--as-of", "2026-01-15"]);
    let o = stopaudit()
        .args([
            "--threads",
            "1",
            "report",
            "--quiet",
            "--out",
            b.path().to_str().unwrap(),
        ])
        .arg(root().join("datasets/sample/proco_2025_sample.csv"))
        .arg("--config")
        .arg(root().join("datasets/sample/stopaudit.toml"))
        .args(["--as-of", "2026-01-15"])
        .output()
        .unwrap();
    assert!(o.status.success());
    let md2 = std::fs::read_to_string(b.path().join("report.md")).unwrap();
    let html2 = std::fs::read_to_string(b.path().join("report.html")).unwrap();
    // Only the command line (output folder, --threads) differs.
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("stopaudit "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&md1), strip(&md2));
    assert_eq!(strip(&html1), strip(&html2));
    assert!(md1.contains("as of 2026-01-15"));
}

fn hostile_csv(dir: &Path) -> PathBuf {
    let mut text = String::from("stopped_at;justification;outcome;unit;nationality\n");
    for i in 0..60 {
        let group = if i % 2 == 0 {
            "<script>alert(1)</script>"
        } else {
            "NL | *bold* [x](y)"
        };
        let outcome = if i % 3 == 0 {
            "bekeuring"
        } else {
            "geen actie"
        };
        text.push_str(&format!(
            "2025-02-01 {:02}:00;gedrag;{outcome};=cmd|' /C calc'!A0;{group}\n",
            i % 24
        ));
    }
    let p = dir.join("hostile.csv");
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn labels_from_the_data_are_escaped_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let input = hostile_csv(dir.path());
    let out = dir.path().join("out");
    stopaudit()
        .args([
            "report",
            "--quiet",
            "--min-cell",
            "0",
            "--out",
            out.to_str().unwrap(),
            input.to_str().unwrap(),
        ])
        .succeeds();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(!md.contains("<script>"));
    assert!(md.contains("\\<script\\>alert(1)\\</script\\>"));
    assert!(md.contains("NL \\| \\*bold\\* \\[x\\](y)"));
    // CSV tables neutralise spreadsheet formulas.
    let counts = std::fs::read_to_string(out.join("tables/counts_by_unit.csv")).unwrap();
    assert!(counts.contains("'=cmd|"), "{counts}");
    assert!(!counts.lines().any(|l| l.starts_with("=")));
}

#[test]
fn charts_are_inline_svg_with_text_alternatives_and_files_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let (md, html) = report(dir.path(), &["--format", "html,md,svg,png"]);
    let figures = html.matches("<figure role=\"img\" aria-label=").count();
    assert!(figures >= 6, "{figures} charts");
    assert_eq!(html.matches("<svg").count(), figures);
    assert!(html.contains(
        "Stacked bar chart of the share of stops per justification for each nationality group"
    ));
    assert!(html.contains(
        "Forest plot of the hit-rate ratio per group against the reference group Nederlands"
    ));
    // Chart files, linked from the Markdown.
    let svg = dir.path().join("charts/justification-mix-nationality.svg");
    let png = dir.path().join("charts/justification-mix-nationality.png");
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(svg_text.starts_with("<svg"));
    // The font travels with the file, so the text renders the same without DejaVu Sans installed.
    assert!(
        svg_text
            .contains("@font-face { font-family: \"DejaVu Sans\"; src: url(data:font/ttf;base64,")
    );
    assert!(svg_text.contains("font-family=\"DejaVu Sans\""));
    assert_eq!(&std::fs::read(&png).unwrap()[..8], b"\x89PNG\r\n\x1a\n");
    assert!(md.contains("](charts/justification-mix-nationality.svg)"));
    assert!(md.contains("](charts/outcome-test-nationality.svg)"));
    // Without chart files the Markdown has no broken image links.
    let plain = tempfile::tempdir().unwrap();
    let (md, _) = report(plain.path(), &["--format", "md"]);
    assert!(!md.contains("](charts/"));
}

/// The `[csv_header]` names of a language file: English name → name.
fn csv_header_names(lang: &str) -> std::collections::BTreeMap<String, String> {
    let path = root().join(format!("crates/stopaudit-core/src/i18n/{lang}.toml"));
    let text = std::fs::read_to_string(path).unwrap();
    let block = text
        .split("[csv_header]\n")
        .nth(1)
        .expect("a [csv_header] table");
    block
        .lines()
        .take_while(|l| !l.starts_with('['))
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.trim().to_string(), v.trim().trim_matches('"').to_string()))
        .collect()
}

#[test]
fn csv_tables_for_dutch_excel_and_for_programs() {
    let dir = tempfile::tempdir().unwrap();
    // Every table filled, the threshold test's too: the same analysis in
    // both dialects.
    let tables = |name: &str, csv: &str| {
        let out = dir.path().join(name);
        stopaudit()
            .args(["analyze", "--quiet", "--threshold-test", "--format", "csv"])
            .args(["--csv", csv, "--out"])
            .arg(&out)
            .arg(root().join("datasets/sample/proco_2025_sample.csv"))
            .arg("--config")
            .arg(root().join("datasets/sample/stopaudit.toml"))
            .succeeds();
        out
    };
    let (machine, excel) = (tables("machine", "machine"), tables("excel", "excel-nl"));
    let dutch = csv_header_names("nl");
    let mut files = 0;
    for entry in std::fs::read_dir(&machine).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !name.ends_with(".csv") {
            continue;
        }
        files += 1;
        let m = std::fs::read_to_string(machine.join(&name)).unwrap();
        let e = std::fs::read_to_string(excel.join(&name)).unwrap();
        // For programs: no byte order mark, commas, points.
        assert!(!m.starts_with('\u{feff}'), "{name}");
        // For Dutch Excel: UTF-8 with a byte order mark, semicolons.
        let e = e
            .strip_prefix('\u{feff}')
            .unwrap_or_else(|| panic!("{name}: no BOM"));
        let read = |text: &str, delimiter: u8| -> Vec<Vec<String>> {
            csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .has_headers(false)
                .from_reader(text.as_bytes())
                .records()
                .map(|r| r.unwrap().iter().map(str::to_string).collect())
                .collect()
        };
        let (m, e) = (read(&m, b','), read(e, b';'));
        assert_eq!(m.len(), e.len(), "{name}");
        // Every column has a Dutch name, and the Dutch file uses it.
        for (english, shown) in m[0].iter().zip(&e[0]) {
            if english.is_empty() {
                continue; // the header of a table without rows
            }
            let wanted = dutch
                .get(english)
                .unwrap_or_else(|| panic!("{name}: no Dutch name for column {english}"));
            assert_eq!(shown, wanted, "{name}");
        }
        // The same values, numbers with a decimal comma.
        for (mr, er) in m[1..].iter().zip(&e[1..]) {
            assert_eq!(mr.len(), er.len(), "{name}");
            for (a, b) in mr.iter().zip(er) {
                if a.parse::<f64>().is_ok() && a.contains('.') {
                    assert_eq!(*b, a.replace('.', ","), "{name}");
                } else if b.starts_with("=\"") {
                    // An age band kept from Excel's dates: ="12-17".
                    assert_eq!(*b, format!("=\"{a}\""), "{name}");
                    assert!(a.len() <= 5 && a.contains(['-', '/']), "{name}: {a}");
                } else {
                    assert_eq!(a, b, "{name}");
                }
            }
        }
    }
    assert!(files >= 15, "{files} tables");
    // The sample's age bands (12-17, 18-24, …) are among them.
    let outcome = std::fs::read_to_string(excel.join("outcome_test.csv")).unwrap();
    assert!(
        outcome.contains(";\"=\"\"12-17\"\"\";"),
        "age bands as text for Excel"
    );
    // A Dutch report writes its tables for Dutch Excel unless told otherwise.
    let nl = dir.path().join("nl");
    report(&nl, &["--lang", "nl", "--format", "csv"]);
    let outcome = std::fs::read_to_string(nl.join("tables/outcome_test.csv")).unwrap();
    assert!(
        outcome.starts_with("\u{feff}kenmerk;groep;"),
        "{}",
        &outcome[..40]
    );
    let nl_machine = dir.path().join("nl-machine");
    report(
        &nl_machine,
        &["--lang", "nl", "--format", "csv", "--csv", "machine"],
    );
    let outcome = std::fs::read_to_string(nl_machine.join("tables/outcome_test.csv")).unwrap();
    assert!(
        outcome.starts_with("attribute,group,"),
        "{}",
        &outcome[..40]
    );
}

/// The words of `text` that are English and not Dutch, with their line.
fn english_words(text: &str) -> Vec<(usize, String)> {
    const ENGLISH: &[&str] = &[
        "the",
        "and",
        "with",
        "stops",
        "stop",
        "unknown",
        "all",
        "rows",
        "row",
        "key",
        "from",
        "which",
        "were",
        "not",
        "found",
        "search",
        "searches",
        "veil",
        "darkness",
        "duplicate",
        "missing",
        "invalid",
        "behaviour",
        "period",
        "share",
        "rate",
        "group",
        "groups",
        "outcome",
        "hidden",
        "see",
        "set",
        "run",
        "reference",
        "within",
        "between",
        "findings",
        "finding",
        "justification",
        "result",
        "results",
        "table",
        "count",
        "note",
        "weak",
        "strong",
        "medium",
        "high",
        "low",
        "none",
        "recorded",
        "yes",
        "no",
        "fine",
        "report",
        "arrest",
        "information",
        "circumstances",
        "violation",
        "observed",
        "scope",
        "where",
        "to",
        "by",
        "on",
        "at",
        "for",
        "are",
        "officers",
        "named",
    ];
    let mut found = Vec::new();
    for (i, line) in text.lines().enumerate() {
        // The English name of a method, given once beside the Dutch one.
        let line = line.replace("Engels: veil of darkness", "");
        let mut previous = "";
        for word in line.split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '-')) {
            let lower = word.to_lowercase();
            // Command-line options (--where) are not words of the text.
            if ENGLISH.contains(&lower.as_str()) && !previous.ends_with("--") {
                found.push((i + 1, word.to_string()));
            }
            previous = word;
        }
    }
    found
}

#[test]
fn a_dutch_report_has_no_english_outside_code() {
    let dir = tempfile::tempdir().unwrap();
    // A scoped run: the scope, the quality checks' scope and the officers'
    // note are written too.
    let (md, html) = report(
        dir.path(),
        &[
            "--lang",
            "nl",
            "--format",
            "md,html",
            "--period",
            "2025-Q3",
            "--where",
            "justification=behaviour,information",
        ],
    );
    // Markdown without code (the configuration, the command line) and link
    // targets (anchors are identifiers).
    let mut text = String::new();
    for (i, part) in md.split("```").enumerate() {
        if i % 2 == 0 {
            text.push_str(part);
        }
    }
    let text: String = text
        .split('`')
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
        .map(|(_, p)| p)
        .collect();
    let text = text
        .split("](#")
        .map(|p| p.split_once(')').map_or(p, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join("]");
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("<a id="))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        english_words(&text),
        Vec::<(usize, String)>::new(),
        "Markdown"
    );
    // Dates as a Dutch reader writes them.
    assert!(md.contains("01-07-2025 t/m 30-09-2025"), "no Dutch dates");
    // The HTML's text, charts included, without its style and code.
    let body = html.split("</style>").nth(1).unwrap();
    let body: String = body
        .split("<pre>")
        .map(|p| p.split_once("</pre>").map_or(p, |(_, rest)| rest))
        .collect();
    let mut visible = String::new();
    let mut in_tag = false;
    for c in body.chars() {
        match c {
            '<' => in_tag = true,
            '>' => {
                in_tag = false;
                visible.push(' ');
            }
            c if !in_tag => visible.push(c),
            _ => {}
        }
    }
    assert_eq!(
        english_words(&visible),
        Vec::<(usize, String)>::new(),
        "HTML"
    );
}

#[test]
fn in_brief_says_what_was_not_tested_and_how_to_test_it() {
    let dir = tempfile::tempdir().unwrap();
    // Without the sample's configuration: no population file, and the
    // threshold test not asked for.
    let o = stopaudit()
        .args(["report", "--quiet", "--format", "md", "--out"])
        .arg(dir.path())
        .arg(root().join("datasets/sample/proco_2025_sample.csv"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    let brief = &md[md.find("### In brief").unwrap()..md.find("### Findings").unwrap()];
    for item in [
        "- Population benchmark: no population file. Set \\[analysis\\] population",
        "- Threshold test (does a group need less suspicion to be searched?): not run.",
        "- Internal benchmarking of teams and officers: off",
    ] {
        assert!(brief.contains(item), "{item} not in {brief}");
    }
    // The sample's units have known places and it has a search column.
    assert!(!brief.contains("Veil of darkness:"), "{brief}");
    assert!(!brief.contains("Search funnel:"), "{brief}");
    // The population benchmark's findings are marked as the weakest
    // evidence wherever they are listed: here there are none.
    assert!(!md.contains("(Weakest evidence:"));

    // Evening stops in a unit without a known place, no coordinates, no
    // search column: the veil of darkness and the search funnel say why.
    let mut csv = String::from("id,tijdstip,aanleiding,resultaat,nationaliteit,eenheid\n");
    for i in 0..300 {
        csv.push_str(&format!(
            "N{i},{:02}-{:02}-2025 {}:{:02},gedrag,{},{},Nergensland\n",
            1 + i % 28,
            1 + i % 12,
            17 + i % 6,
            (i * 7) % 60,
            ["bekeuring", "geen actie"][i % 2],
            ["Nederlandse", "Turkse", "Belgische"][i % 3],
        ));
    }
    let input = dir.path().join("no_place.csv");
    std::fs::write(&input, csv).unwrap();
    let out = dir.path().join("no-place");
    stopaudit()
        .args(["report", "--quiet", "--format", "md", "--out"])
        .arg(&out)
        .arg(&input)
        .succeeds();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let brief = &md[md.find("### In brief").unwrap()..md.find("### Findings").unwrap()];
    assert!(
        brief.contains("- Veil of darkness: the stops have no place for the sun times"),
        "{brief}"
    );
    assert!(
        brief.contains("- Search funnel: no stop records whether there was a search (the search\\_conducted column is missing or empty)"),
        "{brief}"
    );
    // Each section without results says the same: why, and how to get them.
    for why in [
        "the stops have no place for the sun times",
        "no stop records whether there was a search",
        "no population file",
    ] {
        assert_eq!(
            md.matches(why).count(),
            2,
            "{why}: in brief and in its section"
        );
    }
}

#[test]
fn the_configuration_names_what_the_report_covers_and_its_base_counts_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("stopaudit.toml");
    let sample = std::fs::read_to_string(root().join("datasets/sample/stopaudit.toml")).unwrap();
    std::fs::write(
        &config,
        format!("{sample}\n[report]\ntitle = \"ProCo-registraties <eenheid> Rotterdam, 3e kwartaal 2025\"\n")
            .replace("population = \"../", &format!("population = \"{}/datasets/", root().display())),
    )
    .unwrap();
    let out = dir.path().join("out");
    stopaudit()
        .args([
            "report", "--quiet", "--lang", "nl", "--format", "md,html", "--out",
        ])
        .arg(&out)
        .arg(root().join("datasets/sample/proco_2025_sample.csv"))
        .arg("--config")
        .arg(&config)
        .succeeds();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        md.starts_with("# ProCo-registraties \\<eenheid\\> Rotterdam, 3e kwartaal 2025\n"),
        "{}",
        &md[..80]
    );
    assert!(
        html.contains(
            "<title>ProCo-registraties &lt;eenheid&gt; Rotterdam, 3e kwartaal 2025</title>"
        )
    );
    // Each pattern in brief says how many of the group's stops or searches
    // it rests on, as published in its section's table.
    let brief = &md[md.find("### In het kort").unwrap()..md.find("### Bevindingen").unwrap()];
    let based: Vec<&str> = brief.matches("Op basis van ").collect();
    assert_eq!(based.len(), brief.matches("\n- **").count(), "{brief}");
    assert!(brief.contains(" fouilleringen van de groep."), "{brief}");
}
