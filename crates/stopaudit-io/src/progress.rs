//! Progress on stderr for long reads and writes.

/// A progress bar on stderr when it is a terminal (hidden otherwise, and in
/// pipes and tests): `{msg} [bar] …` with `template` after the bar.
pub(crate) fn progress_bar(
    enabled: bool,
    total: u64,
    message: &str,
    after: &str,
) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(&format!("{{msg}} [{{bar:30}}] {after}"))
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(message.to_string());
    bar
}

/// A progress bar for the threshold test's sampling while it lives: a
/// thread reads [`stopaudit_core::mcmc::progress`] four times a second and
/// shows the bar once sampling has started (on a terminal, when `enabled`).
pub struct SamplingProgress {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SamplingProgress {
    /// Starts watching; nothing is shown unless `enabled` and stderr is a
    /// terminal.
    pub fn start(enabled: bool) -> Self {
        use std::io::IsTerminal;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        if !enabled || !std::io::stderr().is_terminal() {
            return SamplingProgress { stop, thread: None };
        }
        let (done0, total0) = stopaudit_core::mcmc::progress();
        let flag = std::sync::Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let mut bar: Option<indicatif::ProgressBar> = None;
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                let (done, total) = stopaudit_core::mcmc::progress();
                let (done, total) = (done - done0, total - total0);
                if total > 0 {
                    let b = bar.get_or_insert_with(|| {
                        progress_bar(
                            true,
                            total,
                            "threshold test",
                            "{pos}/{len} iterations, {eta} left",
                        )
                    });
                    b.set_length(total);
                    b.set_position(done.min(total));
                }
                std::thread::sleep(std::time::Duration::from_millis(250));
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        SamplingProgress {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for SamplingProgress {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
