"""Hagemann's rearrangement test (`hagemann`) for an estimate that rests on one treated council.

The estimators with a many-columns point path are linear in the outcome: a row is the sum over the panel's
cells of a weight times the outcome. The row is "one council's own comparison against the mean of the same
comparison in q others" exactly when the council i has weights v over the years, each of q comparison
councils has weights -v / q, and no other council enters. Then x1 = v . Y_i, x0_j = v . Y_j, and the row
equals x1 - mean(x0), which is what Hagemann's test needs (for a Callaway-Sant'Anna cohort or event-time row
of one council, x1 is its change from the base year averaged over the row's years and x0 the same change of
each comparison council). The weights are read off the estimator's own point path (one basis column per
observed cell), so nothing here restates an estimator, and a row without that structure is refused with the
reason: comparison councils entering with different weights (years missing for some, or a comparison group
that changes across the row's years, as not-yet-treated councils leave it), or other councils' years entering
the row (the imputation estimator's time effects use every council's untreated years).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from evalkit.estimators.inference import hagemann

Many = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
MAX_CELLS = 20_000  # reading the weights costs one point-path column per observed cell
CHUNK = 256  # basis columns per point-path call
TOL = 1e-9  # relative: weights that differ by less are equal (round-off of the point path)


def cell_weights(
    many: Many,
    cohort: np.ndarray,
    y: np.ndarray,
    unit_of_row: np.ndarray,
    time_of_row: np.ndarray,
    shape: tuple[int, int],
    names: list[str],
) -> dict[str, np.ndarray]:
    """name -> units x times weights of each named estimate (0 where a cell does not enter it or has no
    outcome), from basis columns: column k is 1 on observed row k, 0 on the others, and NaN on every row
    whose outcome is missing (so each column has the outcome's own missing cells)."""
    rows = np.flatnonzero(np.isfinite(y))
    out = {n: np.zeros(shape) for n in names}
    for start in range(0, len(rows), CHUNK):
        part = rows[start : start + CHUNK]
        cols = np.zeros((len(y), len(part)))
        cols[part, np.arange(len(part))] = 1.0
        cols[~np.isfinite(y)] = np.nan
        got = many(cohort, cols)
        for n in names:
            v = got.get(n)
            if v is not None:
                out[n][unit_of_row[part], time_of_row[part]] = np.nan_to_num(np.asarray(v, float), nan=0.0)
    return out


def split(weights: np.ndarray, cohort: np.ndarray) -> dict[str, Any]:
    """The row's treated council and comparison councils from its units x times weights:
    {"treated": i, "comparisons": [j...], "years": v} when the row is v . Y_i - mean_j v . Y_j, else
    {"reason": ...}. The comparison councils are those sharing the weights of the first never-treated council
    that enters; the treated council is the one other council, which must be treated and weigh -q times them."""
    scale = float(np.max(np.abs(weights))) if weights.size else 0.0
    if scale == 0.0:
        return {"reason": "no council's outcomes enter this estimate"}
    tol = TOL * scale
    enters = np.flatnonzero(np.any(np.abs(weights) > tol, axis=1))
    never = [u for u in enters if cohort[u] == 0]
    if not never:
        return {"reason": "no never-treated council enters this estimate"}
    ref = weights[never[0]]
    same = np.all(np.abs(weights[enters] - ref) <= tol, axis=1)
    comparisons, others = enters[same], enters[~same]
    q = len(comparisons)
    if len(others) != 1:
        if any(cohort[u] == 0 for u in others):
            return {"reason": "its comparison councils enter it with different weights (some lack years it uses)"}
        return {
            "reason": f"{len(others) - 1} other treated councils' years enter it (as comparison councils that move "
            "during its years, or through the estimator's year effects): not one council against one comparison group"
        }
    i = int(others[0])
    if cohort[i] <= 0:
        return {"reason": "the council entering with its own weights is not a treated council"}
    if not np.all(np.abs(weights[i] + q * ref) <= tol * max(1, q)):
        return {"reason": "its treated council's weights are not the comparison councils' times minus their number"}
    return {"treated": i, "comparisons": [int(j) for j in comparisons], "years": weights[i].copy()}


def comparison(weights: np.ndarray, cube: np.ndarray, parts: dict[str, Any]) -> tuple[float, np.ndarray]:
    """(x1, x0): the treated council's weighted outcome and each comparison council's with the same weights,
    each comparison's taken as -q times its own contribution to the row so that x1 - mean(x0) is the row's
    estimate up to the round-off of summing its cells."""
    i, comp = parts["treated"], parts["comparisons"]
    y = np.nan_to_num(cube, nan=0.0)
    x1 = float(weights[i] @ y[i])
    x0 = -len(comp) * np.einsum("jt,jt->j", weights[comp], y[comp])
    return x1, x0


def _refused(row: dict[str, Any], why: str) -> dict[str, Any]:
    return {**row, "ci_low": None, "ci_high": None, "p_value": None, "why": why}


def row_interval(
    name: str,
    estimate: float,
    weights: np.ndarray,
    cube: np.ndarray,
    cohort: np.ndarray,
    units: list[Any],
    *,
    rho: float,
    alpha: float,
) -> dict[str, Any]:
    """Hagemann's interval and p-value for one row, or why there is none. `estimate` is the row's own point
    estimate; x1 - mean(x0) must equal it (to 1e-8 of its scale), else the row is refused."""
    parts = split(weights, cohort)
    out: dict[str, Any] = {"name": name, "estimate": float(estimate), "method": "hagemann", "rho": float(rho)}
    if "reason" in parts:
        return _refused(out, parts["reason"])
    x1, x0 = comparison(weights, cube, parts)
    gap = abs(x1 - float(np.mean(x0)) - estimate)
    q = len(x0)
    out.update(treated_unit=units[parts["treated"]], q=q, x1=x1, x0_mean=float(np.mean(x0)), gap_to_estimate=gap)
    if not gap <= 1e-8 * max(1.0, abs(x1), float(np.max(np.abs(x0)))):
        return _refused(out, f"the council's comparison does not reproduce the estimate (gap {gap:.3g})")
    ci = hagemann.interval(x1, x0, alpha=alpha, rho=rho)
    out.update(w=ci["weight"], level_per_side=alpha / 2)
    if ci["ci_low"] is None:
        return _refused(
            out,
            f"too few comparison councils ({q}) for a {100 * (1 - alpha):.0f}% interval allowing the council "
            f"{rho:g} times their standard deviation: no weight keeps the test's size",
        )
    return {**out, "ci_low": ci["ci_low"], "ci_high": ci["ci_high"], "p_value": hagemann.pvalue(x1, x0, rho=rho)}


def hagemann_rows(
    panel: Any, many: Many, names: list[str], estimates: dict[str, float], *, rho: float, alpha: float
) -> list[dict[str, Any]]:
    """`row_interval` for each named estimate of `panel` (the rows resting on one treated council), with the
    weights read once for all of them. Refuses them all, saying why, when the panel is too large to read."""
    from evalkit.estimators.inference.randomisation import panel_cohorts
    from evalkit.estimators.inference.size_robust import Layout

    layout = Layout(panel)
    cohort = panel_cohorts(panel)
    y = panel.data["y"].to_numpy().astype(float)
    units = list(layout.units)
    if int(np.isfinite(y).sum()) > MAX_CELLS:
        why = f"the panel has more than {MAX_CELLS} observed council-years, too many to read the row's weights"
        return [
            _refused({"name": n, "estimate": estimates[n], "method": "hagemann", "rho": float(rho)}, why) for n in names
        ]
    shape = layout.mask.shape
    w = cell_weights(many, cohort, y, layout.ui, layout.ti, shape, names)
    cube = np.full(shape, np.nan)
    cube[layout.ui, layout.ti] = y
    return [row_interval(n, estimates[n], w[n], cube, cohort, units, rho=rho, alpha=alpha) for n in names]
