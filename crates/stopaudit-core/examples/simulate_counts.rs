//! Counts drawn from the threshold test's own model, as the CSV
//! `stopaudit threshold-test` reads (`location,group,stops,searches,hits`):
//! a state of any size for timing the sampler (benches/threshold_test.sh
//! `--simulated`), with the true thresholds on standard error.
//!
//!     cargo run --release -p stopaudit-core --example simulate_counts -- 250 5 1 > state.csv
//!
//! Arguments: locations, groups, seed; optional smallest and largest stops
//! per cell (default 500 and 20000).

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| {
            a.parse()
                .expect("whole numbers: locations groups seed [min max]")
        })
        .collect();
    let [locations, groups, seed] = args[..3] else {
        panic!("usage: simulate_counts LOCATIONS GROUPS SEED [MIN_STOPS MAX_STOPS]");
    };
    let (lo, hi) = match args[3..] {
        [lo, hi] => (lo, hi),
        _ => (500, 20_000),
    };
    let sim = stopaudit_core::threshold_test::simulate::simulate(
        locations as usize,
        groups as usize,
        lo..hi,
        seed,
    );
    println!("location,group,stops,searches,hits");
    for (row, t) in sim.rows.iter().zip(&sim.thresholds) {
        println!(
            "{},{},{},{},{}",
            row.location, row.group, row.stops, row.searches, row.hits
        );
        eprintln!("{},{},{t:.6}", row.location, row.group);
    }
}
