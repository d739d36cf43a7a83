"""Standard normal quantile and tail probability, from scipy.special (importing scipy.stats costs
a noticeable part of a second at start-up; these are the same functions scipy.stats.norm calls)."""

from __future__ import annotations

from scipy.special import ndtr, ndtri


def ppf(q):  # noqa: ANN001, ANN201 - scalar or array, as scipy.stats.norm.ppf
    """Quantile: ppf(0.975) = 1.959963984540054."""
    return ndtri(q)


def sf(x):  # noqa: ANN001, ANN201
    """Upper tail P(Z > x) = ndtr(-x)."""
    return ndtr(-x)
