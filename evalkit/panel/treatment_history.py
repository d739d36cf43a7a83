"""The registry's dates as treatment histories: per council-year, the delivery model in force.

A spell counts from its first year (the first year ending 31 March on or after go-live, as the
panel's cohort) to the year before its end year (the first year ending 31 March after the end
date: a spell ending on 31 March 2021 covers the year ending that day), so Doncaster's return
on 1 September 2022 makes 2023 its first year back in-house (a date known only to its year, as
Doncaster's 2019 change of ownership, counts as that year), Worcestershire's 2025 and Reading's
2026 (the registry's `exit_year`). Years after a return in-house are "returned_in_house"; years
before the first spell, and councils never in the registry, "in_house".

Kept out of panel.parquet so the locked plans' inputs stay byte-identical; `estimate` joins it to
the sample when a plan's analysis asks for a treatment rule, which analysis.treatment applies.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import polars as pl

from evalkit.panel import boundaries
from evalkit.sources import registry as reg

IN_HOUSE, RETURNED = "in_house", "returned_in_house"
# the model names the registry uses, as the report names them
LABELS = {"independent_trust": "trust", "council_company": "council_company"}


def spells(registry: pl.DataFrame, policy: str = "aggregate") -> pl.DataFrame:
    """One row per treated or model-change spell: unit, first year, end year (None = still in force),
    treatment and how it ended."""
    rows = []
    for r in registry.filter(pl.col("role").is_in(["treated", "model_change"])).iter_rows(named=True):
        ended = r["end_date_parsed"] + timedelta(days=1) if r["end_date_parsed"] is not None else None
        start, end = _year(r["go_live_date"], r["go_live"]), _year(ended, r["end_date"])
        if start is None:
            continue
        rows.append(
            {
                "unit_code": boundaries.unit_of(r["la_code"], policy),
                "spell_id": r["spell_id"],
                "from_year": start,
                "end_year": end,
                "treatment": LABELS.get(r["model"], r["model"]),
                "end_type": r["end_type"] or None,
            }
        )
    schema = {
        "unit_code": pl.Utf8,
        "spell_id": pl.Utf8,
        "from_year": pl.Int64,
        "end_year": pl.Int64,
        "treatment": pl.Utf8,
        "end_type": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema, orient="row").sort("unit_code", "from_year")


def _year(parsed: Any, text: str | None) -> int | None:
    """The first year ending 31 March on or after a date; a date known only to its year ('2019',
    the registry marks it uncertain) counts as that year."""
    if parsed is not None:
        return reg.first_treated_year(parsed)
    return int(text) if text and len(text) == 4 and text.isdigit() else None


def in_force(frame: pl.DataFrame, spell_table: pl.DataFrame) -> pl.DataFrame:
    """`frame` (unit_code, year, ...) with `treatment_in_force` and `ownership_changes` (how many
    ownership changes had happened by that year)."""
    by_unit: dict[str, list[dict[str, Any]]] = {}
    for s in spell_table.iter_rows(named=True):
        by_unit.setdefault(s["unit_code"], []).append(s)
    keys = frame.select("unit_code", "year").unique().sort("unit_code", "year")
    labels, changes = [], []
    for unit, year in keys.iter_rows():
        label, n = IN_HOUSE, 0
        for s in by_unit.get(unit, []):
            if year < s["from_year"]:
                break
            if s["end_year"] is None or year < s["end_year"]:
                label = s["treatment"]
                break
            label = RETURNED if s["end_type"] == "returned_in_house" else label
            n += s["end_type"] == "ownership_change"
        labels.append(label)
        changes.append(n)
    history = keys.with_columns(
        pl.Series("treatment_in_force", labels, dtype=pl.Utf8), pl.Series("ownership_changes", changes, dtype=pl.Int64)
    )
    return frame.join(history, on=["unit_code", "year"], how="left")
