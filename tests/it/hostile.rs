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

/// The export's first `n` data lines with the date of some replaced.
fn with_dates(clean: &Path, name: &str, n: usize, dates: &[(usize, &str)]) -> PathBuf {
    edited(clean, name, |l| {
        l.truncate(n + 1);
        let date = l[0]
            .trim_start_matches('\u{feff}')
            .split(';')
            .position(|h| h == "Datum")
            .unwrap();
        for &(line, d) in dates {
            let mut f: Vec<String> = l[line - 1].split(';').map(str::to_string).collect();
            f[date] = d.to_string();
            l[line - 1] = f.join(";");
        }
    })
}

#[test]
fn two_digit_and_implausible_years_are_quarantined_not_read_as_antiquity() {
    let dir = tempfile::tempdir().unwrap();
    let clean = export(dir.path(), 200);
    // One year-0 row among 59 made 8,801 quarters and a 207 MB JSON;
    // 05-03-25 was read as the year 5.
    let dates = [
        (2, "05-03-25"),
        (3, "31-12-24"),
        (4, "01-01-0000"),
        (5, "15-06-1900"),
        (6, "01-01-2200"),
    ];
    let path = with_dates(&clean, "dates.csv", 59, &dates);
    let run = |config: Option<&Path>| {
        let mut cmd = stopaudit();
        cmd.args(["analyze", "--quiet", "--format", "json", "--min-cell", "0"])
            .arg(&path);
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        json_of(&mut cmd)
    };
    let a = run(None);
    let p = &a["provenance"];
    assert_eq!(p["rows_read"], 59);
    assert_eq!(p["quarantine_reasons"]["invalid_datetime"], 2, "{p}");
    assert_eq!(p["quarantine_reasons"]["implausible_date"], 3, "{p}");
    assert!(p["first_stop"].as_str().unwrap() >= "2025");
    assert!(serde_json::to_string(&a).unwrap().len() < 2_000_000);

    // Read by the documented rule: day-month-20yy.
    let config = dir.path().join("dates.toml");
    std::fs::write(&config, "[input]\ntwo_digit_years = \"20xx\"\n").unwrap();
    let b = run(Some(&config));
    let p = &b["provenance"];
    assert!(
        p["quarantine_reasons"].get("invalid_datetime").is_none(),
        "{p}"
    );
    assert_eq!(p["quarantine_reasons"]["implausible_date"], 3);
    assert!(
        p["first_stop"].as_str().unwrap().starts_with("2024-12-31"),
        "{p}"
    );

    // The range is configurable, and checked.
    std::fs::write(
        &config,
        "[input]\nearliest_date = 1900-01-01\nlatest_date = 2199-12-31\n",
    )
    .unwrap();
    let c = run(Some(&config));
    assert_eq!(c["provenance"]["quarantine_reasons"]["implausible_date"], 2);
    std::fs::write(
        &config,
        "[input]\nearliest_date = 2026-01-01\nlatest_date = 2025-12-31\n",
    )
    .unwrap();
    let out = stopaudit()
        .args(["analyze", "--quiet", "--config"])
        .arg(&config)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("earliest_date"));
}

#[test]
fn an_output_onto_an_input_is_refused_and_the_input_kept() {
    let dir = tempfile::tempdir().unwrap();
    let input = export(dir.path(), 100);
    let before = std::fs::read(&input).unwrap();
    let link = dir.path().join("link.csv");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&input, &link).unwrap();
    #[cfg(not(unix))]
    std::fs::copy(&input, &link).unwrap();
    let refused = |args: &[&std::ffi::OsStr], says: &str| {
        let out = stopaudit().args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{err}");
        assert_eq!(std::fs::read(&input).unwrap(), before, "{args:?}");
    };
    let i = input.as_os_str();
    refused(
        &["analyze".as_ref(), i, "--out".as_ref(), i],
        "is an input of this run",
    );
    refused(
        &["analyze".as_ref(), i, "--quarantine".as_ref(), i],
        "is an input of this run",
    );
    #[cfg(unix)]
    refused(
        &[
            "validate".as_ref(),
            i,
            "--quarantine".as_ref(),
            link.as_os_str(),
        ],
        "is an input of this run",
    );
    refused(
        &[
            "analyze".as_ref(),
            i,
            "--format".as_ref(),
            "csv".as_ref(),
            "--out".as_ref(),
            dir.path().as_os_str(),
        ],
        "holds an input of this run",
    );
    refused(
        &[
            "report".as_ref(),
            i,
            "--out".as_ref(),
            dir.path().as_os_str(),
        ],
        "holds an input of this run",
    );
}

#[test]
fn absurd_thread_counts_are_lowered_with_a_note() {
    let dir = tempfile::tempdir().unwrap();
    let input = export(dir.path(), 100);
    let out = stopaudit()
        .args(["analyze", "--quiet", "--threads", "100000"])
        .arg(&input)
        .succeeds();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--threads 100000: using"), "{err}");
}

#[test]
fn json_lines_columns_are_every_objects_keys_named_as_csv_headers() {
    // The nationality key is missing from the first object, and written
    // with a trailing space in half of the others: it was dropped for
    // every row, or every value became "unknown".
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::from(
        "{\"stop_id\": \"J0\", \"stopped_at\": \"2025-06-01 09:00\", \"justification\": \"behaviour\", \"outcome\": \"fine\"}\n",
    );
    for i in 1..=40 {
        let key = if i % 2 == 0 {
            "nationality "
        } else {
            "nationality"
        };
        let group = if i % 4 < 2 { "Pools" } else { "Nederlands" };
        text.push_str(&format!(
            "{{\"stop_id\": \"J{i}\", \"stopped_at\": \"2025-06-{:02} 10:00\", \"justification\": \"behaviour\", \"outcome\": \"fine\", \"{key}\": \"{group}\"}}\n",
            i % 28 + 1
        ));
    }
    let path = dir.path().join("stops.jsonl");
    std::fs::write(&path, text).unwrap();
    let a = json_of(
        stopaudit()
            .args(["analyze", "--quiet", "--format", "json", "--min-cell", "0"])
            .arg(&path),
    );
    assert_eq!(a["provenance"]["rows_analyzed"], 41);
    let rows = a["counts"]["by_group_justification_outcome"]
        .as_array()
        .unwrap();
    let stops = |group: &str| -> u64 {
        rows.iter()
            .filter(|r| r["attribute"] == "nationality" && r["group"] == group)
            .map(|r| r["stops"].as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        (stops("Pools"), stops("Nederlands"), stops("unknown")),
        (20, 20, 1)
    );
}

#[test]
fn every_arrow_time_and_timestamp_unit_reads_the_same_stops() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/times");
    let polars = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(polars.path(), "[input]\nparquet_reader = \"polars\"\n").unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .is_some_and(|e| e == "parquet" || e == "arrow")
        })
        .collect();
    files.sort();
    assert_eq!(files.len(), 24);
    for file in &files {
        for config in [None, Some(polars.path())] {
            let mut cmd = stopaudit();
            cmd.args(["validate", "--format", "json"]).arg(file);
            if let Some(c) = config {
                cmd.arg("--config").arg(c);
            }
            let v = json_of(&mut cmd);
            let p = &v["provenance"];
            let what = format!("{} {config:?}: {p}", file.display());
            assert_eq!(p["rows_analyzed"], 6, "{what}");
            assert_eq!(p["first_stop"], "2025-06-01T10:30:15+02:00", "{what}");
            assert_eq!(p["last_stop"], "2025-06-06T15:30:15+02:00", "{what}");
        }
    }
}

#[test]
fn a_windows_1252_letter_after_the_first_megabyte_loses_no_rows() {
    // The first megabyte is ASCII, so the file was taken for UTF-8 and the
    // later "Curaçaos" rows (ç is one byte, 0xE7, in Windows-1252) were
    // quarantined as malformed lines: a whole group disappeared.
    let dir = tempfile::tempdir().unwrap();
    let clean = export(dir.path(), 8000);
    let text = std::fs::read_to_string(&clean).unwrap();
    let mut bytes = Vec::new();
    let mut planted = 0;
    for (i, line) in text.lines().enumerate() {
        let mut fields: Vec<&str> = line.split(';').collect();
        if i > 6000 && i % 20 == 0 {
            fields[18] = "Cura\u{e7}aos";
            planted += 1;
        }
        let line = fields.join(";");
        let line = line.trim_start_matches('\u{feff}');
        bytes.extend(
            line.chars()
                .map(|c| if c == '\u{e7}' { 0xE7 } else { c as u8 }),
        );
        bytes.push(b'\n');
    }
    assert!(text.is_ascii() || text.starts_with('\u{feff}'));
    assert!(bytes.iter().position(|&b| b == 0xE7).unwrap() > 1 << 20);
    let path = dir.path().join("late.csv");
    std::fs::write(&path, &bytes).unwrap();
    let a = json_of(
        stopaudit()
            .args(["analyze", "--quiet", "--format", "json", "--min-cell", "0"])
            .arg(&path),
    );
    assert_eq!(a["provenance"]["rows_analyzed"], 8000);
    let curacao: u64 = a["counts"]["by_group_justification_outcome"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["group"] == "Curaçaos")
        .map(|r| r["stops"].as_u64().unwrap())
        .sum();
    assert_eq!(curacao, planted);
    let v = json_of(
        stopaudit()
            .args(["validate", "--format", "json"])
            .arg(&path),
    );
    assert!(
        v["files"][0]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n.as_str().unwrap().contains("read as Windows-1252")),
        "{}",
        v["files"][0]
    );
}

/// Lines of Markdown outside fenced code blocks (CommonMark: a block
/// closes at a fence of the same character at least as long).
fn outside_code(md: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut open: Option<usize> = None;
    for line in md.lines() {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match open {
            None if ticks >= 3 => open = Some(ticks),
            None => out.push(line),
            Some(n) if ticks >= n && line.trim_start_matches('`').trim().is_empty() => open = None,
            Some(_) => {}
        }
    }
    out
}

#[test]
fn hostile_file_names_and_labels_stay_text() {
    let dir = tempfile::tempdir().unwrap();
    let clean = export(dir.path(), 2000);
    // A right-to-left override in a group value reversed whole sentences;
    // a file name with backticks and a line break broke out of the code
    // block showing the command line, and raw HTML then ran.
    let damaged = edited(&clean, "x.csv", |l| {
        for (i, line) in l.iter_mut().enumerate().skip(1) {
            if i % 3 == 0 {
                let mut f: Vec<String> = line.split(';').map(str::to_string).collect();
                f[18] = "Turks\u{202E}".into();
                *line = f.join(";");
            }
        }
    });
    let name = dir
        .path()
        .join("export`x\n~~~~\n```\n<img src=x onerror=alert(1)>.csv");
    std::fs::rename(&damaged, &name).unwrap();
    let out = dir.path().join("report");
    stopaudit()
        .args([
            "report",
            "--quiet",
            "--format",
            "html,md,csv,svg",
            "--min-cell",
            "0",
        ])
        .arg(&name)
        .arg("--out")
        .arg(&out)
        .succeeds();
    let md = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(md.contains("onerror"), "the command line is shown");
    for line in outside_code(&md) {
        let raw = line.replace("\\<", "");
        assert!(
            !raw.contains('<') || raw.contains("<a id="),
            "raw HTML outside code: {line}"
        );
    }
    let mut files = vec![out.join("report.md"), out.join("report.html")];
    for sub in ["tables", "charts"] {
        files.extend(
            std::fs::read_dir(out.join(sub))
                .unwrap()
                .map(|e| e.unwrap().path()),
        );
    }
    assert!(files.len() > 5);
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        assert!(!text.contains('\u{202E}'), "{}", f.display());
    }
    assert!(
        std::fs::read_to_string(out.join("report.html"))
            .unwrap()
            .contains("Turks")
    );
}

#[test]
fn damaged_files_end_with_a_message_not_a_crash() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for name in [
        "crashers/thrift_bool.parquet",
        "crashers/thrift_range.parquet",
        "crashers/ipc_block_length.arrow",
        "crashers/ipc_buffer_length.arrow",
        "crashers/page_values.parquet",
    ] {
        let path = fixtures.join(name);
        let out = stopaudit()
            .args(["validate", "--quiet"])
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(name) && err.contains("damaged"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
    // One stray cell at XFD1048576 makes the sheet's range 17 billion
    // cells (24 GB); only used cells are read.
    let v = json_of(
        stopaudit()
            .args(["validate", "--format", "json"])
            .arg(fixtures.join("far_cell.xlsx")),
    );
    assert_eq!(v["provenance"]["rows_read"], 3, "{v}");
    assert_eq!(v["provenance"]["rows_analyzed"], 3);
    let notes = v["files"][0]["notes"].to_string();
    assert!(notes.contains("right of the header"), "{notes}");
}

#[test]
fn a_report_folder_holds_one_runs_set_and_one_run_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    let input = export(dir.path(), 600);
    let out = dir.path().join("report");
    let report = |formats: &str| {
        stopaudit()
            .args(["report", "--quiet", "--format", formats])
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    assert!(report("html,md,svg,csv").status.success());
    assert!(out.join("charts").is_dir() && out.join("tables").is_dir());
    let mine = out.join("notes.txt");
    std::fs::write(&mine, "the analyst's own file").unwrap();
    // A killed run's leftovers.
    std::fs::write(out.join(".report.html.partial-99999"), "half").unwrap();
    let stale = dir.path().join(".report.staging-99999");
    std::fs::create_dir_all(&stale).unwrap();
    // The next run writes HTML only: the earlier charts, tables and
    // Markdown go, the analyst's own file stays.
    assert!(report("html").status.success());
    assert_eq!(
        names_in(&out),
        [".stopaudit-outputs", "notes.txt", "report.html"]
    );
    assert!(!stale.exists());

    // While another run holds the folder's lock, a run is refused and
    // changes nothing.
    let lock = std::fs::File::options()
        .write(true)
        .open(dir.path().join(".report.lock"))
        .unwrap();
    // std's lock: flock on Unix, LockFileEx on Windows, as the run takes it.
    lock.lock().unwrap();
    let before = std::fs::read(out.join("report.html")).unwrap();
    let refused = report("html,md");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("another stopaudit run"));
    assert_eq!(std::fs::read(out.join("report.html")).unwrap(), before);
    assert!(!out.join("report.md").exists());
    drop(lock);
    // A run that fails while writing (the folder's place is taken by a
    // file of the same name for its charts) leaves the folder as it was.
    std::fs::write(out.join("charts"), "in the way").unwrap();
    let failed = report("html,svg");
    assert_eq!(failed.status.code(), Some(2));
    assert_eq!(
        names_in(&out),
        [".stopaudit-outputs", "charts", "notes.txt", "report.html"]
    );
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("staging"))
    );
}

#[test]
fn too_many_groups_or_fixed_effects_are_refused_not_allocated() {
    let dir = tempfile::tempdir().unwrap();
    let clean = export(dir.path(), 3000);
    // A copy with the nationality of row i set by `value`, and the refusal.
    let refused_with = |name: &str, value: &dyn Fn(usize) -> String| {
        let path = edited(&clean, name, |l| {
            for (i, line) in l.iter_mut().enumerate().skip(1) {
                let mut f: Vec<String> = line.split(';').map(str::to_string).collect();
                f[18] = value(i);
                *line = f.join(";");
            }
        });
        let out = stopaudit()
            .args(["analyze", "--quiet"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // 600 nationalities: more than any analysis per group should take on.
    let err = refused_with("groups.csv", &|i| format!("N{}", i % 600));
    assert!(
        err.contains("`nationality` has 600 distinct values"),
        "{err}"
    );
    // Past twice the bound the scan stops while reading, naming the file.
    let err = refused_with("far_too_many.csv", &|i| format!("N{i}"));
    assert!(
        err.contains("`nationality` has more than 1000 distinct values in")
            && err.contains("far_too_many.csv")
            && err.contains("stopped while reading"),
        "{err}"
    );

    // 300 units: the veil of darkness' unit fixed effects are skipped with a
    // note, the other analyses run.
    let many_units = edited(&clean, "units.csv", |l| {
        for (i, line) in l.iter_mut().enumerate().skip(1) {
            let mut f: Vec<String> = line.split(';').map(str::to_string).collect();
            f[3] = format!("Unit {}", i % 300);
            *line = f.join(";");
        }
    });
    let a = json_of(
        stopaudit()
            .args(["analyze", "--quiet", "--format", "json"])
            .arg(&many_units),
    );
    let veil = a["veil_of_darkness"].to_string();
    assert!(veil.contains("more than this fit allows"), "{veil}");
    assert_eq!(a["provenance"]["rows_analyzed"], 3000);
}

#[test]
fn a_run_killed_while_writing_leaves_the_old_set_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    // About 0.4 s of work: kills land before, during and after the writing.
    let input = export(dir.path(), 300_000);
    let out = dir.path().join("report");
    let listing = || names_in(&out);
    let run = |formats: &str| {
        let mut cmd = stopaudit();
        cmd.args(["report", "--quiet", "--format", formats])
            .arg(&input)
            .arg("--out")
            .arg(&out);
        cmd
    };
    assert!(run("html").output().unwrap().status.success());
    let old = listing();
    let old_html = std::fs::read(out.join("report.html")).unwrap();
    let new = [".stopaudit-outputs", "report.html", "report.md", "tables"];
    let mut killed = 0;
    for wait_ms in [10, 40, 80, 160, 250, 350] {
        let mut child = run("html,md,csv").spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(wait_ms));
        let _ = child.kill();
        let finished = child.wait().unwrap().success();
        let now = listing();
        if now == old {
            assert_eq!(std::fs::read(out.join("report.html")).unwrap(), old_html);
            killed += 1;
        } else {
            // It got to the end: the whole new set, never a mix.
            assert_eq!(now, new, "after {wait_ms} ms (finished: {finished})");
            // Back to the old set for the next try.
            assert!(run("html").output().unwrap().status.success());
            assert_eq!(listing(), old);
        }
    }
    assert!(killed > 0, "no run was killed before its end");
    // The next run cleans up what the killed ones left beside the folder.
    assert!(run("html").output().unwrap().status.success());
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .contains("staging"))
    );
}

/// A full disk, as a run sees it: writes past a size fail (the process's
/// file-size limit, with the signal that would kill it ignored, so the
/// write returns EFBIG as it returns ENOSPC on a full disk).
#[cfg(unix)]
#[test]
fn a_run_that_runs_out_of_disk_leaves_the_folder_as_it_was() {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    let input = export(dir.path(), 2000);
    let out = dir.path().join("report");
    let run = |formats: &str, limit: Option<u64>| {
        let mut cmd = stopaudit();
        cmd.args(["report", "--quiet", "--format", formats])
            .arg(&input)
            .arg("--out")
            .arg(&out);
        if let Some(bytes) = limit {
            // SAFETY: only async-signal-safe calls between fork and exec.
            unsafe {
                cmd.pre_exec(move || {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let lim = libc::rlimit {
                        rlim_cur: bytes,
                        rlim_max: bytes,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &lim) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
        }
        cmd.output().unwrap()
    };
    assert!(run("md", None).status.success());
    let listing = || names_in(&out);
    let old = listing();
    let old_md = std::fs::read(out.join("report.md")).unwrap();
    assert!(old_md.len() > 16_384, "the report must not fit the limit");
    let full = run("html,md,csv", Some(16_384));
    assert_eq!(full.status.code(), Some(2), "{full:?}");
    let err = String::from_utf8_lossy(&full.stderr);
    assert!(err.contains("report"), "the message names the file: {err}");
    assert_eq!(listing(), old);
    assert_eq!(std::fs::read(out.join("report.md")).unwrap(), old_md);
    assert!(
        std::fs::read_dir(dir.path()).unwrap().all(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            !name.contains("staging") && !name.contains(".partial-")
        }),
        "nothing half-written is left beside the folder"
    );
}

/// Found by the mutation test: lone carriage returns and an empty line
/// between them. Every physical line is a row, a blank line or a line
/// inside a quoted field, and the notes say how many of each.
#[test]
fn every_physical_line_is_a_row_or_a_noted_blank_line() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crashers/lone_cr_lines.csv");
    let bytes = std::fs::read(&path).unwrap();
    // Line breaks as the reader counts them: LF, CRLF, a lone CR.
    let breaks = bytes
        .iter()
        .enumerate()
        .filter(|&(i, &b)| b == b'\n' || (b == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count() as u64;
    let data_lines = breaks - 1; // the file ends with a line break
    let v = json_of(
        stopaudit()
            .args(["validate", "--quiet", "--format", "json"])
            .arg(&path),
    );
    let notes: Vec<String> = v["files"][0]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_str().unwrap().to_string())
        .collect();
    let noted = |words: &str| -> u64 {
        notes
            .iter()
            .find(|n| n.contains(words))
            .map_or(0, |n| n.split(' ').next().unwrap().parse().unwrap())
    };
    let rows = v["provenance"]["rows_read"].as_u64().unwrap();
    assert_eq!(noted("blank line(s)"), 1, "{notes:?}");
    assert_eq!(
        rows + noted("blank line(s)") + noted("inside quoted fields"),
        data_lines,
        "{notes:?}"
    );
}

#[test]
fn a_quote_left_open_in_the_header_is_refused_not_read_as_column_names() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    // Found by fuzz_one_reader: the whole file became the header, "no rows".
    let out = stopaudit()
        .args(["validate", "--quiet"])
        .arg(fixtures.join("crashers/header_open_quote.csv"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("header_open_quote.csv") && err.contains("line 1, column 5"),
        "{err}"
    );
    // A header cell wrapped with Alt+Enter in Excel is still a header: the
    // line break is counted and the rows after it are read.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wrapped_header.csv");
    std::fs::write(
        &path,
        "id,tijdstip,aanleiding,resultaat,nationaliteit,\"Opmerking\r\n(vrij)\"\r\n\
         W1,05-03-2025 14:30,gedrag,bekeuring,Nederlandse,\r\n\
         W2,05-03-2025 15:30,gedrag,geen actie,Belgische,\r\n",
    )
    .unwrap();
    let v = json_of(
        stopaudit()
            .args(["validate", "--quiet", "--format", "json"])
            .arg(&path),
    );
    assert_eq!(v["provenance"]["rows_read"], 2, "{v}");
    let notes = v["files"][0]["notes"].to_string();
    assert!(
        notes.contains("1 line break(s) inside quoted fields"),
        "{notes}"
    );
}

/// The names in a folder, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}
