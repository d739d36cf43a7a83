"""The evidence rule (plans with [inference].family, or the new per-analysis keys vote and smallest_effect):
voting analyses only, adjusted p-values, negligible effects, ruled-out effects, exaggeration warnings."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.analysis.verdict import adjusted_p, conclude, ruled_out_sentence
from evalkit.estimators.inference.multiplicity import romano_wolf
from evalkit.report.sensitivity import sentence
from tests.analysis.test_verdict import _analysis


def _with_draws(a: dict, draws: list[float], p: float, digest: str = "d1") -> dict:
    """Give an analysis's randomisation row a p-value and its kept permutation draws."""
    for r in a["results"]["estimates"]:
        if r["name"] == "simple:randomisation":
            r["p_value"] = p
    a["results"]["inference"] = {
        "default_interval": {"interval": "randomization", "n_treated_units": 11},
        "randomisation": {
            "joint": {"assignments": digest},
            "draws": {"names": ["simple"], "values": [[v] for v in draws]},
        },
    }
    return a


def test_comparison_only_analysis_never_changes_a_verdict() -> None:
    primary = _analysis("a", -1.0, -2.0, -0.5, primary=True)
    twfe = _analysis("twfe", 0.4, -0.2, 1.0)
    [c] = conclude([primary, twfe])
    assert c["verdict"] == "the data cannot tell"  # plans v1-v3: every analysis of the outcome votes
    twfe["vote"] = False
    [c] = conclude([primary, twfe])
    assert c["verdict"] == "estimated effect" and c["disagree"] == []
    assert "for comparison only, not counted" in c["text"]


def test_smallest_effect_gives_negligible_and_only_inside_the_bound() -> None:
    a = _analysis("a", 0.1, -0.4, 0.6, primary=True)
    a["smallest_effect"] = 1.0
    [c] = conclude([a])
    assert c["verdict"] == "negligible"
    a["smallest_effect"] = 0.5
    [c] = conclude([a])
    assert c["verdict"] == "no detectable effect"


def test_ruled_out_sentence_from_the_interval_bounds() -> None:
    assert "increases larger than 12.0 and decreases larger than 3.5" in ruled_out_sentence(-3.5, 12.0, "u", "95%")
    assert ruled_out_sentence(1.0, 4.0, "u", "95%") == " The data rule out (at 95%) increases larger than 4.0 u."


def test_family_adjusts_the_verdict_with_romano_wolf() -> None:
    rng = np.random.default_rng(2)
    common = rng.standard_normal(199)
    draws = [0.8 * common + 0.6 * rng.standard_normal(199) for _ in range(3)]
    # first outcome: the interval excludes zero with p = 0.03, but across three outcomes it does not survive
    a = _with_draws(_analysis("a", -2.2, -4.0, -0.4, primary=True, ri=(-4.1, -0.2)), list(draws[0]), 0.03)
    b = _with_draws(
        _analysis("b", 0.3, -1.0, 1.6, primary=True, outcome="ofsted_inadequate", ri=(-1.1, 1.7)), list(draws[1]), 0.6
    )
    c_ = _with_draws(
        _analysis("c", 0.1, -1.0, 1.2, primary=True, outcome="cin_rate_per_10000", ri=(-1.1, 1.3)), list(draws[2]), 0.9
    )
    family = ["a", "b", "c"]
    adj = adjusted_p([a, b, c_], family, 0.05)
    t = np.array([-2.2, 0.3, 0.1]) / np.std(np.array(draws).T, axis=0, ddof=1)
    expected = romano_wolf(t, np.array(draws).T / np.std(np.array(draws).T, axis=0, ddof=1))
    assert [adj[k]["romano_wolf"] for k in family] == pytest.approx(list(expected))
    assert adj["a"]["holm"] == pytest.approx(0.09)
    assert all(adj[k]["romano_wolf"] >= adj[k]["p"] - 1e-12 for k in family)
    concl = {c["label"]: c for c in conclude([a, b, c_], family=family)}
    assert adj["a"]["romano_wolf"] == pytest.approx(0.075)  # above alpha: the interval alone no longer decides
    assert concl["a"]["verdict"] == "no detectable effect"
    assert "not after adjusting for the number of outcomes tested" in concl["a"]["text"]
    [alone] = conclude([a])
    assert alone["verdict"] == "estimated effect"  # without the family the same interval is an effect
    assert "after adjusting for the 3 primary outcomes" in concl["b"]["text"]
    assert "The data rule out (at 95%)" in concl["b"]["text"]


def test_family_without_shared_assignments_falls_back_to_holm() -> None:
    draws = list(np.linspace(-3, 3, 99))
    a = _with_draws(_analysis("a", -2.2, -4.0, -0.4, primary=True, ri=(-4.1, -0.2)), draws, 0.01, digest="x")
    b = _with_draws(_analysis("b", 0.3, -1, 1.6, primary=True, ri=(-1.1, 1.7)), draws, 0.6, digest="y")
    adj = adjusted_p([a, b], ["a", "b"], 0.05)
    assert "romano_wolf" not in adj["a"] and adj["a"]["used"] == adj["a"]["holm"] == pytest.approx(0.02)
    assert adj["a"]["method"].startswith("Holm")


def test_detected_effect_at_or_below_its_mde_is_flagged_as_exaggerated() -> None:
    a = _analysis("a", -4.0, -7.0, -1.0, primary=True)
    mde = {"a": {"mde_increase": 4.7, "mde_decrease": -4.7, "power": 0.8, "draws": 200}}
    [c] = conclude([a], power=mde, family=["a"])  # a family of one: the evidence sentences without adjustment
    assert c["verdict"] == "estimated effect"
    assert "Warning: the estimate is at or below the minimum detectable effect" in c["text"]
    assert c["design_analysis"]["exaggeration_if_true_is_estimate"] > 1


def test_sensitivity_sentence_never_says_nothing_to_overturn_for_an_estimated_effect() -> None:
    s = {"method": "rm", "target": "average", "breakdown": 0.0, "original": (-2.0, -4.0, 0.1), "intervals": []}
    assert "no detected effect" in sentence(s, "cla_rate_per_10000")
    text = sentence(s, "cla_rate_per_10000", "estimated effect")
    assert "no detected effect" not in text and "does not survive the smallest violation" in text


def test_small_breakdown_reads_as_fragile_not_robust() -> None:
    s = {"method": "rm", "target": "average", "breakdown": 0.01, "original": (-2.0, -4.0, -0.5), "intervals": []}
    text = sentence(s, "cla_rate_per_10000", "estimated effect")
    assert text.startswith("Fragile: any departure from parallel trends after the move larger than 1% of")
    assert "overturned only if" not in text


def test_sensitivity_sentence_for_an_interval_that_detects_before_adjustment() -> None:
    s = {"method": "rm", "target": "average", "breakdown": 0.0, "original": (3.9, -0.3, 6.9), "intervals": []}
    text = sentence(s, "cpp_subsequent_percent", "no detectable effect", detected=True)
    assert "no detected effect" not in text and "does not survive the smallest violation" in text
