"""Faults outside the input files: one line and exit 1 (bad data) or 2 (bad usage), nothing lost.

Disk full is injected (evalkit runs as any user, and root ignores read-only folders, so a chmod
cannot stand in for it): `os.fsync` or polars' Parquet writer raise ENOSPC as they do on a full
disk (checked by hand on a 8-40 KB tmpfs: the same lines came out). Each case runs `evalkit.cli.main`
in process on a copy of a good demo run and checks the earlier outputs are byte-identical afterwards.
"""

from __future__ import annotations

import errno
import os
import shutil
import sys
from pathlib import Path

import polars as pl
import pytest

from evalkit.cli import demo_plan
from tests.robustness.test_malformed_corpus import snapshot


@pytest.fixture
def work(demo_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "work"
    for sub in ("data", "reports"):
        shutil.copytree(demo_run / sub, target / sub)
    return target


def run(argv: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, str]:
    from evalkit import cli

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["evalkit", "-q", *argv])
    capsys.readouterr()
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def one_line(err: str, *words: str) -> None:
    assert len(err.splitlines()) == 1 and err.startswith("error: "), repr(err)
    assert "Traceback" not in err
    for w in words:
        assert w in err, (w, err)


def no_temp_files(work: Path) -> None:
    left = [p for p in work.rglob("*.tmp")]
    assert not left, left


def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("stage", [["ingest"], ["panel"], ["estimate"], ["report"]])
def test_error_case_disk_full_on_fsync(stage, work: Path, monkeypatch, capsys) -> None:
    before = snapshot(work)
    monkeypatch.setattr("evalkit.io.os.fsync", _enospc)
    code, err = run(stage, work, monkeypatch, capsys)
    assert code == 1, err
    one_line(err, "cannot write the file: No space left on device")
    monkeypatch.undo()
    assert snapshot(work) == before
    no_temp_files(work)


def test_error_case_disk_full_in_parquet_writer(work: Path, monkeypatch, capsys) -> None:
    """polars reports ENOSPC as a ComputeError; it is one line too."""

    def full(self, *a, **k):
        raise pl.exceptions.ComputeError(
            "parquet: File out of specification: underlying IO error: No space left on device (os error 28)"
        )

    before = snapshot(work)
    monkeypatch.setattr(pl.DataFrame, "write_parquet", full)
    code, err = run(["ingest"], work, monkeypatch, capsys)
    assert code == 1, err
    one_line(err, ".parquet: cannot write the file:", "No space left on device")
    monkeypatch.undo()
    assert snapshot(work) == before
    no_temp_files(work)


@pytest.mark.parametrize("out", ["afile", "afile/sub"])
def test_error_case_unwritable_output_folder(out: str, work: Path, monkeypatch, capsys) -> None:
    (work / "afile").write_text("not a folder\n")
    before = snapshot(work)
    code, err = run(["ingest", "--out", out], work, monkeypatch, capsys)
    assert code == 1, err
    one_line(err, out)
    assert snapshot(work) == before


def test_error_case_unwritable_file_in_place(work: Path, monkeypatch, capsys) -> None:
    """The output folder exists but a write into it fails (EACCES, as for a read-only folder)."""
    before = snapshot(work)

    def denied(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr("evalkit.io.tempfile.mkstemp", denied)
    code, err = run(["panel"], work, monkeypatch, capsys)
    assert code == 1, err
    one_line(err, "cannot write the file: Permission denied")
    monkeypatch.undo()
    assert snapshot(work) == before


def test_error_case_deflator_names_a_missing_file(work: Path, monkeypatch, capsys) -> None:
    before = snapshot(work)
    code, err = run(["panel", "--deflator", "no_such_deflator.csv"], work, monkeypatch, capsys)
    assert code == 1, err
    one_line(err, "no_such_deflator.csv", "not found")
    assert snapshot(work) == before


def _plan_without(text: str, section: str) -> str:
    head, rest = text.split(f"[{section}]\n", 1)
    return head + "[" + rest.split("\n[", 1)[1]


@pytest.mark.parametrize("argv", [["plan", "lock"], ["estimate", "--plan"]], ids=["plan-lock", "estimate"])
def test_error_case_plan_without_sample(argv, work: Path, monkeypatch, capsys) -> None:
    """Was accepted by `plan lock`, then a TypeError in estimate; now refused at both."""
    plan = work / "nosample.toml"
    plan.write_text(_plan_without(demo_plan().read_text(), "sample"))
    before = snapshot(work)
    code, err = run([*argv, str(plan)], work, monkeypatch, capsys)
    assert code == 1, err
    one_line(err, "nosample.toml", "column 'sample'", "missing section [sample]")
    assert snapshot(work) == before
    assert not (work / "nosample.lock.json").exists()


def test_error_case_plan_sample_without_years(work: Path, monkeypatch, capsys) -> None:
    plan = work / "noyears.toml"
    plan.write_text(demo_plan().read_text().replace("years = [2011, 2024]\n", "", 1))
    code, err = run(["plan", "lock", str(plan)], work, monkeypatch, capsys)
    assert code == 1, err
    one_line(err, "noyears.toml", "column 'sample.years'", "missing required key")
