"""Rambachan-Roth sensitivity against HonestDiD's own documented example (Medicaid expansion, ehec).

Reference numbers and their provenance: tests/estimators/reference/honestdid_ehec/honestdid_ehec.json (the
package README at a pinned commit; full precision from its knitr cache). Tolerance 0.002 on every
bound, as the issue asks; the breakdown value must fall in the README's grid cell.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from evalkit.estimators.data import make_panel
from evalkit.estimators.did.twfe_es import twfe_event_study
from evalkit.estimators.honest.honest import (
    EventStudy,
    honest_event_study,
    relative_magnitude_sensitivity,
    rm_breakdown,
    sd_breakdown,
    smoothness_sensitivity,
)
from tests.shared_data import SHARED

REF = json.loads((Path(__file__).parents[1] / "reference" / "honestdid_ehec" / "honestdid_ehec.json").read_text())
EHEC = SHARED / "more" / "ehec.csv"
needs_ehec = pytest.mark.skipif(not EHEC.exists(), reason=f"{EHEC} not available (set EVALKIT_SHARED_DATA)")
TOL = REF["tolerance"]


def _nonstaggered(with_control: bool) -> pl.DataFrame:
    """The README's sample: years before 2016, the 2015 cohort dropped, D = expanded in 2014."""
    df = pl.read_csv(EHEC).filter((pl.col("year") < 2016) & (pl.col("yexp2").is_null() | (pl.col("yexp2") != 2015)))
    df = df.with_columns(pl.when(pl.col("yexp2") == 2014).then(2014).otherwise(0).alias("g"))
    if with_control:
        d = REF["sd_controls"]["data"]
        df = df.join(
            pl.DataFrame({"stfips": d["stfips"], "year": d["year"], "control": d["control"]}),
            on=["stfips", "year"],
            how="left",
        )
    return df


def _es(with_control: bool) -> EventStudy:
    covs = ("control",) if with_control else ()
    panel = make_panel(
        _nonstaggered(with_control), unit="stfips", time="year", outcome="dins", cohort="g", covariates=covs
    )
    return honest_event_study(twfe_event_study(panel))


def _close(ours: pl.DataFrame, lb: list[float], ub: list[float]) -> float:
    diff = max(np.max(np.abs(ours["ci_low"].to_numpy() - lb)), np.max(np.abs(ours["ci_high"].to_numpy() - ub)))
    return float(diff)


@needs_ehec
def test_event_study_is_fixest_to_machine_precision():
    # the spec with the README's (cached) random control: fixest's betahat and cov.scaled
    es = _es(with_control=True)
    ref = REF["sd_controls"]
    assert es.event_times == (-6, -5, -4, -3, -2, 0, 1)
    np.testing.assert_allclose(es.betahat, ref["betahat"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(es.sigma, ref["sigma"], rtol=1e-7, atol=1e-14)


@needs_ehec
def test_relative_magnitudes_first_period():
    ref = REF["rm_first"]
    ours = relative_magnitude_sensitivity(_es(False), ref["Mbar"])
    assert _close(ours, ref["printed_lb"], ref["printed_ub"]) <= TOL
    assert _close(ours, ref["cache_lb"], ref["cache_ub"]) <= TOL
    lo, hi = ref["breakdown_cell"]
    assert lo < rm_breakdown(_es(False)) <= hi


@needs_ehec
def test_smoothness_first_period():
    ref = REF["sd_first"]
    ours = smoothness_sensitivity(_es(False), ref["M"])
    assert _close(ours, ref["printed_lb"], ref["printed_ub"]) <= TOL
    assert _close(ours, ref["cache_lb"], ref["cache_ub"]) <= TOL
    lo, hi = ref["breakdown_cell"]
    assert lo < sd_breakdown(_es(False)) <= hi


@needs_ehec
def test_relative_magnitudes_average():
    ref = REF["rm_average"]
    ours = relative_magnitude_sensitivity(_es(False), ref["Mbar"], target="average")
    assert _close(ours, ref["cache_lb"], ref["cache_ub"]) <= TOL


def test_smoothness_with_control_from_their_betahat_and_sigma():
    # fed exactly the betahat/sigma the README used (no data needed)
    ref = REF["sd_controls"]
    es = EventStudy((-6, -5, -4, -3, -2, 0, 1), np.array(ref["betahat"]), np.array(ref["sigma"]), 5, 2)
    ours = smoothness_sensitivity(es, ref["M"])
    assert _close(ours, ref["printed_lb"], ref["printed_ub"]) <= TOL
