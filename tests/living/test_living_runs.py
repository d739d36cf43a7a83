"""Plans that live (#27): a window through the latest year, refusals that name the analysis, dated
re-runs of one locked plan on new data, `evalkit diff` and the report's "Since the last run"."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from evalkit.diff import findings_changes
from evalkit.ingest import demo_dir
from tests.conftest import evalkit_cmd

PLAN = """
[plan]
name = "living"
title = "A living plan on the SYNTHETIC demo data"
question = "Did the rate of children looked after change?"
synthetic_demo = true

[data]
panel = "data/processed/panel.parquet"

[sample]
years = [{first}, {last}]
{through}
treated = "registry"
donors = "never_treated"

[inference]
alpha = 0.05
seed = 20240101
bootstrap = 0
permutations = 19

[[analysis]]
label = "{label}"
title = "Children looked after per 10,000"
outcome = "cla_rate_per_10000"
method = "{method}"
primary = true
{options}
"""


def _plan(
    folder: Path, name: str, *, first=2011, last=2024, through="", label="cla_twfe", method="twfe", options=""
) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(PLAN.format(first=first, last=last, through=through, label=label, method=method, options=options))
    evalkit_cmd("plan", "lock", str(path), cwd=folder)
    return path


@pytest.fixture()
def work(demo_run: Path, tmp_path: Path) -> Path:
    """A copy of the demo working folder (ingested and panelled), so a test may add data to it."""
    target = tmp_path / "work"
    shutil.copytree(demo_run / "data", target / "data")
    return target


def _years(results_dir: Path) -> list[int]:
    doc = json.loads((results_dir / "results.json").read_text())
    return doc["analyses"][0]["results"]["diagnostics"]["years"]


def test_window_runs_through_the_latest_year(work: Path) -> None:
    fixed = _plan(work, "fixed", last=2020)
    living = _plan(work, "living", last=2020, through='through = "latest"')
    evalkit_cmd("-q", "estimate", "--plan", str(fixed), "--out", "fixed", "--no-cache", cwd=work)
    evalkit_cmd("-q", "estimate", "--plan", str(living), "--out", "live", "--no-cache", cwd=work)
    assert _years(work / "fixed" / "living")[1] == 2020
    assert _years(work / "live" / "living")[1] == 2024  # the demo panel's last year
    doc = json.loads((work / "live" / "living" / "results.json").read_text())
    assert doc["sample_notes"]["window_through_latest"] == [2011, 2024]
    assert doc["plan"]["sample"]["years"] == [2011, 2020]  # the locked plan itself is unchanged


def test_refusal_names_the_analysis_and_the_cause(work: Path) -> None:
    short = _plan(work, "short", first=2021, label="cla_sdid", method="sdid", options='options = { se = "jackknife" }')
    proc = evalkit_cmd("estimate", "--plan", str(short), "--no-cache", cwd=work, check=False)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "error: cla_sdid: cla_rate_per_10000 covers 2021-2024 only: no cohort has two pre-periods and one post-period"
    ]


def _next_demo_release(folder: Path) -> None:
    """The demo CLA file as a next release: Hollinbury's 2024 count revised 754 -> 804 (rate 86 -> 92)."""
    folder.mkdir()
    raw = (demo_dir() / "cla_number_and_rate_per_10k_children.csv").read_bytes()
    old = b",008,Hollinbury,E99000008,Children looked after on 31 March each year,87380,754,86"
    assert raw.count(b"2024,Reporting year,Local authority,E92000001,England,E12000001,North East" + old) == 1
    (folder / "cla_number_and_rate_per_10k_children_2025.csv").write_bytes(
        raw.replace(old, old.replace(b",754,86", b",804,92"))
    )
    shutil.copy2(demo_dir() / "SYNTHETIC_DEMO_DATA.txt", folder / "SYNTHETIC_DEMO_DATA.txt")


def test_dated_rerun_diff_and_report(work: Path) -> None:
    plan = _plan(work, "living", through='through = "latest"')
    evalkit_cmd("-q", "estimate", "--plan", str(plan), "--run-date", "2025-12-01", cwd=work)
    _next_demo_release(work / "new")
    added = evalkit_cmd("ingest", "--from", "new", "--add", cwd=work)
    assert "revised Hollinbury (008) 2024 cla_at_31_march: 754 -> 804" in added.stdout
    evalkit_cmd("-q", "panel", cwd=work)
    evalkit_cmd("-q", "estimate", "--plan", str(plan), "--run-date", "2026-12-07", cwd=work)
    old, new = work / "reports" / "living" / "2025-12-01", work / "reports" / "living" / "2026-12-07"
    vintage = json.loads((new / "vintage.json").read_text())
    assert vintage["run_date"] == "2026-12-07"
    assert vintage["releases"]["cla"] == 2025
    diff = evalkit_cmd("diff", str(old), str(new), cwd=work)
    assert "Hollinbury (008) 2024 cla_count: 754 -> 804" in diff.stdout
    assert "verdicts flipped: none" in diff.stdout
    changes = json.loads((new / "changes.json").read_text())
    assert changes["same_locked_plan"] is True
    assert changes["data"]["panel"]["council_years_revised"] == 1
    assert changes["data"]["files_added"][0]["file"] == "cla_number_and_rate_per_10k_children_2025.csv"
    finding = changes["findings"][0]
    assert finding["old"]["estimate"] != finding["new"]["estimate"]  # the revision moved the estimate
    evalkit_cmd("-q", "report", "--results", str(new), cwd=work)
    md = (new / "report.md").read_text()
    assert md.index("## Since the last run") < md.index("**In brief:**")
    assert "Hollinbury 2024 cla_at_31_march 754 -> 804" in md.replace("\\", "")
    assert "Since the last run" in (new / "report.html").read_text()
    # Re-estimated after the diff, same data: same results bytes, so the changes still describe them.
    evalkit_cmd("-q", "estimate", "--plan", str(plan), "--run-date", "2026-12-07", cwd=work)
    evalkit_cmd("-q", "report", "--results", str(new), cwd=work)
    assert "Since the last run" in (new / "report.md").read_text()  # same bytes: still these results
    stale = dict(changes, new={**changes["new"], "results_sha256": "0" * 64})  # written for other results
    (new / "changes.json").write_text(json.dumps(stale))
    evalkit_cmd("-q", "report", "--results", str(new), cwd=work)
    assert "Since the last run" not in (new / "report.md").read_text()


def test_findings_changes_name_a_flipped_verdict() -> None:
    schema = {
        "label": pl.Utf8,
        "title": pl.Utf8,
        "primary": pl.Boolean,
        "estimate": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "interval": pl.Utf8,
        "verdict": pl.Utf8,
    }
    old = pl.DataFrame(
        [["a", "A", True, -1.0, -2.0, 0.5, "randomisation", "no detectable effect"]], schema=schema, orient="row"
    )
    new = pl.DataFrame(
        [
            ["a", "A", True, -1.5, -2.5, -0.1, "randomisation", "estimated effect"],
            ["b", "B", False, 3.0, 1.0, 5.0, "analytic", None],
        ],
        schema=schema,
        orient="row",
    )
    out = {f["label"]: f for f in findings_changes(old, new)}
    assert out["a"]["verdict_flipped"] is True
    assert out["a"]["old"]["verdict"] == "no detectable effect" and out["a"]["new"]["verdict"] == "estimated effect"
    assert out["a"]["estimate_change"] == pytest.approx(-0.5)
    assert out["b"]["old"]["estimate"] is None and out["b"]["verdict_flipped"] is False
