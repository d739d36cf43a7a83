"""Tests and benchmarks find the shared data through one setting, never a machine path."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.shared_data import ENV, REPO

# A quoted absolute path under one of these top-level folders, or a Windows drive path, in code.
MACHINE_ROOTS = ("work", "home", "Users", "mnt", "data", "srv")
MACHINE_PATH = re.compile("[\"'](?:/(?:" + "|".join(MACHINE_ROOTS) + r")/|[A-Za-z]:\\\\)")


def test_no_hard_coded_data_paths() -> None:
    offenders = []
    for folder in ("tests", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            if ".peer-venv" in path.parts:
                continue
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if MACHINE_PATH.search(line):
                    offenders.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_env_var_moves_the_shared_folder(tmp_path) -> None:
    code = "from tests.shared_data import SHARED, REFERENCE; print(SHARED); print(REFERENCE)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "", ENV: str(tmp_path)},
    ).stdout.splitlines()
    assert out == [str(tmp_path), str(tmp_path / "reference")]
    default = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True, env={"PATH": ""}
    ).stdout.splitlines()
    assert default[0] == str(REPO.parent / "shared" / "data")
