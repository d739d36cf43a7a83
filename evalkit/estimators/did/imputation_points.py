"""Imputation (Borusyak-Jaravel-Spiess) point estimates for several outcome columns at once, for
permutation loops; see `cs_points` for the protocol.

The unit x time layout is read once; per assignment, the untreated-cell two-way fit is solved for all
columns that share their observed cells with one linear solve (several right-hand sides, the same
normal equations as `imputation._design_solve`), and no variance is computed. Same sample rules,
estimands and names as `imputation.imputation`; equal to its estimates up to round-off
(tests/estimators/test_cs_points.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did._cube import Cube, at_observed
from evalkit.estimators.did.imputation import _design_solve, _estimands

Many = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


class ImputationPoints:
    """`imputation(panel, anticipation=...)` point estimates by name."""

    def __init__(self, *, anticipation: int = 0, **_ignored: Any) -> None:
        self.anticipation = int(anticipation)

    def bind(self, panel: LongPanel) -> Many | None:
        cube = Cube(panel)
        times = cube.times

        def many(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            y = cube.fill(columns)
            coh = np.asarray(cohort, dtype=np.int64)
            finite = np.isfinite(y)
            out: dict[str, np.ndarray] = {}
            done = np.zeros(y.shape[2], bool)
            for j in range(y.shape[2]):  # one solve per distinct pattern of observed cells
                if done[j]:
                    continue
                same = ~done & np.array([np.array_equal(finite[..., c], finite[..., j]) for c in range(y.shape[2])])
                for name, values in self._estimates(y[..., same], finite[..., j], coh, times).items():
                    out.setdefault(name, np.full(y.shape[2], np.nan))[same] = values
                done |= same
            return out

        return many

    def __call__(self, panel: LongPanel) -> dict[str, float]:
        many = self.bind(panel)
        assert many is not None
        return at_observed(many, panel)

    def _estimates(self, y: np.ndarray, obs: np.ndarray, coh: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
        treated = (coh[:, None] > 0) & (times[None, :] >= coh[:, None] - self.anticipation) & obs
        untreated = obs & ~treated
        keep = untreated.any(1)
        if not (treated & keep[:, None]).any():
            raise EvalkitError("no treated unit-period with an untreated period to impute from", column="cohort")
        y, coh, treated, untreated = y[keep], coh[keep], treated[keep], untreated[keep]
        ok_t = untreated.any(0)
        y, treated, untreated, times = y[:, ok_t], treated[:, ok_t], untreated[:, ok_t], times[ok_t]
        y0 = np.where(untreated[..., None], y, 0.0)
        a, b = _design_solve(untreated, y0.sum(1), y0.sum(0))  # n x m, T x m
        tau = np.where(treated[..., None], y - a[:, None, :] - b[None, :, :], 0.0)
        names, weights = _estimands(treated, coh, times[None, :] - coh[:, None])
        est = np.einsum("kit,itm->km", weights, tau)
        out = {name: est[k] for k, (name, _, _) in enumerate(names)}
        post = [k for k, (_, agg, lab) in enumerate(names) if agg == "dynamic" and lab["event_time"] >= 0]
        out["dynamic"] = est[post].mean(0) if post else np.full(y.shape[2], np.nan)
        return out
