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
