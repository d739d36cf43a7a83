"""The demo's data-generating process does what its docstring says: across seeds, the estimator
centres on the true effect and its 95% interval covers it about 95% of the time (a check of the
DGP's parallel-trends claim, independent of the one seed the demo ships)."""

from __future__ import annotations

import numpy as np
import polars as pl

from evalkit.demo import dgp
from evalkit.estimators.data import make_panel
from evalkit.estimators.did.cs import callaway_santanna


def _rate_panel(seed: int):
    data = dgp.generate(seed)
    wide = data.cla.filter(pl.col("measure").is_in(["cla_at_31_march", "population_0_17_cla_denominator"])).pivot(
        on="measure", index=["la_code", "year"], values="value"
    )
    cohorts = data.registry.select(
        "la_code", pl.col("go_live").map_elements(dgp._first_year, return_dtype=pl.Int64).alias("cohort")
    )
    frame = (
        wide.with_columns((pl.col("cla_at_31_march") / pl.col("population_0_17_cla_denominator") * 1e4).alias("rate"))
        .join(cohorts, on="la_code", how="left")
        .with_columns(pl.col("cohort").fill_null(0))
    )
    complete = frame.group_by("la_code").agg(pl.col("rate").is_not_null().all().alias("ok")).filter("ok")["la_code"]
    frame = frame.filter(pl.col("la_code").is_in(complete.implode()))
    return make_panel(frame, unit="la_code", time="year", outcome="rate", cohort="cohort")


def test_estimates_centre_on_the_true_effect_across_seeds() -> None:
    estimates, covered = [], []
    for seed in range(40):
        row = callaway_santanna(_rate_panel(seed), control="never", est_method="reg").estimate("simple")
        estimates.append(row["estimate"])
        covered.append(row["ci_low"] <= dgp.TRUE_CLA_EFFECT <= row["ci_high"])
    # 40 draws with sd about 0.5: the mean is within 0.3 of the truth unless the DGP is biased.
    assert abs(np.mean(estimates) - dgp.TRUE_CLA_EFFECT) < 0.3
    assert 0.82 <= np.mean(covered) <= 1.0


def test_selection_is_on_failure() -> None:
    """Treated councils are those with the worst SIF judgements, as the docstring says."""
    data = dgp.generate()
    sif = data.judgements.filter(pl.col("framework") == "sif")
    treated = set(data.registry["la_code"])
    share_inadequate = sif.filter(pl.col("la_code").is_in(list(treated)))["grade"].eq("inadequate").mean()
    assert share_inadequate > sif["grade"].eq("inadequate").mean()
