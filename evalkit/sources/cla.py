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

The first section of this module holds strict EES/CSV helpers that ``cin``, ``workforce`` and
``population`` share (candidates for ``common.py``).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources.common import (
    MEASURES_SCHEMA,
    finish_measures,
    match_columns,
    normalise_header,
    split_values,
)

NAME = "cla"
KIND = "measures"
PARSER_VERSION = "1.0.0"

ROW = "__row"  # the row number a user sees in a text editor (header = 1)

# ================================================================================================
# Shared strict-reading helpers (used by cin, workforce, population)
# ================================================================================================


def head_line(path: Path, limit: int = 65536) -> str:
    """The first line of a text file, BOM removed; cheap enough for detect()."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit)
    except OSError:
        return ""
    text = raw.decode("utf-8", errors="replace")
    return text.lstrip("\ufeff").splitlines()[0] if text.strip() else ""


def head_columns(path: Path) -> set[str]:
    return {normalise_header(c) for c in head_line(path).split(",")}


def read_csv_strict(path: Path, *, encodings: Sequence[str] = ("utf-8-sig",)) -> pl.DataFrame:
    """Read a CSV with every cell as text and a ``__row`` column (header = row 1).

    Rejects with one line: an empty file, bytes that decode in none of ``encodings`` (EES files
    must be UTF-8), and any record whose field count differs from the header's (a truncated or
    ragged line). Quoted empties (``""``) and bare empties both become "".
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]  # positions below count from after the BOM
    if not raw.strip():
        raise EvalkitError("file is empty", file=path.name, row=1, expected="a header row and data rows")
    text: str | None = None
    last: UnicodeDecodeError | None = None
    for enc in encodings:
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError as exc:
            last = exc
    if text is None:
        assert last is not None
        line = raw[: last.start].count(b"\n") + 1
        line_start = raw.rfind(b"\n", 0, last.start) + 1
        field = raw[line_start: last.start].count(b",")
        header = next(csv.reader([raw.split(b"\n", 1)[0].decode("utf-8", errors="replace").lstrip("\ufeff")]), [])
        raise EvalkitError(
            f"byte 0x{raw[last.start]:02x} cannot be decoded as {' or '.join(encodings)}",
            file=path.name, row=line, column=header[field].strip() if field < len(header) else None,
            expected=f"text encoded as {encodings[0]}",
        )
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:  # pragma: no cover - guarded by the empty check
        raise EvalkitError("file is empty", file=path.name, row=1) from None
    names: list[str] = []
    seen: dict[str, int] = {}
    for i, name in enumerate(header):
        name = name.strip() or f"__blank_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}__{seen[name]}"
        else:
            seen[name] = 0
        names.append(name)
    width = len(names)
    columns: list[list[str]] = [[] for _ in range(width)]
    rows: list[int] = []
    start = reader.line_num + 1
    try:
        for record in reader:
            line = start
            start = reader.line_num + 1
            if not record:
                continue  # a blank line
            if len(record) != width:
                raise EvalkitError(
                    f"has {len(record)} fields but the header has {width} (truncated or ragged line)",
                    file=path.name, row=line, column=names[min(len(record), width) - 1],
                    expected=f"{width} comma-separated fields on every row",
                )
            for col, cell in zip(columns, record):
                col.append(cell)
            rows.append(line)
    except csv.Error as exc:
        raise EvalkitError(f"not a well-formed CSV table: {exc}", file=path.name, row=reader.line_num) from exc
    if not rows:
        raise EvalkitError("has a header but no data rows", file=path.name, row=2, expected="data rows")
    data = {n: pl.Series(n, c, dtype=pl.Utf8) for n, c in zip(names, columns)}
    data[ROW] = pl.Series(ROW, rows, dtype=pl.Int64)
    return pl.DataFrame(data)


def with_row(layouts: Mapping[str, Mapping[str, Iterable[str]]]) -> dict[str, dict[str, list[str]]]:
    """Add the ``__row`` column to every layout so match_columns keeps it."""
    return {name: {**{k: list(v) for k, v in cols.items()}, ROW: [ROW]} for name, cols in layouts.items()}


def published_names(raw: pl.DataFrame, layout: Mapping[str, Iterable[str]]) -> dict[str, str]:
    """canonical -> the header as published, for error messages."""
    found = {normalise_header(c): c for c in raw.columns}
    out = {}
    for canonical, variants in layout.items():
        out[canonical] = next((found[normalise_header(v)] for v in variants if normalise_header(v) in found), canonical)
    return out


def numbers(frame: pl.DataFrame, column: str, file: Path | str, shown: str | None = None) -> pl.DataFrame:
    """Split a text column into ``value``/``marker``; errors name the real row via ``__row``."""
    try:
        values, markers = split_values(frame[column], file=file, column=shown or column, row_offset=0)
    except EvalkitError as exc:
        # split_values counts from row_offset; translate its 0-based index to the file row.
        idx = exc.row if exc.row is not None else 0
        raise EvalkitError(
            exc.message, file=Path(file).name, row=int(frame[ROW][idx]), column=shown or column,
            expected=exc.expected,
        ) from None
    return pl.DataFrame({"value": values, "marker": markers})


def parse_year(frame: pl.DataFrame, column: str, file: Path | str, shown: str = "time_period") -> pl.Series:
    text = frame[column].str.strip_chars()
    ok = text.str.contains(r"^\d{4}$")
    if not ok.all():
        idx = int((~ok).arg_true()[0])
        raise EvalkitError(
            f"time period {text[idx]!r} is not a 4-digit year", file=Path(file).name,
            row=int(frame[ROW][idx]), column=shown, expected="a year such as 2025",
        )
    return text.cast(pl.Int32)


EES_GEOGRAPHY = {
    "time_period": ["time_period"],
    "geographic_level": ["geographic_level"],
    "la_code": ["old_la_code"],
    "gss_code": ["new_la_code"],
    "la_name": ["la_name"],
}
GEO_LEVELS = {"National", "Regional", "Local authority"}


def ees_local_authorities(frame: pl.DataFrame, file: Path | str) -> pl.DataFrame:
    """Check geographic_level, keep LA rows, strip codes, require an LA code on each."""
    level = frame["geographic_level"].str.strip_chars()
    bad = ~level.is_in(list(GEO_LEVELS))
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise EvalkitError(
            f"unknown geographic level {level[idx]!r}", file=Path(file).name, row=int(frame[ROW][idx]),
            column="geographic_level", expected="National, Regional or Local authority",
        )
    la = frame.filter(level == "Local authority").with_columns(
        pl.col("la_code").str.strip_chars(), pl.col("gss_code").str.strip_chars().replace("", None),
        pl.col("la_name").str.strip_chars(),
    )
    empty = la["la_code"].is_null() | (la["la_code"] == "")
    if empty.any():
        idx = int(empty.arg_true()[0])
        raise EvalkitError(
            "local-authority row without an LA code", file=Path(file).name, row=int(la[ROW][idx]),
            column="old_la_code", expected="the DfE 3-digit code",
        )
    return la


def reject_duplicates(frame: pl.DataFrame, keys: Sequence[str], file: Path | str, column: str, what: str) -> None:
    """Duplicated council-years are an error naming the row of the repeat."""
    dup = frame.select(pl.struct(list(keys)).is_duplicated().alias("d"), pl.struct(list(keys)).is_first_distinct().alias("f"))
    repeat = dup["d"] & ~dup["f"]
    if repeat.any():
        idx = int(repeat.arg_true()[0])
        row = frame.row(idx, named=True)
        desc = ", ".join(f"{k}={row[k]}" for k in keys)
        raise EvalkitError(
            f"duplicated {what} ({desc})", file=Path(file).name, row=int(row[ROW]), column=column,
            expected=f"one row per {what}",
        )


def long_measures(
    frame: pl.DataFrame,
    file: Path | str,
    *,
    source: str,
    measures: Mapping[str, tuple[str, str]],
    shown: Mapping[str, str],
    reference: tuple[int, int],
) -> pl.DataFrame:
    """Wide LA rows (canonical value columns) -> tidy measure rows, in MEASURES_SCHEMA order."""
    month, day = reference
    parts = []
    for column, (measure, unit) in measures.items():
        vm = numbers(frame, column, file, shown.get(column, column))
        parts.append(
            frame.select("year", "la_code", "gss_code", "la_name").with_columns(
                vm["value"], vm["marker"], pl.lit(measure).alias("measure"), pl.lit(unit).alias("unit"),
            )
        )
    out = pl.concat(parts) if parts else pl.DataFrame(schema=MEASURES_SCHEMA)
    out = out.with_columns(
        pl.lit(source).alias("source"), pl.lit(Path(file).name).alias("file"),
        pl.date(pl.col("year"), month, day).alias("reference_date"),
    )
    return finish_measures(out)


def format_number(value: float | None) -> str | None:
    if value is None:
        return None
    if float(value).is_integer():
        return str(int(value))
    return repr(float(value))


def published_cell(value: float | None, marker: str | None, default: str = "x") -> str:
    """A value as EES writes it: the number, or the suppression symbol."""
    if value is not None:
        return format_number(value)  # type: ignore[return-value]
    if marker is None:
        return default
    if marker == "blank":
        return ""
    return marker


def write_csv_bytes(header: Sequence[str], rows: Iterable[Sequence[str]], *, bom: bool) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(row)
    data = buf.getvalue().encode("utf-8")
    return (b"\xef\xbb\xbf" + data) if bom else data


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
    "ees_characteristic": {**EES_GEOGRAPHY, "cla_group": ["cla_group"], "characteristic": ["characteristic"], "count": ["number"]},
    "ees_placement_stability_2024": {
        **EES_GEOGRAPHY, "cla_group": ["cla_group"], "characteristic": ["placement_stability"], "count": ["number"],
    },
}
SFR2010_LAYOUT = {
    "sfr2010": {
        "geog_l": ["geog_l"], "la_code": ["geog_c"], "la_name": ["geog_n"],
        "cla_at_31_march": ["MarTotal_2010"], "population": ["Mid2009Pop0-17"],
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
    "time_period", "time_identifier", "geographic_level", "country_code", "country_name", "region_code",
    "region_name", "old_la_code", "la_name", "new_la_code", "population_type", "population_estimate",
    "children_count", "rate_per_10000",
]
DEMO_TYPES = [  # published order within an LA-year
    ("Children ceasing to be looked after each year", "cla_ceasing"),
    ("Children looked after on 31 March each year", "cla_at_31_march"),
    ("Children starting to be looked after each year", "cla_starting"),
]
DEFAULT_REGION = ("E12999999", "Demo Region")


def _kind(path: Path) -> str | None:
    cols = head_columns(path)
    if {"time_period", "geographic_level", "old_la_code"} <= cols:
        if ("population_type" in cols and "children_count" in cols) or ("population_count" in cols and "number" in cols):
            if "rate_per_10000" in cols:
                return "rate"
        if "cla_group" in cols and "number" in cols and ({"characteristic", "placement_stability"} & cols):
            return "group"
        return None
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
            f"unknown population type {la['population_type'][idx]!r}", file=path.name, row=int(la[ROW][idx]),
            column=shown["population_type"],
            expected="Children looked after at/on 31 March each year, Children starting/ceasing to be looked after each year",
        )
    la = la.with_columns(measure.alias("measure_name"))
    reject_duplicates(la, ["year", "la_code", "measure_name"], path, shown["la_code"], "council-year and population type")
    counts = numbers(la, "count", path, shown["count"])
    rates = numbers(la, "rate_per_10000", path, shown["rate_per_10000"])
    pops = numbers(la, "population_estimate", path, shown["population_estimate"])
    ids = la.select("year", "la_code", "gss_code", "la_name", "measure_name")
    count_rows = ids.with_columns(counts["value"], counts["marker"], pl.col("measure_name").alias("measure"), pl.lit("count").alias("unit"))
    at31 = pl.col("measure_name") == "cla_at_31_march"
    rate_rows = ids.with_columns(rates["value"], rates["marker"]).filter(at31).with_columns(
        pl.lit("cla_rate_per_10000").alias("measure"), pl.lit("rate_per_10000").alias("unit"))
    pop_rows = ids.with_columns(pops["value"], pops["marker"]).filter(at31).with_columns(
        pl.lit("population_0_17_cla_denominator").alias("measure"), pl.lit("count").alias("unit"))
    out = pl.concat([count_rows, rate_rows, pop_rows]).drop("measure_name")
    out = out.with_columns(
        pl.lit(NAME).alias("source"), pl.lit(path.name).alias("file"),
        pl.when(pl.col("measure") == "population_0_17_cla_denominator")
        .then(pl.date(pl.col("year") - 1, 6, 30)).otherwise(pl.date(pl.col("year"), 3, 31)).alias("reference_date"),
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
            "no 'Children looked after at 31 March' or 'Age group' rows found", file=path.name, row=2,
            column=shown["cla_group"], expected="a placement-stability or who-started file",
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
            f"unknown geography level {frame['geog_l'][idx]!r}", file=path.name, row=int(frame[ROW][idx]),
            column="geog_l", expected="NATIONAL, REGION/GOR or LA",
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
            f"cannot tell the year: value columns name {sorted(years) or 'no year'}", file=path.name, row=1,
            column="CLA_MarYYYY", expected="one CLA_MarYYYY or CLA_startedYYYY column",
        )
    layout = {
        "gss_code": ["New_geog_code"], "geog_l": ["geog_l"], "la_code": ["geog_c"], "la_name": ["geog_n"],
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
    la = _sfr_la_rows(frame, path).with_columns(pl.lit(2010, dtype=pl.Int32).alias("year"), pl.lit(None, dtype=pl.Utf8).alias("gss_code"))
    reject_duplicates(la, ["la_code"], path, "geog_c", "council-year")
    cla = long_measures(la, path, source=NAME, measures={"cla_at_31_march": ("cla_at_31_march", "count")}, shown=shown, reference=(3, 31))
    pop = long_measures(la, path, source=NAME, measures={"population": ("population_0_17_cla_denominator", "count")}, shown=shown, reference=(6, 30))
    pop = pop.with_columns(pl.date(pl.col("year") - 1, 6, 30).alias("reference_date"))
    return finish_measures(pl.concat([cla, pop]))


# ================================================================================================
# Demo writer
# ================================================================================================


def _rate(count: float | None, pop: float | None) -> float | None:
    if count is None or not pop:
        return None
    return float(int(count * 10000 / pop + 0.5))


def write_demo(frame: pl.DataFrame, folder: Path) -> list[Path]:
    """Write tidy CLA rows as one file in the official 2025 EES layout (UTF-8 with BOM, LF).

    Reads measures cla_at_31_march, cla_starting, cla_ceasing, cla_rate_per_10000 and
    population_0_17_cla_denominator (other measures are ignored). Optional frame columns
    ``region_code``/``region_name`` place each council; otherwise a default fictional region.
    National and regional rows are added as plain sums of the LA values (suppressed LA values count
    as 0; unlike the published file they are not rounded to 10). Missing cells are written as
    ``x``; null values with a marker are written as that marker. The starting/ceasing rates are
    computed from count and denominator (rounded half up), as only the 31 March rate is parsed.
    Rows are ordered by year (newest first), level, region code, LA code, population type, so the
    same input always gives the same bytes.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {"cla_at_31_march", "cla_starting", "cla_ceasing", "cla_rate_per_10000", "population_0_17_cla_denominator"}
    f = frame.filter(pl.col("measure").is_in(list(wanted)))
    if "region_code" not in f.columns:
        f = f.with_columns(pl.lit(DEFAULT_REGION[0]).alias("region_code"))
    if "region_name" not in f.columns:
        f = f.with_columns(pl.lit(DEFAULT_REGION[1]).alias("region_name"))
    f = f.with_columns(
        pl.col("region_code").fill_null(DEFAULT_REGION[0]), pl.col("region_name").fill_null(DEFAULT_REGION[1]),
        pl.col("year").cast(pl.Int32),
    )
    cells: dict[tuple, dict[str, tuple[float | None, str | None]]] = {}
    meta: dict[tuple, tuple[str, str, str | None, str | None]] = {}
    for r in f.iter_rows(named=True):
        key = (int(r["year"]), str(r["la_code"]))
        cells.setdefault(key, {})[r["measure"]] = (r["value"], r["marker"])
        meta[key] = (r["region_code"], r["region_name"], r["la_name"], r["gss_code"])

    rows: list[list[str]] = []
    years = sorted({k[0] for k in cells}, reverse=True)
    for year in years:
        keys = sorted((k for k in cells if k[0] == year), key=lambda k: (meta[k][0], k[1]))
        # national and regional sums
        groups: dict[tuple[str, str, str], list[tuple]] = {("National", "", ""): keys}
        for k in keys:
            groups.setdefault(("Regional", meta[k][0], meta[k][1]), []).append(k)
        for (level, rcode, rname), members in sorted(groups.items(), key=lambda g: (g[0][0] != "National", g[0][1])):
            pop = sum((cells[k].get("population_0_17_cla_denominator", (None, None))[0] or 0.0) for k in members)
            for label, measure in DEMO_TYPES:
                count = sum((cells[k].get(measure, (None, None))[0] or 0.0) for k in members)
                rate = _rate(count, pop)
                rows.append([
                    str(year), "Reporting year", level, "E92000001", "England", rcode, rname, "", "", "", label,
                    format_number(pop) if pop else "x", format_number(count) or "0",
                    format_number(rate) if rate is not None else "x",
                ])
        for k in keys:
            rcode, rname, la_name, gss = meta[k]
            c = cells[k]
            pop_v, pop_m = c.get("population_0_17_cla_denominator", (None, None))
            for label, measure in DEMO_TYPES:
                n_v, n_m = c.get(measure, (None, None))
                if measure == "cla_at_31_march":
                    r_v, r_m = c.get("cla_rate_per_10000", (None, None))
                else:
                    r_v, r_m = _rate(n_v, pop_v), ("z" if n_v is None else "x")
                rows.append([
                    str(year), "Reporting year", "Local authority", "E92000001", "England", rcode, rname,
                    k[1], la_name or "", gss or "", label, published_cell(pop_v, pop_m),
                    published_cell(n_v, n_m), published_cell(r_v, r_m),
                ])
    path = folder / DEMO_FILE
    path.write_bytes(write_csv_bytes(DEMO_HEADER, rows, bom=True))
    return [path]
