//! The `stopaudit` binary: parses arguments (`cli`) and runs one subcommand
//! (`commands`) over the core and I/O crates.

mod cli;
mod commands;
mod output_set;
mod pdf;
mod settings;

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
    // A reader's decoder that panics on a damaged file is contained and
    // reported as an input error (exit code 2): say nothing of it here.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !stopaudit_io::read::panic_is_contained() {
            default_hook(info);
        }
    }));
    let args = cli::Cli::parse();
    let settings = settings::Environment::read(|name| std::env::var_os(name))
        .and_then(|env| settings::Settings::resolve(args, &env, command_line));
    let settings = match settings {
        Ok(s) => s,
        Err(e) => exit_with(&e),
    };
    if let Some(note) = &settings.threads_note {
        eprintln!("note: {note}");
    }
    if settings.threads_chosen {
        // polars reads its thread count once, from the environment.
        // SAFETY: no other thread exists yet (nothing parallel has run).
        unsafe { std::env::set_var("POLARS_MAX_THREADS", settings.threads.to_string()) };
    }
    // Every parallel step runs on rayon's pool, sized here once. The
    // command itself stays on this thread, outside the pool: the scan's
    // ordered step waits here for batch jobs running on the pool.
    if let Err(e) = rayon::ThreadPoolBuilder::new()
        .num_threads(settings.threads)
        .build_global()
    {
        exit_with(&stopaudit_core::error::Error::Usage(format!(
            "--threads {}: {e}",
            settings.threads
        )));
    }
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = settings.command.run(&mut out);
    if let Err(e) = result {
        drop(out);
        exit_with(&e);
    }
}

/// Reports an error on stderr and exits with its code.
fn exit_with(e: &stopaudit_core::error::Error) -> ! {
    eprintln!("stopaudit: error: {e}");
    std::process::exit(e.exit_code());
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
