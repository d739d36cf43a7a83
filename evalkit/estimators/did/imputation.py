"""Borusyak, Jaravel & Spiess (2024) imputation estimator.

Fit y_it = a_i + l_t on untreated unit-periods only (never-treated units, and treated units
before adoption minus `anticipation`), impute the untreated outcome of every treated
unit-period, and average y - y_hat(0) over the treated cells of each estimand: "simple" (all
treated cells equally), "dynamic:e=…" (cells at event time e), "group:g=…" (cells of cohort g),
and "dynamic" (mean of the post-treatment dynamic effects).

Each estimate is linear in the outcomes, sum_it v_it y_it; the weights v are computed exactly
from the two-way design. Standard errors follow BJS's conservative clustered variance
(Theorem 3): sum over units of (sum_t v_it e_it)^2 with e_it the untreated-model residual for
untreated cells and tau_hat_it - tau_bar for treated cells, tau_bar the mean of tau_hat within
the cell's cohort × event time. No leave-out correction is applied, so with very few units per
cohort × event time the SE can be too small.
Units with no untreated period (always treated), and treated cells in periods where no unit is
untreated, cannot be imputed and are dropped (counted in the diagnostics).
"""

from __future__ import annotations

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.defaults import DEFAULT_ALPHA
from evalkit.estimators.did._util import estimate_table, normal_row, to_wide
from evalkit.estimators.results import Results


def imputation(panel: LongPanel, *, anticipation: int = 0, alpha: float = DEFAULT_ALPHA) -> Results:
    """Imputation DiD (BJS): efficient under homogeneous effects and spherical errors, robust to
    heterogeneous effects by construction."""
    wide = to_wide(panel, ())
    y, coh, times = wide.y, wide.cohort, wide.times
    obs = np.isfinite(y)
    treated = (coh[:, None] > 0) & (times[None, :] >= coh[:, None] - anticipation) & obs
    untreated = obs & ~treated
    keep = untreated.any(1)
    if not (treated & keep[:, None]).any():
        raise EvalkitError("no treated unit-period with an untreated period to impute from", column="cohort")
    y, coh, obs, treated, untreated = y[keep], coh[keep], obs[keep], treated[keep], untreated[keep]
    ok_t = untreated.any(0)  # periods with no untreated cell have no time effect to impute with
    dropped_cells = int(treated[:, ~ok_t].sum())
    y, obs, treated, untreated, times = y[:, ok_t], obs[:, ok_t], treated[:, ok_t], untreated[:, ok_t], times[ok_t]
    alpha_i, lam_t = _fit_untreated(y, untreated)
    tau = np.where(treated, y - alpha_i[:, None] - lam_t[None, :], 0.0)
    resid = np.where(untreated, y - alpha_i[:, None] - lam_t[None, :], 0.0)
    event = times[None, :] - coh[:, None]
    names, weights = _estimands(treated, coh, event)
    v0 = _untreated_weights(weights, untreated)
    eps = resid + np.where(treated, tau - _cell_means(tau, treated, coh, event), 0.0)
    rows = []
    for k, (name, agg, labels) in enumerate(names):
        est = float(np.sum(weights[k] * tau))
        v = weights[k] + v0[k]
        se = float(np.sqrt(np.sum(np.sum(v * eps, axis=1) ** 2)))
        rows.append(normal_row(name, est, se, alpha, aggregation=agg, **labels))
    rows += [_dynamic_mean(rows, names, weights, v0, eps, alpha)]
    return Results(
        method="imputation",
        outcome=panel.outcome,
        estimates=estimate_table(rows),
        inference={"se_type": "BJS conservative, clustered by unit", "alpha": alpha},
        diagnostics={
            "units_dropped_never_untreated": int((~keep).sum()),
            "n_treated_cells": int(treated.sum()),
            "treated_cells_dropped_no_untreated_in_period": dropped_cells,
        },
        options={"anticipation": anticipation, "alpha": alpha},
    )


def _design_solve(untreated: np.ndarray, rhs_units: np.ndarray, rhs_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve the normal equations of the unit + time dummy regression on the untreated cells,
    (Z0'Z0) x = r, for one or more right-hand sides (time effect of the first period fixed at 0).
    Returns the unit part (n × m) and time part (T × m, first row 0)."""
    n, T = untreated.shape
    c = untreated.astype(float)
    A = np.zeros((n + T - 1, n + T - 1))
    A[:n, :n] = np.diag(c.sum(1))
    A[n:, n:] = np.diag(c.sum(0)[1:])
    A[:n, n:] = c[:, 1:]
    A[n:, :n] = c[:, 1:].T
    rhs = np.vstack([rhs_units, rhs_times[1:]])
    try:
        x = np.linalg.solve(A, rhs)
    except np.linalg.LinAlgError:  # disconnected design: minimum-norm solution
        x = np.linalg.lstsq(A, rhs, rcond=None)[0]
    return x[:n], np.vstack([np.zeros((1, x.shape[1])), x[n:]])


def _fit_untreated(y: np.ndarray, untreated: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit and time effects estimated on the untreated cells."""
    y0 = np.where(untreated, y, 0.0)
    a, b = _design_solve(untreated, y0.sum(1)[:, None], y0.sum(0)[:, None])
    return a[:, 0], b[:, 0]


def _untreated_weights(weights: np.ndarray, untreated: np.ndarray) -> np.ndarray:
    """v on untreated cells: -Z0 (Z0'Z0)^-1 Z1' w1 for each estimand's treated-cell weights w1."""
    a, b = _design_solve(untreated, weights.sum(2).T, weights.sum(1).T)
    return -np.where(untreated[None], a.T[:, :, None] + b.T[:, None, :], 0.0)


def _estimands(treated: np.ndarray, coh: np.ndarray, event: np.ndarray):
    """Names and treated-cell weight arrays (m × n × T, each summing to 1)."""
    specs = [("simple", "simple", {}, treated)]
    specs += [
        (f"dynamic:e={e}", "dynamic", {"event_time": int(e)}, treated & (event == e)) for e in np.unique(event[treated])
    ]
    specs += [
        (f"group:g={g}", "group", {"group": int(g)}, treated & (coh[:, None] == g))
        for g in np.unique(coh[coh > 0])
        if (treated & (coh[:, None] == g)).any()
    ]
    weights = np.stack([m / m.sum() for *_, m in specs]).astype(float)
    return [(a, b, c) for a, b, c, _ in specs], weights


def _cell_means(tau: np.ndarray, treated: np.ndarray, coh: np.ndarray, event: np.ndarray) -> np.ndarray:
    """Mean of tau_hat within each cohort × event time, broadcast back to the treated cells."""
    out = np.zeros_like(tau)
    for g in np.unique(coh[coh > 0]):
        for e in np.unique(event[treated & (coh[:, None] == g)]):
            cell = treated & (coh[:, None] == g) & (event == e)
            out[cell] = tau[cell].mean()
    return out


def _dynamic_mean(rows, names, weights, v0, eps, alpha):
    """Mean of the post-treatment dynamic effects (as the CS "dynamic" summary)."""
    idx = [k for k, (_, agg, lab) in enumerate(names) if agg == "dynamic" and lab["event_time"] >= 0]
    w = weights[idx].mean(0)
    v = w + v0[idx].mean(0)
    est = float(np.mean([rows[k]["estimate"] for k in idx]))
    se = float(np.sqrt(np.sum(np.sum(v * eps, axis=1) ** 2)))
    return normal_row("dynamic", est, se, alpha, aggregation="dynamic")
