"""Every bad `--backend dask --scheduler` is one line within seconds (issue #30, item 5).

Before: a silent peer gave no exit in 150 s, an HTTP server none in 300 s (one that answers made numpy
try to allocate 3 EiB), a closed port and `notaurl` gave tracebacks. The fake peers here listen on
127.0.0.1 only, answer at most one connection each and stop with the test.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from evalkit import parallel
from evalkit.errors import UsageError


@contextmanager
def _peer(reply: bytes | None) -> Iterator[int]:
    """A loopback listener that accepts connections and sends `reply` (None: stays silent)."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        held = []
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            if reply is not None:
                conn.sendall(reply)
        for conn in held:
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(5)
        server.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "address", ["notaurl", "http://127.0.0.1:8786", "tcp://:8786", "tcp://host:0", "tcp://h:99999", "tcp://h:1/x"]
)
def test_malformed_addresses_are_usage_errors(address: str) -> None:
    with pytest.raises(UsageError, match="expects tcp://HOST:PORT"):
        parallel.configure(backend="dask", scheduler=address)


def test_closed_port_is_one_line() -> None:
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with pytest.raises(UsageError, match="cannot connect"):
        parallel.probe_scheduler(address, seconds=2)


def test_silent_peer_is_bounded_in_time() -> None:
    with _peer(None) as port:
        start = time.monotonic()
        with pytest.raises(UsageError, match="no Dask scheduler greeting"):
            parallel.probe_scheduler(f"tcp://127.0.0.1:{port}", seconds=1)
        assert time.monotonic() - start < 3


def test_http_server_that_answers_is_refused() -> None:
    with _peer(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n") as port:
        with pytest.raises(UsageError, match="not a Dask greeting"):
            parallel.probe_scheduler(f"tcp://127.0.0.1:{port}", seconds=2)


def test_real_scheduler_passes_the_probe() -> None:
    distributed = pytest.importorskip("distributed")
    import logging

    with distributed.LocalCluster(
        n_workers=0,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
        scheduler_port=0,
    ) as cluster:
        parallel.probe_scheduler(cluster.scheduler_address, seconds=5)


def test_cli_silent_peer_exits_2_in_one_line(demo_run: Path, tmp_path: Path) -> None:
    """Through the command line, end to end: the demo plan's estimate sent to a silent peer."""
    import shutil

    work = tmp_path / "w"
    shutil.copytree(demo_run, work, ignore=shutil.ignore_patterns(".evalkit.lock", ".cache"))
    with _peer(None) as port:
        start = time.monotonic()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "evalkit.cli",
                "estimate",
                "--no-cache",
                "--backend",
                "dask",
                "--scheduler",
                f"127.0.0.1:{port}",
            ],
            capture_output=True,
            text=True,
            cwd=work,
            timeout=120,
        )
        took = time.monotonic() - start
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "no Dask scheduler greeting" in done.stderr
    assert took < 60


def test_worker_count_is_bounded(monkeypatch) -> None:
    with pytest.raises(UsageError, match="between 1 and"):
        parallel.configure(workers=parallel.MAX_WORKERS + 1)
    monkeypatch.setenv("EVALKIT_JOBS", "100000")
    parallel.configure()
    with pytest.raises(UsageError, match="EVALKIT_JOBS"):
        parallel.settings()


@pytest.fixture(autouse=True)
def _reset():
    yield
    parallel.configure()
