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
