"""LAIT parser: S251 finance rows of the two bds_long parquet snapshots, and malformed inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.sources import lait
from evalkit.sources.common import MEASURES_SCHEMA
from tests.shared_data import REFERENCE

REF = REFERENCE / "s251"
MALFORMED = Path(__file__).parent / "malformed"
needs_ref = pytest.mark.skipif(not REF.is_dir(), reason=f"reference folder {REF} is absent")
OLD = "lait_bds_long_0_2025-05-28.parquet"
NEW = "lait_bds_long_0_2026-04-08.parquet"


@pytest.fixture(scope="module")
def snapshots() -> dict[str, pl.DataFrame]:
    return {"old": lait.parse(REF / OLD), "new": lait.parse(REF / NEW)}


def value(frame: pl.DataFrame, year: int, la_code: str, measure: str) -> tuple[float | None, str | None]:
    hit = frame.filter((pl.col("year") == year) & (pl.col("la_code") == la_code) & (pl.col("measure") == measure))
    assert hit.height == 1, hit
    return hit["value"][0], hit["marker"][0]


@needs_ref
def test_detect() -> None:
    assert lait.detect(REF / OLD) and lait.detect(REF / NEW)
    assert not lait.detect(REF / "lait_data_dictionary_2026-04-08.csv")
    assert not lait.detect(REF / "goodair_outturn_1314.csv")


@needs_ref
def test_rows_years_units(snapshots: dict[str, pl.DataFrame]) -> None:
    old, new = snapshots["old"], snapshots["new"]
    for frame in (old, new):
        assert frame.schema == pl.Schema(MEASURES_SCHEMA)
        # 158 LA codes (incl. pre-reorganisation councils) x 9 years x 8 measures
        assert frame.height == 11376
        assert frame["la_code"].n_unique() == 158
        assert frame["la_code"].cast(pl.Int32).max() < 970  # England (970) and regions (980-990) dropped
        assert frame["gss_code"].null_count() == frame.height
        units = dict(frame.select("measure", "unit").unique().iter_rows())
        assert units == {
            "spend_cla": "gbp",
            "spend_safeguarding": "gbp",
            "spend_family_support": "gbp",
            "spend_cyp_total": "gbp",
            "spend_csc_total": "gbp",
            "spend_cla_per_child_week": "gbp_per_child_week",
            "spend_fostering_per_child_week": "gbp_per_child_week",
            "spend_residential_per_child_week": "gbp_per_child_week",
        }
    assert sorted(old["year"].unique().to_list()) == list(range(2016, 2025))  # 2015-16 .. 2023-24
    assert sorted(new["year"].unique().to_list()) == list(range(2017, 2026))  # 2016-17 .. 2024-25
    assert new["reference_date"].min() == dt.date(2017, 3, 31)


@needs_ref
def test_values(snapshots: dict[str, pl.DataFrame]) -> None:
    old, new = snapshots["old"], snapshots["new"]
    # Doncaster total CLA (gross, £)
    assert value(old, 2016, "371", "spend_cla")[0] == 26_346_809.0
    assert value(new, 2017, "371", "spend_cla")[0] == 28_689_653.0
    assert value(new, 2025, "371", "spend_cla")[0] == 56_924_814.0
    # Kent 2019-20 CYPS total (SOURCES: equals the EES highlights 220.226m)
    assert value(new, 2020, "886", "spend_cyp_total")[0] == 220_225_722.0
    # Newcastle 2017-18
    assert value(new, 2018, "391", "spend_cyp_total")[0] == 61_834_299.0
    assert value(new, 2018, "391", "spend_cla")[0] == 30_996_952.0
    assert value(new, 2018, "391", "spend_cla_per_child_week")[0] == 1050.0
    # CSC = TotalLAC + Other C&F + Safeguarding + Family support + Youth justice
    assert value(new, 2018, "391", "spend_csc_total")[0] == 51_391_884.0
    assert value(new, 2020, "886", "spend_csc_total")[0] == 201_667_903.0
    # the shared years of the two snapshots are identical
    shared = old.filter(pl.col("year") >= 2017).drop("file")
    assert shared.equals(new.filter(pl.col("year") <= 2024).drop("file"))


@needs_ref
def test_missing_is_null_with_marker(snapshots: dict[str, pl.DataFrame]) -> None:
    new = snapshots["new"]
    # Wandsworth 2024-25 is '-' (removed for quality concerns, per the dictionary)
    assert value(new, 2025, "212", "spend_cla") == (None, "-")
    assert value(new, 2025, "212", "spend_csc_total") == (None, "-")
    assert new.filter(pl.col("value").is_null())["marker"].unique().to_list() == ["-"]
    # '-' cells (mostly councils that did not exist that year) are null, never 0
    assert new.filter(pl.col("measure") == "spend_cla")["value"].null_count() == 58
    assert snapshots["old"].filter(pl.col("measure") == "spend_cla")["value"].null_count() == 57


def test_good_fixture() -> None:
    frame = lait.parse(MALFORMED / "lait_good.parquet")
    assert frame.height == 12
    assert value(frame, 2020, "011", "spend_csc_total")[0] == 1_000_000 + 200_000 + 300_000 + 400_000 + 50_000
    assert value(frame, 2020, "012", "spend_cla") == (None, "-")
    assert value(frame, 2020, "012", "spend_csc_total") == (None, "-")


@pytest.mark.parametrize(
    ("name", "row", "column", "text"),
    [
        ("lait_renamed_column.parquet", 1, "Values", "missing"),
        ("lait_non_numeric.parquet", 7, "Values", "'12x4' is not a number"),
        ("lait_empty.parquet", None, None, "file is empty"),
        ("lait_truncated.parquet", None, None, "not a readable parquet file"),
        ("lait_duplicated.parquet", 22, "LA Number", "duplicated council-year-indicator"),
    ],
)
def test_malformed(name: str, row: int | None, column: str | None, text: str) -> None:
    with pytest.raises(EvalkitError) as info:
        lait.parse(MALFORMED / name)
    err = info.value
    assert (err.file, err.row, err.column) == (name, row, column)
    assert text in err.message
    assert "\n" not in str(err)


@needs_ref
def test_dictionary_check() -> None:
    lait.check_dictionary(REF / "lait_data_dictionary_2026-04-08.csv")  # gross / weekly unit cost wording holds
