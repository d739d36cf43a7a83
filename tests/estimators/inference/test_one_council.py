"""Hagemann's test wired into the rows that rest on one treated council ([inference] one_council, opt-in):
the council's comparison x1 and the comparison councils' x0 computed by hand from the panel reproduce the
row's point estimate, the row's interval and p-value are hagemann.interval / hagemann.pvalue of those x's,
and rows it cannot serve (too few comparison councils for rho; comparison councils entering with different
weights) carry no interval and say why."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evalkit.analysis.run import run
from evalkit.estimators.data import make_panel
from evalkit.estimators.inference import hagemann
from evalkit.estimators.inference.one_council import row_interval, split

# England's shape: 150 councils, 2013-2025, 11 movers at the real cohort years
ENGLAND_COHORTS = [2015, 2015, 2016, 2018, 2018, 2019, 2019, 2019, 2020, 2021, 2024]
YEARS = np.arange(2013, 2026)
OPTS = {"control": "never", "est_method": "reg", "bootstrap": 0}


def _panel(n: int, cohorts: list[int], seed: int, years: np.ndarray = YEARS, drop: tuple = ()) -> pl.DataFrame:
    """Unit and year effects, AR(1) noise whose s.d. differs by council, an effect of 1 after the move."""
    rng = np.random.default_rng(seed)
    T = len(years)
    cohort = np.zeros(n, dtype=np.int64)
    cohort[: len(cohorts)] = cohorts
    eps = np.empty((n, T))
    eps[:, 0] = rng.normal(size=n)
    for t in range(1, T):
        eps[:, t] = 0.5 * eps[:, t - 1] + rng.normal(size=n)
    sd = np.exp(rng.uniform(0, np.log(3), n))
    after = (cohort[:, None] > 0) & (years[None, :] >= cohort[:, None])
    y = 10 * rng.normal(size=n)[:, None] + rng.normal(size=T)[None, :] + sd[:, None] * eps + after
    frame = pl.DataFrame(
        {
            "unit": np.repeat([f"c{i:03d}" for i in range(n)], T),
            "year": np.tile(years, n),
            "y": y.ravel(),
            "g": np.repeat(cohort, T),
        }
    )
    for unit, year in drop:
        frame = frame.filter(~((pl.col("unit") == unit) & (pl.col("year") == year)))
    return frame


def _run(frame: pl.DataFrame, rho: float = 2.0, interval: str = "studentized", **opts) -> dict:
    panel = make_panel(frame, unit="unit", time="year", outcome="y", cohort="g")
    inference = {"alpha": 0.05, "seed": 3, "permutations": 19, "interval": interval}
    inference |= {"one_council": "hagemann", "hagemann_rho": rho}
    return run("cs", panel, {**OPTS, **opts}, inference).to_dict()


def _by_hand(frame: pl.DataFrame, name: str) -> tuple[float, np.ndarray]:
    """x1 and x0 of a CS row of one council, from the outcomes: the council's change from the row's base
    year (averaged over a cohort row's years), and the same change of every never-treated council."""
    wide = frame.pivot(on="year", index="unit", values="y", sort_columns=True).sort("unit")
    g = frame.group_by("unit").agg(pl.col("g").first()).sort("unit")["g"].to_numpy()
    y = wide.drop("unit").to_numpy()
    col = {int(c): k for k, c in enumerate(wide.drop("unit").columns)}
    if name.startswith("group:g="):
        cohort = int(name.split("=")[1])
        post = [col[t] for t in YEARS if t >= cohort]
        change = y[:, post].mean(1) - y[:, col[cohort - 1]]
    else:
        e = int(name.split("=")[1])
        (cohort,) = [c for c in sorted(set(g[g > 0])) if _has(c, e)]  # the one cohort the row rests on
        t = cohort + e
        base = cohort - 1 if e >= 0 else t - 1  # varying base period
        change = y[:, col[t]] - y[:, col[base]]
    (i,) = np.flatnonzero(g == cohort)
    return float(change[i]), change[g == 0]


def _has(cohort: int, e: int) -> bool:
    """Whether cohort has an event-time e cell (varying base: a pre-period cell needs the year before)."""
    t = cohort + e
    return YEARS[0] < t <= YEARS[-1] and (e >= 0 or t - 1 >= YEARS[0])


def _hagemann_rows(doc: dict) -> dict[str, dict]:
    return {r["name"].rsplit(":", 1)[0]: r for r in doc["estimates"] if r.get("interval") == "hagemann"}


def test_england_shaped_rows_are_one_councils_comparison() -> None:
    frame = _panel(150, ENGLAND_COHORTS, seed=11)
    doc = _run(frame)
    rows = _hagemann_rows(doc)
    base = {r["name"]: r for r in doc["estimates"]}
    # the cohorts of one council (2016, 2020, 2021, 2024) and the early event times resting on 2024's council
    assert set(rows) == {"group:g=2016", "group:g=2020", "group:g=2021", "group:g=2024"} | {
        f"dynamic:e={e}" for e in (-10, -9, -8)
    }
    for name, row in rows.items():
        x1, x0 = _by_hand(frame, name)
        assert len(x0) == 139
        assert x1 - x0.mean() == pytest.approx(base[name]["estimate"], abs=1e-10)
        assert row["estimate"] == pytest.approx(base[name]["estimate"], abs=1e-12)
        ci = hagemann.interval(x1, x0, alpha=0.05, rho=2.0)
        assert row["ci_low"] == pytest.approx(ci["ci_low"], abs=1e-10)
        assert row["ci_high"] == pytest.approx(ci["ci_high"], abs=1e-10)
        assert row["p_value"] == pytest.approx(hagemann.pvalue(x1, x0, rho=2.0), abs=1e-12)
        assert row["default"] is True
    info = doc["inference"]["studentized"]["one_council"]
    assert info["rho"] == 2.0 and info["refused"] == {}
    assert {r["w"] for r in info["rows"].values()} == {hagemann.weight(139, 0.025, 2.0)}
    assert "no_valid_interval" not in doc["inference"]["studentized"]


def test_one_mover_gets_hagemann_for_the_whole_estimate() -> None:
    frame = _panel(40, [2017], seed=5)
    doc = _run(frame, rho=1.5)
    rows = _hagemann_rows(doc)
    assert {"simple", "dynamic", "group:g=2017"} <= set(rows)
    wide = frame.pivot(on="year", index="unit", values="y", sort_columns=True).sort("unit").drop("unit").to_numpy()
    change = wide[:, YEARS >= 2017].mean(1) - wide[:, list(YEARS).index(2016)]
    x1, x0 = change[0], change[1:]
    assert rows["simple"]["estimate"] == pytest.approx(x1 - x0.mean(), abs=1e-10)
    ci = hagemann.interval(x1, x0, alpha=0.05, rho=1.5)
    assert (rows["simple"]["ci_low"], rows["simple"]["ci_high"]) == pytest.approx((ci["ci_low"], ci["ci_high"]))
    assert doc["inference"]["default_interval"]["interval"] == "studentized"


def test_too_few_comparison_councils_for_rho_gives_no_interval_and_says_why() -> None:
    frame = _panel(6, [2017, 2019], seed=2)  # 4 comparison councils: no weight at 2.5 % per side
    doc = _run(frame)
    rows = _hagemann_rows(doc)
    assert rows and all(r["ci_low"] is None and r["p_value"] is None for r in rows.values())
    refused = doc["inference"]["studentized"]["one_council"]["refused"]
    assert set(refused) == set(rows)
    assert all("too few comparison councils (4)" in why for why in refused.values())


def test_comparison_councils_with_different_weights_are_refused() -> None:
    """A comparison council missing a year of the 2016 cohort's row enters it with other weights: that row
    is not one council against the mean of the same comparison elsewhere, so it gets no interval."""
    frame = _panel(60, ENGLAND_COHORTS, seed=4, drop=(("c050", 2019),))
    doc = _run(frame)
    rows = _hagemann_rows(doc)
    assert rows["group:g=2016"]["ci_low"] is None
    why = doc["inference"]["studentized"]["one_council"]["refused"]["group:g=2016"]
    assert "different weights" in why
    assert rows["dynamic:e=-10"]["ci_low"] is not None  # 2014 vs 2013: c050 has both years


def test_not_yet_treated_comparisons_that_change_across_the_years_are_refused() -> None:
    """With not-yet-treated comparison councils the 2016 council's row compares it with councils that leave
    the comparison group as they move (2018, 2019...): not one comparison group, so no interval, and why;
    the 2024 council's row (every other mover has moved by then) is one council against the never-treated."""
    frame = _panel(60, ENGLAND_COHORTS, seed=6)
    doc = _run(frame, control="notyet")
    refused = doc["inference"]["studentized"]["one_council"]["refused"]
    assert {"group:g=2016", "group:g=2020", "group:g=2021"} <= set(refused)
    assert all("comparison councils that move" in refused[n] for n in ("group:g=2016", "group:g=2020"))
    rows = _hagemann_rows(doc)
    assert rows["group:g=2024"]["ci_low"] is not None and "group:g=2024" not in refused


def test_without_the_key_one_council_rows_are_as_before() -> None:
    frame = _panel(40, [2017, 2019, 2019], seed=8)
    panel = make_panel(frame, unit="unit", time="year", outcome="y", cohort="g")
    inference = {"alpha": 0.05, "seed": 3, "permutations": 19, "interval": "studentized"}
    plain = run("cs", panel, OPTS, inference).to_dict()
    opted = _run(frame)
    assert not any(r.get("interval") == "hagemann" for r in plain["estimates"])
    assert plain["inference"]["studentized"]["no_valid_interval"]["names"]
    other = {r["name"]: r for r in opted["estimates"] if r.get("interval") != "hagemann"}
    for r in plain["estimates"]:  # every row the key does not replace is the same, bit for bit
        if r.get("interval") == "studentized" and r.get("p_value") is None:
            continue
        assert other[r["name"]] == r


def test_split_reads_the_structure_of_the_weights() -> None:
    cohort = np.array([2017, 0, 0, 0, 2019])
    v = np.array([-1.0, 0.5, 0.5])
    w = np.vstack([v, -v / 3, -v / 3, -v / 3, np.zeros(3)])
    assert split(w, cohort) == {"treated": 0, "comparisons": [1, 2, 3], "years": pytest.approx(v)}
    w2 = w.copy()
    w2[2, 1] = 0.0  # a comparison council without one year
    assert "different weights" in split(w2, cohort)["reason"]
    w3 = w.copy()
    w3[4] = 0.1  # another council's years enter
    assert "1 other treated councils' years enter it" in split(w3, cohort)["reason"]
    cube = np.arange(15.0).reshape(5, 3)
    got = row_interval("r", float(w.ravel() @ cube.ravel()), w, cube, cohort, list("abcde"), rho=1.0, alpha=0.05)
    assert got["x1"] == pytest.approx(v @ cube[0]) and got["q"] == 3 and got["why"].startswith("too few")


def test_pvalue_is_the_smallest_rejecting_level_and_matches_the_interval() -> None:
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=60)
    x1 = x0.mean() + 4.0
    ci = hagemann.interval(x1, x0, alpha=0.05, rho=2.0)
    eps = 1e-7
    for edge in (ci["ci_low"], ci["ci_high"]):  # just outside p <= 0.05, just inside above it
        inside = edge + (eps if edge == ci["ci_low"] else -eps)
        outside = edge - (eps if edge == ci["ci_low"] else -eps)
        assert (
            hagemann.pvalue(x1, x0, rho=2.0, theta0=outside) <= 0.05 < hagemann.pvalue(x1, x0, rho=2.0, theta0=inside)
        )
    p = hagemann.pvalue(x1, x0, rho=2.0)
    assert 0 < p < 0.05
    # the smallest level whose weight rejects: at p/2 per side the one-sided test rejects, a little below not
    dev = x0 - x0.mean()
    w_star = 1 - dev.max() / (x1 - x0.mean())
    assert hagemann.weight(60, p / 2 * 1.0001, 2.0) <= w_star < hagemann.weight(60, p / 2 * 0.999, 2.0)
    # inside the comparison councils' spread no level rejects
    assert hagemann.pvalue(x0.mean() + 0.5 * dev.max(), x0, rho=2.0) == 1.0


def test_one_sided_p_is_the_least_bound_over_the_grid() -> None:
    """Brute force over every grid weight up to w* where the bound has its valley inside (q 10, rho 1)."""
    q, rho = 10, 1.0
    top = 6200
    spread, d = 1.0, 1.0 / (1 - top / hagemann.STEPS)
    brute = min(hagemann.size_bound(i / hagemann.STEPS, q, rho) for i in range(4000, top + 1))
    assert all(hagemann.size_bound(i / 100, q, rho) > brute for i in range(0, 40))  # falls until the valley
    assert hagemann.one_sided_p(d, spread, q, rho) == pytest.approx(brute, rel=1e-12)


@pytest.mark.parametrize("method", ["sunab", "imputation", "twfe"])
def test_other_linear_estimators_with_one_mover_are_exact(method: str) -> None:
    """With one mover on a balanced panel every never-treated council enters each row alike (the design is
    symmetric in them), so Sun-Abraham, imputation and TWFE rows have the one-council structure too."""
    frame = _panel(40, [2017], seed=5)
    panel = make_panel(frame, unit="unit", time="year", outcome="y", cohort="g")
    inference = {"alpha": 0.05, "seed": 3, "permutations": 19, "interval": "studentized"}
    doc = run(method, panel, {}, inference | {"one_council": "hagemann", "hagemann_rho": 2.0}).to_dict()
    info = doc["inference"]["studentized"]["one_council"]
    head = "coef" if method == "twfe" else "simple"
    assert head in info["rows"] and info["refused"] == {}
    assert all(r["gap_to_estimate"] < 1e-10 and r["q"] == 39 for r in info["rows"].values())
    row = next(r for r in doc["estimates"] if r["name"] == f"{head}:studentized")
    assert row["interval"] == "hagemann" and row["ci_low"] is not None and row["default"] is True
