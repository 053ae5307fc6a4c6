#!/usr/bin/env python3
"""Generate SciPy/NumPy reference values for the RecStats tests.

Writes Tests/RecStatsTests/Fixtures/scipy_expected.json, which is committed; the Swift tests
(Tests/RecStatsTests/ScipyFixtureTests.swift) load it through Bundle.module and compare.

Regenerate (only needed when adding cases; the output is deterministic for a given SciPy version):
    python3 scripts/stats_fixtures.py            # from the repository root; needs numpy and scipy
Generated with the SciPy/NumPy versions recorded in the JSON ("scipy", "numpy").

Contents:
  mannwhitney: x, y, alternative -> scipy.stats.mannwhitneyu(x, y, alternative=..., method="auto")
               statistic (U of x), pvalue, and the method SciPy's "auto" rule picks.
  bootstrap:   scipy.stats.bootstrap(method="percentile", n_resamples=20000) CIs of the median, the mean and
               the ratio of medians. Because SciPy's and RecStats' random streams differ, each case also records
               the Monte-Carlo spread of SciPy's endpoints over 10 seeds (mc_sd_*) and a tolerance
               tol_* = max(4*sqrt(2)*mc_sd, 1e-9*|value|): the difference of two independent 20000-resample
               estimates has sd sqrt(2)*mc_sd, so 4 of those is a false-alarm rate near 6e-5 per endpoint.
               For the median of an odd-sized sample the exact (infinite-resample) bootstrap percentile endpoints
               are recorded too (exact_lower/exact_upper), from P(median* <= x_(k)) = P(Bin(n, k/n) >= (n+1)/2).
  hodges_lehmann: numpy.median(numpy.subtract.outer(x, y)).
  mannwhitney_permutation: the exact conditional (permutation) p-value of U given the pooled sample, ties
               included: scipy.stats.permutation_test(permutation_type="independent", n_resamples=inf), i.e.
               every split enumerated, with U of x (mannwhitneyu(...).statistic) as the statistic; two-sided is
               twice the smaller one-sided p (permutation_test's definition). Checked against a brute-force
               itertools enumeration in this script. (mannwhitneyu(method="exact") ignores ties.)
  benjamini_hochberg: scipy.stats.false_discovery_control(p, method="bh").
"""
import itertools
import math
import json
import os
import sys

import numpy as np
import scipy
from scipy import stats

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "RecStatsTests", "Fixtures",
                   "scipy_expected.json")
B = 20000
LEVEL = 0.95


def auto_method(x, y):
    """SciPy 1.17 `_mwu_choose_method`."""
    if len(x) > 8 and len(y) > 8:
        return "asymptotic"
    pooled = np.concatenate([x, y])
    if len(np.unique(pooled)) < len(pooled):
        return "asymptotic"
    return "exact"


def r(a):
    return [float(v) for v in np.round(a, 6)]


def mann_whitney_cases():
    g = np.random.default_rng(20240501)
    cases = [
        ("exact 5v5 two-sided", r(g.normal(100, 3, 5)), r(g.normal(104, 3, 5)), "two-sided"),
        ("exact 5v5 less", r(g.normal(100, 3, 5)), r(g.normal(104, 3, 5)), "less"),
        ("exact 5v5 greater", r(g.normal(100, 3, 5)), r(g.normal(104, 3, 5)), "greater"),
        ("exact 3v8 two-sided", r(g.normal(0, 1, 3)), r(g.normal(1, 1, 8)), "two-sided"),
        ("exact 8v9 boundary", r(g.normal(0, 1, 8)), r(g.normal(0.5, 1, 9)), "two-sided"),
        ("exact 1v1", [1.5], [2.5], "two-sided"),
        ("exact 6v40 greater", r(g.lognormal(0, 0.3, 6)), r(g.lognormal(0, 0.3, 40)), "greater"),
        ("exact 4v700 less (large counts)", r(g.normal(0, 1, 4)), r(g.normal(0.8, 1, 700)), "less"),
        ("asymptotic 9v9 boundary", r(g.normal(0, 1, 9)), r(g.normal(0.7, 1, 9)), "two-sided"),
        ("asymptotic 12v15 less", r(g.normal(0, 1, 12)), r(g.normal(0.4, 1, 15)), "less"),
        ("ties 5v5 two-sided", [3, 4, 4, 5, 7], [4, 5, 5, 6, 8], "two-sided"),
        ("ties 5v6 greater", [10, 12, 12, 13, 15], [9, 10, 10, 11, 12, 12], "greater"),
        ("ties 30v25 less (integer counters)", [float(v) for v in g.poisson(20, 30)],
         [float(v) for v in g.poisson(23, 25)], "less"),
        ("all ties", [7.0, 7.0, 7.0], [7.0, 7.0, 7.0, 7.0], "two-sided"),
        ("complete separation 4v4", [1, 2, 3, 4], [5, 6, 7, 8], "two-sided"),
    ]
    out = []
    for name, x, y, alt in cases:
        x = [float(v) for v in x]
        y = [float(v) for v in y]
        res = stats.mannwhitneyu(x, y, alternative=alt, method="auto")
        out.append({"name": name, "x": x, "y": y, "alternative": alt, "u": float(res.statistic),
                    "pvalue": float(res.pvalue), "method": auto_method(np.array(x), np.array(y))})
    return out


def exact_median_bootstrap_ci(x, level):
    """Infinite-resample percentile CI of the median for odd n (quantile of a discrete distribution)."""
    s = np.sort(np.asarray(x))
    n = len(s)
    assert n % 2 == 1
    k = np.arange(1, n + 1)
    cdf = stats.binom.sf((n + 1) // 2 - 1, n, k / n)  # P(at least (n+1)/2 draws <= x_(k))
    alpha = (1 - level) / 2

    def q(p):
        return float(s[np.searchsorted(cdf, p, side="left")])
    return q(alpha), q(1 - alpha), float(np.min(np.abs(cdf - alpha))), float(np.min(np.abs(cdf - (1 - alpha))))


def bootstrap_case(name, data, statistic, kind):
    def ci(seed):
        res = stats.bootstrap(data, statistic, n_resamples=B, confidence_level=LEVEL, method="percentile",
                              vectorized=True, paired=False, random_state=np.random.default_rng(seed))
        return float(res.confidence_interval.low), float(res.confidence_interval.high)
    lo, hi = ci(0)
    spread = np.array([ci(seed) for seed in range(1, 11)])
    sd = spread.std(axis=0, ddof=1)
    case = {"name": name, "statistic": kind, "samples": [list(map(float, d)) for d in data],
            "level": LEVEL, "n_resamples": B, "lower": lo, "upper": hi,
            "mc_sd_lower": float(sd[0]), "mc_sd_upper": float(sd[1]),
            "tol_lower": max(4 * np.sqrt(2) * float(sd[0]), 1e-9 * abs(lo)),
            "tol_upper": max(4 * np.sqrt(2) * float(sd[1]), 1e-9 * abs(hi))}
    if kind == "median" and len(data[0]) % 2 == 1:
        el, eu, ml, mu = exact_median_bootstrap_ci(data[0], LEVEL)
        case.update({"exact_lower": el, "exact_upper": eu, "cdf_margin_lower": ml, "cdf_margin_upper": mu})
    return case


def bootstrap_cases():
    g = np.random.default_rng(77)
    timings = r(g.lognormal(np.log(100), 0.05, 25))   # step times, ms
    skewed = r(g.exponential(10, 40))
    small = r(g.normal(50, 2, 7))
    base = r(g.lognormal(np.log(1000), 0.03, 9))       # samples/s
    cand = r(g.lognormal(np.log(1100), 0.03, 9))
    med = lambda a, axis=-1: np.median(a, axis=axis)
    mean = lambda a, axis=-1: np.mean(a, axis=axis)
    ratio = lambda c, b, axis=-1: np.median(c, axis=axis) / np.median(b, axis=axis)
    return [
        bootstrap_case("median of 25 lognormal timings", (timings,), med, "median"),
        bootstrap_case("mean of 25 lognormal timings", (timings,), mean, "mean"),
        bootstrap_case("median of 40 exponential", (skewed,), med, "median"),
        bootstrap_case("mean of 40 exponential", (skewed,), mean, "mean"),
        bootstrap_case("median of 7 normal", (small,), med, "median"),
        bootstrap_case("mean of 7 normal", (small,), mean, "mean"),
        bootstrap_case("ratio of medians 9 vs 9", (cand, base), ratio, "ratio_of_medians"),
    ]


def hodges_lehmann_cases():
    g = np.random.default_rng(5)
    pairs = [(r(g.normal(10, 1, 5)), r(g.normal(9, 1, 5))),
             (r(g.normal(0, 1, 7)), r(g.normal(0, 1, 4))),
             ([1.0, 2.0, 2.0, 3.0], [2.0, 2.0])]
    return [{"x": x, "y": y, "shift": float(np.median(np.subtract.outer(x, y)))} for x, y in pairs]


def mwu_u(x, y, axis=-1):
    return stats.mannwhitneyu(x, y, axis=axis, method="asymptotic").statistic


def brute_force_permutation_p(x, y, alternative):
    """Enumerate every split of the pooled sample (the definition, independent of SciPy)."""
    pooled = np.concatenate([x, y])
    n, n1 = len(pooled), len(x)
    ranks = stats.rankdata(pooled)
    u_obs = ranks[:n1].sum() - n1 * (n1 + 1) / 2
    ge = le = total = 0
    for idx in itertools.combinations(range(n), n1):
        u = ranks[list(idx)].sum() - n1 * (n1 + 1) / 2
        total += 1
        ge += u >= u_obs - 1e-9
        le += u <= u_obs + 1e-9
    if alternative == "greater":
        return ge / total
    if alternative == "less":
        return le / total
    return min(1.0, 2 * min(ge, le) / total)


def permutation_cases():
    g = np.random.default_rng(8)
    cases = [
        ("ties 5v5 two-sided", [3, 4, 4, 5, 7], [4, 5, 5, 6, 8], "two-sided"),
        ("ties 5v6 greater", [10, 12, 12, 13, 15], [9, 10, 10, 11, 12, 12], "greater"),
        ("ties 5v5 separated (minimum p)", [1, 1, 2, 2, 3], [4, 5, 5, 6, 6], "two-sided"),
        ("ties 5v5 less", [1, 1, 2, 2, 3], [4, 5, 5, 6, 6], "less"),
        ("ties 6v6 counters", [float(v) for v in g.poisson(4, 6)], [float(v) for v in g.poisson(6, 6)], "two-sided"),
        ("ties 8v7 counters greater", [float(v) for v in g.poisson(5, 8)], [float(v) for v in g.poisson(4, 7)], "greater"),
        ("ties 3v9 asymmetric", [2, 2, 9], [1, 2, 2, 3, 3, 3, 4, 5, 9], "two-sided"),
        ("no ties 5v5 (equals exact)", [1.5, 2.5, 3.5, 6.5, 8.5], [4.0, 5.0, 7.0, 9.0, 10.0], "two-sided"),
        ("all ties", [7.0, 7.0, 7.0], [7.0, 7.0, 7.0, 7.0], "two-sided"),
        ("ties 10v10 rounded timings", [float(v) for v in np.round(g.normal(100, 1.5, 10))],
         [float(v) for v in np.round(g.normal(101, 1.5, 10))], "two-sided"),
    ]
    out = []
    for name, x, y, alt in cases:
        x = np.array(x, dtype=float)
        y = np.array(y, dtype=float)
        res = stats.permutation_test((x, y), mwu_u, permutation_type="independent", vectorized=True,
                                     n_resamples=np.inf, alternative=alt)
        brute = brute_force_permutation_p(x, y, alt)
        assert abs(res.pvalue - brute) < 1e-12, (name, res.pvalue, brute)
        out.append({"name": name, "x": list(map(float, x)), "y": list(map(float, y)), "alternative": alt,
                    "u": float(res.statistic), "pvalue": float(res.pvalue),
                    "n_splits": math.comb(len(x) + len(y), len(x))})
    return out


def bh_cases():
    g = np.random.default_rng(3)
    ps = [
        [0.01, 0.02, 0.03, 0.04, 0.05],
        [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216],
        [0.5],
        [0.04, 0.04, 0.04, 0.9, 0.0001],
        list(map(float, np.round(g.uniform(0, 0.2, 12), 6))),
    ]
    return [{"p": p, "q": list(map(float, stats.false_discovery_control(p, method="bh")))} for p in ps]


def main():
    doc = {"scipy": scipy.__version__, "numpy": np.__version__, "generator": "scripts/stats_fixtures.py",
           "mannwhitney": mann_whitney_cases(), "bootstrap": bootstrap_cases(),
           "hodges_lehmann": hodges_lehmann_cases(), "mannwhitney_permutation": permutation_cases(),
           "benjamini_hochberg": bh_cases()}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
