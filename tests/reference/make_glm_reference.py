"""Reference fits for stopaudit's binomial GLM (src/stats/glm.rs), from
statsmodels, on aggregated data shaped like the veil-of-darkness test.

Run once (the output is committed, so CI needs no Python):

    python3 -m venv /tmp/glmenv && /tmp/glmenv/bin/pip install numpy statsmodels
    /tmp/glmenv/bin/python tests/reference/make_glm_reference.py

Writes tests/reference/glm.json. Each case holds the aggregated rows (clock
time in minutes, is_dark, unit, year, successes = stops of the group,
trials = all stops), the spline knots and basis (natural cubic splines in
the ESL truncated-power form, knots at stop-weighted quantiles), the design
matrix and statsmodels' estimates, standard errors, p-values, 95% intervals
and deviance.
"""

import json
import pathlib

import numpy as np
import statsmodels
import statsmodels.api as sm


def knots_for(x, w, df):
    order = np.argsort(x, kind="stable")
    xs, ws = x[order], w[order]
    keep = ws > 0
    xs, ws = xs[keep], ws[keep]
    total = ws.sum()
    cumulative = np.cumsum(ws)
    knots = [xs[0]]
    for j in range(1, df):
        i = np.searchsorted(cumulative, total * j / df, side="left")
        knots.append(xs[min(i, len(xs) - 1)])
    knots.append(xs[-1])
    out = []
    for k in knots:
        if not out or out[-1] != k:
            out.append(float(k))
    return out


def basis(x, knots):
    lo, hi = knots[0], knots[-1]
    u = (x - lo) / (hi - lo)
    xi = [(k - lo) / (hi - lo) for k in knots]
    K = len(xi)

    def d(j):
        return (np.maximum(u - xi[j], 0) ** 3 - np.maximum(u - xi[K - 1], 0) ** 3) / (xi[K - 1] - xi[j])

    last = d(K - 2)
    return np.column_stack([u] + [d(j) - last for j in range(K - 2)])


def case(name, seed, df, dark_effect):
    rng = np.random.default_rng(seed)
    rows = []
    for unit in range(3):
        for year in (2024, 2025):
            for minute in range(17 * 60, 21 * 60 + 1, 10):
                for dark in (0, 1):
                    trials = int(rng.integers(20, 400))
                    eta = -1.2 + 0.3 * unit - 0.2 * (year - 2024) + 0.4 * np.sin(minute / 200) + dark_effect * dark
                    p = 1 / (1 + np.exp(-eta))
                    rows.append((minute, dark, unit, year, int(rng.binomial(trials, p)), trials))
    a = np.array(rows, dtype=float)
    x, dark, unit, year, succ, trials = a.T
    knots = knots_for(x, trials, df)
    B = basis(x, knots)
    design = np.column_stack(
        [np.ones(len(x)), dark, B, (unit == 1).astype(float), (unit == 2).astype(float), (year == 2025).astype(float)]
    )
    fit = sm.GLM(np.column_stack([succ, trials - succ]), design, family=sm.families.Binomial()).fit(tol=1e-12)
    return {
        "name": name,
        "df": df,
        "minutes": x.tolist(),
        "is_dark": dark.tolist(),
        "unit": unit.tolist(),
        "year": year.tolist(),
        "successes": succ.tolist(),
        "trials": trials.tolist(),
        "knots": knots,
        "basis": B.tolist(),
        "design": design.tolist(),
        "params": fit.params.tolist(),
        "bse": fit.bse.tolist(),
        "pvalues": fit.pvalues.tolist(),
        "conf_int": fit.conf_int(alpha=0.05).tolist(),
        "deviance": float(fit.deviance),
    }


def main():
    out = pathlib.Path(__file__).resolve().parent / "glm.json"
    cases = [case("darkness_effect", 1, 6, -0.35), case("no_effect_df3", 2, 3, 0.0), case("df1", 3, 1, 0.2)]
    doc = {"statsmodels": statsmodels.__version__, "numpy": np.__version__, "cases": cases}
    out.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
