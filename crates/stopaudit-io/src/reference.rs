//! The polars reference of the counting kernel, for tests only: the same
//! stops as a polars frame, and the count cube from polars group-bys on it.
//! The kernel in `stopaudit_core::counting` must agree with it.

use polars::prelude::*;
use stopaudit_core::canonical::columns::{self as c, *};
use stopaudit_core::canonical::{NONE_U8, NONE_U32, StopBatch, TEXT_FIELDS};
use stopaudit_core::counting::{CellKey, CountCube, MISSING};

/// The stops of a batch as a polars frame: code-list fields as nullable
/// `UInt8`, flags as nullable booleans, text fields as nullable `UInt32`
/// codes (the batch's own), groups as `group.<attribute>`, `stopped_at` as
/// a zoned datetime.
pub fn frame_of(
    batch: &StopBatch,
    attributes: &[String],
    timezone: &str,
) -> PolarsResult<DataFrame> {
    let n = batch.len();
    let tz = TimeZone::opt_try_new(Some(timezone))?;
    let f = &batch.fields;
    let stopped_at = Int64Chunked::from_vec(STOPPED_AT.into(), f.stopped_at.clone())
        .into_datetime(TimeUnit::Milliseconds, tz)
        .into_column();
    let codes = |name: &str, v: &[u8]| {
        UInt8Chunked::from_iter_options(name.into(), v.iter().map(|&c| (c != NONE_U8).then_some(c)))
            .into_column()
    };
    let flags = |name: &str, v: &[u8]| {
        BooleanChunked::from_iter_options(
            name.into(),
            v.iter().map(|&c| (c != NONE_U8).then_some(c == 1)),
        )
        .into_column()
    };
    let mut cols = vec![
        stopped_at,
        Column::new(JUSTIFICATION.into(), f.justification.clone()),
        Column::new(OUTCOME.into(), f.outcome.clone()),
        codes(LEGAL_BASIS, &f.legal_basis),
        codes(SUBJECT_TYPE, &f.subject_type),
        codes(REASON_EXPLAINED, &f.reason_explained),
        flags(SEARCH_CONDUCTED, &f.search_conducted),
        flags(CONTRABAND_FOUND, &f.contraband_found),
    ];
    for (k, values) in batch.texts.iter().enumerate() {
        cols.push(
            UInt32Chunked::from_iter_options(
                TEXT_FIELDS[k].into(),
                values.iter().map(|&c| (c != NONE_U32).then_some(c)),
            )
            .into_column(),
        );
    }
    for (attr, values) in attributes.iter().zip(&batch.groups) {
        cols.push(Column::new(
            format!("{GROUP_PREFIX}{attr}").into(),
            values.clone(),
        ));
    }
    DataFrame::new(n, cols)
}

/// Counts one canonical frame with lazy polars group-bys (one per
/// attribute) and adds the result to `cube`.
pub fn add_frame(
    cube: &mut CountCube,
    frame: &DataFrame,
    attributes: &[String],
) -> PolarsResult<()> {
    if attributes.is_empty() {
        return add_attribute(cube, frame, 0, None);
    }
    for (a, attr) in attributes.iter().enumerate() {
        let a = u16::try_from(a).expect("fewer than 65536 group attributes");
        add_attribute(cube, frame, a, Some(&format!("{}{attr}", c::GROUP_PREFIX)))?;
    }
    Ok(())
}

fn add_attribute(
    cube: &mut CountCube,
    frame: &DataFrame,
    attribute: u16,
    group_col: Option<&str>,
) -> PolarsResult<()> {
    let mut keys: Vec<Expr> = group_col.iter().map(|g| col(*g)).collect();
    for k in [
        c::JUSTIFICATION,
        c::OUTCOME,
        c::LEGAL_BASIS,
        "unit",
        c::SEARCH_CONDUCTED,
        c::CONTRABAND_FOUND,
    ] {
        keys.push(col(k));
    }
    for f in &cube.extra_fields {
        keys.push(col(f.as_str()).cast(DataType::UInt32));
    }
    let counted = frame
        .clone()
        .lazy()
        .group_by(keys)
        .agg([len().cast(DataType::UInt64).alias("stops")])
        .collect()?;
    let groups: Vec<Option<u32>> = match group_col {
        Some(g) => counted.column(g)?.u32()?.iter().collect(),
        None => vec![Some(0); counted.height()],
    };
    let u8s = |name: &str| -> PolarsResult<Vec<Option<u8>>> {
        Ok(counted.column(name)?.u8()?.iter().collect())
    };
    let bools = |name: &str| -> PolarsResult<Vec<Option<bool>>> {
        Ok(counted.column(name)?.bool()?.iter().collect())
    };
    let justification = u8s(c::JUSTIFICATION)?;
    let outcome = u8s(c::OUTCOME)?;
    let legal_basis = u8s(c::LEGAL_BASIS)?;
    let unit: Vec<Option<u32>> = counted.column("unit")?.u32()?.iter().collect();
    let search = bools(c::SEARCH_CONDUCTED)?;
    let contraband = bools(c::CONTRABAND_FOUND)?;
    let stops: Vec<Option<u64>> = counted.column("stops")?.u64()?.iter().collect();
    let extra: Vec<Vec<Option<u32>>> = cube
        .extra_fields
        .iter()
        .map(|f| Ok(counted.column(f)?.u32()?.iter().collect()))
        .collect::<PolarsResult<_>>()?;
    for i in 0..counted.height() {
        let mut extra_codes = [MISSING; 2];
        for (slot, values) in extra.iter().enumerate() {
            extra_codes[slot] = values[i].unwrap_or(MISSING);
        }
        let key = CellKey {
            attribute,
            group: groups[i].expect("group codes are never null"),
            justification: justification[i].expect("required"),
            outcome: outcome[i].expect("required"),
            legal_basis: legal_basis[i],
            unit: unit[i],
            search: search[i],
            contraband: contraband[i],
            extra: extra_codes,
        };
        *cube.cells.entry(key).or_default() += stops[i].unwrap_or(0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use stopaudit_core::canonical::{Dictionaries, StopRow};
    use stopaudit_core::testing::{arb_full_stop, batch_of};

    #[test]
    fn frame_has_typed_columns() {
        let attrs = vec!["gender".to_string()];
        let mut b = StopBatch::new(1);
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
            registered_at: None,
            texts: [Some("Limburg".into()), None, None, None, None, None],
            groups: vec!["vrouw".into()],
        };
        b.push(&row);
        let df = frame_of(&b, &attrs, "Europe/Amsterdam").unwrap();
        assert_eq!(df.height(), 1);
        assert_eq!(
            df.column(c::STOPPED_AT).unwrap().dtype(),
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
            df.column(c::SEARCH_CONDUCTED)
                .unwrap()
                .bool()
                .unwrap()
                .get(0),
            Some(true)
        );
        assert_eq!(
            df.column(c::SUBJECT_TYPE).unwrap().u8().unwrap().get(0),
            None
        );
        assert_eq!(df.column("unit").unwrap().u32().unwrap().get(0), Some(0));
        assert_eq!(df.column("district").unwrap().u32().unwrap().get(0), None);
        assert_eq!(b.text_values[0], ["Limburg"]);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The counting kernel agrees with polars' group-by on the same stops,
        /// with three attributes and two extra strata.
        #[test]
        fn kernel_matches_polars(rows in prop::collection::vec(arb_full_stop(), 0..300)) {
            let attrs: Vec<String> = ["nationality", "gender", "age_band"].map(String::from).to_vec();
            let extra = vec!["district".to_string(), "subject_type".to_string()];
            // Fresh dictionaries code values in the batch's own order, so both sides use the same codes.
            let mut dicts = Dictionaries::new(3);
            let batch = batch_of(&rows, &attrs);
            let mut kernel = CountCube::with_extra_fields(&extra);
            kernel.add_batch(&batch, &mut dicts);
            let mut reference = CountCube::with_extra_fields(&extra);
            if !batch.is_empty() {
                add_frame(&mut reference, &frame_of(&batch, &attrs, "Europe/Amsterdam").unwrap(), &attrs).unwrap();
            }
            prop_assert_eq!(kernel.total(), rows.len() as u64);
            prop_assert_eq!(kernel, reference);
        }
    }
}
