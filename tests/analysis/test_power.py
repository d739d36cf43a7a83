"""Design-based power on the demo, where the truth is known (-6 per 10,000 on the CLA rate, 0 on spending)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl

from evalkit.power import mde, rejection
from tests.conftest import evalkit_cmd


def test_mde_is_exact_on_the_draws() -> None:
    lo = np.array([-1.0, -0.5, 0.2, -2.0, -1.5])
    hi = lo + 2.0
    up = mde(lo, hi, 1, power=0.8)
    assert rejection(lo, hi, up) >= 0.8 and rejection(lo, hi, np.nextafter(up, 0) - 1e-9) < 0.8
    down = mde(lo, hi, -1, power=0.8)
    assert down < 0 and rejection(lo, hi, down) >= 0.8


def test_power_on_the_demo(demo_run: Path, tmp_path: Path) -> None:
    """Placebo adoptions among the demo's never-treated councils: the true effect (-6) is found in every
    draw, no effect is called an effect about alpha of the time, and the MDE lies between the two."""
    (tmp_path / "data").mkdir()
    shutil.copytree(demo_run / "data" / "processed", tmp_path / "data" / "processed")
    out = evalkit_cmd("power", "--draws", "20", "--permutations", "19", "--effects", "-6,-3,0,3", cwd=tmp_path)
    assert "MDE" in out.stdout
    doc = json.loads((tmp_path / "reports" / "demo" / "power.json").read_text())
    by = {a["label"]: a for a in doc["analyses"]}
    cla = {c["effect"]: c["rejection_rate"] for c in by["cla_cs_never"]["curve"]}
    assert cla[-6.0] >= 0.95 and cla[0.0] <= 0.2
    assert by["cla_cs_never"]["equivariant"] and by["cla_cs_never"]["interval"] == "randomization"
    assert 0 < by["cla_cs_never"]["mde_increase"] < 6 and -6 < by["cla_cs_never"]["mde_decrease"] < 0
    spend = {c["effect"]: c["rejection_rate"] for c in by["spend_cs_never"]["curve"]}
    assert spend[0.0] <= 0.2
    frame = pl.read_parquet(tmp_path / "reports" / "demo" / "power.parquet")
    assert set(frame["label"]) == {"cla_cs_never", "spend_cs_never"} and frame.height == 8


def test_size_matched_placebo_draws_take_the_treated_councils_size_tercile() -> None:
    """Each placebo-treated council comes from the size tercile of the treated council whose date it takes."""
    from evalkit.estimators.did.simulate import simulate_staggered
    from evalkit.power import placebo_panel

    p = simulate_staggered(60, 6, {3: 3, 5: 3}, 0.0, seed=1)
    units = p.units
    sizes = {u: float(k) for k, u in enumerate(units)}  # size = position: terciles are 0-19, 20-39, 40-59
    cohorts = p.unit_cohorts()
    treated_bins = sorted((int(sizes[u]) // 20, c) for u, c in cohorts.items() if c > 0)
    for s in range(5):
        placebo, _ = placebo_panel(p, np.random.default_rng(s), sizes)
        got = sorted((int(sizes[u]) // 20, c) for u, c in placebo.unit_cohorts().items() if c > 0)
        assert got == treated_bins  # same tercile and cohort for every treated council
        assert all(cohorts[u] == 0 for u, c in placebo.unit_cohorts().items())  # never-treated only


def test_calibration_reports_every_interval_and_design() -> None:
    """Per-interval size and MDE on exchangeable and size-matched draws; at effect 0 the size-keeping
    interval rejects in about alpha of the draws (40 draws: loose bound, the test checks the plumbing)."""
    from evalkit.estimators.did.simulate import simulate_staggered
    from evalkit.power import calibration

    p = simulate_staggered(50, 7, {4: 3, 6: 3}, 0.0, ar=0.5, seed=2)
    sizes = {u: float(k + 1) for k, u in enumerate(p.units)}
    inf = {"seed": 3, "alpha": 0.05, "permutations": 19, "bootstrap": 0}
    cal = calibration("cs", p, {}, inf, kinds=["analytic", "studentized", "wild"], draws=40, seed=5, sizes=sizes)
    assert cal["kinds"] == ["analytic", "studentized"]  # wild is TWFE-only: left out
    for design in ("exchangeable", "size_matched"):
        c = cal["designs"][design]["studentized"]
        assert c["draws"] == 40 and 0.0 <= c["size"] <= 0.2
        assert c["mde_increase"] is None or c["mde_increase"] > 0
    no_size = calibration("cs", p, {}, inf, kinds=["analytic"], draws=10, seed=5, sizes=None)
    assert list(no_size["designs"]) == ["exchangeable"] and "no size column" in no_size["size_matched"]
