//! `stopaudit ask`: one parliamentary question in one command, checked
//! against counts written by the test.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{json_of, stopaudit};

/// Writes stops: (unit, date, nationality, justification, sanctions, others).
fn export(dir: &Path, cells: &[(&str, &str, &str, &str, u32, u32)]) -> PathBuf {
    let path = dir.join("stops.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    writeln!(
        f,
        "stop_id,stopped_at,justification,outcome,nationality,unit"
    )
    .unwrap();
    let mut id = 0;
    for &(unit, date, nationality, justification, hits, others) in cells {
        for outcome in std::iter::repeat_n("fine", hits as usize)
            .chain(std::iter::repeat_n("no_action", others as usize))
        {
            id += 1;
            writeln!(
                f,
                "S{id},{date} 12:00,{justification},{outcome},{nationality},{unit}"
            )
            .unwrap();
        }
    }
    f.flush().unwrap();
    path
}

fn cells() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    u32,
    u32,
)> {
    vec![
        // The question's cell and its reference, in Rotterdam in Q3.
        ("Rotterdam", "2025-08-12", "Marokkaans", "behaviour", 12, 88),
        (
            "Rotterdam",
            "2025-08-12",
            "Nederlands",
            "behaviour",
            75,
            225,
        ),
        // Other justifications, quarters and units, which must not count.
        (
            "Rotterdam",
            "2025-08-12",
            "Marokkaans",
            "information",
            30,
            30,
        ),
        (
            "Rotterdam",
            "2025-08-12",
            "Nederlands",
            "information",
            40,
            40,
        ),
        ("Rotterdam", "2025-02-03", "Marokkaans", "behaviour", 40, 60),
        ("Rotterdam", "2025-02-03", "Nederlands", "behaviour", 30, 70),
        ("Amsterdam", "2025-08-12", "Marokkaans", "behaviour", 50, 50),
        ("Amsterdam", "2025-08-12", "Nederlands", "behaviour", 20, 80),
    ]
}

#[test]
fn one_command_answers_a_scoped_question_with_the_right_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = export(dir.path(), &cells());
    let ask = |extra: &[&str]| {
        let mut cmd = stopaudit();
        cmd.arg("ask")
            .arg(&path)
            .args(["--quiet", "--where", "unit=Rotterdam", "--period"])
            .arg("01-07-2025..30-09-2025")
            .args([
                "--group",
                "nationality=Marokkaans",
                "--reference",
                "Nederlands",
            ])
            .args(["--within", "justification=behaviour"])
            .args(extra);
        cmd
    };
    let a: Value = json_of(&mut ask(&["--format", "json"]));
    let c = &a["comparison"];
    assert_eq!(
        (c["hits"].as_u64(), c["stops"].as_u64()),
        (Some(12), Some(100)),
        "{c}"
    );
    assert_eq!(
        (c["ref_hits"].as_u64(), c["ref_stops"].as_u64()),
        (Some(75), Some(300)),
        "{c}"
    );
    // 12% against 25%: a ratio of 0.48, significant, to the group's disadvantage.
    assert!(
        (c["rate_ratio"].as_f64().unwrap() - 0.48).abs() < 1e-9,
        "{c}"
    );
    assert!(c["p_value"].as_f64().unwrap() < 0.01, "{c}");
    assert!(c["verdict"].is_string(), "{c}");
    // The run covered Rotterdam's Q3 only: 540 stops analysed.
    assert!(
        a["accounting"].as_str().unwrap().contains("analysed 540"),
        "{a}"
    );
    // Significant, large and adverse within the justification: part of a finding.
    assert_eq!(c["verdict"], "finding", "{c}");

    let out = ask(&["--lang", "nl"]).output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Marokkaans: 12 van 100"), "{text}");
    assert!(text.contains("Nederlands: 75 van 300"), "{text}");
    assert!(text.contains("Verhouding 0,48"), "{text}");
    assert!(text.contains("Oordeel:"), "{text}");
    assert!(text.contains("eenheid = Rotterdam"), "{text}");
}

#[test]
fn a_misspelt_group_or_the_reference_itself_is_refused_with_the_closest_groups() {
    let dir = tempfile::tempdir().unwrap();
    let path = export(dir.path(), &cells());
    let fails = |group: &str| {
        let out = stopaudit()
            .arg("ask")
            .arg(&path)
            .args(["--quiet", "--group", group])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(fails("nationality=Marokan").contains("closest: Marokkaans"));
    assert!(fails("nationality=Nederlands").contains("that is the reference group"));
    assert!(fails("herkomst=Marokkaans").contains("not a group attribute"));
    // A misspelt --where value leaves no stop: the closest values are named.
    let out = stopaudit()
        .arg("analyze")
        .arg(&path)
        .args(["--quiet", "--where", "unit=Roterdam"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("--where unit=Roterdam: no stop has this value; closest: Rotterdam"),
        "{err}"
    );
}
