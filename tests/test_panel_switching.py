"""`estimate --panel` with treatment that switches off, and with incomplete donors (issue 28)."""

from __future__ import annotations

import json

import numpy as np
import polars as pl

from tests.conftest import evalkit_cmd


def _switching_panel(path) -> None:
    rng = np.random.default_rng(3)
    rows = []
    for u in range(1, 13):
        for t in range(1, 9):
            d = 1 if (u <= 3 and 3 <= t <= 5) or (u in (4, 5) and t >= 4) else 0
            rows.append({"id": u, "t": t, "y": float(rng.normal() + 2 * d), "D": d})
    pl.DataFrame(rows).write_csv(path)


def test_cs_refuses_units_that_switch_off_and_dcdh_runs(tmp_path) -> None:
    path = tmp_path / "p.csv"
    _switching_panel(path)
    base = ["estimate", "--panel", str(path), "--unit", "id", "--time", "t", "--outcome", "y", "--treated", "D"]
    res = evalkit_cmd(*base, "--method", "cs", cwd=tmp_path, check=False)
    assert res.returncode == 1
    assert "treatment switches off for unit(s) 1, 2, 3;" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    ok = evalkit_cmd(*base, "--method", "dcdh", "--interval", "analytic", "--json", "-", cwd=tmp_path)
    doc = json.loads(ok.stdout)
    assert doc["diagnostics"]["switchers_in"] == 5  # units 1-5 switch on (1-3 later switch back off)


def test_synth_drops_incomplete_donors_as_a_plan_does(tmp_path) -> None:
    rng = np.random.default_rng(5)
    rows = [
        {"id": u, "t": t, "y": float(rng.normal() + (3 if u == 1 and t >= 7 else 0)), "g": 7 if u == 1 else 0}
        for u in range(1, 11)
        for t in range(1, 10)
        if not (u == 9 and t == 4)  # donor 9 misses a year
    ]
    path = tmp_path / "s.csv"
    pl.DataFrame(rows).write_csv(path)
    args = ["estimate", "--panel", str(path), "--unit", "id", "--time", "t", "--outcome", "y", "--cohort", "g"]
    res = evalkit_cmd(*args, "--method", "synth", "-o", "inference=false", "--json", "-", cwd=tmp_path)
    doc = json.loads(res.stdout)
    assert doc["diagnostics"]["donors_dropped_incomplete"] == ["9"]
    assert "dropped 1 never-treated unit(s) with the outcome missing in some period: 9" in res.stderr
