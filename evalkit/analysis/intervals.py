"""Few-treated inference by default: which interval an estimate leads with, and computing it.

With a dozen treated councils, cluster-robust (analytic) intervals under-cover: in
`benchmarks/coverage.py` (10 treated of 150, AR(1) errors) CS analytic intervals cover well below 95%.
Below `FEW_TREATED` treated units (a threshold chosen by that simulation, see benchmarks/COVERAGE.md)
the *default* interval of every estimator is one that keeps its size:

* "randomization": adoption dates permuted across units (cohort sizes kept) and the sharp null of a
  constant effect inverted (CS, TWFE, Sun-Abraham, imputation: estimators linear in the outcome);
  for SDID the placebo distribution (never-treated units take the treated units' adoption dates):
  normal interval with the placebo variance (a percentile interval was less stable with 99-199 draws,
  see benchmarks/COVERAGE.md);
* "wild": restricted wild cluster bootstrap with Webb weights (TWFE only).

Each kind is a named class in `KINDS` (chosen by name, as `[inference].interval` or `--interval`); a
method lists the kinds it supports and how its randomisation interval is made in its registry entry
(`methods.Method.intervals`, `.randomisation`, `.points`), so nothing here is keyed by method name.
The permutation engine itself is `estimators.inference.randomisation` (numerics only); its many-columns
point path is the method's `points` class (CS, Sun-Abraham, imputation). Progress: `parallel.reporting`.

The analytic interval stays in its row; the few-treated one is a row named "<name>:randomisation"
(aggregation "randomisation") or "coef:wild_bootstrap" (aggregation "wild_bootstrap"). Every row carries `interval` (how its CI was made) and `default`
(true on the row whose interval is the one to quote); `inference["default_interval"]` says why.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import polars as pl

from evalkit import methods
from evalkit.analysis.estimator import (
    call_estimator,
    check_covariates,
    check_panel_method,
    check_switch_off,
    typed_options,
)
from evalkit.errors import EvalkitError, UsageError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.defaults import FEW_TREATED
from evalkit.estimators.inference.randomisation import RI_SUFFIX, randomisation_pretrend, randomisation_rows
from evalkit.estimators.results import Results, estimates_frame
from evalkit.parallel import pmap, tracked

WILD_ROW = "coef:wild_bootstrap"
# The interval kinds that keep their size when treated councils differ in size (estimators.inference.size_robust).
SIZE_KINDS = ("studentized", "ferman_pinto")
# auto-size: with unit sizes ferman_pinto first (closest to 5 % in every design of benchmarks/SIZE.md), without
# them studentized (needs no size); the first of the order the method supports.
AUTO_SIZE = ("studentized", "ferman_pinto")
AUTO_SIZE_SIZED = ("ferman_pinto", "studentized")
SUFFIXES = {"randomization": RI_SUFFIX, "wild": ":wild_bootstrap", **{k: f":{k}" for k in SIZE_KINDS}}
# Keys a caller adds to the inference settings of one run (never to a plan): a family's councils and
# their adoption years, permuted jointly (analysis.run), and keeping the permuted estimates.
UNIVERSE, KEEP_DRAWS = "_family_universe", "_keep_draws"
# Opt-in ([inference] key; plans v1-v4 lack it): the size-keeping kinds permute over the family's universe
# too (one shared set of assignments for every outcome), with the universe's council sizes for ferman_pinto.
SHARED_SIZE, UNIVERSE_SIZES = "shared_size_draws", "_family_sizes"
# [inference] key (opt-in; plans v4, v5 lack it): the Ferman-Pinto variance fit uses only councils whose
# residual variance is identified (estimators.inference.size_robust.modelled_sd)
FIT_IDENTIFIED = "size_fit_identified"
# [inference] key (opt-in; plans v1-v5 lack it): "own" = under shared draws, the permutation pre-trend test
# permutes among the analysis's own councils (its own mover count in every draw), not over the family's universe.
PRETREND_DRAWS = "pretrend_draws"
# [inference] key (opt-in; plans v1-v5 lack it): the studentized interval's unit contributions from the point
# path's by_unit (one pass per assignment); the same sums up to round-off, not to the bit (benchmarks/RESULTS.md)
BY_UNIT = "studentized_by_unit"
# Row aggregations that get a few-treated interval (the summaries and the event study).
RI_AGGREGATIONS = ("simple", "coef", "dynamic")
# Opt-in ([inference] keys; plans v1-v5 lack them): rows of the size-keeping kinds that rest on one treated
# council, and cohort rows that do, get Hagemann's rearrangement interval (estimators.inference.one_council)
# allowing that council up to `hagemann_rho` times the comparison councils' standard deviation.
ONE_COUNCIL, HAGEMANN_RHO = "one_council", "hagemann_rho"


def interval_kinds_text() -> list[str]:
    """What each interval kind is, for `evalkit methods`."""
    from evalkit.estimators.inference.size_robust import KINDS

    lines = [
        "interval kinds:",
        f"  auto-size  the command's default: below {FEW_TREATED} treated units ferman_pinto when unit sizes are "
        "given (size_column), else studentized, whichever the method has (benchmarks/SIZE.md), else analytic",
        f"  auto  plans v1-v3: below {FEW_TREATED} treated units coefficient randomisation (or the wild bootstrap "
        "row beside it for TWFE), else analytic",
        "  analytic  the estimator's own interval",
        "  randomization  adoption dates permuted across units, the constant-effect null inverted",
        "  wild  restricted wild cluster bootstrap, Webb weights (TWFE)",
    ]
    lines += [f"  {k.name}  {k.summary}" for k in KINDS.values()]
    lines += [
        '  one_council = "hagemann" (opt-in [inference] key, with hagemann_rho; --hagemann-rho with --panel): under',
        "    auto-size, studentized or ferman_pinto, every estimate resting on one treated unit (event-time and cohort",
        "    rows, the whole estimate with one mover) uses Hagemann's rearrangement test (REStud 2025), allowing that",
        "    unit's standard deviation up to hagemann_rho times every comparison unit's (an assumption, >= 1); no",
        "    interval, and why, where no weight keeps the size (too few comparison units for rho) or the row is not one",
        "    unit's comparison against the mean of the same comparison in the others (estimators.inference.one_council)",
        '  pretrend_draws = "own" (opt-in [inference] key, with shared_size_draws): the permutation pre-trend test,',
        "    its power and its equivalence bounds permute adoption dates among the analysis's own councils, not over",
        "    the family's shared draws (which over-reject where an analysis holds part of the family's movers)",
        "  studentized_by_unit = true (opt-in [inference] key): the studentized interval takes each council's",
        "    contribution from one pass of the estimator per permuted assignment instead of one outcome column per",
        "    council (3-11x less CPU on England); the same intervals up to round-off, not to the bit",
        "  [power] pretrend = true (opt-in, with [power] intervals): every calibration draw also runs the",
        "    analysis's pre-trend test; the report prints beside each pre-trend p how often that test rejected on",
        "    placebo draws of this panel (no pre-trend by construction) and says where that exceeds alpha beyond",
        "    Monte Carlo error",
    ]
    return [*lines, ""]


def supported(method: str) -> tuple[str, ...]:
    """The intervals a method can lead with, as declared in the method registry (methods.Method.intervals)."""
    return methods.METHODS[method].intervals if method in methods.METHODS else ("analytic",)


def n_treated_units(panel: LongPanel) -> int:
    return int(panel.data.filter(pl.col("cohort") > 0)["unit"].n_unique())


# inference key (private, set only by `evalkit power`'s draws, which read the headline row alone): the
# permutation intervals are made for the method's headline row only. Each row's permuted statistics and
# test use its own column alone, so the headline row has the same bits either way.
HEADLINE_ONLY = "_headline_only"
# with HEADLINE_ONLY (set only by `evalkit power`'s calibration under [power] pretrend): the pre-move event-time
# estimates are permuted too, for the pre-trend test alone (no rows or intervals are made for them), so each
# placebo draw also says whether the analysis's pre-trend test rejected there.
PRETREND_TOO = "_pretrend_too"
PRE_PREFIX = "dynamic:e=-"


def _ri_targets(result: Results, inference: dict[str, Any] | None = None) -> list[str]:
    est = result.estimates
    keep = est.filter(
        pl.col("aggregation").is_in(RI_AGGREGATIONS)
        & pl.col("estimate").is_not_null()
        & ~pl.col("name").str.contains(":randomisation|:wild_bootstrap")
    )
    names = keep["name"].to_list()
    if (inference or {}).get(HEADLINE_ONLY):
        key = methods.key_of_result(result.method)
        head = methods.METHODS[key].headline if key in methods.METHODS else None
        chosen = [n for n in names if n == head] or names
        if inference.get(PRETREND_TOO):
            chosen = chosen + [n for n in names if n.startswith(PRE_PREFIX) and n not in chosen]
        return chosen
    return names


def _row_targets(names: list[str], inference: dict[str, Any]) -> list[str] | None:
    """The names whose rows are made: all (None), or, in a calibration draw that permutes the pre-move
    estimates for the pre-trend test alone (PRETREND_TOO), the others."""
    if not (inference.get(HEADLINE_ONLY) and inference.get(PRETREND_TOO)):
        return None
    return [n for n in names if not n.startswith(PRE_PREFIX)] or None


# Options the point statistic drops (it computes points only, so resampling draws and workers do not enter).
NOT_POINT_OPTIONS = ("bootstrap", "n_jobs")


def _point_settings(
    method: str, options: dict[str, Any], inference: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(options, inference) of the point statistic: the analysis's without resampling (bootstrap 0 for CS)."""
    point = {k: v for k, v in options.items() if k not in NOT_POINT_OPTIONS}
    point_inf = {k: v for k, v in inference.items() if k in ("alpha", "seed")}
    return {**point, **({"bootstrap": 0} if method == "cs" else {})}, point_inf


def _point_statistic(
    method: str, options: dict[str, Any], inference: dict[str, Any]
) -> Callable[[LongPanel], dict[str, float]]:
    """The estimator's point estimates by name, without resampling (bootstrap 0: only points are used)."""
    if method == "twfe":  # one coefficient by two-way demeaning: the same number, far cheaper
        from evalkit.estimators.inference.wild import twfe_coefficient

        return lambda p: {"coef": twfe_coefficient(p)}
    point_options, point_inf = _point_settings(method, options, inference)

    def stat(p: LongPanel) -> dict[str, float]:
        est = call_estimator(method, p, point_options, point_inf).estimates
        return dict(zip(est["name"].to_list(), est["estimate"].to_list()))

    if methods.get(method).points:
        return _WithFastPath(stat, method, point_options, point_inf)
    return stat


def _observed_points(
    method: str, options: dict[str, Any], inference: dict[str, Any], result: Results, names: list[str]
) -> list[float] | None:
    """The point statistic at the observed assignment, read from `result` (the fit `run` just made on the
    same panel) instead of a second fit: only when that fit's typed options are the statistic's, or differ
    in options the statistic drops (NOT_POINT_OPTIONS), so the numbers are the ones a refit gives. None
    otherwise (the engine then evaluates the statistic itself)."""
    if method == "twfe":  # its statistic is another computation (two-way demeaning), not the estimator's rows
        return None
    fitted = methods.estimator_kwargs(typed_options(method, options, inference))
    again = methods.estimator_kwargs(typed_options(method, *_point_settings(method, options, inference)))
    if {k for k in fitted.keys() | again.keys() if fitted.get(k) != again.get(k)} - set(NOT_POINT_OPTIONS):
        return None
    by_name = dict(zip(result.estimates["name"].to_list(), result.estimates["estimate"].to_list()))
    return [by_name.get(n) for n in names]


class _WithFastPath:
    """The full estimator's point statistic, plus `bind(panel)`: the same estimates for many outcome
    columns per call (the method's registered `points` class), which the permutation engine prefers.

    Where the points class has `exact(panel)` (the estimator's own cell and aggregation code, stopped at
    the points: the same bits as a full fit), a call runs that instead of the whole estimator: the engine
    evaluates the statistic at the observed assignment, where its numbers enter the interval directly."""

    binds_names = True  # bind(panel, names): the engine may ask for the estimates it uses only

    def __init__(
        self, full: Callable[[LongPanel], dict[str, float]], method: str, options: dict[str, Any], inference: dict
    ) -> None:
        self.full, self.method, self.options, self.inference = full, method, options, inference
        self._points: Any = None

    def _points_object(self) -> Any:
        if self._points is None:
            kwargs = methods.estimator_kwargs(typed_options(self.method, self.options, self.inference))
            self._points = methods.get(self.method).points_class()(**kwargs)
        return self._points

    def __call__(self, panel: LongPanel) -> dict[str, float]:
        exact = getattr(self._points_object(), "exact", None)
        if exact is None:
            return self.full(panel)
        self._check(panel)
        return exact(panel)

    def _check(self, panel: LongPanel) -> None:
        """What call_estimator checks before the estimator runs."""
        check_panel_method(self.method)
        check_covariates(self.method, panel)
        check_switch_off(self.method, panel)

    def bind_exact(self, panel: LongPanel) -> Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]] | None:
        """The points class's `bind_exact(panel)` (this statistic's numbers, bit for bit, for outcome
        columns at a cohort assignment on the panel's layout), after call_estimator's checks; or None."""
        make = getattr(self._points_object(), "bind_exact", None)
        if make is None:
            return None
        self._check(panel)
        return make(panel)

    def bind(
        self, panel: LongPanel, names: list[str] | None = None
    ) -> Callable[[np.ndarray, np.ndarray], dict[str, np.ndarray]] | None:
        """The points class's many-columns path; `names`, the estimates wanted, lets a points class that
        can (`computes_subsets`) skip the others (a power draw's headline row alone)."""
        m = methods.get(self.method)
        if panel.covariates and not m.covariates:  # no covariate path in the points class
            return None
        points = self._points_object()
        if names is not None and getattr(points, "computes_subsets", False):
            return points.bind(panel, names=names)
        return points.bind(panel)


def _sdid_rows(
    panel: LongPanel, options: dict[str, Any], result: Results, *, n_perm: int, seed: int, alpha: float
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Placebo adoption dates among never-treated units; the spread of the placebo estimates is the SE."""
    from evalkit.estimators.synth.sdid import synthetic_did_staggered

    if (
        result.inference.get("se_type") == "placebo"
        and "draws" in result.extra
        and result.inference.get("reps") == n_perm
    ):
        draws = result.extra["draws"]["estimate"].to_numpy()
    else:
        keep = {k: v for k, v in options.items() if k in ("estimator", "n_jobs")}
        res = synthetic_did_staggered(panel, se="placebo", reps=n_perm, seed=seed, alpha=alpha, **keep)
        draws = res.extra["draws"]["estimate"].to_numpy()
    att = float(result.estimate("att")["estimate"])
    from scipy.stats import norm

    sd = float(np.std(draws, ddof=1))
    z = float(norm.ppf(1 - alpha / 2))
    p = float((1 + np.sum(np.abs(draws) >= abs(att) - 1e-12)) / (1 + len(draws)))
    row = {
        "name": "att" + RI_SUFFIX,
        "estimate": att,
        "se": sd,
        "ci_low": att - z * sd,
        "ci_high": att + z * sd,
        "p_value": p,
    }
    info = {
        "n_perm": int(len(draws)),
        "permuted": "placebo adoption dates among never-treated units",
        "ci": "normal with the variance of the placebo estimates (Arkhangelsky et al. 2021, algorithm 4); "
        "p-value: share of placebo estimates at least as large in absolute value",
        "seed": seed,
    }
    return [row], info


# ------------------------------------------------------------------ the kinds, by name


class IntervalKind:
    """One way of making an interval. `compute` returns the rows it adds (none for the estimator's own
    analytic rows) and records what it did in result.inference."""

    name = ""
    words = ""

    def compute(
        self, method: str, panel: LongPanel, options: dict[str, Any], inference: dict[str, Any], result: Results
    ) -> list[dict[str, Any]]:
        raise NotImplementedError


class Analytic(IntervalKind):
    """The estimator's own interval (cluster-robust, multiplier bootstrap, jackknife...): nothing to add."""

    name, words = "analytic", "analytic"

    def compute(self, method, panel, options, inference, result) -> list[dict[str, Any]]:
        return []


class Randomisation(IntervalKind):
    """Adoption dates permuted across units (the method's `randomisation = "inversion"`), or placebo
    adoption dates among never-treated units (`"placebo"`, SDID)."""

    name, words = "randomization", "randomisation"

    def compute(self, method, panel, options, inference, result) -> list[dict[str, Any]]:
        seed, alpha = int(inference.get("seed", 20240101)), float(inference.get("alpha", 0.05))
        n_perm = int(inference.get("permutations") or 199)
        engine = methods.get(method).randomisation
        if engine == "placebo":
            rows, info = _sdid_rows(panel, options, result, n_perm=n_perm, seed=seed, alpha=alpha)
            result.inference["randomisation"] = info
            return [{**r, "aggregation": "randomisation", "interval": self.name} for r in rows]
        if engine == "own":  # the estimator permuted itself (its `permutations` option) and returned the rows
            return []
        if engine != "inversion":
            raise UsageError(f"method {method!r} declares no randomisation engine")
        names = _ri_targets(result, inference)
        ri_rows, info = randomisation_rows(
            panel,
            _point_statistic(method, options, inference),
            names,
            n_perm=n_perm,
            seed=seed,
            alpha=alpha,
            universe=inference.get(UNIVERSE),
            keep_draws=bool(inference.get(KEEP_DRAWS)),
            observed=_observed_points(method, options, inference, result, names),
            rows_for=_row_targets(names, inference),
        )
        base = {r["name"]: r for r in result.estimates.to_dicts()}
        out = []
        for r in ri_rows:
            b = base[r["name"].removesuffix(RI_SUFFIX)]
            out.append(
                {
                    **r,
                    "aggregation": "randomisation",
                    "event_time": b["event_time"],
                    "group": b["group"],
                    "interval": self.name,
                }
            )
        result.inference["randomisation"] = info
        return out


class Wild(IntervalKind):
    """Restricted wild cluster bootstrap with Webb weights of the TWFE coefficient."""

    name, words = "wild", "wild cluster bootstrap"

    def compute(self, method, panel, options, inference, result) -> list[dict[str, Any]]:
        from evalkit.estimators.inference.wild import wild_cluster_bootstrap

        seed, alpha = int(inference.get("seed", 20240101)), float(inference.get("alpha", 0.05))
        draws = int(inference.get("bootstrap") or 999)
        wild = wild_cluster_bootstrap(panel, draws=draws, seed=seed, alpha=alpha)
        result.inference["wild_bootstrap"] = {"draws": draws, "weights": "webb", "null_imposed": True}
        return [{**wild.estimate("coef"), "name": WILD_ROW, "aggregation": "wild_bootstrap", "interval": self.name}]


def _size_rows(
    kind: str,
    method: str,
    panel: LongPanel,
    options: dict[str, Any],
    inference: dict[str, Any],
    result: Results,
    *,
    n_perm: int,
    seed: int,
    alpha: float,
) -> list[dict[str, Any]]:
    """Rows `<name>:<kind>` from estimators.size_robust, on the estimator's many-columns point path."""
    from evalkit.estimators.inference import size_robust

    size = _unit_sizes(panel, inference)
    fit = {"fit_identified": True} if inference.get(FIT_IDENTIFIED) else {}  # older plans: the call as it was
    by_unit = {"by_unit": True} if inference.get(BY_UNIT) else {}
    if method == "sdid":
        att = float(result.estimate("att")["estimate"])
        keep = {k: v for k, v in options.items() if k in ("estimator",)}
        row, info = size_robust.sdid_ferman_pinto(
            panel, att, n_perm=n_perm, seed=seed, alpha=alpha, size=size, **keep, **fit
        )
        result.inference[kind] = info
        return [{**row, "name": "att" + SUFFIXES[kind], "aggregation": "randomisation", "interval": kind}]
    names = _ri_targets(result, inference)
    if method == "twfe":
        from evalkit.estimators.did.twfe_points import TWFEPoints

        many = TWFEPoints().bind(panel)
    else:
        stat = _point_statistic(method, options, inference)
        bind = getattr(stat, "bind", None)
        many = bind(panel, names) if bind is not None else None
    if many is None:
        raise UsageError(
            f"the {kind} interval needs {method}'s many-columns point path, which it has not for this panel "
            "(covariates); use interval = 'randomization'"
        )
    shared = inference.get(UNIVERSE) if inference.get(SHARED_SIZE) else None
    joint = {"universe": shared, "universe_size": inference.get(UNIVERSE_SIZES)} if shared else {}

    made = _row_targets(names, inference)

    def draw(
        names: list[str] = names, rows_for: list[str] | None = made, **shared_draws: Any
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return size_robust.permutation_rows(
            panel,
            many,
            names,
            kind,
            n_perm=n_perm,
            seed=seed,
            alpha=alpha,
            size=size,
            pmap=_pmap_progress(n_perm),
            rows_for=rows_for,
            **shared_draws,
            **fit,
            **by_unit,
        )

    try:
        rows, info = draw(**joint)
    except EvalkitError as exc:  # shared draws impossible here (a council with no size): drawn alone, Holm
        if not joint:
            raise
        rows, info = draw()
        info["joint_refused"] = exc.message
    a_obs, a_perm = info.pop("_estimates")
    if inference.get(KEEP_DRAWS):  # the event study's permutation covariance (sensitivity) reads them
        info["draws"] = {
            "names": list(names),
            "values": [[None if not np.isfinite(v) else float(v) for v in row] for row in np.asarray(a_perm)],
        }
    if joint and inference.get(PRETREND_DRAWS) == "own":
        _own_pretrend(info, names, draw, kind)
    elif (pre := randomisation_pretrend(names, a_obs, a_perm)) is not None:
        info["pretrend"] = {**pre, "test": pre["test"] + f" ({kind} draws)"}
    one = [r["name"] for r in rows if r.get("p_value") is None]  # rests on one treated unit (studentized)
    made_by = dict.fromkeys(names, kind)
    if inference.get(ONE_COUNCIL) == "hagemann":
        rows = _hagemann_rows(panel, many, rows, result, inference, made_by, info, alpha=alpha)
    elif one and size is not None:  # the size-rescaled test is valid there, under its variance model
        fp, fp_info = size_robust.permutation_rows(
            panel, many, one, "ferman_pinto", n_perm=n_perm, seed=seed, alpha=alpha, size=size, **fit
        )
        swap = {r["name"]: r for r in fp}
        rows = [swap.get(r["name"], r) for r in rows]
        made_by.update(dict.fromkeys(swap, "ferman_pinto"))
        fp_info.pop("_estimates", None)
        info["one_unit_rows"] = {"names": sorted(swap), "interval": "ferman_pinto", **fp_info}
    elif one:
        info["no_valid_interval"] = {
            "names": one,
            "why": "rests on one treated council: a studentised test has no power there and no size model "
            "was given ([inference] size_column), so no valid interval exists for it",
        }
    info["treated_units_per_row"] = {r["name"]: r["n_treated_units"] for r in rows}
    result.inference[kind] = info
    base = {r["name"]: r for r in result.estimates.to_dicts()}
    out = []
    for r in rows:
        b = base[r["name"]]
        out.append(
            {
                **r,
                "name": r["name"] + SUFFIXES[kind],
                "aggregation": "randomisation",
                "event_time": b["event_time"],
                "group": b["group"],
                "interval": made_by[r["name"]],
            }
        )
    return out


def _own_pretrend(info: dict[str, Any], names: list[str], draw: Callable, kind: str) -> None:
    """The pre-trend test on permutations among the analysis's own councils (`pretrend_draws = "own"`).

    Shared draws give an analysis that holds only part of the family's councils a different number of
    movers in every draw (and none at some pre-move event times), so its permutation distribution is not the
    observed statistic's: on placebo designs of the England panel that test rejected 11 % at 5 % where the
    sample held part of the movers (benchmarks/FWER.md). Permuting among the analysis's own councils keeps
    its mover count and event-time support in every draw. The draws are kept for the pre-trend power and
    equivalence bounds, which use the same covariance."""
    pre_names = [n for n in names if n.startswith(PRE_PREFIX)]
    if not pre_names:
        return
    _, own = draw(names=pre_names, rows_for=[])  # the permuted estimates alone: no rows, no interval inversion
    a_obs, a_perm = own.pop("_estimates")
    info["pretrend_draws"] = {
        "names": pre_names,
        "values": [[None if not np.isfinite(v) else float(v) for v in row] for row in np.asarray(a_perm)],
        "permuted": "adoption dates among the analysis's own councils (its own mover count in every draw)",
    }
    pre = randomisation_pretrend(pre_names, a_obs, a_perm)
    if pre is not None:
        info["pretrend"] = {**pre, "test": pre["test"] + f" ({kind} draws among the analysis's own councils)"}


def _hagemann_rows(
    panel: LongPanel,
    many: Callable,
    rows: list[dict[str, Any]],
    result: Results,
    inference: dict[str, Any],
    made_by: dict[str, str],
    info: dict[str, Any],
    *,
    alpha: float,
) -> list[dict[str, Any]]:
    """The rows resting on one treated council (the size-keeping kind's count), and the rows of cohorts of one
    council, with Hagemann's interval (or none, and why, in info["one_council"]["refused"]); `made_by`
    marks them "hagemann"."""
    from evalkit.estimators.inference import one_council
    from evalkit.estimators.inference.randomisation import panel_cohorts

    rho = float(inference[HAGEMANN_RHO])
    base = {r["name"]: r for r in result.estimates.to_dicts()}
    sizes = dict(zip(*np.unique(panel_cohorts(panel), return_counts=True)))
    targets = [r["name"] for r in rows if r.get("n_treated_units") == 1]
    if not inference.get(HEADLINE_ONLY):  # a power draw reads the headline alone: no cohort rows to make
        targets += [
            n
            for n, r in base.items()
            if r["aggregation"] == "group" and r.get("estimate") is not None and sizes.get(r.get("group")) == 1
        ]
    done = one_council.hagemann_rows(
        panel, many, targets, {n: float(base[n]["estimate"]) for n in targets}, rho=rho, alpha=alpha
    )
    by = {d["name"]: d for d in done}
    keep = ("name", "estimate", "ci_low", "ci_high", "p_value")
    out = [{**r, **{k: by[r["name"]][k] for k in keep}} if r["name"] in by else r for r in rows]
    out += [
        {**{k: by[n][k] for k in keep}, "n_treated_units": 1} for n in targets if n not in {r["name"] for r in rows}
    ]
    made_by.update(dict.fromkeys(by, "hagemann"))
    info.pop("no_valid_interval", None)
    info["one_council"] = {
        "method": "hagemann",
        "test": "Hagemann (2025) rearrangement test for one treated council: x1 the council's own comparison, "
        "x0 the same comparison of each comparison council, the effect x1 - mean(x0)",
        "rho": rho,
        "rho_means": "the council's standard deviation is assumed at most rho times every comparison council's "
        "(a stated assumption, not estimated)",
        "alpha": alpha,
        "interval": "one-sided tests at alpha/2 inverted on each side",
        "p_value": "twice the smaller one-sided p (the smallest level at which that side's test rejects), at most 1",
        "rows": {d["name"]: {k: v for k, v in d.items() if k not in (*keep, "method", "rho")} for d in done},
        "refused": {d["name"]: d["why"] for d in done if d.get("why")},
    }
    return out


def _pmap_progress(n: int) -> Callable:
    return lambda fn, items: pmap(fn, items, on_result=tracked("permutations", n))


def _unit_sizes(panel: LongPanel, inference: dict[str, Any]) -> np.ndarray | None:
    """Each unit's size (panel.units order) from inference["unit_size"] ({unit: size}), else None."""
    sizes = inference.get("unit_size")
    if not sizes:
        return None
    missing = [u for u in panel.units if u not in sizes]
    if missing:
        raise UsageError(f"no size for unit(s) {', '.join(map(str, missing[:5]))} (the size column of [inference])")
    return np.array([float(sizes[u]) for u in panel.units])


class SizeKeeping(IntervalKind):
    """studentized / ferman_pinto (estimators.inference.size_robust): randomisation intervals that keep
    their size when the treated councils are smaller or larger than the rest (benchmarks/SIZE.md)."""

    def __init__(self, name: str, words: str) -> None:
        self.name, self.words = name, words

    def compute(self, method, panel, options, inference, result) -> list[dict[str, Any]]:
        seed, alpha = int(inference.get("seed", 20240101)), float(inference.get("alpha", 0.05))
        n_perm = int(inference.get("permutations") or 199)
        return _size_rows(self.name, method, panel, options, inference, result, n_perm=n_perm, seed=seed, alpha=alpha)


KINDS: dict[str, IntervalKind] = {
    k.name: k
    for k in (
        Analytic(),
        Randomisation(),
        Wild(),
        SizeKeeping("studentized", "studentised randomisation"),
        SizeKeeping("ferman_pinto", "size-rescaled (Ferman-Pinto) randomisation"),
    )
}
INTERVALS = ("auto", "auto-size", *KINDS)


def normalise(setting: str | None) -> str:
    value = (setting or "auto").lower().replace("randomisation", "randomization").replace("studentised", "studentized")
    value = value.replace("ferman-pinto", "ferman_pinto").replace("auto_size", "auto-size")
    if value not in INTERVALS:
        raise UsageError(f"interval must be one of {', '.join(INTERVALS)}, not {setting!r}")
    return value


def choose(setting: str | None, method: str, n_treated: int, *, sized: bool = False) -> tuple[str, str]:
    """(interval kind, reason) for one analysis. Refuses a kind the method cannot compute.

    "auto" is the rule plans v1-v3 were locked under (coefficient permutation below FEW_TREATED);
    "auto-size" the rule chosen by the size simulation (AUTO_SIZE below FEW_TREATED, else analytic),
    falling back to auto's choice where the method has no AUTO_SIZE interval."""
    value = normalise(setting)
    can = supported(method)
    if value == "auto-size":
        if n_treated >= FEW_TREATED:
            return "analytic", f"{n_treated} treated units (at least {FEW_TREATED}): analytic interval"
        pick = next((k for k in (AUTO_SIZE_SIZED if sized else AUTO_SIZE) if k in can), None)
        if pick is not None:
            return pick, (
                f"{n_treated} treated units (fewer than {FEW_TREATED}): {pick} randomisation interval, "
                "which kept its size whether the treated councils were small or large (benchmarks/SIZE.md)"
            )
        value = "auto"
    if value == "auto":
        if n_treated >= FEW_TREATED:
            return "analytic", f"{n_treated} treated units (at least {FEW_TREATED}): analytic interval"
        if "randomization" not in can:
            return "analytic", f"{n_treated} treated units, but {method} has no randomisation interval: its own"
        return "randomization", f"{n_treated} treated units (fewer than {FEW_TREATED}): randomisation interval"
    if value not in can:
        raise UsageError(f"method {method!r} cannot compute a {value!r} interval; it supports {', '.join(can)}")
    return value, f"chosen in the plan or command ({value})"


# ------------------------------------------------------------------ one entry point


def add_default_interval(
    method: str, panel: LongPanel, options: dict[str, Any], inference: dict[str, Any], result: Results
) -> None:
    """The default interval beside the analytic one, every row marked with its `interval` and whether it
    is the `default`. With no permutations asked for, a method leads with its own interval unless the
    plan names another kind. TWFE shows the wild cluster bootstrap beside its randomisation interval."""
    if "randomization" not in supported(method) or not int(inference.get("permutations") or 0):
        if normalise(inference.get("interval")) not in ("auto", "auto-size", "analytic"):
            _add_chosen(method, panel, options, inference, result)  # refuses what it cannot do
        mark(result, "analytic")
        return
    _add_chosen(method, panel, options, inference, result)
    if (
        "wild" in supported(method)
        and "wild_bootstrap" not in result.inference
        and result.inference["default_interval"]["interval"] != "analytic"
    ):
        rows = [{**r, "default": False} for r in KINDS["wild"].compute(method, panel, options, inference, result)]
        result.estimates = pl.concat([result.estimates, estimates_frame(rows)], how="vertical_relaxed")


def _add_chosen(
    method: str, panel: LongPanel, options: dict[str, Any], inference: dict[str, Any], result: Results
) -> None:
    """Compute the rows the chosen kind needs and mark every row's `interval`/`default`."""
    n_tr = n_treated_units(panel)
    kind, reason = choose(inference.get("interval"), method, n_tr, sized=bool(inference.get("unit_size")))
    rows = KINDS[kind].compute(method, panel, options, inference, result)
    if rows:
        result.estimates = pl.concat([result.estimates, estimates_frame(rows)], how="vertical_relaxed")
    mark(result, kind)
    result.inference["default_interval"] = {
        "interval": kind,
        "reason": reason,
        "n_treated_units": n_tr,
        "threshold": FEW_TREATED,
    }


def own_interval(result: Results) -> str:
    """What the estimator's own CI is called: analytic, or its resampling scheme (bootstrap, jackknife...)."""
    se_type = str(result.inference.get("se_type") or "analytic")
    for word in ("bootstrap", "jackknife", "placebo", "permutation"):
        if word in se_type:
            return word
    return "analytic"


def mark(result: Results, kind: str) -> None:
    """Fill `interval` and `default`: `default` is true only on rows whose interval is the one the rule
    chose. With an analytic rule that is every row (the estimator's own interval); with a randomisation or
    wild rule only the rows computed that way: a row with no such counterpart (a per-cohort row, an
    estimate the permutations could not invert) keeps its own interval and is not the default."""
    est = result.estimates
    own = own_interval(result)
    interval, default = [], []
    for name, iv in zip(est["name"].to_list(), est["interval"].to_list()):
        iv = iv or own
        interval.append(iv)
        if kind == "analytic":  # the estimator's own rows, not the few-treated rows computed beside them
            default.append(not name.endswith(tuple(SUFFIXES.values())))
        elif kind in SIZE_KINDS:
            default.append(iv == kind or name.endswith(SUFFIXES[kind]))
        else:
            default.append(iv == kind)
    result.estimates = est.with_columns(
        pl.Series("interval", interval, dtype=pl.Utf8), pl.Series("default", default, dtype=pl.Boolean)
    )


def default_row(rows: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The row to quote for estimand `name`: its default-interval row (older results: the RI row if any)."""
    by = {r["name"]: r for r in rows}
    sized = tuple(name + SUFFIXES[k] for k in SIZE_KINDS)
    candidates = [by[n] for n in (*sized, name + RI_SUFFIX, WILD_ROW if name == "coef" else "", name) if n in by]
    for r in candidates:
        if r.get("default") is True:
            return r
    if any("default" in r for r in candidates):
        return by.get(name)
    ri = by.get(name + RI_SUFFIX)  # results written before `default` existed: RI was the verdict's interval
    if ri is not None and ri.get("ci_low") is not None:
        return ri
    return by.get(name)
