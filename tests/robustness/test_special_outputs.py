"""Outputs named onto special files (issue #30, item 4): streamed, never renamed over.

`evalkit estimate ... --json /dev/null` run as root used to replace the device with a regular file:
the atomic writer's os.replace swaps out a device, a FIFO or a symlink like any file. Each case
builds its own special file in a temporary folder (never the real /dev/null).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.io import atomic_write_text, write_json, write_parquet

POSIX = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs (POSIX)")


def _null_device(folder: Path) -> Path:
    """A character device with /dev/null's numbers (1, 3), made with mknod (root only)."""
    dev = folder / "null"
    try:
        os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except (PermissionError, AttributeError, OSError) as exc:
        pytest.skip(f"cannot create a device node here: {exc}")
    return dev


def test_device_stays_a_device(tmp_path: Path) -> None:
    dev = _null_device(tmp_path)
    write_json(dev, {"a": 1})
    write_parquet(dev, pl.DataFrame({"a": [1]}))
    assert stat.S_ISCHR(dev.stat().st_mode)
    assert not list(tmp_path.glob(".*.tmp"))  # no temporary file left beside it


def test_cli_json_onto_a_device(tmp_path: Path) -> None:
    """The issue's command: `evalkit estimate --panel ... --json <device>` leaves the device a device."""
    dev = _null_device(tmp_path)
    panel = tmp_path / "p.csv"
    rows = ["u,t,y,g"] + [
        f"{u},{t},{u + t + (2 if u < 3 and t >= 3 else 0)},{3 if u < 3 else 0}" for u in range(8) for t in range(1, 6)
    ]
    panel.write_text("\n".join(rows) + "\n")
    cmd = [sys.executable, "-m", "evalkit.cli", "estimate", "--panel", str(panel), "--unit", "u", "--time", "t"]
    cmd += ["--outcome", "y", "--cohort", "g", "--method", "twfe", "--interval", "analytic", "--json", str(dev)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert stat.S_ISCHR(dev.stat().st_mode)


@POSIX
def test_fifo_is_written_as_a_stream(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write_text(fifo, "hello\n")
    reader.join(10)
    assert got == [b"hello\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_dash_is_stdout(tmp_path: Path, capfd, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_json("-", {"b": 2})
    assert capfd.readouterr().out == '{\n  "b": 2\n}\n'
    assert not (tmp_path / "-").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")
def test_link_outside_the_project_is_refused(tmp_path: Path, monkeypatch) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    precious = elsewhere / "precious.json"
    precious.write_text("keep me\n")
    (project / "out.json").symlink_to(precious)
    monkeypatch.chdir(project)
    with pytest.raises(EvalkitError, match="outside the project"):
        write_json(project / "out.json", {"c": 3})
    assert precious.read_text() == "keep me\n"
    assert (project / "out.json").is_symlink()


@pytest.mark.skipif(sys.platform == "win32", reason="symbolic links need privileges on Windows")
def test_link_inside_the_project_is_written_through(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "real.json").write_text("old\n")
    (tmp_path / "link.json").symlink_to(tmp_path / "real.json")
    monkeypatch.chdir(tmp_path)
    write_json(tmp_path / "link.json", {"d": 4})
    assert (tmp_path / "link.json").is_symlink()
    assert (tmp_path / "real.json").read_text() == '{\n  "d": 4\n}\n'


def test_folder_is_refused_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "out.json").mkdir()
    with pytest.raises(EvalkitError, match="is a folder"):
        write_json(tmp_path / "out.json", {})
    assert (tmp_path / "out.json").is_dir()
