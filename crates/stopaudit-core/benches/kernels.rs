//! Kernel benchmarks (divan): the estimators, the counting step and the
//! time tables.
//! Run with `cargo bench --bench kernels`.

use divan::black_box;
use stopaudit_core::stats::{chisq, exact, fdr, mantel_haenszel, proportion};

fn main() {
    divan::main();
}

#[divan::bench(args = [(30, 70, 45, 55), (12_000, 88_000, 15_000, 85_000), (250_000_000, 750_000_000, 250_040_000, 749_960_000)])]
fn fisher_exact(t: (u64, u64, u64, u64)) -> f64 {
    exact::fisher_exact(
        black_box(t.0),
        black_box(t.1),
        black_box(t.2),
        black_box(t.3),
    )
    .p
}

#[divan::bench]
fn wilson_interval() -> f64 {
    proportion::wilson_interval(black_box(1234), black_box(5678), 0.95)
        .unwrap()
        .low
}

#[divan::bench]
fn katz_rate_ratio() -> f64 {
    proportion::katz_rate_ratio(
        black_box(120),
        black_box(1000),
        black_box(200),
        black_box(1000),
        0.95,
    )
    .unwrap()
    .estimate
}

#[divan::bench]
fn poisson_rate_ratio() -> f64 {
    proportion::poisson_rate_ratio(
        black_box(4500),
        120_000.0,
        black_box(30_000),
        3_500_000.0,
        0.95,
    )
    .p_value
    .p
}

#[divan::bench]
fn pearson_chi_square_11x5() -> f64 {
    let table: Vec<Vec<u64>> = (0..11)
        .map(|i| (0..5).map(|j| 50 + 37 * i as u64 + 11 * j as u64).collect())
        .collect();
    chisq::pearson_chi_square(black_box(&table))
        .unwrap()
        .statistic
}

#[divan::bench]
fn mantel_haenszel_20_strata() -> Option<f64> {
    let strata: Vec<[u64; 4]> = (0..20)
        .map(|k| [30 + k, 70 + 2 * k, 45 + k, 55 + 3 * k])
        .collect();
    mantel_haenszel::mantel_haenszel(black_box(&strata), 0.95).odds_ratio
}

#[divan::bench]
fn benjamini_hochberg_1000() -> f64 {
    let p: Vec<f64> = (0..1000)
        .map(|i| ((i * 7919) % 1000) as f64 / 1000.0)
        .collect();
    fdr::benjamini_hochberg(black_box(&p))[0]
}

/// 65,536 stops with three group attributes, 25 units and every code list
/// in use (a deterministic pseudo-random mix), as a batch reaches the kernel.
fn synthetic_batch() -> stopaudit_core::canonical::StopBatch {
    use stopaudit_core::canonical::StopRow;
    let mut batch = stopaudit_core::canonical::StopBatch::new(3);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (x >> 33) % n
    };
    for _ in 0..65_536 {
        let stop = StopRow {
            stop_id: None,
            stopped_at: 1_700_000_000_000,
            justification: next(5) as u8,
            outcome: next(6) as u8,
            legal_basis: Some(next(6) as u8),
            subject_type: Some(next(3) as u8),
            reason_explained: None,
            search_conducted: Some(next(5) == 0),
            contraband_found: Some(next(10) == 0),
            latitude: None,
            longitude: None,
            registered_at: None,
            texts: [
                Some(format!("unit {}", next(25))),
                None,
                None,
                None,
                None,
                None,
            ],
            groups: vec![
                format!("n{}", next(12)),
                format!("g{}", next(3)),
                format!("a{}", next(6)),
            ],
        };
        batch.push(&stop);
    }
    batch
}

#[divan::bench]
fn count_batch_65536_stops(bencher: divan::Bencher) {
    let batch = synthetic_batch();
    bencher.bench(|| stopaudit_core::counting::BatchCounts::count(black_box(&batch), &[]).len());
}

/// Run codes equal to the batch's own: `(texts, groups)` as
/// `SharedCube::codes_of` gives them.
fn identity_codes(batch: &stopaudit_core::canonical::StopBatch) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
    let identity = |values: &[Vec<String>]| -> Vec<Vec<u32>> {
        values
            .iter()
            .map(|v| (0..v.len() as u32).collect())
            .collect()
    };
    (identity(&batch.text_values), identity(&batch.group_values))
}

/// What a batch costs the cube: counted, then merged into a builder
/// (the batch's codes standing for the run's).
#[divan::bench]
fn count_and_merge_65536_stops(bencher: divan::Bencher) {
    use stopaudit_core::counting::{BatchCounts, CubeBuilder};
    let batch = synthetic_batch();
    let (texts, groups) = identity_codes(&batch);
    bencher.bench(|| {
        let counts = BatchCounts::count(black_box(&batch), &[]);
        let mut builder = CubeBuilder::new(&[]);
        builder.merge_batch(&counts, &texts, &groups);
        builder
    });
}

/// The time tables of one batch (each stop's local time, the calendar
/// tables, the daylight class and the veil-of-darkness tally), stops spread
/// over 2025 at every hour and over the Netherlands.
#[divan::bench]
fn time_tables_65536_stops(bencher: divan::Bencher) {
    let mut batch = synthetic_batch();
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = |n: u64| {
        x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (x >> 33) % n
    };
    for i in 0..batch.len() {
        // From 2025-01-01T00:00Z, any minute of the year.
        batch.fields.stopped_at[i] = 1_735_689_600_000 + next(365 * 24 * 60) as i64 * 60_000;
        batch.fields.latitude[i] = 50.8 + next(2_500) as f64 / 1_000.0;
        batch.fields.longitude[i] = 3.4 + next(3_700) as f64 / 1_000.0;
    }
    let (texts, groups) = identity_codes(&batch);
    let tz = chrono_tz::Europe::Amsterdam;
    let daylight = stopaudit_core::daylight::Daylight::new(tz, &[], None, 0.1, 30);
    let cube = stopaudit_core::counting::SharedCube::new(batch.groups.len(), &[]);
    bencher.bench(|| {
        cube.add_time_tables(black_box(&batch), tz, Some(&daylight), &texts, &groups);
    });
}

#[divan::bench(args = [(0.15, 0.3, 8.0), (0.3, 1.0, 30.0), (0.05, 0.1, 3.0)])]
fn incomplete_beta_with_gradient(t: (f64, f64, f64)) -> f64 {
    stopaudit_core::stats::incomplete_beta::incomplete_beta(
        black_box(t.0),
        black_box(t.1),
        black_box(t.2),
    )
    .unwrap()
    .d_b
}

/// The threshold test's log density and gradient on North Carolina's 165
/// published cells (tests/fixtures/opp): the cost of one leapfrog step.
#[divan::bench]
fn threshold_test_gradient_nc(bencher: divan::Bencher) {
    use stopaudit_core::mcmc::LogDensity;
    use stopaudit_core::threshold_test::{CountRow, index_counts};
    let mut reader =
        csv::Reader::from_path("tests/fixtures/opp/fig4b_threshold_test_5states.csv").unwrap();
    let rows: Vec<CountRow> = reader
        .records()
        .map(|r| r.unwrap())
        .filter(|r| &r[8] == "NC")
        .map(|r| CountRow {
            location: r[0].to_owned(),
            group: r[1].to_owned(),
            stops: r[2].parse().unwrap(),
            searches: r[3].parse().unwrap(),
            hits: r[4].parse().unwrap(),
        })
        .collect();
    let (model, _, _) = index_counts(&rows, "White drivers").unwrap();
    let layout = model.layout();
    let mut theta = vec![0.0; model.dim()];
    for r in 0..model.groups {
        theta[layout.ln_sigma + r] = -2.0;
        theta[layout.t_r + r] = -1.5;
        theta[layout.phi_r + r] = -3.0;
        theta[layout.lambda_r + r] = 2.0;
    }
    let mut grad = vec![0.0; model.dim()];
    bencher.bench_local(|| model.log_density(black_box(&theta), &mut grad));
}
