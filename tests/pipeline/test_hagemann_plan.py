"""Hagemann's one-council intervals end to end on the synthetic demo panel (plan tests/data/hagemann_demo.toml,
opt-in [inference] one_council = "hagemann"): each one-council row's x1 - mean(x0), computed by hand from the
panel, is the row's estimate; the interval is hagemann.interval of those x's; the report says what it
assumes; the run reproduces byte for byte."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from evalkit import generations
from evalkit.estimators.inference import hagemann
from tests.conftest import REPO, evalkit_cmd

PLAN = REPO / "tests" / "data" / "hagemann_demo.toml"
OUT = Path("reports") / "hagemann-demo"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> tuple[Path, dict]:
    work = tmp_path_factory.mktemp("hagemann")
    shutil.copy(PLAN, work / "plan.toml")
    for stage in (("ingest",), ("panel",), ("estimate", "--plan", "plan.toml", "--no-cache")):
        evalkit_cmd(*stage, cwd=work)
    evalkit_cmd("report", "--plan", "plan.toml", cwd=work)
    return work, json.loads((work / OUT / "results.json").read_text())


def test_cohort_rows_are_the_councils_comparison_by_hand(run) -> None:
    work, doc = run
    res = next(a["results"] for a in doc["analyses"] if a["label"] == "spend_cs_never")
    panel = pl.read_parquet(generations.resolve(work / "data" / "processed" / "panel.parquet"))
    wide = panel.pivot(on="year", index="unit_code", values="spend_csc_per_child", sort_columns=True)
    first = dict(panel.group_by("unit_code").agg(pl.col("first_treated_year").first()).iter_rows())
    years = np.array([int(c) for c in wide.columns[1:]])
    y = wide.drop("unit_code").to_numpy()
    g = np.array([first[u] or 0 for u in wide["unit_code"]])
    base = {r["name"]: r for r in res["estimates"]}
    rows = {r["name"].rsplit(":", 1)[0]: r for r in res["estimates"] if r.get("interval") == "hagemann"}
    cohorts = sorted({int(c) for c in g if c})
    assert {f"group:g={c}" for c in cohorts} <= set(rows)  # every demo cohort is one council
    for c in cohorts:
        change = y[:, years >= c].mean(1) - y[:, list(years).index(c - 1)]
        x1, x0 = float(change[g == c][0]), change[g == 0]
        name = f"group:g={c}"
        assert x1 - x0.mean() == pytest.approx(base[name]["estimate"], abs=1e-10)
        ci = hagemann.interval(x1, x0, alpha=0.05, rho=2.0)
        assert (rows[name]["ci_low"], rows[name]["ci_high"]) == pytest.approx((ci["ci_low"], ci["ci_high"]), abs=1e-10)
        assert rows[name]["p_value"] == pytest.approx(hagemann.pvalue(x1, x0, rho=2.0), abs=1e-12)


def test_imputation_last_cohort_is_exact_and_the_others_say_why_not(run) -> None:
    """The imputation estimator's last cohort (no council untreated in its years but the never-treated) has
    the one-council structure; its other cohorts' rows also use not-yet-moved councils' untreated years (the
    year effects), so they get no interval and say why."""
    work, doc = run
    res = next(a["results"] for a in doc["analyses"] if a["label"] == "spend_imputation")
    info = res["inference"][res["inference"]["default_interval"]["interval"]]["one_council"]
    cohorts = {f"group:g={g}" for g in range(2016, 2024)}
    assert cohorts <= set(info["rows"]) and set(info["refused"]) == cohorts - {"group:g=2023"}
    assert info["rows"]["group:g=2023"]["gap_to_estimate"] < 1e-10
    assert all("other treated councils' years enter it" in why for why in info["refused"].values())
    md = (work / OUT / "report.md").read_text()
    assert "none valid (one council: see below)" in md and "No valid interval for Councils that moved in 2017" in md


def test_report_says_what_the_rows_assume(run) -> None:
    work, _ = run
    md = (work / OUT / "report.md").read_text()
    assert "| Councils that moved in 2017, Hagemann rearrangement test, allowing the council up to 2 times" in md
    assert "allowing its standard deviation up to 2 times every comparison council's" in md


def test_the_run_reproduces_byte_for_byte(run) -> None:
    work, _ = run
    proc = evalkit_cmd("verify", str(OUT), cwd=work, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
