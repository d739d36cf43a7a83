"""Confidence sets by test inversion: the bound of {beta0 : p(beta0) > alpha} on one side of an estimate.

Shared by the wild cluster bootstrap and the randomisation interval, which both invert a test whose
p-value is cheap to evaluate at any null value.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def invert(pfun: Callable[[float], float], centre: float, scale: float, alpha: float, sign: int) -> float:
    """Bound of {beta0 : p(beta0) > alpha} on one side of `centre`, by bracketing then bisection."""
    inside, step = centre, scale
    for _ in range(60):
        out = centre + sign * step
        if pfun(out) <= alpha:
            break
        inside, step = out, step * 2
    else:
        return sign * np.inf
    for _ in range(60):
        mid = (inside + out) / 2
        if pfun(mid) > alpha:
            inside = mid
        else:
            out = mid
        if abs(out - inside) < 1e-10 * max(1.0, abs(centre)):
            break
    return (inside + out) / 2
