"""Adjusted p-values for a family of hypotheses: Romano-Wolf stepdown on a joint resampling distribution,
and Holm (statsmodels) beside it.

Romano & Wolf (2005, 2016) use the *joint* distribution of the test statistics under the null (here:
the same permuted adoption dates applied to every outcome of the family), so correlated outcomes are
not penalised as if independent, as Holm must assume the worst case. Stepdown: order hypotheses by
|t| (largest first); hypothesis j's p-value is the share of draws whose largest |t*| among the
hypotheses not yet rejected (rank j and below) reaches |t_j|; then make the sequence monotone.
"""

from __future__ import annotations

import numpy as np


def romano_wolf(t_obs: np.ndarray, t_null: np.ndarray, *, plus_one: bool = True) -> np.ndarray:
    """Stepdown adjusted p-values. t_obs: (k,) observed statistics; t_null: (B, k) statistics under the
    null from the same B draws for every hypothesis (draws with a non-finite entry are dropped).
    `plus_one` counts the observed assignment among the draws ((1 + #)/(1 + B), a valid permutation
    p-value); False gives the share of draws (#/B), as pyfixest's `rwolf`."""
    t = np.abs(np.asarray(t_obs, dtype=float))
    null = np.abs(np.asarray(t_null, dtype=float))
    if null.ndim != 2 or null.shape[1] != t.size:
        raise ValueError(f"t_null must be (draws, {t.size}); got {null.shape}")
    if not np.all(np.isfinite(t)):
        raise ValueError("every observed statistic must be finite")
    null = null[np.all(np.isfinite(null), axis=1)]
    b = null.shape[0]
    if b == 0:
        raise ValueError("no draw has a finite statistic for every hypothesis")
    order = np.argsort(-t, kind="stable")
    # running max from the smallest |t| up: column j = max over hypotheses ranked j or lower
    tail_max = np.maximum.accumulate(null[:, order][:, ::-1], axis=1)[:, ::-1]
    exceed = np.sum(tail_max >= t[order] - 1e-12, axis=0)
    p_sorted = (1 + exceed) / (1 + b) if plus_one else exceed / b
    p_sorted = np.maximum.accumulate(p_sorted)
    out = np.empty_like(p_sorted)
    out[order] = np.minimum(p_sorted, 1.0)
    return out


def holm(p_values: np.ndarray, *, alpha: float = 0.05) -> np.ndarray:
    """Holm-adjusted p-values (statsmodels multipletests, method 'holm')."""
    from statsmodels.stats.multitest import multipletests

    return np.asarray(multipletests(np.asarray(p_values, dtype=float), alpha=alpha, method="holm")[1])
