//! Jobs run on the rayon pool a few at a time, their results handed back in
//! the order the jobs came: the shape of both long loops of the program,
//! the batches of an input file (`scan`) and the chunks of a generated
//! one (`generate`).

use std::collections::VecDeque;
use std::sync::mpsc::{Receiver, sync_channel};

use stopaudit_core::error::{Error, Result};

/// Runs the jobs `next` gives (until it gives `None`) on the rayon pool, at
/// most `window` unanswered at a time, and hands their results to `each`
/// on this thread, in the order of the jobs. Each job is told whether it is
/// the last one (one job is fetched ahead to know). A job, and whatever it
/// holds, is dropped before its result is handed over. Errors of `next`
/// and `each` stop the loop; jobs already running finish unheard.
pub(crate) fn in_order<J, T>(
    window: usize,
    mut next: impl FnMut() -> Result<Option<J>>,
    mut each: impl FnMut(T) -> Result<()>,
) -> Result<()>
where
    J: FnOnce(bool) -> T + Send + 'static,
    T: Send + 'static,
{
    let mut pending: VecDeque<Receiver<T>> = VecDeque::new();
    let mut ahead = next()?;
    loop {
        while pending.len() < window.max(1) {
            let Some(job) = ahead.take() else { break };
            ahead = next()?;
            let last = ahead.is_none();
            let (send, receive) = sync_channel(1);
            rayon::spawn(move || {
                let result = job(last);
                let _ = send.send(result);
            });
            pending.push_back(receive);
        }
        let Some(answer) = pending.pop_front() else {
            return Ok(());
        };
        let result = answer
            .recv()
            .map_err(|_| Error::Usage("a job stopped without an answer".into()))?;
        each(result)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_the_order_of_the_jobs_and_only_the_last_is_told() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .unwrap();
        let mut k = 0u64;
        let mut seen = Vec::new();
        pool.install(|| {
            in_order(
                3,
                || {
                    k += 1;
                    Ok((k <= 50).then_some(move |last: bool| {
                        // Later jobs finish first.
                        std::thread::sleep(std::time::Duration::from_micros(50 * (50 - k)));
                        (k, last)
                    }))
                },
                |r| {
                    seen.push(r);
                    Ok(())
                },
            )
        })
        .unwrap();
        let expected: Vec<(u64, bool)> = (1..=50).map(|k| (k, k == 50)).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn an_error_of_each_stops_the_loop() {
        let mut k = 0;
        let mut handed = 0;
        let result = in_order(
            2,
            || {
                k += 1;
                Ok((k <= 10).then_some(move |_| k))
            },
            |r| {
                handed += 1;
                if r == 3 {
                    Err(Error::Usage("stop".into()))
                } else {
                    Ok(())
                }
            },
        );
        assert!(result.is_err());
        assert_eq!(handed, 3);
    }
}
