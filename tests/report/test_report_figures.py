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
    paths = [{"unit": f"U{u}", "time": t, "treated": float(t + u), "synthetic": float(t), "gap": float(u)}
             for u in range(5) for t in range(2010, 2020)]
    a = F.synth_paths(paths, slug="s-paths", title="Paths", outcome="y", demo=True,
                      treatment_times={"U1": 2015})
    b = F.synth_paths(paths, slug="s-paths", title="Paths", outcome="y", demo=True,
                      treatment_times={"U1": 2015})
    assert a is not None and b is not None and a.svg == b.svg
    assert a.title.startswith(F.DEMO_TITLE_PREFIX)
    assert "5 treated unit(s)" in a.alt
    ET.fromstring(a.svg)
    inline = a.inline()
    assert inline.startswith('<svg id="svg-s-paths"') and "<?xml" not in inline
    ET.fromstring(inline)


def test_nan_values_do_not_break_figures() -> None:
    rows = [{"event_time": e, "estimate": float("nan") if e == 1 else 0.1 * e, "ci_low": None, "ci_high": None}
            for e in range(-3, 4)]
    fig = F.event_study(rows, slug="nan", title="t", outcome="y", demo=False)
    assert fig is not None and "6 pre-move" not in fig.alt


def test_event_study_from_extra_table() -> None:
    doc = {"synthetic_demo": False}
    analysis = {"label": "Imp 1", "title": "Imputation", "results": {
        "method": "imputation", "outcome": "y", "estimates": [{"name": "simple", "aggregation": "simple"}],
        "extra": {"event_study": [{"event_time": e, "estimate": 0.5 * e, "ci_low": 0.5 * e - 1,
                                   "ci_high": 0.5 * e + 1} for e in range(-2, 3)]}}}
    figs = analysis_figures(doc, analysis)
    assert [f.filename for f in figs] == ["fig-imp-1-event-study.svg"]
