"""Hagemann's rearrangement test for one treated cluster, checked against the author's own R code
(stc.weight, stc; reference and script: tests/estimators/reference/hagemann/) and by simulation (its size
when the treated cluster is rho times as variable as the least variable comparison cluster)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.estimators.inference.hagemann import interval, rejects, weight

REF = json.loads((Path(__file__).parents[1] / "reference" / "hagemann" / "hagemann.json").read_text())


@pytest.mark.parametrize("case", REF["weights"], ids=lambda c: f"q{c['q']}-a{c['alpha']}-rho{c['rho']}")
def test_weight_matches_the_authors_code(case: dict) -> None:
    got = weight(case["q"], case["alpha"], case["rho"])
    if case["w"] is None:
        assert got is None
    else:  # the same 10^4-point grid; R's integrate/optimize tolerances may move the first feasible point by one
        assert got == pytest.approx(case["w"], abs=2.01e-4)


@pytest.mark.parametrize("case", REF["tests"], ids=lambda c: f"q{c['q']}-x1={c['x1']:.2f}")
def test_decision_matches_the_authors_code(case: dict) -> None:
    assert rejects(case["x1"], np.array(case["x0"]), case["w"]) is case["reject"]


def test_size_and_coverage_at_the_heterogeneity_bound() -> None:
    """Simulated truth: q = 19 comparison clusters with sd between 0.5 and 2, the treated cluster's sd rho = 2
    times the smallest; no effect. The one-sided test rejects at most alpha (20,000 draws, MC s.e. 0.15 %)
    and the two-sided interval covers zero at least 1 - alpha of the time."""
    rng = np.random.default_rng(7)
    q, rho, alpha, reps = 19, 2.0, 0.05, 20000
    sd = rng.uniform(0.5, 2.0, q)
    x0 = rng.standard_normal((reps, q)) * sd
    x1 = rng.standard_normal(reps) * rho * sd.min()
    w = weight(q, alpha, rho)
    rate = np.mean([rejects(a, b, w) for a, b in zip(x1, x0)])
    assert rate <= alpha + 0.003
    covered = 0
    for a, b in zip(x1[:4000], x0[:4000]):
        ci = interval(a, b, alpha=alpha, rho=rho)
        covered += ci["ci_low"] <= 0 <= ci["ci_high"]
    assert covered / 4000 >= 1 - alpha - 0.007


def test_interval_is_the_inverted_one_sided_tests() -> None:
    rng = np.random.default_rng(3)
    x0 = rng.normal(size=49)
    x1 = 3.0
    ci = interval(x1, x0, alpha=0.05, rho=2.0)
    w = ci["weight"]
    assert w == weight(49, 0.025, 2.0)
    eps = 1e-9
    # just inside the interval neither one-sided test rejects; just outside one does
    assert not rejects(x1, x0, w, ci["ci_low"] + eps) and rejects(x1, x0, w, ci["ci_low"] - eps)
    assert not rejects(-x1, -x0, w, -(ci["ci_high"] - eps)) and rejects(-x1, -x0, w, -(ci["ci_high"] + eps))


def test_no_weight_when_too_few_clusters() -> None:
    assert weight(4, 0.05, 2.0) is None
    got = interval(1.0, np.array([0.1, -0.2, 0.3, 0.0]), alpha=0.05, rho=2.0)
    assert got["ci_low"] is None and got["ci_high"] is None
