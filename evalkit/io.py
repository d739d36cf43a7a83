"""Atomic, deterministic writes: every output is written to a temporary file and renamed.

An output that names a character device or a FIFO (``--json /dev/null``, a named pipe, ``/dev/stdout``)
or ``-`` is written to as a stream instead: renaming over it would replace the device with a regular
file (as root, the system's ``/dev/null``). A symbolic link is written through to its target when that
target lies inside the project (the working folder), and refused otherwise; a folder, socket or block
device is refused. Nothing is ever renamed over a file that is not regular.

A write that fails (disk full, a read-only or vanished folder, a quota) removes its temporary file
and raises one EvalkitError naming the file and the system's reason, never a traceback; the file it
would have replaced is untouched, and the stage's earlier generation stays current.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
import sys
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


STREAM = "stream"
REPLACE = "replace"


def _refuse(path: Path, what: str) -> EvalkitError:
    return EvalkitError(
        f"is {what}; evalkit will not write over it", file=path, expected="a regular file or a new name"
    )


def output_target(path: str | Path) -> tuple[str, Path]:
    """How to write `path`: (STREAM, path) for '-', a character device or a FIFO, else (REPLACE, the file
    to replace atomically), which is the link's target for a symbolic link into the project."""
    path = Path(path)
    if str(path) == "-":
        return STREAM, path
    try:
        st = os.stat(path)  # follows links: what a write would reach
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise write_failed(path, exc) from None
    if st is not None:
        if stat.S_ISCHR(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            return STREAM, path
        if stat.S_ISDIR(st.st_mode):
            raise _refuse(path, "a folder")
        if not stat.S_ISREG(st.st_mode):
            raise _refuse(path, "a block device or socket")
    if path.is_symlink():
        target = path.resolve()
        root = Path.cwd().resolve()
        if target != root and root not in target.parents:
            raise EvalkitError(
                f"is a symbolic link to {target}, outside the project; evalkit will not replace that file",
                file=path,
                expected="a regular file, or a link to a file inside the working folder",
            )
        return REPLACE, target
    return REPLACE, path


def _stream(path: Path, data: bytes) -> None:
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        with open(path, "wb", buffering=0) as fh:  # no O_CREAT race: the device or FIFO exists
            view = memoryview(data)
            while view:
                view = view[fh.write(view) :]
    except OSError as exc:
        raise write_failed(path, exc) from None


# the termination signals received (evalkit.locking's SIGTERM handler): the interrupt the handler raises can
# land in a weakref callback or a __del__ (an import lock's cleanup), where Python prints "Exception ignored"
# and carries on
_TERMINATED: list[int] = []


def note_termination(signum: int) -> None:
    _TERMINATED.append(signum)


def raise_if_terminated() -> None:
    """KeyboardInterrupt when a termination signal arrived but its interrupt was swallowed: called before an
    output is committed and when a command returns, so a killed run never commits or exits 0."""
    if _TERMINATED:
        raise KeyboardInterrupt(f"terminated by signal {_TERMINATED[0]}")


def _replace(tmp: str, path: Path) -> None:
    """os.replace, but never over something that became a non-regular file since it was checked."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise _refuse(path, "no longer a regular file")
    raise_if_terminated()  # a SIGTERM whose interrupt a callback swallowed: commit nothing
    os.replace(tmp, path)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the new one, never half."""
    mode, path = output_target(path)
    if mode == STREAM:
        _stream(path, data)
        return
    tmp = _temp_in(path)
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs should read like any other file
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _replace(tmp, path)
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
    mode, path = output_target(path)
    if mode == STREAM:
        import io as _io

        buffer = _io.BytesIO()
        frame.write_parquet(buffer, compression="zstd", compression_level=3, statistics=False)
        _stream(path, buffer.getvalue())
        return
    tmp = _temp_in(path)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        frame.write_parquet(tmp, compression="zstd", compression_level=3, statistics=False)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())  # a full disk can surface only here
        _replace(tmp, path)
    except (OSError, pl.exceptions.ComputeError) as exc:
        # polars reports a failed write (ENOSPC, EIO) as ComputeError "... IO error ... (os error 28)"
        Path(tmp).unlink(missing_ok=True)
        raise write_failed(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def fsync_file(path: str | Path) -> None:
    """Flush a file already written to disk. Opened for update, not read-only: Windows flushes only a
    handle with write access (FlushFileBuffers; a read-only one fails with EBADF), POSIX either."""
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def regular_file(path: str | Path, *, max_bytes: int | None = None) -> Path:
    """`path` if it is a regular file (of at most `max_bytes`); one-line error for a device, FIFO,
    socket or folder.

    Hashing or reading /dev/zero or a FIFO would never end, so anything named by a user or a plan
    is checked before it is opened (stat never opens it, so a FIFO cannot block here).
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise EvalkitError(f"cannot read the file: {exc.strerror}", file=path) from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "a device, pipe or socket"
        raise EvalkitError(f"is {kind}, not a regular file", file=path, expected="a regular file")
    if max_bytes is not None and st.st_size > max_bytes:
        raise EvalkitError(
            f"is {st.st_size:,} bytes, more than the {max_bytes:,} evalkit reads for it",
            file=path,
            expected=f"a file of at most {max_bytes:,} bytes",
        )
    return path


_MOUNT_POINT = 0xA0000003  # IO_REPARSE_TAG_MOUNT_POINT: a Windows junction (stat has it on Windows only)


def is_link(path: str | Path) -> bool:
    """A symbolic link or a Windows junction: both lead elsewhere, and a junction is not a symlink to
    Python. `Path.is_junction` is 3.12+; on 3.11 the reparse tag of `os.lstat` says (Windows only)."""
    path = Path(path)
    if path.is_symlink():
        return True
    check = getattr(path, "is_junction", None)
    if check is not None:
        return bool(check())
    try:
        tag = getattr(os.lstat(path), "st_reparse_tag", 0)
    except (OSError, ValueError):
        return False
    return tag == getattr(stat, "IO_REPARSE_TAG_MOUNT_POINT", _MOUNT_POINT)


def link_leaving(path: str | Path, root: str | Path | None = None) -> tuple[Path, Path] | None:
    """(the link, where it leads) when `path` reaches outside `root` (the working folder) through a
    symbolic link inside it; None otherwise. A path that names a place outside directly is the
    user's own choice and is not refused; a link planted in the project that leads elsewhere is."""
    root = Path(root) if root is not None else Path.cwd()
    path = Path(path)
    absolute = path if path.is_absolute() else root / path
    real_root = root.resolve()
    target = absolute.resolve()
    if target == real_root or real_root in target.parents:
        return None
    for base in (root.absolute(), real_root):
        try:
            parts = absolute.relative_to(base).parts
        except ValueError:
            continue
        current = base
        for part in parts:
            current = current / part
            if is_link(current):
                return current, target
        return None
    return None


def inside_project(path: str | Path, *, column: str | None = None) -> Path:
    """`path`, unless a symbolic link in the working folder takes it outside (one-line error)."""
    found = link_leaving(path)
    if found is not None:
        link, target = found
        raise EvalkitError(
            f"leads through the symbolic link {link} to {target}, outside the working folder",
            file=path,
            column=column,
            expected="a file inside the working folder (name a file elsewhere by its own path)",
        )
    return Path(path)


def regular_folder(path: str | Path) -> Path:
    """`path` if it is a folder (links to folders allowed); one-line error otherwise."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise EvalkitError(f"cannot read the folder: {exc.strerror}", file=path) from None
    if not stat.S_ISDIR(st.st_mode):
        raise EvalkitError("is not a folder", file=path, expected="a folder")
    return path


def user_file(path: str | Path, flag: str, *, max_bytes: int | None = None) -> Path:
    """A file named on the command line: as `regular_file`, but a usage error (exit 2) naming the flag."""
    from evalkit.errors import UsageError

    try:
        return regular_file(path, max_bytes=max_bytes)
    except EvalkitError as exc:
        raise UsageError(f"{flag} {exc.one_line()}") from None


def user_folder(path: str | Path, flag: str) -> Path:
    from evalkit.errors import UsageError

    try:
        return regular_folder(path)
    except EvalkitError as exc:
        raise UsageError(f"{flag} {exc.one_line()}") from None


def checked_sha256(path: str | Path) -> str:
    """sha256 of a regular file, "missing" when absent; never opens a device or pipe."""
    path = Path(path)
    if not path.exists() and not path.is_symlink():
        return "missing"
    return sha256_file(regular_file(path))
