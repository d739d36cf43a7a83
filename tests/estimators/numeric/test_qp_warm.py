"""Warm-started simplex QPs (the synthetic-control V search re-solves W at nearby V many times): a
warm start from any feasible point must reach the same optimum as the cold path (quadprog, then the
exact active-set polish), checked by the KKT conditions and against the cold answer."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.estimators.numeric import qp
from evalkit.estimators.synth.synth import _NestedV


def problem(seed: int, k: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Scaled predictors of the synthetic-control shape: k rows, n donors, positive V on the rows."""
    rng = np.random.default_rng(seed)
    X0 = rng.normal(size=(k, n))
    X1 = rng.normal(size=k) * 1.5
    v = rng.dirichlet(np.ones(k))
    Xv = X0 * v[:, None]
    return X0.T @ Xv, Xv.T @ X1


def kkt_gap(G: np.ndarray, c: np.ndarray, w: np.ndarray) -> float:
    """Largest violation of the simplex QP's optimality conditions (0 at an exact optimum)."""
    g = G @ w - c
    on = w > 0
    mu = -float(np.mean(g[on]))
    scale = max(float(np.max(np.abs(np.diag(G)))), float(np.max(np.abs(c))))
    stationarity = float(np.max(np.abs(g[on] + mu)))
    dual = float(max(0.0, -np.min(g[~on] + mu))) if (~on).any() else 0.0
    return max(stationarity, dual, abs(w.sum() - 1), float(max(0.0, -w.min()))) / scale


@pytest.mark.parametrize("seed", range(40))
def test_warm_start_reaches_the_cold_optimum(seed):
    rng = np.random.default_rng(1000 + seed)
    k, n = int(rng.integers(2, 12)), int(rng.integers(2, 90))
    G, c = problem(seed, k, n)
    cold = qp.simplex_qp(G, c)
    f = lambda w: 0.5 * w @ G @ w - c @ w  # noqa: E731
    starts = [np.full(n, 1.0 / n), np.eye(n)[int(rng.integers(n))], rng.dirichlet(np.ones(n) * 0.2), cold.w]
    for w0 in starts:
        warm = qp.simplex_qp(G, c, warm=w0)
        assert kkt_gap(G, c, warm.w) <= 1e-9
        assert f(warm.w) <= f(cold.w) + 1e-12 * max(1.0, abs(f(cold.w)))
        # G has rank k <= n: optimal weights can tie, their fitted values cannot
        assert np.allclose(G @ warm.w, G @ cold.w, rtol=0, atol=1e-9 * max(1.0, np.abs(G).max()))
        if n <= k:  # full-rank G: the optimum is unique
            assert np.max(np.abs(warm.w - cold.w)) <= 1e-9


def test_warm_start_from_the_optimum_skips_quadprog(monkeypatch):
    G, c = problem(7, 6, 60)
    cold = qp.simplex_qp(G, c)
    calls = []
    real = qp.quadprog.solve_qp
    monkeypatch.setattr(qp.quadprog, "solve_qp", lambda *a: calls.append(1) or real(*a))
    again = qp.simplex_qp(G, c, warm=cold.w)
    assert not calls and again.iterations == 1
    assert np.array_equal(again.support, cold.support)
    assert np.max(np.abs(again.w - cold.w)) <= 1e-12


def test_warm_start_that_cannot_converge_falls_back_to_the_cold_path(monkeypatch):
    G, c = problem(3, 5, 40)
    monkeypatch.setattr(qp, "ACTIVE_SET_MAX_ITER", 1)  # every warm run now stops unconverged
    calls = []
    real = qp.quadprog.solve_qp
    monkeypatch.setattr(qp.quadprog, "solve_qp", lambda *a: calls.append(1) or real(*a))
    sol = qp.simplex_qp(G, c, warm=np.full(40, 1 / 40))
    assert calls, "the cold path (quadprog) must run when the warm start does not converge"
    assert kkt_gap(G, c, sol.w) <= 1e-9


def test_nested_v_loss_is_the_same_warm_or_cold():
    """The outer loss L(V) (what the V search minimises) does not depend on which V was solved before."""
    rng = np.random.default_rng(5)
    k, n, t0 = 5, 50, 8
    X0, X1 = rng.normal(size=(k, n)), 4.0 + rng.normal(size=k)  # outside the donors' hull: W unique
    Z0, Z1 = rng.normal(size=(t0, n)), rng.normal(size=t0)
    vs = [rng.dirichlet(np.ones(k)) for _ in range(25)]
    warm = _NestedV(X1, X0, Z1, Z0)
    warm_losses = [warm.loss_w(v)[0] for v in vs]
    cold_losses = [_NestedV(X1, X0, Z1, Z0).loss_w(v)[0] for v in vs]  # fresh object: no warm start
    # with a unique W the loss is unique; warm and cold differ only by round-off
    assert np.allclose(warm_losses, cold_losses, rtol=1e-9, atol=1e-12)
