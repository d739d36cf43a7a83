"""Screen every council's series for values that break from their neighbours and for level breaks.

A value is unusual when its year-on-year change (log ratio) is far from the changes of the other councils
in the same year: robust z = (change − median) / (1.4826 × MAD), both taken across councils for that year
and column, so a national shift (a new publication, a price index) is not flagged. |z| above `THRESHOLD`
flags the change. Two flagged changes in a row with opposite signs are a *spike* (the value in between
breaks from both neighbours: a coding or publication error until shown otherwise); other flagged changes
are *level breaks* (census rebasing, boundary changes, payments coded differently after go-live): a run
of consecutive changes in one direction, each beyond `RUN_Z`, whose combined z (sum / sqrt(length))
passes the threshold (a rebasing spread over interpolated years moves several years a little each). Flags go into panel_diagnostics.json (`anomalies`); each
analysis lists the flagged values it includes, and a plan can exclude one with a stated reason.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import polars as pl

THRESHOLD = 5.0  # robust standard deviations: ~1 in 1.7 million under normality, so flags are rare by design
RUN_Z = 2.0  # each change of a multi-year level break is at least this unusual
SCALE = 1.4826  # MAD to standard deviation under normality
EXTRA_COLUMNS = ("population_0_17", "spend_csc_s251", "spend_cla_s251")  # levels behind the per-child rates


def screened_columns(panel: pl.DataFrame, outcome_columns: list[str]) -> list[str]:
    """The catalogue's outcome columns the panel has, and the levels they are built from; binary
    columns (0/1 shares of councils) are left out: their changes are not continuous."""
    out = []
    for c in [*outcome_columns, *EXTRA_COLUMNS]:
        if c in panel.columns and c not in out and panel[c].drop_nulls().n_unique() > 2:
            out.append(c)
    return out


def screen(panel: pl.DataFrame, columns: list[str], threshold: float = THRESHOLD) -> list[dict[str, Any]]:
    """Flags for every column: spikes and level breaks, sorted by column, council and year."""
    flags: list[dict[str, Any]] = []
    for column in columns:
        flags += _screen_column(panel, column, threshold)
    return sorted(flags, key=lambda f: (f["column"], f["unit"], f["years"][0]))


def _screen_column(panel: pl.DataFrame, column: str, threshold: float) -> list[dict[str, Any]]:
    frame = (
        panel.select("unit_code", "unit_name", "year", pl.col(column).cast(pl.Float64).alias("x"))
        .sort("unit_code", "year")
        .with_columns(
            pl.col("x").shift(1).over("unit_code").alias("prev"),
            pl.col("year").shift(1).over("unit_code").alias("prev_year"),
        )
        .with_columns(
            pl.when((pl.col("x") > 0) & (pl.col("prev") > 0) & (pl.col("prev_year") == pl.col("year") - 1))
            .then((pl.col("x") / pl.col("prev")).log())
            .otherwise(None)
            .alias("change")
        )
    )
    stats = (
        frame.drop_nulls("change")
        .group_by("year")
        .agg(pl.col("change").median().alias("med"), pl.col("change").alias("all"))
        .with_columns(
            pl.struct("all", "med")
            .map_elements(lambda s: float(np.median(np.abs(np.array(s["all"]) - s["med"]))), return_dtype=pl.Float64)
            .alias("mad")
        )
        .select("year", "med", "mad")
    )
    frame = frame.join(stats, on="year", how="left").with_columns(
        pl.when(pl.col("mad") > 0).then((pl.col("change") - pl.col("med")) / (SCALE * pl.col("mad"))).alias("z")
    )
    out: list[dict[str, Any]] = []
    for (unit,), rows in frame.group_by(["unit_code"], maintain_order=True):
        recs = rows.to_dicts()
        flagged = {
            i: r for i, r in enumerate(recs) if r["z"] is not None and math.isfinite(r["z"]) and abs(r["z"]) > threshold
        }
        used: set[int] = set()
        for i in sorted(flagged):
            nxt = flagged.get(i + 1)
            if i in used or nxt is None or (flagged[i]["z"] > 0) == (nxt["z"] > 0):
                continue
            r = flagged[i]
            used |= {i, i + 1}
            out.append(
                {
                    "column": column,
                    "unit": unit,
                    "name": r["unit_name"],
                    "kind": "spike",
                    "years": [int(r["year"])],
                    "value": r["x"],
                    "before": r["prev"],
                    "after": nxt["x"],
                    "z": [round(float(r["z"]), 2), round(float(nxt["z"]), 2)],
                }
            )
        # level breaks: runs of same-direction changes, each beyond RUN_Z, whose combined z (Stouffer:
        # sum / sqrt(length)) passes the threshold; a single change needs |z| above the threshold itself.
        candidates = {
            i: r
            for i, r in enumerate(recs)
            if i not in used and r["z"] is not None and math.isfinite(r["z"]) and abs(r["z"]) > RUN_Z
        }
        run: list[dict[str, Any]] = []
        for i in sorted(candidates) + [None]:  # None closes the last run
            r = candidates.get(i) if i is not None else None
            if run and (r is None or r["year"] != run[-1]["year"] + 1 or (r["z"] > 0) != (run[-1]["z"] > 0)):
                combined = math.fsum(x["z"] for x in run) / math.sqrt(len(run))  # same bits on every Python
                if abs(combined) > threshold:
                    first, last = run[0], run[-1]
                    out.append(
                        {
                            "column": column,
                            "unit": unit,
                            "name": first["unit_name"],
                            "kind": "level break",
                            "years": [int(x["year"]) for x in run],
                            "value": last["x"],
                            "before": first["prev"],
                            "after": last["x"],
                            "change_percent": round(100 * (last["x"] / first["prev"] - 1), 1),
                            "z": [round(float(x["z"]), 2) for x in run],
                        }
                    )
                run = []
            if r is not None:
                run.append(r)
    return out


def flagged_values(flags: list[dict[str, Any]], column: str) -> list[tuple[str, int, dict[str, Any]]]:
    """(unit, year, flag) of every flagged value of a column: a spike's year, a break's years."""
    return [(f["unit"], y, f) for f in flags if f["column"] == column for y in f["years"]]
