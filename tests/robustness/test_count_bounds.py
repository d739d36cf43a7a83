"""Draw, permutation and specification counts have stated maxima (issue #30, item 5).

`permutations = 1e8` (or `bootstrap = 1e12`) passed validation and died with a MemoryError traceback
at about 7 GB. Every count is now refused at validation, in one line naming the key and the bound.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.methods import MAX_DRAWS
from evalkit.plan import load_plan

DEMO = Path(__file__).resolve().parents[2] / "evalkit" / "plans" / "demo.toml"


@pytest.mark.parametrize(
    "section,key,value",
    [
        ("inference", "permutations", 100_000_000),
        ("inference", "bootstrap", 1_000_000_000_000),
        ("power", "draws", 10**9),
        ("power", "permutations", 10**9),
    ],
)
def test_plan_counts_have_a_maximum(tmp_path: Path, section: str, key: str, value: int) -> None:
    text = DEMO.read_text(encoding="utf-8")
    if f"[{section}]" not in text:
        text += f"\n[{section}]\ndraws = 100\n"
    lines, out, inside = text.splitlines(), [], False
    for line in lines:
        if line.strip().startswith("["):
            inside = line.strip() == f"[{section}]"
        if inside and line.split("=")[0].strip() == key:
            continue
        out.append(line)
        if line.strip() == f"[{section}]":
            out.append(f"{key} = {value}")
    plan = tmp_path / "p.toml"
    plan.write_text("\n".join(out) + "\n", encoding="utf-8")
    with pytest.raises(EvalkitError, match=key):
        load_plan(plan)


def test_method_option_reps_has_a_maximum() -> None:
    from evalkit import methods

    methods.validate_options("sdid", {"reps": MAX_DRAWS})  # the bound itself is allowed
    with pytest.raises(ValueError, match=f"less than or equal to {MAX_DRAWS}"):
        methods.validate_options("sdid", {"reps": MAX_DRAWS + 1})


@pytest.mark.parametrize("flag", ["--permutations", "--bootstrap"])
def test_cli_counts_are_usage_errors(tmp_path: Path, flag: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "evalkit.cli", "estimate", "--panel", "x.csv", flag, "100000000"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and flag in done.stderr, done.stderr
