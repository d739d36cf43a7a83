"""The decision rule turns results into words exactly as the plan states it."""

import numpy as np

from evalkit.analysis.pretrend import wald_pretrend
from evalkit.analysis.verdict import conclude
from evalkit.report.render import build_blocks, render_markdown


def _analysis(
    label,
    estimate,
    lo,
    hi,
    *,
    primary=False,
    outcome="cla_rate_per_10000",
    ri=None,
    pre=(),
    pre_se=0.5,
    ri_pretrend_p=None,
    accounting=None,
):
    """A results document: headline row (analytic), optional randomisation row marked default, pre-period
    event-study rows with a diagonal covariance (so the Wald test is known in closed form)."""
    rows = [
        {
            "name": "simple",
            "aggregation": "simple",
            "event_time": None,
            "estimate": estimate,
            "ci_low": lo,
            "ci_high": hi,
            "interval": "analytic",
            "default": ri is None,
        }
    ]
    if ri:
        rows.append(
            {
                "name": "simple:randomisation",
                "aggregation": "randomisation",
                "event_time": None,
                "estimate": estimate,
                "ci_low": ri[0],
                "ci_high": ri[1],
                "interval": "randomization",
                "default": True,
            }
        )
    events = list(range(-len(pre), 0))
    for e, b in zip(events, pre):
        rows.append(
            {
                "name": f"dynamic:e={e}",
                "aggregation": "dynamic",
                "event_time": e,
                "estimate": b,
                "ci_low": b - 1.96 * pre_se,
                "ci_high": b + 1.96 * pre_se,
            }
        )
    vcov = [{"event_time": e, **{f"e={f}": (pre_se**2 if e == f else 0.0) for f in events}} for e in events]
    inference = {}
    if ri_pretrend_p is not None:
        inference = {
            "default_interval": {"interval": "randomization", "n_treated_units": 11},
            "randomisation": {"pretrend": {"statistic": 1.0, "p_value": ri_pretrend_p, "test": "permutation"}},
        }
    diagnostics = {"treated_units": accounting} if accounting else {}
    return {
        "label": label,
        "title": "Children looked after: test",
        "primary": primary,
        "results": {
            "outcome": outcome,
            "estimates": rows,
            "extra": {"vcov_dynamic": vcov},
            "inference": inference,
            "diagnostics": diagnostics,
        },
    }


def test_interval_including_zero_is_no_detectable_effect() -> None:
    [c] = conclude([_analysis("a", -1.0, -2.0, 0.5, primary=True)])
    assert c["verdict"] == "no detectable effect"


def test_agreeing_methods_give_an_estimated_effect() -> None:
    [c] = conclude([_analysis("a", -1.0, -2.0, -0.5, primary=True), _analysis("b", -0.8, -3, 1)])
    assert c["verdict"] == "estimated effect"


def test_pretrend_failure_with_interval_covering_zero_cannot_tell() -> None:
    """Joint test fails (W = 2 * (1.5/0.5)^2 = 18, df 2, p = 0.0001): cannot tell, although the interval covers zero."""
    a = _analysis("a", -1.0, -2.0, 0.5, primary=True, pre=(1.5, 1.5))
    assert wald_pretrend(a["results"])["p_value"] < 0.001
    [c] = conclude([a])
    assert c["verdict"] == "the data cannot tell" and "fails" in c["text"]


def test_methods_disagreeing_with_interval_covering_zero_cannot_tell() -> None:
    [c] = conclude([_analysis("a", -1.0, -2.0, 0.5, primary=True), _analysis("b", 0.3, -1, 2)])
    assert c["verdict"] == "the data cannot tell" and c["disagree"] == ["Children looked after: test"]


def test_the_test_not_a_count_of_intervals() -> None:
    """Two of ten pre-period intervals exclude zero (|t| = 2.1 each) but the joint Wald test passes
    (W = 8.82, df 10, p = 0.55): the old count-based rule said 'cannot tell', the test does not."""
    pre = (1.05, 1.05) + (0.0,) * 8
    a = _analysis("a", -1.0, -2.0, -0.5, primary=True, pre=pre)
    w = wald_pretrend(a["results"])
    assert np.isclose(w["statistic"], 2 * 2.1**2) and w["df"] == 10 and 0.5 < w["p_value"] < 0.6
    [c] = conclude([a])
    assert c["verdict"] == "estimated effect"


def test_randomisation_pretrend_used_with_randomisation_interval() -> None:
    """With few treated units the permutation pre-trend test decides, not the analytic Wald."""
    fails_wald = _analysis("a", -1.0, -2.0, -0.5, primary=True, pre=(1.5, 1.5), ri=(-2.2, -0.3), ri_pretrend_p=0.4)
    [c] = conclude([fails_wald])
    assert c["verdict"] == "estimated effect" and c["pretrend"]["test"] == "permutation"
    [c] = conclude([_analysis("a", -1.0, -2.0, -0.5, primary=True, ri=(-2.2, -0.3), ri_pretrend_p=0.01)])
    assert c["verdict"] == "the data cannot tell"


def test_default_interval_is_the_verdicts_interval() -> None:
    [c] = conclude([_analysis("a", -1.0, -2.0, -0.5, primary=True, ri=(-2.5, 0.4))])
    assert c["verdict"] == "no detectable effect" and "randomisation interval" in c["text"]
    assert (c["ci_low"], c["ci_high"], c["interval"]) == (-2.5, 0.4, "randomization")


def test_outcome_in_words_and_councils_contributing() -> None:
    acc = [{"unit": f"E{i}", "included": i < 5} for i in range(11)]
    [c] = conclude([_analysis("a", -1.0, -2.0, 0.5, primary=True, accounting=acc)])
    assert "children looked after per 10,000 children" in c["text"] and "cla_rate_per_10000" not in c["text"]
    assert "5 of 11 treated councils have data for this outcome" in c["text"]


def test_mde_beside_the_verdict() -> None:
    power = {"a": {"mde_increase": 2.0, "mde_decrease": -2.1, "power": 0.8, "draws": 100}}
    [c] = conclude([_analysis("a", -1.0, -2.0, 0.5, primary=True)], power=power)
    assert "Effects smaller than about 2.0 per 10,000 children could not have been detected" in c["text"]


def test_in_brief_and_the_answer_quote_the_same_interval() -> None:
    analyses = [_analysis("a", -1.0, -2.0, -0.5, primary=True, ri=(-2.5, 0.4)), _analysis("b", -0.5, -3, 1)]
    doc = {
        "title": "t",
        "name": "t",
        "analyses": analyses,
        "provenance": {},
        "conclusions": conclude(analyses),
        "plan": {"inference": {"alpha": 0.05}},
    }
    md = render_markdown(doc, build_blocks(doc)[0])
    brief = [line for line in md.splitlines() if line.startswith("**In brief:**")]
    answer = [line for line in md.splitlines() if line.lower().startswith("- **children looked after")]
    assert len(brief) == 1 and len(answer) == 1
    for line in brief + answer:
        assert "randomisation interval -2.500 to 0.400" in line, line
    assert "-2.000" not in brief[0]  # the analytic interval is not quoted in the summary
