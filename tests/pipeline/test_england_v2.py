"""The England evaluation, plan v2: real-terms spending back to 2008-09, bridges, Ofsted journeys.

Fast part (ingest + panel with the ONS deflator, ~30 s): real-terms spending per child for every
treated council and year, recomputed here from the raw published files (csv module and pyarrow,
none of evalkit's parsers or panel code), the bridge years, the journeys analysis.
Slow part (@pytest.mark.slow: estimate + multiverse + report + verify of plan v3, which carries every v2
analysis unchanged): every treated council has an estimate or a stated reason for each outcome, every
verdict its MDE, and the report carries the bottom line, the multiverse and the sensitivity plots.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from tests.conftest import REFERENCE, REPO, england_panel, evalkit_cmd

DEFLATOR = "prices/ons_ybgb_gdp_deflator_2025-06-30.csv"
# Treated units of the panel (aggregate boundary policy) and the DfE codes that make them up.
TREATED = {
    "371": ["371"],
    "871": ["871"],
    "314 / 318": ["314", "318"],
    "868": ["868"],
    "394": ["394"],
    "330": ["330"],
    "333": ["333"],
    "870": ["870"],
    "885": ["885"],
    "928": ["928"],
    "380": ["380"],
}


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return england_panel(tmp_path_factory, "england_v2", "--deflator", str(REFERENCE / DEFLATOR))


def _processed(work: Path, name: str) -> Path:
    from evalkit import generations

    return generations.resolve(work / "data" / "processed" / name)


def _panel(work: Path) -> pl.DataFrame:
    return pl.read_parquet(_processed(work, "panel.parquet"))


# --- independent reading of the raw files ----------------------------------------------------------------


def _fy_deflator() -> dict[int, float]:
    """Financial-year means of the ONS quarterly rows (Q2-Q4 of t-1 and Q1 of t), rebased to 2024-25 = 100."""
    q = {}
    with open(REFERENCE / DEFLATOR, encoding="utf-8") as fh:
        for row in csv.reader(fh):
            m = re.fullmatch(r"(\d{4}) Q([1-4])", row[0]) if row else None
            if m:
                q[(int(m.group(1)), int(m.group(2)))] = float(row[1])
    fy = {t: (q[(t - 1, 2)] + q[(t - 1, 3)] + q[(t - 1, 4)] + q[(t, 1)]) / 4 for t in range(2009, 2026)}
    return {t: v * 100 / fy[2025] for t, v in fy.items()}


def _population() -> dict[tuple[str, int], float]:
    """0-17 population by DfE code and panel year (mid-year t-1); 2010 from SFR27 (mid-2009)."""
    out = {}
    with open(
        REFERENCE / "population" / "ons_mid-year_population_estimates_2012_to_2024.csv", encoding="utf-8-sig"
    ) as fh:
        for r in csv.DictReader(fh):
            if (
                r["geographic_level"] == "Local authority"
                and r["age_group"] == "Children aged 0 to 17 years"
                and r["population_estimate"] not in ("x", "z", "c", "")
            ):
                out[(r["old_la_code"], int(r["time_period"]) + 1)] = float(r["population_estimate"])
    with open(REFERENCE / "cla" / "sfr_SFR27_2010_March.csv", encoding="utf-8-sig") as fh:
        for r in csv.DictReader(fh):
            if r["geog_l"] == "LA" or r["geog_l"].strip().upper() in ("LA", "LOCAL AUTHORITY"):
                out[(r["geog_c"], 2010)] = float(r["Mid2009Pop0-17"])
    return out


def _codes(unit: str, year: int) -> list[str]:
    if unit == "928" and year >= 2022:
        return ["940", "941"]
    return TREATED[unit]


def _unit_population(pop: dict, unit: str, year: int) -> float:
    if year in (2009, 2011, 2012):
        p10 = sum(pop[(c, 2010)] for c in _codes(unit, 2010))
        p13 = sum(pop[(c, 2013)] for c in _codes(unit, 2013))
        return p10 if year == 2009 else round(p10 + (year - 2010) * (p13 - p10) / 3)
    return sum(pop[(c, year)] for c in _codes(unit, year))


def _lait() -> dict[tuple[str, int], float]:
    """S251 CSC gross from LAIT: the five lines summed (2015-16 to 2024-25)."""
    parts = {
        "TotalLACFinance",
        "OtherChildren&FamilyFinance",
        "SafeguardingFinance",
        "FamilySupportFinance",
        "YouthJusticeFinance",
    }
    out: dict[tuple[str, int], dict[str, float]] = {}
    for name in ("lait_bds_long_0_2025-05-28.parquet", "lait_bds_long_0_2026-04-08.parquet"):  # later file wins
        t = pq.read_table(REFERENCE / "s251" / name, columns=["Short Desc", "Years", "Values", "LA Number"]).to_pylist()
        for r in t:
            m = re.fullmatch(r"(\d{4})-\d{2} \(OT\)", str(r["Years"]).strip())
            if m and str(r["Short Desc"]).strip() in parts and r["Values"] not in (None, "-"):
                code = f"{int(float(r['LA Number'])):03d}"
                out.setdefault((code, int(m.group(1)) + 1), {})[str(r["Short Desc"]).strip()] = float(r["Values"])
    return {k: sum(v.values()) for k, v in out.items() if len(v) == 5}


def _webb() -> dict[tuple[str, int], float]:
    out = {}
    with open(REFERENCE / "s251" / "webb_ipse_merged_data.csv", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if r["time_period"] == "2015":
                out[(r["old_la_code"], 2015)] = sum(
                    float(r[c]) for c in ("gspend_cla", "gspend_saf", "gspend_fss", "gspend_oth", "gspend_yjs")
                ) / float(r["sppi"])
    return out


def _lines(year: int) -> dict[str, float]:
    """2012-13 and 2013-14 S251 line files: CLA + other children's and families services + safeguarding +
    family support + youth justice ('Total Expenditure' column)."""
    name = {2013: "goodair_outturn_1213.csv", 2014: "goodair_outturn_1314.csv"}[year]
    wanted = (
        "total children looked after",
        "other childrens and families services",
        "other childrens and family services",
        "total safeguarding children and young peoples services",
        "total family support services",
        "youth justice",
    )
    out: dict[str, float] = {}
    with open(REFERENCE / "s251" / name, encoding="cp1252") as fh:
        for r in csv.DictReader(fh):
            desc = re.sub(r"[^a-z ]", "", r["CYPServiceDescription"].lower().replace("\t", " "))
            desc = " ".join(desc.split())
            if desc in wanted:
                out[r["LA"]] = out.get(r["LA"], 0.0) + float(r["TotalExpenditure"])
    return out


def test_real_spending_per_child_for_every_treated_council_and_year(work: Path) -> None:
    panel = _panel(work)
    deflator, pop, lait, webb = _fy_deflator(), _population(), _lait(), _webb()
    lines = {2013: _lines(2013), 2014: _lines(2014)}
    checked = 0
    for unit in TREATED:
        for year in range(2011, 2026):
            codes = _codes(unit, year)
            if year >= 2016:
                spend = sum(lait[(c, year)] for c in codes)
            elif year == 2015:
                spend = sum(webb[(c, 2015)] for c in codes)
            elif year in lines:
                spend = sum(lines[year][c] for c in codes)
            else:
                continue  # 2008-09 to 2011-12: line definitions differ by year; Doncaster checked by hand below
            expected = spend / _unit_population(pop, unit, year) * 100 / deflator[year]
            got = panel.filter(pl.col("unit_code") == unit, pl.col("year") == year)["spend_csc_per_child_s251_real"][0]
            assert got == pytest.approx(expected, rel=2e-6, abs=1e-3), (unit, year, got, expected)
            checked += 1
    assert checked == 11 * 13  # every treated council, 2012-13 to 2024-25 (2013-14 bridge year included)


def test_doncaster_2010_11_by_hand(work: Path) -> None:
    """goodair_outturn_1011.csv, LA 371, 'Total Expenditure (k)': CLA 20,710,595.94 + Children and Young People's
    Safety 2,190,997.05 + Family Support 3,849,454.84 + Other Children's and Families 2,761,423.52 + Youth Justice
    2,647,077.81 + Children's Services Strategy 754,044.64 + Commissioning and social work 14,197,824.88
    = 47,111,418.68. Population: mid-2009 63,300 (SFR27) and mid-2012 64,689 (ONS), so 2010-11 (mid-2010) is
    63,300 + (64,689 - 63,300) / 3 = 63,763 (rounded)."""
    panel = _panel(work)
    row = panel.filter(pl.col("unit_code") == "371", pl.col("year") == 2011).row(0, named=True)
    assert row["spend_csc_s251"] == pytest.approx(47_111_418.68, abs=0.01)
    assert row["population_0_17"] == 63_763 and row["population_0_17_marker"] == "interpolated"
    deflator = _fy_deflator()
    assert row["spend_csc_per_child_s251_real"] == pytest.approx(
        47_111_418.68 / 63_763 * 100 / deflator[2011], rel=1e-6
    )


def test_slough_anomalies_are_flagged(work: Path) -> None:
    """Issue 26's two Slough cases. goodair_outturn_0910.csv, LEA 871, line 17 'Total Children Looked After',
    'Total Expenditure (k)' = 27,777,978 (read here with the csv module), against 6.84m in 2008-09 and 7.95m in
    2010-11: a spike in 2010 (year ending March 2010). Population 0-17: 30,800 (mid-2009) to 38,385 (mid-2012),
    +25 % across the 2011-census rebasing, interpolated over 2011-2013: one level break."""
    with open(REFERENCE / "s251" / "goodair_outturn_0910.csv", encoding="cp1252") as fh:
        raw = next(
            float(r["Total Expenditure (k)"])
            for r in csv.DictReader(fh)
            if r["LEA"] == "871" and r["S52 Line Reference"].strip().lower() == "total children looked after"
        )
    diag = json.loads(_processed(work, "panel_diagnostics.json").read_text(encoding="utf-8"))
    flags = [f for f in diag["anomalies"]["flags"] if f["unit"] == "871"]
    spike = next(f for f in flags if f["column"] == "spend_cla_s251")
    assert spike["kind"] == "spike" and spike["years"] == [2010] and spike["value"] == pytest.approx(raw)
    real = next(f for f in flags if f["column"] == "spend_csc_per_child_s251_real")
    assert real["kind"] == "spike" and real["years"] == [2010]
    pop = next(f for f in flags if f["column"] == "population_0_17")
    assert pop["kind"] == "level break" and pop["years"] == [2011, 2012, 2013]
    assert pop["before"] == 30_800 and pop["after"] == 38_385 and pop["change_percent"] == pytest.approx(24.6)


def test_unit_costs_and_per_cla_are_real_terms(work: Path) -> None:
    panel = _panel(work)
    deflator = _fy_deflator()
    row = panel.filter(pl.col("unit_code") == "371", pl.col("year") == 2025).row(0, named=True)
    assert (
        row["spend_fostering_per_child_week"] > 0
        and row["spend_residential_per_child_week"] > row["spend_fostering_per_child_week"]
    )
    assert row["spend_cla_per_cla_real"] == pytest.approx(
        row["spend_cla_s251"] / row["cla_count"], rel=1e-6
    )  # base year
    row = panel.filter(pl.col("unit_code") == "371", pl.col("year") == 2020).row(0, named=True)
    assert row["spend_residential_per_child_week_real"] == pytest.approx(
        row["spend_residential_per_child_week"] * 100 / deflator[2020], rel=1e-6
    )
    diag = json.loads(_processed(work, "panel_diagnostics.json").read_text(encoding="utf-8"))["deflator"]
    assert diag["series"] == "YBGB" and diag["base_year"] == 2025 and diag["release_date"] == "2025-06-30"


def test_spending_bridge_years_agree(work: Path) -> None:
    from evalkit.panel.bridge import bridge_table

    table = bridge_table(work / "data" / "processed")
    same = table.filter(pl.col("source_b") != "mhclg_ro")
    assert same.height >= 20
    assert same.filter(pl.col("within_1pct") < 0.98).height == 0, same.filter(pl.col("within_1pct") < 0.98)
    cross = table.filter(pl.col("source_b") == "mhclg_ro")
    assert cross.filter(pl.col("median_rel_diff") > 0.08).height == 0
    assert set(table.filter(pl.col("year") == 2014)["source_b"].to_list()) >= {"s251_webb", "mhclg_ro"}


def test_time_to_good_spells(work: Path) -> None:
    from evalkit.panel import journeys

    lines = journeys.load(work / "data" / "processed")
    spells = journeys.time_to_good(lines, journeys.groups_from_panel(_panel(work)))
    row = spells.filter(pl.col("unit_code") == "394").row(
        0, named=True
    )  # Sunderland: inadequate 2015 -> outstanding 2021
    assert row["group"] == "treated" and row["event"] == 1 and str(row["stop"]) == "2021-08-20"
    row = spells.filter(pl.col("unit_code") == "938").row(
        0, named=True
    )  # West Sussex: inadequate 2019, RI 2023: censored
    assert row["group"] == "directed_in_house" and row["event"] == 0 and str(row["stop"]) == "2026-03-31"


def test_multiverse_panel_variant_carries_the_same_real_terms(work: Path) -> None:
    """A boundary-policy variant built for the multiverse gets the *_real columns from the same deflator
    index as the panel in force, so a council untouched by boundary changes has identical real spending."""
    from evalkit.multiverse.run import load_panels

    plan = {"data": {"panel": str(work / "data" / "processed" / "panel.parquet")}}
    panels = load_panels(plan, ["aggregate", "separate"])
    cols = [
        "year",
        "spend_csc_total",
        "spend_csc_total_real",
        "spend_csc_per_child_s251_real",
        "spend_cla_per_cla_real",
    ]
    agg, sep = (
        panels[p].filter(pl.col("unit_code") == "371").sort("year").select(cols) for p in ("aggregate", "separate")
    )
    assert agg.height >= 15 and agg["spend_csc_per_child_s251_real"].drop_nulls().len() >= 15
    assert agg.equals(sep)


@pytest.mark.slow
def test_v3_plan_estimates_power_multiverse_and_report(work: Path) -> None:
    """Plan v3 (v2's analyses unchanged, plus sensitivity on every primary, [power] and the multiverse):
    every treated council is accounted for, every verdict carries its MDE, the multiverse and the
    sensitivity plots reach the report, and `evalkit verify` reproduces all of it (power and the
    multiverse are re-run, never copied)."""
    for step in ("estimate", "multiverse", "report"):
        evalkit_cmd(step, "--plan", "plans/england-adm-v3.toml", cwd=work)
    out = work / "reports" / "england-adm-v3"
    doc = json.loads((out / "results.json").read_text())
    panel = _panel(work)
    treated = set(panel.filter(pl.col("ever_treated") == 1)["unit_code"].unique().to_list())
    for a in doc["analyses"]:
        if a.get("subgroup") or a["method"] == "time_to_good":
            continue
        accounted = {t["unit"]: t for t in a["results"]["diagnostics"]["treated_units"]}
        assert set(accounted) == treated, a["label"]
        assert all(t["included"] or t["reason"] for t in accounted.values()), a["label"]
    primaries = [a["label"] for a in doc["analyses"] if a.get("primary")]
    assert len(primaries) == 9 and {c["label"] for c in doc["conclusions"]} == set(primaries)
    power = {p["label"]: p for p in doc["power"]["analyses"]}
    assert set(power) == set(primaries)
    for p in power.values():  # placebo draws at effect 0 keep the interval's size (100 draws: within 0.05 + noise)
        assert p["draws"] >= 90 and p["size"] <= 0.15 and p["equivariant"], p["label"]
        assert p["mde_increase"] > 0 and p["mde_decrease"] < 0, p["label"]
    for c in doc["conclusions"]:
        assert c["mde"]["mde_increase"] == power[c["label"]]["mde_increase"]
        if c["verdict"] == "no detectable effect":
            assert "could not have been detected" in c["text"], c["label"]
    for a in doc["analyses"]:
        if a.get("primary"):
            names = {e["name"] for e in a["results"]["estimates"]}
            assert "honest:rm:breakdown" in names and "pretrend" in names, a["label"]
    md = (out / "report.md").read_text()
    assert "## The bottom line" in md and "Differences between models" in md
    assert "What could have been detected" in md and "fig-multiverse.svg" in md
    assert "Kingston upon Thames" in md and "fig-time_to_good_vs_directed-km.svg" in md
    mv = pl.read_parquet(out / "multiverse.parquet")
    assert mv.height == 100 and mv.filter(pl.col("status") == "ok").height >= 80
    assert {"joint", "separate", "out"} <= set(mv["kingston_richmond"].to_list())
    proc = evalkit_cmd("verify", "reports/england-adm-v3", cwd=work)
    assert "reproduced" in proc.stdout


def test_v2_plan_is_unchanged_since_its_lock() -> None:
    """v2 is locked and stays as it was (v3 carries its analyses): its file still hashes to its lock."""
    from evalkit.io import sha256_file

    lock = json.loads((REPO / "plans" / "england-adm-v2.lock.json").read_text())
    assert sha256_file(REPO / "plans" / "england-adm-v2.toml") == lock["sha256"]


def test_registry_carries_the_research_notes_facts() -> None:
    """Set-up funding and imposed/voluntary in the packaged registry agree with ../shared/domain/adm_registry.csv."""
    notes = REFERENCE.parent.parent / "domain" / "adm_registry.csv"
    if not notes.exists():
        pytest.skip(f"{notes} not found")
    with open(REPO / "evalkit" / "data" / "adm_registry.csv", encoding="utf-8") as fh:
        ours = {r["spell_id"]: r for r in csv.DictReader(fh)}
    with open(notes, encoding="utf-8") as fh:
        theirs = {r["spell_id"]: r for r in csv.DictReader(fh)}
    assert set(ours) == set(theirs)
    for spell, r in theirs.items():
        money = re.match(r"£(\d+(?:\.\d+)?)m", r["dfe_setup_funding"] or "")
        if money:
            assert int(ours[spell]["setup_funding_gbp"]) == round(float(money.group(1)) * 1_000_000), spell
        text = (r["assignment"] or "").lower()
        if text.startswith("voluntary"):
            assert ours[spell]["assignment"] == "voluntary", spell
        elif text.startswith("imposed"):
            assert ours[spell]["assignment"] == "imposed", spell
