"""Design analysis (type M/S), Romano-Wolf stepdown, pre-trend power and equivalence: each checked against a
published number, a reference implementation given the same inputs, or a simulated truth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evalkit.estimators.inference.design_analysis import exaggeration_at, retrodesign, se_from_mde
from evalkit.estimators.inference.multiplicity import holm, romano_wolf
from evalkit.estimators.inference.pretrend_evidence import equivalence_max, equivalence_mean, permutation_pretrend_power

REF = Path(__file__).parents[1] / "reference"


# ------------------------------------------------------------------ design analysis (Gelman & Carlin 2014)


def test_retrodesign_beauty_and_sex_ratio_example() -> None:
    # Gelman & Carlin (2014), Perspectives on Psychological Science 9(6), "beauty and sex ratio": true
    # difference 0.1 percentage points, standard error 3.3 -> power 0.05, Type S 0.46, exaggeration ratio
    # about 77 (their figure is from 10,000 simulated draws, hence the tolerance on the ratio).
    r = retrodesign(0.1, 3.3)
    assert r["power"] == pytest.approx(0.05, abs=0.005)
    assert r["type_s"] == pytest.approx(0.46, abs=0.01)
    assert r["exaggeration"] == pytest.approx(77, abs=2)


@pytest.mark.parametrize(("effect", "se"), [(0.1, 3.3), (2.0, 8.1), (1.0, 1.0), (2.8, 1.0), (-1.5, 0.7)])
def test_retrodesign_closed_form_equals_their_simulation(effect: float, se: float) -> None:
    # Their retrodesign() simulates the exaggeration ratio; the closed form here must agree within
    # Monte Carlo error (1e6 draws).
    rng = np.random.default_rng(7)
    z = 1.959963984540054
    est = abs(effect) + se * rng.standard_normal(1_000_000)
    sig = np.abs(est) > se * z
    r = retrodesign(effect, se)
    assert r["power"] == pytest.approx(sig.mean(), abs=0.002)
    assert r["type_s"] == pytest.approx(np.mean(est[sig] < 0), abs=0.02)
    assert r["exaggeration"] == pytest.approx(np.abs(est[sig]).mean() / abs(effect), rel=0.02)


def test_design_at_the_mde_has_the_stated_power() -> None:
    se = se_from_mde(2.8, power=0.8)
    assert retrodesign(2.8, se)["power"] == pytest.approx(0.8, abs=1e-3)
    d = exaggeration_at(2.8, 2.8)
    assert d["at_or_below_mde"] and d["power_if_true_is_estimate"] == pytest.approx(0.8, abs=1e-3)
    assert d["exaggeration_if_true_is_half"] > d["exaggeration_if_true_is_estimate"] > 1


def test_retrodesign_refuses_a_zero_effect() -> None:
    with pytest.raises(ValueError, match="non-zero"):
        retrodesign(0.0, 1.0)


# ------------------------------------------------------------------ Romano-Wolf


def test_romano_wolf_matches_pyfixest_given_the_same_draws() -> None:
    ref = json.loads((REF / "pyfixest_rwolf" / "rwolf.json").read_text())
    got = romano_wolf(np.array(ref["t_stats"]), np.array(ref["boot_t_stats"]))
    assert got == pytest.approx(ref["rwolf_adjusted_p"], abs=1e-12)


def test_romano_wolf_one_hypothesis_is_the_permutation_p_value() -> None:
    rng = np.random.default_rng(1)
    null = rng.standard_normal((199, 1))
    p = romano_wolf(np.array([1.7]), null)
    assert p[0] == pytest.approx((1 + np.sum(np.abs(null[:, 0]) >= 1.7)) / 200)


def test_romano_wolf_stepdown_by_brute_force() -> None:
    # Independent computation of the stepdown: for each hypothesis in order, the max over the hypotheses
    # not yet stepped past, then the running maximum of the p-values.
    rng = np.random.default_rng(3)
    cov = np.array([[1, 0.6, 0.2, 0], [0.6, 1, 0.3, 0], [0.2, 0.3, 1, 0.5], [0, 0, 0.5, 1]])
    null = rng.multivariate_normal(np.zeros(4), cov, size=999)
    t = np.array([2.9, -0.4, 2.2, 1.1])
    order = np.argsort(-np.abs(t))
    expected = np.empty(4)
    running = 0.0
    for j, h in enumerate(order):
        mx = np.max(np.abs(null[:, order[j:]]), axis=1)
        running = max(running, (1 + np.sum(mx >= abs(t[h]))) / 1000)
        expected[h] = running
    assert romano_wolf(t, null) == pytest.approx(expected)


def test_romano_wolf_between_unadjusted_and_bonferroni_and_below_holm_when_correlated() -> None:
    rng = np.random.default_rng(11)
    k, b = 5, 4999
    common = rng.standard_normal((b, 1))
    null = 0.9 * common + np.sqrt(1 - 0.81) * rng.standard_normal((b, k))  # strongly correlated outcomes
    t = np.array([2.4, 2.1, 0.3, -1.9, 1.0])
    unadj = np.array([(1 + np.sum(np.abs(null[:, i]) >= abs(t[i]))) / (1 + b) for i in range(k)])
    rw = romano_wolf(t, null)
    assert np.all(rw >= unadj - 1e-12)
    assert np.all(rw <= np.minimum(1, k * unadj) + 1e-12)
    assert rw[0] < holm(unadj)[0]  # correlation is used: less conservative than Holm


def test_holm_is_statsmodels_holm() -> None:
    p = np.array([0.035, 0.020, 0.040, 0.3, 0.5, 0.7, 0.01, 0.9, 0.2])
    # Holm by hand: sorted p times (m - rank), running max, capped at 1.
    order = np.argsort(p)
    adj = np.maximum.accumulate(np.minimum(1, p[order] * (len(p) - np.arange(len(p)))))
    expected = np.empty_like(p)
    expected[order] = adj
    assert holm(p) == pytest.approx(expected)


def test_romano_wolf_refuses_misshapen_draws() -> None:
    with pytest.raises(ValueError, match="draws"):
        romano_wolf(np.array([1.0, 2.0]), np.zeros((10, 3)))


# ------------------------------------------------------------------ equivalence (Dette & Schumann 2024)


@pytest.mark.parametrize("case", json.loads((REF / "equitrends" / "equitrends.json").read_text())["cases"])
def test_equivalence_thresholds_match_equitrends(case: dict) -> None:
    b = np.array(case["placebo_coefficients"])
    se = np.array(case["placebo_se"])
    assert equivalence_max(b, np.diag(se**2)) == pytest.approx(case["max_minimum_equiv_threshold"], rel=1e-6)
    # the mean test uses only the variance of the mean: a covariance with that variance of the mean
    k = b.size
    v = np.eye(k) * case["mean_placebo_variance"] * k
    assert abs(b.mean()) == pytest.approx(case["mean_abs_placebo"], rel=1e-9)
    assert equivalence_mean(b, v) == pytest.approx(case["mean_minimum_equiv_threshold"], rel=1e-6)


def test_equivalence_rejects_at_the_threshold_with_size_alpha() -> None:
    # Simulated truth: at max |b| = delta (the boundary of the null) the test built on the returned
    # threshold rejects at most alpha of the time.
    rng = np.random.default_rng(5)
    delta, sd = 1.0, 0.4
    draws = delta + sd * rng.standard_normal(20000)
    rejects = [equivalence_mean(np.array([d]), np.array([[sd**2]])) < delta for d in draws]
    assert np.mean(rejects) == pytest.approx(0.05, abs=0.006)


# ------------------------------------------------------------------ pre-trend power (Roth 2022)


def test_pretrend_power_is_the_slope_detected_80_percent_of_the_time() -> None:
    rng = np.random.default_rng(9)
    k = 4
    cov = 0.5 * np.eye(k) + 0.5
    draws = rng.multivariate_normal(np.zeros(k), cov, size=2000)
    shape = -np.arange(k, 0, -1, dtype=float)  # e = -5..-2 relative to e = -1: h = e + 1
    got = permutation_pretrend_power(draws, shape)
    assert got is not None
    # fresh draws (a simulated truth, not the draws the slope was found on): power at the slope ~ 0.8
    sd = np.std(draws, axis=0, ddof=1)
    fresh = rng.multivariate_normal(np.zeros(k), cov, size=20000)
    stat = lambda x: np.sum((x / sd) ** 2, axis=1)  # noqa: E731
    assert np.mean(stat(fresh + got["slope"] * shape) > got["critical_value"]) == pytest.approx(0.8, abs=0.03)
    assert np.mean(stat(fresh) > got["critical_value"]) == pytest.approx(0.05, abs=0.01)


def test_pretrend_power_refuses_without_variation() -> None:
    assert permutation_pretrend_power(np.zeros((50, 2)), np.array([-2.0, -1.0])) is None
