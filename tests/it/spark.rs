//! The count cube counted on Apache Spark (issue 20): `stopaudit count
//! --engine spark --emit DIR` writes a job; `spark-submit` runs it on
//! `local[2]`; `analyze --cube` on Spark's cube equals the native run on
//! the same files byte for byte, quarantine counts included.
//!
//! Needs Java and PySpark (`spark-submit`): ignored by default, run by
//! `.ci/run` (which installs them) and by anyone with `--include-ignored`.
//! `STOPAUDIT_SPARK_SUBMIT` names the `spark-submit` to use (default: the
//! one on the PATH).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{Succeeds, stopaudit};
use crate::cube::{same_text, without_cubes};

fn spark_submit() -> PathBuf {
    if let Some(p) = std::env::var_os("STOPAUDIT_SPARK_SUBMIT") {
        return PathBuf::from(p);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("spark-submit"))
            .find(|p| p.is_file())
    });
    found.unwrap_or_else(|| {
        panic!(
            "these tests need Apache Spark: install Java 17 and `pip install pyspark==3.5.3` (as .ci/run does), or set STOPAUDIT_SPARK_SUBMIT"
        )
    })
}

/// `spark-submit --master local[2]` on loopback, without the UI.
fn submit(script: &Path, args: &[&str]) -> std::process::Output {
    Command::new(spark_submit())
        .args(["--master", "local[2]"])
        .args(["--conf", "spark.ui.enabled=false"])
        .args(["--conf", "spark.driver.host=127.0.0.1"])
        .args(["--conf", "spark.driver.bindAddress=127.0.0.1"])
        .args(["--conf", "spark.sql.shuffle.partitions=8"])
        .args(["--driver-memory", "2g"])
        // As README.md advises: the JIT compiles Spark's generated code for
        // the job's wide rows (about twice as fast).
        .args([
            "--conf",
            "spark.driver.extraJavaOptions=-XX:-DontCompileHugeMethods",
        ])
        .env("SPARK_LOCAL_IP", "127.0.0.1")
        .env("PYSPARK_PYTHON", python_of_spark())
        .arg(script)
        .args(args)
        .output()
        .expect("spark-submit runs")
}

/// The Python next to `spark-submit` (a virtual environment's), else python3.
fn python_of_spark() -> PathBuf {
    let submit = spark_submit();
    let beside = submit.with_file_name("python3");
    if beside.is_file() {
        beside
    } else {
        PathBuf::from("python3")
    }
}

/// A helper script of tests/fixtures/spark.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/spark")
        .join(name)
}

fn run_ok(out: std::process::Output, what: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{what} failed ({:?}): {}",
        out.status.code(),
        stderr.lines().rev().take(40).collect::<Vec<_>>().join("\n")
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

const CONFIG: &str = "[period]\nstart = 2025-01-01\nend = 2025-12-31\n";

/// With declared attributes and value maps (spellings that normalise alike).
const CONFIG_MAPS: &str = "[period]\nstart = 2025-01-01\nend = 2025-12-31\n[groups]\nattributes = [\"nationality\", \"gender\", \"age_band\"]\n[values.nationality]\n\"Marokkaans\" = \"Noord-Afrikaans\"\n\"Algerijns\" = \"Noord-Afrikaans\"\n\"turks \" = \"Turks\"\n[values.justification]\n\"Gedrag!\" = \"behaviour\"\n";

#[test]
#[ignore = "needs Java and PySpark (run by .ci/run, which installs them)"]
fn a_cube_counted_on_spark_analyses_exactly_like_the_native_run() {
    let rows = std::env::var("STOPAUDIT_SPARK_ROWS").unwrap_or_else(|_| "1000000".into());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let export = d.join("export.parquet");
    stopaudit()
        .args(["generate", "--quiet", "--rows", &rows, "--seed", "7"])
        .args([
            "--format", "parquet", "--dirty", "0.03", "--bias", "combined",
        ])
        .args(["--out", export.to_str().unwrap()])
        .succeeds();
    let parts_dir = d.join("lake");
    std::fs::create_dir(&parts_dir).unwrap();
    run_ok(
        submit(
            &fixture("split.py"),
            &[export.to_str().unwrap(), parts_dir.to_str().unwrap(), "4"],
        ),
        "splitting the export",
    );
    let parts: Vec<String> = (0..4)
        .map(|k| {
            parts_dir
                .join(format!("part-{k}.parquet"))
                .display()
                .to_string()
        })
        .collect();
    let config = d.join("stopaudit.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.to_str().unwrap();

    let native = emitted_run_and_native(d, "lake", &parts, config);

    // What was tested is there: several quarantine reasons (duplicates
    // among them), the darkness table, stops near clock changes.
    let v: serde_json::Value = serde_json::from_slice(&native).unwrap();
    let reasons = v["provenance"]["quarantine_reasons"].as_object().unwrap();
    assert!(reasons.len() >= 5, "{reasons:?}");
    assert!(reasons["duplicate_stop_id"].as_u64().unwrap() > 0);
    assert!(reasons["outside_period"].as_u64().unwrap() > 0);
    assert!(v["veil_of_darkness"]["stops"]["dark"].as_u64().unwrap() > 0);
    let part = stopaudit_io::cube::read(&d.join("lake-cube")).unwrap();
    assert_eq!(part.manifest.engine.name, "spark");
    let darkness = part.tables.iter().find(|t| t.name == "darkness").unwrap();
    let near_change = match &darkness
        .columns
        .iter()
        .find(|(n, _)| n == "clock_change_window")
        .unwrap()
        .1
    {
        stopaudit_core::counting::artifact::Column::Bool(v) => {
            v.iter().filter(|b| **b == Some(true)).count()
        }
        _ => 0,
    };
    assert!(near_change > 0, "no stops near a clock change");
}

/// Writes the Spark job for `inputs`, runs it, and checks that
/// `analyze --cube` on Spark's cube prints the native run's JSON byte for
/// byte (apart from the provenance naming the cube); returns that JSON.
fn emitted_run_and_native(d: &Path, name: &str, inputs: &[String], config: &str) -> Vec<u8> {
    let job = d.join(format!("{name}-job"));
    let said = stopaudit()
        .args(["count", "--config", config, "--quiet", "--engine", "spark"])
        .args(inputs)
        .args(["--emit", job.to_str().unwrap()])
        .succeeds()
        .stdout;
    let said = String::from_utf8_lossy(&said);
    assert!(said.contains("spark-submit"), "{said}");
    for f in ["README.md", "job.json", "count.sql", "driver.py"] {
        assert!(job.join(f).is_file(), "{f}");
    }
    // Nothing of the configuration or the data is in the SQL as text.
    let sql = std::fs::read_to_string(job.join("count.sql")).unwrap();
    for word in ["Marokkaans", "Nationaliteit", "nationality", "Rotterdam"] {
        assert!(!sql.contains(word), "{word} in the SQL");
    }

    let cube = d.join(format!("{name}-cube"));
    let started = std::time::Instant::now();
    let out = run_ok(
        submit(&job.join("driver.py"), &["--out", cube.to_str().unwrap()]),
        "the Spark job",
    );
    eprintln!(
        "{name}: the Spark job on local[2] took {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(out.contains("rows read"), "{out}");

    let native = stopaudit()
        .args(["analyze", "--config", config, "--format", "json", "--quiet"])
        .args(inputs)
        .succeeds()
        .stdout;
    let spark = stopaudit()
        .args(["analyze", "--config", config, "--format", "json", "--quiet"])
        .args(["--cube", cube.to_str().unwrap()])
        .succeeds()
        .stdout;
    same_text(
        &without_cubes(&spark).0,
        std::str::from_utf8(&native).unwrap(),
        "the JSON outputs of Spark's cube and the native run",
    );
    native
}

/// Text columns as a Dutch export writes them (labels, ja/nee, decimal
/// commas) with hostile spellings in every 7th row: Spark's checks are
/// stopaudit's, value for value.
#[test]
#[ignore = "needs Java and PySpark (run by .ci/run, which installs them)"]
fn text_columns_with_hostile_spellings_count_on_spark_as_natively() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = d.join("export.csv");
    stopaudit()
        .args(["generate", "--quiet", "--rows", "50000", "--seed", "9"])
        .args(["--dirty", "0.05", "--bias", "combined"])
        .args(["--out", csv.to_str().unwrap()])
        .succeeds();
    let text = d.join("text.parquet");
    let int96 = d.join("int96.parquet");
    run_ok(
        submit(
            &fixture("dutch_text.py"),
            &[
                csv.to_str().unwrap(),
                text.to_str().unwrap(),
                int96.to_str().unwrap(),
            ],
        ),
        "making the text Parquet file",
    );
    let config = d.join("stopaudit.toml");
    std::fs::write(&config, CONFIG_MAPS).unwrap();
    let config = config.to_str().unwrap();
    let inputs = [text.display().to_string()];
    let native = emitted_run_and_native(d, "text", &inputs, config);
    let v: serde_json::Value = serde_json::from_slice(&native).unwrap();
    let reasons = v["provenance"]["quarantine_reasons"].as_object().unwrap();
    for reason in [
        "invalid_value",
        "unknown_category",
        "missing_required",
        "duplicate_stop_id",
    ] {
        assert!(reasons[reason].as_u64().unwrap() > 0, "{reasons:?}");
    }
    assert!(String::from_utf8_lossy(&native).contains("Noord-Afrikaans"));

    // Stops outside the sun tables stop the job with what to do, and no
    // cube is left behind.
    let job = d.join("narrow-job");
    stopaudit()
        .args(["count", "--config", config, "--quiet", "--engine", "spark"])
        .args(&inputs)
        .args(["--sun-area", "52.0,4.0,52.1,4.1"])
        .args(["--emit", job.to_str().unwrap()])
        .succeeds();
    job_refuses(
        &job,
        &d.join("narrow-cube"),
        &["outside the sun tables", "--sun-area"],
    );

    // Timestamps without a zone (INT96), which stopaudit reads as local
    // times, are refused, not counted an hour or two off.
    let job = d.join("int96-job");
    stopaudit()
        .args(["count", "--config", config, "--quiet", "--engine", "spark"])
        .arg(&int96)
        .args(["--like", text.to_str().unwrap()])
        .args(["--emit", job.to_str().unwrap()])
        .succeeds();
    job_refuses(
        &job,
        &d.join("int96-cube"),
        &["INT96", "without a time zone"],
    );
}

/// Runs a job that must stop: exit code 2, a message saying `expect`, and no cube.
fn job_refuses(job: &Path, cube: &Path, expect: &[&str]) {
    let out = submit(&job.join("driver.py"), &["--out", cube.to_str().unwrap()]);
    // spark-submit passes the driver's stderr on to its stdout.
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(2), "{said}");
    for e in expect {
        assert!(said.contains(e), "{e}: {said}");
    }
    assert!(!cube.exists());
}

/// Refusals: what the Spark job cannot count exactly is refused when the
/// job is written, with what to do instead.
#[test]
fn what_the_spark_job_cannot_count_is_refused_when_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let csv = d.join("export.csv");
    stopaudit()
        .args(["generate", "--quiet", "--rows", "2000", "--seed", "3"])
        .args(["--out", csv.to_str().unwrap()])
        .succeeds();
    let parquet = d.join("export.parquet");
    stopaudit()
        .args(["generate", "--quiet", "--rows", "2000", "--seed", "3"])
        .args(["--format", "parquet", "--out", parquet.to_str().unwrap()])
        .succeeds();
    let job = d.join("job");
    let refused = |args: &[&str], expect: &str| {
        let out = stopaudit()
            .args(["count", "--quiet", "--engine", "spark"])
            .args(args)
            .args(["--emit", job.to_str().unwrap()])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(expect), "{args:?}: {err}");
        assert!(!job.exists(), "{args:?} left a job behind");
    };
    let p = parquet.to_str().unwrap();
    refused(
        &[csv.to_str().unwrap(), "--period", "2025"],
        "reads Parquet",
    );
    refused(
        &[p, "--period", "2025", "--where", "unit=Rotterdam"],
        "--where",
    );
    refused(&[p], "--years");
    refused(
        &["hdfs:///lake/part-0.parquet", "--period", "2025"],
        "--like",
    );
    refused(&[p, "--years", "2026..2025"], "--years");
    refused(
        &[p, "--period", "2025", "--sun-area", "1,2,3"],
        "--sun-area",
    );
    // --out and --emit, the engine and its options, belong together.
    let out = stopaudit()
        .args(["count", "--quiet", p, "--emit", job.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--engine spark"));

    // Accepted from a local sample for inputs the cluster names.
    stopaudit()
        .args(["count", "--quiet", "--engine", "spark", "--period", "2025"])
        .args(["hdfs:///lake/part-0.parquet", "hdfs:///lake/part-1.parquet"])
        .args(["--like", p, "--emit", job.to_str().unwrap()])
        .succeeds();
    let j: serde_json::Value =
        serde_json::from_slice(&std::fs::read(job.join("job.json")).unwrap()).unwrap();
    assert_eq!(j["inputs"][1], "hdfs:///lake/part-1.parquet");
    assert_eq!(j["columns"][0]["kind"], "instant");
}

/// The SQL the job runs, for a Parquet export with extra strata, against a
/// committed copy (tests/snapshots/spark-count.sql; after an intended
/// change, `UPDATE_SNAPSHOTS=1 cargo test --release --test it spark` and
/// review the diff). And the cube it writes merges with native ones: its
/// specification hash is a native count's.
#[test]
fn the_generated_sql_is_the_reviewed_one_and_the_specification_a_native_counts() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let parquet = d.join("export.parquet");
    stopaudit()
        .args(["generate", "--quiet", "--rows", "3000", "--seed", "5"])
        .args(["--format", "parquet", "--out", parquet.to_str().unwrap()])
        .succeeds();
    let config = d.join("stopaudit.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let config = config.to_str().unwrap();
    let p = parquet.to_str().unwrap();
    let job = d.join("job");
    let by = ["--by", "justification,district,reason_explained"];
    stopaudit()
        .args([
            "count", "--quiet", "--config", config, p, "--engine", "spark",
        ])
        .args(by)
        .args(["--emit", job.to_str().unwrap()])
        .succeeds();
    let got = std::fs::read_to_string(job.join("count.sql")).unwrap();
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/spark-count.sql");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok() {
        std::fs::write(&path, &got).unwrap();
    } else {
        let want = std::fs::read_to_string(&path)
            .unwrap_or_else(|_| panic!("missing {}; run with UPDATE_SNAPSHOTS=1", path.display()));
        same_text(
            &got,
            &want,
            "the generated SQL and tests/snapshots/spark-count.sql",
        );
    }

    let cube = d.join("cube");
    stopaudit()
        .args(["count", "--quiet", "--config", config, p])
        .args(by)
        .args(["--out", cube.to_str().unwrap()])
        .succeeds();
    let json = |path: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let (job, native) = (json(job.join("job.json")), json(cube.join("manifest.json")));
    assert_eq!(
        job["manifest"]["specification_sha256"],
        native["specification_sha256"]
    );
    assert_eq!(job["manifest"]["extra_fields"], native["extra_fields"]);
    assert_eq!(
        job["summary"]["attributes"],
        native["summary"]["attributes"]
    );
    assert_eq!(
        job["file"]["columns"],
        native["summary"]["files"][0]["columns"]
    );
    let kinds: Vec<&str> = job["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"bool") && kinds.contains(&"float") && kinds.contains(&"text"));
}
