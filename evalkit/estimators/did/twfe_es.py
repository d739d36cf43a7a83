"""Two-way fixed effects event study: y_it = a_i + l_t + sum_{e != -1} b_e 1[t - g_i = e] + x_it'c + u_it.

Reported because it is the specification most event-study sensitivity analyses start from (the
HonestDiD documentation's Medicaid example is exactly this, with fixest). Units never treated have
no event dummies; e = -1 is the reference. Standard errors are clustered by unit with fixest's
default small-sample factor, (n - 1) / (n - K) * G / (G - 1), where K counts the slopes and every
level of the time effects but not the unit effects (nested in the clusters); checked against the
covariance fixest printed for the HonestDiD documentation (tests/estimators/reference/). With staggered adoption and
heterogeneous effects the coefficients mix cohorts (Sun & Abraham 2021): prefer `sunab` or `cs`.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did._util import estimate_table, normal_row
from evalkit.estimators.did.cs import vcov_frame
from evalkit.estimators.results import Results


def twfe_event_study(panel: LongPanel, *, alpha: float = 0.05, reference: int = -1) -> Results:
    """Event-study coefficients "dynamic:e=…" relative to e = `reference`, clustered by unit, with
    their covariance in extra["vcov_dynamic"] (the reference is not a coefficient)."""
    cols = ["unit", "time", "y", "cohort", *panel.covariates]
    data = panel.data.select(cols).drop_nulls()
    if data.height == 0:
        raise EvalkitError("no complete rows for the event study", column="y")
    unit_codes = data["unit"].cast(pl.Utf8).to_numpy()
    units, uidx = np.unique(unit_codes, return_inverse=True)
    t = data["time"].to_numpy().astype(int)
    times, tidx = np.unique(t, return_inverse=True)
    g = data["cohort"].fill_null(0).to_numpy().astype(int)
    ev = np.where(g > 0, t - g, np.iinfo(np.int64).min)
    events = sorted(int(e) for e in np.unique(ev[g > 0]) if e != reference)
    if not events:
        raise EvalkitError("no treated unit-period: the event study has no coefficient", column="cohort")
    dummies = np.column_stack([(ev == e).astype(float) for e in events])
    covs = data.select(list(panel.covariates)).to_numpy().astype(float) if panel.covariates else np.zeros((len(t), 0))
    time_fe = np.eye(len(times))[tidx][:, 1:]
    x = np.hstack([dummies, covs, time_fe])
    y = data["y"].to_numpy().astype(float)
    xd, yd = _demean(x, uidx, len(units)), _demean(y[:, None], uidx, len(units))[:, 0]
    k = x.shape[1]
    if np.linalg.matrix_rank(xd) < k:
        raise EvalkitError(
            "event-study dummies are collinear with the fixed effects (e.g. no never-treated "
            "units and every event time observed for one cohort only): use sunab or cs"
        )
    xtx_inv = np.linalg.inv(xd.T @ xd)
    coef = xtx_inv @ xd.T @ yd
    resid = yd - xd @ coef
    scores = np.zeros((len(units), k))
    np.add.at(scores, uidx, xd * resid[:, None])
    n, n_groups = len(y), len(units)
    k_ss = k + 1  # fixest counts every time level (the unit effects, nested, absorb no reference)
    factor = (n - 1) / (n - k_ss) * n_groups / (n_groups - 1)
    vcov = factor * xtx_inv @ (scores.T @ scores) @ xtx_inv
    ne = len(events)
    rows = [
        normal_row(f"dynamic:e={e}", coef[j], np.sqrt(vcov[j, j]), alpha, aggregation="dynamic", event_time=e)
        for j, e in enumerate(events)
    ]
    rows += [
        normal_row(f"coef:{c}", coef[ne + j], np.sqrt(vcov[ne + j, ne + j]), alpha, aggregation="coef")
        for j, c in enumerate(panel.covariates)
    ]
    return Results(
        method="twfe_es",
        outcome=panel.outcome,
        estimates=estimate_table(rows),
        inference={
            "se_type": "clustered",
            "cluster": "unit",
            "alpha": alpha,
            "small_sample": "(n-1)/(n-K) * G/(G-1) as fixest (K: slopes + time levels)",
        },
        diagnostics={"n_obs": n, "n_units": n_groups, "reference_event_time": reference},
        options={"alpha": alpha, "reference": reference, "covariates": list(panel.covariates)},
        extra={"vcov_dynamic": vcov_frame(events, vcov[:ne, :ne])},
    )


def _demean(a: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Subtract each unit's mean (exact within transformation for one set of fixed effects)."""
    sums = np.zeros((n_groups, a.shape[1]))
    np.add.at(sums, groups, a)
    counts = np.bincount(groups, minlength=n_groups)[:, None]
    return a - (sums / counts)[groups]
