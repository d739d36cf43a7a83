"""Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021, AER).

The algorithm follows the paper's Algorithm 1 as the authors' `synthdid` R package runs it, so the
published Prop 99 numbers reproduce: the panel is collapsed (treated units averaged, post periods
averaged); unit weights ω solve the zeta-regularised, intercept-adjusted fit of the control units'
pre-period paths to the treated average, time weights λ the (almost unregularised) fit of the
post-period average on the pre periods; both by Frank–Wolfe with exact line search, 100 iterations,
then "sparsify" (weights ≤ max/4 set to 0) and up to 10 000 more iterations, stopping when the
objective falls by less than (1e-5 · σ)², with σ the sd of the controls' first differences.
zeta_ω = (N_tr · T_post)^(1/4) · σ, zeta_λ = 1e-6 · σ.

The same machinery gives DiD (uniform ω and λ) and SC (λ = 0, no intercept, zeta_ω = 1e-6 · σ) as the
package's `did_estimate` / `sc_estimate`. SEs: placebo (controls permuted, the last N_tr relabelled
treated, weights re-estimated from the permuted original ω and λ), bootstrap (units resampled,
needs ≥ 2 treated units) and jackknife (leave one unit out with the weights fixed, as the package).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.results import Results, estimates_frame
from evalkit.parallel import pmap

ESTIMATORS = ("sdid", "sc", "did")


@dataclass
class SDIDOptions:
    """Everything besides the data that defines one estimate (re-used unchanged in resampling)."""

    zeta_omega: float
    zeta_lambda: float
    omega_intercept: bool
    lambda_intercept: bool
    update_omega: bool
    update_lambda: bool
    min_decrease: float
    max_iter: int = 10_000
    max_iter_pre_sparsify: int = 100
    sparsify: bool = True


@dataclass
class SDIDFit:
    estimate: float
    omega: np.ndarray
    lambda_: np.ndarray
    opts: SDIDOptions
    noise_level: float


def _sparsify(v: np.ndarray) -> np.ndarray:
    v = np.where(v <= v.max() / 4, 0.0, v)
    return v / v.sum()


def _sum_normalize(x: np.ndarray) -> np.ndarray:
    s = x.sum()
    return x / s if s != 0 else np.full(len(x), 1.0 / len(x))


def fw_weights(Y: np.ndarray, zeta: float, intercept: bool, start: np.ndarray | None,
               min_decrease: float, max_iter: int) -> np.ndarray:
    """Frank–Wolfe for min zeta²‖x‖² + ‖A x − b‖²/n on the simplex (A = Y[:, :-1], b = Y[:, -1]).

    Works on the Gram matrix, so one iteration costs O(k) after an O(n k²) set-up.
    """
    n, k1 = Y.shape
    k = k1 - 1
    if intercept:
        Y = Y - Y.mean(axis=0, keepdims=True)
    A, b = Y[:, :k], Y[:, k]
    x = np.full(k, 1.0 / k) if start is None else np.asarray(start, dtype=float).copy()
    eta = n * zeta**2
    G = A.T @ A
    c = A.T @ b
    bb = float(b @ b)
    Gx = G @ x
    xGx = float(x @ Gx)
    cx = float(c @ x)
    xx = float(x @ x)
    diag = np.diag(G).copy()
    prev = math.inf
    last = math.inf
    md2 = min_decrease**2
    t = 0
    while t < max_iter and (t < 2 or prev - last > md2):
        t += 1
        # half gradient of 0.5‖Ax−b‖² + 0.5 eta ‖x‖²
        hg = Gx - c + eta * x
        i = int(np.argmin(hg))
        # direction d = e_i − x; A d = A_i − Ax
        derr_r = (Gx[i] - c[i]) - (xGx - cx)  # d_err' (Ax − b)
        derr2 = diag[i] - 2 * Gx[i] + xGx  # ‖d_err‖²
        xd = x[i] - xx  # x'd
        dd = 1 - 2 * x[i] + xx  # ‖d‖²
        if dd <= 0:
            val = zeta**2 * xx + (xGx - 2 * cx + bb) / n
            prev, last = last, val
            continue
        step = (-derr_r - eta * xd) / (derr2 + eta * dd)
        s = min(1.0, max(0.0, step))
        if s > 0:
            gi = G[:, i]
            # update x ← x + s (e_i − x) and the cached products
            xGx = (1 - s) ** 2 * xGx + 2 * s * (1 - s) * Gx[i] + s * s * diag[i]
            cx = (1 - s) * cx + s * c[i]
            xx = (1 - s) ** 2 * xx + 2 * s * (1 - s) * x[i] + s * s
            Gx = (1 - s) * Gx + s * gi
            x = (1 - s) * x
            x[i] += s
        val = zeta**2 * xx + max(xGx - 2 * cx + bb, 0.0) / n
        prev, last = last, val
    return x


def _collapsed(Y: np.ndarray, N0: int, T0: int) -> np.ndarray:
    top = np.column_stack([Y[:N0, :T0], Y[:N0, T0:].mean(axis=1)])
    bot = np.append(Y[N0:, :T0].mean(axis=0), Y[N0:, T0:].mean())
    return np.vstack([top, bot])


def noise_level(Y: np.ndarray, N0: int, T0: int) -> float:
    """sd (n−1) of the first differences of the controls' pre-period outcomes."""
    if T0 < 2:
        return 0.0
    dif = np.diff(Y[:N0, :T0], axis=1)
    return float(np.std(dif, ddof=1)) if dif.size > 1 else 0.0


def default_options(Y: np.ndarray, N0: int, T0: int, estimator: str = "sdid") -> tuple[SDIDOptions, np.ndarray | None, np.ndarray | None]:
    """Options and fixed weights (None = estimate) for sdid, sc or did, as the synthdid package sets them."""
    N1, T1 = Y.shape[0] - N0, Y.shape[1] - T0
    sigma = noise_level(Y, N0, T0)
    md = 1e-5 * sigma
    if estimator == "sdid":
        return SDIDOptions((N1 * T1) ** 0.25 * sigma, 1e-6 * sigma, True, True, True, True, md), None, None
    if estimator == "sc":
        return SDIDOptions(1e-6 * sigma, 1e-6 * sigma, False, True, True, False, md), None, np.zeros(T0)
    if estimator == "did":
        return SDIDOptions(0.0, 0.0, True, True, False, False, md), np.full(N0, 1.0 / N0), np.full(T0, 1.0 / T0)
    raise EvalkitError(f"unknown estimator {estimator!r}", expected="sdid, sc or did")


def sdid_fit(Y: np.ndarray, N0: int, T0: int, opts: SDIDOptions, omega: np.ndarray | None = None,
             lambda_: np.ndarray | None = None) -> SDIDFit:
    """One estimate on a units × times matrix whose first N0 rows are controls and first T0 columns pre.

    `omega`/`lambda_` are fixed weights if the matching update flag is off, else starting values.
    """
    N1, T1 = Y.shape[0] - N0, Y.shape[1] - T0
    Yc = _collapsed(Y, N0, T0)
    if opts.update_lambda:
        lam = fw_weights(Yc[:N0, :], opts.zeta_lambda, opts.lambda_intercept, lambda_, opts.min_decrease,
                         opts.max_iter_pre_sparsify if opts.sparsify else opts.max_iter)
        if opts.sparsify:
            lam = fw_weights(Yc[:N0, :], opts.zeta_lambda, opts.lambda_intercept, _sparsify(lam), opts.min_decrease, opts.max_iter)
    else:
        lam = np.asarray(lambda_, dtype=float)
    if opts.update_omega:
        om = fw_weights(Yc[:, :T0].T, opts.zeta_omega, opts.omega_intercept, omega, opts.min_decrease,
                        opts.max_iter_pre_sparsify if opts.sparsify else opts.max_iter)
        if opts.sparsify:
            om = fw_weights(Yc[:, :T0].T, opts.zeta_omega, opts.omega_intercept, _sparsify(om), opts.min_decrease, opts.max_iter)
    else:
        om = np.asarray(omega, dtype=float)
    a = np.concatenate([-om, np.full(N1, 1.0 / N1)])
    bvec = np.concatenate([-lam, np.full(T1, 1.0 / T1)])
    est = float(a @ Y @ bvec)
    return SDIDFit(estimate=est, omega=om, lambda_=lam, opts=opts, noise_level=float("nan"))


def sdid_matrix(Y: np.ndarray, N0: int, T0: int, estimator: str = "sdid") -> SDIDFit:
    opts, om, lam = default_options(Y, N0, T0, estimator)
    fit = sdid_fit(Y, N0, T0, opts, om, lam)
    fit.noise_level = noise_level(Y, N0, T0)
    return fit


# ---------------------------------------------------------------- standard errors (package recipes)


def placebo_draws(Y: np.ndarray, N0: int, T0: int, fit: SDIDFit, perms: Sequence[np.ndarray], n_jobs: int | None = None) -> np.ndarray:
    N1 = Y.shape[0] - N0
    if N0 <= N1:
        raise EvalkitError("the placebo SE needs more control than treated units")

    def theta(ind: np.ndarray) -> float:
        n0 = len(ind) - N1
        om = _sum_normalize(fit.omega[ind[:n0]])
        return sdid_fit(Y[ind], n0, T0, fit.opts, om, fit.lambda_).estimate

    return np.array(pmap(theta, list(perms), n_jobs=n_jobs))


def bootstrap_draws(Y: np.ndarray, N0: int, T0: int, fit: SDIDFit, rng: np.random.Generator, reps: int,
                    n_jobs: int | None = None) -> np.ndarray:
    N = Y.shape[0]
    if N - N0 < 2:
        raise EvalkitError("the bootstrap SE needs at least two treated units (use se='placebo')")
    samples = []
    while len(samples) < reps:
        ind = rng.integers(0, N, size=N)
        if np.all(ind < N0) or np.all(ind >= N0):
            continue
        samples.append(np.sort(ind))

    def theta(ind: np.ndarray) -> float:
        n0 = int(np.sum(ind < N0))
        om = _sum_normalize(fit.omega[ind[:n0]])
        return sdid_fit(Y[ind], n0, T0, fit.opts, om, fit.lambda_).estimate

    return np.array(pmap(theta, samples, n_jobs=n_jobs))


def jackknife_draws(Y: np.ndarray, N0: int, T0: int, fit: SDIDFit) -> np.ndarray:
    N = Y.shape[0]
    if N - N0 < 2:
        raise EvalkitError("the jackknife SE needs at least two treated units (use se='placebo')")
    opts = SDIDOptions(**{**fit.opts.__dict__, "update_omega": False, "update_lambda": False})
    out = []
    for i in range(N):
        ind = np.delete(np.arange(N), i)
        n0 = int(np.sum(ind < N0))
        om = _sum_normalize(fit.omega[ind[:n0]])
        out.append(sdid_fit(Y[ind], n0, T0, opts, om, fit.lambda_).estimate)
    return np.array(out)


def _se_from(draws: np.ndarray, kind: str) -> float:
    n = len(draws)
    if kind == "jackknife":
        return float(math.sqrt((n - 1) / n * (n - 1) * np.var(draws, ddof=1)))
    return float(math.sqrt((n - 1) / n) * np.std(draws, ddof=1))


# ---------------------------------------------------------------- panel front end


def _block_matrix(panel: LongPanel, treated_units: list[str], control_units: list[str], times: list[int]):
    Y, units, all_times = panel.wide()
    idx = {u: i for i, u in enumerate(units)}
    cols = [all_times.index(t) for t in times]
    rows = [idx[u] for u in control_units + treated_units]
    M = Y[np.ix_(rows, cols)]
    if np.isnan(M).any():
        i, j = np.argwhere(np.isnan(M))[0]
        raise EvalkitError(f"outcome missing for unit {(control_units + treated_units)[i]} in period {times[j]}",
                           expected="a balanced panel")
    return M


def _cohorts(panel: LongPanel) -> dict[str, int]:
    return dict(panel.data.group_by("unit").agg(pl.col("cohort").first()).iter_rows())


def synthetic_did(
    panel: LongPanel,
    *,
    se: str | None = "placebo",
    reps: int = 200,
    seed: int | None = 0,
    estimator: str = "sdid",
    alpha: float = 0.05,
    n_jobs: int | None = None,
) -> Results:
    """SDID (or `estimator="sc"` / `"did"`) for units all first treated in the same period.

    Controls are never-treated units. `se` is "placebo", "bootstrap", "jackknife" or None; the
    confidence interval is estimate ± z·se (normal), as in the package's vignette.
    """
    from scipy.stats import norm

    coh = _cohorts(panel)
    tr = sorted(u for u, c in coh.items() if c > 0)
    co = sorted(u for u, c in coh.items() if c == 0)
    if not tr or len(co) < 2:
        raise EvalkitError("need treated units and at least two never-treated units")
    gs = {coh[u] for u in tr}
    if len(gs) > 1:
        raise EvalkitError("treated units start in different periods; use synthetic_did_staggered")
    g = gs.pop()
    times = panel.times
    T0 = sum(t < g for t in times)
    if T0 < 2 or T0 == len(times):
        raise EvalkitError("need at least two pre-treatment periods and one post-treatment period")
    Y = _block_matrix(panel, tr, co, times)
    N0 = len(co)
    fit = sdid_matrix(Y, N0, T0, estimator)
    row: dict[str, Any] = {"name": "att", "aggregation": "simple", "group": g, "estimate": fit.estimate}
    if len(tr) == 1:
        row["unit"] = tr[0]
    inf: dict[str, Any] = {"se_type": se, "alpha": alpha}
    draws = None
    if se is not None:
        rng = np.random.default_rng(seed)
        if se == "placebo":
            perms = [rng.permutation(N0) for _ in range(reps)]
            draws = placebo_draws(Y, N0, T0, fit, perms, n_jobs)
        elif se == "bootstrap":
            draws = bootstrap_draws(Y, N0, T0, fit, rng, reps, n_jobs)
        elif se == "jackknife":
            draws = jackknife_draws(Y, N0, T0, fit)
        else:
            raise EvalkitError(f"unknown se={se!r}", expected="placebo, bootstrap, jackknife or None")
        s = _se_from(draws, se)
        z = float(norm.ppf(1 - alpha / 2))
        row.update(se=s, ci_low=fit.estimate - z * s, ci_high=fit.estimate + z * s,
                   p_value=float(2 * norm.sf(abs(fit.estimate) / s)) if s > 0 else None)
        inf["reps"] = len(draws)
    pre, post = times[:T0], times[T0:]
    extra = {
        "weights": pl.DataFrame({"unit": co, "weight": fit.omega}),
        "time_weights": pl.DataFrame({"time": pre, "weight": fit.lambda_}),
    }
    Ytr = Y[N0:].mean(axis=0)
    Ysc = fit.omega @ Y[:N0]
    # intercept: SDID compares the treated and synthetic paths after shifting by the λ-weighted pre gap
    shift = float(fit.lambda_ @ (Ytr[:T0] - Ysc[:T0])) if estimator != "sc" else 0.0
    extra["paths"] = pl.DataFrame({"unit": ["treated_mean"] * len(times), "time": times, "treated": Ytr,
                                   "synthetic": Ysc + shift, "gap": Ytr - Ysc - shift})
    if draws is not None:
        extra["draws"] = pl.DataFrame({"draw": np.arange(len(draws)), "estimate": draws})
    opts = fit.opts.__dict__.copy()
    return Results(
        method={"sdid": "synthetic_did", "sc": "synthetic_control_sdid", "did": "did_sdid"}[estimator],
        outcome=panel.outcome, estimates=estimates_frame([row]), inference=inf,
        diagnostics={"noise_level": fit.noise_level, "N0": N0, "N1": len(tr), "T0": T0, "T1": len(post),
                     "n_nonzero_omega": int(np.sum(fit.omega > 0)), "n_nonzero_lambda": int(np.sum(fit.lambda_ > 0))},
        options={"se": se, "reps": reps, "estimator": estimator, "alpha": alpha, **opts},
        seed=seed if se in ("placebo", "bootstrap") else None, extra=extra,
    )


# ---------------------------------------------------------------- staggered adoption


def _staggered_estimate(Y: np.ndarray, N0: int, cohort_of: np.ndarray, times: list[int], estimator: str):
    """Cohort-by-cohort estimates on a controls-first matrix; weights N_g·T_post_g (Clarke et al. 2023)."""
    res = []
    for g in sorted(set(cohort_of.tolist())):
        tr = N0 + np.flatnonzero(cohort_of == g)
        T0 = sum(t < g for t in times)
        T1 = len(times) - T0
        if T0 < 2 or T1 < 1:
            continue
        sub = np.vstack([Y[:N0], Y[tr]])
        fit = sdid_matrix(sub, N0, T0, estimator)
        res.append((g, fit.estimate, len(tr) * T1, len(tr)))
    if not res:
        raise EvalkitError("no cohort has two pre-periods and one post-period")
    wts = np.array([r[2] for r in res], dtype=float)
    att = float(np.dot(wts / wts.sum(), [r[1] for r in res]))
    return att, res


def synthetic_did_staggered(
    panel: LongPanel,
    *,
    se: str | None = "placebo",
    reps: int = 200,
    seed: int | None = 0,
    estimator: str = "sdid",
    alpha: float = 0.05,
    n_jobs: int | None = None,
) -> Results:
    """SDID per adoption cohort against never-treated units, averaged with weights N_g × T_post_g.

    SEs re-run the whole cohort-by-cohort procedure: placebo (N_tr controls drawn without replacement
    take the treated units' adoption dates), bootstrap (units resampled; draws without a control or
    treated unit redrawn) or jackknife (each unit left out; weights re-estimated).
    """
    from scipy.stats import norm

    coh = _cohorts(panel)
    tr = sorted(coh, key=lambda u: (coh[u], u))
    tr = [u for u in tr if coh[u] > 0]
    co = sorted(u for u, c in coh.items() if c == 0)
    if not tr or len(co) < 2:
        raise EvalkitError("need treated units and at least two never-treated units")
    times = panel.times
    Y = _block_matrix(panel, tr, co, times)
    N0 = len(co)
    cohort_of = np.array([coh[u] for u in tr])
    att, parts = _staggered_estimate(Y, N0, cohort_of, times, estimator)
    rows: list[dict[str, Any]] = [{"name": "att", "aggregation": "simple", "estimate": att}]
    for g, est, w, n in parts:
        rows.append({"name": f"group:g={g}", "aggregation": "group", "group": g, "estimate": est})
    inf: dict[str, Any] = {"se_type": se, "alpha": alpha, "weights": "N_g * T_post_g"}
    extra: dict[str, pl.DataFrame] = {"cohorts": pl.DataFrame(
        {"group": [p[0] for p in parts], "estimate": [p[1] for p in parts], "weight": [p[2] for p in parts],
         "n_treated": [p[3] for p in parts]})}
    if se is not None:
        rng = np.random.default_rng(seed)
        N1 = len(tr)
        if se == "placebo":
            if N0 <= N1:
                raise EvalkitError("the placebo SE needs more control than treated units")
            perms = [rng.permutation(N0) for _ in range(reps)]

            def theta(p: np.ndarray) -> float:
                return _staggered_estimate(Y[p], N0 - N1, cohort_of, times, estimator)[0]

            draws = np.array(pmap(theta, perms, n_jobs=n_jobs))
        elif se == "bootstrap":
            N = Y.shape[0]
            samples = []
            while len(samples) < reps:
                ind = np.sort(rng.integers(0, N, size=N))
                if np.all(ind < N0) or np.all(ind >= N0):
                    continue
                samples.append(ind)

            def theta(ind: np.ndarray) -> float:
                n0 = int(np.sum(ind < N0))
                try:
                    return _staggered_estimate(Y[ind], n0, cohort_of[ind[ind >= N0] - N0], times, estimator)[0]
                except EvalkitError:
                    return float("nan")

            draws = np.array(pmap(theta, samples, n_jobs=n_jobs))
            draws = draws[np.isfinite(draws)]
        elif se == "jackknife":
            N = Y.shape[0]

            def theta(i: int) -> float:
                ind = np.delete(np.arange(N), i)
                n0 = int(np.sum(ind < N0))
                return _staggered_estimate(Y[ind], n0, cohort_of[ind[ind >= N0] - N0], times, estimator)[0]

            draws = np.array(pmap(theta, list(range(N)), n_jobs=n_jobs))
        else:
            raise EvalkitError(f"unknown se={se!r}", expected="placebo, bootstrap, jackknife or None")
        s = _se_from(draws, se)
        z = float(norm.ppf(1 - alpha / 2))
        rows[0].update(se=s, ci_low=att - z * s, ci_high=att + z * s,
                       p_value=float(2 * norm.sf(abs(att) / s)) if s > 0 else None)
        inf["reps"] = len(draws)
        extra["draws"] = pl.DataFrame({"draw": np.arange(len(draws)), "estimate": draws})
    return Results(method="synthetic_did_staggered", outcome=panel.outcome, estimates=estimates_frame(rows),
                   inference=inf, diagnostics={"N0": N0, "N1": len(tr), "cohorts": [p[0] for p in parts]},
                   options={"se": se, "reps": reps, "estimator": estimator, "alpha": alpha},
                   seed=seed if se in ("placebo", "bootstrap") else None, extra=extra)
