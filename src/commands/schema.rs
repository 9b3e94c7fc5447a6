//! `stopaudit schema`: the canonical schema, or an example mapping file.

use std::io::Write;

use serde_json::json;

use super::TextOrJson;
use stopaudit_core::codes::CodeLists;
use stopaudit_core::error::{Error, Result};
use stopaudit_core::schema::{self, FIELDS, KNOWN_GROUP_ATTRIBUTES};

/// Settings of `stopaudit schema`.
#[derive(Debug, Clone, Default)]
pub struct SchemaSettings {
    pub example_config: bool,
    pub format: TextOrJson,
}

pub fn run(settings: &SchemaSettings, out: &mut dyn Write) -> Result<()> {
    let text = if settings.example_config {
        schema::EXAMPLE_CONFIG.to_string()
    } else {
        let codes = CodeLists::default();
        match settings.format {
            TextOrJson::Text => schema::describe(&codes),
            TextOrJson::Json => {
                let fields: Vec<_> = FIELDS
                    .iter()
                    .map(|f| {
                        json!({
                            "name": f.name,
                            "required": f.required,
                            "kind": format!("{:?}", f.kind).to_lowercase(),
                            "description": f.description,
                            "aliases": f.aliases,
                            "codes": codes.for_field(f.name).map(|l| l.codes().iter().map(|c| json!({"code": c.code, "nl": c.nl, "en": c.en})).collect::<Vec<_>>()),
                        })
                    })
                    .collect();
                let groups: Vec<_> = KNOWN_GROUP_ATTRIBUTES
                    .iter()
                    .map(|(n, a)| json!({"name": n, "aliases": a}))
                    .collect();
                let doc = json!({"fields": fields, "known_group_attributes": groups, "unknown_group": schema::UNKNOWN_GROUP});
                serde_json::to_string_pretty(&doc).expect("serialisable") + "\n"
            }
        }
    };
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("<stdout>", e))
}
