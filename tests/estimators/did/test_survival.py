"""Kaplan-Meier and log-rank against a hand computation and against scipy's own implementations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from evalkit.estimators.survival import kaplan_meier, logrank, survival_at

# Six spells (years, 1 = reached 'good', 0 = censored). By hand:
#   t=1: 6 at risk, 1 event -> S = 5/6
#   t=2: 5 at risk (2, 2, 3, 4, 5), 1 event (the other 2 is censored) -> S = 5/6 * 4/5 = 2/3
#   t=3: 3 at risk (3, 4, 5), 1 event -> S = 2/3 * 2/3 = 4/9
#   t=5: 1 at risk, 1 event -> S = 0
# Greenwood at t=2: S^2 * (1/(6*5) + 1/(5*4)) = (4/9) * (1/30 + 1/20) = 1/27
DURATIONS = [1, 2, 2, 3, 4, 5]
OBSERVED = [1, 1, 0, 1, 0, 1]


def test_kaplan_meier_matches_the_hand_computation() -> None:
    km = kaplan_meier(DURATIONS, OBSERVED)
    assert km.times == [1, 2, 3, 5]
    assert km.at_risk == [6, 5, 3, 1]
    assert km.events == [1, 1, 1, 1]
    assert km.survival == pytest.approx([5 / 6, 2 / 3, 4 / 9, 0.0])
    assert km.median == 3
    assert survival_at(km, 2.5) == pytest.approx(2 / 3) and survival_at(km, 0.5) == 1.0
    # log(-log) band at t=2 from the hand Greenwood variance 1/27
    s, var = 2 / 3, 1 / 27
    se = np.sqrt(var / s**2) / abs(np.log(s))
    z = stats.norm.ppf(0.975)
    assert km.ci_low[1] == pytest.approx(s ** np.exp(z * se))
    assert km.ci_high[1] == pytest.approx(s ** np.exp(-z * se))


def test_kaplan_meier_matches_scipy_ecdf_on_random_data() -> None:
    rng = np.random.default_rng(7)
    t = np.round(rng.exponential(5, 60), 1)
    e = (rng.random(60) < 0.7).astype(int)
    km = kaplan_meier(t, e)
    ref = stats.ecdf(stats.CensoredData(uncensored=t[e == 1], right=t[e == 0])).sf
    assert km.survival == pytest.approx(list(ref.evaluate(np.array(km.times))), abs=1e-12)


def test_logrank_matches_scipy() -> None:
    rng = np.random.default_rng(11)
    ta, tb = np.round(rng.exponential(4, 25), 1), np.round(rng.exponential(7, 30), 1)
    ea, eb = (rng.random(25) < 0.8).astype(int), (rng.random(30) < 0.6).astype(int)
    ours = logrank(ta, ea, tb, eb)
    x = stats.CensoredData(uncensored=ta[ea == 1], right=ta[ea == 0])
    y = stats.CensoredData(uncensored=tb[eb == 1], right=tb[eb == 0])
    ref = stats.logrank(x, y)
    assert ours["p_value"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert np.sqrt(ours["chi2"]) == pytest.approx(abs(ref.statistic), rel=1e-9)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError):
        kaplan_meier([1, -2], [1, 1])
