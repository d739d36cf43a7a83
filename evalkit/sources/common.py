"""What the official statistics files have in common: tidy schemas, suppression markers, header checks."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError

# --- Tidy schemas -------------------------------------------------------------------------------

# KIND "measures": one row per council, period and measure.
#   year: the publication's own year label as an integer (CLA/CIN: year ending 31 March; spending:
#         the financial year by its END year, 2015-16 -> 2016; workforce: 30 September of year;
#         population: mid-year). reference_date makes that explicit per row.
MEASURES_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.Utf8,          # module NAME
    "file": pl.Utf8,            # file name (no directory), for provenance
    "year": pl.Int32,
    "reference_date": pl.Date,
    "la_code": pl.Utf8,         # DfE 3-digit code as published ("314 / 318" for joint units)
    "gss_code": pl.Utf8,        # ONS GSS code as published (null when the file has none)
    "la_name": pl.Utf8,
    "measure": pl.Utf8,         # snake_case canonical measure name
    "value": pl.Float64,        # null when suppressed or missing
    "marker": pl.Utf8,          # the published symbol when value is null (c, x, z, u, low, ...), else null
    "unit": pl.Utf8,            # count | rate_per_10000 | percent | gbp | fte | days | ratio
}

# KIND "judgements": one row per inspection and judgement.
JUDGEMENTS_SCHEMA: dict[str, pl.DataType] = {
    "source": pl.Utf8,
    "file": pl.Utf8,
    "la_code": pl.Utf8,
    "gss_code": pl.Utf8,
    "la_name": pl.Utf8,
    "framework": pl.Utf8,           # pre_sif | sif | ilacs
    "inspection_type": pl.Utf8,     # as published, e.g. "ILACS Standard Inspection", "SIF re-inspection"
    "inspection_start": pl.Date,
    "inspection_end": pl.Date,
    "publication_date": pl.Date,
    "judgement": pl.Utf8,           # overall_effectiveness | leadership | help_and_protection |
                                    # children_in_care | care_leavers | adoption | lscb | ...
    "grade": pl.Utf8,               # outstanding | good | requires_improvement | inadequate | null
    "grade_note": pl.Utf8,          # e.g. not_reported_post_reform, data_unreadable; else null
}

GRADE_LABELS = {
    "outstanding": "outstanding",
    "good": "good",
    "requires improvement to be good": "requires_improvement",
    "requires improvement": "requires_improvement",
    "requires_improvement": "requires_improvement",
    "ri": "requires_improvement",
    "inadequate": "inadequate",
}
GRADE_SCORE = {"outstanding": 1, "good": 2, "requires_improvement": 3, "inadequate": 4}

# --- Suppression and missing markers ------------------------------------------------------------

# Every symbol the DfE, ONS and MHCLG files use for "no number here". Never zero.
MARKERS = {
    "c", "x", "z", "u", "k", "low", "..", ":", "~", "-", "[c]", "[x]", "[z]", "[u]", "[low]",
    "n/a", "na", "null", "#value!", "*", "[k]",
}


def normalise_marker(raw: str) -> str:
    return raw.strip().lower()


def split_values(series: pl.Series, *, file: str | Path, column: str, row_offset: int = 2) -> tuple[pl.Series, pl.Series]:
    """Turn a text column into (Float64 values, marker strings).

    Markers and blanks become nulls with the marker kept; thousands separators and percent signs
    are stripped; anything else that is not a number raises one EvalkitError naming the row.
    `row_offset` converts a 0-based data index to the row number a user sees (2 for a CSV with
    a header on row 1).
    """
    text = series.cast(pl.Utf8).str.strip_chars()
    lowered = text.str.to_lowercase()
    is_marker = lowered.is_in(list(MARKERS))
    frame = pl.DataFrame({"t": text, "m": is_marker}).with_columns(
        pl.when(pl.col("m")).then(None).otherwise(pl.col("t")).alias("v")
    )
    numeric_text = frame["v"].str.replace_all(r"[,£\s]", "").str.replace(r"%$", "")
    numeric_text = pl.Series(numeric_text).replace("", None)
    values = numeric_text.cast(pl.Float64, strict=False)
    bad = values.is_null() & numeric_text.is_not_null()
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise EvalkitError(
            f"value {text[idx]!r} is not a number",
            file=Path(file).name, row=idx + row_offset, column=column,
            expected="a number or a suppression marker (c, x, z, u, low, ..)",
        )
    markers = pl.Series(
        [normalise_marker(t) if m else None for t, m in zip(text.to_list(), is_marker.to_list())],
        dtype=pl.Utf8,
    )
    # A blank cell is missing, not zero; record it as an empty marker.
    markers = pl.DataFrame({"m": markers, "t": text}).select(
        pl.when(pl.col("m").is_null() & (pl.col("t").is_null() | (pl.col("t") == ""))).then(pl.lit("blank")).otherwise(pl.col("m"))
    ).to_series()
    return values, markers


# --- Reading text files ---------------------------------------------------------------------------

def read_text_table(path: Path, *, encodings: Sequence[str] = ("utf-8-sig",), separator: str = ",") -> pl.DataFrame:
    """Read a CSV with every column as text, trying the given encodings in order.

    A file that decodes in none of them, is empty, or has ragged rows is rejected with one line.
    """
    raw = path.read_bytes()
    if not raw.strip():
        raise EvalkitError("file is empty", file=path.name, expected="a header row and data rows")
    text = None
    for enc in encodings:
        try:
            text = raw.decode(enc)
            break
        except UnicodeDecodeError as exc:
            last = exc
    if text is None:
        line = raw[: last.start].count(b"\n") + 1  # type: ignore[possibly-undefined]
        raise EvalkitError(
            f"cannot be decoded as {' or '.join(encodings)}", file=path.name, row=line,
            expected=f"text encoded as {encodings[0]}",
        )
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        frame = pl.read_csv(
            text.encode("utf-8"), separator=separator, infer_schema=False, has_header=True,
            truncate_ragged_lines=False, raise_if_empty=True,
        )
    except pl.exceptions.PolarsError as exc:
        msg = str(exc).splitlines()[0]
        raise EvalkitError(f"not a well-formed CSV table: {msg}", file=path.name) from exc
    return frame


def normalise_header(name: str) -> str:
    """Compare headers case- and space-insensitively: ' Number ' and 'number' are the same column."""
    return re.sub(r"\s+", " ", name.replace("\ufeff", "")).strip().lower()


def match_columns(
    frame: pl.DataFrame,
    file: Path | str,
    layouts: Mapping[str, Mapping[str, Iterable[str]]],
) -> tuple[str, pl.DataFrame]:
    """Find which known layout a table is in and rename its columns to canonical names.

    `layouts` maps a layout name to {canonical column: [accepted published header variants]}.
    The first layout whose every canonical column is present wins. If none fits, one error names
    the closest layout's missing columns and what the file has.
    """
    found = {normalise_header(c): c for c in frame.columns}
    best: tuple[int, str, list[str]] | None = None
    for layout, columns in layouts.items():
        rename: dict[str, str] = {}
        missing: list[str] = []
        for canonical, variants in columns.items():
            hit = next((found[normalise_header(v)] for v in variants if normalise_header(v) in found), None)
            if hit is None:
                missing.append(next(iter(variants)))
            else:
                rename[hit] = canonical
        if not missing:
            return layout, frame.select(list(rename)).rename(rename)
        if best is None or len(missing) < best[0]:
            best = (len(missing), layout, missing)
    assert best is not None
    _, layout, missing = best
    shown = ", ".join(frame.columns[:12]) + (", ..." if frame.width > 12 else "")
    raise EvalkitError(
        f"unrecognised layout: closest is {layout!r} but column(s) {', '.join(missing)} are missing; found {shown}",
        file=Path(file).name, row=1, column=missing[0],
    )


def finish(frame: pl.DataFrame, schema: Mapping[str, pl.DataType], sort_by: Sequence[str]) -> pl.DataFrame:
    """Cast to the tidy schema, in schema order, sorted, so the same file always gives the same bytes."""
    cols = []
    for name, dtype in schema.items():
        if name in frame.columns:
            cols.append(pl.col(name).cast(dtype))
        else:
            cols.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(cols).sort(list(sort_by), nulls_last=True, maintain_order=True)


def finish_measures(frame: pl.DataFrame) -> pl.DataFrame:
    return finish(frame, MEASURES_SCHEMA, ["year", "la_code", "measure", "file"])


def finish_judgements(frame: pl.DataFrame) -> pl.DataFrame:
    return finish(frame, JUDGEMENTS_SCHEMA, ["la_code", "publication_date", "judgement", "file"])


def check_unique(frame: pl.DataFrame, keys: Sequence[str], file: Path | str, what: str) -> None:
    """Duplicated council-years are an error, not something to average away silently."""
    dup = frame.group_by(list(keys)).len().filter(pl.col("len") > 1)
    if dup.height:
        first = dup.sort(list(keys)).row(0, named=True)
        desc = ", ".join(f"{k}={first[k]}" for k in keys)
        raise EvalkitError(f"duplicated {what}: {desc}", file=Path(file).name, expected=f"one row per {what}")


def ees_la_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Keep the local-authority rows of an EES table (national and regional rows are totals)."""
    return frame.filter(pl.col("geographic_level").str.strip_chars() == "Local authority")


def grade_of(label: str | None) -> str | None:
    if label is None:
        return None
    key = " ".join(str(label).strip().lower().split())
    if key in ("", "-", "n/a"):
        return None
    return GRADE_LABELS.get(key)
