"""Real terms: every money column of the panel gets a twin in prices of one stated financial year.

`evalkit panel --deflator FILE [--deflator-base YEAR]` reads either

* the ONS time-series CSV exactly as ONS publishes it (the "generator" download of a series such as
  YBGB, the GDP deflator HM Treasury's deflators are built from, or L522, CPIH): quoted metadata rows
  ("Title", "CDID", "Release date", ...) then annual rows "2024","111.2", quarterly rows
  "2025 Q1","114.1" and, for monthly series, "2025 JUN","138.4". A financial year t-1/t (the panel's
  year t, ending 31 March t) is the mean of quarters Q2-Q4 of t-1 and Q1 of t; where a quarter is
  absent but its three months are present, the months are used. Annual (calendar-year) rows are never
  used for a financial year. Only financial years with all four quarters are kept; or
* a plain two-column CSV `financial_year,index` (e.g. `2015-16,88.341`, or `year,index` with the end
  year), such as HM Treasury's own financial-year table.

The index is rebased so the base year = 100 (default: the latest complete financial year) and
`<column>_real = <column> x 100 / index(year)`. The file name, its sha256, the series, the ONS
release date and the base year go into the panel diagnostics and so into every report.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.io import sha256_file

_FY = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4}) Q([1-4])$")
_MONTH = re.compile(r"^(\d{4}) ([A-Z]{3})$")
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
# Money columns of the panel that get a real-terms twin: spending totals, per child, per CLA, unit costs.
MONEY_PREFIX = "spend_"


def _number(text: str, file: str, row: int, column: str) -> float:
    try:
        value = float((text or "").strip().replace(",", ""))
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise EvalkitError(
            f"{text!r} is not a positive index", file=file, row=row, column=column, expected="a positive number"
        )
    return value


def _is_ons(path: Path) -> bool:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        first = next(csv.reader(fh), [])
    return bool(first) and first[0].strip() == "Title"


def read_ons_series(path: Path) -> tuple[pl.DataFrame, dict]:
    """Financial-year means of an ONS generator CSV, and its metadata (title, CDID, release date)."""
    path = Path(path)
    name = path.name
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise EvalkitError(f"not UTF-8 text ({exc.reason})", file=name, expected="the ONS CSV as downloaded") from None
    meta: dict[str, str] = {}
    quarters: dict[tuple[int, int], float] = {}
    months: dict[tuple[int, int], float] = {}
    periods = 0
    for k, row in enumerate(csv.reader(io.StringIO(text))):
        if not row or not row[0].strip():
            continue
        label = row[0].strip()
        value = row[1].strip() if len(row) > 1 else ""
        if label.isdigit() and len(label) == 4:
            periods += 1  # calendar-year rows: not used for financial years
            continue
        q = _QUARTER.match(label)
        m = _MONTH.match(label)
        if q:
            quarters[(int(q.group(1)), int(q.group(2)))] = _number(value, name, k + 1, "value")
            periods += 1
        elif m and m.group(2) in _MONTHS:
            months[(int(m.group(1)), _MONTHS.index(m.group(2)) + 1)] = _number(value, name, k + 1, "value")
            periods += 1
        elif periods == 0:
            meta[label] = value
        else:
            raise EvalkitError(
                f"{label!r} is not a year, quarter or month",
                file=name,
                row=k + 1,
                column="period",
                expected="2024, 2024 Q1 or 2024 JAN",
            )
    for y, q in sorted({(y, (mo - 1) // 3 + 1) for (y, mo) in months} - set(quarters)):
        trio = [months.get((y, 3 * (q - 1) + i)) for i in (1, 2, 3)]
        if all(v is not None for v in trio):
            quarters[(y, q)] = sum(trio) / 3  # type: ignore[arg-type]
    years, values = [], []
    for end in sorted({y + 1 for (y, q) in quarters} | {y for (y, q) in quarters}):
        parts = [
            quarters.get((end - 1, 2)),
            quarters.get((end - 1, 3)),
            quarters.get((end - 1, 4)),
            quarters.get((end, 1)),
        ]
        if all(p is not None for p in parts):
            years.append(end)
            values.append(sum(parts) / 4)  # type: ignore[arg-type]
    if not years:
        raise EvalkitError("no financial year with all four quarters", file=name, expected="quarterly or monthly rows")
    release = meta.get("Release date", "")
    try:
        release = datetime.strptime(release, "%d-%m-%Y").date().isoformat()
    except ValueError:
        pass
    info = {
        "format": "ONS time series CSV",
        "series": meta.get("CDID", ""),
        "title": meta.get("Title", ""),
        "dataset": meta.get("Source dataset ID", ""),
        "release_date": release,
        "financial_year": "mean of Q2-Q4 of t-1 and Q1 of t (year ending 31 March t)",
    }
    return pl.DataFrame({"year": pl.Series(years, dtype=pl.Int32), "deflator": values}), info


def read_plain(path: Path) -> pl.DataFrame:
    """year (financial year by its end year) and index, validated."""
    from evalkit.sources.common import read_csv_strict

    frame = read_csv_strict(Path(path))
    cols = {c.strip().lower(): c for c in frame.columns}
    key = cols.get("financial_year") or cols.get("year")
    if key is None or "index" not in cols:
        raise EvalkitError(
            f"expected columns financial_year (or year) and index; found {', '.join(frame.columns)}",
            file=Path(path).name,
            row=1,
        )
    years, values = [], []
    for k, (label, value) in enumerate(zip(frame[key].to_list(), frame[cols["index"]].to_list())):
        row = k + 2
        label = (label or "").strip()
        m = _FY.match(label)
        if m and (int(m.group(1)) + 1) % 100 == int(m.group(2)):
            year = int(m.group(1)) + 1
        elif label.isdigit() and len(label) == 4:
            year = int(label)
        else:
            raise EvalkitError(
                f"{label!r} is not a financial year",
                file=Path(path).name,
                row=row,
                column=key,
                expected="2015-16 or 2016",
            )
        years.append(year)
        values.append(_number(value, Path(path).name, row, cols["index"]))
    out = pl.DataFrame({"year": pl.Series(years, dtype=pl.Int32), "deflator": values})
    if out["year"].n_unique() != out.height:
        raise EvalkitError("a year appears twice", file=Path(path).name, column=key, expected="one index per year")
    return out.sort("year")


def read_deflator(path: Path) -> tuple[pl.DataFrame, dict]:
    """(year, deflator) by financial year end, and what the file is."""
    path = Path(path)
    if not path.exists():
        raise EvalkitError("deflator file not found", file=path)
    if _is_ons(path):
        return read_ons_series(path)
    return read_plain(path), {"format": "financial_year,index CSV", "series": "", "title": "", "release_date": ""}


def rebase(deflator: pl.DataFrame, base: int | None, file: str) -> tuple[pl.DataFrame, int]:
    base = base if base is not None else int(deflator["year"].max())
    hit = deflator.filter(pl.col("year") == base)
    if hit.height == 0:
        raise EvalkitError(
            f"base year {base} is not in the deflator (it covers {deflator['year'].min()}-{deflator['year'].max()})",
            file=file,
            expected="a financial year the file covers",
        )
    return deflator.with_columns(pl.col("deflator") * 100.0 / float(hit["deflator"][0])), base


def money_columns(frame: pl.DataFrame) -> list[str]:
    return [
        c
        for c in frame.columns
        if c.startswith(MONEY_PREFIX) and not c.endswith(("_marker", "_real")) and frame[c].dtype.is_numeric()
    ]


def apply_index(frame: pl.DataFrame, deflator: pl.DataFrame) -> pl.DataFrame:
    """`<money column>_real` = nominal x 100 / index of its year, for every money column."""
    columns = money_columns(frame)
    return (
        frame.join(deflator, on="year", how="left")
        .with_columns([(pl.col(c) * 100.0 / pl.col("deflator")).round(4).alias(f"{c}_real") for c in columns])
        .drop("deflator")
    )


def add_real_terms(frame: pl.DataFrame, path: Path, base: int | None = None) -> tuple[pl.DataFrame, dict]:
    """Add `<money column>_real` for every money column; returns the frame and what was done."""
    path = Path(path)
    deflator, info = read_deflator(path)
    deflator, base = rebase(deflator, base, path.name)
    columns = money_columns(frame)
    out = apply_index(frame, deflator)
    uncovered = sorted(set(frame["year"].unique().to_list()) - set(deflator["year"].to_list()))
    return out, {
        "file": path.name,
        "sha256": sha256_file(path),
        "base_year": base,
        "base_label": f"{base - 1}-{base % 100:02d}",
        **info,
        "columns": [f"{c}_real" for c in columns],
        "column": "spend_csc_per_child_real",
        "meaning": f"pounds at {base - 1}-{base % 100:02d} prices ({info.get('series') or 'deflator'} financial-year average = 100)",
        "index": {str(y): round(v, 4) for y, v in deflator.iter_rows()},
        "index_exact": {str(y): v for y, v in deflator.iter_rows()},  # for panels rebuilt later (multiverse variants)
        "years_without_index": uncovered,
    }
