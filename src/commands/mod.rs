//! One function per subcommand. Each takes its resolved settings (from
//! `settings.rs`) and writes its human output to the given writer; files are
//! written atomically.

pub mod analyze;
pub mod ask;
pub mod count;
pub mod demo;
pub mod generate;
pub mod report;
pub mod schema;
pub mod threshold_test;
pub mod validate;

/// A command with its resolved settings ([`crate::settings::Settings`]).
pub enum Command {
    Schema(schema::SchemaSettings),
    Validate(validate::ValidateSettings),
    Analyze(analyze::AnalyzeSettings),
    Ask(ask::AskSettings),
    Count(count::CountSettings),
    Generate(generate::GenerateSettings),
    Demo(demo::DemoSettings),
    Report(report::ReportSettings),
    ThresholdTest(threshold_test::ThresholdTestSettings),
}

impl Command {
    /// Runs the command, writing its human output to `out`.
    pub fn run(&self, out: &mut dyn std::io::Write) -> stopaudit_core::error::Result<()> {
        match self {
            Command::Schema(s) => schema::run(s, out),
            Command::Validate(s) => validate::run(s, out),
            Command::Analyze(s) => analyze::run(s, out),
            Command::Ask(s) => ask::run(s, out),
            Command::Count(s) => count::run(s, out),
            Command::Generate(s) => generate::run(s, out),
            Command::Demo(s) => demo::run(s, out),
            Command::Report(s) => report::run(s, out),
            Command::ThresholdTest(s) => threshold_test::run(s, out),
        }
    }
}

/// Text for humans or JSON for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextOrJson {
    #[default]
    Text,
    Json,
}
