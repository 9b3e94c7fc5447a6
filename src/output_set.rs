//! A run's output folder, all or nothing (issue 18 item 12).
//!
//! Each file was written atomically, but a set of files was not: a run that
//! failed half-way (full disk, a name too long, kill -9) left `report.html`
//! and `tables/` behind, old and new files mixed (58 old and 2 new), and two
//! runs into one folder both exited 0 with a mix of the two. Now a run
//! writes its whole set into a staging folder beside the target and moves
//! it into place at the end; a lock (std's `File::try_lock`, `flock` on Unix and
//! `LockFileEx` on Windows, on a file beside the folder, released by the system however the run ends) refuses a
//! second run into the same folder while one is writing; files an earlier
//! run wrote (listed in `.stopaudit-outputs`) that this run does not write
//! are removed, so the folder holds one run's set; staging folders and
//! `.partial-` files of runs that were killed are cleaned up.

use std::fs::File;
use std::path::{Path, PathBuf};

use stopaudit_core::error::{Error, Result};

/// The list of files a run wrote into the folder, relative to it.
const MANIFEST: &str = ".stopaudit-outputs";

/// An output folder being written: write into [`OutputSet::dir`], then
/// [`OutputSet::commit`]. Dropped without commit, it leaves the target as
/// it was.
pub struct OutputSet {
    target: PathBuf,
    staging: PathBuf,
    /// Held for the run: the lock.
    _lock: File,
    committed: bool,
}

impl OutputSet {
    /// Locks `target` against other runs, cleans up after killed ones and
    /// makes an empty staging folder.
    pub fn begin(target: &Path) -> Result<Self> {
        let name = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| Error::Usage(format!("{}: not a folder name", target.display())))?;
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let lock_path = parent.join(format!(".{name}.lock"));
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| Error::io(&lock_path, e))?;
        if !try_lock(&lock) {
            return Err(Error::Usage(format!(
                "another stopaudit run is writing to {}; wait for it to finish",
                target.display()
            )));
        }
        // With the lock held no other run is staging here: what is left
        // was left by a run that was killed.
        let prefix = format!(".{name}.staging-");
        if let Ok(entries) = std::fs::read_dir(&parent) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let staging = parent.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        Ok(OutputSet {
            target: target.to_path_buf(),
            staging,
            _lock: lock,
            committed: false,
        })
    }

    /// Where the run writes its files.
    pub fn dir(&self) -> &Path {
        &self.staging
    }

    /// The target path of a path written under [`OutputSet::dir`].
    pub fn final_path(&self, staged: &Path) -> PathBuf {
        match staged.strip_prefix(&self.staging) {
            Ok(rel) => self.target.join(rel),
            Err(_) => staged.to_path_buf(),
        }
    }

    /// Moves every staged file into the target folder, removes what an
    /// earlier run wrote and this one did not, and records the new set.
    pub fn commit(mut self) -> Result<()> {
        let mut files = Vec::new();
        list_files(&self.staging, Path::new(""), &mut files)?;
        std::fs::create_dir_all(&self.target).map_err(|e| Error::io(&self.target, e))?;
        let old: Vec<String> = std::fs::read_to_string(self.target.join(MANIFEST))
            .map(|t| t.lines().map(str::to_string).collect())
            .unwrap_or_default();
        for rel in &files {
            let to = self.target.join(rel);
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            }
            std::fs::rename(self.staging.join(rel), &to).map_err(|e| Error::io(&to, e))?;
        }
        let new: Vec<String> = files
            .iter()
            .map(|p| p.to_string_lossy().replace('\\', "/"))
            .collect();
        for rel in old.iter().filter(|r| !new.contains(r)) {
            // Only plain relative names an earlier run wrote.
            if rel.split('/').any(|part| part == ".." || part.is_empty()) {
                continue;
            }
            let path = self.target.join(rel);
            if std::fs::remove_file(&path).is_ok()
                && let Some(dir) = path.parent().filter(|d| *d != self.target)
            {
                // Emptied by this: gone too (a folder with other files stays).
                let _ = std::fs::remove_dir(dir);
            }
        }
        remove_partials(&self.target);
        stopaudit_core::output::write_atomic(
            &self.target.join(MANIFEST),
            (new.join("\n") + "\n").as_bytes(),
        )?;
        let _ = std::fs::remove_dir_all(&self.staging);
        self.committed = true;
        Ok(())
    }
}

impl Drop for OutputSet {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}

/// Files under `dir`, as paths relative to it.
fn list_files(dir: &Path, rel: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .flatten()
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let r = rel.join(e.file_name());
        if path.is_dir() {
            list_files(&path, &r, out)?;
        } else {
            out.push(r);
        }
    }
    Ok(())
}

/// Removes `.…partial-…` files of killed runs from the folder and its
/// sub-folders (one level).
fn remove_partials(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let path = e.path();
        if path.is_dir() {
            if let Ok(inner) = std::fs::read_dir(&path) {
                for f in inner.flatten() {
                    let n = f.file_name().to_string_lossy().into_owned();
                    if n.starts_with('.') && n.contains(".partial-") {
                        let _ = std::fs::remove_file(f.path());
                    }
                }
            }
        } else if name.starts_with('.') && name.contains(".partial-") {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Takes the lock without waiting; false when another process holds it.
/// std's `File::try_lock`: `flock` on Unix, `LockFileEx` on Windows, so a
/// concurrent run into one folder is refused on both.
fn try_lock(file: &File) -> bool {
    file.try_lock().is_ok()
}
