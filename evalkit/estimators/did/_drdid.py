"""Two-period, two-group DiD estimators on panel data with their influence functions.

These follow Sant'Anna & Zhao (2020) as implemented in R `DRDID` (`drdid_panel`, `std_ipw_did_panel`,
`reg_did_panel`): `dy` is the outcome change of each unit, `d` 1 for the treated group, `x` the
covariates including an intercept column. Each returns (att, influence function per unit), the
influence function scaled so that var(att) = mean(if**2) / n; with `points_only=True`, (att, None):
the same operations up to the ATT (so the same bits), without the influence-function work, for
permutation loops that need only points.
"""

from __future__ import annotations

import warnings

import numpy as np

from evalkit.estimators.numeric.logit import newton_logit, probabilities

TRIM_LEVEL = 0.995


def logit_fit(d: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Maximum-likelihood propensity score: (fitted probabilities, inverse Hessian, converged).

    Like R's glm in DRDID, a fit that does not converge (e.g. under separation) is kept, with a
    warning (given by `_propensity`); the trimming of scores above TRIM_LEVEL then applies."""
    beta, converged = newton_logit(x, d, max_iter=50, tol=1e-10)
    p = probabilities(x, beta)
    hess = (x * (p * (1 - p))[:, None]).T @ x
    return p, np.linalg.inv(hess), converged


def _ols_control(
    dy: np.ndarray, d: np.ndarray, x: np.ndarray, *, with_alr: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """Outcome regression of dy on x among controls: fitted values for all, and its asymptotic
    linear representation (n × k; None when `with_alr` is False)."""
    n = len(d)
    wc = 1 - d
    xtx = (x * wc[:, None]).T @ x
    coef = np.linalg.solve(xtx, (x * wc[:, None]).T @ dy)
    fit = x @ coef
    if not with_alr:
        return fit, None
    alr = (wc * (dy - fit))[:, None] * x @ np.linalg.inv(xtx / n)
    return fit, alr


_PROPENSITY_MEMO: dict[bytes, tuple[np.ndarray, np.ndarray, np.ndarray, bool]] = {}
PROPENSITY_MEMO_SIZE = 256


def _propensity(d: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Propensity score (capped at 1 - 1e-6), trimming indicator, and asymptotic linear rep.

    Remembered by the exact bytes of (d, x): the score depends on which units are compared and their
    covariates, not on the outcome, so every ATT(g,t) cell of a cohort with the same units (all its
    post-treatment cells in a balanced panel) and every permutation that repeats an assignment reuse
    one logit fit. The arrays returned are read-only, so a caller cannot change a remembered fit."""
    d = np.ascontiguousarray(d, dtype=float)
    x = np.ascontiguousarray(x, dtype=float)
    key = b"".join([np.array(x.shape, dtype=np.int64).tobytes(), d.tobytes(), x.tobytes()])
    hit = _PROPENSITY_MEMO.get(key)
    if hit is None:
        hit = _fit_propensity(d, x)
        for a in hit[:3]:
            a.setflags(write=False)
        while _PROPENSITY_MEMO and len(_PROPENSITY_MEMO) >= PROPENSITY_MEMO_SIZE:
            _PROPENSITY_MEMO.pop(next(iter(_PROPENSITY_MEMO)))
        if PROPENSITY_MEMO_SIZE > 0:
            _PROPENSITY_MEMO[key] = hit
    if not hit[3]:
        warnings.warn(
            "propensity score logit did not converge (separation?); scores near 0 or 1 are trimmed",
            RuntimeWarning,
            stacklevel=3,
        )
    return hit[:3]


def _fit_propensity(d: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    n = len(d)
    ps, inv_hess, converged = logit_fit(d, x)
    ps = np.minimum(ps, 1 - 1e-6)
    trim = np.where(d == 1, ps < 1.01, ps < TRIM_LEVEL).astype(float)
    alr = ((d - ps)[:, None] * x) @ (inv_hess * n)
    return ps, trim, alr, converged


def drdid_panel(dy: np.ndarray, d: np.ndarray, x: np.ndarray, *, points_only: bool = False):
    """Locally efficient doubly robust DiD (logit propensity score + OLS outcome model)."""
    ps, trim, alr_ps = _propensity(d, x)
    fit, alr_ols = _ols_control(dy, d, x, with_alr=not points_only)
    w_t = trim * d
    w_c = trim * ps * (1 - d) / (1 - ps)
    resid = dy - fit
    eta_t = np.mean(w_t * resid) / np.mean(w_t)
    eta_c = np.mean(w_c * resid) / np.mean(w_c)
    if points_only:
        return float(eta_t - eta_c), None
    inf_t = (w_t * resid - w_t * eta_t - alr_ols @ np.mean(w_t[:, None] * x, 0)) / np.mean(w_t)
    m2 = np.mean((w_c * (resid - eta_c))[:, None] * x, 0)
    m3 = np.mean(w_c[:, None] * x, 0)
    inf_c = (w_c * resid - w_c * eta_c + alr_ps @ m2 - alr_ols @ m3) / np.mean(w_c)
    return float(eta_t - eta_c), inf_t - inf_c


def ipw_panel(dy: np.ndarray, d: np.ndarray, x: np.ndarray, *, points_only: bool = False):
    """Standardised (Hajek) inverse probability weighted DiD."""
    ps, trim, alr_ps = _propensity(d, x)
    w_t = trim * d
    w_c = trim * ps * (1 - d) / (1 - ps)
    eta_t = np.mean(w_t * dy) / np.mean(w_t)
    eta_c = np.mean(w_c * dy) / np.mean(w_c)
    if points_only:
        return float(eta_t - eta_c), None
    inf_t = (w_t * dy - w_t * eta_t) / np.mean(w_t)
    m2 = np.mean((w_c * (dy - eta_c))[:, None] * x, 0)
    inf_c = (w_c * dy - w_c * eta_c + alr_ps @ m2) / np.mean(w_c)
    return float(eta_t - eta_c), inf_t - inf_c


def reg_panel(dy: np.ndarray, d: np.ndarray, x: np.ndarray, *, points_only: bool = False):
    """Outcome-regression DiD (Heckman, Ichimura & Todd 1997)."""
    fit, alr_ols = _ols_control(dy, d, x, with_alr=not points_only)
    w = d.astype(float)
    mean_w = np.mean(w)  # the same number each time it is used: computed once
    eta_t = np.mean(w * dy) / mean_w
    eta_c = np.mean(w * fit) / mean_w
    if points_only:
        return float(eta_t - eta_c), None
    inf_t = (w * dy - w * eta_t) / mean_w
    inf_c = (w * fit - w * eta_c + alr_ols @ np.mean(w[:, None] * x, 0)) / mean_w
    return float(eta_t - eta_c), inf_t - inf_c


ESTIMATORS = {"dr": drdid_panel, "ipw": ipw_panel, "reg": reg_panel}
