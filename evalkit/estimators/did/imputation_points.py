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
from evalkit.estimators.did._cube import BoundPoints, Cube, at_observed
from evalkit.estimators.did.imputation import _design_solve, _estimands, _untreated_weights

Many = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


class ImputationPoints:
    """`imputation(panel, anticipation=...)` point estimates by name."""

    def __init__(self, *, anticipation: int = 0, **_ignored: Any) -> None:
        self.anticipation = int(anticipation)

    def bind(self, panel: LongPanel) -> Many | None:
        cube = Cube(panel)
        times = cube.times

        def by_pattern(cohort: np.ndarray, columns: np.ndarray, estimates: Callable) -> dict[str, np.ndarray]:
            y = cube.fill(columns)
            coh = np.asarray(cohort, dtype=np.int64)
            finite = np.isfinite(y)
            out: dict[str, np.ndarray] = {}
            done = np.zeros(y.shape[2], bool)
            for j in range(y.shape[2]):  # one solve per distinct pattern of observed cells
                if done[j]:
                    continue
                same = ~done & np.array([np.array_equal(finite[..., c], finite[..., j]) for c in range(y.shape[2])])
                for name, values in estimates(y[..., same], finite[..., j], coh, times).items():
                    out.setdefault(name, np.full((y.shape[2], *values.shape[1:]), np.nan))[same] = values
                done |= same
            return out

        def many(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            return by_pattern(cohort, columns, self._estimates)

        def by_unit(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            return by_pattern(cohort, columns, self._unit_estimates)

        return BoundPoints(many, by_unit)

    def __call__(self, panel: LongPanel) -> dict[str, float]:
        many = self.bind(panel)
        assert many is not None
        return at_observed(many, panel)

    def _sample(
        self, y: np.ndarray, obs: np.ndarray, coh: np.ndarray, times: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """`imputation`'s sample: units with an untreated cell, periods with an untreated unit; returns
        (kept units, y, cohort, treated, untreated, times) on it."""
        treated = (coh[:, None] > 0) & (times[None, :] >= coh[:, None] - self.anticipation) & obs
        untreated = obs & ~treated
        keep = untreated.any(1)
        if not (treated & keep[:, None]).any():
            raise EvalkitError("no treated unit-period with an untreated period to impute from", column="cohort")
        y, coh, treated, untreated = y[keep], coh[keep], treated[keep], untreated[keep]
        ok_t = untreated.any(0)
        return keep, y[:, ok_t], coh, treated[:, ok_t], untreated[:, ok_t], times[ok_t]

    def _unit_estimates(
        self, y: np.ndarray, obs: np.ndarray, coh: np.ndarray, times: np.ndarray
    ) -> dict[str, np.ndarray]:
        """name -> m x units: each column's estimate restricted to each unit (see `BoundPoints`). Every
        estimate is linear in the outcome, sum(v y) over the observed cells with v = w on the treated cells
        and -Z0 (Z0'Z0)^-1 Z1' w on the untreated ones (`imputation._untreated_weights`, the weights its
        variance uses), so unit i's part is the sum over its own cells: one solve with a right-hand side
        per estimand instead of one per unit. Equal to the column per unit up to round-off of the solve."""
        n = y.shape[0]
        keep, y, coh, treated, untreated, times = self._sample(y, obs, coh, times)
        names, weights = _estimands(treated, coh, times[None, :] - coh[:, None])
        v = weights + _untreated_weights(weights, untreated)  # estimands x units x times
        part = np.einsum("kit,itm->kmi", v, np.where((treated | untreated)[..., None], y, 0.0))
        out = {name: part[k] for k, (name, _, _) in enumerate(names)}
        post = [k for k, (_, agg, lab) in enumerate(names) if agg == "dynamic" and lab["event_time"] >= 0]
        out["dynamic"] = part[post].mean(0) if post else np.full(part.shape[1:], np.nan)
        full = {}
        for name, values in out.items():  # a unit left out of the sample contributes 0
            full[name] = np.zeros((values.shape[0], n))
            full[name][:, keep] = values
        return full

    def _estimates(self, y: np.ndarray, obs: np.ndarray, coh: np.ndarray, times: np.ndarray) -> dict[str, np.ndarray]:
        _, y, coh, treated, untreated, times = self._sample(y, obs, coh, times)
        y0 = np.where(untreated[..., None], y, 0.0)
        a, b = _design_solve(untreated, y0.sum(1), y0.sum(0))  # n x m, T x m
        tau = np.where(treated[..., None], y - a[:, None, :] - b[None, :, :], 0.0)
        names, weights = _estimands(treated, coh, times[None, :] - coh[:, None])
        est = np.einsum("kit,itm->km", weights, tau)
        out = {name: est[k] for k, (name, _, _) in enumerate(names)}
        post = [k for k, (_, agg, lab) in enumerate(names) if agg == "dynamic" and lab["event_time"] >= 0]
        out["dynamic"] = est[post].mean(0) if post else np.full(y.shape[2], np.nan)
        return out
