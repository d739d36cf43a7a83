"""Wild cluster bootstrap and randomisation inference: closed forms against brute force,
coverage on simulated data with few treated units."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.estimators.data import make_panel, read_panel_file
from evalkit.estimators.did.simulate import simulate_staggered, with_outcome
from evalkit.estimators.did.twfe import twfe
from evalkit.estimators.inference.randomisation import randomisation_inference
from evalkit.estimators.inference.wild import (
    _boot_pvalue,
    _draw_moments,
    _partial_out,
    _weights,
    coverage_simulation,
    twfe_coefficient,
    wild_cluster_bootstrap,
)
from tests.estimators.reference.load import load
from tests.shared_data import VALIDATION

MPDTA = VALIDATION / "mpdta.csv"


@pytest.fixture(scope="module")
def small():
    return simulate_staggered(60, 8, {4: 3, 6: 3}, effect=0.8, ar=0.4, seed=21)


def test_wcr_pvalue_matches_explicit_loop(small):
    p = _partial_out(small)
    mom = _draw_moments(p, 300, 5, "webb")
    v = _weights(np.random.default_rng(np.random.SeedSequence(5).spawn(1)[0]), (300, len(p.a)), "webb")
    g, qq = len(p.a), p.q.sum()
    for b0 in (0.0, 0.5, p.beta + 0.3):
        s = p.a - b0 * p.q
        t = []
        for w in v:
            delta = (w * s).sum() / qq
            score = w * s - delta * p.q
            t.append(delta / (np.sqrt(g / (g - 1) * (score**2).sum()) / qq))
        t_obs = (p.beta - b0) / p.se()
        assert _boot_pvalue(p, mom, b0) == pytest.approx(np.mean(np.abs(t) >= abs(t_obs)))


def test_wcr_coefficient_and_se_match_twfe(small):
    res = wild_cluster_bootstrap(small, draws=999, seed=1)
    ref = twfe(small).estimate("coef")
    row = res.estimate("coef")
    assert row["estimate"] == pytest.approx(ref["estimate"], abs=1e-10)
    assert row["se"] == pytest.approx(ref["se"], rel=1e-8)
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    # the CI is the set of nulls not rejected: the p-value at each bound is about alpha
    at_low = wild_cluster_bootstrap(small, draws=999, seed=1, null=row["ci_low"] - 1e-6, ci=False).estimate("coef")
    inside = wild_cluster_bootstrap(small, draws=999, seed=1, null=row["ci_low"] + 1e-3, ci=False).estimate("coef")
    assert at_low["p_value"] <= 0.05 < inside["p_value"]
    assert res.seed == 1 and res.inference["weights"] == "webb"


@pytest.mark.skipif(not MPDTA.exists(), reason="validation data not available")
def test_wcr_on_mpdta_close_to_cluster_robust_normal():
    panel = make_panel(read_panel_file(MPDTA), unit="countyreal", time="year", outcome="lemp", cohort="first.treat")
    row = wild_cluster_bootstrap(panel, draws=1999, seed=2).estimate("coef")
    # 500 clusters: bootstrap and normal CR1 inference agree (TWFE -0.0365, SE 0.0133: reference/twfe)
    ref = load("twfe").row("mpdta", "coef")
    assert row["ci_low"] == pytest.approx(ref["estimate"] - 1.96 * ref["se"], abs=3e-3)
    assert row["ci_high"] == pytest.approx(ref["estimate"] + 1.96 * ref["se"], abs=3e-3)
    assert row["p_value"] < 0.02


def test_randomisation_inference_pvalue_and_inverted_ci(small):
    res = randomisation_inference(small, twfe_coefficient, n_perm=199, seed=4)
    row = res.estimate("coef")
    assert res.diagnostics["linear_in_outcome"]
    assert 1 / 200 <= row["p_value"] <= 1
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    # brute force: shift outcomes by a value just outside the upper bound and re-test H0: 0
    d = ((small.data["cohort"] > 0) & (small.data["time"] >= small.data["cohort"])).to_numpy()
    for tau0, rejected in ((row["ci_high"] + 1e-4, True), (row["ci_high"] - 1e-3, False)):
        shifted = with_outcome(small, small.data["y"].to_numpy() - tau0 * d)
        p = randomisation_inference(shifted, twfe_coefficient, n_perm=199, seed=4).estimate("coef")["p_value"]
        assert (p <= 0.05) == rejected


def test_randomisation_null_true_gives_uniformish_pvalue():
    pvals = []
    for k in range(20):
        panel = simulate_staggered(40, 6, {3: 4, 5: 4}, effect=0.0, seed=100 + k)
        pvals.append(randomisation_inference(panel, twfe_coefficient, n_perm=99, seed=k).estimate("coef")["p_value"])
    assert 0.25 < np.mean(pvals) < 0.75


def test_randomisation_nonlinear_estimator_gives_pvalue_only(small):
    res = randomisation_inference(small, lambda p: twfe_coefficient(p) ** 3, n_perm=49, seed=1)
    assert not res.diagnostics["linear_in_outcome"]
    assert res.estimate("coef")["ci_low"] is None


def test_coverage_few_treated_wcr():
    # 150 units, 12 treated in 3 adoption cohorts, AR(1) errors, constant effect 1; target 93-97%
    out = coverage_simulation(500, seed=1)
    assert 0.93 <= out["coverage"] <= 0.97, out
