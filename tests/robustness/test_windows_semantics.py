"""Generations, pins and staged report sets under Windows file semantics, emulated on any system (#30).

Windows could not be run here, so the three ways its file system differs on these paths are emulated
where they enter evalkit, and each test fails on the code before this change:

* `os.fsync` needs a handle with write access (FlushFileBuffers; a read-only handle fails with EBADF):
  `Generation.publish` and `staged` flushed files opened "rb", so every ingest, panel, estimate and
  report would have failed on Windows;
* a folder or file another program holds open cannot be renamed or replaced (PermissionError): the
  clean-up after a switch raised, and the new generation CURRENT already named was deleted; a report
  file open in a spreadsheet ended the run with a traceback;
* a junction is not a symbolic link to Python, and `Path.is_junction` is 3.12+: on 3.11 a junction
  planted as `generations/` or as the lock file was followed.

The emulations: `os.fsync` refusing a read-only descriptor of a regular file (directories pass: evalkit
does not fsync them on Windows); `Path.rename`/`os.replace` refusing one chosen target; `os.lstat`
reporting a junction's reparse tag, with `Path.is_junction` removed as on 3.11.
"""

from __future__ import annotations

import errno
import os
import stat
import types
from pathlib import Path

import pytest

from evalkit import generations as gens
from evalkit.errors import EvalkitError

fcntl = pytest.importorskip("fcntl")  # the emulation reads a descriptor's access mode (POSIX test hosts)

IN_USE = "The process cannot access the file because it is being used by another process"


@pytest.fixture
def windows_fsync(monkeypatch) -> list[int]:
    """os.fsync as on Windows: EBADF for a read-only descriptor of a regular file; returns the calls made."""
    real = os.fsync
    calls: list[int] = []

    def fsync(fd: int) -> None:
        mode = os.fstat(fd).st_mode
        if stat.S_ISREG(mode) and fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_ACCMODE == os.O_RDONLY:
            raise OSError(errno.EBADF, "Bad file descriptor")
        calls.append(fd)
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return calls


def test_publishing_a_generation_flushes_through_a_writable_handle(tmp_path: Path, windows_fsync) -> None:
    from evalkit.ingest import demo_dir, ingest

    manifest = ingest(demo_dir(), tmp_path / "processed")
    gen, doc = gens.open_current(tmp_path / "processed")
    assert doc["checksums"] and set(doc["outputs"]) <= {Path(n).stem for n in doc["checksums"]}
    assert manifest["outputs"] and windows_fsync


def test_a_staged_report_set_flushes_through_a_writable_handle(tmp_path: Path, windows_fsync) -> None:
    out = tmp_path / "report"
    with gens.staged(out) as stage:
        (stage / "report.html").write_text("<p>new</p>", encoding="utf-8")
    assert (out / "report.html").read_text(encoding="utf-8") == "<p>new</p>"


def _publish(folder: Path, text: str) -> str:
    with gens.Generation(folder, "test") as gen:
        (gen.path / "out.txt").write_text(text, encoding="utf-8")
        gen.publish({})
        return gen.name


def test_an_old_generation_held_open_is_left_for_a_later_run(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "processed"
    first = _publish(folder, "1")
    second = _publish(folder, "2")
    real = Path.rename

    def rename(self: Path, target):
        if str(target).endswith(gens.TRASH):
            raise PermissionError(errno.EACCES, IN_USE)
        return real(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    third = _publish(folder, "3")  # used to raise here, after CURRENT named it, and delete it
    gen, _ = gens.open_current(folder)
    assert gen.name == third and (gen / "out.txt").read_text(encoding="utf-8") == "3"
    assert (folder / gens.GENERATIONS / first).is_dir()  # left for later, untouched
    monkeypatch.setattr(Path, "rename", real)
    fourth = _publish(folder, "4")
    assert sorted(p.name for p in (folder / gens.GENERATIONS).iterdir()) == sorted([third, fourth])
    assert second not in {third, fourth}


def test_a_report_file_held_open_is_one_line_and_the_set_is_finished_later(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "report"
    with gens.staged(out) as stage:
        for name in ("report.md", "report.html"):
            (stage / name).write_text("old", encoding="utf-8")
    real = os.replace

    def replace(src, dst):
        if Path(dst).name == "report.html":
            raise PermissionError(errno.EACCES, IN_USE)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(EvalkitError) as err:
        with gens.staged(out) as stage:
            for name in ("report.md", "report.html"):
                (stage / name).write_text("new", encoding="utf-8")
    line = err.value.one_line()
    assert "report.html" in line and "next evalkit command" in line and "\n" not in line, line
    assert (out / gens.JOURNAL).is_file()  # the set is committed, not lost
    monkeypatch.setattr(os, "replace", real)
    gens.recover(out)  # what the next command does first
    assert [(out / n).read_text(encoding="utf-8") for n in ("report.md", "report.html")] == ["new", "new"]
    assert not (out / gens.JOURNAL).exists()


@pytest.fixture
def junction(monkeypatch):
    """Make `mark(path)` report `path` as a junction, as Windows' os.lstat does, with Path.is_junction gone (3.11)."""
    marked: set[str] = set()
    real = os.lstat

    def lstat(path, *args, **kwargs):
        result = real(path, *args, **kwargs)
        if os.fspath(path) in marked:
            return types.SimpleNamespace(st_mode=result.st_mode, st_reparse_tag=0xA0000003)
        return result

    monkeypatch.delattr(Path, "is_junction", raising=False)
    monkeypatch.setattr(os, "lstat", lstat)
    return lambda path: marked.add(os.fspath(path))


def test_a_junction_as_generations_is_refused(tmp_path: Path, junction) -> None:
    folder = tmp_path / "processed"
    _publish(folder, "1")
    junction(folder / gens.GENERATIONS)
    with pytest.raises(EvalkitError, match="generations/ is a symbolic link"):
        _publish(folder, "2")
    with pytest.raises(EvalkitError, match="generations/ is a symbolic link"):
        gens.open_current(folder)


def test_a_junction_as_the_lock_file_is_refused(tmp_path: Path, junction) -> None:
    from evalkit.locking import LOCK_NAME, data_lock

    (tmp_path / LOCK_NAME).mkdir()
    junction(tmp_path / LOCK_NAME)
    with pytest.raises(EvalkitError, match="is a symbolic link"):
        with data_lock(tmp_path):
            pass
