"""Reconciliation of children's services spending across S251, LAIT and MHCLG RO publications."""

from __future__ import annotations

import polars as pl
import pytest

from evalkit.sources import lait, mhclg, s251, spending
from evalkit.sources.common import MEASURES_SCHEMA
from tests.shared_data import REFERENCE

REF = REFERENCE
needs_ref = pytest.mark.skipif(
    not (REF / "s251").is_dir() or not (REF / "spending_mhclg").is_dir(),
    reason=f"reference folders {REF}/s251 and {REF}/spending_mhclg are absent",
)

S251_FILES = ["goodair_outturn_1314.csv", "ees_cfr-s251_highlightssummary_v1.2_2014-15_to_2019-20.csv"]
LAIT_FILES = ["lait_bds_long_0_2025-05-28.parquet", "lait_bds_long_0_2026-04-08.parquet"]
MHCLG_FILES = [
    "mhclg_RO3_2013-14_Revision.xlsx",
    "mhclg_RO3_2016-17_data_by_LA.xlsx",
    "mhclg_RO3_2017-18_data_by_LA_-_revised.xlsx",
    "mhclg_RO3_2022-23_data_by_LA.ods",
    "mhclg_RSX_2022-23_data_by_LA.ods",
]


@pytest.fixture(scope="module")
def recon() -> pl.DataFrame:
    frames = [s251.parse(REF / "s251" / f) for f in S251_FILES]
    frames += [lait.parse(REF / "s251" / f) for f in LAIT_FILES]
    frames += [mhclg.parse(REF / "spending_mhclg" / f) for f in MHCLG_FILES]
    las = (
        pl.read_csv(REF / "dfe_las.csv", infer_schema=False)
        .select(pl.col("new_la_code").alias("gss_code"), pl.col("old_la_code").alias("la_code"))
        .filter(pl.col("la_code").str.contains(r"^\d{3}$"))
        .drop_nulls()
    )
    return spending.reconcile(frames, lookup=las)


def pair(recon: pl.DataFrame, year: int, la_code: str, measure: str, file_a: str, file_b: str) -> dict:
    hit = recon.filter(
        (pl.col("year") == year)
        & (pl.col("la_code") == la_code)
        & (pl.col("measure") == measure)
        & (pl.col("file_a") == file_a)
        & (pl.col("file_b") == file_b)
    )
    assert hit.height == 1, hit
    return hit.row(0, named=True)


@needs_ref
def test_newcastle_2017_18_highlights_disagree_with_lait_and_ro3(recon: pl.DataFrame) -> None:
    hl = S251_FILES[1]
    for snap in LAIT_FILES:
        r = pair(recon, 2018, "391", "spend_cyp_total", snap, hl)
        assert (r["value_a"], r["value_b"]) == (61_834_299.0, 121_834_000.0)
        assert r["rel_diff"] == pytest.approx(0.492471, abs=1e-6)
        assert r["comparison"] == "same_collection" and r["flagged"]
        assert r["gss_code"] == "E08000021"
    r = pair(recon, 2018, "391", "spend_cyp_total", MHCLG_FILES[2], hl)
    assert (r["value_a"], r["value_b"]) == (55_918_000.0, 121_834_000.0)
    assert r["rel_diff"] == pytest.approx(0.541031, abs=1e-6) and r["flagged"]
    # LAIT and RO3 agree within the cross-collection threshold: the highlights figure is the odd one out
    r = pair(recon, 2018, "391", "spend_cyp_total", LAIT_FILES[1], MHCLG_FILES[2])
    assert r["rel_diff"] == pytest.approx(0.095680, abs=1e-6) and not r["flagged"]


@needs_ref
def test_lait_agrees_with_highlights_everywhere_else(recon: pl.DataFrame) -> None:
    sub = recon.filter(
        (pl.col("source_a") == "lait")
        & (pl.col("source_b") == "s251")
        & (pl.col("measure") == "spend_cyp_total")
        & pl.col("rel_diff").is_not_null()
    )
    assert sub.height == 1366  # 2015-16 (old snapshot only) to 2019-20, both snapshots
    flagged = sub.filter(pl.col("flagged"))
    assert flagged.select("year", "la_code").unique().rows() == [(2018, "391")]
    assert sub.filter(~pl.col("flagged"))["rel_diff"].max() < 2e-5  # £m to 6 significant figures vs £


@needs_ref
def test_s251_line_file_vs_ro3_2013_14(recon: pl.DataFrame) -> None:
    ro, s = MHCLG_FILES[0], S251_FILES[0]
    r = pair(recon, 2014, "371", "spend_cla", ro, s)  # Doncaster
    assert (r["value_a"], r["value_b"]) == (27_318_000.0, 26_375_083.0) and not r["flagged"]
    r = pair(recon, 2014, "391", "spend_cla", ro, s)  # Newcastle: RO3 2013-14 CLA 669k
    assert r["value_a"] == 669_000.0 and r["flagged"] and r["rel_diff"] > 0.9
    sub = recon.filter((pl.col("year") == 2014) & (pl.col("file_a") == ro) & (pl.col("file_b") == s))
    counts = dict(sub.group_by("measure").agg(pl.col("flagged").sum()).iter_rows())
    assert sub.filter(pl.col("measure") == "spend_cla").height == 152
    assert counts["spend_cla"] == 24
    assert counts["spend_csc_total"] == 4


@needs_ref
def test_ro3_and_rsx_agree(recon: pl.DataFrame) -> None:
    sub = recon.filter((pl.col("file_a") == MHCLG_FILES[3]) & (pl.col("file_b") == MHCLG_FILES[4]))
    assert sub.filter(pl.col("rel_diff").is_not_null()).height == 2 * 148
    assert sub["flagged"].sum() == 0
    missing = sub.filter(pl.col("note").is_not_null())
    assert missing.height == 2 * 4 and not missing["flagged"].any()  # [x] returns: kept, not flagged


def _frame(source: str, file: str, rows: list[tuple]) -> pl.DataFrame:
    data = pl.DataFrame(rows, schema=["year", "la_code", "gss_code", "measure", "value"], orient="row")
    return data.with_columns(
        pl.lit(source).alias("source"),
        pl.lit(file).alias("file"),
        pl.lit(None, pl.Utf8).alias("la_name"),
        pl.lit(None, pl.Utf8).alias("marker"),
        pl.lit("gbp").alias("unit"),
        pl.date(pl.col("year"), 3, 31).alias("reference_date"),
    ).select(list(MEASURES_SCHEMA))


def test_thresholds_and_code_matching() -> None:
    a = _frame(
        "s251",
        "a.csv",
        [(2020, "011", "E06999901", "spend_cla", 100_000_000.0), (2020, "012", None, "spend_cla", 1_000_000.0)],
    )
    b = _frame(
        "lait",
        "b.parquet",
        [(2020, "011", None, "spend_cla", 101_500_000.0), (2020, "012", None, "spend_cla", 1_030_000.0)],
    )
    c = _frame("mhclg_ro", "c.ods", [(2020, None, "E06999901", "spend_cla", 120_000_000.0)])
    out = spending.reconcile([a, b, c])
    assert out.height == 4
    r = out.filter((pl.col("la_code") == "011") & (pl.col("source_b") == "s251")).row(0, named=True)
    assert r["rel_diff"] == pytest.approx(1_500_000 / 101_500_000) and r["flagged"]  # same collection, > 1%
    r = out.filter(
        (pl.col("la_code") == "011") & (pl.col("source_b") == "mhclg_ro") & (pl.col("source_a") == "lait")
    ).row(0, named=True)
    assert r["comparison"] == "cross_collection" and not r["flagged"]  # 15.4% < 25%
    assert r["gss_code"] == "E06999901"  # matched through the a.csv row holding both codes
    r = out.filter(pl.col("la_code") == "012").row(0, named=True)
    assert not r["flagged"]  # 2.9% but only £30,000 apart (< min_abs)
    assert spending.reconcile([]).height == 0
