"""TWFE against published numbers, and the Goodman-Bacon decomposition identity."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel, make_panel, read_panel_file
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.estimators.did.twfe import bacon_decomposition, twfe
from tests.estimators.reference.load import load
from tests.shared_data import VALIDATION

DATA = VALIDATION
REF = load("twfe")  # pyfixest (R fixest) on the same files: reference/twfe/make.py
needs_data = pytest.mark.skipif(not (DATA / "mpdta.csv").exists(), reason="validation data not available")


@pytest.fixture(scope="module")
def mpdta():
    return make_panel(
        read_panel_file(DATA / "mpdta.csv"), unit="countyreal", time="year", outcome="lemp", cohort="first.treat"
    )


@needs_data
def test_twfe_mpdta(mpdta):
    # TWFE of lemp on the post-treatment dummy with county and year effects, SE clustered by county
    # (R did documentation's "TWFE" comparison on mpdta, -0.0365 (0.0133)); reference: fixest via pyfixest
    res = twfe(mpdta)
    row = res.estimate("coef")
    ref = REF.row("mpdta", "coef")
    assert row["estimate"] == pytest.approx(ref["estimate"], abs=1e-4)
    assert row["se"] == pytest.approx(ref["se"], abs=1e-3)  # fixest's default small-sample correction
    # evalkit's CR1 is G/(G-1) without the (N-1)/(N-K) factor: fixest's ssc(adj = FALSE)
    assert row["se"] == pytest.approx(ref["se_ssc_adj_false"], rel=1e-9)


@needs_data
def test_twfe_prop99_is_the_2x2_did():
    # Abadie, Diamond & Hainmueller (2010) Prop 99 data, 2x2 DiD of California vs the other 38
    # states, 1970-1988 vs 1989-2000: -27.349 packs per capita (AAHIW 2021 Table 1); reference: fixest
    frame = read_panel_file(DATA / "california_prop99.csv")
    panel = make_panel(frame, unit="State", time="Year", outcome="PacksPerCapita", treated="treated")
    res = twfe(panel)
    ref = REF.row("prop99", "coef")
    assert res.estimate("coef")["estimate"] == pytest.approx(ref["estimate"], abs=1e-3)
    assert res.estimate("coef")["se"] == pytest.approx(ref["se_ssc_adj_false"], rel=1e-9)
    bacon = res.extra["bacon"]
    assert bacon.height == 1 and bacon["type"][0] == "Treated vs Never Treated"


def _check_identity(panel):
    res = twfe(panel)
    bacon = res.extra["bacon"]
    assert bacon["weight"].sum() == pytest.approx(1.0, abs=1e-12)
    assert (bacon["weight"] >= 0).all()
    assert float((bacon["weight"] * bacon["estimate"]).sum()) == pytest.approx(
        res.estimate("coef")["estimate"], abs=1e-10
    )
    return bacon


@needs_data
def test_bacon_identity_mpdta(mpdta):
    bacon = _check_identity(mpdta)
    assert set(bacon["type"]) == {"Treated vs Never Treated", "Earlier vs Later Treated", "Later vs Earlier Treated"}


def test_bacon_identity_with_always_treated_and_unequal_cohorts():
    panel = simulate_staggered(
        230, 11, {1: 17, 3: 29, 5: 41, 8: 53, 10: 7}, effect=lambda g, e: 0.3 * e + 0.05 * g, seed=2
    )
    bacon = _check_identity(panel)
    assert "Later vs Always Treated" in set(bacon["type"])


def test_bacon_identity_without_never_treated():
    panel = simulate_staggered(90, 8, {3: 30, 5: 40, 7: 20}, effect=lambda g, e: 1.0 + e, seed=4)
    bacon = _check_identity(panel)
    assert "Treated vs Never Treated" not in set(bacon["type"])


def test_twfe_biased_by_dynamic_effects_but_not_homogeneous():
    hom = simulate_staggered(300, 10, {4: 60, 7: 60}, effect=2.0, noise=0.2, seed=8)
    assert twfe(hom).estimate("coef")["estimate"] == pytest.approx(2.0, abs=0.1)
    dyn = simulate_staggered(300, 10, {2: 100, 7: 100}, effect=lambda g, e: 1.0 * e, noise=0.2, seed=8)
    bacon = bacon_decomposition(dyn)
    later = bacon.filter(pl.col("type") == "Later vs Earlier Treated")
    assert (later["estimate"] < 0).all()  # forbidden comparisons have the wrong sign


@needs_data
def test_bacon_needs_balanced_panel(mpdta):
    data = mpdta.data.slice(1)
    with pytest.raises(EvalkitError, match="balanced"):
        bacon_decomposition(LongPanel(data, "lemp"))
    res = twfe(LongPanel(data, "lemp"))
    assert "bacon" not in res.extra and np.isfinite(res.estimate("coef")["se"])
