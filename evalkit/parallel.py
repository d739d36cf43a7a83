"""One parallel map for every loop: specifications, permutations, bootstrap draws, placebo fits.

`pmap(func, items)` runs `func` over `items` serially, on local processes (joblib/loky), or on a Dask
cluster (dask.distributed), and returns the results in input order. Tasks carry their own seeds (the
callers spawn one per task or chunk), so the numbers are identical to the last bit whatever the
backend and the number of workers.

Choosing the backend, highest priority first:
* `configure(backend=..., workers=..., scheduler=...)` (the CLI's `--backend/--workers/--scheduler`);
* environment: EVALKIT_BACKEND (serial | processes | dask), EVALKIT_JOBS (workers),
  DASK_SCHEDULER_ADDRESS (tcp://host:port of a running Dask scheduler; implies the dask backend);
* default: serial.

A scheduler address is checked before Dask sees it: `tcp://HOST:PORT` or `tls://HOST:PORT` (a bare
`HOST:PORT` means tcp; `inproc://...`, a scheduler inside this process, only from the Python API). Before a client is made, one bounded probe (PROBE_SECONDS to connect and to
hear the scheduler's greeting, which a Dask scheduler sends first) refuses a closed port, a silent
peer and a server that speaks another protocol (an HTTP server) in one line; Dask itself would wait
or try to allocate the length an HTTP reply's first bytes spell. Workers are at most MAX_WORKERS.

Only the outermost map is distributed: a map called inside a task runs serially there, so a
multiverse distributes specifications and each specification's permutations stay on its worker.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from evalkit.errors import UsageError

T = TypeVar("T")
BACKENDS = ("serial", "processes", "dask")
MAX_WORKERS = 256  # local processes or Dask workers asked for; more is a typo, not a machine
PROBE_SECONDS = 5.0
MAX_GREETING_BYTES = 64 << 20  # a scheduler's handshake is a few hundred bytes
SCHEMES = ("tcp", "tls")
CHUNKS_PER_WORKER = 4  # small tasks are sent in chunks: fewer round trips, same order, same numbers

_state: dict[str, Any] = {"backend": None, "workers": None, "scheduler": None}
_local = threading.local()
_clients: dict[str, Any] = {}


@dataclass(frozen=True)
class Settings:
    backend: str
    workers: int
    scheduler: str | None


def configure(backend: str | None = None, workers: int | None = None, scheduler: str | None = None) -> None:
    """Set the backend for this process (None keeps the environment's choice)."""
    if backend is not None and backend not in BACKENDS:
        raise UsageError(f"--backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if workers is not None and not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"--workers must be between 1 and {MAX_WORKERS}, not {workers}")
    if scheduler is not None:
        scheduler = scheduler_address(scheduler, "--scheduler")
    _state.update(backend=backend, workers=workers, scheduler=scheduler)


def scheduler_address(address: str, where: str = "--scheduler") -> str:
    """`address` as `scheme://host:port`; a usage error (one line) for anything else."""
    from urllib.parse import urlsplit

    text = address.strip()
    if text.startswith("inproc://") and len(text) > len("inproc://"):
        return text  # a scheduler inside this process (Python API, LocalCluster(processes=False)): no socket
    if "://" not in text:
        text = "tcp://" + text
    expected = f"{where} expects tcp://HOST:PORT or tls://HOST:PORT, not {address!r}"
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise UsageError(expected) from None
    if parts.scheme not in SCHEMES or not parts.hostname or port is None or not 0 < port < 65536:
        raise UsageError(expected)
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise UsageError(expected)
    return f"{parts.scheme}://{parts.netloc}"


def probe_scheduler(address: str, seconds: float = PROBE_SECONDS) -> None:
    """Connect once with a deadline and read the 8-byte length that opens a Dask scheduler's greeting;
    a usage error naming the address for a closed port, a silent peer or another protocol."""
    import socket
    import struct
    import time
    from urllib.parse import urlsplit

    parts = urlsplit(address)
    if parts.scheme == "inproc":  # in this process: nothing to connect to
        return
    deadline = time.monotonic() + seconds
    try:
        sock = socket.create_connection((parts.hostname, parts.port), timeout=seconds)
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise UsageError(f"--scheduler {address}: cannot connect ({reason})") from None
    with sock:
        if parts.scheme == "tls":
            return  # the greeting is inside TLS; Dask's own connect timeout bounds the rest
        head = b""
        try:
            while len(head) < 8:
                sock.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = sock.recv(8 - len(head))
                if not chunk:
                    raise UsageError(f"--scheduler {address}: the peer closed the connection; not a Dask scheduler")
                head += chunk
        except TimeoutError:
            raise UsageError(
                f"--scheduler {address}: no Dask scheduler greeting within {seconds:g} s (a silent peer, "
                "or a server of another protocol)"
            ) from None
        except OSError as exc:
            raise UsageError(f"--scheduler {address}: connection failed ({exc.strerror or exc})") from None
    (length,) = struct.unpack("<Q", head)
    if not 0 < length <= MAX_GREETING_BYTES:
        raise UsageError(
            f"--scheduler {address}: the peer's first bytes {head!r} are not a Dask greeting "
            "(another protocol, e.g. HTTP)"
        )


def settings() -> Settings:
    scheduler = _state["scheduler"] or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    if scheduler is not None and scheduler is not _state["scheduler"]:
        scheduler = scheduler_address(scheduler, "DASK_SCHEDULER_ADDRESS")
    backend = _state["backend"] or os.environ.get("EVALKIT_BACKEND") or None
    workers = _state["workers"] or _env_workers()
    if backend is None:
        backend = "dask" if scheduler else ("processes" if (workers or 1) > 1 else "serial")
    if backend not in BACKENDS:
        raise UsageError(f"EVALKIT_BACKEND must be one of {', '.join(BACKENDS)}, not {backend!r}")
    return Settings(backend, workers or (os.cpu_count() or 1 if backend != "serial" else 1), scheduler)


def default_jobs() -> int:
    """Workers of the configured backend (1 when serial)."""
    s = settings()
    return 1 if s.backend == "serial" else s.workers


def in_task() -> bool:
    """True inside a task that pmap sent to a worker (nested maps then run serially)."""
    return getattr(_local, "in_task", False)


@contextmanager
def _task_scope() -> Iterator[None]:
    previous = in_task()
    _local.in_task = True
    try:
        yield
    finally:
        _local.in_task = previous


class _Chunk:
    """A picklable task: apply `func` to a list of items with nested maps kept serial."""

    def __init__(self, func: Callable[[Any], Any]) -> None:
        self.func = func

    def __call__(self, items: list[Any]) -> list[Any]:
        with _task_scope():
            return [self.func(item) for item in items]


def _chunks(items: list[Any], n: int) -> list[list[Any]]:
    size = -(-len(items) // n)
    return [items[i : i + size] for i in range(0, len(items), size)]


def _env_workers() -> int | None:
    text = os.environ.get("EVALKIT_JOBS")
    if not text:
        return None
    try:
        workers = int(text)
    except ValueError:
        raise UsageError(f"EVALKIT_JOBS must be a whole number, not {text!r}") from None
    if not 1 <= workers <= MAX_WORKERS:
        raise UsageError(f"EVALKIT_JOBS must be between 1 and {MAX_WORKERS}, not {workers}")
    return workers


def dask_client(scheduler: str | None, workers: int) -> Any:
    """A client of the given scheduler, or of a local cluster started once for this process."""
    key = scheduler or f"local:{workers}"
    if key not in _clients:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise UsageError("the dask backend needs dask[distributed]: pip install 'evalkit[dask]'") from exc
        if scheduler:
            probe_scheduler(scheduler)
            try:
                _clients[key] = Client(scheduler, timeout="30s")
            except (OSError, TimeoutError) as exc:
                raise UsageError(f"--scheduler {scheduler}: cannot connect ({' '.join(str(exc).split())})") from None
        else:
            import logging

            _clients[key] = Client(
                LocalCluster(
                    n_workers=workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=None,
                    silence_logs=logging.ERROR,
                )
            )
    return _clients[key]


def pmap(
    func: Callable[..., T],
    items: Iterable[Any],
    *,
    n_jobs: int | None = None,
    backend: str | None = None,
    on_result: Callable[[int], None] | None = None,
) -> list[T]:
    """[func(x) for x in items], possibly in parallel; results in input order whatever the backend.

    `n_jobs` (kept for callers that pass it): 1 forces serial, > 1 local processes with that many
    workers. `on_result(k)` is called with the number of results received so far (for progress bars).
    """
    items = list(items)
    s = settings()
    kind = backend or s.backend
    workers = s.workers
    if n_jobs is not None and backend is None:
        kind, workers = ("serial", 1) if n_jobs == 1 else ("processes", n_jobs)
    if in_task() or kind == "serial" or len(items) < 2 or (kind == "processes" and workers < 2):
        out = []
        for item in items:
            out.append(func(item))
            if on_result:
                on_result(len(out))
        return out
    chunks = _chunks(items, min(len(items), workers * CHUNKS_PER_WORKER))
    task = _Chunk(func)
    results: list[list[T]] = []
    done = 0
    if kind == "processes":
        from joblib import Parallel, delayed

        for part in Parallel(n_jobs=workers, return_as="generator")(delayed(task)(c) for c in chunks):
            results.append(part)
            done += len(part)
            if on_result:
                on_result(done)
    else:
        client = dask_client(s.scheduler, workers)
        futures = client.map(task, chunks, pure=False)
        for future in futures:  # gathered in submission order
            part = future.result()
            results.append(part)
            done += len(part)
            if on_result:
                on_result(done)
        del futures
    return [r for part in results for r in part]


# ------------------------------------------------------------------ progress of inner loops

_hooks: list[Callable[[str, int, int], None]] = []


@contextmanager
def reporting(hook: Callable[[str, int, int], None]) -> Iterator[None]:
    """Within this block, loops that name themselves (`tracked`) call hook(label, done, total) as their
    results arrive, e.g. the permutations of a randomisation interval. The hook runs in this process
    (pmap calls it as results come back, whatever the backend); the CLI turns it into a progress bar
    and installs none under --quiet or when stderr is not a terminal."""
    _hooks.append(hook)
    try:
        yield
    finally:
        _hooks.remove(hook)


def tracked(label: str, total: int) -> Callable[[int], None] | None:
    """An `on_result` for pmap reporting (label, done, total) to the innermost `reporting` hook; None
    when no hook is installed (then nothing is reported and nothing is slowed down)."""
    if not _hooks or in_task():
        return None
    hook = _hooks[-1]
    hook(label, 0, total)
    return lambda done: hook(label, done, total)


def close_clients() -> None:
    """Close the Dask clients this process opened (and the local clusters it started)."""
    for key in sorted(_clients):
        client = _clients.pop(key)
        cluster = client.cluster if key.startswith("local:") else None
        client.close()
        if cluster is not None:
            cluster.close()
