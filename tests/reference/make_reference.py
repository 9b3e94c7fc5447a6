"""Reference values for stopaudit's statistics, from scipy and statsmodels.

Run once (the output is committed, so CI needs no Python):

    python3 -m venv /tmp/refenv && /tmp/refenv/bin/pip install scipy statsmodels numpy mpmath
    /tmp/refenv/bin/python tests/reference/make_reference.py

Writes tests/reference/statistics.json. Each case holds its inputs and the
reference outputs; tests/statistics_reference.rs compares stopaudit to them
at 1e-9 relative tolerance.
"""

import json
import math
import pathlib
import platform

import mpmath as mp
import numpy as np
import scipy
import statsmodels
from scipy import stats
from scipy.stats import contingency
from statsmodels.stats.contingency_tables import StratifiedTable, Table2x2
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

rng = np.random.default_rng(20251128)
CONF = 0.95


def f(x):
    """JSON-safe float: None for NaN/inf."""
    x = float(x)
    return x if math.isfinite(x) else None


def two_by_two_tables():
    """Tables [[a, b], [c, d]] with zeros, tiny, moderate, huge and extreme ones."""
    tables = [
        [0, 10, 5, 5], [10, 0, 5, 5], [0, 0, 5, 5], [1, 1, 1, 1], [3, 1, 1, 3],
        [7, 12, 0, 15], [2, 8, 8, 2], [5, 5, 5, 5], [1, 99, 10, 90], [50, 50, 50, 50],
        [12, 5, 7, 20], [120, 880, 200, 800], [1500, 8500, 1600, 8400],
        [0, 1000, 50, 950], [250, 750, 250, 750], [10, 20, 30, 40],
        [1000, 1, 1, 1000], [3000, 10, 10, 3000], [5000, 0, 0, 5000],
        [123456, 876544, 125000, 875000], [10**9 // 4, 3 * 10**9 // 4, 10**9 // 4 + 40000, 3 * 10**9 // 4 - 40000],
        [10**9, 10**9, 10**9 + 100000, 10**9 - 100000],
        [40, 2000, 400, 1600], [1, 0, 0, 1], [0, 5, 0, 7],
    ]
    for _ in range(60):
        scale = int(rng.choice([5, 30, 200, 5000, 100000]))
        tables.append([int(v) for v in rng.integers(0, scale, size=4)])
    return tables


def fisher_mpmath(a, b, c, d):
    """Two-sided Fisher p-value at 40 digits, for tables too large for scipy.

    scipy's hypergeometric cdf (Boost) is off by ~1e-7 relative at 10^9 counts;
    this sums the same tails (scipy's rule: probabilities <= p_obs * (1 + 1e-14))
    by the exact term recurrence in 40-digit arithmetic.
    """
    mp.mp.dps = 40
    n1, n2, n = a + b, c + d, a + c
    M = n1 + n2

    def pmf(k):
        return mp.e ** (mp.loggamma(n1 + 1) - mp.loggamma(k + 1) - mp.loggamma(n1 - k + 1)
                        + mp.loggamma(n2 + 1) - mp.loggamma(n - k + 1) - mp.loggamma(n2 - n + k + 1)
                        - mp.loggamma(M + 1) + mp.loggamma(n + 1) + mp.loggamma(M - n + 1))

    lo_s, hi_s = max(0, n - n2), min(n, n1)
    up = lambda k: mp.mpf(n1 - k) * (n - k) / ((k + 1) * (M - n1 - n + k + 1))
    down = lambda k: mp.mpf(k) * (M - n1 - n + k) / ((n1 - k + 1) * (n - k + 1))

    def tail(start, end, ratio, step):
        total, term, k = mp.mpf(0), pmf(start), start
        while True:
            total += term
            if k == end or term < total * mp.mpf(10) ** -30:
                return total
            term *= ratio(k)
            k += step

    mode = int((n + 1) * (n1 + 1) / (M + 2))
    pexact, thr = pmf(a), pmf(a) * (1 + mp.mpf("1e-14"))
    if abs(pexact - pmf(mode)) / pmf(mode) <= mp.mpf("1e-14"):
        return 1.0
    if a < mode:
        p = tail(a, lo_s, down, -1)
        lo, hi = mode, hi_s
        if pmf(hi) <= thr:
            while lo < hi:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if pmf(mid) <= thr else (mid + 1, hi)
            p += tail(hi, hi_s, up, 1)
    else:
        p = tail(a, hi_s, up, 1)
        lo, hi = lo_s, mode
        if pmf(lo) <= thr:
            while lo < hi:
                mid = (lo + hi + 1) // 2
                lo, hi = (mid, hi) if pmf(mid) <= thr else (lo, mid - 1)
            p += tail(lo, lo_s, down, -1)
    return float(min(p, 1))


def outcome_cases():
    out = []
    for a, b, c, d in two_by_two_tables():
        n1, n2 = a + b, c + d
        case = {"hits": a, "stops": n1, "ref_hits": c, "ref_stops": n2}
        # Wilson intervals of both rates (statsmodels proportion_confint, method="wilson").
        if n1 > 0:
            lo, hi = proportion_confint(a, n1, alpha=1 - CONF, method="wilson")
            case["rate_ci"] = [f(lo), f(hi)]
        # Katz log interval of the rate ratio (statsmodels Table2x2.riskratio_confint).
        if a > 0 and c > 0 and n1 > 0 and n2 > 0:
            t = Table2x2(np.array([[a, b], [c, d]], dtype=float), shift_zeros=False)
            case["rate_ratio"] = f(t.riskratio)
            lo, hi = t.riskratio_confint(alpha=1 - CONF)
            case["rate_ratio_ci"] = [f(lo), f(hi)]
        # Fisher's exact test, two-sided (scipy.stats.fisher_exact; 40-digit sums above 10^7 stops).
        if a + b + c + d > 10**7:
            case["fisher_p"] = f(fisher_mpmath(a, b, c, d))
            case["fisher_reference"] = "mpmath"
        else:
            case["fisher_p"] = f(stats.fisher_exact([[a, b], [c, d]]).pvalue)
        out.append(case)
    return out


def extreme_fisher():
    """Tables whose p-values are far below 1e-300, with log p from the hypergeometric tail."""
    out = []
    for a, b, c, d in [[2000, 0, 0, 2000], [700, 10, 10, 700], [400, 0, 0, 400], [3000, 100, 100, 3000]]:
        n1, n2, n = a + b, c + d, a + c
        M = n1 + n2
        p = stats.fisher_exact([[a, b], [c, d]]).pvalue
        # Both tails in log space (the other tail is found as scipy does).
        ks = np.arange(max(0, n - n2), min(n, n1) + 1)
        logpmf = stats.hypergeom.logpmf(ks, M, n1, n)
        lp_obs = stats.hypergeom.logpmf(a, M, n1, n)
        sel = logpmf <= lp_obs + math.log1p(1e-14)
        ln_p = float(scipy.special.logsumexp(logpmf[sel]))
        out.append({"table": [a, b, c, d], "fisher_p": f(p), "fisher_ln_p": ln_p})
    return out


def chi_square_cases():
    out = []
    tables = [
        [[10, 20, 30], [20, 20, 20]],
        [[5, 0, 3, 2], [1, 4, 4, 1], [2, 2, 2, 2]],
        [[100, 200], [150, 150]],
        [[1200, 800, 400, 300, 100], [300, 250, 90, 80, 40], [40, 60, 10, 10, 5]],
        [[100000, 0], [0, 100000]],
        [[3000, 200], [200, 3000]],
        [[1, 2], [3, 4]],
    ]
    for _ in range(25):
        r, k = int(rng.integers(2, 6)), int(rng.integers(2, 6))
        scale = int(rng.choice([20, 500, 100000]))
        tables.append(rng.integers(1, scale, size=(r, k)).tolist())
    for t in tables:
        arr = np.array(t, dtype=float)
        res = stats.chi2_contingency(arr, correction=False)
        n = arr.sum()
        rows = arr.sum(axis=1, keepdims=True)
        cols = arr.sum(axis=0, keepdims=True)
        e = rows * cols / n
        adj = (arr - e) / np.sqrt(e * (1 - rows / n) * (1 - cols / n))
        out.append({
            "table": t,
            "chi2": f(res.statistic),
            "df": int(res.dof),
            "p_value": f(res.pvalue),
            "p_value_ln": f(stats.chi2.logsf(res.statistic, res.dof)),
            "cramers_v": f(contingency.association(np.array(t), method="cramer", correction=False)),
            "adjusted_residuals": [[f(x) for x in row] for row in adj],
        })
    return out


def stratified_cases():
    out = []
    strata_sets = [
        [[[10, 20], [15, 25]], [[30, 10], [20, 20]], [[5, 5], [8, 2]]],
        [[[100, 900], [150, 850]], [[120, 880], [160, 840]]],
        [[[2, 8], [3, 7]], [[1, 9], [4, 6]], [[0, 10], [2, 8]], [[6, 4], [5, 5]]],
        [[[50, 50], [20, 80]], [[20, 80], [50, 50]]],
        [[[1000, 9000], [1100, 8900]], [[400, 600], [420, 580]], [[30, 70], [60, 40]]],
        [[[12, 3], [4, 9]]],
    ]
    for _ in range(20):
        k = int(rng.integers(2, 7))
        scale = int(rng.choice([15, 200, 20000]))
        strata_sets.append(rng.integers(1, scale, size=(k, 2, 2)).tolist())
    for strata in strata_sets:
        arr = np.array(strata, dtype=float).transpose(1, 2, 0)  # 2 x 2 x K
        st = StratifiedTable(arr)
        lo, hi = st.oddsratio_pooled_confint(alpha=1 - CONF)
        cmh = st.test_null_odds(correction=False)
        bd = st.test_equal_odds(adjust=False)
        # Mantel–Haenszel rate (risk) ratio: statsmodels' point estimate; the
        # Greenland–Robins (1985) variance of its log, written out here from
        # the paper (statsmodels has no interval for it):
        # Var = Σ (m1 n1 n0 / n² − a c / n) / ((Σ a n0 / n)(Σ c n1 / n)).
        t = np.array(strata, dtype=float)
        a, b, c, d = t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1]
        n1, n0, m1, n = a + b, c + d, a + c, a + b + c + d
        num, den = np.sum(a * n0 / n), np.sum(c * n1 / n)
        var_rr = np.sum(m1 * n1 * n0 / n**2 - a * c / n) / (num * den)
        z = stats.norm.isf((1 - CONF) / 2)
        rr = st.riskratio_pooled
        # One-sided CMH: the signed root of the statistic (observed minus
        # expected hits of the group), normal tails.
        expected = np.sum(n1 * m1 / n)
        signed = math.copysign(math.sqrt(cmh.statistic), np.sum(a) - expected)
        out.append({
            "strata": strata,
            "mh_rate_ratio": f(rr),
            "mh_rate_ratio_ci": [f(rr * math.exp(-z * math.sqrt(var_rr))), f(rr * math.exp(z * math.sqrt(var_rr)))],
            "cmh_p_less": f(stats.norm.cdf(signed)),
            "cmh_p_greater": f(stats.norm.sf(signed)),
            "mh_odds_ratio": f(st.oddsratio_pooled),
            "mh_odds_ratio_ci": [f(lo), f(hi)],
            "cmh_statistic": f(cmh.statistic),
            # statsmodels reports 1 - cdf, which loses all digits below 1e-16; sf keeps them.
            "cmh_p_value": f(stats.chi2.sf(cmh.statistic, 1)),
            "breslow_day_statistic": f(bd.statistic),
            "breslow_day_p_value": f(stats.chi2.sf(bd.statistic, len(strata) - 1)) if math.isfinite(bd.statistic) else None,
        })
    return out


def bh_cases():
    out = []
    sets = [
        [0.01, 0.04, 0.03, 0.005, 0.5, 0.2],
        [1e-10, 1e-300, 0.9, 0.9, 0.049],
        [0.05],
        [0.3, 0.3, 0.3, 0.3],
    ]
    for _ in range(10):
        sets.append(rng.uniform(0, 1, size=int(rng.integers(2, 40))).round(12).tolist())
    for ps in sets:
        _, q, _, _ = multipletests(ps, method="fdr_bh")
        out.append({"p": ps, "q": [f(x) for x in q]})
    return out


def poisson_cases():
    """R's poisson.test(c(a, b), T = c(pa, pb)): binom.test(a, a + b, pa / (pa + pb))."""
    out = []
    cases = [
        (50, 10000, 40, 10000), (0, 5000, 12, 8000), (12, 1000, 0, 900), (300, 20000, 1200, 200000),
        (5, 100, 5, 100), (1, 3000, 7, 1000), (4500, 120000, 30000, 3500000), (100000, 10**7, 95000, 10**7),
    ]
    for _ in range(25):
        a = int(rng.integers(0, 2000))
        b = int(rng.integers(1, 20000))
        pa = int(rng.integers(1000, 200000))
        pb = int(rng.integers(1000, 5000000))
        cases.append((a, pa, b, pb))
    for a, pa, b, pb in cases:
        n = a + b
        p0 = pa / (pa + pb)
        res = stats.binomtest(a, n, p0)
        ci = res.proportion_ci(confidence_level=CONF, method="exact")
        lo = ci.low / (1 - ci.low) * pb / pa
        hi = (ci.high / (1 - ci.high) * pb / pa) if ci.high < 1 else None
        out.append({
            "count": a, "population": pa, "ref_count": b, "ref_population": pb,
            "rate_ratio": f((a / pa) / (b / pb)) if b > 0 else None,
            "rate_ratio_ci": [f(lo), f(hi) if hi is not None else None],
            "p_value": f(res.pvalue),
        })
    return out


def score_ratio_cases():
    """Koopman's score interval of the rate ratio: the ratios where
    statsmodels' score test (score_test_proportions_2indep, compare="ratio",
    correction=False) reaches the critical value, found with scipy's brentq.
    statsmodels' own confint_proportions_2indep(method="score") gives the same
    bounds except at a rate of 100%, where its root search stops at the kink
    of the restricted maximum-likelihood rates (40/40 vs 300/600: 1.882,
    where the score statistic is 1.53, not 1.96); the edges are the point of
    these cases."""
    from scipy.optimize import brentq
    from statsmodels.stats.proportion import score_test_proportions_2indep
    out = []
    cases = [(40, 40, 300, 600, 0.95), (0, 50, 30, 100, 0.95), (10, 100, 20, 100, 0.95),
             (5, 20, 30, 60, 0.9), (1, 3, 2, 5, 0.95), (164, 1000, 300, 1200, 0.99),
             (7, 7, 3, 9, 0.95), (3, 900, 40, 1100, 0.95), (250, 5000, 260, 5000, 0.95),
             (12, 15, 14, 60, 0.95)]
    for a, n1, b, n2, conf in cases:
        z = stats.norm.isf((1 - conf) / 2)
        est = (a / n1) / (b / n2)

        def score(theta):
            return score_test_proportions_2indep(a, n1, b, n2, value=theta, compare="ratio",
                                                 correction=False, return_results=True).statistic

        lo = 0.0 if a == 0 else brentq(lambda t: score(t) - z, 1e-9, est, xtol=1e-15, rtol=1e-14)
        hi = brentq(lambda t: score(t) + z, max(est, 1e-9), 1e6, xtol=1e-15, rtol=1e-14)
        out.append({"hits": a, "stops": n1, "ref_hits": b, "ref_stops": n2, "confidence": conf,
                    "ratio_ci": [f(lo), f(hi)]})
    return out


def one_sided_cases():
    """One-sided tests on the adverse side: Fisher (scipy's alternative=less
    and greater), the exact binomial test (alternative=greater) and the
    Poisson upper tail."""
    fisher = []
    tables = [[3, 17, 30, 70], [30, 70, 3, 17], [0, 50, 10, 40], [50, 0, 45, 5],
              [120, 880, 200, 800], [1500, 8500, 1600, 8400], [5, 5, 5, 5], [0, 0, 3, 4]]
    for _ in range(30):
        scale = int(rng.choice([10, 100, 3000]))
        tables.append([int(v) for v in rng.integers(0, scale, size=4)])
    for a, b, c, d in tables:
        fisher.append({"table": [a, b, c, d],
                       "less": f(stats.fisher_exact([[a, b], [c, d]], alternative="less")[1]),
                       "greater": f(stats.fisher_exact([[a, b], [c, d]], alternative="greater")[1])})
    binomial = []
    for x, n, p in [(12, 40, 0.1), (0, 30, 0.2), (30, 30, 0.5), (400, 1000, 0.38), (5, 1000, 0.01)]:
        binomial.append({"x": x, "n": n, "p": p,
                         "greater": f(stats.binomtest(x, n, p, alternative="greater").pvalue)})
    poisson = []
    for o, e in [(0, 2.5), (7, 2.5), (40, 31.2), (1000, 912.4), (3, 9.0)]:
        poisson.append({"observed": o, "expected": e, "greater": f(stats.poisson.sf(o - 1, e))})
    return {"fisher": fisher, "binomial": binomial, "poisson": poisson}


def normal_quantiles():
    return [{"confidence": c, "z": f(stats.norm.isf((1 - c) / 2))} for c in [0.8, 0.9, 0.95, 0.99, 0.999]]


doc = {
    "generated_by": "tests/reference/make_reference.py",
    "versions": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__, "statsmodels": statsmodels.__version__},
    "confidence": CONF,
    "normal_quantiles": normal_quantiles(),
    "outcome": outcome_cases(),
    "fisher_extreme": extreme_fisher(),
    "chi_square": chi_square_cases(),
    "stratified": stratified_cases(),
    "benjamini_hochberg": bh_cases(),
    "poisson": poisson_cases(),
    "score_ratio": score_ratio_cases(),
    "one_sided": one_sided_cases(),
}
path = pathlib.Path(__file__).with_name("statistics.json")
path.write_text(json.dumps(doc, indent=1) + "\n")
print(f"wrote {path}")
