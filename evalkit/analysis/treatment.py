"""A plan's treatment rule for one analysis: intention to treat (the sample as it is), as treated
(years back in-house leave), the switching estimator's treatment in force, or the carryover check's
sample. Reads the `treatment_in_force` and `ownership_changes` columns estimate joins to the sample
from the registry (panel.treatment_history); pure table work, no files.
"""

from __future__ import annotations

import polars as pl

from evalkit.errors import EvalkitError

# the labels panel.treatment_history writes (tests/pipeline/test_treatment_history.py checks they agree)
IN_HOUSE, RETURNED = "in_house", "returned_in_house"


def asks(analysis: dict) -> bool:
    """Does the analysis ask for anything but intention to treat?"""
    return analysis.get("treatment") not in (None, "intention_to_treat") or analysis.get("ownership_change") not in (
        None,
        "same_treatment",
    )


def apply(
    rows: pl.DataFrame, *, treatment: str | None, ownership_change: str | None, switching_method: bool, method: str
) -> tuple[pl.DataFrame, str | None]:
    """The analysis' sample under its treatment rule, and the name of the treatment-in-force column
    the estimator should read (None: the cohort, intention to treat).

    after_return: the carryover check's sample (see _after_return), by cohort.
    as_treated: council-years from a return in-house on (and, with own_switch, from an ownership
    change on) leave the sample, so an absorbing estimator sees treatment end by censoring.
    switching: a 0/1 column (0/1/2 with own_switch: the model after an ownership change is a new
    level) that falls back to 0 at a return; only methods that handle a switch-off take it."""
    if treatment in (None, "intention_to_treat") and ownership_change in (None, "same_treatment"):
        return rows, None
    if treatment == "after_return":
        return _after_return(rows), None
    if "treatment_in_force" not in rows.columns:
        raise EvalkitError("the sample has no treatment history", column="treatment_in_force")
    alternative = ~pl.col("treatment_in_force").is_in([IN_HOUSE, RETURNED])
    if treatment == "switching":
        if not switching_method:
            raise EvalkitError(
                f"treatment = 'switching' needs a method that handles treatment switching off; {method!r} does not "
                "(use dcdh, or treatment = 'as_treated')",
                column="treatment",
            )
        level = alternative.cast(pl.Float64)
        if ownership_change == "own_switch":
            level = level + (alternative & (pl.col("ownership_changes") > 0)).cast(pl.Float64)
        return rows.with_columns(level.alias("treatment_level")), "treatment_level"
    keep = pl.col("treatment_in_force") != RETURNED
    if ownership_change == "own_switch":
        keep = keep & (pl.col("ownership_changes") == 0)
    return rows.filter(keep), None


def _after_return(rows: pl.DataFrame) -> pl.DataFrame:
    """The carryover check's sample: never-treated councils and the councils that came back, the
    latter without their years under the alternative model and with the year of their return as
    their cohort; an estimator of absorbing treatment then compares their years back in-house with
    the in-house counterfactual built from their own years before the move and from the comparison
    councils. An effect near zero means outcomes reverted; away from zero, that the model's effect
    carried over (or that selection on exit shows)."""
    per_unit = rows.group_by("unit_code").agg(
        (pl.col("treatment_in_force") == RETURNED).any().alias("came_back"),
        pl.col("year").filter(pl.col("treatment_in_force") == RETURNED).min().alias("back_year"),
        (pl.col("cohort").max() == 0).alias("never"),
    )
    keep = per_unit.filter(pl.col("never") | pl.col("came_back"))
    out = rows.join(keep.select("unit_code", "came_back", "back_year"), on="unit_code", how="inner")
    out = out.filter(~pl.col("came_back") | pl.col("treatment_in_force").is_in([IN_HOUSE, RETURNED]))
    return out.with_columns(
        pl.when(pl.col("came_back")).then(pl.col("back_year")).otherwise(0).cast(pl.Int32).alias("cohort")
    ).drop("came_back", "back_year")
