//! Worker threads.

use stopaudit_core::error::{Error, Result};

/// Makes `threads` the size of rayon's global pool, which every parallel
/// step uses (batch jobs, counting, the analyses). Call once, before any
/// parallel work; polars takes its count from `POLARS_MAX_THREADS`, which
/// the binary sets first.
pub fn init_threads(threads: usize) -> Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| Error::Usage(format!("--threads {threads}: {e}")))
}
