"""What a reader needs from a multiverse, in three numbers: how many specifications agree in sign,
how many intervals exclude zero, and which single choice moves the estimate most."""

from __future__ import annotations

from typing import Any

import polars as pl

from evalkit.plan_schema import CHOICES, NA


def summarise(frame: pl.DataFrame) -> dict[str, Any]:
    """Summary of the estimable specifications (status "ok").

    * same sign: share of estimates with the sign of the median estimate;
    * interval excludes zero: share, among specifications with an interval, whose interval lies
      entirely on one side of zero;
    * the choice that moves the estimate most: for each dimension with at least two values in use,
      the mean estimate of the specifications taking each value; the dimension whose largest and
      smallest means are furthest apart, with those two values.
    """
    ok = frame.filter(pl.col("status") == "ok", pl.col("estimate").is_not_null())
    n, total = ok.height, frame.height
    out: dict[str, Any] = {"specifications": total, "estimable": n, "not_estimable": total - n}
    if n == 0:
        return out
    est = ok["estimate"]
    median = float(est.median())
    sign = 1 if median > 0 else -1 if median < 0 else 0
    same = (est > 0) if sign > 0 else (est < 0) if sign < 0 else (est == 0)
    out.update(
        median_estimate=median,
        min_estimate=float(est.min()),
        max_estimate=float(est.max()),
        sign_of_median="positive" if sign > 0 else "negative" if sign < 0 else "zero",
        share_same_sign=float(same.mean()),
    )
    with_ci = ok.filter(pl.col("ci_low").is_not_null(), pl.col("ci_high").is_not_null())
    out["with_interval"] = with_ci.height
    if with_ci.height:
        excl = (with_ci["ci_low"] > 0) | (with_ci["ci_high"] < 0)
        out["share_interval_excludes_zero"] = float(excl.mean())
    moves = []
    for dim in CHOICES:
        used = ok.filter(pl.col(dim) != NA)
        means = used.group_by(dim).agg(pl.col("estimate").mean().alias("mean"), pl.len().alias("n")).sort(dim)
        if means.height < 2:
            continue
        lo = means.sort("mean", dim).row(0, named=True)
        hi = means.sort("mean", dim).row(-1, named=True)
        moves.append(
            {
                "dimension": dim,
                "range": float(hi["mean"] - lo["mean"]),
                "lowest": {"value": lo[dim], "mean_estimate": float(lo["mean"]), "n": int(lo["n"])},
                "highest": {"value": hi[dim], "mean_estimate": float(hi["mean"]), "n": int(hi["n"])},
            }
        )
    moves.sort(key=lambda m: (-m["range"], m["dimension"]))
    out["choice_effects"] = moves
    if moves:
        out["moves_most"] = moves[0]
    return out
