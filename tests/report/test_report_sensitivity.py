"""The report's sensitivity figure and sentence: present for an analysis with sensitivity rows,
worded from the breakdown value, and byte-identical on re-render."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from evalkit.analysis import sensitivity
from evalkit.estimators.did.cs import callaway_santanna
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.io import write_json
from evalkit.report import render_report
from evalkit.report import sensitivity as S
from tests.report.example_results import example_document


def _cs_with_sensitivity(spec: dict) -> dict:
    panel = simulate_staggered(150, 9, {6: 40}, effect=1.0, noise=0.5, seed=5)
    res = callaway_santanna(panel, base_period="universal")
    sensitivity.add_rows(res, sensitivity=spec, pretrend=True, alpha=0.05)
    return res.to_dict()


@pytest.fixture(scope="module")
def results() -> dict:
    return _cs_with_sensitivity({"method": "rm", "mbar": [0.5, 1.0, 2.0], "target": "first"})


def test_rows_are_deterministic(results: dict) -> None:
    again = _cs_with_sensitivity({"method": "rm", "mbar": [0.5, 1.0, 2.0], "target": "first"})
    assert again["estimates"] == results["estimates"]


def test_report_has_figure_and_sentence_and_same_bytes(results: dict, tmp_path: Path) -> None:
    doc = example_document(synthetic_demo=True)
    doc["analyses"][0]["results"] = results
    write_json(tmp_path / "results.json", doc)
    render_report(tmp_path / "results.json", tmp_path / "a")
    render_report(tmp_path / "results.json", tmp_path / "b")
    fig = tmp_path / "a" / "fig-cla_cs-sensitivity.svg"
    assert fig.exists()
    for name in ("report.html", "report.md", fig.name):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    md = (tmp_path / "a" / "report.md").read_text(encoding="utf-8")
    b = results["diagnostics"]["sensitivity"]["breakdown"]
    assert f"breakdown M̄ = {b:.2f}" in md
    assert "largest year-to-year departure seen before it" in md


def test_sentences_cover_each_case(results: dict) -> None:
    s = S.summary(results)
    assert s is not None and s["method"] == "rm"
    plain = S.sentence(s, "y")
    assert f"{s['breakdown']:.2f} times" in plain
    assert "10 times" in S.sentence({**s, "breakdown": None}, "y")
    assert "already includes zero" in S.sentence({**s, "original": (0.1, -0.2, 0.4)}, "y")
    sd = {**s, "method": "sd", "breakdown": 0.013, "largest_pre_step": 0.2}
    assert "change by more than 0.013 per year" in S.sentence(sd, "y")
    assert S.summary({"estimates": [], "diagnostics": {}}) is None


def test_no_sensitivity_no_figure(results: dict) -> None:
    bare = copy.deepcopy(results)
    bare["diagnostics"].pop("sensitivity")
    assert S.summary(bare) is None
