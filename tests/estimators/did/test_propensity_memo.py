"""The propensity-score memo of `_drdid`: one logit per distinct (units compared, covariates), with
results identical to the bits to fitting every ATT(g,t) cell afresh."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from evalkit.estimators.did import _drdid
from evalkit.estimators.did.cs import callaway_santanna
from evalkit.estimators.did.simulate import simulate_staggered


@pytest.fixture()
def panel():
    return simulate_staggered(300, 7, {4: 60, 6: 60}, effect=1.5, n_covariates=1, covariate_trend=2.0, seed=11)


def _run(panel, est_method, control):
    return callaway_santanna(panel, est_method=est_method, control=control, bootstrap=0).estimates


@pytest.mark.parametrize("est_method", ["ipw", "dr"])
@pytest.mark.parametrize("control", ["never", "notyet"])
def test_memo_changes_no_bit_and_fits_each_distinct_comparison_once(panel, monkeypatch, est_method, control):
    calls = []
    real = _drdid.logit_fit
    monkeypatch.setattr(_drdid, "logit_fit", lambda d, x: calls.append(1) or real(d, x))
    monkeypatch.setattr(_drdid, "_PROPENSITY_MEMO", {})
    monkeypatch.setattr(_drdid, "PROPENSITY_MEMO_SIZE", 0)  # memo off: every cell fits its own logit
    fresh = _run(panel, est_method, control)
    n_fresh = len(calls)
    calls.clear()
    monkeypatch.setattr(_drdid, "PROPENSITY_MEMO_SIZE", 256)
    memo = _run(panel, est_method, control)
    assert fresh.equals(memo)  # estimates, SEs, intervals: the same bits
    assert len(calls) < n_fresh
    if control == "never":  # balanced panel, fixed controls: one logit per cohort
        assert len(calls) == 2
    calls.clear()
    again = _run(panel, est_method, control)
    assert again.equals(memo) and not calls  # a repeat (e.g. a permutation seen before) fits nothing


def test_remembered_scores_cannot_be_changed_by_a_caller():
    rng = np.random.default_rng(0)
    x = np.column_stack([np.ones(50), rng.normal(size=50)])
    d = (rng.random(50) < 0.4).astype(float)
    ps, trim, alr = _drdid._propensity(d, x)
    with pytest.raises(ValueError):
        ps[0] = 0.5
    assert np.array_equal(_drdid._propensity(d, x)[0], _drdid._fit_propensity(d, x)[0])


def test_non_convergence_is_warned_on_every_call_even_when_remembered():
    x = np.column_stack([np.ones(40), np.r_[np.zeros(20), np.ones(20)]])
    d = np.r_[np.zeros(20), np.ones(20)]  # perfect separation
    for _ in range(2):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            _drdid._propensity(d, x)
        assert any("did not converge" in str(w.message) for w in seen)
