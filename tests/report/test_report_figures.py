"""Figures: empty inputs give no figure; staggered synthetic control; event study from extra tables."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from evalkit.report import figures as F
from evalkit.report.render import analysis_figures


def test_empty_inputs_give_no_figure() -> None:
    assert F.event_study([], slug="a", title="t", outcome="y", demo=False) is None
    assert F.synth_paths([], slug="a", title="t", outcome="y", demo=False) is None
    assert F.synth_gaps(None, None, slug="a", title="t", outcome="y", demo=False) is None
    assert F.synth_weights([{"unit": "a", "weight": 0.0}], slug="a", title="t", demo=False) is None
    assert F.synth_rmspe([{"unit": "a", "ratio": None}], slug="a", title="t", demo=False) is None


def test_staggered_synth_small_multiples_and_same_bytes() -> None:
    paths = [
        {"unit": f"U{u}", "time": t, "treated": float(t + u), "synthetic": float(t), "gap": float(u)}
        for u in range(5)
        for t in range(2010, 2020)
    ]
    a = F.synth_paths(paths, slug="s-paths", title="Paths", outcome="y", demo=True, treatment_times={"U1": 2015})
    b = F.synth_paths(paths, slug="s-paths", title="Paths", outcome="y", demo=True, treatment_times={"U1": 2015})
    assert a is not None and b is not None and a.svg == b.svg
    assert a.title.startswith(F.DEMO_TITLE_PREFIX)
    assert "5 treated unit(s)" in a.alt
    ET.fromstring(a.svg)
    inline = a.inline()
    assert inline.startswith('<svg id="svg-s-paths"') and "<?xml" not in inline
    ET.fromstring(inline)


def test_nan_values_do_not_break_figures() -> None:
    rows = [
        {"event_time": e, "estimate": float("nan") if e == 1 else 0.1 * e, "ci_low": None, "ci_high": None}
        for e in range(-3, 4)
    ]
    fig = F.event_study(rows, slug="nan", title="t", outcome="y", demo=False)
    assert fig is not None and "6 pre-move" not in fig.alt


def test_event_study_from_extra_table() -> None:
    doc = {"synthetic_demo": False}
    analysis = {
        "label": "Imp 1",
        "title": "Imputation",
        "results": {
            "method": "imputation",
            "outcome": "y",
            "estimates": [{"name": "simple", "aggregation": "simple"}],
            "extra": {
                "event_study": [
                    {"event_time": e, "estimate": 0.5 * e, "ci_low": 0.5 * e - 1, "ci_high": 0.5 * e + 1}
                    for e in range(-2, 3)
                ]
            },
        },
    }
    figs = analysis_figures(doc, analysis)
    assert [f.filename for f in figs] == ["fig-imp-1-event-study.svg"]


def test_staggered_synth_shapes() -> None:
    """Shapes of synth_staggered output: per-treated-unit placebo runs, weights and RMSPE ratios."""
    treated = {"T1": 2015, "T2": 2017}
    years = range(2010, 2021)
    paths = [
        {"unit": u, "time": t, "event_time": t - g, "treated": 1.0, "synthetic": 0.5, "gap": 0.5 if t >= g else 0.0}
        for u, g in treated.items()
        for t in years
    ]
    placebo = [
        {"treated_unit": u, "unit": f"D{d}", "time": t, "gap": 0.1 * ((d + t) % 5 - 2)}
        for u in treated
        for d in range(120)
        for t in years
    ]
    gaps = F.synth_gaps(paths, placebo, slug="g", title="Gaps", outcome="y", demo=False)
    assert gaps is not None and "years since the move" in gaps.alt and "middle 90%" in gaps.alt
    assert len(gaps.svg) < 150_000  # 240 placebo runs drawn as one band, not 240 lines
    weights = [{"treated_unit": u, "unit": f"D{d}", "weight": 0.5 if d < 2 else 0.0} for u in treated for d in range(5)]
    w = F.synth_weights(weights, slug="w", title="Weights", demo=False)
    assert w is not None and "average over 2 treated units" in w.alt and "D0 0.500" in w.alt
    own = {"T1": 1e15, "T2": 1.0}  # a near-perfect pre-move fit gives a huge ratio: log scale
    rmspe = [
        {"treated_unit": u, "unit": v, "ratio": own[u] if v == u else 2.0, "treated": v == u}
        for u in treated
        for v in [u, "D0", "D1"]
    ]
    r = F.synth_rmspe(rmspe, slug="r", title="Ratios", demo=False)
    assert r is not None and "rank 1 = largest ratio" in r.alt and "log scale" in r.svg
    assert "T1 (rank 1 of 3)" in r.svg and "T2 (rank 3 of 3)" in r.svg
    single = F.synth_rmspe(
        [{"unit": "A", "ratio": 3.0, "treated": True}, {"unit": "B", "ratio": 1.0, "treated": False}],
        slug="s",
        title="Ratios",
        demo=False,
    )
    assert single is not None and "rank 1 of 2" in single.alt
