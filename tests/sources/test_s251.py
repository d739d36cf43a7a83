"""S251 parser: the six pre-EES line files, the EES highlights and national3 files, malformed inputs,
and the write_demo round trip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from evalkit.demo import writers
from evalkit.errors import EvalkitError
from evalkit.sources import s251
from evalkit.sources.common import MEASURES_SCHEMA, finish_measures
from tests.shared_data import REFERENCE

REF = REFERENCE / "s251"
MALFORMED = Path(__file__).parent / "malformed"
needs_ref = pytest.mark.skipif(not REF.is_dir(), reason=f"reference folder {REF} is absent")

LINE_FILES = {
    2009: "goodair_outturn_0809.csv",
    2010: "goodair_outturn_0910.csv",
    2011: "goodair_outturn_1011.csv",
    2012: "goodair_outturn_1112.csv",
    2013: "goodair_outturn_1213.csv",
    2014: "goodair_outturn_1314.csv",
}
HIGHLIGHTS = "ees_cfr-s251_highlightssummary_v1.2_2014-15_to_2019-20.csv"
NATIONAL3 = "ees_s251_childrens_young_peoples_services_national3_2015-16_to_2021-22.csv"


@pytest.fixture(scope="module")
def lines() -> dict[int, pl.DataFrame]:
    return {y: s251.parse(REF / f) for y, f in LINE_FILES.items()}


@pytest.fixture(scope="module")
def highlights() -> pl.DataFrame:
    return s251.parse(REF / HIGHLIGHTS)


def value(frame: pl.DataFrame, year: int, la_code: str, measure: str) -> tuple[float | None, str | None]:
    hit = frame.filter((pl.col("year") == year) & (pl.col("la_code") == la_code) & (pl.col("measure") == measure))
    assert hit.height == 1, hit
    return hit["value"][0], hit["marker"][0]


@needs_ref
def test_detect_all_reference_files() -> None:
    for f in list(LINE_FILES.values()) + [HIGHLIGHTS, NATIONAL3]:
        assert s251.detect(REF / f), f
    assert not s251.detect(REF / "webb_ipse_merged_data.csv")  # derived panel, not an official file
    assert not s251.detect(REF / "lait_bds_long_0_2026-04-08.parquet")


@needs_ref
def test_row_counts_schema_and_units(lines: dict[int, pl.DataFrame]) -> None:
    # 10 measures (5 gross + 5 net) per council; 150 councils in 2008-09, 152 after
    for year, frame in lines.items():
        assert frame.schema == pl.Schema(MEASURES_SCHEMA)
        councils = 150 if year == 2009 else 152
        assert frame.height == councils * 10, year
        assert frame["la_code"].n_unique() == councils
        assert frame["year"].unique().to_list() == [year]
        assert frame["reference_date"].unique().to_list() == [dt.date(year, 3, 31)]
        assert frame["unit"].unique().to_list() == ["gbp"]
        assert frame["source"].unique().to_list() == ["s251"]
        assert frame["gss_code"].null_count() == frame.height
        assert frame["value"].null_count() == 0  # no mapped line is NULL or blank in the real files


@needs_ref
def test_doncaster_cla_found_every_year_despite_line_shifts(lines: dict[int, pl.DataFrame]) -> None:
    # "Total Children Looked After" is line 14, 17, 19, 12, 15, 16 in 2008-09 .. 2013-14
    expected = {
        2009: 15_243_532.0,
        2010: 19_509_145.26,
        2011: 20_710_595.94,
        2012: 21_861_778.0,
        2013: 25_823_919.0,
        2014: 26_375_083.0,
    }
    for year, cla in expected.items():
        assert value(lines[year], year, "371", "spend_cla") == (pytest.approx(cla, abs=0.005), None)
    # FORMATS 6a example row: 371,Doncaster,16,16 Total Children Looked After,...,26375083,453510,25921573,...
    assert value(lines[2014], 2014, "371", "spend_cla_net")[0] == 25_921_573.0
    assert lines[2009].filter(pl.col("la_code") == "371")["la_name"][0] == "Doncaster"  # trailing space stripped


@needs_ref
def test_doncaster_totals_and_csc_definition(lines: dict[int, pl.DataFrame]) -> None:
    # 2013-14: CLA 26,375,083 + other 7,235,605 + safeguarding 11,265,621 + family support 4,269,625
    # + youth justice 2,097,984 = 51,243,918; CYPS total (excl. CERA) 60,246,088
    assert value(lines[2014], 2014, "371", "spend_csc_total")[0] == 51_243_918.0
    assert value(lines[2014], 2014, "371", "spend_cyp_total")[0] == 60_246_088.0
    assert value(lines[2014], 2014, "371", "spend_safeguarding")[0] == 11_265_621.0
    assert value(lines[2014], 2014, "371", "spend_family_support")[0] == 4_269_625.0
    # 2012-13 safeguarding line has a double space and the ReportGroup typo; found by text
    assert value(lines[2013], 2013, "371", "spend_safeguarding")[0] == 11_740_668.0
    # 2008-09: no Sure Start or young people's lines, so CSC = CYPS total
    assert (
        value(lines[2009], 2009, "371", "spend_csc_total")[0]
        == value(lines[2009], 2009, "371", "spend_cyp_total")[0]
        == 35_795_414.0
    )
    # 2010-11: strategy total + the stand-alone commissioning and social work line are both counted
    assert value(lines[2011], 2011, "371", "spend_csc_total")[0] == pytest.approx(47_111_418.68, abs=0.01)
    assert value(lines[2012], 2012, "371", "spend_csc_total")[0] == 46_253_527.0
    for year, frame in lines.items():
        wide = frame.pivot(on="measure", index="la_code", values="value")
        assert (wide["spend_csc_total"] <= wide["spend_cyp_total"] + 1.0).all(), (
            year
        )  # pence rounding (Bedfordshire 2008-09)
        assert (wide["spend_cla"] <= wide["spend_csc_total"] + 0.01).all(), year


@needs_ref
def test_highlights_summary(highlights: pl.DataFrame) -> None:
    assert highlights.height == 911
    assert highlights["measure"].unique().to_list() == ["spend_cyp_total"]
    assert sorted(highlights["year"].unique().to_list()) == [2015, 2016, 2017, 2018, 2019, 2020]
    assert highlights.filter(pl.col("year") == 2020).height == 151
    # £ million x 1e6: Kent 2019-20 220.226 -> £220,226,000; Newcastle 2017-18 121.834 (the known slip)
    assert value(highlights, 2020, "886", "spend_cyp_total")[0] == 220_226_000.0
    assert value(highlights, 2018, "391", "spend_cyp_total")[0] == 121_834_000.0
    assert highlights.filter(pl.col("la_code") == "391")["gss_code"].unique().to_list() == ["E08000021"]


@needs_ref
def test_national3_has_no_la_rows() -> None:
    frame = s251.parse(REF / NATIONAL3)
    assert frame.height == 0
    assert frame.schema == pl.Schema(MEASURES_SCHEMA)


def test_normalise_description() -> None:
    n = s251.normalise_description
    assert n("16 Total Children Looked After") == "total children looked after"
    assert (
        n("11Short breaks (respite) for looked after disabled children")
        == "short breaks respite for looked after disabled children"
    )
    assert n("19 Comissioning and Children\u2019s Services Strategy") == "commissioning and children services strategy"
    assert (
        n("20 Total  Safeguarding Children and Young Peoples Services\t")
        == "total safeguarding children and young people services"
    )
    assert n("3.2.1 Other children and families services") == n("17 Other children's and families services")


def test_year_comes_from_the_file_name() -> None:
    assert s251.year_from_file_name(Path("outturn_0809.csv")) == 2009
    with pytest.raises(EvalkitError, match="financial year"):
        s251.year_from_file_name(Path("outturn.csv"))


# --- hand-made fixtures ---------------------------------------------------------------------------


def test_good_fixture_and_utf8_variant() -> None:
    good = s251.parse(MALFORMED / "s251_good_outturn_1314.csv")
    utf8 = s251.parse(MALFORMED / "s251_utf8_outturn_1314.csv")  # UTF-8 where cp1252 is expected: fine
    assert good.drop("file").equals(utf8.drop("file"))
    assert value(good, 2014, "011", "spend_csc_total")[0] == 1_950_000.5  # decimal pence kept
    assert value(good, 2014, "011", "spend_cla")[0] == 1_000_000.0
    assert good.filter(pl.col("la_code") == "011")["la_name"][0] == "Northshire"


def test_null_string_is_missing_not_zero() -> None:
    frame = s251.parse(MALFORMED / "s251_null_outturn_1112.csv")
    assert value(frame, 2012, "011", "spend_cla") == (None, "null")
    assert value(frame, 2012, "011", "spend_csc_total") == (None, "null")  # a missing part -> missing total
    assert value(frame, 2012, "012", "spend_csc_total")[0] == 900_000 + 300_000 + 200_000 + 100_000 + 10_000 + 40_000


@pytest.mark.parametrize(
    ("name", "row", "column", "text"),
    [
        ("s251_renamed_column_outturn_1314.csv", 1, "TotalExpenditure", "unrecognised layout"),
        ("s251_non_numeric_outturn_1314.csv", 4, "TotalExpenditure", "'3OO000' is not a number"),
        ("s251_undecodable_outturn_1314.csv", 8, None, "cannot be decoded"),
        ("s251_empty_outturn_1314.csv", None, None, "file is empty"),
        ("s251_truncated_outturn_1314.csv", 13, "CYPServiceDescription", "truncated"),
        ("s251_duplicated_outturn_1314.csv", 14, "CYPServiceDescription", "duplicated council-year-line"),
    ],
)
def test_malformed(name: str, row: int | None, column: str | None, text: str) -> None:
    with pytest.raises(EvalkitError) as info:
        s251.parse(MALFORMED / name)
    err = info.value
    assert err.file == name
    assert err.row == row
    assert err.column == column
    assert text in err.message
    assert "\n" not in str(err)


# --- demo round trip ------------------------------------------------------------------------------


def _demo_frame(with_net: bool) -> pl.DataFrame:
    rows = []
    for year in range(2010, 2026):
        for i, (code, gss, name) in enumerate(
            (("011", "E06999901", "Northshire"), ("012", "E06999902", "Southby, East"))
        ):
            cla = 1_000_000.25 * (year - 2000) + i * 7
            sg, fs = 400_000.0 + year, 123_456.78
            csc = cla + sg + fs + 999_999.99
            for m, v in (
                ("spend_cla", cla),
                ("spend_safeguarding", sg),
                ("spend_family_support", fs),
                ("spend_csc_total", csc),
            ):
                rows.append(
                    {
                        "year": year,
                        "la_code": code,
                        "gss_code": gss,
                        "la_name": name,
                        "measure": m,
                        "value": v,
                        "marker": None,
                    }
                )
                if with_net:
                    rows.append(
                        {
                            "year": year,
                            "la_code": code,
                            "gss_code": gss,
                            "la_name": name,
                            "measure": m + "_net",
                            "value": round(v * 0.9, 2),
                            "marker": None,
                        }
                    )
    rows.append(
        {
            "year": 2026,
            "la_code": "011",
            "gss_code": "E06999901",
            "la_name": "Northshire",
            "measure": "spend_cla",
            "value": None,
            "marker": "c",
        }
    )
    rows.append(
        {
            "year": 2026,
            "la_code": "011",
            "gss_code": "E06999901",
            "la_name": "Northshire",
            "measure": "spend_csc_total",
            "value": None,
            "marker": "x",
        }
    )
    if with_net:
        rows += [dict(r, measure=r["measure"] + "_net") for r in rows[-2:]]
    frame = pl.DataFrame(rows, infer_schema_length=None).with_columns(
        pl.lit("s251").alias("source"),
        pl.lit("demo").alias("file"),
        pl.lit("gbp").alias("unit"),
        pl.date(pl.col("year"), 3, 31).alias("reference_date"),
    )
    return finish_measures(frame)


@pytest.mark.parametrize("with_net", [False, True])
def test_write_demo_round_trip(tmp_path: Path, with_net: bool) -> None:
    frame = _demo_frame(with_net)
    paths = writers.write_s251(frame, tmp_path / "a")
    assert len(paths) == 1 and s251.detect(paths[0])
    back = s251.parse(paths[0])
    assert back["file"].unique().to_list() == [paths[0].name]
    assert back.drop("file").equals(frame.drop("file"))
    again = writers.write_s251(back, tmp_path / "b")
    assert again[0].read_bytes() == paths[0].read_bytes()  # byte-deterministic


def test_write_demo_rejects_what_it_cannot_represent(tmp_path: Path) -> None:
    frame = _demo_frame(False)
    with pytest.raises(ValueError, match="cannot represent"):
        writers.write_s251(frame.with_columns(pl.lit("spend_other").alias("measure")), tmp_path)
    partial_net = pl.concat(
        [frame, frame.filter(pl.col("measure") == "spend_cla").with_columns(pl.lit("spend_cla_net").alias("measure"))]
    )
    with pytest.raises(ValueError, match="mirror"):
        writers.write_s251(partial_net, tmp_path)
