"""Reference values for the change of a share between two periods (the
quarterly trends of issue 6), from statsmodels: Newcombe's interval for a
difference of proportions and the pooled two-proportion z-test.

Run once (the output is committed, so CI needs no Python):

    python3 -m venv /tmp/trendenv && /tmp/trendenv/bin/pip install numpy statsmodels
    /tmp/trendenv/bin/python tests/reference/make_trend_reference.py

Writes tests/reference/trend.json.
"""

import json
import pathlib

import statsmodels
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest

TABLES = [
    (30, 100, 45, 110),
    (0, 50, 3, 60),
    (50, 50, 48, 50),
    (1234, 5678, 1100, 5400),
    (2, 9, 7, 12),
    (120_000, 1_000_000, 118_500, 990_000),
]


def main():
    cases = []
    for x1, n1, x2, n2 in TABLES:
        low, high = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff", alpha=0.05)
        z, p = proportions_ztest([x1, x2], [n1, n2])
        cases.append({"x1": x1, "n1": n1, "x2": x2, "n2": n2, "low": low, "high": high, "z": z, "p": p})
    out = pathlib.Path(__file__).with_name("trend.json")
    out.write_text(json.dumps({"statsmodels": statsmodels.__version__, "confidence": 0.95, "cases": cases}, indent=1) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
