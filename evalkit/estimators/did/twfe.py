"""Two-way fixed effects DiD and the Goodman-Bacon (2021) decomposition of its coefficient.

TWFE is reported because readers expect it, and the Bacon decomposition shows how much of it
comes from "forbidden" comparisons (already-treated units used as controls), which bias it when
effects change over time.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
from linearmodels.panel import PanelOLS

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.defaults import DEFAULT_ALPHA
from evalkit.estimators.did._util import estimate_table, normal_row, to_wide
from evalkit.estimators.results import Results


def treatment_dummy(panel: LongPanel) -> pl.DataFrame:
    """The panel's rows with `d` = 1 when the unit is treated in that period."""
    return panel.data.with_columns(
        ((pl.col("cohort") > 0) & (pl.col("time") >= pl.col("cohort"))).cast(pl.Float64).alias("d")
    )


def twfe(panel: LongPanel, *, cluster: str = "unit", alpha: float = DEFAULT_ALPHA) -> Results:
    """y_it = a_i + l_t + b * D_it + e_it by linearmodels PanelOLS, SEs clustered by unit
    (`cluster="unit"`) or heteroskedasticity-robust (`cluster="none"`). Adds the Bacon
    decomposition in `extra["bacon"]` when the panel is balanced."""
    if cluster not in ("unit", "none"):
        raise EvalkitError(f"cluster must be 'unit' or 'none', not {cluster!r}")
    data = treatment_dummy(panel).filter(pl.col("y").is_not_null())
    if data["d"].n_unique() < 2:
        raise EvalkitError(
            "the treatment dummy does not vary: no treated (or no untreated) unit-periods", column="cohort"
        )
    frame = pd.DataFrame(
        {
            "unit": data["unit"].to_list(),
            "time": data["time"].to_numpy(),
            "y": data["y"].to_numpy(),
            "d": data["d"].to_numpy(),
        }
    ).set_index(["unit", "time"])
    model = PanelOLS(frame["y"], frame[["d"]], entity_effects=True, time_effects=True)
    if cluster == "unit":
        # unit effects are nested in the clusters, so they are not counted in the degrees of
        # freedom; small-sample factor G/(G-1) (as reghdfe / fixest)
        fit = model.fit(
            cov_type="clustered",
            cluster_entity=True,
            auto_df=False,
            count_effects=False,
            debiased=True,
            group_debias=True,
        )
    else:
        fit = model.fit(cov_type="robust")
    beta, se = float(fit.params["d"]), float(fit.std_errors["d"])
    row = normal_row("coef", beta, se, alpha, aggregation="coef")
    extra, diagnostics = {}, {"n_obs": int(fit.nobs), "n_units": int(fit.entity_info["total"])}
    wide = to_wide(panel, ())
    if not np.isnan(wide.y).any():
        extra["bacon"] = bacon_decomposition(panel)
    else:
        diagnostics["bacon"] = "skipped: unbalanced panel"
    return Results(
        method="twfe",
        outcome=panel.outcome,
        estimates=estimate_table([row]),
        inference={"se_type": "clustered" if cluster == "unit" else "robust", "cluster": cluster, "alpha": alpha},
        diagnostics=diagnostics,
        options={"cluster": cluster, "alpha": alpha},
        extra=extra,
    )


def bacon_decomposition(panel: LongPanel) -> pl.DataFrame:
    """Goodman-Bacon (2021) decomposition of the TWFE coefficient into 2x2 DiDs and weights.

    One row per comparison: type, treated cohort, control cohort (0 = never treated), weight,
    estimate. On a balanced panel the weights sum to 1 and sum(weight * estimate) equals the
    TWFE coefficient. Cohorts treated from the first period are "always treated"; cohorts after
    the last period count as never treated.
    """
    wide = to_wide(panel, ())
    if np.isnan(wide.y).any():
        raise EvalkitError("the Bacon decomposition needs a balanced panel")
    times, cohort = wide.times, np.where(wide.cohort > wide.times.max(), 0, wide.cohort)
    cohort = np.where((cohort > 0) & (cohort <= times.min()), times.min(), cohort)
    labels = np.unique(cohort)
    means = np.array([wide.y[cohort == g].mean(0) for g in labels])
    share = np.array([np.mean(cohort == g) for g in labels])
    dbar = np.array([np.mean(times >= g) if g > 0 else 0.0 for g in labels])
    rows = _bacon_rows(labels, means, share, dbar, times)
    if not rows:
        raise EvalkitError("no 2x2 comparison: need treated units and a control or a later cohort", column="cohort")
    out = pl.DataFrame(
        rows,
        schema={
            "type": pl.Utf8,
            "treated": pl.Int64,
            "control": pl.Int64,
            "weight": pl.Float64,
            "estimate": pl.Float64,
        },
        orient="row",
    )
    return out.with_columns(pl.col("weight") / pl.col("weight").sum())


def _did2x2(means: np.ndarray, a: int, b: int, pre: np.ndarray, post: np.ndarray) -> float:
    """DiD of group a against group b between the `pre` and `post` period masks."""
    diff = means[a] - means[b]
    return float(diff[post].mean() - diff[pre].mean())


def _bacon_rows(
    labels: np.ndarray, means: np.ndarray, share: np.ndarray, dbar: np.ndarray, times: np.ndarray
) -> list[tuple]:
    rows = []
    t0 = times.min()
    never = np.nonzero(labels == 0)[0]
    timing = [k for k in range(len(labels)) if labels[k] > 0]
    for k in timing:
        if len(never):
            u = never[0]
            nk = share[k] / (share[k] + share[u])
            w = (share[k] + share[u]) ** 2 * nk * (1 - nk) * dbar[k] * (1 - dbar[k])
            if w > 0:
                rows.append(
                    (
                        "Treated vs Never Treated",
                        labels[k],
                        0,
                        w,
                        _did2x2(means, k, u, times < labels[k], times >= labels[k]),
                    )
                )
        for ell in timing:
            if labels[ell] <= labels[k]:
                continue
            rows += _timing_pair(labels, means, share, dbar, times, k, ell, t0)
    return rows


def _timing_pair(labels, means, share, dbar, times, k, ell, t0) -> list[tuple]:
    """Early cohort k vs later cohort ell: k treated with ell as control before ell starts, and
    ell treated with k (already treated) as control after k starts."""
    gk, gl = labels[k], labels[ell]
    nkl = share[k] / (share[k] + share[ell])
    tot = share[k] + share[ell]
    out = []
    w_early = (
        (tot * (1 - dbar[ell])) ** 2
        * nkl
        * (1 - nkl)
        * (dbar[k] - dbar[ell])
        / (1 - dbar[ell])
        * (1 - dbar[k])
        / (1 - dbar[ell])
    )
    if w_early > 0:
        win = times < gl
        out.append(
            (
                "Earlier vs Later Treated",
                gk,
                gl,
                w_early,
                _did2x2(means, k, ell, win & (times < gk), win & (times >= gk)),
            )
        )
    w_late = (tot * dbar[k]) ** 2 * nkl * (1 - nkl) * (dbar[ell] / dbar[k]) * (dbar[k] - dbar[ell]) / dbar[k]
    if w_late > 0:
        win = times >= gk
        kind = "Later vs Always Treated" if gk == t0 else "Later vs Earlier Treated"
        out.append((kind, gl, gk, w_late, _did2x2(means, ell, k, win & (times < gl), win & (times >= gl))))
    return out
