//! Writing output files safely: all or nothing, and safe to open in a spreadsheet.

use std::borrow::Cow;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file written under a temporary name and renamed into place on
/// [`AtomicFile::commit`]. Dropped without commit, it leaves nothing behind,
/// so a failed run never leaves a half-written output.
///
/// A target that exists and is not a regular file (`/dev/null`, a named pipe,
/// a terminal) is written directly: renaming over it would replace the device
/// or pipe with a regular file (as root, `--out /dev/null` once turned the
/// machine's `/dev/null` into a file holding the threshold test's result).
pub struct AtomicFile {
    /// The temporary file, or `None` when the target is written directly.
    temp: Option<PathBuf>,
    target: PathBuf,
    file: Option<File>,
    committed: bool,
}

impl AtomicFile {
    /// Creates the temporary file next to `target` (creating the folder if needed).
    pub fn create(target: &Path) -> Result<Self> {
        if let Some(dir) = target.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        if std::fs::metadata(target).is_ok_and(|m| !m.is_file() && !m.is_dir()) {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(target)
                .map_err(|e| Error::io(target, e))?;
            return Ok(AtomicFile {
                temp: None,
                target: target.to_path_buf(),
                file: Some(file),
                committed: false,
            });
        }
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "output".into());
        let temp = target.with_file_name(format!(".{name}.partial-{}", std::process::id()));
        let file = File::create(&temp).map_err(|e| Error::io(&temp, e))?;
        Ok(AtomicFile {
            temp: Some(temp),
            target: target.to_path_buf(),
            file: Some(file),
            committed: false,
        })
    }

    /// A handle to write through.
    pub fn handle(&self) -> std::io::Result<File> {
        self.file.as_ref().expect("open until commit").try_clone()
    }

    /// Flushes and moves the file into place.
    pub fn commit(mut self) -> Result<()> {
        let Some(temp) = self.temp.clone() else {
            // Written directly (a device or pipe): nothing to sync or move.
            self.file.take();
            self.committed = true;
            return Ok(());
        };
        if let Some(f) = self.file.take() {
            f.sync_all().map_err(|e| Error::io(&temp, e))?;
        }
        std::fs::rename(&temp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            self.file.take();
            if let Some(temp) = &self.temp {
                let _ = std::fs::remove_file(temp);
            }
        }
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = AtomicFile::create(path)?;
    let mut h = file.handle().map_err(|e| Error::io(path, e))?;
    h.write_all(bytes).map_err(|e| Error::io(path, e))?;
    drop(h);
    file.commit()
}

/// Whether `c` is a Unicode bidirectional control: embeddings, overrides,
/// isolates and marks (U+061C, U+200E-F, U+202A-E, U+2066-9).
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// `text` without bidirectional controls: a group value holding U+202E
/// (right-to-left override) rendered whole sentences backwards around it,
/// so that 1.52 read as 25.1. Every renderer (HTML, Markdown, CSV, SVG)
/// drops them from what it writes.
pub fn without_bidi_controls(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_bidi_control) {
        Cow::Owned(text.chars().filter(|&c| !is_bidi_control(c)).collect())
    } else {
        Cow::Borrowed(text)
    }
}

/// Neutralises a text cell that a spreadsheet would read as a formula
/// (starting with `=`, `+`, `-`, `@`, tab or carriage return) by prefixing `'`.
/// Plain numbers such as `-1.5` are left alone.
pub fn csv_safe(cell: &str) -> Cow<'_, str> {
    if let Cow::Owned(clean) = without_bidi_controls(cell) {
        return Cow::Owned(csv_safe(&clean).into_owned());
    }
    let risky = cell
        .chars()
        .next()
        .is_some_and(|c| matches!(c, '=' | '+' | '-' | '@' | '\t' | '\r'));
    if risky && cell.parse::<f64>().is_err() {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// How CSV tables are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvDialect {
    /// `,` between fields, `.` in numbers, English column names, no byte
    /// order mark: stable for programs (R, Python, DuckDB) and the default.
    #[default]
    Machine,
    /// For Excel with Dutch regional settings: `;` between fields, a decimal
    /// comma, Dutch column names, UTF-8 with a byte order mark (without it
    /// Excel reads UTF-8 as Windows-1252).
    ExcelNl,
}

impl CsvDialect {
    /// The dialect a report in `lang` writes its tables in by default.
    pub fn for_lang(lang: crate::i18n::Lang) -> Self {
        match lang {
            crate::i18n::Lang::Nl => CsvDialect::ExcelNl,
            crate::i18n::Lang::En => CsvDialect::Machine,
        }
    }

    /// The column names of this dialect (`None`: the names as they are).
    /// (The Dutch texts are parsed once per process, not once per table.)
    fn names(self) -> Option<&'static crate::i18n::Messages> {
        static DUTCH: std::sync::OnceLock<crate::i18n::Messages> = std::sync::OnceLock::new();
        match self {
            CsvDialect::Machine => None,
            CsvDialect::ExcelNl => {
                Some(DUTCH.get_or_init(|| crate::i18n::Messages::new(crate::i18n::Lang::Nl)))
            }
        }
    }
}

/// Whether Excel would read `cell` as a day and month: two groups of one
/// or two digits joined by `-` or `/` (an age band such as `12-17`).
pub(crate) fn excel_reads_as_date(cell: &str) -> bool {
    let Some((a, b)) = cell.split_once(['-', '/']) else {
        return false;
    };
    let short_number =
        |p: &str| (1..=2).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit());
    short_number(a) && short_number(b)
}

/// The Dutch name of a CSV column (`csv_header.*` in nl.toml), or the
/// name itself when the language has none.
pub(crate) fn column_name(names: Option<&crate::i18n::Messages>, name: &str) -> String {
    match names {
        Some(m) => m.text_or(&format!("csv_header.{name}"), name),
        None => name.to_string(),
    }
}

/// Writes rows as CSV (formula-safe, UTF-8) in `dialect` into a string.
pub(crate) fn csv_string(header: &[&str], rows: &[Vec<String>], dialect: CsvDialect) -> String {
    let names = dialect.names();
    let excel = dialect == CsvDialect::ExcelNl;
    let mut w = csv::WriterBuilder::new()
        .delimiter(if excel { b';' } else { b',' })
        .from_writer(Vec::new());
    w.write_record(header.iter().map(|h| column_name(names, h)))
        .expect("writing to memory");
    for row in rows {
        w.write_record(row.iter().map(|c| {
            let cell = csv_safe(c);
            // A number keeps its digits; only the decimal point changes.
            if excel && cell.contains('.') && cell.parse::<f64>().is_ok() {
                cell.replace('.', ",")
            } else if excel && excel_reads_as_date(&cell) {
                // Excel would turn the age band 12-17 into 17 December:
                // a constant text formula keeps it (digits and one
                // separator only, so nothing from the data can run). Its
                // quotes make the field quoted, "=""12-17""", which Excel
                // reads as the formula ="12-17".
                format!("=\"{cell}\"")
            } else {
                cell.into_owned()
            }
        }))
        .expect("writing to memory");
    }
    let text = String::from_utf8(w.into_inner().expect("writing to memory"))
        .expect("CSV of UTF-8 strings");
    if excel {
        format!("\u{feff}{text}")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_nl_keeps_age_bands_text_and_writes_decimal_commas() {
        assert!(excel_reads_as_date("12-17") && excel_reads_as_date("1/5"));
        assert!(!excel_reads_as_date("65+") && !excel_reads_as_date("2025-Q3"));
        assert!(!excel_reads_as_date("2025-09-30") && !excel_reads_as_date("-1"));
        let text = csv_string(
            &["group", "rate"],
            &[
                vec!["12-17".into(), "0.25".into()],
                vec!["=1-2".into(), "1".into()],
            ],
            CsvDialect::ExcelNl,
        );
        assert_eq!(
            text,
            "\u{feff}groep;fractie\n\"=\"\"12-17\"\"\";0,25\n'=1-2;1\n"
        );
    }

    #[test]
    fn formulas_are_neutralised_numbers_are_not() {
        assert_eq!(csv_safe("=HYPERLINK(\"x\")"), "'=HYPERLINK(\"x\")");
        assert_eq!(csv_safe("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_safe("+31 6"), "'+31 6");
        assert_eq!(csv_safe("-1.5"), "-1.5");
        assert_eq!(csv_safe("Amsterdam"), "Amsterdam");
        assert_eq!(csv_safe("Turks\u{202E}=1"), "Turks=1");
        assert_eq!(csv_safe("\u{2066}=1+1\u{2069}"), "'=1+1");
        assert_eq!(csv_safe(""), "");
    }

    #[test]
    fn atomic_file_leaves_nothing_when_not_committed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out.csv");
        {
            let f = AtomicFile::create(&target).unwrap();
            f.handle().unwrap().write_all(b"half").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        write_atomic(&target, b"whole").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "whole");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// `--out /dev/null` or a named pipe is written through, never replaced by
    /// a regular file (a rename over `/dev/null` as root replaced the device).
    #[test]
    #[cfg(unix)]
    fn a_pipe_or_device_is_written_through_not_replaced() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let pipe = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo").arg(&pipe).status();
        assert!(made.is_ok_and(|s| s.success()), "mkfifo failed");
        let reader = {
            let pipe = pipe.clone();
            std::thread::spawn(move || std::fs::read_to_string(pipe).unwrap())
        };
        write_atomic(&pipe, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        let kind = std::fs::symlink_metadata(&pipe).unwrap().file_type();
        assert!(kind.is_fifo(), "the pipe was replaced: {kind:?}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        write_atomic(Path::new("/dev/null"), b"nothing").unwrap();
        let kind = std::fs::metadata("/dev/null").unwrap().file_type();
        assert!(kind.is_char_device(), "/dev/null is no longer a device");
    }
}
