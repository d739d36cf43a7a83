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

import functools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.defaults import DEFAULT_ALPHA, DEFAULT_SEED
from evalkit.estimators.results import Results, estimates_frame
from evalkit.parallel import default_jobs, in_task, pmap

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


def fw_weights(
    Y: np.ndarray, zeta: float, intercept: bool, start: np.ndarray | None, min_decrease: float, max_iter: int
) -> np.ndarray:
    """Frank–Wolfe for min zeta²‖x‖² + ‖A x − b‖²/n on the simplex (A = Y[:, :-1], b = Y[:, -1]).

    Works on the Gram matrix, so one iteration costs O(k) after an O(n k²) set-up. A thin wrapper
    around `fw_weights_many` (one problem in the batch).
    """
    return fw_weights_many([Y], [zeta], [intercept], [start], [min_decrease], max_iter)[0]


# Below this many unfinished problems the batch hands over to the scalar loop (numpy's per-call cost
# on a handful of rows exceeds plain Python float arithmetic).
_SCALAR_TAIL = 2


def _fw_setup(Y: np.ndarray, zeta: float, intercept: bool, start: np.ndarray | None, min_decrease: float):
    """Gram matrix A'A, A'b, b'b and the cached products at the start point (computed once per problem)."""
    n, k1 = Y.shape
    k = k1 - 1
    if intercept:
        Y = Y - Y.mean(axis=0, keepdims=True)
    A, b = Y[:, :k], Y[:, k]
    x = np.full(k, 1.0 / k) if start is None else np.asarray(start, dtype=float).copy()
    G = A.T @ A
    c = A.T @ b
    Gx = G @ x
    return dict(
        # the columns of G as contiguous rows, what the compiled kernel reads: G itself, no copy. A.T @ A
        # is exactly symmetric (numpy forms it with BLAS syrk and mirrors the triangle; its plain loop
        # multiplies in the same order for (i, j) and (j, i)), so row i is column i to the bit
        # (tests/estimators/synth/test_sdid_streaming.py checks this on the shapes the estimator makes)
        Gt=G,
        k=k,
        n=n,
        zeta2=zeta**2,
        eta=n * zeta**2,
        md2=min_decrease**2,
        G=G,
        c=c,
        bb=float(b @ b),
        x=x,
        Gx=Gx,
        xGx=float(x @ Gx),
        cx=float(c @ x),
        xx=float(x @ x),
        diag=np.diag(G).copy(),
    )


def _fw_scalar(
    p: dict,
    x: np.ndarray,
    Gx: np.ndarray,
    xGx: float,
    cx: float,
    xx: float,
    prev: float,
    last: float,
    t: int,
    max_iter: int,
) -> np.ndarray:
    """The Frank–Wolfe loop for one problem, continued from iteration t (same arithmetic as the batch)."""
    G, c, diag = p["G"], p["c"], p["diag"]
    zeta2, eta, bb, n, md2 = p["zeta2"], p["eta"], p["bb"], p["n"], p["md2"]
    x = x.copy()
    Gx = Gx.copy()
    while t < max_iter and (t < 2 or prev - last > md2):
        t += 1
        # half gradient of 0.5‖Ax−b‖² + 0.5 eta ‖x‖²
        hg = Gx - c + eta * x
        i = int(hg.argmin())
        # direction d = e_i − x; A d = A_i − Ax
        Gxi, xi, di = float(Gx[i]), float(x[i]), float(diag[i])
        derr_r = (Gxi - float(c[i])) - (xGx - cx)  # d_err' (Ax − b)
        derr2 = di - 2 * Gxi + xGx  # ‖d_err‖²
        xd = xi - xx  # x'd
        dd = 1 - 2 * xi + xx  # ‖d‖²
        if dd <= 0:
            val = zeta2 * xx + (xGx - 2 * cx + bb) / n
            prev, last = last, val
            continue
        den = derr2 + eta * dd
        num = -derr_r - eta * xd
        step = (
            num / den if den != 0 else (math.nan if num == 0 else math.copysign(math.inf, num) * math.copysign(1, den))
        )
        s = min(1.0, max(0.0, step))
        if s > 0:
            # update x ← x + s (e_i − x) and the cached products
            om = 1 - s
            xGx = om * om * xGx + 2 * s * om * Gxi + s * s * di
            cx = om * cx + s * float(c[i])
            xx = om * om * xx + 2 * s * om * xi + s * s
            Gx *= om
            Gx += s * G[:, i]
            x *= om
            x[i] += s
        val = zeta2 * xx + max(xGx - 2 * cx + bb, 0.0) / n
        prev, last = last, val
    return x


def fw_weights_many(
    Ys: Sequence[np.ndarray],
    zetas: Sequence[float],
    intercepts: Sequence[bool],
    starts: Sequence[np.ndarray | None],
    min_decreases: Sequence[float],
    max_iter: int,
) -> list[np.ndarray]:
    """`fw_weights` for many problems at once (sizes may differ), vectorised across problems.

    Each problem follows exactly its own Frank–Wolfe path and stopping rule: the batch is padded to the
    largest k (padded coordinates get an infinite gradient, so are never chosen), a problem that has
    met its stopping rule takes zero steps, and finished problems are dropped from the arrays as the
    batch thins out. Per iteration this is a handful of numpy operations on a (problems × k) array
    instead of a Python loop per problem, which is where the time went in placebo/jackknife loops.
    """
    probs = [_fw_setup(Y, z, ic, st, md) for Y, z, ic, st, md in zip(Ys, zetas, intercepts, starts, min_decreases)]
    return _fw_run(probs, max_iter)


def _fw_restart(p: dict, start: np.ndarray) -> dict:
    """The same problem (Gram matrix kept) started again from `start` (as `_fw_setup` would set it up)."""
    x = np.asarray(start, dtype=float).copy()
    Gx = p["G"] @ x
    return {**p, "x": x, "Gx": Gx, "xGx": float(x @ Gx), "cx": float(p["c"] @ x), "xx": float(x @ x)}


@functools.cache
def _kernel() -> Any:
    """`_fw_kernel`, imported once per process on first use (numba costs a fraction of a second to
    import), or None where it cannot be used."""
    try:
        from evalkit.estimators.synth import _fw_kernel as kernel
    except Exception:  # numba absent (Intel macOS) or broken here, e.g. a script folder
        # holding a `coverage.py` that numba imports instead of coverage: the numpy path, same bits
        return None
    return kernel


def _fw_run(probs: list[dict], max_iter: int) -> list[np.ndarray]:
    """Each problem's Frank–Wolfe weights: compiled (`_fw_kernel`), or the numpy batch where numba is
    not usable. Both give the same bits (tests/estimators/test_fw_kernel.py)."""
    kernel = _kernel()
    return _fw_run_numpy(probs, max_iter) if kernel is None else kernel.fw_run(probs, max_iter)


def _fw_run_numpy(probs: list[dict], max_iter: int) -> list[np.ndarray]:
    """The reference: Frank–Wolfe vectorised across problems in numpy, the scalar loop for the tail."""
    out: list[np.ndarray] = [p["x"] for p in probs]
    B = len(probs)
    if B == 0:
        return out
    if B <= _SCALAR_TAIL:
        return [
            _fw_scalar(p, p["x"], p["Gx"], p["xGx"], p["cx"], p["xx"], math.inf, math.inf, 0, max_iter) for p in probs
        ]
    K = max(p["k"] for p in probs)
    Gt = np.zeros((B, K, K))  # Gt[b, i] = column i of problem b's Gram matrix
    c = np.zeros((B, K))
    diag = np.zeros((B, K))
    x = np.zeros((B, K))
    Gx = np.zeros((B, K))
    for j, p in enumerate(probs):
        k = p["k"]
        Gt[j, :k, :k] = p["G"].T
        c[j, :k] = p["c"]
        c[j, k:] = -math.inf  # padding: gradient Gx − c + eta x = +inf there (Gx = x = 0), never chosen
        diag[j, :k] = p["diag"]
        x[j, :k] = p["x"]
        Gx[j, :k] = p["Gx"]

    def col(key):
        return np.array([p[key] for p in probs], dtype=float)

    xGx, cx, xx, bb, n, zeta2, eta, md2 = (col(k) for k in ("xGx", "cx", "xx", "bb", "n", "zeta2", "eta", "md2"))
    prev = np.full(B, math.inf)
    last = np.full(B, math.inf)
    ids = np.arange(B)  # which problem each row holds
    rows = np.arange(B)
    eta_col = eta[:, None]
    hg = np.empty((B, K))
    t = 0
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        while t < max_iter:
            active = (prev - last > md2) if t >= 2 else np.ones(len(ids), dtype=bool)
            na = int(active.sum())
            if na < len(ids) and (na <= _SCALAR_TAIL or na <= len(ids) // 2):
                for j in np.flatnonzero(~active):
                    out[ids[j]] = x[j, : probs[ids[j]]["k"]].copy()
                keep = np.flatnonzero(active)
                if na <= _SCALAR_TAIL:
                    for j in keep:
                        p = probs[ids[j]]
                        k = p["k"]
                        out[ids[j]] = _fw_scalar(
                            p,
                            x[j, :k],
                            Gx[j, :k],
                            float(xGx[j]),
                            float(cx[j]),
                            float(xx[j]),
                            float(prev[j]),
                            float(last[j]),
                            t,
                            max_iter,
                        )
                    ids = ids[:0]
                    break
                Gt, c, diag, x, Gx = Gt[keep], c[keep], diag[keep], x[keep], Gx[keep]
                xGx, cx, xx, bb, n, zeta2, eta, md2 = (v[keep] for v in (xGx, cx, xx, bb, n, zeta2, eta, md2))
                prev, last, ids, active = prev[keep], last[keep], ids[keep], active[keep]
                rows = np.arange(len(ids))
                eta_col = eta[:, None]
                hg = np.empty_like(x)
            t += 1
            np.subtract(Gx, c, out=hg)
            hg += eta_col * x
            i = hg.argmin(axis=1)
            Gxi = Gx[rows, i]
            ci = c[rows, i]
            xi = x[rows, i]
            di = diag[rows, i]
            derr_r = (Gxi - ci) - (xGx - cx)
            derr2 = di - 2 * Gxi + xGx
            xd = xi - xx
            dd = 1 - 2 * xi + xx
            step = (-derr_r - eta * xd) / (derr2 + eta * dd)
            # min(1, max(0, step)) as Python evaluates it (NaN → 0)
            s = np.where(step > 0, np.where(step < 1, step, 1.0), 0.0)
            degenerate = dd <= 0
            s[degenerate | ~active] = 0.0
            # s = 0 leaves every cached quantity exactly unchanged (1·a + 0·b + 0 = a), so rows that do
            # not move (finished, degenerate or zero step) need no masking here
            om = 1 - s
            om2 = om * om
            s2 = 2 * s
            xGx = om2 * xGx + s2 * om * Gxi + s * s * di
            cx = om * cx + s * ci
            xx = om2 * xx + s2 * om * xi + s * s
            om_col = om[:, None]
            Gx *= om_col
            Gx += s[:, None] * Gt[rows, i]
            x *= om_col
            x[rows, i] += s
            r = xGx - 2 * cx + bb
            val = zeta2 * xx + np.maximum(r, 0.0) / n
            if degenerate.any():
                val = np.where(degenerate, zeta2 * xx + r / n, val)
            prev = np.where(active, last, prev)
            last = np.where(active, val, last)
    for j, pid in enumerate(ids):
        out[pid] = x[j, : probs[pid]["k"]].copy()
    return out


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


def default_options(
    Y: np.ndarray, N0: int, T0: int, estimator: str = "sdid"
) -> tuple[SDIDOptions, np.ndarray | None, np.ndarray | None]:
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


def sdid_fit(
    Y: np.ndarray,
    N0: int,
    T0: int,
    opts: SDIDOptions,
    omega: np.ndarray | None = None,
    lambda_: np.ndarray | None = None,
) -> SDIDFit:
    """One estimate on a units × times matrix whose first N0 rows are controls and first T0 columns pre.

    `omega`/`lambda_` are fixed weights if the matching update flag is off, else starting values.
    """
    return sdid_fit_many([(Y, N0, T0, opts, omega, lambda_)])[0]


def sdid_fit_many(problems: Iterable[tuple]) -> list[SDIDFit]:
    """`sdid_fit` for many (Y, N0, T0, opts, omega, lambda_) at once: every Frank–Wolfe stage (λ and ω,
    before and after sparsifying) runs as one vectorised batch over all problems. Each problem's result
    is what `sdid_fit` computes for it alone (the Gram matrices are formed once per problem and kept
    across the two stages)."""
    problems = list(problems)
    P = len(problems)
    lam: list[np.ndarray | None] = [None] * P
    om: list[np.ndarray | None] = [None] * P
    # (problem, "lambda" | "omega") -> Frank–Wolfe set-up; stage 1 from the given start
    jobs: dict[tuple[int, str], dict] = {}
    iters: dict[tuple[int, str], int] = {}
    for j, (Y, N0, T0, opts, omega, lambda_) in enumerate(problems):
        Yc = _collapsed(Y, N0, T0)
        first = opts.max_iter_pre_sparsify if opts.sparsify else opts.max_iter
        if opts.update_lambda:
            jobs[j, "lambda"] = _fw_setup(
                Yc[:N0, :], opts.zeta_lambda, opts.lambda_intercept, lambda_, opts.min_decrease
            )
            iters[j, "lambda"] = first
        else:
            lam[j] = np.asarray(lambda_, dtype=float)
        if opts.update_omega:
            jobs[j, "omega"] = _fw_setup(Yc[:, :T0].T, opts.zeta_omega, opts.omega_intercept, omega, opts.min_decrease)
            iters[j, "omega"] = first
        else:
            om[j] = np.asarray(omega, dtype=float)

    def run(keys: list) -> dict:
        res = {}
        for mi in sorted({iters[key] for key in keys}):
            group = [key for key in keys if iters[key] == mi]
            res.update(zip(group, _fw_run([jobs[key] for key in group], mi)))
        return res

    stage1 = run(list(jobs))
    again = [key for key in jobs if problems[key[0]][3].sparsify]
    for key in again:
        jobs[key] = _fw_restart(jobs[key], _sparsify(stage1[key]))
        iters[key] = problems[key[0]][3].max_iter
    final = {**stage1, **run(again)}
    out = []
    for j, (Y, N0, T0, opts, _, _) in enumerate(problems):
        lj = final[j, "lambda"] if (j, "lambda") in final else lam[j]
        oj = final[j, "omega"] if (j, "omega") in final else om[j]
        N1, T1 = Y.shape[0] - N0, Y.shape[1] - T0
        a = np.concatenate([-oj, np.full(N1, 1.0 / N1)])
        bvec = np.concatenate([-lj, np.full(T1, 1.0 / T1)])
        est = float(a @ Y @ bvec)
        out.append(SDIDFit(estimate=est, omega=oj, lambda_=lj, opts=opts, noise_level=float("nan")))
    return out


def sdid_matrix(Y: np.ndarray, N0: int, T0: int, estimator: str = "sdid") -> SDIDFit:
    return sdid_matrix_many([(Y, N0, T0)], estimator)[0]


def sdid_matrix_many(problems: Sequence[tuple[np.ndarray, int, int]], estimator: str = "sdid") -> list[SDIDFit]:
    """`sdid_matrix` for many (Y, N0, T0) at once (one vectorised Frank–Wolfe batch per stage)."""
    specs = []
    for Y, N0, T0 in problems:
        opts, om, lam = default_options(Y, N0, T0, estimator)
        specs.append((Y, N0, T0, opts, om, lam))
    fits = sdid_fit_many(specs)
    for fit, (Y, N0, T0) in zip(fits, problems):
        fit.noise_level = noise_level(Y, N0, T0)
    return fits


# ---------------------------------------------------------------- standard errors (package recipes)


def placebo_draws(
    Y: np.ndarray, N0: int, T0: int, fit: SDIDFit, perms: Sequence[np.ndarray], n_jobs: int | None = None
) -> np.ndarray:
    N1 = Y.shape[0] - N0
    if N0 <= N1:
        raise EvalkitError("the placebo SE needs more control than treated units")
    return _draw_estimates(Y, T0, fit, [(p, len(p) - N1) for p in perms], n_jobs)


def _draw_estimates(
    Y: np.ndarray, T0: int, fit: SDIDFit, draws: list[tuple[np.ndarray, int]], n_jobs: int | None
) -> np.ndarray:
    """Estimates of the refits on rows `ind` of Y with the first n0 as controls, for each (ind, n0) in
    draws: ω started from the fit's ω on those controls (renormalised), λ from the fit's λ. Streamed
    (see `_streamed`) and split over n_jobs processes if > 1."""

    def spec(draw: tuple[np.ndarray, int]) -> tuple:
        ind, n0 = draw
        return (Y[ind], n0, T0, fit.opts, _sum_normalize(fit.omega[ind[:n0]]), fit.lambda_)

    def work(ds: list) -> list[float]:
        return _streamed(ds, lambda d: d[1] ** 2, lambda chunk: [f.estimate for f in sdid_fit_many(map(spec, chunk))])

    return np.array(_batched(draws, work, n_jobs))


# Draws are fitted in chunks whose ω Gram matrices hold at most this many numbers together (32 MiB):
# a chunk's matrices are formed, solved, reduced to estimates and freed before the next chunk, so memory
# is bounded by one chunk whatever the number of draws or controls (with one draw when a single Gram
# matrix is larger), while small problems still share one batch. Each problem's Frank–Wolfe path is its
# own, so the chunking changes no number.
_GRAM_BUDGET = 4 * 2**20


def _streamed(items: list, size: Callable[[Any], int], work: Callable[[list], list]) -> list:
    """work(chunk) over consecutive chunks of items whose sizes sum to at most _GRAM_BUDGET (at least
    one item per chunk), concatenated: what work(items) returns, without holding every item's arrays."""
    out: list = []
    chunk: list = []
    total = 0
    for item in items:
        n = size(item)
        if chunk and total + n > _GRAM_BUDGET:
            out.extend(work(chunk))
            chunk, total = [], 0
        chunk.append(item)
        total += n
    if chunk:
        out.extend(work(chunk))
    return out


def bootstrap_draws(
    Y: np.ndarray, N0: int, T0: int, fit: SDIDFit, rng: np.random.Generator, reps: int, n_jobs: int | None = None
) -> np.ndarray:
    N = Y.shape[0]
    if N - N0 < 2:
        raise EvalkitError("the bootstrap SE needs at least two treated units (use se='placebo')")
    samples = []
    while len(samples) < reps:
        ind = rng.integers(0, N, size=N)
        if np.all(ind < N0) or np.all(ind >= N0):
            continue
        samples.append(np.sort(ind))
    return _draw_estimates(Y, T0, fit, [(s, int(np.sum(s < N0))) for s in samples], n_jobs)


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
        raise EvalkitError(
            f"outcome missing for unit {(control_units + treated_units)[i]} in period {times[j]}",
            expected="a balanced panel",
        )
    return M


def _cohorts(panel: LongPanel) -> dict[str, int]:
    return panel.unit_cohorts()


def synthetic_did(
    panel: LongPanel,
    *,
    se: str | None = "placebo",
    reps: int = 200,
    seed: int | None = DEFAULT_SEED,
    estimator: str = "sdid",
    alpha: float = DEFAULT_ALPHA,
    n_jobs: int | None = None,
) -> Results:
    """SDID (or `estimator="sc"` / `"did"`) for units all first treated in the same period.

    Controls are never-treated units. `se` is "placebo", "bootstrap", "jackknife" or None; the
    confidence interval is estimate ± z·se (normal), as in the package's vignette.
    """
    from evalkit.estimators.numeric import normal as norm

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
        row.update(
            se=s,
            ci_low=fit.estimate - z * s,
            ci_high=fit.estimate + z * s,
            p_value=float(2 * norm.sf(abs(fit.estimate) / s)) if s > 0 else None,
        )
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
    extra["paths"] = pl.DataFrame(
        {
            "unit": ["treated_mean"] * len(times),
            "time": times,
            "treated": Ytr,
            "synthetic": Ysc + shift,
            "gap": Ytr - Ysc - shift,
        }
    )
    if draws is not None:
        extra["draws"] = pl.DataFrame({"draw": np.arange(len(draws)), "estimate": draws})
    opts = fit.opts.__dict__.copy()
    return Results(
        method={"sdid": "synthetic_did", "sc": "synthetic_control_sdid", "did": "did_sdid"}[estimator],
        outcome=panel.outcome,
        estimates=estimates_frame([row]),
        inference=inf,
        diagnostics={
            "noise_level": fit.noise_level,
            "N0": N0,
            "N1": len(tr),
            "T0": T0,
            "T1": len(post),
            "n_nonzero_omega": int(np.sum(fit.omega > 0)),
            "n_nonzero_lambda": int(np.sum(fit.lambda_ > 0)),
        },
        options={"se": se, "reps": reps, "estimator": estimator, "alpha": alpha, **opts},
        seed=seed if se in ("placebo", "bootstrap") else None,
        extra=extra,
    )


# ---------------------------------------------------------------- staggered adoption


@dataclass
class _CohortFit:
    group: int
    estimate: float
    weight: float  # N_g · T_post_g
    n_treated: int
    T0: int
    fit: SDIDFit | None = None


def _cohort_problems(Y: np.ndarray, N0: int, cohort_of: np.ndarray, times: list[int]):
    """(g, rows of cohort g's treated units, T0, T1) for every cohort with ≥ 2 pre- and ≥ 1 post-period."""
    out = []
    for g in sorted(set(cohort_of.tolist())):
        tr = N0 + np.flatnonzero(cohort_of == g)
        T0 = sum(t < g for t in times)
        T1 = len(times) - T0
        if T0 < 2 or T1 < 1:
            continue
        out.append((g, tr, T0, T1))
    return out


def _aggregate(res: list[_CohortFit]) -> float:
    if not res:
        raise EvalkitError("no cohort has two pre-periods and one post-period")
    wts = np.array([r.weight for r in res], dtype=float)
    return float(np.dot(wts / wts.sum(), [r.estimate for r in res]))


def _staggered_many(
    draws: Sequence[tuple[np.ndarray, int, np.ndarray]], times: list[int], estimator: str, keep_fits: bool = False
) -> list[list[_CohortFit]]:
    """Cohort-by-cohort fits for many (Y, N0, cohort_of) at once: all cohorts of all draws share one
    Frank–Wolfe batch. Returns each draw's list of cohort fits (empty if no cohort is usable)."""
    problems, where = [], []
    for d, (Y, N0, cohort_of) in enumerate(draws):
        for g, tr, T0, T1 in _cohort_problems(Y, N0, cohort_of, times):
            problems.append((np.vstack([Y[:N0], Y[tr]]), N0, T0))
            where.append((d, g, len(tr), T0, T1))
    fits = sdid_matrix_many(problems, estimator)
    out: list[list[_CohortFit]] = [[] for _ in draws]
    for fit, (d, g, n, T0, T1) in zip(fits, where):
        out[d].append(_CohortFit(g, fit.estimate, n * T1, n, T0, fit if keep_fits else None))
    return out


def _batched(draws: list, work, n_jobs: int | None) -> list:
    """work(list of draws) -> list of results, run as one batch or as n_jobs batches in parallel."""
    jobs = default_jobs() if n_jobs is None else n_jobs
    if jobs == 1 or len(draws) < 2 or in_task():
        return work(draws)
    size = -(-len(draws) // jobs)
    chunks = [draws[i : i + size] for i in range(0, len(draws), size)]
    return [r for part in pmap(work, chunks, n_jobs=n_jobs) for r in part]


def _staggered_jackknife_refit(
    Y: np.ndarray,
    N0: int,
    cohort_of: np.ndarray,
    times: list[int],
    estimator: str,
    base: list[_CohortFit],
    n_jobs: int | None,
) -> np.ndarray:
    """Leave each unit out and re-estimate every weight. Leaving out a treated unit changes only its own
    cohort's fit (the others use the same controls and units), so only that cohort is refitted."""
    N = Y.shape[0]
    n_cohorts = max(len(base), 1)

    def fits(chunk: list[int]) -> list[list[_CohortFit]]:
        return _staggered_many([(np.delete(Y, i, axis=0), N0 - 1, cohort_of) for i in chunk], times, estimator)

    def work(left_out: list[int]) -> list[list[_CohortFit]]:
        return _streamed(left_out, lambda _i: (N0 - 1) ** 2 * n_cohorts, fits)

    res: list[list[_CohortFit] | None] = list(_batched(list(range(N0)), work, n_jobs))
    # treated units: refit the cohort that lost a unit (if it still has one); the rest are unchanged
    refit, slots = [], []
    for i in range(N0, N):
        g = int(cohort_of[i - N0])
        rest = [r for r in base if r.group != g]
        left = np.flatnonzero(cohort_of == g)
        left = left[left != i - N0]
        slots.append((rest, g))
        if len(left) and any(r.group == g for r in base):
            refit.append((np.vstack([Y[:N0], Y[N0 + left]]), N0, np.full(len(left), g)))
        else:
            refit.append(None)
    fitted = (
        _staggered_many([d for d in refit if d is not None], times, estimator)
        if any(d is not None for d in refit)
        else []
    )
    it = iter(fitted)
    for (rest, _g), d in zip(slots, refit):
        mine = next(it) if d is not None else []
        res.append(sorted(rest + mine, key=lambda r: r.group))
    return np.array([_aggregate(r) for r in res])


def _staggered_jackknife_fixed(Y: np.ndarray, N0: int, cohort_of: np.ndarray, base: list[_CohortFit]) -> np.ndarray:
    """synthdid's jackknife: leave each unit out keeping every cohort's estimated ω and λ (ω renormalised
    over the remaining controls); a cohort that loses its only treated unit drops out of the average."""
    N = Y.shape[0]
    out = []
    for i in range(N):
        res = []
        for r in base:
            tr = N0 + np.flatnonzero(cohort_of == r.group)
            if i < N0:
                ctrl = np.delete(np.arange(N0), i)
                om = _sum_normalize(r.fit.omega[ctrl])
            else:
                ctrl = np.arange(N0)
                om = r.fit.omega
                tr = tr[tr != i]
                if len(tr) == 0:
                    continue
            T1 = Y.shape[1] - r.T0
            a = np.concatenate([-om, np.full(len(tr), 1.0 / len(tr))])
            b = np.concatenate([-r.fit.lambda_, np.full(T1, 1.0 / T1)])
            est = float(a @ Y[np.concatenate([ctrl, tr])] @ b)
            res.append(_CohortFit(r.group, est, len(tr) * T1, len(tr), r.T0))
        out.append(_aggregate(res))
    return np.array(out)


def synthetic_did_staggered(
    panel: LongPanel,
    *,
    se: str | None = "placebo",
    reps: int = 200,
    seed: int | None = DEFAULT_SEED,
    estimator: str = "sdid",
    alpha: float = DEFAULT_ALPHA,
    n_jobs: int | None = None,
    jackknife_weights: str = "refit",
) -> Results:
    """SDID per adoption cohort against never-treated units, averaged with weights N_g × T_post_g.

    SEs re-run the whole cohort-by-cohort procedure: placebo (N_tr controls drawn without replacement
    take the treated units' adoption dates), bootstrap (units resampled; draws without a control or
    treated unit redrawn) or jackknife (each unit left out). For the jackknife,
    `jackknife_weights="refit"` (default) re-estimates every cohort's ω and λ without the unit;
    `"fixed"` is the synthdid package's convention (as `synthetic_did` uses): each cohort keeps its
    estimated ω and λ, ω renormalised over the remaining controls, and a cohort that loses its only
    treated unit drops out of the N_g × T_post_g average. "fixed" needs no refitting at all.

    All draws' cohort fits run as one vectorised Frank–Wolfe batch (split over `n_jobs` processes if
    more than one); each draw gives exactly what fitting it alone gives.
    """
    from evalkit.estimators.numeric import normal as norm

    if jackknife_weights not in ("refit", "fixed"):
        raise EvalkitError(f"unknown jackknife_weights={jackknife_weights!r}", expected="refit or fixed")
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
    base = _staggered_many([(Y, N0, cohort_of)], times, estimator, keep_fits=True)[0]
    n_cohorts = max(len(base), 1)
    att = _aggregate(base)
    parts = [(r.group, r.estimate, r.weight, r.n_treated) for r in base]
    rows: list[dict[str, Any]] = [{"name": "att", "aggregation": "simple", "estimate": att}]
    for g, est, _w, _n in parts:
        rows.append({"name": f"group:g={g}", "aggregation": "group", "group": g, "estimate": est})
    inf: dict[str, Any] = {"se_type": se, "alpha": alpha, "weights": "N_g * T_post_g"}
    extra: dict[str, pl.DataFrame] = {
        "cohorts": pl.DataFrame(
            {
                "group": [p[0] for p in parts],
                "estimate": [p[1] for p in parts],
                "weight": [p[2] for p in parts],
                "n_treated": [p[3] for p in parts],
            }
        )
    }

    def atts(ds: list) -> list[float]:
        """ATTs of draws given as row indices of Y (first n0 rows controls, as `cohort_of` the rest's
        cohorts), streamed in chunks of bounded Gram size (`_streamed`)."""

        def fits(chunk: list) -> list[float]:
            built = [(Y[ind], n0, coh) for ind, n0, coh in chunk]
            return [_aggregate(r) if r else float("nan") for r in _staggered_many(built, times, estimator)]

        return _streamed(ds, lambda d: d[1] ** 2 * n_cohorts, fits)

    if se is not None:
        rng = np.random.default_rng(seed)
        N1 = len(tr)
        if se == "placebo":
            if N0 <= N1:
                raise EvalkitError("the placebo SE needs more control than treated units")
            perms = [rng.permutation(N0) for _ in range(reps)]
            draws = np.array(_batched([(p, N0 - N1, cohort_of) for p in perms], atts, n_jobs))
            if not np.all(np.isfinite(draws)):
                raise EvalkitError("no cohort has two pre-periods and one post-period")
        elif se == "bootstrap":
            N = Y.shape[0]
            samples = []
            while len(samples) < reps:
                ind = np.sort(rng.integers(0, N, size=N))
                if np.all(ind < N0) or np.all(ind >= N0):
                    continue
                samples.append(ind)
            ds = [(ind, int(np.sum(ind < N0)), cohort_of[ind[ind >= N0] - N0]) for ind in samples]
            draws = np.array(_batched(ds, atts, n_jobs))
            draws = draws[np.isfinite(draws)]
        elif se == "jackknife":
            if jackknife_weights == "fixed":
                draws = _staggered_jackknife_fixed(Y, N0, cohort_of, base)
            else:
                draws = _staggered_jackknife_refit(Y, N0, cohort_of, times, estimator, base, n_jobs)
            inf["jackknife_weights"] = jackknife_weights
        else:
            raise EvalkitError(f"unknown se={se!r}", expected="placebo, bootstrap, jackknife or None")
        s = _se_from(draws, se)
        z = float(norm.ppf(1 - alpha / 2))
        rows[0].update(
            se=s, ci_low=att - z * s, ci_high=att + z * s, p_value=float(2 * norm.sf(abs(att) / s)) if s > 0 else None
        )
        inf["reps"] = len(draws)
        extra["draws"] = pl.DataFrame({"draw": np.arange(len(draws)), "estimate": draws})
    return Results(
        method="synthetic_did_staggered",
        outcome=panel.outcome,
        estimates=estimates_frame(rows),
        inference=inf,
        diagnostics={"N0": N0, "N1": len(tr), "cohorts": [p[0] for p in parts]},
        options={
            "se": se,
            "reps": reps,
            "estimator": estimator,
            "alpha": alpha,
            "jackknife_weights": jackknife_weights,
        },
        seed=seed if se in ("placebo", "bootstrap") else None,
        extra=extra,
    )
