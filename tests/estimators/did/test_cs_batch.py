"""Permutations in batches (issue #29): `CSPoints.estimates_batch` (the bound path's `many_batch`) gives, for
every assignment of a stack, the bits of one `many` call, and the randomisation engine's rows and draws are
the same bits with batches as with one call per assignment. Random unbalanced panels (missing cells, a
column with extra NaN), never and not-yet controls, each option set of test_cs_points, assignments with one
multiset of adoption dates (permutations) and with several (a family's universe), and stacks in which some
assignment has no estimable cell."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did.cs_points import CSPoints
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.estimators.inference import randomisation
from evalkit.estimators.inference.randomisation import Permuter, randomisation_rows
from tests.estimators.did.test_cs_points import OPTIONS, random_panel


def _columns(panel, seed: int) -> np.ndarray:
    """y, the treatment indicator and y with about a tenth of its rows NaN (each column its own missing cells)."""
    perm = Permuter(panel)
    y = panel.data["y"].to_numpy()
    holes = np.where(np.random.default_rng(seed).random(len(y)) < 0.1, np.nan, 0.0)
    return np.column_stack([y, perm.d_obs, y + holes])


def _assert_rows_are_single_calls(bound, cohorts: np.ndarray, columns: np.ndarray) -> None:
    stacked = bound.many_batch(cohorts, columns)
    for b, cohort in enumerate(cohorts):
        one = bound.many(cohort, columns)
        assert set(one) <= set(stacked)
        for name, values in stacked.items():
            if name in one:  # the same bits, signs of zero and NaN included
                assert np.ascontiguousarray(values[b]).tobytes() == np.asarray(one[name]).tobytes(), (b, name)
            else:  # a name another assignment's design has: NaN here, as the engine reads a missing name
                assert np.isnan(values[b]).all(), (b, name)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("never", [True, False])
def test_a_stack_of_permutations_gives_each_single_calls_bits(seed, never):
    panel = random_panel(seed + (0 if never else 100), never=never)
    columns = _columns(panel, seed)
    rng = np.random.default_rng(seed)
    cohorts = np.array([rng.permutation(Permuter(panel).cohort) for _ in range(12)])
    compared = 0
    for options in OPTIONS:
        for names in (None, ["simple"]):
            try:
                bound = CSPoints(**options).bind(panel, names=names)
                bound.many(cohorts[0], columns)
            except EvalkitError:
                continue
            try:
                _assert_rows_are_single_calls(bound, cohorts, columns)
            except EvalkitError:  # the stack raises only where some single call does
                assert any(_raises(bound, c, columns) for c in cohorts)
                continue
            compared += 1
    assert compared >= len(OPTIONS) // 2


def _raises(bound, cohort, columns) -> bool:
    try:
        bound.many(cohort, columns)
    except EvalkitError:
        return True
    return False


def test_many_not_yet_treated_cohorts_sum_their_controls_in_the_same_order():
    """Nine cohorts and not-yet-treated controls: a cell's control sum adds up to nine cohort sums, so
    any other order of that sum than the single call's would show in the last bits."""
    panel = simulate_staggered(70, 14, {g: 3 + g % 3 for g in range(3, 12)}, 1.0, ar=0.5, seed=9)
    rng = np.random.default_rng(9)
    drop = pl.Series(rng.random(panel.data.height) < 0.05)
    panel = LongPanel(panel.data.filter(~drop), panel.outcome, ())
    columns = _columns(panel, 9)
    cohorts = np.array([rng.permutation(Permuter(panel).cohort) for _ in range(30)])
    for options in OPTIONS:
        if options["control"] == "notyet":
            _assert_rows_are_single_calls(CSPoints(**options).bind(panel), cohorts, columns)


@pytest.mark.parametrize("seed", range(4))
def test_assignments_with_different_multisets_each_get_their_own_design(seed):
    """A family's universe reads permuted dates off for this panel's units: the multiset differs between
    assignments, so does the set of cells (names); each row is still its own single call."""
    panel = random_panel(seed)
    perm = Permuter(panel)
    columns = _columns(panel, seed)
    rng = np.random.default_rng(seed)
    pool = np.concatenate([perm.cohort, rng.choice(perm.cohort, 6)])
    cohorts = np.array([rng.permutation(pool)[: len(perm.cohort)] for _ in range(15)])
    assert len({np.sort(c).tobytes() for c in cohorts}) > 1
    for options in (OPTIONS[0], OPTIONS[6], OPTIONS[15], OPTIONS[22]):
        _assert_rows_are_single_calls(CSPoints(**options).bind(panel), cohorts, columns)


def _engine(panel, options, *, batch: int, universe=None, keep_draws=True):
    from evalkit.analysis.intervals import _point_statistic

    old = randomisation.BATCH
    randomisation.BATCH = batch
    try:
        stat = _point_statistic("cs", {**options, "bootstrap": 0}, {"seed": 1, "alpha": 0.05})
        names = ["simple", "dynamic:e=0", "dynamic:e=-1", "group"]
        return randomisation_rows(
            panel, stat, names, n_perm=45, seed=5, alpha=0.1, universe=universe, keep_draws=keep_draws
        )
    finally:
        randomisation.BATCH = old


@pytest.mark.parametrize("control", ["never", "notyet"])
def test_engine_rows_and_draws_are_the_same_bits_with_and_without_batches(control, monkeypatch):
    panel = random_panel(5)
    calls = []
    real = CSPoints.estimates_batch

    def counted(self, *a, **k):
        calls.append(len(a[1]))
        return real(self, *a, **k)

    monkeypatch.setattr(CSPoints, "estimates_batch", counted)
    options = {"control": control, "est_method": "reg"}
    rows, info = _engine(panel, options, batch=20)
    assert calls == [20, 20, 5]  # the permutations went through the batches
    one_rows, one_info = _engine(panel, options, batch=1)
    assert repr(rows) == repr(one_rows)
    assert repr(info) == repr(one_info)


def test_a_family_draw_without_an_estimate_is_left_out_alike():
    """With a universe some assignments leave this panel no estimable treated unit: a stack holding one
    raises, its assignments then run one by one, and those draws are NaN exactly as without batches."""
    panel = random_panel(2)
    perm = Permuter(panel)
    units = list(perm.units)
    universe = {u: int(c) for u, c in zip(units, perm.cohort)}
    universe.update({f"extra{i}": 0 for i in range(40)})  # mostly untreated councils: some draws treat none here
    options = {"control": "never", "est_method": "reg"}
    rows, info = _engine(panel, options, batch=100, universe=universe)
    one_rows, one_info = _engine(panel, options, batch=1, universe=universe)
    assert info["joint"]["draws_without_estimate"] > 0
    assert repr(rows) == repr(one_rows)
    assert repr(info) == repr(one_info)
