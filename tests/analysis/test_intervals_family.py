"""A family's shared permutations (analysis.intervals, `universe`): the same permuted adoption dates for
every analysis, and draws that leave an outcome no estimable treated council dropped, not fatal."""

from __future__ import annotations

import numpy as np
import polars as pl

from evalkit.analysis.intervals import UNIVERSE
from evalkit.analysis.run import run
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did.simulate import simulate_staggered

INF = {"alpha": 0.05, "seed": 5, "permutations": 49, "interval": "randomization"}


def _panel(units: list[str] | None = None, seed: int = 1) -> LongPanel:
    p = simulate_staggered(30, 8, {5: 2, 6: 2}, effect=0.0, noise=1.0, seed=seed)
    data = p.data.with_columns(pl.col("unit").cast(pl.Utf8).str.zfill(3))
    if units is not None:
        data = data.filter(pl.col("unit").is_in(units))
    return LongPanel(data, p.outcome, p.covariates)


def _ri(panel: LongPanel, universe: dict) -> dict:
    res = run("cs", panel, {"control": "never", "bootstrap": 0}, {**INF, UNIVERSE: universe})
    return res.inference["randomisation"]


def test_two_analyses_of_a_family_see_the_same_assignments() -> None:
    full = _panel()
    part = _panel([u for u in full.units if u not in ("003", "010", "020")], seed=1)
    universe = {**full.unit_cohorts(), "999": 0}  # a council in neither panel still takes part
    a, b = _ri(full, universe), _ri(part, universe)
    assert a["joint"]["assignments"] == b["joint"]["assignments"]
    assert len(a["draws"]["values"]) == len(b["draws"]["values"]) == 49
    # the permuted dates of the councils both panels share are identical, draw by draw
    from evalkit.estimators.inference.randomisation import universe_assignments

    units = sorted(universe)
    draws = universe_assignments(universe, units, np.array([universe[u] for u in units]), np.random.default_rng(5), 49)
    again = universe_assignments(universe, units, np.array([universe[u] for u in units]), np.random.default_rng(5), 49)
    assert all(np.array_equal(x, y) for x, y in zip(draws, again))


def test_draws_without_an_estimable_treated_council_are_left_out() -> None:
    panel = _panel()
    # 60 councils outside this panel: most draws give every adoption date to councils it lacks
    universe = {**panel.unit_cohorts(), **{f"x{i:02d}": 0 for i in range(60)}}
    info = _ri(panel, universe)
    assert info["joint"]["draws_without_estimate"] > 0
    values = np.array([[np.nan if v is None else v for v in row] for row in info["draws"]["values"]])
    assert np.isnan(values).all(axis=1).sum() == info["joint"]["draws_without_estimate"]
