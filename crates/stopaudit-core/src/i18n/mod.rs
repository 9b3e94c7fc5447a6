//! Every user-visible sentence of the analyses, in English and Dutch.
//!
//! The texts live in one TOML file per language next to this module
//! (`en.toml`, `nl.toml`), with `{placeholders}` filled in by the code.
//! Adding a language means adding a file with the same keys and a line in
//! [`Lang`]; the test below checks that every language has every key.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codes::Code;

/// An output language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// English (`en`).
    En,
    /// Dutch (`nl`).
    Nl,
}

impl Lang {
    /// Every language, in order.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Nl];

    fn source(self) -> &'static str {
        match self {
            Lang::En => include_str!("en.toml"),
            Lang::Nl => include_str!("nl.toml"),
        }
    }

    /// ISO 639-1 code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Nl => "nl",
        }
    }
}

/// The texts of one language, with its number format.
#[derive(Debug, Clone)]
pub(crate) struct Messages {
    /// The language of the texts.
    pub lang: Lang,
    texts: BTreeMap<String, String>,
    decimal: String,
    thousands: String,
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut BTreeMap<String, String>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t) => flatten(&key, t, out),
            toml::Value::String(s) => {
                out.insert(key, s.clone());
            }
            other => {
                out.insert(key, other.to_string());
            }
        }
    }
}

impl Messages {
    /// Loads the texts of `lang` (its decimal and thousands separators included).
    pub fn new(lang: Lang) -> Self {
        let table: toml::Table =
            toml::from_str(lang.source()).expect("language files are valid TOML");
        let mut texts = BTreeMap::new();
        flatten("", &table, &mut texts);
        let decimal = texts
            .get("language.decimal_separator")
            .cloned()
            .unwrap_or_else(|| ".".into());
        let thousands = texts
            .get("language.thousands_separator")
            .cloned()
            .unwrap_or_else(|| ",".into());
        Messages {
            lang,
            texts,
            decimal,
            thousands,
        }
    }

    /// The text for a key; a missing key is a bug (the test below checks all keys).
    pub fn text(&self, key: &str) -> &str {
        self.texts
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no text `{key}` for {:?}", self.lang))
    }

    /// The text for a key with its `{placeholders}` filled in.
    pub(crate) fn fill(&self, key: &str, args: &[(&str, &str)]) -> String {
        fill(self.text(key), args)
    }

    /// The text for a key, or `fallback` when the language has none
    /// (labels of attributes and fields a mapping file may introduce).
    pub(crate) fn text_or(&self, key: &str, fallback: &str) -> String {
        self.texts
            .get(key)
            .cloned()
            .unwrap_or_else(|| fallback.to_string())
    }

    /// All keys (for checking languages against each other).
    #[cfg(test)]
    fn keys(&self) -> impl Iterator<Item = &str> {
        self.texts.keys().map(String::as_str)
    }

    /// A date (`YYYY-MM-DD…`, anything after the day ignored) as this
    /// language writes it: 2025-09-30 in English, 30-09-2025 in Dutch.
    /// Text that is not such a date is returned as it is.
    pub fn date(&self, iso: &str) -> String {
        let day = iso
            .get(..10)
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
        match (day, self.texts.get("language.date_format")) {
            (Some(d), Some(f)) => d.format(f).to_string(),
            _ => iso.to_string(),
        }
    }

    /// A number with `decimals` decimals and this language's separators.
    pub fn number(&self, x: f64, decimals: usize) -> String {
        if !x.is_finite() {
            return if x > 0.0 { "∞".into() } else { "–".into() };
        }
        let text = format!("{:.*}", decimals, x.abs());
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i.to_string(), Some(f.to_string())),
            None => (text.clone(), None),
        };
        let mut grouped = String::new();
        for (i, ch) in int.chars().enumerate() {
            if i > 0 && (int.len() - i) % 3 == 0 {
                grouped.push_str(&self.thousands);
            }
            grouped.push(ch);
        }
        let mut out = if x < 0.0 && text.chars().any(|c| c != '0' && c != '.') {
            "-".to_string()
        } else {
            String::new()
        };
        out.push_str(&grouped);
        if let Some(f) = frac {
            out.push_str(&self.decimal);
            out.push_str(&f);
        }
        out
    }

    /// A proportion as a percentage, e.g. `9.1%` / `9,1%`.
    pub fn percent(&self, p: f64) -> String {
        format!("{}%", self.number(100.0 * p, 1))
    }

    /// The label of a code in this language.
    pub(crate) fn code_label<'a>(&self, code: &'a Code) -> &'a str {
        match self.lang {
            Lang::En => &code.en,
            Lang::Nl => &code.nl,
        }
    }

    /// A q-value for text: `q = 0.012`, or `q < 0.001`.
    pub fn q_value(&self, q: f64) -> String {
        if q < 0.001 {
            self.text("phrase.q_small").to_string()
        } else {
            self.fill("phrase.q", &[("q", &self.number(q, 3))])
        }
    }
}

/// Replaces `{name}` by its value.
pub(crate) fn fill(template: &str, args: &[(&str, &str)]) -> String {
    let mut out = template.to_string();
    for (name, value) in args {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_every_key() {
        let en: Vec<String> = Messages::new(Lang::En).keys().map(str::to_string).collect();
        for lang in Lang::ALL {
            let keys: Vec<String> = Messages::new(lang).keys().map(str::to_string).collect();
            assert_eq!(keys, en, "{lang:?}");
        }
    }

    #[test]
    fn numbers_in_each_language() {
        let en = Messages::new(Lang::En);
        let nl = Messages::new(Lang::Nl);
        assert_eq!(en.number(1234567.891, 2), "1,234,567.89");
        assert_eq!(nl.number(1234567.891, 2), "1.234.567,89");
        assert_eq!(nl.percent(0.0912), "9,1%");
        assert_eq!(en.number(-0.5, 1), "-0.5");
        assert_eq!(en.q_value(0.0004), "q < 0.001");
        assert_eq!(nl.q_value(0.0123), "q = 0,012");
    }
}
