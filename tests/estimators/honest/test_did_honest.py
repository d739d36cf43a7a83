"""Pre-trend tests and sensitivity bounds."""

from __future__ import annotations

import pytest

from evalkit.errors import EvalkitError
from evalkit.estimators.data import make_panel, read_panel_file
from evalkit.estimators.did.cs import callaway_santanna
from evalkit.estimators.did.simulate import simulate_staggered, with_outcome
from evalkit.estimators.did.sunab import sun_abraham
from evalkit.estimators.honest.honest import honest_event_study, pretrend_test
from tests.estimators.reference.load import load
from tests.shared_data import VALIDATION

MPDTA = VALIDATION / "mpdta.csv"
needs_data = pytest.mark.skipif(not MPDTA.exists(), reason="validation data not available")


@pytest.fixture(scope="module")
def mpdta():
    return make_panel(read_panel_file(MPDTA), unit="countyreal", time="year", outcome="lemp", cohort="first.treat")


@needs_data
def test_att_gt_pretest_matches_r_did(mpdta):
    # R did documentation (README, mpdta example, summary of att_gt):
    # "P-value for pre-test of parallel trends assumption: 0.16812"; full precision from reference/cs_mpdta
    ref = load("cs_mpdta").spec("never_dr")["pretest"]
    out = pretrend_test(callaway_santanna(mpdta), level="att_gt")
    assert out["p_value"] == pytest.approx(ref["p_value"], abs=1e-5)
    assert out["statistic"] == pytest.approx(ref["statistic"], rel=1e-6)
    assert out["df"] == ref["df"] == 5


@needs_data
def test_dynamic_pretest_cs_and_sunab_agree(mpdta):
    cs = pretrend_test(callaway_santanna(mpdta, base_period="universal"))
    sa = pretrend_test(sun_abraham(mpdta))
    assert cs["tested"] == sa["tested"] == [-4, -3, -2]
    assert cs["statistic"] == pytest.approx(sa["statistic"], rel=0.05)


def _trended(slope: float, seed: int = 0):
    """One cohort adopting at 7 of 10 periods, effect 1 + 0.2 e, plus a differential linear trend."""
    panel = simulate_staggered(400, 10, {7: 150}, effect=lambda g, e: 1.0 + 0.2 * e, noise=0.3, seed=seed)
    d = panel.data
    y = d["y"].to_numpy() + slope * (d["cohort"].to_numpy() > 0) * d["time"].to_numpy()
    return with_outcome(panel, y)


def test_pretest_detects_trend_and_not_parallel():
    assert pretrend_test(callaway_santanna(_trended(0.3), base_period="universal"))["p_value"] < 1e-6
    assert pretrend_test(callaway_santanna(_trended(0.0), base_period="universal"))["p_value"] > 0.01


@needs_data
def test_sensitivity_needs_universal_base(mpdta):
    with pytest.raises(EvalkitError, match="universal"):
        honest_event_study(callaway_santanna(mpdta))


@needs_data
def test_cs_and_sunab_feed_the_sensitivity(mpdta):
    for res in (callaway_santanna(mpdta, base_period="universal"), sun_abraham(mpdta)):
        es = honest_event_study(res)
        assert es.event_times == (-4, -3, -2, 0, 1, 2, 3)
        assert (es.num_pre, es.num_post) == (3, 4)
