"""The England multiverse on the real published files (../shared/data/reference): a stated subset runs
and reaches the report, and the Kingston/Richmond choice shapes the units under either boundary policy.

Apart from tests/pipeline/test_england.py because it needs only the panel, not the v1 plan's estimate:
with `pytest -n` (one file per worker) it runs beside that file instead of after it.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import england_panel, evalkit_cmd

pytestmark = pytest.mark.first  # minutes of setup: started at once under pytest -n (tests/conftest.py)


@pytest.fixture(scope="module")
def england_panel_dir(tmp_path_factory) -> Path:
    return england_panel(tmp_path_factory, "england_multiverse")


def test_england_multiverse_subset_runs_and_reaches_the_report(england_panel_dir: Path) -> None:
    """CI runs a stated subset of the England multiverse (plans/england-multiverse.toml): 12 of its
    1,800 distinct specifications, drawn with the plan's seed, each with the plan's inference."""
    evalkit_cmd("estimate", "--plan", "plans/england-multiverse.toml", cwd=england_panel_dir)
    evalkit_cmd("multiverse", "--plan", "plans/england-multiverse.toml", "--max-specs", "12", cwd=england_panel_dir)
    evalkit_cmd("report", "--plan", "plans/england-multiverse.toml", cwd=england_panel_dir)
    out = england_panel_dir / "reports" / "england-multiverse"
    rows = pl.read_parquet(out / "multiverse.parquet")
    doc = json.loads((out / "multiverse.json").read_text())
    assert rows.height == 12 and doc["specifications"]["distinct_specifications"] == 1800
    assert doc["specifications"]["max_specs_in_plan"] == 500
    ok = rows.filter(pl.col("status") == "ok")
    assert ok.height >= 9, rows.select("id", "estimator", "comparison", "status").to_dicts()
    assert (ok["n_treated"] >= 5).all()
    report = (out / "report.md").read_text()
    assert "Every defensible specification (multiverse)" in report and "fig-multiverse.svg" in report
    assert f"{doc['summary']['share_same_sign']:.0%}" in report and "have the sign of the median" in report


def test_kingston_and_richmond_joint_separate_or_out_under_either_boundary_policy(england_panel_dir: Path) -> None:
    """The multiverse's kingston_richmond choice decides how Achieving for Children's two boroughs enter,
    whatever the policy for the other boundary changes: one unit, two treated boroughs, or neither."""
    from evalkit.multiverse.run import Context, load_panels, spec_panel

    plan = {"data": {"panel": str(england_panel_dir / "data" / "processed" / "panel.parquet")}}
    ctx = Context(panels=load_panels(plan, ["aggregate", "separate"]), inference={}, outcome="cla_rate_per_10000")
    base = {
        "comparison": "never",
        "years": [2013, 2025],
        "northamptonshire": "in",
        "estimator": "cs",
        "covariates": [],
    }
    expected = {"joint": {"314 / 318"}, "separate": {"314", "318"}, "out": set()}
    for policy in ("aggregate", "separate"):
        for choice, units in expected.items():
            long, treated = spec_panel({**base, "boundaries": policy, "kingston_richmond": choice}, ctx)
            kr = {u for u in long.data["unit"].unique().to_list() if u in ("314", "318", "314 / 318")}
            assert kr == units, (policy, choice, kr)
            assert units <= set(treated), (policy, choice, treated)
