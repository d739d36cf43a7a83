"""Optimal fixed-length confidence interval (FLCI) under smoothness, Delta^SD(M) (Rambachan & Roth 2023, §4.1).

Event-study coefficients beta = (beta_pre, beta_post) with the reference period (e = -1) left out;
beta = tau + delta, tau_pre = 0, and the target is theta = l' tau_post. Delta^SD(M) bounds every
second difference of delta (with delta = 0 at the reference) by M.

The FLCI is  a + v'beta_hat ± chi  with v = (v_pre, l): among affine estimators, the one whose
worst-case-bias-adjusted interval is shortest. As in RR and the HonestDiD package, write the
pre-period weights through their running sums: with z_j the cumulative sum of the cumulative sums
of v_pre (from the earliest pre-period), v_pre is the second difference of z, the estimator is
unbiased for linear trends exactly when z_K = s := sum_t t l_t, and its worst-case bias over
Delta^SD(M) is M (sum_j |z_j| + c_l) with c_l a constant fixed by l (`_bias_constant`). So

    half-length(h) = h * cv_alpha(M * B(h) / h),  B(h) = min { bias : sd(estimator) <= h },

where cv_alpha(b) is the 1 - alpha quantile of |N(b, 1)|. B(h) is an l1 minimisation over an
ellipsoid (convex; solved here by SLSQP on the split form), and the half-length is convex in h, so
a bounded scalar search over h between the minimum-variance and the minimum-bias estimators finds
the optimum. The package simulates the folded-normal quantile; it is computed exactly here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats


@dataclass(frozen=True)
class FLCI:
    """The interval, its centre (the optimal affine estimate), half-length and the weights v."""

    ci_low: float
    ci_high: float
    estimate: float
    half_length: float
    weights: np.ndarray
    max_bias: float
    sd: float


def folded_normal_quantile(b: float, alpha: float) -> float:
    """1 - alpha quantile of |N(b, 1)|: the c with Phi(c - b) - Phi(-c - b) = 1 - alpha."""
    b = abs(float(b))
    if b == 0.0:
        return float(stats.norm.ppf(1 - alpha / 2))

    def gap(c: float) -> float:
        return float(stats.norm.cdf(c - b) - stats.norm.cdf(-c - b) - (1 - alpha))

    return float(optimize.brentq(gap, b, b + 10.0, xtol=1e-14, rtol=1e-14))


def _bias_constant(l_vec: np.ndarray) -> float:
    """The part of the worst-case bias (per unit of M) that the post-period weights l fix."""
    t_len = len(l_vec)
    total = 0.0
    for s in range(1, t_len + 1):
        total += abs(float(np.arange(1, s + 1) @ l_vec[t_len - s :]))
    return total - float(np.arange(1, t_len + 1) @ l_vec)


def _second_difference(k: int) -> np.ndarray:
    """P with v_pre = P z: v_j = z_j - 2 z_{j-1} + z_{j-2} (z_0 = z_{-1} = 0)."""
    p = np.eye(k)
    for j in range(1, k):
        p[j, j - 1] = -2.0
    for j in range(2, k):
        p[j, j - 2] = 1.0
    return p


class _Problem:
    """Variance of the affine estimator as a quadratic in the free sums z_1..z_{K-1}."""

    def __init__(self, sigma: np.ndarray, num_pre: int, l_vec: np.ndarray):
        k = num_pre
        self.k, self.l_vec = k, l_vec
        self.s = float(np.arange(1, len(l_vec) + 1) @ l_vec)
        self.p = _second_difference(k)
        s_pre, s_pp, s_post = sigma[:k, :k], sigma[:k, k:], sigma[k:, k:]
        pf, pl_ = self.p[:, : k - 1], self.p[:, k - 1] * self.s  # v_pre = pf z_f + pl_
        self.q = pf.T @ s_pre @ pf
        self.g = pf.T @ (s_pre @ pl_ + s_pp @ l_vec)
        self.c = float(pl_ @ s_pre @ pl_ + 2 * pl_ @ s_pp @ l_vec + l_vec @ s_post @ l_vec)
        self.const_bias = abs(self.s) + _bias_constant(l_vec)

    def var(self, zf: np.ndarray) -> float:
        return float(zf @ self.q @ zf + 2 * self.g @ zf + self.c)

    def weights(self, zf: np.ndarray) -> np.ndarray:
        z = np.append(zf, self.s)
        return np.concatenate([self.p @ z, self.l_vec])

    def bias(self, zf: np.ndarray) -> float:
        return float(np.sum(np.abs(zf)) + self.const_bias)

    def min_variance(self) -> np.ndarray:
        if self.k == 1:
            return np.zeros(0)
        return np.linalg.solve(self.q, -self.g)

    def min_bias_given_sd(self, h: float, z_mv: np.ndarray) -> np.ndarray:
        """argmin sum|z_f| subject to var(z_f) <= h^2 (start: the feasible point on the segment
        from the minimum-variance solution towards 0)."""
        n = self.k - 1
        if n == 0:
            return np.zeros(0)
        h2 = h * h
        if self.var(np.zeros(n)) <= h2:
            return np.zeros(n)
        # largest t in [0, 1] with var(t z_mv) <= h^2, from the quadratic in t
        a, b, c = z_mv @ self.q @ z_mv, 2 * self.g @ z_mv, self.c - h2
        disc = max(b * b - 4 * a * c, 0.0)
        t = min(1.0, (-b - np.sqrt(disc)) / (2 * a)) if a > 0 else 1.0
        t = min(1.0, max(t, 0.0) * (1 + 1e-9))
        x0 = np.concatenate([t * z_mv, np.abs(t * z_mv) + 1e-12])
        scale = h2

        def objective(x: np.ndarray) -> float:
            return float(np.sum(x[n:]))

        def objective_grad(x: np.ndarray) -> np.ndarray:
            return np.concatenate([np.zeros(n), np.ones(n)])

        def var_con(x: np.ndarray) -> float:
            return 1.0 - self.var(x[:n]) / scale

        def var_con_grad(x: np.ndarray) -> np.ndarray:
            return np.concatenate([-(2 * self.q @ x[:n] + 2 * self.g) / scale, np.zeros(n)])

        lin = np.block([[-np.eye(n), np.eye(n)], [np.eye(n), np.eye(n)]])
        cons = [
            {"type": "ineq", "fun": var_con, "jac": var_con_grad},
            {"type": "ineq", "fun": lambda x: lin @ x, "jac": lambda x: lin},
        ]
        out = optimize.minimize(
            objective, x0, jac=objective_grad, constraints=cons, method="SLSQP", options={"ftol": 1e-13, "maxiter": 500}
        )
        zf = out.x[:n]
        if not np.isfinite(zf).all() or self.var(zf) > h2 * (1 + 1e-6):
            return t * z_mv  # feasible fallback (never seen; keeps the interval valid, if wider)
        return zf


def flci_sd(
    betahat: np.ndarray,
    sigma: np.ndarray,
    num_pre: int,
    num_post: int,
    m: float,
    *,
    l_vec: np.ndarray | None = None,
    alpha: float = 0.05,
) -> FLCI:
    """The optimal FLCI for theta = l' tau_post under Delta^SD(m)."""
    betahat, sigma = np.asarray(betahat, float), np.asarray(sigma, float)
    lv = np.eye(num_post)[0] if l_vec is None else np.asarray(l_vec, float)
    if num_pre < 1 or len(betahat) != num_pre + num_post or len(lv) != num_post:
        raise ValueError("betahat must hold num_pre + num_post coefficients and l_vec num_post weights")
    prob = _Problem(sigma, num_pre, lv)
    z_mv = prob.min_variance()
    h_min, h_0 = np.sqrt(prob.var(z_mv)), np.sqrt(prob.var(np.zeros(num_pre - 1)))

    def solve(h: float) -> tuple[float, np.ndarray]:
        zf = z_mv if h <= h_min else prob.min_bias_given_sd(h, z_mv)
        sd = np.sqrt(prob.var(zf))
        return sd * folded_normal_quantile(m * prob.bias(zf) / sd, alpha), zf

    if m == 0 or h_0 - h_min <= 1e-12 * h_0:
        best_h = h_min
    else:
        found = optimize.minimize_scalar(
            lambda h: solve(h)[0], bounds=(h_min, h_0), method="bounded", options={"xatol": 1e-10 * h_0}
        )
        candidates = [(solve(h)[0], h) for h in (h_min, h_0, float(found.x))]
        best_h = min(candidates)[1]
    half, zf = solve(best_h)
    v = prob.weights(zf)
    centre = float(v @ betahat)
    return FLCI(
        ci_low=centre - half,
        ci_high=centre + half,
        estimate=centre,
        half_length=float(half),
        weights=v,
        max_bias=float(m * prob.bias(zf)),
        sd=float(np.sqrt(prob.var(zf))),
    )
