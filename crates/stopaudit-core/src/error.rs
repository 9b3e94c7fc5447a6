//! Errors that stop a run. Row-level problems are not errors: they send the
//! row to quarantine (see [`crate::quarantine`]).

use std::path::PathBuf;

/// A problem that stops the whole run. Each variant says what went wrong and
/// where, in words an analyst can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The command line asked for something impossible.
    #[error("{0}")]
    Usage(String),

    /// The mapping/configuration file is wrong.
    #[error("configuration: {0}")]
    Config(String),

    /// An input file cannot be used at all.
    #[error("{}: {message}", path.display())]
    Input {
        /// The input file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A required column is absent from an input file.
    #[error("{}: required column `{field}` not found{}", path.display(), suggestions_text(.suggestions, .tried))]
    MissingColumn {
        /// The input file.
        path: PathBuf,
        /// The field whose column was not found (for a counts file, the column itself).
        field: String,
        /// The column names looked for.
        tried: Vec<String>,
        /// The file's columns closest to what was looked for.
        suggestions: Vec<String>,
    },

    /// Reading or writing failed at the operating-system level.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file read or written.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// The engine reading a file (polars) failed on it.
    #[error("{}: {message}", path.display())]
    Engine {
        /// The file the engine was working on.
        path: PathBuf,
        /// The engine's error message.
        message: String,
    },

    /// Nothing could be analysed.
    #[error("{0}")]
    NoData(String),

    /// The run succeeded, but findings at or above the `--fail-on` severity were found.
    #[error("{0}")]
    FindingsFailure(String),
}

fn suggestions_text(suggestions: &[String], tried: &[String]) -> String {
    let mut text = String::new();
    if !tried.is_empty() {
        text.push_str(&format!(" (looked for: {})", tried.join(", ")));
    }
    if suggestions.is_empty() {
        text.push_str("; map it in the configuration file under [columns]");
    } else {
        text.push_str(&format!(
            "; closest columns in the file: {}; map one in the configuration file under [columns]",
            suggestions
                .iter()
                .map(|s| format!("\"{s}\""))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    text
}

impl Error {
    /// Process exit code: 1 for `--fail-on` findings, 2 for usage and input errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::FindingsFailure(_) => 1,
            _ => 2,
        }
    }

    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// An input-file error with a message.
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Input {
            path: path.into(),
            message: message.into(),
        }
    }

    /// An error of the engine that read a file (polars, in the I/O crate).
    pub fn engine(path: impl Into<PathBuf>, err: impl std::fmt::Display) -> Self {
        Error::Engine {
            path: path.into(),
            message: err.to_string(),
        }
    }
}

/// Result with the crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
