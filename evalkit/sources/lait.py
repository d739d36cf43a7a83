"""DfE Local Authority Interactive Tool (LAIT): the long "big data set" parquet, S251 finance rows.

File: ``bds_long_0.parquet`` from the LAIT app (snapshots 2025-05-28, years 2015-16 to 2023-24, and
2026-04-08, years 2016-17 to 2024-25). Columns ``Short Desc, Data item, Years, LA and Regions,
Values, LA Number, Region``; 724 indicators of which 14 are S251 outturn finance rows, recognised by
``Years`` like ``2016-17 (OT)`` (OT = outturn). ``LA Number`` is the DfE 3-digit code; 970 is
England and 980-990 are regions, which are dropped (LA rows only: LA Number < 970). Pre-reform
councils appear under their own codes (e.g. ``Bournemouth (Pre LG)``); their rows for years after
they ceased carry ``-``. ``Values`` is text; ``-`` means missing and becomes null with marker ``-``.

Measures taken (the ``lait_data_dictionary.csv`` next to the parquet is checked when present: every
spend indicator must be described as "Gross", every unit cost as "weekly unit costs"):

=============================  ==================================  =========================
LAIT ``Short Desc``            tidy measure                        unit
=============================  ==================================  =========================
TotalLACFinance                spend_cla                           gbp (gross, £, not £000)
SafeguardingFinance            spend_safeguarding                  gbp
FamilySupportFinance           spend_family_support                gbp
C&YPExpenditure                spend_cyp_total                     gbp (CYPS, excluding CERA)
(derived, see below)           spend_csc_total                     gbp
LACFinance                     spend_cla_per_child_week            gbp_per_child_week
FosteringFinance               spend_fostering_per_child_week      gbp_per_child_week
RescareFinance                 spend_residential_per_child_week    gbp_per_child_week
=============================  ==================================  =========================

``spend_csc_total`` = TotalLACFinance + OtherChildren&FamilyFinance + SafeguardingFinance +
FamilySupportFinance + YouthJusticeFinance: the same lines (EES 3.1.11 + 3.2.1 + 3.3.4 + 3.4.6 +
3.6.1) as ``s251.spend_csc_total`` from 2012-13 on; null with the component's marker when any part
is missing. ``LACFinance`` is the dictionary's "Looked after children - S251/Outturn weekly unit
costs" = total CLA spend / CLA at 31 March / 365 × 7, rounded to £5: a per-child-per-week cost, not
a total, so it gets its own unit. ``FosteringFinance`` and ``RescareFinance`` are the weekly unit
costs of a foster and of a residential placement (spend on the line / children in such placements,
per week, per the dictionary): the placement prices a director of children's services watches.
Adoption, SW and SEN unit costs are not taken. LAIT publishes no net
figures, so there are no ``_net`` measures. Values are £ as published (×1).

``year`` = financial year's end year (``2016-17 (OT)`` -> 2017), reference_date 31 March.
``gss_code`` is null (LAIT has no GSS code).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from evalkit.errors import EvalkitError
from evalkit.sources.common import finish_measures, read_csv_text, reject_duplicates, split_values

NAME = "lait"
KIND = "measures"
PARSER_VERSION = "1.1"

COLUMNS = ["Short Desc", "Data item", "Years", "LA and Regions", "Values", "LA Number", "Region"]
REQUIRED = ["Short Desc", "Years", "LA and Regions", "Values", "LA Number"]

PUBLISHED = {
    "TotalLACFinance": ("spend_cla", "gbp"),
    "SafeguardingFinance": ("spend_safeguarding", "gbp"),
    "FamilySupportFinance": ("spend_family_support", "gbp"),
    "C&YPExpenditure": ("spend_cyp_total", "gbp"),
    "LACFinance": ("spend_cla_per_child_week", "gbp_per_child_week"),
    "FosteringFinance": ("spend_fostering_per_child_week", "gbp_per_child_week"),
    "RescareFinance": ("spend_residential_per_child_week", "gbp_per_child_week"),
}
CSC_PARTS = (
    "TotalLACFinance",
    "OtherChildren&FamilyFinance",
    "SafeguardingFinance",
    "FamilySupportFinance",
    "YouthJusticeFinance",
)
GROSS = {
    "TotalLACFinance",
    "OtherChildren&FamilyFinance",
    "SafeguardingFinance",
    "FamilySupportFinance",
    "YouthJusticeFinance",
    "C&YPExpenditure",
}
UNIT_COSTS = {"LACFinance", "FosteringFinance", "RescareFinance"}
MISSING = "-"


def detect(path: Path) -> bool:
    path = Path(path)
    if path.suffix.lower() != ".parquet" or not path.is_file():
        return False
    try:
        names = set(pq.read_schema(path).names)
    except Exception:  # noqa: BLE001 - not a parquet file at all
        return False
    return set(REQUIRED) <= names


def check_dictionary(path: Path) -> None:
    """Check the LAIT dictionary still describes the indicators the way this parser assumes."""
    path = Path(path)
    d = read_csv_text(path, ("utf-8-sig", "cp1252"))
    for col in ("Measure_short", "Measure"):
        if col not in d.columns:
            raise EvalkitError("LAIT dictionary without the expected column", file=path.name, row=1, column=col)
    d = d.with_row_index("_i")
    for short in GROSS | UNIT_COSTS:
        hit = d.filter(pl.col("Measure_short").str.strip_chars() == short)
        if hit.height == 0:
            raise EvalkitError(
                f"indicator {short!r} is not in the LAIT dictionary",
                file=path.name,
                column="Measure_short",
                expected="the S251 finance indicators",
            )
        text = str(hit["Measure"][0]).lower()
        want = "weekly unit costs" if short in UNIT_COSTS else "gross"
        if want not in text:
            raise EvalkitError(
                f"indicator {short!r} is described as {hit['Measure'][0]!r}",
                file=path.name,
                row=int(hit["_i"][0]) + 2,
                column="Measure",
                expected=f"a measure described as {want!r}",
            )


def _dictionary_for(path: Path) -> Path | None:
    found = sorted(path.parent.glob("*lait_data_dictionary*.csv"))
    return found[-1] if found else None


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise EvalkitError("file not found", file=file)
    if path.stat().st_size == 0:
        raise EvalkitError("file is empty", file=file, expected="a LAIT parquet file")
    try:
        # ParquetFile, not read_table: the same table (schema and metadata included) without importing
        # pyarrow.dataset and pandas, a CPU second of `ingest`
        with pq.ParquetFile(path) as parquet:
            table = parquet.read()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises many types for a damaged file
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EvalkitError(
            f"not a readable parquet file: {msg}", file=file, expected="a LAIT bds_long parquet"
        ) from exc
    names = table.column_names
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise EvalkitError(
            f"column(s) {', '.join(missing)} missing; found {', '.join(names[:10])}",
            file=file,
            row=1,
            column=missing[0],
            expected="the LAIT long layout " + ", ".join(COLUMNS),
        )
    dictionary = _dictionary_for(path)
    if dictionary is not None:
        check_dictionary(dictionary)
    frame = pl.from_arrow(table.select(REQUIRED)).with_row_index("_i")
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(pl.col(c).cast(pl.Utf8) for c in ("Short Desc", "Years", "LA and Regions", "Values"))
    frame = frame.filter(pl.col("Years").str.contains(r"\(OT\)\s*$"))
    frame = frame.filter(pl.col("Short Desc").str.strip_chars().is_in(list(GROSS | UNIT_COSTS)))
    if frame.height == 0:
        raise EvalkitError(
            "no S251 outturn finance rows (Years like '2016-17 (OT)')",
            file=file,
            column="Years",
            expected="rows for TotalLACFinance, C&YPExpenditure, ...",
        )
    # year: '2016-17 (OT)' -> 2017
    period = frame["Years"].str.extract(r"^\s*(\d{4})-(\d{2})\s*\(OT\)\s*$", 1).cast(pl.Int32, strict=False)
    end2 = frame["Years"].str.extract(r"^\s*(\d{4})-(\d{2})", 2).cast(pl.Int32, strict=False)
    bad = period.is_null() | end2.is_null() | (((period + 1) % 100) != end2)
    if bad.any():
        idx = int(bad.fill_null(True).arg_true()[0])
        raise EvalkitError(
            f"Years {frame['Years'][idx]!r} is not a financial year",
            file=file,
            row=int(frame["_i"][idx]) + 1,
            column="Years",
            expected="like '2016-17 (OT)'",
        )
    code = frame["LA Number"].cast(pl.Float64, strict=False)
    bad_code = code.is_null() | (code != code.round(0))
    if bad_code.any():
        idx = int(bad_code.arg_true()[0])
        raise EvalkitError(
            f"LA Number {frame['LA Number'][idx]!r} is not a DfE code",
            file=file,
            row=int(frame["_i"][idx]) + 1,
            column="LA Number",
            expected="a 3-digit number",
        )
    values, markers = split_values(frame["Values"], file=file, column="Values", row_offset=1)
    frame = frame.with_columns(
        (period + 1).alias("year"),
        code.cast(pl.Int32).alias("code"),
        pl.col("Short Desc").str.strip_chars().alias("short"),
        pl.col("LA and Regions").str.strip_chars().alias("la_name"),
        values.alias("value"),
        markers.alias("marker"),
    ).filter(pl.col("code") < 970)
    frame = frame.with_columns(pl.col("code").cast(pl.Utf8).str.zfill(3).alias("la_code"))
    reject_duplicates(
        frame, ["short", "year", "la_code"], file, "LA Number", "council-year-indicator", row_column="_i", row_offset=1
    )
    pub = frame.filter(pl.col("short").is_in(list(PUBLISHED))).with_columns(
        pl.col("short").replace_strict({k: v[0] for k, v in PUBLISHED.items()}, return_dtype=pl.Utf8).alias("measure"),
        pl.col("short").replace_strict({k: v[1] for k, v in PUBLISHED.items()}, return_dtype=pl.Utf8).alias("unit"),
    )
    order = {p: i for i, p in enumerate(CSC_PARTS)}
    parts = (
        frame.filter(pl.col("short").is_in(list(CSC_PARTS)))
        .with_columns(pl.col("short").replace_strict(order, return_dtype=pl.Int32).alias("_o"))
        .sort("la_code", "year", "_o")
    )
    csc = (
        parts.group_by("la_code", "year", maintain_order=True)
        .agg(
            pl.col("la_name").first(),
            pl.len().alias("n"),
            pl.col("value").null_count().alias("nulls"),
            pl.col("value").sum().alias("total"),
            pl.col("marker").drop_nulls().first().alias("first_marker"),
        )
        .with_columns(
            pl.when((pl.col("n") == len(CSC_PARTS)) & (pl.col("nulls") == 0))
            .then(pl.col("total").round(2))
            .alias("value"),
            pl.when((pl.col("n") == len(CSC_PARTS)) & (pl.col("nulls") == 0))
            .then(None)
            .otherwise(pl.col("first_marker").fill_null("x"))
            .alias("marker"),
            pl.lit("spend_csc_total").alias("measure"),
            pl.lit("gbp").alias("unit"),
        )
    )
    cols = ["la_code", "la_name", "year", "measure", "value", "marker", "unit"]
    out = pl.concat([pub.select(cols), csc.select(cols)]).with_columns(
        pl.lit(NAME).alias("source"),
        pl.lit(file).alias("file"),
        pl.date(pl.col("year"), 3, 31).alias("reference_date"),
        pl.lit(None, dtype=pl.Utf8).alias("gss_code"),
    )
    return finish_measures(out)


__all__ = ["NAME", "KIND", "PARSER_VERSION", "detect", "parse", "check_dictionary"]
