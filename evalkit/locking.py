"""One evalkit run per folder at a time, and SIGTERM treated like Ctrl-C.

* `data_lock(folder)` takes an exclusive, non-blocking `fcntl.flock` on `folder/.evalkit.lock` for
  the duration of a stage. A second run on the same folder is refused at once with one line
  ("another evalkit run is using this folder"), exit 1: it never waits silently and never
  interleaves its writes with the first run's. The lock file itself is left in place, empty (so
  its bytes never differ between runs; removing it would race with a third process opening it);
  the kernel drops the lock when the holder exits, however it exits.
* `terminate_as_interrupt()` makes SIGTERM raise KeyboardInterrupt in the main thread, so the
  `except BaseException` cleanup of the atomic writers in `evalkit.io` runs and no `.*.tmp` file
  is left behind when a run is killed (`kill`, a CI timeout, `docker stop`).
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from evalkit.errors import EvalkitError

LOCK_NAME = ".evalkit.lock"


@contextmanager
def data_lock(folder: str | Path) -> Iterator[Path]:
    """Hold an exclusive lock on `folder` (created if missing) while the block runs; yields the lock path.

    Raises EvalkitError naming the folder when another process holds it.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise EvalkitError(f"cannot create the lock file {LOCK_NAME}: {exc.strerror}", file=folder) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise EvalkitError(
                    "another evalkit run is using this folder; wait for it to finish",
                    file=folder, expected="one evalkit run per folder at a time",
                ) from None
            raise EvalkitError(f"cannot lock the folder: {exc.strerror}", file=folder) from None
        try:
            yield folder / LOCK_NAME
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def terminate_as_interrupt() -> None:
    """Install a SIGTERM handler that raises KeyboardInterrupt (main thread only; no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, _raise_interrupt)


__all__ = ["LOCK_NAME", "data_lock", "terminate_as_interrupt"]
