//! What every reader implements: a [`Source`] knows its column names up
//! front and then hands out batch jobs in file order.

use std::path::Path;

use stopaudit_core::error::{Error, Result};

use super::batch::ColumnBatch;

/// Something that yields raw rows.
pub(crate) trait Source {
    /// Column names, in file order.
    fn columns(&self) -> &[String];
    /// Restricts reading to these columns (indices into [`Source::columns`]);
    /// the others read as empty. Formats that read whole rows anyway ignore it.
    fn project(&mut self, _needed: &[usize]) {}
    /// The next batch, or `None` at the end. The source does what must be
    /// done in file order (parsing a text file); the job it returns does the
    /// rest (decoding, coding) and may run on any thread, several at a time.
    fn next_batch(&mut self) -> Result<Option<BatchJob>>;
    /// Progress so far, in [`Source::progress_total`] units.
    fn progress(&self) -> u64;
    /// Size of the whole job in progress units (bytes or rows).
    fn progress_total(&self) -> u64;
    /// Notes about the file worth telling the user (encoding, delimiter, blank lines...).
    fn notes(&self) -> Vec<String>;
}

/// The work that turns one batch into columns; see [`Source::next_batch`].
pub(crate) type BatchJob = Box<dyn FnOnce() -> Result<ColumnBatch> + Send>;

/// Rows per batch.
pub(crate) const BATCH_ROWS: usize = 64 * 1024;

/// Makes header names usable: trimmed, empty ones named `column_N`, duplicates suffixed.
pub(crate) fn clean_header(raw: Vec<String>) -> (Vec<String>, Vec<String>) {
    let mut notes = Vec::new();
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for (i, name) in raw.into_iter().enumerate() {
        let mut name = name.trim().trim_start_matches('\u{feff}').to_string();
        if name.is_empty() {
            name = format!("column_{}", i + 1);
        }
        if out.contains(&name) {
            let mut k = 2;
            while out.contains(&format!("{name}_{k}")) {
                k += 1;
            }
            notes.push(format!("column name \"{name}\" appears more than once; the repeat is read as \"{name}_{k}\""));
            name = format!("{name}_{k}");
        }
        out.push(name);
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_names_are_cleaned_and_made_unique() {
        let (cols, notes) = clean_header(vec![
            "\u{feff}Datum".into(),
            " Tijd ".into(),
            "".into(),
            "Tijd".into(),
        ]);
        assert_eq!(cols, ["Datum", "Tijd", "column_3", "Tijd_2"]);
        assert_eq!(notes.len(), 1);
    }
}

thread_local! {
    /// Set while [`contain`] runs: a panic there is reported as an input
    /// error, so the panic hook stays quiet (see [`panic_is_contained`]).
    static CONTAINING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether a panic on this thread happens inside [`contain`]; `main`'s panic
/// hook prints nothing then.
pub fn panic_is_contained() -> bool {
    CONTAINING.with(std::cell::Cell::get)
}

/// Runs a reader's step so that a panic in a decoder (polars-parquet on a
/// corrupt file: "thrift bool field", "capacity overflow") becomes an input
/// error naming the file (exit code 2), not a crash or a thread-pool abort.
pub(crate) fn contain<T>(path: &Path, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let was = CONTAINING.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    CONTAINING.with(|c| c.set(was));
    result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("a decoder failed");
        Err(Error::input(
            path,
            format!("the file is damaged or not what its format says (the reader stopped: {what})"),
        ))
    })
}
