"""Matched comparators: Mahalanobis, propensity score and DfE statistical neighbours."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.panel import matching
from tests.conftest import need_reference

YEARS = range(2010, 2020)


def panel(
    units: dict[str, tuple], treated: dict[str, int] | None = None, other: set[str] = frozenset()
) -> pl.DataFrame:
    """units: code -> (cla_rate, spend_per_child), constant over years; treated: code -> cohort."""
    treated = treated or {}
    rows = []
    for code, (cla, spend) in units.items():
        g = treated.get(code, 0)
        role = "treated" if g else ("other_intervention" if code in other else "comparison")
        for year in YEARS:
            rows.append(
                {
                    "unit_code": code,
                    "year": year,
                    "cohort": g,
                    "ever_treated": int(g > 0),
                    "registry_roles": role,
                    "cla_rate_per_10000": float(cla),
                    "spend_csc_per_child": float(spend),
                }
            )
    return pl.DataFrame(rows)


CANDIDATES = {"A": (51, 502), "B": (60, 650), "C": (30, 350), "D": (80, 700), "E": (45, 560), "F": (70, 520)}


def comparators(matches: pl.DataFrame, unit: str) -> list[str]:
    return matches.filter(pl.col("treated_unit") == unit).sort("rank")["comparator_unit"].to_list()


def test_mahalanobis_picks_known_nearest():
    frame = panel({"T": (50, 500), **CANDIDATES}, {"T": 2015})
    matches, _ = matching.nearest_neighbours(frame, k=1)
    assert comparators(matches, "T") == ["A"]
    assert matches["method"].to_list() == ["mahalanobis"]


def test_without_replacement_no_comparator_twice():
    frame = panel({"T1": (50, 500), "T2": (50, 501), **CANDIDATES}, {"T1": 2015, "T2": 2015})
    with_repl, _ = matching.nearest_neighbours(frame, k=1)
    assert comparators(with_repl, "T1") == comparators(with_repl, "T2") == ["A"]
    for method in ("mahalanobis", "propensity"):
        matches, _ = matching.nearest_neighbours(frame, k=2, replacement=False, method=method)
        assert matches.height == 4
        assert matches["comparator_unit"].n_unique() == matches.height


def test_caliper_drops_far_matches():
    frame = panel({"T": (50, 500), **CANDIDATES}, {"T": 2015})
    full, _ = matching.nearest_neighbours(frame, k=6)
    d = full.sort("rank")["distance"].to_list()
    assert d == sorted(d) and d[0] < d[1]
    tight, _ = matching.nearest_neighbours(frame, k=6, caliper=(d[0] + d[1]) / 2)
    assert comparators(tight, "T") == ["A"]
    none, _ = matching.nearest_neighbours(frame, k=6, caliper=d[0] / 2)
    assert none.height == 0


def test_propensity_ranks_identical_candidate_first():
    units = {
        "T1": (50, 500),
        "T2": (75, 690),
        "T3": (65, 600),
        **CANDIDATES,
        "G": (65, 600),
        "H": (40, 450),
        "I": (55, 580),
    }
    frame = panel(units, {"T1": 2015, "T2": 2016, "T3": 2016})
    info: dict = {}
    matches, _ = matching.nearest_neighbours(frame, k=3, method="propensity", info=info)
    assert comparators(matches, "T3")[0] == "G"
    assert matches.filter(pl.col("treated_unit") == "T3", pl.col("rank") == 1)["distance"][0] == pytest.approx(
        0.0, abs=1e-9
    )
    assert set(matches["method"]) == {"propensity"}
    assert set(info["propensity"]) == {"ridge", "separation_fallback"}
    # caliper "auto" = 0.2 x SD of the logit score; only defined for propensity
    info = {}
    matching.nearest_neighbours(frame, method="propensity", caliper="auto", info=info)
    assert info["caliper_used"] > 0
    with pytest.raises(EvalkitError):
        matching.nearest_neighbours(frame, caliper="auto")


def test_propensity_separation_falls_back_to_ridge():
    # one treated council far outside the candidates: perfectly separable
    frame = panel({"T": (200, 2000), **CANDIDATES}, {"T": 2015})
    info: dict = {}
    matches, _ = matching.nearest_neighbours(frame, k=2, method="propensity", info=info)
    assert info["propensity"]["separation_fallback"] is True
    assert matches.height == 2 and np.isfinite(matches["distance"].to_numpy()).all()


def sn_table() -> pl.DataFrame:
    rows = []
    order_2025 = ["372", "999", "373", "894", "370", "941", "384"]  # 372 treated, 999 absent, 373 other intervention
    order_2021 = ["384", "370", "894", "372", "373"]
    for model, order in (("2025", order_2025), ("2021", order_2021)):
        rows += [
            {"model": model, "la_code": "371", "neighbour_code": c, "rank": r, "closeness": "close"}
            for r, c in enumerate(order, start=1)
        ]
    rows.append({"model": "2021", "la_code": "372", "neighbour_code": "370", "rank": 1, "closeness": "close"})
    return pl.DataFrame(rows, schema_overrides={"rank": pl.Int8})


SN_UNITS = {
    "371": (50, 500),
    "372": (52, 510),
    "373": (49, 499),
    "370": (60, 650),
    "384": (30, 350),
    "894": (80, 700),
    "928": (45, 560),
    "380": (51, 502),
}


def test_statistical_neighbours_rank_order_and_skips():
    frame = panel(SN_UNITS, {"371": 2015, "372": 2016}, other={"373"})
    info: dict = {}
    matches, _ = matching.nearest_neighbours(
        frame, k=10, method="statistical_neighbours", neighbours=sn_table(), info=info
    )
    # 372 treated, 999 absent and 373 (other intervention) skipped; 941 is part of harmonised unit 928
    assert comparators(matches, "371") == ["894", "370", "928", "384"]
    assert matches.filter(pl.col("treated_unit") == "371").sort("rank")["distance"].to_list() == [4.0, 5.0, 6.0, 7.0]
    assert info["sn_model_used"] == {"371": "2025", "372": "2021"}  # 372 has no 2025 row: falls back
    assert comparators(matches, "372") == ["370"]
    top2, _ = matching.nearest_neighbours(
        frame, k=2, method="statistical_neighbours", neighbours=sn_table(), sn_model="2021"
    )
    assert comparators(top2, "371") == ["384", "370"]
    no_repl, _ = matching.nearest_neighbours(
        frame, k=2, replacement=False, method="statistical_neighbours", neighbours=sn_table(), sn_model="2021"
    )
    assert comparators(no_repl, "371") == ["384", "370"] and comparators(no_repl, "372") == []
    capped, _ = matching.nearest_neighbours(
        frame, k=10, caliper=5, method="statistical_neighbours", neighbours=sn_table()
    )
    assert comparators(capped, "371") == ["894", "370"]


def test_match_and_write_statistical_neighbours(tmp_path: Path):
    frame = panel(SN_UNITS, {"371": 2015}, other={"373"})
    with pytest.raises(EvalkitError, match="statistical_neighbours.parquet") as err:
        matching.match_and_write(frame, tmp_path, method="statistical_neighbours")
    assert "\n" not in str(err.value)
    sn_table().write_parquet(tmp_path / "statistical_neighbours.parquet")
    summary = matching.match_and_write(frame, tmp_path, method="statistical_neighbours", k=2)
    assert summary["method"] == "statistical_neighbours"
    assert summary["options"]["k"] == 2 and summary["options"]["sn_model"] == "2025"
    written = pl.read_parquet(tmp_path / "matches.parquet")
    assert written["method"].to_list() == ["statistical_neighbours"] * 2
    assert (tmp_path / "balance.parquet").exists()
    default = matching.match_and_write(frame, tmp_path)
    assert default["method"] == "mahalanobis" and default["options"]["replacement"] is True


def test_balance_improves_after_matching():
    rng = np.random.default_rng(1)
    units = {f"C{i:02d}": (float(rng.uniform(20, 100)), float(rng.uniform(300, 900))) for i in range(40)}
    units.update({"T1": (85, 820), "T2": (90, 850), "T3": (80, 800)})
    frame = panel(units, {"T1": 2015, "T2": 2016, "T3": 2017})
    for method in ("mahalanobis", "propensity"):
        _, balance = matching.nearest_neighbours(frame, k=2, method=method)
        for row in balance.iter_rows(named=True):
            assert abs(row["smd_after"]) <= abs(row["smd_before"])


def test_real_doncaster_gets_published_neighbours(tmp_path: Path):
    reference = need_reference()
    from evalkit.ingest import ingest
    from evalkit.panel.build import build_panel

    ingest(reference, tmp_path)
    frame, _ = build_panel(tmp_path)
    assert "371" in frame.filter(pl.col("cohort") > 0)["unit_code"].to_list()
    summary = matching.match_and_write(frame, tmp_path, method="statistical_neighbours", k=5)
    matches = pl.read_parquet(tmp_path / "matches.parquet")
    picked = comparators(matches, "371")
    assert picked
    model = summary["options"]["sn_model_used"]["371"]
    from evalkit.generations import current_dir

    sn = pl.read_parquet(current_dir(tmp_path) / "statistical_neighbours.parquet").filter(
        pl.col("la_code") == "371", pl.col("model") == model
    )
    published = sn.sort("rank")["neighbour_code"].to_list()
    assert set(picked) <= set(published)
    # in the published rank order
    assert picked == [c for c in published if c in picked]
    pool = set(matching.candidates(frame))
    assert set(picked) <= pool
