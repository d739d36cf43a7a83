"""The multiverse: specifications, summary, the known truth on the demo, and identical results on
every parallel backend (serial, local processes, a Dask LocalCluster started here)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from evalkit import parallel
from evalkit.errors import EvalkitError
from evalkit.multiverse import write_multiverse
from evalkit.multiverse.specs import expand, validate
from evalkit.multiverse.summary import summarise
from evalkit.plan import load_plan
from tests.conftest import evalkit_cmd

DEMO_TRUTH = -6.0  # the demo data's built-in effect on children looked after per 10,000 (evalkit/demo/dgp.py)

PLAN = """
[plan]
name = "mv"
title = "demo multiverse"
question = "test"
synthetic_demo = true

[data]
panel = "data/processed/panel.parquet"

[sample]
years = [2011, 2024]

[inference]
seed = 20240101
bootstrap = 0
permutations = {perms}

[[analysis]]
label = "cla"
outcome = "cla_rate_per_10000"
method = "cs"
primary = true

[multiverse]
max_specs = {max_specs}
seed = 3

[multiverse.dimensions]
{dims}
"""


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("mvdemo")
    evalkit_cmd("ingest", cwd=work)
    evalkit_cmd("panel", cwd=work)
    return work


def write_plan(work: Path, name: str, dims: str, perms: int = 19, max_specs: int = 500) -> Path:
    path = work / f"{name}.toml"
    path.write_text(
        PLAN.format(dims=dims, perms=perms, max_specs=max_specs).replace('name = "mv"', f'name = "{name}"'),
        encoding="utf-8",
    )
    return path


def run_in(work: Path, plan_path: Path, out: str) -> dict:
    import os

    here = os.getcwd()
    os.chdir(work)
    try:
        return write_multiverse(load_plan(plan_path), work / out)
    finally:
        os.chdir(here)


# ------------------------------------------------------------------ specifications and summary


def test_expand_collapses_choices_an_estimator_ignores_and_subsets_with_a_seed():
    mv = validate(
        {
            "max_specs": 500,
            "dimensions": {
                "estimator": ["cs", "synth", "imputation"],
                "est_method": ["reg", "dr"],
                "comparison": ["never", "notyet"],
            },
        },
        "p",
    )
    specs, note = expand(mv, [2011, 2024])
    # cs: 2 est_methods x 2 pools; synth: 2 pools (est_method n/a); imputation: "never" only (notyet impossible)
    assert note["cross_product"] == 12 and note["distinct_specifications"] == 7
    assert note["not_applicable_combinations"] == 2
    assert sorted((s["estimator"], s["est_method"], s["comparison"]) for s in specs) == sorted(
        [
            ("cs", "reg", "never"),
            ("cs", "dr", "never"),
            ("cs", "reg", "notyet"),
            ("cs", "dr", "notyet"),
            ("synth", "n/a", "never"),
            ("synth", "n/a", "notyet"),
            ("imputation", "n/a", "n/a"),
        ]
    )
    small = validate({"max_specs": 3, "seed": 5, "dimensions": mv["dimensions"]}, "p")
    a, na = expand(small, [2011, 2024])
    b, _ = expand(small, [2011, 2024])
    assert len(a) == 3 and a == b and na["subset"].startswith("a random subset of 3 of 7")


def test_bad_multiverse_table_is_one_clear_error():
    with pytest.raises(EvalkitError, match="multiverse.dimensions.estimator"):
        validate({"dimensions": {"estimator": ["cs", "ols"]}}, "plan.toml")
    with pytest.raises(EvalkitError, match="multiverse.max_specs"):
        validate({"max_specs": 0, "dimensions": {"estimator": ["cs"]}}, "plan.toml")


def test_summary_matches_a_hand_computation():
    frame = pl.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e"],
            "estimator": ["cs", "cs", "sdid", "sdid", "cs"],
            "anticipation": ["0", "1", "n/a", "n/a", "0"],
            "estimate": [-2.0, -1.0, 0.5, -3.0, None],
            "ci_low": [-3.0, -2.5, -0.5, None, None],
            "ci_high": [-1.0, 0.5, 1.5, None, None],
            "status": ["ok", "ok", "ok", "ok", "not estimable: x"],
        }
    )
    for dim in (
        "comparison",
        "years",
        "boundaries",
        "kingston_richmond",
        "northamptonshire",
        "covariates",
        "est_method",
    ):
        frame = frame.with_columns(pl.lit("x").alias(dim))
    s = summarise(frame)
    # estimable: -2, -1, 0.5, -3; median -1.5 (negative); 3 of 4 negative
    assert s["estimable"] == 4 and s["not_estimable"] == 1
    assert s["median_estimate"] == -1.5 and s["share_same_sign"] == 0.75
    # intervals: [-3,-1] excludes 0; [-2.5,0.5] and [-0.5,1.5] do not
    assert s["with_interval"] == 3 and math.isclose(s["share_interval_excludes_zero"], 1 / 3)
    # estimator: cs mean (-2-1)/2 = -1.5, sdid mean (0.5-3)/2 = -1.25 -> range 0.25
    # anticipation (sdid rows are n/a): "0" -> -2, "1" -> -1 -> range 1.0: moves most
    assert s["moves_most"]["dimension"] == "anticipation" and s["moves_most"]["range"] == 1.0
    assert s["moves_most"]["lowest"]["value"] == "0" and s["moves_most"]["highest"]["value"] == "1"
    est = {m["dimension"]: m["range"] for m in s["choice_effects"]}
    assert est == {"anticipation": 1.0, "estimator": 0.25}


# ------------------------------------------------------------------ the demo, with its known truth


def test_demo_multiverse_covers_the_known_effect(demo_dir):
    dims = (
        'estimator = ["cs", "sunab", "imputation", "sdid"]\ncomparison = ["never", "notyet"]\n'
        "years = [[2011, 2024], [2013, 2024]]"
    )
    doc = run_in(demo_dir, write_plan(demo_dir, "truth", dims), "reports/truth")
    rows = [r for r in doc["rows"] if r["status"] == "ok"]
    assert len(rows) == len(doc["rows"]) == 10  # cs 2 pools, sunab, imputation, sdid; two windows
    with_ci = [r for r in rows if r["ci_low"] is not None]
    covered = [r["ci_low"] <= DEMO_TRUTH <= r["ci_high"] for r in with_ci]
    assert len(with_ci) >= 8 and np.mean(covered) >= 0.75, [(r["id"], r["ci_low"], r["ci_high"]) for r in with_ci]
    assert doc["summary"]["share_same_sign"] == 1.0 and doc["summary"]["sign_of_median"] == "negative"
    assert (demo_dir / "reports/truth/fig-multiverse.svg").read_text().startswith("<?xml")
    frame = pl.read_parquet(demo_dir / "reports/truth/multiverse.parquet")
    assert frame.height == 10 and {"estimate", "ci_low", "ci_high", "p_value", "treated_units"} <= set(frame.columns)


# ------------------------------------------------------------------ backends give the same bytes


def test_dask_and_processes_backends_are_byte_identical_to_serial(demo_dir):
    distributed = pytest.importorskip("distributed")
    dims = 'estimator = ["cs", "synth", "sdid"]\ncomparison = ["never", "notyet"]'
    plan = write_plan(demo_dir, "backends", dims, perms=9)
    files = ("multiverse.parquet", "multiverse.json", "fig-multiverse.svg")
    try:
        parallel.configure(backend="serial")
        run_in(demo_dir, plan, "reports/serial")
        parallel.configure(backend="processes", workers=2)
        run_in(demo_dir, plan, "reports/processes")
        with distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster:
            parallel.configure(backend="dask", scheduler=cluster.scheduler_address)
            run_in(demo_dir, plan, "reports/dask")
            parallel.close_clients()
    finally:
        parallel.configure()
    serial = {f: (demo_dir / "reports/serial" / f).read_bytes() for f in files}
    assert json.loads(serial["multiverse.json"])["summary"]["estimable"] == 5
    for backend in ("processes", "dask"):
        for f in files:
            assert (demo_dir / "reports" / backend / f).read_bytes() == serial[f], (backend, f)


def test_cli_prints_the_summary_and_no_progress_bar_when_not_a_terminal(demo_dir):
    plan = write_plan(demo_dir, "cli", 'estimator = ["cs", "imputation"]', perms=9)
    proc = evalkit_cmd("multiverse", "--plan", str(plan), "--max-specs", "1", cwd=demo_dir)
    assert proc.stderr == ""  # no bar, no spinner frames in CI logs
    assert (
        "1 specification(s) (a random subset of 1 of 2" in proc.stdout and "have the sign of the median" in proc.stdout
    )
    quiet = evalkit_cmd("--quiet", "multiverse", "--plan", str(plan), "--max-specs", "1", cwd=demo_dir)
    assert quiet.stdout == "" and quiet.stderr == ""
    bad = evalkit_cmd("multiverse", "--plan", str(plan), "--backend", "spark", cwd=demo_dir, check=False)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "--backend must be one of" in bad.stderr
