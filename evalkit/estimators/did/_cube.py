"""A long panel's unit x time layout, read once, for the permutation fast paths (cs_points,
sunab_points, imputation_points): each permuted assignment fills new outcome columns into the same
layout instead of re-reading the panel."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.estimators.data import LongPanel


class Cube:
    """`fill(columns)`: outcome columns (panel rows x m, in the panel's row order) as a units x times x m
    array, NaN where the panel has no row; units and times sorted as in `LongPanel`."""

    def __init__(self, panel: LongPanel) -> None:
        data = panel.data
        self.units = np.array(panel.units)
        self.times = np.asarray(panel.times, dtype=np.int64)
        self._ui = np.searchsorted(self.units, data["unit"].to_numpy())
        self._ti = np.searchsorted(self.times, data["time"].to_numpy())

    def fill(self, columns: np.ndarray) -> np.ndarray:
        columns = np.asarray(columns, dtype=float)
        if columns.ndim == 1:
            columns = columns[:, None]
        y = np.full((len(self.units), len(self.times), columns.shape[1]), np.nan)
        y[self._ui, self._ti] = columns
        return y


Many = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


@dataclass(frozen=True)
class BoundPoints:
    """A fast path's many(cohort, columns) -> name -> m estimates, with `by_unit(cohort, columns)` ->
    name -> m x units, each column's estimate restricted to each unit (the column on that unit's cells, 0
    on the other units' observed cells): the unit contributions c_i = T(column masked to unit i) of the
    studentised permutation test (size_robust), without an outcome column per unit.

    `many_batch(cohorts, columns)` (None where a path has none): name -> B x m, row b the bits of
    many(cohorts[b], columns), for B assignments in one pass (a permutation loop's Python calls
    amortised); it raises where any row's many would."""

    many: Many
    by_unit: Many
    many_batch: Many | None = None

    def __call__(self, cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
        return self.many(cohort, columns)


class Last:
    """The value computed for the last key (bytes), recomputed when the key changes: one entry, so memory
    stays that of one result, and equal bytes always give the value computed from them."""

    def __init__(self) -> None:
        self.key: bytes | None = None
        self.value: Any = None

    def get(self, key: bytes, compute: Callable[[], Any]) -> Any:
        if key != self.key:
            self.key, self.value = None, compute()
            self.key = key
        return self.value


def at_observed(many, panel: LongPanel) -> dict[str, float]:
    """A fast path's estimates at the panel's own adoption dates and outcome, as {name: value}."""
    first = panel.data.sort("unit", "time").group_by("unit", maintain_order=True).first().sort("unit")
    out = many(first["cohort"].to_numpy(), panel.data["y"].to_numpy())
    return {k: float(v[0]) for k, v in out.items()}
