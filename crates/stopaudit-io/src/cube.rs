//! A count cube's folder on disk: its tables as Parquet files (written and
//! read with polars) and `manifest.json` (see
//! [`stopaudit_core::counting::artifact`] for what they hold).

use std::path::Path;

use polars::prelude::*;
use stopaudit_core::accounting::sha256_file;
use stopaudit_core::counting::artifact::{
    self, Column as CubeColumn, CubePart, MANIFEST_FILE, Manifest, TABLES, Table, TableFile,
};
use stopaudit_core::error::{Error, Result};
use stopaudit_core::output::write_atomic;

/// Writes `tables` as Parquet files into `dir` (which exists) and the
/// manifest, with each file's name, rows and SHA-256 filled in.
pub fn write(dir: &Path, tables: &[Table], mut manifest: Manifest) -> Result<Manifest> {
    manifest.tables.clear();
    for table in tables {
        let file = format!("{}.parquet", table.name);
        let path = dir.join(&file);
        write_table(&path, table)?;
        manifest.tables.push(TableFile {
            name: table.name.clone(),
            file: file.clone(),
            rows: table.rows() as u64,
            sha256: sha256_file(&path)?,
        });
    }
    let mut json = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
    json.push('\n');
    write_atomic(&dir.join(MANIFEST_FILE), json.as_bytes())?;
    Ok(manifest)
}

/// Writes one table as a Parquet file (atomically).
pub(crate) fn write_table(path: &Path, table: &Table) -> Result<()> {
    let mut df = frame(path, table)?;
    let out = stopaudit_core::output::AtomicFile::create(path)?;
    ParquetWriter::new(out.handle().map_err(|e| Error::io(path, e))?)
        .finish(&mut df)
        .map_err(|e| Error::engine(path, e))?;
    out.commit()
}

pub(crate) fn frame(path: &Path, table: &Table) -> Result<DataFrame> {
    let columns: Vec<polars::prelude::Column> = table
        .columns
        .iter()
        .map(|(name, values)| {
            let name: PlSmallStr = name.as_str().into();
            match values {
                CubeColumn::Int(v) => polars::prelude::Column::new(name, v),
                CubeColumn::Bool(v) => polars::prelude::Column::new(name, v),
                CubeColumn::Text(v) => polars::prelude::Column::new(
                    name,
                    v.iter().map(|s| s.as_deref()).collect::<Vec<_>>(),
                ),
            }
        })
        .collect();
    DataFrame::new(table.rows(), columns).map_err(|e| Error::engine(path, e))
}

/// Reads the cube in `dir`: its manifest, then every table it lists, each
/// file checked against the SHA-256 the manifest gives (a changed or
/// truncated file is refused, naming it).
pub fn read(dir: &Path) -> Result<CubePart> {
    let name = dir.display().to_string();
    let manifest_path = dir.join(MANIFEST_FILE);
    if !std::fs::metadata(&manifest_path).is_ok_and(|m| m.is_file()) {
        return Err(Error::input(
            dir,
            format!(
                "is not a count cube: it has no {MANIFEST_FILE} (write one with `stopaudit count`)"
            ),
        ));
    }
    let bytes = std::fs::read(&manifest_path).map_err(|e| Error::io(&manifest_path, e))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| Error::input(&manifest_path, format!("is not a cube manifest: {e}")))?;
    if manifest.format != artifact::FORMAT {
        return Err(Error::input(
            &manifest_path,
            format!(
                "is not a stopaudit cube manifest (format {:?})",
                manifest.format
            ),
        ));
    }
    let mut tables = Vec::with_capacity(TABLES.len());
    for want in TABLES {
        let entry = manifest
            .tables
            .iter()
            .find(|t| t.name == want)
            .ok_or_else(|| Error::input(&manifest_path, format!("lists no table {want}")))?;
        if entry.file.contains(['/', '\\']) || entry.file.starts_with('.') {
            return Err(Error::input(
                &manifest_path,
                format!(
                    "table {want}: file {:?} is not a file name in the cube's folder",
                    entry.file
                ),
            ));
        }
        let path = dir.join(&entry.file);
        // A device or pipe (or a link to one) would never end: refused.
        if !std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
            return Err(Error::input(
                &path,
                "is not a regular file (missing, a folder, a device or a pipe)",
            ));
        }
        let sha = sha256_file(&path)?;
        if sha != entry.sha256 {
            return Err(Error::input(
                &path,
                "differs from the file the cube was written with (its SHA-256 does not match manifest.json): count again",
            ));
        }
        let table = read_table(&path, want)?;
        if table.rows() as u64 != entry.rows {
            return Err(Error::input(
                &path,
                format!(
                    "has {} rows, manifest.json says {}",
                    table.rows(),
                    entry.rows
                ),
            ));
        }
        tables.push(table);
    }
    Ok(CubePart {
        name,
        manifest_sha256: stopaudit_core::accounting::sha256_bytes(&bytes),
        manifest,
        tables,
    })
}

/// One table's Parquet file, each column cast to the kind the cube's
/// format gives it (another engine may write 32-bit integers).
fn read_table(path: &Path, name: &str) -> Result<Table> {
    let bad = |e: PolarsError| Error::input(path, format!("cannot read as a cube table: {e}"));
    let pl_path = PlRefPath::try_from_path(path).map_err(|e| Error::engine(path, e))?;
    let args = ScanArgsParquet {
        glob: false,
        cache: false,
        ..Default::default()
    };
    let df = LazyFrame::scan_parquet(pl_path, args)
        .and_then(|f| f.collect())
        .map_err(bad)?;
    let mut columns = Vec::with_capacity(df.width());
    for c in df.columns() {
        let column_name = c.name().to_string();
        let values = match artifact::empty_column(&column_name) {
            CubeColumn::Int(_) => {
                let c = c.cast(&DataType::Int64).map_err(bad)?;
                CubeColumn::Int(c.i64().map_err(bad)?.iter().collect())
            }
            CubeColumn::Bool(_) => {
                let c = c.cast(&DataType::Boolean).map_err(bad)?;
                CubeColumn::Bool(c.bool().map_err(bad)?.iter().collect())
            }
            CubeColumn::Text(_) => {
                let c = c.cast(&DataType::String).map_err(bad)?;
                CubeColumn::Text(
                    c.str()
                        .map_err(bad)?
                        .iter()
                        .map(|v| v.map(str::to_string))
                        .collect(),
                )
            }
        };
        columns.push((column_name, values));
    }
    Ok(Table {
        name: name.to_string(),
        columns,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use stopaudit_core::canonical::Dictionaries;
    use stopaudit_core::codes::CodeLists;
    use stopaudit_core::counting::CountCube;
    use stopaudit_core::counting::artifact::{Engine, to_tables};
    use stopaudit_core::testing::{batch_of, stop};

    fn manifest(summary: stopaudit_core::accounting::IngestSummary) -> Manifest {
        let spec = serde_json::json!({"extra_fields": []});
        Manifest {
            format: artifact::FORMAT.into(),
            cube_version: artifact::CUBE_VERSION,
            notice: artifact::NOTICE.into(),
            engine: Engine {
                name: "stopaudit".into(),
                version: "test".into(),
            },
            specification_sha256: artifact::specification_sha256(&spec),
            specification: spec,
            attributes: vec!["nationality".into()],
            extra_fields: vec![],
            summary,
            missing_values_all: Default::default(),
            tables: vec![],
        }
    }

    /// Tables written to Parquet and read back are the same tables, empty
    /// ones included; a changed file is refused, naming it.
    #[test]
    fn a_cube_round_trips_through_parquet_and_a_changed_file_is_refused() {
        let attrs = vec!["nationality".to_string()];
        let rows = vec![
            stop("NL", 0, 0, Some("Rotterdam"), Some(true)),
            stop("TR", 1, 2, None, None),
            stop(
                "Marokkaans \"=1+1\" ; é",
                0,
                0,
                Some("Den Haag"),
                Some(false),
            ),
        ];
        let mut dicts = Dictionaries::new(1);
        let mut cube = CountCube::default();
        cube.add_batch(&batch_of(&rows, &attrs), &mut dicts);
        let tables = to_tables(&cube, &dicts, &CodeLists::default(), &attrs, None);
        assert!(tables.iter().any(|t| t.rows() == 0), "some table is empty");
        let summary: stopaudit_core::accounting::IngestSummary =
            serde_json::from_value(serde_json::json!({
                "files": [], "rows_read": 3, "rows_analyzed": 3, "rows_quarantined": 0,
                "rows_out_of_scope": 0, "quarantine_reasons": {"duplicate_stop_id": 0},
                "duplicates_checked": true, "attributes": ["nationality"],
                "timezone": "Europe/Amsterdam", "timezone_assumed": true,
                "first_stop": null, "last_stop": null, "missing_values": {}
            }))
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let written = write(dir.path(), &tables, manifest(summary)).unwrap();
        assert_eq!(written.tables.len(), TABLES.len());
        let part = read(dir.path()).unwrap();
        assert_eq!(part.tables, tables);
        assert_eq!(part.manifest, written);

        // The same counts give the same bytes.
        let again = tempfile::tempdir().unwrap();
        let rewritten = write(again.path(), &tables, written.clone()).unwrap();
        assert_eq!(rewritten.tables, written.tables);

        let cells = dir.path().join("cells.parquet");
        let mut bytes = std::fs::read(&cells).unwrap();
        let last = bytes.len() - 20;
        bytes[last] ^= 1;
        std::fs::write(&cells, bytes).unwrap();
        let err = read(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("cells.parquet") && err.contains("SHA-256"),
            "{err}"
        );

        // A pipe in a table's place would be read forever: refused at once.
        #[cfg(unix)]
        {
            std::fs::remove_file(&cells).unwrap();
            let made = std::process::Command::new("mkfifo").arg(&cells).status();
            assert!(made.is_ok_and(|s| s.success()));
            let err = read(dir.path()).unwrap_err().to_string();
            assert!(err.contains("not a regular file"), "{err}");
        }

        let err = read(&dir.path().join("nothing")).unwrap_err().to_string();
        assert!(err.contains("manifest.json"), "{err}");
    }
}
