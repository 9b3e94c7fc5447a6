"""Reference sunset and civil-dusk times for three Dutch cities, from PyEphem.

PyEphem computes the sun's position from the VSOP87 theory, independently of
the NOAA formulas stopaudit uses, and gives the times the almanacs publish
with the standard definitions: sunset when the sun's upper limb touches the
horizon with 34' of refraction (the centre 50' below it), civil dusk when
the centre is 6 degrees below it. Run once (the output is committed, so CI
needs no Python):

    python3 -m venv /tmp/sunenv && /tmp/sunenv/bin/pip install ephem
    /tmp/sunenv/bin/python tests/reference/make_sun_reference.py

Writes tests/fixtures/sun/sun_2025_nl.csv: city, latitude, longitude, date,
and sunset and dusk in UTC (ISO 8601, to the second), every day of 2025.
"""

import datetime
import pathlib

import ephem

CITIES = [
    ("Amsterdam", 52.3676, 4.9041),
    ("Maastricht", 50.8514, 5.6910),
    ("Groningen", 53.2194, 6.5665),
]


def event(observer, horizon, use_center, day):
    observer.horizon = horizon
    observer.date = ephem.Date(day)  # midnight UTC; the evening follows
    t = observer.next_setting(ephem.Sun(), use_center=use_center)
    return ephem.Date(t).datetime().replace(microsecond=0).isoformat() + "Z"


def main():
    out = pathlib.Path(__file__).resolve().parent.parent / "fixtures" / "sun" / "sun_2025_nl.csv"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = ["city,latitude,longitude,date,sunset_utc,civil_dusk_utc"]
    for city, lat, lon in CITIES:
        o = ephem.Observer()
        o.lat, o.lon = str(lat), str(lon)
        o.elevation = 0
        # Refraction is in the horizon angles below, as in the almanacs.
        o.pressure = 0
        day = datetime.datetime(2025, 1, 1)
        while day.year == 2025:
            sunset = event(o, "-0:50", True, day)
            dusk = event(o, "-6", True, day)
            rows.append(f"{city},{lat},{lon},{day.date().isoformat()},{sunset},{dusk}")
            day += datetime.timedelta(days=1)
    out.write_text("\n".join(rows) + "\n")
    print(f"wrote {out} ({len(rows) - 1} rows) with ephem {ephem.__version__}")


if __name__ == "__main__":
    main()
