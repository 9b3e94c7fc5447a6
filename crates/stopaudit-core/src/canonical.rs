//! Canonical stops: validated rows, column by column, as small integer codes.
//!
//! Code-list fields are `u8` indices into their [`crate::codes::CodeList`],
//! free-text fields and group attributes `u32` indices into a [`Dictionary`]
//! that grows as new values appear (codes never change once given, so partial
//! counts stay comparable), `stopped_at` is an instant. A [`StopBatch`] is
//! what the counting kernel reads.

/// Free-text fields of a stop, in schema order.
pub const TEXT_FIELDS: [&str; 6] = [
    "unit",
    "district",
    "basisteam",
    "area_code",
    "officer_id",
    "team",
];

/// Index of a text field in [`TEXT_FIELDS`].
pub(crate) fn text_index(field: &str) -> usize {
    TEXT_FIELDS
        .iter()
        .position(|t| *t == field)
        .expect("a text field")
}

/// A valid stop, before dictionary encoding.
#[derive(Debug, Clone, PartialEq)]
pub struct StopRow {
    /// The registration id, if the input has one.
    pub stop_id: Option<String>,
    /// Instant of the stop, ms since the epoch.
    pub stopped_at: i64,
    /// Index into the justification code list.
    pub justification: u8,
    /// Index into the outcome code list.
    pub outcome: u8,
    /// Index into the legal-basis code list, if recorded.
    pub legal_basis: Option<u8>,
    /// Index into the subject-type code list, if recorded.
    pub subject_type: Option<u8>,
    /// Index into the reason-explained code list, if recorded.
    pub reason_explained: Option<u8>,
    /// Whether a search took place, if recorded.
    pub search_conducted: Option<bool>,
    /// Whether something was found, if recorded (meaningful only when searched).
    pub contraband_found: Option<bool>,
    /// WGS84 latitude in degrees, if recorded.
    pub latitude: Option<f64>,
    /// WGS84 longitude in degrees, if recorded.
    pub longitude: Option<f64>,
    /// Instant of the registration, if recorded.
    pub registered_at: Option<i64>,
    /// Values of [`TEXT_FIELDS`], in that order.
    pub texts: [Option<String>; 6],
    /// One value per group attribute; missing values are [`crate::schema::UNKNOWN_GROUP`].
    pub groups: Vec<String>,
}

/// Column names of the canonical frame.
pub mod columns {
    /// Column of the stop's instant.
    pub const STOPPED_AT: &str = "stopped_at";
    /// Column of the justification code.
    pub const JUSTIFICATION: &str = "justification";
    /// Column of the outcome code.
    pub const OUTCOME: &str = "outcome";
    /// Column of the legal-basis code.
    pub const LEGAL_BASIS: &str = "legal_basis";
    /// Column of the subject-type code.
    pub const SUBJECT_TYPE: &str = "subject_type";
    /// Column of the reason-explained code.
    pub const REASON_EXPLAINED: &str = "reason_explained";
    /// Column of the search flag.
    pub const SEARCH_CONDUCTED: &str = "search_conducted";
    /// Column of the contraband-found flag.
    pub const CONTRABAND_FOUND: &str = "contraband_found";
    /// Prefix of group attribute columns: `group.nationality`.
    pub const GROUP_PREFIX: &str = "group.";
}

/// Values of a free-text field, each given a code in order of first appearance.
#[derive(Debug, Clone, Default)]
pub struct Dictionary {
    values: Vec<String>,
    index: foldhash::HashMap<String, u32>,
}

impl Dictionary {
    /// The code of `value`, adding it if new.
    pub fn code(&mut self, value: &str) -> u32 {
        if let Some(&c) = self.index.get(value) {
            return c;
        }
        let c = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct values");
        self.values.push(value.to_string());
        self.index.insert(value.to_string(), c);
        c
    }

    /// The code of `value`, if it has one.
    pub fn get(&self, value: &str) -> Option<u32> {
        self.index.get(value).copied()
    }

    /// The value with code `c`.
    pub fn label(&self, c: u32) -> &str {
        &self.values[c as usize]
    }

    /// Every value, in code order (for tests comparing dictionaries).
    #[cfg(test)]
    pub(crate) fn labels(&self) -> &[String] {
        &self.values
    }

    /// Number of values with a code.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether no value has a code yet.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The same values coded in sorted order, and the new code of each old one.
    pub fn sorted(&self) -> (Dictionary, Vec<u32>) {
        let mut order: Vec<u32> = (0..self.values.len() as u32).collect();
        order.sort_by(|&a, &b| self.values[a as usize].cmp(&self.values[b as usize]));
        let mut new_code = vec![0u32; self.values.len()];
        let mut sorted = Dictionary::default();
        for old in order {
            new_code[old as usize] = sorted.code(&self.values[old as usize]);
        }
        (sorted, new_code)
    }
}

/// All dictionaries of a run.
#[derive(Debug, Clone)]
pub struct Dictionaries {
    /// One per [`TEXT_FIELDS`] entry.
    pub texts: Vec<Dictionary>,
    /// One per group attribute.
    pub groups: Vec<Dictionary>,
}

impl Dictionaries {
    /// The run's codes of a batch's text and group values (adding the new
    /// ones in the batch's order of first appearance): `(texts, groups)`,
    /// indexed like the batch's `text_values` and `group_values`.
    pub(crate) fn translate(&mut self, batch: &StopBatch) -> (Vec<Vec<u32>>, Vec<Vec<u32>>) {
        let texts = self
            .texts
            .iter_mut()
            .zip(&batch.text_values)
            .map(|(d, values)| values.iter().map(|v| d.code(v)).collect())
            .collect();
        let groups = self
            .groups
            .iter_mut()
            .zip(&batch.group_values)
            .map(|(d, values)| values.iter().map(|v| d.code(v)).collect())
            .collect();
        (texts, groups)
    }

    /// Empty dictionaries for the text fields and `attributes` group attributes.
    pub fn new(attributes: usize) -> Self {
        Dictionaries {
            texts: vec![Dictionary::default(); TEXT_FIELDS.len()],
            groups: vec![Dictionary::default(); attributes],
        }
    }

    /// The dictionary of a text field by name.
    pub fn text(&self, field: &str) -> &Dictionary {
        let k = TEXT_FIELDS
            .iter()
            .position(|f| *f == field)
            .expect("a text field");
        &self.texts[k]
    }
}

/// Code of a missing value in the `u8` columns of a [`StopBatch`].
pub const NONE_U8: u8 = u8::MAX;
/// Code of a missing value in the dictionary columns of a [`StopBatch`].
pub const NONE_U32: u32 = u32::MAX;
/// A missing instant in the `i64` columns of a [`StopBatch`].
pub const NONE_I64: i64 = i64::MIN;

/// Canonical stops of one batch, column by column, as codes: what the
/// counting kernel reads. Text fields and group attributes are coded
/// against the batch's own small dictionaries (`text_values`,
/// `group_values`, in order of first appearance), so batches can be built
/// on any thread; the run's [`Dictionaries`] translate them when the
/// batch's counts are merged (see [`crate::counting`]).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StopBatch {
    /// Index of each stop's row in its raw batch.
    pub rows: Vec<u32>,
    /// The number and code-list fields.
    pub fields: StopFields,
    /// Per [`TEXT_FIELDS`] entry: codes into `text_values`, [`NONE_U32`] when missing.
    pub texts: Vec<Vec<u32>>,
    /// Per [`TEXT_FIELDS`] entry: the value of each code, in order of first appearance.
    pub text_values: Vec<Vec<String>>,
    /// Per group attribute: codes into `group_values`.
    pub groups: Vec<Vec<u32>>,
    /// Per group attribute: the value of each code, in order of first appearance.
    pub group_values: Vec<Vec<String>>,
}

/// The fields of stops that are numbers or code-list indices, one entry
/// per stop in each column.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StopFields {
    /// Instants, ms since the epoch.
    pub stopped_at: Vec<i64>,
    /// Justification code-list indices (never missing).
    pub justification: Vec<u8>,
    /// Outcome code-list indices (never missing).
    pub outcome: Vec<u8>,
    /// Code-list indices, [`NONE_U8`] when missing.
    pub legal_basis: Vec<u8>,
    /// Subject-type code-list indices, [`NONE_U8`] when missing.
    pub subject_type: Vec<u8>,
    /// Reason-explained code-list indices, [`NONE_U8`] when missing.
    pub reason_explained: Vec<u8>,
    /// 0 = no, 1 = yes, [`NONE_U8`] = missing.
    pub search_conducted: Vec<u8>,
    /// 0 = nothing found, 1 = found, [`NONE_U8`] = missing.
    pub contraband_found: Vec<u8>,
    /// Degrees; NaN when missing.
    pub latitude: Vec<f64>,
    /// Degrees; NaN when missing.
    pub longitude: Vec<f64>,
    /// Instants, ms since the epoch; [`NONE_I64`] when missing.
    pub registered_at: Vec<i64>,
}

impl StopFields {
    /// Optional fields among these, in the order of [`StopFields::missing`].
    pub const OPTIONAL: [&'static str; 8] = [
        "latitude",
        "longitude",
        "subject_type",
        "legal_basis",
        "search_conducted",
        "contraband_found",
        "reason_explained",
        "registered_at",
    ];

    /// The entries of some stops (indices, in order).
    pub fn select(&self, rows: &[u32]) -> StopFields {
        fn pick<T: Copy>(v: &[T], rows: &[u32]) -> Vec<T> {
            rows.iter().map(|&i| v[i as usize]).collect()
        }
        StopFields {
            stopped_at: pick(&self.stopped_at, rows),
            justification: pick(&self.justification, rows),
            outcome: pick(&self.outcome, rows),
            legal_basis: pick(&self.legal_basis, rows),
            subject_type: pick(&self.subject_type, rows),
            reason_explained: pick(&self.reason_explained, rows),
            search_conducted: pick(&self.search_conducted, rows),
            contraband_found: pick(&self.contraband_found, rows),
            latitude: pick(&self.latitude, rows),
            longitude: pick(&self.longitude, rows),
            registered_at: pick(&self.registered_at, rows),
        }
    }

    /// Whether stop `i` lacks each of [`StopFields::OPTIONAL`].
    /// `contraband_found` is conditional: it applies only to a stop with a
    /// search (or whose search is unknown), so an empty value beside
    /// `search_conducted` = no is not missing (docs/schema.md).
    pub fn missing(&self, i: usize) -> [bool; 8] {
        [
            self.latitude[i].is_nan(),
            self.longitude[i].is_nan(),
            self.subject_type[i] == NONE_U8,
            self.legal_basis[i] == NONE_U8,
            self.search_conducted[i] == NONE_U8,
            self.contraband_found[i] == NONE_U8 && self.search_conducted[i] != 0,
            self.reason_explained[i] == NONE_U8,
            self.registered_at[i] == NONE_I64,
        ]
    }

    /// How many stops lack each of [`StopFields::OPTIONAL`] (as [`Self::missing`]).
    pub fn missing_counts(&self) -> [u64; 8] {
        let none = |v: &[u8]| v.iter().filter(|&&x| x == NONE_U8).count() as u64;
        let nan = |v: &[f64]| v.iter().filter(|x| x.is_nan()).count() as u64;
        [
            nan(&self.latitude),
            nan(&self.longitude),
            none(&self.subject_type),
            none(&self.legal_basis),
            none(&self.search_conducted),
            self.contraband_found
                .iter()
                .zip(&self.search_conducted)
                .filter(|&(&c, &s)| c == NONE_U8 && s != 0)
                .count() as u64,
            none(&self.reason_explained),
            self.registered_at
                .iter()
                .filter(|&&x| x == NONE_I64)
                .count() as u64,
        ]
    }
}

impl StopBatch {
    /// An empty batch for `attributes` group attributes.
    pub fn new(attributes: usize) -> Self {
        StopBatch {
            texts: vec![Vec::new(); TEXT_FIELDS.len()],
            text_values: vec![Vec::new(); TEXT_FIELDS.len()],
            groups: vec![Vec::new(); attributes],
            group_values: vec![Vec::new(); attributes],
            ..Default::default()
        }
    }

    /// Number of stops.
    pub fn len(&self) -> usize {
        self.fields.stopped_at.len()
    }

    /// Whether the batch has no stops.
    pub fn is_empty(&self) -> bool {
        self.fields.stopped_at.is_empty()
    }

    /// Adds one valid stop (row-wise; for tests and small inputs).
    pub fn push(&mut self, stop: &StopRow) {
        let opt = |v: Option<u8>| v.unwrap_or(NONE_U8);
        let flag = |v: Option<bool>| v.map_or(NONE_U8, u8::from);
        fn code(values: &mut Vec<String>, v: &str) -> u32 {
            match values.iter().position(|x| x == v) {
                Some(i) => i as u32,
                None => {
                    values.push(v.to_string());
                    (values.len() - 1) as u32
                }
            }
        }
        self.rows.push(self.len() as u32);
        let f = &mut self.fields;
        f.stopped_at.push(stop.stopped_at);
        f.justification.push(stop.justification);
        f.outcome.push(stop.outcome);
        f.legal_basis.push(opt(stop.legal_basis));
        f.subject_type.push(opt(stop.subject_type));
        f.reason_explained.push(opt(stop.reason_explained));
        f.search_conducted.push(flag(stop.search_conducted));
        f.contraband_found.push(flag(stop.contraband_found));
        f.latitude.push(stop.latitude.unwrap_or(f64::NAN));
        f.longitude.push(stop.longitude.unwrap_or(f64::NAN));
        f.registered_at.push(stop.registered_at.unwrap_or(NONE_I64));
        for (k, value) in stop.texts.iter().enumerate() {
            let c = value
                .as_deref()
                .map_or(NONE_U32, |v| code(&mut self.text_values[k], v));
            self.texts[k].push(c);
        }
        for (k, value) in stop.groups.iter().enumerate() {
            let c = code(&mut self.group_values[k], value);
            self.groups[k].push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dictionary_codes_are_stable_in_order_of_first_appearance() {
        let mut d = Dictionary::default();
        assert_eq!(d.code("Amsterdam"), 0);
        assert_eq!(d.code("Rotterdam"), 1);
        assert_eq!(d.code("Amsterdam"), 0);
        assert_eq!(d.label(1), "Rotterdam");
        assert_eq!(d.len(), 2);
    }
}
