"""The root-mean-square pre-trend equivalence test of Dette & Schumann (2024, JBES, Theorem 3).

The null is that pre-trends are large, sqrt(mean_e b_e^2) >= delta; rejecting it is evidence that they
are small. No covariance is needed: the test is self-normalised. MS = mean_e b_e^2 on all units;
MS(lambda) the same statistic re-estimated on a random subsample of a fraction lambda of the units,
lambda in {1/L, ..., (L-1)/L}; V = sqrt(mean_lambda (MS(lambda) - MS)^2). At the boundary of the null
(MS - delta^2) / V converges to W = B(1) / sqrt(mean_lambda (B(lambda)/lambda - B(1))^2), B a standard
Brownian motion, so the null is rejected when MS < delta^2 + q V with q the alpha quantile of W (q < 0),
and the smallest delta rejected is sqrt(MS - q V). Subsamples are drawn afresh for each lambda, as the
authors' EquiTrends packages do; here within treated and untreated units separately (`subsamples`),
so that every subsample keeps a treated unit when there are few.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

LAMBDAS = 5  # L: subsample fractions 1/5 .. 4/5 and the full sample (the authors' default)
W_DRAWS = 1_000_000  # Monte Carlo draws for the quantile of W: s.e. of the 5 % quantile about 0.003
W_SEED = 20240101


@lru_cache(maxsize=16)
def w_quantile(alpha: float, lambdas: int = LAMBDAS, *, draws: int = W_DRAWS, seed: int = W_SEED) -> float:
    """The alpha quantile of W for the grid lambda = 1/L .. (L-1)/L, by simulating B at k/L (seeded)."""
    rng = np.random.default_rng(seed)
    grid = np.arange(1, lambdas) / lambdas
    out = []
    for n in np.diff(np.linspace(0, draws, 5).astype(int)):  # in chunks: memory stays small
        b = np.cumsum(rng.standard_normal((int(n), lambdas)), axis=1) / np.sqrt(lambdas)
        b1 = b[:, -1]
        spread = np.sqrt(np.mean((b[:, :-1] / grid - b1[:, None]) ** 2, axis=1))
        out.append(b1 / spread)
    return float(np.quantile(np.concatenate(out), alpha))


def mean_square(coefficients: np.ndarray) -> float:
    return float(np.mean(np.square(np.asarray(coefficients, dtype=float))))


def equivalence_rms(
    ms_full: float, ms_sub: list[float] | np.ndarray, *, alpha: float = 0.05, w: float | None = None
) -> dict[str, float]:
    """Smallest delta for which H0: RMS of the pre-period coefficients >= delta is rejected.

    ms_full: MS on all units; ms_sub: MS on each subsample (fractions 1/L .. (L-1)/L, L = len + 1);
    w: the quantile of W to use (default: simulated, `w_quantile`).
    Returns {threshold, rms, v, w_quantile}; threshold 0 when MS - q V is not positive."""
    sub = np.asarray(ms_sub, dtype=float)
    if sub.ndim != 1 or sub.size < 1 or not np.all(np.isfinite(sub)) or not np.isfinite(ms_full):
        raise ValueError("equivalence_rms needs finite mean squares for the full sample and each subsample")
    v = float(np.sqrt(np.mean((sub - ms_full) ** 2)))
    q = w_quantile(float(alpha), sub.size + 1) if w is None else float(w)
    bound = ms_full - q * v
    return {
        "threshold": float(np.sqrt(bound)) if bound > 0 else 0.0,
        "rms": float(np.sqrt(ms_full)),
        "v": v,
        "w_quantile": q,
    }


def subsamples(cohorts: dict[str, int], rng: np.random.Generator, lambdas: int = LAMBDAS) -> list[list[str]]:
    """For lambda = k/L (k = 1 .. L-1), a fresh random floor(lambda n) of the treated units (at least one)
    and floor(lambda n) of the untreated ones, in unit order: the subsamples MS(lambda) is estimated on."""
    treated = sorted(u for u, c in cohorts.items() if c > 0)
    untreated = sorted(u for u, c in cohorts.items() if c <= 0)
    out = []
    for k in range(1, lambdas):
        pick_t = rng.choice(len(treated), size=max(1, (k * len(treated)) // lambdas), replace=False)
        pick_c = rng.choice(len(untreated), size=(k * len(untreated)) // lambdas, replace=False)
        out.append(sorted([treated[i] for i in pick_t] + [untreated[i] for i in pick_c]))
    return out
