"""Workforce (CSWW) parser: both generations, real values, joint units, malformed inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.sources import workforce
from evalkit.sources.common import MEASURES_SCHEMA
from tests.shared_data import REFERENCE

REF = REFERENCE / "workforce"
MALFORMED = Path(__file__).parent / "malformed"
needs_ref = pytest.mark.skipif(not REF.is_dir(), reason=f"reference folder {REF} is absent")
NEW = "ees_csww_indicators_2017_to_2025.csv"
OLD = "ees_csww_headline_measures_2017_to_2022.csv"


@pytest.fixture(scope="module")
def new() -> pl.DataFrame:
    return workforce.parse(REF / NEW)


@pytest.fixture(scope="module")
def old() -> pl.DataFrame:
    return workforce.parse(REF / OLD)


def value(frame: pl.DataFrame, year: int, la_code: str, measure: str) -> tuple[float | None, str | None]:
    hit = frame.filter((pl.col("year") == year) & (pl.col("la_code") == la_code) & (pl.col("measure") == measure))
    assert hit.height == 1, hit
    return hit["value"][0], hit["marker"][0]


@needs_ref
def test_row_counts(new: pl.DataFrame, old: pl.DataFrame) -> None:
    assert workforce.detect(REF / NEW) and workforce.detect(REF / OLD)
    assert not workforce.detect(REFERENCE / "cin" / "ees_b1_children_in_need_2013_to_2025.csv")
    assert new.height == 1355 * 7 and old.height == 906 * 7  # LA rows x 7 measures
    assert dict(new.schema) == MEASURES_SCHEMA
    assert sorted(new["year"].unique()) == list(range(2017, 2026))
    assert sorted(old["year"].unique()) == list(range(2017, 2023))
    assert new["reference_date"].max() == dt.date(2025, 9, 30)  # inferred 30 September
    units = dict(new.select("measure", "unit").unique().rows())
    assert (
        units["agency_rate_fte"] == "percent"
        and units["social_workers_fte"] == "fte"
        and units["caseload_fte"] == "ratio"
    )


@needs_ref
def test_birmingham_2024(new: pl.DataFrame) -> None:
    # 2024,...,330,E08000025,Birmingham,766.2,794,104.5,107,99.1,103,12.9,13,u,u,u,u,...
    assert value(new, 2024, "330", "social_workers_fte") == (766.2, None)
    assert value(new, 2024, "330", "leavers_fte") == (99.1, None)
    assert value(new, 2024, "330", "turnover_rate_fte") == (12.9, None)
    assert value(new, 2024, "330", "agency_fte") == (None, "u")
    assert value(new, 2024, "330", "agency_rate_fte") == (None, "u")


@needs_ref
def test_two_generations_agree(new: pl.DataFrame, old: pl.DataFrame) -> None:
    # County Durham 2022 in the old layout: 321.3 FTE, turnover 12.5%, agency 7%, vacancy 11.8%, caseload 16.7
    assert value(old, 2022, "840", "social_workers_fte") == (321.3, None)
    assert value(old, 2022, "840", "turnover_rate_fte") == (12.5, None)
    assert value(old, 2022, "840", "agency_rate_fte") == (7.0, None)
    assert value(old, 2022, "840", "vacancy_rate_fte") == (11.8, None)
    assert value(old, 2022, "840", "caseload_fte") == (16.7, None)
    for measure in ("social_workers_fte", "agency_rate_fte", "caseload_fte"):
        assert value(new, 2022, "330", measure) == value(old, 2022, "330", measure)


@needs_ref
def test_joint_units_and_markers(new: pl.DataFrame) -> None:
    joint = new.filter(pl.col("la_code").str.contains("/")).select("year", "la_code", "gss_code").unique()
    assert set(joint.filter(pl.col("year") == 2025)["la_code"]) == {"314 / 318", "940 / 941"}
    assert set(joint.filter(pl.col("year") == 2020)["la_code"]) == {"314 / 318"}
    assert joint.filter(pl.col("la_code") == "314 / 318")["gss_code"][0] == "E09000021 / E09000027"
    assert value(new, 2025, "207", "social_workers_fte") == (None, "x")  # Kensington and Chelsea 2025
    assert dict(new["marker"].value_counts().rows()) == {None: 9433, "x": 31, "z": 5, "u": 10, "low": 6}


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("workforce_renamed_column.csv", 1, "inpost_fte", "unrecognised layout"),
        ("workforce_missing_column.csv", 1, "caseload_fte", "unrecognised layout"),
        ("workforce_non_numeric.csv", 3, "inpost_fte", "'12O' is not a number"),
        ("workforce_cp1252.csv", 3, "la_name", "cannot be decoded"),
        ("workforce_empty.csv", 1, None, "empty"),
        ("workforce_truncated.csv", 4, "turnover_rate_fte", "truncated"),
        ("workforce_duplicate.csv", 5, "old_la_code", "duplicated council-year"),
    ],
)
def test_malformed(name: str, row: int, column: str | None, words: str) -> None:
    with pytest.raises(EvalkitError) as info:
        workforce.parse(MALFORMED / name)
    err = info.value
    assert err.file == name and err.row == row and err.column == column
    assert words in str(err) and "\n" not in str(err)
