"""Evidence about pre-trends beyond "the test did not reject": the test's power, and equivalence tests.

* Power (Roth 2022, "Pretest with caution"): the smallest linear pre-trend that the permutation
  pre-trend test (analysis.intervals.randomisation_pretrend) detects with probability 0.8. The
  noise is the permutation distribution itself: under a trend of slope g the pre-period coefficients
  are g·h + (a permuted draw), with h the trend's shape in the event study's coding (h_e = e + 1 for
  coefficients relative to e = -1, h_e = 1 for one-period differences), and the test's own critical
  value (its 1 - alpha quantile over the draws) is applied to each.
* Equivalence (Dette & Schumann 2024, JBES): the null is that pre-trends are *large* (max |b_e|, or
  |mean b_e|, at least delta); rejecting it is evidence that they are small. Reported as the smallest
  delta for which the test rejects at level alpha, from the coefficients and their covariance:
  max (intersection-union: each |b_e| below the alpha quantile of a folded normal centred at delta)
  and mean (the same for the mean of the coefficients).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq
from scipy.special import ndtr


def _statistic(b: np.ndarray, sd: np.ndarray) -> np.ndarray:
    return np.sum((b / sd) ** 2, axis=-1)


def permutation_pretrend_power(
    draws: np.ndarray, shape: np.ndarray, *, alpha: float = 0.05, power: float = 0.8, tol: float = 1e-4
) -> dict[str, float] | None:
    """Smallest |slope| detected with probability `power` by the permutation pre-trend test.

    draws: (B, k) permuted pre-period coefficients; shape: (k,) the trend's value at each coefficient
    per unit of slope. Returns {slope, power_at_slope, critical_value, draws} or None when the test
    cannot be computed (no variation)."""
    d = np.asarray(draws, dtype=float)
    d = d[np.all(np.isfinite(d), axis=1)]
    h = np.asarray(shape, dtype=float)
    if d.shape[0] < 10 or d.shape[1] != h.size or not np.any(h != 0):
        return None
    sd = np.std(d, axis=0, ddof=1)
    if np.any(sd <= 0):
        return None
    crit = float(np.quantile(_statistic(d, sd), 1 - alpha))

    def rate(g: float) -> float:
        return float(np.mean(_statistic(d + g * h, sd) > crit))

    hi = float(np.max(sd) / np.max(np.abs(h)))
    while rate(hi) < power and rate(-hi) < power:
        hi *= 2
        if hi > 1e12:
            return None
    lo = 0.0
    while hi - lo > tol * hi:  # power rises with |g| (the statistic is a convex quadratic in g)
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if min(rate(mid), rate(-mid)) < power else (lo, mid)
    return {
        "slope": hi,
        "power_at_slope": min(rate(hi), rate(-hi)),
        "critical_value": crit,
        "draws": int(d.shape[0]),
    }


def _folded_cdf(x: float, centre: float, sd: float) -> float:
    """P(|X| <= x) for X ~ N(centre, sd^2)."""
    return float(ndtr((x - centre) / sd) - ndtr((-x - centre) / sd))


def _min_delta(value: float, sd: float, alpha: float) -> float:
    """Smallest delta with P(|N(delta, sd^2)| <= |value|) <= alpha: the equivalence test rejects beyond it."""
    x = abs(value)
    f = lambda delta: _folded_cdf(x, delta, sd) - alpha  # noqa: E731 - decreasing in delta >= 0
    if f(0.0) <= 0:
        return 0.0
    hi = x + 10 * sd
    while f(hi) > 0:
        hi *= 2
    return float(brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-12))


def equivalence_max(beta: np.ndarray, vcov: np.ndarray, *, alpha: float = 0.05) -> float:
    """Smallest delta for which H0: max_e |b_e| >= delta is rejected (intersection-union test)."""
    b, v = np.asarray(beta, dtype=float), np.asarray(vcov, dtype=float)
    return max(_min_delta(b[i], float(np.sqrt(v[i, i])), alpha) for i in range(b.size))


def equivalence_mean(beta: np.ndarray, vcov: np.ndarray, *, alpha: float = 0.05) -> float:
    """Smallest delta for which H0: |mean_e b_e| >= delta is rejected."""
    b, v = np.asarray(beta, dtype=float), np.asarray(vcov, dtype=float)
    w = np.full(b.size, 1 / b.size)
    return _min_delta(float(w @ b), float(np.sqrt(w @ v @ w)), alpha)
