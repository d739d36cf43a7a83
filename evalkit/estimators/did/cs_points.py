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
from dataclasses import dataclass
from typing import Any

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did._cube import BoundPoints, Cube, Last, at_observed
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
        self._changes, self._design = Last(), Last()  # what a permutation loop would recompute unchanged
        self._unit_changes = Last()  # unit_estimates' columns, alternating with estimates' in a loop

    # -------------------------------------------------------------- entry points

    computes_subsets = True  # bind(panel, names=["simple"]) skips the group, dynamic and calendar sums

    def bind(self, panel: LongPanel, *, names: list[str] | None = None) -> Many | None:
        """The fast function for this panel's layout (with covariates: `_bind_with_covariates`). With
        `names` all "simple", only the cells and the simple aggregate are computed (a power draw reads
        the headline alone): the same operations on the same numbers, so the same bits."""
        cube = Cube(panel)
        if panel.covariates:
            return self._bind_with_covariates(panel, cube)
        simple_only = names is not None and set(names) == {"simple"}
        units, times = cube.units, cube.times
        unit_list = units.tolist()
        filled = Last()  # a permutation loop passes the same columns every time: fill them once

        def wide_of(cohort: np.ndarray, columns: np.ndarray, cache: Last) -> WidePanel:
            arr = np.asarray(columns, dtype=float)
            y = cache.get(np.array(arr.shape).tobytes() + arr.tobytes(), lambda: cube.fill(columns))
            empty = np.empty((len(units), 0))
            return WidePanel(y=y, cohort=np.asarray(cohort, dtype=np.int64), x=empty, units=unit_list, times=times)

        def many(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            return self.estimates(wide_of(cohort, columns, filled), simple_only=simple_only)

        filled_by_unit = Last()  # the studentised test alternates two column sets: a cache each

        def by_unit(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            return self.unit_estimates(wide_of(cohort, columns, filled_by_unit), simple_only=simple_only)

        def many_batch(cohorts: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            first = wide_of(np.asarray(cohorts)[0], columns, filled)
            return self.estimates_batch(first.y, np.asarray(cohorts, dtype=np.int64), times, simple_only=simple_only)

        return BoundPoints(many, by_unit, many_batch)

    def _bind_with_covariates(self, panel: LongPanel, cube: Cube) -> Many:
        """With covariates every ATT(g,t) has its own outcome regression or propensity score, so the
        full estimator's cell and aggregation code runs for each column; what is saved is the rest of
        a full run per permutation (a new long panel, its reshaping, variances and tables). The arrays
        are those the full estimator builds (same layout, covariates read once by `to_wide`) and the cells stop at the
        ATT (`points_only`: no influence functions), so the estimates are the same bits."""
        x = to_wide(panel).x if panel.covariates else np.empty((len(cube.units), 0))  # what to_wide gives then
        unit_list = cube.units.tolist()

        def many(cohort: np.ndarray, columns: np.ndarray) -> dict[str, np.ndarray]:
            y = cube.fill(columns)
            m = y.shape[2]
            out: dict[str, np.ndarray] = {}
            for col in range(m):
                wide = WidePanel(
                    y=y[:, :, col], cohort=np.asarray(cohort, dtype=np.int64), x=x, units=unit_list, times=cube.times
                )
                for a in self._points(wide):
                    out.setdefault(a.name, np.full(m, np.nan))[col] = a.estimate
            return out

        return many

    def bind_exact(self, panel: LongPanel) -> Many:
        """`many(cohort, columns)` whose numbers are `exact`'s for each column (the full estimator's,
        same bits): its cell and aggregation code per column, on the layout and covariates read once
        (`_bind_with_covariates`, which is this with or without covariates)."""
        return self._bind_with_covariates(panel, Cube(panel))

    def exact(self, panel: LongPanel) -> dict[str, float]:
        """`callaway_santanna(panel, **options)`'s {name: estimate}, the same bits: its own preparation,
        cells and aggregations, the cells stopped at the ATT (`points_only`), without the influence
        functions' variances, the bootstrap and the tables. For the few evaluations whose numbers must be
        a full fit's exactly (the randomisation engine at the observed assignment)."""
        return {a.name: float(a.estimate) for a in self._points(to_wide(panel))}

    def _points(self, wide: WidePanel) -> list:
        """The full estimator's preparation, cells and aggregations on one wide panel, stopped at the point
        estimates (`points_only`): the code `exact` and the covariate path share."""
        wide, _ = _prepare_cohorts(wide, self.control, self.anticipation)
        gt = group_time_effects(
            wide,
            control=self.control,
            est_method=self.est_method,
            anticipation=self.anticipation,
            base_period=self.base_period,
            points_only=True,
        )
        return _att_gt_aggs(gt) + aggregate(
            gt,
            wide.cohort,
            wide.times,
            balance_e=self.balance_e,
            min_e=self.min_e,
            max_e=self.max_e,
            points_only=True,
        )

    def __call__(self, panel: LongPanel) -> dict[str, float]:
        """Same dict as the full estimator's {name: estimate} (names without an estimate left out)."""
        many = self.bind(panel)
        return {k: v for k, v in at_observed(many, panel).items() if np.isfinite(v)}

    # -------------------------------------------------------------- the computation

    def estimates(self, wide: WidePanel, *, simple_only: bool = False) -> dict[str, np.ndarray]:
        """All estimates for a wide panel whose `y` is units x times x m (`simple_only`: the cells and
        the simple aggregate, nothing else).

        Everything but the sums over units depends on the adoption dates only through how many units
        have each date (the cells, cohort shares and aggregation weights), which a permutation keeps:
        that is worked out once per multiset of dates (`_Design`) and each call does the sums and the
        products with the weights, the same operations in the same order as a fresh computation."""
        labels, counts = np.unique(wide.cohort, return_counts=True)
        key = np.array([len(labels), *wide.y.shape]).tobytes() + labels.tobytes() + counts.tobytes()
        design = self._design.get(key + wide.times.tobytes(), lambda: self._make_design(wide))
        if not design.prepared_as_given:
            wide, _ = _prepare_cohorts(wide, self.control, self.anticipation)
        att, exists = self._cell_att(wide.y, wide.cohort, design)
        return _aggregates(design, att, exists, simple_only=simple_only)

    def estimates_batch(
        self, y: np.ndarray, cohorts: np.ndarray, times: np.ndarray, *, simple_only: bool = False
    ) -> dict[str, np.ndarray]:
        """name -> B x m: row b is `estimates` of the wide panel (y, cohorts[b]), the same bits, for the B
        assignments of a permutation loop in one pass (NaN where a row has no such name).

        Assignments are grouped by their multiset of adoption dates (one `_Design` each; a permutation loop
        has one). Within a group every step is `estimates`' on a stack: the cohort sums are one matrix
        product per assignment (np.matmul over the stack calls the same BLAS routine on slices laid out as
        the single call's), the control sums the same einsum with a batch axis, the cells' divisions
        elementwise, the simple aggregate the same vector-matrix product per slice, and the group, dynamic
        and calendar aggregations `estimates`' own functions on each slice. A group whose preparation
        changes the panel (units dropped, cohorts recoded) runs `estimates` per assignment."""
        n_batch, m = len(cohorts), y.shape[2]
        by_multiset: dict[bytes, list[int]] = {}
        for b, row in enumerate(np.sort(cohorts, axis=1)):
            by_multiset.setdefault(row.tobytes(), []).append(b)
        out: dict[str, np.ndarray] = {}
        for rows in by_multiset.values():
            part = self._estimates_one_design(y, cohorts[rows], times, simple_only=simple_only)
            for name, values in part.items():
                out.setdefault(name, np.full((n_batch, m), np.nan))[rows] = values
        return out

    def _estimates_one_design(
        self, y: np.ndarray, cohorts: np.ndarray, times: np.ndarray, *, simple_only: bool
    ) -> dict[str, np.ndarray]:
        """`estimates_batch` for assignments that share one multiset of adoption dates."""
        unit_list = list(range(y.shape[0]))
        empty = np.empty((y.shape[0], 0))
        first = WidePanel(y=y, cohort=cohorts[0], x=empty, units=unit_list, times=times)
        labels, counts = np.unique(first.cohort, return_counts=True)
        key = np.array([len(labels), *y.shape]).tobytes() + labels.tobytes() + counts.tobytes()
        design = self._design.get(key + times.tobytes(), lambda: self._make_design(first))
        if not design.prepared_as_given:
            each = [
                self.estimates(WidePanel(y=y, cohort=c, x=empty, units=unit_list, times=times), simple_only=simple_only)
                for c in cohorts
            ]
            return {name: np.array([e[name] for e in each]) for name in each[0]}
        att, exists = self._cell_att_batch(y, cohorts, design)
        if not exists.any(axis=(1, 2)).all():
            raise EvalkitError("no group-time effect could be estimated", column="cohort")
        att0 = np.where(exists, att, 0.0)
        ex = exists.astype(float)
        out: dict[str, np.ndarray] = dict(zip(design.cell_names, np.where(exists, att, np.nan).transpose(1, 0, 2)))
        out["simple"] = _ratio(design.simple_w @ att0, design.simple_w @ ex)
        if simple_only:
            return out
        rest = [{**_group(design, a, e), **_dynamic(design, a, e), **_calendar(design, a, e)} for a, e in zip(att0, ex)]
        out.update({name: np.array([r[name] for r in rest]) for name in rest[0]})
        return out

    def _cell_att_batch(self, y: np.ndarray, cohorts: np.ndarray, design: _Design) -> tuple[np.ndarray, np.ndarray]:
        """`_cell_att` for B assignments of one design: (B x cells x m ATT(g,t), whether each exists)."""
        m = y.shape[2]
        cj, cb, labels = design.cj, design.cb, design.labels
        key = np.array([*y.shape, len(cj)]).tobytes() + y.tobytes() + cj.tobytes() + cb.tobytes()
        dy, okf = self._changes.get(key, lambda: _changes(y, cj, cb))
        onehot_t = (cohorts[:, :, None] == labels[None, None, :]).astype(float).transpose(0, 2, 1)  # B x C x n
        n_batch, k_cells = len(cohorts), len(cj)
        sums = np.matmul(onehot_t, dy).reshape(n_batch, len(labels), k_cells, m)
        nobs = np.matmul(onehot_t, okf).reshape(n_batch, len(labels), k_cells, m)
        cells = np.arange(k_cells)
        s_t, n_t = sums[:, design.own, cells], nobs[:, design.own, cells]
        ctrl = design.ctrl
        s_c, n_c = np.einsum("kc,bckm->bkm", ctrl, sums), np.einsum("kc,bckm->bkm", ctrl, nobs)
        with np.errstate(divide="ignore", invalid="ignore"):
            att = s_t / n_t - s_c / n_c
            if self.est_method in ("ipw", "dr"):  # every control trimmed: the full estimator's 0/0
                att = np.where(n_t / (n_t + n_c) >= TRIM_LEVEL, np.nan, att)
        exists = (n_t > 0) & (n_c > 0)
        same = design.same
        return np.where(same, 0.0, att), exists | same

    def unit_estimates(self, wide: WidePanel, *, simple_only: bool = False) -> dict[str, np.ndarray]:
        """name -> m x units: each column's estimate with the column kept on one unit's cells and 0 on the
        other units' observed cells, for every unit (`estimates` of `Layout.by_unit` columns, a unit
        contribution c_i = T(column masked to unit i)), from one pass over the cells.

        A cohort sum of such a column is unit i's own change where unit i belongs to that cohort and 0
        elsewhere (a sum of one number and zeros is that number), so each cell is unit i's change over
        the treated or the control count, and the counts (where the column is observed) are the panel's.
        The same divisions of the same numbers as `estimates` on one column per unit, then its aggregations.
        A unit the preparation drops (always treated under this assignment) contributes 0."""
        n = wide.y.shape[0]
        labels, counts = np.unique(wide.cohort, return_counts=True)
        key = np.array([len(labels), *wide.y.shape]).tobytes() + labels.tobytes() + counts.tobytes()
        design = self._design.get(key + wide.times.tobytes(), lambda: self._make_design(wide))
        kept = np.arange(n)
        if not design.prepared_as_given:
            indexed = WidePanel(y=wide.y, cohort=wide.cohort, x=wide.x, units=list(range(n)), times=wide.times)
            wide, _ = _prepare_cohorts(indexed, self.control, self.anticipation)
            kept = np.asarray(wide.units, dtype=np.int64)
        att, exists = self._unit_cell_att(wide.y, wide.cohort, design)
        k_cells, m, n_kept = att.shape
        flat = _aggregates(
            design,
            att.reshape(k_cells, m * n_kept),
            np.repeat(exists, n_kept, axis=1),
            simple_only=simple_only,
        )
        values = np.array(list(flat.values())).reshape(len(flat), m, n_kept)
        if n_kept == n:
            return dict(zip(flat, values))
        full = np.repeat(0.0 * values[:, :, :1], n, axis=2)  # a dropped unit: 0 (NaN where no cell)
        full[:, :, kept] = values
        return dict(zip(flat, full))

    def _make_design(self, wide: WidePanel) -> _Design:
        """The cells and weights for this multiset of adoption dates (see `estimates`)."""
        prepared, _ = _prepare_cohorts(wide, self.control, self.anticipation)
        coh, times = prepared.cohort, prepared.times
        as_given = (
            prepared.y.shape == wide.y.shape
            and np.array_equal(prepared.cohort, wide.cohort)
            and np.array_equal(prepared.times, wide.times)
        )
        cg, cj, cb = self._cells(coh, times)
        tim = times[cj]
        labels, counts = np.unique(coh, return_counts=True)
        pg = counts[np.searchsorted(labels, cg)] / len(coh)  # cohort share of each cell's group
        k_cells = len(cg)
        if self.control == "never":
            ctrl = np.broadcast_to(labels[None, :] == 0, (k_cells, len(labels)))
        else:
            later = np.maximum(times[cj], times[cb])[:, None] + self.anticipation
            ctrl = (labels[None, :] == 0) | ((labels[None, :] > later) & (labels[None, :] != cg[:, None]))
        post = cg <= tim
        keep = post & (tim <= cg + self.max_e)
        # group: each cohort's post-treatment cells (up to max_e); each group's share of units is
        # count / n, what np.mean(coh == g) computes (an exact integer sum divided once)
        groups = np.unique(cg)
        member = ((cg[None, :] == groups[:, None]) & post & (tim <= cg + self.max_e)).astype(float)
        group_share = counts[np.searchsorted(labels, groups)] / int(counts.sum())
        # dynamic: cells by event time, cohort-share weights
        e_all = tim - cg
        include = np.ones(len(e_all), bool)
        eseq = np.unique(e_all)
        if self.balance_e is not None:
            include = times.max() - cg >= self.balance_e
            eseq = np.unique(e_all[include])
            eseq = eseq[(eseq <= self.balance_e) & (eseq >= self.balance_e - times.max() + times.min())]
        eseq = eseq[(eseq >= self.min_e) & (eseq <= self.max_e)]
        dynamic_w = ((e_all[None, :] == eseq[:, None]) & include) * pg if len(eseq) else None
        # calendar: post-treatment cells by period
        cal = np.unique(tim[post])
        return _Design(
            prepared_as_given=as_given,
            labels=labels,
            own=np.searchsorted(labels, cg),
            cj=cj,
            cb=cb,
            ctrl=ctrl.astype(float),
            same=(cb == cj)[:, None],
            cell_names=_cell_names(cg, tim),
            simple_w=pg * keep,
            groups=groups,
            member=member,
            group_share=group_share,
            eseq=eseq,
            dynamic_w=dynamic_w,
            dynamic_post=eseq >= 0,
            cal=cal,
            calendar_w=((tim[None, :] == cal[:, None]) & post) * pg,
        )

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

    def _cell_att(self, y: np.ndarray, coh: np.ndarray, design: _Design) -> tuple[np.ndarray, np.ndarray]:
        """ATT(g,t) (cells x m) and whether each cell has treated and control units observed."""
        m = y.shape[2]
        cj, cb, labels = design.cj, design.cb, design.labels
        # the changes between the periods compared depend on the outcome and the cells only, not on who is
        # treated: under permutations of adoption dates they are the same arrays every time
        key = np.array([*y.shape, len(cj)]).tobytes() + y.tobytes() + cj.tobytes() + cb.tobytes()
        dy, okf = self._changes.get(key, lambda: _changes(y, cj, cb))
        onehot = (coh[:, None] == labels[None, :]).astype(float)  # n x C
        k_cells = len(cj)
        sums = (onehot.T @ dy).reshape(len(labels), k_cells, m)
        nobs = (onehot.T @ okf).reshape(len(labels), k_cells, m)
        cells = np.arange(k_cells)
        s_t, n_t = sums[design.own, cells], nobs[design.own, cells]
        ctrl = design.ctrl
        s_c, n_c = np.einsum("kc,ckm->km", ctrl, sums), np.einsum("kc,ckm->km", ctrl, nobs)
        with np.errstate(divide="ignore", invalid="ignore"):
            att = s_t / n_t - s_c / n_c
            if self.est_method in ("ipw", "dr"):  # every control trimmed: the full estimator's 0/0
                att = np.where(n_t / (n_t + n_c) >= TRIM_LEVEL, np.nan, att)
        exists = (n_t > 0) & (n_c > 0)
        same = design.same  # universal base period: the reference cell, 0 by construction
        return np.where(same, 0.0, att), exists | same

    def _unit_cell_att(self, y: np.ndarray, coh: np.ndarray, design: _Design) -> tuple[np.ndarray, np.ndarray]:
        """ATT(g,t) of each column restricted to each unit (cells x m x units) and whether each cell
        exists (cells x m): `_cell_att` on one column per unit, whose cohort sums are the unit's own
        change (see `unit_estimates`). Where the cell exists, unit i's value there is its change over the
        treated count (s/n_t - 0), over minus the control count (0 - s/n_c = s/(-n_c)), or 0 (s/inf),
        the same bits as `_cell_att`'s; where it does not, the value is never read."""
        m = y.shape[2]
        cj, cb, labels = design.cj, design.cb, design.labels
        key = np.array([*y.shape, len(cj)]).tobytes() + y.tobytes() + cj.tobytes() + cb.tobytes()
        dy, okf = self._unit_changes.get(key, lambda: _unit_changes(y, cj, cb))
        onehot = (coh[:, None] == labels[None, :]).astype(float)  # n x C
        k_cells = len(cj)
        nobs = (onehot.T @ okf).reshape(len(labels), k_cells, m)
        n_t = nobs[design.own, np.arange(k_cells)][:, :, None]
        n_c = np.einsum("kc,ckm->km", design.ctrl, nobs)[:, :, None]
        lab = np.searchsorted(labels, coh)
        treated = (design.own[:, None] == lab[None, :])[:, None, :]
        control = (design.ctrl[:, lab] > 0)[:, None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            att = dy / np.where(treated, n_t, np.where(control, -n_c, np.inf))
            if self.est_method in ("ipw", "dr"):  # every control trimmed: the full estimator's 0/0
                att = np.where(n_t / (n_t + n_c) >= TRIM_LEVEL, np.nan, att)
        exists = (n_t[:, :, 0] > 0) & (n_c[:, :, 0] > 0)
        return np.where(design.same[:, :, None], 0.0, att), exists | design.same


@dataclass(frozen=True)
class _Design:
    """What `CSPoints.estimates` needs besides the outcome sums, for one multiset of adoption dates: the
    cells (group index `own`, period `cj`, base period `cb`), the control-group indicator of each cell
    (cells x cohorts), their names, and the weights of the simple, group, dynamic and calendar
    aggregations. `prepared_as_given`: `_prepare_cohorts` leaves such a panel as it is (no always-treated,
    late or missing never-treated units), so a call skips it."""

    prepared_as_given: bool
    labels: np.ndarray
    own: np.ndarray
    cj: np.ndarray
    cb: np.ndarray
    ctrl: np.ndarray
    same: np.ndarray
    cell_names: list[str]
    simple_w: np.ndarray
    groups: np.ndarray
    member: np.ndarray
    group_share: np.ndarray
    eseq: np.ndarray
    dynamic_w: np.ndarray | None
    dynamic_post: np.ndarray
    cal: np.ndarray
    calendar_w: np.ndarray


def _aggregates(design: _Design, att: np.ndarray, exists: np.ndarray, *, simple_only: bool) -> dict[str, np.ndarray]:
    """Every estimate by name from the cells (cells x m) and whether each exists (`simple_only`: the cells
    and the simple aggregate)."""
    if not exists.any():
        raise EvalkitError("no group-time effect could be estimated", column="cohort")
    att0 = np.where(exists, att, 0.0)
    ex = exists.astype(float)
    out: dict[str, np.ndarray] = {}
    shown = np.where(exists, att, np.nan)
    out.update(zip(design.cell_names, shown))
    # simple: cohort-share weighted average of the post-treatment cells (up to max_e)
    out["simple"] = _ratio(design.simple_w @ att0, design.simple_w @ ex)
    if simple_only:
        return out
    out.update(_group(design, att0, ex))
    out.update(_dynamic(design, att0, ex))
    out.update(_calendar(design, att0, ex))
    return out


def _group(design: _Design, att0: np.ndarray, ex: np.ndarray) -> dict[str, np.ndarray]:
    count = design.member @ ex
    comp = _ratio(design.member @ att0, count)
    out = {f"group:g={g}": comp[k] for k, g in enumerate(design.groups)}
    has = count > 0
    pgg = design.group_share[:, None] * has
    out["group"] = _ratio(np.sum(pgg * np.where(has, comp, 0.0), 0), pgg.sum(0))
    return out


def _dynamic(design: _Design, att0: np.ndarray, ex: np.ndarray) -> dict[str, np.ndarray]:
    w = design.dynamic_w
    if w is None:
        return {}
    den = w @ ex
    comp = _ratio(w @ att0, den)
    out = {f"dynamic:e={e}": comp[k] for k, e in enumerate(design.eseq)}
    post = design.dynamic_post
    if post.any():
        has = den[post] > 0
        out["dynamic"] = _ratio(np.sum(np.where(has, comp[post], 0.0), 0), has.sum(0).astype(float))
    return out


def _calendar(design: _Design, att0: np.ndarray, ex: np.ndarray) -> dict[str, np.ndarray]:
    w = design.calendar_w
    den = w @ ex
    comp = _ratio(w @ att0, den)
    out = {f"calendar:t={t}": comp[k] for k, t in enumerate(design.cal)}
    has = den > 0
    out["calendar"] = _ratio(np.sum(np.where(has, comp, 0.0), 0), has.sum(0).astype(float))
    return out


def _changes(y: np.ndarray, cj: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(change in y between the periods compared, observed in both) as units x (cells * m) arrays."""
    n = y.shape[0]
    finite = np.isfinite(y)
    y0 = np.where(finite, y, 0.0)
    ok = finite[:, cj] & finite[:, cb]  # n x K x m: observed in both periods compared
    dy = np.where(ok, y0[:, cj] - y0[:, cb], 0.0)
    return dy.reshape(n, -1), ok.reshape(n, -1).astype(float)


def _unit_changes(y: np.ndarray, cj: np.ndarray, cb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`_changes` with the changes laid out cells x m x units (contiguous), as `_unit_cell_att` reads them."""
    dy, okf = _changes(y, cj, cb)
    return np.ascontiguousarray(dy.reshape(y.shape[0], len(cj), y.shape[2]).transpose(1, 2, 0)), okf


def _cell_names(cg: np.ndarray, tim: np.ndarray) -> list[str]:
    return [f"att_gt:g={g},t={t}" for g, t in zip(cg, tim)]


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den is 0 (an aggregation with no cell in that column)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
