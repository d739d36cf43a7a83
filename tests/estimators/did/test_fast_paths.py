"""The fast paths used in permutation and placebo loops give the same numbers, bit for bit, as the
full estimators they stand in for (the England plan's results must not move by a single bit)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evalkit.estimators.did.cs import SimpleATT, callaway_santanna
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.estimators.inference.randomisation import Permuter
from evalkit.estimators.synth import synth as S


@pytest.mark.parametrize(
    "options",
    [
        {"control": "never", "est_method": "reg"},
        {"control": "notyet", "est_method": "reg"},
        {"control": "never", "est_method": "dr"},
        {"control": "notyet", "est_method": "ipw", "anticipation": 1, "base_period": "universal"},
    ],
)
def test_simple_att_is_bit_identical_to_callaway_santanna(options):
    panel = simulate_staggered(60, 10, {4: 5, 6: 5, 8: 4}, effect=1.5, n_covariates=1, seed=3)
    panel = type(panel)(
        panel.data.filter(~((pl.col("unit") == panel.units[0]) & (pl.col("time") == 3))),
        panel.outcome,
        panel.covariates,
    )  # one missing cell: the unbalanced path too
    perm, fast = Permuter(panel), SimpleATT(**options)
    rng = np.random.default_rng(0)
    for k in range(12):
        p = perm.make(rng.permutation(perm.cohort), perm.d_obs if k % 3 == 1 else None)
        full = callaway_santanna(p, **options).estimate("simple")["estimate"]
        assert fast(p) == full  # exact equality, not approximate


def test_cached_placebo_fit_equals_a_fresh_fit_under_another_unit_order():
    panel = simulate_staggered(30, 9, {6: 2}, effect=0.0, seed=5)
    d = S._design(panel)
    preds = S.parse_predictors(None, d.outcome, [], [1, 2, 3, 4, 5])
    donors = np.arange(3, 30)
    fresh = S.fit_sc(d, 2, donors, preds, [1, 2, 3, 4, 5])
    S._FIT_CACHE.clear()
    assert S.cached_fit(d, 2, donors, preds, [1, 2, 3, 4, 5]).w.tobytes() == fresh.w.tobytes()
    # the same units in a design without unit 0: positions shift by one, the fit is reused and re-indexed
    d2 = S._Design(Y=d.Y[1:], units=d.units[1:], times=d.times, covs={}, outcome=d.outcome)
    hit = S.cached_fit(d2, 1, donors - 1, preds, [1, 2, 3, 4, 5])
    assert len(S._FIT_CACHE) == 1 and hit.treated == 1 and hit.donors.tolist() == (donors - 1).tolist()
    assert hit.gap.tobytes() == fresh.gap.tobytes()
