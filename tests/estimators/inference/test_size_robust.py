"""Size-keeping randomisation intervals (estimators.size_robust): exactness against hand computations,
size on simulated panels whose treated units are the noisiest, refusals."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evalkit.analysis.intervals import choose, default_row
from evalkit.analysis.run import run
from evalkit.errors import EvalkitError, UsageError
from evalkit.estimators.data import make_panel
from evalkit.estimators.did.cs_points import CSPoints
from evalkit.estimators.did.imputation_points import ImputationPoints
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.estimators.did.sunab_points import SunabPoints
from evalkit.estimators.did.twfe_points import TWFEPoints
from evalkit.estimators.inference.randomisation import panel_cohorts
from evalkit.estimators.inference.size_robust import Layout, _studentized_sums, permutation_rows, sdid_ferman_pinto
from evalkit.estimators.inference.wild import twfe_coefficient


def _panel(n: int, T: int, cohorts: list[int], sd: np.ndarray, seed: int, treated: np.ndarray | None = None):
    """Unit and time effects, AR(1) noise with unit s.d. `sd`, true effect 0."""
    rng = np.random.default_rng(seed)
    cohort = np.zeros(n, dtype=np.int64)
    idx = rng.choice(n, len(cohorts), replace=False) if treated is None else treated
    cohort[idx] = cohorts
    eps = np.empty((n, T))
    eps[:, 0] = rng.normal(size=n) / np.sqrt(0.75)
    for t in range(1, T):
        eps[:, t] = 0.5 * eps[:, t - 1] + rng.normal(size=n)
    y = rng.normal(size=n)[:, None] + rng.normal(size=T)[None, :] + sd[:, None] * eps
    units = [f"u{i:03d}" for i in range(n)]
    frame = pl.DataFrame(
        {
            "unit": np.repeat(units, T),
            "t": np.tile(np.arange(1, T + 1), n),
            "y": y.ravel(),
            "g": np.repeat(cohort, T),
        }
    )
    return make_panel(frame, unit="unit", time="t", outcome="y", cohort="g")


def test_twfe_points_equal_the_twfe_coefficient() -> None:
    p = simulate_staggered(40, 7, {3: 3, 5: 3}, 0.7, ar=0.3, seed=2)
    many = TWFEPoints().bind(p)
    y = p.data["y"].to_numpy()
    got = many(panel_cohorts(p), np.column_stack([y, 2 * y]))["coef"]
    assert got[0] == pytest.approx(twfe_coefficient(p), rel=1e-9)
    assert got[1] == pytest.approx(2 * got[0], rel=1e-12)


def test_studentized_shortcut_equals_unit_by_unit_contributions() -> None:
    """The never-treated weight-row shortcut gives the same sums as one column per unit."""
    p = simulate_staggered(30, 6, {3: 2, 5: 2}, 0.0, ar=0.5, seed=4)
    many, lay = CSPoints().bind(p), Layout(p)
    y = p.data["y"].to_numpy()
    t, c = p.data["time"].to_numpy(), p.data["cohort"].to_numpy()
    d = ((c > 0) & (t >= c)).astype(float)
    ry, rd = lay.residualise(y), lay.residualise(d)
    sums = _studentized_sums(many, lay, ["simple", "dynamic"], y, d, ry, rd)
    perm = np.random.default_rng(1).permutation(panel_cohorts(p))
    fast = sums(perm)  # the first call checks the shortcut and keeps it only if it agrees
    cols = np.hstack([lay.by_unit(ry), lay.by_unit(rd)])
    out = many(perm, cols)
    for k, name in enumerate(["simple", "dynamic"]):
        cy, cd = out[name][: lay.n], out[name][lay.n :]
        assert fast[k, 2] == pytest.approx(np.sum(cy**2), rel=1e-9)
        assert fast[k, 3] == pytest.approx(np.sum(cy * cd), rel=1e-9)
        assert fast[k, 4] == pytest.approx(np.sum(cd**2), rel=1e-9)
    assert sums(perm)[0, 2] == pytest.approx(fast[0, 2], rel=1e-12)


def _unbalanced_panel(seed: int):
    """40 units x 8 periods, a fifth of the cells missing, cohorts 3, 5 and 7, two units treated from the
    first period (dropped as always treated when they keep that date) and one after the last (never)."""
    rng = np.random.default_rng(seed)
    n, T = 40, 8
    cohort = rng.choice([0, 0, 0, 3, 5, 7], size=n)
    cohort[:3] = [1, 1, 9]
    y = (
        rng.normal(size=n)[:, None]
        + rng.normal(size=T)[None, :]
        + rng.normal(size=(n, T)) * rng.uniform(0.5, 3, n)[:, None]
    )
    keep = rng.random((n, T)) > 0.2
    u, t = np.nonzero(keep)
    frame = pl.DataFrame({"unit": [f"u{i:02d}" for i in u], "t": t + 1, "y": y[u, t], "g": cohort[u]})
    return make_panel(frame, unit="unit", time="t", outcome="y", cohort="g")


@pytest.mark.parametrize(
    "points",
    [
        CSPoints(),
        CSPoints(control="notyet"),
        CSPoints(base_period="universal", est_method="reg"),
        CSPoints(anticipation=1, max_e=2),
        TWFEPoints(),
        ImputationPoints(),
        ImputationPoints(anticipation=1),
        SunabPoints(),
        SunabPoints(control="notyet"),
    ],
    ids=[
        "cs",
        "cs-notyet",
        "cs-universal",
        "cs-anticipation",
        "twfe",
        "imputation",
        "imputation-anticipation",
        "sunab",
        "sunab-notyet",
    ],
)
def test_studentized_sums_by_unit_equal_one_column_per_unit(points) -> None:
    """A point path's `by_unit` contributions (CS: one pass over the cells; TWFE: each unit's share of the
    numerator; imputation: each unit's cells times the estimand's weights, untreated ones by the adjoint
    solve; Sun-Abraham: each unit's demeaned rows times their rows of pinv(X'X) X') give the sums that one outcome column per unit gives (the brute-force c_i = T(residuals
    masked to unit i)), on an unbalanced panel, under permuted assignments that drop different
    always-treated units (CS); every estimate."""
    p = _unbalanced_panel(3)
    bound, lay = points.bind(p), Layout(p)
    y = p.data["y"].to_numpy()
    t, c = p.data["time"].to_numpy(), p.data["cohort"].to_numpy()
    d = ((c > 0) & (t >= c)).astype(float)
    ry, rd = lay.residualise(y), lay.residualise(d)
    names = list(bound(panel_cohorts(p), y[:, None]))
    sums = _studentized_sums(bound, lay, names, y, d, ry, rd, by_unit=True)
    assert "_sums_by_unit" in sums.__qualname__  # the by_unit path, not the columns it is checked against
    rng = np.random.default_rng(2)
    for coh in [panel_cohorts(p)] + [rng.permutation(panel_cohorts(p)) for _ in range(4)]:
        got = sums(coh)
        ab = bound(coh, np.column_stack([y, d]))
        cy, cd = bound(coh, lay.by_unit(ry)), bound(coh, lay.by_unit(rd))
        each = bound.by_unit(coh, np.column_stack([ry, rd]))
        for name in names:  # unit by unit, not only their sums
            np.testing.assert_allclose(each[name], [cy[name], cd[name]], rtol=1e-12, atol=1e-15, err_msg=name)
        for k, name in enumerate(names):
            want = [ab[name][0], ab[name][1], np.sum(cy[name] ** 2), np.sum(cy[name] * cd[name]), np.sum(cd[name] ** 2)]
            np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=1e-15, err_msg=name)


def test_studentized_by_unit_key_gives_the_rows_of_one_column_per_unit() -> None:
    """`[inference] studentized_by_unit = true` reaches the sums (recorded in the interval's info) and gives
    the rows of one column per unit (plans without the key) up to round-off, the same p-values."""
    p = _unbalanced_panel(5)
    inference = {"interval": "studentized", "permutations": 49, "seed": 1}
    old = run("cs", p, {"bootstrap": 0}, inference)
    new = run("cs", p, {"bootstrap": 0}, {**inference, "studentized_by_unit": True})
    assert "unit_contributions" not in old.inference["studentized"]
    assert new.inference["studentized"]["unit_contributions"] == "by_unit"
    rows = [r for r in old.estimates.to_dicts() if r["name"].endswith(":studentized")]
    assert len(rows) > 5
    for r in rows:
        n = new.estimate(r["name"])
        assert n["p_value"] == r["p_value"], r["name"]
        for k in ("estimate", "ci_low", "ci_high"):
            assert (n[k] is None) == (r[k] is None), (r["name"], k)
            if r[k] is not None:
                assert n[k] == pytest.approx(r[k], rel=1e-10), (r["name"], k)


def test_studentized_pvalue_matches_a_hand_computation() -> None:
    """Two periods, one cohort: CS simple = mean treated change - mean control change; the unit
    contributions of the two-way residuals are De_i/N1 (treated) and -De_i/N0 (controls) with
    De_i = Dy_i - mean Dy; t = T / sqrt(sum c_i^2). The p-value is recomputed here from scratch over the
    same permutations (the module draws rng.permutation(n) from default_rng(seed))."""
    n, seed, n_perm = 12, 5, 39
    rng = np.random.default_rng(0)
    y0, y1 = rng.normal(size=n), rng.normal(size=n) * np.linspace(0.5, 3, n)
    g = np.zeros(n, dtype=np.int64)
    g[[1, 4, 9]] = 2
    frame = pl.DataFrame(
        {
            "unit": np.repeat([f"u{i:02d}" for i in range(n)], 2),
            "t": np.tile([1, 2], n),
            "y": np.column_stack([y0, y1]).ravel(),
            "g": np.repeat(g, 2),
        }
    )
    p = make_panel(frame, unit="unit", time="t", outcome="y", cohort="g")
    rows, _ = permutation_rows(p, CSPoints().bind(p), ["simple"], "studentized", n_perm=n_perm, seed=seed, alpha=0.05)
    dy = y1 - y0

    def t_stat(coh: np.ndarray) -> float:
        tr = coh > 0
        est = dy[tr].mean() - dy[~tr].mean()
        de = dy - dy.mean()
        c = np.where(tr, de / tr.sum(), -de / (~tr).sum())
        return est / np.sqrt(np.sum(c**2))

    r = np.random.default_rng(seed)
    t_obs = t_stat(g)
    t_perm = np.array([t_stat(g[r.permutation(n)]) for _ in range(n_perm)])
    p_hand = (1 + np.sum(np.abs(t_perm) >= abs(t_obs) - 1e-12)) / (1 + n_perm)
    assert rows[0]["p_value"] == pytest.approx(p_hand, abs=1e-12)
    assert rows[0]["estimate"] == pytest.approx(dy[g > 0].mean() - dy[g == 0].mean(), rel=1e-12)
    assert rows[0]["n_treated_units"] == 3


def test_ferman_pinto_pvalue_matches_a_hand_computation() -> None:
    """Same two-period panel; each unit j takes the date of unit sigma(j) and its residual change is
    rescaled by sd[sigma(j)] / sd[j], sd = exp((a + b log size)/2) from the least-squares fit of the
    units' log mean squared untreated residual on log size."""
    n, seed, n_perm = 12, 3, 39
    rng = np.random.default_rng(1)
    size = np.exp(rng.normal(size=n))
    y = rng.normal(size=(n, 3)) / np.sqrt(size)[:, None]
    g = np.zeros(n, dtype=np.int64)
    g[[0, 5]] = 3
    frame = pl.DataFrame(
        {
            "unit": np.repeat([f"u{i:02d}" for i in range(n)], 3),
            "t": np.tile([1, 2, 3], n),
            "y": y.ravel(),
            "g": np.repeat(g, 3),
        }
    )
    p = make_panel(frame, unit="unit", time="t", outcome="y", cohort="g")
    rows, info = permutation_rows(
        p, TWFEPoints().bind(p), ["coef"], "ferman_pinto", n_perm=n_perm, seed=seed, alpha=0.05, size=size
    )
    e = y - y.mean(1, keepdims=True) - y.mean(0, keepdims=True) + y.mean()
    untreated = ~((g[:, None] > 0) & (np.arange(1, 4)[None, :] >= g[:, None]))
    # variance model: residuals of a unit + time dummy least-squares fit on the untreated cells only
    ii, tt = np.nonzero(untreated)
    X = np.column_stack([ii[:, None] == np.arange(n), tt[:, None] == np.arange(1, 3)]).astype(float)
    beta = np.linalg.lstsq(X, y[ii, tt], rcond=None)[0]
    eu = y[ii, tt] - X @ beta
    own = np.array([np.mean(eu[ii == i] ** 2) for i in range(n)])
    b, a = np.polyfit(np.log(size), np.log(own), 1)
    sd = np.exp(0.5 * (a + b * np.log(size)))
    assert info["slope"] == pytest.approx(b, rel=1e-9)

    def coef(coh: np.ndarray, resid: np.ndarray) -> float:
        D = ((coh[:, None] > 0) & (np.arange(1, 4)[None, :] >= coh[:, None])).astype(float)
        Dt = D - D.mean(1, keepdims=True) - D.mean(0, keepdims=True) + D.mean()
        return float(np.sum(Dt * resid) / np.sum(Dt**2))

    r = np.random.default_rng(seed)
    obs = coef(g, e)
    draws = []
    for _ in range(n_perm):
        s = r.permutation(n)
        draws.append(coef(g[s], e * (sd[s] / sd)[:, None]))
    p_hand = (1 + np.sum(np.abs(draws) >= abs(obs) - 1e-12)) / (1 + n_perm)
    assert rows[0]["p_value"] == pytest.approx(p_hand, abs=1e-12)


def _size(kind: str, design: str, reps: int) -> float:
    """Rejection rate at 5 % of a true zero, TWFE coefficient, 60 units x 8 periods, 6 treated, unit
    s.d. 1/sqrt(size) with log size ~ N(0, 1); treated among the 20 smallest ('small') or at random."""
    rej = []
    for k in range(reps):
        rng = np.random.default_rng(1000 + k)
        size = np.exp(rng.normal(size=60))
        pool = np.argsort(size)[:20] if design == "small" else np.arange(60)
        treated = rng.choice(pool, 6, replace=False)
        p = _panel(60, 8, [4, 4, 5, 6, 6, 7], np.sqrt(np.median(size) / size), seed=k, treated=treated)
        rows, _ = permutation_rows(p, TWFEPoints().bind(p), ["coef"], kind, n_perm=19, seed=k, alpha=0.05, size=size)
        rej.append(rows[0]["p_value"] <= 0.05)
    return float(np.mean(rej))


def test_size_when_the_treated_are_the_noisiest_units() -> None:
    """Coefficient permutation over-rejects when the treated units are the noisiest; the size-keeping
    kinds stay near 5 %. 160 panels: Monte Carlo s.e. of a 5 % rate 1.7 points; bounds at about 3 s.e.
    (19 permutations: a permutation test with (m + 1) alpha an integer has exact level alpha)."""
    reps = 160
    ferman = _size("ferman_pinto", "small", reps)
    student = _size("studentized", "small", reps)
    assert 0.0 < ferman <= 0.10, ferman
    assert 0.0 < student <= 0.10, student


def test_coefficient_permutation_over_rejects_in_the_same_design() -> None:
    """The same panels through plain coefficient permutation (few_treated's engine): the check above
    can fail, because here the rate is well above 5 %."""
    from evalkit.analysis.intervals import randomisation_rows

    class Stat:
        def __call__(self, p):
            return {"coef": twfe_coefficient(p)}

        def bind(self, p):
            return TWFEPoints().bind(p)

    rej = []
    for k in range(160):
        rng = np.random.default_rng(1000 + k)
        size = np.exp(rng.normal(size=60))
        treated = rng.choice(np.argsort(size)[:20], 6, replace=False)
        p = _panel(60, 8, [4, 4, 5, 6, 6, 7], np.sqrt(np.median(size) / size), seed=k, treated=treated)
        rows, _ = randomisation_rows(p, Stat(), ["coef"], n_perm=19, seed=k, alpha=0.05)
        rej.append(rows[0]["p_value"] <= 0.05)
    assert np.mean(rej) > 0.12, np.mean(rej)


def test_studentized_refuses_an_estimand_resting_on_one_unit() -> None:
    p = simulate_staggered(30, 8, {3: 1, 6: 3}, 0.0, ar=0.5, seed=8)
    rows, _ = permutation_rows(
        p, CSPoints().bind(p), ["group:g=3", "simple"], "studentized", n_perm=19, seed=1, alpha=0.05
    )
    by = {r["name"]: r for r in rows}
    assert by["group:g=3"]["n_treated_units"] == 1
    assert by["group:g=3"]["p_value"] is None and "one treated unit" in by["group:g=3"]["note"]
    assert by["simple"]["n_treated_units"] == 4 and by["simple"]["p_value"] is not None
    fp, _ = permutation_rows(p, CSPoints().bind(p), ["group:g=3"], "ferman_pinto", n_perm=19, seed=1, alpha=0.05)
    assert fp[0]["p_value"] is not None  # the size-rescaled test does give one, under its variance model


def test_bad_sizes_and_kinds_are_refused() -> None:
    p = simulate_staggered(30, 6, {3: 2, 5: 2}, 0.0, seed=1)
    many = CSPoints().bind(p)
    with pytest.raises(EvalkitError, match="positive size"):
        permutation_rows(
            p, many, ["simple"], "ferman_pinto", n_perm=19, seed=1, alpha=0.05, size=np.r_[-1.0, np.ones(29)]
        )
    with pytest.raises(EvalkitError, match="unknown interval kind"):
        permutation_rows(p, many, ["simple"], "rank", n_perm=19, seed=1, alpha=0.05)
    with pytest.raises(UsageError):
        choose("studentized", "sdid", 5)  # SDID has no unit decomposition: ferman_pinto only
    assert choose("auto-size", "sdid", 5)[0] == "ferman_pinto"
    assert choose("auto-size", "cs", 5)[0] == "studentized"
    assert choose("auto-size", "cs", 5, sized=True)[0] == "ferman_pinto"  # the simulation's choice with sizes
    assert choose("auto-size", "cs", 50)[0] == "analytic"
    assert choose(None, "cs", 5)[0] == "randomization"  # plans v1-v3 keep their rule


def test_sdid_ferman_pinto_runs_and_refuses_too_few_controls() -> None:
    p = simulate_staggered(30, 8, {5: 3}, 0.0, ar=0.5, seed=2)
    row, info = sdid_ferman_pinto(p, 0.1, n_perm=19, seed=3, alpha=0.05)
    assert row["se"] > 0 and row["ci_low"] < 0.1 < row["ci_high"] and info["n_perm"] == 19
    small = simulate_staggered(6, 8, {5: 3}, 0.0, seed=2)
    with pytest.raises(EvalkitError, match="more never-treated"):
        sdid_ferman_pinto(small, 0.0, n_perm=19, seed=3, alpha=0.05)


@pytest.mark.parametrize("method,kind", [("cs", "studentized"), ("twfe", "ferman_pinto"), ("sdid", "ferman_pinto")])
def test_the_kinds_run_through_the_estimate_stage(method: str, kind: str) -> None:
    p = simulate_staggered(40, 8, {4: 3, 6: 3}, 1.0, ar=0.5, seed=3)
    inf = {"seed": 7, "alpha": 0.05, "permutations": 19, "bootstrap": 99, "interval": kind}
    res = run(method, p, {}, inf)
    rows = res.estimates.to_dicts()
    head = "att" if method == "sdid" else ("coef" if method == "twfe" else "simple")
    chosen = default_row(rows, head)
    assert chosen["name"] == f"{head}:{kind}" and chosen["interval"] == kind and chosen["default"] is True
    assert any(r["name"] == head and r["default"] is False for r in rows)  # the analytic row stays beside it
    assert res.inference["default_interval"]["interval"] == kind


def test_synth_refuses_placebo_p_values_on_an_unidentified_fit() -> None:
    """Two pre-periods: a convex donor combination matches them (RMSPE at rounding level or too few
    periods), so the unit's RMSPE-ratio p-value is refused with the reason; v1-v3's default keeps it."""
    from evalkit.estimators.synth.synth import synth_staggered, unidentified_fit

    p = simulate_staggered(25, 8, {3: 1, 6: 1}, 0.0, ar=0.5, seed=5)
    res = synth_staggered(p, reps=50, seed=1, check_fit=True, n_jobs=1)
    units = {r["unit"]: r for r in res.estimates.to_dicts() if r["aggregation"] == "unit"}
    cohorts = p.unit_cohorts()
    early = next(u for u in units if cohorts[u] == 3)
    late = next(u for u in units if cohorts[u] == 6)
    assert units[early]["p_value"] is None and "pre-periods" in res.diagnostics["placebo_refused"][early]
    assert units[late]["p_value"] is not None and late not in res.diagnostics["placebo_refused"]
    plain = synth_staggered(p, reps=50, seed=1, n_jobs=1)
    assert {r["unit"]: r["p_value"] for r in plain.estimates.to_dicts() if r["aggregation"] == "unit"}[
        early
    ] is not None
    assert "check_fit" not in plain.options and "placebo_refused" not in plain.diagnostics
    assert "rounding" in unidentified_fit(1e-14, np.array([3.0, 4.0, 5.0, 6.0]), 1)
    assert unidentified_fit(0.5, np.array([3.0, 4.0, 5.0, 6.0]), 1) is None


def test_the_verdict_uses_the_permutation_pretrend_of_the_size_keeping_draws() -> None:
    """With a size-keeping default the pre-trend test is the permutation one on its own draws, not the
    analytic Wald test; a row resting on one council gets the size-rescaled interval when sizes are given."""
    from evalkit.analysis.pretrend import pretrend_result

    p = simulate_staggered(40, 8, {3: 1, 5: 3}, 0.0, ar=0.5, seed=6)
    inf = {"seed": 7, "alpha": 0.05, "permutations": 19, "bootstrap": 0, "interval": "studentized"}
    res = run("cs", p, {}, inf)
    doc = res.to_dict()
    pre = pretrend_result(doc)
    assert "permutation" in pre["test"] and "studentized draws" in pre["test"]
    none = doc["inference"]["studentized"]["no_valid_interval"]["names"]
    assert "group:g=3" not in none  # group rows are not permutation targets; event times at e <= -2 rest on one
    assert any(n.startswith("dynamic:e=") for n in none)
    sized = {**inf, "unit_size": {u: float(k + 1) for k, u in enumerate(p.units)}}
    res2 = run("cs", p, {}, sized)
    rows = {r["name"]: r for r in res2.estimates.to_dicts()}
    one = res2.inference["studentized"]["one_unit_rows"]["names"]
    assert one and all(rows[n + ":studentized"]["interval"] == "ferman_pinto" for n in one)
    assert all(rows[n + ":studentized"]["default"] is True for n in one)
    assert all(rows[n]["default"] is False for n in one)  # the analytic one-council row is not the one to quote


@pytest.mark.parametrize("kind", ["studentized", "ferman_pinto"])
def test_intervals_shift_with_an_added_effect(kind: str) -> None:
    """Adding a constant effect to the treated cells shifts the estimate and both bounds by it (what
    `evalkit power` relies on to run each placebo draw once)."""
    out = []
    for eff in (0.0, 1.5):
        p = simulate_staggered(60, 8, {4: 3, 6: 3}, eff, ar=0.5, seed=11)
        size = np.arange(1.0, 61.0)
        rows, _ = permutation_rows(p, CSPoints().bind(p), ["simple"], kind, n_perm=39, seed=1, alpha=0.1, size=size)
        out.append(rows[0])
    for key in ("estimate", "ci_low", "ci_high"):
        assert out[1][key] == pytest.approx(out[0][key] + 1.5, abs=1e-6)


def test_single_unit_test_keeps_its_size_when_its_bound_holds_and_says_when_it_cannot() -> None:
    """One treated unit among the noisiest fifth of 80 units (s.d. 1/sqrt(size), log size ~ N(0, 1)).
    Placebos from its own size tercile with rho = 3 (covers the s.d. spread inside the tercile in almost
    every panel): it rejects a true zero in at most about 5 % of 120 panels (bound 8 %, about 2 s.e.).
    Placebos from every unit with rho = 1 (the bound false: the treated unit is noisier than most):
    it over-rejects, so the first check can fail."""
    from evalkit.estimators.inference.size_robust import single_unit_test

    held, broken = [], []
    for k in range(120):
        rng = np.random.default_rng(500 + k)
        size = np.exp(rng.normal(size=80))
        treated = np.array([rng.choice(np.argsort(size)[:16])])
        p = _panel(80, 8, [5], np.sqrt(np.median(size) / size), seed=k, treated=treated)
        many = TWFEPoints().bind(p)
        out = single_unit_test(p, many, "coef", rho=3.0, size=size, bins=3)
        assert out["ci_low"] is not None and out["ci_low"] < out["estimate"] < out["ci_high"]
        held.append(out["p_value"] <= 0.05)
        broken.append(single_unit_test(p, many, "coef", rho=1.0)["p_value"] <= 0.05)
    assert np.mean(held) <= 0.08, np.mean(held)
    assert np.mean(broken) > 0.12, np.mean(broken)
    none = single_unit_test(p, many, "coef", alpha=0.01, size=size, bins=3)
    assert none["n_placebos"] < 99 and none["ci_low"] is None  # too few placebos for a 99 % interval
    two = _panel(30, 6, [4, 4], np.ones(30), seed=1)
    with pytest.raises(EvalkitError, match="exactly one treated unit"):
        single_unit_test(two, TWFEPoints().bind(two), "coef")


def test_kind_registry_agrees_with_the_method_registry() -> None:
    from evalkit import methods
    from evalkit.estimators.inference.size_robust import KINDS

    for kind in KINDS.values():
        for key, m in methods.METHODS.items():
            assert (key in kind.methods) == (kind.name in m.intervals), (kind.name, key)
