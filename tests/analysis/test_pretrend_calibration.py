"""The pre-trend test's size on the user's own panel (`[power] pretrend`, issue #25 item 3): each calibration
draw also says whether the analysis's pre-trend test rejected there. The lean draw permutes the pre-move
estimates for that test alone; its p must be the full run's, and the headline interval must not move."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit import power
from evalkit.analysis import intervals
from evalkit.analysis.pretrend import pretrend_result
from evalkit.analysis.run import run
from evalkit.analysis.verdict import headline
from evalkit.errors import UsageError
from evalkit.estimators.did.simulate import simulate_staggered

INF = {"seed": 11, "alpha": 0.05, "permutations": 19, "bootstrap": 49}
KINDS = ["randomization", "studentized", "ferman_pinto"]


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(50, 9, {5: 3, 7: 4}, 0.0, ar=0.5, seed=8)


def _sizes(panel) -> dict[str, float]:
    return {u: float(10 + i % 7) for i, u in enumerate(sorted(panel.data["unit"].unique().to_list()))}


def _inf(panel, kind: str) -> dict:
    return {**INF, "interval": kind, **({"unit_size": _sizes(panel)} if kind == "ferman_pinto" else {})}


@pytest.mark.parametrize("kind", KINDS)
def test_lean_draw_gives_the_full_runs_pretrend_p_and_the_same_headline(panel, kind) -> None:
    """PRETREND_TOO: no pre-move row is made, the headline row keeps its bits, and the pre-trend test (p and
    statistic) is the one a run making every row computes on the same permutations."""
    inf = _inf(panel, kind)
    every = run("cs", panel, {"est_method": "reg", "bootstrap": 0}, inf).to_dict()
    lean = run(
        "cs",
        panel,
        {"est_method": "reg", "bootstrap": 0},
        {**inf, intervals.HEADLINE_ONLY: True, intervals.PRETREND_TOO: True},
    ).to_dict()
    suffix = intervals.RI_SUFFIX if kind == "randomization" else intervals.SUFFIXES[kind]
    made = [r["name"] for r in lean["estimates"] if r["name"].endswith(suffix)]
    assert made == ["simple" + suffix]
    assert headline(lean) == headline(every)
    full_pre, lean_pre = pretrend_result(every), pretrend_result(lean)
    assert full_pre is not None and str(full_pre["test"]).startswith("permutation")
    assert lean_pre["p_value"] == full_pre["p_value"]
    assert lean_pre["statistic"] == full_pre["statistic"]
    assert lean_pre["df"] == full_pre["df"] >= 3
    # without the key a power draw makes no pre-trend test (its names are the headline's alone)
    bare = run("cs", panel, {"est_method": "reg", "bootstrap": 0}, {**inf, intervals.HEADLINE_ONLY: True}).to_dict()
    assert pretrend_result(bare) is None or not str(pretrend_result(bare)["test"]).startswith("permutation")


@pytest.mark.parametrize("kind", ["randomization", "ferman_pinto", "analytic"])
def test_calibration_pretrend_size_counts_the_full_runs_rejections(panel, kind) -> None:
    """The calibrated size is the share of placebo draws whose pre-trend test (as a full run of the analysis
    reads it) has p < alpha; the interval calibration beside it is unchanged by asking for it."""
    sizes = _sizes(panel) if kind == "ferman_pinto" else None
    inf = {**INF, **({"unit_size": sizes} if sizes else {})}
    args = dict(kinds=[kind], draws=12, seed=3, sizes=sizes)
    plain = power.calibration("cs", panel, {"est_method": "reg"}, inf, **args)
    with_pre = power.calibration("cs", panel, {"est_method": "reg"}, inf, **args, pretrend=True)
    for design in plain["designs"]:
        got = with_pre["designs"][design][kind]
        assert {k: v for k, v in got.items() if k != "pretrend"} == plain["designs"][design][kind]
        # the second method: each placebo draw run in full, its pre-trend p read as the decision rule reads it
        seeds = np.random.SeedSequence([3, list(plain["designs"]).index(design)]).spawn(12)
        matched = sizes if design == "size_matched" else None
        ps = []
        for j, s in enumerate(seeds):
            made = power.placebo_panel(panel, np.random.default_rng(s), matched)[0]
            doc = run("cs", made, {"est_method": "reg"}, {**inf, "interval": kind, "seed": INF["seed"] + j}).to_dict()
            ps.append(pretrend_result(doc)["p_value"])
        rejected = sum(p < INF["alpha"] for p in ps)
        assert got["pretrend"]["draws"] == 12
        assert got["pretrend"]["rejected"] == rejected
        assert got["pretrend"]["size"] == rejected / 12


def test_analytic_wald_pretrend_over_rejects_where_an_event_time_rests_on_one_council() -> None:
    """A known failure the calibration must show (issue #25): with one council at the earliest pre-move event
    times and a unit-level AR(1) error, the analytic Wald test rejects a true zero far more than 5 %, while
    the permutation test on the same draws stays near it."""
    panel = simulate_staggered(40, 10, {4: 1, 8: 3}, 0.0, ar=0.6, seed=21)
    args = dict(draws=40, seed=5, sizes=None, pretrend=True)
    inf = {**INF, "permutations": 39}
    wald = power.calibration("cs", panel, {"est_method": "reg"}, inf, kinds=["analytic"], **args)
    perm = power.calibration("cs", panel, {"est_method": "reg"}, inf, kinds=["randomization"], **args)
    w = wald["designs"]["exchangeable"]["analytic"]["pretrend"]
    p = perm["designs"]["exchangeable"]["randomization"]["pretrend"]
    assert w["draws"] == p["draws"] == 40
    assert w["size"] >= 0.25  # measured 0.825 (33/40) at these seeds
    assert p["size"] <= 0.15  # measured 0.05 (2/40); 40 draws: 5 % +/- 3.4 % s.e.


def test_pretrend_size_needs_intervals() -> None:
    plan = {"inference": {"seed": 1}, "power": {"draws": 20, "pretrend": True}}
    with pytest.raises(UsageError, match="pretrend needs"):
        power.settings(plan)
    assert power.settings({**plan, "power": {**plan["power"], "intervals": ["randomization"]}})["pretrend"] is True
    assert "pretrend" not in power.settings({"inference": {"seed": 1}, "power": {"draws": 20}})


def test_pretrend_size_reads_p_below_alpha_and_skips_draws_without_a_test() -> None:
    got = power.pretrend_size([0.01, 0.05, 0.2, float("nan"), 0.049], 0.05)
    assert got == {"draws": 4, "rejected": 2, "size": 0.5, "mc_se": 0.25, "alpha": 0.05}
    assert power.pretrend_size([float("nan")], 0.05)["draws"] == 0


def test_terminal_line_names_each_design_for_the_analysis_own_kind() -> None:
    pre = {"draws": 100, "rejected": 6, "size": 0.06, "mc_se": 0.024, "alpha": 0.05}
    analysis = {
        "interval": "ferman_pinto",
        "calibration": {
            "designs": {
                "exchangeable": {
                    "ferman_pinto": {"pretrend": pre},
                    "randomization": {"pretrend": {**pre, "size": 0.5}},
                },
                "size_matched": {"ferman_pinto": {"pretrend": {**pre, "size": 0.02}}},
            }
        },
    }
    assert power.pretrend_size_line(analysis) == (
        "pre-trend test size at 0 (ferman_pinto draws): exchangeable 6.0% of 100, size-matched 2.0% of 100"
    )
    assert power.pretrend_size_line({"interval": "ferman_pinto", "calibration": {"designs": {}}}) == ""
