"""One evalkit run per folder at a time, and SIGTERM treated like Ctrl-C.

* `data_lock(folder)` takes an exclusive, non-blocking lock on `folder/.evalkit.lock` for the
  duration of a stage, through `filelock` (flock on Linux and macOS, LockFileEx on Windows), so
  nothing POSIX-only is imported here. A second run on the same folder is refused at once with one
  line ("another evalkit run is using this folder"), exit 1: it never waits silently and never
  interleaves its writes with the first run's. The lock file is left in place, empty (its bytes
  never differ between runs; removing it would race with a third process opening it); the
  operating system drops the lock when the holder exits, however it exits.
* The lock file is never followed through a symbolic link (or a Windows junction): a link there
  could make evalkit create or truncate a file elsewhere, so a linked `.evalkit.lock` is refused
  with one line.
* `terminate_as_interrupt()` makes SIGTERM raise KeyboardInterrupt in the main thread, so the
  `except BaseException` cleanup of the atomic writers in `evalkit.io` runs and no `.*.tmp` file
  is left behind when a run is killed (`kill`, a CI timeout, `docker stop`).
"""

from __future__ import annotations

import errno
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from evalkit.errors import EvalkitError

LOCK_NAME = ".evalkit.lock"


def _refuse_link(lock: Path, folder: Path) -> None:
    from evalkit.io import is_link

    if is_link(lock):
        raise EvalkitError(
            f"{LOCK_NAME} is a symbolic link; remove it (evalkit never follows a link for its lock file)",
            file=folder,
            expected=f"{LOCK_NAME} as a plain file or absent",
        )


@contextmanager
def data_lock(folder: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on `folder` (created if missing) while the block runs; yields the lock path.

    Raises EvalkitError naming the folder when another process holds it, or when the lock file is a link.
    """
    folder = Path(folder)
    lock_path = folder / LOCK_NAME
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise EvalkitError(f"cannot create the folder: {exc.strerror}", file=folder) from None
    _refuse_link(lock_path, folder)
    # blocking=False: refuse at once; preserve_lock_file: keep the empty file on every platform (and
    # never fall back to a marker file that a crash would leave behind).
    from filelock import FileLock, Timeout  # imported when a stage runs, not at CLI start-up

    lock = FileLock(lock_path, blocking=False, preserve_lock_file=True, thread_local=False)
    try:
        lock.acquire()
    except Timeout:
        raise EvalkitError(
            "another evalkit run is using this folder; wait for it to finish",
            file=folder,
            expected="one evalkit run per folder at a time",
        ) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP or lock_path.is_symlink():  # a link planted after the check above
            _refuse_link(lock_path, folder)
        raise EvalkitError(f"cannot lock the folder: {exc.strerror or exc}", file=folder) from None
    try:
        yield lock_path
    finally:
        lock.release()


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    from evalkit.io import note_termination

    note_termination(signum)  # remembered where outputs are committed: the interrupt may be swallowed
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def terminate_as_interrupt() -> None:
    """Install a SIGTERM handler that raises KeyboardInterrupt (main thread only; no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _raise_interrupt)


__all__ = ["LOCK_NAME", "data_lock", "terminate_as_interrupt"]
