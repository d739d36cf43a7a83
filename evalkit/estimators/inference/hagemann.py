"""Hagemann's rearrangement test for one treated cluster ("Inference with a single treated cluster",
REStud 2025, Algorithm 3.3 and Table 1).

With one treated council, x1 is its own estimate (e.g. its change in outcome across the move) and x0 the
same estimate for each of q comparison councils; the effect is x1 - mean(x0). The test allows the treated
council to be up to rho times as variable as the comparison councils (rho, a stated assumption, not
estimated) and keeps its size for a fixed, small q as the councils' own data grow, with no resampling.

* weight(q, alpha, rho): the smallest w on the grid 0, 1/steps, ..., 1 whose size bound
  2^-(q+1) + int_0^inf Phi((1-w) rho y)^(q-1) phi(y) dy + min_{b in [0, 2]} [Phi(w sqrt(q-1) b)^(q-1) + 2 Phi(-b q)]
  is at most alpha (None when no w is feasible: too few councils for rho and alpha).
* test: with d = x1 - theta0 - mean(x0), the values (1+w) d, (1-w) d and x0 - mean(x0); reject
  "effect <= theta0" when the first two are the two largest, i.e. (1-w) d >= max(x0 - mean(x0)) with d > 0.
* interval: inverting the one-sided test at alpha/2 on each side gives
  [e - M+ / (1-w), e + M- / (1-w)] with e = x1 - mean(x0), M+ = max(x0 - mean), M- = max(mean - x0).
* pvalue: the smallest level at which a one-sided test rejects (the tests are nested: weight(q, a, rho) does
  not grow with a): the least size bound over the grid weights up to 1 - M/d, doubled for the two sides
  and capped at 1; theta0 lies outside the (1 - alpha) interval exactly when its p-value is at most alpha.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import integrate, optimize
from scipy.special import ndtr

STEPS = 10_000  # the grid of w (the author's code uses the same)
COARSE = 250  # the first pass looks at every 250th grid point


def size_bound(w: float, q: int, rho: float) -> float:
    """The bound on the test's size at weight w (q comparison clusters, heterogeneity rho)."""
    tail = integrate.quad(
        lambda y: ndtr((1 - w) * rho * y) ** (q - 1) * np.exp(-0.5 * y * y) / np.sqrt(2 * np.pi), 0, np.inf
    )[0]
    inner = optimize.minimize_scalar(
        lambda b: ndtr(w * np.sqrt(q - 1) * b) ** (q - 1) + 2 * ndtr(-b * q),
        bounds=(0.0, 2.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    return float(2.0 ** (-q - 1) + tail + inner.fun)


@lru_cache(maxsize=64)
def weight(q: int, alpha: float = 0.05, rho: float = 2.0, steps: int = STEPS) -> float | None:
    """Smallest w on the grid with size_bound(w) <= alpha: a coarse pass (every `COARSE`th grid point) finds
    the first feasible one, then bisection on the grid between it and the infeasible point before it (the
    bound is smooth in w: one crossing between neighbouring coarse points)."""
    if q < 2:
        return None
    feasible = lambda i: _bound_at(i, q, float(rho), steps) <= alpha  # noqa: E731
    coarse = sorted({*range(0, steps + 1, COARSE), steps})
    at = next((k for k, i in enumerate(coarse) if feasible(i)), None)
    if at is None:
        return None
    return _first_feasible(feasible, coarse[max(0, at - 1)], coarse[at]) / steps


def _first_feasible(feasible, lo: int, hi: int) -> int:
    """Smallest grid index in (lo, hi] that is feasible, given feasible(hi) (lo itself when it is)."""
    if feasible(lo):
        return lo
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if feasible(mid) else (mid, hi)
    return hi


def rejects(x1: float, x0: np.ndarray, w: float, theta0: float = 0.0) -> bool:
    """One-sided test of effect <= theta0 against effect > theta0 (Algorithm 3.3)."""
    x0 = np.asarray(x0, dtype=float)
    d = x1 - theta0 - x0.mean()
    return bool(d > 0 and (1 - w) * d >= np.max(x0 - x0.mean()))


def interval(x1: float, x0: np.ndarray, *, alpha: float = 0.05, rho: float = 2.0) -> dict[str, float | None]:
    """Estimate and (1 - alpha) interval from the one-sided tests at alpha/2 (None ends: no finite bound;
    no interval when no weight is feasible for q, alpha/2 and rho)."""
    x0 = np.asarray(x0, dtype=float)
    est = float(x1 - x0.mean())
    w = weight(int(x0.size), alpha / 2, float(rho))
    if w is None or w >= 1:
        return {"estimate": est, "ci_low": None, "ci_high": None, "weight": w}
    dev = x0 - x0.mean()
    return {
        "estimate": est,
        "ci_low": est - float(dev.max()) / (1 - w),
        "ci_high": est + float(-dev.min()) / (1 - w),
        "weight": w,
    }


@lru_cache(maxsize=100_000)
def _bound_at(i: int, q: int, rho: float, steps: int = STEPS) -> float:
    return size_bound(i / steps, q, rho)


def one_sided_p(d: float, spread: float, q: int, rho: float, steps: int = STEPS) -> float:
    """Smallest level at which "effect <= theta0" is rejected, given d = x1 - theta0 - mean(x0) and
    spread = max(x0 - mean(x0)). The test at level a rejects iff weight(q, a, rho) <= w* = 1 - spread / d,
    i.e. iff some grid w <= w* has size_bound(w) <= a; so the p-value is the least size bound on the grid
    points up to w*, capped at 1 (1 when d <= 0 or w* < 0). Found from the coarse points up to w* and a
    search on the grid around the least of them (the smoothness `weight` assumes: one valley)."""
    if d <= 0 or spread / d > 1:
        return 1.0
    top = int(np.floor(steps * (1.0 - spread / d) + 1e-9))  # the largest grid index with w <= w*
    f = lambda i: _bound_at(i, q, float(rho), steps)  # noqa: E731
    coarse = sorted({*range(0, top + 1, COARSE), top})
    k = min(range(len(coarse)), key=lambda j: f(coarse[j]))
    lo, hi = coarse[max(0, k - 1)], coarse[min(len(coarse) - 1, k + 1)]
    while hi - lo > 2:  # ternary search on integers for the valley's floor
        a, b = lo + (hi - lo) // 3, hi - (hi - lo) // 3
        lo, hi = (lo, b) if f(a) <= f(b) else (a, hi)
    return float(min(1.0, min(f(i) for i in range(lo, hi + 1))))


def pvalue(x1: float, x0: np.ndarray, *, rho: float = 2.0, theta0: float = 0.0) -> float:
    """Two-sided p-value of "effect = theta0": 2 x the smaller one-sided p (`one_sided_p`, each side's
    test as in `interval`), capped at 1. theta0 is outside `interval(..., alpha)` iff this is <= alpha."""
    x0 = np.asarray(x0, dtype=float)
    q = int(x0.size)
    if q < 2:
        return 1.0
    dev = x0 - x0.mean()
    d = float(x1 - theta0 - x0.mean())
    up = one_sided_p(d, float(dev.max()), q, float(rho))
    down = one_sided_p(-d, float(-dev.min()), q, float(rho))
    return float(min(1.0, 2.0 * min(up, down)))
