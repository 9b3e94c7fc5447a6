//! Sunset and civil dusk from the NOAA solar calculator's formulas (Meeus,
//! *Astronomical Algorithms*, as in NOAA's Solar Calculation spreadsheet):
//! the sun's declination and the equation of time from the Julian century,
//! then the hour angle at which the sun's centre reaches a given zenith
//! angle — 90.833° for sunset (the upper limb on the horizon, with standard
//! refraction), 96° for civil dusk (6° below the horizon).
//!
//! The event time is found by fixed-point iteration: the sun's position is
//! evaluated at the current estimate of the event and the estimate updated,
//! until it moves less than a second. Checked against PyEphem (VSOP87, an
//! independent theory) for Amsterdam, Maastricht and Groningen on every day
//! of 2025 (`tests/fixtures/sun/`, made by
//! `tests/reference/make_sun_reference.py`): within a minute, as the veil
//! of darkness test needs.
//!
//! These are the building blocks of the veil-of-darkness test (issue 6);
//! local clock times follow from a time zone such as Europe/Amsterdam
//! (chrono-tz handles the clock changes).

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

/// Zenith angle of the sun's centre at sunset: 90° + 50′ (34′ refraction,
/// 16′ semi-diameter), as the almanacs define it.
pub(crate) const SUNSET_ZENITH: f64 = 90.833;
/// Zenith angle at civil dusk: the centre 6° below the horizon.
pub(crate) const CIVIL_DUSK_ZENITH: f64 = 96.0;

/// Julian day at 0h UTC of a date.
fn julian_day(date: NaiveDate) -> f64 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    2_440_587.5 + (date - epoch).num_days() as f64
}

/// The sun's declination (radians) and the equation of time (minutes) at a
/// Julian day.
fn declination_and_equation_of_time(jd: f64) -> (f64, f64) {
    let t = (jd - 2_451_545.0) / 36_525.0;
    let l0 = (280.46646 + t * (36_000.769_83 + t * 0.000_303_2)).rem_euclid(360.0);
    let m = 357.529_11 + t * (35_999.050_29 - 0.000_153_7 * t);
    let e = 0.016_708_634 - t * (0.000_042_037 + 0.000_000_126_7 * t);
    let (m_rad, l0_rad) = (m.to_radians(), l0.to_radians());
    let centre = m_rad.sin() * (1.914_602 - t * (0.004_817 + 0.000_014 * t))
        + (2.0 * m_rad).sin() * (0.019_993 - 0.000_101 * t)
        + (3.0 * m_rad).sin() * 0.000_289;
    let omega = (125.04 - 1_934.136 * t).to_radians();
    let apparent_longitude = (l0 + centre - 0.005_69 - 0.004_78 * omega.sin()).to_radians();
    let mean_obliquity =
        23.0 + (26.0 + (21.448 - t * (46.815 + t * (0.000_59 - t * 0.001_813))) / 60.0) / 60.0;
    let obliquity = (mean_obliquity + 0.002_56 * omega.cos()).to_radians();
    let declination = (obliquity.sin() * apparent_longitude.sin()).asin();
    let y = (obliquity / 2.0).tan().powi(2);
    let equation_of_time = 4.0
        * (y * (2.0 * l0_rad).sin() - 2.0 * e * m_rad.sin()
            + 4.0 * e * y * m_rad.sin() * (2.0 * l0_rad).cos()
            - 0.5 * y * y * (4.0 * l0_rad).sin()
            - 1.25 * e * e * (2.0 * m_rad).sin())
        .to_degrees();
    (declination, equation_of_time)
}

/// The evening moment (UTC) on `date` when the sun's centre sinks to
/// `zenith` degrees at latitude/longitude (degrees, east positive); `None`
/// when it does not that day (midnight sun, polar night, or dusk that never
/// comes in a northern summer).
pub(crate) fn evening_event(
    date: NaiveDate,
    latitude: f64,
    longitude: f64,
    zenith: f64,
) -> Option<DateTime<Utc>> {
    let jd0 = julian_day(date);
    let phi = latitude.to_radians();
    // Minutes after 0h UTC, starting from local solar noon.
    let mut minutes = 720.0 - 4.0 * longitude;
    for _ in 0..10 {
        let (declination, eot) = declination_and_equation_of_time(jd0 + minutes / 1_440.0);
        let cos_h = zenith.to_radians().cos() / (phi.cos() * declination.cos())
            - phi.tan() * declination.tan();
        if !(-1.0..=1.0).contains(&cos_h) {
            return None;
        }
        let next = 720.0 - 4.0 * longitude - eot + 4.0 * cos_h.acos().to_degrees();
        let done = (next - minutes).abs() < 1.0 / 60.0;
        minutes = next;
        if done {
            break;
        }
    }
    let midnight = date.and_hms_opt(0, 0, 0).expect("valid time").and_utc();
    Some(midnight + TimeDelta::milliseconds((minutes * 60_000.0).round() as i64))
}

/// Sunset on `date` (UTC).
pub fn sunset(date: NaiveDate, latitude: f64, longitude: f64) -> Option<DateTime<Utc>> {
    evening_event(date, latitude, longitude, SUNSET_ZENITH)
}

/// Civil dusk on `date` (UTC): from then on it is dark for the veil of darkness.
pub fn civil_dusk(date: NaiveDate, latitude: f64, longitude: f64) -> Option<DateTime<Utc>> {
    evening_event(date, latitude, longitude, CIVIL_DUSK_ZENITH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn julian_day_of_the_j2000_epoch() {
        // 2000-01-01 12:00 UTC is JD 2451545.0.
        assert_eq!(
            julian_day(NaiveDate::from_ymd_opt(2000, 1, 1).unwrap()),
            2_451_544.5
        );
    }

    #[test]
    fn no_dusk_in_the_arctic_summer_and_no_sunset_in_its_winter() {
        let june = NaiveDate::from_ymd_opt(2025, 6, 21).unwrap();
        let december = NaiveDate::from_ymd_opt(2025, 12, 21).unwrap();
        // Tromsø, 69.65° N.
        assert!(sunset(june, 69.65, 18.96).is_none());
        assert!(sunset(december, 69.65, 18.96).is_none());
        // Amsterdam has both, dusk after sunset.
        let (s, d) = (
            sunset(june, 52.37, 4.9).unwrap(),
            civil_dusk(june, 52.37, 4.9).unwrap(),
        );
        assert!(d > s && d - s < TimeDelta::minutes(60));
    }
}
