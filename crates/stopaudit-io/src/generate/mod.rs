//! Synthetic ProCo-style stop registrations with known, planted bias.
//!
//! Rows are generated in chunks of [`CHUNK_ROWS`]; chunk `k` draws from its
//! own random stream (ChaCha8 seeded with the seed, stream `k`), so the output
//! is the same for a seed whatever the number of threads, and chunks can be
//! made in parallel and written in order with bounded memory.
//!
//! CSV output looks like a Dutch export (semicolons, Dutch column names and
//! labels, `dd-mm-jjjj` dates, decimal commas, UTF-8 with BOM, CRLF);
//! Parquet and IPC output use the canonical names and codes with typed
//! columns: text as dictionary columns in Parquet, as plain strings in IPC
//! (whose files allow one dictionary per column, while a chunk's values are
//! known only when it is made). Parquet row groups are encoded and
//! compressed on the worker threads ([`parquet_out`]).
//!
//! `--dirty RATE` spoils that share of rows in known ways, each caught by
//! exactly one quarantine reason, and the truth manifest counts them, so
//! tests can check the accounting exactly.

mod bias;
mod parquet_out;
mod world;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Timelike, Weekday};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::datetime::resolve_local;
use crate::quarantine::Reason;
pub use bias::{BiasProfile, Effect};
use stopaudit_core::codes::CodeLists;
use stopaudit_core::config::NonexistentTime;
use stopaudit_core::error::{Error, Result};
use stopaudit_core::output::AtomicFile;
use world::{ATTRIBUTES, UNITS, code};

/// Rows per chunk (the unit of parallel work and of random streams).
pub(crate) const CHUNK_ROWS: u64 = 1 << 16;

/// Output format of the generator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GenFormat {
    #[default]
    Csv,
    Parquet,
    Ipc,
}

/// Settings of `stopaudit generate`.
#[derive(Debug, Clone)]
pub struct GenerateSettings {
    pub rows: u64,
    pub seed: u64,
    pub out: PathBuf,
    pub format: GenFormat,
    /// `none`, a built-in profile name or a TOML file.
    pub bias: String,
    pub truth: Option<PathBuf>,
    /// Share of rows spoilt on purpose (0 to 0.5).
    pub dirty: f64,
    /// First day of the period.
    pub start: NaiveDate,
    /// Length of the period in days.
    pub days: u32,
    pub quiet: bool,
    /// Worker threads: rows are made in chunks, at most twice this many
    /// (and one) in flight at once.
    pub threads: usize,
}

impl Default for GenerateSettings {
    fn default() -> Self {
        GenerateSettings {
            rows: 10_000,
            seed: 1,
            out: PathBuf::from("stops.csv"),
            format: GenFormat::Csv,
            bias: "none".into(),
            truth: None,
            dirty: 0.0,
            start: NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid date"),
            days: 365,
            quiet: false,
            threads: 1,
        }
    }
}

/// What the generator planted, written as the truth manifest.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Truth {
    pub generator: String,
    pub seed: u64,
    pub rows: u64,
    pub format: GenFormat,
    /// The period the stops fall in (inclusive), before spoiling.
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub profile: BiasProfile,
    /// Per effect (same order as `profile.effects`): rows it touched.
    pub planted: Vec<PlantedEffect>,
    pub dirty_rate: f64,
    /// Spoilt rows by the quarantine reason that must catch them.
    /// `outside_period` rows are caught only when the reader is given the period.
    pub dirty_rows: BTreeMap<Reason, u64>,
    /// Rows that should be analysed (rows minus every spoilt row).
    pub clean_rows: u64,
}

/// Rows affected by one effect.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PlantedEffect {
    pub kind: &'static str,
    /// Extra stops (lower_stop_threshold) or extra searches (lower_search_threshold).
    pub rows: u64,
    /// Of those, the rows also spoilt (and so quarantined).
    pub rows_spoilt: u64,
}

/// The ways a row can be spoilt: one per quarantine reason, for the formats that can express it.
fn spoils(format: GenFormat) -> &'static [Reason] {
    match format {
        // Implausible dates are left out: adding them would change every
        // dirty file a seed made before.
        GenFormat::Csv => &[
            Reason::MalformedLine,
            Reason::MissingRequired,
            Reason::InvalidDatetime,
            Reason::UnknownCategory,
            Reason::InvalidValue,
            Reason::ContrabandWithoutSearch,
            Reason::OutsidePeriod,
            Reason::DuplicateStopId,
        ],
        // Typed columns cannot hold a malformed line or an unreadable time.
        _ => &[
            Reason::MissingRequired,
            Reason::UnknownCategory,
            Reason::InvalidValue,
            Reason::ContrabandWithoutSearch,
            Reason::OutsidePeriod,
            Reason::DuplicateStopId,
        ],
    }
}

/// One generated stop, in codes.
#[derive(Debug, Clone)]
struct GenRow {
    index: u64,
    local: NaiveDateTime,
    unit: u8,
    muni: u8,
    basisteam: u8,
    officer: u8,
    team: u8,
    lat: f64,
    lon: f64,
    subject: u8,
    legal: u8,
    justification: u8,
    outcome: u8,
    searched: bool,
    contraband: bool,
    /// 0 yes, 1 no, 2 not registered.
    explained: u8,
    /// Per attribute: group index, or `groups.len()` for "not registered".
    groups: [u8; 3],
    /// The quarantine reason this row was spoilt to trigger.
    spoil: Option<Reason>,
    /// Id of the row this one duplicates.
    duplicate_of: Option<u64>,
    /// Effects that made this row a planted extra stop / extra search.
    planted_stop: Option<usize>,
    planted_search: Option<usize>,
}

/// A categorical distribution sampled by inverse CDF.
#[derive(Debug, Clone)]
struct Sampler {
    cumulative: Vec<f64>,
}

impl Sampler {
    fn new(weights: &[f64]) -> Self {
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cumulative = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Sampler { cumulative }
    }

    fn sample(&self, rng: &mut ChaCha8Rng) -> usize {
        let u: f64 = rng.random();
        self.cumulative
            .partition_point(|&c| c <= u)
            .min(self.cumulative.len() - 1)
    }
}

struct StopEffect {
    effect: usize,
    attribute: usize,
    group: u8,
    /// Probability that a stop of the group (in the unit) is a planted extra stop.
    planted_share: f64,
    justification: u8,
    hit_rate_factor: f64,
}

/// A group's extra daylight stops in one unit.
struct DaylightEffect {
    effect: usize,
    attribute: usize,
    group: u8,
    /// Share of the group's daylight stops that are planted extras.
    planted_share: f64,
}

struct SearchEffect {
    effect: usize,
    attribute: usize,
    group: u8,
    search_rate_factor: f64,
    contraband_rate_factor: f64,
}

/// Everything needed to draw rows, built once.
struct Model {
    units: Sampler,
    munis: Vec<Sampler>,
    basisteams: Vec<Vec<u8>>,
    /// [unit][attribute]
    groups: Vec<Vec<Sampler>>,
    stop_effects: Vec<Vec<StopEffect>>,
    search_effects: Vec<Vec<SearchEffect>>,
    daylight_effects: Vec<Vec<DaylightEffect>>,
    /// [unit][attribute]: group samplers in daylight, with the daylight
    /// effects' groups weighted up (a copy of `groups` without them).
    daylight_groups: Vec<Vec<Sampler>>,
    /// [unit][municipality][day]: local sunset, minutes after midnight
    /// (empty without daylight effects).
    sunsets: Vec<Vec<Vec<u16>>>,
    days: Sampler,
    hours: Sampler,
    subjects: Sampler,
    justifications: Vec<Sampler>,
    /// [unit][subject]
    legal: Vec<Vec<Sampler>>,
    /// Per day of the period: its date, and whether the clocks go forward
    /// that night (made once; each row looks its day up).
    dates: Vec<(NaiveDate, bool)>,
    spring_forward: Vec<NaiveDate>,
    spoils: &'static [Reason],
    dirty: f64,
}

impl Model {
    fn new(settings: &GenerateSettings, profile: &BiasProfile) -> Self {
        let units = Sampler::new(&UNITS.iter().map(|u| u.weight).collect::<Vec<_>>());
        let munis = UNITS
            .iter()
            .map(|u| {
                Sampler::new(
                    &u.municipalities
                        .iter()
                        .map(|m| m.weight)
                        .collect::<Vec<_>>(),
                )
            })
            .collect();
        let basisteams = UNITS
            .iter()
            .map(|u| {
                u.municipalities
                    .iter()
                    .map(|m| if m.weight >= 0.5 { 4 } else { 2 })
                    .collect()
            })
            .collect();
        let mut stop_effects: Vec<Vec<StopEffect>> = UNITS.iter().map(|_| Vec::new()).collect();
        let mut search_effects: Vec<Vec<SearchEffect>> = UNITS.iter().map(|_| Vec::new()).collect();
        let mut daylight_effects: Vec<Vec<DaylightEffect>> =
            UNITS.iter().map(|_| Vec::new()).collect();
        let justification_codes = stopaudit_core::codes::CodeList::justification();
        // Attribute and group indices of an effect's target (names checked when the profile was loaded).
        let target = |attribute: &str, group: &str| {
            let a = ATTRIBUTES
                .iter()
                .position(|x| x.name == attribute)
                .expect("checked");
            let g = ATTRIBUTES[a]
                .groups
                .iter()
                .position(|x| *x == group)
                .expect("checked") as u8;
            (a, g)
        };
        let applies = |units: &[String], unit: &world::Unit| {
            units.is_empty() || units.iter().any(|x| x == unit.name)
        };
        for (e, effect) in profile.effects.iter().enumerate() {
            for (u, unit) in UNITS.iter().enumerate() {
                match effect {
                    Effect::LowerStopThreshold {
                        attribute,
                        group,
                        units,
                        justification,
                        extra_stop_share,
                        hit_rate_factor,
                    } if applies(units, unit) => {
                        let (attribute, group) = target(attribute, group);
                        stop_effects[u].push(StopEffect {
                            effect: e,
                            attribute,
                            group,
                            planted_share: extra_stop_share / (1.0 + extra_stop_share),
                            justification: justification_codes
                                .index_of(justification)
                                .expect("checked"),
                            hit_rate_factor: *hit_rate_factor,
                        });
                    }
                    Effect::LowerSearchThreshold {
                        attribute,
                        group,
                        units,
                        search_rate_factor,
                        contraband_rate_factor,
                    } if applies(units, unit) => {
                        let (attribute, group) = target(attribute, group);
                        search_effects[u].push(SearchEffect {
                            effect: e,
                            attribute,
                            group,
                            search_rate_factor: *search_rate_factor,
                            contraband_rate_factor: *contraband_rate_factor,
                        });
                    }
                    Effect::DaylightVisibility {
                        attribute,
                        group,
                        units,
                        extra_daylight_share,
                    } if applies(units, unit) => {
                        let (attribute, group) = target(attribute, group);
                        daylight_effects[u].push(DaylightEffect {
                            effect: e,
                            attribute,
                            group,
                            planted_share: extra_daylight_share / (1.0 + extra_daylight_share),
                        });
                    }
                    _ => {}
                }
            }
        }
        let group_samplers = |daylight: bool| -> Vec<Vec<Sampler>> {
            UNITS
                .iter()
                .enumerate()
                .map(|(u, unit)| {
                    ATTRIBUTES
                        .iter()
                        .enumerate()
                        .map(|(a, attr)| {
                            let mut w: Vec<f64> = attr
                                .weights
                                .iter()
                                .map(|w| w * (1.0 - attr.missing))
                                .collect();
                            if a == world::NATIONALITY {
                                for (wi, m) in
                                    w.iter_mut().zip(world::nationality_multipliers(unit))
                                {
                                    *wi *= m;
                                }
                                // Keep the missing share fixed after reweighting.
                                let s: f64 = w.iter().sum();
                                for wi in &mut w {
                                    *wi *= (1.0 - attr.missing) / s;
                                }
                            }
                            for eff in stop_effects[u].iter().filter(|s| s.attribute == a) {
                                w[eff.group as usize] /= 1.0 - eff.planted_share;
                            }
                            if daylight {
                                for eff in daylight_effects[u].iter().filter(|s| s.attribute == a) {
                                    w[eff.group as usize] /= 1.0 - eff.planted_share;
                                }
                            }
                            w.push(attr.missing);
                            Sampler::new(&w)
                        })
                        .collect()
                })
                .collect()
        };
        let groups = group_samplers(false);
        let daylight_groups = if daylight_effects.iter().any(|e| !e.is_empty()) {
            group_samplers(true)
        } else {
            Vec::new()
        };
        let day_weights: Vec<f64> = (0..settings.days)
            .map(|d| {
                let date = settings.start + Duration::days(d.into());
                world::MONTH_WEIGHTS[date.month0() as usize]
                    * world::WEEKDAY_WEIGHTS[date.weekday().num_days_from_monday() as usize]
            })
            .collect();
        let years =
            settings.start.year()..=(settings.start + Duration::days(settings.days.into())).year();
        let spring_forward: Vec<NaiveDate> = years.map(last_sunday_of_march).collect();
        let sunsets = if daylight_groups.is_empty() {
            Vec::new()
        } else {
            UNITS
                .iter()
                .map(|u| {
                    u.municipalities
                        .iter()
                        .map(|m| {
                            (0..settings.days)
                                .map(|d| local_sunset(settings.start + Duration::days(d.into()), m))
                                .collect()
                        })
                        .collect()
                })
                .collect()
        };
        Model {
            units,
            munis,
            basisteams,
            groups,
            stop_effects,
            search_effects,
            daylight_effects,
            daylight_groups,
            sunsets,
            days: Sampler::new(&day_weights),
            hours: Sampler::new(&world::HOUR_WEIGHTS),
            subjects: Sampler::new(&world::SUBJECT_WEIGHTS),
            justifications: (0..4u8)
                .map(|s| Sampler::new(&world::justification_weights(s)))
                .collect(),
            legal: UNITS
                .iter()
                .map(|u| {
                    (0..4u8)
                        .map(|s| Sampler::new(&world::legal_basis_weights(s, u)))
                        .collect()
                })
                .collect(),
            dates: (0..settings.days)
                .map(|d| {
                    let date = settings.start + Duration::days(d.into());
                    (date, spring_forward.contains(&date))
                })
                .collect(),
            spring_forward,
            spoils: spoils(settings.format),
            dirty: settings.dirty,
        }
    }

    /// Draws chunk `k` (rows `first..first + n`).
    fn chunk(&self, seed: u64, k: u64, first: u64, n: u64, counters: &mut Counters) -> Vec<GenRow> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(k);
        let mut rows: Vec<GenRow> = Vec::with_capacity(n as usize);
        for i in 0..n {
            let mut row = self.row(&mut rng, first + i, counters);
            if self.dirty > 0.0 && rng.random::<f64>() < self.dirty {
                let mut spoil = self.spoils[rng.random_range(0..self.spoils.len())];
                if spoil == Reason::DuplicateStopId {
                    match rows.last() {
                        Some(prev) if prev.spoil.is_none() => row.duplicate_of = Some(prev.index),
                        // A duplicate needs a clean row before it: spoil another way.
                        _ => spoil = Reason::MissingRequired,
                    }
                }
                if spoil == Reason::InvalidDatetime && rng.random_bool(0.5) {
                    // A time in the hour skipped when the clocks go forward.
                    let day = self.spring_forward[rng.random_range(0..self.spring_forward.len())];
                    row.local = day.and_time(
                        NaiveTime::from_hms_opt(2, rng.random_range(0..60), 0).expect("valid"),
                    );
                }
                if spoil == Reason::OutsidePeriod {
                    // Moved a year back at noon, so the shifted time can never fall in a clock gap.
                    row.local = row.local.date().and_time(
                        NaiveTime::from_hms_opt(12, rng.random_range(0..60), 0).expect("valid"),
                    );
                }
                row.spoil = Some(spoil);
                *counters.dirty.entry(spoil).or_default() += 1;
            }
            rows.push(row);
        }
        for row in rows.iter().filter(|r| r.spoil.is_some()) {
            for e in [row.planted_stop, row.planted_search].into_iter().flatten() {
                counters.planted_spoilt[e] += 1;
            }
        }
        rows
    }

    fn row(&self, rng: &mut ChaCha8Rng, index: u64, counters: &mut Counters) -> GenRow {
        let unit = self.units.sample(rng);
        let muni = self.munis[unit].sample(rng);
        let basisteam = rng.random_range(0..self.basisteams[unit][muni]);
        let officer = rng.random_range(0..world::OFFICERS_PER_TEAM) as u8;
        let team = rng.random_range(0..world::TEAMS.len()) as u8;
        let day = self.days.sample(rng) as i64;
        let mut hour = self.hours.sample(rng) as u32;
        let minute = rng.random_range(0..60u32);
        let (date, clocks_forward) = self.dates[day as usize];
        if clocks_forward && hour == 2 {
            hour = 3;
        }
        let local = date.and_time(NaiveTime::from_hms_opt(hour, minute, 0).expect("valid time"));
        let m = &UNITS[unit].municipalities[muni];
        let jitter = |rng: &mut ChaCha8Rng| {
            (rng.random::<f64>() + rng.random::<f64>() + rng.random::<f64>() - 1.5) * 0.03
        };
        let lat = m.lat + jitter(rng);
        let lon = m.lon + jitter(rng) * 1.6;

        let mut groups = [0u8; 3];
        let mut planted: Option<&StopEffect> = None;
        let minute_of_day = hour * 60 + minute;
        let in_daylight = !self.daylight_effects[unit].is_empty()
            && minute_of_day >= 12 * 60
            && minute_of_day < u32::from(self.sunsets[unit][muni][day as usize]);
        let samplers = if in_daylight {
            &self.daylight_groups[unit]
        } else {
            &self.groups[unit]
        };
        for (a, sampler) in samplers.iter().enumerate() {
            groups[a] = sampler.sample(rng) as u8;
        }
        if in_daylight {
            for eff in &self.daylight_effects[unit] {
                if groups[eff.attribute] == eff.group && rng.random::<f64>() < eff.planted_share {
                    counters.planted[eff.effect] += 1;
                }
            }
        }
        for eff in &self.stop_effects[unit] {
            if planted.is_none()
                && groups[eff.attribute] == eff.group
                && rng.random::<f64>() < eff.planted_share
            {
                planted = Some(eff);
            }
        }
        let subject = self.subjects.sample(rng) as u8;
        let legal = self.legal[unit][subject as usize].sample(rng) as u8;
        let justification = match planted {
            Some(eff) => eff.justification,
            None => self.justifications[subject as usize].sample(rng) as u8,
        };

        let mut p_search = world::SEARCH_PROBABILITY[justification as usize]
            * if subject == code::PERSON { 1.0 } else { 0.5 };
        let mut p_contraband = world::CONTRABAND_PROBABILITY;
        let u_search: f64 = rng.random();
        let mut extra_search: Option<usize> = None;
        for eff in &self.search_effects[unit] {
            if groups[eff.attribute] == eff.group {
                let raised = (p_search * eff.search_rate_factor).min(1.0);
                if u_search >= p_search && u_search < raised {
                    extra_search = Some(eff.effect);
                    p_contraband *= eff.contraband_rate_factor;
                }
                p_search = raised;
                break;
            }
        }
        let searched = u_search < p_search;
        let contraband = searched && rng.random::<f64>() < p_contraband;

        let mut p_hit = world::HIT_PROBABILITY[justification as usize];
        if let Some(eff) = planted {
            p_hit *= eff.hit_rate_factor;
        }
        if contraband {
            p_hit = 0.85;
        }
        let hit = rng.random::<f64>() < p_hit;
        let outcome = if hit {
            let w: &[f64] = if contraband {
                &[0.2, 0.5, 0.3]
            } else {
                &[0.62, 0.28, 0.10]
            };
            [code::FINE, code::REPORT, code::ARREST][pick(rng, w)]
        } else {
            [code::NO_ACTION, code::WARNING, code::OTHER_OUTCOME][pick(rng, &[0.70, 0.27, 0.03])]
        };
        let explained = pick(rng, &[0.86, 0.09, 0.05]) as u8;
        if let Some(eff) = planted {
            counters.planted[eff.effect] += 1;
        }
        if let Some(e) = extra_search {
            counters.planted[e] += 1;
        }
        GenRow {
            index,
            local,
            unit: unit as u8,
            muni: muni as u8,
            basisteam,
            officer,
            team,
            lat,
            lon,
            subject,
            legal,
            justification,
            outcome,
            searched,
            contraband,
            explained,
            groups,
            spoil: None,
            duplicate_of: None,
            planted_stop: planted.map(|p| p.effect),
            planted_search: extra_search,
        }
    }
}

fn pick(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let u: f64 = rng.random();
    let mut acc = 0.0;
    for (i, w) in weights.iter().enumerate() {
        acc += w;
        if u < acc {
            return i;
        }
    }
    weights.len() - 1
}

/// Local (Europe/Amsterdam) sunset at a municipality, minutes after midnight.
fn local_sunset(date: NaiveDate, m: &world::Municipality) -> u16 {
    use chrono::{Offset, TimeZone};
    let utc =
        stopaudit_core::sun::sunset(date, m.lat, m.lon).expect("the sun sets in the Netherlands");
    let offset = chrono_tz::Europe::Amsterdam
        .offset_from_utc_datetime(&utc.naive_utc())
        .fix();
    let local = utc.with_timezone(&offset);
    (local.hour() * 60 + local.minute()) as u16
}

fn last_sunday_of_march(year: i32) -> NaiveDate {
    let mut d = NaiveDate::from_ymd_opt(year, 3, 31).expect("valid date");
    while d.weekday() != Weekday::Sun {
        d = d.pred_opt().expect("valid date");
    }
    d
}

/// Per-chunk tallies, summed into the truth manifest.
#[derive(Debug, Default, Clone)]
struct Counters {
    planted: Vec<u64>,
    planted_spoilt: Vec<u64>,
    dirty: BTreeMap<Reason, u64>,
}

impl Counters {
    fn new(effects: usize) -> Self {
        Counters {
            planted: vec![0; effects],
            planted_spoilt: vec![0; effects],
            ..Default::default()
        }
    }

    fn add(&mut self, other: &Counters) {
        for (a, b) in self.planted.iter_mut().zip(&other.planted) {
            *a += b;
        }
        for (a, b) in self.planted_spoilt.iter_mut().zip(&other.planted_spoilt) {
            *a += b;
        }
        for (r, n) in &other.dirty {
            *self.dirty.entry(*r).or_default() += n;
        }
    }
}

/// Stop ids (`R` and the 1-based row number in at least nine digits),
/// written into a buffer of its own without formatting machinery: the
/// generator makes one per row.
#[derive(Default)]
struct StopId(String);

impl StopId {
    /// The stop id of row `index`.
    fn of(&mut self, index: u64) -> &str {
        let number = index + 1;
        let digits = (number.checked_ilog10().unwrap_or(0) + 1).max(9);
        self.0.clear();
        self.0.push('R');
        for place in (0..digits).rev() {
            let digit = (number / 10u64.pow(place) % 10) as u8;
            self.0.push(char::from(b'0' + digit));
        }
        &self.0
    }
}

fn district(row: &GenRow) -> String {
    format!(
        "District {}",
        UNITS[row.unit as usize].municipalities[row.muni as usize].name
    )
}

fn basisteam(row: &GenRow) -> String {
    format!(
        "{} {}",
        UNITS[row.unit as usize].municipalities[row.muni as usize].name,
        world::BASISTEAM_SUFFIXES[row.basisteam as usize]
    )
}

fn officer(row: &GenRow) -> String {
    format!(
        "{}-{:02}{}{:02}",
        UNITS[row.unit as usize].code, row.muni, row.basisteam, row.officer
    )
}

/// Column names of the Dutch-style CSV export.
const CSV_HEADER: &[&str] = &[
    "Registratienummer",
    "Datum",
    "Tijd",
    "Eenheid",
    "District",
    "Basisteam",
    "Gebiedscode",
    "Breedtegraad",
    "Lengtegraad",
    "Soort controle",
    "Grondslag",
    "Aanleiding",
    "Resultaat",
    "Gefouilleerd",
    "Iets gevonden",
    "Uitgelegd",
    "Agent",
    "Ploeg",
    "Nationaliteit",
    "Geslacht",
    "Leeftijdscategorie",
];

/// Formats rows as Dutch-export CSV lines (CRLF).
fn csv_lines(rows: &[GenRow], codes: &CodeLists, period_days: u32) -> String {
    let mut out = String::with_capacity(rows.len() * 220);
    let mut id = StopId::default();
    for row in rows {
        let mut f: Vec<String> = Vec::with_capacity(CSV_HEADER.len());
        let mut local = row.local;
        if row.spoil == Some(Reason::OutsidePeriod) {
            local -= Duration::days(i64::from(period_days) + 30);
        }
        let muni = &UNITS[row.unit as usize].municipalities[row.muni as usize];
        f.push(id.of(row.duplicate_of.unwrap_or(row.index)).to_string());
        f.push(local.format("%d-%m-%Y").to_string());
        let in_clock_gap =
            local.hour_of_day() == 2 && last_sunday_of_march(local.year()) == local.date();
        f.push(match row.spoil {
            // Either a time in the skipped spring hour (kept as is) or an hour past 23.
            Some(Reason::InvalidDatetime) if !in_clock_gap => {
                format!("{}:{:02}", 24 + local.hour_of_day(), local.minute_of_hour())
            }
            _ => local.format("%H:%M").to_string(),
        });
        f.push(UNITS[row.unit as usize].name.to_string());
        f.push(district(row));
        f.push(basisteam(row));
        f.push(if row.spoil == Some(Reason::InvalidValue) {
            muni.code[..4].to_string()
        } else {
            muni.code.to_string()
        });
        f.push(format!("{:.5}", row.lat).replace('.', ","));
        f.push(format!("{:.5}", row.lon).replace('.', ","));
        f.push(codes.subject_type.get(row.subject).nl.clone());
        f.push(codes.legal_basis.get(row.legal).nl.clone());
        f.push(if row.spoil == Some(Reason::MissingRequired) {
            String::new()
        } else {
            codes.justification.get(row.justification).nl.clone()
        });
        let outcome = codes.outcome.get(row.outcome).nl.clone();
        f.push(if row.spoil == Some(Reason::UnknownCategory) {
            misspell(&outcome)
        } else {
            outcome
        });
        let (searched, found) = if row.spoil == Some(Reason::ContrabandWithoutSearch) {
            (false, true)
        } else {
            (row.searched, row.contraband)
        };
        f.push(if searched { "ja" } else { "nee" }.into());
        f.push(if found { "ja" } else { "nee" }.into());
        f.push(["ja", "nee", ""][row.explained as usize].into());
        f.push(officer(row));
        f.push(world::TEAMS[row.team as usize].into());
        for (a, attr) in ATTRIBUTES.iter().enumerate() {
            f.push(
                attr.groups
                    .get(row.groups[a] as usize)
                    .map(|g| g.to_string())
                    .unwrap_or_default(),
            );
        }
        if row.spoil == Some(Reason::MalformedLine) {
            f.pop();
        }
        out.push_str(&f.join(";"));
        out.push_str("\r\n");
    }
    out
}

trait Clock {
    fn hour_of_day(&self) -> u32;
    fn minute_of_hour(&self) -> u32;
}

impl Clock for NaiveDateTime {
    fn hour_of_day(&self) -> u32 {
        chrono::Timelike::hour(self)
    }
    fn minute_of_hour(&self) -> u32 {
        chrono::Timelike::minute(self)
    }
}

/// A misspelling that matches no code: an `x` added.
fn misspell(label: &str) -> String {
    format!("{label}x")
}

/// A generated column: plain, or categorical as a small code per row and
/// the codes' labels.
enum GenColumn {
    Plain(polars::prelude::Column),
    Categorical {
        name: &'static str,
        /// Per row the index of its label (None: a null).
        keys: Vec<Option<u32>>,
        /// Each label once, in order of first appearance.
        labels: Vec<String>,
    },
}

/// The columns of the rows (for Parquet and IPC).
///
/// Repeating text is categorical (Parquet dictionary pages with the Arrow
/// dictionary type), as exports from analytical tools usually are. Each
/// categorical column is built from a small integer key per row (the
/// generator's own indices): the text of a key is made once per chunk,
/// not once per row.
fn columns(
    rows: &[GenRow],
    codes: &CodeLists,
    period_days: u32,
) -> polars::prelude::PolarsResult<Vec<GenColumn>> {
    use polars::prelude::*;
    let tz = chrono_tz::Europe::Amsterdam;
    // `key` identifies the text `label` gives (None: a null); keys that
    // give the same text share its code.
    let category = |name: &'static str,
                    key: &dyn Fn(&GenRow) -> Option<u64>,
                    label: &dyn Fn(&GenRow) -> String|
     -> GenColumn {
        let mut by_key: foldhash::HashMap<u64, u32> = Default::default();
        let mut by_label: foldhash::HashMap<String, u32> = Default::default();
        let mut labels = Vec::new();
        // Recent keys by their low bits, before the map: most columns have
        // a few dozen keys, so nearly every row is answered here.
        let mut recent = [(u64::MAX, 0u32); 256];
        let keys = rows
            .iter()
            .map(|r| {
                let k = key(r)?;
                let slot = &mut recent[((k ^ k >> 8 ^ k >> 16) & 255) as usize];
                if slot.0 != k {
                    let code = *by_key.entry(k).or_insert_with(|| {
                        let text = label(r);
                        *by_label.entry(text.clone()).or_insert_with(|| {
                            labels.push(text);
                            (labels.len() - 1) as u32
                        })
                    });
                    *slot = (k, code);
                }
                Some(slot.1)
            })
            .collect();
        GenColumn::Categorical { name, keys, labels }
    };
    // The zone's offset only changes on the hour: each local hour is
    // resolved once (its minutes follow it), not each row.
    let mut hours: foldhash::HashMap<i64, i64> = Default::default();
    let instants: Vec<i64> = rows
        .iter()
        .map(|r| {
            let mut local = r.local;
            if r.spoil == Some(Reason::OutsidePeriod) {
                local -= Duration::days(i64::from(period_days) + 30);
            }
            let seconds = local.and_utc().timestamp();
            let start = *hours.entry(seconds.div_euclid(3600)).or_insert_with(|| {
                let hour = local.date().and_hms_opt(local.hour(), 0, 0).expect("valid");
                resolve_local(hour, tz, NonexistentTime::Quarantine).expect("generated times exist")
            });
            start + seconds.rem_euclid(3600) * 1000
        })
        .collect();
    let stopped_at = Int64Chunked::from_vec("stopped_at".into(), instants)
        .into_datetime(
            TimeUnit::Milliseconds,
            TimeZone::opt_try_new(Some("Europe/Amsterdam"))?,
        )
        .into_column();
    let stopped_at = GenColumn::Plain(stopped_at);
    let place = |r: &GenRow| u64::from(r.unit) << 8 | u64::from(r.muni);
    let invalid_area = |r: &GenRow| r.spoil == Some(Reason::InvalidValue);
    let misspelt = |r: &GenRow| r.spoil == Some(Reason::UnknownCategory);
    let mut cols = vec![
        GenColumn::Plain({
            let mut id = StopId::default();
            let mut ids = StringChunkedBuilder::new("stop_id".into(), rows.len());
            for r in rows {
                ids.append_value(id.of(r.duplicate_of.unwrap_or(r.index)));
            }
            ids.finish().into_column()
        }),
        stopped_at,
        category("unit", &|r| Some(r.unit.into()), &|r| {
            UNITS[r.unit as usize].name.to_string()
        }),
        category("district", &|r| Some(place(r)), &district),
        category(
            "basisteam",
            &|r| Some(place(r) << 8 | u64::from(r.basisteam)),
            &basisteam,
        ),
        category(
            "area_code",
            &|r| Some(place(r) << 1 | u64::from(invalid_area(r))),
            &|r| {
                let c = UNITS[r.unit as usize].municipalities[r.muni as usize].code;
                if invalid_area(r) {
                    c[..4].to_string()
                } else {
                    c.to_string()
                }
            },
        ),
        GenColumn::Plain(
            Float64Chunked::from_vec("latitude".into(), rows.iter().map(|r| r.lat).collect())
                .into_column(),
        ),
        GenColumn::Plain(
            Float64Chunked::from_vec("longitude".into(), rows.iter().map(|r| r.lon).collect())
                .into_column(),
        ),
        category("subject_type", &|r| Some(r.subject.into()), &|r| {
            codes.subject_type.get(r.subject).code.clone()
        }),
        category("legal_basis", &|r| Some(r.legal.into()), &|r| {
            codes.legal_basis.get(r.legal).code.clone()
        }),
        category(
            "justification",
            &|r| (r.spoil != Some(Reason::MissingRequired)).then_some(r.justification.into()),
            &|r| codes.justification.get(r.justification).code.clone(),
        ),
        category(
            "outcome",
            &|r| Some(u64::from(r.outcome) << 1 | u64::from(misspelt(r))),
            &|r| {
                let c = codes.outcome.get(r.outcome).code.clone();
                if misspelt(r) { misspell(&c) } else { c }
            },
        ),
        GenColumn::Plain(
            BooleanChunked::from_iter_values(
                "search_conducted".into(),
                rows.iter()
                    .map(|r| r.searched && r.spoil != Some(Reason::ContrabandWithoutSearch)),
            )
            .into_column(),
        ),
        GenColumn::Plain(
            BooleanChunked::from_iter_values(
                "contraband_found".into(),
                rows.iter()
                    .map(|r| r.contraband || r.spoil == Some(Reason::ContrabandWithoutSearch)),
            )
            .into_column(),
        ),
        category(
            "reason_explained",
            &|r| (r.explained < 2).then_some(r.explained.into()),
            &|r| ["yes", "no"][r.explained as usize].to_string(),
        ),
        category(
            "officer_id",
            &|r| Some(place(r) << 16 | u64::from(r.basisteam) << 8 | u64::from(r.officer)),
            &officer,
        ),
        category("team", &|r| Some(r.team.into()), &|r| {
            world::TEAMS[r.team as usize].to_string()
        }),
    ];
    for (a, attr) in ATTRIBUTES.iter().enumerate() {
        cols.push(category(
            attr.name,
            &|r| ((r.groups[a] as usize) < attr.groups.len()).then_some(r.groups[a].into()),
            &|r| attr.groups[r.groups[a] as usize].to_string(),
        ));
    }
    Ok(cols)
}

/// Rows as a data frame, text as plain strings (IPC: an Arrow IPC file
/// allows one dictionary per column for the whole file, and a chunk's
/// values are known only when it is made).
fn frame(
    rows: &[GenRow],
    codes: &CodeLists,
    period_days: u32,
) -> polars::prelude::PolarsResult<polars::prelude::DataFrame> {
    use polars::prelude::*;
    let cols = columns(rows, codes, period_days)?
        .into_iter()
        .map(|c| match c {
            GenColumn::Plain(c) => c,
            GenColumn::Categorical { name, keys, labels } => StringChunked::from_iter_options(
                name.into(),
                keys.iter().map(|k| k.map(|k| labels[k as usize].as_str())),
            )
            .into_column(),
        })
        .collect();
    DataFrame::new(rows.len(), cols)
}

/// The schema of the Parquet output: [`columns`]' names and types, text
/// categorical (in polars' global categories, as its writer expects).
fn parquet_schema(
    codes: &CodeLists,
    period_days: u32,
) -> polars::prelude::PolarsResult<polars::prelude::Schema> {
    use polars::prelude::*;
    let categorical = DataType::from_categories(Categories::global());
    Ok(columns(&[], codes, period_days)?
        .into_iter()
        .map(|c| match c {
            GenColumn::Plain(c) => c.field().into_owned(),
            GenColumn::Categorical { name, .. } => Field::new(name.into(), categorical.clone()),
        })
        .collect())
}

/// Rows as Arrow arrays of [`parquet_schema`], as polars would export them
/// (text as dictionary arrays with the labels in order of first
/// appearance), made without polars' global categories.
fn arrays(
    rows: &[GenRow],
    codes: &CodeLists,
    period_days: u32,
) -> polars::prelude::PolarsResult<Vec<polars::prelude::ArrayRef>> {
    use polars::prelude::*;
    use polars_arrow::array::{Array, DictionaryArray, PrimitiveArray, Utf8ViewArray};
    columns(rows, codes, period_days)?
        .into_iter()
        .map(|c| match c {
            GenColumn::Plain(c) => Ok(c
                .as_materialized_series()
                .rechunk()
                .to_arrow(0, CompatLevel::newest())),
            GenColumn::Categorical { keys, labels, .. } => {
                let values = Utf8ViewArray::from_slice_values(&labels);
                let dtype = ArrowDataType::Dictionary(
                    polars_arrow::datatypes::IntegerType::UInt32,
                    Box::new(values.dtype().clone()),
                    false,
                );
                Ok(DictionaryArray::<u32>::try_new(
                    dtype,
                    PrimitiveArray::from(keys),
                    values.boxed(),
                )?
                .boxed())
            }
        })
        .collect()
}

enum Writer {
    Csv(std::io::BufWriter<std::fs::File>),
    Parquet(Box<parquet_out::ParquetOut<std::fs::File>>),
    Ipc(Box<polars::io::ipc::BatchedWriter<std::fs::File>>),
}

/// Generates the data set and (optionally) the truth manifest.
pub fn generate(settings: &GenerateSettings) -> Result<Truth> {
    if settings.rows == 0 {
        return Err(Error::Usage("--rows must be at least 1".into()));
    }
    if !(0.0..=0.5).contains(&settings.dirty) {
        return Err(Error::Usage("--dirty must be between 0 and 0.5".into()));
    }
    if settings.days == 0 {
        return Err(Error::Usage("--days must be at least 1".into()));
    }
    let profile = BiasProfile::load(&settings.bias)?;
    let model = Model::new(settings, &profile);
    let codes = CodeLists::default();
    let out = &settings.out;
    let file = AtomicFile::create(out)?;
    let handle = file.handle().map_err(|e| Error::io(out, e))?;
    let mut writer = match settings.format {
        GenFormat::Csv => {
            let mut w = std::io::BufWriter::with_capacity(1 << 20, handle);
            let header = format!("\u{feff}{}\r\n", CSV_HEADER.join(";"));
            w.write_all(header.as_bytes())
                .map_err(|e| Error::io(out, e))?;
            Writer::Csv(w)
        }
        GenFormat::Parquet => {
            let schema =
                parquet_schema(&codes, settings.days).map_err(|e| Error::engine(out, e))?;
            let w =
                parquet_out::ParquetOut::new(handle, &schema).map_err(|e| Error::engine(out, e))?;
            Writer::Parquet(Box::new(w))
        }
        GenFormat::Ipc => {
            let empty = frame(&[], &codes, settings.days).map_err(|e| Error::engine(out, e))?;
            let schema = empty.schema().clone();
            use polars::prelude::SchemaExt;
            let arrow_schema = schema.to_arrow(polars::prelude::CompatLevel::newest());
            let fields =
                polars_arrow::io::ipc::write::default_ipc_fields(arrow_schema.iter_values());
            use polars::prelude::SerWriter;
            let w = polars::prelude::IpcWriter::new(handle)
                .batched(&schema, fields)
                .map_err(|e| Error::engine(out, e))?;
            Writer::Ipc(Box::new(w))
        }
    };

    let chunks = settings.rows.div_ceil(CHUNK_ROWS);
    let mut totals = Counters::new(profile.effects.len());
    let bar = crate::progress::progress_bar(
        !settings.quiet,
        settings.rows,
        "generating",
        "{pos}/{len} rows {elapsed_precise}",
    );
    // Chunks are made on the rayon pool, a few ahead, and written here in
    // order as they come: no thread waits for a whole window of chunks (made
    // in windows, the workers were idle a quarter of the time).
    let job = ChunkJob {
        model: std::sync::Arc::new(model),
        codes: std::sync::Arc::new(codes),
        parquet: match &writer {
            Writer::Parquet(w) => Some(w.encoder()),
            _ => None,
        },
        seed: settings.seed,
        rows: settings.rows,
        days: settings.days,
        format: settings.format,
        effects: profile.effects.len(),
    };
    let (mut next, mut written) = (0, 0);
    crate::ordered::in_order(
        2 * settings.threads.max(1) + 1,
        || {
            let k = next;
            next += 1;
            let job = job.clone();
            Ok((k < chunks).then_some(move |_last: bool| job.make(k)))
        },
        |(counters, payload): (Counters, Payload)| {
            totals.add(&counters);
            match (&mut writer, payload) {
                (Writer::Csv(w), Payload::Text(t)) => {
                    w.write_all(t.as_bytes()).map_err(|e| Error::io(out, e))?
                }
                (Writer::Parquet(w), Payload::Encoded(group)) => w
                    .write(group.map_err(|e| Error::engine(out, e))?)
                    .map_err(|e| Error::engine(out, e))?,
                (Writer::Ipc(w), Payload::Frame(df)) => {
                    let mut df = df.map_err(|e| Error::engine(out, e))?;
                    df.rechunk_mut_par();
                    w.write_batch(&df).map_err(|e| Error::engine(out, e))?
                }
                _ => unreachable!("payload matches the writer"),
            }
            written += 1;
            bar.set_position((written * CHUNK_ROWS).min(settings.rows));
            Ok(())
        },
    )?;
    bar.finish_and_clear();
    match writer {
        Writer::Csv(mut w) => w.flush().map_err(|e| Error::io(out, e))?,
        Writer::Parquet(w) => {
            w.finish().map_err(|e| Error::engine(out, e))?;
        }
        Writer::Ipc(mut w) => w.finish().map_err(|e| Error::engine(out, e))?,
    }
    let spoilt: u64 = totals.dirty.values().sum();
    let truth = Truth {
        generator: format!(
            "{} {}",
            stopaudit_core::provenance::TOOL,
            stopaudit_core::provenance::VERSION
        ),
        seed: settings.seed,
        rows: settings.rows,
        format: settings.format,
        period_start: settings.start,
        period_end: settings.start + Duration::days(i64::from(settings.days) - 1),
        planted: profile
            .effects
            .iter()
            .enumerate()
            .map(|(e, effect)| PlantedEffect {
                kind: match effect {
                    Effect::LowerStopThreshold { .. } => "lower_stop_threshold",
                    Effect::LowerSearchThreshold { .. } => "lower_search_threshold",
                    Effect::DaylightVisibility { .. } => "daylight_visibility",
                },
                rows: totals.planted[e],
                rows_spoilt: totals.planted_spoilt[e],
            })
            .collect(),
        profile,
        dirty_rate: settings.dirty,
        dirty_rows: totals.dirty,
        clean_rows: settings.rows - spoilt,
    };
    let truth_file = match &settings.truth {
        Some(path) => {
            let f = AtomicFile::create(path)?;
            let mut h = f.handle().map_err(|e| Error::io(path, e))?;
            h.write_all(
                (serde_json::to_string_pretty(&truth).expect("serialisable") + "\n").as_bytes(),
            )
            .map_err(|e| Error::io(path, e))?;
            Some(f)
        }
        None => None,
    };
    file.commit()?;
    if let Some(f) = truth_file {
        f.commit()?;
    }
    Ok(truth)
}

/// What a chunk job needs, shared by all of them.
#[derive(Clone)]
struct ChunkJob {
    model: std::sync::Arc<Model>,
    codes: std::sync::Arc<CodeLists>,
    /// The Parquet encoder (Parquet output only).
    parquet: Option<std::sync::Arc<parquet_out::ChunkEncoder>>,
    seed: u64,
    rows: u64,
    days: u32,
    format: GenFormat,
    effects: usize,
}

impl ChunkJob {
    /// Chunk `k`: its counters and its rows, ready to write (a Parquet
    /// chunk encoded and compressed here, on the worker).
    fn make(&self, k: u64) -> (Counters, Payload) {
        let first = k * CHUNK_ROWS;
        let n = CHUNK_ROWS.min(self.rows - first);
        let mut counters = Counters::new(self.effects);
        let rows = self.model.chunk(self.seed, k, first, n, &mut counters);
        let (codes, days) = (&*self.codes, self.days);
        let payload = match (self.format, &self.parquet) {
            (GenFormat::Csv, _) => Payload::Text(csv_lines(&rows, codes, days)),
            (_, Some(encoder)) => Payload::Encoded(
                arrays(&rows, codes, days).and_then(|a| encoder.encode(rows.len(), &a)),
            ),
            _ => Payload::Frame(frame(&rows, codes, days)),
        };
        (counters, payload)
    }
}

enum Payload {
    Text(String),
    Frame(polars::prelude::PolarsResult<polars::prelude::DataFrame>),
    Encoded(polars::prelude::PolarsResult<parquet_out::Encoded>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampler_follows_weights() {
        let s = Sampler::new(&[1.0, 3.0]);
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 20_000;
        let ones = (0..n).filter(|_| s.sample(&mut rng) == 1).count();
        let share = ones as f64 / n as f64;
        assert!((share - 0.75).abs() < 0.015, "{share}");
    }

    #[test]
    fn spring_forward_dates() {
        assert_eq!(
            last_sunday_of_march(2025),
            NaiveDate::from_ymd_opt(2025, 3, 30).unwrap()
        );
        assert_eq!(
            last_sunday_of_march(2026),
            NaiveDate::from_ymd_opt(2026, 3, 29).unwrap()
        );
    }

    #[test]
    fn stop_ids_written_by_hand_match_the_formatted_ones() {
        let mut id = StopId::default();
        for index in [
            0,
            8,
            9,
            99_999_999,
            999_999_998,
            999_999_999,
            12_345_678_901,
        ] {
            assert_eq!(id.of(index), format!("R{:09}", index + 1));
        }
        assert_eq!(id.of(41), "R000000042");
    }

    #[test]
    fn chunks_do_not_depend_on_order_of_generation() {
        let settings = GenerateSettings {
            dirty: 0.1,
            ..Default::default()
        };
        let profile = BiasProfile::load("combined").unwrap();
        let model = Model::new(&settings, &profile);
        let mut c1 = Counters::new(2);
        let mut c2 = Counters::new(2);
        let b = model.chunk(3, 1, 100, 500, &mut c1);
        let _ = model.chunk(3, 0, 0, 100, &mut c2);
        let b2 = model.chunk(3, 1, 100, 500, &mut Counters::new(2));
        let codes = CodeLists::default();
        assert_eq!(csv_lines(&b, &codes, 365), csv_lines(&b2, &codes, 365));
    }
}
