"""FLCI and ARP on small cases that can be checked by hand or by an independent computation."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import optimize, stats

from evalkit.estimators.honest.arp import RMProblem, dual_vertices, rm_constraints
from evalkit.estimators.honest.flci import _Problem, flci_sd, folded_normal_quantile
from evalkit.estimators.honest.honest import EventStudy, relative_magnitude_sensitivity, rm_breakdown


def _sigma(n: int, seed: int = 0) -> np.ndarray:
    a = np.random.default_rng(seed).normal(size=(n, n))
    return (a @ a.T + n * np.eye(n)) * 1e-3


def test_folded_normal_quantile():
    assert folded_normal_quantile(0.0, 0.05) == pytest.approx(stats.norm.ppf(0.975), abs=1e-12)
    c = folded_normal_quantile(1.3, 0.05)
    assert stats.norm.cdf(c - 1.3) - stats.norm.cdf(-c - 1.3) == pytest.approx(0.95, abs=1e-12)
    assert folded_normal_quantile(50.0, 0.05) == pytest.approx(50 + stats.norm.ppf(0.95), abs=1e-6)


def test_flci_one_pre_period_m0_is_linear_extrapolation():
    # one pre-period: the only estimator unbiased for linear trends is beta_0 + beta_{-2}
    b, s = np.array([0.3, 1.1]), np.array([[0.04, 0.01], [0.01, 0.09]])
    f = flci_sd(b, s, 1, 1, 0.0)
    se = np.sqrt(s[0, 0] + s[1, 1] + 2 * s[0, 1])
    assert (f.ci_low, f.ci_high) == pytest.approx((1.4 - 1.959964 * se, 1.4 + 1.959964 * se), abs=1e-6)
    # with M > 0 the worst-case bias is M (one second difference, at the reference period)
    f = flci_sd(b, s, 1, 1, 0.2)
    assert f.half_length == pytest.approx(se * folded_normal_quantile(0.2 / se, 0.05), rel=1e-10)


def test_flci_m0_is_the_gls_linear_trend_estimator():
    k, t = 4, 3
    s = _sigma(k + t, seed=3)
    b = np.random.default_rng(1).normal(size=k + t)
    l_vec = np.array([0.0, 1.0, 0.0])
    # independently: min v'Sv  s.t.  v_post = l and sum_t t v_t = 0 (t = -k..-1, 1..T, reference 0)
    times = np.concatenate([np.arange(-k, 0), np.arange(1, t + 1)])
    free = slice(0, k)
    # v_pre minimises (v_pre, l)'S(v_pre, l) subject to times_pre'v_pre = -times_post'l
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = 2 * s[free, free]
    kkt[:k, k] = kkt[k, :k] = times[:k]
    rhs = np.concatenate([-2 * s[free, k:] @ l_vec, [-times[k:] @ l_vec]])
    v = np.concatenate([np.linalg.solve(kkt, rhs)[:k], l_vec])
    f = flci_sd(b, s, k, t, 0.0, l_vec=l_vec)
    assert f.estimate == pytest.approx(v @ b, abs=1e-10)
    assert f.half_length == pytest.approx(stats.norm.ppf(0.975) * np.sqrt(v @ s @ v), rel=1e-9)


@pytest.mark.parametrize("l_vec", [np.array([1.0, 0.0, 0.0]), np.array([1 / 3] * 3), np.array([0.0, 0.5, 0.5])])
def test_flci_worst_case_bias_formula_matches_a_linear_programme(l_vec):
    k, t = 3, 3
    prob = _Problem(_sigma(k + t), k, l_vec)
    rng = np.random.default_rng(7)
    for _ in range(3):
        zf = rng.normal(size=k - 1)
        v = prob.weights(zf)
        # max v'delta over |second differences| <= 1 (delta_0 = 0 at the reference), by linprog
        n = k + t + 1
        rows = []
        for j in range(1, n - 1):
            r = np.zeros(n)
            r[j - 1], r[j], r[j + 1] = 1, -2, 1
            rows += [r, -r]
        a_ub = np.array(rows)
        obj = np.insert(v, k, 0.0)
        eq = np.zeros((1, n))
        eq[0, k] = 1.0
        lp = optimize.linprog(
            -obj, A_ub=a_ub, b_ub=np.ones(len(rows)), A_eq=eq, b_eq=[0.0], bounds=[(None, None)] * n, method="highs"
        )
        assert lp.status == 0
        assert -lp.fun == pytest.approx(prob.bias(zf), rel=1e-8)


def test_flci_is_no_longer_than_the_two_extreme_estimators():
    k, t = 4, 2
    s, b = _sigma(k + t, 5), np.zeros(k + t)
    prob = _Problem(s, k, np.array([1.0, 0.0]))
    for m in (0.01, 0.05, 0.5):
        f = flci_sd(b, s, k, t, m)
        for zf in (np.zeros(k - 1), prob.min_variance()):
            sd = np.sqrt(prob.var(zf))
            assert f.half_length <= sd * folded_normal_quantile(m * prob.bias(zf) / sd, 0.05) + 1e-12


def test_rm_one_post_period_mbar0_by_hand():
    # Mbar = 0, one post-period: delta_post = 0, so theta is point identified at beta_0; the moments
    # are +-(beta_0 - theta) <= 0. The conditional test truncates the max at 0 from below, so it
    # accepts |z| <= Phi^-1(1/2 + (1 - a~)/2), a~ = (alpha - kappa)/(1 - kappa), kappa = alpha/10.
    b, s = np.array([0.02, -0.01, 0.5]), np.diag([0.01, 0.01, 0.04])
    es = EventStudy((-3, -2, 0), b, s, 2, 1)
    row = relative_magnitude_sensitivity(es, [0.0], grid_points=4001).row(0, named=True)
    a_tilde = (0.05 - 0.005) / (1 - 0.005)
    c = stats.norm.ppf(0.5 + (1 - a_tilde) / 2)
    step = 40 * 0.2 / 4000
    assert row["id_low"] == pytest.approx(0.5) and row["id_high"] == pytest.approx(0.5)
    assert row["ci_low"] == pytest.approx(0.5 - c * 0.2, abs=step)
    assert row["ci_high"] == pytest.approx(0.5 + c * 0.2, abs=step)


def test_rm_mbar0_collapses_to_the_point_identified_set_and_sets_nest():
    k, t = 3, 2
    s = _sigma(k + t, 11)
    b = np.array([0.01, -0.02, 0.015, 0.3, 0.35])
    es = EventStudy((-4, -3, -2, 0, 1), b, s, k, t)
    out = relative_magnitude_sensitivity(es, [0.0, 0.5, 1.0, 2.0])
    assert out["id_low"][0] == pytest.approx(0.3) and out["id_high"][0] == pytest.approx(0.3)
    # identified set under Mbar: b_0 +- Mbar * largest pre step (one post period ahead of the reference)
    steps = np.abs(np.diff(np.append(b[:k], 0.0)))
    assert out["id_high"][2] - out["id_low"][2] == pytest.approx(2 * steps.max())
    lows, highs = out["ci_low"].to_numpy(), out["ci_high"].to_numpy()
    assert np.all(np.diff(lows) <= 1e-12) and np.all(np.diff(highs) >= -1e-12)
    assert np.all(lows <= out["id_low"].to_numpy()) and np.all(highs >= out["id_high"].to_numpy())


def test_rm_breakdown_is_where_zero_enters():
    k, t = 3, 2
    s = _sigma(k + t, 2) * 0.1
    b = np.array([0.01, -0.02, 0.015, 0.3, 0.35])
    es = EventStudy((-4, -3, -2, 0, 1), b, s, k, t)
    bd = rm_breakdown(es)
    prob = RMProblem(b, s, k, t, np.array([1.0, 0.0]))
    assert not prob.accepts(bd - 0.01, np.zeros(1))[0]
    assert prob.accepts(bd + 0.01, np.zeros(1))[0]


def test_rm_constraints_and_dual_vertices():
    a = rm_constraints(2, 1, 1.0, 0, True)  # max step is delta_0 - delta_{-1} = -delta_{-1}, positive
    delta_ok = np.array([-0.5, -1.0, 0.4])  # pre steps -0.5 -> -1 (|.5|) and -1 -> 0 (1): max 1 at s = 0
    assert np.all(a @ delta_ok <= 1e-12)
    assert np.any(a @ np.array([-0.5, -1.0, 1.5]) > 0)  # post step 1.5 > 1 * 1
    # {g >= 0: g'sd = 1}: vertices e_i / sd_i
    v = dual_vertices(np.array([1.0, 2.0, 4.0]), np.zeros((3, 0)))
    assert sorted(map(tuple, v)) == sorted([(1.0, 0, 0), (0, 0.5, 0), (0, 0, 0.25)])


@pytest.mark.parametrize("mbar", [0.0, 1.0])
def test_rm_confidence_set_covers_a_simulated_truth(mbar):
    # beta_hat ~ N(tau + delta, S) with delta in Delta^RM(mbar) at its edge (post steps = mbar times the
    # largest pre step, pushed in one direction): the set must cover theta = tau_0 about 95% of the time
    k, t = 3, 2
    s = np.array([[4, 2, 1, 1, 1], [2, 4, 2, 1, 1], [1, 2, 4, 2, 1], [1, 1, 2, 4, 2], [1, 1, 1, 2, 4]]) * 1e-4
    # pre-periods e = -4, -3, -2 (reference -1 = 0): steps -0.01, 0.005, 0.0, the largest 0.01;
    # post e = 0, 1: both steps equal to mbar * 0.01, the edge of Delta^RM(mbar)
    step = mbar * 0.01
    delta = np.array([0.005, -0.005, 0.0, step, 2 * step])
    tau = np.array([0.0, 0.0, 0.0, 0.03, 0.05])
    draws = np.random.default_rng(11).multivariate_normal(tau + delta, s, size=600)
    covered = [RMProblem(b, s, k, t, np.array([1.0, 0.0])).accepts(mbar, np.array([0.03]))[0] for b in draws]
    assert 0.93 <= np.mean(covered) <= 1.0


def test_rm_set_found_when_far_from_zero():
    # estimate 60 standard errors from 0: outside the package's default grid (0 +- 20 se)
    s = np.diag([0.01, 0.01, 0.01]) ** 2
    es = EventStudy((-3, -2, 0), np.array([0.001, -0.001, 0.6]), s, 2, 1)
    row = relative_magnitude_sensitivity(es, [0.0]).row(0, named=True)
    assert row["ci_low"] < 0.6 < row["ci_high"]
    assert row["ci_high"] - row["ci_low"] == pytest.approx(2 * 2.0 * 0.01, rel=0.1)
