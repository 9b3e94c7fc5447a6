//! Code lists for the categorical fields of the canonical schema.
//!
//! Every canonical code has a Dutch and an English label. Input values are
//! matched case- and whitespace-insensitively against the code itself, both
//! labels and a few common spellings found in exports (aliases). A mapping
//! file can add source spellings (`[values.<field>]`) and whole new codes
//! (`[codes.<field>]`) for the extensible lists.

use crate::error::{Error, Result};

/// One code of a code list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code {
    /// The canonical code, e.g. `observed_violation`.
    pub code: String,
    /// Dutch label, e.g. `waargenomen overtreding`.
    pub nl: String,
    /// English label, e.g. `observed violation`.
    pub en: String,
}

/// An ordered list of codes with the spellings that map onto them.
///
/// The order is meaningful: for `outcome` it is the order of severity.
#[derive(Debug, Clone)]
pub struct CodeList {
    field: &'static str,
    extensible: bool,
    codes: Vec<Code>,
    /// normalised spelling -> index into `codes`
    lookup: foldhash::HashMap<String, u8>,
}

/// Normalises a label for matching: lower case, `_` and `-` read as spaces,
/// runs of whitespace collapsed, surrounding whitespace and dots removed.
pub fn normalize_label(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for word in raw
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    out.trim_matches('.').to_string()
}

impl CodeList {
    fn build(
        field: &'static str,
        extensible: bool,
        entries: &[(&str, &str, &str, &[&str])],
    ) -> Self {
        let mut list = CodeList {
            field,
            extensible,
            codes: Vec::new(),
            lookup: foldhash::HashMap::default(),
        };
        for (code, nl, en, aliases) in entries {
            let idx = list.push_code(code, nl, en);
            for alias in *aliases {
                list.lookup.insert(normalize_label(alias), idx);
            }
        }
        list
    }

    fn push_code(&mut self, code: &str, nl: &str, en: &str) -> u8 {
        let idx = u8::try_from(self.codes.len()).expect("code lists hold fewer than 256 codes");
        for spelling in [code, nl, en] {
            self.lookup.entry(normalize_label(spelling)).or_insert(idx);
        }
        self.codes.push(Code {
            code: code.to_string(),
            nl: nl.to_string(),
            en: en.to_string(),
        });
        idx
    }

    /// Reasons for selecting a person or vehicle (ProCo "aanleiding").
    pub fn justification() -> Self {
        Self::build(
            "justification",
            true,
            &[
                (
                    "behaviour",
                    "gedrag",
                    "behaviour",
                    &["behavior", "gedraging"],
                ),
                (
                    "circumstances",
                    "omstandigheden",
                    "circumstances",
                    &["omstandigheid"],
                ),
                ("information", "informatie", "information", &["info"]),
                (
                    "observed_violation",
                    "waargenomen overtreding",
                    "observed violation",
                    &["overtreding", "violation"],
                ),
                (
                    "none_recorded",
                    "geen/onbekend",
                    "none recorded",
                    &[
                        "geen",
                        "onbekend",
                        "none",
                        "unknown",
                        "not recorded",
                        "geen aanleiding",
                    ],
                ),
            ],
        )
    }

    /// Results of a stop, in order of severity (ProCo "resultaat").
    pub fn outcome() -> Self {
        Self::build(
            "outcome",
            true,
            &[
                ("no_action", "geen actie", "no action", &["geen", "none"]),
                ("warning", "waarschuwing", "warning", &["berisping"]),
                (
                    "fine",
                    "bekeuring",
                    "fine",
                    &["boete", "bon", "beschikking"],
                ),
                (
                    "report",
                    "proces-verbaal",
                    "report",
                    &["pv", "proces verbaal"],
                ),
                ("arrest", "aanhouding", "arrest", &["aangehouden"]),
                ("other", "overig", "other", &["anders"]),
            ],
        )
    }

    /// Legal basis of the stop ("grondslag").
    pub fn legal_basis() -> Self {
        Self::build(
            "legal_basis",
            true,
            &[
                (
                    "traffic_act",
                    "WVW 1994 art. 160",
                    "Road Traffic Act 1994 s. 160",
                    &[
                        "wvw",
                        "wegenverkeerswet",
                        "wegenverkeerswet 1994",
                        "art. 160 wvw",
                        "traffic act",
                    ],
                ),
                (
                    "police_act",
                    "Politiewet 2012 art. 3",
                    "Police Act 2012 s. 3",
                    &["politiewet", "pw", "art. 3 politiewet", "police act"],
                ),
                (
                    "immigration",
                    "Vw 2000 art. 50 / MTV",
                    "Aliens Act 2000 s. 50 / MSM",
                    &[
                        "vreemdelingenwet",
                        "vw",
                        "vw 2000",
                        "mtv",
                        "art. 50 vw",
                        "aliens act",
                    ],
                ),
                (
                    "weapons_act",
                    "WWM",
                    "Weapons and Ammunition Act",
                    &["wet wapens en munitie", "wapenwet", "weapons act"],
                ),
                (
                    "preventive_search",
                    "Gemeentewet 151b/174b",
                    "preventive search (Municipalities Act 151b/174b)",
                    &[
                        "preventief fouilleren",
                        "gemeentewet",
                        "151b",
                        "174b",
                        "preventive search",
                    ],
                ),
                ("other", "overig", "other", &["anders"]),
            ],
        )
    }

    /// What was stopped.
    pub fn subject_type() -> Self {
        Self::build(
            "subject_type",
            false,
            &[
                ("person", "persoon", "person", &["voetganger", "pedestrian"]),
                (
                    "vehicle",
                    "voertuig",
                    "vehicle",
                    &["auto", "car", "motorvoertuig"],
                ),
                ("bicycle", "fiets", "bicycle", &["bike", "fietser"]),
                ("other", "overig", "other", &["anders"]),
            ],
        )
    }

    /// Whether the reason for the stop was explained ("uitleggen").
    pub fn reason_explained() -> Self {
        Self::build(
            "reason_explained",
            false,
            &[
                ("yes", "ja", "yes", &["j", "y", "true", "waar", "1"]),
                ("no", "nee", "no", &["n", "false", "onwaar", "0"]),
                ("unknown", "onbekend", "unknown", &["?", "niet bekend"]),
            ],
        )
    }

    /// The field this list belongs to.
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// All codes, in their canonical order.
    pub fn codes(&self) -> &[Code] {
        &self.codes
    }

    /// The code at `idx`.
    pub fn get(&self, idx: u8) -> &Code {
        &self.codes[usize::from(idx)]
    }

    /// Index of a canonical code (exact, not a label).
    pub fn index_of(&self, code: &str) -> Option<u8> {
        self.codes
            .iter()
            .position(|c| c.code == code)
            .map(|i| i as u8)
    }

    /// Every spelling this list matches (normalised, see [`normalize_label`])
    /// with the index of its code, sorted: what a job outside stopaudit
    /// needs to match values exactly as [`CodeList::lookup`] does.
    pub fn spellings(&self) -> Vec<(&str, u8)> {
        let mut all: Vec<(&str, u8)> = self.lookup.iter().map(|(k, &v)| (k.as_str(), v)).collect();
        all.sort_unstable();
        all
    }

    /// Matches a raw input value against codes, labels and aliases.
    pub fn lookup(&self, raw: &str) -> Option<u8> {
        // Most exports write the labels exactly as listed: try that before normalising.
        if let Some(&idx) = self.lookup.get(raw) {
            return Some(idx);
        }
        self.lookup.get(&normalize_label(raw)).copied()
    }

    /// Adds a new code with labels (mapping file `[codes.<field>]`).
    pub(crate) fn add_code(&mut self, code: &str, nl: &str, en: &str) -> Result<()> {
        if !self.extensible {
            return Err(Error::Config(format!(
                "codes cannot be added to `{}`; it has a fixed list: {}",
                self.field,
                self.code_names().join(", ")
            )));
        }
        if self.index_of(code).is_some() {
            return Err(Error::Config(format!(
                "code `{code}` already exists in `{}`",
                self.field
            )));
        }
        if self.codes.len() >= 250 {
            return Err(Error::Config(format!(
                "too many codes for `{}`",
                self.field
            )));
        }
        // Labels of a new code override aliases of built-in codes.
        let idx = self.push_code(code, nl, en);
        for spelling in [code, nl, en] {
            self.lookup.insert(normalize_label(spelling), idx);
        }
        Ok(())
    }

    /// Maps a source spelling onto an existing code (mapping file `[values.<field>]`).
    pub(crate) fn add_alias(&mut self, source_value: &str, code: &str) -> Result<()> {
        let idx = self.index_of(code).ok_or_else(|| {
            Error::Config(format!(
                "[values.{}] maps \"{source_value}\" to `{code}`, which is not a code of `{}`; known codes: {}",
                self.field,
                self.field,
                self.code_names().join(", ")
            ))
        })?;
        self.lookup.insert(normalize_label(source_value), idx);
        Ok(())
    }

    /// The canonical code names, in order.
    pub(crate) fn code_names(&self) -> Vec<&str> {
        self.codes.iter().map(|c| c.code.as_str()).collect()
    }

    /// Up to `n` codes whose spellings are closest to `raw`, best first.
    pub fn closest(&self, raw: &str, n: usize) -> Vec<&str> {
        let needle = normalize_label(raw);
        let mut best: Vec<(f64, u8)> = Vec::new();
        for (spelling, &idx) in &self.lookup {
            let score = strsim::normalized_levenshtein(&needle, spelling)
                .max(strsim::jaro_winkler(&needle, spelling) - 0.1);
            match best.iter_mut().find(|(_, i)| *i == idx) {
                Some(entry) => entry.0 = entry.0.max(score),
                None => best.push((score, idx)),
            }
        }
        best.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        best.into_iter()
            .take(n)
            .map(|(_, idx)| self.get(idx).code.as_str())
            .collect()
    }
}

/// All code lists of the canonical schema, after the mapping file has been applied.
#[derive(Debug, Clone)]
pub struct CodeLists {
    /// Reasons for selecting a person or vehicle (extensible).
    pub justification: CodeList,
    /// Results of a stop, in order of severity (extensible).
    pub outcome: CodeList,
    /// Legal bases of a stop (extensible).
    pub legal_basis: CodeList,
    /// What was stopped (fixed list).
    pub subject_type: CodeList,
    /// Whether the reason was explained: `yes`, `no`, `unknown` (fixed list).
    pub reason_explained: CodeList,
}

impl Default for CodeLists {
    fn default() -> Self {
        CodeLists {
            justification: CodeList::justification(),
            outcome: CodeList::outcome(),
            legal_basis: CodeList::legal_basis(),
            subject_type: CodeList::subject_type(),
            reason_explained: CodeList::reason_explained(),
        }
    }
}

impl CodeLists {
    /// The list for a canonical field name, if that field is coded.
    pub fn for_field(&self, field: &str) -> Option<&CodeList> {
        match field {
            "justification" => Some(&self.justification),
            "outcome" => Some(&self.outcome),
            "legal_basis" => Some(&self.legal_basis),
            "subject_type" => Some(&self.subject_type),
            "reason_explained" => Some(&self.reason_explained),
            _ => None,
        }
    }

    /// Mutable access, for applying a mapping file.
    pub(crate) fn for_field_mut(&mut self, field: &str) -> Option<&mut CodeList> {
        match field {
            "justification" => Some(&mut self.justification),
            "outcome" => Some(&mut self.outcome),
            "legal_basis" => Some(&mut self.legal_basis),
            "subject_type" => Some(&mut self.subject_type),
            "reason_explained" => Some(&mut self.reason_explained),
            _ => None,
        }
    }

    /// Every list, in schema order.
    pub fn all(&self) -> [&CodeList; 5] {
        [
            &self.justification,
            &self.outcome,
            &self.legal_basis,
            &self.subject_type,
            &self.reason_explained,
        ]
    }
}

/// Parses a yes/no value in Dutch or English. `None` means "not a boolean".
pub fn parse_bool(raw: &str) -> Option<bool> {
    match normalize_label(raw).as_str() {
        "ja" | "j" | "yes" | "y" | "true" | "t" | "waar" | "1" | "x" => Some(true),
        "nee" | "n" | "no" | "false" | "f" | "onwaar" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_match_in_both_languages_whatever_the_case_and_spacing() {
        let j = CodeList::justification();
        let idx = j.index_of("observed_violation").unwrap();
        for raw in [
            "observed_violation",
            "Waargenomen overtreding",
            "  WAARGENOMEN   OVERTREDING ",
            "observed-violation",
            "Observed Violation",
        ] {
            assert_eq!(j.lookup(raw), Some(idx), "{raw}");
        }
        assert_eq!(j.lookup("Gedrag"), j.index_of("behaviour"));
        assert_eq!(j.lookup("geen/onbekend"), j.index_of("none_recorded"));
        assert_eq!(j.lookup("gedrg"), None);
    }

    #[test]
    fn outcome_order_is_severity() {
        let o = CodeList::outcome();
        assert_eq!(
            o.code_names(),
            ["no_action", "warning", "fine", "report", "arrest", "other"]
        );
        assert_eq!(o.lookup("Proces-verbaal"), o.index_of("report"));
        assert_eq!(o.lookup("PV"), o.index_of("report"));
    }

    #[test]
    fn closest_codes_name_the_likely_intended_code_first() {
        let j = CodeList::justification();
        assert_eq!(j.closest("gedrg", 2)[0], "behaviour");
        assert_eq!(j.closest("omstandighede", 1), ["circumstances"]);
        let o = CodeList::outcome();
        assert_eq!(o.closest("bekeurin", 1), ["fine"]);
    }

    #[test]
    fn mapping_file_can_add_codes_and_aliases() {
        let mut lb = CodeList::legal_basis();
        lb.add_code("opium_act", "Opiumwet art. 9", "Opium Act s. 9")
            .unwrap();
        assert_eq!(lb.lookup("opiumwet art. 9"), lb.index_of("opium_act"));
        lb.add_alias("Art 160", "traffic_act").unwrap();
        assert_eq!(lb.lookup("art 160"), lb.index_of("traffic_act"));
        let err = lb.add_alias("x", "nonsense").unwrap_err().to_string();
        assert!(err.contains("not a code of `legal_basis`"), "{err}");
        let mut st = CodeList::subject_type();
        assert!(st.add_code("boat", "boot", "boat").is_err());
    }

    #[test]
    fn booleans_in_dutch_and_english() {
        assert_eq!(parse_bool("Ja"), Some(true));
        assert_eq!(parse_bool("nee"), Some(false));
        assert_eq!(parse_bool("TRUE"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("misschien"), None);
    }
}
