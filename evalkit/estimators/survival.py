"""Kaplan-Meier survival curves with Greenwood variance, and the log-rank test of two groups.

Small and self-contained (numpy only): the time-to-good analysis has a few dozen spells, and the
numbers are checked against a hand computation in tests/estimators/test_survival.py.
S(t) = prod over event times t_i <= t of (1 - d_i / n_i); Var S(t) = S(t)^2 * sum d_i / (n_i (n_i - d_i));
the 95% band is the log(-log) transform (always inside [0, 1]). Censored at t means "still at risk at t".
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass
class KaplanMeier:
    times: list[float]  # distinct event times
    at_risk: list[int]
    events: list[int]
    survival: list[float]
    ci_low: list[float]
    ci_high: list[float]
    n: int
    n_events: int
    median: float | None  # first time S(t) <= 0.5; None if never reached

    def to_dict(self) -> dict:
        return {
            k: getattr(self, k)
            for k in ("times", "at_risk", "events", "survival", "ci_low", "ci_high", "n", "n_events", "median")
        }


def kaplan_meier(durations, observed, alpha: float = 0.05) -> KaplanMeier:
    """durations (>= 0) and observed (1 = event, 0 = censored)."""
    t = np.asarray(durations, dtype=float)
    e = np.asarray(observed, dtype=int)
    if t.shape != e.shape or t.ndim != 1:
        raise ValueError("durations and observed must be 1-d arrays of the same length")
    if (t < 0).any() or np.isnan(t).any():
        raise ValueError("durations must be non-negative numbers")
    z = stats.norm.ppf(1 - alpha / 2)
    times, at_risk, events, surv, low, high = [], [], [], [], [], []
    s, greenwood = 1.0, 0.0
    median = None
    for time in np.unique(t[e == 1]):
        n_i = int((t >= time).sum())
        d_i = int(((t == time) & (e == 1)).sum())
        s *= 1 - d_i / n_i
        greenwood += d_i / (n_i * (n_i - d_i)) if n_i > d_i else math.inf
        if 0 < s < 1 and math.isfinite(greenwood):
            # log(-log S) band (Kalbfleisch-Prentice): SE of log(-log S) = sqrt(greenwood) / |log S|
            se = math.sqrt(greenwood) / abs(math.log(s))
            lo, hi = s ** math.exp(z * se), s ** math.exp(-z * se)
        else:
            lo, hi = (0.0, 0.0) if s == 0 else (1.0, 1.0)
        times.append(float(time))
        at_risk.append(n_i)
        events.append(d_i)
        surv.append(s)
        low.append(lo)
        high.append(hi)
        if median is None and s <= 0.5:
            median = float(time)
    return KaplanMeier(times, at_risk, events, surv, low, high, int(t.size), int(e.sum()), median)


def survival_at(km: KaplanMeier, time: float) -> float:
    """S(time): the step function's value (1 before the first event)."""
    value = 1.0
    for ti, si in zip(km.times, km.survival):
        if ti <= time:
            value = si
    return value


def logrank(durations_a, observed_a, durations_b, observed_b) -> dict:
    """Two-group log-rank test: chi-square with 1 df, observed and expected events of group a."""
    ta, ea = np.asarray(durations_a, float), np.asarray(observed_a, int)
    tb, eb = np.asarray(durations_b, float), np.asarray(observed_b, int)
    times = np.unique(np.concatenate([ta[ea == 1], tb[eb == 1]]))
    obs_a = exp_a = var = 0.0
    for time in times:
        na, nb = (ta >= time).sum(), (tb >= time).sum()
        da, db = ((ta == time) & (ea == 1)).sum(), ((tb == time) & (eb == 1)).sum()
        n, d = na + nb, da + db
        if n < 2:
            continue
        obs_a += da
        exp_a += d * na / n
        var += d * (na / n) * (nb / n) * (n - d) / (n - 1)
    chi2 = (obs_a - exp_a) ** 2 / var if var > 0 else float("nan")
    p = float(stats.chi2.sf(chi2, 1)) if var > 0 else float("nan")
    return {"chi2": float(chi2), "p_value": p, "observed_a": float(obs_a), "expected_a": float(exp_a)}


def compare_groups(
    durations,
    observed,
    groups,
    *,
    reference: str,
    order: tuple[str, ...] | None = None,
    horizons: tuple[float, ...] = (3, 5),
    alpha: float = 0.05,
) -> tuple[list[dict], list[dict], dict]:
    """Kaplan-Meier per group, and a log-rank test of `reference` against each other group.

    Returns (summary rows: median and share with the event by each horizon per group, and the tests;
    the curves as rows; the tests by group).
    """
    t, e, g = np.asarray(durations, float), np.asarray(observed, int), np.asarray(groups, dtype=object)
    names = list(order) if order else sorted(set(g.tolist()))
    rows: list[dict] = []
    curves: list[dict] = []
    for name in names:
        mask = g == name
        if not mask.any():
            continue
        km = kaplan_meier(t[mask], e[mask], alpha=alpha)
        rows.append({"name": f"median_years:{name}", "aggregation": "group_summary", "estimate": km.median})
        rows += [
            {"name": f"good_within_{h:g}y:{name}", "aggregation": "group_summary", "estimate": 1 - survival_at(km, h)}
            for h in horizons
        ]
        curves += [
            {"group": name, "years": a, "at_risk": n, "events": d, "survival": s, "ci_low": lo, "ci_high": hi}
            for a, n, d, s, lo, hi in zip(km.times, km.at_risk, km.events, km.survival, km.ci_low, km.ci_high)
        ]
    tests = {}
    ref = g == reference
    for name in names:
        other = g == name
        if name == reference or not ref.any() or not other.any():
            continue
        tests[name] = logrank(t[ref], e[ref], t[other], e[other])
        rows.append(
            {
                "name": f"logrank:{reference}_vs_{name}",
                "aggregation": "test",
                "estimate": tests[name]["chi2"],
                "p_value": tests[name]["p_value"],
            }
        )
    return rows, curves, tests
