"""The reproduction workflow cannot be run here, so check that what it runs still exists.

Every `evalkit` subcommand it calls is a command, every plan it names is in plans/, every report it
verifies is one the same job wrote, every data/raw file it names is catalogued (so `--fetch` puts it
there), and `compare --expect` equals the number of matrix cells.
"""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest

from tests.conftest import REPO

yaml = pytest.importorskip("yaml")

WORKFLOW = REPO / ".github" / "workflows" / "reproduce.yml"


def _jobs() -> dict:
    return yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"]


def _commands(job: dict) -> list[list[str]]:
    """Each `run:` line of a job, split into words (steps here hold one command each)."""
    out = []
    for step in job["steps"]:
        for line in (step.get("run") or "").splitlines():
            if line.strip():
                out.append(shlex.split(line))
    return out


def _evalkit_calls(job: dict) -> list[list[str]]:
    return [words[1:] for words in _commands(job) if words and words[0].endswith("evalkit")]


def test_evalkit_commands_plans_and_reports_exist() -> None:
    from evalkit.cli import app
    from evalkit.fetch import catalogue_path

    commands = {c.name or c.callback.__name__ for c in app.registered_commands}
    catalogued = {f["path"] for f in tomllib.loads(catalogue_path().read_text(encoding="utf-8"))["file"]}
    seen_any = False
    for name, job in _jobs().items():
        written = {"demo"}  # `evalkit estimate` without --plan writes reports/demo
        for args in _evalkit_calls(job):
            seen_any = True
            assert args[0] in commands, f"{name}: evalkit {args[0]} is not a command"
            for flag, value in zip(args, args[1:]):
                if flag == "--plan":
                    plan = REPO / value
                    assert plan.is_file(), f"{name}: plan {value} not found"
                    written.add(tomllib.loads(plan.read_text(encoding="utf-8"))["plan"]["name"])
                if value.startswith("data/raw/"):
                    assert value.removeprefix("data/raw/") in catalogued, f"{name}: {value} is not catalogued"
            if args[0] == "verify":
                report = re.fullmatch(r"reports/([^/]+)/?", args[1])
                assert report and report.group(1) in written, f"{name}: verifies {args[1]}, which no step wrote"
    assert seen_any


def test_compare_expects_every_matrix_cell() -> None:
    jobs = _jobs()
    matrix = jobs["demo"]["strategy"]["matrix"]
    cells = len(matrix["os"]) * len(matrix["python"])
    assert sorted(matrix["python"]) == ["3.11", "3.12", "3.13"]
    compare = [w for w in _commands(jobs["compare"]) if "compare" in w]
    assert len(compare) == 1
    words = compare[0]
    assert int(words[words.index("--expect") + 1]) == cells


LIVING = REPO / ".github" / "workflows" / "living.yml"


def test_living_workflow_runs_commands_and_plans_that_exist() -> None:
    """The scheduled living workflow: every evalkit subcommand it calls exists, its plan is in plans/."""
    from typer.main import get_command

    from evalkit.cli import app

    doc = yaml.safe_load(LIVING.read_text(encoding="utf-8"))
    commands = set(get_command(app).commands)  # type: ignore[attr-defined]
    job = doc["jobs"]["living"]
    calls = [words for words in _commands(job) if words and words[0].endswith("evalkit")]
    assert [c[1] for c in calls] == ["update", "ingest", "panel", "estimate", "report"]
    assert all(c[1] in commands for c in calls)
    assert "diff" in commands and "evalkit diff" in job["steps"][-3]["run"]
    assert (REPO / doc["env"]["PLAN"]).is_file()
    assert doc["env"]["RUNS"] == "reports/" + tomllib.loads((REPO / doc["env"]["PLAN"]).read_text())["plan"]["name"]
