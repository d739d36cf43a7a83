"""Bad option values are usage errors (exit 2, one line); a missing plan is reported as missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import evalkit_cmd

BAD = [
    ("panel", "--match-k", "0"),
    ("panel", "--match-k", "-1"),
    ("panel", "--match-method", "nearest"),
    ("panel", "--boundaries", "merge"),
    ("panel", "--sn-model", "1999"),
    ("estimate", "--panel", "p.csv", "--unit", "u", "--time", "t", "--outcome", "y", "--bootstrap", "-5"),
    ("estimate", "--panel", "p.csv", "--unit", "u", "--time", "t", "--outcome", "y", "--control", "sometimes"),
]


@pytest.mark.parametrize("argv", BAD, ids=[" ".join(a) for a in BAD])
def test_bad_option_value_exits_2(argv: tuple[str, ...], tmp_path: Path) -> None:
    proc = evalkit_cmd(*argv, cwd=tmp_path, check=False)
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_missing_plan_is_reported_as_missing(tmp_path: Path) -> None:
    proc = evalkit_cmd("estimate", "--plan", "nope.toml", cwd=tmp_path, check=False)
    assert proc.returncode in (1, 2) and "not found" in proc.stderr and "another evalkit run" not in proc.stderr
