//! `stopaudit ask`: one question, one command — a group against its
//! reference on one measure, in the run's scope, answered from the same
//! published results as `analyze` and the report (suppression, q-values
//! over the run, verdicts).

use std::io::Write;

use crate::commands::TextOrJson;
use crate::settings::Audit;
use stopaudit_core::error::{Error, Result};
use stopaudit_core::i18n::Lang;
use stopaudit_core::question::{Question, answer};

/// Settings of `stopaudit ask`.
#[derive(Debug)]
pub struct AskSettings {
    /// Inputs, configuration (with the reference asked for) and scope.
    pub audit: Audit,
    /// The question.
    pub question: Question,
    /// Language of the answer.
    pub lang: Lang,
    /// Text, or JSON with the published comparison row.
    pub format: TextOrJson,
}

pub fn run(settings: &AskSettings, out: &mut dyn Write) -> Result<()> {
    let analysis = super::analyze::analyze(&settings.audit, None)?;
    let a = answer(&analysis, &settings.question, settings.lang)?;
    let text = match settings.format {
        TextOrJson::Text => a.text.clone(),
        TextOrJson::Json => serde_json::to_string_pretty(&a).expect("serialisable") + "\n",
    };
    out.write_all(text.as_bytes())
        .map_err(|e| Error::io("<stdout>", e))
}
