//! Matching an input file's columns to the canonical fields.
//!
//! Order of precedence for each field: the mapping file's `[columns]`, then
//! the canonical name, then the built-in aliases (all compared
//! case-insensitively, with spaces, dashes and underscores alike).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use stopaudit_core::config::{ColumnSource, Config};
use stopaudit_core::error::{Error, Result};
use stopaudit_core::schema::{
    self, DATE_ALIASES, FIELDS, FieldSpec, KNOWN_GROUP_ATTRIBUTES, TIME_ALIASES, normalize_column,
};

/// Where `stopped_at` comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateTimeColumns {
    One(usize),
    Split { date: usize, time: usize },
}

impl DateTimeColumns {
    /// The date-time column, or the date column.
    pub fn first(&self) -> usize {
        match *self {
            DateTimeColumns::One(i) => i,
            DateTimeColumns::Split { date, .. } => date,
        }
    }

    /// The time column, when date and time are separate.
    pub fn second(&self) -> Option<usize> {
        match *self {
            DateTimeColumns::One(_) => None,
            DateTimeColumns::Split { time, .. } => Some(time),
        }
    }
}

/// The columns of one input file that feed each canonical field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMapping {
    pub stopped_at: DateTimeColumns,
    /// Canonical field name -> column index, for every field found except `stopped_at`.
    pub fields: BTreeMap<&'static str, usize>,
    /// Group attributes in declared order, with their column index.
    pub groups: Vec<(String, usize)>,
}

impl ColumnMapping {
    /// Column index of a field, if the file has it.
    pub fn column(&self, field: &str) -> Option<usize> {
        self.fields.get(field).copied()
    }

    /// Every column index the mapping reads.
    pub(crate) fn used_columns(&self) -> Vec<usize> {
        let mut used: Vec<usize> = match self.stopped_at {
            DateTimeColumns::One(i) => vec![i],
            DateTimeColumns::Split { date, time } => vec![date, time],
        };
        used.extend(self.fields.values().copied());
        used.extend(self.groups.iter().map(|(_, i)| *i));
        used.sort_unstable();
        used.dedup();
        used
    }

    /// canonical name -> source column name(s), for provenance.
    pub fn describe(&self, columns: &[String]) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        out.insert(
            "stopped_at".to_string(),
            match self.stopped_at {
                DateTimeColumns::One(i) => columns[i].clone(),
                DateTimeColumns::Split { date, time } => {
                    format!("{} + {}", columns[date], columns[time])
                }
            },
        );
        for (f, &i) in &self.fields {
            out.insert(f.to_string(), columns[i].clone());
        }
        for (g, i) in &self.groups {
            out.insert(g.clone(), columns[*i].clone());
        }
        out
    }
}

/// Up to three columns of `columns` whose names are closest to `wanted`
/// (for "did you mean" messages).
pub fn closest_columns(columns: &[String], wanted: &str) -> Vec<String> {
    Header::new(columns).closest(&[wanted])
}

struct Header<'a> {
    columns: &'a [String],
    by_normalized: HashMap<String, usize>,
}

impl<'a> Header<'a> {
    fn new(columns: &'a [String]) -> Self {
        let mut by_normalized = HashMap::new();
        for (i, c) in columns.iter().enumerate() {
            by_normalized.entry(normalize_column(c)).or_insert(i);
        }
        Header {
            columns,
            by_normalized,
        }
    }

    fn find(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .or_else(|| self.by_normalized.get(&normalize_column(name)).copied())
    }

    fn find_any(&self, names: &[&str]) -> Option<usize> {
        names.iter().find_map(|n| self.find(n))
    }

    fn closest(&self, wanted: &[&str]) -> Vec<String> {
        let mut scored: Vec<(f64, &String)> = self
            .columns
            .iter()
            .map(|c| {
                let nc = normalize_column(c);
                let score = wanted
                    .iter()
                    .map(|w| strsim::jaro_winkler(&normalize_column(w), &nc))
                    .fold(0.0, f64::max);
                (score, c)
            })
            .filter(|(s, _)| *s >= 0.6)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
        scored.into_iter().take(3).map(|(_, c)| c.clone()).collect()
    }
}

fn names_for(spec: &FieldSpec) -> Vec<&str> {
    std::iter::once(spec.name)
        .chain(spec.aliases.iter().copied())
        .collect()
}

fn group_names(attr: &str) -> Vec<&str> {
    let mut names = vec![attr];
    if let Some((_, aliases)) = KNOWN_GROUP_ATTRIBUTES.iter().find(|(n, _)| *n == attr) {
        names.extend(aliases.iter().copied());
    }
    names
}

fn missing(path: &Path, header: &Header, field: &str, tried: Vec<&str>) -> Error {
    Error::MissingColumn {
        path: path.to_path_buf(),
        field: field.to_string(),
        suggestions: header.closest(&tried),
        tried: tried.into_iter().map(|s| format!("\"{s}\"")).collect(),
    }
}

/// Group attributes to use when the mapping file declares none: the
/// well-known ones present in the file, in schema order.
pub(crate) fn detect_group_attributes(columns: &[String]) -> Vec<String> {
    let header = Header::new(columns);
    KNOWN_GROUP_ATTRIBUTES
        .iter()
        .filter(|(name, _)| header.find_any(&group_names(name)).is_some())
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Maps a file's columns onto the schema, or says which required column is missing.
pub fn resolve(
    path: &Path,
    columns: &[String],
    config: &Config,
    attributes: &[String],
) -> Result<ColumnMapping> {
    let header = Header::new(columns);
    let explicit = |name: &str| -> Result<Option<usize>> {
        match config.columns.get(name) {
            Some(ColumnSource::One(col)) => header
                .find(col)
                .map(Some)
                .ok_or_else(|| missing(path, &header, name, vec![col.as_str()])),
            _ => Ok(None),
        }
    };

    let stopped_at = match config.columns.get("stopped_at") {
        Some(ColumnSource::DateAndTime([d, t])) => {
            let date = header
                .find(d)
                .ok_or_else(|| missing(path, &header, "stopped_at (date)", vec![d.as_str()]))?;
            let time = header
                .find(t)
                .ok_or_else(|| missing(path, &header, "stopped_at (time)", vec![t.as_str()]))?;
            DateTimeColumns::Split { date, time }
        }
        Some(ColumnSource::One(_)) => {
            DateTimeColumns::One(explicit("stopped_at")?.expect("mapped"))
        }
        None => {
            let spec = schema::field("stopped_at").expect("schema field");
            match header.find_any(&names_for(spec)) {
                Some(i) => DateTimeColumns::One(i),
                None => match (header.find_any(DATE_ALIASES), header.find_any(TIME_ALIASES)) {
                    (Some(date), Some(time)) => DateTimeColumns::Split { date, time },
                    _ => {
                        let mut tried = names_for(spec);
                        tried.extend(["datum + tijd"]);
                        let mut wanted = names_for(spec);
                        wanted.extend(DATE_ALIASES.iter().chain(TIME_ALIASES));
                        return Err(Error::MissingColumn {
                            path: path.to_path_buf(),
                            field: "stopped_at".into(),
                            suggestions: header.closest(&wanted),
                            tried: tried.into_iter().map(|s| format!("\"{s}\"")).collect(),
                        });
                    }
                },
            }
        }
    };

    let mut fields = BTreeMap::new();
    for spec in FIELDS.iter().filter(|f| f.name != "stopped_at") {
        let found = match explicit(spec.name)? {
            Some(i) => Some(i),
            None => header.find_any(&names_for(spec)),
        };
        match found {
            Some(i) => {
                fields.insert(spec.name, i);
            }
            None if spec.required => {
                return Err(missing(path, &header, spec.name, names_for(spec)));
            }
            None => {}
        }
    }

    let mut groups = Vec::new();
    for attr in attributes {
        let i = match explicit(attr)? {
            Some(i) => i,
            None => header
                .find_any(&group_names(attr))
                .ok_or_else(|| missing(path, &header, attr, group_names(attr)))?,
        };
        groups.push((attr.clone(), i));
    }

    Ok(ColumnMapping {
        stopped_at,
        fields,
        groups,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cols(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn dutch_export_maps_without_configuration() {
        let c = cols(&[
            "Registratienummer",
            "Datum",
            "Tijd",
            "Aanleiding",
            "Resultaat",
            "Eenheid",
            "Nationaliteit",
            "Geslacht",
        ]);
        let attrs = detect_group_attributes(&c);
        assert_eq!(attrs, ["nationality", "gender"]);
        let m = resolve(Path::new("x.csv"), &c, &Config::default(), &attrs).unwrap();
        assert_eq!(m.stopped_at, DateTimeColumns::Split { date: 1, time: 2 });
        assert_eq!(m.column("stop_id"), Some(0));
        assert_eq!(m.column("justification"), Some(3));
        assert_eq!(m.column("outcome"), Some(4));
        assert_eq!(m.column("unit"), Some(5));
        assert_eq!(
            m.groups,
            vec![("nationality".to_string(), 6), ("gender".to_string(), 7)]
        );
    }

    #[test]
    fn missing_required_column_names_the_closest() {
        let c = cols(&["stopped_at", "justification", "uitkomst_controle"]);
        let err = resolve(Path::new("q1.csv"), &c, &Config::default(), &[]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with("q1.csv: required column `outcome` not found"),
            "{text}"
        );
        assert!(text.contains("\"uitkomst_controle\""), "{text}");
    }

    #[test]
    fn mapping_file_columns_win() {
        let c = cols(&["When", "Why", "Result", "Nat"]);
        let config: Config = toml::from_str(
            "[columns]\nstopped_at = \"When\"\njustification = \"Why\"\noutcome = \"Result\"\nnationality = \"Nat\"\n[groups]\nattributes = [\"nationality\"]",
        )
        .unwrap();
        let m = resolve(Path::new("x"), &c, &config, &config.groups.attributes).unwrap();
        assert_eq!(m.stopped_at, DateTimeColumns::One(0));
        assert_eq!(m.groups, vec![("nationality".to_string(), 3)]);
    }
}
