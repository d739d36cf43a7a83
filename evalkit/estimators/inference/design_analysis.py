"""Design analysis of a significant estimate: power, sign error and exaggeration (Gelman & Carlin 2014).

A study that detects an effect only when the estimate is large will, when it does detect one,
overstate it. For a true effect A estimated with standard error s and a two-sided test at level
alpha, Gelman & Carlin's `retrodesign` gives the power, the Type S rate (share of significant
estimates with the wrong sign) and the exaggeration ratio (Type M: E|estimate| given significance,
divided by A). Here all three are exact for a normal estimate (their function simulates the
exaggeration ratio; Lu, Qiu & Deng 2019 give the closed form used here).
"""

from __future__ import annotations

import math
from typing import Any

from scipy.special import ndtr, ndtri


def _pdf(x: float) -> float:
    return math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)


def retrodesign(true_effect: float, se: float, *, alpha: float = 0.05) -> dict[str, float]:
    """{power, type_s, exaggeration} for a true effect and the estimate's standard error."""
    if not (se > 0 and math.isfinite(se)) or not math.isfinite(true_effect) or true_effect == 0:
        raise ValueError("retrodesign needs a non-zero true effect and a positive, finite standard error")
    a = abs(true_effect)
    z = float(ndtri(1 - alpha / 2))
    lam = a / se
    p_hi = 1 - float(ndtr(z - lam))
    p_lo = float(ndtr(-z - lam))
    power = p_hi + p_lo
    # E[X; X > zs] + E[-X; X < -zs] for X ~ N(a, s^2), divided by P(significant) and a.
    upper = a * p_hi + se * _pdf(z - lam)
    lower = -a * p_lo + se * _pdf(-z - lam)
    return {"power": power, "type_s": p_lo / power, "exaggeration": (upper + lower) / power / a}


def se_from_mde(mde: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The standard error a design has when its minimum detectable effect (at `power`) is `mde`."""
    return abs(mde) / (float(ndtri(1 - alpha / 2)) + float(ndtri(power)))


def exaggeration_at(estimate: float, mde: float, *, alpha: float = 0.05, power: float = 0.8) -> dict[str, Any]:
    """Retrodesign of a detected estimate under the design whose MDE is `mde`: if the true effect were as
    large as the estimate (the most favourable case for the estimate), and if it were half as large."""
    se = se_from_mde(mde, alpha=alpha, power=power)
    at = retrodesign(estimate, se, alpha=alpha)
    half = retrodesign(estimate / 2, se, alpha=alpha)
    return {
        "design_se": se,
        "power_if_true_is_estimate": at["power"],
        "exaggeration_if_true_is_estimate": at["exaggeration"],
        "power_if_true_is_half": half["power"],
        "exaggeration_if_true_is_half": half["exaggeration"],
        "type_s_if_true_is_half": half["type_s"],
        "at_or_below_mde": abs(estimate) <= abs(mde),
    }
