"""The decision rule turns results into words exactly as the plan states it."""

from evalkit.conclusions import conclude


def _analysis(label, estimate, lo, hi, *, primary=False, outcome="y", ri=None, pre=()):
    rows = [{"name": "simple", "aggregation": "simple", "event_time": None, "estimate": estimate, "ci_low": lo, "ci_high": hi}]
    if ri:
        rows.append({"name": "simple:randomisation", "aggregation": "randomisation", "event_time": None,
                     "estimate": estimate, "ci_low": ri[0], "ci_high": ri[1]})
    for e, (plo, phi) in enumerate(pre, start=-len(pre)):
        rows.append({"name": f"dynamic:e={e}", "aggregation": "dynamic", "event_time": e, "estimate": 0.0, "ci_low": plo, "ci_high": phi})
    return {"label": label, "primary": primary, "results": {"outcome": outcome, "estimates": rows}}


def test_interval_including_zero_is_no_detectable_effect() -> None:
    [c] = conclude([_analysis("a", -1.0, -2.0, 0.5, primary=True)])
    assert c["verdict"] == "no detectable effect"


def test_agreeing_methods_give_an_estimated_effect() -> None:
    [c] = conclude([_analysis("a", -1.0, -2.0, -0.5, primary=True), _analysis("b", -0.8, -3, 1)])
    assert c["verdict"] == "estimated effect"


def test_disagreeing_sign_or_pretrends_cannot_tell() -> None:
    [c] = conclude([_analysis("a", -1.0, -2.0, -0.5, primary=True), _analysis("b", 0.3, -1, 2)])
    assert c["verdict"] == "the data cannot tell" and "b" in c["text"]
    [c] = conclude([_analysis("a", -1.0, -2.0, -0.5, primary=True, pre=((0.1, 0.5), (0.2, 0.9)))])
    assert c["verdict"] == "the data cannot tell"


def test_randomisation_interval_takes_precedence() -> None:
    [c] = conclude([_analysis("a", -1.0, -2.0, -0.5, primary=True, ri=(-2.5, 0.4))])
    assert c["verdict"] == "no detectable effect" and "randomisation interval" in c["text"]
