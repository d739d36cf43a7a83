"""verify recomputes the plan's state and the inputs' hashes; it never copies them from results.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from evalkit.cli import demo_plan
from tests.conftest import evalkit_cmd


def _work(demo_run: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(demo_run / "data", work / "data")
    (work / "plans").mkdir()
    shutil.copyfile(demo_plan(), work / "plans" / "p.toml")
    evalkit_cmd("plan", "lock", "plans/p.toml", cwd=work)
    return work


def test_plan_changed_since_lock_cannot_be_hidden(demo_run: Path, tmp_path: Path) -> None:
    """The tampered-results case of issue #14: deviations edited away and the report re-rendered."""
    work = _work(demo_run, tmp_path)
    plan = work / "plans" / "p.toml"
    plan.write_text(plan.read_text(encoding="utf-8").replace("alpha = 0.05", "alpha = 0.1"), encoding="utf-8")
    evalkit_cmd("estimate", "--plan", "plans/p.toml", "--allow-deviations", cwd=work)
    results = work / "reports" / "demo" / "results.json"
    doc = json.loads(results.read_text(encoding="utf-8"))
    assert doc["deviations"] and doc["plan_file"] == "plans/p.toml"
    doc["deviations"] = []  # "no deviations"
    results.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    evalkit_cmd("report", "--results", "reports/demo", cwd=work)
    proc = evalkit_cmd("verify", "reports/demo", cwd=work, check=False)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "deviations: the report says []" in proc.stderr


def test_untampered_run_reproduces_and_input_change_is_seen(demo_run: Path, tmp_path: Path) -> None:
    work = _work(demo_run, tmp_path)
    evalkit_cmd("estimate", "--plan", "plans/p.toml", cwd=work)
    evalkit_cmd("report", "--plan", "plans/p.toml", cwd=work)
    assert evalkit_cmd("verify", "reports/demo", cwd=work, check=False).returncode == 0
    # a different panel in force afterwards: the recorded input hash no longer holds
    evalkit_cmd("panel", "--boundaries", "separate", cwd=work)
    proc = evalkit_cmd("verify", "reports/demo", cwd=work, check=False)
    assert proc.returncode == 1
    assert "input data/processed/panel.parquet: the report says sha256" in proc.stderr


def test_truncated_results_json_is_one_line(demo_run: Path, tmp_path: Path) -> None:
    work = _work(demo_run, tmp_path)
    evalkit_cmd("estimate", "--plan", "plans/p.toml", cwd=work)
    results = work / "reports" / "demo" / "results.json"
    results.write_bytes(results.read_bytes()[:500])
    proc = evalkit_cmd("verify", "reports/demo", cwd=work, check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and len(proc.stderr.splitlines()) == 1 and "results.json" in proc.stderr
