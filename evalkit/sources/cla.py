"""Children looked after (SSDA903): "Children looked after in England including adoptions".

Layouts read (FORMATS.md section 1):

* EES ``cla_number_and_rate_per_10k_children.csv`` in both namings:
  2023/2024 releases (``population_count``, ``number``, "at 31 March") and the 2025 release
  (``population_type``, ``children_count``, "on 31 March"). Measures:
  ``cla_at_31_march``, ``cla_starting``, ``cla_ceasing`` (count), ``cla_rate_per_10000``
  (rate_per_10000, the published rate of the 31 March count only; the starting/ceasing rates are
  derivable from count and denominator and are not kept), ``population_0_17_cla_denominator``
  (count). The denominator is the 0-17 population of the mid-year BEFORE the reporting year, so its
  rows carry ``year`` = t (the reporting year it serves) but ``reference_date`` = 30 June t-1.
* EES placement-stability files: ``la_cla_at_31_march_placement_stability_indicator.csv``
  (2018-2022, ``characteristic``) and ``la_cla_placement_stability.csv`` (2024 release,
  ``placement_stability``). Only ``Children looked after at 31 March`` / ``CLA on 31 March`` x
  ``Total children`` rows are read, as ``cla_at_31_march``.
* EES ``la_cla_who_started_to_be_looked_after.csv`` (2018-2022): ``Age group`` x ``Total`` rows, as
  ``cla_starting``. (These can differ from the rate file's starting count for the same year, e.g.
  Doncaster 2022: 214 here and 220 in the rate file; the panel decides which to use.)
* Pre-EES SFR underlying data 2011-2017 (``New_geog_code,geog_l,geog_c,geog_n,CLA_MarYYYY,...``;
  2017 with a leading ``LA_order``): ``CLA_MarYYYY`` as ``cla_at_31_march``. The SFR50 ADM2017
  file gives ``CLA_started2017`` as ``cla_starting``. ``CLA_stpYYYY`` is NOT read: the SFR50 2017
  metadata defines it as "children looked after during the year ... who were only looked after
  under a series of short term placements", which is not the number of starts.
* SFR27 2010 (``geog_l,geog_c,geog_n,MarTotal_2010,Mid2009Pop0-17,...``, no GSS code):
  ``MarTotal_2010`` as ``cla_at_31_march`` and ``Mid2009Pop0-17`` (rounded to 100 by ONS/DfE) as
  ``population_0_17_cla_denominator`` (reference date 30 June 2009).

``year`` is the reporting year ending 31 March and ``reference_date`` that 31 March (except the
denominator, above). Only local-authority rows are returned. Filler rows of councils that did not
exist in a year (``x,z,z``) are kept with null values and their markers.

The strict EES/CSV helpers this module shares with ``cin``, ``workforce`` and ``population``
(``read_csv_strict``, ``ees_local_authorities``, ...) live in ``common.py`` and are re-exported here.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources.common import (  # noqa: F401 - the shared helpers stay importable from here
    EES_GEOGRAPHY,
    EES_GEOGRAPHY_HEADERS,
    GEO_LEVELS,
    MEASURES_SCHEMA,
    ROW,
    ees_local_authorities,
    finish_measures,
    format_number,
    head_columns,
    head_line,
    is_binary,
    is_blank,
    long_measures,
    match_columns,
    normalise_header,
    numbers,
    parse_year,
    published_cell,
    published_names,
    read_csv_strict,
    reject_duplicates,
    split_values,
    with_row,
    write_csv_bytes,
)

NAME = "cla"
KIND = "measures"
PARSER_VERSION = "1.0.0"

# ================================================================================================
# CLA layouts
# ================================================================================================

RATE_LAYOUTS = {
    "ees_rate_2025": {
        **EES_GEOGRAPHY,
        "population_type": ["population_type"],
        "population_estimate": ["population_estimate"],
        "count": ["children_count"],
        "rate_per_10000": ["rate_per_10000"],
    },
    "ees_rate_2019_2024": {
        **EES_GEOGRAPHY,
        "population_type": ["population_count"],
        "population_estimate": ["population_estimate"],
        "count": ["number"],
        "rate_per_10000": ["rate_per_10000"],
    },
}
GROUP_LAYOUTS = {
    "ees_characteristic": {
        **EES_GEOGRAPHY,
        "cla_group": ["cla_group"],
        "characteristic": ["characteristic"],
        "count": ["number"],
    },
    "ees_placement_stability_2024": {
        **EES_GEOGRAPHY,
        "cla_group": ["cla_group"],
        "characteristic": ["placement_stability"],
        "count": ["number"],
    },
}
SFR2010_LAYOUT = {
    "sfr2010": {
        "geog_l": ["geog_l"],
        "la_code": ["geog_c"],
        "la_name": ["geog_n"],
        "cla_at_31_march": ["MarTotal_2010"],
        "population": ["Mid2009Pop0-17"],
    }
}

POPULATION_TYPES = {  # normalised published label -> measure
    "children looked after at 31 march each year": "cla_at_31_march",
    "children looked after on 31 march each year": "cla_at_31_march",
    "children starting to be looked after each year": "cla_starting",
    "children ceasing to be looked after each year": "cla_ceasing",
}
AT_31_MARCH_GROUPS = {"children looked after at 31 march", "children looked after on 31 march", "cla on 31 march"}

SFR_MARCH = re.compile(r"^CLA_Mar(\d{4})$", re.IGNORECASE)
SFR_STARTED = re.compile(r"^CLA_started(\d{4})$", re.IGNORECASE)

DEMO_FILE = "cla_number_and_rate_per_10k_children.csv"
DEMO_HEADER = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "region_code",
    "region_name",
    "old_la_code",
    "la_name",
    "new_la_code",
    "population_type",
    "population_estimate",
    "children_count",
    "rate_per_10000",
]
DEMO_TYPES = [  # published order within an LA-year
    ("Children ceasing to be looked after each year", "cla_ceasing"),
    ("Children looked after on 31 March each year", "cla_at_31_march"),
    ("Children starting to be looked after each year", "cla_starting"),
]
DEFAULT_REGION = ("E12999999", "Demo Region")


# The published file names of the EES families (``ees_cla_number_and_rate_per_10k_children_2019_2023.csv``,
# ``la_cla_placement_stability.csv``, ``la_cla_who_started_to_be_looked_after.csv``): a file so named
# is claimed even when a column was renamed or dropped, or when it is empty, so that parse() rejects
# it with one line instead of ingest skipping it unseen.
FAMILY_FILES = {
    "rate": re.compile(r"cla_number_and_rate_per_10k", re.IGNORECASE),
    "group": re.compile(r"cla_(?:at_31_march_)?placement_stability|cla_who_started_to_be_looked_after", re.IGNORECASE),
}
# Columns only the rate file has (with the EES geography and a population_type/population_count).
RATE_SIGNATURE = {"population_estimate", "rate_per_10000"}


def _family_from_name(path: Path) -> str | None:
    return next((kind for kind, pattern in FAMILY_FILES.items() if pattern.search(path.name)), None)


def _kind(path: Path) -> str | None:
    named = _family_from_name(path)
    if named and (is_blank(path) or is_binary(path)):
        return named  # an empty or binary file of a known family: parse() rejects it by name
    cols = head_columns(path)
    ees = EES_GEOGRAPHY_HEADERS <= cols
    if ees or (named and {"time_period", "geographic_level"} <= cols):
        if {"population_type", "population_count"} & cols and RATE_SIGNATURE & cols:
            return "rate"
        if "cla_group" in cols and "number" in cols and ({"characteristic", "placement_stability"} & cols):
            return "group"
        return named
    if {"new_geog_code", "geog_l", "geog_c", "geog_n"} <= cols:
        if any(SFR_MARCH.match(c) or SFR_STARTED.match(c) for c in cols):
            return "sfr"
        return None
    if {"geog_l", "geog_c", "geog_n", "martotal_2010"} <= cols:
        return "sfr2010"
    return None


def detect(path: Path) -> bool:
    path = Path(path)
    return path.suffix.lower() == ".csv" and _kind(path) is not None


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    kind = _kind(path)
    raw = read_csv_strict(path)
    if kind == "group":
        return _parse_group(path, raw)
    if kind == "sfr":
        return _parse_sfr(path, raw)
    if kind == "sfr2010":
        return _parse_sfr2010(path, raw)
    return _parse_rate(path, raw)  # also gives the one-line layout error for unknown files


def _parse_rate(path: Path, raw: pl.DataFrame) -> pl.DataFrame:
    layout, frame = match_columns(raw, path, with_row(RATE_LAYOUTS))
    shown = published_names(raw, RATE_LAYOUTS[layout])
    frame = frame.with_columns(parse_year(frame, "time_period", path))
    la = ees_local_authorities(frame.rename({"time_period": "year"}), path)
    ptype = la["population_type"].str.strip_chars().map_elements(normalise_header, return_dtype=pl.Utf8)
    measure = ptype.replace_strict(POPULATION_TYPES, default=None, return_dtype=pl.Utf8)
    if measure.is_null().any():
        idx = int(measure.is_null().arg_true()[0])
        raise EvalkitError(
            f"unknown population type {la['population_type'][idx]!r}",
            file=path.name,
            row=int(la[ROW][idx]),
            column=shown["population_type"],
            expected="Children looked after at/on 31 March each year, Children starting/ceasing to be looked after each year",
        )
    la = la.with_columns(measure.alias("measure_name"))
    reject_duplicates(
        la, ["year", "la_code", "measure_name"], path, shown["la_code"], "council-year and population type"
    )
    counts = numbers(la, "count", path, shown["count"])
    rates = numbers(la, "rate_per_10000", path, shown["rate_per_10000"])
    pops = numbers(la, "population_estimate", path, shown["population_estimate"])
    ids = la.select("year", "la_code", "gss_code", "la_name", "measure_name", pl.col(ROW).alias("__row"))
    count_rows = ids.with_columns(
        counts["value"],
        counts["marker"],
        pl.col("measure_name").alias("measure"),
        pl.lit("count").alias("unit"),
        pl.lit(shown["count"]).alias("__column"),
    )
    at31 = pl.col("measure_name") == "cla_at_31_march"
    rate_rows = (
        ids.with_columns(rates["value"], rates["marker"])
        .filter(at31)
        .with_columns(
            pl.lit("cla_rate_per_10000").alias("measure"),
            pl.lit("rate_per_10000").alias("unit"),
            pl.lit(shown["rate_per_10000"]).alias("__column"),
        )
    )
    pop_rows = (
        ids.with_columns(pops["value"], pops["marker"])
        .filter(at31)
        .with_columns(
            pl.lit("population_0_17_cla_denominator").alias("measure"),
            pl.lit("count").alias("unit"),
            pl.lit(shown["population_estimate"]).alias("__column"),
        )
    )
    out = pl.concat([count_rows, rate_rows, pop_rows]).drop("measure_name")
    out = out.with_columns(
        pl.lit(NAME).alias("source"),
        pl.lit(path.name).alias("file"),
        pl.when(pl.col("measure") == "population_0_17_cla_denominator")
        .then(pl.date(pl.col("year") - 1, 6, 30))
        .otherwise(pl.date(pl.col("year"), 3, 31))
        .alias("reference_date"),
    )
    return finish_measures(out)


def _parse_group(path: Path, raw: pl.DataFrame) -> pl.DataFrame:
    layout, frame = match_columns(raw, path, with_row(GROUP_LAYOUTS))
    shown = published_names(raw, GROUP_LAYOUTS[layout])
    frame = frame.with_columns(parse_year(frame, "time_period", path))
    la = ees_local_authorities(frame.rename({"time_period": "year"}), path)
    group = la["cla_group"].map_elements(normalise_header, return_dtype=pl.Utf8)
    char = la["characteristic"].map_elements(normalise_header, return_dtype=pl.Utf8)
    if group.eq("age group").any():  # who started to be looked after
        keep = group.eq("age group") & char.eq("total")
        measure = "cla_starting"
    elif group.is_in(list(AT_31_MARCH_GROUPS)).any():  # placement stability
        keep = group.is_in(list(AT_31_MARCH_GROUPS)) & char.eq("total children")
        measure = "cla_at_31_march"
    else:
        raise EvalkitError(
            "no 'Children looked after at 31 March' or 'Age group' rows found",
            file=path.name,
            row=2,
            column=shown["cla_group"],
            expected="a placement-stability or who-started file",
        )
    la = la.filter(keep)
    reject_duplicates(la, ["year", "la_code"], path, shown["la_code"], "council-year")
    return long_measures(la, path, source=NAME, measures={"count": (measure, "count")}, shown=shown, reference=(3, 31))


def _sfr_la_rows(frame: pl.DataFrame, path: Path) -> pl.DataFrame:
    level = frame["geog_l"].str.strip_chars().str.to_uppercase()
    code = frame["la_code"].str.strip_chars()
    known = level.is_in(["NATIONAL", "REGION", "GOR", "LA", ""])
    if not known.all():
        idx = int((~known).arg_true()[0])
        raise EvalkitError(
            f"unknown geography level {frame['geog_l'][idx]!r}",
            file=path.name,
            row=int(frame[ROW][idx]),
            column="geog_l",
            expected="NATIONAL, REGION/GOR or LA",
        )
    # The 2017 file leaves geog_l empty on the Isles of Scilly row; its 3-digit code identifies it.
    is_la = (level == "LA") | ((level == "") & code.str.contains(r"^\d{3}$") & ~code.is_in(["999", "921"]))
    la = frame.filter(is_la).with_columns(pl.col("la_code").str.strip_chars(), pl.col("la_name").str.strip_chars())
    return la


def _parse_sfr(path: Path, raw: pl.DataFrame) -> pl.DataFrame:
    measures: dict[str, tuple[str, str]] = {}
    years = set()
    for col in raw.columns:
        if m := SFR_MARCH.match(col):
            measures[col] = ("cla_at_31_march", "count")
            years.add(int(m.group(1)))
        elif m := SFR_STARTED.match(col):
            measures[col] = ("cla_starting", "count")
            years.add(int(m.group(1)))
    if len(years) != 1:
        raise EvalkitError(
            f"cannot tell the year: value columns name {sorted(years) or 'no year'}",
            file=path.name,
            row=1,
            column="CLA_MarYYYY",
            expected="one CLA_MarYYYY or CLA_startedYYYY column",
        )
    layout = {
        "gss_code": ["New_geog_code"],
        "geog_l": ["geog_l"],
        "la_code": ["geog_c"],
        "la_name": ["geog_n"],
        **{col: [col] for col in measures},
    }
    _, frame = match_columns(raw, path, with_row({"sfr": layout}))
    la = _sfr_la_rows(frame, path).with_columns(
        pl.lit(years.pop(), dtype=pl.Int32).alias("year"), pl.col("gss_code").str.strip_chars().replace("", None)
    )
    reject_duplicates(la, ["la_code"], path, "geog_c", "council-year")
    return long_measures(la, path, source=NAME, measures=measures, shown={}, reference=(3, 31))


def _parse_sfr2010(path: Path, raw: pl.DataFrame) -> pl.DataFrame:
    _, frame = match_columns(raw, path, with_row(SFR2010_LAYOUT))
    shown = published_names(raw, SFR2010_LAYOUT["sfr2010"])
    la = _sfr_la_rows(frame, path).with_columns(
        pl.lit(2010, dtype=pl.Int32).alias("year"), pl.lit(None, dtype=pl.Utf8).alias("gss_code")
    )
    reject_duplicates(la, ["la_code"], path, "geog_c", "council-year")
    cla = long_measures(
        la,
        path,
        source=NAME,
        measures={"cla_at_31_march": ("cla_at_31_march", "count")},
        shown=shown,
        reference=(3, 31),
    )
    pop = long_measures(
        la,
        path,
        source=NAME,
        measures={"population": ("population_0_17_cla_denominator", "count")},
        shown=shown,
        reference=(6, 30),
    )
    pop = pop.with_columns(pl.date(pl.col("year") - 1, 6, 30).alias("reference_date"))
    return finish_measures(pl.concat([cla, pop]))
