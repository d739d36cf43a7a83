"""Randomisation intervals that keep their size when the treated units differ in size from the rest.

Coefficient permutation (`few_treated.randomisation_rows`) compares the estimate with its value when
the adoption dates are given to other units. That assumes the units are exchangeable: when the
treated councils are small (noisy) the estimate varies more than its permutation distribution says,
and when they are large it varies less (Ferman and Pinto 2019; MacKinnon and Webb 2020). Two
corrections, both for estimators linear in the outcome (CS without covariates, Sun-Abraham,
imputation, TWFE) and using their many-columns point paths (`cs_points`, `sunab_points`,
`imputation_points`, `twfe_points`):

* "studentized": the statistic is a t-statistic whose variance is re-estimated under every
  assignment (Wu and Ding 2021; Chung and Romano 2013): the estimate is a sum of unit contributions
  c_i = T(ε masked to unit i), ε the two-way residuals of the outcome under the null (Y - τ0·D), and
  its variance Σ c_i². Each permuted assignment re-estimates it from its own pseudo-treated units, so
  the statistic is (asymptotically) pivotal whatever the treated units' variances. Both parts are
  linear in τ0, so the CI inverts the test exactly on a grid-free bisection.
* "ferman_pinto": the residual variance is modelled as a function of unit size (log of the mean
  squared two-way residual over untreated cells regressed on log size; Ferman and Pinto 2019), and
  under each permuted assignment every unit's residuals are rescaled to the modelled standard
  deviation of the unit whose adoption date it takes. The permuted statistics then have the
  variance the observed one has; the test is the ordinary coefficient permutation test on them.

For SDID (`sdid_ferman_pinto`) the placebo draws (never-treated units take the treated units'
adoption dates) are rescaled the same way. With one treated unit a studentised statistic has no
power (its variance is the unit's own squared contribution), so `studentized` refuses an estimand
that rests on fewer than two treated units; `ferman_pinto` is valid there if the variance model is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did._util import twoway_demean
from evalkit.estimators.inference.randomisation import universe_positions

Many = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]
MIN_TREATED_STUDENTIZED = 2


@dataclass(frozen=True)
class SizeKind:
    """One interval kind of this module: its name, what it needs and the methods it applies to."""

    name: str
    needs_size: bool
    methods: tuple[str, ...]
    summary: str


KINDS = {
    k.name: k
    for k in (
        SizeKind(
            "studentized",
            False,
            ("cs", "sunab", "imputation", "twfe"),
            "studentised randomisation: adoption dates permuted, t-statistics with a unit-clustered variance "
            "re-estimated under each assignment",
        ),
        SizeKind(
            "ferman_pinto",
            False,
            ("cs", "sunab", "imputation", "twfe", "sdid"),
            "size-rescaled randomisation (Ferman-Pinto): residual variance modelled on unit size, each "
            "permuted unit's residuals rescaled to the variance of the unit whose adoption date it takes",
        ),
    )
}


class Layout:
    """Unit x time layout of a long panel, for residualising long-row vectors."""

    def __init__(self, panel: LongPanel) -> None:
        data = panel.data
        self.units = np.array(panel.units)
        self.times = np.asarray(panel.times, dtype=np.int64)
        self.ui = np.searchsorted(self.units, data["unit"].to_numpy())
        self.ti = np.searchsorted(self.times, data["time"].to_numpy())
        self.mask = np.zeros((len(self.units), len(self.times)), bool)
        self.mask[self.ui, self.ti] = True
        self.n = len(self.units)

    def residualise(self, v: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """Two-way (unit and time) residuals of a long-row vector over the panel's observed cells (or
        over the cells of `rows` only, a boolean per row; other rows come back as 0)."""
        cube = np.zeros(self.mask.shape)
        cube[self.ui, self.ti] = v
        mask = self.mask
        if rows is not None:
            mask = np.zeros(self.mask.shape, bool)
            mask[self.ui[rows], self.ti[rows]] = True
        return twoway_demean(cube, mask)[self.ui, self.ti]

    def by_unit(self, v: np.ndarray) -> np.ndarray:
        """rows x units: column i is `v` on unit i's rows and 0 elsewhere (unit contributions)."""
        out = np.zeros((len(v), self.n))
        out[np.arange(len(v)), self.ui] = v
        return out


# A unit's residual variance below this share of the median unit's is rounding, not variance: a unit with
# one untreated cell has a residual of exactly zero in the two-way fit, computed as ~1e-29.
ROUNDING_SHARE = 1e-10


def modelled_sd(
    resid: np.ndarray,
    untreated: np.ndarray,
    unit_of_row: np.ndarray,
    n_units: int,
    size: np.ndarray | None,
    *,
    identified_only: bool = False,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Standard deviation of each unit's residuals, as modelled: log mean squared residual over untreated
    cells regressed on log size (Ferman-Pinto); without a size, each unit's own (untreated cells). The
    residuals come from a two-way fit on untreated cells alone, so the model does not move with the effect.

    `identified_only` (opt-in, `[inference] size_fit_identified`): the log-variance fit leaves out units
    whose residual variance is not identified, fewer than two untreated cells or a variance at rounding
    level; otherwise (plans v4, v5) such a unit enters at log(1e-29) ~ -65 and can turn the slope."""
    ss = np.bincount(unit_of_row[untreated], weights=resid[untreated] ** 2, minlength=n_units)
    cnt = np.bincount(unit_of_row[untreated], minlength=n_units).astype(float)
    own = np.where(cnt > 0, ss / np.maximum(cnt, 1), np.nan)
    ok = np.isfinite(own) & (own > 0)
    left_out = 0
    if identified_only and size is not None:
        scale = float(np.median(own[ok])) if ok.any() else 0.0
        keep = ok & (cnt >= 2) & (own > ROUNDING_SHARE * scale)
        left_out, ok = int(ok.sum() - keep.sum()), keep
    if size is None:
        if not ok.all():
            raise EvalkitError("a unit has no untreated residual variance to rescale by", column="cohort")
        return np.sqrt(own), {"variance_model": "each unit's own untreated-cell residual variance"}
    size = np.asarray(size, float)
    if not np.all(np.isfinite(size) & (size > 0)):
        raise EvalkitError("every unit needs a positive size for the Ferman-Pinto correction", column="size")
    if ok.sum() < 3:
        raise EvalkitError("too few units with a size and a residual variance to model it", column="size")
    x, y = np.log(size[ok]), np.log(own[ok])
    slope, intercept = np.polyfit(x, y, 1)
    fitted = np.exp(0.5 * (intercept + slope * np.log(size)))
    return fitted, {
        "variance_model": "log mean squared two-way residual (untreated cells) = a + b log(size)",
        "slope": float(slope),
        "intercept": float(intercept),
        **(
            {"fit_units": int(ok.sum()), "left_out_of_fit": left_out, "fit": "units with an identified variance"}
            if identified_only
            else {}
        ),
    }


def contributing_units(many: Many, layout: Layout, cohort: np.ndarray, names: list[str], seed: int = 7) -> np.ndarray:
    """names x units 0/1: whether a treated unit's outcomes enter each estimate (a random probe of its own
    rows, zero elsewhere, moves the estimate). Counts the treated councils an estimand rests on."""
    tr = np.flatnonzero(cohort > 0)
    probe = np.random.default_rng(seed).normal(size=len(layout.ui))
    cols = layout.by_unit(probe)[:, tr]
    out = many(cohort, cols)
    res = np.zeros((len(names), layout.n), bool)
    for k, n in enumerate(names):
        v = out.get(n)
        if v is not None:
            res[k, tr] = np.abs(np.nan_to_num(v)) > 1e-10
    return res


def _pvalue(stat_p: np.ndarray, stat_obs: float) -> float:
    return float((1 + np.sum(np.abs(stat_p) >= abs(stat_obs) - 1e-12 * max(1.0, abs(stat_obs)))) / (1 + len(stat_p)))


class StudentizedTest:
    """p(τ0) of the studentised permutation test for one estimand, from per-assignment sums:
    a, b (estimate of Y and of D_obs) and A = Σc_y², B = Σc_y c_d, C = Σc_d² (unit contributions of the
    residualised Y and D_obs), so t(τ0) = (a - τ0 b) / sqrt(A - 2τ0 B + τ0² C)."""

    def __init__(self, obs: np.ndarray, perm: np.ndarray) -> None:
        self.obs, self.perm = obs, perm  # (5,), (m, 5)

    @staticmethod
    def t(s: np.ndarray, tau0: float) -> np.ndarray:
        a, b, A, B, C = np.moveaxis(np.atleast_2d(s), -1, 0)
        var = np.maximum(A - 2 * tau0 * B + tau0**2 * C, 1e-300)
        return (a - tau0 * b) / np.sqrt(var)

    def pvalue(self, tau0: float) -> float:
        return _pvalue(self.t(self.perm, tau0), float(self.t(self.obs, tau0)[0]))


class ShiftTest:
    """p(τ0) of the coefficient permutation test |a - τ0 b| (the Ferman-Pinto rescaled draws)."""

    def __init__(self, obs: np.ndarray, perm: np.ndarray) -> None:
        self.obs, self.perm = obs, perm  # (2,), (m, 2)

    def pvalue(self, tau0: float) -> float:
        return _pvalue(self.perm[:, 0] - tau0 * self.perm[:, 1], self.obs[0] - tau0 * self.obs[1])


def permutation_rows(
    panel: LongPanel,
    many: Many,
    names: list[str],
    kind: str,
    *,
    n_perm: int,
    seed: int,
    alpha: float,
    size: np.ndarray | None = None,
    pmap: Callable | None = None,
    universe: dict[Any, int] | None = None,
    universe_size: dict[Any, float] | None = None,
    fit_identified: bool = False,
    by_unit: bool = False,
    rows_for: list[str] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rows `<name>` with the `kind` ("studentized" or "ferman_pinto") p-value and CI of every named
    estimate. `many(cohort, columns)` is a point path (cohort per unit in `panel.units` order, outcome
    columns in row order -> name -> values); `size` one value per unit (ferman_pinto; None: own variance).
    `universe` (unit -> cohort over a family's councils; opt-in, see `joint_assignments`): adoption dates
    permuted across the universe, the same draws as coefficient randomisation's, so every outcome of the
    family sees the same assignments; the null statistics are kept (`info["joint"]`) for Romano-Wolf.
    `by_unit` (opt-in, `[inference] studentized_by_unit`): the studentized unit contributions from the point
    path's `by_unit` where it has one (`_studentized_sums`). `rows_for`: the names whose rows (p-value and the
    interval's inversion) are made (default: all); every name is permuted (`info["_estimates"]`)."""
    from evalkit.estimators.inference.inversion import invert as _invert
    from evalkit.estimators.inference.randomisation import panel_cohorts

    if kind not in KINDS:
        raise EvalkitError(f"unknown interval kind {kind!r}", expected=", ".join(KINDS))
    layout = Layout(panel)
    cohort = panel_cohorts(panel)
    y = panel.data["y"].to_numpy().astype(float)
    t_col, c_col = panel.data["time"].to_numpy(), panel.data["cohort"].to_numpy()
    d = ((c_col > 0) & (t_col >= c_col)).astype(float)
    ry, rd = layout.residualise(y), layout.residualise(d)
    rng = np.random.default_rng(seed)
    if universe is None:
        assignments = [rng.permutation(len(cohort)) for _ in range(n_perm)]  # unit j takes unit sigma[j]'s date
        dates, givers = (lambda s: cohort[s]), (lambda s: s)
    else:
        dates, givers, assignments = joint_assignments(universe, list(layout.units), cohort, rng, n_perm)
    wrap = _or_missing if universe is not None else (lambda fn, shape: fn)  # separate draws: as before
    rests = contributing_units(many, layout, cohort, names).sum(1)
    info: dict[str, Any] = {
        "kind": kind,
        "n_perm": n_perm,
        "seed": seed,
        "permuted": "adoption dates across units (cohort sizes kept)",
        "min_attainable_p": 1 / (1 + n_perm),
    }

    def stack(out: dict[str, np.ndarray], width: int) -> np.ndarray:
        missing = np.full(width, np.nan)
        return np.array([out.get(n, missing) for n in names], dtype=float)

    if kind == "studentized":
        sums = _studentized_sums(many, layout, names, y, d, ry, rd, by_unit=by_unit)
        obs = sums(cohort)
        if by_unit:  # plans without the key: info as it was
            info["unit_contributions"] = "by_unit" if hasattr(many, "by_unit") else "one column per unit"
        draws = list((pmap or _serial)(wrap(lambda s: sums(dates(s)), obs.shape), assignments))
        tests = [StudentizedTest(obs[k], np.array([dr[k] for dr in draws])) for k in range(len(names))]
        info["statistic"] = "t = (a - tau0 b) / sqrt(sum over units of squared contributions), null-imposed residuals"
    else:
        untreated = d == 0  # variance model from untreated cells only: unmoved by any effect on treated cells
        sd, model = modelled_sd(
            layout.residualise(y, untreated), untreated, layout.ui, layout.n, size, identified_only=fit_identified
        )
        info.update(model)
        info["size_given"] = size is not None

        sd_of = sd
        if universe is not None:  # the sd of every council of the universe, outside this panel by the size model
            sd_of = universe_sd(universe, list(layout.units), sd, model, universe_size)

        def shifted(coh: np.ndarray, sigma: np.ndarray | None) -> np.ndarray:
            scale = np.ones(layout.n) if sigma is None else sd_of[sigma] / sd
            r = scale[layout.ui]
            v = stack(many(coh, np.column_stack([ry * r, rd * r])), 2)
            return v

        obs = shifted(cohort, None)
        draws = list((pmap or _serial)(wrap(lambda s: shifted(dates(s), givers(s)), obs.shape), assignments))
        tests = [ShiftTest(obs[k], np.array([dr[k] for dr in draws])) for k in range(len(names))]
        info["statistic"] = "|a - tau0 b| on two-way residuals rescaled to the variance of the unit whose date is taken"
    # the estimates under every assignment (studentized: of Y; ferman_pinto: of the rescaled residuals),
    # for a permutation pre-trend test on the same draws (analysis.intervals.randomisation_pretrend)
    info["_estimates"] = (obs[:, 0], np.array([dr[:, 0] for dr in draws]))
    if universe is not None:
        from evalkit.estimators.inference.randomisation import assignment_digest

        stat = (lambda v: StudentizedTest.t(v, 0.0)) if kind == "studentized" else (lambda v: v[..., 0])
        info["joint"] = {
            "assignments": assignment_digest(universe, seed, n_perm),
            "units_in_universe": len(universe),
            "names": list(names),
            "statistic": "t at no effect" if kind == "studentized" else "rescaled estimate at no effect",
            "observed": [_finite(v) for v in np.ravel(stat(obs))],
            "null": [[_finite(v) for v in np.ravel(stat(dr))] for dr in draws],
        }
    direct = stack(many(cohort, y[:, None]), 1)[:, 0]
    rows = []
    for k, name in enumerate(names):
        if rows_for is not None and name not in rows_for:
            continue
        test = tests[k]
        ok = np.all(np.isfinite(test.perm), axis=1)
        row: dict[str, Any] = {"name": name, "estimate": float(direct[k]), "n_treated_units": int(rests[k])}
        if not np.isfinite(direct[k]) or ok.sum() < 2:
            continue
        test.perm = test.perm[ok]
        if kind == "studentized" and rests[k] < MIN_TREATED_STUDENTIZED:
            row.update(ci_low=None, ci_high=None, p_value=None, note="rests on one treated unit: no studentised test")
            rows.append(row)
            continue
        a, b = test.obs[0], test.obs[1]
        lo = hi = None
        if abs(b) > 1e-12:
            centre, scale = a / b, max(float(np.std(test.perm[:, 0])), 1e-8)
            if kind == "studentized":
                scale = max(scale, float(np.sqrt(max(test.obs[2], 0.0))) / abs(b))
            lo, hi = _invert(test.pvalue, centre, scale, alpha, -1), _invert(test.pvalue, centre, scale, alpha, 1)
            lo, hi = (None if not np.isfinite(lo) else lo), (None if not np.isfinite(hi) else hi)
        row.update(ci_low=lo, ci_high=hi, p_value=test.pvalue(0.0))
        rows.append(row)
    return rows, info


def joint_assignments(
    universe: dict[Any, int], units: list[Any], cohort: np.ndarray, rng: np.random.Generator, n_perm: int
) -> tuple[Callable, Callable, list[np.ndarray]]:
    """A family's shared draws: pi permutes the universe's councils; this panel's unit j takes the adoption
    date of universe council pi[pos_j], exactly the assignments of randomisation.universe_assignments
    for the same seed. Returns (dates(pi), givers(pi), draws); givers index the universe."""
    pos, ucoh = universe_positions(universe, units, cohort)
    draws = [rng.permutation(len(ucoh)) for _ in range(n_perm)]
    return (lambda pi: ucoh[pi[pos]]), (lambda pi: pi[pos]), draws


def universe_sd(
    universe: dict[Any, int],
    units: list[Any],
    sd: np.ndarray,
    model: dict[str, Any],
    universe_size: dict[Any, float] | None,
) -> np.ndarray:
    """The modelled residual sd of every council of the universe (universe order): this panel's own for its
    units, the fitted size model at their size for the others. Without a size model, a council outside the
    panel has no sd to rescale to: refused (the family falls back to separate draws and Holm)."""
    order = sorted(universe)
    where = {u: i for i, u in enumerate(units)}
    out = np.empty(len(order))
    for i, u in enumerate(order):
        if u in where:
            out[i] = sd[where[u]]
        elif "slope" in model and universe_size and (universe_size.get(u) or 0) > 0:
            out[i] = np.exp(0.5 * (model["intercept"] + model["slope"] * np.log(universe_size[u])))
        else:
            raise EvalkitError(f"council {u!r} of the family has no size to model its variance by", column="size")
    return out


def _or_missing(fn: Callable, shape: tuple[int, ...]) -> Callable:
    """A family's assignment may leave an outcome no estimable treated council: that draw is NaN (left out)."""

    def call(s: np.ndarray) -> np.ndarray:
        try:
            return fn(s)
        except (EvalkitError, IndexError):
            return np.full(shape, np.nan)

    return call


def _finite(v: float) -> float | None:
    return float(v) if np.isfinite(v) else None


def _studentized_sums(
    many: Many,
    layout: Layout,
    names: list[str],
    y: np.ndarray,
    d: np.ndarray,
    ry: np.ndarray,
    rd: np.ndarray,
    *,
    by_unit: bool = False,
) -> Callable[[np.ndarray], np.ndarray]:
    """cohort -> names x (a, b, A, B, C) of `StudentizedTest`. Unit contributions c_i = T(residuals masked
    to unit i): with `by_unit`, from the point path's `by_unit` where it has one (every unit's contribution
    from one pass per assignment, `_sums_by_unit`); otherwise (plans v4, v5; CS with covariates) one column
    per unit. On a balanced panel every never-treated unit then has the same weight row w (the design is
    symmetric in them), so their contributions are R w from one unit's T basis columns and only the
    treated units need a column each; that shortcut is checked against the unit-by-unit columns at the
    first assignment it is used on, and dropped if they differ. The two give the same sums up to
    round-off, not to the bit (the products are summed in other orders), hence the opt-in."""
    if by_unit and hasattr(many, "by_unit"):
        return _sums_by_unit(many, layout.n, names, y, d, ry, rd)
    cy_all, cd_all = layout.by_unit(ry), layout.by_unit(rd)
    balanced = bool(layout.mask.all())
    cube_y, cube_d = np.zeros(layout.mask.shape), np.zeros(layout.mask.shape)
    cube_y[layout.ui, layout.ti], cube_d[layout.ui, layout.ti] = ry, rd
    state = {"shortcut": balanced, "checked": False}

    def stack(out: dict[str, np.ndarray], width: int) -> np.ndarray:
        missing = np.full(width, np.nan)
        return np.array([out.get(n, missing) for n in names], dtype=float)

    def full(coh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cols = np.hstack([np.column_stack([y, d]), cy_all, cd_all])
        v = stack(many(coh, cols), cols.shape[1])
        return v[:, :2], v[:, 2 : 2 + layout.n], v[:, 2 + layout.n :]

    def short(coh: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        tr, nv = np.flatnonzero(coh > 0), np.flatnonzero(coh == 0)
        basis = np.zeros((len(y), len(layout.times)))
        rows0 = np.flatnonzero(layout.ui == nv[0])
        basis[rows0, layout.ti[rows0]] = 1.0
        cols = np.hstack([np.column_stack([y, d]), cy_all[:, tr], cd_all[:, tr], basis])
        v = stack(many(coh, cols), cols.shape[1])
        k = len(tr)
        w = v[:, 2 + 2 * k :]  # names x T: the weight row of a never-treated unit
        ay, ad = np.zeros((len(names), layout.n)), np.zeros((len(names), layout.n))
        ay[:, tr], ad[:, tr] = v[:, 2 : 2 + k], v[:, 2 + k : 2 + 2 * k]
        ay[:, nv], ad[:, nv] = w @ cube_y[nv].T, w @ cube_d[nv].T
        return v[:, :2], ay, ad

    def sums(coh: np.ndarray) -> np.ndarray:
        if state["shortcut"] and not state["checked"]:
            state["checked"] = True
            f, s = full(coh), short(coh)
            same = all(np.allclose(a, b, rtol=1e-8, atol=1e-10, equal_nan=True) for a, b in zip(f, s))
            state["shortcut"] = same
        return _fold(*(short if state["shortcut"] else full)(coh))

    return sums


def _sums_by_unit(
    many: Many, n_units: int, names: list[str], y: np.ndarray, d: np.ndarray, ry: np.ndarray, rd: np.ndarray
) -> Callable[[np.ndarray], np.ndarray]:
    """`_studentized_sums` from the point path's `by_unit(cohort, columns)` (name -> columns x units, each
    column's estimate restricted to each unit): the unit contributions without a column per unit."""
    yd, residuals = np.column_stack([y, d]), np.column_stack([ry, rd])
    missing_ab, missing_c = np.full(2, np.nan), np.full((2, n_units), np.nan)

    def sums(coh: np.ndarray) -> np.ndarray:
        out, units = many(coh, yd), many.by_unit(coh, residuals)  # type: ignore[attr-defined]
        ab = np.array([out.get(n, missing_ab) for n in names], dtype=float)
        c = np.array([units.get(n, missing_c) for n in names], dtype=float)  # names x 2 x units
        return _fold(ab, c[:, 0], c[:, 1])

    return sums


def _fold(ab: np.ndarray, ay: np.ndarray, ad: np.ndarray) -> np.ndarray:
    """names x (a, b, A, B, C) from the estimates of Y and D (names x 2) and the unit contributions of
    their residuals (names x units each)."""
    return np.column_stack([ab[:, 0], ab[:, 1], (ay**2).sum(1), (ay * ad).sum(1), (ad**2).sum(1)])


def _serial(fn: Callable, items: list) -> list:
    return [fn(x) for x in items]


def sdid_ferman_pinto(
    panel: LongPanel,
    att: float,
    *,
    n_perm: int,
    seed: int,
    alpha: float,
    size: np.ndarray | None = None,
    estimator: str = "sdid",
    fit_identified: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """SDID's placebo distribution with Ferman-Pinto rescaling: never-treated units take the treated
    units' adoption dates, and each pseudo-treated unit's two-way residuals (over the never-treated
    block) are rescaled to the modelled s.d. of the treated unit whose date it takes. p-value: share of
    placebo |estimates| at least |att|; interval: att ± z·(s.d. of the placebo estimates)."""
    from scipy.stats import norm

    from evalkit.estimators.synth.sdid import _aggregate, _block_matrix, _cohorts, _staggered_many

    coh = _cohorts(panel)
    tr = sorted((u for u in coh if coh[u] > 0), key=lambda u: (coh[u], u))
    co = sorted(u for u, c in coh.items() if c == 0)
    n0, n1 = len(co), len(tr)
    if n0 <= n1 + 1:
        raise EvalkitError("the placebo distribution needs more never-treated than treated units")
    times = panel.times
    Y = _block_matrix(panel, tr, co, times)
    cohort_of = np.array([coh[u] for u in tr])
    units = list(panel.units)
    index = {u: k for k, u in enumerate(units)}
    sizes = None if size is None else np.asarray(size, float)[[index[u] for u in co + tr]]
    # residual variance model on every unit's untreated cells (two-way residuals over all units)
    treated_cells = np.zeros(Y.shape, bool)
    for k, g in enumerate(cohort_of):
        treated_cells[n0 + k] = np.asarray(times) >= g
    resid_all = twoway_demean(Y, ~treated_cells)
    rows_unit = np.repeat(np.arange(Y.shape[0]), Y.shape[1])
    sd, model = modelled_sd(
        resid_all.ravel(), ~treated_cells.ravel(), rows_unit, Y.shape[0], sizes, identified_only=fit_identified
    )
    R = twoway_demean(Y[:n0])  # control block residuals: SDID is invariant to unit and time effects
    rng = np.random.default_rng(seed)
    draws = []
    for _ in range(n_perm):
        p = rng.permutation(n0)
        Yp = R[p].copy()
        Yp[n0 - n1 :] *= (sd[n0 + np.arange(n1)] / sd[p[n0 - n1 :]])[:, None]
        draws.append((Yp, n0 - n1, cohort_of))
    fits = _staggered_many(draws, times, estimator)
    est = np.array([_aggregate(f) if f else np.nan for f in fits])
    est = est[np.isfinite(est)]
    if len(est) < 2:
        raise EvalkitError("no placebo draw gave an estimate")
    s = float(np.std(est, ddof=1))
    z = float(norm.ppf(1 - alpha / 2))
    row = {
        "name": "att",
        "estimate": att,
        "se": s,
        "ci_low": att - z * s,
        "ci_high": att + z * s,
        "p_value": _pvalue(est, att),
        "n_treated_units": n1,
    }
    info = {
        "kind": "ferman_pinto",
        "n_perm": len(est),
        "seed": seed,
        "permuted": "placebo adoption dates among never-treated units, residuals rescaled to the treated units' modelled variance",
        "ci": "normal with the variance of the rescaled placebo estimates; p-value from their ranks",
        **model,
        "size_given": size is not None,
    }
    return row, info


def single_unit_test(
    panel: LongPanel,
    many: Many,
    name: str,
    *,
    rho: float = 1.0,
    alpha: float = 0.05,
    size: np.ndarray | None = None,
    bins: int = 3,
) -> dict[str, Any]:
    """A valid test and interval for an estimate resting on one treated unit, under a bound on how much
    more variable that unit may be than each comparison unit (the assumption of Hagemann's single-cluster
    tests; this is their simplest, most conservative form, not his weighted rearrangement test).

    Each never-treated unit j (of the treated unit's size bin when `size` is given) is made the only
    treated unit, with the real one's adoption date and the real one left out, giving placebo estimates
    X_j. If the estimate's error X_0 and the X_j are independent, centred and Gaussian with
    sd(X_0) <= rho * sd(X_j) for every j, then rho|X_j| stochastically dominates |X_0|, so
    P(|X_0| > rho |X|_(k)) <= (q + 1 - k) / (q + 1) for the k-th smallest of the q placebo |X_j|.
    p-value: (1 + #{j : rho |X_j| >= |estimate - theta0|}) / (q + 1); the (1 - alpha) interval is
    estimate +- rho |X|_(k) with k = ceil((1 - alpha)(q + 1)), or none when q is too small for alpha."""
    from evalkit.estimators.inference.randomisation import panel_cohorts

    cohort = panel_cohorts(panel)
    treated = np.flatnonzero(cohort > 0)
    if len(treated) != 1:
        raise EvalkitError(f"single_unit_test needs exactly one treated unit, not {len(treated)}", column="cohort")
    i0 = int(treated[0])
    controls = np.flatnonzero(cohort == 0)
    if size is not None:
        size = np.asarray(size, float)
        edges = np.quantile(size, np.linspace(0, 1, bins + 1)[1:-1])
        same = np.searchsorted(edges, size, side="right")
        controls = controls[same[controls] == same[i0]]
    layout = Layout(panel)
    y = panel.data["y"].to_numpy().astype(float)
    est = float(many(cohort, y[:, None])[name][0])
    y_wo = np.where(layout.ui == i0, np.nan, y)  # the real treated unit left out of the placebo fits
    placebo = []
    for j in controls:
        coh = np.zeros_like(cohort)
        coh[j] = cohort[i0]
        v = many(coh, y_wo[:, None]).get(name)
        if v is not None and np.isfinite(v[0]):
            placebo.append(float(v[0]))
    x = np.abs(np.array(placebo))
    q = len(x)
    k = int(np.ceil((1 - alpha) * (q + 1)))
    half = None if k > q else float(rho * np.sort(x)[k - 1])
    return {
        "name": name,
        "estimate": est,
        "ci_low": None if half is None else est - half,
        "ci_high": None if half is None else est + half,
        "p_value": float((1 + np.sum(rho * x >= abs(est) - 1e-12)) / (q + 1)),
        "n_placebos": q,
        "rho": rho,
        "test": "single-unit placebo rank test with heterogeneity bound rho"
        + (" among units of the treated unit's size bin" if size is not None else ""),
    }
