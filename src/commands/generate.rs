//! `stopaudit generate`: synthetic stops with planted bias and a truth manifest.

use std::io::Write;

use stopaudit_core::error::{Error, Result};
pub use stopaudit_io::generate::{GenFormat, GenerateSettings};

pub fn run(settings: &GenerateSettings, out: &mut dyn Write) -> Result<()> {
    let truth = stopaudit_io::generate::generate(settings)?;
    let spoilt: u64 = truth.dirty_rows.values().sum();
    let mut text = format!(
        "wrote {} rows to {} ({}; seed {}; bias profile {})\n",
        truth.rows,
        settings.out.display(),
        match truth.format {
            GenFormat::Csv => "csv",
            GenFormat::Parquet => "parquet",
            GenFormat::Ipc => "ipc",
        },
        truth.seed,
        truth.profile.name
    );
    for planted in &truth.planted {
        text.push_str(&format!(
            "  planted {}: {} rows\n",
            planted.kind, planted.rows
        ));
    }
    if spoilt > 0 {
        text.push_str(&format!("  spoilt on purpose: {spoilt} rows\n"));
    }
    if let Some(t) = &settings.truth {
        text.push_str(&format!("truth manifest: {}\n", t.display()));
    }
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("<stdout>", e))
}
