"""Done-when of #27 on the real data: a simulated next CLA release (the 2025 rows copied as 2026,
Sunderland's 2025 count revised 510 -> 520) added with `ingest --add`, the locked England plan (v1, to
save CPU) re-run as a dated run, `evalkit diff` between the runs and the new report's first section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import england_panel, evalkit_cmd, need_reference
from tests.living.simulated import next_cla_release

pytestmark = pytest.mark.slow  # two England v1 runs: minutes of CPU

PLAN = "plans/england-adm.toml"
RUNS = Path("reports") / "england-adm"


@pytest.fixture(scope="module")
def reruns(tmp_path_factory) -> tuple[Path, str]:
    work = england_panel(tmp_path_factory, "living-england")
    evalkit_cmd("-q", "estimate", "--plan", PLAN, "--run-date", "2025-12-01", cwd=work)
    next_cla_release(need_reference(), work / "next")
    added = evalkit_cmd("ingest", "--from", "next", "--add", cwd=work)
    evalkit_cmd("-q", "panel", cwd=work)
    evalkit_cmd("-q", "estimate", "--plan", PLAN, "--run-date", "2026-12-07", cwd=work)
    return work, added.stdout


def test_ingest_reports_the_new_year_and_the_one_revision(reruns) -> None:
    _, out = reruns
    lines = [line for line in out.splitlines() if line.startswith(("cla:", "  revised"))]
    assert lines[0].startswith("cla: ") and "new council-year(s) (2026)" in lines[0]
    assert "1 revised council-year(s) (2 value(s))" in lines[0]
    assert lines[1:] == [
        "  revised Sunderland (394) 2025 cla_at_31_march: 510 -> 520",
        "  revised Sunderland (394) 2025 cla_rate_per_10000: 90 -> 92",
    ]


def test_dated_rerun_of_the_same_locked_plan_and_what_changed(reruns) -> None:
    work, _ = reruns
    old, new = work / RUNS / "2025-12-01", work / RUNS / "2026-12-07"
    a = json.loads((old / "results.json").read_text())
    b = json.loads((new / "results.json").read_text())
    assert a["plan_sha256"] == b["plan_sha256"] and a["lock"] == b["lock"] and not b["deviations"]
    assert json.loads((new / "vintage.json").read_text())["run_date"] == "2026-12-07"
    diff = evalkit_cmd("diff", str(old), str(new), cwd=work)
    assert "revised Sunderland (394) 2025 cla_at_31_march: 510 -> 520" in diff.stdout
    assert "Sunderland (394) 2025 cla_count: 510 -> 520" in diff.stdout
    changes = json.loads((new / "changes.json").read_text())
    flipped_by_hand = sorted(
        c["label"]
        for c in b["conclusions"]
        if c["verdict"] != next(o["verdict"] for o in a["conclusions"] if o["label"] == c["label"])
    )
    assert changes["verdicts_flipped"] == flipped_by_hand
    assert f"verdicts flipped: {', '.join(flipped_by_hand) if flipped_by_hand else 'none'}" in diff.stdout
    evalkit_cmd("-q", "report", "--results", str(new), cwd=work)
    md = (new / "report.md").read_text()
    first_section = md.index("\n## ")
    assert md[first_section:].startswith("\n## Since the last run")
    assert "Sunderland 2025 cla_at_31_march 510 -> 520" in md.replace("\\", "")
