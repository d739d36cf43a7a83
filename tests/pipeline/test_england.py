"""The England evaluation end to end on the real published files in ../shared/data/reference.

Skipped (with a message) when the reference folder is absent. Checks a handful of panel values
against the source files read independently here (csv module, no evalkit parser), that every
treated council of the registry has its own estimate or a stated reason, and that `evalkit verify`
reproduces the report byte for byte.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl
import pytest

from evalkit.generations import current_dir
from tests.conftest import REFERENCE, REPO, england_panel, evalkit_cmd

pytestmark = pytest.mark.first  # minutes of setup: started at once under pytest -n (tests/conftest.py)


@pytest.fixture(scope="module")
def england(tmp_path_factory) -> Path:
    work = england_panel(tmp_path_factory, "england")
    evalkit_cmd("estimate", "--plan", "plans/england-adm.toml", cwd=work)
    evalkit_cmd("report", "--plan", "plans/england-adm.toml", cwd=work)
    return work


def _panel(work: Path) -> pl.DataFrame:
    return pl.read_parquet(current_dir(work / "data" / "processed") / "panel.parquet")


def _value(panel: pl.DataFrame, unit: str, year: int, column: str):
    return panel.filter(pl.col("unit_code") == unit, pl.col("year") == year)[column][0]


def _csv_rows(path: Path, encoding: str = "utf-8-sig") -> list[dict[str, str]]:
    with open(path, encoding=encoding, newline="") as fh:
        return list(csv.DictReader(fh))


def test_cla_counts_match_the_published_files(england: Path) -> None:
    panel = _panel(england)
    sfr = _csv_rows(REFERENCE / "cla" / "sfr_SFR36_CLA2014.csv")
    doncaster = next(r for r in sfr if r["geog_c"] == "371")
    assert _value(panel, "371", 2014, "cla_count") == float(doncaster["CLA_Mar2014"]) == 499
    ees = _csv_rows(REFERENCE / "cla" / "ees_cla_number_and_rate_per_10k_children_latest_dfe_dashboard.csv")
    row = next(
        r
        for r in ees
        if r["old_la_code"] == "330"
        and r["time_period"] == "2024"
        and r["population_type"].startswith("Children looked after on 31 March")
    )
    assert _value(panel, "330", 2024, "cla_count") == float(row["children_count"])


def test_population_and_rate_use_the_mid_year_before(england: Path) -> None:
    panel = _panel(england)
    pop = _csv_rows(REFERENCE / "population" / "ons_mid-year_population_estimates_2012_to_2024.csv")
    mid_2021 = next(r for r in pop if r["old_la_code"] == "371" and r["time_period"] == "2021")
    population = float(mid_2021["population_estimate"])
    assert _value(panel, "371", 2022, "population_0_17") == population
    assert _value(panel, "371", 2022, "cla_rate_per_10000") == pytest.approx(589 / population * 10_000, abs=1e-3)


def test_ofsted_grade_in_force(england: Path) -> None:
    """Doncaster: first SIF published 2015-11-27 inadequate; SIF re-inspection 2018-01-19 good."""
    panel = _panel(england)
    assert _value(panel, "371", 2016, "ofsted_grade") == 4
    assert _value(panel, "371", 2016, "ofsted_inadequate") == 1
    assert _value(panel, "371", 2018, "ofsted_grade") == 2


def test_rereferral_and_workforce_values(england: Path) -> None:
    panel = _panel(england)
    c1 = _csv_rows(REFERENCE / "cin" / "ees_c1_children_in_need_referrals_and_rereferrals_2013_to_2025.csv")
    durham = next(r for r in c1 if r["old_la_code"] == "840" and r["time_period"] == "2025")
    assert _value(panel, "840", 2025, "rereferral_percent") == float(durham["rereferral_percent"]) == 18.7


def test_registry_dates_match_the_research_notes() -> None:
    """The packaged registry carries the researched go-live dates (../shared/domain/adm_registry.csv)."""
    notes = REFERENCE.parent.parent / "domain" / "adm_registry.csv"
    if not notes.exists():
        pytest.skip(f"{notes} not found")
    ours = {r["spell_id"]: r for r in _csv_rows(REPO / "evalkit" / "data" / "adm_registry.csv", "utf-8")}
    for r in _csv_rows(notes, "utf-8"):
        go_live = r["go_live"].split(" ")[0]
        if go_live[:4].isdigit():
            assert ours[r["spell_id"]]["go_live"] == go_live[: len(ours[r["spell_id"]]["go_live"])], r["spell_id"]


def test_every_treated_council_has_an_estimate_or_a_reason(england: Path) -> None:
    doc = json.loads((england / "reports" / "england-adm" / "results.json").read_text())
    assert doc["synthetic_demo"] is False
    panel = _panel(england)
    treated = set(panel.filter(pl.col("ever_treated") == 1)["unit_code"].unique().to_list())
    assert len(treated) == 11
    primary = next(a for a in doc["analyses"] if a["label"] == "cla_cs_never")
    accounted = {t["unit"]: t for t in primary["results"]["diagnostics"]["treated_units"]}
    assert set(accounted) == treated
    for t in accounted.values():
        assert t["included"] or t["reason"], t
    synth = next(a for a in doc["analyses"] if a["label"] == "cla_synth")
    per_council = {e["unit"] for e in synth["results"]["estimates"] if e["unit"]}
    included = {u for u, t in accounted.items() if t["included"]}
    assert included <= per_council
    html = (england / "reports" / "england-adm" / "report.html").read_text()
    assert "SYNTHETIC DEMO DATA" not in html
    assert str(england) not in html


def test_verify_reproduces_the_england_report(england: Path) -> None:
    proc = evalkit_cmd("verify", "reports/england-adm", cwd=england)
    assert "reproduced" in proc.stdout


def test_northamptonshire_is_followed_across_its_2021_split(england: Path) -> None:
    """Aggregate policy: after April 2021 the unit 928 is North (940) + West (941) Northamptonshire."""
    panel = _panel(england)
    ees = _csv_rows(REFERENCE / "cla" / "ees_cla_number_and_rate_per_10k_children_latest_dfe_dashboard.csv")
    parts = [
        float(r["children_count"])
        for r in ees
        if r["old_la_code"] in ("940", "941")
        and r["time_period"] == "2023"
        and r["geographic_level"] == "Local authority"
        and r["population_type"].startswith("Children looked after on 31 March")
    ]
    assert len(parts) == 2
    assert _value(panel, "928", 2023, "cla_count") == sum(parts)
    assert _value(panel, "928", 2021, "cla_count") == 1144  # the county's own last return (FORMATS.md section 1a)


def test_inspection_year_outcome_uses_only_inspection_years(england: Path) -> None:
    """The sparse Ofsted outcome is observed only when a judgement was published in the year."""
    panel = _panel(england)
    inspected = panel.filter(pl.col("inspected_in_year") == 1)
    assert (
        panel.filter(pl.col("inspected_in_year") == 0)["ofsted_grade_at_inspection"].null_count()
        == panel.filter(pl.col("inspected_in_year") == 0).height
    )
    assert inspected["ofsted_grade_at_inspection"].drop_nulls().len() > 300
    # Doncaster's first SIF (inadequate) was published in financial year 2015-16.
    assert _value(panel, "371", 2016, "ofsted_inadequate_at_inspection") == 1
    doc = json.loads((england / "reports" / "england-adm" / "results.json").read_text())
    sparse = next(a for a in doc["analyses"] if a["label"] == "inadequate_at_inspection_imputation")
    assert sparse["results"]["diagnostics"]["sample"].startswith("inspection years only")
