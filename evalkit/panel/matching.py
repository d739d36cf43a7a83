"""Matched in-house comparators for each treated council, and the balance they achieve.

For a council first treated in year g, each candidate (never treated, no other intervention) is
described by its means over the pre-treatment window g-3..g-1 of the matching variables; the
treated council by its own. Nearest neighbours by Mahalanobis distance (covariance of the
candidates' features), k per treated council, with or without replacement, within an optional
caliper. Balance is the standardised mean difference (pooled-SD denominator) before matching (all
candidates) and after (the matched ones).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from evalkit.io import write_parquet

VARIABLES = ["cla_rate_per_10000", "spend_csc_per_child", "ofsted_inadequate", "cin_rate_per_10000", "agency_rate_fte"]
WINDOW = 3


def _features(frame: pl.DataFrame, units: list[str], g: int, variables: list[str]) -> pl.DataFrame:
    window = frame.filter(pl.col("unit_code").is_in(units), pl.col("year").is_between(g - WINDOW, g - 1))
    return window.group_by("unit_code").agg([pl.col(v).cast(pl.Float64).mean() for v in variables]).sort("unit_code")


def usable_variables(frame: pl.DataFrame) -> list[str]:
    """Matching variables the panel carries with data for most councils."""
    return [v for v in VARIABLES if v in frame.columns and frame[v].null_count() < 0.5 * frame.height]


def candidates(frame: pl.DataFrame) -> list[str]:
    pool = frame.filter(pl.col("ever_treated") == 0, ~pl.col("registry_roles").str.contains("other_intervention"))
    return sorted(pool["unit_code"].unique().to_list())


def nearest_neighbours(
    frame: pl.DataFrame, *, k: int = 3, replacement: bool = True, caliper: float | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (matches, balance) tables; see the module docstring for the method."""
    variables = usable_variables(frame)
    pool = candidates(frame)
    treated = frame.filter(pl.col("cohort") > 0).group_by("unit_code").agg(pl.col("cohort").first()).sort("cohort", "unit_code")
    used: set[str] = set()
    matches, before_t, before_c, after_c = [], [], [], []
    for unit, g in treated.iter_rows():
        t_feat = _features(frame, [unit], g, variables)
        c_feat = _features(frame, pool, g, variables).drop_nulls()
        if t_feat.height == 0 or c_feat.height < 2 or t_feat.select(variables).null_count().sum_horizontal()[0] > 0:
            continue
        x_t = t_feat.select(variables).to_numpy()[0]
        x_c = c_feat.select(variables).to_numpy()
        cov = np.atleast_2d(np.cov(x_c, rowvar=False))
        inv = np.linalg.pinv(cov)
        diff = x_c - x_t
        dist = np.sqrt(np.einsum("ij,jk,ik->i", diff, inv, diff))
        order = np.lexsort((c_feat["unit_code"].to_numpy(), dist))  # ties broken by code: deterministic
        chosen = []
        for idx in order:
            code = c_feat["unit_code"][int(idx)]
            if not replacement and code in used:
                continue
            if caliper is not None and dist[idx] > caliper:
                break
            chosen.append(int(idx))
            if len(chosen) == k:
                break
        for rank, idx in enumerate(chosen, start=1):
            code = c_feat["unit_code"][idx]
            used.add(code)
            matches.append({"treated_unit": unit, "cohort": int(g), "comparator_unit": code, "rank": rank, "distance": float(dist[idx])})
        before_t.append(x_t)
        before_c.append(x_c)
        if chosen:
            after_c.append(x_c[chosen])
    balance = _balance(variables, before_t, before_c, after_c)
    match_schema = {"treated_unit": pl.Utf8, "cohort": pl.Int64, "comparator_unit": pl.Utf8, "rank": pl.Int64, "distance": pl.Float64}
    return pl.DataFrame(matches, schema=match_schema), balance


def _smd(t: np.ndarray, c: np.ndarray) -> float | None:
    if len(t) == 0 or len(c) == 0:
        return None
    pooled = np.sqrt((np.var(t, ddof=1 if len(t) > 1 else 0) + np.var(c, ddof=1 if len(c) > 1 else 0)) / 2)
    return float((t.mean() - c.mean()) / pooled) if pooled > 0 else 0.0


def _balance(variables: list[str], before_t: list, before_c: list, after_c: list) -> pl.DataFrame:
    rows = []
    t = np.array(before_t) if before_t else np.empty((0, len(variables)))
    c_all = np.vstack(before_c) if before_c else np.empty((0, len(variables)))
    c_after = np.vstack(after_c) if after_c else np.empty((0, len(variables)))
    for j, v in enumerate(variables):
        rows.append({"variable": v, "smd_before": _smd(t[:, j], c_all[:, j]), "smd_after": _smd(t[:, j], c_after[:, j]),
                     "treated_mean": float(t[:, j].mean()) if len(t) else None,
                     "control_mean_before": float(c_all[:, j].mean()) if len(c_all) else None,
                     "control_mean_after": float(c_after[:, j].mean()) if len(c_after) else None})
    return pl.DataFrame(rows, schema={"variable": pl.Utf8, "smd_before": pl.Float64, "smd_after": pl.Float64, "treated_mean": pl.Float64,
                                      "control_mean_before": pl.Float64, "control_mean_after": pl.Float64})


def match_and_write(frame: pl.DataFrame, processed: Path, **options) -> dict:
    matches, balance = nearest_neighbours(frame, **options)
    write_parquet(processed / "matches.parquet", matches)
    write_parquet(processed / "balance.parquet", balance)
    return {
        "method": "Mahalanobis nearest neighbours on pre-treatment means (window 3 years)",
        "options": {"k": 3, "replacement": True, "caliper": None, **options},
        "variables": balance["variable"].to_list(),
        "treated_matched": matches["treated_unit"].n_unique(),
        "balance": balance.to_dicts(),
    }
