//! The `stopaudit` binary: parses arguments and calls the library.

mod cli;

use clap::Parser;
use stopaudit::commands;

// glibc's allocator spends a third of the run on the many small strings of
// ingestion; mimalloc is much faster for that pattern.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
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
    commands::init_threads(args.threads);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let result = match args.command.resolve(command_line) {
        cli::Resolved::Schema(s) => commands::schema::run(&s, &mut out),
        cli::Resolved::Validate(s) => commands::validate::run(&s, &mut out),
        cli::Resolved::Analyze(s) => commands::analyze::run(&s, &mut out),
        cli::Resolved::Generate(s) => commands::generate::run(&s, &mut out),
        cli::Resolved::Demo(s) => commands::demo::run(&s, &mut out),
        cli::Resolved::Report(s) => commands::report::run(&s, &mut out),
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
