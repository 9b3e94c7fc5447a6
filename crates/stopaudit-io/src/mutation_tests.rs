//! The mutation test of issue 18: small real inputs of every format,
//! changed at random bytes (a fixed seed and budget), scanned in process.
//! Whatever the damage, the scan ends in an error naming the file or in
//! an accounting that adds up (`rows_read = analysed + quarantined + out
//! of scope`, and for CSV `rows_read` at least the file's data lines less
//! the line breaks inside quoted fields and the blank lines, as the notes
//! say); no single allocation asks for more than [`ALLOCATION_BOUND`]; a
//! panic that escapes fails the test. Crashers it finds
//! become inputs in `tests/fixtures/crashers/`. `fuzz_one_reader` runs a
//! longer campaign on one reader by hand (see docs/architecture.md).

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use stopaudit_core::config::Config;
use stopaudit_core::counting::CountPlan;
use stopaudit_core::scope::Scope;

use crate::quarantine::QuarantineSink;
use crate::scan::{IdLimits, ScanSettings, scan};

/// The largest single allocation any mutated input may ask for. The seeds
/// are a few kilobytes; a damaged length field asked for 2.3 EB before.
const ALLOCATION_BOUND: usize = 256 << 20;

/// The system allocator, remembering the largest request and refusing any
/// above four times the bound (the process then stops with "memory
/// allocation of N bytes failed" instead of exhausting the machine).
struct Watching;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

/// Notes a request's size; false (refuse) above four times the bound.
fn admit(size: usize) -> bool {
    LARGEST.fetch_max(size, Ordering::Relaxed);
    size <= 4 * ALLOCATION_BOUND
}

// SAFETY: every admitted call is passed on unchanged to the system
// allocator; a refused one returns null, as an allocator may.
unsafe impl GlobalAlloc for Watching {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !admit(new_size) {
            return std::ptr::null_mut();
        }
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Watching = Watching;

/// The number in a note such as "12 blank line(s) skipped", 0 without one.
fn noted(notes: &[String], words: &str) -> u64 {
    notes
        .iter()
        .find(|n| n.contains(words))
        .and_then(|n| n.split(' ').next()?.parse().ok())
        .unwrap_or(0)
}

/// Physical lines after the header's: line breaks as the CSV reader counts
/// them (LF, CRLF, a lone CR), plus a last line without one.
fn data_lines(bytes: &[u8]) -> u64 {
    let breaks = (0..bytes.len())
        .filter(|&i| bytes[i] == b'\n' || (bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')))
        .count() as u64;
    let last_open = !matches!(bytes.last(), None | Some(b'\n' | b'\r'));
    (breaks + u64::from(last_open)).saturating_sub(1)
}

/// xorshift64*: a small, fixed random source (the test must not change
/// with a crate's version).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One to sixteen random changes: a byte replaced, bytes cut out or put in.
fn mutate(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut d = data.to_vec();
    for _ in 0..[1, 2, 4, 8, 16][rng.below(5)] {
        if d.is_empty() {
            break;
        }
        let at = rng.below(d.len());
        match rng.below(10) {
            0..=5 => d[at] = rng.next() as u8,
            6 | 7 => {
                let end = (at + 1 + rng.below(8)).min(d.len());
                d.drain(at..end);
            }
            _ => {
                let n = 1 + rng.below(8);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                d.splice(at..at, bytes);
            }
        }
    }
    d
}

/// The seed inputs: one or two small real files per reader.
const SEEDS: [&str; 7] = [
    "dutch_export.csv",
    "windows1252.csv",
    "stops.jsonl",
    "stops.xlsx",
    "times/time_ms.parquet",
    "times/stamp_us_utc.parquet",
    "times/stamp_us_utc.arrow",
];

#[test]
fn mutated_inputs_of_every_format_never_panic_and_always_add_up() {
    let (scanned, refused) = campaign(&SEEDS, 7_000, 0x5eed_1234_abcd_0042);
    // Both outcomes occur: the mutations are neither all fatal nor all harmless.
    assert!(
        scanned > 100 && refused > 100,
        "{scanned} scanned, {refused} refused"
    );
}

/// The same, longer and for one reader at a time, run by hand:
/// `STOPAUDIT_FUZZ=parquet STOPAUDIT_FUZZ_RUNS=1000000 STOPAUDIT_FUZZ_SEED=7
/// cargo test --release -p stopaudit-io fuzz_one_reader -- --ignored`
/// (`csv`, `jsonl`, `xlsx`, `parquet` or `arrow`; the mapping and the
/// validation run on every input that opens). A find stops the run and
/// names the kept input, to be committed in `tests/fixtures/crashers/`.
#[test]
#[ignore = "a long fuzzing run, by hand"]
fn fuzz_one_reader() {
    let format = std::env::var("STOPAUDIT_FUZZ").unwrap_or_else(|_| "csv".into());
    let runs = std::env::var("STOPAUDIT_FUZZ_RUNS").map_or(100_000, |r| r.parse().unwrap());
    let seed = std::env::var("STOPAUDIT_FUZZ_SEED").map_or(1, |r| r.parse().unwrap());
    let seeds: Vec<&str> = SEEDS
        .iter()
        .copied()
        .filter(|s| s.ends_with(&format!(".{format}")))
        .collect();
    assert!(!seeds.is_empty(), "no seed input for {format}");
    let (scanned, refused) = campaign(&seeds, runs, seed);
    eprintln!("{format}: {runs} runs, {scanned} scanned, {refused} refused, no find");
}

/// Scans `runs` mutated copies of the seeds in turn; panics naming the kept
/// input on a find. Returns how many scanned and how many were refused.
fn campaign(seeds: &[&str], runs: usize, seed: u64) -> (usize, usize) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let config = Config::default();
    let codes = config.check().unwrap();
    let (scope, plan) = (Scope::default(), CountPlan::default());
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let settings = ScanSettings {
        config: &config,
        codes: &codes,
        scope: &scope,
        plan: &plan,
        progress: false,
        id_limits: IdLimits::default(),
        threads: 2,
        plausible_dates: (day(2000, 1, 1), day(2030, 1, 1)),
    };
    // Kept when a find panics (the input stays there), removed at the end.
    let dir = tempfile::tempdir().unwrap().keep();
    let mut rng = Rng(seed.max(1)); // xorshift needs a state other than 0
    let (mut scanned, mut refused) = (0, 0);
    for (i, seed) in seeds.iter().cycle().take(runs).enumerate() {
        let data = std::fs::read(fixtures.join(seed)).unwrap();
        let name = Path::new(seed).file_name().unwrap().to_string_lossy();
        let path: PathBuf = dir.join(format!("m{i}-{name}"));
        let mutated = mutate(&data, &mut rng);
        std::fs::write(&path, &mutated).unwrap();
        let inputs = [path.clone()];
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            scan(&inputs, &settings, &mut QuarantineSink::counting_only())
        }));
        match outcome {
            Err(_) => found(&path, "crasher", format!("{seed}: mutation {i} panicked")),
            Ok(Err(e)) => {
                refused += 1;
                assert!(e.to_string().contains(&*name), "{seed} #{i}: {e}");
            }
            Ok(Ok(s)) => {
                scanned += 1;
                let s = &s.summary;
                assert_eq!(
                    s.rows_read,
                    s.rows_analyzed + s.rows_quarantined + s.rows_out_of_scope,
                    "{seed} #{i}"
                );
                if seed.ends_with(".csv") {
                    let notes = &s.files[0].notes;
                    let explained = noted(notes, "line break(s) inside quoted fields")
                        + noted(notes, "blank line(s) skipped");
                    let lines = data_lines(&mutated);
                    if s.rows_read + explained < lines {
                        found(
                            &path,
                            "lost",
                            format!(
                                "{seed} #{i}: {} rows read, {lines} data lines, {explained} explained by notes {notes:?}",
                                s.rows_read
                            ),
                        );
                    }
                }
            }
        }
        let largest = LARGEST.load(Ordering::Relaxed);
        if largest > ALLOCATION_BOUND {
            found(
                &path,
                "large",
                format!("{seed}: mutation {i} asked for {largest} bytes at once"),
            );
        }
        let _ = std::fs::remove_file(&path);
    }
    let _ = std::fs::remove_dir_all(&dir);
    (scanned, refused)
}

/// Fails the campaign on a find, keeping its input under a telling name.
fn found(path: &Path, tag: &str, what: String) -> ! {
    let name = path.file_name().unwrap().to_string_lossy();
    let kept = path.with_file_name(format!("{tag}-{name}"));
    std::fs::rename(path, &kept).unwrap();
    panic!("{what}; the input is at {}", kept.display())
}
