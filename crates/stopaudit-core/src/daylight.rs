//! Daylight at each stop, for the veil-of-darkness test.
//!
//! A stop's place is its own coordinates when it has them, else the
//! location of its unit (a built-in table of the Dutch regional units,
//! overridable), else a configured default; without any of these it has
//! no place and takes no part. Places are rounded to a grid (0.1° by
//! default, a sunset error of at most about half a minute in the
//! Netherlands) so that the sun is computed once per place and year, not
//! per stop.
//!
//! Per place and year: sunset and civil dusk ([`crate::sun`]) on every day
//! in local clock time, and the *inter-twilight window*: from the earliest
//! to the latest dusk of that year. A stop is then
//!
//! - outside the window: left out (its clock time is always light or always dark);
//! - between sunset and dusk: left out (neither light nor dark);
//! - light (before sunset) or dark (from dusk on).
//!
//! A stop is in the *clock-change window* when its local date lies within
//! a configured number of days of a change of the UTC offset in its year
//! (found from the time zone, so any zone works).
//!
//! [`Daylight`] holds the settings and the per-place tables, computed on
//! first use and shared by all threads; [`DaylightBatch`] is one batch's
//! view with its own caches, so a stop costs a few hash lookups.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;

use crate::canonical::{NONE_U32, StopBatch};
use crate::clock::{DAY_MS, LocalTime, days_since_epoch};
use crate::codes::normalize_label;

/// Approximate centres of the Dutch police's regional units (WGS84
/// latitude, longitude), used for stops without coordinates. Within about
/// 0.2° of each unit's geographic centre: a sunset difference of at most a
/// minute or two across a unit, which the per-unit fixed effects absorb.
pub const UNIT_LOCATIONS: &[(&str, f64, f64)] = &[
    ("Noord-Nederland", 53.05, 6.10),
    ("Oost-Nederland", 52.25, 6.10),
    ("Midden-Nederland", 52.25, 5.35),
    ("Noord-Holland", 52.60, 4.85),
    ("Amsterdam", 52.37, 4.90),
    ("Den Haag", 52.05, 4.45),
    ("Rotterdam", 51.85, 4.45),
    ("Zeeland-West-Brabant", 51.55, 4.20),
    ("Oost-Brabant", 51.60, 5.45),
    ("Limburg", 51.20, 5.95),
];

/// Where a stop's sun is computed: grid indices of latitude and longitude.
pub type Place = (i32, i32);

/// How a stop's clock time relates to daylight.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Light {
    /// No coordinates, no known unit location and no default.
    NoPlace = 0,
    /// Outside the inter-twilight window (or no dusk that day).
    OutsideWindow = 1,
    /// Between sunset and civil dusk.
    Twilight = 2,
    /// In the window, before sunset.
    Daylight = 3,
    /// In the window, from civil dusk on.
    Dark = 4,
}

/// What the veil-of-darkness test needs of one stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StopTime {
    /// How the stop's clock time relates to daylight.
    pub light: Light,
    /// Local calendar year.
    pub year: u16,
    /// Local clock time, minutes after midnight.
    pub minute: u16,
    /// Within the configured days of a clock change.
    pub clock_change_window: bool,
}

/// Sunset and dusk of one place on every day of one year.
#[derive(Debug)]
struct PlaceYear {
    /// Per day of the year (0-based): sunset and dusk side by side (one
    /// memory access per stop), local seconds after midnight, [`NEVER`]
    /// when the sun does not reach the angle that day.
    evenings: Vec<[i32; 2]>,
    /// Earliest and latest dusk of the year, local seconds after midnight.
    window: Option<(i32, i32)>,
}

/// One place's evenings of one year (see [`Daylight::evenings`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SunYear {
    /// Per day of the year (0-based): sunset and civil dusk.
    pub evenings: Vec<[Option<i32>; 2]>,
    /// Earliest and latest dusk of the year.
    pub window: Option<(i32, i32)>,
}

/// A sunset or dusk that does not happen that day.
const NEVER: i32 = i32::MIN;

/// The settings and shared per-place tables (see the module documentation).
#[derive(Debug)]
pub struct Daylight {
    tz: Tz,
    /// Normalised unit name -> location.
    units: HashMap<String, (f64, f64)>,
    default: Option<(f64, f64)>,
    grid: f64,
    clock_change_days: i64,
    place_years: RwLock<HashMap<(Place, i32), Arc<PlaceYear>>>,
    /// Local dates (days since 1970-01-01) of the clock changes of a year.
    changes: RwLock<HashMap<i32, Arc<Vec<i64>>>>,
}

impl Daylight {
    /// `units` overrides or extends [`UNIT_LOCATIONS`] (by unit name);
    /// `grid` is the rounding of places in degrees.
    pub fn new(
        tz: Tz,
        units: &[(String, f64, f64)],
        default: Option<(f64, f64)>,
        grid: f64,
        clock_change_days: u32,
    ) -> Self {
        let mut table: HashMap<String, (f64, f64)> = UNIT_LOCATIONS
            .iter()
            .map(|(n, lat, lon)| (normalize_label(n), (*lat, *lon)))
            .collect();
        for (n, lat, lon) in units {
            table.insert(normalize_label(n), (*lat, *lon));
        }
        Daylight {
            tz,
            units: table,
            default,
            grid,
            clock_change_days: i64::from(clock_change_days),
            place_years: RwLock::default(),
            changes: RwLock::default(),
        }
    }

    /// The grid place of a coordinate: latitude and longitude divided by
    /// the grid and rounded (half away from zero).
    pub fn place_of(&self, lat: f64, lon: f64) -> Place {
        (
            (lat / self.grid).round() as i32,
            (lon / self.grid).round() as i32,
        )
    }

    /// The grid, in degrees.
    pub fn grid(&self) -> f64 {
        self.grid
    }

    /// The place of each known unit location, by normalised unit name, sorted.
    pub fn unit_places(&self) -> Vec<(String, Place)> {
        let mut all: Vec<(String, Place)> = self
            .units
            .iter()
            .map(|(name, &(lat, lon))| (name.clone(), self.place_of(lat, lon)))
            .collect();
        all.sort();
        all
    }

    /// The place of the configured default location.
    pub fn default_place(&self) -> Option<Place> {
        self.default.map(|(lat, lon)| self.place_of(lat, lon))
    }

    /// Sunset and civil dusk of `place` on each day of `year` (local seconds
    /// after midnight; `None` when the sun does not reach the angle that
    /// day) and the year's inter-twilight window: the tables a stop's
    /// light class is decided by (as `DaylightBatch::stop_time` decides it).
    pub fn evenings(&self, place: Place, year: i32) -> SunYear {
        let table = self.place_year(place, year);
        let some = |s: i32| (s != NEVER).then_some(s);
        SunYear {
            evenings: table
                .evenings
                .iter()
                .map(|&[sunset, dusk]| [some(sunset), some(dusk)])
                .collect(),
            window: table.window,
        }
    }

    /// Whether a local date lies within the configured days of a change of
    /// the UTC offset in its year.
    pub fn in_clock_change_window(&self, date: NaiveDate) -> bool {
        let day = days_since_epoch(date);
        self.clock_changes(date.year())
            .iter()
            .any(|&c| (day - c).abs() <= self.clock_change_days)
    }

    /// UTC offset in ms at an instant.
    fn offset_ms(&self, utc_ms: i64) -> i64 {
        crate::clock::offset_ms(self.tz, utc_ms)
    }

    fn compute_place_year(&self, place: Place, year: i32) -> PlaceYear {
        let (lat, lon) = (
            f64::from(place.0) * self.grid,
            f64::from(place.1) * self.grid,
        );
        let first = NaiveDate::from_ymd_opt(year, 1, 1).expect("a valid year");
        let days = if NaiveDate::from_ymd_opt(year, 12, 31)
            .expect("a valid year")
            .ordinal()
            == 366
        {
            366
        } else {
            365
        };
        let local_seconds = |date: NaiveDate, zenith: f64| {
            crate::sun::evening_event(date, lat, lon, zenith).map(|utc| {
                let ms = utc.timestamp_millis();
                let local = ms + self.offset_ms(ms);
                let day_start = days_since_epoch(date) * DAY_MS;
                ((local - day_start) / 1000) as i32
            })
        };
        let evenings: Vec<[i32; 2]> = (0..days)
            .map(|d| {
                let date = first + chrono::Days::new(d as u64);
                [crate::sun::SUNSET_ZENITH, crate::sun::CIVIL_DUSK_ZENITH]
                    .map(|zenith| local_seconds(date, zenith).unwrap_or(NEVER))
            })
            .collect();
        let window = evenings
            .iter()
            .map(|&[_, dusk]| dusk)
            .filter(|&dusk| dusk != NEVER)
            .fold(None, |acc: Option<(i32, i32)>, s| {
                Some(acc.map_or((s, s), |(lo, hi)| (lo.min(s), hi.max(s))))
            });
        PlaceYear { evenings, window }
    }

    fn place_year(&self, place: Place, year: i32) -> Arc<PlaceYear> {
        if let Some(p) = self
            .place_years
            .read()
            .expect("no thread panics holding the sun tables")
            .get(&(place, year))
        {
            return Arc::clone(p);
        }
        let computed = Arc::new(self.compute_place_year(place, year));
        let mut write = self
            .place_years
            .write()
            .expect("no thread panics holding the sun tables");
        Arc::clone(write.entry((place, year)).or_insert(computed))
    }

    /// Local dates on which the UTC offset differs from the day before.
    fn clock_changes(&self, year: i32) -> Arc<Vec<i64>> {
        if let Some(c) = self
            .changes
            .read()
            .expect("no thread panics holding the clock changes")
            .get(&year)
        {
            return Arc::clone(c);
        }
        let first = days_since_epoch(NaiveDate::from_ymd_opt(year, 1, 1).expect("a valid year"));
        let last = days_since_epoch(NaiveDate::from_ymd_opt(year, 12, 31).expect("a valid year"));
        let noon = |day: i64| self.offset_ms(day * DAY_MS + DAY_MS / 2);
        let changes: Vec<i64> = (first..=last).filter(|&d| noon(d) != noon(d - 1)).collect();
        let changes = Arc::new(changes);
        self.changes
            .write()
            .expect("no thread panics holding the clock changes")
            .entry(year)
            .or_insert(changes)
            .clone()
    }
}

/// A place's sun table of one year, as a batch view holds it.
struct YearTable {
    year: i32,
    window: Option<(i32, i32)>,
    sun: Arc<PlaceYear>,
}

/// Slots of [`DaylightBatch::recent`].
const RECENT_PLACES: usize = 1024;

/// One batch's view of [`Daylight`], with caches indexed densely by day
/// and place, so a stop costs a few array lookups.
pub struct DaylightBatch<'a> {
    daylight: &'a Daylight,
    /// The batch's unit column.
    unit_field: usize,
    /// Batch unit code -> place slot of its location.
    unit_slots: Vec<Option<u32>>,
    default_slot: Option<u32>,
    /// Grid place -> slot.
    slots: foldhash::HashMap<Place, u32>,
    /// Recently met places and their slots, by a hash of the place: looked
    /// at before `slots` (a batch meets a few hundred grid places).
    recent: Box<[(Place, u32); RECENT_PLACES]>,
    places: Vec<Place>,
    /// Per slot: the sun tables of the years met so far, with their windows
    /// (looked at for every stop, so kept here rather than behind the `Arc`).
    tables: Vec<Vec<YearTable>>,
    /// Per year met so far: the local days of its clock changes.
    changes: Vec<(i32, Arc<Vec<i64>>)>,
}

impl<'a> DaylightBatch<'a> {
    /// A view of `daylight` for one batch, with the places of its units looked up.
    pub fn new(daylight: &'a Daylight, batch: &StopBatch) -> Self {
        let unit_field = crate::canonical::text_index("unit");
        let mut view = DaylightBatch {
            daylight,
            unit_field,
            unit_slots: Vec::new(),
            default_slot: None,
            slots: Default::default(),
            recent: Box::new([((i32::MIN, i32::MIN), 0); RECENT_PLACES]),
            places: Vec::new(),
            tables: Vec::new(),
            changes: Vec::new(),
        };
        view.unit_slots = batch.text_values[unit_field]
            .iter()
            .map(|name| {
                daylight
                    .units
                    .get(&normalize_label(name))
                    .map(|&(lat, lon)| view.slot(daylight.place_of(lat, lon)))
            })
            .collect();
        view.default_slot = daylight
            .default
            .map(|(lat, lon)| view.slot(daylight.place_of(lat, lon)));
        view
    }

    /// Index of the unit field among the batch's text columns.
    pub(crate) fn unit_field(&self) -> usize {
        self.unit_field
    }

    fn slot(&mut self, place: Place) -> u32 {
        let recent = (place.0.wrapping_mul(31) ^ place.1) as usize % RECENT_PLACES;
        if self.recent[recent].0 == place {
            return self.recent[recent].1;
        }
        let s = match self.slots.get(&place) {
            Some(&s) => s,
            None => {
                let s = self.places.len() as u32;
                self.places.push(place);
                self.tables.push(Vec::new());
                self.slots.insert(place, s);
                s
            }
        };
        self.recent[recent] = (place, s);
        s
    }

    fn in_clock_change_window(&mut self, year: i32, day: i64) -> bool {
        let at = match self.changes.iter().position(|(y, _)| *y == year) {
            Some(at) => at,
            None => {
                self.changes.push((year, self.daylight.clock_changes(year)));
                self.changes.len() - 1
            }
        };
        self.changes[at]
            .1
            .iter()
            .any(|&c| (day - c).abs() <= self.daylight.clock_change_days)
    }

    fn table(&mut self, slot: u32, year: i32) -> &YearTable {
        let tables = &mut self.tables[slot as usize];
        let at = match tables.iter().position(|t| t.year == year) {
            Some(at) => at,
            None => {
                let place = self.places[slot as usize];
                let sun = self.daylight.place_year(place, year);
                tables.push(YearTable {
                    year,
                    window: sun.window,
                    sun,
                });
                tables.len() - 1
            }
        };
        &tables[at]
    }

    /// Stop `i` of `batch` (the batch this view was made for).
    pub(crate) fn stop_time(&mut self, batch: &StopBatch, i: usize, local: LocalTime) -> StopTime {
        let LocalTime { date, second } = local;
        let clock_change_window = self.in_clock_change_window(date.year, date.day);
        let (lat, lon) = (batch.fields.latitude[i], batch.fields.longitude[i]);
        let unit = batch.texts[self.unit_field][i];
        let slot = if !lat.is_nan() && !lon.is_nan() {
            Some(self.slot(self.daylight.place_of(lat, lon)))
        } else if unit != NONE_U32 {
            self.unit_slots[unit as usize].or(self.default_slot)
        } else {
            self.default_slot
        };
        let light = match slot {
            None => Light::NoPlace,
            Some(slot) => {
                let table = self.table(slot, date.year);
                let d = date.ordinal0 as usize;
                // The window first: most stops fall outside it, and then
                // the day's sunset and dusk need not be looked up.
                match table.window {
                    Some((lo, hi)) if second >= lo && second <= hi => match table.sun.evenings[d] {
                        [sunset, dusk] if sunset == NEVER || dusk == NEVER => Light::OutsideWindow,
                        [_, dusk] if second >= dusk => Light::Dark,
                        [sunset, _] if second >= sunset => Light::Twilight,
                        _ => Light::Daylight,
                    },
                    _ => Light::OutsideWindow,
                }
            }
        };
        StopTime {
            light,
            year: u16::try_from(date.year).unwrap_or(0),
            minute: (second / 60) as u16,
            clock_change_window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn batch(times: &[(&str, f64, f64, Option<&str>)]) -> StopBatch {
        let mut b = StopBatch::new(0);
        for (t, lat, lon, unit) in times {
            let local = chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M").unwrap();
            let ms = chrono_tz::Europe::Amsterdam
                .from_local_datetime(&local)
                .earliest()
                .unwrap()
                .timestamp_millis();
            b.fields.stopped_at.push(ms);
            b.fields.latitude.push(*lat);
            b.fields.longitude.push(*lon);
            let code = match unit {
                Some(u) => {
                    let values = &mut b.text_values[0];
                    let at = values.iter().position(|v| v == u).unwrap_or_else(|| {
                        values.push(u.to_string());
                        values.len() - 1
                    });
                    at as u32
                }
                None => NONE_U32,
            };
            b.texts[0].push(code);
            for t in b.texts.iter_mut().skip(1) {
                t.push(NONE_U32);
            }
        }
        b
    }

    fn classify(
        rows: &[(&str, f64, f64, Option<&str>)],
        default: Option<(f64, f64)>,
    ) -> Vec<StopTime> {
        let d = Daylight::new(chrono_tz::Europe::Amsterdam, &[], default, 0.1, 30);
        let b = batch(rows);
        let mut view = DaylightBatch::new(&d, &b);
        let mut clock = crate::clock::BatchClock::new(d.tz, &b.fields.stopped_at);
        (0..b.len())
            .map(|i| view.stop_time(&b, i, clock.local(b.fields.stopped_at[i])))
            .collect()
    }

    #[test]
    fn amsterdam_evenings_are_light_twilight_dark_or_outside() {
        // Amsterdam, 2025-03-01: sunset 18:21, civil dusk 18:56 (local, CET).
        let (lat, lon) = (52.37, 4.90);
        let t = classify(
            &[
                ("2025-03-01 18:00", lat, lon, None),
                ("2025-03-01 18:40", lat, lon, None),
                ("2025-03-01 19:30", lat, lon, None),
                ("2025-03-01 12:00", lat, lon, None),
                ("2025-03-01 23:30", lat, lon, None),
            ],
            None,
        );
        let light: Vec<Light> = t.iter().map(|s| s.light).collect();
        assert_eq!(
            light,
            [
                Light::Daylight,
                Light::Twilight,
                Light::Dark,
                Light::OutsideWindow,
                Light::OutsideWindow
            ]
        );
        assert_eq!(t[2].minute, 19 * 60 + 30);
        assert_eq!(t[2].year, 2025);
    }

    #[test]
    fn the_same_clock_time_is_light_in_june_and_dark_in_december() {
        let (lat, lon) = (52.37, 4.90);
        let t = classify(
            &[
                ("2025-06-21 19:00", lat, lon, None),
                ("2025-12-21 19:00", lat, lon, None),
            ],
            None,
        );
        assert_eq!(t[0].light, Light::Daylight);
        assert_eq!(t[1].light, Light::Dark);
    }

    #[test]
    fn stops_without_coordinates_use_their_unit_or_the_default() {
        let t = classify(
            &[
                ("2025-03-01 19:30", f64::NAN, f64::NAN, Some("Amsterdam")),
                ("2025-03-01 19:30", f64::NAN, f64::NAN, Some("  LIMBURG ")),
                ("2025-03-01 19:30", f64::NAN, f64::NAN, Some("Atlantis")),
                ("2025-03-01 19:30", f64::NAN, f64::NAN, None),
            ],
            None,
        );
        assert_eq!(t[0].light, Light::Dark);
        assert_eq!(t[1].light, Light::Dark);
        assert_eq!(t[2].light, Light::NoPlace);
        assert_eq!(t[3].light, Light::NoPlace);
        let t = classify(
            &[("2025-03-01 19:30", f64::NAN, f64::NAN, Some("Atlantis"))],
            Some((52.1, 5.2)),
        );
        assert_eq!(t[0].light, Light::Dark);
    }

    #[test]
    fn clock_change_window_is_thirty_days_either_side_of_each_change() {
        // 2025 changes: 30 March and 26 October.
        let (lat, lon) = (52.37, 4.90);
        let t = classify(
            &[
                ("2025-02-27 19:00", lat, lon, None),
                ("2025-02-28 19:00", lat, lon, None),
                ("2025-04-29 19:00", lat, lon, None),
                ("2025-04-30 19:00", lat, lon, None),
                ("2025-11-25 19:00", lat, lon, None),
                ("2025-11-26 19:00", lat, lon, None),
                ("2025-07-01 19:00", lat, lon, None),
            ],
            None,
        );
        let w: Vec<bool> = t.iter().map(|s| s.clock_change_window).collect();
        assert_eq!(w, [false, true, true, false, true, false, false]);
    }

    #[test]
    fn window_runs_from_the_earliest_to_the_latest_dusk() {
        let d = Daylight::new(chrono_tz::Europe::Amsterdam, &[], None, 0.1, 30);
        let p = d.place_year(d.place_of(52.37, 4.90), 2025);
        let (lo, hi) = p.window.unwrap();
        // Earliest dusk mid-December about 17:08 CET, latest late June about 22:50 CEST.
        assert!((17 * 3600..17 * 3600 + 20 * 60).contains(&lo), "{lo}");
        assert!((22 * 3600 + 40 * 60..23 * 3600).contains(&hi), "{hi}");
    }
}
