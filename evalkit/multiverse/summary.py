"""What a reader needs from a multiverse, in three numbers: how many specifications agree in sign,
how many intervals exclude zero, and which single choice moves the estimate most."""

from __future__ import annotations

from typing import Any

import polars as pl

from evalkit.multiverse.specs import CHOICES, NA


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
    out.update(median_estimate=median, min_estimate=float(est.min()), max_estimate=float(est.max()),
               sign_of_median="positive" if sign > 0 else "negative" if sign < 0 else "zero",
               share_same_sign=float(same.mean()))
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
        moves.append({"dimension": dim, "range": float(hi["mean"] - lo["mean"]),
                      "lowest": {"value": lo[dim], "mean_estimate": float(lo["mean"]), "n": int(lo["n"])},
                      "highest": {"value": hi[dim], "mean_estimate": float(hi["mean"]), "n": int(hi["n"])}})
    moves.sort(key=lambda m: (-m["range"], m["dimension"]))
    out["choice_effects"] = moves
    if moves:
        out["moves_most"] = moves[0]
    return out


def sentences(summary: dict[str, Any], outcome: str) -> list[str]:
    """The summary as plain sentences for the report."""
    n, total = summary.get("estimable", 0), summary.get("specifications", 0)
    if not n:
        return [f"None of the {total} specifications could be estimated."]
    out = [f"{n} of {total} specifications could be estimated for {outcome}; estimates range from "
           f"{summary['min_estimate']:.3g} to {summary['max_estimate']:.3g} (median {summary['median_estimate']:.3g})."]
    out.append(f"{summary['share_same_sign']:.0%} have the sign of the median ({summary['sign_of_median']}).")
    if "share_interval_excludes_zero" in summary:
        out.append(f"{summary['share_interval_excludes_zero']:.0%} of the {summary['with_interval']} specifications "
                   "with an interval have one that excludes zero.")
    m = summary.get("moves_most")
    if m:
        out.append(f"The choice that moves the estimate most is {m['dimension'].replace('_', ' ')}: the mean estimate is "
                   f"{m['lowest']['mean_estimate']:.3g} with {m['lowest']['value']} and {m['highest']['mean_estimate']:.3g} "
                   f"with {m['highest']['value']} (a difference of {m['range']:.3g}).")
    return out
