"""Shared fixtures: where the reference data live, and one run of the demo pipeline per session."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.shared_data import ENV, REFERENCE, REPO, SHARED, VALIDATION, absent_reason

__all__ = [
    "ENV",
    "REFERENCE",
    "REPO",
    "SHARED",
    "VALIDATION",
    "england_panel",
    "evalkit_cmd",
    "need_reference",
    "need_validation",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files marked `first` (a module fixture that takes minutes) run first: with `pytest -n` and
    `--dist loadfile` they start at once beside the rest instead of last on one worker. Stable sort:
    the order within each file, and of the other files, is unchanged."""
    items.sort(key=lambda item: item.get_closest_marker("first") is None)


def evalkit_cmd(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the installed console script as a user would (fresh process, real exit status)."""
    exe = Path(sys.executable).parent / "evalkit"
    proc = subprocess.run(
        [str(exe), *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"}
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"evalkit {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


def run_plan_on_demo(work: Path, plan: str) -> None:
    """ingest, panel, estimate (no cache) and report of `plan` (a file in `work`) on the demo data."""
    evalkit_cmd("ingest", cwd=work)
    evalkit_cmd("panel", cwd=work)
    evalkit_cmd("estimate", "--plan", plan, "--no-cache", cwd=work)
    evalkit_cmd("report", "--plan", plan, cwd=work)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """A working directory in which `evalkit ingest/panel/estimate/report` ran on the demo data."""
    work = tmp_path_factory.mktemp("demo")
    for stage in ("ingest", "panel", "estimate", "report"):
        evalkit_cmd(stage, cwd=work)
    return work


def england_panel(tmp_path_factory, name: str, *panel_args: str) -> Path:
    """A working directory with the plans, `ingest --from` the reference files and `panel` run in it
    (skips when the reference folder is absent); for module fixtures of the England test files."""
    need_reference()
    work = tmp_path_factory.mktemp(name)
    shutil.copytree(REPO / "plans", work / "plans")
    evalkit_cmd("ingest", "--from", str(REFERENCE), cwd=work)
    evalkit_cmd("panel", *panel_args, cwd=work)
    return work


def need_reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(absent_reason(REFERENCE))
    return REFERENCE


def need_validation() -> Path:
    if not VALIDATION.is_dir():
        pytest.skip(absent_reason(VALIDATION))
    return VALIDATION


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared data folder ($EVALKIT_SHARED_DATA, default ../shared/data); skips when absent."""
    if not SHARED.is_dir():
        pytest.skip(absent_reason(SHARED))
    return SHARED


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return need_reference()


@pytest.fixture(scope="session")
def validation_dir() -> Path:
    return need_validation()


@pytest.fixture(scope="session")
def las():
    """DfE's LA lookup (reference dfe_las.csv) parsed once: the la_codes and boundary tests read it."""
    from evalkit.sources import la_codes

    path = REFERENCE / "dfe_las.csv"
    if not path.is_file():
        pytest.skip(f"reference data not available: {path} is absent")
    return la_codes.parse(path)
