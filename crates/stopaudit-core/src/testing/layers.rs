//! The check that a crate's modules keep to their stages: a module imports
//! only modules of its own stage or an earlier one. Used by the core's and
//! the I/O crate's tests (the core's includes this file by path, so that
//! `cargo test -p stopaudit-core` needs no feature). Plain text reading of
//! the sources: `crate::name` references outside comments and test modules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The modules a source file refers to through `prefix` (`crate::` for a
/// crate's modules, `super::` for a folder's siblings), outside comments
/// and its test module.
pub fn imports(source: &str, prefix: &str) -> Vec<String> {
    let code = source.split("#[cfg(test)]").next().unwrap_or("");
    let code: String = code
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    let mut rest = code.as_str();
    while let Some(i) = rest.find(prefix) {
        rest = &rest[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `use crate::{a::X, b}`: the first name of each top-level item.
            let mut depth = 0;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(first_name(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(ch);
            }
            found.push(first_name(&item));
        } else {
            found.push(first_name(rest));
        }
    }
    found.retain(|n| !n.is_empty());
    found
}

fn first_name(path: &str) -> String {
    path.trim_start()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Every `.rs` file under `dir`.
pub fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("a readable source folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Checks every source file under `src` (a crate's `src/`, with `prefix`
/// `crate::`; or a module's folder, with `super::` and `mod` for its
/// `mod.rs`) against `stages`, earliest first: returns the number of files
/// checked, or the files that import a module of a later stage (with those
/// modules). A module missing from `stages`, and an import of one, is an
/// error too.
pub fn check(src: &Path, stages: &[&[&str]], prefix: &str) -> Result<usize, String> {
    let stage_of = |module: &str| stages.iter().position(|s| s.contains(&module));
    let mut violations: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut seen = 0;
    for file in sources(src) {
        let rel = file.strip_prefix(src).expect("under src");
        let module = rel
            .components()
            .next()
            .expect("a path")
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        if module == "lib" {
            continue;
        }
        let stage = stage_of(&module)
            .ok_or_else(|| format!("module `{module}` has no stage in the test"))?;
        seen += 1;
        let text = std::fs::read_to_string(&file).map_err(|e| format!("{rel:?}: {e}"))?;
        for dep in imports(&text, prefix) {
            if dep == module || dep == "self" || dep == "super" {
                continue;
            }
            let dep_stage =
                stage_of(&dep).ok_or_else(|| format!("{rel:?} imports unknown `{dep}`"))?;
            if dep_stage > stage {
                violations
                    .entry(rel.display().to_string())
                    .or_default()
                    .push(dep);
            }
        }
    }
    if violations.is_empty() {
        Ok(seen)
    } else {
        Err(format!("imports from a later stage: {violations:?}"))
    }
}
