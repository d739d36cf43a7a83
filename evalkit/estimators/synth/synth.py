"""Abadie–Diamond–Hainmueller synthetic control, with the inference checks a reviewer will ask for.

What is implemented (so results can be reproduced by hand):

* Unit weights W solve  min_W (X1 - X0 W)' V (X1 - X0 W)  on the simplex, exactly (`qp.simplex_qp`).
  With fewer (V-weighted) predictors than donors the minimiser is often not unique (e.g. two
  pre-treatment years and a treated unit inside the donors' convex hull: infinitely many exact fits),
  and the one a solver lands on depends on round-off, e.g. the number of BLAS threads. Ties are broken
  by minimum norm: W is the minimum-||W||^2 weight vector among all optimal ones (`qp.min_norm_weights`,
  a second strictly convex QP on the optimal face), so it is unique; a unique optimum is kept as is.
  The V search itself (covariate predictors only) scores V by the loss of the solver's W.
  Predictors are divided by their standard deviation across the treated unit and donors (as R Synth).
* V (diagonal, sum 1) is chosen by `v="nested"`: minimise the pre-period outcome MSPE of W(V).
  The gradient of that loss in V is exact on each active set (implicit differentiation of the KKT
  system), so L-BFGS-B is run on log V from fixed starts — equal V, four fixed pseudo-random V
  (Dirichlet draws from a fixed generator), the regression-based V (Stata
  synth: V_k proportional to the sum over loss periods of the squared coefficient of predictor k in a
  cross-unit regression of the outcome on the scaled predictors) and, when every loss period is itself
  a predictor, the V that reproduces plain outcome-MSPE weights — plus any `v_starts`. L-BFGS-B runs
  from the three starts with the lowest loss; the best loss over all starts and local optima wins
  (ties: first). When every loss period is a predictor (the default), the outcome-MSPE V is provably
  optimal and is used without search. The nested loss is multimodal (e.g. ADH 2010's covariate
  predictors), so this is a good deterministic local optimum, not a certified global one.
* Placebo in space: every donor refitted as if treated, against the other donors (never the treated
  unit); p = share of the n+1 post/pre RMSPE ratios at least the treated unit's. Pre-fit filters drop
  placebos whose pre-period MSPE exceeds k × the treated unit's (ADH 2010 used MSPE with k = 20, 5, 2).
* Placebo in time: the same fit with a fake treatment date, using only periods before the real one.
* Leave-one-out: each donor with positive weight dropped in turn and the fit redone.
* Conformal intervals (Chernozhukov, Wüthrich & Zhu 2021, JASA): for each post period t and a null
  value θ0, the treated outcome in t is replaced by Y_t − θ0, outcome-only simplex SC weights are fitted
  on the pre periods plus t, and p(θ0) is the share of the T0+1 absolute residuals at least |u_t|
  (for one post period the moving-block permutations are the T0+1 cyclic shifts). The interval is
  the hull of {θ0 : p(θ0) > α}, found on a grid and refined by bisection. The joint test of no effect
  in any post period uses S = mean |u_post| over all T0+T1 cyclic shifts of the residuals.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import minimize

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.defaults import DEFAULT_ALPHA, DEFAULT_SEED
from evalkit.estimators.numeric.qp import min_norm_weights, simplex_lsq, simplex_qp
from evalkit.estimators.results import Results, estimates_frame
from evalkit.parallel import pmap

# --------------------------------------------------------------------------------------------------
# predictors


@dataclass(frozen=True)
class Predictor:
    """One row of X: the mean of `var` over `periods` (one period = a lagged outcome)."""

    var: str
    periods: tuple[int, ...]
    label: str


def _label(var: str, periods: tuple[int, ...]) -> str:
    if len(periods) == 1:
        return f"{var}@{periods[0]}"
    contiguous = list(periods) == list(range(periods[0], periods[-1] + 1))
    span = f"{periods[0]}-{periods[-1]}" if contiguous else ",".join(map(str, periods))
    return f"mean({var},{span})"


def parse_predictors(spec: Any, outcome: str, covariates: Sequence[str], pre_times: Sequence[int]) -> list[Predictor]:
    """Turn a user predictor spec into Predictors.

    None → every pre-period outcome. A list whose items are an int (outcome in that period), a
    variable name (its mean over the pre-period), a tuple (var, periods) / (var, periods, "mean"), or a
    dict {"var":..., "periods":...}. `periods` may be a list or a (first, last) pair read as a range.
    """
    pre = tuple(int(t) for t in pre_times)
    if spec is None:
        return [Predictor("y", (t,), _label(outcome, (t,))) for t in pre]
    known = {"y": "y", outcome: "y", **{c: c for c in covariates}}
    out: list[Predictor] = []
    for item in spec:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            var, periods = "y", (int(item),)
        elif isinstance(item, str):
            var, periods = item, pre
        elif isinstance(item, dict):
            var, periods = item.get("var", "y"), item.get("periods", pre)
            if item.get("op", "mean") != "mean":
                raise EvalkitError(f"predictor {item!r}: only op='mean' is supported")
        elif isinstance(item, (tuple, list)) and len(item) in (2, 3):
            var, periods = item[0], item[1]
            if len(item) == 3 and item[2] != "mean":
                raise EvalkitError(f"predictor {item!r}: only 'mean' is supported")
        else:
            raise EvalkitError(f"cannot read predictor {item!r}", expected="int, name, (var, periods) or dict")
        if var not in known:
            raise EvalkitError(
                f"predictor variable {var!r} is not the outcome or a covariate of the panel",
                expected=", ".join(sorted(known)),
            )
        if isinstance(periods, (int, np.integer)):
            periods = (int(periods),)
        elif isinstance(periods, tuple) and len(periods) == 2 and periods[1] - periods[0] > 1:
            periods = tuple(range(int(periods[0]), int(periods[1]) + 1))
        periods = tuple(sorted(int(t) for t in periods))
        if not periods:
            raise EvalkitError(f"predictor {item!r} has no periods")
        name = outcome if known[var] == "y" else var
        out.append(Predictor(known[var], periods, _label(name, periods)))
    if not out:
        raise EvalkitError("no predictors given")
    return out


def _clip_predictors(preds: list[Predictor], last: int, outcome: str) -> list[Predictor]:
    """Keep only the periods before `last` (for placebo-in-time fits); drop emptied predictors."""
    out = []
    for p in preds:
        per = tuple(t for t in p.periods if t < last)
        if per:
            out.append(Predictor(p.var, per, _label(outcome if p.var == "y" else p.var, per)))
    return out


# --------------------------------------------------------------------------------------------------
# the design: everything as numpy arrays once


@dataclass
class _Design:
    Y: np.ndarray  # units × times
    units: list[str]
    times: list[int]
    covs: dict[str, np.ndarray]
    outcome: str

    def col(self, t: int) -> int:
        return self.times.index(t)

    def predictor_matrix(self, preds: list[Predictor], rows: np.ndarray) -> np.ndarray:
        """K × len(rows) predictor values (means ignore missing covariate values, as Synth does)."""
        tindex = {t: j for j, t in enumerate(self.times)}
        X = np.empty((len(preds), len(rows)))
        for k, p in enumerate(preds):
            missing = [t for t in p.periods if t not in tindex]
            if missing:
                raise EvalkitError(f"predictor {p.label}: period {missing[0]} is not in the panel")
            src = self.Y if p.var == "y" else self.covs[p.var]
            vals = src[np.ix_(rows, [tindex[t] for t in p.periods])]
            bad = np.all(np.isnan(vals), axis=1)
            if bad.any():
                u = self.units[rows[int(np.argmax(bad))]]
                raise EvalkitError(
                    f"predictor {p.label} is missing for unit {u} in every period",
                    column=p.var,
                    expected="at least one value",
                )
            X[k] = np.nanmean(vals, axis=1)
        return X


def _design(panel: LongPanel) -> _Design:
    Y, units, times = panel.wide()
    covs = {}
    for c in panel.covariates:
        piv = panel.data.pivot(on="time", index="unit", values=c, aggregate_function="first", sort_columns=True).sort(
            "unit"
        )
        cols = [str(t) for t in times]
        for col in cols:
            if col not in piv.columns:
                piv = piv.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
        covs[c] = piv.select(cols).to_numpy().astype(float)
    return _Design(Y=Y, units=units, times=times, covs=covs, outcome=panel.outcome)


# --------------------------------------------------------------------------------------------------
# one fit


@dataclass
class SCFit:
    """One synthetic-control fit (the treated unit against a donor pool)."""

    treated: int
    donors: np.ndarray
    w: np.ndarray
    v: np.ndarray
    loss: float  # mean squared pre-period (loss-period) outcome gap
    synthetic: np.ndarray  # over all times
    gap: np.ndarray
    start_losses: dict[str, float] = field(default_factory=dict)
    chosen_start: str = ""


N_LOCAL = 3  # L-BFGS-B runs from this many of the best starts
N_RANDOM_STARTS = 4  # besides equal, regression and outcome-MSPE V; the nested loss is multimodal


def _weights_at(X1: np.ndarray, X0: np.ndarray, v: np.ndarray, warm: np.ndarray | None = None):
    Xv = X0 * v[:, None]
    return simplex_qp(X0.T @ Xv, Xv.T @ X1, warm)


class _NestedV:
    """Outer loss L(V) = mean((Z1 − Z0 W(V))²) and its exact gradient on the current active set."""

    def __init__(self, X1, X0, Z1, Z0):
        self.X1, self.X0, self.Z1, self.Z0 = X1, X0, Z1, Z0
        self.T0 = len(Z1)
        self.evals = 0
        self._memo: dict[bytes, tuple] = {}
        self._warm: np.ndarray | None = None

    def loss_w(self, v):
        # the starts are scored, then scored again as candidates: the same V gives the same QP, solved once
        key = np.asarray(v, dtype=float).tobytes()
        if key not in self._memo:
            # successive V are close (line search steps): the last W's support is nearly the new one
            sol = _weights_at(self.X1, self.X0, v, self._warm)
            self._warm = sol.w
            r = self.Z1 - self.Z0 @ sol.w
            self._memo[key] = (float(r @ r) / self.T0, sol, r)
        return self._memo[key]

    def fun_grad(self, theta):
        v = np.exp(theta)
        self.evals += 1
        L, sol, r = self.loss_w(v)
        S = sol.support
        s = len(S)
        D = self.X0[:, S]
        M = np.zeros((s + 1, s + 1))
        M[:s, :s] = D.T @ (D * v[:, None])
        M[:s, s] = 1.0
        M[s, :s] = 1.0
        Minv = np.linalg.pinv(M)
        Gs = Minv[:s, :s]
        e = self.X1 - D @ sol.w[S]
        gw = -(2.0 / self.T0) * (self.Z0[:, S].T @ r)
        dV = (D @ (Gs @ gw)) * e
        return L, dV * v


def _regression_v(Xs: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """Stata-style regression V: squared coefficients of scaled predictors in cross-unit outcome regressions."""
    n = Xs.shape[1]
    A = np.column_stack([np.ones(n), Xs.T])
    B = np.linalg.lstsq(A, Z.T, rcond=None)[0][1:]
    v = np.sum(B**2, axis=1)
    if not np.isfinite(v).all() or v.sum() <= 0:
        return np.full(Xs.shape[0], 1.0 / Xs.shape[0])
    return v / v.sum()


def fit_sc(
    d: _Design,
    treated: int,
    donors: np.ndarray,
    preds: list[Predictor],
    loss_times: Sequence[int],
    v: Any = "nested",
    v_starts: Sequence[np.ndarray] | None = None,
    default_starts: bool = True,
) -> SCFit:
    """Fit W (and V) for one treated unit; `loss_times` are the pre periods the outcome fit is judged on."""
    donors = np.asarray(donors, dtype=int)
    rows = np.concatenate([[treated], donors])
    X = d.predictor_matrix(preds, rows)
    sd = X.std(axis=1, ddof=1) if X.shape[1] > 1 else np.ones(X.shape[0])
    sd = np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    Xs = X / sd[:, None]
    X1, X0 = Xs[:, 0], Xs[:, 1:]
    lc = [d.col(t) for t in loss_times]
    Z1, Z0 = d.Y[treated, lc], d.Y[np.ix_(donors, lc)].T
    K = len(preds)
    nested = _NestedV(X1, X0, Z1, Z0)
    starts: dict[str, np.ndarray] = {}
    if isinstance(v, str):
        if v not in ("nested", "regression", "equal"):
            raise EvalkitError(f"unknown v={v!r}", expected="'nested', 'regression', 'equal' or an array")
        starts["equal"] = np.full(K, 1.0 / K)
        starts["regression"] = _regression_v(Xs, d.Y[np.ix_(rows, lc)].T)
        if v == "nested":
            lag = {p.periods[0]: k for k, p in enumerate(preds) if p.var == "y" and len(p.periods) == 1}
            if all(t in lag for t in loss_times):
                vm = np.zeros(K)
                for t in loss_times:
                    vm[lag[t]] = sd[lag[t]] ** 2
                starts["outcome_mspe"] = vm / vm.sum()
            if K > 1:
                # fixed pseudo-random starts (same generator every call, so fits stay deterministic)
                gen = np.random.default_rng(20100601)
                for i in range(N_RANDOM_STARTS):
                    starts[f"fixed{i}"] = gen.dirichlet(np.ones(K))
            if not default_starts:
                if not v_starts:
                    raise EvalkitError("default_starts=False needs v_starts")
                starts.clear()
            for i, s in enumerate(v_starts or []):
                s = np.asarray(s, dtype=float)
                if s.shape != (K,) or (s < 0).any() or s.sum() <= 0:
                    raise EvalkitError(f"v_starts[{i}] must be {K} non-negative numbers")
                starts[f"user{i}"] = s / s.sum()
    else:
        vv = np.asarray(v, dtype=float).ravel()
        if vv.shape != (K,) or (vv < 0).any() or vv.sum() <= 0:
            raise EvalkitError(f"v must have {K} non-negative entries (one per predictor), not {vv.shape[0]}")
        starts["user"] = vv / vv.sum()

    start_losses: dict[str, float] = {}
    best: tuple[float, np.ndarray, str] | None = None
    candidates: list[tuple[str, np.ndarray]] = []
    if isinstance(v, str) and v in ("equal", "regression"):
        candidates = [(v, starts[v])]
    elif not isinstance(v, str):
        candidates = [("user", starts["user"])]
    else:
        floor = 1e-10
        for name, s in starts.items():
            start_losses[name] = nested.loss_w(s)[0]
            candidates.append((name, s))
        # With every loss period a predictor, the outcome-MSPE V attains min_w MSPE(w), a lower bound of
        # L(V) for every V: it is the global optimum and no search is needed. Otherwise L-BFGS-B runs
        # from the N_LOCAL best starts.
        local = [] if "outcome_mspe" in starts else sorted(starts, key=lambda n: start_losses[n])[:N_LOCAL]
        for name in local:
            s = starts[name]
            theta0 = np.log(np.maximum(s, floor))
            theta0 -= theta0.max()
            res = minimize(
                nested.fun_grad,
                theta0,
                jac=True,
                method="L-BFGS-B",
                bounds=[(math.log(floor), 0.0)] * K,
                options={"maxiter": 200, "ftol": 1e-12, "gtol": 1e-10},
            )
            vv = np.exp(res.x)
            candidates.append((name + "+lbfgs", vv / vv.sum()))
    for name, vv in candidates:
        L = nested.loss_w(vv)[0]
        if best is None or L < best[0] - 1e-12 * max(1.0, abs(best[0])):
            best = (L, vv, name)
    assert best is not None
    L, vbest, chosen = best
    w = nested.loss_w(vbest)[1].w
    # ties (more donors than predictors): the minimum-norm optimal W, so W does not depend on the
    # solver's path or on round-off (qp.min_norm_weights); its pre-period fit, hence L, is unchanged
    unique = min_norm_weights(X0 * np.sqrt(vbest)[:, None], w)
    if unique is not w:
        w = unique
        L = float(np.mean((Z1 - Z0 @ w) ** 2))
    synth = d.Y[donors].T @ w
    return SCFit(
        treated=treated,
        donors=donors,
        w=w,
        v=vbest,
        loss=L,
        synthetic=synth,
        gap=d.Y[treated] - synth,
        start_losses=start_losses,
        chosen_start=chosen,
    )


# --------------------------------------------------------------------------------------------------
# inference pieces


def _rmspe(gap: np.ndarray, cols: Sequence[int]) -> float:
    return float(np.sqrt(np.mean(gap[list(cols)] ** 2)))


def placebo_p_value(ratio_treated: float, ratios_placebo: np.ndarray) -> float:
    """Share of all (placebos + treated) ratios at least the treated one: rank / (n + 1)."""
    return float((1 + np.sum(ratios_placebo >= ratio_treated - 1e-12 * abs(ratio_treated))) / (1 + len(ratios_placebo)))


def _conformal_pvalue(y1: np.ndarray, Y0: np.ndarray, theta0: float) -> float:
    """p(θ0) for the last period of y1 (T0+1 periods): outcome-only SC on null-imposed data."""
    y = y1.copy()
    y[-1] -= theta0
    w = simplex_lsq(Y0, y, unique=False).w  # residuals are the same for every tied minimiser
    u = np.abs(y - Y0 @ w)
    return float(np.mean(u >= u[-1] - 1e-10 * max(1.0, u[-1])))


def conformal_interval(
    y1: np.ndarray, Y0: np.ndarray, estimate: float, scale: float, alpha: float, grid: int = 41
) -> tuple[float, float, float]:
    """(ci_low, ci_high, p-value of θ0 = 0) for the effect in the last period of y1."""
    p0 = _conformal_pvalue(y1, Y0, 0.0)
    h = max(scale, 1e-8 * max(1.0, abs(estimate)))
    for _ in range(8):
        thetas = estimate + np.linspace(-h, h, grid)
        acc = np.array([_conformal_pvalue(y1, Y0, th) > alpha for th in thetas])
        if not acc.any():
            # the point estimate itself can be rejected only if alpha >= 1/(T0+1) ties; shrink the grid
            h /= 4
            continue
        if acc[0] or acc[-1]:
            h *= 4
            continue
        lo_i, hi_i = int(np.argmax(acc)), len(acc) - 1 - int(np.argmax(acc[::-1]))

        def bisect(a: float, b: float) -> float:  # a rejected, b accepted
            for _ in range(30):
                m = 0.5 * (a + b)
                if _conformal_pvalue(y1, Y0, m) > alpha:
                    b = m
                else:
                    a = m
            return b

        return bisect(thetas[lo_i - 1], thetas[lo_i]), bisect(thetas[hi_i + 1], thetas[hi_i]), p0
    return -math.inf, math.inf, p0


def conformal_joint_pvalue(y1: np.ndarray, Y0: np.ndarray, n_post: int) -> float:
    """CWZ test of no effect in any post period: S = mean |u_post|, over all cyclic shifts."""
    w = simplex_lsq(Y0, y1, unique=False).w  # residuals are the same for every tied minimiser
    u = np.abs(y1 - Y0 @ w)
    T = len(u)
    stats = np.array([np.mean(np.roll(u, -j)[T - n_post :]) for j in range(T)])
    return float(np.mean(stats >= stats[0] - 1e-10 * max(1.0, stats[0])))


# --------------------------------------------------------------------------------------------------
# public estimator


def _check_unit_rows(d: _Design, rows: np.ndarray, cols: Sequence[int]) -> None:
    sub = d.Y[np.ix_(rows, list(cols))]
    if np.isnan(sub).any():
        i, j = np.argwhere(np.isnan(sub))[0]
        raise EvalkitError(
            f"outcome missing for unit {d.units[rows[i]]} in period {d.times[list(cols)[j]]}",
            expected="a balanced panel for the treated unit and donors",
        )


def _setup(panel: LongPanel, treated_unit: str | None, donors: Sequence[str] | None):
    d = _design(panel)
    coh = panel.unit_cohorts()
    if treated_unit is None:
        tr = sorted(u for u, c in coh.items() if c > 0)
        if len(tr) != 1:
            raise EvalkitError(
                f"{len(tr)} treated units; name one with treated_unit= or use synth_staggered",
                expected="exactly one unit with a first-treated period",
            )
        treated_unit = tr[0]
    if treated_unit not in coh:
        raise EvalkitError(f"treated unit {treated_unit!r} is not in the panel")
    g = int(coh[treated_unit])
    if g <= 0:
        raise EvalkitError(
            f"unit {treated_unit!r} is never treated", column="cohort", expected="a first-treated period"
        )
    if donors is None:
        donor_names = sorted(u for u, c in coh.items() if c == 0)
    else:
        donor_names = sorted(set(map(str, donors)) - {treated_unit})
        unknown = [u for u in donor_names if u not in coh]
        if unknown:
            raise EvalkitError(f"donor {unknown[0]!r} is not in the panel")
    if len(donor_names) < 2:
        raise EvalkitError("fewer than two donor units", expected="at least two never-treated units")
    idx = {u: i for i, u in enumerate(d.units)}
    return d, treated_unit, idx[treated_unit], g, np.array([idx[u] for u in donor_names], dtype=int)


def synthetic_control(
    panel: LongPanel,
    *,
    treated_unit: str | None = None,
    predictors: Any = None,
    v: Any = "nested",
    pre_periods: Sequence[int] | None = None,
    donor_units: Sequence[str] | None = None,
    seed: int | None = DEFAULT_SEED,
    inference: bool = True,
    placebo_times: Sequence[int] | None = None,
    prefit_k: Sequence[float] = (2.0, 5.0, 20.0),
    prefit_scale: str = "mspe",
    leave_one_out: bool = True,
    conformal: bool = True,
    alpha: float = DEFAULT_ALPHA,
    v_starts: Sequence[np.ndarray] | None = None,
    default_starts: bool = True,
    n_jobs: int | None = None,
) -> Results:
    """ADH synthetic control for one treated unit, with placebo, leave-one-out and conformal inference.

    `pre_periods` are the periods whose outcome fit chooses V and defines the pre-RMSPE (default:
    every period before treatment); the effect is averaged over every period from treatment on.
    Nothing here is random; `seed` is only recorded. The fit is `sc_problem` + `sc_point`; each kind
    of inference is its own function below, adding rows, diagnostics and tables to the `SCOutput`.
    """
    if prefit_scale not in ("mspe", "rmspe"):
        raise EvalkitError("prefit_scale must be 'mspe' or 'rmspe'")
    prob = sc_problem(panel, treated_unit, predictors, pre_periods, donor_units, v, v_starts)
    fit = fit_sc(prob.d, prob.ti, prob.donor_idx, prob.preds, prob.loss_times, v, v_starts, default_starts)
    out = sc_point(prob, fit)
    if inference:
        placebo_in_space(prob, fit, out, prefit_k, prefit_scale, conformal, n_jobs)
        placebo_times = placebo_in_time(prob, out, placebo_times, predictors)
        if leave_one_out:
            leave_one_out_fits(prob, fit, out, n_jobs)
        if conformal:
            conformal_inference(prob, out, alpha)

    d = prob.d
    rows_out = [out.att_row] + [out.time_rows[t] for t in prob.post]
    options = {
        "treated_unit": prob.tname,
        "predictors": [p.label for p in prob.preds],
        "v": v if isinstance(v, str) else list(map(float, np.ravel(v))),
        "pre_periods": prob.loss_times,
        "donor_units": [d.units[j] for j in prob.donor_idx],
        "inference": inference,
        "placebo_times": list(placebo_times) if placebo_times is not None else None,
        "prefit_k": list(prefit_k),
        "prefit_scale": prefit_scale,
        "leave_one_out": leave_one_out,
        "conformal": conformal,
        "alpha": alpha,
    }
    return Results(
        method="synthetic_control",
        outcome=d.outcome,
        estimates=estimates_frame(rows_out),
        inference=out.inference,
        diagnostics=out.diagnostics,
        options=options,
        seed=seed,
        extra=out.extra,
    )


@dataclass
class SCProblem:
    """One treated unit's problem: the design, the unit, its donors, predictors and periods."""

    d: _Design
    tname: str
    ti: int
    g: int
    donor_idx: np.ndarray
    preds: list[Predictor]
    loss_times: list[int]
    post: list[int]
    v: Any
    v_starts: Sequence[np.ndarray] | None

    @property
    def lcols(self) -> list[int]:
        return [self.d.col(t) for t in self.loss_times]

    @property
    def pcols(self) -> list[int]:
        return [self.d.col(t) for t in self.post]


@dataclass
class SCOutput:
    """What the fit and each inference step add to the result."""

    att_row: dict[str, Any]
    time_rows: dict[int, dict[str, Any]]
    inference: dict[str, Any]
    diagnostics: dict[str, Any]
    extra: dict[str, pl.DataFrame]
    pre_rmspe: float
    post_rmspe: float
    ratio: float


def sc_problem(
    panel: LongPanel,
    treated_unit: str | None,
    predictors: Any,
    pre_periods: Sequence[int] | None,
    donor_units: Sequence[str] | None,
    v: Any,
    v_starts: Sequence[np.ndarray] | None,
) -> SCProblem:
    d, tname, ti, g, donor_idx = _setup(panel, treated_unit, donor_units)
    pre_all = [t for t in d.times if t < g]
    post = [t for t in d.times if t >= g]
    loss_times = sorted(int(t) for t in (pre_periods if pre_periods is not None else pre_all))
    if any(t >= g or t not in d.times for t in loss_times):
        raise EvalkitError(f"pre_periods must be panel periods before treatment in {g}")
    if len(loss_times) < 2 or not post:
        raise EvalkitError("need at least two pre-treatment periods and one post-treatment period")
    preds = parse_predictors(predictors, d.outcome, list(d.covs), loss_times)
    _check_unit_rows(d, np.concatenate([[ti], donor_idx]), [d.col(t) for t in d.times])
    return SCProblem(d, tname, ti, g, donor_idx, preds, loss_times, post, v, v_starts)


def sc_point(prob: SCProblem, fit: SCFit) -> SCOutput:
    """The point estimates of a fit: ATT, per-period gaps, weights, balance and paths."""
    d, ti, tname, g, donor_idx, preds = prob.d, prob.ti, prob.tname, prob.g, prob.donor_idx, prob.preds
    att = float(np.mean(fit.gap[prob.pcols]))
    pre_r, post_r = _rmspe(fit.gap, prob.lcols), _rmspe(fit.gap, prob.pcols)
    ratio = post_r / pre_r if pre_r > 0 else math.inf

    extra: dict[str, pl.DataFrame] = {}
    extra["weights"] = pl.DataFrame({"unit": [d.units[j] for j in donor_idx], "weight": fit.w})
    extra["v_weights"] = pl.DataFrame({"predictor": [p.label for p in preds], "v": fit.v})
    rows = np.concatenate([[ti], donor_idx])
    Xraw = d.predictor_matrix(preds, rows)
    extra["balance"] = pl.DataFrame(
        {
            "predictor": [p.label for p in preds],
            "treated": Xraw[:, 0],
            "synthetic": Xraw[:, 1:] @ fit.w,
            "donor_mean": Xraw[:, 1:].mean(axis=1),
        }
    )
    extra["paths"] = pl.DataFrame(
        {
            "unit": [tname] * len(d.times),
            "time": d.times,
            "treated": d.Y[ti],
            "synthetic": fit.synthetic,
            "gap": fit.gap,
        }
    )
    diagnostics: dict[str, Any] = {
        "pre_rmspe": pre_r,
        "post_rmspe": post_r,
        "rmspe_ratio": ratio,
        "loss": fit.loss,
        "v_start_losses": fit.start_losses,
        "v_chosen_start": fit.chosen_start,
        "n_donors": int(len(donor_idx)),
        "treatment_time": g,
    }
    time_rows = {
        t: {
            "name": f"time:t={t}",
            "aggregation": "calendar",
            "group": g,
            "time": t,
            "event_time": t - g,
            "unit": tname,
            "estimate": float(fit.gap[d.col(t)]),
        }
        for t in prob.post
    }
    att_row: dict[str, Any] = {"name": "att", "aggregation": "simple", "group": g, "unit": tname, "estimate": att}
    return SCOutput(att_row, time_rows, {"method": "none"}, diagnostics, extra, pre_r, post_r, ratio)


def placebo_in_space(
    prob: SCProblem,
    fit: SCFit,
    out: SCOutput,
    prefit_k: Sequence[float],
    prefit_scale: str,
    conformal: bool,
    n_jobs: int | None,
) -> None:
    """Every donor refitted as if treated: RMSPE-ratio rank p-values, pre-fit filtered, and per-period ranks."""
    d, donor_idx, lcols, pcols = prob.d, prob.donor_idx, prob.lcols, prob.pcols
    inf = out.inference = {
        "method": "placebo_in_space",
        "p_value_definition": "rank of treated post/pre RMSPE ratio among all units / (n placebos + 1)",
    }

    def one_placebo(j: int) -> SCFit:
        others = donor_idx[donor_idx != j]
        return fit_sc(d, int(j), others, prob.preds, prob.loss_times, prob.v, prob.v_starts)

    pfits = pmap(one_placebo, list(donor_idx), n_jobs=n_jobs)
    p_pre = np.array([_rmspe(f.gap, lcols) for f in pfits])
    p_post = np.array([_rmspe(f.gap, pcols) for f in pfits])
    with np.errstate(divide="ignore"):
        p_ratio = np.where(p_pre > 0, p_post / np.where(p_pre > 0, p_pre, 1), np.inf)
    pval = placebo_p_value(out.ratio, p_ratio)
    out.att_row["p_value"] = pval
    inf["p_value"] = pval
    inf["n_placebos"] = int(len(pfits))
    att = out.att_row["estimate"]
    p_att = np.array([float(np.mean(f.gap[pcols])) for f in pfits])
    inf["p_value_abs_att"] = float((1 + np.sum(np.abs(p_att) >= abs(att) - 1e-12)) / (1 + len(p_att)))
    filt = {}
    pow_ = 2.0 if prefit_scale == "mspe" else 1.0
    keep_cols = {}
    for k in prefit_k:
        keep = p_pre**pow_ <= k * out.pre_rmspe**pow_
        filt[str(k)] = {"p_value": placebo_p_value(out.ratio, p_ratio[keep]), "n_placebos": int(keep.sum())}
        keep_cols[f"kept_k{k:g}"] = [True] + list(keep)
    inf["prefit_filtered"] = filt
    inf["prefit_scale"] = prefit_scale
    out.extra["rmspe"] = pl.DataFrame(
        {
            "unit": [prob.tname] + [d.units[j] for j in donor_idx],
            "pre_rmspe": [out.pre_rmspe, *p_pre],
            "post_rmspe": [out.post_rmspe, *p_post],
            "ratio": [out.ratio, *p_ratio],
            "treated": [True] + [False] * len(pfits),
            **keep_cols,
        }
    )
    out.extra["placebo"] = pl.DataFrame(
        {
            "unit": [d.units[f.treated] for f in pfits for _ in d.times],
            "time": [t for _ in pfits for t in d.times],
            "gap": np.concatenate([f.gap for f in pfits]),
        }
    )
    # per-period placebo p-values (|gap| rank) are kept alongside the conformal ones
    pg = np.array([f.gap[pcols] for f in pfits])
    for i, t in enumerate(prob.post):
        gt = fit.gap[d.col(t)]
        out.time_rows[t]["p_value"] = float((1 + np.sum(np.abs(pg[:, i]) >= abs(gt) - 1e-12)) / (1 + len(pfits)))
    inf["time_p_value"] = "placebo |gap| rank; ci from conformal (CWZ 2021)" if conformal else "placebo |gap| rank"


def placebo_in_time(
    prob: SCProblem, out: SCOutput, placebo_times: Sequence[int] | None, predictors: Any
) -> Sequence[int]:
    """Refit with fake adoption dates before the real one; returns the dates used (default: mid pre-period)."""
    d, g = prob.d, prob.g
    if placebo_times is None:
        placebo_times = [prob.loss_times[len(prob.loss_times) // 2]]
    pt_rows, pt_diag = [], {}
    for f_t in placebo_times:
        f_t = int(f_t)
        fl = [t for t in prob.loss_times if t < f_t]
        fpost = [t for t in d.times if f_t <= t < g]
        if len(fl) < 2 or not fpost:
            raise EvalkitError(f"placebo time {f_t} leaves fewer than two earlier periods or no periods before {g}")
        fpreds = (
            parse_predictors(None, d.outcome, [], fl)
            if predictors is None
            else _clip_predictors(prob.preds, f_t, d.outcome)
        )
        fv = prob.v if isinstance(prob.v, str) or len(fpreds) == len(prob.preds) else "nested"
        ff = fit_sc(d, prob.ti, prob.donor_idx, fpreds, fl, fv, None)
        fcols = [d.col(t) for t in fpost]
        pr, po = _rmspe(ff.gap, [d.col(t) for t in fl]), _rmspe(ff.gap, fcols)
        pt_diag[str(f_t)] = {
            "att": float(np.mean(ff.gap[fcols])),
            "pre_rmspe": pr,
            "post_rmspe": po,
            "ratio": po / pr if pr > 0 else math.inf,
        }
        for t in d.times:
            if t < g:
                pt_rows.append(
                    {
                        "placebo_time": f_t,
                        "time": t,
                        "synthetic": float(ff.synthetic[d.col(t)]),
                        "gap": float(ff.gap[d.col(t)]),
                    }
                )
    out.extra["placebo_time"] = pl.DataFrame(pt_rows)
    out.diagnostics["placebo_time"] = pt_diag
    return placebo_times


def leave_one_out_fits(prob: SCProblem, fit: SCFit, out: SCOutput, n_jobs: int | None) -> None:
    """Refit without each donor that has positive weight; the range of ATTs shows reliance on one donor."""
    d, donor_idx = prob.d, prob.donor_idx
    pos = donor_idx[fit.w > 1e-6]
    pos = pos if len(donor_idx) > 2 else np.array([], dtype=int)

    def drop_one(j: int) -> SCFit:
        return fit_sc(d, prob.ti, donor_idx[donor_idx != j], prob.preds, prob.loss_times, prob.v, prob.v_starts)

    lfits = pmap(drop_one, list(pos), n_jobs=n_jobs)
    out.extra["loo"] = pl.DataFrame(
        {
            "dropped": [d.units[j] for j, f in zip(pos, lfits) for _ in d.times],
            "time": [t for _ in lfits for t in d.times],
            "synthetic": np.concatenate([f.synthetic for f in lfits]) if lfits else np.array([]),
            "gap": np.concatenate([f.gap for f in lfits]) if lfits else np.array([]),
        },
        schema={"dropped": pl.Utf8, "time": pl.Int64, "synthetic": pl.Float64, "gap": pl.Float64},
    )
    loo_att = {d.units[j]: float(np.mean(f.gap[prob.pcols])) for j, f in zip(pos, lfits)}
    out.diagnostics["loo_att"] = loo_att
    if loo_att:
        out.diagnostics["loo_att_range"] = [min(loo_att.values()), max(loo_att.values())]


def conformal_inference(prob: SCProblem, out: SCOutput, alpha: float) -> None:
    """Per-period conformal intervals and the joint no-effect p-value (Chernozhukov, Wüthrich and Zhu 2021)."""
    d, ti, donor_idx, lcols, pcols = prob.d, prob.ti, prob.donor_idx, prob.lcols, prob.pcols
    Y0pre = d.Y[np.ix_(donor_idx, lcols)].T
    conf_rows = []
    for t in prob.post:
        c = d.col(t)
        y1 = np.append(d.Y[ti, lcols], d.Y[ti, c])
        Y0 = np.vstack([Y0pre, d.Y[donor_idx, c]])
        est = float(d.Y[ti, c] - d.Y[donor_idx, c] @ simplex_lsq(Y0pre, d.Y[ti, lcols]).w)
        lo, hi, p0 = conformal_interval(y1, Y0, est, 10 * max(out.pre_rmspe, 1e-8) + abs(est), alpha)
        out.time_rows[t]["ci_low"], out.time_rows[t]["ci_high"] = lo, hi
        conf_rows.append({"time": t, "estimate": est, "ci_low": lo, "ci_high": hi, "p_value": p0})
    out.extra["conformal"] = pl.DataFrame(conf_rows)
    y1 = d.Y[ti, lcols + pcols]
    Y0 = d.Y[np.ix_(donor_idx, lcols + pcols)].T
    out.inference["conformal"] = {
        "alpha": alpha,
        "estimator": "outcome-only simplex SC refitted on null-imposed data",
        "permutations": "cyclic (moving block) shifts",
        "joint_p_value_no_effect": conformal_joint_pvalue(y1, Y0, len(pcols)),
        "statistic_joint": "mean |residual| over post periods",
        "statistic_period": "|residual| in that period",
    }


# --------------------------------------------------------------------------------------------------
# staggered adoption: one synthetic control per treated unit


_FIT_CACHE: dict[str, SCFit] = {}
FIT_CACHE_SIZE = 20_000  # about 50 MB at England size


def cached_fit(
    d: _Design, treated: int, donors: np.ndarray, preds: list[Predictor], loss_times: Sequence[int], v: Any = "nested"
) -> SCFit:
    """`fit_sc`, remembered in this process by its exact inputs (the units' codes and data, periods,
    predictors, V rule). A multiverse refits the same placebo (same donor against the same pool and
    years) under many specifications that differ only in the treated councils; it is fitted once."""
    rows = np.concatenate([[treated], np.asarray(donors, dtype=int)])
    h = hashlib.sha256()
    h.update(
        repr(
            (
                d.outcome,
                d.times,
                [d.units[i] for i in rows],
                [p.label for p in preds],
                list(loss_times),
                v if isinstance(v, str) else np.asarray(v, dtype=float).tolist(),
                sorted(d.covs),
            )
        ).encode()
    )
    h.update(np.ascontiguousarray(d.Y[rows]).tobytes())
    for name in sorted(d.covs):
        h.update(np.ascontiguousarray(d.covs[name][rows]).tobytes())
    key = h.hexdigest()
    hit = _FIT_CACHE.get(key)
    if hit is None:
        hit = fit_sc(d, treated, donors, preds, loss_times, v)
        if len(_FIT_CACHE) >= FIT_CACHE_SIZE:
            _FIT_CACHE.pop(next(iter(_FIT_CACHE)))
        _FIT_CACHE[key] = hit
    # unit positions may differ between designs holding the same units: re-index, numbers unchanged
    return replace(hit, treated=int(treated), donors=np.asarray(donors, dtype=int))


def _sub_design(d: _Design, times: Sequence[int]) -> _Design:
    cols = [d.col(t) for t in times]
    return _Design(
        Y=d.Y[:, cols],
        units=d.units,
        times=list(times),
        covs={k: m[:, cols] for k, m in d.covs.items()},
        outcome=d.outcome,
    )


def synth_staggered(
    panel: LongPanel,
    *,
    predictors: Any = None,
    v: Any = "nested",
    donor_units: Sequence[str] | None = None,
    control: str = "never",
    window: int = 0,
    horizon: int | None = None,
    inference: bool = True,
    reps: int = 1000,
    seed: int | None = DEFAULT_SEED,
    n_jobs: int | None = None,
) -> Results:
    """A synthetic control for each treated unit, pooled by event time (Cavallo et al. 2013, REStat).

    Each unit of cohort g is fitted on periods up to g + `horizon` (default: the end of the panel)
    against never-treated units (or `donor_units`, restricted to never-treated), plus, with
    `control="notyet"`, units first treated more than `window` periods after the last period used.
    "event:e=k" averages the units' gaps k periods after treatment (equal unit weights); "att" averages
    every treated unit-period gap. Inference: every donor of every treated unit is refitted as a
    placebo; `reps` draws take one placebo per treated unit and pool them the same way, and
    p = (1 + #{|placebo average| ≥ |actual|}) / (1 + reps). Unit rows carry the unit's own RMSPE-ratio
    placebo p-value.
    """
    d = _design(panel)
    coh = panel.unit_cohorts()
    idx = {u: i for i, u in enumerate(d.units)}
    treated = sorted((u for u, c in coh.items() if c > 0), key=lambda u: (coh[u], u))
    if not treated:
        raise EvalkitError("no treated units (cohort > 0)")
    pool = sorted(u for u, c in coh.items() if c == 0)
    if control not in ("never", "notyet"):
        raise EvalkitError(f"control must be 'never' or 'notyet', not {control!r}")
    if donor_units is not None:
        unknown = [u for u in donor_units if u not in coh]
        if unknown:
            raise EvalkitError(f"donor {unknown[0]!r} is not in the panel")
        pool = sorted(u for u in map(str, donor_units) if coh[u] == 0)
    tasks = []
    for u in treated:
        g = int(coh[u])
        last = d.times[-1] if horizon is None else min(d.times[-1], g + horizon)
        times = [t for t in d.times if t <= last]
        pre = [t for t in times if t < g]
        if len(pre) < 2 or not any(t >= g for t in times):
            raise EvalkitError(f"unit {u}: fewer than two pre-treatment periods or no post period")
        dn = list(pool)
        if control == "notyet":
            dn += [x for x, c in coh.items() if c > last + window and x != u and x not in dn]
        dn_idx = np.array(sorted(idx[x] for x in dn), dtype=int)
        if len(dn_idx) < 2:
            raise EvalkitError(f"unit {u}: fewer than two donors")
        sd = _sub_design(d, times)
        _check_unit_rows(sd, np.concatenate([[idx[u]], dn_idx]), list(range(len(times))))
        preds = parse_predictors(predictors, d.outcome, list(d.covs), pre)
        tasks.append((u, g, sd, dn_idx, preds, pre))

    # A donor's placebo fit depends on the periods, the pre-period and the pool, not on which treated
    # unit it serves: units of one cohort share them, so each distinct placebo is fitted once.
    jobs: list[tuple] = []
    where: dict[tuple, int] = {}
    task_jobs = []
    for u, _g, sd, dn_idx, preds, pre in tasks:
        mine = [len(jobs)]
        jobs.append((sd, idx[u], dn_idx, preds, pre))
        if inference:
            for j in dn_idx:
                key = (tuple(sd.times), tuple(pre), tuple(dn_idx.tolist()), int(j))
                if key not in where:
                    where[key] = len(jobs)
                    jobs.append((sd, int(j), dn_idx[dn_idx != j], preds, pre))
                mine.append(where[key])
        task_jobs.append(mine)

    def run(job):
        sd, unit, dn, preds, pre = job
        return cached_fit(sd, unit, dn, preds, pre, v)

    done = pmap(run, jobs, n_jobs=n_jobs)
    fits = [(done[mine[0]], [done[k] for k in mine[1:]]) for mine in task_jobs]
    rows: list[dict[str, Any]] = []
    path_rows, w_rows, rm_rows, pl_rows = [], [], [], []
    per_event: dict[int, list[float]] = {}
    post_gaps: list[float] = []
    placebo_events: list[np.ndarray] = []  # per treated unit: placebos × events (NaN where absent)
    all_e = sorted({t - g for (_, g, sd, *_r) in tasks for t in sd.times})
    epos = {e: k for k, e in enumerate(all_e)}
    unit_post_idx = []
    for (u, g, sd, dn_idx, _preds, pre), (main, plac) in zip(tasks, fits):
        lc = [sd.col(t) for t in pre]
        pc = [sd.col(t) for t in sd.times if t >= g]
        ev = np.array([epos[t - g] for t in sd.times])
        pr, po = _rmspe(main.gap, lc), _rmspe(main.gap, pc)
        ratio = po / pr if pr > 0 else math.inf
        row = {
            "name": f"unit:{u}",
            "aggregation": "unit",
            "group": g,
            "unit": u,
            "estimate": float(np.mean(main.gap[pc])),
        }
        for t, gp, sy in zip(sd.times, main.gap, main.synthetic):
            path_rows.append(
                {
                    "unit": u,
                    "time": t,
                    "event_time": t - g,
                    "treated": float(sd.Y[idx[u], sd.col(t)]),
                    "synthetic": float(sy),
                    "gap": float(gp),
                }
            )
            per_event.setdefault(t - g, []).append(float(gp))
        post_gaps.extend(main.gap[pc].tolist())
        unit_post_idx.append(ev[pc])
        w_rows += [{"treated_unit": u, "unit": d.units[j], "weight": float(w)} for j, w in zip(dn_idx, main.w)]
        rm_rows.append(
            {"treated_unit": u, "unit": u, "pre_rmspe": pr, "post_rmspe": po, "ratio": ratio, "treated": True}
        )
        if inference:
            pe = np.full((len(plac), len(all_e)), np.nan)
            prs = []
            for k, f in enumerate(plac):
                ppr, ppo = _rmspe(f.gap, lc), _rmspe(f.gap, pc)
                prs.append(ppo / ppr if ppr > 0 else math.inf)
                rm_rows.append(
                    {
                        "treated_unit": u,
                        "unit": d.units[f.treated],
                        "pre_rmspe": ppr,
                        "post_rmspe": ppo,
                        "ratio": prs[-1],
                        "treated": False,
                    }
                )
                pe[k, ev] = f.gap
                pl_rows += [
                    {"treated_unit": u, "unit": d.units[f.treated], "time": t, "gap": float(gp)}
                    for t, gp in zip(sd.times, f.gap)
                ]
            placebo_events.append(pe)
            row["p_value"] = placebo_p_value(ratio, np.array(prs))
        rows.append(row)
    att = float(np.mean(post_gaps))
    ev_est = {e: float(np.mean(v_)) for e, v_ in sorted(per_event.items())}
    head: list[dict[str, Any]] = [{"name": "att", "aggregation": "pooled", "estimate": att}]
    ev_rows = [
        {"name": f"event:e={e}", "aggregation": "dynamic", "event_time": e, "estimate": est}
        for e, est in ev_est.items()
    ]
    inf: dict[str, Any] = {"method": "none"}
    if inference:
        rng = np.random.default_rng(seed)
        draws_ev = np.zeros((reps, len(all_e)))
        draws_att = np.zeros(reps)
        for r in range(reps):
            picks = [pe[rng.integers(pe.shape[0])] for pe in placebo_events]
            stack = np.vstack(picks)
            with np.errstate(invalid="ignore"):
                draws_ev[r] = np.nanmean(stack, axis=0) if stack.size else np.nan
            draws_att[r] = np.mean(np.concatenate([p[ix] for p, ix in zip(picks, unit_post_idx)]))
        head[0]["p_value"] = float((1 + np.sum(np.abs(draws_att) >= abs(att) - 1e-12)) / (1 + reps))
        for r_ in ev_rows:
            col = draws_ev[:, epos[r_["event_time"]]]
            r_["p_value"] = float((1 + np.sum(np.abs(col) >= abs(r_["estimate"]) - 1e-12)) / (1 + reps))
        inf = {
            "method": "pooled placebo (Cavallo, Galiani, Noy & Pantano 2013)",
            "reps": reps,
            "p_value_definition": "(1 + #{|pooled placebo| >= |estimate|}) / (1 + reps); unit rows: RMSPE-ratio rank",
        }
    extra = {
        "weights": pl.DataFrame(w_rows),
        "paths": pl.DataFrame(path_rows),
        "rmspe": pl.DataFrame(rm_rows),
    }
    if pl_rows:
        extra["placebo"] = pl.DataFrame(pl_rows)
    options = {
        "predictors": predictors if predictors is None else [str(p) for p in predictors],
        "v": v if isinstance(v, str) else list(map(float, np.ravel(v))),
        "donor_units": pool,
        "control": control,
        "window": window,
        "horizon": horizon,
        "inference": inference,
        "reps": reps,
    }
    return Results(
        method="synth_staggered",
        outcome=d.outcome,
        estimates=estimates_frame(head + ev_rows + rows),
        inference=inf,
        diagnostics={"n_treated": len(treated)},
        options=options,
        seed=seed if inference else None,
        extra=extra,
    )
