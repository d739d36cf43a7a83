"""Callaway & Sant'Anna (2021) group-time average treatment effects and their aggregations.

The numbers follow R `did` (att_gt + aggte): each ATT(g,t) is a two-period DiD between cohort g
and a control group (never treated, or not yet treated), estimated by doubly robust, IPW or
outcome regression (see `_drdid`). Every ATT(g,t) carries a per-unit influence function; the
aggregations (simple, group, dynamic, calendar) are linear in them plus the estimation effect of
the cohort-share weights (R's "wif" term), so analytic standard errors and the multiplier
bootstrap reuse one n × K matrix.

Unbalanced panels: each ATT(g,t) uses the units of cohort g and of the control group that have
the outcome in both periods compared; others are left out of that cell (their influence is 0).
This is not R `did`'s unbalanced-panel estimator (which treats the data as repeated cross
sections); on a balanced panel the two are identical.

Covariates are taken from each unit's earliest period (R `did` also treats them as fixed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.defaults import DEFAULT_ALPHA, DEFAULT_SEED, FEW_TREATED
from evalkit.estimators.did._drdid import ESTIMATORS
from evalkit.estimators.did._util import WidePanel, estimate_table, normal_row, to_wide
from evalkit.estimators.numeric import normal
from evalkit.estimators.results import Results
from evalkit.parallel import pmap

BOOT_CHUNK = 250


@dataclass
class GroupTime:
    """ATT(g,t) cells: labels, point estimates and the n × K influence-function matrix."""

    group: np.ndarray
    time: np.ndarray
    att: np.ndarray
    inf: np.ndarray | None
    skipped: list[str] = field(default_factory=list)
    dropped_missing: int = 0


@dataclass
class Agg:
    """One estimate that is linear in the influence functions (column `inf`)."""

    name: str
    aggregation: str
    estimate: float
    inf: np.ndarray | None
    group: int | None = None
    time: int | None = None
    event_time: int | None = None


def callaway_santanna(
    panel: LongPanel,
    *,
    control: str = "never",
    est_method: str = "dr",
    anticipation: int = 0,
    base_period: str = "varying",
    alpha: float = DEFAULT_ALPHA,
    bootstrap: int = 0,
    seed: int = DEFAULT_SEED,
    balance_e: int | None = None,
    min_e: float | None = None,
    max_e: float | None = None,
    bootstrap_weights: str = "mammen",
) -> Results:
    """Staggered-adoption DiD robust to heterogeneous effects (Callaway & Sant'Anna 2021).

    Returns every ATT(g,t) and the simple, group, dynamic (event-study) and calendar aggregations
    with analytic SEs, or, when `bootstrap` > 0, multiplier-bootstrap SEs clustered by unit with
    sup-t simultaneous bands for the ATT(g,t) and the dynamic components.
    """
    options = dict(
        control=control,
        est_method=est_method,
        anticipation=anticipation,
        base_period=base_period,
        alpha=alpha,
        bootstrap=bootstrap,
        balance_e=balance_e,
        min_e=min_e,
        max_e=max_e,
        bootstrap_weights=bootstrap_weights,
        covariates=list(panel.covariates),
    )
    _check_options(control, est_method, base_period, bootstrap_weights, anticipation, bootstrap)
    wide = to_wide(panel)
    wide, cohort_notes = _prepare_cohorts(wide, control, anticipation)
    gt = group_time_effects(
        wide, control=control, est_method=est_method, anticipation=anticipation, base_period=base_period
    )
    aggs = _att_gt_aggs(gt) + aggregate(gt, wide.cohort, wide.times, balance_e=balance_e, min_e=min_e, max_e=max_e)
    rows, inference = _inference(aggs, alpha, bootstrap, seed, bootstrap_weights)
    diagnostics = {
        "n_units": int(len(wide.units)),
        "n_periods": int(len(wide.times)),
        "cohorts": [int(g) for g in np.unique(wide.cohort[wide.cohort > 0])],
        "n_treated_units": int((wide.cohort > 0).sum()),
        "skipped_cells": gt.skipped,
        "unit_cells_dropped_for_missing_outcome": gt.dropped_missing,
        **cohort_notes,
    }
    if (wide.cohort > 0).sum() < FEW_TREATED:
        diagnostics["warning"] = (
            f"only {(wide.cohort > 0).sum()} treated units: analytic and multiplier-bootstrap SEs "
            "may under-cover; `evalkit estimate` defaults to the randomisation interval (estimators.few_treated)"
        )
    return Results(
        method="callaway_santanna",
        outcome=panel.outcome,
        estimates=estimate_table(rows),
        inference=inference,
        diagnostics=diagnostics,
        options=options,
        seed=seed if bootstrap > 0 else None,
        extra={"vcov_dynamic": _dynamic_vcov(aggs), "vcov_att_gt": _att_gt_vcov(gt)},
    )


def _dynamic_vcov(aggs: list[Agg]) -> pl.DataFrame:
    """Analytic covariance of the dynamic (event-study) components, from the influence functions:
    a frame with `event_time` and one column per component ("e=-2", ...). Used by `honest`."""
    comps = [a for a in aggs if a.aggregation == "dynamic" and a.event_time is not None]
    if not comps:
        return pl.DataFrame({"event_time": []}, schema={"event_time": pl.Int64})
    inf = np.column_stack([a.inf for a in comps])
    vcov = inf.T @ inf / inf.shape[0] ** 2
    return vcov_frame([a.event_time for a in comps], vcov)


def _att_gt_vcov(gt: GroupTime) -> pl.DataFrame:
    """Analytic covariance of the ATT(g,t): columns group, time, then one per cell ("g=…,t=…")."""
    vcov = gt.inf.T @ gt.inf / gt.inf.shape[0] ** 2
    names = [f"g={g},t={t}" for g, t in zip(gt.group, gt.time)]
    return pl.DataFrame({"group": gt.group, "time": gt.time, **{c: vcov[:, k] for k, c in enumerate(names)}})


def vcov_frame(event_times: list[int], vcov: np.ndarray) -> pl.DataFrame:
    """A covariance matrix of event-study coefficients as a polars frame."""
    return pl.DataFrame(
        {"event_time": [int(e) for e in event_times], **{f"e={e}": vcov[:, k] for k, e in enumerate(event_times)}}
    )


def _check_options(
    control: str, est_method: str, base_period: str, weights: str, anticipation: int, bootstrap: int
) -> None:
    if control not in ("never", "notyet"):
        raise EvalkitError(f"control must be 'never' or 'notyet', not {control!r}")
    if est_method not in ESTIMATORS:
        raise EvalkitError(f"est_method must be one of dr, ipw, reg, not {est_method!r}")
    if base_period not in ("varying", "universal"):
        raise EvalkitError(f"base_period must be 'varying' or 'universal', not {base_period!r}")
    if weights not in ("mammen", "rademacher"):
        raise EvalkitError(f"bootstrap_weights must be 'mammen' or 'rademacher', not {weights!r}")
    if anticipation < 0 or bootstrap < 0:
        raise EvalkitError("anticipation and bootstrap must be non-negative")


def _prepare_cohorts(wide: WidePanel, control: str, anticipation: int) -> tuple[WidePanel, dict[str, Any]]:
    """Drop units treated from the first period; code cohorts after the last period as never
    treated; with not-yet-treated control and no never-treated units, use the last cohort as
    control and drop the periods from its (anticipated) start, as R `did` does."""
    times, cohort = wide.times, wide.cohort.copy()
    notes: dict[str, Any] = {}
    late = cohort > times.max()
    cohort[late] = 0
    notes["units_treated_after_last_period_coded_never"] = int(late.sum())
    keep = (cohort == 0) | (cohort > times.min() + anticipation)
    notes["units_dropped_always_treated"] = int((~keep).sum())
    y, x, units, tkeep = (
        wide.y[keep],
        wide.x[keep],
        [u for u, k in zip(wide.units, keep) if k],
        np.ones(len(times), bool),
    )
    cohort = cohort[keep]
    if not (cohort == 0).any():
        if control == "never":
            raise EvalkitError(
                "no never-treated units: use control='notyet' or add never-treated units", column="cohort"
            )
        last = cohort.max()
        tkeep = times < last - anticipation
        cohort = np.where(cohort == last, 0, cohort)
        notes["last_cohort_used_as_control"] = int(last)
    if not (cohort > 0).any():
        raise EvalkitError("no treated units with a pre-treatment period", column="cohort")
    return WidePanel(y=y[:, tkeep], cohort=cohort, x=x, units=units, times=times[tkeep]), notes


def _cell_periods(g: int, j: int, times: np.ndarray, anticipation: int, base_period: str) -> int | None:
    """Index of the base period for cohort g and current period index j (None when g has no
    pre-treatment period)."""
    if base_period == "universal" or g <= times[j]:
        pre = np.nonzero(times + anticipation < g)[0]
        return int(pre[-1]) if len(pre) else None
    return j - 1


def group_time_effects(
    wide: WidePanel, *, control: str, est_method: str, anticipation: int, base_period: str, points_only: bool = False
) -> GroupTime:
    """Every ATT(g,t) with its influence function (n units × K cells; left at zero with `points_only`,
    for permutation loops that use the points alone). What does not change within a cohort or across
    cells (the cohort's units, the never-treated, which outcomes are observed, the cohort's last
    pre-period) is found once, outside the loop over cells."""
    est = ESTIMATORS[est_method]
    n, times, coh = len(wide.units), wide.times, wide.cohort
    x = np.column_stack([np.ones(n), wide.x])
    out_g, out_t, out_att, out_inf, skipped, dropped = [], [], [], [], [], 0
    first = 0 if base_period == "universal" else 1
    finite = np.isfinite(wide.y)
    never = coh == 0
    no_influence = np.zeros(n) if points_only else None  # one shared column: nothing writes to it
    for g in np.unique(coh[coh > 0]):
        treated = coh == g
        pre = np.nonzero(times + anticipation < g)[0]
        last_pre = int(pre[-1]) if len(pre) else None
        for j in range(first, len(times)):
            base = last_pre if base_period == "universal" or g <= times[j] else j - 1  # as _cell_periods
            if base is None:
                skipped.append(f"g={g},t={times[j]}: no pre-treatment period")
                continue
            inf = no_influence if points_only else np.zeros(n)
            if base == j:
                att = 0.0
            else:
                ctrl = (
                    never
                    if control == "never"
                    else never | ((coh > max(times[j], times[base]) + anticipation) & (coh != g))
                )
                ok = finite[:, j] & finite[:, base]
                either = treated | ctrl
                sub = either & ok
                dropped += int((either & ~ok).sum())
                if not (treated & sub).any() or not (ctrl & sub).any():
                    skipped.append(f"g={g},t={times[j]}: empty treated or control group")
                    continue
                dy = wide.y[sub, j] - wide.y[sub, base]
                att, inf_sub = est(dy, treated[sub].astype(float), x[sub], points_only=points_only)
                if inf_sub is not None:
                    inf[sub] = inf_sub * n / sub.sum()
            out_g.append(int(g)), out_t.append(int(times[j])), out_att.append(att), out_inf.append(inf)
    if not out_att:
        raise EvalkitError("no group-time effect could be estimated", column="cohort")
    return GroupTime(np.array(out_g), np.array(out_t), np.array(out_att), np.column_stack(out_inf), skipped, dropped)


def _wif(unit_cohort: np.ndarray, groups: np.ndarray, pg: np.ndarray) -> np.ndarray:
    """Influence of estimating weights pg/sum(pg) (cohort shares) on a weighted average; n × m."""
    ind = (unit_cohort[:, None] == groups[None, :]).astype(float) - pg[None, :]
    total = pg.sum()
    return ind / total - ind.sum(1, keepdims=True) * (pg / total**2)[None, :]


def _combine(
    att: np.ndarray, inf: np.ndarray, idx: np.ndarray, w: np.ndarray, wif: np.ndarray | None
) -> tuple[float, np.ndarray]:
    """Weighted average of att[idx] and its influence function (None when `inf` is: points only)."""
    est = float(w @ att[idx])
    if inf is None:
        return est, None
    col = inf[:, idx] @ w
    if wif is not None:
        col = col + wif @ att[idx]
    return est, col


def _pg_average(gt: GroupTime, unit_cohort: np.ndarray, pg: np.ndarray, idx: np.ndarray) -> tuple[float, np.ndarray]:
    """Cohort-share weighted average of the ATT(g,t) in idx, with the weight-estimation term."""
    w = pg[idx] / pg[idx].sum()
    wif = None if gt.inf is None else _wif(unit_cohort, gt.group[idx], pg[idx])
    return _combine(gt.att, gt.inf, idx, w, wif)


def _att_gt_aggs(gt: GroupTime) -> list[Agg]:
    return [
        Agg(f"att_gt:g={g},t={t}", "att_gt", float(a), gt.inf[:, k], group=int(g), time=int(t), event_time=int(t - g))
        for k, (g, t, a) in enumerate(zip(gt.group, gt.time, gt.att))
    ]


def aggregate(
    gt: GroupTime,
    unit_cohort: np.ndarray,
    times: np.ndarray,
    *,
    balance_e: int | None = None,
    min_e: float | None = None,
    max_e: float | None = None,
    points_only: bool = False,
) -> list[Agg]:
    """Simple, group, dynamic and calendar aggregations of the ATT(g,t), as R did's aggte. With
    `points_only` the estimates alone (the same numbers), without their influence functions."""
    max_e = np.inf if max_e is None else max_e
    if points_only:
        gt = GroupTime(gt.group, gt.time, gt.att, None)
    share = {g: np.mean(unit_cohort == g) for g in np.unique(gt.group)}  # each cohort's share, once
    pg = np.array([share[g] for g in gt.group])
    out = [_simple(gt, unit_cohort, pg, max_e)]
    out += _group(gt, unit_cohort, max_e)
    out += _dynamic(gt, unit_cohort, pg, times, balance_e, -np.inf if min_e is None else min_e, max_e)
    out += _calendar(gt, unit_cohort, pg, times)
    return out


def _simple(gt: GroupTime, unit_cohort: np.ndarray, pg: np.ndarray, max_e: float) -> Agg:
    keep = np.nonzero((gt.group <= gt.time) & (gt.time <= gt.group + max_e))[0]
    return Agg("simple", "simple", *_pg_average(gt, unit_cohort, pg, keep))


def _group(gt: GroupTime, unit_cohort: np.ndarray, max_e: float) -> list[Agg]:
    comps, groups = [], []
    for g in np.unique(gt.group):
        idx = np.nonzero((gt.group == g) & (g <= gt.time) & (gt.time <= g + max_e))[0]
        if len(idx):
            est, col = _combine(gt.att, gt.inf, idx, np.full(len(idx), 1 / len(idx)), None)
            comps.append(Agg(f"group:g={g}", "group", est, col, group=int(g)))
            groups.append(g)
    groups = np.array(groups)
    pgg = np.array([np.mean(unit_cohort == g) for g in groups])
    att_g = np.array([c.estimate for c in comps])
    if gt.inf is None:
        est, col = _combine(att_g, None, np.arange(len(groups)), pgg / pgg.sum(), None)
        return comps + [Agg("group", "group", est, col)]
    inf_g = np.column_stack([c.inf for c in comps])
    est, col = _combine(att_g, inf_g, np.arange(len(groups)), pgg / pgg.sum(), _wif(unit_cohort, groups, pgg))
    return comps + [Agg("group", "group", est, col)]


def _dynamic(
    gt: GroupTime,
    unit_cohort: np.ndarray,
    pg: np.ndarray,
    times: np.ndarray,
    balance_e: int | None,
    min_e: float,
    max_e: float,
) -> list[Agg]:
    e_all = gt.time - gt.group
    include = np.ones(len(e_all), bool)
    eseq = np.unique(e_all)
    if balance_e is not None:
        include = times.max() - gt.group >= balance_e
        eseq = np.unique(e_all[include])
        eseq = eseq[(eseq <= balance_e) & (eseq >= balance_e - times.max() + times.min())]
    eseq = eseq[(eseq >= min_e) & (eseq <= max_e)]
    comps = [
        Agg(
            f"dynamic:e={e}",
            "dynamic",
            *_pg_average(gt, unit_cohort, pg, np.nonzero((e_all == e) & include)[0]),
            event_time=int(e),
        )
        for e in eseq
    ]
    post = [c for c in comps if c.event_time >= 0]
    if not post:
        return comps
    est = float(np.mean([c.estimate for c in post]))
    col = None if gt.inf is None else np.column_stack([c.inf for c in post]).mean(1)
    return comps + [Agg("dynamic", "dynamic", est, col)]


def _calendar(gt: GroupTime, unit_cohort: np.ndarray, pg: np.ndarray, times: np.ndarray) -> list[Agg]:
    comps = []
    for t in times[times >= gt.group.min()]:
        idx = np.nonzero((gt.time == t) & (gt.group <= gt.time))[0]
        if len(idx):
            comps.append(Agg(f"calendar:t={t}", "calendar", *_pg_average(gt, unit_cohort, pg, idx), time=int(t)))
    est = float(np.mean([c.estimate for c in comps]))
    col = None if gt.inf is None else np.column_stack([c.inf for c in comps]).mean(1)
    return comps + [Agg("calendar", "calendar", est, col)]


# ---------------------------------------------------------------- inference


def multiplier_draws(inf: np.ndarray, draws: int, seed: int, weights: str = "mammen") -> np.ndarray:
    """Multiplier bootstrap of influence functions: draws × columns of sqrt(n) * mean(v * inf),
    v i.i.d. per unit (cluster) with mean 0, variance 1. Chunks go through `pmap`; each chunk has
    its own child seed, so results do not depend on the parallel backend."""
    n = inf.shape[0]
    sizes = [min(BOOT_CHUNK, draws - s) for s in range(0, draws, BOOT_CHUNK)]
    seeds = np.random.SeedSequence(seed).spawn(len(sizes))

    def chunk(args: tuple[int, np.random.SeedSequence]) -> np.ndarray:
        size, ss = args
        v = _multipliers(np.random.default_rng(ss), (size, n), weights)
        return v @ inf / np.sqrt(n)

    return np.vstack(pmap(chunk, list(zip(sizes, seeds))))


def _multipliers(rng: np.random.Generator, shape: tuple[int, int], weights: str) -> np.ndarray:
    if weights == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=shape)
    s5 = np.sqrt(5)
    p = (s5 + 1) / (2 * s5)
    return np.where(rng.random(shape) < p, (1 - s5) / 2, (1 + s5) / 2)


def _boot_se(bres: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """IQR-based bootstrap standard errors (as R did's mboot) and the non-degenerate mask."""
    ok = np.sum(bres**2, 0) > np.sqrt(np.finfo(float).eps) * 10
    q75 = np.quantile(bres, 0.75, axis=0, method="inverted_cdf")
    q25 = np.quantile(bres, 0.25, axis=0, method="inverted_cdf")
    sigma = (q75 - q25) / (normal.ppf(0.75) - normal.ppf(0.25))
    return np.where(ok, sigma / np.sqrt(n), np.nan), ok


def _sup_t(bres: np.ndarray, se: np.ndarray, cols: np.ndarray, n: int, alpha: float) -> float | None:
    """Critical value of max_k |b_k / sigma_k| over the columns `cols` (simultaneous band)."""
    cols = cols[np.isfinite(se[cols])]
    if len(cols) == 0:
        return None
    with np.errstate(divide="ignore", invalid="ignore"):  # a zero-variance column gives inf, as R did's mboot
        tmax = np.max(np.abs(bres[:, cols] / (se[cols] * np.sqrt(n))), axis=1)
    return float(np.quantile(tmax, 1 - alpha, method="inverted_cdf"))


def _inference(
    aggs: list[Agg], alpha: float, bootstrap: int, seed: int, weights: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    inf = np.column_stack([a.inf for a in aggs])
    n = inf.shape[0]
    analytic = np.sqrt(np.sum(inf**2, 0)) / n
    analytic = np.where(analytic > np.sqrt(np.finfo(float).eps) * 10, analytic, np.nan)
    info: dict[str, Any] = {"alpha": alpha, "cluster": "unit"}
    crit = np.full(len(aggs), normal.ppf(1 - alpha / 2))
    if bootstrap > 0:
        bres = multiplier_draws(inf, bootstrap, seed, weights)
        se, _ = _boot_se(bres, n)
        kinds = np.array([a.aggregation for a in aggs])
        is_comp = np.array([":" in a.name for a in aggs])
        for kind in ("att_gt", "dynamic"):
            cols = np.nonzero((kinds == kind) & is_comp)[0]
            c = _sup_t(bres, se, cols, n, alpha)
            if c is not None:
                crit[cols] = c
            info[f"crit_{kind}"] = c
        info.update(
            se_type="multiplier_bootstrap",
            draws=bootstrap,
            weights=weights,
            simultaneous_bands=["att_gt", "dynamic components"],
        )
    else:
        se = analytic
        info.update(se_type="analytic")
    rows = [
        normal_row(
            a.name,
            a.estimate,
            se[k],
            alpha,
            crit=crit[k],
            aggregation=a.aggregation,
            group=a.group,
            time=a.time,
            event_time=a.event_time,
        )
        for k, a in enumerate(aggs)
    ]
    return rows, info


# ---------------------------------------------------------------- the simple ATT alone, for permutation loops


def _att_only(est_method: str, dy: np.ndarray, d: np.ndarray, x: np.ndarray) -> float:
    """The ATT of `ESTIMATORS[est_method]` without its influence function (the same operations up to
    the ATT, so bit-identical)."""
    return ESTIMATORS[est_method](dy, d, x, points_only=True)[0]


def simple_att(
    wide: WidePanel,
    *,
    control: str = "never",
    est_method: str = "dr",
    anticipation: int = 0,
    base_period: str = "varying",
) -> float:
    """`callaway_santanna(...).estimate("simple")["estimate"]`, bit for bit, computing only what it
    needs: the post-treatment ATT(g,t) cells (pre-treatment cells and influence functions do not enter
    the simple aggregate). Used by randomisation inference, which evaluates it hundreds of times."""
    _check_options(control, est_method, base_period, "mammen", anticipation, 0)
    wide, _ = _prepare_cohorts(wide, control, anticipation)
    n, times, coh = len(wide.units), wide.times, wide.cohort
    x = np.column_stack([np.ones(n), wide.x])
    groups, atts = [], []
    first = 0 if base_period == "universal" else 1
    any_cell = False
    for g in np.unique(coh[coh > 0]):
        for j in range(first, len(times)):
            base = _cell_periods(int(g), j, times, anticipation, base_period)
            if base is None:
                continue
            post = g <= times[j]
            if base == j:
                any_cell = True
                if post:
                    groups.append(int(g)), atts.append(0.0)
                continue
            treated = coh == g
            ctrl = (
                (coh == 0)
                if control == "never"
                else (coh == 0) | ((coh > max(times[j], times[base]) + anticipation) & (coh != g))
            )
            ok = np.isfinite(wide.y[:, j]) & np.isfinite(wide.y[:, base])
            sub = (treated | ctrl) & ok
            if not (treated & sub).any() or not (ctrl & sub).any():
                continue
            any_cell = True
            if post:
                dy = wide.y[sub, j] - wide.y[sub, base]
                groups.append(int(g)), atts.append(_att_only(est_method, dy, treated[sub].astype(float), x[sub]))
    if not any_cell:
        raise EvalkitError("no group-time effect could be estimated", column="cohort")
    group = np.array(groups)
    pg = np.array([np.mean(coh == g) for g in group])
    idx = np.arange(len(group))
    w = pg[idx] / pg[idx].sum()
    return float(w @ np.array(atts)[idx])


class SimpleATT:
    """The CS simple ATT as a function of a LongPanel, for permutation loops (randomisation inference).

    The panels a permutation loop passes differ only in their `cohort` and `y` columns; the unit ×
    time layout and the covariates are read once, and each call scatters the two columns into arrays
    instead of pivoting a frame. Same number as `callaway_santanna(panel, **options)`'s "simple" row."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self.__name__ = "callaway_santanna_simple"
        self._key: pl.Series | None = None

    def _layout(self, panel: LongPanel) -> None:
        data = panel.data
        key = data["unit"] + "|" + data["time"].cast(pl.Utf8)
        if self._key is not None and self._key.len() == key.len() and self._key.equals(key):
            return
        base = to_wide(panel)
        units, times = base.units, base.times
        self._ui = np.searchsorted(np.array(units), data["unit"].to_numpy())
        self._ti = np.searchsorted(times, data["time"].to_numpy())
        # each unit's cohort is read from its earliest row (as to_wide does)
        order = np.lexsort((data["time"].to_numpy(), self._ui))
        first = order[np.r_[True, self._ui[order][1:] != self._ui[order][:-1]]]
        self._first_row = first
        self._x, self._units, self._times = base.x, units, times
        self._key = key

    def __call__(self, panel: LongPanel) -> float:
        self._layout(panel)
        y = np.full((len(self._units), len(self._times)), np.nan)
        y[self._ui, self._ti] = panel.data["y"].to_numpy()
        cohort = panel.data["cohort"].to_numpy()[self._first_row].astype(np.int64)
        wide = WidePanel(y=y, cohort=cohort, x=self._x, units=self._units, times=self._times)
        return simple_att(wide, **self.options)
