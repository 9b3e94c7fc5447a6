//! Snapshot tests: the Markdown report of the bundled sample, and the
//! structure (headings, table captions and headers, chart labels) of the
//! HTML report, against committed copies in tests/snapshots/.
//!
//! After an intended change, regenerate with
//! `UPDATE_SNAPSHOTS=1 cargo test --release --test report_snapshot` and
//! review the diff.

use std::path::Path;

use crate::common::Succeeds;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn report(lang: &str, out: &Path) {
    Command::new(env!("CARGO_BIN_EXE_stopaudit"))
        .current_dir(root())
        .args([
            "report",
            "--quiet",
            "--format",
            "html,md",
            "--as-of",
            "2026-01-15",
            "--lang",
            lang,
        ])
        .args(["--out", out.to_str().unwrap()])
        .arg("datasets/sample/proco_2025_sample.csv")
        .args(["--config", "datasets/sample/stopaudit.toml"])
        .succeeds();
}

/// The lines of the HTML that carry structure: headings, captions, header cells, figures.
fn outline(html: &str) -> String {
    let mut out = String::new();
    for piece in html.split('<').skip(1) {
        let tag = piece.split([' ', '>']).next().unwrap_or("");
        if matches!(
            tag,
            "h1" | "h2" | "h3" | "caption" | "figure" | "section" | "table"
        ) {
            let text = piece.split_once('>').map(|(attrs, text)| {
                if tag == "figure" || tag == "section" {
                    attrs.to_string()
                } else {
                    text.to_string()
                }
            });
            out.push_str(&format!("{tag}: {}\n", text.unwrap_or_default().trim()));
        }
        if tag == "th" && piece.starts_with("th scope=\"col\"") {
            out.push_str(&format!(
                "  th: {}\n",
                piece.split_once('>').map(|x| x.1).unwrap_or("")
            ));
        }
    }
    out
}

fn check(name: &str, got: &str) {
    let path = root().join("tests/snapshots").join(name);
    // The command line names a temporary folder: not part of the snapshot.
    let got: String = got
        .lines()
        .filter(|l| !l.contains("stopaudit report"))
        .map(|l| format!("{l}\n"))
        .collect();
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(&path, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing snapshot {}; run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if got != want {
        let first = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "{name} differs from its snapshot at line {}:\n  got:  {}\n  want: {}\n(UPDATE_SNAPSHOTS=1 to accept)",
            first + 1,
            got.lines().nth(first).unwrap_or("<end>"),
            want.lines().nth(first).unwrap_or("<end>")
        );
    }
}

#[test]
fn sample_report_snapshots() {
    for lang in ["en", "nl"] {
        let dir = tempfile::tempdir().unwrap();
        report(lang, dir.path());
        let md = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
        check(&format!("sample_report_{lang}.md"), &md);
        let html = std::fs::read_to_string(dir.path().join("report.html")).unwrap();
        check(
            &format!("sample_report_{lang}.html.outline"),
            &outline(&html),
        );
    }
}
