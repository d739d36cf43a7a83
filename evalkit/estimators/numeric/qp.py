"""Quadratic programmes on the probability simplex, solved exactly (no general-purpose optimiser).

Synthetic-control weights solve  min_w 0.5 w'Gw - c'w  s.t. w >= 0, sum(w) = 1  with G positive
*semi*-definite (usually rank-deficient: fewer predictors than donors). quadprog (Goldfarb–Idnani
dual active set) needs G positive definite, so it is given G plus a tiny ridge; its support is then
handed to an exact primal active-set method on the unridged problem, which finishes in one or two
steps and checks the KKT conditions.

Ties: with fewer predictors than donors the least-squares problem often has many optimal weight
vectors (every w on the simplex with the same fitted values A w), and which one a solver returns
depends on its start and on round-off (e.g. the number of BLAS threads). `min_norm_weights` makes the
answer unique: among all simplex weights with the optimal fit it returns the one of smallest
Euclidean norm (a strictly convex QP on the optimal face, so its solution is unique).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import quadprog


@dataclass
class SimplexSolution:
    """Weights, the support and the KKT multiplier of the sum constraint (for implicit derivatives)."""

    w: np.ndarray
    support: np.ndarray
    mu: float
    iterations: int


def _eq_qp(G: np.ndarray, c: np.ndarray, P: np.ndarray) -> tuple[np.ndarray, float]:
    """Minimiser of 0.5 w'Gw - c'w on the support P subject only to sum(w) = 1 (min-norm if singular)."""
    s = len(P)
    M = np.empty((s + 1, s + 1))
    M[:s, :s] = G[np.ix_(P, P)]
    M[:s, s] = 1.0
    M[s, :s] = 1.0
    M[s, s] = 0.0
    rhs = np.empty(s + 1)
    rhs[:s] = c[P]
    rhs[s] = 1.0
    try:
        z = np.linalg.solve(M, rhs)
        if not np.all(np.isfinite(z)):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        z = np.linalg.lstsq(M, rhs, rcond=None)[0]
    return z[:s], float(z[s])


ACTIVE_SET_MAX_ITER = 500


def simplex_qp_active_set(
    G: np.ndarray,
    c: np.ndarray,
    w0: np.ndarray | None = None,
    *,
    tol: float = 1e-12,
    max_iter: int = ACTIVE_SET_MAX_ITER,
) -> SimplexSolution:
    """Exact primal active-set method (Lawson–Hanson style, with the sum-to-one equality).

    Stationarity on the support P: (Gw - c)_P + mu = 0; optimality needs (Gw - c)_j + mu >= 0 off P.
    """
    n = len(c)
    scale = max(float(np.max(np.abs(np.diag(G)))), float(np.max(np.abs(c))), 1e-300)
    if w0 is None:
        # best single vertex: f(e_j) = 0.5 G_jj - c_j
        j = int(np.argmin(0.5 * np.diag(G) - c))
        w = np.zeros(n)
        w[j] = 1.0
    else:
        w = np.where(w0 > 1e-10, w0, 0.0)
        w = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    P = list(np.flatnonzero(w > 0))
    mu = 0.0
    for it in range(1, max_iter + 1):
        Pa = np.array(P, dtype=int)
        z, mu = _eq_qp(G, c, Pa)
        if np.all(z > tol):
            w = np.zeros(n)
            w[Pa] = z
            dual = G @ w - c + mu
            dual[Pa] = 0.0
            j = int(np.argmin(dual))
            if dual[j] >= -1e-11 * scale or j in P:
                return SimplexSolution(w=w, support=Pa, mu=mu, iterations=it)
            P.append(j)
            continue
        # step from the feasible w towards z until the first weight hits zero, drop it
        wP = w[Pa]
        neg = z <= tol
        ratios = wP[neg] / np.maximum(wP[neg] - z[neg], 1e-300)
        alpha = float(min(1.0, ratios.min()))
        wP = wP + alpha * (z - wP)
        keep = wP > tol
        keep[np.flatnonzero(neg)[np.argmin(ratios)]] = False
        w = np.zeros(n)
        w[Pa[keep]] = wP[keep]
        w /= w.sum()
        P = list(Pa[keep])
        if not P:  # pragma: no cover - cannot happen with a feasible start
            P = [int(np.argmin(0.5 * np.diag(G) - c))]
    return SimplexSolution(w=w, support=np.flatnonzero(w > 0), mu=mu, iterations=max_iter)


def simplex_qp(G: np.ndarray, c: np.ndarray, warm: np.ndarray | None = None) -> SimplexSolution:
    """min 0.5 w'Gw - c'w on the simplex: quadprog on a ridged copy, then exact active-set polish.

    `warm`: a feasible point near the answer (e.g. the optimum of a neighbouring problem). The exact
    active-set method then starts from its support and quadprog is skipped; should that not converge,
    the cold path runs. Either way the answer is a KKT point of the same problem."""
    G = np.asarray(G, dtype=float)
    c = np.asarray(c, dtype=float)
    n = len(c)
    if warm is not None and n > 1:
        sol = simplex_qp_active_set(G, c, warm)
        if sol.iterations < ACTIVE_SET_MAX_ITER:
            return sol
    if n == 1:
        return SimplexSolution(w=np.ones(1), support=np.zeros(1, dtype=int), mu=float(c[0] - G[0, 0]), iterations=0)
    d = float(np.mean(np.diag(G)))
    d = d if d > 0 else 1.0
    Gs = (G + G.T) / (2 * d)
    Gs[np.diag_indices(n)] += 1e-9
    C = np.empty((n, n + 1))
    C[:, 0] = 1.0
    C[:, 1:] = np.eye(n)
    b = np.zeros(n + 1)
    b[0] = 1.0
    try:
        w0 = quadprog.solve_qp(Gs, c / d, C, b, 1)[0]
    except ValueError:  # quadprog finds the ridged problem infeasible: the active-set method starts cold
        w0 = None
    return simplex_qp_active_set(G, c, w0)


def simplex_lsq(
    A: np.ndarray, b: np.ndarray, weights: np.ndarray | None = None, *, unique: bool = True
) -> SimplexSolution:
    """argmin_w (b - A w)' diag(weights) (b - A w) over the simplex (columns of A are donors).

    `unique=True`: among tied minimisers, the minimum-norm one (`min_norm_weights`). Callers that use
    only the residuals b - A w (which are the same for every minimiser) may pass False to skip it."""
    if weights is None:
        Aw = A
        bw = b
    else:
        r = np.sqrt(np.asarray(weights, dtype=float))
        Aw = A * r[:, None]
        bw = b * r
    sol = simplex_qp(Aw.T @ Aw, Aw.T @ bw)
    if not unique:
        return sol
    w = min_norm_weights(Aw, sol.w)
    if w is sol.w:
        return sol
    return SimplexSolution(w=w, support=np.flatnonzero(w > 0), mu=sol.mu, iterations=sol.iterations)


RANK_RTOL = 1e-10  # singular values of A below this share of the largest are treated as zero
SAME_TOL = 1e-9  # a tie-break point this close to the solver's answer means the answer was unique


def min_norm_weights(A: np.ndarray, w: np.ndarray) -> np.ndarray:
    """The minimum-norm simplex weights with the same fitted values as `w`: argmin ||v||^2 subject to
    v >= 0, sum(v) = 1, A v = A w.

    For least squares ||b - A v||^2 every minimiser has the same fitted values A v (the loss is strictly
    convex in them), so when `w` is optimal this is the minimum-norm optimal weight vector: unique,
    whatever solver, start or thread count produced `w`. The fit constraints are written on an
    orthonormal basis of A's row space (SVD; singular values below RANK_RTOL x the largest dropped,
    which moves the loss by at most (1e-10 x largest)^2 x 2). When the optimum was already unique
    (the result is within SAME_TOL of `w`) or the QP fails, `w` itself is returned unchanged."""
    w = np.asarray(w, dtype=float)
    n = len(w)
    if n < 2:
        return w
    _, s, vt = np.linalg.svd(np.asarray(A, dtype=float), full_matrices=False)
    r = int(np.sum(s > RANK_RTOL * s[0])) if s.size and s[0] > 0 else 0
    rows = vt[:r]
    ones = np.ones(n) - rows.T @ (rows @ np.ones(n))  # the sum constraint, orthogonal to the fit rows
    rows = np.vstack([rows, ones / np.linalg.norm(ones)]) if np.linalg.norm(ones) > 1e-8 * math.sqrt(n) else rows
    if rows.shape[0] >= n:  # as many independent constraints as weights: the optimum is a single point
        return w
    C = np.hstack([rows.T, np.eye(n)])
    b = np.concatenate([rows @ w, np.zeros(n)])
    try:
        v = quadprog.solve_qp(np.eye(n), np.zeros(n), C, b, rows.shape[0])[0]
    except ValueError:
        return w
    v = np.maximum(v, 0.0)
    v /= v.sum()
    if np.max(np.abs(v - w)) <= SAME_TOL:
        return w
    return v
