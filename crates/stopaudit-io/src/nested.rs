//! Parallelism inside one batch job, on or off.
//!
//! A batch job (decode, validate, count) can split its own work over the
//! rayon pool: columns decoded side by side, fields checked in parallel.
//! That helps a file of one or two batches, where nothing else could use
//! the other cores. It hurts a long file, whose batches already keep every
//! thread busy: a worker that waits for its half of a split steals the
//! next whole batch and runs it on top of its own stack, so the batch the
//! ordered step waits for is late by a batch's time, the window of batches
//! in flight fills up and threads sleep (measured on the 10M-row Parquet
//! file: each worker slept about 0.5 s of a 3.5 s run, in
//! `join_context`).
//!
//! So the scan's `in_order` runs a job [`serially`] when other
//! batches are there to keep the threads busy, and the batch code splits
//! its work only through [`join`] and [`min_len`], which obey that choice.
//! The results are the same either way.

use std::cell::Cell;

thread_local! {
    /// Set while this thread runs a batch job that must not split its work.
    static SERIAL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the splitting helpers of this module serial on this
/// thread (restored afterwards, also if `f` panics).
pub(crate) fn serially<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SERIAL.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SERIAL.with(|s| s.replace(true)));
    f()
}

fn is_serial() -> bool {
    SERIAL.with(Cell::get)
}

/// `rayon::join`, or `a` then `b` on this thread inside [`serially`].
pub fn join<A, B, RA, RB>(a: A, b: B) -> (RA, RB)
where
    A: FnOnce() -> RA + Send,
    B: FnOnce() -> RB + Send,
    RA: Send,
    RB: Send,
{
    if is_serial() {
        (a(), b())
    } else {
        rayon::join(a, b)
    }
}

/// The `with_min_len` for a parallel iterator over `n` items: `n` (one
/// piece, run on this thread) inside [`serially`], else 1.
pub(crate) fn min_len(n: usize) -> usize {
    if is_serial() { n.max(1) } else { 1 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    #[test]
    fn serially_keeps_work_on_this_thread_and_restores() {
        let here = std::thread::current().id();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            let (ids, (a, b)) = serially(|| {
                let ids: Vec<_> = (0..10_000)
                    .into_par_iter()
                    .with_min_len(min_len(10_000))
                    .map(|_| std::thread::current().id())
                    .collect();
                (
                    ids,
                    join(
                        || std::thread::current().id(),
                        || std::thread::current().id(),
                    ),
                )
            });
            let worker = std::thread::current().id();
            assert_ne!(worker, here);
            assert!(ids.iter().all(|&t| t == worker));
            assert_eq!((a, b), (worker, worker));
            assert!(!is_serial());
        });
        assert!(!is_serial());
        assert_eq!(min_len(5), 1);
        let restored = std::panic::catch_unwind(|| serially(|| panic!("inside")));
        assert!(restored.is_err());
        assert!(!is_serial());
    }
}
