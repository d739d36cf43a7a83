"""DfE local-authority codes (`dfe_las.csv`): the lookup of DfE and GSS codes.

Source file: DfE's own LA reference list used by the EES data screener
(dfe-analytical-services/dfe-published-data-qa, `data/las.csv`; kept as `dfe_las.csv`).
Columns: new_la_code (GSS), la_name, date_of_operation and date_of_termination (dd/mm/yyyy),
parent_geography_code (region), entity_code, entity_description, status (live | terminated),
old_la_code (DfE 3-digit code; "940 / 941" style for joint reporting units).

The file uses two placeholders: old_la_code `x` (no DfE code: pre-2009 counties) and new_la_code
`z` (British Forces Post Office). Both become null in the typed frame; nothing else is altered.

The harmonisation policy (which units a panel follows through the 2019-2023 reorganisations) is
panel work: evalkit.panel.boundaries.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources.common import match_columns, normalise_header, read_csv_rows, text_frame

NAME = "la_codes"
KIND = "lookup"
PARSER_VERSION = "1"

SCHEMA: dict[str, pl.DataType] = {
    "la_code": pl.Utf8,  # DfE 3-digit code; "940 / 941" for joint units; null for `x`
    "gss_code": pl.Utf8,  # GSS code; "E06000061 / E06000062" for joint units; null for `z`
    "la_name": pl.Utf8,
    "date_of_operation": pl.Date,
    "date_of_termination": pl.Date,
    "region_code": pl.Utf8,  # parent_geography_code (E12...)
    "entity_code": pl.Utf8,
    "entity_description": pl.Utf8,
    "status": pl.Utf8,  # live | terminated
    "is_joint": pl.Boolean,  # a joint reporting unit ("314 / 318")
    "file": pl.Utf8,
}

LAYOUTS = {
    "dfe_las": {
        "gss_code": ["new_la_code"],
        "la_name": ["la_name"],
        "date_of_operation": ["date_of_operation"],
        "date_of_termination": ["date_of_termination"],
        "region_code": ["parent_geography_code"],
        "entity_code": ["entity_code"],
        "entity_description": ["entity_description"],
        "status": ["status"],
        "la_code": ["old_la_code"],
    }
}
# `entity_description` is informative only; a copy of the list without it is still accepted.
_OPTIONAL = {"entity_description"}

_CODE_RE = re.compile(r"^\d{3}( / \d{3})*$")
_GSS_RE = re.compile(r"^E\d{8}( / E\d{8})*$")
_STATUSES = {"live", "terminated"}


def detect(path: Path) -> bool:
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return False
    try:
        with path.open("r", encoding="utf-8-sig") as fh:
            header = fh.readline()
    except (OSError, UnicodeDecodeError):
        return False
    cols = {normalise_header(c) for c in header.split(",")}
    return {"new_la_code", "old_la_code", "la_name", "date_of_operation"} <= cols


def _dates(series: pl.Series, file: str, column: str) -> pl.Series:
    text = series.str.strip_chars()
    parsed = text.str.to_date("%d/%m/%Y", strict=False)
    bad = parsed.is_null() & text.is_not_null() & (text != "")
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise EvalkitError(
            f"{text[idx]!r} is not a date",
            file=file,
            row=idx + 2,
            column=column,
            expected="a date written dd/mm/yyyy",
        )
    return parsed


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    header, rows = read_csv_rows(path)
    if len(set(header)) != len(header):
        raise EvalkitError(
            "repeated column names in the header", file=path.name, row=1, expected="the dfe_las.csv header"
        )
    raw = text_frame([h.strip() for h in header], rows)
    layouts = {
        name: {
            k: v
            for k, v in cols.items()
            if not (k in _OPTIONAL and normalise_header(v[0]) not in {normalise_header(c) for c in raw.columns})
        }
        for name, cols in LAYOUTS.items()
    }
    _, frame = match_columns(raw, path, layouts)
    file = path.name
    frame = frame.with_columns(pl.col(c).str.strip_chars() for c in frame.columns)
    # Placeholders -> null.
    frame = frame.with_columns(
        pl.when(pl.col("la_code").str.to_lowercase() == "x").then(None).otherwise(pl.col("la_code")).alias("la_code"),
        pl.when(pl.col("gss_code").str.to_lowercase() == "z")
        .then(None)
        .otherwise(pl.col("gss_code"))
        .alias("gss_code"),
    )
    for col, regex, what in (
        ("la_code", _CODE_RE, "a 3-digit DfE code (or 'x')"),
        ("gss_code", _GSS_RE, "a GSS code such as E08000017 (or 'z')"),
    ):
        s = frame[col]
        bad = s.is_not_null() & ~s.str.contains(regex.pattern)
        if bad.any():
            idx = int(bad.arg_true()[0])
            src = "old_la_code" if col == "la_code" else "new_la_code"
            raise EvalkitError(f"{s[idx]!r} is not a code", file=file, row=idx + 2, column=src, expected=what)
    status = frame["status"].str.to_lowercase()
    bad = ~status.is_in(list(_STATUSES)) | status.is_null()
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise EvalkitError(
            f"unknown status {frame['status'][idx]!r}",
            file=file,
            row=idx + 2,
            column="status",
            expected="live or terminated",
        )
    out = frame.with_columns(
        date_of_operation=_dates(frame["date_of_operation"], file, "date_of_operation"),
        date_of_termination=_dates(frame["date_of_termination"], file, "date_of_termination"),
        status=status,
        is_joint=pl.col("la_code").str.contains(" / ").fill_null(False),
        file=pl.lit(file),
    )
    cols = [pl.col(k).cast(v) if k in out.columns else pl.lit(None, dtype=v).alias(k) for k, v in SCHEMA.items()]
    return out.select(cols)


def known_codes(lookup: pl.DataFrame, *, include_joint: bool = True, live_only: bool = False) -> frozenset[str]:
    """The DfE codes a data file may legitimately use (for validating parsed frames)."""
    frame = lookup.filter(pl.col("la_code").is_not_null())
    if not include_joint:
        frame = frame.filter(~pl.col("is_joint"))
    if live_only:
        frame = frame.filter(pl.col("status") == "live")
    return frozenset(frame["la_code"].to_list())


def code_for_gss(lookup: pl.DataFrame) -> dict[str, str]:
    """GSS code -> DfE code (every GSS code in the list maps to exactly one DfE code)."""
    rows = lookup.filter(pl.col("la_code").is_not_null() & pl.col("gss_code").is_not_null())
    return dict(zip(rows["gss_code"].to_list(), rows["la_code"].to_list()))
