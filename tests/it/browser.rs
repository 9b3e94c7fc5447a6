//! The HTML report in a real browser (Debian's headless Chromium): it renders
//! without console messages — a blocked network load or script shows up as
//! one — and prints to PDF with a page per section.
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

#[test]
#[ignore = "needs headless Chromium (Debian's chromium); run with --include-ignored"]
fn report_prints_to_pdf_with_a_page_break_per_section() {
    let browser = chromium();
    let dir = tempfile::tempdir().unwrap();
    let page = demo_report(dir.path());
    let pdf = dir.path().join("report.pdf");
    run(
        &browser,
        &dir.path().join("profile"),
        &page,
        &[
            "--no-pdf-header-footer",
            &format!("--print-to-pdf={}", pdf.display()),
        ],
    );
    let bytes = std::fs::read(&pdf).unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    let text = String::from_utf8_lossy(&bytes);
    let pages = text.matches("/Type /Page").count() - text.matches("/Type /Pages").count();
    assert!(pages >= 11, "{pages} pages for 11 sections");
    // A4 (595 × 842 points), not Letter (612 × 792); with tables at page
    // width the demo takes about 37 pages (56 Letter pages before).
    let media_box = text
        .split("/MediaBox [")
        .nth(1)
        .and_then(|s| s.split(']').next())
        .expect("a page size");
    let size: Vec<f64> = media_box
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert!(
        (size[2] - 595.0).abs() < 1.0 && (size[3] - 842.0).abs() < 1.0,
        "{media_box}"
    );
    assert!(pages <= 45, "{pages} pages");
}
