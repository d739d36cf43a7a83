"""Sun-Abraham and BJS imputation: identities with Callaway-Sant'Anna, exact recovery of
known effects without noise, agreement under homogeneous effects, SE calibration."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evalkit.estimators.data import make_panel, read_panel_file
from evalkit.estimators.did.cs import callaway_santanna
from evalkit.estimators.did.imputation import imputation
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.estimators.did.sunab import sun_abraham
from evalkit.estimators.did.twfe import twfe
from tests.estimators.reference.load import load
from tests.shared_data import VALIDATION

MPDTA = VALIDATION / "mpdta.csv"
needs_data = pytest.mark.skipif(not MPDTA.exists(), reason="validation data not available")

COHORTS = {3: 40, 5: 60, 8: 50}


def het(g, e):
    return 1.0 + 0.5 * e + 0.1 * g


@pytest.fixture(scope="module")
def mpdta():
    return make_panel(read_panel_file(MPDTA), unit="countyreal", time="year", outcome="lemp", cohort="first.treat")


@needs_data
def test_sunab_equals_cs_universal_never_treated(mpdta):
    # Identity: saturated cohort × event-time TWFE with never-treated controls = CS ATT(g,t) with
    # a universal base period; IW weights = CS cohort-share weights.
    sa = sun_abraham(mpdta)
    cs = callaway_santanna(mpdta, base_period="universal")
    for e in (-4, -3, -2, 0, 1, 2, 3):
        assert sa.estimate(f"dynamic:e={e}")["estimate"] == pytest.approx(
            cs.estimate(f"dynamic:e={e}")["estimate"], abs=1e-10
        )
    assert sa.estimate("catt:g=2006,e=1")["estimate"] == pytest.approx(
        cs.estimate("att_gt:g=2006,t=2007")["estimate"], abs=1e-10
    )
    # and hence the R did numbers (reference/cs_mpdta, universal base): dynamic (e >= 0 mean) -0.0772,
    # ATT(2004,2006) -0.1373
    cs_ref = load("cs_mpdta").rows("never_dr_universal")
    assert sa.estimate("dynamic")["estimate"] == pytest.approx(cs_ref["dynamic"]["estimate"], abs=1e-4)
    for e in (-4, -3, -2, 0, 1, 2, 3):
        assert sa.estimate(f"dynamic:e={e}")["estimate"] == pytest.approx(
            cs_ref[f"dynamic:e={e}"]["estimate"], abs=1e-4
        )
    assert sa.estimate("catt:g=2004,e=2")["estimate"] == pytest.approx(
        cs_ref["att_gt:g=2004,t=2006"]["estimate"], abs=1e-4
    )
    assert sa.estimate("dynamic:e=2")["se"] == pytest.approx(cs.estimate("dynamic:e=2")["se"], rel=0.05)


@needs_data
def test_sunab_matches_fixest_sunab(mpdta):
    # reference/sunab_mpdta: fixest's sunab (pyfixest saturated event study), every cohort x event time
    sa = sun_abraham(mpdta)
    ref = load("sunab_mpdta").rows("saturated")
    assert sorted(ref) == sorted(n for n in sa.estimates["name"].to_list() if n.startswith("catt:"))
    for name, row in ref.items():
        assert sa.estimate(name)["estimate"] == pytest.approx(row["estimate"], abs=1e-8), name
        # fixest's default small-sample correction differs from evalkit's (about 0.5% here)
        assert sa.estimate(name)["se"] == pytest.approx(row["se"], rel=0.01), name


def test_sunab_recovers_heterogeneous_dynamic_effects_exactly():
    panel = simulate_staggered(300, 10, COHORTS, effect=het, noise=0.0, seed=3)
    sa = sun_abraham(panel)
    for g in COHORTS:
        for e in range(0, 10 - g + 1):
            assert sa.estimate(f"catt:g={g},e={e}")["estimate"] == pytest.approx(het(g, e), abs=1e-8)
    for e in (0, 2):
        truth = sum(n * het(g, e) for g, n in COHORTS.items()) / sum(COHORTS.values())
        assert sa.estimate(f"dynamic:e={e}")["estimate"] == pytest.approx(truth, abs=1e-8)
    assert abs(sa.estimate("dynamic:e=-3")["estimate"]) < 1e-8


def test_sunab_last_cohort_control():
    panel = simulate_staggered(200, 10, {3: 50, 6: 50, 9: 50}, effect=het, noise=0.0, seed=9)
    sa = sun_abraham(panel, control="notyet")
    assert sa.diagnostics["last_cohort_used_as_control"] == 9
    assert sa.estimate("catt:g=3,e=4")["estimate"] == pytest.approx(het(3, 4), abs=1e-8)
    assert "catt:g=9,e=0" not in sa.estimates["name"].to_list()


def _true_mean(panel, mask_fn):
    d = panel.data.filter((pl.col("cohort") > 0) & (pl.col("time") >= pl.col("cohort")))
    g, e = d["cohort"].to_numpy(), (d["time"] - d["cohort"]).to_numpy()
    m = mask_fn(g, e)
    return float(np.mean(het(g[m], e[m])))


def test_imputation_recovers_known_effects_exactly():
    panel = simulate_staggered(300, 10, COHORTS, effect=het, noise=0.0, seed=3)
    res = imputation(panel)
    assert res.estimate("simple")["estimate"] == pytest.approx(_true_mean(panel, lambda g, e: g > 0), abs=1e-8)
    assert res.estimate("dynamic:e=1")["estimate"] == pytest.approx(_true_mean(panel, lambda g, e: e == 1), abs=1e-8)
    assert res.estimate("group:g=8")["estimate"] == pytest.approx(_true_mean(panel, lambda g, e: g == 8), abs=1e-8)


@needs_data
def test_imputation_matches_explicit_regression(mpdta):
    # independent route: OLS of y on unit and year dummies over untreated rows, then impute
    d = mpdta.data.with_columns(((pl.col("cohort") > 0) & (pl.col("time") >= pl.col("cohort"))).alias("treated"))
    units, times = mpdta.units, mpdta.times
    ui = np.searchsorted(units, d["unit"].to_numpy())
    ti = np.searchsorted(times, d["time"].to_numpy())
    z = np.zeros((d.height, len(units) + len(times) - 1))
    z[np.arange(d.height), ui] = 1
    z[ti > 0, len(units) + ti[ti > 0] - 1] = 1
    tr = d["treated"].to_numpy()
    coef = np.linalg.lstsq(z[~tr], d["y"].to_numpy()[~tr], rcond=None)[0]
    tau = d["y"].to_numpy()[tr] - z[tr] @ coef
    assert imputation(mpdta).estimate("simple")["estimate"] == pytest.approx(tau.mean(), abs=1e-10)


@needs_data
def test_imputation_matches_etwfe_peer(mpdta):
    # reference/imputation_mpdta: Wooldridge's ETWFE with not-yet-treated controls (moderndid), whose
    # cohort-period ATTs and their averages are the imputation estimates; point estimates only
    res = imputation(mpdta)
    ref = load("imputation_mpdta").rows("etwfe_notyet")
    assert sorted(ref) == sorted(res.estimates["name"].to_list())
    for name, row in ref.items():
        assert res.estimate(name)["estimate"] == pytest.approx(row["estimate"], abs=1e-8), name


def test_all_estimators_agree_with_homogeneous_effects():
    exact = simulate_staggered(240, 9, {4: 40, 6: 40, 8: 40}, effect=2.0, noise=0.0, seed=5)
    ests = {
        "cs": callaway_santanna(exact).estimate("simple")["estimate"],
        "cs_notyet": callaway_santanna(exact, control="notyet").estimate("simple")["estimate"],
        "sa": sun_abraham(exact).estimate("simple")["estimate"],
        "bjs": imputation(exact).estimate("simple")["estimate"],
        "twfe": twfe(exact).estimate("coef")["estimate"],
    }
    for name, value in ests.items():
        assert value == pytest.approx(2.0, abs=1e-8), name
    noisy = simulate_staggered(400, 9, {4: 60, 6: 60, 8: 60}, effect=2.0, noise=0.5, seed=6)
    vals = [
        callaway_santanna(noisy).estimate("simple"),
        imputation(noisy).estimate("simple"),
        sun_abraham(noisy).estimate("simple"),
    ]
    for row in vals:
        assert abs(row["estimate"] - 2.0) < 4 * row["se"]
    # imputation is the efficient one under homogeneous effects and i.i.d. errors
    assert vals[1]["se"] <= vals[0]["se"] * 1.05


def test_imputation_se_calibrated():
    est, se = [], []
    for k in range(80):
        panel = simulate_staggered(120, 8, {4: 20, 6: 20}, effect=1.0, noise=1.0, seed=500 + k)
        row = imputation(panel).estimate("simple")
        est.append(row["estimate"])
        se.append(row["se"])
    ratio = np.mean(se) / np.std(est, ddof=1)
    assert 0.8 < ratio < 1.35, ratio
    assert abs(np.mean(est) - 1.0) < 3 * np.std(est) / np.sqrt(80)
