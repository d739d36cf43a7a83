"""Few-treated inference by default: which interval leads, that it is computed as before, and refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from evalkit.analysis.intervals import FEW_TREATED, choose, default_row
from evalkit.analysis.run import run
from evalkit.errors import UsageError
from evalkit.estimators.did.cs import callaway_santanna
from evalkit.estimators.did.simulate import simulate_staggered
from evalkit.estimators.inference.randomisation import randomisation_inference
from tests.conftest import evalkit_cmd

INF = {"seed": 7, "alpha": 0.05, "permutations": 19, "bootstrap": 99}


@pytest.fixture(scope="module")
def panel():
    return simulate_staggered(60, 8, {4: 3, 6: 3}, 1.0, ar=0.5, seed=3)


def _run(method, panel, options, inference=INF):
    return run(method, panel, options, inference)


def test_auto_rule_uses_the_threshold() -> None:
    assert choose("auto", "cs", FEW_TREATED - 1)[0] == "randomization"
    assert choose("auto", "cs", FEW_TREATED)[0] == "analytic"
    assert choose(None, "synth_staggered", 5)[0] == "analytic"  # no randomisation interval of its own kind
    assert choose("wild", "twfe", 5)[0] == "wild"
    with pytest.raises(UsageError):
        choose("wild", "cs", 5)
    with pytest.raises(UsageError):
        choose("bayes", "cs", 5)


def test_default_row_is_randomisation_with_analytic_beside(panel) -> None:
    res = _run("cs", panel, {"est_method": "reg"}, {**INF, "bootstrap": 0})
    rows = res.estimates.to_dicts()
    head = default_row(rows, "simple")
    assert head["name"] == "simple:randomisation" and head["interval"] == "randomization" and head["default"]
    analytic = next(r for r in rows if r["name"] == "simple")
    assert analytic["interval"] == "analytic" and analytic["default"] is False
    assert analytic["estimate"] == head["estimate"]
    assert default_row(rows, "dynamic")["name"] == "dynamic:randomisation"
    assert res.inference["default_interval"]["interval"] == "randomization"
    # every row says how its interval was made and exactly one row per estimand is the default
    assert res.estimates["interval"].null_count() == 0
    assert res.estimates.filter(pl.col("name").is_in(["simple", "simple:randomisation"]))["default"].sum() == 1


def test_analytic_setting_keeps_the_estimators_own_interval(panel) -> None:
    res = _run("cs", panel, {"est_method": "reg"}, {**INF, "bootstrap": 0, "interval": "analytic"})
    assert not res.estimates["name"].str.ends_with(":randomisation").any()
    assert default_row(res.estimates.to_dicts(), "simple")["name"] == "simple"


def test_randomisation_row_matches_the_single_statistic_version(panel) -> None:
    """The v1 plan's simple:randomisation rows are unchanged: same permutations, same inversion."""
    res = _run("cs", panel, {"est_method": "reg"}, {**INF, "bootstrap": 0})
    old = randomisation_inference(
        panel, lambda p: float(callaway_santanna(p, est_method="reg").estimate("simple")["estimate"]), n_perm=19, seed=7
    ).estimate("coef")
    new = res.estimate("simple:randomisation")
    for key in ("estimate", "ci_low", "ci_high", "p_value"):
        assert new[key] == pytest.approx(old[key], rel=1e-12, abs=1e-12)


def test_twfe_wild_beside_and_sdid_placebo(panel) -> None:
    tw = _run("twfe", panel, {})
    assert {"coef", "coef:randomisation", "coef:wild_bootstrap"} <= set(tw.estimates["name"])
    assert default_row(tw.estimates.to_dicts(), "coef")["name"] == "coef:randomisation"
    wild = _run("twfe", panel, {}, {**INF, "interval": "wild"})
    assert default_row(wild.estimates.to_dicts(), "coef")["name"] == "coef:wild_bootstrap"
    sd = _run("sdid", panel, {"se": "jackknife", "jackknife_weights": "fixed"})
    row = default_row(sd.estimates.to_dicts(), "att")
    assert row["name"] == "att:randomisation" and row["ci_low"] < row["estimate"] < row["ci_high"]


def test_randomisation_pretrend_keeps_size_where_wald_does_not() -> None:
    """One treated unit per cohort at the far event times: the analytic Wald test rejects parallel trends
    that hold by construction far more often than 5%; the permutation test does not."""
    from evalkit.analysis.pretrend import wald_pretrend

    wald, perm = [], []
    for k in range(12):
        p = simulate_staggered(40, 8, {3: 1, 5: 2, 7: 1}, 0.0, ar=0.5, seed=100 + k)
        res = _run("cs", p, {"est_method": "reg"}, {**INF, "bootstrap": 0, "seed": k})
        doc = res.to_dict()
        wald.append(wald_pretrend(doc)["p_value"] < 0.05)
        perm.append(res.inference["randomisation"]["pretrend"]["p_value"] < 0.05)
    assert np.mean(perm) <= 0.25 and np.mean(wald) > np.mean(perm)


def _panel_csv(tmp_path: Path) -> Path:
    p = simulate_staggered(30, 6, {3: 2, 5: 2}, 1.0, n_covariates=1, seed=1)
    path = tmp_path / "p.csv"
    p.data.rename({"unit": "id", "time": "t", "cohort": "g"}).write_csv(path)
    return path


@pytest.mark.parametrize("method", ["sunab", "imputation", "twfe", "sdid"])
def test_covariates_refused_where_not_used(tmp_path: Path, method: str) -> None:
    path = _panel_csv(tmp_path)
    proc = evalkit_cmd(
        "estimate",
        "--panel",
        str(path),
        "--unit",
        "id",
        "--time",
        "t",
        "--outcome",
        "y",
        "--cohort",
        "g",
        "--covariates",
        "x0",
        "--method",
        method,
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "covariates" in lines[0] and method in lines[0] and "Traceback" not in proc.stderr


def test_interval_the_method_cannot_compute_is_refused(tmp_path: Path) -> None:
    path = _panel_csv(tmp_path)
    proc = evalkit_cmd(
        "estimate",
        "--panel",
        str(path),
        "--unit",
        "id",
        "--time",
        "t",
        "--outcome",
        "y",
        "--cohort",
        "g",
        "--method",
        "cs",
        "--interval",
        "wild",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode == 2 and "wild" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_panel_output_says_which_interval_is_default(tmp_path: Path) -> None:
    path = _panel_csv(tmp_path)
    proc = evalkit_cmd(
        "estimate",
        "--panel",
        str(path),
        "--unit",
        "id",
        "--time",
        "t",
        "--outcome",
        "y",
        "--cohort",
        "g",
        "--method",
        "cs",
        "--permutations",
        "19",
        cwd=tmp_path,
    )
    # the command's default is auto-size: the studentised randomisation interval (benchmarks/SIZE.md)
    assert "default interval: 4 treated units" in proc.stdout and "*simple:studentized" in proc.stdout


def test_panel_ferman_pinto_uses_the_size_column(tmp_path: Path) -> None:
    p = simulate_staggered(40, 8, {4: 2, 6: 2}, 1.0, ar=0.5, seed=3)
    size = {u: float(k + 1) for k, u in enumerate(p.units)}
    frame = p.data.rename({"unit": "id", "time": "t", "cohort": "g"}).with_columns(
        pl.col("id").replace_strict(size, return_dtype=pl.Float64).alias("pop")
    )
    path = tmp_path / "p.csv"
    frame.write_csv(path)
    args = ["estimate", "--panel", str(path), "--unit", "id", "--time", "t", "--outcome", "y", "--cohort", "g"]
    args += ["--method", "cs", "--permutations", "19", "--interval", "ferman_pinto", "--json", "out.json"]
    evalkit_cmd(*args, "--size-column", "pop", cwd=tmp_path)
    import json

    doc = json.loads((tmp_path / "out.json").read_text())
    info = doc["inference"]["ferman_pinto"]
    assert info["size_given"] is True and "slope" in info
    head = default_row(doc["estimates"], "simple")
    assert head["name"] == "simple:ferman_pinto" and head["interval"] == "ferman_pinto"


def test_panel_hagemann_rho_gives_one_council_rows(tmp_path: Path) -> None:
    """--hagemann-rho ([inference] one_council = "hagemann"): the cohorts of one council get Hagemann rows;
    a rho below 1 or without a size-keeping interval is refused in one line (exit 2)."""
    import json

    p = simulate_staggered(30, 8, {4: 1, 6: 2}, 1.0, ar=0.5, seed=3)
    path = tmp_path / "p.csv"
    p.data.rename({"unit": "id", "time": "t", "cohort": "g"}).write_csv(path)
    args = ["estimate", "--panel", str(path), "--unit", "id", "--time", "t", "--outcome", "y", "--cohort", "g"]
    args += ["--method", "cs", "--permutations", "19"]
    evalkit_cmd(*args, "--hagemann-rho", "2", "--json", "out.json", cwd=tmp_path)
    doc = json.loads((tmp_path / "out.json").read_text())
    rows = {r["name"]: r for r in doc["estimates"] if r.get("interval") == "hagemann"}
    assert "group:g=4:studentized" in rows and rows["group:g=4:studentized"]["ci_low"] is not None
    assert doc["inference"]["studentized"]["one_council"]["rho"] == 2.0
    for extra in (["--hagemann-rho", "0.5"], ["--hagemann-rho", "2", "--interval", "randomization"]):
        proc = evalkit_cmd(*args, *extra, cwd=tmp_path, check=False)
        assert proc.returncode == 2 and "hagemann-rho" in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
