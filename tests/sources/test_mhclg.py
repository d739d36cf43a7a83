"""MHCLG RO3/RSX parser: every reference workbook read once, real values, malformed workbooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.sources import mhclg
from evalkit.sources.common import MEASURES_SCHEMA
from tests.shared_data import REFERENCE

REF = REFERENCE / "spending_mhclg"
MALFORMED = Path(__file__).parent / "malformed"
needs_ref = pytest.mark.skipif(not REF.is_dir(), reason=f"reference folder {REF} is absent")

# file -> (financial end year, rows, councils)
FILES = {
    "mhclg_RO3_2013-14_Revision.xlsx": (2014, 1216, 152),
    "mhclg_RO3_2014-15_Revision.xlsx": (2015, 1520, 152),
    "mhclg_RO3_2015-16_data_by_LA_-_Revision.xlsx": (2016, 1520, 152),
    "mhclg_RO3_2016-17_data_by_LA.xlsx": (2017, 1520, 152),
    "mhclg_RO3_2017-18_data_by_LA_-_revised.xlsx": (2018, 1520, 152),
    "mhclg_RO3_2018-19_data_by_LA.xlsx": (2019, 1520, 152),
    "mhclg_RO3_2019-20_data_by_LA.ods": (2020, 1510, 151),
    "mhclg_RO3_2020-21_data_by_LA.ods": (2021, 1510, 151),
    "goodair_RSX_2021-22_data_by_LA_Live.csv": (2022, 304, 152),
    "mhclg_RO3_2022-23_data_by_LA.ods": (2023, 1520, 152),
    "mhclg_RO3_2023-24_data_by_LA.ods": (2024, 1530, 153),
    "mhclg_RO3_LA_Data_2024-25_data_by_LA.ods": (2025, 1530, 153),
    "mhclg_RSX_2022-23_data_by_LA.ods": (2023, 304, 152),
    "mhclg_RSX_2023-24_data_by_LA.ods": (2024, 306, 153),
    "mhclg_RSX_LA_Data_2024-25_data_by_LA.ods": (2025, 306, 153),
}


@pytest.fixture(scope="module")
def parsed() -> dict[str, pl.DataFrame]:
    return {f: mhclg.parse(REF / f) for f in FILES}


def value(frame: pl.DataFrame, gss: str, measure: str) -> tuple[float | None, str | None]:
    hit = frame.filter((pl.col("gss_code") == gss) & (pl.col("measure") == measure))
    assert hit.height == 1, hit
    return hit["value"][0], hit["marker"][0]


@needs_ref
def test_every_file_detected_and_counted(parsed: dict[str, pl.DataFrame]) -> None:
    for f, (year, rows, councils) in FILES.items():
        frame = parsed[f]
        assert mhclg.detect(REF / f), f
        assert frame.schema == pl.Schema(MEASURES_SCHEMA)
        assert (frame.height, frame["gss_code"].n_unique()) == (rows, councils), f
        assert frame["year"].unique().to_list() == [year]
        assert frame["reference_date"].unique().to_list() == [dt.date(year, 3, 31)]
        assert frame["gss_code"].null_count() == 0  # 2013-14 borrows GSS codes from the 2014-15 file by E-code
        assert frame["la_code"].null_count() == frame.height
        assert frame["unit"].unique().to_list() == ["gbp"]
        assert frame["source"].unique().to_list() == ["mhclg_ro"]
        measures = set(frame["measure"].unique().to_list())
        if "RSX" in f:
            assert measures == {"spend_cyp_total", "spend_cyp_total_net"}
        elif year == 2014:
            assert "spend_cyp_total" not in measures and "spend_csc_total" in measures and "spend_cla" in measures
        else:
            assert {"spend_cla", "spend_csc_total", "spend_cyp_total", "spend_safeguarding_net"} <= measures
    assert not mhclg.detect(REFERENCE / "s251" / "goodair_outturn_1314.csv")


@needs_ref
def test_values_in_pounds(parsed: dict[str, pl.DataFrame]) -> None:
    ro1314 = parsed["mhclg_RO3_2013-14_Revision.xlsx"]
    assert value(ro1314, "E08000017", "spend_cla") == (27_318_000.0, None)  # Doncaster, £27,318 thousand
    assert value(ro1314, "E08000017", "spend_csc_total")[0] == 56_646_000.0
    assert value(ro1314, "E08000021", "spend_cla")[0] == 669_000.0  # Newcastle: RO3 2013-14 CLA as published
    ro1718 = parsed["mhclg_RO3_2017-18_data_by_LA_-_revised.xlsx"]
    assert value(ro1718, "E08000021", "spend_cyp_total")[0] == 55_918_000.0
    assert value(ro1718, "E08000021", "spend_cla")[0] == 26_141_000.0
    ro2425 = parsed["mhclg_RO3_LA_Data_2024-25_data_by_LA.ods"]
    assert value(ro2425, "E08000017", "spend_cla") == (58_148_000.0, None)
    assert value(ro2425, "E10000016", "spend_cla")[0] == 230_066_530.0  # Kent reports fractional thousands
    # CSC = TOTAL CHILDREN SOCIAL CARE less Sure Start and services for young people
    assert value(ro2425, "E08000017", "spend_csc_total")[0] == 97_940_000.0
    assert value(ro2425, "E08000017", "spend_cyp_total")[0] == 105_170_000.0
    rsx2122 = parsed["goodair_RSX_2021-22_data_by_LA_Live.csv"]
    assert value(rsx2122, "E10000016", "spend_cyp_total") == (273_299_000.0, None)  # "273,299" in the CSV
    assert value(rsx2122, "E10000016", "spend_cyp_total_net")[0] == 260_664_000.0


@needs_ref
def test_rsx_cross_check_equals_ro3_total(parsed: dict[str, pl.DataFrame]) -> None:
    for ro, rsx in (
        ("mhclg_RO3_2022-23_data_by_LA.ods", "mhclg_RSX_2022-23_data_by_LA.ods"),
        ("mhclg_RO3_LA_Data_2024-25_data_by_LA.ods", "mhclg_RSX_LA_Data_2024-25_data_by_LA.ods"),
    ):
        a = parsed[ro].filter(pl.col("measure") == "spend_cyp_total").select("gss_code", "value")
        b = parsed[rsx].filter(pl.col("measure") == "spend_cyp_total").select("gss_code", "value")
        joined = a.join(b, on="gss_code", suffix="_rsx")
        assert joined.height == a.height
        assert joined.filter(pl.col("value") != pl.col("value_rsx")).height == 0


@needs_ref
def test_missing_returns_are_null_with_marker(parsed: dict[str, pl.DataFrame]) -> None:
    ro2223 = parsed["mhclg_RO3_2022-23_data_by_LA.ods"]
    assert value(ro2223, "E08000025", "spend_cla") == (None, "[x]")  # Birmingham: Notes M
    assert value(ro2223, "E08000025", "spend_csc_total") == (None, "[x]")
    assert ro2223.filter(pl.col("value").is_null())["gss_code"].n_unique() == 4
    ro2021 = parsed["mhclg_RO3_2020-21_data_by_LA.ods"]
    assert value(ro2021, "E06000038", "spend_cla") == (None, "...")  # Reading: '...'
    ro1617 = parsed["mhclg_RO3_2016-17_data_by_LA.xlsx"]
    assert value(ro1617, "E06000053", "spend_cla") == (None, "\u2026")  # Isles of Scilly: '…'


def test_good_fixture() -> None:
    frame = mhclg.parse(MALFORMED / "mhclg_RO3_2024-25_good.xlsx")
    assert frame.height == 12  # Northshire and Southby; the shire district is dropped
    assert value(frame, "E06999901", "spend_cla") == (1_000_000.0, None)
    assert value(frame, "E06999901", "spend_csc_total")[0] == (2500 - 100 - 50) * 1000.0
    assert value(frame, "E06999902", "spend_cla") == (None, "[x]")


@pytest.mark.parametrize(
    ("name", "row", "column", "text"),
    [
        ("mhclg_RO3_2024-25_renamed_column.xlsx", 7, "Class", "missing from the header"),
        (
            "mhclg_RO3_2024-25_non_numeric.xlsx",
            8,
            "Children's social care - Children Looked After - Total Expenditure (C3 = C1 + C2)",
            "'1,0OO' is not a number",
        ),
        ("mhclg_RO3_2024-25_duplicated.xlsx", 11, "E-code", "duplicated council-year"),
        ("mhclg_RO3_2024-25_empty.xlsx", None, None, "file is empty"),
        ("mhclg_RO3_2024-25_truncated.xlsx", None, None, "not a readable spreadsheet"),
        (
            "mhclg_RO3_2024-25_no_cla_column.xlsx",
            None,
            "Children's social care - Children Looked After - Total Expenditure (C3)",
            "no column for",
        ),
    ],
)
def test_malformed(name: str, row: int | None, column: str | None, text: str) -> None:
    with pytest.raises(EvalkitError) as info:
        mhclg.parse(MALFORMED / name)
    err = info.value
    assert (err.file, err.row, err.column) == (name, row, column)
    assert text in err.message
    assert "\n" not in str(err)
