//! The HTML report in a real browser (Debian's headless Chromium): it renders
//! without console messages — a blocked network load or script shows up as
//! one — and `report --format pdf` prints it to an A4 PDF that
//! `scripts/pdf_layout.py` (PyMuPDF) checks: page size, page count, every
//! word inside the page, page numbers, the outline.
//!
//! Needs Debian's `chromium`, so these tests are ignored by default and show
//! as such in every run; `.ci/run` installs Chromium and runs them with
//! `--include-ignored`, and so can anyone who has it. Asked for without a
//! browser, they fail.

use crate::common::Succeeds;
use std::path::{Path, PathBuf};
use std::process::Command;

fn chromium() -> PathBuf {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("chromium is not installed (apt-get install chromium)")
}

/// Runs headless Chromium on a file with extra arguments; returns stderr.
fn run(browser: &Path, profile: &Path, page: &Path, extra: &[&str]) -> String {
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn console_lines(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

fn demo_report(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new(env!("CARGO_BIN_EXE_stopaudit"))
        .current_dir(root)
        .args([
            "report",
            "--quiet",
            "--format",
            "html",
            "--out",
            dir.to_str().unwrap(),
        ])
        .arg("datasets/sample/proco_2025_sample.csv")
        .args(["--config", "datasets/sample/stopaudit.toml"])
        .succeeds();
    dir.join("report.html")
}

#[test]
#[ignore = "needs headless Chromium (Debian's chromium); run with --include-ignored"]
fn the_check_sees_a_blocked_load() {
    // The detection itself: a page that tries to load an image must be caught.
    let browser = chromium();
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'\"></head><body><img src=\"http://example.invalid/x.png\"></body></html>",
    )
    .unwrap();
    let stderr = run(
        &browser,
        &dir.path().join("profile"),
        &page,
        &["--dump-dom"],
    );
    assert!(
        !console_lines(&stderr).is_empty(),
        "a blocked load was not reported: {stderr}"
    );
}

#[test]
#[ignore = "needs headless Chromium (Debian's chromium); run with --include-ignored"]
fn report_renders_without_console_messages_and_with_its_charts() {
    let browser = chromium();
    let dir = tempfile::tempdir().unwrap();
    let page = demo_report(dir.path());
    let shot = dir.path().join("report.png");
    let stderr = run(
        &browser,
        &dir.path().join("profile"),
        &page,
        &[
            "--window-size=1280,2000",
            &format!("--screenshot={}", shot.display()),
        ],
    );
    assert_eq!(console_lines(&stderr), Vec::<&str>::new());
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert!(png.len() > 20_000, "the screenshot is nearly empty");
    // Keep the screenshot where a person can look at it.
    let keep = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshot.png");
    std::fs::copy(&shot, &keep).unwrap();
    let out = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--dump-dom",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile2").display()
        ))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    assert_eq!(dom.matches("<section id=").count(), 11);
    assert!(dom.matches("<svg").count() >= 6);
}

/// A Python 3 with PyMuPDF (`.ci/run` installs Debian's python3-fitz).
fn python_with_pymupdf() -> &'static str {
    ["python3", "/usr/bin/python3"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .args(["-c", "import fitz"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("Python 3 with PyMuPDF (apt-get install python3-fitz)")
}

/// `report --format pdf` on `input` (with `extra` arguments), then the PDF's
/// layout as `scripts/pdf_layout.py` reads it.
fn pdf_layout(out: &Path, input: &Path, extra: &[&str]) -> serde_json::Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    Command::new(env!("CARGO_BIN_EXE_stopaudit"))
        .current_dir(root)
        .args(["report", "--quiet", "--format", "pdf", "--out"])
        .arg(out)
        .arg(input)
        .args(extra)
        .succeeds();
    let pdf = out.join("report.pdf");
    // Only the PDF: the page it was printed from is not left behind.
    assert_eq!(
        std::fs::read_dir(out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with(".stopaudit"))
            .collect::<Vec<_>>(),
        ["report.pdf"]
    );
    let o = Command::new(python_with_pymupdf())
        .arg(root.join("scripts/pdf_layout.py"))
        .arg(&pdf)
        .arg("28") // 10 mm: the page's margins are 12 mm at the sides
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

#[test]
#[ignore = "needs headless Chromium (Debian's chromium); run with --include-ignored"]
fn the_pdf_is_a4_numbered_within_25_pages_with_nothing_past_the_edge() {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new("datasets/sample/proco_2025_sample.csv");
    let config = ["--config", "datasets/sample/stopaudit.toml"];
    // A generated export with spoilt rows, larger than the sample.
    let generated = dir.path().join("export.csv");
    Command::new(env!("CARGO_BIN_EXE_stopaudit"))
        .args(["generate", "--quiet", "--rows", "200000", "--seed", "5"])
        .args(["--dirty", "0.02", "--bias", "combined", "--out"])
        .arg(&generated)
        .succeeds();
    let cases: [(&str, &Path, Vec<&str>); 4] = [
        ("sample-en", sample, config.to_vec()),
        (
            "sample-nl",
            sample,
            [&config[..], &["--lang", "nl"]].concat(),
        ),
        ("generated-en", &generated, vec![]),
        ("generated-nl", &generated, vec!["--lang", "nl"]),
    ];
    for (name, input, extra) in cases {
        let v = pdf_layout(&dir.path().join(name), input, &extra);
        // A4 (595 × 842 points), not Letter (612 × 792).
        let (w, h) = (v["width"].as_f64().unwrap(), v["height"].as_f64().unwrap());
        assert!(
            (w - 595.0).abs() < 1.0 && (h - 842.0).abs() < 1.0,
            "{name}: {w} × {h}"
        );
        let pages = v["pages"].as_u64().unwrap();
        assert!((5..=25).contains(&pages), "{name}: {pages} pages");
        // Every word inside the page: no table or chart cut at the edge.
        assert_eq!(v["outside"], serde_json::json!([]), "{name}");
        // Every page numbered "N / TOTAL" in its margin.
        assert_eq!(v["unnumbered"], serde_json::json!([]), "{name}");
        // The outline (bookmarks) lists every numbered section.
        let outline: Vec<String> = v["outline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e[1].as_str().unwrap().to_string())
            .collect();
        for n in 1..=9 {
            assert!(
                outline.iter().any(|t| t.starts_with(&format!("{n}. "))),
                "{name}: section {n} not in the outline {outline:?}"
            );
        }
    }
    // The same report with the same browser gives the same bytes (the
    // same folder: the command line is in the report's provenance).
    let out = dir.path().join("sample-en");
    let first = std::fs::read(out.join("report.pdf")).unwrap();
    pdf_layout(&out, sample, &config);
    assert!(
        std::fs::read(out.join("report.pdf")).unwrap() == first,
        "two prints of the same report differ"
    );
}

#[test]
fn a_pdf_without_a_browser_stops_before_reading_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    // `report --format FORMATS` on the sample with one variable set; stderr.
    let refused = |formats: &str, variable: &str, value: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_stopaudit"))
            .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
            .env(variable, value)
            .args(["report", "--format", formats, "--out"])
            .arg(dir.path().join("report"))
            .arg("datasets/sample/proco_2025_sample.csv")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(2), "{err}");
        err
    };
    let installed = [
        "/Applications/Google Chrome.app",
        r"C:\Program Files (x86)\Microsoft\Edge",
    ];
    // An installed browser is found whatever PATH says.
    if !installed.iter().any(|p| Path::new(p).exists()) {
        let err = refused("html,pdf", "PATH", dir.path());
        assert!(
            err.contains("STOPAUDIT_BROWSER") && err.contains("report.html"),
            "{err}"
        );
        assert!(!dir.path().join("report").exists(), "nothing is written");
    }
    // A browser named but missing is named back.
    let err = refused("pdf", "STOPAUDIT_BROWSER", &dir.path().join("edge.exe"));
    assert!(err.contains("edge.exe: no such program"), "{err}");
}

/// A browser that fails (here `false`, which exits 1): `report --format pdf`
/// stops with exit code 2 and writes nothing; the demo goes on without its
/// PDF and says why.
#[test]
#[cfg(unix)]
fn a_failing_browser_fails_the_pdf_not_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_stopaudit"))
        .current_dir(root)
        .env("STOPAUDIT_BROWSER", "/bin/false")
        .args(["report", "--quiet", "--format", "html,pdf", "--out"])
        .arg(dir.path().join("report"))
        .arg("datasets/sample/proco_2025_sample.csv")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("could not print the PDF"), "{err}");
    assert!(!dir.path().join("report").exists(), "nothing is written");
    let demo = dir.path().join("demo");
    let out = Command::new(env!("CARGO_BIN_EXE_stopaudit"))
        .current_dir(root)
        .env("STOPAUDIT_BROWSER", "/bin/false")
        .args(["demo", "--quiet", "--out"])
        .arg(&demo)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("no report.pdf: ") && said.contains("could not print the PDF"),
        "{said}"
    );
    assert!(demo.join("report.html").exists());
    assert!(!demo.join("report.pdf").exists());
    // Nothing of the browser's is left in the folder.
    let left: Vec<String> = std::fs::read_dir(&demo)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".print") || n.starts_with(".browser"))
        .collect();
    assert_eq!(left, Vec::<String>::new());
}
