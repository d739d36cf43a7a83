"""Atomic, deterministic writes: every output is written to a temporary file and renamed.

A write that fails (disk full, a read-only or vanished folder, a quota) removes its temporary file
and raises one EvalkitError naming the file and the system's reason, never a traceback; the file it
would have replaced is untouched, and the stage's earlier generation stays current.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl

from evalkit.errors import EvalkitError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_failed(path: Path, exc: BaseException) -> EvalkitError:
    """One line for an output that could not be written (the system's reason, e.g. no space left)."""
    reason = getattr(exc, "strerror", None) or " ".join(str(exc).split()) or type(exc).__name__
    return EvalkitError(f"cannot write the file: {reason}", file=path, expected="a writable folder with free space")


def _temp_in(path: Path) -> str:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise write_failed(path, exc) from None
    os.close(fd)
    return tmp


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the new one, never half."""
    path = Path(path)
    tmp = _temp_in(path)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should read like any other file
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise write_failed(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _json_safe(value.item())
    if isinstance(value, Path):
        return value.as_posix()
    return value


def dumps_json(obj: Any) -> str:
    """Canonical JSON: sorted keys, NaN as null, a trailing newline; same object, same bytes."""
    return json.dumps(_json_safe(obj), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, dumps_json(obj))


def write_parquet(path: str | Path, frame: pl.DataFrame) -> None:
    """Parquet with fixed settings and no statistics that depend on the writer's run."""
    path = Path(path)
    tmp = _temp_in(path)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=False)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())  # a full disk can surface only here
        os.replace(tmp, path)
    except (OSError, pl.exceptions.ComputeError) as exc:
        # polars reports a failed write (ENOSPC, EIO) as ComputeError "... IO error ... (os error 28)"
        Path(tmp).unlink(missing_ok=True)
        raise write_failed(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def regular_file(path: str | Path) -> Path:
    """`path` if it is a regular file; one-line error for a device, FIFO, socket or folder.

    Hashing or reading /dev/zero or a FIFO would never end, so anything named by a user or a plan
    is checked before it is opened.
    """
    import stat

    path = Path(path)
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise EvalkitError(f"cannot read the file: {exc.strerror}", file=path) from None
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "a device, pipe or socket"
        raise EvalkitError(f"is {kind}, not a regular file", file=path, expected="a regular file")
    return path


def checked_sha256(path: str | Path) -> str:
    """sha256 of a regular file, "missing" when absent; never opens a device or pipe."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return "missing"
    return sha256_file(regular_file(path))
