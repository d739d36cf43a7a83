"""Every method in the registry honours its contract through every door.

A `methods.Method` entry declares every per-method fact (intervals, randomisation engine, fast point
path, headline row, pre-periods, kind, multiverse use); these tests hold each entry to what it
declares, so that adding an estimator is its module, one registry entry and its test.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evalkit import methods
from evalkit.analysis.run import run
from evalkit.analysis.verdict import headline
from evalkit.errors import UsageError
from evalkit.estimators.did.simulate import simulate_staggered
from tests.conftest import evalkit_cmd

PANEL_METHODS = [k for k, m in methods.METHODS.items() if m.kind == "panel"]
INF = {"seed": 3, "alpha": 0.05, "permutations": 9, "bootstrap": 19, "interval": "auto"}


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(24, 12, {7: 2, 9: 2}, 1.0, ar=0.3, seed=11)


@pytest.mark.parametrize("key", list(methods.METHODS))
def test_declared_facts_are_consistent(key: str) -> None:
    m = methods.METHODS[key]
    assert set(m.intervals) <= {"analytic", "randomization", "wild"} and "analytic" in m.intervals
    assert (m.randomisation is not None) == ("randomization" in m.intervals), "an engine iff the interval is offered"
    assert m.min_pre_periods >= 1
    if m.points:
        assert m.randomisation == "inversion", "a fast point path serves the inversion engine"
        assert callable(getattr(m.points_class(), "bind", None))
    if m.kind != "panel":
        assert not m.intervals[1:] and m.multiverse is None
    if m.multiverse is not None:
        assert methods.MULTIVERSE[m.multiverse.name] is m


@pytest.mark.parametrize("key", PANEL_METHODS)
def test_every_panel_method_leads_with_its_headline_and_marks_one_default(key: str, panel) -> None:
    m = methods.METHODS[key]
    options = {"se": "placebo"} if key == "sdid" else {}
    if key == "synth":  # one treated unit per fit
        one = panel.data.filter(
            (pl.col("cohort") == 0) | (pl.col("unit") == panel.data.filter(pl.col("cohort") > 0)["unit"].min())
        )
        panel = type(panel)(one, panel.outcome, panel.covariates)
    result = run(key, panel, options, INF)
    est = result.estimates
    assert {"interval", "default"} <= set(est.columns)
    if not m.headline:  # an event study only: no single estimate to state
        assert headline(result.to_dict()) is None
        return
    row = headline(result.to_dict())
    assert row is not None and np.isfinite(row["estimate"])
    assert row["default"] is True, "the row a verdict quotes is the one marked default"
    chosen = result.inference.get("default_interval", {}).get("interval", "analytic")
    assert row["interval"] in (chosen, "analytic", "placebo", "bootstrap", "jackknife")
    if chosen == "randomization":
        assert row["name"] == f"{m.headline}:randomisation"


@pytest.mark.parametrize("key", [k for k, m in methods.METHODS.items() if m.kind != "panel"])
def test_non_panel_methods_are_refused_by_the_panel_door(key: str, panel, tmp_path) -> None:
    with pytest.raises(UsageError, match="only from a plan"):
        run(key, panel, {}, INF)
    csv = tmp_path / "p.csv"
    panel.data.rename({"y": "outcome"}).write_csv(csv)
    proc = evalkit_cmd(
        "estimate", "--panel", str(csv), "--unit", "unit", "--time", "time", "--outcome", "outcome",
        "--cohort", "cohort", "--method", key, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_min_pre_periods_drop_the_units_a_method_cannot_fit() -> None:
    from evalkit.analysis.sample import drop_short_pre_periods

    rows = pl.DataFrame({"unit_code": ["a", "b", "c", "d"], "cohort": [2011, 2012, 2013, 0]})
    assert drop_short_pre_periods(rows, "sdid", (2010, 2015)) == {"a"}
    assert drop_short_pre_periods(rows, "cs", (2010, 2015)) == set()
