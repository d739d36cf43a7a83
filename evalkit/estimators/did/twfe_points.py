"""TWFE coefficient on the treatment dummy for several outcome columns at once, for permutation loops;
see `cs_points` for the protocol. With unit and time effects partialled out over the observed cells,
the coefficient of every column is sum(d~ y) / sum(d~^2) (d~ the two-way residual of the treatment
dummy), so one demeaning per assignment serves all columns. Equal to `inference.twfe_coefficient` up
to round-off (tests/estimators/test_size_robust.py)."""

from __future__ import annotations

import numpy as np

from evalkit.estimators.data import LongPanel
from evalkit.estimators.did._cube import BoundPoints, Cube
from evalkit.estimators.did._util import treatment_matrix, twoway_demean


class TWFEPoints:
    """`twfe_coefficient(panel)` as {"coef": ...} for many outcome columns."""

    def bind(self, panel: LongPanel) -> BoundPoints:
        cube = Cube(panel)
        times = cube.times

        def parts(cohort: np.ndarray, columns: np.ndarray, sums: str) -> dict[str, np.ndarray]:
            y = cube.fill(columns)
            mask = np.isfinite(y[..., 0])
            dt = twoway_demean(treatment_matrix(np.asarray(cohort, dtype=np.int64), times), mask)
            q = float((dt**2).sum())
            num = np.einsum(sums, dt, np.where(np.isfinite(y), y, 0.0))
            return {"coef": num / q if q > 0 else np.full(num.shape, np.nan)}

        def many(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            return parts(cohort, columns, "it,itm->m")

        def by_unit(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            """Each unit's share of the numerator: the coefficient of the column masked to that unit."""
            return parts(cohort, columns, "it,itm->mi")

        return BoundPoints(many, by_unit)
