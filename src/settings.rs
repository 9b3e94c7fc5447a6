//! Settings, resolved once (as uv's `settings.rs` and ripgrep's `HiArgs`).
//!
//! [`Settings::resolve`] turns the command line ([`crate::cli`]), the
//! configuration file and the environment into plain, checked values before
//! any command runs: the inputs (globs expanded), the configuration with its
//! code lists and the command line's `[analysis]` overrides applied, the
//! scope, the population file, the pseudonymisation key, the duplicate
//! check's limits and the thread count. Commands receive these values and
//! pass on what the libraries need; nothing below this module reads the
//! environment or a setting's file again.

use std::ffi::OsString;

use std::path::{Path, PathBuf};
use stopaudit_core::output::CsvDialect;

use stopaudit_core::analysis::population::Population;
use stopaudit_core::codes::CodeLists;
use stopaudit_core::config::Config;
use stopaudit_core::counting::CountPlan;
use stopaudit_core::error::{Error, Result};
use stopaudit_core::i18n::Lang;
use stopaudit_core::provenance::ConfigProvenance;
use stopaudit_core::pseudonym::{self, KeyError, PseudonymKey};
use stopaudit_core::scope::Scope;
use stopaudit_io::scan::{IdLimits, ScanSettings};

use crate::cli::{self, AnalyzeFormatArg, Cli, Command, GenFormatArg, LangArg, ReportFormatArg};
use crate::commands::analyze::{AnalysisOverrides, AnalyzeFormat, AnalyzeSettings};
use crate::commands::ask::AskSettings;
use crate::commands::demo::{self, DemoSettings};
use crate::commands::generate::{GenFormat, GenerateSettings};
use crate::commands::report::{ReportFormat, ReportOutput, ReportSettings};
use crate::commands::schema::SchemaSettings;
use crate::commands::threshold_test::ThresholdTestSettings;
use crate::commands::validate::ValidateSettings;
use crate::commands::{Command as Resolved, TextOrJson};
use stopaudit_core::threshold_test::FitSettings;

/// Everything a run needs, resolved and checked.
pub struct Settings {
    /// Worker threads of rayon's pool (`--threads`, else every core), which
    /// `main` builds once before the command runs; the scan and the
    /// generator also bound their jobs in flight by it.
    pub threads: usize,
    /// Whether `--threads` was given (polars then gets the same count).
    pub threads_chosen: bool,
    /// Why `--threads` was lowered, for standard error.
    pub threads_note: Option<String>,
    /// The command with its settings.
    pub command: Resolved,
}

/// What the environment contributes, read once by [`Environment::read`].
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// The pseudonymisation key ([`pseudonym::KEY_VARIABLE`]), if set.
    pub pseudonym_key: Option<OsString>,
    /// The duplicate check's memory limits.
    pub id_limits: IdLimits,
    /// The day of the run (UTC), read from the clock once: stops dated more
    /// than a year after it are implausible unless `[input] latest_date`
    /// says otherwise.
    pub today: chrono::NaiveDate,
    /// `STOPAUDIT_BROWSER`: the browser that prints PDFs, if set.
    pub browser: Option<OsString>,
    /// `PATH`, where the browser is looked for otherwise.
    pub path: Option<OsString>,
}

impl Environment {
    /// Reads the variables stopaudit knows; `env` looks a name up. For
    /// tests and tuning, `STOPAUDIT_ID_MEMORY` (distinct ids kept in
    /// memory) and `STOPAUDIT_CHECK_IDS` (spilled ids checked at once, at
    /// least 1) set the duplicate check's limits.
    pub fn read(env: impl Fn(&str) -> Option<OsString>) -> Result<Self> {
        let mut id_limits = IdLimits::default();
        let read = |name: &str, min: u64| -> Result<Option<u64>> {
            let Some(value) = env(name) else {
                return Ok(None);
            };
            match value.to_str().and_then(|v| v.trim().parse::<u64>().ok()) {
                Some(n) if n >= min => Ok(Some(n)),
                _ => Err(Error::Usage(format!(
                    "{name}={}: give a whole number of at least {min}",
                    value.to_string_lossy()
                ))),
            }
        };
        if let Some(n) = read("STOPAUDIT_ID_MEMORY", 0)? {
            id_limits.in_memory = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(n) = read("STOPAUDIT_CHECK_IDS", 1)? {
            id_limits.checked_at_once = n;
        }
        Ok(Environment {
            pseudonym_key: env(pseudonym::KEY_VARIABLE),
            id_limits,
            today: chrono::Utc::now().date_naive(),
            browser: env(crate::pdf::BROWSER_VARIABLE),
            path: env("PATH"),
        })
    }
}

/// The inputs as the command line names them, before any file is read.
#[derive(Debug, Clone, Default)]
pub struct InputSources {
    /// Files or glob patterns, in order.
    pub inputs: Vec<PathBuf>,
    /// Mapping/configuration file.
    pub config: Option<PathBuf>,
    /// No progress bar.
    pub quiet: bool,
    /// Period and filters (`--period`, `--where`).
    pub scope: Scope,
    /// Count cubes to analyse instead of inputs (`--cube`).
    pub cubes: Vec<PathBuf>,
}

/// The settings of a command that reads stop data.
#[derive(Debug, Clone)]
pub struct Reading {
    /// Input files, globs expanded, in order.
    pub inputs: Vec<PathBuf>,
    /// The configuration, with the command line's `[analysis]` overrides.
    pub config: Config,
    /// Its code lists.
    pub codes: CodeLists,
    /// The configuration file's path and SHA-256 (of the bytes parsed).
    pub config_file: Option<ConfigProvenance>,
    /// `--period` and `--where`.
    pub scope: Scope,
    /// A progress bar on stderr.
    pub progress: bool,
    /// The duplicate check's memory limits.
    pub id_limits: IdLimits,
    /// Worker threads.
    pub threads: usize,
    /// Stops dated outside this range are quarantined (`implausible_date`).
    pub plausible_dates: (chrono::NaiveDate, chrono::NaiveDate),
    /// Count cubes to analyse instead of reading inputs (`--cube`; then
    /// `inputs` is empty).
    pub cubes: Vec<PathBuf>,
}

impl Reading {
    /// Reads and checks the configuration (or takes the defaults) and
    /// expands the input globs.
    pub fn resolve(src: &InputSources, env: &Environment, threads: usize) -> Result<Self> {
        let (config, codes, config_file) = match &src.config {
            Some(path) => {
                let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
                let text = std::str::from_utf8(&bytes)
                    .map_err(|_| Error::Config(format!("{}: is not UTF-8 text", path.display())))?;
                let (config, codes) = Config::parse(text, path)?;
                (config, codes, Some(ConfigProvenance::of(path, &bytes)))
            }
            None => {
                let config = Config::default();
                let codes = config.check()?;
                (config, codes, None)
            }
        };
        let plausible_dates = config.input.plausible_dates(env.today);
        let inputs = if src.cubes.is_empty() {
            stopaudit_io::scan::expand_inputs(&src.inputs)?
        } else {
            Vec::new()
        };
        Ok(Reading {
            inputs,
            cubes: src.cubes.clone(),
            config,
            codes,
            config_file,
            scope: src.scope.clone(),
            progress: !src.quiet,
            id_limits: env.id_limits,
            threads,
            plausible_dates,
        })
    }

    /// The scan's settings for a count plan.
    pub fn scan<'a>(&'a self, plan: &'a CountPlan) -> ScanSettings<'a> {
        ScanSettings {
            config: &self.config,
            codes: &self.codes,
            scope: &self.scope,
            plan,
            progress: self.progress,
            id_limits: self.id_limits,
            threads: self.threads,
            plausible_dates: self.plausible_dates,
        }
    }
}

/// The settings of an audit (`analyze`, `report`, `demo`): the reading with
/// its effective `[analysis]` settings checked, and the files they name.
#[derive(Debug)]
pub struct Audit {
    /// Inputs and configuration; `reading.config.analysis` is the run's
    /// effective analysis settings.
    pub reading: Reading,
    /// The population file, loaded, and its identity.
    pub population: Option<(Population, ConfigProvenance)>,
    /// The pseudonymisation key, when one is configured.
    pub pseudonym_key: Option<PseudonymKey>,
}

impl Audit {
    /// Resolves the reading, applies the overrides to `[analysis]`, checks
    /// the result and loads the population file and the key it names.
    pub fn resolve(
        src: &InputSources,
        overrides: &AnalysisOverrides,
        env: &Environment,
        threads: usize,
    ) -> Result<Self> {
        let mut reading = Reading::resolve(src, env, threads)?;
        // The file's own [analysis] was checked when it was read; the
        // command line's values are checked here, with it.
        if !overrides.is_empty() {
            let analysis = overrides.apply(reading.config.analysis.clone());
            analysis.check(&reading.codes)?;
            reading.config.analysis = analysis;
        }
        let analysis = &reading.config.analysis;
        let pseudonym_key = match PseudonymKey::resolve(
            analysis.pseudonym_key_file()?,
            env.pseudonym_key.clone(),
        ) {
            Ok(key) => Some(key),
            Err(KeyError::Missing) => None,
            Err(e) => return Err(Error::Config(e.to_string())),
        };
        let population = match &analysis.population {
            Some(path) => Some((Population::load(path)?, ConfigProvenance::of_file(path)?)),
            None => None,
        };
        Ok(Audit {
            reading,
            population,
            pseudonym_key,
        })
    }
}

impl Settings {
    /// Resolves the parsed command line against the configuration file and
    /// the environment. `command_line` is the quoted command, for reports.
    pub fn resolve(cli: Cli, env: &Environment, command_line: String) -> Result<Settings> {
        let threads_chosen = cli.threads.is_some();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        // More threads than a few per core only cost: 100,000 of them took
        // over a minute to start before any work.
        let most = MAX_THREADS_PER_CORE * cores;
        let mut threads_note = None;
        let threads = match cli.threads {
            Some(n) if n > most => {
                threads_note = Some(format!(
                    "--threads {n}: using {most} ({MAX_THREADS_PER_CORE} per core, {cores} cores)"
                ));
                most
            }
            Some(n) => n,
            None => cores,
        };
        let command = match cli.command {
            Command::Schema {
                example_config,
                format,
            } => Resolved::Schema(SchemaSettings {
                example_config,
                format: format.into(),
            }),
            Command::Validate {
                input,
                quarantine,
                format,
            } => Resolved::Validate(ValidateSettings {
                reading: Reading::resolve(&input.into(), env, threads)?,
                quarantine,
                format: format.into(),
            }),
            Command::Analyze {
                input,
                format,
                out,
                csv,
                quarantine,
                analysis,
            } => {
                let format = AnalyzeFormat::from(format);
                if format == AnalyzeFormat::Csv && out.is_none() {
                    return Err(Error::Usage(
                        "--format csv writes several files: give a folder with --out".into(),
                    ));
                }
                if quarantine.is_some() && !input.cube.is_empty() {
                    return Err(Error::Usage(
                        "--quarantine: a cube holds counts, not rows; write the quarantine file when counting (stopaudit count --quarantine)".into(),
                    ));
                }
                Resolved::Analyze(AnalyzeSettings {
                    audit: Audit::resolve(&input.into(), &(&analysis).into(), env, threads)?,
                    format,
                    out,
                    csv: csv.into(),
                    quarantine,
                    fail_on: analysis.fail_on,
                })
            }
            Command::Ask {
                input,
                group,
                reference,
                within,
                measure,
                lang,
                format,
                analysis,
            } => {
                let question = stopaudit_core::question::Question::parse(
                    &group,
                    within.as_deref(),
                    measure.into(),
                )?;
                let mut audit = Audit::resolve(&input.into(), &(&analysis).into(), env, threads)?;
                if let Some(r) = reference {
                    audit
                        .reading
                        .config
                        .groups
                        .reference
                        .insert(question.attribute.clone(), r);
                }
                Resolved::Ask(AskSettings {
                    audit,
                    question,
                    lang: lang.into(),
                    format: format.into(),
                })
            }
            Command::Report {
                input,
                out,
                lang,
                format,
                as_of,
                csv,
                analysis,
            } => {
                if format.is_empty() {
                    return Err(Error::Usage(
                        "--format: name at least one of html, md, csv".into(),
                    ));
                }
                let formats: Vec<ReportFormat> =
                    format.into_iter().map(ReportFormat::from).collect();
                // Found before any data is read: a run that cannot print
                // its PDF stops at once.
                let browser = if formats.contains(&ReportFormat::Pdf) {
                    Some(crate::pdf::find_browser(
                        env.browser.as_ref(),
                        env.path.as_ref(),
                    )?)
                } else {
                    None
                };
                let lang: stopaudit_core::i18n::Lang = lang.into();
                Resolved::Report(ReportSettings {
                    audit: Audit::resolve(&input.into(), &(&analysis).into(), env, threads)?,
                    output: ReportOutput {
                        out,
                        lang,
                        csv: csv.map_or_else(|| CsvDialect::for_lang(lang), CsvDialect::from),
                        formats,
                        as_of,
                        command: command_line,
                        browser,
                    },
                    fail_on: analysis.fail_on,
                })
            }
            Command::Count {
                input,
                out,
                engine,
                emit,
                like,
                years,
                sun_area,
                quarantine,
                plan,
            } => {
                let overrides = AnalysisOverrides {
                    strata_by: plan.by,
                    population: plan.population,
                    threshold_test: plan.threshold_test,
                    ..AnalysisOverrides::default()
                };
                let target = match (engine, out, emit) {
                    (crate::cli::EngineArg::Native, Some(out), None) => {
                        if like.is_some() || years.is_some() || sun_area.is_some() {
                            return Err(Error::Usage(
                                "--like, --years and --sun-area are for --engine spark".into(),
                            ));
                        }
                        crate::commands::count::Target::Cube(out)
                    }
                    (crate::cli::EngineArg::Spark, None, Some(dir)) => {
                        if quarantine.is_some() {
                            return Err(Error::Usage(
                                "--quarantine is for counting natively: the Spark job counts quarantined rows per reason in the cluster".into(),
                            ));
                        }
                        crate::commands::count::Target::Spark(crate::commands::count::SparkTarget {
                            dir,
                            like,
                            years: years
                                .as_deref()
                                .map(crate::commands::count::parse_years)
                                .transpose()?,
                            sun_area: sun_area
                                .as_deref()
                                .map(crate::commands::count::parse_sun_area)
                                .transpose()?
                                .unwrap_or_default(),
                        })
                    }
                    (crate::cli::EngineArg::Native, _, Some(_)) => {
                        return Err(Error::Usage(
                            "--emit writes a Spark job: add --engine spark (or count here with --out DIR)".into(),
                        ));
                    }
                    _ => {
                        return Err(Error::Usage(
                            "--engine spark writes a job: give --emit DIR (not --out)".into(),
                        ));
                    }
                };
                Resolved::Count(crate::commands::count::CountSettings {
                    audit: Audit::resolve(&input.into(), &overrides, env, threads)?,
                    target,
                    quarantine,
                })
            }
            Command::Generate {
                rows,
                seed,
                out,
                format,
                bias,
                truth,
                dirty,
                start,
                days,
                quiet,
            } => Resolved::Generate(GenerateSettings {
                rows,
                seed,
                out,
                format: format.into(),
                bias,
                truth,
                dirty,
                start,
                days,
                quiet,
                threads,
            }),
            Command::ThresholdTest {
                counts,
                columns,
                reference,
                filters,
                chains,
                warmup,
                draws,
                seed,
                target_accept,
                confidence,
                format,
                out,
            } => Resolved::ThresholdTest(ThresholdTestSettings {
                input: counts,
                columns: columns.into(),
                reference,
                filters,
                fit: FitSettings {
                    chains,
                    warmup,
                    draws,
                    seed,
                    target_accept,
                    interval: confidence,
                    ..FitSettings::default()
                },
                format: format.into(),
                out,
            }),
            Command::Demo { out, quiet, lang } => {
                let sample = InputSources {
                    inputs: vec![bundled(demo::SAMPLE)],
                    config: Some(bundled(demo::SAMPLE_CONFIG)),
                    quiet,
                    scope: Scope::default(),
                    cubes: Vec::new(),
                };
                let lang: stopaudit_core::i18n::Lang = lang.into();
                // Each language its own folder: the Dutch demo never
                // overwrites the English one.
                let out = out.unwrap_or_else(|| match lang {
                    stopaudit_core::i18n::Lang::En => PathBuf::from("reports/demo"),
                    other => PathBuf::from(format!("reports/demo-{}", other.code())),
                });
                Resolved::Demo(DemoSettings {
                    audit: Audit::resolve(&sample, &AnalysisOverrides::default(), env, threads)?,
                    out,
                    lang,
                    // A PDF when a browser is at hand (the demo runs
                    // without); a browser named but missing is an error.
                    browser: match crate::pdf::find_browser(env.browser.as_ref(), env.path.as_ref())
                    {
                        Ok(b) => Some(b),
                        Err(e) if env.browser.is_some() => return Err(e),
                        Err(_) => None,
                    },
                })
            }
        };
        refuse_outputs_onto_inputs(&command)?;
        Ok(Settings {
            threads,
            threads_chosen,
            threads_note,
            command,
        })
    }
}

/// `--threads` above this many per core is lowered to it.
pub const MAX_THREADS_PER_CORE: usize = 8;

/// Refuses a run whose output would replace one of its inputs: an output
/// file that is (or resolves to, through links) an input, or an output
/// folder that holds one (`analyze in.csv --out in.csv` replaced the export).
fn refuse_outputs_onto_inputs(command: &Resolved) -> Result<()> {
    let (inputs, files, folders): (Vec<&Path>, Vec<&Path>, Vec<&Path>) = match command {
        Resolved::Validate(v) => (
            paths(&v.reading.inputs),
            v.quarantine.iter().map(PathBuf::as_path).collect(),
            vec![],
        ),
        Resolved::Analyze(a) => {
            let out = a.out.as_deref();
            let (file, folder) = if a.format == AnalyzeFormat::Csv {
                (None, out)
            } else {
                (out, None)
            };
            (
                paths(&a.audit.reading.inputs),
                a.quarantine.as_deref().into_iter().chain(file).collect(),
                folder.into_iter().collect(),
            )
        }
        Resolved::Report(r) => (
            paths(&r.audit.reading.inputs),
            vec![],
            vec![r.output.out.as_path()],
        ),
        Resolved::Count(c) => (
            paths(&c.audit.reading.inputs),
            c.quarantine.iter().map(PathBuf::as_path).collect(),
            vec![c.target.folder()],
        ),
        Resolved::Demo(d) => (
            paths(&d.audit.reading.inputs),
            vec![],
            vec![d.out.as_path()],
        ),
        Resolved::ThresholdTest(t) => (
            vec![t.input.as_path()],
            t.out.as_deref().into_iter().collect(),
            vec![],
        ),
        _ => return Ok(()),
    };
    let inputs: Vec<(PathBuf, PathBuf)> = inputs
        .iter()
        .filter_map(|p| Some((p.to_path_buf(), std::fs::canonicalize(p).ok()?)))
        .collect();
    for out in files {
        let Some(resolved) = resolve_output(out) else {
            continue;
        };
        if let Some((input, _)) = inputs.iter().find(|(_, i)| *i == resolved) {
            let via = if input == out {
                String::new()
            } else {
                format!(" ({})", input.display())
            };
            return Err(Error::Usage(format!(
                "{} is an input of this run{via}: writing the output there would replace it; choose another output path",
                out.display(),
            )));
        }
    }
    for folder in folders {
        let Some(resolved) = resolve_output(folder) else {
            continue;
        };
        if let Some((input, _)) = inputs.iter().find(|(_, i)| i.starts_with(&resolved)) {
            return Err(Error::Usage(format!(
                "the output folder {} holds an input of this run ({}): write the output to a folder of its own",
                folder.display(),
                input.display()
            )));
        }
    }
    Ok(())
}

/// Borrowed paths.
fn paths(list: &[PathBuf]) -> Vec<&Path> {
    list.iter().map(PathBuf::as_path).collect()
}

/// Where an output path resolves to: itself if it exists, else its nearest
/// existing ancestor resolved with the rest appended; `None` if nothing of
/// it resolves.
fn resolve_output(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(p);
    }
    let absolute = std::path::absolute(path).ok()?;
    let mut rest = Vec::new();
    let mut at = absolute.as_path();
    loop {
        if let Ok(p) = std::fs::canonicalize(at) {
            return Some(rest.iter().rev().fold(p, |p, part| p.join(part)));
        }
        rest.push(at.file_name()?.to_os_string());
        at = at.parent()?;
    }
}

/// Finds a bundled file from the working directory, else from the source tree.
fn bundled(rel: &str) -> PathBuf {
    let here = PathBuf::from(rel);
    if here.exists() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

impl From<cli::InputArgs> for InputSources {
    fn from(a: cli::InputArgs) -> Self {
        InputSources {
            inputs: a.inputs,
            ..a.common.into()
        }
    }
}

impl From<cli::AuditInputArgs> for InputSources {
    fn from(a: cli::AuditInputArgs) -> Self {
        InputSources {
            inputs: a.inputs,
            cubes: a.cube,
            ..a.common.into()
        }
    }
}

impl From<cli::CommonInputArgs> for InputSources {
    fn from(a: cli::CommonInputArgs) -> Self {
        InputSources {
            inputs: Vec::new(),
            config: a.config,
            quiet: a.quiet,
            scope: Scope {
                period: a.period,
                filters: a.filters,
            },
            cubes: Vec::new(),
        }
    }
}

impl From<cli::TextFormat> for TextOrJson {
    fn from(f: cli::TextFormat) -> Self {
        match f {
            cli::TextFormat::Text => TextOrJson::Text,
            cli::TextFormat::Json => TextOrJson::Json,
        }
    }
}

impl From<AnalyzeFormatArg> for AnalyzeFormat {
    fn from(f: AnalyzeFormatArg) -> Self {
        match f {
            AnalyzeFormatArg::Table => AnalyzeFormat::Table,
            AnalyzeFormatArg::Json => AnalyzeFormat::Json,
            AnalyzeFormatArg::Csv => AnalyzeFormat::Csv,
        }
    }
}

impl From<cli::CsvArg> for CsvDialect {
    fn from(c: cli::CsvArg) -> Self {
        match c {
            cli::CsvArg::Machine => CsvDialect::Machine,
            cli::CsvArg::ExcelNl => CsvDialect::ExcelNl,
        }
    }
}

impl From<ReportFormatArg> for ReportFormat {
    fn from(f: ReportFormatArg) -> Self {
        match f {
            ReportFormatArg::Html => ReportFormat::Html,
            ReportFormatArg::Md => ReportFormat::Md,
            ReportFormatArg::Csv => ReportFormat::Csv,
            ReportFormatArg::Png => ReportFormat::Png,
            ReportFormatArg::Svg => ReportFormat::Svg,
            ReportFormatArg::Pdf => ReportFormat::Pdf,
        }
    }
}

impl From<GenFormatArg> for GenFormat {
    fn from(f: GenFormatArg) -> Self {
        match f {
            GenFormatArg::Csv => GenFormat::Csv,
            GenFormatArg::Parquet => GenFormat::Parquet,
            GenFormatArg::Ipc => GenFormat::Ipc,
        }
    }
}

impl From<cli::MeasureArg> for stopaudit_core::question::Measure {
    fn from(m: cli::MeasureArg) -> Self {
        use stopaudit_core::question::Measure;
        match m {
            cli::MeasureArg::Outcome => Measure::Outcome,
            cli::MeasureArg::Weak => Measure::Weak,
            cli::MeasureArg::Search => Measure::Search,
            cli::MeasureArg::Find => Measure::Find,
        }
    }
}

impl From<LangArg> for Lang {
    fn from(l: LangArg) -> Self {
        match l {
            LangArg::En => Lang::En,
            LangArg::Nl => Lang::Nl,
        }
    }
}

impl From<&cli::AnalysisArgs> for AnalysisOverrides {
    fn from(a: &cli::AnalysisArgs) -> Self {
        AnalysisOverrides {
            strata_by: a.plan.by.clone(),
            min_cell: a.min_cell,
            population: a.plan.population.clone(),
            confidence: a.confidence,
            fdr: a.fdr,
            threshold_test: a.plan.threshold_test.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_gives_the_limits_and_the_key_or_the_defaults() {
        let none = Environment::read(|_| None).unwrap();
        assert_eq!(none.id_limits, IdLimits::default());
        assert!(none.pseudonym_key.is_none());
        let set = Environment::read(|name| match name {
            "STOPAUDIT_ID_MEMORY" => Some("100".into()),
            "STOPAUDIT_CHECK_IDS" => Some("50".into()),
            pseudonym::KEY_VARIABLE => Some("k".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            (set.id_limits.in_memory, set.id_limits.checked_at_once),
            (100, 50)
        );
        assert_eq!(set.pseudonym_key.as_deref(), Some("k".as_ref()));
        let bad = Environment::read(|name| (name == "STOPAUDIT_CHECK_IDS").then(|| "0".into()));
        let err = bad.unwrap_err().to_string();
        assert!(err.contains("STOPAUDIT_CHECK_IDS=0"), "{err}");
    }

    #[test]
    fn overrides_are_checked_with_the_file_and_the_file_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("c.toml");
        std::fs::write(&config, "[analysis]\nconfidence = 0.9\n").unwrap();
        let src = InputSources {
            inputs: vec![config.clone()],
            config: Some(config.clone()),
            ..InputSources::default()
        };
        let env = Environment::default();
        let plain = Audit::resolve(&src, &AnalysisOverrides::default(), &env, 1).unwrap();
        assert_eq!(plain.reading.config.analysis.confidence, 0.9);
        let file = plain.reading.config_file.as_ref().unwrap();
        assert_eq!(
            file.sha256,
            stopaudit_core::accounting::sha256_file(&config).unwrap()
        );
        let over = AnalysisOverrides {
            fdr: Some(0.1),
            ..AnalysisOverrides::default()
        };
        let both = Audit::resolve(&src, &over, &env, 1).unwrap();
        assert_eq!(both.reading.config.analysis.confidence, 0.9);
        assert_eq!(both.reading.config.analysis.fdr, 0.1);
        let bad = AnalysisOverrides {
            fdr: Some(1.5),
            ..AnalysisOverrides::default()
        };
        let err = Audit::resolve(&src, &bad, &env, 1).unwrap_err();
        assert!(err.to_string().contains("FDR level 1.5"), "{err}");
    }
}
