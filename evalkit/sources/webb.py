"""Webb, "Investing in Prevention" merged panel: S251 gross spend by category, back to nominal pounds.

File: ``merged_data.csv`` of ``cjrwebb/ipse-data-tidying-repo`` (Calum Webb, University of Sheffield;
copy ``s251/webb_ipse_merged_data.csv``). A derived research panel, not an official publication:
its ``gspend_*`` columns are the S251 gross outturn lines (SFR "Table 6" for 2010-11 to 2014-15,
£000 x 1000; the EES CSVs from 2015-16), deflated by SPPI to 2022 prices. Dividing by its ``sppi``
column restores nominal pounds.

Why it is read at all: it is the only file on hand with the S251 children's social care LINES for
financial year 2014-15 (the LA-level EES file for that year is over 4 MiB everywhere it was seen);
the official files around it give the lines for 2008-09..2013-14 (``s251``) and 2015-16 on
(``lait``). The panel takes this source for 2014-15 only, and the bridge years show it agrees with
the official files: nominal CSC spend equals the S251 line files in 2009-10..2013-14 and LAIT in
2015-16..2021-22 to within rounding for 98% of councils (``docs/spending-bridge.md``, tested in
``tests/sources/test_spending_bridge.py``).

Measures (unit gbp, ``year`` = financial year's end, ``time_period`` in the file):
``spend_cla`` = gspend_cla / sppi; ``spend_csc_total`` = (gspend_cla + gspend_saf + gspend_fss +
gspend_oth + gspend_yjs) / sppi, the same five lines as ``s251``/``lait``; null with marker
``NA`` when any part is missing. Bournemouth and Poole are summed into BCP (E06000058, old code
839) in every year of this file, Dorset recoded: those rows are kept under the file's codes.
"""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources.common import finish_measures

NAME = "s251_webb"
KIND = "measures"
PARSER_VERSION = "1.0"

PARTS = ("gspend_cla", "gspend_saf", "gspend_fss", "gspend_oth", "gspend_yjs")
REQUIRED = ("new_la_code", "time_period", "old_la_code", "la_name", "sppi", *PARTS)


def detect(path: Path) -> bool:
    path = Path(path)
    if path.suffix.lower() != ".csv" or "codebook" in path.name:
        return False
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader(fh), [])
    return set(REQUIRED) <= set(header)


def _float(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().cast(pl.Float64, strict=False)


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    file = path.name
    try:
        raw = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise EvalkitError(f"not a readable CSV: {str(exc).splitlines()[0]}", file=file) from exc
    missing = [c for c in REQUIRED if c not in raw.columns]
    if missing:
        raise EvalkitError(
            f"column(s) {', '.join(missing)} missing",
            file=file,
            row=1,
            column=missing[0],
            expected="the Webb merged_data.csv layout",
        )
    frame = raw.select(REQUIRED).with_row_index("_i")
    for col in ("sppi", *PARTS):
        text = pl.col(col).str.strip_chars()
        bad = frame.filter(text.is_not_null() & (text != "NA") & _float(col).is_null())
        if bad.height:
            r = bad.row(0, named=True)
            raise EvalkitError(
                f"{r[col]!r} is not a number", file=file, row=int(r["_i"]) + 2, column=col, expected="a number or NA"
            )
    year = pl.col("time_period").cast(pl.Int32, strict=False)
    bad = frame.filter(year.is_null() | ~pl.col("old_la_code").str.contains(r"^\d{3}$"))
    if bad.height:
        r = bad.row(0, named=True)
        raise EvalkitError(
            f"row with year {r['time_period']!r} and code {r['old_la_code']!r}",
            file=file,
            row=int(r["_i"]) + 2,
            column="time_period",
            expected="a year and a 3-digit LA code",
        )
    sppi = _float("sppi")
    frame = frame.with_columns(
        year.alias("year"),
        pl.col("old_la_code").alias("la_code"),
        pl.col("new_la_code").alias("gss_code"),
        *[(_float(c) / sppi).alias(c) for c in PARTS],
    )
    nulls = pl.sum_horizontal([pl.col(c).is_null().cast(pl.Int32) for c in PARTS])
    cla = frame.select(
        "la_code",
        "gss_code",
        "la_name",
        "year",
        pl.lit("spend_cla").alias("measure"),
        pl.col("gspend_cla").round(2).alias("value"),
    )
    csc = frame.select(
        "la_code",
        "gss_code",
        "la_name",
        "year",
        pl.lit("spend_csc_total").alias("measure"),
        pl.when(nulls == 0).then(pl.sum_horizontal(PARTS).round(2)).alias("value"),
    )
    out = pl.concat([cla, csc]).with_columns(
        pl.when(pl.col("value").is_null()).then(pl.lit("NA")).alias("marker"),
        pl.lit("gbp").alias("unit"),
        pl.lit(NAME).alias("source"),
        pl.lit(file).alias("file"),
        pl.date(pl.col("year"), 3, 31).alias("reference_date"),
    )
    return finish_measures(out)


__all__ = ["KIND", "NAME", "PARSER_VERSION", "detect", "parse"]
