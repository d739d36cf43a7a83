"""Small shared pieces for the difference-in-differences estimators (not public API)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.numeric import normal


@dataclass(frozen=True)
class WidePanel:
    """Unit × time arrays: outcome `y` (NaN where missing), `cohort` per unit, covariates `x`
    (each unit's value in its earliest observed period), and labels."""

    y: np.ndarray
    cohort: np.ndarray
    x: np.ndarray
    units: list[str]
    times: np.ndarray


def to_wide(panel: LongPanel, covariates: tuple[str, ...] | None = None) -> WidePanel:
    """Reshape a LongPanel into arrays once, so estimators work on matrices."""
    covariates = panel.covariates if covariates is None else covariates
    y, units, times = panel.wide()
    first = (
        panel.data.sort("unit", "time")
        .group_by("unit", maintain_order=True)
        .agg(pl.col("cohort").first(), *[pl.col(c).drop_nulls().first() for c in covariates])
        .sort("unit")
    )
    cohort = first["cohort"].to_numpy().astype(np.int64)
    if covariates:
        x = first.select(covariates).to_numpy().astype(float)
        if np.isnan(x).any():
            bad = [c for c in covariates if first[c].is_null().any()]
            raise EvalkitError("a unit has no value for covariate(s) " + ", ".join(bad), column=bad[0])
    else:
        x = np.empty((len(units), 0))
    return WidePanel(y=y, cohort=cohort, x=x, units=units, times=np.asarray(times, dtype=np.int64))


def normal_row(
    name: str, estimate: float, se: float, alpha: float, crit: float | None = None, **labels: Any
) -> dict[str, Any]:
    """An estimates row with a normal (or given critical value) interval and two-sided p-value."""
    z = normal.ppf(1 - alpha / 2) if crit is None else crit
    ok = se is not None and np.isfinite(se) and se > 0
    row = {"name": name, "estimate": float(estimate), **labels}
    if ok:
        row.update(
            se=float(se),
            ci_low=float(estimate - z * se),
            ci_high=float(estimate + z * se),
            p_value=float(2 * normal.sf(abs(estimate) / se)),
        )
    return row


def treatment_matrix(cohort: np.ndarray, times: np.ndarray) -> np.ndarray:
    """D[i, t] = 1 when unit i is treated in period t (cohort > 0 and t >= cohort)."""
    return ((cohort[:, None] > 0) & (times[None, :] >= cohort[:, None])).astype(float)


def twoway_demean(
    a: np.ndarray, mask: np.ndarray | None = None, tol: float = 1e-12, max_iter: int = 10_000
) -> np.ndarray:
    """Residual of a (units × times [× k]) array on unit and time dummies, over cells in `mask`.

    Exact in one step for a balanced panel; alternating projections otherwise. Cells outside the
    mask come back as 0.
    """
    a = np.asarray(a, dtype=float)
    mask = np.ones(a.shape[:2], bool) if mask is None else mask
    m = mask if a.ndim == 2 else mask[..., None]
    out = np.where(m, a, 0.0)
    if mask.all():
        return out - out.mean(1, keepdims=True) - out.mean(0, keepdims=True) + out.mean((0, 1), keepdims=True)
    n_i = np.maximum(mask.sum(1), 1)
    n_t = np.maximum(mask.sum(0), 1)
    if a.ndim == 3:
        n_i, n_t = n_i[:, None], n_t[:, None]
    for _ in range(max_iter):
        prev = out
        out = np.where(m, out - (out.sum(1) / n_i)[:, None], 0.0)
        out = np.where(m, out - (out.sum(0) / n_t)[None, :], 0.0)
        if np.max(np.abs(out - prev)) < tol:
            break
    return out


def estimate_table(rows: list[dict[str, Any]]) -> pl.DataFrame:
    from evalkit.estimators.results import estimates_frame

    return estimates_frame(rows)
