"""Bounds on everything a user names (issue #30, item 5).

`--plan /dev/zero` and `--panel /dev/zero` grew to all of memory before the kernel killed them; a
FIFO as `--plan`, `--deflator` or `--registry` waited for ever; a plan of 5,000 nested arrays gave a
RecursionError traceback. Each is now one line, exit 2 (a usage error) or 1 (bad plan content),
refused before any read. Run as subprocesses with a timeout, so a regression hangs no one.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

POSIX = pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="POSIX only")


def _run(args: list[str], cwd: Path, timeout: float = 60) -> tuple[int, str]:
    """Exit status and stderr. The timeout is the guard against reading /dev/zero or waiting on a FIFO (no
    CPU or wall-time bound: those are flaky on a shared machine; the message below is written before any read)."""
    done = subprocess.run(
        [sys.executable, "-m", "evalkit.cli", *args], capture_output=True, text=True, cwd=cwd, timeout=timeout
    )
    return done.returncode, done.stderr


@POSIX
@pytest.mark.parametrize(
    "args",
    [
        ["estimate", "--plan", "/dev/zero"],
        ["estimate", "--panel", "/dev/zero", "--unit", "u", "--time", "t", "--outcome", "y", "--cohort", "g"],
        ["estimate", "--plan", "FIFO"],
        ["estimate", "--panel", "FIFO", "--unit", "u", "--time", "t", "--outcome", "y", "--cohort", "g"],
        ["panel", "--deflator", "FIFO"],
        ["panel", "--registry", "FIFO"],
        ["report", "--plan", "FIFO"],
        ["power", "--plan", "/dev/zero"],
        ["multiverse", "--plan", "FIFO"],
        ["ingest", "--from", "/dev/zero"],
    ],
    ids=lambda a: " ".join(a[:3]),
)
def test_special_file_named_by_the_user_is_a_usage_error(tmp_path: Path, args: list[str]) -> None:
    os.mkfifo(tmp_path / "FIFO")
    code, err = _run(args, tmp_path, timeout=60)
    assert code == 2, err
    assert len(err.strip().splitlines()) == 1, err
    assert "not a regular file" in err or "not a folder" in err


def test_oversized_plan_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.toml"
    with open(big, "wb") as fh:
        fh.truncate(5 << 20)  # sparse: 5 MiB of zeros, past the 4 MiB a plan may be
    code, err = _run(["estimate", "--plan", str(big)], tmp_path)
    assert code == 2 and "bytes" in err and len(err.strip().splitlines()) == 1, err


def test_deeply_nested_plan_is_one_line(tmp_path: Path) -> None:
    plan = tmp_path / "deep.toml"
    plan.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    code, err = _run(["estimate", "--plan", str(plan)], tmp_path)
    assert code == 1, err
    assert "too deeply" in err and len(err.strip().splitlines()) == 1, err


def test_moderately_nested_plan_is_refused_by_depth(tmp_path: Path) -> None:
    """Deep enough to exceed the stated bound but not Python's recursion limit."""
    from evalkit.errors import EvalkitError
    from evalkit.plan import PLAN_MAX_DEPTH, load_plan

    plan = tmp_path / "deep.toml"
    depth = PLAN_MAX_DEPTH + 2
    plan.write_text("x = " + "[" * depth + "1" + "]" * depth + "\n")
    with pytest.raises(EvalkitError, match="too deeply"):
        load_plan(plan)
