"""Sun & Abraham (2021) interaction-weighted event study.

A TWFE regression saturated in cohort × relative-period dummies (reference period e = -1),
with the never-treated (or the last-treated cohort) as the only control, gives clean
cohort-specific effects CATT(g, e); the event-study coefficient at e is their average weighted
by cohort size among the cohorts observed at e. Standard errors are clustered by unit; the
aggregation weights are treated as known (as `fixest::sunab` does).

Identity (checked in the tests): on a balanced panel with never-treated controls and no
covariates, CATT(g, e) equals Callaway & Sant'Anna's ATT(g, g+e) with a universal base period,
and the dynamic coefficients equal CS's dynamic aggregation with that base period.
"""

from __future__ import annotations

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.defaults import DEFAULT_ALPHA
from evalkit.estimators.did._util import estimate_table, normal_row, to_wide
from evalkit.estimators.did.cs import vcov_frame
from evalkit.estimators.results import Results


def sun_abraham(panel: LongPanel, *, control: str = "never", alpha: float = DEFAULT_ALPHA) -> Results:
    """Interaction-weighted event-study estimates ("dynamic:e=…"), the cohort-specific effects
    ("catt:g=…,e=…"), the mean of the post-treatment dynamic coefficients ("dynamic") and an
    overall post-treatment average ("simple", weighted by the treated unit-periods per cell)."""
    if control not in ("never", "notyet"):
        raise EvalkitError(f"control must be 'never' or 'notyet', not {control!r}")
    wide = to_wide(panel, ())
    y, cohort, times, notes = _sample(wide.y, wide.cohort, wide.times, control)
    cells = sorted({(int(g), int(t - g)) for g in np.unique(cohort[cohort > 0]) for t in times if t - g != -1})
    if not cells:
        raise EvalkitError("no treated cohort with a pre-treatment period", column="cohort")
    coef, vcov, counts = _saturated_fit(y, cohort, times, cells)
    rows = [
        normal_row(
            f"catt:g={g},e={e}",
            coef[k],
            np.sqrt(vcov[k, k]),
            alpha,
            aggregation="cohort_event",
            group=g,
            time=g + e,
            event_time=e,
        )
        for k, (g, e) in enumerate(cells)
    ]
    rows += _iw_rows(cells, coef, vcov, cohort, counts, alpha)
    dyn = _dynamic_weights(cells, cohort, counts)
    return Results(
        method="sun_abraham",
        outcome=panel.outcome,
        estimates=estimate_table(rows),
        inference={
            "se_type": "clustered",
            "cluster": "unit",
            "alpha": alpha,
            "note": "aggregation weights treated as known",
        },
        diagnostics=notes,
        options={"control": control, "alpha": alpha},
        extra={
            "vcov_dynamic": vcov_frame(list(dyn), np.array(list(dyn.values())) @ vcov @ np.array(list(dyn.values())).T)
        },
    )


def _dynamic_weights(cells, cohort, counts) -> dict[int, np.ndarray]:
    """Interaction weights of each event time: cohort shares among the cohorts observed at e."""
    gs = np.array([g for g, _ in cells])
    es = np.array([e for _, e in cells])
    size = np.array([np.sum(cohort == g) for g in gs], dtype=float)
    out = {}
    for e in np.unique(es):
        w = np.where((es == e) & (counts > 0), size, 0.0)
        out[int(e)] = w / w.sum()
    return out


def _sample(y: np.ndarray, cohort: np.ndarray, times: np.ndarray, control: str):
    """Drop always-treated units; with control='notyet' (or no never-treated units) the last
    cohort is the control and periods from its adoption on are dropped."""
    cohort = np.where(cohort > times.max(), 0, cohort)
    keep = (cohort == 0) | (cohort > times.min())
    notes = {"units_dropped_always_treated": int((~keep).sum())}
    y, cohort = y[keep], cohort[keep]
    if control == "notyet" or not (cohort == 0).any():
        last = cohort.max()
        tk = times < last
        y, times, cohort = y[:, tk], times[tk], np.where(cohort == last, 0, cohort)
        notes["last_cohort_used_as_control"] = int(last)
    return y, cohort, times, notes


def _saturated_fit(y: np.ndarray, cohort: np.ndarray, times: np.ndarray, cells: list[tuple[int, int]]):
    """OLS of y on unit effects, time effects and the cell dummies; unit effects partialled out
    by within-unit demeaning (exact, also on unbalanced panels). Returns the cell coefficients,
    their CR1 clustered covariance and the number of observed unit-periods per cell."""
    n, T = y.shape
    obs = np.isfinite(y)
    rel = times[None, :] - cohort[:, None]
    cols = [(cohort[:, None] == g) & (rel == e) for g, e in cells]
    cols += [np.broadcast_to(times[None, :] == t, (n, T)) for t in times[1:]]
    x = np.stack([c.astype(float) for c in cols], axis=-1)  # n × T × k
    yy = np.where(obs, y, 0.0)
    cnt = np.maximum(obs.sum(1), 1)
    yd = np.where(obs, yy - (yy.sum(1) / cnt)[:, None], 0.0)
    xm = np.where(obs[..., None], x, 0.0)
    xd = np.where(obs[..., None], xm - (xm.sum(1) / cnt[:, None])[:, None, :], 0.0)
    X, Y = xd[obs], yd[obs]
    xtx_inv = np.linalg.pinv(X.T @ X)
    beta = xtx_inv @ X.T @ Y
    resid = np.where(obs, yd - xd @ beta, 0.0)
    scores = np.einsum("itk,it->ik", xd, resid)
    g = n
    vcov = g / (g - 1) * xtx_inv @ (scores.T @ scores) @ xtx_inv
    k = len(cells)
    counts = np.array([(c & obs).sum() for c in cols[:k]])
    return beta[:k], vcov[:k, :k], counts


def _iw_rows(cells, coef, vcov, cohort, counts, alpha):
    """Interaction-weighted averages: dynamic:e (cohort-share weights) and simple (all
    post-treatment cells weighted by their treated unit-periods)."""
    rows = []
    es = np.array([e for _, e in cells])
    dyn = _dynamic_weights(cells, cohort, counts)
    for e, w in dyn.items():
        rows.append(_lin_row(f"dynamic:e={e}", "dynamic", w, coef, vcov, alpha, event_time=int(e)))
    pos = np.unique(es[es >= 0])
    if len(pos):
        w_dyn = np.zeros(len(cells))
        for e in pos:
            w_dyn += dyn[int(e)] / len(pos)
        rows.append(_lin_row("dynamic", "dynamic", w_dyn, coef, vcov, alpha))
    post = np.where(es >= 0, counts, 0).astype(float)
    rows.append(_lin_row("simple", "simple", post / post.sum(), coef, vcov, alpha))
    return rows


def _lin_row(name, agg, w, coef, vcov, alpha, **labels):
    se = float(np.sqrt(w @ vcov @ w))
    return normal_row(name, float(w @ coef), se, alpha, aggregation=agg, **labels)
