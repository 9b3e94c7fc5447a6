//! Command-line definitions (clap derive). `settings.rs` resolves them into
//! the commands' settings; no logic lives here.

use std::path::PathBuf;

use crate::commands::threshold_test::CountColumns;
use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};
use stopaudit_core::findings::Severity;
use stopaudit_core::scope::{Filter, Period};
use stopaudit_core::threshold_test::FitSettings;

/// Audits police stop registrations for signs of discriminatory selection.
///
/// Exit codes: 0 success; 2 usage or input error (nothing is written).
#[derive(Debug, Parser)]
#[command(name = "stopaudit", version, about, long_about = None)]
pub struct Cli {
    /// Worker threads, at least 1 (default: all cores; at most 8 per core). Results do not depend on it.
    #[arg(long, global = true, value_parser = parse_threads)]
    pub threads: Option<usize>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the canonical stop schema, or an example mapping file.
    #[command(
        after_help = "Examples:\n  stopaudit schema\n  stopaudit schema --example-config > stopaudit.toml\n  stopaudit schema --format json"
    )]
    Schema {
        /// Print a commented example mapping file instead.
        #[arg(long)]
        example_config: bool,
        /// text for reading, json for programs.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Read exports, account for every row and report quarantined rows.
    #[command(
        after_help = "Examples:\n  stopaudit validate exports/2025-Q3.csv --config stopaudit.toml\n  stopaudit validate exports/*.csv --config stopaudit.toml --quarantine private/quarantine.csv\n  stopaudit validate export.xlsx --format json"
    )]
    Validate {
        #[command(flatten)]
        input: InputArgs,
        /// Write quarantined rows (with file, row and reason) to this .csv or .parquet file.
        #[arg(long)]
        quarantine: Option<PathBuf>,
        /// text for reading, json for programs (docs/results.md).
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
    },
    /// Disparity statistics and findings by group and justification, in one pass.
    #[command(
        after_help = "Examples:\n  stopaudit analyze exports/2025-Q*.csv --config stopaudit.toml\n  stopaudit analyze export.parquet --format json --out results.json --fail-on high\n  stopaudit analyze export.csv --threshold-test --format csv --csv excel-nl --out tables/"
    )]
    Analyze {
        #[command(flatten)]
        input: AuditInputArgs,
        /// table (text for reading), json (one document, docs/results.md) or
        /// csv (one table per analysis, into the --out folder).
        #[arg(long, value_enum, default_value_t = AnalyzeFormatArg::Table)]
        format: AnalyzeFormatArg,
        /// Output file (table, json) or folder (csv). Default: standard output.
        #[arg(long)]
        out: Option<PathBuf>,
        /// How --format csv writes its tables: machine (`,` and `.`, English
        /// names) or excel-nl (`;`, decimal comma, Dutch names, UTF-8 with BOM).
        #[arg(long, value_enum, default_value_t = CsvArg::Machine)]
        csv: CsvArg,
        /// Also write quarantined rows to this .csv or .parquet file.
        #[arg(long)]
        quarantine: Option<PathBuf>,
        #[command(flatten)]
        analysis: AnalysisArgs,
    },
    /// Answer one question in one command: a group against its reference on
    /// one measure, in the scope of --where and --period, with counts,
    /// rates, ratio, p and q, the verdict and suppression applied.
    #[command(
        after_help = "Examples:\n  stopaudit ask export.csv --where unit=Rotterdam --period 2025-Q3 --group nationality=Marokkaans --reference Nederlands --within justification=behaviour\n  stopaudit ask export.csv --group nationality=Turks --measure search --lang nl"
    )]
    Ask {
        #[command(flatten)]
        input: AuditInputArgs,
        /// The group: ATTRIBUTE=GROUP, e.g. nationality=Marokkaans.
        #[arg(long, value_name = "ATTRIBUTE=GROUP")]
        group: String,
        /// The reference group (default: the configured one, else the largest).
        #[arg(long)]
        reference: Option<String>,
        /// Compare within one justification or legal basis: justification=CODE or legal_basis=CODE.
        #[arg(long, value_name = "FIELD=CODE")]
        within: Option<String>,
        /// What to compare.
        #[arg(long, value_enum, default_value_t = MeasureArg::Outcome)]
        measure: MeasureArg,
        /// Language of the answer.
        #[arg(long, value_enum, default_value_t = LangArg::En)]
        lang: LangArg,
        /// text for reading, json for programs.
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
        #[command(flatten)]
        analysis: AnalysisArgs,
    },
    /// Write the analysis as a report to publish: HTML, Markdown and CSV tables.
    #[command(
        after_help = "Examples:\n  stopaudit report exports/2025-Q3.csv --config stopaudit.toml --out reports/2025-Q3\n  stopaudit report exports/*.csv --config stopaudit.toml --lang nl --format html,pdf,csv --out reports/2025-nl\n  stopaudit report export.csv --threshold-test=district --as-of 2025-10-15 --out reports/q3\n  stopaudit report --cube cubes/rotterdam --cube cubes/den-haag --config stopaudit.toml --out reports/national"
    )]
    Report {
        #[command(flatten)]
        input: AuditInputArgs,
        /// Output folder.
        #[arg(long, default_value = "reports/report")]
        out: PathBuf,
        /// Language of the report.
        #[arg(long, value_enum, default_value_t = LangArg::En)]
        lang: LangArg,
        /// Formats to write, comma-separated: html, pdf (A4, printed by
        /// Chromium, Chrome or Edge), md, csv (tables/), png or svg (charts/).
        #[arg(long, value_enum, value_delimiter = ',', default_value = "html,md,csv")]
        format: Vec<ReportFormatArg>,
        /// Report date (default: the date of the last stop analysed).
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// How the CSV tables are written: machine (`,` and `.`, English
        /// names) or excel-nl (`;`, decimal comma, Dutch names, UTF-8 with
        /// BOM). Default: excel-nl with --lang nl, else machine.
        #[arg(long, value_enum)]
        csv: Option<CsvArg>,
        #[command(flatten)]
        analysis: AnalysisArgs,
    },
    /// Count the inputs into a count cube: a folder of Parquet tables of
    /// whole counts and a manifest, to analyse later or to add up with
    /// other units' cubes (`analyze --cube`, `report --cube`). A working
    /// file: exact counts, nothing suppressed; never publish it.
    #[command(
        after_help = "Examples:\n  stopaudit count exports/rotterdam-2025-Q3.csv --config stopaudit.toml --out cubes/rotterdam\n  stopaudit count exports/*.csv --config stopaudit.toml --period 2025-Q3 --out cubes/2025-Q3\n  stopaudit count export.parquet --by justification,district --threshold-test=district --out cubes/q3\n  stopaudit count hdfs:///proco/2025/part-1.parquet hdfs:///proco/2025/part-2.parquet --like sample.parquet --period 2025 --engine spark --emit spark-job"
    )]
    Count {
        #[command(flatten)]
        input: InputArgs,
        /// Output folder of the cube (counted here, `--engine native`).
        #[arg(long, required_unless_present = "emit", conflicts_with = "emit")]
        out: Option<PathBuf>,
        /// Who counts: `native` (here, now) or `spark` (writes a Spark job
        /// with --emit, to run where the data lives; the inputs are then
        /// Parquet paths or URIs as the cluster names them).
        #[arg(long, value_enum, default_value = "native")]
        engine: EngineArg,
        /// Folder to write the Spark job to (with --engine spark).
        #[arg(long)]
        emit: Option<PathBuf>,
        /// A local Parquet file with the inputs' columns, to map them (with
        /// --engine spark; default: the first input, when it is a local file).
        #[arg(long)]
        like: Option<PathBuf>,
        /// Years the Spark job's sun tables cover, e.g. 2024..2025 (with
        /// --engine spark and the veil of darkness; default: the years of
        /// --period or [period]).
        #[arg(long, value_name = "FIRST..LAST")]
        years: Option<String>,
        /// Area the Spark job's sun tables cover: south,west,north,east in
        /// degrees (default: the Netherlands, 50.6,3.2,53.7,7.3).
        #[arg(long, value_name = "S,W,N,E")]
        sun_area: Option<String>,
        /// Also write quarantined rows to this .csv or .parquet file.
        #[arg(long)]
        quarantine: Option<PathBuf>,
        #[command(flatten)]
        plan: CountPlanArgs,
    },
    /// Generate synthetic ProCo-style stops with planted bias.
    #[command(
        after_help = "Examples:\n  stopaudit generate --rows 200000 --out synthetic.csv\n  stopaudit generate --rows 10000000 --seed 7 --format parquet --bias combined --out big.parquet\n  stopaudit generate --rows 50000 --dirty 0.02 --out dirty.csv --truth planted.json"
    )]
    Generate {
        /// Number of rows.
        #[arg(long)]
        rows: u64,
        /// Random seed: the same seed gives the same file.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// File format: csv, parquet or ipc (Arrow).
        #[arg(long, value_enum, default_value_t = GenFormatArg::Csv)]
        format: GenFormatArg,
        /// Bias profile: none, lower-threshold, search-threshold, combined, or a TOML file.
        #[arg(long, default_value = "none")]
        bias: String,
        /// Write a manifest of what was planted to this JSON file.
        #[arg(long)]
        truth: Option<PathBuf>,
        /// Share of rows to spoil on purpose (0 to 0.5), each caught by one quarantine reason.
        #[arg(long, default_value_t = 0.0)]
        dirty: f64,
        /// First day of the period.
        #[arg(long, default_value = "2025-01-01")]
        start: NaiveDate,
        /// Length of the period in days.
        #[arg(long, default_value_t = 365)]
        days: u32,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
    /// The threshold test (Simoiu et al. 2017) on counts per location and group.
    ///
    /// Infers, by Bayesian inference (NUTS), the risk threshold officers apply
    /// before searching members of each group; a lower threshold than the
    /// reference group's means searching on less evidence.
    #[command(
        after_help = "Examples:\n  stopaudit threshold-test counts.csv --reference White\n  stopaudit threshold-test counts.csv --reference White --location county --where state=NC --format json --out nc.json"
    )]
    ThresholdTest {
        /// CSV file with one row per location and group (comma, semicolon or tab separated).
        counts: PathBuf,
        #[command(flatten)]
        columns: CountColumnArgs,
        /// The reference group, e.g. the majority group.
        #[arg(long)]
        reference: String,
        /// Only rows with COLUMN equal to VALUE; repeatable.
        #[arg(long = "where", value_name = "COLUMN=VALUE", value_parser = parse_column_filter)]
        filters: Vec<(String, String)>,
        /// Markov chains (run in parallel).
        #[arg(long, default_value_t = 4)]
        chains: usize,
        /// Warmup (adaptation) iterations per chain.
        #[arg(long, default_value_t = FitSettings::default().warmup)]
        warmup: usize,
        /// Draws kept per chain.
        #[arg(long, default_value_t = FitSettings::default().draws)]
        draws: usize,
        /// Random seed: the same seed gives the same result, whatever the thread count.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Target acceptance rate of the step-size adaptation (Stan's adapt_delta);
        /// raise it (e.g. 0.95) when the fit reports divergent transitions.
        #[arg(long, default_value_t = FitSettings::default().target_accept)]
        target_accept: f64,
        /// Probability inside the credible intervals, between 0.5 and 1.
        #[arg(long, default_value_t = FitSettings::default().interval, value_parser = parse_level)]
        confidence: f64,
        /// text for reading, json for programs (docs/results.md).
        #[arg(long, value_enum, default_value_t = TextFormat::Text)]
        format: TextFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Run the main job on the bundled sample, writing into reports/demo/.
    #[command(after_help = "Examples:\n  stopaudit demo\n  stopaudit demo --lang nl")]
    Demo {
        /// Output folder [default: reports/demo, reports/demo-nl with --lang nl].
        #[arg(long)]
        out: Option<PathBuf>,
        /// Language of the report.
        #[arg(long, value_enum, default_value_t = LangArg::En)]
        lang: LangArg,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
    },
}

/// The input files of a command that reads rows (`validate`, `count`).
#[derive(Debug, Args)]
pub struct InputArgs {
    /// Input files (CSV, Parquet, Arrow IPC, JSON Lines, Excel .xlsx) or glob patterns.
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonInputArgs,
}

/// The input files, or count cubes, of an audit (`analyze`, `report`, `ask`).
#[derive(Debug, Args)]
pub struct AuditInputArgs {
    /// Input files (CSV, Parquet, Arrow IPC, JSON Lines, Excel .xlsx) or glob patterns.
    #[arg(required_unless_present = "cube")]
    pub inputs: Vec<PathBuf>,
    /// A count cube (a folder written by `stopaudit count`) to analyse
    /// instead of input files; repeat it to add up several, e.g. one per
    /// regional unit.
    #[arg(long, value_name = "DIR", conflicts_with = "inputs")]
    pub cube: Vec<PathBuf>,
    #[command(flatten)]
    pub common: CommonInputArgs,
}

/// What every command that reads stops takes besides the files.
#[derive(Debug, Args)]
pub struct CommonInputArgs {
    /// Mapping/configuration file (TOML); see `stopaudit schema --example-config`.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Only stops in this period (local dates): 2025, 2025-Q3, 2025-07, 2025-07-14 (or 14-07-2025) or FROM..TO.
    #[arg(long, value_parser = parse_period)]
    pub period: Option<Period>,
    /// Only stops with FIELD equal to VALUE (or one of VALUE1,VALUE2); repeatable.
    #[arg(long = "where", value_name = "FIELD=VALUE", value_parser = parse_filter)]
    pub filters: Vec<Filter>,
}

fn parse_period(s: &str) -> Result<Period, String> {
    Period::parse(s).map_err(|e| e.to_string())
}

/// Which columns of a counts file hold what.
#[derive(Debug, Args)]
pub struct CountColumnArgs {
    /// Column with the location (unit, district, county).
    #[arg(long, default_value = "location")]
    pub location: String,
    /// Column with the group.
    #[arg(long, default_value = "group")]
    pub group: String,
    /// Column with the number of stops.
    #[arg(long, default_value = "stops")]
    pub stops: String,
    /// Column with the number of searches.
    #[arg(long, default_value = "searches")]
    pub searches: String,
    /// Column with the number of searches that found something (hits).
    #[arg(long, default_value = "hits")]
    pub hits: String,
}

impl From<CountColumnArgs> for CountColumns {
    fn from(a: CountColumnArgs) -> Self {
        CountColumns {
            location: a.location,
            group: a.group,
            stops: a.stops,
            searches: a.searches,
            hits: a.hits,
        }
    }
}

fn parse_column_filter(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((c, v)) if !c.trim().is_empty() => Ok((c.trim().to_owned(), v.trim().to_owned())),
        _ => Err(format!("`{s}`: expected COLUMN=VALUE")),
    }
}

fn parse_filter(s: &str) -> Result<Filter, String> {
    Filter::parse(s).map_err(|e| e.to_string())
}

/// Settings of the analyses (they override `[analysis]` in the configuration).
#[derive(Debug, Args)]
pub struct AnalysisArgs {
    #[command(flatten)]
    pub plan: CountPlanArgs,
    /// Suppress counts from 1 to N-1 in the output (default 10; 0 disables).
    #[arg(long)]
    pub min_cell: Option<u64>,
    /// Confidence level of intervals (default 0.95).
    #[arg(long)]
    pub confidence: Option<f64>,
    /// False discovery rate for q-values and findings (default 0.05).
    #[arg(long)]
    pub fdr: Option<f64>,
    /// Exit with code 1 (after writing all output) if a finding of this severity or above exists:
    /// data_quality (only those), high, medium, withheld, insufficient_data or note; data-quality
    /// findings count as the most severe.
    #[arg(long, value_parser = parse_severity)]
    pub fail_on: Option<Severity>,
}

/// The `[analysis]` values that decide what is counted: `count` takes these
/// alone (the rest can change when its cube is analysed).
#[derive(Debug, Args)]
pub struct CountPlanArgs {
    /// Strata of the stratified comparison, e.g. justification,unit (default: justification).
    #[arg(long, value_delimiter = ',')]
    pub by: Option<Vec<String>>,
    /// Population file (CSV: attribute, group, population) for the population
    /// benchmark; one per area makes the cube count area_code.
    #[arg(long)]
    pub population: Option<PathBuf>,
    /// Also run the threshold test (Bayesian; seconds to a minute), by unit, or
    /// by another location field with --threshold-test=district (the `=` is
    /// needed, so that a file name after the option stays an input); for
    /// `count`, what it needs is counted.
    #[arg(
        long,
        value_name = "LOCATION",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "unit"
    )]
    pub threshold_test: Option<String>,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| {
        format!("`{s}`: expected data_quality, high, medium, withheld, insufficient_data or note")
    })
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum TextFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AnalyzeFormatArg {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LangArg {
    En,
    Nl,
}

/// What `ask` compares.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MeasureArg {
    /// Sanction rate (fine, report, arrest): the outcome test.
    Outcome,
    /// Share of stops on weak justifications.
    Weak,
    /// Search rate.
    Search,
    /// Find rate of searches.
    Find,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ReportFormatArg {
    /// report.html: one self-contained page, laid out for screen and A4 print.
    Html,
    /// report.md: the same text and tables in Markdown.
    Md,
    /// tables/*.csv: every published table.
    Csv,
    /// charts/*.png.
    Png,
    /// charts/*.svg.
    Svg,
    /// report.pdf: A4, printed by Chromium, Chrome or Edge (STOPAUDIT_BROWSER names another).
    Pdf,
}

/// Who counts the cube (`count --engine`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// Here, now.
    Native,
    /// A Spark job, written with --emit.
    Spark,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CsvArg {
    /// `,` between fields, `.` in numbers, English column names: for programs.
    Machine,
    /// For Dutch Excel: `;`, decimal comma, Dutch column names, UTF-8 with BOM.
    ExcelNl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GenFormatArg {
    Csv,
    Parquet,
    Ipc,
}

/// A probability strictly between 0.5 and 1 (a confidence or credible level).
fn parse_level(text: &str) -> Result<f64, String> {
    let level: f64 = text
        .parse()
        .map_err(|_| format!("{text:?} is not a number"))?;
    if level > 0.5 && level < 1.0 {
        Ok(level)
    } else {
        Err(format!("{level} must be between 0.5 and 1"))
    }
}

/// A thread count: a whole number of at least 1.
fn parse_threads(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "{text:?}: give a whole number of at least 1 (leave --threads out for all cores)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_subcommand_has_examples_and_every_option_a_description() {
        let cli = Cli::command();
        for sub in cli.get_subcommands() {
            let name = sub.get_name();
            let examples = sub
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default();
            assert!(
                examples.starts_with("Examples:")
                    && examples.matches("\n  stopaudit ").count() >= 2,
                "{name}: {examples}"
            );
            // Every example names this subcommand and parses.
            for line in examples.lines().skip(1) {
                // The command itself, without a shell redirection.
                let words: Vec<&str> = line.split_whitespace().take_while(|w| *w != ">").collect();
                assert_eq!(words.get(1), Some(&name), "{line}");
                if let Err(e) = Cli::try_parse_from(&words) {
                    panic!("{line}: {e}");
                }
            }
            for arg in sub.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                assert!(arg.get_help().is_some(), "{name} --{id} has no description");
            }
        }
    }

    #[test]
    fn a_file_after_threshold_test_stays_an_input() {
        let cli = Cli::try_parse_from(["stopaudit", "analyze", "--threshold-test", "export.csv"])
            .unwrap();
        let Command::Analyze {
            input, analysis, ..
        } = cli.command
        else {
            panic!("not analyze");
        };
        assert_eq!(input.inputs, [PathBuf::from("export.csv")]);
        assert_eq!(analysis.plan.threshold_test.as_deref(), Some("unit"));
        let cli = Cli::try_parse_from([
            "stopaudit",
            "report",
            "--threshold-test=district",
            "export.csv",
        ])
        .unwrap();
        let Command::Report { analysis, .. } = cli.command else {
            panic!("not report");
        };
        assert_eq!(analysis.plan.threshold_test.as_deref(), Some("district"));
    }
}
