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
"""
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


def main():
    doc = {"scipy": scipy.__version__, "numpy": np.__version__, "generator": "scripts/stats_fixtures.py",
           "mannwhitney": mann_whitney_cases(), "bootstrap": bootstrap_cases(),
           "hodges_lehmann": hodges_lehmann_cases()}
    with open(OUT, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {os.path.normpath(OUT)}", file=sys.stderr)


if __name__ == "__main__":
    main()
