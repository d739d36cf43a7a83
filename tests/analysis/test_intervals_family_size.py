"""Romano-Wolf under the size-keeping intervals ([inference].shared_size_draws, opt-in): the studentised and
Ferman-Pinto draws of every analysis of a family permute the same adoption dates (those of coefficient
randomisation), the stepdown on their joint null matches a brute-force stepdown, and without the key the
size-keeping kinds draw on their own as before (plan v4: Holm)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from evalkit.analysis.intervals import KEEP_DRAWS, SHARED_SIZE, UNIVERSE, UNIVERSE_SIZES
from evalkit.analysis.run import run
from evalkit.analysis.verdict import adjusted_p
from evalkit.estimators.data import LongPanel
from evalkit.estimators.did.simulate import simulate_staggered

INF = {"alpha": 0.05, "seed": 5, "permutations": 49}
OPTS = {"control": "never", "bootstrap": 0}


def _panels() -> tuple[LongPanel, LongPanel]:
    """Two outcomes of one set of councils, the second without three untreated councils."""
    p = simulate_staggered(30, 8, {5: 3, 6: 3}, effect=0.5, noise=1.0, seed=1)
    data = p.data.with_columns(pl.col("unit").cast(pl.Utf8).str.zfill(3))
    rng = np.random.default_rng(2)
    cohorts = dict(data.group_by("unit").agg(pl.col("cohort").first()).iter_rows())
    gone = [u for u in sorted(cohorts) if cohorts[u] == 0][:3]
    other = data.filter(~pl.col("unit").is_in(gone)).with_columns(
        (pl.col("y") * 0.5 + pl.Series(rng.normal(size=data.height - 8 * 3))).alias("y")
    )
    return LongPanel(data, p.outcome, p.covariates), LongPanel(other, p.outcome, p.covariates)


def _universe(a: LongPanel) -> dict:
    return {**a.unit_cohorts(), "999": 0}  # a council in neither panel takes part too


def _run(panel: LongPanel, kind: str, **extra) -> dict:
    return run("cs", panel, OPTS, {**INF, "interval": kind, KEEP_DRAWS: True, **extra}).to_dict()


def test_shared_size_draws_are_the_randomisation_assignments() -> None:
    a, b = _panels()
    universe = _universe(a)
    for panel in (a, b):
        ri = _run(panel, "randomization", **{UNIVERSE: universe})["inference"]["randomisation"]
        st = _run(panel, "studentized", **{UNIVERSE: universe, SHARED_SIZE: True})["inference"]["studentized"]
        assert st["joint"]["assignments"] == ri["joint"]["assignments"]
        # the estimate under every draw, made by two engines (coefficient permutation; the studentised
        # many-columns path): equal draw by draw, so the assignments are the same
        k_ri, k_st = ri["draws"]["names"].index("simple"), st["draws"]["names"].index("simple")
        x = np.array([np.nan if r[k_ri] is None else r[k_ri] for r in ri["draws"]["values"]], dtype=float)
        y = np.array([np.nan if r[k_st] is None else r[k_st] for r in st["draws"]["values"]], dtype=float)
        assert np.allclose(x, y, rtol=1e-8, atol=1e-10, equal_nan=True)


def _brute_force_stepdown(t: np.ndarray, null: np.ndarray) -> np.ndarray:
    """Romano-Wolf written out: at step s, the hypotheses not yet passed; max |t*| over them per draw."""
    t, null = np.abs(t), np.abs(null)
    null = null[np.all(np.isfinite(null), axis=1)]
    order = sorted(range(t.size), key=lambda j: -t[j])
    out, running = np.empty(t.size), 0.0
    for step, j in enumerate(order):
        rest = order[step:]
        count = sum(1 for row in null if max(row[r] for r in rest) >= t[j] - 1e-12)
        running = max(running, (1 + count) / (1 + len(null)))
        out[j] = min(running, 1.0)
    return out


@pytest.mark.parametrize("kind", ["studentized", "ferman_pinto"])
def test_romano_wolf_on_the_joint_size_keeping_null(kind: str) -> None:
    a, b = _panels()
    universe = _universe(a)
    extra = {UNIVERSE: universe, SHARED_SIZE: True}
    if kind == "ferman_pinto":  # sizes: the panels' councils, and the one outside them by the size model
        sizes = {u: 1000.0 + 50 * i for i, u in enumerate(sorted(universe))}
        extra |= {"unit_size": sizes, UNIVERSE_SIZES: sizes}
    analyses = [
        {"label": "a", "primary": True, "results": _run(a, kind, **extra)},
        {"label": "b", "primary": True, "results": _run(b, kind, **extra)},
    ]
    adj = adjusted_p(analyses, ["a", "b"], 0.05)
    assert adj["a"]["method"].startswith("Romano-Wolf stepdown on the joint size-keeping")
    joints = [x["results"]["inference"][kind]["joint"] for x in analyses]
    k = [j["names"].index("simple") for j in joints]
    t = np.array([j["observed"][i] for j, i in zip(joints, k)])
    null = np.array([[np.nan if r[i] is None else r[i] for r in j["null"]] for j, i in zip(joints, k)]).T
    if kind == "ferman_pinto":  # the rescaled estimates over their null spread
        sd = np.nanstd(null, axis=0, ddof=1)
        t, null = t / sd, null / sd
    expected = _brute_force_stepdown(t, null)
    got = np.array([adj["a"]["romano_wolf"], adj["b"]["romano_wolf"]])
    assert got == pytest.approx(expected, abs=1e-12)
    for lab in ("a", "b"):  # adjusted is never below the interval's own p-value
        assert adj[lab]["romano_wolf"] >= adj[lab]["p"] - 1e-12
        assert adj[lab]["used"] == adj[lab]["romano_wolf"]


def test_without_the_key_size_kinds_draw_alone_and_the_family_uses_holm() -> None:
    """Plan v4 (auto-size, family, no shared_size_draws): the universe does not reach the size-keeping
    kinds; their rows are those of a run without any family, and the adjustment is Holm."""
    a, b = _panels()
    universe = _universe(a)
    alone = _run(a, "studentized")
    in_family = _run(a, "studentized", **{UNIVERSE: universe})
    assert "joint" not in in_family["inference"]["studentized"]
    assert in_family["estimates"] == alone["estimates"]
    analyses = [
        {"label": "a", "primary": True, "results": in_family},
        {"label": "b", "primary": True, "results": _run(b, "studentized", **{UNIVERSE: universe})},
    ]
    adj = adjusted_p(analyses, ["a", "b"], 0.05)
    assert adj["a"]["method"].startswith("Holm") and "romano_wolf" not in adj["a"]


def test_ferman_pinto_without_a_size_for_every_council_draws_alone_and_says_why() -> None:
    a, _ = _panels()
    universe = _universe(a)
    sizes = {u: 1000.0 + 50 * i for i, u in enumerate(sorted(a.units))}  # "999" has none
    got = _run(a, "ferman_pinto", **{UNIVERSE: universe, SHARED_SIZE: True, "unit_size": sizes, UNIVERSE_SIZES: sizes})
    info = got["inference"]["ferman_pinto"]
    assert "joint" not in info and "no size" in info["joint_refused"]
    assert got["estimates"] == _run(a, "ferman_pinto", unit_size=sizes)["estimates"]
