"""Reconcile children's services spending across publications (S251, LAIT, MHCLG RO3/RSX).

``reconcile(frames)`` takes tidy measures frames (from ``s251``, ``lait``, ``mhclg``) and, for every
council, year, measure and unit reported by two or more FILES, lists each pair of files with both
values, the absolute and relative difference, and a flag.

Matching councils. S251 line files and LAIT carry only the DfE 3-digit ``la_code``; RO3/RSX carry only
the GSS ``gss_code``; the EES highlights file carries both. Rows are keyed on ``la_code``; a row with
only a GSS code gets its ``la_code`` from ``lookup`` (columns ``la_code``, ``gss_code``; e.g. built
from ``dfe_las.csv``) or else from any input row that carries both codes. Rows whose GSS code cannot
be mapped are keyed on ``gss:<code>`` and so still compare with other GSS-only files (RO3 vs RSX).

Relative difference = |a - b| / max(|a|, |b|) (symmetric, between 0 and 1; 0 when both are 0).
A pair is ``flagged`` when both values are present, the relative difference exceeds the pair's
threshold, AND the absolute difference exceeds ``min_abs`` (default £50,000, so small lines do not
flag on rounding). The threshold depends on whether the two files come from the same collection:

- same collection (``threshold``, default 0.01 = 1%): S251 files and LAIT both publish the DfE S251
  return, and RO3 and RSX both publish the MHCLG RO return, so they should agree up to rounding
  (measured: LAIT vs the EES highlights file agree to < 0.002% in 1,364 of 1,366 council-years;
  RO3 vs RSX 2022-23..2024-25 agree exactly in all 440).
- cross collection (``cross_threshold``, default 0.25 = 25%): S251/LAIT vs RO3/RSX are different
  returns that allocate spending to different lines; measured median gaps are ~5% for the CSC and
  CYPS totals, 6-12% for CLA and ~20% for family support, with 95th percentiles of ~20-40%, so only
  gaps beyond a quarter of the larger figure are flagged.

Pairs with a missing value on either side are kept with ``flagged`` false and ``note`` =
"missing in <file>".

Definitions differ by design between some publications; the flag means "look", not "wrong":
- S251 (line files, EES) and LAIT publish the same S251 lines, so they should agree exactly.
- RO3 is a different return (MHCLG Revenue Outturn); its totals are close to but not identical to
  S251 (e.g. RO3 ``spend_csc_total`` includes the separate "Asylum seekers" line, and RO3 is in
  £ thousand, so differences up to ~£500 are rounding).
- RSX "Children Social Care" = RO3 TOTAL CHILDREN SOCIAL CARE.

Known case: Newcastle upon Tyne (391, E08000021) 2017-18, where the EES CFR/S251 highlights file
has cyps_spend 121.834 (£m) while LAIT C&YPExpenditure has £61,834,299 and RO3 TOTAL CHILDREN
SOCIAL CARE has £55,918,000: the highlights figure is £60m too high (121.834 vs 61.834, the
same digits after the first), so the pairs highlights-vs-LAIT (rel. diff 0.492) and highlights-vs-RO3
(0.541) are flagged, while LAIT-vs-RO3 (0.096) is within the cross-collection threshold.
"""

from __future__ import annotations

import polars as pl

DEFAULT_THRESHOLD = 0.01
DEFAULT_CROSS_THRESHOLD = 0.25
DEFAULT_MIN_ABS = 50_000.0

# which statistical collection each source module publishes
COLLECTION = {"s251": "dfe_s251", "lait": "dfe_s251", "mhclg_ro": "mhclg_ro"}

RECONCILE_SCHEMA: dict[str, pl.DataType] = {
    "year": pl.Int32,
    "la_code": pl.Utf8,
    "gss_code": pl.Utf8,
    "la_name": pl.Utf8,
    "measure": pl.Utf8,
    "unit": pl.Utf8,
    "source_a": pl.Utf8,
    "file_a": pl.Utf8,
    "value_a": pl.Float64,
    "source_b": pl.Utf8,
    "file_b": pl.Utf8,
    "value_b": pl.Float64,
    "abs_diff": pl.Float64,
    "rel_diff": pl.Float64,
    "comparison": pl.Utf8,
    "threshold": pl.Float64,
    "flagged": pl.Boolean,
    "note": pl.Utf8,
}


def _gss_to_la(frames: list[pl.DataFrame], lookup: pl.DataFrame | None) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for f in frames:
        both = f.filter(pl.col("la_code").is_not_null() & pl.col("gss_code").is_not_null())
        for gss, la in both.select("gss_code", "la_code").unique().sort("gss_code", "la_code").iter_rows():
            pairs.setdefault(gss, la)
    if lookup is not None:
        for gss, la in (
            lookup.select(pl.col("gss_code").cast(pl.Utf8), pl.col("la_code").cast(pl.Utf8)).drop_nulls().iter_rows()
        ):
            pairs[gss] = la  # an explicit lookup wins
    return pairs


def reconcile(
    frames: list[pl.DataFrame],
    *,
    threshold: float = DEFAULT_THRESHOLD,
    cross_threshold: float = DEFAULT_CROSS_THRESHOLD,
    min_abs: float = DEFAULT_MIN_ABS,
    lookup: pl.DataFrame | None = None,
    measures: list[str] | None = None,
) -> pl.DataFrame:
    """Pairwise comparison of the same council-year-measure across files; see the module docstring."""
    if not frames:
        return pl.DataFrame(schema=RECONCILE_SCHEMA)
    cols = ["source", "file", "year", "la_code", "gss_code", "la_name", "measure", "value", "marker", "unit"]
    data = (
        pl.concat([f.select([pl.col(c) for c in cols]) for f in frames if f.height], how="vertical_relaxed")
        if any(f.height for f in frames)
        else pl.DataFrame(schema={c: pl.Utf8 for c in cols})
    )
    if data.height == 0:
        return pl.DataFrame(schema=RECONCILE_SCHEMA)
    if measures is not None:
        data = data.filter(pl.col("measure").is_in(measures))
    mapping = _gss_to_la(frames, lookup)
    data = data.with_columns(
        pl.coalesce(
            pl.col("la_code"),
            pl.col("gss_code").replace_strict(mapping, default=None, return_dtype=pl.Utf8),
            pl.lit("gss:") + pl.col("gss_code"),
        ).alias("key")
    ).filter(pl.col("key").is_not_null())
    keys = ["year", "key", "measure", "unit"]
    left = data.select(
        *keys,
        pl.col("source").alias("source_a"),
        pl.col("file").alias("file_a"),
        pl.col("value").alias("value_a"),
        pl.col("la_code").alias("la_a"),
        pl.col("gss_code").alias("gss_a"),
        pl.col("la_name").alias("name_a"),
    )
    right = data.select(
        *keys,
        pl.col("source").alias("source_b"),
        pl.col("file").alias("file_b"),
        pl.col("value").alias("value_b"),
        pl.col("la_code").alias("la_b"),
        pl.col("gss_code").alias("gss_b"),
        pl.col("la_name").alias("name_b"),
    )
    pairs = left.join(right, on=keys, how="inner").filter(
        (pl.col("source_a") < pl.col("source_b"))
        | ((pl.col("source_a") == pl.col("source_b")) & (pl.col("file_a") < pl.col("file_b")))
    )
    both = pl.col("value_a").is_not_null() & pl.col("value_b").is_not_null()
    big = pl.max_horizontal(pl.col("value_a").abs(), pl.col("value_b").abs())
    same = pl.col("source_a").replace_strict(COLLECTION, default=pl.col("source_a")) == pl.col(
        "source_b"
    ).replace_strict(COLLECTION, default=pl.col("source_b"))
    out = (
        pairs.with_columns(
            (pl.col("value_a") - pl.col("value_b")).abs().alias("abs_diff"),
            pl.when(same).then(pl.lit("same_collection")).otherwise(pl.lit("cross_collection")).alias("comparison"),
            pl.when(same).then(pl.lit(threshold)).otherwise(pl.lit(cross_threshold)).alias("threshold"),
        )
        .with_columns(
            pl.when(both & (big > 0)).then(pl.col("abs_diff") / big).when(both).then(0.0).alias("rel_diff"),
        )
        .with_columns(
            (both & (pl.col("rel_diff") > pl.col("threshold")) & (pl.col("abs_diff") > min_abs))
            .fill_null(False)
            .alias("flagged"),
            pl.when(pl.col("value_a").is_null())
            .then(pl.lit("missing in ") + pl.col("file_a"))
            .when(pl.col("value_b").is_null())
            .then(pl.lit("missing in ") + pl.col("file_b"))
            .alias("note"),
            pl.when(pl.col("key").str.starts_with("gss:")).then(None).otherwise(pl.col("key")).alias("la_code"),
            pl.coalesce("gss_a", "gss_b").alias("gss_code"),
            pl.coalesce("name_a", "name_b").alias("la_name"),
        )
    )
    out = out.select([pl.col(c).cast(t) for c, t in RECONCILE_SCHEMA.items()])
    return out.sort(
        ["year", "la_code", "gss_code", "measure", "source_a", "file_a", "source_b", "file_b"], nulls_last=True
    )


def summary(recon: pl.DataFrame) -> pl.DataFrame:
    """Counts per pair of sources and measure: compared (both present), flagged, median rel_diff."""
    return (
        recon.filter(pl.col("rel_diff").is_not_null())
        .group_by("source_a", "source_b", "measure")
        .agg(
            pl.len().alias("compared"),
            pl.col("flagged").sum().alias("flagged"),
            pl.col("rel_diff").median().alias("median_rel_diff"),
        )
        .sort("source_a", "source_b", "measure")
    )


__all__ = [
    "reconcile",
    "summary",
    "DEFAULT_THRESHOLD",
    "DEFAULT_CROSS_THRESHOLD",
    "DEFAULT_MIN_ABS",
    "RECONCILE_SCHEMA",
]
