//! Worker threads of rayon and polars.

/// Configures the worker threads of rayon and polars. Call before any work.
pub fn init_threads(threads: Option<usize>) {
    if let Some(n) = threads.filter(|&n| n > 0) {
        // SAFETY: called once at start-up from main, before any other thread exists.
        unsafe { std::env::set_var("POLARS_MAX_THREADS", n.to_string()) };
        let _ = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global();
    }
}
