"""A report folder is one run (issue #30, item 7).

A `report` that failed on report.html had already replaced report.md and the figures; `kill -9`
during `estimate` left results.parquet new beside results.json old. Both stages now publish their
files as one set (evalkit.generations.staged): a failure before the set is committed leaves the
previous run whole, and a kill after it is rolled forward by the next command that touches the folder.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from evalkit import estimate as stage
from evalkit import generations
from evalkit.plan import open_plan
from evalkit.report import render

DEMO_PLAN = Path(__file__).resolve().parents[2] / "evalkit" / "plans"


@pytest.fixture
def work(demo_run: Path, tmp_path: Path, monkeypatch) -> Path:
    target = tmp_path / "w"
    shutil.copytree(demo_run, target, ignore=shutil.ignore_patterns(".evalkit.lock"))
    monkeypatch.chdir(target)
    return target


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_report_failing_on_html_leaves_the_previous_report(work: Path, monkeypatch) -> None:
    folder = work / "reports" / "demo"
    results = folder / "results.json"
    doc = json.loads(results.read_text())
    doc["title"] = doc["title"] + " (edited so that a new report.md would differ)"
    results.write_text(json.dumps(doc, indent=2))
    before = _files(folder)
    assert "report.md" in before and any(n.startswith("fig-") for n in before)

    def broken(*args, **kwargs):
        raise RuntimeError("report.html could not be rendered")

    monkeypatch.setattr(render, "render_html", broken)
    with pytest.raises(RuntimeError):
        render.render_report(results, folder)
    assert _files(folder) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


def test_estimate_killed_between_its_files_leaves_the_previous_pair(work: Path, monkeypatch) -> None:
    folder = work / "reports" / "demo"
    before = _files(folder)
    previous = json.loads((folder / "results.json").read_text())

    def changed_run(plan, **kwargs):
        doc = json.loads(json.dumps(previous))
        for a in doc["analyses"]:
            for row in a["results"]["estimates"]:
                if isinstance(row.get("estimate"), float):
                    row["estimate"] += 1.0  # a different run: a new parquet would differ
        return doc

    def killed(path, obj):
        raise KeyboardInterrupt("SIGKILL stand-in between results.parquet and results.json")

    monkeypatch.setattr(stage, "run_plan", changed_run)
    monkeypatch.setattr(stage, "write_json", killed)
    loaded = open_plan(DEMO_PLAN / "demo.toml", allow_deviations=True)
    with pytest.raises(KeyboardInterrupt):
        stage.run(loaded, folder, command="evalkit estimate")
    assert _files(folder) == before
    assert not [p for p in folder.iterdir() if p.name.startswith(".staging")]


def test_kill_after_commit_is_rolled_forward(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "a.txt").write_text("old a")
    (folder / "b.txt").write_text("old b")
    real_replace = os.replace
    calls = []

    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed mid-move")
        return real_replace(src, dst)

    monkeypatch.setattr(generations.os, "replace", dying_replace)
    with pytest.raises(KeyboardInterrupt):
        with generations.staged(folder) as s:
            (s / "a.txt").write_text("new a")
            (s / "b.txt").write_text("new b")
    monkeypatch.setattr(generations.os, "replace", real_replace)
    assert (folder / generations.JOURNAL).exists()  # the set was committed, half moved
    generations.recover(folder)  # what the next report/verify/estimate does first
    assert (folder / "a.txt").read_text() == "new a" and (folder / "b.txt").read_text() == "new b"
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt", "b.txt"]


def test_forged_journal_is_refused(tmp_path: Path) -> None:
    from evalkit.errors import EvalkitError

    folder = tmp_path / "r"
    folder.mkdir()
    (folder / generations.JOURNAL).write_text(json.dumps({"stage": "../../etc", "files": ["passwd"]}))
    with pytest.raises(EvalkitError, match="journal"):
        generations.recover(folder)
