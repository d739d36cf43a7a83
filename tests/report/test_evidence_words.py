"""The evidence beside a verdict is said in the units and rounding of the rest of its answer (issue #25:
one answer said the same way everywhere), and says when an interval or an MDE runs past what the
outcome can show, when the interval rejected a true zero too often on this panel, and when a council's
synthetic control has no identified fit."""

from __future__ import annotations

from typing import Any

from evalkit import answers as A
from evalkit.report import answer_blocks as AB
from evalkit.report import evidence_words as EW
from evalkit.report.sensitivity import sentence as sensitivity_sentence


def _share_answer(**over: Any) -> dict[str, Any]:
    """An Ofsted-like answer: a share of councils (0 to 1) shown in percentage points (scale 100)."""
    a = {
        "label": "inadequate_cs_never",
        "outcome_words": "Ofsted 'inadequate' in force",
        "unit": "percentage points of councils",
        "scale": 100.0,
        "level": 0.95,
        "estimate": -41.6,
        "ci_low": -136.0,
        "ci_high": 41.4,
        "p_value": 0.185,
        "excludes_zero": False,
        "interval": "ferman_pinto",
        "verdict": "no detectable effect",
        "adjusted_p": {"p": 1.0, "method": "Holm", "romano_wolf": None, "holm": 1.0, "family_size": 9},
        "ruled_out": {"increases_above": 41.4, "decreases_below": -136.0},
        "mde": {"increase": 97.9, "decrease": -106.0, "power": 0.8, "draws": 99},
        "pretrend": {"power_80_slope": 0.05, "equivalence_max": 0.2, "equivalence_mean": 0.1},
        "exaggeration": None,
        "evidence_text": "stored words in the estimator's scale: 0.414",
    }
    return {**a, **over}


def _money_answer(**over: Any) -> dict[str, Any]:
    a = {
        "label": "spend_real_cs_never",
        "outcome_words": "real spending per child",
        "unit": "£ a year per child",
        "scale": 1.0,
        "level": 0.95,
        "estimate": -104.27,
        "ci_low": -203.9,
        "ci_high": -7.84,
        "p_value": 0.035,
        "excludes_zero": True,
        "interval": "ferman_pinto",
        "verdict": "the data cannot tell",
        "adjusted_p": {"p": 0.28, "method": "Holm", "romano_wolf": None, "holm": 0.28, "family_size": 9},
        "ruled_out": None,
        "mde": {"increase": 157.5, "decrease": -152.3, "power": 0.8, "draws": 100},
        "pretrend": None,
        "exaggeration": {
            "at_or_below_mde": True,
            "power_if_true_is_estimate": 0.48,
            "exaggeration_if_true_is_estimate": 1.43,
            "exaggeration_if_true_is_half": 2.59,
        },
    }
    return {**a, **over}


def _doc(answer: dict[str, Any], size: float = 0.05, draws: int = 100) -> dict[str, Any]:
    cal = {"draws": draws, "size": size, "mc_se": 0.02, "mde_increase": 1.0, "mde_decrease": -1.0}
    power = {"label": answer["label"], "calibration": {"designs": {"exchangeable": {"ferman_pinto": cal}}}}
    return {"power": {"analyses": [power]}, "conclusions": [{"label": answer["label"]}]}


def test_a_share_is_said_in_percentage_points_and_against_the_whole_scale() -> None:
    a = _share_answer()
    text = EW.evidence(a, _doc(a))
    assert "0.414" not in text  # the stored, unscaled words are not used
    assert "increases larger than 41.4 percentage points of councils" in text
    # -136 runs past the largest possible fall: no possible fall is ruled out, and it says so
    assert "decreases larger than 136" not in text
    assert "largest possible fall (100 percentage points of councils, the whole scale)" in text
    # the pre-trend evidence in the same unit: 0.05 and 0.2 of a share are 5 and 20 points
    assert "linear pre-trend of 5 percentage points of councils each year" in text
    assert "smaller than 20 and their mean smaller than 10 percentage points of councils" in text
    assert "(Holm's method)" in text and "Romano-Wolf" not in text


def test_the_mde_is_one_number_only_where_the_two_sides_agree_as_printed() -> None:
    assert A.mde_short(_money_answer()) == "could miss rises below ~£160, falls below ~£150"
    assert A.mde_short(_money_answer(mde={"increase": 14.1, "decrease": -14.3})) == "could miss changes below ~£14"
    assert A.mde_words(_money_answer()) == (
        "increases below about £160 or decreases below about £150 a year per child could have been missed"
    )
    # a side at or beyond the whole scale is "any"
    assert A.mde_short(_share_answer()) == "could miss rises below ~98, any fall"
    assert A.mde_words(_share_answer(mde={"increase": 120.0, "decrease": -130.0})).startswith(
        "any change could have been missed"
    )


def test_the_design_check_quotes_the_mde_of_the_estimates_side_as_the_table_rounds_it() -> None:
    a = _money_answer()
    text = EW.evidence(a, _doc(a))
    assert "minimum detectable decrease of about £150 a year per child" in text
    assert "1.43-fold" in text and "Warning: the estimate is at or below" in text


def test_an_interval_that_rejected_too_often_on_this_panel_is_called_too_narrow() -> None:
    a = _money_answer()
    assert "too narrow" in EW.evidence(a, _doc(a, size=0.11))
    # 9 of 100 is within two Monte Carlo s.e. (2.2 points) of 5 %: no warning
    assert "too narrow" not in EW.evidence(a, _doc(a, size=0.09))
    assert "rejected a true zero in 9.0% of 100 placebo draws" in EW.evidence(a, _doc(a, size=0.09))


def test_romano_wolf_is_named_when_the_run_used_it_and_the_run_method_follows_the_rule() -> None:
    a = _money_answer(
        adjusted_p={"p": 0.2, "method": "Romano-Wolf", "romano_wolf": 0.2, "holm": 0.28, "family_size": 9}
    )
    assert "(Romano-Wolf stepdown; Holm 0.28)" in EW.evidence(a, _doc(a))
    doc = {"conclusions": [{"multiplicity": {"method": "Holm (no shared draws)"}}] * 2}
    assert EW.adjustment_used(doc) == " In this run the adjusted p-values are by Holm (no shared draws)."


def test_a_council_without_an_identified_fit_is_not_shown_as_a_good_fit() -> None:
    council = {
        "name": "Doncaster",
        "cohort": 2015,
        "model": "independent trust",
        "unit": "371",
        "results": [
            {
                "analysis": "cla_synth",
                "question": "cla_cs_never",
                "outcome_words": "children looked after",
                "effect": -3.06,
                "unit": "per 10,000",
                "figure": "fig",
                "fit": "good",
                "fit_pct": 4e-14,
                "p_value": None,
            }
        ],
    }
    why = "2 pre-periods for 2 predictors: the pre-period fit is not identified"
    doc = {
        "answers": {"councils": [council]},
        "analyses": [{"label": "cla_synth", "results": {"diagnostics": {"placebo_refused": {"371": why}}}}],
    }
    table = next(b for b in AB.council_blocks(doc) if hasattr(b, "rows"))
    cell = table.rows[0][2]
    assert "not to be read" in str(cell[1]) and why in str(cell[1])
    assert "good pre-move fit" not in str(cell[1])


def test_a_breakdown_below_half_a_percent_is_not_printed_as_zero_percent() -> None:
    s = {"method": "rm", "breakdown": 0.001, "target": "average", "original": (1.5, 1.0, 2.0)}
    words = sensitivity_sentence(s, "spend_csc_per_child_s251_real", "estimated effect", detected=True)
    assert "0%" not in words and "even 0.5%" in words


def test_a_detected_effect_carries_its_breakdown_and_a_missing_rms_bound_is_its_own_sentence() -> None:
    sens = {"method": "rm", "target": "average", "breakdown": 0.0909}
    a = _money_answer(verdict="estimated effect", sensitivity=sens)
    assert "Fragile: a departure from parallel trends after the move larger than 0.091 times" in EW.evidence(a, _doc(a))
    assert "Fragile" not in EW.evidence(_money_answer(sensitivity=sens), _doc(a))  # not for 'cannot tell'
    refused = {"threshold": None, "refused": "no pre-move event time is estimated in every subsample"}
    b = _share_answer(pretrend={"equivalence_max": 0.2, "equivalence_mean": 0.1, "rms": refused})
    text = EW.evidence(b, _doc(b))
    assert "their mean smaller than 10 percentage points of councils (the smallest bounds the tests reject)." in text
    assert text.endswith("No root-mean-square bound: no pre-move event time is estimated in every subsample.")


def test_a_calibration_of_per_analysis_draws_says_so_when_the_verdict_used_shared_draws() -> None:
    a = _money_answer()
    doc = _doc(a)
    assert "does not reproduce" not in EW.evidence(a, doc)
    doc["analyses"] = [{"label": a["label"], "results": {"inference": {"ferman_pinto": {"joint": {"names": []}}}}}]
    assert "which this calibration does not reproduce" in EW.evidence(a, doc)


def test_why_a_verdict_reads_as_it_does_is_said_in_the_table_and_in_the_answer() -> None:
    """'The data cannot tell' beside an interval excluding zero says why (the pre-trend test) in the first
    screen and in The answer alike; an interval that excludes zero under a 'no detectable effect' says the
    adjustment for the family is what took it away (plan v6's repeat plans: p 0.025, adjusted 0.12)."""
    cannot = _share_answer(
        verdict="the data cannot tell",
        excludes_zero=True,
        ci_low=-18.7,
        ci_high=-4.87,
        pretrend_test={"p_value": 0.01, "statistic": 30.0},
        adjusted_p={"p": 0.03, "method": "Romano-Wolf", "holm": 0.09, "family_size": 9},
    )
    said = "the councils' trends differed before the move"
    assert AB._found_cell(cannot) == f"the data cannot tell ({said})"
    adjusted = _share_answer(
        excludes_zero=True,
        ci_low=0.8,
        ci_high=7.6,
        adjusted_p={"p": 0.12, "method": "Holm", "holm": 0.12, "family_size": 9},
    )
    assert AB._found_cell(adjusted) == "no detectable change (not once adjusted for the 9 outcomes)"
    plain = _share_answer()  # includes zero: nothing to explain
    assert AB._found_cell(plain) == "no detectable change"
    doc = {"answers": {"questions": [cannot, adjusted, plain]}, "conclusions": []}
    items = AB.verdict_items(doc)
    heads = [item[0].text for item in items]
    assert f"the data cannot tell ({said})" in heads[0]
    assert "no detectable effect (not once adjusted for the 9 outcomes)" in heads[1]
    assert "(" not in heads[2]
