"""Relative magnitudes, Delta^RM(Mbar), by inverting the Andrews, Roth & Pakes (ARP) conditional
least-favourable hybrid test (Rambachan & Roth 2023, §3.2 and §5.3; as the HonestDiD package does).

Delta^RM(Mbar) = { delta : every post-period step |delta_t - delta_{t-1}| <= Mbar * max over
pre-period steps |delta_s - delta_{s-1}| } (delta = 0 at the reference period). It is the union over
which pre-period step s is the largest, and its sign, of polyhedra {A delta <= 0}; the confidence
set is the union of the confidence sets for each piece. For one piece and a candidate theta, the
moments E[Y - a1 theta - X tau~] <= 0 (Y = A beta_hat on the post-period rows, tau~ the nuisance
post-period effects orthogonal to l) are tested with the ARP statistic

    eta = min over (eta, tau~) of eta  s.t.  Y - a1 theta - X tau~ <= eta * sd(Y),

whose dual is max gamma'y over the polytope {gamma >= 0, gamma'sd = 1, gamma'X = 0}. Here that
polytope is small (2T rows, T - 1 nuisance dimensions), so its vertices are enumerated once and the
statistic, the optimal vertex and the truncation points (the range of eta over which that vertex
stays optimal, given the part of y independent of it) follow for the whole theta grid by matrix
products instead of one linear programme per point. The hybrid: reject at once if eta exceeds the
least-favourable critical value at size kappa = alpha / 10; otherwise compare eta with the
1 - (alpha - kappa) / (1 - kappa) quantile of the normal truncated to [v_lo, min(v_up, cv_LF)].
As in the package, only the post-period moments enter the test, the theta grid is 1,000 points on
±20 standard errors of l'beta_post around 0 (widened here if the set reaches its edge or lies off it) and, with a
single post-period, the second stage is not truncated at cv_LF.
"""

from __future__ import annotations

from itertools import combinations, islice

import numpy as np
from scipy import optimize, stats

LF_DRAWS = 10_000
LF_SEED = 20230601


def rm_constraints(num_pre: int, num_post: int, mbar: float, s: int, positive: bool) -> np.ndarray:
    """Rows a with a'delta <= 0 defining Delta^RM_{s,sign}(Mbar); delta holds pre then post periods
    (the reference left out). s in -(num_pre - 1)..0 names the pre step delta_s - delta_{s-1}
    assumed to be the largest in absolute value, with the given sign."""
    width = num_pre + num_post + 1  # with the reference period, t = -num_pre..num_post

    def step(t: int) -> np.ndarray:
        row = np.zeros(width)
        row[num_pre + t], row[num_pre + t - 1] = 1.0, -1.0
        return row

    vmax = step(s) if positive else -step(s)
    rows = []
    for t in range(-num_pre + 1, num_post + 1):
        bound = vmax if t <= 0 else mbar * vmax
        for sign in (1.0, -1.0):
            row = sign * step(t) - bound
            if row @ row > 1e-20:
                rows.append(row)
    a = np.array(rows)
    return np.delete(a, num_pre, axis=1)


def _post_rows(a: np.ndarray, num_pre: int) -> np.ndarray:
    return a[np.any(a[:, num_pre:] != 0, axis=1)]


def _gamma(l_vec: np.ndarray) -> np.ndarray:
    """An invertible matrix whose first row is l' (the rest: unit vectors)."""
    j0 = int(np.flatnonzero(l_vec)[0])
    others = [np.eye(len(l_vec))[j] for j in range(len(l_vec)) if j != j0]
    return np.vstack([l_vec] + others)


def dual_vertices(sd: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Vertices of {gamma >= 0 : gamma'sd = 1, gamma'X = 0} (one per row), by basic solutions."""
    w = np.column_stack([sd, x])
    w = w / np.abs(w).max(axis=0, keepdims=True).clip(min=1e-300)  # column scaling: same vertices, better conditioning
    scale = np.abs(np.column_stack([sd, x])).max(axis=0).clip(min=1e-300)
    m, k1 = w.shape
    found = []
    combos = combinations(range(m), k1)
    while True:
        batch = np.array(list(islice(combos, 20_000)), dtype=int).reshape(-1, k1)
        if len(batch) == 0:
            break
        wb = w[batch]  # (n, k1, k1): rows of the basis
        ok = np.abs(np.linalg.det(wb)) > 1e-10
        if not ok.any():
            continue
        rhs = np.zeros((int(ok.sum()), k1, 1))
        rhs[:, 0, 0] = 1.0 / scale[0]  # gamma'W = e1 after the column scaling
        g = np.linalg.solve(np.transpose(wb[ok], (0, 2, 1)), rhs)[:, :, 0]
        keep = (g >= -1e-10 * np.abs(g).max(axis=1, keepdims=True)).all(axis=1)
        for subset, gam in zip(batch[ok][keep], g[keep]):
            full = np.zeros(m)
            full[subset] = np.maximum(gam, 0.0)
            found.append(full)
    if not found:
        return np.zeros((0, m))
    return np.unique(np.round(np.array(found), 12), axis=0)


_RAYS: dict[bytes, np.ndarray] = {}
RAYS_MEMO_SIZE = 64


def _rays_of(x: np.ndarray) -> np.ndarray:
    """`dual_vertices(ones, x)`, remembered by the exact bytes (and shape) of x; read-only arrays, so a
    caller cannot change a remembered result."""
    x = np.ascontiguousarray(x, dtype=float)
    key = np.array(x.shape, dtype=np.int64).tobytes() + x.tobytes()
    hit = _RAYS.get(key)
    if hit is None:
        hit = dual_vertices(np.ones(len(x)), x)
        hit.setflags(write=False)
        while len(_RAYS) >= RAYS_MEMO_SIZE:
            _RAYS.pop(next(iter(_RAYS)))
        _RAYS[key] = hit
    return hit


def lf_critical_value(
    vertices: np.ndarray, sigma_y: np.ndarray, kappa: float, draws: int = LF_DRAWS, seed: int = LF_SEED
) -> float:
    """1 - kappa quantile of the statistic eta under the least-favourable null (mean zero)."""
    z = np.random.default_rng(seed).standard_normal((draws, len(sigma_y)))
    vals, vecs = np.linalg.eigh(sigma_y)
    xi = z @ (vecs * np.sqrt(np.clip(vals, 0.0, None))).T
    return float(np.quantile(np.max(vertices @ xi.T, axis=0), 1 - kappa))


def hybrid_accepts(
    y0: np.ndarray,
    a1: np.ndarray,
    vertices: np.ndarray,
    sigma_y: np.ndarray,
    theta: np.ndarray,
    *,
    alpha: float,
    kappa: float,
    lf_cv: float,
    cap_second_stage: bool,
) -> np.ndarray:
    """For each theta: does the conditional least-favourable hybrid test accept E[y0 - a1 theta - X t] <= 0?"""
    theta = np.atleast_1d(np.asarray(theta, float))
    if len(vertices) == 0:
        return np.ones(len(theta), dtype=bool)  # eta unbounded below: nothing to reject
    vals = (vertices @ y0)[:, None] - (vertices @ a1)[:, None] * theta[None, :]
    best = np.argmax(vals, axis=0)
    eta = vals[best, np.arange(len(theta))]
    cov = vertices @ sigma_y @ vertices.T
    var_b = cov[best, best]
    gc = cov[:, best] / np.where(var_b > 0, var_b, 1.0)[None, :]
    slack = 1.0 - gc
    ratio = (vals - gc * eta[None, :]) / np.where(np.abs(slack) > 1e-10, slack, np.nan)
    lower = np.where(slack > 1e-10, ratio, -np.inf)
    upper = np.where(slack < -1e-10, ratio, np.inf)
    v_lo, v_up = lower.max(axis=0), upper.min(axis=0)
    mod_size = (alpha - kappa) / (1 - kappa)
    sd_b = np.sqrt(np.maximum(var_b, 0.0))
    ok = sd_b > np.sqrt(np.finfo(float).eps) * max(1.0, float(np.sqrt(np.max(np.diag(sigma_y)))))
    accept = np.ones(len(theta), dtype=bool)
    accept[~ok] = eta[~ok] <= 0
    stat = np.where(ok, eta / np.where(ok, sd_b, 1.0), 0.0)
    z_lo = v_lo / np.where(ok, sd_b, 1.0)
    z_up = (np.minimum(v_up, lf_cv) if cap_second_stage else v_up) / np.where(ok, sd_b, 1.0)
    first_stage = eta > lf_cv
    inside = ok & ~first_stage & (z_lo <= stat) & (stat <= z_up)
    if inside.any():
        cval = np.maximum(0.0, _truncnorm_ppf(1 - mod_size, z_lo[inside], z_up[inside]))
        accept[inside] = stat[inside] <= cval
    accept[ok & first_stage] = False
    return accept


def _truncnorm_ppf(p: float, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    out = stats.truncnorm.ppf(p, lo, hi)
    # degenerate truncation (lo == hi) or numerical failure: the quantile is the endpoint
    return np.where(np.isfinite(out), out, np.where(np.isfinite(hi), hi, lo))


class RMProblem:
    """Everything about one event study and target that does not depend on theta."""

    def __init__(
        self,
        betahat: np.ndarray,
        sigma: np.ndarray,
        num_pre: int,
        num_post: int,
        l_vec: np.ndarray,
        alpha: float = 0.05,
        kappa: float | None = None,
    ):
        self.betahat, self.sigma = np.asarray(betahat, float), np.asarray(sigma, float)
        self.k, self.t, self.l_vec = num_pre, num_post, np.asarray(l_vec, float)
        self.alpha = alpha
        self.kappa = alpha / 10 if kappa is None else kappa
        if num_pre < 1 or num_post < 1 or len(self.betahat) != num_pre + num_post:
            raise ValueError("betahat must hold num_pre + num_post coefficients (num_pre, num_post >= 1)")
        ginv = np.linalg.inv(_gamma(self.l_vec))
        self._ginv = ginv
        self._ray_cache: tuple[np.ndarray, np.ndarray] | None = None
        self.theta_hat = float(self.l_vec @ self.betahat[num_pre:])
        self.sd_theta = float(np.sqrt(self.l_vec @ self.sigma[num_pre:, num_pre:] @ self.l_vec))

    def _pieces(self, mbar: float) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]]:
        out = []
        for s in range(-(self.k - 1), 1):
            for positive in (True, False):
                a = _post_rows(rm_constraints(self.k, self.t, mbar, s, positive), self.k)
                a_post = a[:, self.k :] @ self._ginv
                y0, sigma_y = a @ self.betahat, a @ self.sigma @ a.T
                rays = self._rays(a_post[:, 1:])
                verts = rays / (rays @ np.sqrt(np.diag(sigma_y)))[:, None]
                cv = lf_critical_value(verts, sigma_y, self.kappa) if len(verts) else np.inf
                out.append((y0, a_post[:, 0], verts, sigma_y, cv))
        return out

    def _rays(self, x: np.ndarray) -> np.ndarray:
        """Extreme rays of {gamma >= 0 : gamma'X = 0}. The post-period columns of every piece's
        moments are the same (only the pre-period columns move with s, sign and Mbar), so they are
        enumerated once; a piece's dual vertices are these rays scaled to gamma'sd = 1. The
        enumeration is remembered by the exact bytes of X across problems too (`_RAYS`): an analysis's
        confidence intervals and its breakdown value are two problems with the same X."""
        if self._ray_cache is None or not np.array_equal(self._ray_cache[0], x):
            self._ray_cache = (x.copy(), _rays_of(x))
        return self._ray_cache[1]

    def accepts(self, mbar: float, theta: np.ndarray) -> np.ndarray:
        """Is each theta in the robust confidence set under Delta^RM(mbar)?"""
        theta = np.atleast_1d(np.asarray(theta, float))
        accept = np.zeros(len(theta), dtype=bool)
        for y0, a1, verts, sigma_y, cv in self._pieces(mbar):
            accept |= hybrid_accepts(
                y0, a1, verts, sigma_y, theta, alpha=self.alpha, kappa=self.kappa, lf_cv=cv, cap_second_stage=self.t > 1
            )
        return accept

    def confidence_interval(self, mbar: float, grid_points: int = 1000) -> tuple[float, float]:
        """Smallest and largest accepted theta on the grid (NaN, NaN if none is accepted)."""
        half = 20 * self.sd_theta
        lo, hi = -half, half
        for attempt in range(8):
            grid = np.linspace(lo, hi, grid_points)
            acc = self.accepts(mbar, grid)
            if not acc.any():
                if attempt == 0:  # the set lies off the package's grid (estimate far from 0): cover it
                    id_lo, id_hi = self.identified_set(mbar)
                    lo, hi = min(lo, id_lo - half), max(hi, id_hi + half)
                    continue
                return float("nan"), float("nan")
            if acc[0] or acc[-1]:  # the set reaches the edge of the grid: widen it
                width = hi - lo
                lo, hi = (lo - width if acc[0] else lo), (hi + width if acc[-1] else hi)
                continue
            return float(grid[acc][0]), float(grid[acc][-1])
        return float(grid[acc][0]), float(grid[acc][-1])

    def identified_set(self, mbar: float) -> tuple[float, float]:
        """Bounds on theta when beta is known (union over the pieces of linear programmes)."""
        lows, highs = [], []
        n = self.k + self.t
        obj = np.concatenate([np.zeros(self.k), self.l_vec])
        eq = np.hstack([np.eye(self.k), np.zeros((self.k, self.t))])
        for s in range(-(self.k - 1), 1):
            for positive in (True, False):
                a = rm_constraints(self.k, self.t, mbar, s, positive)
                bounds = [(None, None)] * n
                lo = optimize.linprog(
                    obj,
                    A_ub=a,
                    b_ub=np.zeros(len(a)),
                    A_eq=eq,
                    b_eq=self.betahat[: self.k],
                    bounds=bounds,
                    method="highs",
                )
                up = optimize.linprog(
                    -obj,
                    A_ub=a,
                    b_ub=np.zeros(len(a)),
                    A_eq=eq,
                    b_eq=self.betahat[: self.k],
                    bounds=bounds,
                    method="highs",
                )
                if lo.status == 0 and up.status == 0:
                    lows.append(self.theta_hat - (-up.fun))
                    highs.append(self.theta_hat - lo.fun)
        if not lows:
            return self.theta_hat, self.theta_hat
        return float(min(lows)), float(max(highs))

    def breakdown(self, *, upper: float = 10.0, tol: float = 1e-3) -> float | None:
        """Smallest Mbar at which theta = 0 is no longer rejected (0 if it is not rejected at
        Mbar = 0; None if it is still rejected at `upper`)."""
        if self.accepts(0.0, np.zeros(1))[0]:
            return 0.0
        if not self.accepts(upper, np.zeros(1))[0]:
            return None
        lo, hi = 0.0, upper
        while hi - lo > tol:
            mid = (lo + hi) / 2
            if self.accepts(mid, np.zeros(1))[0]:
                hi = mid
            else:
                lo = mid
        return hi
