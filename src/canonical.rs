//! Canonical stops as polars data frames.
//!
//! Validated rows are stored column-wise with small integer codes: code-list
//! fields as `UInt8` indices into their [`crate::codes::CodeList`], free-text
//! fields and group attributes as `UInt32` indices into a [`Dictionary`] that
//! grows as new values appear (codes never change once given, so partial
//! counts stay comparable). `stopped_at` is a timezone-aware datetime.

use polars::prelude::*;

use crate::ingest::validate::{StopRow, TEXT_FIELDS};

/// Column names of the canonical frame.
pub mod columns {
    pub const SOURCE_FILE: &str = "source_file";
    pub const SOURCE_ROW: &str = "source_row";
    pub const STOP_ID: &str = "stop_id";
    pub const STOPPED_AT: &str = "stopped_at";
    pub const JUSTIFICATION: &str = "justification";
    pub const OUTCOME: &str = "outcome";
    pub const LEGAL_BASIS: &str = "legal_basis";
    pub const SUBJECT_TYPE: &str = "subject_type";
    pub const REASON_EXPLAINED: &str = "reason_explained";
    pub const SEARCH_CONDUCTED: &str = "search_conducted";
    pub const CONTRABAND_FOUND: &str = "contraband_found";
    pub const LATITUDE: &str = "latitude";
    pub const LONGITUDE: &str = "longitude";
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

    /// The value with code `c`.
    pub fn label(&self, c: u32) -> &str {
        &self.values[c as usize]
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
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

/// Builds one canonical frame from validated rows.
pub struct FrameBuilder<'a> {
    attributes: &'a [String],
    timezone: &'a str,
    source_file: Vec<u32>,
    source_row: Vec<u64>,
    stop_id: Vec<Option<String>>,
    stopped_at: Vec<i64>,
    justification: Vec<u8>,
    outcome: Vec<u8>,
    legal_basis: Vec<Option<u8>>,
    subject_type: Vec<Option<u8>>,
    reason_explained: Vec<Option<u8>>,
    search_conducted: Vec<Option<bool>>,
    contraband_found: Vec<Option<bool>>,
    latitude: Vec<Option<f64>>,
    longitude: Vec<Option<f64>>,
    texts: Vec<Vec<Option<u32>>>,
    groups: Vec<Vec<u32>>,
}

impl<'a> FrameBuilder<'a> {
    pub fn new(attributes: &'a [String], timezone: &'a str) -> Self {
        FrameBuilder {
            attributes,
            timezone,
            source_file: Vec::new(),
            source_row: Vec::new(),
            stop_id: Vec::new(),
            stopped_at: Vec::new(),
            justification: Vec::new(),
            outcome: Vec::new(),
            legal_basis: Vec::new(),
            subject_type: Vec::new(),
            reason_explained: Vec::new(),
            search_conducted: Vec::new(),
            contraband_found: Vec::new(),
            latitude: Vec::new(),
            longitude: Vec::new(),
            texts: vec![Vec::new(); TEXT_FIELDS.len()],
            groups: vec![Vec::new(); attributes.len()],
        }
    }

    pub fn len(&self) -> usize {
        self.stopped_at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stopped_at.is_empty()
    }

    /// Adds one valid stop, coding its text values.
    pub fn push(&mut self, file: u32, row: u64, stop: StopRow, dicts: &mut Dictionaries) {
        self.source_file.push(file);
        self.source_row.push(row);
        self.stop_id.push(stop.stop_id);
        self.stopped_at.push(stop.stopped_at);
        self.justification.push(stop.justification);
        self.outcome.push(stop.outcome);
        self.legal_basis.push(stop.legal_basis);
        self.subject_type.push(stop.subject_type);
        self.reason_explained.push(stop.reason_explained);
        self.search_conducted.push(stop.search_conducted);
        self.contraband_found.push(stop.contraband_found);
        self.latitude.push(stop.latitude);
        self.longitude.push(stop.longitude);
        for (k, value) in stop.texts.iter().enumerate() {
            self.texts[k].push(value.as_deref().map(|v| dicts.texts[k].code(v)));
        }
        for (k, value) in stop.groups.iter().enumerate() {
            self.groups[k].push(dicts.groups[k].code(value));
        }
    }

    /// The frame. Column order: see [`columns`], then text fields, then groups.
    pub fn finish(self) -> PolarsResult<DataFrame> {
        use columns::*;
        let n = self.stopped_at.len();
        let tz = TimeZone::opt_try_new(Some(self.timezone))?;
        let stopped_at = Int64Chunked::from_vec(STOPPED_AT.into(), self.stopped_at)
            .into_datetime(TimeUnit::Milliseconds, tz)
            .into_column();
        let mut cols = vec![
            Column::new(SOURCE_FILE.into(), self.source_file),
            Column::new(SOURCE_ROW.into(), self.source_row),
            StringChunked::from_iter_options(STOP_ID.into(), self.stop_id.into_iter())
                .into_column(),
            stopped_at,
            Column::new(JUSTIFICATION.into(), self.justification),
            Column::new(OUTCOME.into(), self.outcome),
            UInt8Chunked::from_iter_options(LEGAL_BASIS.into(), self.legal_basis.into_iter())
                .into_column(),
            UInt8Chunked::from_iter_options(SUBJECT_TYPE.into(), self.subject_type.into_iter())
                .into_column(),
            UInt8Chunked::from_iter_options(
                REASON_EXPLAINED.into(),
                self.reason_explained.into_iter(),
            )
            .into_column(),
            BooleanChunked::from_iter_options(
                SEARCH_CONDUCTED.into(),
                self.search_conducted.into_iter(),
            )
            .into_column(),
            BooleanChunked::from_iter_options(
                CONTRABAND_FOUND.into(),
                self.contraband_found.into_iter(),
            )
            .into_column(),
            Float64Chunked::from_iter_options(LATITUDE.into(), self.latitude.into_iter())
                .into_column(),
            Float64Chunked::from_iter_options(LONGITUDE.into(), self.longitude.into_iter())
                .into_column(),
        ];
        for (k, values) in self.texts.into_iter().enumerate() {
            cols.push(
                UInt32Chunked::from_iter_options(TEXT_FIELDS[k].into(), values.into_iter())
                    .into_column(),
            );
        }
        for (attr, values) in self.attributes.iter().zip(self.groups) {
            cols.push(Column::new(format!("{GROUP_PREFIX}{attr}").into(), values));
        }
        DataFrame::new(n, cols)
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

    #[test]
    fn frame_has_typed_columns() {
        let attrs = vec!["gender".to_string()];
        let mut dicts = Dictionaries::new(1);
        let mut b = FrameBuilder::new(&attrs, "Europe/Amsterdam");
        let row = StopRow {
            stop_id: Some("X".into()),
            stopped_at: 1_741_181_400_000,
            justification: 1,
            outcome: 2,
            legal_basis: Some(0),
            subject_type: None,
            reason_explained: None,
            search_conducted: Some(true),
            contraband_found: Some(false),
            latitude: Some(52.0),
            longitude: None,
            texts: [Some("Limburg".into()), None, None, None, None, None],
            groups: vec!["vrouw".into()],
        };
        b.push(3, 17, row, &mut dicts);
        let df = b.finish().unwrap();
        assert_eq!(df.height(), 1);
        assert_eq!(
            df.column(columns::STOPPED_AT).unwrap().dtype(),
            &DataType::Datetime(
                TimeUnit::Milliseconds,
                TimeZone::opt_try_new(Some("Europe/Amsterdam")).unwrap()
            )
        );
        assert_eq!(
            df.column("group.gender").unwrap().u32().unwrap().get(0),
            Some(0)
        );
        assert_eq!(
            df.column(columns::SOURCE_ROW)
                .unwrap()
                .u64()
                .unwrap()
                .get(0),
            Some(17)
        );
        assert_eq!(df.column("unit").unwrap().u32().unwrap().get(0), Some(0));
        assert_eq!(df.column("district").unwrap().u32().unwrap().get(0), None);
        assert_eq!(dicts.text("unit").label(0), "Limburg");
    }
}
