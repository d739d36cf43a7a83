"""read_csv_strict reads in batches (memory, issue #14) and gives the same frame and errors as before.

The reference is the standard library's csv module over the whole text; batches are made tiny
(CSV_BATCH = 7) so a few dozen rows cross several batch boundaries.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.sources import common


@pytest.fixture(autouse=True)
def tiny_batches(monkeypatch):
    monkeypatch.setattr(common, "CSV_BATCH", 7)


def _text(n: int) -> str:
    rows = ["time_period,la_name,count"]
    for i in range(n):
        name = f'"Name, {i}"' if i % 5 == 0 else f'"multi\nline {i}"' if i % 11 == 3 else f"Name {i}"
        rows.append(f"{2010 + i % 10},{name},{i if i % 4 else ''}")
        if i % 9 == 8:
            rows.append("")  # blank lines are skipped and still count as lines
    return "\n".join(rows) + "\n"


def test_batches_equal_the_whole_file_reading(tmp_path: Path) -> None:
    text = _text(50)
    p = tmp_path / "t.csv"
    p.write_bytes(common.BOM + text.encode("utf-8"))
    got = common.read_csv_strict(p)
    assert got.n_chunks() > 1
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    records, lines = [], []
    start = reader.line_num + 1
    for rec in reader:
        line, start = start, reader.line_num + 1
        if rec:
            records.append(rec)
            lines.append(line)
    want = pl.DataFrame({h: [r[i] for r in records] for i, h in enumerate(header)} | {common.ROW: lines})
    assert got.columns == want.columns
    assert got.equals(want.with_columns(pl.col(common.ROW).cast(pl.Int64)))


def test_ragged_line_after_several_batches_names_its_row(tmp_path: Path) -> None:
    lines = _text(40).replace('"multi\n', '"multi ').split("\n")
    lines[33] = lines[33] + ",extra"
    p = tmp_path / "t.csv"
    p.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(EvalkitError) as info:
        common.read_csv_strict(p)
    assert "row 34" in str(info.value) and "has 4 fields but the header has 3" in str(info.value)


def test_bad_byte_late_in_the_file_names_row_and_column(tmp_path: Path) -> None:
    raw = _text(40).replace('"multi\n', '"multi ').encode("utf-8").split(b"\n")
    k = next(i for i in range(30, len(raw)) if b"Name" in raw[i])
    raw[k] = raw[k].replace(b"Name", b"N\xe9me", 1)
    p = tmp_path / "t.csv"
    p.write_bytes(b"\n".join(raw))
    with pytest.raises(EvalkitError) as info:
        common.read_csv_strict(p)
    text = str(info.value)
    assert f"row {k + 1}," in text and "column 'la_name'" in text and "0xe9" in text


def test_header_only_and_blank_files(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text("a,b\n\n", encoding="utf-8")
    with pytest.raises(EvalkitError, match="no data rows"):
        common.read_csv_strict(p)
    p.write_bytes(common.BOM + b"  \n\n")
    with pytest.raises(EvalkitError, match="file is empty"):
        common.read_csv_strict(p)
