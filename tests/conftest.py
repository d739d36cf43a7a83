"""Shared fixtures: where the reference data live, and one run of the demo pipeline per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
REFERENCE = SHARED / "reference"
VALIDATION = SHARED / "validation"


def evalkit_cmd(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Run the installed console script as a user would (fresh process, real exit status)."""
    exe = Path(sys.executable).parent / "evalkit"
    proc = subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    if check and proc.returncode != 0:
        raise AssertionError(f"evalkit {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory) -> Path:
    """A working directory in which `evalkit ingest/panel/estimate/report` ran on the demo data."""
    work = tmp_path_factory.mktemp("demo")
    for stage in ("ingest", "panel", "estimate", "report"):
        evalkit_cmd(stage, cwd=work)
    return work


def need_reference() -> Path:
    if not REFERENCE.is_dir():
        pytest.skip(f"reference data not found at {REFERENCE} (the CI run has ../shared beside the checkout)")
    return REFERENCE
