"""ofsted: official inspection workbooks (2023, 2024, 2025 layouts), the scraped D2I history,
reconciliation across publications, the combined history and the demo writer."""

from __future__ import annotations

import datetime as dt
import hashlib
import zipfile
from pathlib import Path

import polars as pl
import pytest

from evalkit.demo import writers
from evalkit.errors import EvalkitError
from evalkit.panel import ofsted_history
from evalkit.sources import ods, ofsted
from evalkit.sources.common import JUDGEMENTS_SCHEMA
from tests.shared_data import REFERENCE

DIR = REFERENCE / "ofsted"
F2023 = DIR / "ofsted_Childrens_social_care_in_England_2023_underlying_data.ods"
F2024 = DIR / "ofsted_LA_Inspection_Outcomes_as_at_March_2024.ods"
F2025 = DIR / "ofsted_LA_Inspection_Outcomes_as_at_31_March_2025.ods"
FD2I = DIR / "d2i_ofsted_csc_ilacs_history.csv"
LOOKUP = DIR.parent / "neighbours" / "d2i_Provider_data_lookup.csv"


def need_reference() -> None:
    if not all(p.is_file() for p in (F2023, F2024, F2025, FD2I, LOOKUP)):
        pytest.skip(f"reference data not available: {DIR} (or neighbours/) is absent")


@pytest.fixture(scope="module")
def o23() -> pl.DataFrame:
    need_reference()
    return ofsted.parse(F2023)


@pytest.fixture(scope="module")
def o24() -> pl.DataFrame:
    need_reference()
    return ofsted.parse(F2024)


@pytest.fixture(scope="module")
def o25() -> pl.DataFrame:
    need_reference()
    return ofsted.parse(F2025)


@pytest.fixture(scope="module")
def d2i() -> pl.DataFrame:
    need_reference()
    return ofsted.parse(FD2I)


def inspections(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("la_code", "framework", "inspection_type", "publication_date").unique()


def grades(frame: pl.DataFrame, la_code: str, published: dt.date) -> dict[str, str | None]:
    rows = frame.filter((pl.col("la_code") == la_code) & (pl.col("publication_date") == published))
    return dict(zip(rows["judgement"].to_list(), rows["grade"].to_list()))


def test_detect():
    need_reference()
    assert all(ofsted.detect(p) for p in (F2023, F2024, F2025, FD2I))
    assert not ofsted.detect(DIR / "d2i_ofsted_csc_ilacs_overview.xlsx")
    assert not ofsted.detect(DIR.parent / "dfe_las.csv")


def test_schema(o23, o24, o25, d2i):
    for f in (o23, o24, o25, d2i):
        assert f.schema == pl.Schema(JUDGEMENTS_SCHEMA)
        assert f["la_code"].null_count() == 0
        assert set(f["grade"].drop_nulls().unique()) <= {"outstanding", "good", "requires_improvement", "inadequate"}


# --- 2023 workbook --------------------------------------------------------------------------------


def test_2023_doncaster(o23):
    sif = grades(o23, "371", dt.date(2015, 11, 27))
    assert sif == {
        "overall_effectiveness": "inadequate",
        "help_and_protection": "inadequate",
        "children_in_care": "requires_improvement",
        "adoption": "good",
        "care_leavers": "requires_improvement",
        "leadership": "requires_improvement",
        "lscb": "requires_improvement",
    }
    assert grades(o23, "371", dt.date(2018, 1, 19))["overall_effectiveness"] == "good"  # SIF re-inspection
    assert grades(o23, "371", dt.date(2012, 11, 16)) == {"child_protection": "inadequate"}  # CPI
    ilacs = grades(o23, "371", dt.date(2022, 4, 8))
    assert ilacs == {
        "overall_effectiveness": "requires_improvement",
        "leadership": "inadequate",
        "help_and_protection": "requires_improvement",
        "children_in_care_and_care_leavers": "requires_improvement",
    }


def test_2023_counts(o23):
    assert o23.height == 2278
    ins = inspections(o23)
    first = ins.filter(pl.col("inspection_type") == "First SIF")
    assert first.height == 152  # 148 in table 1 + 4 LAs of the pre-restructure table
    assert first.filter(~pl.col("la_code").is_in(["835", "836", "837", "928"])).height == 148
    assert (first["publication_date"].min(), first["publication_date"].max()) == (
        dt.date(2014, 2, 11),
        dt.date(2017, 12, 8),
    )
    assert ins.filter(pl.col("inspection_type") == "SIF re-inspection").height == 21
    assert ins.filter(pl.col("framework") == "ilacs").height == 177
    assert ins.filter(pl.col("framework") == "pre_sif").height == 219
    assert o23["la_code"].n_unique() == 156


def test_2023_codes_from_names_and_links(o23):
    names = dict(o23.select("la_code", "la_name").unique().iter_rows())
    # Dorset appears in both tables: live 838 in table 1, terminated 835 in the pre-restructure table.
    assert names["838"] == "Dorset" and names["835"] == "Dorset"
    assert names["837"] == "Bournemouth" and names["928"] == "Northamptonshire"
    # North/West Northamptonshire carry no formula, only a link to /provider/44/940 and /941.
    assert names["940"] == "North Northamptonshire" and names["941"] == "West Northamptonshire"
    assert names["201"] == "City of London"


def test_ods_reader_keeps_spreadsheet_rows():
    need_reference()
    rows = dict(ods.read_ods_sheet(F2023, ofsted.SHEET_2023))
    assert rows[5][0].value == "Web link" and rows[161][0].value == "Web link"  # calamine would say 159
    assert rows[160][0].value.startswith("Table 11")
    assert "provider/44/80427" in rows[9][0].formula  # an Ofsted URN, not a DfE code
    assert ofsted.link_code(rows[9][0]) is None
    assert ofsted.link_code(rows[16][0]) == "839"


# --- 2024 and 2025 workbooks --------------------------------------------------------------------------


def test_2024(o24):
    assert o24.height == 927
    assert inspections(o24).height == 219
    assert grades(o24, "371", dt.date(2022, 4, 8))["leadership"] == "inadequate"
    # Cumbria and Northamptonshire come from the pre-restructure table.
    assert {"909", "928", "837"} <= set(o24["la_code"])


def test_2025_doncaster(o25):
    rows = o25.filter((pl.col("la_code") == "371") & (pl.col("inspection_start") == dt.date(2022, 2, 14)))
    assert rows["publication_date"].unique().to_list() == [dt.date(2022, 4, 8)]
    assert rows["gss_code"].unique().to_list() == ["E08000017"]
    got = dict(zip(rows["judgement"].to_list(), rows["grade"].to_list()))
    assert got["overall_effectiveness"] == "requires_improvement" and got["leadership"] == "inadequate"
    assert "care_leavers" not in got and got["children_in_care_and_care_leavers"] == "requires_improvement"


def test_2025_counts(o25):
    assert inspections(o25).height == 271
    assert o25.height == 1187
    counts = dict(o25.group_by("judgement").len().iter_rows())
    assert counts["children_in_care_and_care_leavers"] == 168  # the 168 rows with blank care leavers
    assert counts["care_leavers"] == counts["children_in_care"] == 103
    assert set(o25["inspection_type"]) == {"ILACS Standard Inspection", "ILACS Short Inspection"}


def test_2025_gss_beats_wrong_links(o25):
    names = dict(o25.select("la_code", "la_name").unique().iter_rows())
    # The web links say 206 for City of London and 941 for North Northamptonshire; the area codes do not.
    assert names["201"] == "City of London" and names["206"] == "Islington"
    assert names["940"] == "North Northamptonshire" and names["941"] == "West Northamptonshire"
    assert names["837"] == "Bournemouth" and names["909"] == "Cumbria" and names["928"] == "Northamptonshire"


# --- D2I scraped history -----------------------------------------------------------------------------


def test_d2i(d2i):
    assert d2i.height == 2485 and inspections(d2i).height == 497
    assert d2i["la_code"].n_unique() == 153
    doncaster = d2i.filter((pl.col("la_code") == "371") & (pl.col("publication_date") == dt.date(2022, 4, 8)))
    assert doncaster["gss_code"].unique().to_list() == ["E08000017"]
    assert doncaster["inspection_start"].unique().to_list() == [dt.date(2022, 2, 14)]
    assert doncaster["inspection_end"].unique().to_list() == [dt.date(2022, 2, 25)]
    got = dict(zip(doncaster["judgement"].to_list(), doncaster["grade"].to_list()))
    assert got["leadership"] == "inadequate" and got["children_in_care_and_care_leavers"] == "requires_improvement"
    notes = dict(d2i.group_by("grade_note").len().drop_nulls().iter_rows())
    assert notes == {
        "data_unreadable": 712,
        "inspection_pre_dates_judgement": 164,
        "not_reported_post_reform": 11,
        "blank": 169,
        "label_repaired": 2,
    }
    assert d2i.filter(pl.col("grade_note").is_in(ofsted.D2I_SENTINELS))["grade"].null_count() == 712 + 164 + 11
    ins = inspections(d2i)
    assert dict(ins.group_by("framework").len().iter_rows()) == {"ilacs": 321, "sif": 168, "pre_sif": 8}


# --- reconciliation and combination -------------------------------------------------------------------


def test_reconcile_2025_vs_d2i(o25, d2i):
    rec = ofsted_history.reconcile([o25, d2i])
    oe = rec.filter(pl.col("judgement") == "overall_effectiveness")
    # SOURCES.md reports 264 of 266; measured here: 268 matched, 266 agree, 2 blank in D2I.
    assert oe.height == 268
    assert dict(oe.group_by("status").len().iter_rows()) == {"agree": 266, "missing_b": 2}
    assert sorted(oe.filter(pl.col("status") == "missing_b")["la_code"]) == ["882", "892"]
    dis = rec.filter(pl.col("status") == "disagree")
    assert dis.height == 5 and sorted(dis["la_code"].unique()) == ["342", "354", "931"]
    # The repaired 'to requires improvement' labels agree with the official file.
    assert rec.filter(pl.col("grade_note_b") == "label_repaired")["status"].to_list() == ["agree", "agree"]


def test_reconcile_official_editions(o23, o24, o25):
    rec = ofsted_history.reconcile([o23, o24, o25])
    assert rec.filter(pl.col("status") == "disagree").select("la_code", "judgement").rows() == [("860", "care_leavers")]
    assert rec.filter(pl.col("status") == "agree").height == 713 + 717 + 922


def test_combine(o23, o24, o25, d2i):
    comb = ofsted_history.combine([d2i, o23, o24, o25])
    ins = comb.select("la_code", "framework", "publication_date", "file").unique()
    assert dict(ins.group_by("framework").len().iter_rows()) == {"ilacs": 324, "sif": 173, "pre_sif": 217}
    by_file = dict(comb.group_by("file").len().iter_rows())
    assert by_file == {F2023.name: 1561, F2025.name: 1187, FD2I.name: 265}
    # Nottingham's 2022 ILACS: 2022-11-05 in the 2023/2024 workbooks, 2022-09-05 in 2025; kept once.
    notts = ins.filter((pl.col("la_code") == "892") & (pl.col("framework") == "ilacs"))
    assert sorted(notts["publication_date"]) == [dt.date(2019, 1, 7), dt.date(2022, 9, 5)]
    # D2I fills the inspections after the 2025 edition (published up to August 2026).
    assert comb.filter(pl.col("file") == FD2I.name)["publication_date"].min() >= dt.date(2025, 1, 1)
    assert comb.unique(subset=["la_code", "framework", "publication_date", "judgement"]).height == comb.height


# --- demo writer ------------------------------------------------------------------------------------


def demo_frame(o23: pl.DataFrame, o25: pl.DataFrame) -> pl.DataFrame:
    codes = {"371": "011", "382": "012", "202": "013", "837": "014"}

    def fictional(f: pl.DataFrame) -> pl.DataFrame:
        f = f.filter(pl.col("la_code").is_in(list(codes)))
        new = pl.col("la_code").replace_strict(codes)
        return f.with_columns(la_code=new, la_name=pl.lit("Demoshire ") + new, gss_code=pl.lit("E99000") + new)

    sif = fictional(o23.filter(pl.col("framework") == "sif")).with_columns(gss_code=pl.lit(None, pl.Utf8))
    return pl.concat([sif, fictional(o25)])


def fictional_las(frame: pl.DataFrame) -> pl.DataFrame:
    """The fictional councils' own LA list: the 2025 layout resolves GSS area codes through one."""
    return (
        frame.select("la_code", "gss_code", "la_name")
        .drop_nulls("gss_code")
        .unique(maintain_order=True)
        .with_columns(status=pl.lit("live"), is_joint=pl.lit(False))
    )


DEMOSHIRE_LAS = pl.DataFrame(
    {"la_code": ["011"], "gss_code": ["E99000011"], "la_name": ["Demoshire"], "status": ["live"], "is_joint": [False]}
)


def test_write_demo_round_trip_and_determinism(tmp_path, o23, o25):
    demo = demo_frame(o23, o25)
    assert set(demo["framework"]) == {"sif", "ilacs"} and demo.height > 40
    first = writers.write_ofsted(demo, tmp_path / "a")
    second = writers.write_ofsted(demo, tmp_path / "b")
    assert [p.name for p in first] == [F2023.name, F2025.name]
    for a, b in zip(first, second):
        assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
        with zipfile.ZipFile(a) as zf:
            assert zf.namelist()[0] == "mimetype"
            assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
    back = pl.concat([ofsted.parse(p, las=fictional_las(demo)) for p in first])
    cols = [c for c in JUDGEMENTS_SCHEMA if c != "file"]
    assert back.select(cols).sort(cols, nulls_last=True).equals(demo.select(cols).sort(cols, nulls_last=True))
    # The 2023-style sheet carries the exact 45 official headers on row 5.
    rows = dict(ods.read_ods_sheet(first[0], ofsted.SHEET_2023))
    assert [rows[5][i].value for i in range(45)] == list(ofsted.HEADERS_2023)
    assert ods.ods_sheet_names(first[1]) == ["Cover", "Contents", "Notes", "ILACS_inspection_history"]


def test_demo_readable_by_calamine(tmp_path, o23, o25):
    demo = demo_frame(o23, o25)
    paths = writers.write_ofsted(demo, tmp_path)
    frame = pl.read_excel(paths[1], engine="calamine", sheet_name="ILACS_inspection_history", has_header=False)
    assert frame.row(2)[:3] == ("Web link", "Local authority area code", "Local authority name")
    n_ilacs = demo.filter(pl.col("framework") == "ilacs").select("la_code", "publication_date").unique().height
    assert n_ilacs == 7 and frame.height == 3 + n_ilacs


def test_plain_text_web_link_is_accepted(tmp_path):
    header = list(ofsted.HEADERS_2025)
    row = [
        "https://reports.ofsted.gov.uk/provider/44/011",
        "E99000011",
        "Demoshire",
        "Current",
        "North",
        dt.date(2024, 1, 8),
        dt.date(2024, 2, 20),
        "ILACS Short Inspection",
        "Good",
        "Good",
        "Good",
        "Outstanding",
        "Requires improvement to be good",
    ]
    path = ods.write_ods(
        tmp_path / "LA_Inspection_Outcomes_as_at_31_March_2025.ods",
        [(ofsted.SHEET_2025, [["title"], ["note"], header, row])],
    )
    out = ofsted.parse(path, las=DEMOSHIRE_LAS)
    assert set(out["la_code"]) == {"011"}
    assert dict(zip(out["judgement"], out["grade"]))["care_leavers"] == "requires_improvement"


# --- malformed inputs --------------------------------------------------------------------------------


def d2i_text() -> list[str]:
    need_reference()
    return FD2I.read_text(encoding="utf-8").splitlines(keepends=True)[:4]


def parse_d2i(path: Path) -> pl.DataFrame:
    return ofsted.parse(path, provider_lookup=LOOKUP)


def assert_one_line(exc: EvalkitError, file: str, row: int | None, column: str | None) -> None:
    assert "\n" not in str(exc) and exc.file == file
    assert exc.row == row
    if column is not None:
        assert exc.column == column


def test_d2i_renamed_column(tmp_path):
    lines = d2i_text()
    lines[0] = lines[0].replace("overall_effectiveness_grade", "oe_grade")
    path = tmp_path / "ofsted_csc_ilacs_history.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(EvalkitError, match="missing") as info:
        parse_d2i(path)
    assert_one_line(info.value, path.name, 1, "overall_effectiveness_grade")


def test_d2i_unknown_grade(tmp_path):
    lines = d2i_text()
    lines[2] = lines[2].replace(",good,outstanding,good,good,", ",good,brilliant,good,good,")
    path = tmp_path / "h.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(EvalkitError, match="unknown grade label 'brilliant'") as info:
        parse_d2i(path)
    assert_one_line(info.value, "h.csv", 3, "impact_of_leaders_grade")


def test_d2i_non_date(tmp_path):
    lines = d2i_text()
    lines[3] = lines[3].replace("29/01/25", "late jan")
    path = tmp_path / "h.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(EvalkitError, match="not a date") as info:
        parse_d2i(path)
    assert_one_line(info.value, "h.csv", 4, "publication_date")


def test_d2i_empty_and_truncated(tmp_path):
    lines = d2i_text()
    path = tmp_path / "h.csv"
    path.write_text("", encoding="utf-8")
    with pytest.raises(EvalkitError, match="empty") as info:
        parse_d2i(path)
    assert_one_line(info.value, "h.csv", None, None)
    path.write_text("".join(lines[:3]) + lines[3][:60], encoding="utf-8")
    with pytest.raises(EvalkitError, match="truncated") as info:
        parse_d2i(path)
    assert_one_line(info.value, "h.csv", 4, None)


def test_d2i_without_any_lookup(tmp_path):
    lines = d2i_text()
    path = tmp_path / "h.csv"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(EvalkitError, match="cannot map urn") as info:
        ofsted.parse(path)  # no lookup beside the file, none given
    assert_one_line(info.value, "h.csv", 2, "urn")


def test_ods_unknown_layout(tmp_path):
    path = ods.write_ods(
        tmp_path / "LA_Inspection_Outcomes_as_at_31_March_2026.ods",
        [("Cover", [["x"]]), ("Inspection_history_new", [["Web link"]])],
    )
    with pytest.raises(EvalkitError, match="Inspection_history_new") as info:
        ofsted.parse(path)
    assert "ILACS_inspection_history" in str(info.value) and "\n" not in str(info.value)


def test_ods_renamed_header_unknown_grade_and_bad_date(tmp_path):
    header = list(ofsted.HEADERS_2025)
    row = [
        ("link", "https://reports.ofsted.gov.uk/provider/44/011"),
        "E99000011",
        "Demoshire",
        "Current",
        "North",
        dt.date(2022, 1, 10),
        dt.date(2022, 3, 1),
        "ILACS Standard Inspection",
        "Good",
        "Good",
        "Good",
        "Good",
        None,
    ]
    name = "LA_Inspection_Outcomes_as_at_31_March_2025.ods"

    renamed = header.copy()
    renamed[6] = "Date published"
    path = ods.write_ods(tmp_path / "a" / name, [(ofsted.SHEET_2025, [["t"], ["n"], renamed, row])])
    with pytest.raises(EvalkitError, match="Date published") as info:
        ofsted.parse(path, las=DEMOSHIRE_LAS)
    assert_one_line(info.value, name, 3, "G")

    bad = row.copy()
    bad[9] = "Superb"
    path = ods.write_ods(tmp_path / "b" / name, [(ofsted.SHEET_2025, [["t"], ["n"], header, row, bad])])
    with pytest.raises(EvalkitError, match="unknown grade label 'Superb'") as info:
        ofsted.parse(path, las=DEMOSHIRE_LAS)
    assert_one_line(info.value, name, 5, header[9])

    bad = row.copy()
    bad[6] = "next spring"
    path = ods.write_ods(tmp_path / "c" / name, [(ofsted.SHEET_2025, [["t"], ["n"], header, bad])])
    with pytest.raises(EvalkitError, match="not a date") as info:
        ofsted.parse(path, las=DEMOSHIRE_LAS)
    assert_one_line(info.value, name, 4, "Publication date")


def test_ods_truncated_and_empty(tmp_path, o23, o25):
    good = writers.write_ofsted(demo_frame(o23, o25), tmp_path / "src")[1]
    cut = tmp_path / good.name
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(EvalkitError, match="not a readable OpenDocument") as info:
        ofsted.parse(cut)
    assert "\n" not in str(info.value) and info.value.file == good.name
    cut.write_bytes(b"")
    with pytest.raises(EvalkitError, match="empty"):
        ofsted.parse(cut)


def test_wide_table_without_code(tmp_path):
    """A 2023-style row whose web link holds no DfE code, with no dfe_las.csv to map the name."""
    headers = list(ofsted.HEADERS_2023)
    line = [None] * 45
    line[0] = ("link", "http://reports.ofsted.gov.uk/local-authorities/demoshire")
    line[1] = "Demoshire"
    line[17] = dt.date(2015, 3, 2)
    line[18] = "Good"
    path = ods.write_ods(
        tmp_path / "Childrens_social_care_in_England_2023_underlying_data.ods",
        [(ofsted.SHEET_2023, [["t"], ["n"], ["n"], ["n"], headers, line])],
    )
    with pytest.raises(EvalkitError, match="cannot recover the DfE LA code") as info:
        ofsted.parse(path)
    assert_one_line(info.value, path.name, 6, "Web link")
    # Given a lookup naming the LA, the code is recovered from the name.
    las = pl.DataFrame(
        {
            "la_code": ["099"],
            "gss_code": ["E99000099"],
            "la_name": ["Demoshire"],
            "status": ["live"],
            "is_joint": [False],
        }
    )
    out = ofsted.parse(path, las=las)
    assert set(out["la_code"]) == {"099"}
    assert dict(zip(out["judgement"], out["grade"]))["overall_effectiveness"] == "good"
