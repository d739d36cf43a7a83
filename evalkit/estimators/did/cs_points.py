"""Callaway-Sant'Anna point estimates for several outcome columns at once, for permutation loops.

Randomisation inference (`few_treated.randomisation_rows`) needs, for each of ~200 permuted adoption
assignments, the CS point estimates of the outcome and of the treatment indicator (the interval is
found by test inversion, using linearity). Running `callaway_santanna` for each is ~400 full fits per
analysis, and `evalkit power` repeats that for every placebo draw.

Without covariates the `reg`, `ipw` and `dr` two-by-two estimators of `_drdid` all reduce to one
difference in means: the intercept-only outcome model predicts the control mean, and the
intercept-only propensity score is the treated share, so the Hajek weights of the controls are
constant. Every ATT(g,t) is then (mean change of cohort g) - (mean change of its controls) over the
units observed in both periods compared. This module computes all cells for all columns with a few
array operations per assignment (the sums by cohort are one matrix product), and the simple, group,
dynamic and calendar aggregations with the weights of `cs.aggregate` (cohort shares, `balance_e`,
`min_e`, `max_e`), the cohort preparation of `cs._prepare_cohorts` (always-treated units dropped,
late cohorts coded never, the last cohort as control when nobody is never treated) and the base
periods of `cs._cell_periods` (varying / universal, anticipation). Points only: no influence
functions. With covariates the cells are the full estimator's own (`group_time_effects`), run on the
layout read once; only the per-permutation panel, reshaping and variance work is saved.

Equal to `callaway_santanna(...)`'s estimates up to floating-point round-off, including unbalanced
panels (each column has its own missing cells): tests/estimators/test_cs_points.py checks 1e-9.
Two deliberate differences in degenerate cases where the full estimator fails: an aggregation with no
cell is NaN here (the full estimator returns 0 or raises), and an `ipw`/`dr` cell whose treated share
reaches the trimming level (0.995; every control trimmed) is NaN, as the full estimator's is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did._cube import Cube, at_observed
from evalkit.estimators.did._drdid import TRIM_LEVEL
from evalkit.estimators.did._util import WidePanel, to_wide
from evalkit.estimators.did.cs import _att_gt_aggs, _check_options, _prepare_cohorts, aggregate, group_time_effects

Many = Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]]


class CSPoints:
    """`callaway_santanna(panel, **options)` point estimates by name, fast, for panels without covariates.

    `bind(panel)` reads the unit x time layout once and returns `many(cohort, columns)`: `cohort` one
    first-treated period per unit (sorted unit order, 0 = never), `columns` a rows x m array of outcome
    columns in the panel's row order; it returns name -> array of m estimates (NaN where a column has
    no such estimate). Options the point estimates do not depend on (alpha, bootstrap, seed, weights)
    are ignored."""

    def __init__(
        self,
        *,
        control: str = "never",
        est_method: str = "dr",
        anticipation: int = 0,
        base_period: str = "varying",
        balance_e: int | None = None,
        min_e: float | None = None,
        max_e: float | None = None,
        **_ignored: Any,
    ) -> None:
        _check_options(control, est_method, base_period, "mammen", anticipation, 0)
        self.control, self.est_method, self.anticipation, self.base_period = (
            control,
            est_method,
            int(anticipation),
            base_period,
        )
        self.balance_e = balance_e
        self.min_e = -np.inf if min_e is None else float(min_e)
        self.max_e = np.inf if max_e is None else float(max_e)
        self._changes, self._cell_names = _Last(), _Last()  # what a permutation loop would recompute unchanged

    # -------------------------------------------------------------- entry points

    def bind(self, panel: LongPanel) -> Many | None:
        """The fast function for this panel's layout (with covariates: `_bind_with_covariates`)."""
        cube = Cube(panel)
        if panel.covariates:
            return self._bind_with_covariates(panel, cube)
        units, times = cube.units, cube.times
        unit_list = units.tolist()
        filled = _Last()  # a permutation loop passes the same columns every time: fill them once

        def many(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            arr = np.asarray(columns, dtype=float)
            y = filled.get(np.array(arr.shape).tobytes() + arr.tobytes(), lambda: cube.fill(columns))
            empty = np.empty((len(units), 0))
            wide = WidePanel(y=y, cohort=np.asarray(cohort, dtype=np.int64), x=empty, units=unit_list, times=times)
            return self.estimates(wide)

        return many

    def _bind_with_covariates(self, panel: LongPanel, cube: Cube) -> Many:
        """With covariates every ATT(g,t) has its own outcome regression or propensity score, so the
        full estimator's cell and aggregation code runs for each column; what is saved is the rest of
        a full run per permutation (a new long panel, its reshaping, variances and tables). The arrays
        are those the full estimator builds (same layout, covariates read once by `to_wide`) and the cells stop at the
        ATT (`points_only`: no influence functions), so the estimates are the same bits."""
        x = to_wide(panel).x
        unit_list = cube.units.tolist()

        def many(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            y = cube.fill(columns)
            m = y.shape[2]
            out: dict[str, np.ndarray] = {}
            for col in range(m):
                wide = WidePanel(
                    y=y[:, :, col], cohort=np.asarray(cohort, dtype=np.int64), x=x, units=unit_list, times=cube.times
                )
                wide, _ = _prepare_cohorts(wide, self.control, self.anticipation)
                gt = group_time_effects(
                    wide,
                    control=self.control,
                    est_method=self.est_method,
                    anticipation=self.anticipation,
                    base_period=self.base_period,
                    points_only=True,
                )
                aggs = _att_gt_aggs(gt) + aggregate(
                    gt, wide.cohort, wide.times, balance_e=self.balance_e, min_e=self.min_e, max_e=self.max_e
                )
                for a in aggs:
                    out.setdefault(a.name, np.full(m, np.nan))[col] = a.estimate
            return out

        return many

    def __call__(self, panel: LongPanel) -> dict[str, float]:
        """Same dict as the full estimator's {name: estimate} (names without an estimate left out)."""
        many = self.bind(panel)
        return {k: v for k, v in at_observed(many, panel).items() if np.isfinite(v)}

    # -------------------------------------------------------------- the computation

    def estimates(self, wide: WidePanel) -> dict[str, np.ndarray]:
        """All estimates for a wide panel whose `y` is units x times x m."""
        wide, _ = _prepare_cohorts(wide, self.control, self.anticipation)
        y, coh, times = wide.y, wide.cohort, wide.times
        cg, cj, cb = self._cells(coh, times)
        att, exists = self._cell_att(y, coh, times, cg, cj, cb)
        if not exists.any():
            raise EvalkitError("no group-time effect could be estimated", column="cohort")
        tim = times[cj]
        labels, counts = np.unique(coh, return_counts=True)
        pg = counts[np.searchsorted(labels, cg)] / len(coh)  # cohort share of each cell's group
        att0 = np.where(exists, att, 0.0)
        ex = exists.astype(float)
        out: dict[str, np.ndarray] = {}
        shown = np.where(exists, att, np.nan)
        cell_names = self._cell_names.get(cg.tobytes() + tim.tobytes(), lambda: _cell_names(cg, tim))
        out.update(zip(cell_names, shown))
        post = cg <= tim
        # simple: cohort-share weighted average of the post-treatment cells (up to max_e)
        keep = post & (tim <= cg + self.max_e)
        out["simple"] = _ratio((pg * keep) @ att0, (pg * keep) @ ex)
        out.update(self._group(cg, tim, post, att0, ex, labels, counts))
        out.update(self._dynamic(cg, tim, pg, att0, ex, times))
        out.update(self._calendar(cg, tim, post, pg, att0, ex, times))
        return out

    def _cells(self, coh: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(group, period index, base period index) of every cell, in cs.group_time_effects' order."""
        groups = np.unique(coh[coh > 0])
        first = 0 if self.base_period == "universal" else 1
        g, j = np.meshgrid(groups, np.arange(first, len(times)), indexing="ij")
        g, j = g.ravel(), j.ravel()
        last_pre = np.searchsorted(times + self.anticipation, g, side="left") - 1  # last t with t + a < g
        use_pre = (self.base_period == "universal") | (g <= times[j])
        base = np.where(use_pre, last_pre, j - 1)
        ok = base >= 0
        return g[ok], j[ok], base[ok]

    def _cell_att(
        self, y: np.ndarray, coh: np.ndarray, times: np.ndarray, cg: np.ndarray, cj: np.ndarray, cb: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """ATT(g,t) (cells x m) and whether each cell has treated and control units observed."""
        m = y.shape[2]
        # the changes between the periods compared depend on the outcome and the cells only, not on who is
        # treated: under permutations of adoption dates they are the same arrays every time
        key = np.array([*y.shape, len(cj)]).tobytes() + y.tobytes() + cj.tobytes() + cb.tobytes()
        dy, okf = self._changes.get(key, lambda: _changes(y, cj, cb))
        labels = np.unique(coh)
        onehot = (coh[:, None] == labels[None, :]).astype(float)  # n x C
        k_cells = len(cg)
        sums = (onehot.T @ dy).reshape(len(labels), k_cells, m)
        nobs = (onehot.T @ okf).reshape(len(labels), k_cells, m)
        cells = np.arange(k_cells)
        own = np.searchsorted(labels, cg)
        s_t, n_t = sums[own, cells], nobs[own, cells]
        if self.control == "never":
            ctrl = np.broadcast_to(labels[None, :] == 0, (k_cells, len(labels)))
        else:
            later = np.maximum(times[cj], times[cb])[:, None] + self.anticipation
            ctrl = (labels[None, :] == 0) | ((labels[None, :] > later) & (labels[None, :] != cg[:, None]))
        ctrl = ctrl.astype(float)
        s_c, n_c = np.einsum("kc,ckm->km", ctrl, sums), np.einsum("kc,ckm->km", ctrl, nobs)
        with np.errstate(divide="ignore", invalid="ignore"):
            att = s_t / n_t - s_c / n_c
            if self.est_method in ("ipw", "dr"):  # every control trimmed: the full estimator's 0/0
                att = np.where(n_t / (n_t + n_c) >= TRIM_LEVEL, np.nan, att)
        exists = (n_t > 0) & (n_c > 0)
        same = (cb == cj)[:, None]  # universal base period: the reference cell, 0 by construction
        return np.where(same, 0.0, att), exists | same

    def _group(
        self,
        cg: np.ndarray,
        tim: np.ndarray,
        post: np.ndarray,
        att0: np.ndarray,
        ex: np.ndarray,
        labels: np.ndarray,
        counts: np.ndarray,
    ) -> dict[str, np.ndarray]:
        groups = np.unique(cg)
        member = ((cg[None, :] == groups[:, None]) & post & (tim <= cg + self.max_e)).astype(float)
        count = member @ ex
        comp = _ratio(member @ att0, count)
        out = {f"group:g={g}": comp[k] for k, g in enumerate(groups)}
        has = count > 0
        # each group's share of units: count / n is what np.mean(coh == g) computes (an exact integer sum
        # divided once), without a pass over the units per group
        pgg = (counts[np.searchsorted(labels, groups)] / int(counts.sum()))[:, None] * has
        out["group"] = _ratio(np.sum(pgg * np.where(has, comp, 0.0), 0), pgg.sum(0))
        return out

    def _dynamic(
        self, cg: np.ndarray, tim: np.ndarray, pg: np.ndarray, att0: np.ndarray, ex: np.ndarray, times: np.ndarray
    ) -> dict[str, np.ndarray]:
        e_all = tim - cg
        include = np.ones(len(e_all), bool)
        eseq = np.unique(e_all)
        if self.balance_e is not None:
            include = times.max() - cg >= self.balance_e
            eseq = np.unique(e_all[include])
            eseq = eseq[(eseq <= self.balance_e) & (eseq >= self.balance_e - times.max() + times.min())]
        eseq = eseq[(eseq >= self.min_e) & (eseq <= self.max_e)]
        if not len(eseq):
            return {}
        w = ((e_all[None, :] == eseq[:, None]) & include) * pg  # components x cells
        den = w @ ex
        comp = _ratio(w @ att0, den)
        out = {f"dynamic:e={e}": comp[k] for k, e in enumerate(eseq)}
        post = eseq >= 0
        if post.any():
            has = den[post] > 0
            out["dynamic"] = _ratio(np.sum(np.where(has, comp[post], 0.0), 0), has.sum(0).astype(float))
        return out

    def _calendar(
        self,
        cg: np.ndarray,
        tim: np.ndarray,
        post: np.ndarray,
        pg: np.ndarray,
        att0: np.ndarray,
        ex: np.ndarray,
        times: np.ndarray,
    ) -> dict[str, np.ndarray]:
        cal = np.unique(tim[post])
        w = ((tim[None, :] == cal[:, None]) & post) * pg
        den = w @ ex
        comp = _ratio(w @ att0, den)
        out = {f"calendar:t={t}": comp[k] for k, t in enumerate(cal)}
        has = den > 0
        out["calendar"] = _ratio(np.sum(np.where(has, comp, 0.0), 0), has.sum(0).astype(float))
        return out


class _Last:
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


def _changes(y: np.ndarray, cj: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(change in y between the periods compared, observed in both) as units x (cells * m) arrays."""
    n = y.shape[0]
    finite = np.isfinite(y)
    y0 = np.where(finite, y, 0.0)
    ok = finite[:, cj] & finite[:, cb]  # n x K x m: observed in both periods compared
    dy = np.where(ok, y0[:, cj] - y0[:, cb], 0.0)
    return dy.reshape(n, -1), ok.reshape(n, -1).astype(float)


def _cell_names(cg: np.ndarray, tim: np.ndarray) -> list[str]:
    return [f"att_gt:g={g},t={t}" for g, t in zip(cg, tim)]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (an aggregation with no cell in that column)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
