"""Synthetic-control weights are unique when the simplex least-squares problem has many optimal
solutions (few pre-periods, treated unit inside the donors' hull): the minimum-norm optimum, whatever
the solver's start or the donors' order."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy.optimize import minimize

from evalkit.estimators.data import LongPanel
from evalkit.estimators.numeric import qp
from evalkit.estimators.synth.synth import synthetic_control


def degenerate(seed: int, k: int = 2, n: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """k predictors, n donors, the treated unit a convex combination of donors: infinitely many exact fits."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(k, n))
    return A, A @ rng.dirichlet(np.ones(n))


def min_norm_by_slsqp(A: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Independent reference: min ||w||^2 subject to A w = b on the simplex, by SLSQP."""
    n = A.shape[1]
    res = minimize(
        lambda w: float(w @ w),
        np.full(n, 1 / n),
        jac=lambda w: 2 * w,
        method="SLSQP",
        bounds=[(0, 1)] * n,
        constraints=[
            {"type": "eq", "fun": lambda w: np.append(A @ w - b, w.sum() - 1)},
        ],
        options={"ftol": 1e-15, "maxiter": 1000},
    )
    return res.x


@pytest.mark.parametrize("seed", range(5))
def test_ties_broken_by_minimum_norm_whatever_the_start(seed):
    A, b = degenerate(seed)
    G, c = A.T @ A, A.T @ b
    raw = [qp.simplex_qp_active_set(G, c, w0).w for w0 in (None, np.full(30, 1 / 30), np.eye(30)[7] + 0.01)]
    # the solver alone lands on different optimal weights (so this test can fail without the tie-break)
    assert max(np.max(np.abs(r - raw[0])) for r in raw) > 1e-3
    unique = [qp.min_norm_weights(A, r) for r in raw]
    for u in unique:
        assert np.max(np.abs(u - unique[0])) <= 1e-8
        assert np.all(u >= 0) and abs(u.sum() - 1) <= 1e-12
        assert np.max(np.abs(A @ u - b)) <= 1e-9  # still an exact fit
    assert np.max(np.abs(unique[0] - min_norm_by_slsqp(A, b))) <= 1e-5
    assert unique[0] @ unique[0] <= min(r @ r for r in raw) + 1e-12


@pytest.mark.parametrize("seed", range(5))
def test_lsq_weights_do_not_depend_on_donor_order(seed):
    A, b = degenerate(10 + seed, k=3, n=40)
    b = b + 0.05 * np.random.default_rng(seed).normal(size=3)  # some not-exact fits too
    w = qp.simplex_lsq(A, b).w
    for s in range(3):
        order = np.random.default_rng(100 + s).permutation(40)
        wp = qp.simplex_lsq(A[:, order], b).w
        back = np.empty(40)
        back[order] = wp
        assert np.max(np.abs(back - w)) <= 1e-8


def test_unique_optimum_is_returned_unchanged():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(12, 6))  # more predictors than donors: one optimum
    b = rng.normal(size=12)
    sol = qp.simplex_qp(A.T @ A, A.T @ b)
    assert qp.min_norm_weights(A, sol.w) is sol.w


def few_pre_period_panel(order_seed: int | None) -> LongPanel:
    """One treated unit, two pre-periods, 25 donors surrounding it: the fit is exact many ways."""
    rng = np.random.default_rng(8)
    n, years = 26, [2013, 2014, 2015, 2016, 2017]
    level = rng.normal(size=n) * 3
    trend = rng.normal(size=n)
    level[0], trend[0] = 0.2, 0.1  # inside the donors' hull
    names = [f"u{i:02d}" for i in range(n)]
    if order_seed is not None:  # rename so that the donors sort in another order
        perm = np.random.default_rng(order_seed).permutation(n)
        names = [f"u{perm[i]:02d}" for i in range(n)]
    rows = [
        {"unit": names[i], "time": t, "y": level[i] + trend[i] * (t - 2013) + 0.3 * np.sin(i + t), "cohort": 0}
        for i in range(n)
        for t in years
    ]
    frame = pl.DataFrame(rows).with_columns(
        pl.when(pl.col("unit") == names[0]).then(2015).otherwise(0).alias("cohort").cast(pl.Int64)
    )
    return LongPanel(frame, "y")


def test_synthetic_control_weights_do_not_depend_on_donor_order():
    runs = []
    for order_seed in (None, 1, 2):
        panel = few_pre_period_panel(order_seed)
        res = synthetic_control(panel, inference=False)
        w = res.extra["weights"]
        runs.append((panel, res, w))
    names0 = few_pre_period_panel(None).data["unit"].unique().sort().to_list()
    assert len(names0) == 26
    ref = None
    for order_seed, (_, res, w) in zip((None, 1, 2), runs):
        by_unit = dict(zip(w["unit"].to_list(), w["weight"].to_list()))
        # map each run's renamed units back to the original unit index
        n = 26
        perm = np.arange(n) if order_seed is None else np.random.default_rng(order_seed).permutation(n)
        vec = np.array([by_unit.get(f"u{perm[i]:02d}", np.nan) for i in range(1, n)])
        if ref is None:
            ref, att = vec, res.estimate("att")["estimate"]
        assert np.max(np.abs(vec - ref)) <= 1e-8
        assert abs(res.estimate("att")["estimate"] - att) <= 1e-8
    assert np.sum(ref > 1e-9) > 3  # spread over many donors: the minimum-norm tie-break, not a vertex
