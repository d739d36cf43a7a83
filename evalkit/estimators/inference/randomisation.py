"""Randomisation inference: adoption dates permuted across units, the constant-effect null inverted.

One engine for every caller. A statistic maps a long panel to named estimates; each permutation
reassigns the cohort vector across units (cohort sizes kept) and evaluates the statistic on the outcome
and on the treatment indicator. For a statistic linear in the outcome, T(Y - tau0·D) = T(Y) - tau0·T(D)
(checked at the observed assignment), so two evaluations per permutation give the test of every
tau0 and the interval is found by inverting it. A statistic with a many-columns point path (`bind`,
e.g. did.cs_points.CSPoints) evaluates y and d in one pass; it is checked once against the full
statistic at the observed assignment and dropped on a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.inference.inversion import invert
from evalkit.estimators.results import Results
from evalkit.parallel import pmap, tracked

Statistic = Callable[[LongPanel], dict[str, float]]
RI_SUFFIX = ":randomisation"  # row suffix kept from evalkit 0.x results (British spelling)


def panel_cohorts(panel: LongPanel) -> np.ndarray:
    return np.array(list(panel.unit_cohorts().values()))


class Permuter:
    """Rebuilds a panel with a new unit → cohort assignment, cheaply."""

    def __init__(self, panel: LongPanel) -> None:
        self.panel = panel
        self.units = np.array(panel.units)
        self.row_unit = np.searchsorted(self.units, panel.data["unit"].to_numpy())
        self.cohort = panel_cohorts(panel)
        t, c = panel.data["time"].to_numpy(), panel.data["cohort"].to_numpy()
        self.d_obs = ((c > 0) & (t >= c)).astype(float)

    def make(self, cohort: np.ndarray, y: np.ndarray | None = None) -> LongPanel:
        cols = [pl.Series("cohort", cohort[self.row_unit], dtype=pl.Int64)]
        if y is not None:
            cols.append(pl.Series("y", y, dtype=pl.Float64))
        return LongPanel(self.panel.data.with_columns(cols), self.panel.outcome, self.panel.covariates)


class Draws:
    """The statistic at the observed assignment (a, on y; b, on d) and under each permutation."""

    def __init__(
        self,
        panel: LongPanel,
        statistic: Statistic,
        names: list[str],
        *,
        n_perm: int,
        seed: int,
        progress: str | None = "permutations",
        universe: dict[Any, int] | None = None,
        observed: np.ndarray | None = None,
    ) -> None:
        """`observed`: the statistic at the panel as it is (one value per name), when the caller already
        has it from the same computation (the estimate rows of the fit just made); computed here otherwise."""
        perm = Permuter(panel)
        y = panel.data["y"].to_numpy()

        def vec(p: LongPanel) -> np.ndarray:
            out = statistic(p)
            return np.array([out.get(n, np.nan) for n in names], dtype=float)

        self.names, self.n_perm = names, n_perm
        self.a_obs = vec(panel) if observed is None else np.asarray(observed, dtype=float)
        exact = _bind_exact(statistic, panel, names)
        if exact is None:
            self.b_obs = vec(perm.make(perm.cohort, perm.d_obs))
            c_obs = vec(perm.make(perm.cohort, y + 2.5 * perm.d_obs))
        else:  # the same numbers, on the layout read once
            self.b_obs, c_obs = exact(perm.cohort, np.column_stack([perm.d_obs, y + 2.5 * perm.d_obs])).T
        self.linear = np.isfinite(self.b_obs) & (
            np.abs(c_obs - (self.a_obs + 2.5 * self.b_obs)) <= 1e-7 * np.maximum(1.0, np.abs(c_obs))
        )
        rng = np.random.default_rng(seed)
        if universe is None:
            assignments = [rng.permutation(perm.cohort) for _ in range(n_perm)]
        else:
            assignments = universe_assignments(universe, list(perm.units), perm.cohort, rng, n_perm)
        fast = _fast_points(statistic, panel, perm, names, np.column_stack([y, perm.d_obs]), (self.a_obs, self.b_obs))

        def one(cohort: np.ndarray) -> np.ndarray:
            if fast is not None:  # y and d in one pass
                return fast(cohort).T.ravel()
            return np.concatenate([vec(perm.make(cohort)), vec(perm.make(cohort, perm.d_obs))])

        def one_of_family(cohort: np.ndarray) -> np.ndarray:
            """A family's assignment may leave this outcome no estimable treated council (the councils drawn
            lack it, or lack a pre-period): that draw has no estimate here (NaN), and is left out."""
            try:
                return one(cohort)
            except EvalkitError:
                return np.full(2 * len(names), np.nan)

        on_result = tracked(progress, n_perm) if progress else None
        each = one if universe is None else one_of_family
        batch = getattr(fast, "batch", None)
        if batch is None or BATCH < 2:
            ab = np.array(pmap(each, assignments, on_result=on_result))
        else:
            ab = _in_batches(batch, each, assignments, on_result)
        self.a_p, self.b_p = ab[:, : len(names)], ab[:, len(names) :]

    def test(self, k: int, alpha: float) -> dict[str, Any] | None:
        """p-value of no effect and the interval inverting the constant-effect null for estimate k."""
        a_obs, b_obs = self.a_obs, self.b_obs
        ak, bk = self.a_p[:, k], self.b_p[:, k]
        ok = np.isfinite(ak) & np.isfinite(bk)
        if not np.isfinite(a_obs[k]) or ok.sum() < 2:
            return None
        ak, bk, m = ak[ok], bk[ok], int(ok.sum())

        def pfun(tau0: float) -> float:
            stat = np.abs(ak - tau0 * bk) >= np.abs(a_obs[k] - tau0 * b_obs[k]) - 1e-12
            return float((1 + np.sum(stat)) / (1 + m))

        lo = hi = None
        if self.linear[k] and abs(b_obs[k]) > 1e-12:
            centre, scale = a_obs[k] / b_obs[k], max(float(np.std(ak)), 1e-8)
            lo, hi = invert(pfun, centre, scale, alpha, -1), invert(pfun, centre, scale, alpha, 1)
            lo, hi = (None if not np.isfinite(lo) else lo), (None if not np.isfinite(hi) else hi)
        return {"estimate": float(a_obs[k]), "ci_low": lo, "ci_high": hi, "p_value": pfun(0.0)}


def randomisation_rows(
    panel: LongPanel,
    statistic: Statistic,
    names: list[str],
    *,
    n_perm: int,
    seed: int,
    alpha: float,
    universe: dict[Any, int] | None = None,
    keep_draws: bool = False,
    observed: np.ndarray | None = None,
    rows_for: list[str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Permutation test of every named estimate at once: rows "<name>:randomisation" and what was done.

    `universe` (unit -> cohort over every council of a family of analyses): adoption dates are permuted
    across the universe and read off for this panel's councils, so every analysis of the family sees the
    same permuted assignments (their joint distribution is what Romano-Wolf needs). With a universe or
    `keep_draws` the estimates under every permuted assignment are kept in info["draws"] (their spread
    is the event study's permutation covariance, estimators.honest.honest). `observed`: the statistic at
    the observed assignment, when the caller has it (see `Draws`). `rows_for`: the names whose rows (test and
    interval) are made (default: all); the others are permuted for the pre-trend test only. Each row reads its
    own column of the same draws, so a row's bits do not depend on which others are made."""
    draws = Draws(panel, statistic, names, n_perm=n_perm, seed=seed, universe=universe, observed=observed)
    rows = []
    for k, name in enumerate(names):
        if rows_for is not None and name not in rows_for:
            continue
        row = draws.test(k, alpha)
        if row is not None:
            rows.append({"name": name + RI_SUFFIX, **row})
    info = {
        "n_perm": n_perm,
        "permuted": "adoption dates across units (cohort sizes kept)",
        "ci": "inverts the sharp null of a constant effect in treated cells",
        "seed": seed,
        "linear_in_outcome": bool(draws.linear.all()),
        "min_attainable_p": 1 / (1 + n_perm),
    }
    pre = randomisation_pretrend(names, draws.a_obs, draws.a_p)
    if pre is not None:
        info["pretrend"] = pre
    if universe is not None:
        info["joint"] = {
            "assignments": assignment_digest(universe, seed, n_perm),
            "units_in_universe": len(universe),
            "draws_without_estimate": int(np.sum(~np.any(np.isfinite(draws.a_p), axis=1))),
        }
    if universe is not None or keep_draws:
        info["draws"] = {"names": list(names), "values": [[_json_float(v) for v in row] for row in draws.a_p]}
    return rows, info


def _json_float(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def universe_positions(
    universe: dict[Any, int], units: list[Any], observed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(position of each of `units` in the sorted universe, the universe's adoption dates in that order),
    after checking that every unit is in the universe with the adoption date this analysis gives it."""
    order = sorted(universe)
    position = {u: i for i, u in enumerate(order)}
    missing = [u for u in units if u not in position]
    if missing:
        raise ValueError(f"unit {missing[0]!r} is not in the family's universe of councils")
    pos = np.array([position[u] for u in units])
    cohorts = np.array([universe[u] for u in order])
    if not np.array_equal(cohorts[pos], observed):
        raise ValueError("the family's universe gives a council another adoption year than this analysis")
    return pos, cohorts


def universe_assignments(
    universe: dict[Any, int], units: list[Any], observed: np.ndarray, rng: np.random.Generator, n_perm: int
) -> list[np.ndarray]:
    """Permutations of the universe's adoption dates, read off for `units` (which must agree with it)."""
    pos, cohorts = universe_positions(universe, units, observed)
    return [rng.permutation(cohorts)[pos] for _ in range(n_perm)]


def assignment_digest(universe: dict[Any, int], seed: int, n_perm: int) -> str:
    """Names the permuted assignments (same digest: same draws, in the same order)."""
    import hashlib

    text = repr((sorted((str(u), int(c)) for u, c in universe.items()), int(seed), int(n_perm)))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def randomisation_inference(
    panel: LongPanel,
    estimator_fn: Callable[[LongPanel], float],
    n_perm: int = 999,
    seed: int = 20240101,
    *,
    alpha: float = 0.05,
) -> Results:
    """A scalar statistic's permutation p-value (Fisher sharp null) and test-inversion interval, as Results:
    the same engine as `randomisation_rows`, for a statistic given as a plain function."""
    from evalkit.estimators.did._util import estimate_table

    draws = Draws(panel, lambda p: {"coef": estimator_fn(p)}, ["coef"], n_perm=n_perm, seed=seed, progress=None)
    tested = draws.test(0, alpha) or {"estimate": float(draws.a_obs[0]), "ci_low": None, "ci_high": None}
    linear = bool(draws.linear[0])
    row = {"name": "coef", "aggregation": "coef", "p_value": None, **tested}
    return Results(
        method="randomisation_inference",
        outcome=panel.outcome,
        estimates=estimate_table([row]),
        inference={
            "se_type": "none; permutation p-value and CI by inverting the constant-effect sharp null",
            "n_perm": n_perm,
            "alpha": alpha,
            "permuted": "cohort vector across units",
        },
        diagnostics={
            "linear_in_outcome": linear,
            "min_attainable_p": 1 / (1 + n_perm),
            **({} if linear else {"ci": "not computed: estimator is not linear in the outcome"}),
        },
        options={"n_perm": n_perm, "alpha": alpha, "estimator": getattr(estimator_fn, "__name__", "custom")},
        seed=seed,
        extra={"permutations": pl.DataFrame({"estimate": draws.a_p[:, 0]})},
    )


# assignments per many_batch call: 99 permutations in one call, 199 in two; arrays stay small (below 2: one
# call per assignment, the path the batches are checked against)
BATCH = 100


def _in_batches(
    batch: Callable[[np.ndarray], np.ndarray],
    each: Callable[[np.ndarray], np.ndarray],
    assignments: list[np.ndarray],
    on_result: Callable[[int], None] | None,
) -> np.ndarray:
    """The rows `each` gives for every assignment, from the fast path's `batch` (B assignments a call, the
    same bits); a batch in which any assignment raises runs `each` per assignment, so the error is
    raised, or a family's draw left out, exactly as without batches."""
    chunks = [assignments[i : i + BATCH] for i in range(0, len(assignments), BATCH)]
    ends = np.cumsum([0] + [len(c) for c in chunks])

    def rows(chunk: list[np.ndarray]) -> list[np.ndarray]:
        try:
            return list(batch(np.array(chunk)))
        except EvalkitError:
            return [each(c) for c in chunk]

    def progress(k: int) -> None:  # every count, as the per-assignment loop reports them (a batch at once)
        for done in range(int(ends[k - 1]) + 1, int(ends[k]) + 1):
            on_result(done)

    parts = pmap(rows, chunks, on_result=None if on_result is None else progress)
    return np.array([r for part in parts for r in part])


def _bind_exact(
    statistic: Statistic, panel: LongPanel, names: list[str]
) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    """The statistic's `bind_exact` (the full statistic's own numbers, bit for bit, for outcome columns at a
    cohort assignment on this panel's layout) as cohort, columns -> names x columns; None without one."""
    bind = getattr(statistic, "bind_exact", None)
    many = bind(panel) if bind is not None else None
    if many is None:
        return None

    def mat(cohort: np.ndarray, columns: np.ndarray) -> np.ndarray:
        out = many(cohort, columns)
        missing = np.full(columns.shape[1], np.nan)
        return np.array([out.get(n, missing) for n in names], dtype=float).reshape(len(names), columns.shape[1])

    return mat


def _fast_points(
    statistic: Statistic,
    panel: LongPanel,
    perm: Permuter,
    names: list[str],
    columns: np.ndarray,
    observed: tuple[np.ndarray, np.ndarray],
) -> Callable[[np.ndarray], np.ndarray] | None:
    """The statistic's many-columns path (`bind`), as cohort -> names x columns, or None when it has none
    for this panel. Checked once against the full statistic at the observed assignment (relative 1e-9);
    on a mismatch the loop keeps the full statistic."""
    bind = getattr(statistic, "bind", None)
    if bind is None:
        return None
    many = bind(panel, names) if getattr(statistic, "binds_names", False) else bind(panel)
    if many is None:
        return None

    def mat(cohort: np.ndarray) -> np.ndarray:
        out = many(cohort, columns)
        missing = np.full(columns.shape[1], np.nan)
        return np.array([out.get(n, missing) for n in names], dtype=float).reshape(len(names), columns.shape[1])

    check = mat(perm.cohort)
    for col, full in enumerate(observed):
        agree = np.isclose(check[:, col], full, rtol=1e-9, atol=1e-9) | (np.isnan(check[:, col]) & np.isnan(full))
        if not agree.all():
            return None
    many_batch = getattr(many, "many_batch", None)
    if many_batch is not None:

        def batch(cohorts: np.ndarray) -> np.ndarray:
            """B x (names x columns, column-major): row b is mat(cohorts[b]).T.ravel(), the same bits."""
            out = many_batch(cohorts, columns)
            missing = np.full((len(cohorts), columns.shape[1]), np.nan)
            stacked = np.array([out.get(n, missing) for n in names], dtype=float)  # names x B x columns
            return stacked.transpose(1, 2, 0).reshape(len(cohorts), -1)

        mat.batch = batch  # type: ignore[attr-defined]
    return mat


def randomisation_pretrend(names: list[str], a_obs: np.ndarray, a_p: np.ndarray) -> dict[str, Any] | None:
    """Joint permutation test that the pre-treatment event-time effects are zero.

    Statistic: sum over pre-periods of (estimate / its permutation s.d.)^2, compared with the same
    statistic under each permuted assignment. Unlike an analytic Wald test it keeps its size when an
    event time rests on one or two treated units (whose analytic variance is near zero)."""
    idx = [k for k, n in enumerate(names) if n.startswith("dynamic:e=-")]
    if not idx:
        return None
    a, p = a_obs[idx], a_p[:, idx]
    keep = np.isfinite(a) & np.all(np.isfinite(p), axis=0)
    if not keep.any():
        return None
    a, p = a[keep], p[:, keep]
    sd = np.std(p, axis=0, ddof=1)
    ok = sd > 0
    if not ok.any():
        return None
    t_obs = float(np.sum((a[ok] / sd[ok]) ** 2))
    t_p = np.sum((p[:, ok] / sd[ok]) ** 2, axis=1)
    return {
        "statistic": t_obs,
        "df": int(ok.sum()),
        "p_value": float((1 + np.sum(t_p >= t_obs - 1e-12)) / (1 + len(t_p))),
        "test": "permutation: sum of squared standardised pre-treatment event-time effects, adoption dates permuted",
    }
