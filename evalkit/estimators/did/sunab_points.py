"""Sun-Abraham point estimates for several outcome columns at once, for permutation loops.

The counterpart of `cs_points` for `sunab.sun_abraham`: randomisation inference needs the point
estimates of the outcome and of the treatment indicator under each permuted assignment. Here the unit
x time layout is read once, the saturated regression is solved for all columns that share their
observed cells with one least-squares solve (columns with other missing cells get their own), and no
covariance is computed. Same sample rules, cells, interaction weights and names as `sun_abraham`
(its `_sample` and `_dynamic_weights` are reused); equal to its estimates up to round-off
(tests/estimators/test_cs_points.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did._cube import Cube, at_observed
from evalkit.estimators.did.sunab import _dynamic_weights, _sample

Many = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


class SunabPoints:
    """`sun_abraham(panel, control=...)` point estimates by name; see `cs_points.CSPoints` for the protocol."""

    def __init__(self, *, control: str = "never", **_ignored: Any) -> None:
        if control not in ("never", "notyet"):
            raise EvalkitError(f"control must be 'never' or 'notyet', not {control!r}")
        self.control = control

    def bind(self, panel: LongPanel) -> Many | None:
        cube = Cube(panel)
        times = cube.times

        def many(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            y = cube.fill(columns)
            return self.estimates(y, np.asarray(cohort, dtype=np.int64), times)

        return many

    def __call__(self, panel: LongPanel) -> dict[str, float]:
        many = self.bind(panel)
        assert many is not None
        return at_observed(many, panel)

    def estimates(self, y: np.ndarray, cohort: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
        y, cohort, times, _ = _sample(y, cohort, times, self.control)
        cells = sorted({(int(g), int(t - g)) for g in np.unique(cohort[cohort > 0]) for t in times if t - g != -1})
        if not cells:
            raise EvalkitError("no treated cohort with a pre-treatment period", column="cohort")
        m = y.shape[2]
        coef = np.full((len(cells), m), np.nan)
        counts = np.zeros((len(cells), m))
        obs_all = np.isfinite(y)
        done = np.zeros(m, bool)
        for j in range(m):  # one solve per distinct pattern of observed cells
            if done[j]:
                continue
            same = np.array([not done[c] and np.array_equal(obs_all[..., c], obs_all[..., j]) for c in range(m)])
            coef[:, same], counts[:, same] = _fit(y[..., same], obs_all[..., j], cohort, times, cells)
            done |= same
        es = np.array([e for _, e in cells])
        out: dict[str, np.ndarray] = {f"catt:g={g},e={e}": coef[k] for k, (g, e) in enumerate(cells)}
        pos = np.unique(es[es >= 0])
        dyn_cols, simple = [], []
        for c in range(m):
            with np.errstate(divide="ignore", invalid="ignore"):
                dyn = _dynamic_weights(cells, cohort, counts[:, c])
                post = np.where(es >= 0, counts[:, c], 0).astype(float)
                simple.append(float((post / post.sum()) @ coef[:, c]))
            dyn_cols.append(dyn)
        for e in np.unique(es):
            out[f"dynamic:e={e}"] = np.array([dyn_cols[c][int(e)] @ coef[:, c] for c in range(m)])
        if len(pos):
            out["dynamic"] = np.array([sum(dyn_cols[c][int(e)] / len(pos) for e in pos) @ coef[:, c] for c in range(m)])
        out["simple"] = np.array(simple)
        return out


def _fit(
    y: np.ndarray, obs: np.ndarray, cohort: np.ndarray, times: np.ndarray, cells: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """Cell coefficients (cells x columns) of the saturated TWFE regression, as sunab._saturated_fit
    (within-unit demeaning, time dummies, pseudo-inverse), for columns sharing the observed cells `obs`;
    and the observed unit-periods per cell."""
    n, T = obs.shape
    k = len(cells)
    rel = times[None, :] - cohort[:, None]
    # cell dummies by index (each unit-period is in at most one cell), then the time dummies
    index = {cell: j for j, cell in enumerate(cells)}
    cell_of = np.full((n, T), -1)
    for g in np.unique(cohort[cohort > 0]):
        rows = np.flatnonzero(cohort == g)
        for t in range(T):
            j = index.get((int(g), int(rel[rows[0], t])), -1)
            cell_of[rows, t] = j
    x = np.zeros((n, T, k + T - 1))
    ii, tt = np.nonzero(cell_of >= 0)
    x[ii, tt, cell_of[ii, tt]] = 1.0
    x[:, np.arange(1, T), k + np.arange(T - 1)] = 1.0
    if obs.all():  # balanced: plain within-unit demeaning (the same arithmetic as the masked form)
        yd = y - (y.sum(1) / T)[:, None, :]
        xd = x - (x.sum(1) / T)[:, None, :]
        X, Y = xd.reshape(n * T, -1), yd.reshape(n * T, -1)
    else:
        yy = np.where(obs[..., None], y, 0.0)
        cnt = np.maximum(obs.sum(1), 1)
        yd = np.where(obs[..., None], yy - (yy.sum(1) / cnt[:, None])[:, None, :], 0.0)
        xm = np.where(obs[..., None], x, 0.0)
        xd = np.where(obs[..., None], xm - (xm.sum(1) / cnt[:, None])[:, None, :], 0.0)
        X, Y = xd[obs], yd[obs]
    beta = np.linalg.pinv(X.T @ X) @ X.T @ Y
    counts = np.bincount(cell_of[obs & (cell_of >= 0)], minlength=k).astype(float)
    return beta[:k], np.repeat(counts[:, None], y.shape[2], axis=1)
