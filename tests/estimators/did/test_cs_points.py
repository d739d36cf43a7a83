"""cs_points (the Callaway-Sant'Anna point estimates of many columns at once, used by randomisation
inference) against the full estimator: every name, every value within 1e-9, on random unbalanced
panels and on the demo panel; and the randomisation rows it gives against the full-estimator loop."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evalkit import generations
from evalkit.analysis import intervals as ft
from evalkit.estimators.data import LongPanel, make_panel
from evalkit.estimators.did.cs import callaway_santanna
from evalkit.estimators.did.cs_points import CSPoints
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.estimators.inference.randomisation import Permuter

TOL = 1e-9

OPTIONS = [
    {"control": c, "est_method": m, "base_period": b, "anticipation": a, **extra}
    for c in ("never", "notyet")
    for m in ("reg", "ipw", "dr")
    for b, a, extra in (
        ("varying", 0, {}),
        ("universal", 0, {"balance_e": 1}),
        ("varying", 1, {"min_e": -2, "max_e": 2}),
        ("universal", 1, {"max_e": 1}),
        ("varying", 0, {"balance_e": 2, "min_e": -1}),
    )
]


def random_panel(seed: int, *, never: bool = True) -> LongPanel:
    """Unequal cohorts (some of one unit, one cohort treated in the first period, one after the last),
    about 8% of unit-periods missing, heterogeneous effects."""
    rng = np.random.default_rng(seed)
    n_periods = int(rng.integers(6, 11))
    starts = rng.choice(np.arange(1, n_periods + 2), size=int(rng.integers(2, 6)), replace=False)
    cohorts = {int(g): int(rng.integers(1, 6)) for g in starts}
    n_units = sum(cohorts.values()) + (int(rng.integers(3, 15)) if never else 0)
    panel = simulate_staggered(n_units, n_periods, cohorts, effect=lambda g, e: 0.3 * g + 0.5 * e, noise=1.0, seed=seed)
    drop = pl.Series(rng.random(panel.data.height) < 0.08)
    return LongPanel(panel.data.filter(~drop), panel.outcome, ())


def full_estimates(panel: LongPanel, options: dict) -> dict[str, float]:
    est = callaway_santanna(panel, **options).estimates
    return dict(zip(est["name"].to_list(), est["estimate"].to_list()))


def assert_same(full: dict[str, float], fast: dict[str, float]) -> None:
    assert set(fast) == set(full), sorted(set(fast) ^ set(full))
    worst = max(abs(full[k] - fast[k]) for k in full)
    assert worst <= TOL, worst


@pytest.mark.parametrize("seed", range(8))
def test_equals_full_estimator_on_random_unbalanced_panels(seed):
    panel = random_panel(seed)
    compared = 0
    for options in OPTIONS:
        try:
            full = full_estimates(panel, options)
        except Exception as exc:  # noqa: BLE001 - the fast path must refuse the same panels
            with pytest.raises(type(exc)):
                CSPoints(**options)(panel)
            continue
        assert_same(full, CSPoints(**options)(panel))
        compared += 1
    assert compared >= len(OPTIONS) // 2


@pytest.mark.parametrize("seed", range(3))
def test_equals_full_estimator_without_never_treated_units(seed):
    panel = random_panel(100 + seed, never=False)
    for options in OPTIONS:
        if options["control"] != "notyet":
            continue
        try:
            full = full_estimates(panel, options)
        except Exception:  # noqa: BLE001 - e.g. one cohort only: nothing left to compare
            continue
        assert_same(full, CSPoints(**options)(panel))


def test_columns_at_once_each_with_its_own_missing_cells():
    """y (missing cells) and the treatment indicator (complete) in one call, as the RI loop does,
    under permuted adoption dates."""
    panel = random_panel(7)
    perm = Permuter(panel)
    y = panel.data["y"].to_numpy().copy()
    y[::13] = np.nan  # cells missing in y only
    panel = LongPanel(panel.data.with_columns(pl.Series("y", y)), panel.outcome, ())
    perm = Permuter(panel)
    options = {"control": "notyet", "est_method": "dr", "base_period": "varying"}
    many = CSPoints(**options).bind(panel)
    rng = np.random.default_rng(1)
    for _ in range(5):
        cohort = rng.permutation(perm.cohort)
        out = many(cohort, np.column_stack([y, perm.d_obs]))
        for col, p in enumerate((perm.make(cohort), perm.make(cohort, perm.d_obs))):
            full = full_estimates(p, options)
            fast = {k: float(v[col]) for k, v in out.items() if np.isfinite(v[col])}
            assert_same(full, fast)


def test_the_comparison_can_fail():
    """The panels are rich enough that a wrong weighting or option is caught: the fast path with
    another control group, or with equal cohort weights, does not pass `assert_same`."""
    panel = random_panel(3)
    options = {"control": "never", "est_method": "reg"}
    full = full_estimates(panel, options)
    with pytest.raises(AssertionError):
        assert_same(full, CSPoints(**{**options, "control": "notyet"})(panel))
    shifted = dict(CSPoints(**options)(panel))
    shifted["dynamic:e=0"] += 1e-8
    with pytest.raises(AssertionError):
        assert_same(full, shifted)


@pytest.mark.parametrize("seed", range(3))
def test_with_covariates_the_same_bits_as_the_full_estimator_under_permutations(seed):
    """With covariates the cells are the full estimator's own, so not 1e-9 but exact equality, for y
    and the treatment indicator under permuted adoption dates, on an unbalanced panel."""
    rng = np.random.default_rng(seed)
    panel = simulate_staggered(40, 8, {3: 5, 5: 4, 7: 3}, effect=1.0, n_covariates=2, covariate_trend=1.5, seed=seed)
    drop = pl.Series(rng.random(panel.data.height) < 0.06)
    panel = LongPanel(panel.data.filter(~drop), panel.outcome, panel.covariates)
    perm = Permuter(panel)
    y = panel.data["y"].to_numpy()
    for options in OPTIONS[seed::3]:
        many = CSPoints(**options).bind(panel)
        for _ in range(2):
            cohort = rng.permutation(perm.cohort)
            try:
                out = many(cohort, np.column_stack([y, perm.d_obs]))
            except Exception as exc:  # noqa: BLE001 - the full estimator must refuse it the same way
                with pytest.raises(type(exc)):
                    full_estimates(perm.make(cohort), options)
                continue
            for col, p in enumerate((perm.make(cohort), perm.make(cohort, perm.d_obs))):
                full = full_estimates(p, options)
                fast = {k: float(v[col]) for k, v in out.items() if np.isfinite(v[col])}
                assert set(fast) == {k for k, v in full.items() if np.isfinite(v)}
                assert all(fast[k] == full[k] for k in fast), options  # exact, not approximate


def test_randomisation_rows_equal_the_full_loop_on_the_demo_panel(demo_run):
    frame = pl.read_parquet(generations.resolve(demo_run / "data" / "processed" / "panel.parquet"))
    frame = frame.filter((pl.col("cohort") == 0) | (pl.col("cohort") > frame["year"].min()))
    panel = make_panel(
        frame.filter(pl.col("cla_rate_per_10000").is_not_null()),
        unit="unit_code",
        time="year",
        outcome="cla_rate_per_10000",
        cohort="cohort",
    )
    for options in ({"control": "never", "est_method": "reg"}, {"control": "notyet", "est_method": "dr"}):
        full = full_estimates(panel, options)
        assert_same(full, CSPoints(**options)(panel))
        stat = ft._point_statistic("cs", options, {"alpha": 0.05, "seed": 1})
        assert stat.bind(panel) is not None
        names = [n for n in full if n == "simple" or n.startswith("dynamic")]
        kw = {"n_perm": 29, "seed": 5, "alpha": 0.05}
        fast_rows, _ = ft.randomisation_rows(panel, stat, names, **kw)
        full_rows, _ = ft.randomisation_rows(panel, lambda p, s=stat: s(p), names, **kw)  # no bind: full loop
        assert [r["name"] for r in fast_rows] == [r["name"] for r in full_rows] and fast_rows
        for a, b in zip(fast_rows, full_rows):
            assert a["estimate"] == b["estimate"] and a["p_value"] == b["p_value"]
            for key in ("ci_low", "ci_high"):
                assert (a[key] is None) == (b[key] is None)
                if a[key] is not None:
                    assert abs(a[key] - b[key]) <= 1e-9 * max(1.0, abs(b[key]))


# ------------------------------------------------------------------ Sun-Abraham (sunab_points)


def assert_same_with_nan(full: dict[str, float], fast: dict[str, float]) -> None:
    assert set(fast) == set(full), sorted(set(fast) ^ set(full))
    for k in full:
        if np.isnan(full[k]):
            assert np.isnan(fast[k]), k
        else:
            assert abs(full[k] - fast[k]) <= TOL * max(1.0, abs(full[k])), (k, full[k], fast[k])


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("control", ["never", "notyet"])
def test_sunab_points_equal_sun_abraham(seed, control):
    from evalkit.estimators.did.sunab import sun_abraham
    from evalkit.estimators.did.sunab_points import SunabPoints

    panel = random_panel(seed)
    try:
        est = sun_abraham(panel, control=control).estimates
    except Exception as exc:  # noqa: BLE001 - the fast path must refuse the same panels
        with pytest.raises(type(exc)):
            SunabPoints(control=control)(panel)
        return
    full = dict(zip(est["name"].to_list(), est["estimate"].to_list()))
    assert_same_with_nan(full, SunabPoints(control=control)(panel))
    # y (missing cells) and d (complete) in one call under a permuted assignment: two solves, one call
    perm = Permuter(panel)
    y = panel.data["y"].to_numpy()
    cohort = np.random.default_rng(seed).permutation(perm.cohort)
    out = SunabPoints(control=control).bind(panel)(cohort, np.column_stack([y, perm.d_obs]))
    for col, p in enumerate((perm.make(cohort), perm.make(cohort, perm.d_obs))):
        est = sun_abraham(p, control=control).estimates
        full = dict(zip(est["name"].to_list(), est["estimate"].to_list()))
        assert_same_with_nan(full, {k: float(v[col]) for k, v in out.items()})


def test_sunab_randomisation_rows_equal_the_full_loop():
    panel = simulate_staggered(50, 9, {4: 4, 6: 3, 7: 2}, effect=1.0, seed=11)
    stat = ft._point_statistic("sunab", {"control": "never"}, {"alpha": 0.05, "seed": 1})
    assert stat.bind(panel) is not None
    names = ["simple", "dynamic", "dynamic:e=0", "dynamic:e=-3"]
    kw = {"n_perm": 29, "seed": 5, "alpha": 0.05}
    fast_rows, _ = ft.randomisation_rows(panel, stat, names, **kw)
    full_rows, _ = ft.randomisation_rows(panel, lambda p, s=stat: s(p), names, **kw)
    assert len(fast_rows) == len(names)
    for a, b in zip(fast_rows, full_rows):
        assert a["name"] == b["name"] and a["estimate"] == b["estimate"] and a["p_value"] == b["p_value"]
        for key in ("ci_low", "ci_high"):
            assert (a[key] is None) == (b[key] is None)
            if a[key] is not None:
                assert abs(a[key] - b[key]) <= 1e-9 * max(1.0, abs(b[key]))


def test_a_wrong_fast_path_is_caught_and_the_full_estimator_kept():
    """randomisation_rows checks the many-columns path against the full estimator at the observed
    assignment; a path that disagrees is not used (here: one that adds 1e-6 to every estimate)."""
    panel = simulate_staggered(40, 8, {4: 3, 6: 3}, effect=1.0, seed=2)
    stat = ft._point_statistic("cs", {"control": "never", "est_method": "reg"}, {"alpha": 0.05, "seed": 1})

    class Off:
        def __call__(self, p):
            return stat(p)

        def bind(self, p):
            many = stat.bind(p)
            return lambda cohort, cols: {k: v + 1e-6 for k, v in many(cohort, cols).items()}

    kw = {"n_perm": 19, "seed": 3, "alpha": 0.05}
    full, _ = ft.randomisation_rows(panel, lambda p: stat(p), ["simple", "dynamic"], **kw)
    wrong, _ = ft.randomisation_rows(panel, Off(), ["simple", "dynamic"], **kw)
    assert wrong == full


# ------------------------------------------------------------------ imputation (imputation_points)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("anticipation", [0, 1])
def test_imputation_points_equal_imputation(seed, anticipation):
    from evalkit.estimators.did.imputation import imputation
    from evalkit.estimators.did.imputation_points import ImputationPoints

    panel = random_panel(seed)
    fast = ImputationPoints(anticipation=anticipation)
    try:
        est = imputation(panel, anticipation=anticipation).estimates
    except Exception as exc:  # noqa: BLE001 - the fast path must refuse the same panels
        with pytest.raises(type(exc)):
            fast(panel)
        return
    full = dict(zip(est["name"].to_list(), est["estimate"].to_list()))
    assert_same_with_nan(full, fast(panel))
    perm = Permuter(panel)
    y = panel.data["y"].to_numpy()
    cohort = np.random.default_rng(seed).permutation(perm.cohort)
    out = fast.bind(panel)(cohort, np.column_stack([y, perm.d_obs]))
    for col, p in enumerate((perm.make(cohort), perm.make(cohort, perm.d_obs))):
        est = imputation(p, anticipation=anticipation).estimates
        full = dict(zip(est["name"].to_list(), est["estimate"].to_list()))
        assert_same_with_nan(full, {k: float(v[col]) for k, v in out.items()})


def test_imputation_randomisation_rows_equal_the_full_loop():
    panel = simulate_staggered(50, 9, {4: 4, 6: 3, 7: 2}, effect=1.0, seed=12)
    stat = ft._point_statistic("imputation", {}, {"alpha": 0.05, "seed": 1})
    assert stat.bind(panel) is not None
    names = ["simple", "dynamic", "dynamic:e=0", "dynamic:e=2"]
    kw = {"n_perm": 29, "seed": 5, "alpha": 0.05}
    fast_rows, _ = ft.randomisation_rows(panel, stat, names, **kw)
    full_rows, _ = ft.randomisation_rows(panel, lambda p, s=stat: s(p), names, **kw)
    assert len(fast_rows) == len(names)
    for a, b in zip(fast_rows, full_rows):
        assert a["name"] == b["name"] and a["estimate"] == b["estimate"] and a["p_value"] == b["p_value"]
        for key in ("ci_low", "ci_high"):
            assert (a[key] is None) == (b[key] is None)
            if a[key] is not None:
                assert abs(a[key] - b[key]) <= 1e-9 * max(1.0, abs(b[key]))


@pytest.mark.parametrize("seed", [3, 11])
def test_reused_work_across_permutations_gives_the_bits_of_a_fresh_bind(seed):
    """A bound function remembers the filled columns, the period-to-period changes and the cell names of
    its last call (a permutation loop repeats them). Every permutation, a column edited in place between
    calls, and another number of columns give exactly the bits a fresh bind gives (no cached state)."""
    panel = random_panel(seed)
    perm = Permuter(panel)
    cols = np.column_stack([panel.data["y"].to_numpy(), perm.d_obs])
    rng = np.random.default_rng(seed)
    for options in (OPTIONS[0], OPTIONS[7], OPTIONS[16]):
        kept = CSPoints(**options).bind(panel)
        for step in range(12):
            cohort = rng.permutation(perm.cohort)
            if step == 6:
                cols[::3, 0] += 1.0  # the same array object, new contents
            use = cols if step != 9 else cols[:, :1]
            fresh = CSPoints(**options).bind(panel)(cohort, use)
            again = kept(cohort, use)
            assert fresh.keys() == again.keys()
            for k in fresh:
                assert np.asarray(fresh[k]).tobytes() == np.asarray(again[k]).tobytes(), (options, step, k)


def _with_covariate(panel: LongPanel, seed: int) -> LongPanel:
    units = panel.data["unit"].unique().sort()
    x = pl.DataFrame({"unit": units, "x1": np.random.default_rng(seed).normal(size=len(units))})
    return LongPanel(panel.data.join(x, on="unit"), panel.outcome, ("x1",))


@pytest.mark.parametrize("seed", range(4))
def test_exact_is_the_full_estimators_bits(seed):
    """`exact` and `bind_exact` (what the randomisation engine evaluates at the observed assignment) give
    the full estimator's numbers bit for bit (not to 1e-9), with and without covariates, and refuse
    the same panels."""
    base = random_panel(seed, never=seed % 2 == 0)
    compared = 0
    for panel in (base, _with_covariate(base, seed)):
        perm = Permuter(panel)
        y = panel.data["y"].to_numpy()
        columns = np.column_stack([perm.d_obs, y + 2.5 * perm.d_obs])
        for options in OPTIONS:
            points = CSPoints(**options)
            try:
                full = full_estimates(panel, options)
            except Exception as exc:  # noqa: BLE001 - refused alike
                with pytest.raises(type(exc)):
                    points.exact(panel)
                continue
            exact = points.exact(panel)
            assert list(exact) == list(full)
            assert np.array_equal(np.array(list(exact.values())), np.array(list(full.values())), equal_nan=True)
            many = points.bind_exact(panel)(perm.cohort, columns)
            for col in range(2):
                again = full_estimates(perm.make(perm.cohort, columns[:, col]), options)
                got = np.array([many[k][col] for k in again])
                assert np.array_equal(got, np.array(list(again.values())), equal_nan=True)
            compared += 1
    assert compared >= len(OPTIONS) // 2


def test_cached_design_gives_a_fresh_computations_bits():
    """The per-multiset design (cells, weights) kept across permutations gives the numbers a fresh
    CSPoints computes for each assignment, bit for bit."""
    panel = random_panel(3)
    perm = Permuter(panel)
    columns = np.column_stack([panel.data["y"].to_numpy(), perm.d_obs])
    rng = np.random.default_rng(0)
    kept = CSPoints(control="notyet", est_method="dr").bind(panel)
    for _ in range(20):
        cohort = rng.permutation(perm.cohort)
        fresh = CSPoints(control="notyet", est_method="dr").bind(panel)(cohort, columns)
        again = kept(cohort, columns)
        assert list(again) == list(fresh)
        for k in fresh:
            assert np.array_equal(again[k], fresh[k], equal_nan=True), k
