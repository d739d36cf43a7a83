"""Simulated staggered-adoption panels with a known effect, for checks, benchmarks and coverage."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl

from evalkit.estimators.data import LongPanel, make_panel


def simulate_staggered(
    n_units: int = 150,
    n_periods: int = 12,
    cohorts: dict[int, int] | None = None,
    effect: Callable[[np.ndarray, np.ndarray], np.ndarray] | float = 1.0,
    *,
    n_covariates: int = 0,
    covariate_trend: float = 0.0,
    noise: float = 1.0,
    ar: float = 0.0,
    seed: int = 0,
) -> LongPanel:
    """A balanced panel: y = unit effect + time effect (+ covariate-dependent trend) + effect + noise.

    `cohorts` maps first-treated period -> number of units (the rest are never treated); periods
    are 1..n_periods. `effect` is a constant or a function of (cohort, event time) arrays, applied
    where event time >= 0. `ar` makes the noise AR(1) within unit (serial correlation).
    """
    rng = np.random.default_rng(seed)
    cohorts = cohorts if cohorts is not None else {n_periods // 2: n_units // 10}
    cohort = np.zeros(n_units, dtype=np.int64)
    start = 0
    for g, k in sorted(cohorts.items()):
        cohort[start : start + k] = g
        start += k
    rng.shuffle(cohort)
    times = np.arange(1, n_periods + 1)
    x = rng.normal(size=(n_units, n_covariates))
    alpha_i = rng.normal(size=n_units) + (x.sum(1) if n_covariates else 0.0) + 0.5 * (cohort > 0)
    lam_t = np.cumsum(rng.normal(scale=0.3, size=n_periods))
    eps = rng.normal(scale=noise, size=(n_units, n_periods))
    for t in range(1, n_periods):
        eps[:, t] += ar * eps[:, t - 1]
    trend = covariate_trend * (x.sum(1) if n_covariates else np.zeros(n_units))[:, None] * times[None, :] / n_periods
    e = times[None, :] - cohort[:, None]
    treated = (cohort[:, None] > 0) & (e >= 0)
    if callable(effect):
        tau = effect(np.broadcast_to(cohort[:, None], e.shape), e)
    else:
        tau = np.full(e.shape, float(effect))
    y = alpha_i[:, None] + lam_t[None, :] + trend + eps + np.where(treated, tau, 0.0)
    frame = pl.DataFrame(
        {
            "id": np.repeat(np.arange(n_units), n_periods).astype(str),
            "period": np.tile(times, n_units),
            "y": y.ravel(),
            "first": np.repeat(cohort, n_periods),
            **{f"x{k}": np.repeat(x[:, k], n_periods) for k in range(n_covariates)},
        }
    )
    return make_panel(
        frame,
        unit="id",
        time="period",
        outcome="y",
        cohort="first",
        covariates=[f"x{k}" for k in range(n_covariates)],
        source="simulated",
    )


def with_outcome(panel: LongPanel, y: np.ndarray) -> LongPanel:
    """The same panel with a new outcome vector (in the panel's row order)."""
    return LongPanel(
        data=panel.data.with_columns(pl.Series("y", np.asarray(y, float))),
        outcome=panel.outcome,
        covariates=panel.covariates,
    )
