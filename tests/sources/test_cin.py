"""CIN parser: real values from the five EES tables and malformed inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.sources import cin
from evalkit.sources.common import MEASURES_SCHEMA
from tests.shared_data import REFERENCE

REF = REFERENCE / "cin"
MALFORMED = Path(__file__).parent / "malformed"
needs_ref = pytest.mark.skipif(not REF.is_dir(), reason=f"reference folder {REF} is absent")

FILES = {
    "b1": "ees_b1_children_in_need_2013_to_2025.csv",
    "c1": "ees_c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv",
    "c4": "ees_c4_children_in_need_section_47s_and_icpcs_2013_to_2025.csv",
    "d3": "ees_d3_cpps_subsequent_plan_2013_to_2025.csv",
    "d5": "ees_d5_cpps_at31march_by_duration_2013_to_2025.csv",
}


@pytest.fixture(scope="module")
def parsed() -> dict[str, pl.DataFrame]:
    return {t: cin.parse(REF / f) for t, f in FILES.items()}


def value(frame: pl.DataFrame, year: int, la_code: str, measure: str) -> tuple[float | None, str | None]:
    hit = frame.filter((pl.col("year") == year) & (pl.col("la_code") == la_code) & (pl.col("measure") == measure))
    assert hit.height == 1, hit
    return hit["value"][0], hit["marker"][0]


@needs_ref
def test_row_counts_years_and_measures(parsed: dict[str, pl.DataFrame]) -> None:
    measures = {t: {m for m, _ in cols.values()} for t, cols in cin.TABLES.items()}
    for table, frame in parsed.items():
        assert cin.detect(REF / FILES[table])
        assert dict(frame.schema) == MEASURES_SCHEMA
        la_rows = 1976  # 152 LA rows x 13 years in each file
        assert frame.height == la_rows * len(measures[table])
        assert set(frame["measure"]) == measures[table]
        assert sorted(frame["year"].unique()) == list(range(2013, 2026))
        assert frame["reference_date"].max() == dt.date(2025, 3, 31)
        assert frame.filter(pl.col("value").is_null() & pl.col("marker").is_null()).height == 0


@needs_ref
def test_county_durham_2025(parsed: dict[str, pl.DataFrame]) -> None:
    c1 = parsed["c1"]
    assert value(c1, 2025, "840", "referrals") == (5378.0, None)
    assert value(c1, 2025, "840", "rereferrals") == (1003.0, None)
    assert value(c1, 2025, "840", "rereferral_percent") == (18.7, None)
    assert c1.filter(pl.col("measure") == "rereferral_percent")["unit"].unique().to_list() == ["percent"]
    b1 = parsed["b1"]
    assert value(b1, 2025, "840", "cin_at_31_march") == (4415.0, None)
    assert value(b1, 2025, "840", "cin_starts") == (4272.0, None)
    assert value(parsed["c4"], 2025, "840", "section47") == (2161.0, None)
    assert value(parsed["c4"], 2025, "840", "icpc") == (819.0, None)
    assert value(parsed["d3"], 2025, "840", "cpp_starts") == (730.0, None)
    assert value(parsed["d3"], 2025, "840", "cpp_subsequent_percent") == (21.2, None)
    assert value(parsed["d5"], 2025, "840", "cpp_at_31_march") == (489.0, None)
    row = b1.filter((pl.col("la_code") == "840") & (pl.col("year") == 2025)).row(0, named=True)
    assert (row["gss_code"], row["la_name"]) == ("E06000047", "County Durham")
    assert value(b1, 2025, "371", "cin_at_31_march") == (2251.0, None)  # Doncaster


@needs_ref
def test_suppression_markers(parsed: dict[str, pl.DataFrame]) -> None:
    # 2013,...,420,E06000053,Isles of Scilly,Referrals and Re-referrals,13,c,c,0,0,c,c,9,c,c
    assert value(parsed["c1"], 2013, "420", "referrals") == (13.0, None)
    assert value(parsed["c1"], 2013, "420", "rereferrals") == (None, "c")
    assert value(parsed["c1"], 2013, "420", "rereferral_percent") == (None, "c")
    markers = {t: dict(f["marker"].value_counts().rows()) for t, f in parsed.items()}
    assert markers["c1"] == {None: 5866, "c": 25, "u": 8, "x": 29}
    assert markers["d3"] == {None: 3891, "c": 46, "u": 3, "x": 6, "z": 6}
    # nothing suppressed became zero: every c/u/x/z cell is null
    for frame in parsed.values():
        assert frame.filter(pl.col("marker").is_not_null() & pl.col("value").is_not_null()).height == 0


@needs_ref
def test_geography_history(parsed: dict[str, pl.DataFrame]) -> None:
    b1 = parsed["b1"].filter(pl.col("measure") == "cin_at_31_march")
    years = lambda code: sorted(b1.filter(pl.col("la_code") == code)["year"].to_list())  # noqa: E731
    assert years("928") == list(range(2013, 2022))
    assert years("940") == list(range(2022, 2026))
    assert years("942") == [2024, 2025]
    gss = b1.filter(pl.col("la_code") == "815").sort("year")["gss_code"].to_list()
    assert gss[0] == "E10000023" and gss[-1] == "E06000065"


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("cin_renamed_column.csv", 1, "referral_count", "unrecognised layout"),
        ("cin_missing_column.csv", 1, "rereferral_percent", "unrecognised layout"),
        ("cin_non_numeric.csv", 3, "referral_count", "'12O' is not a number"),
        ("cin_cp1252.csv", 3, "la_name", "cannot be decoded"),
        ("cin_empty.csv", 1, None, "empty"),
        ("cin_truncated.csv", 4, "category", "truncated"),
        ("cin_duplicate.csv", 5, "old_la_code", "duplicated council-year"),
    ],
)
def test_malformed(name: str, row: int, column: str | None, words: str) -> None:
    with pytest.raises(EvalkitError) as info:
        cin.parse(MALFORMED / name)
    err = info.value
    assert err.file == name and err.row == row and err.column == column
    assert words in str(err) and "\n" not in str(err)


def test_small_valid_file_markers(tmp_path: Path) -> None:
    src = (MALFORMED / "cin_duplicate.csv").read_text().splitlines()
    path = tmp_path / "c1_children_in_need_referrals_and_rereferrals.csv"
    path.write_text("\n".join(src[:4]) + "\n")
    frame = cin.parse(path)
    assert value(frame, 2025, "012", "rereferrals") == (None, "c")
    assert value(frame, 2025, "011", "referrals") == (2000.0, None)
