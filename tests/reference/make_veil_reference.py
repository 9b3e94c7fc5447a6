"""Reference for stopaudit's veil-of-darkness test, end to end: which stops
are light or dark (from PyEphem, independently of stopaudit's NOAA
formulas) and the darkness odds ratios statsmodels fits on them.

Run once (the outputs are committed, so CI needs no Python):

    cargo run --release -- generate --rows 40000 --bias daylight --seed 5 --out /tmp/vg.csv
    python3 -m venv /tmp/veilenv && /tmp/veilenv/bin/pip install ephem numpy statsmodels
    /tmp/veilenv/bin/python tests/reference/make_veil_reference.py /tmp/vg.csv

Writes
- tests/fixtures/veil/stops.csv: the first 3,000 evening stops (16:00 to
  23:59) of Nederlands, Turks and Marokkaans nationals from the generated
  export, with the columns the test needs (Dutch names, as exported);
- tests/reference/veil.json: per stop class counts, and per group against
  Nederlands the stops in daylight and after dusk and statsmodels' darkness
  coefficient with spline df 1 to 6 and in the clock-change windows.

The method, as docs/methods.md describes it: a stop's place is its
coordinates rounded to 0.1 degree; per place and year the window runs from
the earliest to the latest civil dusk (local clock time); a stop in it is
dark from dusk on, left out between sunset and dusk, light before sunset.
The model is successes = group stops, trials = group + reference stops per
(unit, year, minute, dark), with an intercept, dark, a natural cubic spline
of the minute (ESL truncated-power basis, knots at stop-weighted quantiles,
as in make_glm_reference.py) and unit and year dummies (first level left out).
"""

import csv
import datetime
import json
import pathlib
import sys
import zoneinfo

import ephem
import numpy as np
import statsmodels
import statsmodels.api as sm

from make_glm_reference import basis, knots_for

TZ = zoneinfo.ZoneInfo("Europe/Amsterdam")
GRID = 0.1
GROUPS = ["Turks", "Marokkaans"]
REFERENCE = "Nederlands"
CLOCK_CHANGE_DAYS = 30
ROOT = pathlib.Path(__file__).resolve().parent.parent


def local_seconds(utc, date):
    local = utc.replace(tzinfo=datetime.timezone.utc).astimezone(TZ)
    start = datetime.datetime(date.year, date.month, date.day, tzinfo=TZ)
    return int((local.replace(tzinfo=None) - start.replace(tzinfo=None)).total_seconds())


_events = {}


def events(place, date):
    """Sunset and dusk, local seconds after midnight."""
    key = (place, date)
    if key not in _events:
        o = ephem.Observer()
        o.lat, o.lon = str(place[0] * GRID), str(place[1] * GRID)
        o.elevation = 0
        o.pressure = 0
        out = []
        for horizon in ("-0:50", "-6"):
            o.horizon = horizon
            o.date = ephem.Date(datetime.datetime(date.year, date.month, date.day))
            t = ephem.Date(o.next_setting(ephem.Sun(), use_center=True)).datetime()
            out.append(local_seconds(t, date))
        _events[key] = tuple(out)
    return _events[key]


_windows = {}


def window(place, year):
    key = (place, year)
    if key not in _windows:
        day = datetime.date(year, 1, 1)
        dusks = []
        while day.year == year:
            dusks.append(events(place, day)[1])
            day += datetime.timedelta(days=1)
        _windows[key] = (min(dusks), max(dusks))
    return _windows[key]


def clock_changes(year):
    def noon(d):
        return datetime.datetime(d.year, d.month, d.day, 12, tzinfo=datetime.timezone.utc).astimezone(TZ).utcoffset()

    day = datetime.date(year, 1, 1)
    out = []
    while day.year == year:
        if noon(day) != noon(day - datetime.timedelta(days=1)):
            out.append(day)
        day += datetime.timedelta(days=1)
    return out


def number(s):
    return float(s.replace(",", "."))


def select(source, target, n=3000):
    with open(source, encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    keep = ["Registratienummer", "Datum", "Tijd", "Eenheid", "Breedtegraad", "Lengtegraad",
            "Aanleiding", "Resultaat", "Nationaliteit"]
    chosen = [r for r in rows if r["Tijd"] >= "16:00" and r["Nationaliteit"] in GROUPS + [REFERENCE]
              and r["Breedtegraad"] and r["Lengtegraad"]][:n]
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, delimiter=";", lineterminator="\n")
        w.writerow(keep)
        for r in chosen:
            w.writerow([r[k] for k in keep])
    return chosen


def classify(r):
    d, m, y = (int(x) for x in r["Datum"].split("-"))
    hh, mm = (int(x) for x in r["Tijd"].split(":"))
    date = datetime.date(y, m, d)
    second = hh * 3600 + mm * 60
    place = (round(number(r["Breedtegraad"]) / GRID), round(number(r["Lengtegraad"]) / GRID))
    lo, hi = window(place, y)
    sunset, dusk = events(place, date)
    if not lo <= second <= hi:
        light = "outside_window"
    elif second >= dusk:
        light = "dark"
    elif second >= sunset:
        light = "twilight"
    else:
        light = "daylight"
    near_change = any(abs((date - c).days) <= CLOCK_CHANGE_DAYS for c in clock_changes(y))
    return light, y, hh * 60 + mm, near_change


def fit(patterns, df):
    keys = sorted(patterns)
    minutes = np.array([k[2] for k in keys], dtype=float)
    succ = np.array([patterns[k][0] for k in keys], dtype=float)
    trials = np.array([sum(patterns[k]) for k in keys], dtype=float)
    knots = knots_for(minutes, trials, df)
    units = sorted({k[0] for k in keys})[1:]
    years = sorted({k[1] for k in keys})[1:]
    design = np.column_stack(
        [np.ones(len(keys)), [float(k[3]) for k in keys], basis(minutes, knots)]
        + [[float(k[0] == u) for k in keys] for u in units]
        + [[float(k[1] == y) for k in keys] for y in years]
    )
    res = sm.GLM(np.column_stack([succ, trials - succ]), design, family=sm.families.Binomial()).fit(tol=1e-13)
    return {"log_odds_ratio": float(res.params[1]), "standard_error": float(res.bse[1]),
            "p_value": float(res.pvalues[1]), "rows": len(keys), "parameters": design.shape[1]}


def main():
    source = pathlib.Path(sys.argv[1])
    stops = select(source, ROOT / "fixtures" / "veil" / "stops.csv")
    classes = {"no_place": 0, "outside_window": 0, "twilight": 0, "daylight": 0, "dark": 0}
    classified = []
    for r in stops:
        light, year, minute, near = classify(r)
        classes[light] += 1
        classified.append((r, light, year, minute, near))
    groups = []
    for g in GROUPS:
        patterns, near_patterns = {}, {}
        counts = {"group_daylight": 0, "group_dark": 0, "ref_daylight": 0, "ref_dark": 0}
        for r, light, year, minute, near in classified:
            if light not in ("daylight", "dark") or r["Nationaliteit"] not in (g, REFERENCE):
                continue
            is_group = r["Nationaliteit"] == g
            dark = light == "dark"
            counts[("group_" if is_group else "ref_") + ("dark" if dark else "daylight")] += 1
            key = (r["Eenheid"], year, minute, dark)
            for p in [patterns] + ([near_patterns] if near else []):
                cell = p.setdefault(key, [0, 0])
                cell[0 if is_group else 1] += 1
        groups.append({
            "group": g,
            "reference": REFERENCE,
            "stops": counts,
            "robustness": {str(df): fit(patterns, df) for df in range(1, 7)},
            "clock_change": fit(near_patterns, 6),
        })
    doc = {
        "ephem": ephem.__version__,
        "statsmodels": statsmodels.__version__,
        "numpy": np.__version__,
        "stops": len(stops),
        "classes": classes,
        "groups": groups,
    }
    out = ROOT / "reference" / "veil.json"
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}: {classes}")


if __name__ == "__main__":
    main()
