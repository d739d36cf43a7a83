"""Real-terms spending: divide by a price index the user supplies (e.g. HM Treasury's GDP deflator).

evalkit ships no deflator figures (none were available offline to check against the published
series); `evalkit panel --deflator FILE` reads a two-column CSV:

    financial_year,index          e.g. 2015-16,88.341   (or year,index with year = end year, 2016)

and adds `spend_csc_per_child_real` in prices of the base year (the file's last year unless
--deflator-base is given). The file name, its sha256 and the base year are written into the panel
diagnostics and so into every report that uses the column.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.io import sha256_file

_FY = re.compile(r"^(\d{4})-(\d{2})$")


def read_deflator(path: Path) -> pl.DataFrame:
    """year (financial year by its end year) and index, validated."""
    from evalkit.sources.common import read_csv_strict

    frame = read_csv_strict(Path(path))
    cols = {c.strip().lower(): c for c in frame.columns}
    key = cols.get("financial_year") or cols.get("year")
    if key is None or "index" not in cols:
        raise EvalkitError(f"expected columns financial_year (or year) and index; found {', '.join(frame.columns)}", file=Path(path).name, row=1)
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
            raise EvalkitError(f"{label!r} is not a financial year", file=Path(path).name, row=row, column=key, expected="2015-16 or 2016")
        try:
            number = float((value or "").strip())
        except ValueError:
            number = float("nan")
        if not number > 0 or number == float("inf"):
            raise EvalkitError(f"{value!r} is not a positive index", file=Path(path).name, row=row, column=cols["index"], expected="a positive number")
        years.append(year)
        values.append(number)
    out = pl.DataFrame({"year": pl.Series(years, dtype=pl.Int32), "deflator": values})
    if out["year"].n_unique() != out.height:
        raise EvalkitError("a year appears twice", file=Path(path).name, column=key, expected="one index per year")
    return out.sort("year")


def add_real_terms(frame: pl.DataFrame, path: Path, base: int | None = None) -> tuple[pl.DataFrame, dict]:
    deflator = read_deflator(path)
    base = base if base is not None else int(deflator["year"].max())
    hit = deflator.filter(pl.col("year") == base)
    if hit.height == 0:
        raise EvalkitError(f"base year {base} is not in the deflator", file=Path(path).name, expected="a year the file covers")
    base_index = float(hit["deflator"][0])
    out = frame.join(deflator, on="year", how="left").with_columns(
        (pl.col("spend_csc_per_child") * base_index / pl.col("deflator")).round(4).alias("spend_csc_per_child_real")
    ).drop("deflator")
    return out, {"file": Path(path).name, "sha256": sha256_file(path), "base_year": base,
                 "column": "spend_csc_per_child_real", "meaning": f"pounds per child at {base - 1}-{base % 100:02d} prices"}
