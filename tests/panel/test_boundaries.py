"""panel.boundaries: the boundary-change harmonisation policy, checked against dfe_las.csv."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.panel import boundaries
from evalkit.sources import la_codes
from evalkit.sources.common import MEASURES_SCHEMA
from tests.shared_data import REFERENCE

REF = REFERENCE
LAS = REF / "dfe_las.csv"


def one(frame: pl.DataFrame, **where) -> dict:
    rows = frame.filter(pl.all_horizontal([pl.col(k) == v for k, v in where.items()]))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# --- policy written as data agrees with dfe_las.csv ----------------------------------------------------


def test_boundary_changes_match_dfe_las(las):
    by_gss = {r["gss_code"]: r for r in las.iter_rows(named=True) if r["gss_code"]}
    for change in boundaries.BOUNDARY_CHANGES:
        assert any("FORMATS.md" in s for s in change.sources) and any("dfe_las.csv" in s for s in change.sources)
        for code, gss in change.predecessors + change.successors:
            assert by_gss[gss]["la_code"] == code, (change.key, code, gss)
        if change.effective is not None:
            for _, gss in change.predecessors:
                assert by_gss[gss]["date_of_termination"] == change.effective - dt.timedelta(days=1), change.key
            for _, gss in change.successors:
                assert by_gss[gss]["date_of_operation"] == change.effective, change.key
        if change.joint_code:
            assert change.joint_code in la_codes.known_codes(las), change.key
    keys = {c.key for c in boundaries.BOUNDARY_CHANGES}
    assert keys == {
        "bcp_dorset_2019",
        "northamptonshire_2021",
        "cumbria_2023",
        "north_yorkshire_2023",
        "somerset_2023",
        "kingston_richmond_joint",
    }


# --- harmonise ---------------------------------------------------------------------------------------


def measures(rows: list[tuple]) -> pl.DataFrame:
    """rows: (la_code, year, measure, value, unit[, marker])"""
    out = []
    for r in rows:
        code, year, measure, value, unit = r[:5]
        marker = r[5] if len(r) > 5 else None
        out.append(
            {
                "source": "test",
                "file": "t.csv",
                "year": year,
                "reference_date": None,
                "la_code": code,
                "gss_code": None,
                "la_name": f"LA {code}",
                "measure": measure,
                "value": value,
                "marker": marker,
                "unit": unit,
            }
        )
    return pl.DataFrame(out, schema=MEASURES_SCHEMA)


def get(frame: pl.DataFrame, unit_code: str, year: int, measure: str) -> dict:
    return one(frame, unit_code=unit_code, year=year, measure=measure)


BCP = "835+836+837+838+839"


def test_bcp_dorset_aggregate():
    f = measures(
        [
            ("835", 2018, "cla", 400.0, "count"),
            ("836", 2018, "cla", 200.0, "count"),
            ("837", 2018, "cla", 300.0, "count"),
            ("835", 2018, "cla_rate", 40.0, "rate_per_10000"),
            ("836", 2018, "cla_rate", 60.0, "rate_per_10000"),
            ("837", 2018, "cla_rate", 70.0, "rate_per_10000"),
            ("838", 2020, "cla", 450.0, "count"),
            ("839", 2020, "cla", 480.0, "count"),
            ("838", 2021, "cla", 455.0, "count"),  # 839 missing that year
            ("838", 2022, "cla", 460.0, "count"),
            ("839", 2022, "cla", None, "count", "c"),  # suppressed component
        ]
    )
    out = boundaries.harmonise(f, "aggregate")
    r = get(out, BCP, 2018, "cla")
    assert (
        r["value"] == 900.0 and r["marker"] is None and r["unit_name"] == "Bournemouth, Christchurch and Poole + Dorset"
    )
    assert r["la_code"] == "835+836+837"
    assert get(out, BCP, 2020, "cla")["value"] == 930.0
    rate = get(out, BCP, 2018, "cla_rate")
    assert rate["value"] is None and rate["marker"] == "rate_not_aggregable"
    for year in (2021, 2022):
        r = get(out, BCP, year, "cla")
        assert r["value"] is None and r["marker"] == "partial_aggregate"
    assert out.filter(pl.col("unit_code") == BCP).height == 5


def test_bcp_dorset_separate():
    f = measures(
        [
            ("836", 2018, "cla", 200.0, "count"),
            ("837", 2018, "cla", 300.0, "count"),
            ("839", 2020, "cla", 480.0, "count"),
        ]
    )
    out = boundaries.harmonise(f, "separate")
    assert out["unit_code"].to_list() == ["836", "837", "839"]
    assert out["value"].to_list() == [200.0, 300.0, 480.0]


def test_northamptonshire_aggregate_and_joint_unit():
    f = measures(
        [
            ("928", 2020, "cla", 1000.0, "count"),
            ("928", 2020, "cla_rate", 60.0, "rate_per_10000"),
            ("940", 2022, "cla", 500.0, "count"),
            ("941", 2022, "cla", 600.0, "count"),
            ("940 / 941", 2022, "social_workers_fte", 310.5, "fte"),
        ]
    )
    out = boundaries.harmonise(f, "aggregate")
    # A single-code year passes through unchanged, rates included.
    assert get(out, "928", 2020, "cla")["value"] == 1000.0
    assert get(out, "928", 2020, "cla_rate")["value"] == 60.0
    assert get(out, "928", 2022, "cla")["value"] == 1100.0
    assert get(out, "928", 2022, "social_workers_fte")["value"] == 310.5
    assert set(out["unit_name"]) == {"Northamptonshire"}
    sep = boundaries.harmonise(f, "separate")
    assert sorted(sep["unit_code"].unique()) == ["928", "940", "940 / 941", "941"]


def test_cumbria_aggregate():
    f = measures(
        [
            ("909", 2022, "cin", 3000.0, "count"),
            ("942", 2024, "cin", 1800.0, "count"),
            ("943", 2024, "cin", 1300.0, "count"),
            ("942", 2024, "pct", 10.0, "percent"),
            ("943", 2024, "pct", 12.0, "percent"),
        ]
    )
    out = boundaries.harmonise(f, "aggregate")
    assert get(out, "909", 2022, "cin")["value"] == 3000.0
    assert get(out, "909", 2024, "cin")["value"] == 3100.0
    assert get(out, "909", 2024, "pct")["marker"] == "rate_not_aggregable"
    # A year holding both the old and the new codes would double count: not aggregated.
    both = boundaries.harmonise(
        measures(
            [
                ("909", 2023, "cin", 3000.0, "count"),
                ("942", 2023, "cin", 1800.0, "count"),
                ("943", 2023, "cin", 1300.0, "count"),
            ]
        ),
        "aggregate",
    )
    assert get(both, "909", 2023, "cin")["marker"] == "partial_aggregate"


@pytest.mark.parametrize("policy", ["aggregate", "separate"])
@pytest.mark.parametrize(
    "code,old_gss,new_gss,name",
    [("815", "E10000023", "E06000065", "North Yorkshire"), ("933", "E10000027", "E06000066", "Somerset")],
)
def test_gss_only_changes_keep_one_unit(policy, code, old_gss, new_gss, name):
    f = measures([(code, 2022, "cla", 500.0, "count"), (code, 2024, "cla", 520.0, "count")]).with_columns(
        gss_code=pl.Series([old_gss, new_gss])
    )
    out = boundaries.harmonise(f, policy)
    assert out["unit_code"].to_list() == [code, code]
    assert out["value"].to_list() == [500.0, 520.0]
    assert set(out["unit_name"]) == {name}
    assert boundaries.unit_of(code, policy) == code


def test_kingston_richmond_joint():
    f = measures(
        [
            ("314", 2022, "cla", 100.0, "count"),
            ("318", 2022, "cla", 120.0, "count"),
            ("314 / 318", 2022, "agency_rate", 15.0, "percent"),
        ]
    )
    agg = boundaries.harmonise(f, "aggregate")
    assert get(agg, "314 / 318", 2022, "cla")["value"] == 220.0
    assert get(agg, "314 / 318", 2022, "agency_rate")["value"] == 15.0  # the joint unit itself passes through
    sep = boundaries.harmonise(f, "separate")
    assert sorted(sep["unit_code"]) == ["314", "314 / 318", "318"]


def test_unaffected_las_pass_through_with_names():
    f = measures([("371", 2022, "cla", 550.0, "count"), ("371", 2022, "cla_rate", 88.0, "rate_per_10000")])
    out = boundaries.harmonise(f, "aggregate")
    assert out["unit_code"].to_list() == ["371", "371"]
    assert out["value"].to_list() == [550.0, 88.0]
    assert set(out["unit_name"]) == {"LA 371"}


def test_unknown_policy():
    with pytest.raises(EvalkitError, match="policy"):
        boundaries.harmonise(measures([("371", 2022, "cla", 1.0, "count")]), "merge")
