"""[inference] pretrend_draws = "own" (opt-in; plans v1-v5 lack it): under a family's shared size-keeping
draws, the permutation pre-trend test permutes adoption dates among the analysis's own councils. Its
draws are then those of the same analysis run without a family (same seed), whatever the family's
universe; the headline rows and the family's joint draws are unchanged; the pre-trend power and
equivalence bounds read the same own draws."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from evalkit.analysis.intervals import KEEP_DRAWS, PRETREND_DRAWS, SHARED_SIZE, UNIVERSE, UNIVERSE_SIZES
from evalkit.analysis.run import run
from evalkit.analysis.verdict import pretrend_evidence
from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did.simulate import simulate_staggered

INF = {"alpha": 0.05, "seed": 5, "permutations": 49}
OPTS = {"control": "never", "bootstrap": 0}


def _partial_panel() -> tuple[LongPanel, dict]:
    """A panel holding part of a family's councils: the universe adds untreated and treated councils it lacks."""
    p = simulate_staggered(30, 8, {5: 3, 6: 3}, effect=0.0, noise=1.0, seed=3)
    data = p.data.with_columns(pl.col("unit").cast(pl.Utf8).str.zfill(3))
    panel = LongPanel(data, p.outcome, p.covariates)
    universe = {**panel.unit_cohorts(), "901": 0, "902": 0, "903": 0, "904": 5, "905": 6, "906": 0}
    return panel, universe


def _sizes(universe: dict) -> dict:
    return {u: 800.0 + 37 * i for i, u in enumerate(sorted(universe))}


def _run(panel: LongPanel, universe: dict | None, **extra) -> dict:
    sizes = _sizes(universe or panel.unit_cohorts())
    family = {UNIVERSE: universe, SHARED_SIZE: True, UNIVERSE_SIZES: sizes} if universe else {}
    inference = {**INF, "interval": "ferman_pinto", "unit_size": sizes, KEEP_DRAWS: True, **family, **extra}
    return run("cs", panel, OPTS, inference).to_dict()


def test_own_pretrend_is_the_pretrend_of_the_analysis_drawn_alone() -> None:
    panel, universe = _partial_panel()
    own = _run(panel, universe, **{PRETREND_DRAWS: "own"})["inference"]["ferman_pinto"]
    alone = _run(panel, None)["inference"]["ferman_pinto"]
    shared = _run(panel, universe)["inference"]["ferman_pinto"]
    assert own["pretrend"]["p_value"] == alone["pretrend"]["p_value"]
    assert own["pretrend"]["statistic"] == pytest.approx(alone["pretrend"]["statistic"], rel=1e-12)
    assert "own councils" in own["pretrend"]["test"]
    # the shared-draw test is a different test here (draws with other mover counts): not the same p
    assert shared["pretrend"]["statistic"] != pytest.approx(own["pretrend"]["statistic"], rel=1e-6)
    # the pre-period draws kept are those of the analysis alone, event time by event time
    names = own["pretrend_draws"]["names"]
    assert names and all(n.startswith("dynamic:e=-") for n in names)
    cols = [alone["draws"]["names"].index(n) for n in names]
    for mine, theirs in zip(own["pretrend_draws"]["values"], alone["draws"]["values"]):
        expected = [theirs[c] for c in cols]
        assert mine == pytest.approx(expected, rel=1e-10, abs=1e-12, nan_ok=True)


def test_own_pretrend_leaves_the_headline_and_the_joint_draws_as_they_were() -> None:
    panel, universe = _partial_panel()
    own = _run(panel, universe, **{PRETREND_DRAWS: "own"})
    shared = _run(panel, universe)
    assert own["estimates"] == shared["estimates"]
    assert own["inference"]["ferman_pinto"]["joint"] == shared["inference"]["ferman_pinto"]["joint"]
    assert own["inference"]["ferman_pinto"]["draws"] == shared["inference"]["ferman_pinto"]["draws"]


def test_pretrend_evidence_reads_the_own_draws() -> None:
    panel, universe = _partial_panel()
    res = _run(panel, universe, **{PRETREND_DRAWS: "own"})
    res["inference"]["default_interval"] = {"interval": "ferman_pinto"}
    ev = pretrend_evidence(res, 0.05)
    assert ev is not None and "own councils" in ev["covariance"]
    shared = _run(panel, universe)
    shared["inference"]["default_interval"] = {"interval": "ferman_pinto"}
    ev_shared = pretrend_evidence(shared, 0.05)
    assert ev_shared is not None and "own councils" not in ev_shared["covariance"]
    assert ev["equivalence_max"] != pytest.approx(ev_shared["equivalence_max"], rel=1e-6)


PLAN = Path(__file__).resolve().parents[1] / "data" / "evidence_size_demo.toml"


def test_plan_takes_own_pretrend_draws_only_beside_shared_draws(tmp_path: Path) -> None:
    from evalkit.plan import load_plan

    text = PLAN.read_text(encoding="utf-8")
    assert "shared_size_draws = true\n" in text
    with_both = tmp_path / "both.toml"
    with_both.write_text(
        text.replace("shared_size_draws = true\n", 'shared_size_draws = true\npretrend_draws = "own"\n')
    )
    assert load_plan(with_both)["inference"]["pretrend_draws"] == "own"
    alone = tmp_path / "alone.toml"
    alone.write_text(text.replace("shared_size_draws = true\n", 'pretrend_draws = "own"\n'))
    with pytest.raises(EvalkitError, match="pretrend_draws.*shared_size_draws"):
        load_plan(alone)


def test_answer_says_a_shared_draw_pretrend_test_at_partial_coverage_is_no_evidence() -> None:
    """Plan v5's reports: the shared-draw test is printed with why it is a diagnostic where the analysis holds
    part of the treated councils; with its own draws, or holding all of them, it is printed as it is."""
    from evalkit.answers import pretrend_caution

    panel, universe = _partial_panel()
    shared, own, alone = _run(panel, universe), _run(panel, universe, **{PRETREND_DRAWS: "own"}), _run(panel, None)
    for res in (shared, own, alone):
        res["inference"]["default_interval"] = {"interval": "ferman_pinto"}
    words = pretrend_caution(shared, 6, 2)
    assert words is not None and "holds 6 of the 8 councils that moved" in words
    assert pretrend_caution(shared, 6, 0) is None  # every treated council in the sample
    assert pretrend_caution(own, 6, 2) is None  # its own draws
    assert pretrend_caution(alone, 6, 2) is None  # no family: drawn alone


@pytest.mark.parametrize("constant", [0.0, 0.7])
def test_pretrend_evidence_leaves_out_an_event_time_no_draw_moves(constant: float) -> None:
    """An event time with the same value under every permuted assignment (spread 0) has no equivalence bound;
    it crashed the equivalence root-finder (NaN at 0) on a placebo design of the England panel."""
    import numpy as np

    rng = np.random.default_rng(0)
    names = ["dynamic:e=-4", "dynamic:e=-3", "dynamic:e=-2", "simple"]
    values = [[constant, float(a), float(b), float(c)] for a, b, c in rng.normal(size=(99, 3))]
    res = {
        "inference": {"randomisation": {"draws": {"names": names, "values": values}}},
        "estimates": [{"name": n, "estimate": v} for n, v in zip(names, [constant, 0.3, -0.2, 0.1])],
        "options": {"base_period": "universal"},
    }
    ev = pretrend_evidence(res, 0.05)
    assert ev is not None and ev["event_times"] == [-3, -2]
    assert np.isfinite(ev["equivalence_max"]) and ev["equivalence_max"] > 0.3
