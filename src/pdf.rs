//! `report --format pdf`: the HTML report printed to an A4 PDF by a
//! Chromium-based browser run headless (Chromium, Google Chrome or Microsoft
//! Edge, which every Windows laptop has). Why this engine and not a
//! typesetting crate: docs/architecture.md, "The PDF".
//!
//! The browser is found once, when the settings are resolved, so a run that
//! cannot make its PDF stops before it reads any data. It runs with a fresh
//! profile, without network (the report's Content-Security-Policy forbids
//! every load, and the browser's own background connections are switched
//! off and its host names resolve to nothing), and under a time limit.

use std::ffi::OsString;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use stopaudit_core::error::{Error, Result};

/// The variable naming the browser to print with, when it is not found on
/// its own.
pub const BROWSER_VARIABLE: &str = "STOPAUDIT_BROWSER";

/// How long printing may take before the browser is stopped.
const TIME_LIMIT: Duration = Duration::from_secs(180);

/// Program names looked up on `PATH`, in order.
const NAMES: [&str; 6] = [
    "chromium",
    "chromium-browser",
    "google-chrome",
    "google-chrome-stable",
    "microsoft-edge",
    "msedge",
];

/// Where Windows and macOS install the browsers (they are not on `PATH`).
const INSTALLED: [&str; 5] = [
    r"C:\Program Files (x86)\Microsoft\Edge\Application\msedge.exe",
    r"C:\Program Files\Microsoft\Edge\Application\msedge.exe",
    r"C:\Program Files\Google\Chrome\Application\chrome.exe",
    "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
    "/Applications/Chromium.app/Contents/MacOS/Chromium",
];

/// The browser to print with: the one `STOPAUDIT_BROWSER` names, else the
/// first of [`NAMES`] on `path` (the `PATH` variable), else an installed
/// one. None found is a usage error that says what to do.
pub fn find_browser(named: Option<&OsString>, path: Option<&OsString>) -> Result<PathBuf> {
    let exe = if cfg!(windows) { ".exe" } else { "" };
    let on_path = path
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default();
    if let Some(named) = named {
        let p = PathBuf::from(named);
        let found = std::iter::once(p.clone())
            .chain(on_path.iter().map(|dir| dir.join(named)))
            .chain(
                on_path
                    .iter()
                    .map(|dir| dir.join(format!("{}{exe}", p.display()))),
            )
            .find(|p| p.is_file());
        return if let Some(found) = found {
            Ok(found)
        } else {
            Err(Error::Usage(format!(
                "{BROWSER_VARIABLE}={}: no such program",
                p.display()
            )))
        };
    }
    NAMES
        .iter()
        .flat_map(|name| on_path.iter().map(move |dir| dir.join(format!("{name}{exe}"))))
        .chain(INSTALLED.iter().map(PathBuf::from))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--format pdf prints the HTML report with a Chromium-based browser (Chromium, Google Chrome or Microsoft Edge), and none was found. Install one, or set {BROWSER_VARIABLE} to the browser's program; or leave pdf out and print report.html from any browser (it is laid out for A4)"
            ))
        })
}

/// Prints `html` to `pdf` with `browser`, using `work` (a folder that is
/// removed afterwards by the caller's staging) for the browser's profile.
/// The PDF's dates are set to `date` (`YYYYMMDD`) so that the same report
/// gives the same bytes with the same browser.
pub fn print(browser: &Path, html: &Path, pdf: &Path, work: &Path, date: &str) -> Result<()> {
    let profile = work.join(format!(".browser-profile-{}", std::process::id()));
    std::fs::create_dir_all(&profile).map_err(|e| Error::io(&profile, e))?;
    let result = run_browser(browser, html, pdf, &profile);
    let _ = std::fs::remove_dir_all(&profile);
    result?;
    let mut bytes = std::fs::read(pdf).map_err(|e| Error::io(pdf, e))?;
    if !bytes.starts_with(b"%PDF-") {
        return Err(Error::input(
            pdf,
            format!("{} wrote no PDF", browser.display()),
        ));
    }
    fix_dates(&mut bytes, date);
    std::fs::write(pdf, &bytes).map_err(|e| Error::io(pdf, e))
}

fn run_browser(browser: &Path, html: &Path, pdf: &Path, profile: &Path) -> Result<()> {
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-quic",
            "--host-resolver-rules=MAP * ~NOTFOUND",
            "--no-pdf-header-footer",
            "--generate-pdf-document-outline",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // Chromium's sandbox refuses to start as root (containers, CI); the
    // page is our own, scriptless report.
    #[cfg(target_os = "linux")]
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        command.arg("--no-sandbox");
    }
    command.arg(file_url(html)?);
    let mut child = command.spawn().map_err(|e| {
        Error::Usage(format!(
            "cannot start {} to print the PDF: {e}",
            browser.display()
        ))
    })?;
    let mut stderr = child.stderr.take();
    // Drain stderr on a thread so that a chatty browser never blocks.
    let drain = std::thread::spawn(move || {
        let mut text = String::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.read_to_string(&mut text);
        }
        text
    });
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if start.elapsed() > TIME_LIMIT => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            Err(e) => return Err(Error::io(browser, e)),
        }
    };
    let said = drain.join().unwrap_or_default();
    let last: Vec<&str> = said.lines().rev().take(3).collect();
    match status {
        None => Err(Error::Usage(format!(
            "{} did not finish printing the PDF within {} s; it was stopped",
            browser.display(),
            TIME_LIMIT.as_secs()
        ))),
        Some(s) if !s.success() || !pdf.is_file() => Err(Error::Usage(format!(
            "{} could not print the PDF ({s}): {}",
            browser.display(),
            last.into_iter().rev().collect::<Vec<_>>().join(" / ")
        ))),
        Some(_) => Ok(()),
    }
}

/// A `file://` URL for a local file, with characters a URL cannot hold
/// percent-encoded (spaces and `#` in folder names are common on Windows).
fn file_url(path: &Path) -> Result<String> {
    let absolute = std::path::absolute(path).map_err(|e| Error::io(path, e))?;
    let text = absolute.to_string_lossy().replace('\\', "/");
    let mut url = String::from(if text.starts_with('/') {
        "file://"
    } else {
        "file:///"
    });
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' | b':' => {
                url.push(b as char)
            }
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    Ok(url)
}

/// Sets every `(D:YYYYMMDDHHmmSS…)` date in the PDF's information to
/// `date` at midnight, keeping each value's length (so no offset in the
/// cross-reference table moves), in UTC.
fn fix_dates(bytes: &mut [u8], date: &str) {
    for key in [&b"/CreationDate (D:"[..], &b"/ModDate (D:"[..]] {
        let mut from = 0;
        while let Some(at) = memfind(&bytes[from..], key) {
            let start = from + at + key.len();
            let end = bytes[start..]
                .iter()
                .position(|&b| b == b')')
                .map_or(bytes.len(), |e| start + e);
            let fixed = format!("{date}000000");
            for (i, slot) in bytes[start..end].iter_mut().enumerate() {
                *slot = match (fixed.as_bytes().get(i), *slot) {
                    (Some(&d), _) => d,
                    // The zone ("+01'00'", "-05'00'" or "Z") becomes UTC.
                    (None, b'0'..=b'9') => b'0',
                    (None, b'-') => b'+',
                    (None, other) => other,
                };
            }
            from = end;
        }
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_urls_encode_what_a_url_cannot_hold() {
        let url = file_url(Path::new("/tmp/rapport Q3 #2/report.html")).unwrap();
        assert_eq!(url, "file:///tmp/rapport%20Q3%20%232/report.html");
    }

    #[test]
    fn pdf_dates_are_fixed_without_moving_a_byte() {
        let mut pdf =
            b"x /CreationDate (D:20261205211530+01'00') /ModDate (D:20261205211530Z)".to_vec();
        let len = pdf.len();
        fix_dates(&mut pdf, "20250930");
        assert_eq!(pdf.len(), len);
        let text = String::from_utf8(pdf).unwrap();
        assert!(
            text.contains("/CreationDate (D:20250930000000+00'00')"),
            "{text}"
        );
        assert!(text.contains("/ModDate (D:20250930000000Z)"), "{text}");
    }

    #[test]
    fn a_missing_browser_says_what_to_do() {
        let empty = tempfile::tempdir().unwrap();
        let path = OsString::from(empty.path());
        if INSTALLED.iter().any(|p| Path::new(p).is_file()) {
            return; // an installed browser is found whatever PATH says
        }
        let err = find_browser(None, Some(&path)).unwrap_err().to_string();
        assert!(
            err.contains(BROWSER_VARIABLE) && err.contains("report.html"),
            "{err}"
        );
        let named = OsString::from(empty.path().join("no-browser"));
        let err = find_browser(Some(&named), None).unwrap_err().to_string();
        assert!(err.contains("no such program"), "{err}");
    }
}
