"""neighbours: DfE statistical neighbours, 2021 groupings and 2025 model, as one long frame."""

from __future__ import annotations

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.sources import neighbours
from tests.shared_data import REFERENCE

DIR = REFERENCE / "neighbours"
F2021 = DIR / "dfe_New_Statistical_Neighbour_Groupings_April_2021.csv"
F2025 = DIR / "dfe_sn_model_2025_wide.csv"


@pytest.fixture(scope="module")
def sn() -> pl.DataFrame:
    if not (F2021.is_file() and F2025.is_file()):
        pytest.skip(f"reference data not available: {DIR} is absent")
    return pl.concat([neighbours.parse(F2021), neighbours.parse(F2025)])


def nb(frame, model, code, rank):
    rows = frame.filter((pl.col("model") == model) & (pl.col("la_code") == code) & (pl.col("rank") == rank))
    assert rows.height == 1
    return rows.row(0, named=True)


def test_detect():
    if not DIR.is_dir():
        pytest.skip(f"reference data not available: {DIR} is absent")
    assert neighbours.detect(F2021) and neighbours.detect(F2025)
    assert not neighbours.detect(DIR / "d2i_Provider_data_lookup.csv")


def test_shape(sn):
    m21 = sn.filter(pl.col("model") == "2021")
    m25 = sn.filter(pl.col("model") == "2025")
    assert m21.height == 1560 and m21["la_code"].n_unique() == 156  # 152 current + 4 "Old SNs"
    assert m21.filter(pl.col("pre_reorganisation"))["la_code"].unique().sort().to_list() == ["835", "836", "837", "928"]
    assert m25.height == 1530 and m25["la_code"].n_unique() == 153
    assert sn.schema == neighbours.SCHEMA
    assert sorted(sn["rank"].unique().to_list()) == list(range(1, 11))


def test_named_values_2021(sn):
    camden = nb(sn, "2021", "202", 1)
    assert camden["neighbour_code"] == "213" and camden["closeness"] == "very_close" and camden["la_name"] == "Camden"
    assert nb(sn, "2021", "202", 2)["neighbour_code"] == "205"
    assert nb(sn, "2021", "202", 2)["closeness"] == "close"
    assert nb(sn, "2021", "201", 10)["neighbour_code"] == "868"  # City of London, last neighbour
    northants = nb(sn, "2021", "928", 1)
    assert northants["neighbour_code"] == "886" and northants["pre_reorganisation"]
    dorset = nb(sn, "2021", "835", 1)
    assert dorset["closeness"] == "extremely_close" and dorset["neighbour_code"] == "893"


def test_named_values_2025(sn):
    bd = nb(sn, "2025", "301", 1)
    assert bd["neighbour_code"] == "308" and bd["closeness"] == "close"  # published as 'Close ' (trailing space)
    assert neighbours.neighbours_of(sn, "371", "2025") == [
        "372",
        "370",
        "384",
        "894",
        "357",
        "812",
        "335",
        "861",
        "354",
        "813",
    ]
    assert nb(sn, "2025", "885", 1)["closeness"] == "very_close"  # 'Very close'


def test_closeness_counts(sn):
    counts = dict(sn.filter(pl.col("model") == "2025").group_by("closeness").len().iter_rows())
    assert counts == {"very_close": 820, "close": 513, "somewhat_close": 136, "not_close": 49, "extremely_close": 12}


# --- malformed inputs --------------------------------------------------------------------------------

H25 = ",".join(neighbours.HEADER_2025) + "\n"
ROW25 = (
    "301,Barking and Dagenham,3,London,"
    + ",".join(f"{c},Close " for c in ["308", "821", "313", "333", "336", "307", "304", "312", "874", "203"])
    + "\n"
)


@pytest.mark.parametrize(
    "text,row,column,match",
    [
        (H25.replace("SN_3P", "SN_3_band") + ROW25, 1, "SN_3P", "layout"),
        (H25 + ROW25.replace("821,Close ", "821,Quite close"), 2, "SN_2P", "closeness"),
        (H25 + ROW25.replace("313,", "31X,"), 2, "SN_3", "not a DfE"),
        (H25 + ROW25 + ROW25[:40], 3, None, "truncated"),
    ],
)
def test_malformed(tmp_path, text, row, column, match):
    path = tmp_path / "sn.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(EvalkitError, match=match) as info:
        neighbours.parse(path)
    assert "\n" not in str(info.value) and info.value.file == "sn.csv" and info.value.row == row
    if column:
        assert info.value.column == column


def test_empty(tmp_path):
    path = tmp_path / "sn.csv"
    path.write_bytes(b"")
    with pytest.raises(EvalkitError, match="empty"):
        neighbours.parse(path)
