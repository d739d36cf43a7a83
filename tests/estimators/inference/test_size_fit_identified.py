"""The Ferman-Pinto variance fit with `[inference] size_fit_identified = true`: a council whose residual
variance is not identified (one untreated year: its two-way residual is zero up to rounding) is left out
of the log-variance fit instead of entering at log(1e-29) ~ -65 (found by benchmarks/fwer_family.py,
FWER.md; plans v4 and v5 keep the old fit)."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.analysis.intervals import FIT_IDENTIFIED
from evalkit.analysis.run import run
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.estimators.inference.size_robust import modelled_sd
from tests.conftest import evalkit_cmd


def _residuals(rng, sizes, cells, slope=-1.0, intercept=1.0):
    """Rows of residuals whose variance is exp(intercept + slope log size); one-cell units get rounding."""
    resid, unit = [], []
    for u, (s, n) in enumerate(zip(sizes, cells)):
        sd = np.sqrt(np.exp(intercept + slope * np.log(s)))
        r = rng.normal(0, sd, n) if n > 1 else np.array([3e-15])  # what a two-way fit leaves of one cell
        resid.append(r)
        unit += [u] * n
    return np.concatenate(resid), np.array(unit)


def test_units_without_an_identified_variance_leave_the_fit() -> None:
    rng = np.random.default_rng(11)
    sizes = np.exp(rng.uniform(6, 11, 60))
    cells = np.array([40] * 56 + [1] * 4)  # four councils with one untreated year
    resid, unit = _residuals(rng, sizes, cells)
    untreated = np.ones(len(resid), bool)
    _, old = modelled_sd(resid, untreated, unit, 60, sizes)
    _, new = modelled_sd(resid, untreated, unit, 60, sizes, identified_only=True)
    assert new["slope"] == pytest.approx(-1.0, abs=0.15)  # the simulated truth
    assert abs(old["slope"] + 1.0) > 0.5  # the near-zero variances turn the old fit
    assert new["left_out_of_fit"] == 4 and new["fit_units"] == 56
    assert "left_out_of_fit" not in old  # plans without the key record what they always did
    # With every variance identified, the key changes nothing.
    full = np.array([40] * 60)
    resid, unit = _residuals(rng, sizes, full)
    a, ma = modelled_sd(resid, np.ones(len(resid), bool), unit, 60, sizes)
    b, mb = modelled_sd(resid, np.ones(len(resid), bool), unit, 60, sizes, identified_only=True)
    assert np.array_equal(a, b) and ma["slope"] == mb["slope"] and mb["left_out_of_fit"] == 0


def test_the_plan_key_reaches_the_interval() -> None:
    panel = simulate_staggered(40, 8, {4: 2, 6: 2}, 0.0, ar=0.5, seed=5)
    units = sorted(panel.data["unit"].unique().to_list())
    sizes = {u: float(100 + 10 * i) for i, u in enumerate(units)}
    inf = {"seed": 3, "alpha": 0.05, "permutations": 19, "interval": "ferman_pinto", "unit_size": sizes}
    with_key = run("cs", panel, {"est_method": "reg"}, {**inf, FIT_IDENTIFIED: True})
    without = run("cs", panel, {"est_method": "reg"}, inf)
    assert with_key.inference["ferman_pinto"]["left_out_of_fit"] == 0
    assert "left_out_of_fit" not in without.inference["ferman_pinto"]
    # every council has eight untreated years here, so the numbers are the same
    assert with_key.estimates.to_dicts() == without.estimates.to_dicts()


def test_command_line_flag_needs_a_size_column(tmp_path) -> None:
    res = evalkit_cmd(
        "estimate",
        "--panel",
        "p.csv",
        "--unit",
        "u",
        "--time",
        "t",
        "--outcome",
        "y",
        "--size-fit-identified",
        cwd=tmp_path,
        check=False,
    )
    assert res.returncode == 2
    assert "--size-fit-identified goes with --panel and --size-column" in res.stderr
