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
from evalkit.estimators.did._cube import BoundPoints, Cube, Last, at_observed
from evalkit.estimators.did.sunab import _dynamic_weights, _sample

Many = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


class SunabPoints:
    """`sun_abraham(panel, control=...)` point estimates by name; see `cs_points.CSPoints` for the protocol."""

    def __init__(self, *, control: str = "never", **_ignored: Any) -> None:
        if control not in ("never", "notyet"):
            raise EvalkitError(f"control must be 'never' or 'notyet', not {control!r}")
        self.control = control
        self._hats = Last()  # the design of the last assignment (estimates and unit_estimates share it)

    def bind(self, panel: LongPanel) -> Many | None:
        cube = Cube(panel)
        times = cube.times

        def many(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            y = cube.fill(columns)
            return self.estimates(y, np.asarray(cohort, dtype=np.int64), times)

        def by_unit(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            return self.unit_estimates(cube.fill(columns), np.asarray(cohort, dtype=np.int64), times)

        return BoundPoints(many, by_unit)

    def __call__(self, panel: LongPanel) -> dict[str, float]:
        many = self.bind(panel)
        assert many is not None
        return at_observed(many, panel)

    def unit_estimates(self, y: np.ndarray, cohort: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
        """name -> m x units: each column's estimate restricted to each unit (see `BoundPoints`), columns
        sharing the observed cells of the first (the residual columns of the studentised test). A unit
        `_sample` drops (always treated under this assignment) contributes 0."""
        n = y.shape[0]
        index = np.broadcast_to(np.arange(n, dtype=float)[:, None, None], (*y.shape[:2], 1))
        both, cohort, times, _ = _sample(np.concatenate([y, index], axis=2), cohort, times, self.control)
        y, kept = both[..., :-1], both[:, 0, -1].astype(np.int64)
        cells = self._cells(cohort, times)
        part, counts = _fit(y, np.isfinite(y[..., 0]), cohort, times, cells, self._hats, by_unit=True)
        es = np.array([e for _, e in cells])
        out: dict[str, np.ndarray] = {f"catt:g={g},e={e}": part[k] for k, (g, e) in enumerate(cells)}
        with np.errstate(divide="ignore", invalid="ignore"):
            dyn = _dynamic_weights(cells, cohort, counts[:, 0])
            post = np.where(es >= 0, counts[:, 0], 0).astype(float)
            out["simple"] = np.einsum("k,kmi->mi", post / post.sum(), part)
        for e in np.unique(es):
            out[f"dynamic:e={e}"] = np.einsum("k,kmi->mi", dyn[int(e)], part)
        pos = np.unique(es[es >= 0])
        if len(pos):
            out["dynamic"] = np.einsum("k,kmi->mi", sum(dyn[int(e)] / len(pos) for e in pos), part)
        full = {}
        for name, values in out.items():
            full[name] = np.zeros((y.shape[2], n))
            full[name][:, kept] = values
        return full

    @staticmethod
    def _cells(cohort: np.ndarray, times: np.ndarray) -> list[tuple[int, int]]:
        cells = sorted({(int(g), int(t - g)) for g in np.unique(cohort[cohort > 0]) for t in times if t - g != -1})
        if not cells:
            raise EvalkitError("no treated cohort with a pre-treatment period", column="cohort")
        return cells

    def estimates(self, y: np.ndarray, cohort: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
        y, cohort, times, _ = _sample(y, cohort, times, self.control)
        cells = self._cells(cohort, times)
        m = y.shape[2]
        coef = np.full((len(cells), m), np.nan)
        counts = np.zeros((len(cells), m))
        obs_all = np.isfinite(y)
        done = np.zeros(m, bool)
        for j in range(m):  # one solve per distinct pattern of observed cells
            if done[j]:
                continue
            same = np.array([not done[c] and np.array_equal(obs_all[..., c], obs_all[..., j]) for c in range(m)])
            coef[:, same], counts[:, same] = _fit(y[..., same], obs_all[..., j], cohort, times, cells, self._hats)
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
    y: np.ndarray,
    obs: np.ndarray,
    cohort: np.ndarray,
    times: np.ndarray,
    cells: list[tuple[int, int]],
    hats: Last,
    *,
    by_unit: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Cell coefficients (cells x columns) of the saturated TWFE regression, as sunab._saturated_fit
    (within-unit demeaning, time dummies, pseudo-inverse), for columns sharing the observed cells `obs`;
    and the observed unit-periods per cell. `by_unit`: the coefficients cells x columns x units of each
    column restricted to each unit (its demeaned rows times their rows of pinv(X'X) X'). The design's
    pinv(X'X) X' is kept in `hats` for the next call at the same assignment (the studentised test's
    two calls)."""
    n, T = obs.shape
    k = len(cells)
    key = np.array([n, T, k]).tobytes() + obs.tobytes() + cohort.tobytes() + times.tobytes() + repr(cells).encode()
    hat, counts = hats.get(key, lambda: _hat(obs, cohort, times, cells))
    if obs.all():  # balanced: plain within-unit demeaning (the same arithmetic as the masked form)
        Y = (y - (y.sum(1) / T)[:, None, :]).reshape(n * T, -1)
    else:
        yy = np.where(obs[..., None], y, 0.0)
        cnt = np.maximum(obs.sum(1), 1)
        Y = np.where(obs[..., None], yy - (yy.sum(1) / cnt[:, None])[:, None, :], 0.0)[obs]
    counts = np.repeat(counts[:, None], y.shape[2], 1)
    if not by_unit:
        return (hat @ Y)[:k], counts
    rows = np.bincount(np.nonzero(obs)[0], minlength=n)  # X's rows are the observed cells, unit by unit
    has = rows > 0
    starts = (np.cumsum(rows) - rows)[has]
    part = np.zeros((k, y.shape[2], n))
    part[:, :, has] = np.add.reduceat(hat[:k, :, None] * Y[None], starts, axis=1).transpose(0, 2, 1)
    return part, counts


def _hat(
    obs: np.ndarray, cohort: np.ndarray, times: np.ndarray, cells: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray]:
    """pinv(X'X) X' of the within-unit demeaned cell and time dummies over the observed cells, and the
    observed unit-periods per cell."""
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
    if obs.all():
        X = (x - (x.sum(1) / T)[:, None, :]).reshape(n * T, -1)
    else:
        cnt = np.maximum(obs.sum(1), 1)
        xm = np.where(obs[..., None], x, 0.0)
        X = np.where(obs[..., None], xm - (xm.sum(1) / cnt[:, None])[:, None, :], 0.0)[obs]
    counts = np.bincount(cell_of[obs & (cell_of >= 0)], minlength=k).astype(float)
    return np.linalg.pinv(X.T @ X) @ X.T, counts
