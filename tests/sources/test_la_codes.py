"""la_codes: dfe_las.csv as a typed lookup (the boundary policy is tested in tests/panel/test_boundaries.py)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.sources import la_codes
from tests.shared_data import REFERENCE

REF = REFERENCE
LAS = REF / "dfe_las.csv"


def one(frame: pl.DataFrame, **where) -> dict:
    rows = frame.filter(pl.all_horizontal([pl.col(k) == v for k, v in where.items()]))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# --- dfe_las.csv -------------------------------------------------------------------------------------


def test_detect(las):
    assert la_codes.detect(LAS)
    assert not la_codes.detect(REF / "neighbours" / "dfe_sn_model_2025_wide.csv")


def test_shape_and_types(las):
    assert las.height == 176
    assert las.schema["date_of_operation"] == pl.Date
    assert las.schema["date_of_termination"] == pl.Date
    assert las["file"].unique().to_list() == ["dfe_las.csv"]
    assert set(las["status"].unique()) == {"live", "terminated"}


def test_named_values(las):
    doncaster = one(las, la_code="371")
    assert doncaster["gss_code"] == "E08000017" and doncaster["la_name"] == "Doncaster"
    assert doncaster["date_of_operation"] == dt.date(2009, 1, 1) and doncaster["date_of_termination"] is None
    bcp = one(las, la_code="839")
    assert bcp["gss_code"] == "E06000058" and bcp["date_of_operation"] == dt.date(2019, 4, 1)
    bournemouth = one(las, la_code="837")
    assert bournemouth["status"] == "terminated" and bournemouth["date_of_termination"] == dt.date(2019, 3, 31)
    joint = one(las, la_code="940 / 941")
    assert joint["is_joint"] and joint["gss_code"] == "E06000061 / E06000062"
    # North Yorkshire: one DfE code, two GSS codes.
    ny = las.filter(pl.col("la_code") == "815").sort("date_of_operation")
    assert ny["gss_code"].to_list() == ["E10000023", "E06000065"]


def test_placeholders_become_null(las):
    # old_la_code 'x' (five pre-2009 counties) and new_la_code 'z' (BFPO) are placeholders.
    assert las.filter(pl.col("la_code").is_null()).height == 5
    bfpo = one(las, la_code="702")
    assert bfpo["gss_code"] is None and bfpo["date_of_operation"] is None


def test_known_codes(las):
    codes = la_codes.known_codes(las)
    assert {"371", "928", "940 / 941", "314 / 318"} <= codes
    assert "x" not in codes and None not in codes
    assert "940 / 941" not in la_codes.known_codes(las, include_joint=False)
    assert "928" not in la_codes.known_codes(las, live_only=True)
    assert la_codes.code_for_gss(las)["E08000017"] == "371"


# --- malformed inputs --------------------------------------------------------------------------------

HEADER = "new_la_code,la_name,date_of_operation,date_of_termination,parent_geography_code,entity_code,entity_description,status,old_la_code\n"
GOOD = "E08000017,Doncaster,01/01/2009,,E12000003,E08,Metropolitan Districts,live,371\n"


def check_one_line(exc: EvalkitError, *, row: int | None, column: str | None = None) -> None:
    text = str(exc)
    assert "\n" not in text and exc.file == "las.csv"
    assert exc.row == row
    if column is not None:
        assert exc.column == column


@pytest.mark.parametrize(
    "body,row,column",
    [
        (HEADER.replace("old_la_code", "la_code_3"), 1, "old_la_code"),  # renamed column
        (HEADER + GOOD + GOOD.replace("01/01/2009", "sometime"), 3, "date_of_operation"),  # non-date
        (HEADER + GOOD.replace("live", "dormant"), 2, "status"),  # unknown status
        (HEADER + GOOD.replace(",371", ",37A"), 2, "old_la_code"),  # not a code
    ],
)
def test_malformed(tmp_path, body, row, column):
    path = tmp_path / "las.csv"
    path.write_text(body if body.count("\n") > 1 else body + GOOD, encoding="utf-8")
    with pytest.raises(EvalkitError) as info:
        la_codes.parse(path)
    check_one_line(info.value, row=row, column=column)


def test_empty_and_truncated(tmp_path):
    path = tmp_path / "las.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(EvalkitError, match="empty") as info:
        la_codes.parse(path)
    check_one_line(info.value, row=None)
    path.write_text(HEADER + GOOD + "E08000018,Rotherham,01/01/20", encoding="utf-8")
    with pytest.raises(EvalkitError, match="truncated") as info:
        la_codes.parse(path)
    check_one_line(info.value, row=3)
