#!/usr/bin/env python3
"""Disclosure attack on one stopaudit run's published outputs.

Usage:
    python3 scripts/attack_disclosure.py DIR                      # the attack (about 30-60 s)
    python3 scripts/attack_disclosure.py DIR --truth DIR0         # ... and check it against a --min-cell 0 run
    python3 scripts/attack_disclosure.py DIR --truth DIR0 --by-class   # each leak family alone / left out (slow)
    python3 scripts/attack_disclosure.py DIR --truth DIR0 --cost       # cost of rounding / linked suppression (slow)
    python3 scripts/attack_disclosure.py DIR --scoped DIR2 [--truth DIR0 --truth-scoped DIR2_0]
                                                                  # across runs: full run + a --where/--period run

DIR holds what one run publishes: results.json (analyze --format json) and/or
the CSV tables (analyze --format csv, or a report folder with tables/).  Only
those published files are read, never the input data.  (report.md/html show
the same numbers rounded, so they add nothing.)

What it does:
  1. Lists every hidden count (null / "suppressed": true) as a target.
  2. Writes every relation the published numbers obey as linear (in)equalities
     over the hidden and unpublished counts, in families:
       core              each table against the count cube it is made from
                         (outcome-test hits = sum of the hit cells, mix cell =
                         sum over outcomes, weak/search/trend points, ...);
       cross_attribute   the same stops seen through every attribute;
       unit_vs_overall   the units add up to the overall table;
       ref_on_hidden_row reference counts left on hidden comparison rows;
       trend_periods     the periods add up to the totals; period totals;
       data_quality      unit stops (heaping bases), searches, missing counts;
       stratified        pooled totals over the strata used;
       finding           insufficient_data findings about hidden rows;
       rate              shares (as exact fractions); veil_totals.
     A hidden row of a count table is at least 1 (zero cells are left out).
  3. For each target, minimises and maximises it over that polytope (LP with
     HiGHS).  A target whose integer range is one value is recovered exactly;
     a range of at most three values is recovered to within +-1.  The LP
     duals say which published numbers and relations were used.
  4. Non-linear: the justification-mix chi-square (computed over hidden cells
     too) against the hidden cells; rate + Wilson interval pairs whose counts
     are hidden.
  5. Lists published counts from 1 to min_cell-1 (shown directly).

--truth is only used afterwards, to check the recovered values.
Standard library + numpy/scipy only.
"""

import argparse
import collections
import csv
import itertools
import json
import math
import os
import sys
import time
from fractions import Fraction

import numpy as np
from scipy import sparse
from scipy.optimize import linprog, milp, LinearConstraint, Bounds

# --------------------------------------------------------------------------
# Loading what a run publishes
# --------------------------------------------------------------------------


def _num(s):
    if s is None or s == "":
        return None
    if s in ("true", "false"):
        return s == "true"
    try:
        if any(ch in s for ch in ".eE") or s in ("NaN", "inf", "-inf"):
            return float(s)
        return int(s)
    except ValueError:
        return s


def _text(s):
    if s and s[0] == "'" and len(s) > 1 and s[1] in "=+-@":
        return s[1:]
    return s


def _stratum(s):
    if not s:
        return {}
    out = {}
    for part in s.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            out[k] = v
    return out


def _read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.DictReader(f))


def _rows(path, text_fields, interval_fields=()):
    out = []
    for r in _read_csv(path):
        o = {}
        for k, v in r.items():
            if k in text_fields:
                o[k] = _text(v)
            else:
                o[k] = _num(v)
        if "stratum" in o:
            o["stratum"] = _stratum(r["stratum"])
        for base in interval_fields:
            lo, hi = o.pop(base + "_low", None), o.pop(base + "_high", None)
            o[base] = None if lo is None else [lo, hi]
        out.append(o)
    return out


def load_run(d):
    """Returns the results document (results.json, else rebuilt from CSVs)."""
    j = os.path.join(d, "results.json")
    if os.path.exists(j):
        with open(j, encoding="utf-8") as f:
            R = json.load(f)
        R["_source"] = "results.json"
        return R
    t = d
    if not os.path.exists(os.path.join(t, "outcome_test.csv")) and os.path.isdir(os.path.join(d, "tables")):
        t = os.path.join(d, "tables")
    if not os.path.exists(os.path.join(t, "outcome_test.csv")):
        sys.exit("no results.json or CSV tables in %s" % d)
    P = {}
    pj = os.path.join(t, "provenance.json")
    if os.path.exists(pj):
        with open(pj, encoding="utf-8") as f:
            P = json.load(f)
    txt = {"attribute", "group", "reference", "justification", "outcome", "unit", "stage",
           "measure", "period", "compared_with", "kind", "strata_by", "verdict", "model",
           "note", "id", "severity", "analysis", "summary_en", "summary_nl", "location_field",
           "location"}
    cmp_iv = ("rate_ci", "ref_rate_ci", "rate_ratio_ci")
    R = {"_source": "csv", "provenance": P.get("provenance", {}), "settings": P.get("settings", {}),
         "missing_values": P.get("missing_values", {})}

    def opt(name, **kw):
        p = os.path.join(t, name)
        return _rows(p, txt, **kw) if os.path.exists(p) else []
    by = opt("counts_by_group_justification_outcome.csv")
    bu = opt("counts_by_unit.csv")
    attrs = []
    for r in by:
        if r["attribute"] not in attrs:
            attrs.append(r["attribute"])
    R["counts"] = {"total_stops": R["provenance"].get("rows_analyzed"), "attributes": attrs,
                   "by_group_justification_outcome": by, "by_unit": bu}
    R["outcome_test"] = opt("outcome_test.csv", interval_fields=cmp_iv)
    R["search_funnel"] = opt("search_funnel.csv", interval_fields=cmp_iv)
    weak = opt("weak_justification.csv", interval_fields=cmp_iv)
    cells = opt("justification_mix_cells.csv", interval_fields=("share_ci",))
    mixes = opt("justification_mix.csv")
    for m in mixes:
        m["cells"] = [c for c in cells if c["attribute"] == m["attribute"]]
        m["weak_justification"] = [w for w in weak if w["attribute"] == m["attribute"]]
    R["justification_mix"] = mixes
    st = opt("stratified.csv", interval_fields=("mh_odds_ratio_ci", "mh_rate_ratio_ci"))
    for s in st:
        s["strata_by"] = (s.get("strata_by") or "").split(";") if s.get("strata_by") else []
    R["stratified"] = st
    R["population_benchmark"] = opt("population_benchmark.csv", interval_fields=("rate_ratio_ci",))
    tr = opt("trends.csv", interval_fields=("ci",))
    series = collections.OrderedDict()
    for p in tr:
        key = (p["attribute"], p["group"], p["reference"], p["measure"])
        series.setdefault(key, []).append(p)
    periods = []
    for p in tr:
        if p["period"] not in periods:
            periods.append(p["period"])
    R["trends"] = {"enabled": bool(tr), "periods": periods, "stops_without_period": None,
                   "series": [{"attribute": k[0], "group": k[1], "reference": k[2], "measure": k[3],
                               "points": v} for k, v in series.items()]}
    vr = opt("veil_of_darkness.csv")
    res = []
    for v in vr:
        if v.get("model") != "main":
            continue
        stops = None
        if v.get("group_daylight") is not None:
            stops = {k: v[k] for k in ("group_daylight", "group_dark", "ref_daylight", "ref_dark")}
        res.append({"attribute": v["attribute"], "group": v["group"], "reference": v["reference"],
                    "stops": stops, "suppressed": stops is None, "clock_change": {}})
    R["veil_of_darkness"] = {"enabled": bool(res), "stops": {}, "results": res}
    f = opt("findings.csv", interval_fields=("rate_ratio_ci",))
    R["findings"] = f
    R["data_quality"] = {"diagnostics": []}
    return R


# --------------------------------------------------------------------------
# The model: quantities, relations
# --------------------------------------------------------------------------


class Model:
    """Quantities (published value, hidden target or unpublished latent) and
    linear relations between them, each with a label and a family tag."""

    def __init__(self):
        self.q = collections.OrderedDict()  # name -> dict
        self.eqs = []    # (terms {name: coef}, const, label, tag)   sum coef*q == const
        self.ineqs = []  # (terms, const, label, tag)                sum coef*q <= const
        self.notes = []
        self.deferred = []  # stratified rows over unit strata: resolved once the model can be solved

    def pub(self, name, value, where):
        if name in self.q:
            return name
        self.q[name] = {"kind": "pub", "value": value, "where": where}
        return name

    def hid(self, name, where, lb=0, ub=None):
        if name in self.q:
            return name
        self.q[name] = {"kind": "hid", "lb": lb, "ub": ub, "where": where}
        return name

    def lat(self, name, lb=0, ub=None):
        if name not in self.q:
            self.q[name] = {"kind": "lat", "lb": lb, "ub": ub}
        return name

    def cell(self, name, value, suppressed, where, lb_hidden=0, ub_hidden=None):
        """A published-or-hidden count (a number shown on a hidden row is published)."""
        if value is None:
            return self.hid(name, where, lb_hidden, ub_hidden)
        return self.pub(name, value, where)

    def eq(self, terms, const, label, tag):
        t = collections.OrderedDict()
        for c, n in terms:
            if n is None:
                continue
            t[n] = t.get(n, 0) + c
        self.eqs.append((t, const, label, tag))

    def le(self, terms, const, label, tag):
        t = collections.OrderedDict()
        for c, n in terms:
            if n is None:
                continue
            t[n] = t.get(n, 0) + c
        self.ineqs.append((t, const, label, tag))


def skey(stratum):
    if not stratum:
        return "overall"
    return ";".join("%s=%s" % kv for kv in stratum.items())


def build(R, prefix=""):
    """Every relation the published outputs obey."""
    M = Model()
    P = prefix
    S = R.get("settings", {})
    hit_out = set(S.get("hit_outcomes") or ["fine", "report", "arrest"])
    weak_j = set(S.get("weak_justifications") or ["behaviour", "none_recorded"])
    band = S.get("practical_band") or [0.8, 1.25]
    min_cell = S.get("min_cell", 10) or 10
    counts = R.get("counts", {})
    attrs = list(counts.get("attributes") or [])
    by = counts.get("by_group_justification_outcome") or []
    bu = counts.get("by_unit") or []
    for r in by:
        if r["attribute"] not in attrs:
            attrs.append(r["attribute"])
    groups = collections.OrderedDict((a, []) for a in attrs)
    J, O, U = [], [], []
    C = {}   # (a,g,j,o) -> name
    CU = {}  # (u,a,g,j,o) -> name
    rounded = counts.get("rounded_to")
    M.rounded = []  # names of rounded count cells (not targets; checked against --truth)
    for r in by:
        a, g, j, o = r["attribute"], r["group"], r["justification"], r["outcome"]
        if rounded:
            # added below, over every cell (listed or not)
            if g not in groups.setdefault(a, []):
                groups[a].append(g)
            if j not in J:
                J.append(j)
            if o not in O:
                O.append(o)
            continue
        if g not in groups.setdefault(a, []):
            groups[a].append(g)
        if j not in J:
            J.append(j)
        if o not in O:
            O.append(o)
        n = P + "counts_by_group_justification_outcome[%s|%s|%s|%s].stops" % (a, g, j, o)
        # rows exist only for non-zero cells: a hidden row is at least 1
        C[(a, g, j, o)] = M.cell(n, r["stops"], r.get("suppressed"), "counts_by_group_justification_outcome.csv", 1)
    for r in bu:
        u, a, g, j, o = r["unit"], r["attribute"], r["group"], r["justification"], r["outcome"]
        if rounded:
            if u not in U:
                U.append(u)
            if g not in groups.setdefault(a, []):
                groups[a].append(g)
            continue
        if u not in U:
            U.append(u)
        if g not in groups.setdefault(a, []):
            groups[a].append(g)
        if j not in J:
            J.append(j)
        if o not in O:
            O.append(o)
        n = P + "counts_by_unit[%s|%s|%s|%s|%s].stops" % (u, a, g, j, o)
        CU[(u, a, g, j, o)] = M.cell(n, r["stops"], r.get("suppressed"), "counts_by_unit.csv", 1)
    if rounded:
        # Every cell is an unknown in [r - (b-1), r + (b-1)]; a cell not
        # listed was 0 or rounded to 0: [0, b-1].  Groups, codes and units
        # from every table.
        for m in (R.get("justification_mix") or []):
            for c in m.get("cells", []):
                if c["group"] not in groups.setdefault(m["attribute"], []):
                    groups[m["attribute"]].append(c["group"])
                if c["justification"] not in J:
                    J.append(c["justification"])
        for o in hit_out:
            if o not in O:
                O.append(o)
        lim = rounded - 1
        vb = {(r["attribute"], r["group"], r["justification"], r["outcome"]): r["stops"] for r in by}
        vu = {(r["unit"], r["attribute"], r["group"], r["justification"], r["outcome"]): r["stops"] for r in bu}
        for a in attrs:
            for g in groups.get(a, []):
                for j in J:
                    for o in O:
                        v = vb.get((a, g, j, o))
                        n = P + "counts_by_group_justification_outcome[%s|%s|%s|%s].stops" % (a, g, j, o)
                        C[(a, g, j, o)] = M.lat(n, 0 if v is None else max(0, v - lim), lim if v is None else v + lim)
                        M.rounded.append(n)
                        for u in U:
                            v = vu.get((u, a, g, j, o))
                            n = P + "counts_by_unit[%s|%s|%s|%s|%s].stops" % (u, a, g, j, o)
                            CU[(u, a, g, j, o)] = M.lat(n, 0 if v is None else max(0, v - lim), lim if v is None else v + lim)
                            M.rounded.append(n)
    refs = {}
    for row in (R.get("outcome_test") or []):
        refs[row["attribute"]] = row["reference"]
        if row["group"] not in groups.setdefault(row["attribute"], []):
            groups[row["attribute"]].append(row["group"])
    for a in attrs:
        if a in refs and refs[a] not in groups[a]:
            groups[a].append(refs[a])

    # coverage (missing values) per field, from data quality or missing_values
    cov, cond_cov = {}, {}
    for dq in (R.get("data_quality") or {}).get("diagnostics", []) or []:
        if dq.get("check") == "coverage" and dq.get("status") != "absent":
            cov[dq["subject"]] = dq
        if dq.get("check") == "conditional_coverage":
            cond_cov[dq["subject"].split("|")[0].strip()] = dq
    mv = R.get("missing_values") or {}

    def missing(field):
        if field in cov and cov[field].get("count") is not None:
            return cov[field]["count"], "data_quality coverage %s count" % field
        if field in mv:
            return mv[field], "missing_values.%s" % field
        if field in cov:
            return None, None
        return None, None

    def sumC(a, g, js=None, os_=None):
        return [(1, C[k]) for k in C if k[0] == a and k[1] == g
                and (js is None or k[2] in js) and (os_ is None or k[3] in os_)]

    total = counts.get("total_stops")
    if total is None:
        total = (R.get("provenance") or {}).get("rows_analyzed")
    tot = M.pub(P + "counts.total_stops", total, "results.json counts") if total is not None else None

    # --- by_unit vs overall -------------------------------------------------
    unit_missing, _ = missing("unit")
    if CU:
        keys = set(k[1:] for k in CU) | set(C)
        for k in sorted(keys):
            terms = [(1, CU[(u,) + k]) for u in U if (u,) + k in CU] + [(-1, C.get(k))]
            if unit_missing == 0:
                M.eq(terms, 0, "sum over units of counts_by_unit = counts_by_group_justification_outcome %s" % (k,), "unit_vs_overall")
            else:
                M.le(terms, 0, "sum over units of counts_by_unit <= counts %s" % (k,), "unit_vs_overall")
    # --- the same stops through every attribute ----------------------------
    for j in J:
        for o in O:
            m = M.lat(P + "margin[%s|%s]" % (j, o))
            for a in attrs:
                terms = [(1, C[k]) for k in C if k[0] == a and k[2] == j and k[3] == o]
                M.eq(terms + [(-1, m)], 0, "sum over %s groups of counts[%s,%s] = margin" % (a, j, o), "cross_attribute")
            for u in U:
                mu = M.lat(P + "unit_margin[%s|%s|%s]" % (u, j, o))
                for a in attrs:
                    terms = [(1, CU[k]) for k in CU if k[0] == u and k[1] == a and k[3] == j and k[4] == o]
                    M.eq(terms + [(-1, mu)], 0, "sum over %s groups of counts_by_unit[%s,%s,%s] = unit margin" % (a, u, j, o), "cross_attribute")
    if tot:
        for a in attrs:
            M.eq([(1, C[k]) for k in C if k[0] == a] + [(-1, tot)], 0, "all %s cells add up to total_stops" % a, "cross_attribute")
    # --- data quality ----------------------------------------------------------
    for dq in (R.get("data_quality") or {}).get("diagnostics", []) or []:
        if dq.get("check") == "heaping" and dq.get("base") is not None:
            b = M.pub(P + "data_quality[heaping|%s].base" % dq["subject"], dq["base"], "data_quality")
            if dq["subject"] == "all":
                if tot:
                    M.eq([(1, b), (-1, tot)], 0, "heaping base (all) = total stops", "data_quality")
            elif dq["subject"] in U:
                u = dq["subject"]
                M.eq([(1, P + "unit_margin[%s|%s|%s]" % (u, j, o)) for j in J for o in O] + [(-1, b)], 0,
                     "heaping base of unit %s = its stops" % u, "data_quality")
    for a in attrs:
        n, src = missing(a)
        if n is not None and "unknown" in groups.get(a, []):
            b = M.pub(P + "%s" % src.replace(" ", "_"), n, "data_quality/missing_values")
            M.eq(sumC(a, "unknown") + [(-1, b)], 0, "group unknown of %s = missing %s" % (a, a), "data_quality")

    # --- group-level canonical expressions ------------------------------------
    def copy(name, expr, label, tag):
        M.eq([(1, name)] + [(-c, n) for c, n in expr], 0, label, tag)

    # --- outcome test ------------------------------------------------------------
    LB = []
    ot = R.get("outcome_test") or []
    for row in ot:
        for f, v in row["stratum"].items():
            if f == "legal_basis" and v not in LB:
                LB.append(v)
    lb_missing, _ = missing("legal_basis")
    lb_ref_has = collections.defaultdict(set)  # attribute -> legal bases where the reference has stops
    for row in ot:
        # a stratum row exists only where the group and the reference both have stops
        if "legal_basis" in row["stratum"]:
            lb_ref_has[row["attribute"]].add(row["stratum"]["legal_basis"])
    lb_rows = set((r["attribute"], r["group"], r["stratum"]["legal_basis"]) for r in ot if "legal_basis" in r["stratum"])

    def L(a, g, l, h):
        # stops of group g with legal basis l and hit h (0/1); 0 when the row is absent although the reference has stops
        if g != refs.get(a) and (a, g, l) not in lb_rows and l in lb_ref_has[a]:
            return None
        if g == refs.get(a) and l not in lb_ref_has[a] and LB and any(r["attribute"] == a for r in ot):
            return None
        return M.lat(P + "legal_basis_cube[%s|%s|%s|%s]" % (a, g, l, "hit" if h else "nohit"))

    ref_copy_done = set()

    def ref_copies(row, table, ref_expr_stops, ref_expr_hits, key):
        """The reference's counts shown on every row (also on hidden rows)."""
        rs, rh = row.get("ref_stops"), row.get("ref_hits")
        if rs is None:
            return
        if key in ref_copy_done:
            return
        tag = "ref_on_hidden_row" if row.get("suppressed") else table
        # prefer a copy from a published row: skip hidden-row copies when a published row carries it
        if row.get("suppressed"):
            pub_exists = any(not r2.get("suppressed") and r2.get("ref_stops") is not None and
                             r2["attribute"] == row["attribute"] and r2.get("stratum") == row.get("stratum") and
                             r2.get("stage") == row.get("stage") for r2 in _rows_of[table])
            if pub_exists:
                return
        ref_copy_done.add(key)
        base = P + "%s[%s|%s|%s%s].ref" % (table, row["attribute"], row["group"], skey(row.get("stratum")),
                                          ("|" + row["stage"]) if row.get("stage") else "")
        n1 = M.cell(base + "_stops", rs, False, table + ".csv" + (" (hidden row)" if row.get("suppressed") else ""))
        n2 = M.cell(base + "_hits", rh, False, table + ".csv" + (" (hidden row)" if row.get("suppressed") else ""))
        if ref_expr_stops is not None:
            copy(n1, ref_expr_stops, "%s ref_stops (%s) = reference's count" % (table, key), tag)
        if ref_expr_hits is not None:
            copy(n2, ref_expr_hits, "%s ref_hits (%s) = reference's count" % (table, key), tag)

    _rows_of = {"outcome_test": ot, "search_funnel": R.get("search_funnel") or [],
                "weak_justification": [w for m in (R.get("justification_mix") or []) for w in m.get("weak_justification", [])]}

    def row_exprs(a, g, stratum):
        if not stratum:
            return sumC(a, g), sumC(a, g, os_=hit_out)
        f, v = list(stratum.items())[0]
        if f == "justification":
            return sumC(a, g, js={v}), sumC(a, g, js={v}, os_=hit_out)
        if f == "legal_basis":
            t0, t1 = L(a, g, v, 0), L(a, g, v, 1)
            return [(1, t0), (1, t1)], [(1, t1)]
        return None, None

    for row in ot:
        a, g, st = row["attribute"], row["group"], row["stratum"]
        ref = row["reference"]
        base = P + "outcome_test[%s|%s|%s]" % (a, g, skey(st))
        hidden = bool(row.get("suppressed"))
        ns = M.cell(base + ".stops", row.get("stops"), hidden, "outcome_test.csv", 1)
        nh = M.cell(base + ".hits", row.get("hits"), hidden, "outcome_test.csv", 0)
        es, eh = row_exprs(a, g, st)
        if es is not None:
            copy(ns, es, "outcome_test stops %s/%s/%s = its cells" % (a, g, skey(st)), "outcome_test")
            copy(nh, eh, "outcome_test hits %s/%s/%s = its cells" % (a, g, skey(st)), "outcome_test")
        else:
            M.le([(1, nh), (-1, ns)], 0, "hits <= stops", "ineq")
        rs, rh = row_exprs(a, ref, st)
        ref_copies(row, "outcome_test", rs, rh, ("ot", a, skey(st)))
    # legal basis cube adds up to the group's stops and hits; the same stops in every attribute
    if LB:
        for a in attrs:
            if not any(r["attribute"] == a for r in ot):
                continue
            for g in groups[a]:
                t0 = [(1, L(a, g, l, 0)) for l in LB] + [(1, L(a, g, l, 1)) for l in LB]
                t1 = [(1, L(a, g, l, 1)) for l in LB]
                if lb_missing != 0:
                    m0 = M.lat(P + "legal_basis_cube[%s|%s|missing|nohit]" % (a, g))
                    m1 = M.lat(P + "legal_basis_cube[%s|%s|missing|hit]" % (a, g))
                    t0 += [(1, m0), (1, m1)]
                    t1 += [(1, m1)]
                M.eq(t0 + [(-c, n) for c, n in sumC(a, g)], 0, "legal-basis strata of %s/%s add up to its stops" % (a, g), "legal_basis")
                M.eq(t1 + [(-c, n) for c, n in sumC(a, g, os_=hit_out)], 0, "legal-basis strata of %s/%s add up to its hits" % (a, g), "legal_basis")
            if lb_missing not in (0, None):
                b = M.pub(P + "data_quality_coverage_legal_basis_count", lb_missing, "data_quality")
                M.eq([(1, P + "legal_basis_cube[%s|%s|missing|%s]" % (a, g, h)) for g in groups[a] for h in ("hit", "nohit")] + [(-1, b)], 0,
                     "missing legal basis = coverage count", "data_quality")
        for l in LB:
            for h in (0, 1):
                m = M.lat(P + "legal_basis_margin[%s|%d]" % (l, h))
                for a in attrs:
                    if not any(r["attribute"] == a for r in ot):
                        continue
                    M.eq([(1, L(a, g, l, h)) for g in groups[a]] + [(-1, m)], 0,
                         "sum over %s groups of legal basis %s = margin" % (a, l), "cross_attribute")

    # --- justification mix ----------------------------------------------------------
    mix_cells = {}
    for m in (R.get("justification_mix") or []):
        a = m["attribute"]
        for c in m.get("cells", []):
            g, j = c["group"], c["justification"]
            n = M.cell(P + "justification_mix_cells[%s|%s|%s].count" % (a, g, j), c.get("count"), c.get("suppressed"),
                       "justification_mix_cells.csv", 0)
            mix_cells[(a, g, j)] = n
            copy(n, sumC(a, g, js={j}), "mix cell %s/%s/%s = its count cells" % (a, g, j), "justification_mix")
            if c.get("share") is not None and not c.get("suppressed"):
                # share = count / group stops, as an exact fraction p/q: q*count = p*stops
                fr = Fraction(c["share"]).limit_denominator(10 ** 7)
                gs = sumC(a, g)
                M.eq([(fr.denominator, n)] + [(-fr.numerator * cc, nn) for cc, nn in gs], 0,
                     "share of mix cell %s/%s = %s" % (g, j, c["share"]), "rate")
        if m.get("stops") is not None:
            b = M.pub(P + "justification_mix[%s].stops" % a, m["stops"], "justification_mix.csv")
            M.eq([(1, C[k]) for k in C if k[0] == a] + [(-1, b)], 0, "mix test stops = all stops", "justification_mix")
        for row in m.get("weak_justification", []):
            g, ref = row["group"], row["reference"]
            base = P + "weak_justification[%s|%s]" % (a, g)
            hidden = bool(row.get("suppressed"))
            ns = M.cell(base + ".stops", row.get("stops"), hidden, "weak_justification.csv", 1)
            nh = M.cell(base + ".hits", row.get("hits"), hidden, "weak_justification.csv", 0)
            copy(ns, sumC(a, g), "weak row stops %s/%s = group stops" % (a, g), "weak_justification")
            copy(nh, sumC(a, g, js=weak_j), "weak row hits %s/%s = weak cells" % (a, g), "weak_justification")
            ref_copies(row, "weak_justification", sumC(a, ref), sumC(a, ref, js=weak_j), ("wj", a))

    # --- stratified (pooled over the strata used) -----------------------------------
    otidx = {(r["attribute"], r["group"], skey(r["stratum"])): r for r in ot}
    for s in (R.get("stratified") or []):
        if s.get("suppressed") or s.get("stops") is None:
            continue
        sb = list(s.get("strata_by") or [])
        if s.get("stage") == "contraband":
            # pooled over every stratum where the group and the reference both searched:
            # at most the group's searches with a known result (and finds)
            a, g = s["attribute"], s["group"]
            ns = M.pub(P + "stratified[%s|%s|contraband].stops" % (a, g), s["stops"], "stratified.csv")
            nh = M.pub(P + "stratified[%s|%s|contraband].hits" % (a, g), s["hits"], "stratified.csv")
            M.le([(1, ns), (-1, M.lat(P + "search_cube[%s|%s].searches_known_result" % (a, g)))], 0,
                 "stratified find rows pool at most the group's searches", "stratified")
            M.le([(1, nh), (-1, M.lat(P + "search_cube[%s|%s].finds" % (a, g)))], 0,
                 "stratified find rows pool at most the group's finds", "stratified")
            continue
        if sb != ["justification"]:
            if set(sb) <= {"justification", "unit"} and CU:
                M.deferred.append((s, sb, CU, U, J, hit_out, P))
            else:
                M.notes.append("stratified %s/%s: strata %s not modelled" % (s["attribute"], s["group"], sb))
            continue
        a, g, ref = s["attribute"], s["group"], s["reference"]
        cands = []
        js_with = [j for j in J if ("%s" % j) and (a, g, "justification=%s" % j) in otidx]
        for S_ in itertools.combinations(js_with, s.get("strata_used") or 0):
            # the reference's counts per stratum are published on every row: they decide the set
            ok = True
            rs = sum(otidx[(a, g, "justification=%s" % j)].get("ref_stops") or 0 for j in S_)
            rh = sum(otidx[(a, g, "justification=%s" % j)].get("ref_hits") or 0 for j in S_)
            if rs != s.get("ref_stops") or rh != s.get("ref_hits"):
                ok = False
            if ok:
                cands.append(S_)
        if len(cands) != 1:
            M.notes.append("stratified %s/%s: %d candidate stratum sets" % (a, g, len(cands)))
            if not cands:
                continue
        S_ = cands[0]
        hid_used = [j for j in S_ if otidx[(a, g, "justification=%s" % j)].get("suppressed")]
        if hid_used:
            M.notes.append("stratified %s/%s pools hidden strata %s" % (a, g, hid_used))
        base = P + "stratified[%s|%s]" % (a, g)
        ns = M.pub(base + ".stops", s["stops"], "stratified.csv")
        nh = M.pub(base + ".hits", s["hits"], "stratified.csv")
        copy(ns, sumC(a, g, js=set(S_)), "stratified stops %s/%s over %s" % (a, g, S_), "stratified")
        copy(nh, sumC(a, g, js=set(S_), os_=hit_out), "stratified hits %s/%s over %s" % (a, g, S_), "stratified")

    # --- search funnel ----------------------------------------------------------------
    sf = R.get("search_funnel") or []
    if sf:
        ss_miss, _ = missing("search_conducted")
        cc = cond_cov.get("contraband_found")
        sk_miss = cc.get("count") if cc else None

        def SS(a, g):
            return M.lat(P + "search_cube[%s|%s].known_status" % (a, g))

        def SR(a, g):
            return M.lat(P + "search_cube[%s|%s].searches" % (a, g))

        def SK(a, g):
            return M.lat(P + "search_cube[%s|%s].searches_known_result" % (a, g))

        def SF(a, g):
            return M.lat(P + "search_cube[%s|%s].finds" % (a, g))
        sf_attrs = []
        for r in sf:
            if r["attribute"] not in sf_attrs:
                sf_attrs.append(r["attribute"])
        for row in sf:
            a, g, ref, stage = row["attribute"], row["group"], row["reference"], row["stage"]
            base = P + "search_funnel[%s|%s|%s]" % (a, g, stage)
            hidden = bool(row.get("suppressed"))
            ns = M.cell(base + ".stops", row.get("stops"), hidden, "search_funnel.csv", 1)
            nh = M.cell(base + ".hits", row.get("hits"), hidden, "search_funnel.csv", 0)
            if stage == "search":
                copy(ns, [(1, SS(a, g))], "search row stops", "search_funnel")
                copy(nh, [(1, SR(a, g))], "search row searches", "search_funnel")
                ref_copies(row, "search_funnel", [(1, SS(a, ref))], [(1, SR(a, ref))], ("sf", a, stage))
            else:
                copy(ns, [(1, SK(a, g))], "contraband row searches", "search_funnel")
                copy(nh, [(1, SF(a, g))], "contraband row finds", "search_funnel")
                ref_copies(row, "search_funnel", [(1, SK(a, ref))], [(1, SF(a, ref))], ("sf", a, stage))
        # groups without a contraband row have no searches with a known result
        have_c = set((r["attribute"], r["group"]) for r in sf if r["stage"] == "contraband")
        have_s = set((r["attribute"], r["group"]) for r in sf if r["stage"] == "search")
        ref_c = set(r["attribute"] for r in sf if r["stage"] == "contraband" and (r.get("ref_stops") or 0) > 0)
        for a in sf_attrs:
            for g in groups[a]:
                if g != refs.get(a) and (a, g) not in have_c and a in ref_c:
                    M.eq([(1, SK(a, g))], 0, "no contraband row: no searches with a known result", "search_funnel")
                ex = [(-c, n) for c, n in sumC(a, g)]
                if ss_miss == 0:
                    M.eq([(1, SS(a, g))] + ex, 0, "search status known for all stops of %s/%s" % (a, g), "search_funnel")
                else:
                    M.le([(1, SS(a, g))] + ex, 0, "known search status <= stops", "search_funnel")
                M.le([(1, SR(a, g)), (-1, SS(a, g))], 0, "searches <= stops", "ineq")
                if sk_miss == 0:
                    M.eq([(1, SK(a, g)), (-1, SR(a, g))], 0, "contraband result known for every search", "search_funnel")
                else:
                    M.le([(1, SK(a, g)), (-1, SR(a, g))], 0, "known results <= searches", "ineq")
                M.le([(1, SF(a, g)), (-1, SK(a, g))], 0, "finds <= searches", "ineq")
        tsr = M.lat(P + "search_cube.total_searches")
        tsf = M.lat(P + "search_cube.total_finds")
        for a in sf_attrs:
            M.eq([(1, SR(a, g)) for g in groups[a]] + [(-1, tsr)], 0, "sum over %s groups of searches" % a, "cross_attribute")
            M.eq([(1, SF(a, g)) for g in groups[a]] + [(-1, tsf)], 0, "sum over %s groups of finds" % a, "cross_attribute")
        if cc and cc.get("base") is not None:
            b = M.pub(P + "data_quality[conditional_coverage|contraband_found].base", cc["base"], "data_quality")
            M.eq([(1, tsr), (-1, b)], 0, "searches = conditional coverage base", "data_quality")

    # --- population benchmark -----------------------------------------------------------
    pb = R.get("population_benchmark") or []
    same = True
    for row in pb:
        o = otidx.get((row["attribute"], row["group"], "overall"))
        if row.get("stops") is not None and o and o.get("stops") is not None and o["stops"] != row["stops"]:
            same = False
    for row in pb:
        a, g, ref = row["attribute"], row["group"], row["reference"]
        base = P + "population_benchmark[%s|%s]" % (a, g)
        # a row is hidden only when its stops are small (no complementary suppression)
        ns = M.cell(base + ".stops", row.get("stops"), row.get("suppressed"), "population_benchmark.csv", 1, min_cell - 1)
        if same:
            copy(ns, sumC(a, g), "population stops = group stops", "population_benchmark")
        else:
            M.le([(1, ns)] + [(-c, n) for c, n in sumC(a, g)], 0, "population stops <= group stops", "population_benchmark")

    # --- veil of darkness -----------------------------------------------------------------
    veil = R.get("veil_of_darkness") or {}
    vst = veil.get("stops") or {}
    vres = veil.get("results") or []
    vattrs = []
    for r in vres:
        if r["attribute"] not in vattrs:
            vattrs.append(r["attribute"])
    for a in vattrs:
        ref = next(r["reference"] for r in vres if r["attribute"] == a)
        for cls, fld in (("daylight", "daylight"), ("dark", "dark")):
            terms = [(1, M.lat(P + "veil_cube[%s|%s|%s]" % (a, g, cls))) for g in groups[a]]
            if vst.get(fld) is not None:
                b = M.pub(P + "veil_of_darkness.stops.%s" % fld, vst[fld], "veil_of_darkness")
                M.eq(terms + [(-1, b)], 0, "sum over %s groups of %s stops" % (a, cls), "veil_totals")
        for g in groups[a]:
            M.le([(1, P + "veil_cube[%s|%s|daylight]" % (a, g)), (1, P + "veil_cube[%s|%s|dark]" % (a, g))] +
                 [(-c, n) for c, n in sumC(a, g)], 0, "window stops <= group stops", "veil")
        done_ref = False
        for r in vres:
            if r["attribute"] != a:
                continue
            g = r["group"]
            base = P + "veil_of_darkness[%s|%s]" % (a, g)
            st = r.get("stops") or {}
            hidden = bool(r.get("suppressed"))
            for fld, who, cls in (("group_daylight", g, "daylight"), ("group_dark", g, "dark")):
                n = M.cell(base + "." + fld, st.get(fld), hidden, "veil_of_darkness.csv", 0)
                copy(n, [(1, P + "veil_cube[%s|%s|%s]" % (a, who, cls))], "veil %s" % fld, "veil")
            if not hidden and not done_ref:
                done_ref = True
                for fld, cls in (("ref_daylight", "daylight"), ("ref_dark", "dark")):
                    n = M.cell(base + "." + fld, st.get(fld), False, "veil_of_darkness.csv")
                    copy(n, [(1, P + "veil_cube[%s|%s|%s]" % (a, ref, cls))], "veil %s" % fld, "veil")
            cc_ = r.get("clock_change") or {}
            cst = cc_.get("stops") or {}
            if cc_:
                for fld, cls in (("group_daylight", "daylight"), ("group_dark", "dark")):
                    n = M.cell(base + ".clock_change." + fld, cst.get(fld), cc_.get("suppressed"), "veil_of_darkness.csv", 0)
                    M.le([(1, n), (-1, P + "veil_cube[%s|%s|%s]" % (a, g, cls))], 0, "clock-change stops <= window stops", "veil")

    # --- trends ------------------------------------------------------------------------------
    tr = R.get("trends") or {}
    periods = tr.get("periods") or []
    series = tr.get("series") or []
    swp = tr.get("stops_without_period")
    if series:
        tattrs = []
        for s in series:
            if s["attribute"] not in tattrs:
                tattrs.append(s["attribute"])

        def T(kind, a, g, p):
            return M.lat(P + "trend_cube[%s|%s|%s|%s]" % (kind, a, g, p))
        for s in series:
            a, g, ref, meas = s["attribute"], s["group"], s["reference"], s["measure"]
            for pt in s["points"]:
                p = pt["period"]
                base = P + "trends[%s|%s|%s|%s]" % (a, g, meas, p)
                hidden = bool(pt.get("suppressed"))
                nn = M.cell(base + ".numerator", pt.get("numerator"), hidden, "trends.csv", 0)
                nd = M.cell(base + ".denominator", pt.get("denominator"), hidden, "trends.csv", 0)
                if meas == "share_of_stops":
                    copy(nn, [(1, T("stops", a, g, p))], "trend numerator = group stops in period", "trends")
                    copy(nd, [(1, M.lat(P + "trend_cube[period_total|%s]" % p))], "trend denominator = period stops", "trends")
                elif meas == "weak_justification_share":
                    copy(nn, [(1, T("weak", a, g, p))], "trend weak numerator", "trends")
                    copy(nd, [(1, T("stops", a, g, p))], "trend weak denominator = group stops in period", "trends")
                elif meas == "hit_rate_ratio":
                    copy(nn, [(1, T("hits", a, g, p))], "trend hits", "trends")
                    copy(nd, [(1, T("stops", a, g, p))], "trend hit denominator = group stops in period", "trends")
                    if pt.get("ref_numerator") is not None:
                        n1 = M.pub(base + ".ref_numerator", pt["ref_numerator"], "trends.csv")
                        copy(n1, [(1, T("hits", a, ref, p))], "trend ref hits", "trends")
                    if pt.get("ref_denominator") is not None:
                        n2 = M.pub(base + ".ref_denominator", pt["ref_denominator"], "trends.csv")
                        copy(n2, [(1, T("stops", a, ref, p))], "trend ref stops", "trends")
        for a in tattrs:
            for g in groups[a]:
                for kind, expr in (("stops", sumC(a, g)), ("weak", sumC(a, g, js=weak_j)), ("hits", sumC(a, g, os_=hit_out))):
                    terms = [(1, T(kind, a, g, p)) for p in periods]
                    if swp == 0:
                        M.eq(terms + [(-c, n) for c, n in expr], 0, "periods of %s/%s add up (%s)" % (a, g, kind), "trend_periods")
                    else:
                        M.le(terms + [(-c, n) for c, n in expr], 0, "periods of %s/%s add up to at most (%s)" % (a, g, kind), "trend_periods")
                for p in periods:
                    M.le([(1, T("weak", a, g, p)), (-1, T("stops", a, g, p))], 0, "weak <= stops", "ineq")
                    M.le([(1, T("hits", a, g, p)), (-1, T("stops", a, g, p))], 0, "hits <= stops", "ineq")
            for p in periods:
                M.eq([(1, T("stops", a, g, p)) for g in groups[a]] + [(-1, P + "trend_cube[period_total|%s]" % p)], 0,
                     "sum over %s groups of period %s stops = published period total" % (a, p), "trend_periods")
                for kind in ("weak", "hits"):
                    M.eq([(1, T(kind, a, g, p)) for g in groups[a]] + [(-1, M.lat(P + "trend_cube[%s_total|%s]" % (kind, p)))], 0,
                         "sum over %s groups of period %s %s" % (a, p, kind), "cross_attribute")
        if swp == 0 and tot:
            M.eq([(1, P + "trend_cube[period_total|%s]" % p) for p in periods] + [(-1, tot)], 0, "periods add up to total", "trend_periods")

    # --- findings about hidden rows (insufficient_data) ------------------------------------------
    lo_b, hi_b = band
    for f in (R.get("findings") or []):
        if f.get("severity") != "insufficient_data" or not f.get("group"):
            continue
        an, a, g, st = f.get("analysis"), f.get("attribute"), f.get("group"), f.get("stratum") or {}
        if an == "outcome_test":
            row = otidx.get((a, g, skey(st)))
            if not row or not row.get("suppressed") or not row.get("ref_stops") or row.get("ref_hits") is None:
                continue
            rr = row["ref_hits"] / row["ref_stops"]
            b = P + "outcome_test[%s|%s|%s]" % (a, g, skey(st))
            M.le([(1, b + ".hits"), (-lo_b * rr, b + ".stops")], 0,
                 "finding %s (insufficient_data): rate ratio below %.2f" % (f.get("id"), lo_b), "finding")
        elif an == "search_funnel":
            row = next((r for r in sf if r["attribute"] == a and r["group"] == g and r["stage"] == f.get("stage")), None)
            if not row or not row.get("suppressed") or not row.get("ref_stops") or row.get("ref_hits") is None:
                continue
            rr = row["ref_hits"] / row["ref_stops"]
            b = P + "search_funnel[%s|%s|%s]" % (a, g, row["stage"])
            if row["stage"] == "search":
                M.le([(-1, b + ".hits"), (hi_b * rr, b + ".stops")], 0, "finding %s: search rate ratio above %.2f" % (f.get("id"), hi_b), "finding")
            else:
                M.le([(1, b + ".hits"), (-lo_b * rr, b + ".stops")], 0, "finding %s: find rate ratio below %.2f" % (f.get("id"), lo_b), "finding")
        elif an == "justification_mix":
            rows = _rows_of["weak_justification"]
            row = next((r for r in rows if r["attribute"] == a and r["group"] == g), None)
            if not row or not row.get("suppressed") or not row.get("ref_stops") or row.get("ref_hits") is None:
                continue
            rr = row["ref_hits"] / row["ref_stops"]
            b = P + "weak_justification[%s|%s]" % (a, g)
            M.le([(-1, b + ".hits"), (hi_b * rr, b + ".stops")], 0, "finding %s: weak share ratio above %.2f" % (f.get("id"), hi_b), "finding")

    M.min_cell = min_cell
    ctx = {"attrs": attrs, "groups": groups, "J": J, "O": O, "U": U, "C": C, "CU": CU, "refs": refs,
           "mix_cells": mix_cells, "hit_out": hit_out, "weak_j": weak_j, "min_cell": min_cell, "LB": LB,
           "periods": periods}
    return M, ctx


def stratified_units(M, s, sb, CU, U, J, hit_out, P, lp):
    """A stratified row pooled over strata of unit (and justification): the
    strata used are not named, but the reference's counts per stratum are
    (mostly) in counts_by_unit.  The strata whose reference counts can add
    up to the row's ref_stops and ref_hits (each stratum's count within its
    range given everything else published) are the candidates; when one set
    fits, its group and reference totals are sums of counts_by_unit cells,
    hidden ones included."""
    a, g, ref = s["attribute"], s["group"], s["reference"]
    strata = [(j, u) for u in U for j in J] if "justification" in sb else [(None, u) for u in U]
    nv = len(lp.vars)

    def cells(who, j, u, hits=False):
        return [n for k, n in CU.items() if k[0] == u and k[1] == a and k[2] == who and (j is None or k[3] == j)
                and (not hits or k[4] in hit_out)]

    def rng(names):
        const = sum(M.q[n]["value"] for n in names if M.q[n]["kind"] == "pub")
        var = [lp.idx[n] for n in names if M.q[n]["kind"] != "pub" and n in lp.idx]
        if not var:
            return const, const
        c = np.zeros(nv)
        c[var] = 1
        r1 = lp.solve(c)
        r2 = lp.solve(-c)
        if r1.status != 0 or r2.status != 0:
            return None
        return const + math.ceil(r1.fun - 1e-6), const + math.floor(-r2.fun + 1e-6)
    rows, idx = [], []
    k = M.min_cell if hasattr(M, "min_cell") else 10

    def not_small(lo, hi):
        # a count the outcome test would publish: 0 or at least min_cell
        return lo == 0 or hi >= k
    for i, (j, u) in enumerate(strata):
        cs, cg = cells(ref, j, u), cells(g, j, u)
        if not cs or not cg:
            continue  # a stratum where the group or the reference has no stops is dropped, not used
        rr = [rng(cs), rng(cells(ref, j, u, True)), rng(cg), rng(cells(g, j, u, True))]
        if any(x is None for x in rr):
            continue
        (rs0, rs1), (rh0, rh1), (gs0, gs1), (gh0, gh1) = rr
        # used strata publish their counts: no hit or non-hit count from 1 to min_cell-1
        if not (not_small(rh0, rh1) and not_small(max(rs0 - rh1, 0), rs1 - rh0) and
                not_small(gh0, gh1) and not_small(max(gs0 - gh1, 0), gs1 - gh0)):
            continue
        idx.append(i)
        rows.append((rs0, rs1, rh0, rh1, gs0, gs1, gh0, gh1))
    k_used = s.get("strata_used") or 0
    if not idx or k_used == 0:
        return
    T = np.array(rows, dtype=float).T
    A = np.vstack([T, np.ones(len(idx))])
    R_s, R_h = s["ref_stops"], s["ref_hits"]
    G_s, G_h = s["stops"], s["hits"]
    lo = [-np.inf, R_s, -np.inf, R_h, -np.inf, G_s, -np.inf, G_h, k_used]
    hi = [R_s, np.inf, R_h, np.inf, G_s, np.inf, G_h, np.inf, k_used]
    cons = [LinearConstraint(A, lo, hi)]
    sols = []
    for _ in range(2):
        r = milp(np.zeros(len(idx)), constraints=cons, integrality=np.ones(len(idx)),
                 bounds=Bounds(0, 1), options={"time_limit": 10})
        if r.status != 0:
            break
        chosen = [idx[t] for t in range(len(idx)) if r.x[t] > 0.5]
        sols.append(chosen)
        cut = np.array([[1.0 if i_ in chosen else 0.0 for i_ in idx]])
        cons.append(LinearConstraint(cut, -np.inf, k_used - 1))
    if len(sols) != 1:
        M.notes.append("stratified %s/%s (%s): %s set of strata fits the reference's counts" %
                       (a, g, "+".join(sb), "no" if not sols else "more than one"))
        return
    S_ = [strata[i] for i in sols[0]]
    base = P + "stratified[%s|%s]" % (a, g)
    vals = (("stops", s["stops"], g, False), ("hits", s["hits"], g, True),
            ("ref_stops", R_s, ref, False), ("ref_hits", R_h, ref, True))
    for fld, v, who, hits in vals:
        n = M.pub(base + "." + fld, v, "stratified.csv")
        terms = [(1, c) for (j, u) in S_ for c in cells(who, j, u, hits)]
        M.eq([(1, n)] + [(-c, m) for c, m in terms], 0,
             "stratified %s %s/%s = sum over the strata used %s (identified from the reference's counts)" % (fld, a, g, S_[:4]),
             "stratified")
    M.notes.append("stratified %s/%s: the %d strata used identified: %s" % (a, g, len(S_), S_[:6]))


# --------------------------------------------------------------------------
# Solving
# --------------------------------------------------------------------------


class LP:
    def __init__(self, M, drop_tags=()):
        self.M = M
        self.vars = [n for n, q in M.q.items() if q["kind"] != "pub"]
        self.idx = {n: i for i, n in enumerate(self.vars)}
        nv = len(self.vars)
        rows, cols, vals, b, self.eq_meta = [], [], [], [], []
        self.inconsistent = []
        for t, const, label, tag in M.eqs:
            if tag in drop_tags:
                continue
            rhs = const
            vs = []
            for n, c in t.items():
                q = M.q.get(n)
                if q is None:
                    M.lat(n)
                    q = M.q[n]
                if q["kind"] == "pub":
                    rhs -= c * q["value"]
                else:
                    if n not in self.idx:
                        self.idx[n] = len(self.vars)
                        self.vars.append(n)
                    vs.append((self.idx[n], c))
            if not vs:
                if abs(rhs) > 1e-6:
                    self.inconsistent.append((label, rhs))
                continue
            r = len(b)
            for i, c in vs:
                rows.append(r)
                cols.append(i)
                vals.append(c)
            b.append(rhs)
            self.eq_meta.append((t, const, label, tag))
        nv = len(self.vars)
        self.Aeq = sparse.csr_matrix((vals, (rows, cols)), shape=(len(b), nv)) if b else None
        self.beq = np.array(b, dtype=float)
        rows, cols, vals, b, self.ub_meta = [], [], [], [], []
        for t, const, label, tag in M.ineqs:
            if tag in drop_tags:
                continue
            rhs = const
            vs = []
            for n, c in t.items():
                q = M.q.get(n)
                if q is None:
                    continue
                if q["kind"] == "pub":
                    rhs -= c * q["value"]
                else:
                    if n not in self.idx:
                        continue
                    vs.append((self.idx[n], c))
            if not vs:
                if rhs < -1e-6:
                    self.inconsistent.append((label, rhs))
                continue
            r = len(b)
            for i, c in vs:
                rows.append(r)
                cols.append(i)
                vals.append(c)
            b.append(rhs)
            self.ub_meta.append((t, const, label, tag))
        self.Aub = sparse.csr_matrix((vals, (rows, cols)), shape=(len(b), nv)) if b else None
        self.bub = np.array(b, dtype=float)
        self.lb = np.array([M.q[n].get("lb", 0) or 0 for n in self.vars], dtype=float)
        self.ub = np.array([M.q[n].get("ub") if M.q[n].get("ub") is not None else np.inf for n in self.vars], dtype=float)
        self.bounds = list(zip(self.lb, [None if math.isinf(u) else u for u in self.ub]))

    def _highs(self):
        """scipy's bundled HiGHS object, kept between solves (simplex hot
        start: about 3x faster than linprog per solve)."""
        if getattr(self, "_h", None) is not None or getattr(self, "_no_h", False):
            return self._h if not getattr(self, "_no_h", False) else None
        try:
            from scipy.optimize._highspy import _core
            h = _core._Highs()
            h.setOptionValue("output_flag", False)
            inf = h.getInfinity()
            nv = len(self.vars)
            h.addVars(nv, self.lb.astype(float), np.where(np.isinf(self.ub), inf, self.ub).astype(float))
            self.n_eq = 0
            if self.Aeq is not None:
                A = self.Aeq.tocsr()
                h.addRows(A.shape[0], self.beq, self.beq, A.nnz, A.indptr[:-1].astype(np.int32),
                          A.indices.astype(np.int32), A.data.astype(float))
                self.n_eq = A.shape[0]
            if self.Aub is not None:
                B = self.Aub.tocsr()
                h.addRows(B.shape[0], np.full(B.shape[0], -inf), self.bub, B.nnz, B.indptr[:-1].astype(np.int32),
                          B.indices.astype(np.int32), B.data.astype(float))
            self._h = h
            self._cost = np.zeros(nv)
            self._all = np.arange(nv, dtype=np.int32)
        except Exception:  # pragma: no cover - fall back to linprog
            self._h, self._no_h = None, True
        return self._h

    def solve(self, c):
        h = self._highs()
        if h is None:
            r = linprog(c, A_ub=self.Aub, b_ub=self.bub if self.Aub is not None else None,
                        A_eq=self.Aeq, b_eq=self.beq if self.Aeq is not None else None,
                        bounds=self.bounds, method="highs")
            if r.status == 0:
                r.eq_dual = r.eqlin.marginals if self.Aeq is not None else np.zeros(0)
                r.ub_dual = r.ineqlin.marginals if self.Aub is not None else np.zeros(0)
                r.col_dual = r.lower.marginals + r.upper.marginals
            return r
        c = np.asarray(c, dtype=float)
        ch = np.nonzero(c != self._cost)[0]
        if len(ch):
            h.changeColsCost(len(ch), ch.astype(np.int32), c[ch])
            self._cost = c.copy()
        h.run()
        st = h.modelStatusToString(h.getModelStatus())

        class Res:
            pass
        r = Res()
        r.status = 0 if st == "Optimal" else 2
        r.message = st
        if r.status == 0:
            sol = h.getSolution()
            r.fun = h.getObjectiveValue()
            r.x = np.array(sol.col_value)
            rd = np.array(sol.row_dual)
            r.eq_dual, r.ub_dual = rd[:self.n_eq], rd[self.n_eq:]
            r.col_dual = np.array(sol.col_dual)
        return r

    def int_range(self, i, lo, hi):
        """Tightens [lo, hi] of variable i with integer programs."""
        nv = len(self.vars)
        cons = []
        if self.Aeq is not None:
            cons.append(LinearConstraint(self.Aeq, self.beq, self.beq))
        if self.Aub is not None:
            cons.append(LinearConstraint(self.Aub, -np.inf, self.bub))
        integ = np.ones(nv)
        out = []
        for sgn in (1, -1):
            c = np.zeros(nv)
            c[i] = sgn
            r = milp(c, constraints=cons, integrality=integ, bounds=Bounds(self.lb, self.ub),
                     options={"time_limit": 20})
            if r.status == 0 or (r.x is not None):
                out.append(sgn * r.fun if r.status == 0 else None)
            else:
                out.append(None)
        l2 = lo if out[0] is None else max(lo, math.ceil(out[0] - 1e-6))
        h2 = hi if out[1] is None else min(hi, math.floor(out[1] + 1e-6))
        return l2, h2


def certificate(lp, res, limit=14):
    """Relations with non-zero duals: what the bound was derived from."""
    if res is None or res.status != 0:
        return [], [], []
    return (list(np.nonzero(np.abs(res.eq_dual) > 1e-9)[0]), list(np.nonzero(np.abs(res.ub_dual) > 1e-9)[0]),
            list(np.nonzero(np.abs(res.col_dual) > 1e-9)[0]))


ILP = False


def solve_all(M, targets, lp=None, screen=60, verbose=True):
    t0 = time.time()
    lp = lp or LP(M)
    if lp.inconsistent:
        print("WARNING: %d relations do not hold on the published numbers (model error?), e.g. %s" %
              (len(lp.inconsistent), lp.inconsistent[:3]), file=sys.stderr)
    nv = len(lp.vars)
    if verbose:
        print("model: %d unknowns (%d hidden targets), %d equations, %d inequalities" %
              (nv, len(targets), lp.Aeq.shape[0] if lp.Aeq is not None else 0,
               lp.Aub.shape[0] if lp.Aub is not None else 0), file=sys.stderr)
    r0 = lp.solve(np.zeros(nv))
    if r0.status != 0:
        print("WARNING: the relations are infeasible (%s); trying family by family" % r0.message, file=sys.stderr)
        for tag in sorted(set(t for _, _, _, t in M.eqs) | set(t for _, _, _, t in M.ineqs)):
            l2 = LP(M, drop_tags=(tag,))
            if l2.solve(np.zeros(len(l2.vars))).status == 0:
                print("  feasible without family %r: dropping it" % tag, file=sys.stderr)
                return solve_all(M, targets, l2, screen, verbose)
        return {}, lp
    rng = np.random.default_rng(1)
    sols = [r0.x]
    for _ in range(screen):
        c = rng.normal(size=nv)
        r = lp.solve(c)
        if r.status == 0:
            sols.append(r.x)
    S = np.array(sols)
    tidx = [lp.idx[t] for t in targets if t in lp.idx]
    spread = S[:, tidx].max(0) - S[:, tidx].min(0)
    cand = [t for t, sp in zip([t for t in targets if t in lp.idx], spread) if sp <= 3.0 + 1e-6]
    if verbose:
        print("screen: %d of %d targets may be narrow (%.1fs)" % (len(cand), len(tidx), time.time() - t0), file=sys.stderr)
    out = {}
    n_ilp = 0
    for t in cand:
        i = lp.idx[t]
        c = np.zeros(nv)
        c[i] = 1
        rmin = lp.solve(c)
        c[i] = -1
        rmax = lp.solve(c)
        if rmin.status != 0 or rmax.status != 0:
            continue
        lo, hi = math.ceil(rmin.fun - 1e-6), math.floor(-rmax.fun + 1e-6)
        how = "lp"
        if ILP and hi - lo > 2 and hi - lo <= 5:
            n_ilp += 1
            l2, h2 = lp.int_range(i, lo, hi)
            if (l2, h2) != (lo, hi):
                how = "ilp"
            lo, hi = l2, h2
        if hi - lo <= 2:
            out[t] = {"lo": lo, "hi": hi, "how": how, "cert_min": certificate(lp, rmin), "cert_max": certificate(lp, rmax)}
    if verbose:
        print("solved in %.1fs: %d recovered (%d integer programs)" % (time.time() - t0, len(out), n_ilp), file=sys.stderr)
    return out, lp


def cert_tags(lp, rec):
    tags = set()
    fixed = rec.get("chi2_fixed") or set()
    for cert in (rec["cert_min"], rec["cert_max"]):
        for k in cert[0]:
            tags.add(lp.eq_meta[k][3])
        for k in cert[1]:
            tags.add(lp.ub_meta[k][3])
        for k in cert[2]:
            tags.add("chi2" if lp.vars[k] in fixed else "bounds")
    return tags


def cert_numbers(lp, rec, limit=12):
    M = lp.M
    nums, labels = collections.OrderedDict(), []
    for cert in (rec["cert_min"], rec["cert_max"]):
        for k in cert[0]:
            t, _, label, tag = lp.eq_meta[k]
            if label not in labels:
                labels.append(label)
            for n in t:
                if M.q[n]["kind"] == "pub":
                    nums[n] = M.q[n]["value"]
        for k in cert[1]:
            t, _, label, tag = lp.ub_meta[k]
            if label not in labels:
                labels.append(label)
            for n in t:
                if M.q[n]["kind"] == "pub":
                    nums[n] = M.q[n]["value"]
        for k in cert[2]:
            n = lp.vars[k]
            q = M.q[n]
            lab = "%s >= %s (hidden, not zero)" % (n, q.get("lb")) if q["kind"] == "hid" else "%s >= 0" % n
            if lab not in labels:
                labels.append(lab)
    return nums, labels


# --------------------------------------------------------------------------
# Non-linear attacks
# --------------------------------------------------------------------------


def chi2_attack(R, M, ctx, ranges):
    """The mix table's chi-square is computed from every cell, hidden ones
    too: search the hidden cells' joint values (within their ranges and the
    row/column totals) for the ones that give the published chi-square."""
    out = {}
    for m in (R.get("justification_mix") or []):
        a = m["attribute"]
        if m.get("chi2") is None:
            continue
        cells = m.get("cells", [])
        hid = [c for c in cells if c.get("suppressed")]
        if not hid:
            continue
        gs, js = [], []
        for c in cells:
            if c["group"] not in gs:
                gs.append(c["group"])
            if c["justification"] not in js:
                js.append(c["justification"])
        names = [ctx["mix_cells"][(a, c["group"], c["justification"])] for c in hid]
        rng_ = []
        for n in names:
            lo, hi = ranges.get(n, (0, None))
            if hi is None:
                hi = lo + 200
            rng_.append(range(int(lo), int(hi) + 1))
        # row totals (group stops) and column totals (justification stops) from the published numbers
        rowtot = {}
        for g in gs:
            r = next((x for x in (R.get("outcome_test") or []) if x["attribute"] == a and x["group"] == g and not x["stratum"]), None)
            v = r.get("stops") if r else None
            if v is None:
                r2 = next((x for x in (R.get("population_benchmark") or []) if x["attribute"] == a and x["group"] == g), None)
                v = r2.get("stops") if r2 else None
            if v is None:
                r3 = next((x for x in (R.get("outcome_test") or []) if x["attribute"] == a and x["reference"] == g), None)
                v = r3.get("ref_stops") if r3 and not r3["stratum"] else None
            rowtot[g] = v
        n_all = m.get("stops")
        size = 1
        for r_ in rng_:
            size *= len(r_)
        if size > 3_000_000:
            M.notes.append("chi2 attack on %s: %d combinations, skipped" % (a, size))
            continue
        base = np.zeros((len(gs), len(js)))
        for c in cells:
            if not c.get("suppressed"):
                base[gs.index(c["group"]), js.index(c["justification"])] = c["count"] or 0
        pos = [(gs.index(c["group"]), js.index(c["justification"])) for c in hid]
        sols = []
        for combo in itertools.product(*rng_):
            T = base.copy()
            for (i, j), v in zip(pos, combo):
                T[i, j] = v
            if n_all is not None and abs(T.sum() - n_all) > 0.5:
                continue
            ok = True
            for g, v in rowtot.items():
                if v is not None and abs(T[gs.index(g)].sum() - v) > 0.5:
                    ok = False
                    break
            if not ok:
                continue
            T2 = T[T.sum(1) > 0][:, T.sum(0) > 0]
            if T2.shape[0] - 1 <= 0 or T2.shape[1] - 1 <= 0:
                continue
            if m.get("df") is not None and (T2.shape[0] - 1) * (T2.shape[1] - 1) != m["df"]:
                continue
            E = np.outer(T2.sum(1), T2.sum(0)) / T2.sum()
            chi = float(((T2 - E) ** 2 / E).sum())
            if abs(chi - m["chi2"]) <= 1e-7 * max(1.0, abs(m["chi2"])):
                sols.append(combo)
        if not sols:
            M.notes.append("chi2 attack on %s: no combination matched" % a)
            continue
        S = np.array(sols)
        for k, n in enumerate(names):
            lo, hi = int(S[:, k].min()), int(S[:, k].max())
            if hi - lo <= 2:
                out[n] = {"lo": lo, "hi": hi, "how": "chi2",
                          "nums": {"justification_mix[%s].chi2" % a: m["chi2"], "justification_mix[%s].df" % a: m.get("df"),
                                   "justification_mix[%s].stops" % a: n_all},
                          "labels": ["Pearson chi-square of the %s x justification table (hidden cells included) = %r; %d joint solution(s) within the linear ranges" % (a, m["chi2"], len(sols))]}
    return out


def wilson(x, n, z):
    if n == 0:
        return None
    p = x / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def rate_attack(R):
    """A rate with its Wilson interval published while its counts are hidden."""
    conf = (R.get("settings") or {}).get("confidence", 0.95)
    from statistics import NormalDist
    z = NormalDist().inv_cdf(0.5 + conf / 2)
    found = []

    def walk(x, path):
        if isinstance(x, dict):
            for rk, ck, nk, dk in (("rate", "rate_ci", "hits", "stops"), ("share", "share_ci", "count", None),
                                   ("value", "ci", "numerator", "denominator")):
                if x.get(rk) is not None and x.get(ck) and (x.get(nk) is None or (dk and x.get(dk) is None)):
                    if not isinstance(x.get(rk), (int, float)):
                        continue
                    r_, (lo, hi) = x[rk], x[ck]
                    sols = []
                    for n in range(1, 5000):
                        xx = round(r_ * n)
                        if abs(xx / n - r_) > 1e-12:
                            continue
                        w = wilson(xx, n, z)
                        if w and abs(w[0] - lo) < 1e-9 and abs(w[1] - hi) < 1e-9:
                            sols.append((xx, n))
                    if sols:
                        found.append((path, rk, sols[:3]))
            for k, v in x.items():
                walk(v, path + "." + k)
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, "%s[%d]" % (path, i))
    walk({k: v for k, v in R.items() if not k.startswith("_")}, "")
    return found


def direct_small(R):
    """Published counts from 1 to min_cell-1 (the rule says they are never shown)."""
    k = (R.get("settings") or {}).get("min_cell", 10) or 10
    CNT = {"stops", "hits", "ref_stops", "ref_hits", "count", "numerator", "denominator", "ref_numerator",
           "ref_denominator", "group_daylight", "group_dark", "ref_daylight", "ref_dark", "searches", "observed"}
    out = []

    def walk(x, path):
        if isinstance(x, dict):
            for key, v in x.items():
                if key in CNT and isinstance(v, int) and not isinstance(v, bool) and 1 <= v < k:
                    out.append((path + "." + key, v, {kk: vv for kk, vv in x.items() if isinstance(vv, (str, dict)) and kk in ("attribute", "group", "reference", "stratum", "stage", "unit", "justification", "outcome", "period", "measure")}))
                # the complement of a small hit count (non-hits) on a row
            if isinstance(x.get("ref_stops"), int) and isinstance(x.get("ref_hits"), int):
                nh = x["ref_stops"] - x["ref_hits"]
                if 1 <= nh < k:
                    out.append((path + ".ref_stops-ref_hits", nh, {kk: x.get(kk) for kk in ("attribute", "group", "reference", "stratum")}))
            for kk, v in x.items():
                walk(v, path + "." + kk)
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, "%s[%d]" % (path, i))
    doc = {k_: v for k_, v in R.items() if not k_.startswith("_")}
    if (doc.get("counts") or {}).get("rounded_to"):
        # rounded counts (multiples of the base) are not the counts themselves
        doc["counts"] = {k_: v for k_, v in doc["counts"].items() if k_ not in ("by_group_justification_outcome", "by_unit")}
    walk(doc, "")
    return out


# --------------------------------------------------------------------------
# Classification and printing
# --------------------------------------------------------------------------

CORE = {"outcome_test", "justification_mix", "weak_justification", "population_benchmark", "search_funnel",
        "veil", "trends", "legal_basis", "ineq", "across_runs"}
CLASSES = collections.OrderedDict([
    ("core", "linked tables of one attribute: a count hidden in one table is shown or derivable in another"),
    ("cross_attribute", "sums over groups vs the other attributes' totals (same stops, every attribute)"),
    ("unit_vs_overall", "counts_by_unit vs the overall table (overall minus other units)"),
    ("ref_on_hidden_row", "ref_stops/ref_hits left on hidden comparison rows"),
    ("trend_periods", "trends: periods add up to the totals; period denominators"),
    ("data_quality", "data-quality bases (unit stops, searches) and missing counts"),
    ("stratified", "stratified pooled totals vs the published strata"),
    ("finding", "insufficient_data findings about hidden rows"),
    ("rate", "published shares (exact fractions)"),
    ("veil_totals", "veil of darkness: light-class totals"),
    ("chi2", "justification-mix chi-square over hidden cells"),
])


def classify(tags, target=None):
    """The leak families a recovery's certificate used ('core' when only the
    tables' own definitions)."""
    t = sorted((set(tags) - CORE) - {"bounds"})
    return " + ".join(t) if t else "core"


def where_of(M, n):
    q = M.q[n]
    return q.get("where", "")


def truth_index(R, prefix=""):
    """name -> value for every count a run publishes (with --min-cell 0: the truth)."""
    M, _ = build(R, prefix)
    return {n: q["value"] for n, q in M.q.items() if q["kind"] == "pub"}


def attack(M, ctx, R, targets, families=None, use_chi2=True, verbose=True):
    """The linear attack (optionally only the core relations plus some
    families), then the chi-square attack and its consequences."""
    if M.deferred:
        lp0 = LP(M)
        if lp0.solve(np.zeros(len(lp0.vars))).status == 0:
            for d in M.deferred:
                stratified_units(M, *d, lp=lp0)
        M.deferred = []
    drop = ()
    if families is not None:
        alltags = set(t for _, _, _, t in M.eqs) | set(t for _, _, _, t in M.ineqs)
        drop = tuple(sorted(alltags - CORE - set(families)))
    lp = LP(M, drop_tags=drop)
    res, lp = solve_all(M, targets, lp=lp, verbose=verbose)
    for r in res.values():
        r["lp"] = lp
    if not use_chi2:
        return res
    ranges = {}
    nv = len(lp.vars)
    for n in ctx["mix_cells"].values():
        if M.q[n]["kind"] != "hid" or n not in lp.idx:
            continue
        if n in res:
            ranges[n] = (res[n]["lo"], res[n]["hi"])
            continue
        c = np.zeros(nv)
        c[lp.idx[n]] = 1
        r1 = lp.solve(c)
        c[lp.idx[n]] = -1
        r2 = lp.solve(c)
        if r1.status == 0 and r2.status == 0:
            ranges[n] = (math.ceil(r1.fun - 1e-6), math.floor(-r2.fun + 1e-6))
    chi = chi2_attack(R, M, ctx, ranges)
    new = {n: r for n, r in chi.items() if n not in res or (r["hi"] - r["lo"]) < (res[n]["hi"] - res[n]["lo"])}
    if not new:
        return res
    for n, r in new.items():
        r["lp"] = None
        res[n] = r
    saved = {n: (M.q[n].get("lb"), M.q[n].get("ub")) for n in new}
    for n, r in new.items():
        M.q[n]["lb"], M.q[n]["ub"] = r["lo"], r["hi"]
    try:
        lp2 = LP(M, drop_tags=drop)
        res2, lp2 = solve_all(M, [t for t in targets if t not in res], lp=lp2, verbose=False)
    finally:
        for n, (lo, hi) in saved.items():
            M.q[n]["lb"], M.q[n]["ub"] = lo, hi
    for n, r in res2.items():
        r["how"] += "+chi2"
        r["lp"] = lp2
        r["chi2_fixed"] = set(new)
        res[n] = r
    return res


def tags_of(r):
    if r.get("lp") is None:
        return {"chi2"}
    return cert_tags(r["lp"], r)


def truth_value(truth, n):
    if truth is None:
        return None
    v = truth.get(n)
    if v is None and "counts_by" in n.split("[")[0]:
        v = 0  # absent from the count tables: zero
    return v


def print_listing(M, ctx, res, truth, show_all=False, quiet=False, title=""):
    by_class = collections.defaultdict(list)
    for n, r in res.items():
        r["class"] = classify(tags_of(r))
        by_class[r["class"]].append(n)
    for cls in sorted(by_class, key=lambda c: -len(by_class[c])):
        names = by_class[cls]
        ex = sum(1 for n in names if res[n]["lo"] == res[n]["hi"])
        print("## %s%s: %d recovered (%d exact)" % (title, cls, len(names), ex))
        if quiet:
            continue
        for n in (names if show_all else names[:40]):
            r = res[n]
            val = "%d" % r["lo"] if r["lo"] == r["hi"] else "%d..%d (%g +-1)" % (r["lo"], r["hi"], (r["lo"] + r["hi"]) / 2)
            tv = "" if truth is None else "   [truth %s]" % truth_value(truth, n)
            print("- %s  (hidden in %s) = %s   [%s]%s" % (n, M.q[n].get("where", ""), val, r["how"], tv))
            if r.get("lp") is None:
                nums, labels = r["nums"], r["labels"]
            else:
                nums, labels = cert_numbers(r["lp"], r)
            items = list(nums.items())
            shown = ", ".join("%s=%s" % (k, v) for k, v in items[:10])
            print("    published numbers used: %s%s" % (shown, " (+%d more)" % (len(items) - 10) if len(items) > 10 else ""))
            print("    relations: %s%s" % ("; ".join(labels[:4]), " (+%d more)" % (len(labels) - 4) if len(labels) > 4 else ""))
        if not show_all and len(names) > 40:
            print("  ... %d more (use --all)" % (len(names) - 40))
        print()


def check(res, truth, min_cell, label=""):
    ok = bad = small = unknown = 0
    for n, r in res.items():
        tv = truth_value(truth, n)
        if tv is None:
            unknown += 1
            continue
        if r["lo"] <= tv <= r["hi"]:
            ok += 1
            small += 1 <= tv < min_cell
        else:
            bad += 1
            print("  MISMATCH %s: recovered %s..%s, truth %s" % (n, r["lo"], r["hi"], tv))
    print("check%s: %d correct, %d wrong, %d without a truth value; %d of the correct ones are small (1..%d)" %
          (label, ok, bad, unknown, small, min_cell - 1))
    return ok, bad, small


def summary_line(M, res, targets, truth, min_cell):
    exact = sum(1 for r in res.values() if r["lo"] == r["hi"])
    s = "%d of %d hidden recovered (%d exact, %d +-1)" % (len(res), len(targets), exact, len(res) - exact)
    if truth is not None:
        small = sum(1 for n, r in res.items() if (truth_value(truth, n) or 0) in range(1, min_cell)
                    and r["lo"] <= truth_value(truth, n) <= r["hi"])
        wrong = sum(1 for n, r in res.items() if truth_value(truth, n) is not None and not r["lo"] <= truth_value(truth, n) <= r["hi"])
        s += "; truly 1..%d: %d; wrong: %d" % (min_cell - 1, small, wrong)
    return s


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="output directory of one run (results.json and/or CSV tables)")
    ap.add_argument("--truth", help="the same input run with --min-cell 0 (only to check the recoveries)")
    ap.add_argument("--scoped", help="a second, scoped run of the same input (across-run attack, reported apart)")
    ap.add_argument("--truth-scoped", help="the scoped run with --min-cell 0")
    ap.add_argument("--by-class", action="store_true",
                    help="also run each leak family alone (core relations + that family) and summarise")
    ap.add_argument("--all", action="store_true", help="list every recovered cell")
    ap.add_argument("--quiet", action="store_true", help="summaries only")
    ap.add_argument("--cost", action="store_true", help="estimate the cost of rounding / linked suppression on this run")
    ap.add_argument("--ilp", action="store_true", help="tighten narrow LP ranges with integer programs (slower)")
    ap.add_argument("--rounded-sample", type=int, default=150,
                    help="with --truth: how many rounded count cells (true count 1..min_cell-1) to attack")
    args = ap.parse_args()
    global ILP
    ILP = args.ilp

    R = load_run(args.dir)
    M, ctx = build(R)
    mc = ctx["min_cell"]
    truth = truth_index(load_run(args.truth)) if args.truth else None
    targets = [n for n, q in M.q.items() if q["kind"] == "hid" and q.get("where")]
    per_table = collections.Counter(M.q[n]["where"] for n in targets)
    print("# Disclosure attack on %s (%s; min_cell %d)" % (args.dir, R.get("_source"), mc))
    print("hidden counts (targets): %d  %s" % (len(targets), dict(per_table)))
    res = attack(M, ctx, R, targets)
    print("WITHIN ONE RUN: " + summary_line(M, res, targets, truth, mc))
    print("recovered per table: %s" % dict(collections.Counter(M.q[n]["where"] for n in res)))
    if truth is not None:
        check(res, truth, mc)
    print()
    print_listing(M, ctx, res, truth, args.all, args.quiet)

    if getattr(M, "rounded", None):
        print("## rounded count cells (to a multiple of %d): %d unknowns" % (R["counts"]["rounded_to"], len(M.rounded)))
        if truth is not None:
            small_cells = sorted(n for n in M.rounded if 1 <= (truth.get(n) or 0) < mc)
            rng = np.random.default_rng(7)
            sample = list(rng.choice(small_cells, size=min(args.rounded_sample, len(small_cells)), replace=False)) if small_cells else []
            lp = LP(M)
            nv = len(lp.vars)
            pinned = wrong = 0
            widths = []
            for n in sample:
                c = np.zeros(nv)
                c[lp.idx[n]] = 1
                r1, r2 = lp.solve(c), lp.solve(-c)
                if r1.status != 0 or r2.status != 0:
                    continue
                lo, hi = math.ceil(r1.fun - 1e-6), math.floor(-r2.fun + 1e-6)
                widths.append(hi - lo)
                if hi - lo <= 2:
                    pinned += 1
                    wrong += not lo <= truth[n] <= hi
                    print("- pinned: %s = %d..%d [truth %d]" % (n, lo, hi, truth[n]))
            print("ROUNDED: of %d sampled cells whose true count is 1..%d (of %d), the attack pins %d to +-1 (%d wrong); "
                  "median width of the attacker's range %s" % (len(sample), mc - 1, len(small_cells), pinned, wrong,
                                                               float(np.median(widths)) if widths else None))
        print()

    ds = direct_small(R)
    print("## published counts from 1 to %d (shown directly, not hidden at all): %d" % (mc - 1, len(ds)))
    for p_, v, c in ds[: (len(ds) if args.all else 15)]:
        print("- %s = %s  %s" % (p_, v, c))
    if len(ds) > 15 and not args.all:
        print("  ... %d more" % (len(ds) - 15))
    rw = rate_attack(R)
    print("\n## rates with Wilson intervals whose counts are hidden: %d" % len(rw))
    for p_, k, s_ in rw[:20]:
        print("- %s.%s -> (x, n) = %s" % (p_, k, s_))
    if M.notes:
        print("\n## notes")
        for n in M.notes[:30]:
            print("- " + n)

    if args.by_class:
        print("\n## each leak family alone (core relations of the tables + that family)")
        rows = []
        for fam in CLASSES:
            if fam == "chi2":
                r_ = attack(M, ctx, R, targets, families=[], use_chi2=True, verbose=False)
                r_ = {n: r for n, r in r_.items() if "chi2" in tags_of(r)}
            elif fam == "core":
                r_ = attack(M, ctx, R, targets, families=[], use_chi2=False, verbose=False)
            else:
                base = attack(M, ctx, R, targets, families=[], use_chi2=False, verbose=False) if not rows else rows[0][2]
                r_ = attack(M, ctx, R, targets, families=[fam], use_chi2=False, verbose=False)
                r_ = {n: r for n, r in r_.items() if n not in base or (r["hi"] - r["lo"]) < (base[n]["hi"] - base[n]["lo"])}
            rows.append((fam, CLASSES[fam], r_))
            ex = next(iter(sorted(r_, key=lambda n: (res.get(n, r_[n])["hi"] - res.get(n, r_[n])["lo"], n))), None)
            exs = ""
            if ex:
                rr = r_[ex]
                exs = "e.g. %s = %s" % (ex, rr["lo"] if rr["lo"] == rr["hi"] else "%d..%d" % (rr["lo"], rr["hi"]))
                if truth is not None:
                    exs += " [truth %s]" % truth_value(truth, ex)
            print("- %-18s %s" % (fam + ":", summary_line(M, r_, targets, truth, mc) + ("  (beyond core)" if fam not in ("core", "chi2") else "")))
            if exs:
                print("    " + exs)

    if args.cost:
        print("\n## cost of closing the leaks on this run")
        npub, changed, mad, n, moved, band, flips = cost_rounding(R)
        print("- random rounding to base 5: %d of %d published counts change (mean |change| %.2f); of %d published comparisons "
              "recomputed from rounded 2x2 cells, %d move their rate ratio by more than 1%%, %d cross a band edge, "
              "%d change side of p_adverse = 0.05" % (changed, npub, mad, n, moved, band, flips))
        if truth is not None:
            for zl in (False, True):
                ns, nt, nr, nw, mw = rounding_test(load_run(args.truth), min_cell=mc, zeros_listed=zl)
                print("- simulated on the --min-cell 0 run: every count rounded to base 5 (unbiased random rounding, one value per "
                      "count), no suppression, %s: of %d sampled counts from 1 to %d (of %d), the same attack pins %d to +-1 "
                      "(%d wrong); median width of the attacker's range %s" %
                      ("zero cells listed too" if zl else "zero cells omitted as now", nt, mc - 1, ns, nr, nw, mw))
        npub, extra, left, rounds, where = cost_suppression(R)
        print("- greedy linked suppression: %d more of %d published counts hidden (%.0f%%) in %d rounds; %d hidden counts "
              "still recoverable afterwards; per table: %s" % (extra, npub, 100.0 * extra / max(npub, 1), rounds, left, dict(where)))

    if args.by_class:
        print("\n## each leak family left out (all other relations kept): recoveries that need it")
        fams = [f for f in CLASSES if f not in ("core", "chi2")]
        alltags = set(t for _, _, _, t in M.eqs) | set(t for _, _, _, t in M.ineqs)
        for fam in fams:
            if fam not in alltags:
                continue
            keep = [f for f in alltags - CORE if f != fam]
            r_ = attack(M, ctx, R, targets, families=keep, use_chi2=True, verbose=False)
            lost = [n for n in res if n not in r_]
            print("- without %-18s %s; lost %d" % (fam + ":", summary_line(M, r_, targets, truth, mc), len(lost)))
        r_ = attack(M, ctx, R, targets, use_chi2=False, verbose=False)
        print("- without %-18s %s; lost %d" % ("chi2:", summary_line(M, r_, targets, truth, mc), len([n for n in res if n not in r_])))

    if args.scoped:
        R2 = load_run(args.scoped)
        M2, ctx2 = build(R2)
        t2 = [n for n, q in M2.q.items() if q["kind"] == "hid" and q.get("where")]
        truth2 = truth_index(load_run(args.truth_scoped)) if args.truth_scoped else None
        res2 = attack(M2, ctx2, R2, t2, verbose=False)
        print("\n# ACROSS RUNS (full run %s + scoped run %s): reported apart" % (args.dir, args.scoped))
        print("scoped run alone: " + summary_line(M2, res2, t2, truth2, mc))
        MJ, ctxj = build(R)
        link_scoped(MJ, ctxj, R, R2)
        tj = [n for n, q in MJ.q.items() if q["kind"] == "hid" and q.get("where")]
        resj = attack(MJ, ctxj, R, tj, verbose=False)
        extra = {n: r for n, r in resj.items()
                 if (n.startswith("B:") and n[2:] not in res2) or (not n.startswith("B:") and n not in res)}
        tj_truth = None
        if truth is not None or truth2 is not None:
            tj_truth = dict(truth or {})
            for k, v in (truth2 or {}).items():
                tj_truth["B:" + k] = v
        print("both runs together, recoveries neither run gives alone: " + summary_line(MJ, extra, tj, tj_truth, mc))
        for n in MJ.notes:
            if n.startswith("across"):
                print("- " + n)
        print_listing(MJ, ctxj, extra, tj_truth, args.all, args.quiet, title="across runs: ")


# --------------------------------------------------------------------------
# Cost of closing the leaks (measured on one run's outputs)
# --------------------------------------------------------------------------


def cost_suppression(R, max_rounds=12):
    """Greedy linked-table suppression: hide the reference's numbers on
    hidden rows, then, while the attack recovers anything, hide the smallest
    published count among the relations each recovery used.  Returns how
    many published counts that hides (a rough upper bound on what an
    optimal linked suppression would need)."""
    M, ctx = build(R)
    pub0 = [n for n, q in M.q.items() if q["kind"] == "pub" and q.get("where")]
    extra = set()
    # policy: no reference numbers on hidden rows
    for n in pub0:
        if "(hidden row)" in M.q[n].get("where", ""):
            M.q[n] = {"kind": "hid", "lb": 0, "ub": None, "where": M.q[n]["where"]}
            extra.add(n)
    rounds = 0
    while rounds < max_rounds:
        rounds += 1
        targets = [n for n, q in M.q.items() if q["kind"] == "hid" and q.get("where")]
        res, lp = solve_all(M, targets, verbose=False)
        print("  round %d: %d published counts hidden so far, %d hidden counts still recovered" % (rounds, len(extra), len(res)),
              file=sys.stderr)
        if not res:
            break
        pick = set()
        for n, r in res.items():
            best = None
            for k in r["cert_min"][0] + r["cert_max"][0]:
                for m in lp.eq_meta[k][0]:
                    q = M.q[m]
                    if q["kind"] == "pub" and q.get("where") and q["value"] is not None:
                        if best is None or q["value"] < M.q[best]["value"]:
                            best = m
            for k in r["cert_min"][1] + r["cert_max"][1]:
                for m in lp.ub_meta[k][0]:
                    q = M.q[m]
                    if q["kind"] == "pub" and q.get("where") and q["value"] is not None:
                        if best is None or q["value"] < M.q[best]["value"]:
                            best = m
            if best:
                pick.add(best)
        if not pick:
            break
        for m in pick:
            M.q[m] = {"kind": "hid", "lb": 0, "ub": None, "where": M.q[m]["where"]}
            extra.add(m)
    targets = [n for n, q in M.q.items() if q["kind"] == "hid" and q.get("where")]
    res, _ = solve_all(M, targets, verbose=False)
    return len(pub0), len(extra), len(res), rounds, collections.Counter(M.q[n]["where"] for n in extra)


def cost_rounding(R, base=5):
    """Rounding every published count to a multiple of `base`: how many
    numbers change, by how much, and how the comparisons move when their
    statistics are computed from the rounded counts (as they must be: a
    rate computed from exact counts gives them back)."""
    from scipy.stats import fisher_exact
    M, ctx = build(R)
    vals = [q["value"] for n, q in M.q.items() if q["kind"] == "pub" and q.get("where") and isinstance(q["value"], int)]
    def rnd(v):
        # unbiased random rounding, one value per count (as in rounding_test)
        lo_r = base * (v // base)
        return lo_r + base if (hash_int(v) % base) < (v - lo_r) else lo_r
    changed = sum(1 for v in vals if rnd(v) != v)
    mad = np.mean([abs(v - rnd(v)) for v in vals]) if vals else 0
    rows = []
    for tbl in ("outcome_test", "search_funnel"):
        rows += [(tbl, r) for r in (R.get(tbl) or [])]
    for m in (R.get("justification_mix") or []):
        rows += [("weak_justification", r) for r in m.get("weak_justification", [])]
    moved = flips = band = n = 0
    lo_b, hi_b = (R.get("settings") or {}).get("practical_band") or [0.8, 1.25]
    for tbl, r in rows:
        if r.get("suppressed") or not r.get("stops") or not r.get("ref_stops") or not r.get("ref_hits"):
            continue
        h, s_, rh, rs = r["hits"], r["stops"], r["ref_hits"], r["ref_stops"]
        h2, nh2, rh2, rnh2 = rnd(h), rnd(s_ - h), rnd(rh), rnd(rs - rh)
        if h2 + nh2 == 0 or rh2 == 0 or rh2 + rnh2 == 0:
            flips += 1
            n += 1
            continue
        n += 1
        rr1 = (h / s_) / (rh / rs)
        rr2 = (h2 / (h2 + nh2)) / (rh2 / (rh2 + rnh2))
        if abs(math.log(max(rr2, 1e-9) / max(rr1, 1e-9))) > 0.01:
            moved += 1
        if (rr1 < lo_b or rr1 > hi_b) != (rr2 < lo_b or rr2 > hi_b):
            band += 1
        higher = tbl == "weak_justification" or (tbl == "search_funnel" and r.get("stage") == "search")
        alt = "greater" if higher else "less"
        p1 = fisher_exact([[h, s_ - h], [rh, rs - rh]], alternative=alt)[1]
        p2 = fisher_exact([[h2, nh2], [rh2, rnh2]], alternative=alt)[1]
        if (p1 < 0.05) != (p2 < 0.05):
            flips += 1
    return len(vals), changed, mad, n, moved, band, flips


def rounding_test(R0, base=5, min_cell=10, sample=150, zeros_listed=False):
    """Simulates publishing everything rounded to a multiple of `base`
    (unbiased random rounding, the same rounded value wherever the same
    count appears: seeded by the value, as a cell key would be) with every
    statistic computed from the rounded counts, and runs the same attack:
    what the attacker knows of each count is its interval [r-(base-1),
    r+(base-1)].  R0 is a run with --min-cell 0 (the truth)."""
    M, ctx = build(R0)
    truth = {}
    for n, q in list(M.q.items()):
        if q["kind"] != "pub" or not q.get("where") or not isinstance(q["value"], int):
            continue
        v = q["value"]
        lo_r = base * (v // base)
        up = (hash_int(v) % base) < (v - lo_r)  # P(up) = (v - lo_r) / base
        r = lo_r + base if up else lo_r
        truth[n] = v
        # with zero cells omitted from the count tables, a listed cell is known to be >= 1;
        # zeros_listed: every cell is listed (zeros too), so a rounded 0 may be a true 0
        lb = 1 if "counts_by" in n and not zeros_listed else 0
        M.q[n] = {"kind": "hid", "lb": max(lb, r - (base - 1)), "ub": r + (base - 1), "where": q["where"]}
    # the attack aims at the small counts (those suppression would hide): a
    # random sample of them (each needs two LPs over every count)
    small_cells = sorted(n for n in truth if 1 <= truth[n] < min_cell)
    rng = np.random.default_rng(7)
    targets = list(rng.choice(small_cells, size=min(sample, len(small_cells)), replace=False)) if small_cells else []
    lp = LP(M)
    nv = len(lp.vars)
    rec = wrong = 0
    widths = []
    for n in targets:
        c = np.zeros(nv)
        c[lp.idx[n]] = 1
        r1 = lp.solve(c)
        r2 = lp.solve(-c)
        if r1.status != 0 or r2.status != 0:
            continue
        lo, hi = math.ceil(r1.fun - 1e-6), math.floor(-r2.fun + 1e-6)
        widths.append(hi - lo)
        if hi - lo <= 2:
            rec += 1
            wrong += not lo <= truth[n] <= hi
    return len(small_cells), len(targets), rec, wrong, (float(np.median(widths)) if widths else None)


def hash_int(v):
    # a fixed pseudo-random key per value (deterministic, no secret needed for the simulation)
    return (v * 2654435761 + 97) % 4294967291


# --------------------------------------------------------------------------
# Across runs: a full run and a scoped run of the same input
# --------------------------------------------------------------------------


def link_scoped(M, ctx, R, R2):
    """Adds the scoped run's relations (names prefixed B:) and links its
    count cube to the full run's: a unit scope is the full run's by_unit
    cells of those units; a period scope is the full run's trend cells of
    that period."""
    M2, ctx2 = build(R2, prefix="B:")
    for n, q in M2.q.items():
        if n not in M.q:
            M.q[n] = q
    M.eqs += M2.eqs
    M.ineqs += M2.ineqs
    sc = (R2.get("provenance") or {}).get("scope") or {}
    where = sc.get("where") or []
    period = sc.get("period")
    units = None
    for w in where:
        if w.get("field") == "unit":
            units = [v for v in w.get("values", [])]
    C, C2, CU = ctx["C"], ctx2["C"], ctx["CU"]
    if units is not None and not period and len(where) == 1:
        ul = {u.lower(): u for u in ctx["U"]}
        units = [ul.get(u.lower(), u) for u in units]
        keys = set(C2) | set(k[1:] for k in CU if k[0] in units)
        for k in keys:
            terms = [(1, CU[(u,) + k]) for u in units if (u,) + k in CU] + [(-1, C2.get(k))]
            M.eq(terms, 0, "scoped run (unit %s) cell = full run's by_unit cells %s" % (units, k), "across_runs")
        for k in ctx2["CU"]:
            if k in CU:
                M.eq([(1, ctx2["CU"][k]), (-1, CU[k])], 0, "scoped by_unit = full by_unit %s" % (k,), "across_runs")
        M.notes.append("across runs: linked on units %s" % units)
    elif period and not where:
        lab = period.get("label")
        per = ctx["periods"]
        if lab in per:
            for a in ctx2["attrs"]:
                for g in ctx2["groups"][a]:
                    for kind, js, os_ in (("stops", None, None), ("weak", ctx["weak_j"], None), ("hits", None, ctx["hit_out"])):
                        terms = [(1, C2[k]) for k in C2 if k[0] == a and k[1] == g and (js is None or k[2] in js) and (os_ is None or k[3] in os_)]
                        M.eq(terms + [(-1, M.lat("trend_cube[%s|%s|%s|%s]" % (kind, a, g, lab)))], 0,
                             "scoped run (%s) group cells = full run's trend cell" % lab, "across_runs")
            M.notes.append("across runs: linked on period %s" % lab)
        else:
            M.notes.append("across runs: period %s is not a trend period of the full run; only generic links" % lab)
    else:
        M.notes.append("across runs: scope %s not linked" % sc)


if __name__ == "__main__":
    main()
