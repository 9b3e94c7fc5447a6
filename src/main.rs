//! The `stopaudit` binary: parses arguments (`cli`) and runs one subcommand
//! (`commands`) over the core and I/O crates.

mod cli;
mod commands;

use clap::Parser;

// glibc's allocator spends a third of the run on the many small strings of
// ingestion; mimalloc is much faster for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in the `mi_option_e` enum of mimalloc.h
/// (libmimalloc-sys 0.1.49, pinned; the crate exports no name for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

fn main() {
    // Batches allocate and free the same sizes over and over; returning that
    // memory to the OS made every batch fault fresh pages in again (a fifth
    // of the run in the kernel zeroing pages, and contention between
    // threads). Peak memory is unchanged: it is reused, not given back.
    // SAFETY: sets a process-wide allocator option; any time is allowed.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    // No transparent huge pages: each first touch of a 2 MiB region made the
    // kernel zero all of it, 1.2-1.6 s of system time in a 10-million-stop
    // audit against 0.4-0.6 s with 4 KiB pages, for the same peak memory.
    // (mimalloc's own option is read before `main`, so too late to set here.)
    // SAFETY: a process-wide flag with integer arguments; failure (an old
    // kernel) only leaves huge pages on.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0)
    };
    let command_line = std::env::args()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 {
                "stopaudit".to_string()
            } else {
                shell_quote(&a)
            }
        })
        .collect::<Vec<_>>()
        .join(" ");
    let args = cli::Cli::parse();
    if let Some(n) = args.threads {
        // polars reads its thread count once, from the environment.
        // SAFETY: no other thread exists yet (this is the start of main).
        unsafe { std::env::set_var("POLARS_MAX_THREADS", n.to_string()) };
        if let Err(e) = stopaudit_io::threads::init_threads(n) {
            eprintln!("stopaudit: error: {e}");
            std::process::exit(e.exit_code());
        }
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match args.command.resolve(command_line) {
        cli::Resolved::Schema(s) => commands::schema::run(&s, &mut out),
        cli::Resolved::Validate(s) => commands::validate::run(&s, &mut out),
        cli::Resolved::Analyze(s) => commands::analyze::run(&s, &mut out),
        cli::Resolved::Generate(s) => commands::generate::run(&s, &mut out),
        cli::Resolved::Demo(s) => commands::demo::run(&s, &mut out),
        cli::Resolved::Report(s) => commands::report::run(&s, &mut out),
        cli::Resolved::ThresholdTest(s) => commands::threshold_test::run(&s, &mut out),
    };
    if let Err(e) = result {
        drop(out);
        eprintln!("stopaudit: error: {e}");
        std::process::exit(e.exit_code());
    }
}

/// Quotes an argument for a POSIX shell when it needs it.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=,:@+%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', "'\\''"))
    }
}
