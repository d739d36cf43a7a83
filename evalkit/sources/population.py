"""Population aged 0-17 by local authority (ONS mid-year estimates).

* EES layout ``ons_mid-year_population_estimates_2012_to_2024.csv``
  (``...,old_la_code,new_la_code,la_name,age_group,population_estimate``; ``age_group`` =
  ``Children aged 0 to 17 years``): measure ``population_0_17`` (count), ``year`` = the mid-year,
  reference_date = 30 June of that year. ``x`` cells become nulls with the marker kept.
* ONS workbook ``mye23tablesew.xlsx``, sheet ``MYE2 - Persons`` (title rows, then the header on
  row 8: ``Code, Name, Geography, All ages, 0, 1, ..., 90+``): ages 0-17 summed for mid-2023
  (``year`` 2023, reference_date 2023-06-30). Only English children's-services authorities are
  kept (GSS codes E06 unitary, E08 metropolitan district, E09 London borough, E10 county); the file
  has no DfE code, so ``la_code`` is null.

``evalkit.demo.writers.write_population`` writes tidy ``population_0_17`` rows back in the EES layout, and
``reconcile_population`` checks the CLA rate file's denominator against this file (the denominator
of CLA reporting year t should be the mid-(t-1) estimate).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources.common import (
    EES_GEOGRAPHY,
    EES_GEOGRAPHY_HEADERS,
    ROW,
    ees_local_authorities,
    finish_measures,
    head_columns,
    is_binary,
    is_blank,
    long_measures,
    match_columns,
    normalise_header,
    parse_year,
    published_names,
    read_csv_strict,
    reject_duplicates,
    with_row,
)
from evalkit.sources.workbook_guard import check_workbook
from evalkit.sources.workbooks import excel_reader

NAME = "population"
KIND = "measures"
PARSER_VERSION = "1.0.0"

AGE_GROUP = "Children aged 0 to 17 years"
LAYOUT = {
    "ees_population": {
        **EES_GEOGRAPHY,
        "age_group": ["age_group"],
        "population_estimate": ["population_estimate"],
    }
}
WORKBOOK_SHEET = "MYE2 - Persons"
WORKBOOK_YEAR = 2023
CSSR_PREFIXES = ("E06", "E08", "E09", "E10")  # English authorities with children's services

DEMO_FILE = "ons_mid-year_population_estimates.csv"
DEMO_HEADER = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "old_la_code",
    "new_la_code",
    "la_name",
    "age_group",
    "population_estimate",
]
DEFAULT_REGION = ("E12999999", "Demo Region")
# ``ons_mid-year_population_estimates_2012_to_2024.csv`` (and the demo's ``ons_mid-year_population_estimates.csv``)
FAMILY_FILE = re.compile(r"mid[-_]year_population_estimates", re.IGNORECASE)


def detect(path: Path) -> bool:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        # Claimed by its header (EES geography + age_group + population_estimate) or, when a column
        # was renamed or dropped or the file is empty, by its published name plus the EES columns,
        # so that parse() rejects it with one line instead of ingest skipping it.
        named = FAMILY_FILE.search(path.name) is not None
        if named and (is_blank(path) or is_binary(path)):
            return True
        cols = head_columns(path)
        if EES_GEOGRAPHY_HEADERS <= cols and {"age_group", "population_estimate"} <= cols:
            return True
        return named and {"time_period", "geographic_level"} <= cols
    if suffix in (".xlsx", ".ods"):
        check_workbook(path)  # bounds before calamine allocates anything
        try:
            return WORKBOOK_SHEET in excel_reader(path).sheet_names
        except Exception:  # noqa: BLE001 - an unreadable workbook is simply not ours
            return False
    return False


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    if path.suffix.lower() in (".xlsx", ".ods"):
        return _parse_workbook(path)
    raw = read_csv_strict(path)
    _, frame = match_columns(raw, path, with_row(LAYOUT))
    shown = published_names(raw, LAYOUT["ees_population"])
    frame = frame.with_columns(parse_year(frame, "time_period", path)).rename({"time_period": "year"})
    la = ees_local_authorities(frame, path)
    other = la["age_group"].str.strip_chars() != AGE_GROUP
    if other.any():
        idx = int(other.arg_true()[0])
        raise EvalkitError(
            f"unexpected age group {la['age_group'][idx]!r}",
            file=path.name,
            row=int(la[ROW][idx]),
            column=shown["age_group"],
            expected=AGE_GROUP,
        )
    reject_duplicates(la, ["year", "la_code"], path, shown["la_code"], "council-year")
    return long_measures(
        la,
        path,
        source=NAME,
        measures={"population_estimate": ("population_0_17", "count")},
        shown=shown,
        reference=(6, 30),
    )


def _parse_workbook(path: Path) -> pl.DataFrame:
    check_workbook(path)
    try:
        sheet = pl.read_excel(path, engine="calamine", sheet_name=WORKBOOK_SHEET, has_header=False)
    except Exception as exc:  # noqa: BLE001 - calamine/fastexcel raise several types
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EvalkitError(
            f"cannot read sheet {WORKBOOK_SHEET!r}: {msg}",
            file=path.name,
            expected="the ONS mid-year estimates workbook",
        ) from exc
    sheet = sheet.select(pl.all().cast(pl.Utf8))
    first = sheet[:, 0].to_list()
    header_idx = next((i for i, v in enumerate(first[:30]) if v is not None and v.strip().lower() == "code"), None)
    if header_idx is None:
        raise EvalkitError(
            f"no header row starting 'Code' in sheet {WORKBOOK_SHEET!r}",
            file=path.name,
            row=8,
            column="A",
            expected="Code, Name, Geography, All ages, 0, 1, ..., 90+",
        )
    header = [normalise_header(v or "") for v in sheet.row(header_idx)]
    needed = ["code", "name", "geography"] + [str(a) for a in range(18)]
    missing = [n for n in needed if n not in header]
    if missing:
        raise EvalkitError(
            f"sheet {WORKBOOK_SHEET!r} has no column(s) {', '.join(missing)}",
            file=path.name,
            row=header_idx + 1,
            column=missing[0],
            expected="Code, Name, Geography, All ages, 0, ..., 90+",
        )
    pos = {n: header.index(n) for n in needed}
    rows = []
    for i in range(header_idx + 1, sheet.height):
        rec = sheet.row(i)
        code = (rec[pos["code"]] or "").strip()
        if not code.startswith(CSSR_PREFIXES):
            continue
        total = 0.0
        for age in range(18):
            cell = rec[pos[str(age)]]
            try:
                total += float(str(cell).replace(",", ""))
            except (TypeError, ValueError):
                col = _excel_column(pos[str(age)])
                raise EvalkitError(
                    f"value {cell!r} for age {age} is not a number",
                    file=path.name,
                    row=i + 1,
                    column=f"{col} ({age})",
                    expected="a count of people",
                ) from None
        rows.append({"gss_code": code, "la_name": (rec[pos["name"]] or "").strip(), "value": total, ROW: i + 1})
    if not rows:
        raise EvalkitError(
            "no English local-authority rows (codes E06/E08/E09/E10)",
            file=path.name,
            row=header_idx + 2,
            column="A",
            expected="rows of English authorities",
        )
    frame = pl.DataFrame(rows).with_columns(pl.lit(WORKBOOK_YEAR, dtype=pl.Int32).alias("year"))
    reject_duplicates(frame, ["gss_code"], path, "Code", "council")
    out = frame.with_columns(
        pl.lit(NAME).alias("source"),
        pl.lit(path.name).alias("file"),
        pl.lit(dt.date(WORKBOOK_YEAR, 6, 30)).alias("reference_date"),
        pl.lit(None, dtype=pl.Utf8).alias("la_code"),
        pl.lit("population_0_17").alias("measure"),
        pl.lit(None, dtype=pl.Utf8).alias("marker"),
        pl.lit("count").alias("unit"),
    )
    return finish_measures(out).sort(["year", "gss_code"], maintain_order=True)


def _excel_column(index: int) -> str:
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def reconcile_population(cla: pl.DataFrame, population: pl.DataFrame, on: str = "la_code") -> pl.DataFrame:
    """Compare the CLA file's ``population_0_17_cla_denominator`` with ``population_0_17``.

    One row per CLA LA-year with a numeric denominator: ``la_code``, ``year`` (CLA reporting year),
    ``denominator``, ``population_t_minus_1``, ``population_t`` and ``status``:
    ``equal_t_minus_1`` (the documented convention), ``equal_t`` (matches the same year instead),
    ``differs`` or ``no_population`` (the population file has no number for either year).
    Joined on ``on``: the DfE code by default (North Yorkshire 815 and Somerset 933 changed GSS code
    in 2023 and the two files label the earlier years differently); use ``on="gss_code"`` for the
    ONS workbook, which has no DfE code.
    """
    if on not in ("la_code", "gss_code"):
        raise ValueError("on must be 'la_code' or 'gss_code'")
    den = cla.filter(pl.col("measure") == "population_0_17_cla_denominator", pl.col("value").is_not_null()).select(
        "la_code", "gss_code", "la_name", "year", pl.col("value").alias("denominator")
    )
    pop = population.filter(pl.col("measure") == "population_0_17", pl.col("value").is_not_null()).select(
        on, "year", "value"
    )
    prev = pop.with_columns((pl.col("year") + 1).cast(pl.Int32).alias("year")).rename({"value": "population_t_minus_1"})
    same = pop.rename({"value": "population_t"})
    out = den.join(prev, on=[on, "year"], how="left").join(same, on=[on, "year"], how="left")
    return out.with_columns(
        pl.when(pl.col("denominator") == pl.col("population_t_minus_1"))
        .then(pl.lit("equal_t_minus_1"))
        .when(pl.col("denominator") == pl.col("population_t"))
        .then(pl.lit("equal_t"))
        .when(pl.col("population_t_minus_1").is_null() & pl.col("population_t").is_null())
        .then(pl.lit("no_population"))
        .otherwise(pl.lit("differs"))
        .alias("status")
    ).sort(["year", "la_code"])
