"""The work the randomisation engine and power no longer repeat (issue #29, v3 in a minute), and that
leaving it out moves no bit: the observed-assignment fit is the one `run` just made (no refit), the
engine's other observed-assignment evaluations are the estimator's own numbers on the layout read
once, and a power draw skips the multiplier bootstrap whose interval it never reads."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evalkit import power
from evalkit.analysis import intervals
from evalkit.analysis.run import run
from evalkit.analysis.verdict import headline
from evalkit.estimators.did import cs
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.estimators.inference import randomisation

INF = {"seed": 7, "alpha": 0.05, "permutations": 19, "bootstrap": 99}


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(60, 8, {4: 3, 6: 3}, 1.0, ar=0.5, seed=3)


def _bytes(result) -> str:
    return json.dumps(result.to_dict(), sort_keys=True, default=repr)


class _FullStatistic:
    """The point statistic as it was before the reuse: every call a full fit through call_estimator."""

    def __init__(self, stat) -> None:
        self.stat = stat

    def __call__(self, p):
        return self.stat.full(p)

    def bind(self, p):
        return self.stat.bind(p)


def _rebuilt(monkeypatch, method, panel, options, inference):
    """`run` with the engine forced back to the old path: no observed estimates passed in, the point
    statistic a full fit at the observed assignment (its fast path for the permutations, as before)."""
    made = intervals._point_statistic

    def old_statistic(m, o, i):
        stat = made(m, o, i)
        return _FullStatistic(stat) if hasattr(stat, "full") else stat

    with monkeypatch.context() as mp:
        mp.setattr(intervals, "_point_statistic", old_statistic)
        mp.setattr(intervals, "_observed_points", lambda *a, **k: None)
        return run(method, panel, options, inference)


def test_run_fits_the_estimator_once(panel, monkeypatch) -> None:
    """One full CS fit per run: the engine reads the observed-assignment estimates from it (before: a
    refit there, and two more full fits on the treatment indicator and the linearity check)."""
    calls = []
    real = cs.callaway_santanna

    def counted(*a, **k):
        calls.append(k.get("bootstrap"))
        return real(*a, **k)

    monkeypatch.setattr(cs, "callaway_santanna", counted)
    res = run("cs", panel, {"est_method": "reg"}, INF)
    assert res.inference["default_interval"]["interval"] == "randomization"
    assert calls == [99]


@pytest.mark.parametrize(
    "options",
    [
        {"est_method": "reg"},
        {"est_method": "dr", "control": "notyet"},
        {"est_method": "ipw", "base_period": "universal", "max_e": 2},
    ],
)
def test_reuse_moves_no_bit(panel, monkeypatch, options) -> None:
    """The whole result (every row, the randomisation info) equals the old path's bit for bit."""
    new = run("cs", panel, options, INF)
    old = _rebuilt(monkeypatch, "cs", panel, options, INF)
    assert _bytes(new) == _bytes(old)


def test_reuse_moves_no_bit_with_covariates(panel, monkeypatch) -> None:
    import polars as pl

    from evalkit.estimators.data import LongPanel

    units = panel.data["unit"].unique().sort()
    x = pl.DataFrame({"unit": units, "x1": np.random.default_rng(1).normal(size=len(units))})
    with_x = LongPanel(panel.data.join(x, on="unit"), panel.outcome, ("x1",))
    new = run("cs", with_x, {"est_method": "dr"}, INF)
    old = _rebuilt(monkeypatch, "cs", with_x, {"est_method": "dr"}, INF)
    assert _bytes(new) == _bytes(old)


def test_observed_points_are_not_reused_when_the_fit_differs(panel) -> None:
    """A fit whose point options differ from the statistic's is never read as its observed value."""
    res = cs.callaway_santanna(panel, est_method="reg")
    names = ["simple"]
    assert intervals._observed_points("cs", {"est_method": "reg"}, INF, res, names) is not None
    # twfe's statistic is another computation than its rows: always evaluated by the engine
    assert intervals._observed_points("twfe", {}, INF, res, names) is None


def test_power_draw_skips_the_bootstrap_and_keeps_its_bits(panel, monkeypatch) -> None:
    """A draw's headline is its randomisation row: made without the multiplier bootstrap, and the same
    bits as the full run's headline (which runs the bootstrap)."""
    made, _ = power.placebo_panel(panel, np.random.default_rng(5))
    full = headline(run("cs", made, {"est_method": "reg"}, INF).to_dict())
    boots = []
    real = cs.multiplier_draws
    monkeypatch.setattr(cs, "multiplier_draws", lambda *a, **k: boots.append(1) or real(*a, **k))
    lean, _ = power._permutation_headline("cs", made, {"est_method": "reg"}, INF)
    assert boots == []
    assert lean is not None and lean["name"] == "simple:randomisation"
    assert json.dumps(lean, sort_keys=True) == json.dumps(full, sort_keys=True)
    assert power._interval("cs", made, {"est_method": "reg"}, INF)[:4] == (
        full["estimate"],
        full["ci_low"],
        full["ci_high"],
        "randomization",
    )


def test_power_draw_runs_everything_when_the_headline_is_analytic(panel) -> None:
    """With the analytic rule the headline carries the bootstrap interval: the shortcut declines."""
    made, _ = power.placebo_panel(panel, np.random.default_rng(5))
    inf = {**INF, "interval": "analytic"}
    assert power._permutation_headline("cs", made, {"est_method": "reg"}, inf) == (None, None)
    full = headline(run("cs", made, {"est_method": "reg"}, inf).to_dict())
    assert power._interval("cs", made, {"est_method": "reg"}, inf)[1:3] == (full["ci_low"], full["ci_high"])


def test_engine_observed_values_equal_fresh_evaluations(panel) -> None:
    """Draws given the observed estimates gives the same draws as Draws computing them itself."""
    stat = intervals._point_statistic("cs", {"est_method": "reg"}, INF)
    names = ["simple", "dynamic:e=0", "dynamic"]
    fresh = randomisation.Draws(panel, _FullStatistic(stat), names, n_perm=9, seed=1, progress=None)
    fit = cs.callaway_santanna(panel, est_method="reg", bootstrap=49)
    by = dict(zip(fit.estimates["name"].to_list(), fit.estimates["estimate"].to_list()))
    given = randomisation.Draws(
        panel, stat, names, n_perm=9, seed=1, progress=None, observed=np.array([by[n] for n in names])
    )
    for attr in ("a_obs", "b_obs", "linear", "a_p", "b_p"):
        assert np.array_equal(getattr(fresh, attr), getattr(given, attr), equal_nan=True), attr


@pytest.mark.parametrize("kind", ["randomization", "studentized", "ferman_pinto"])
def test_power_draw_makes_the_headline_alone_with_the_same_bits(panel, monkeypatch, kind) -> None:
    """A power draw asks for the permutation rows of the headline alone (intervals.HEADLINE_ONLY; CS's
    fast path then skips the group, dynamic and calendar sums): its headline row is the same bits as in
    a run that makes every row, and no other permutation row is made."""
    sizes = {u: float(10 + i % 7) for i, u in enumerate(sorted(panel.data["unit"].unique().to_list()))}
    inf = {**INF, "interval": kind, **({"unit_size": sizes} if kind == "ferman_pinto" else {})}
    every = run("cs", panel, {"est_method": "reg", "bootstrap": 0}, inf)
    alone = run("cs", panel, {"est_method": "reg", "bootstrap": 0}, {**inf, intervals.HEADLINE_ONLY: True})
    suffix = intervals.RI_SUFFIX if kind == "randomization" else intervals.SUFFIXES[kind]
    made = [n for n in alone.estimates["name"].to_list() if n.endswith(suffix)]
    assert made == ["simple" + suffix]
    assert len([n for n in every.estimates["name"].to_list() if n.endswith(suffix)]) > 5
    assert headline(alone.to_dict()) == headline(every.to_dict())
    import evalkit.analysis.run as run_module

    seen, real = [], run_module.run

    def spy(m, p, o, i, **k):
        seen.append(i.get(intervals.HEADLINE_ONLY))
        return real(m, p, o, i, **k)

    monkeypatch.setattr(run_module, "run", spy)
    assert power._interval("cs", panel, {"est_method": "reg", "bootstrap": 99}, inf)[:3] == (
        headline(every.to_dict())["estimate"],
        headline(every.to_dict())["ci_low"],
        headline(every.to_dict())["ci_high"],
    )
    assert seen == [True]
