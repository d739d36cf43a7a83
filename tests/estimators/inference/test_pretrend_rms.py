"""The RMS pre-trend equivalence test (Dette & Schumann 2024), checked against equitrends 0.1.1's
`rms_equiv_test` on the Di Tella data and mpdta (reference and script: tests/estimators/reference/
equitrends/equitrends_rms.json, make.py) and against a simulated truth (its size at the null's boundary)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from evalkit.estimators.inference.pretrend_rms import equivalence_rms, subsamples, w_quantile
from tests.shared_data import SHARED, absent_reason

REF = json.loads((Path(__file__).parents[1] / "reference" / "equitrends" / "equitrends_rms.json").read_text())
CASES = {c["example"]: c for c in REF["cases"]}
# equitrends' tabulated quantiles of W (its own simulation); ours: 10^6 seeded draws, s.e. about 0.0055
# (10 x 10^6 draws give -2.1596 +- 0.0017 at 0.05: the table's -2.1432 is 0.016 above, within its own error)
EQUITRENDS_W = {0.05: -2.1431720, 0.10: -1.4601327}


@pytest.mark.parametrize("alpha", sorted(EQUITRENDS_W))
def test_w_quantile_matches_equitrends_table_within_simulation_error(alpha: float) -> None:
    assert w_quantile(alpha) == pytest.approx(EQUITRENDS_W[alpha], abs=0.03)


@pytest.mark.parametrize("name", sorted(CASES))
def test_threshold_formula_is_equitrends_given_its_quantile(name: str) -> None:
    case = CASES[name]
    ms = case["subsample_mean_squares"]  # lambda = 1/5 .. 4/5, then the full sample
    got = equivalence_rms(ms[-1], ms[:-1], w=EQUITRENDS_W[REF["alpha"]])
    assert got["threshold"] == pytest.approx(case["minimum_equiv_threshold"], rel=1e-12)
    assert got["rms"] == pytest.approx(case["rms_placebo_coefficients"], rel=1e-12)
    # with evalkit's own simulated quantile: within the two simulations' error (0.5 %)
    assert equivalence_rms(ms[-1], ms[:-1])["threshold"] == pytest.approx(case["minimum_equiv_threshold"], rel=5e-3)


def _ditella() -> tuple[pl.DataFrame, dict]:
    df = pl.read_csv(SHARED / "more" / "monthlypanel_ditella.csv").filter(pl.col("mes").is_in([4.0, 5, 6, 7, 8]))
    df = df.with_columns(
        pl.col("observ").cast(pl.Int64).cast(pl.Utf8).alias("u"),
        pl.col("mes").cast(pl.Int64).alias("t"),
        pl.col("totrob").alias("y"),
        pl.when(pl.col("distanci") == 0).then(8).otherwise(0).alias("g"),
    )
    return df, CASES["ditella"]


def _mpdta() -> tuple[pl.DataFrame, dict]:
    df = pl.read_csv(SHARED / "validation" / "mpdta.csv").filter(pl.col("first.treat").is_in([0, 2007]))
    df = df.with_columns(
        pl.col("countyreal").cast(pl.Int64).cast(pl.Utf8).alias("u"),
        pl.col("year").cast(pl.Int64).alias("t"),
        pl.col("lemp").alias("y"),
        pl.col("first.treat").cast(pl.Int64).alias("g"),
    )
    return df, CASES["mpdta_2007"]


@pytest.mark.parametrize("load", [_ditella, _mpdta], ids=["ditella", "mpdta_2007"])
def test_evalkit_event_study_on_equitrends_subsamples_gives_its_threshold(load) -> None:
    """End to end: evalkit's Callaway-Sant'Anna event study (universal base) re-estimated on the units of
    equitrends' own subsamples gives its mean squares, and the threshold within the quantiles' error."""
    if not (SHARED / "more" / "monthlypanel_ditella.csv").exists():
        pytest.skip(absent_reason(SHARED))
    from evalkit.analysis.pretrend import RMS_KEY, add_rms_equivalence
    from evalkit.analysis.run import run
    from evalkit.estimators.data import make_panel

    df, case = load()
    panel = make_panel(df, unit="u", time="t", outcome="y", cohort="g")
    options = {"control": "never", "est_method": "reg", "bootstrap": 0}
    inference = {"alpha": 0.05, "seed": 1, "interval": "analytic"}
    result = run("cs", panel, options, inference)
    picks = [[str(i) for i in ids] for ids in case["subsample_ids"][:-1]]
    add_rms_equivalence("cs", panel, options, inference, result, picks=picks)
    got = result.inference[RMS_KEY]
    assert got["event_times"] == [-4, -3, -2]  # the placebo periods before the base (last pre-period)
    assert got["rms"] == pytest.approx(case["rms_placebo_coefficients"], rel=1e-9)
    assert got["threshold"] == pytest.approx(case["minimum_equiv_threshold"], rel=5e-3)
    assert got["subsample_sizes"] == [len(p) for p in picks]


def test_size_at_the_boundary_of_the_null_is_at_most_alpha() -> None:
    """Simulated truth: placebo coefficients are unit means with RMS exactly delta; the test built on the
    returned threshold rejects at most about 5 % of the time there (2,000 panels, MC s.e. 0.5 %), and
    mostly when the true RMS is half of delta."""
    rng = np.random.default_rng(11)
    n, reps = 400, 2000

    def ms(x: np.ndarray, idx: np.ndarray) -> float:
        return float(np.mean(x[idx].mean(0) ** 2))

    def rejects(mu: np.ndarray) -> float:
        out = 0
        for _ in range(reps):
            x = mu + 2 * rng.standard_normal((n, mu.size))
            sub = [ms(x, rng.choice(n, (j * n) // 5, replace=False)) for j in range(1, 5)]
            out += equivalence_rms(ms(x, np.arange(n)), sub)["threshold"] < 1.0
        return out / reps

    assert 0.02 <= rejects(np.array([1.0, -1.0, 1.0])) <= 0.065
    assert rejects(np.array([0.5, -0.5, 0.5])) > 0.8


def test_subsamples_keep_treated_and_untreated_shares() -> None:
    cohorts = {f"t{i}": 2015 + i % 3 for i in range(11)} | {f"c{i:03d}": 0 for i in range(140)}
    picks = subsamples(cohorts, np.random.default_rng(3))
    assert len(picks) == 4
    for k, units in enumerate(picks, start=1):
        treated = [u for u in units if u.startswith("t")]
        assert len(treated) == max(1, (k * 11) // 5) and len(units) - len(treated) == (k * 140) // 5
        assert units == sorted(set(units))
    assert picks == subsamples(cohorts, np.random.default_rng(3))  # seeded: the same draws


def test_refuses_non_finite_mean_squares() -> None:
    with pytest.raises(ValueError, match="finite"):
        equivalence_rms(1.0, [np.nan, 1.0])
