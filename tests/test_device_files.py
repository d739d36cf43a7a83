"""No reading of device files: a plan checksum entry pointing at /dev/zero is refused at once."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.io import checked_sha256, regular_file


@pytest.mark.skipif(sys.platform == "win32" or not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_refused_not_hashed() -> None:
    with pytest.raises(EvalkitError, match="not a regular file"):
        checked_sha256("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(EvalkitError, match="device, pipe or socket"):
        regular_file(fifo)


def test_missing_and_regular(tmp_path: Path) -> None:
    assert checked_sha256(tmp_path / "absent") == "missing"
    (tmp_path / "f").write_bytes(b"abc")
    assert checked_sha256(tmp_path / "f") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
