"""Pre-trend tests and sensitivity bounds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from evalkit.errors import EvalkitError
from evalkit.estimators.cs import callaway_santanna
from evalkit.estimators.data import make_panel, read_panel_file
from evalkit.estimators.did_sim import simulate_staggered, with_outcome
from evalkit.estimators.honest import (
    breakdown_value,
    event_study,
    pretrend_test,
    relative_magnitude_bounds,
    smoothness_bounds,
)
from evalkit.estimators.sunab import sun_abraham
from tests.shared_data import VALIDATION

MPDTA = VALIDATION / "mpdta.csv"
needs_data = pytest.mark.skipif(not MPDTA.exists(), reason="validation data not available")


@pytest.fixture(scope="module")
def mpdta():
    return make_panel(read_panel_file(MPDTA), unit="countyreal", time="year", outcome="lemp", cohort="first.treat")


@needs_data
def test_att_gt_pretest_matches_r_did(mpdta):
    # R did documentation (README, mpdta example, summary of att_gt):
    # "P-value for pre-test of parallel trends assumption: 0.16812"
    out = pretrend_test(callaway_santanna(mpdta), level="att_gt")
    assert out["p_value"] == pytest.approx(0.16812, abs=1e-5)
    assert out["df"] == 5


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


def test_smoothness_m0_undoes_linear_trend():
    res = callaway_santanna(_trended(0.3), base_period="universal")
    naive = res.estimate("dynamic:e=0")
    assert abs(naive["estimate"] - 1.0) > 0.2  # biased by the trend (+0.3)
    sd = smoothness_bounds(res, m=(0.0, 0.1))
    row0 = sd.row(0, named=True)
    assert row0["id_low"] == pytest.approx(row0["id_high"])
    assert row0["ci_low"] < 1.0 < row0["ci_high"]
    e, b, v = event_study(res)
    assert row0["id_low"] == pytest.approx(b[e == 0][0] + b[e == -2][0])
    row1 = sd.row(1, named=True)
    assert row1["id_high"] - row1["id_low"] == pytest.approx(0.2)


def test_relative_magnitude_bounds_by_hand():
    res = callaway_santanna(_trended(0.3, seed=2), base_period="universal")
    e, b, v = event_study(res)
    m_hat = np.max(np.abs(np.diff(b[e <= -1])))
    b0, se0 = b[e == 0][0], np.sqrt(v[e == 0, e == 0][0])
    rm = relative_magnitude_bounds(res, mbar=(0.0, 1.0))
    r0, r1 = rm.row(0, named=True), rm.row(1, named=True)
    assert r0["id_low"] == pytest.approx(b0) and r0["id_high"] == pytest.approx(b0)
    assert r0["ci_high"] == pytest.approx(b0 + stats.norm.ppf(1 - 0.05 / 4) * se0)
    assert r1["id_high"] - r1["id_low"] == pytest.approx(2 * m_hat)
    assert r1["plugin_ci_high"] == pytest.approx(b0 + m_hat + 1.96 * se0, abs=1e-4)
    assert r1["ci_low"] < r1["plugin_ci_low"] and r1["ci_high"] > r1["plugin_ci_high"]
    # linear trend: the post break equals the pre steps, so Mbar = 1 covers the truth (1.0)
    assert r1["ci_low"] < 1.0 < r1["ci_high"]
    assert not (r0["ci_low"] < 1.0 < r0["ci_high"])


def test_breakdown_value_is_smallest_m_covering_zero():
    import polars as pl

    frame = pl.DataFrame({"m": [2.0, 0.5, 1.0], "ci_low": [-0.1, 0.05, -0.01], "ci_high": [0.3, 0.2, 0.25]})
    assert breakdown_value(frame) == 1.0
    assert breakdown_value(frame.filter(pl.col("m") == 0.5)) is None


@needs_data
def test_bounds_need_universal_base(mpdta):
    with pytest.raises(EvalkitError, match="universal"):
        relative_magnitude_bounds(callaway_santanna(mpdta))
