//! Sunset and civil dusk against PyEphem's times for Amsterdam, Maastricht
//! and Groningen on every day of 2025 (tests/fixtures/sun, made by
//! tests/reference/make_sun_reference.py): within one minute, as the veil
//! of darkness test needs; also in local clock time across both DST changes.

use chrono::{DateTime, NaiveDate, Timelike, Utc};
use chrono_tz::Europe::Amsterdam;
use stopaudit_core::sun::{civil_dusk, sunset};

#[test]
fn sunset_and_dusk_agree_with_an_independent_ephemeris_within_a_minute() {
    let mut reader =
        csv::Reader::from_path(crate::project("tests/fixtures/sun/sun_2025_nl.csv")).unwrap();
    let (mut rows, mut worst_sunset, mut worst_dusk) = (0, 0i64, 0i64);
    for record in reader.records() {
        let r = record.unwrap();
        let (lat, lon): (f64, f64) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        let date: NaiveDate = r[3].parse().unwrap();
        let want_sunset: DateTime<Utc> = r[4].parse().unwrap();
        let want_dusk: DateTime<Utc> = r[5].parse().unwrap();
        let got_sunset = sunset(date, lat, lon).unwrap();
        let got_dusk = civil_dusk(date, lat, lon).unwrap();
        let off_sunset = (got_sunset - want_sunset).num_seconds().abs();
        let off_dusk = (got_dusk - want_dusk).num_seconds().abs();
        assert!(
            off_sunset <= 60,
            "{} {date}: sunset {got_sunset} vs {want_sunset}",
            &r[0]
        );
        assert!(
            off_dusk <= 60,
            "{} {date}: dusk {got_dusk} vs {want_dusk}",
            &r[0]
        );
        worst_sunset = worst_sunset.max(off_sunset);
        worst_dusk = worst_dusk.max(off_dusk);
        rows += 1;
    }
    eprintln!("{rows} days: largest difference {worst_sunset} s (sunset), {worst_dusk} s (dusk)");
    assert_eq!(rows, 3 * 365);
}

#[test]
fn local_clock_times_follow_the_clock_changes() {
    // 2025: summer time from 30 March, winter time from 26 October.
    let local = |d: NaiveDate| {
        sunset(d, 52.3676, 4.9041)
            .unwrap()
            .with_timezone(&Amsterdam)
    };
    let before = local(NaiveDate::from_ymd_opt(2025, 3, 29).unwrap());
    let after = local(NaiveDate::from_ymd_opt(2025, 3, 30).unwrap());
    // The clock jumps an hour forward; the sun sets ~2 minutes later in UT.
    let minutes = |t: chrono::DateTime<chrono_tz::Tz>| t.hour() * 60 + t.minute();
    assert!((minutes(after) as i64 - minutes(before) as i64 - 62).abs() <= 2);
    let before = local(NaiveDate::from_ymd_opt(2025, 10, 25).unwrap());
    let after = local(NaiveDate::from_ymd_opt(2025, 10, 26).unwrap());
    assert!((minutes(before) as i64 - minutes(after) as i64 - 62).abs() <= 2);
}
