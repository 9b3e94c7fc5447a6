//! Hostile and damaged inputs (issue 18): every physical line accounted
//! for, nothing half-written, never a panic. Each test makes its own
//! minimal input from a generated export.

use std::path::{Path, PathBuf};

use crate::common::{Succeeds, json_of, stopaudit};

/// A generated export of `rows` rows (semicolon CSV, Dutch headers).
fn export(dir: &Path, rows: u32) -> PathBuf {
    let out = dir.join("export.csv");
    stopaudit()
        .args(["generate", "--quiet", "--seed", "5", "--rows"])
        .arg(rows.to_string())
        .arg("--out")
        .arg(&out)
        .succeeds();
    out
}

/// The export's lines (BOM kept on the header), with `edit` applied.
fn edited(path: &Path, name: &str, edit: impl Fn(&mut Vec<String>)) -> PathBuf {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    edit(&mut lines);
    let out = path.with_file_name(name);
    std::fs::write(&out, lines.join("\n") + "\n").unwrap();
    out
}

/// Puts a quote before the unit of physical line `line` (1 = header).
fn stray_quote(lines: &mut [String], line: usize) {
    let mut f: Vec<String> = lines[line - 1].split(';').map(str::to_string).collect();
    f[3] = format!("\"{}", f[3]);
    lines[line - 1] = f.join(";");
}

#[test]
fn a_stray_quote_quarantines_its_own_line_and_swallows_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clean = export(dir.path(), 3000);
    // Two stray quotes 1,000 lines apart (they made one stop of the 1,000
    // lines between them, with every record in its unit name), and one
    // left open to the end of the file (it ended the file at its line).
    let damaged = edited(&clean, "damaged.csv", |l| {
        stray_quote(l, 101);
        stray_quote(l, 1101);
        stray_quote(l, 2501);
    });
    let quarantine = dir.path().join("quarantine.csv");
    let out = dir.path().join("tables");
    let a = json_of(
        stopaudit()
            .args(["analyze", "--quiet", "--format", "json"])
            .arg(&damaged)
            .arg("--quarantine")
            .arg(&quarantine)
            .env_remove("STOPAUDIT_PSEUDONYM_KEY"),
    );
    let p = &a["provenance"];
    assert_eq!(p["rows_read"], 3000, "{p}");
    assert_eq!(p["rows_quarantined"], 3);
    assert_eq!(p["quarantine_reasons"]["malformed_line"], 3);
    // Each quarantined line whole, under its own physical line number.
    let q = std::fs::read_to_string(&quarantine).unwrap();
    let mut reader = csv::Reader::from_reader(q.as_bytes());
    let text = std::fs::read_to_string(&damaged).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut rows = Vec::new();
    for r in reader.records() {
        let r = r.unwrap();
        let line: usize = r[1].parse().unwrap();
        assert_eq!(&r[2], "malformed_line");
        assert!(r[5].contains("stray quote"), "{}", &r[5]);
        assert!(r[6].contains(lines[line - 1].split(';').next().unwrap()));
        assert!(r[6].contains(lines[line - 1].split(';').next_back().unwrap()));
        rows.push(line);
    }
    assert_eq!(rows, [101, 1101, 2501]);
    // No unit name made of records.
    stopaudit()
        .args(["analyze", "--quiet", "--format", "csv", "--min-cell", "0"])
        .arg(&damaged)
        .arg("--out")
        .arg(&out)
        .succeeds();
    let units = std::fs::read_to_string(out.join("counts_by_unit.csv")).unwrap();
    assert!(units.lines().all(|l| l.len() < 200), "a long unit line");
}
