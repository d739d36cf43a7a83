"""One maximum-likelihood logit by Newton-Raphson, with a convergence check (propensity scores for
Callaway-Sant'Anna's DR/IPW estimators and for propensity-score matching)."""

from __future__ import annotations

import numpy as np

EXP_CLIP = 35.0  # exp(35) ~ 1.6e15: probabilities stay inside (0, 1) in double precision


def newton_logit(
    x: np.ndarray,
    y: np.ndarray,
    *,
    ridge: float = 0.0,
    max_iter: int = 100,
    tol: float = 1e-10,
    max_eta: float | None = None,
) -> tuple[np.ndarray, bool]:
    """Coefficients and whether Newton-Raphson converged (largest step below `tol`).

    `x` holds the intercept in column 0; `ridge` penalises the other coefficients. The start is the
    intercept-only fit. With `max_eta`, a linear predictor beyond it counts as separation (not
    converged) and the search stops; without, it is clipped at EXP_CLIP and the search goes on.
    """
    k = x.shape[1]
    penalty = np.eye(k) * ridge
    penalty[0, 0] = 0.0
    beta = np.zeros(k)
    p0 = float(np.mean(y))
    if np.all(x[:, 0] == 1) and 0.0 < p0 < 1.0:
        beta[0] = np.log(p0 / (1 - p0))
    for _ in range(max_iter):
        eta = x @ beta
        if max_eta is not None and (not np.all(np.isfinite(eta)) or np.abs(eta).max() > max_eta):
            return beta, False
        p = 1.0 / (1.0 + np.exp(-np.clip(eta, -EXP_CLIP, EXP_CLIP)))
        hess = (x * (p * (1 - p))[:, None]).T @ x + penalty
        try:
            step = np.linalg.solve(hess, x.T @ (y - p) - penalty @ beta)
        except np.linalg.LinAlgError:
            return beta, False
        beta = beta + step
        if np.max(np.abs(step)) < tol:
            eta = x @ beta
            ok = max_eta is None or bool(np.all(np.isfinite(eta)) and np.abs(eta).max() <= max_eta)
            return beta, ok
    return beta, False


def probabilities(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(x @ beta, -EXP_CLIP, EXP_CLIP)))
