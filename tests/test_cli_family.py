"""`estimate --panel` reaches the plan-only evidence of issue #25: a family of outcomes with adjusted
p-values on one shared set of permuted adoption dates, the RMS pre-trend equivalence test, and the
first-year sensitivity beside the average's."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from tests.conftest import evalkit_cmd


def _panel(path) -> None:
    """40 councils x 9 years, 4 movers (2015, 2016, 2016, 2018), two correlated outcomes, noise shrinking
    with size (as the size-keeping interval's variance model assumes)."""
    rng = np.random.default_rng(1)
    cohorts = [0] * 36 + [2015, 2016, 2016, 2018]
    rows = []
    for u, g in enumerate(cohorts):
        pop = float(np.exp(rng.normal(9, 1)))
        a, b = rng.normal(size=2)
        for t in range(2012, 2021):
            e = rng.normal(0, 1 / np.sqrt(pop / 8000))
            rows.append({"id": f"u{u:02d}", "year": t, "g": g, "pop": pop, "y1": a + 0.1 * t + e, "y2": b + e})
    pl.DataFrame(rows).write_csv(path)


BASE = ["--unit", "id", "--time", "year", "--cohort", "g", "--size-column", "pop", "--permutations", "99"]


def _run(tmp_path, *extra: str) -> dict:
    path = tmp_path / "p.csv"
    if not path.exists():
        _panel(path)
    res = evalkit_cmd("estimate", "--panel", str(path), *BASE, *extra, "--json", "-", cwd=tmp_path)
    return json.loads(res.stdout)


def _row(result: dict, name: str) -> dict:
    return next(r for r in result["estimates"] if r["name"] == name)


def test_family_shares_draws_and_adjusts(tmp_path) -> None:
    doc = _run(tmp_path, "--outcome", "y1,y2")
    assert doc["family"]["outcomes"] == ["y1", "y2"]
    adjusted = doc["family"]["adjusted"]
    joint = {y: r["inference"]["ferman_pinto"]["joint"]["assignments"] for y, r in doc["results"].items()}
    assert joint["y1"] == joint["y2"]  # one set of permuted adoption dates for the family
    p = {y: _row(doc["results"][y], "simple:ferman_pinto")["p_value"] for y in ("y1", "y2")}
    lo, hi = sorted(p.values())
    holm = {y: min(1.0, 2 * lo) if p[y] == lo else min(1.0, max(2 * lo, hi)) for y in p}
    for y in ("y1", "y2"):
        a = adjusted[y]
        assert a["p"] == p[y]
        assert a["holm"] == pytest.approx(holm[y], abs=1e-12)
        assert p[y] <= a["romano_wolf"] <= a["holm"] + 1e-12  # the stepdown is between unadjusted and Holm
        assert a["used"] == a["romano_wolf"]
        assert a["method"].startswith("Romano-Wolf")
    # Each outcome's own interval is the one a single-outcome run gives (the family's councils are its own).
    alone = _run(tmp_path, "--outcome", "y1")
    assert _row(alone, "simple:ferman_pinto") == _row(doc["results"]["y1"], "simple:ferman_pinto")


def test_equivalence_rms_from_the_command_line(tmp_path) -> None:
    doc = _run(tmp_path, "--outcome", "y1", "--equivalence-rms", "--option", "base_period=universal")
    rms = doc["inference"]["equivalence_rms"]
    pre = [_row(doc, f"dynamic:e={e}")["estimate"] for e in rms["event_times"]]
    assert rms["rms"] == pytest.approx(float(np.sqrt(np.mean(np.square(pre)))), rel=1e-12)
    assert rms["threshold"] >= rms["rms"]  # the smallest departure rejected is never below the estimate
    assert -1 not in rms["event_times"]  # the base year is zero by construction and left out


def test_also_first_gives_both_breakdowns(tmp_path) -> None:
    both = _run(tmp_path, "--outcome", "y1", "--sensitivity", "rm", "--sensitivity-target", "average", "--also-first")
    first = _run(tmp_path, "--outcome", "y1", "--sensitivity", "rm", "--sensitivity-target", "first")
    sens = both["diagnostics"]["sensitivity"]
    assert sens["target"] == "average"  # the verdict's number stays the average
    assert sens["first_year"]["target"] == "first"
    assert sens["first_year"]["breakdown"] == first["diagnostics"]["sensitivity"]["breakdown"]
    assert sens["first_year"]["original"]["estimate"] == _row(first, "honest:rm:original")["estimate"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--outcome", "y1,y1"), "--outcome names 'y1' twice"),
        (("--outcome", "y1,,y2"), "an empty name between commas"),
        (("--outcome", "y1", "--also-first"), "--also-first needs --sensitivity"),
        (("--outcome", "y1", "--sensitivity", "rm", "--also-first"), "--also-first"),
        (("--outcome", "y1", "--method", "synth", "--equivalence-rms"), "--equivalence-rms needs an event study"),
    ],
)
def test_refusals_are_one_line(tmp_path, extra, message) -> None:
    path = tmp_path / "p.csv"
    _panel(path)
    res = evalkit_cmd("estimate", "--panel", str(path), *BASE, *extra, cwd=tmp_path, check=False)
    assert res.returncode == 2, res.stderr
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_plan_mode_refuses_the_panel_only_flags(tmp_path) -> None:
    res = evalkit_cmd("estimate", "--equivalence-rms", cwd=tmp_path, check=False)
    assert res.returncode == 2
    assert "--equivalence-rms" in res.stderr


def test_family_pretrend_draws_among_each_outcomes_own_units(tmp_path) -> None:
    """An outcome whose panel lacks one mover and three untreated units: its pre-trend test is the one a run of
    that outcome alone gives (permuted among its own units), not one on the family's shared draws, whose mover
    count varies from draw to draw (that test over-rejects at partial coverage: benchmarks/FWER.md)."""
    path = tmp_path / "p.csv"
    _panel(path)
    df = pl.read_csv(path)
    gone = pl.col("id").is_in(["u39", "u00", "u01", "u02"])  # u39 moved in 2018
    df.with_columns(pl.when(gone).then(None).otherwise(pl.col("y1") * 0.5 + pl.col("y2")).alias("y3")).write_csv(path)
    doc = _run(tmp_path, "--outcome", "y1,y3")
    alone = _run(tmp_path, "--outcome", "y3")
    fam = doc["results"]["y3"]["inference"]["ferman_pinto"]
    own = alone["inference"]["ferman_pinto"]
    assert "joint" in fam and "joint" not in own  # the family's headline draws are shared ...
    assert fam["pretrend"]["p_value"] == own["pretrend"]["p_value"]  # ... its pre-trend test is its own
    assert fam["pretrend"]["statistic"] == pytest.approx(own["pretrend"]["statistic"], rel=1e-12)
    assert "own councils" in fam["pretrend"]["test"]


@pytest.mark.parametrize("interval", ["studentized", "ferman_pinto"])
def test_an_empty_outcome_cell_is_no_observation(tmp_path, interval) -> None:
    """One empty cell of the outcome: the size-keeping rows are those of the panel without that row (before,
    its unit's residuals were NaN: a studentised interval 30 times too wide, Ferman-Pinto refused)."""
    path = tmp_path / "p.csv"
    _panel(path)
    df = pl.read_csv(path)
    hole = (pl.col("id") == "u05") & (pl.col("year") == 2014)
    df.with_columns(pl.when(hole).then(None).otherwise(pl.col("y2")).alias("y2")).write_csv(path)
    args = ["--outcome", "y2", "--interval", interval]
    with_hole = _run(tmp_path, *args)
    df.filter(~hole).write_csv(path)
    without = _run(tmp_path, *args)
    assert with_hole["diagnostics"]["rows_without_outcome"] == {"rows": 1, "units_without_any": []}
    name = f"simple:{interval}"
    assert _row(with_hole, name) == _row(without, name)
    assert _row(with_hole, name)["ci_high"] - _row(with_hole, name)["ci_low"] < 10  # the data's scale is ~1


@pytest.mark.parametrize("value", ["NaN", "inf", "-Infinity"])
def test_a_non_finite_outcome_is_refused_with_its_row(tmp_path, value) -> None:
    path = tmp_path / "p.csv"
    _panel(path)
    df = pl.read_csv(path).with_columns(pl.col("y2").cast(pl.Utf8))
    df = df.with_columns(pl.when(pl.int_range(pl.len()) == 7).then(pl.lit(value)).otherwise(pl.col("y2")).alias("y2"))
    df.write_csv(path)
    res = evalkit_cmd("estimate", "--panel", str(path), *BASE, "--outcome", "y1,y2", cwd=tmp_path, check=False)
    assert res.returncode != 0
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "row 9" in lines[0] and "'y2'" in lines[0] and "finite number" in lines[0], res.stderr


@pytest.mark.parametrize("size", [0.0, -5.0])
def test_a_size_that_is_not_positive_names_the_unit_and_column(tmp_path, size) -> None:
    path = tmp_path / "p.csv"
    _panel(path)
    pl.read_csv(path).with_columns(
        pl.when(pl.col("id") == "u07").then(size).otherwise(pl.col("pop")).alias("pop")
    ).write_csv(path)
    res = evalkit_cmd("estimate", "--panel", str(path), *BASE, "--outcome", "y1", cwd=tmp_path, check=False)
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1, res.stderr
    assert "column 'pop'" in lines[0] and "unit u07" in lines[0], res.stderr
