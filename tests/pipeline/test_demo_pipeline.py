"""The walking skeleton end to end: the four commands on the embedded demo, as a user runs them."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl

from evalkit.demo import dgp
from evalkit.generations import current_dir
from tests.conftest import evalkit_cmd


def _results(work: Path) -> dict:
    return json.loads((work / "reports" / "demo" / "results.json").read_text())


def _estimate(doc: dict, label: str, name: str) -> dict:
    analysis = next(a for a in doc["analyses"] if a["label"] == label)
    return next(e for e in analysis["results"]["estimates"] if e["name"] == name)


def test_every_stage_writes_its_outputs(demo_run: Path) -> None:
    processed = current_dir(demo_run / "data" / "processed")
    manifest = json.loads((processed / "manifest.json").read_text())
    assert manifest["synthetic_demo"] is True
    assert {"cla", "population", "s251", "ofsted"} <= set(manifest["outputs"])
    for entry in manifest["files"]:
        assert len(entry["sha256"]) == 64 and entry["rows"] > 0 and entry["parser_version"]
    assert (processed / "panel.parquet").exists() and (processed / "balance.parquet").exists()
    report = demo_run / "reports" / "demo"
    html = (report / "report.html").read_text()
    assert "SYNTHETIC DEMO DATA" in html and "<svg" in html
    assert "SYNTHETIC DEMO DATA" in (report / "report.md").read_text()
    assert list(report.glob("fig-*.svg"))


def test_known_cla_effect_is_recovered_within_its_interval(demo_run: Path) -> None:
    """The DGP's true effect (-6 per 10,000) lies inside each DiD estimator's 95% interval."""
    doc = _results(demo_run)
    for label, name in (("cla_cs_never", "simple"), ("cla_cs_notyet", "simple"), ("cla_twfe", "coef")):
        est = _estimate(doc, label, name)
        assert est["ci_low"] <= dgp.TRUE_CLA_EFFECT <= est["ci_high"], (label, est)
        assert abs(est["estimate"] - dgp.TRUE_CLA_EFFECT) < 1.0, (label, est)


def test_known_null_on_spending_is_not_rejected(demo_run: Path) -> None:
    est = _estimate(_results(demo_run), "spend_cs_never", "simple")
    assert est["ci_low"] <= dgp.TRUE_SPEND_EFFECT <= est["ci_high"]


def test_synthetic_estimators_land_near_the_truth(demo_run: Path) -> None:
    doc = _results(demo_run)
    for label in ("cla_synth", "cla_sdid"):
        est = _estimate(doc, label, "att")
        assert abs(est["estimate"] - dgp.TRUE_CLA_EFFECT) < 1.5, (label, est)


def test_provenance_is_recorded(demo_run: Path) -> None:
    doc = _results(demo_run)
    prov = doc["provenance"]
    assert prov["inputs"][0]["path"] == "data/processed/panel.parquet"
    assert len(prov["inputs"][0]["sha256"]) == 64
    assert prov["seeds"]["inference.seed"] == 20240101
    assert prov["command"] == "evalkit estimate"
    assert doc["lock"] is not None and doc["plan_sha256"] == doc["lock"]["sha256"]
    assert str(demo_run) not in (demo_run / "reports" / "demo" / "report.html").read_text()


def test_verify_reproduces_the_demo_byte_for_byte(demo_run: Path) -> None:
    proc = evalkit_cmd("verify", "reports/demo", cwd=demo_run)
    assert "reproduced" in proc.stdout


def test_verify_detects_drift(demo_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "demo"
    shutil.copytree(demo_run / "reports" / "demo", copy)
    html = copy / "report.html"
    html.write_text(html.read_text().replace("SYNTHETIC DEMO DATA", "SYNTHETIC DEMO DATA!", 1))
    proc = evalkit_cmd("verify", str(copy), cwd=demo_run, check=False)
    assert proc.returncode == 1
    assert "report.html" in proc.stderr


def test_ingest_is_idempotent(demo_run: Path) -> None:
    processed = demo_run / "data" / "processed"
    before = {p.relative_to(processed).as_posix(): p.read_bytes() for p in sorted(processed.rglob("*")) if p.is_file()}
    evalkit_cmd("ingest", cwd=demo_run)
    after = {p.relative_to(processed).as_posix(): p.read_bytes() for p in sorted(processed.rglob("*")) if p.is_file()}
    assert before == after


def test_bad_input_fails_in_one_line_and_leaves_outputs_untouched(demo_run: Path, tmp_path: Path) -> None:
    from evalkit.ingest import demo_dir

    bad = tmp_path / "bad"
    shutil.copytree(demo_dir(), bad)
    cla = next(bad.glob("cla_*.csv"))
    lines = cla.read_text(encoding="utf-8-sig").splitlines()
    index = next(i for i, line in enumerate(lines) if ",Local authority," in line)
    cells = lines[index].split(",")
    cells[-2] = "twelve"  # children_count
    lines[index] = ",".join(cells)
    cla.write_text("\n".join(lines) + "\n", encoding="utf-8")
    processed = demo_run / "data" / "processed"
    before = {p.relative_to(processed).as_posix(): p.read_bytes() for p in sorted(processed.rglob("*")) if p.is_file()}
    proc = evalkit_cmd("ingest", "--from", str(bad), cwd=demo_run, check=False)
    assert proc.returncode == 1
    message = proc.stderr.strip()
    assert "\n" not in message
    assert cla.name in message and f"row {index + 1}" in message and "children_count" in message
    after = {p.relative_to(processed).as_posix(): p.read_bytes() for p in sorted(processed.rglob("*")) if p.is_file()}
    assert before == after


def test_panel_values_match_the_demo_source_files(demo_run: Path) -> None:
    """Spending per child and CLA rate in the panel, recomputed from the raw demo files."""
    from evalkit.ingest import demo_dir

    panel = pl.read_parquet(current_dir(demo_run / "data" / "processed") / "panel.parquet")
    files = demo_dir()
    pop = pl.read_csv(next(files.glob("ons_*.csv")), infer_schema=False)
    cla = pl.read_csv(next(files.glob("cla_*.csv")), infer_schema=False, encoding="utf8")
    code, year = "030", 2019
    population = float(
        pop.filter(pl.col("old_la_code") == code, pl.col("time_period") == str(year - 1))["population_estimate"][0]
    )
    count = float(
        cla.filter(
            pl.col("old_la_code") == code,
            pl.col("time_period") == str(year),
            pl.col("population_type").str.contains("on 31 March"),
        )["children_count"][0]
    )
    row = panel.filter(pl.col("unit_code") == code, pl.col("year") == year).row(0, named=True)
    assert row["population_0_17"] == population
    assert row["cla_count"] == count
    assert abs(row["cla_rate_per_10000"] - count / population * 10_000) < 1e-3
    assert row["cohort"] == 2018 and row["treated_now"] == 1  # go-live 2017-04-01: first 31 March after it is 2018
