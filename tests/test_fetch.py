"""evalkit.fetch against a local HTTP server that serves the reference folder (127.0.0.1 only)."""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from evalkit.errors import EvalkitError
from evalkit.fetch import DEADLINE_ENV, MANIFEST, MIRROR_ENV, fetch_all, load_catalogue, select
from evalkit.io import sha256_file
from tests.conftest import REPO, need_reference

# small files from three folders, so the tests stay fast
SOME = ["lookups/dfe_ofsted_region_mapping_corrections.csv", "s251/ees_s251_data_guidance_2019-20.txt", "dfe_las.csv"]
BIG = "cla/sfr_SFR50_ADM2017.csv"  # resume tests need a body that spans several reads
NOT_PUBLICATIONS = {"SOURCES.md", "FORMATS.md", "ORIGINS.csv", "dfe_las.PROVENANCE.txt"}


class RangeHandler(BaseHTTPRequestHandler):
    """GET for files under server.root, honouring `Range: bytes=a-` unless the server's mode says not to.

    Modes: "normal", "ignore_range" (always 200 with the whole file), "corrupt" (one byte flipped),
    "drop" (declares the full length, sends half the body, then closes the connection),
    "endless" (no Content-Length, the file's bytes and then zeros until the client hangs up),
    "declares_more" (a Content-Length one byte over the file), "trickle" (one byte every 0.1 s).
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        server = self.server
        with server.lock:
            server.requests.append({"path": self.path, "range": self.headers.get("Range")})
        rel = unquote(urlsplit(self.path).path).lstrip("/")
        file = (server.root / rel).resolve()
        if server.root not in file.parents or not file.is_file():
            self._send(404, b"not found", {})
            return
        data = file.read_bytes()
        if server.mode == "corrupt":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        rng = self.headers.get("Range")
        if rng and server.mode != "ignore_range":
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self._send(416, b"", {"Content-Range": f"bytes */{len(data)}"})
                return
        body = data[start:]
        status = 206 if start else 200
        if server.mode in ("endless", "trickle", "declares_more"):
            self._hostile(server.mode, body)
            return
        headers = {"Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"} if start else {}
        if server.mode == "drop":
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self._send(status, body, headers)

    def _hostile(self, mode: str, body: bytes) -> None:
        self.send_response(200)
        if mode == "declares_more":
            self.send_header("Content-Length", str(len(body) + 1))
        elif mode == "trickle":
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        try:
            if mode == "declares_more":
                self.wfile.write(body + b"x")
            elif mode == "trickle":
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.1)
            else:
                self.wfile.write(body)
                zeros = bytes(1 << 16)
                for _ in range(1 << 16):  # 4 GiB at most, far more than any client should take
                    self.wfile.write(zeros)
                    with self.server.lock:
                        self.server.sent_after_body = getattr(self.server, "sent_after_body", 0) + len(zeros)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _send(self, status: int, body: bytes, headers: dict) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def server(monkeypatch):
    root = need_reference().resolve()
    monkeypatch.delenv(MIRROR_ENV, raising=False)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.daemon_threads = True
    httpd.root = root
    httpd.mode = "normal"
    httpd.requests = []
    httpd.lock = threading.Lock()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def fetch(dest: Path, server, **kw) -> Path:
    kw.setdefault("mirror", server.url)
    kw.setdefault("timeout", 5)
    return fetch_all(dest, **kw)


def test_catalogue_hashes_and_sizes_match_the_reference_files():
    root = need_reference()
    sources = load_catalogue()
    for src in sources:
        file = root / src.path
        assert file.is_file(), f"{src.path} is catalogued but not in the reference folder"
        assert file.stat().st_size == src.bytes, src.path
        assert sha256_file(file) == src.sha256, src.path
    published = {
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file() and p.name not in NOT_PUBLICATIONS
    }
    assert published == {s.path for s in sources}, "the reference folder and the catalogue list different files"


def test_catalogue_urls_are_honest():
    sources = load_catalogue()
    for src in sources:
        assert src.url.startswith("https://"), src.path
        if src.url_kind == "direct":
            # a direct URL is a raw file at a full 40-hex commit, never a guessed publisher link
            parts = urlsplit(src.url).path.split("/")
            assert urlsplit(src.url).netloc == "raw.githubusercontent.com" and len(parts[3]) == 40, src.url
        else:
            assert "landing page" in src.note.lower(), src.path
    # every catalogued file can be fetched from scratch: ORIGINS.csv gives a verified raw URL for each
    assert {s.url_kind for s in sources} == {"direct"}


def test_catalogue_agrees_with_the_verified_origins():
    """Each entry downloads from the raw URL that ORIGINS.csv verified for exactly these bytes."""
    root = need_reference()
    with open(root / "ORIGINS.csv", encoding="utf-8", newline="") as fh:
        origins = {row["path"]: row for row in csv.DictReader(fh)}
    sources = load_catalogue()
    assert {s.path for s in sources} == set(origins)
    for src in sources:
        row = origins[src.path]
        assert (src.url, src.sha256, src.bytes) == (row["url"], row["sha256"], int(row["bytes"])), src.path
        assert src.origin.endswith("@" + row["commit"]) and len(row["commit"]) == 40, src.path


def test_full_fetch_matches_reference_and_second_run_is_cached(server, tmp_path):
    dest = tmp_path / "raw"
    progress: list[str] = []
    assert fetch(dest, server, only=SOME, progress=progress.append) == dest
    for rel in SOME:
        assert (dest / rel).read_bytes() == (server.root / rel).read_bytes()
        assert not (dest / (rel + ".part")).exists()
    assert len(server.requests) == len(SOME)
    assert all(r["range"] is None for r in server.requests)
    manifest = json.loads((dest / MANIFEST).read_text())
    assert [f["file"] for f in manifest["files"]] == sorted(SOME)
    assert all(not f["cached"] and not f["resumed"] for f in manifest["files"])
    assert manifest["files"][0]["url"].startswith(server.url + "/")
    assert progress

    fetch(dest, server, only=SOME)
    assert len(server.requests) == len(SOME), "a verified file was downloaded again"
    manifest = json.loads((dest / MANIFEST).read_text())
    assert all(f["cached"] and f["downloaded_bytes"] == 0 for f in manifest["files"])


def test_folder_selection_and_manifest_merge(server, tmp_path):
    dest = tmp_path / "raw"
    fetch(dest, server, only=["lookups/dfe_ofsted_region_mapping_corrections.csv"])
    fetch(dest, server, only=["dfe_las.csv"])
    files = [f["file"] for f in json.loads((dest / MANIFEST).read_text())["files"]]
    assert files == ["dfe_las.csv", "lookups/dfe_ofsted_region_mapping_corrections.csv"]
    assert [s.path for s in select(load_catalogue(), ["workforce/"])] == [
        "workforce/ees_csww_headline_measures_2017_to_2022.csv",
        "workforce/ees_csww_indicators_2017_to_2025.csv",
    ]
    with pytest.raises(EvalkitError, match="not in the download catalogue: nope.csv"):
        fetch(dest, server, only=["nope.csv"])


def test_half_part_file_resumes_with_range(server, tmp_path):
    dest = tmp_path / "raw"
    whole = (server.root / BIG).read_bytes()
    part = dest / (BIG + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(whole[: len(whole) // 2])
    fetch(dest, server, only=[BIG])
    assert (dest / BIG).read_bytes() == whole
    assert not part.exists()
    assert server.requests[-1]["range"] == f"bytes={len(whole) // 2}-"
    record = json.loads((dest / MANIFEST).read_text())["files"][0]
    assert record["resumed"] and record["downloaded_bytes"] == len(whole) - len(whole) // 2


def test_server_that_ignores_range_gets_a_full_download(server, tmp_path):
    server.mode = "ignore_range"
    dest = tmp_path / "raw"
    whole = (server.root / BIG).read_bytes()
    part = dest / (BIG + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(whole[:1000])
    fetch(dest, server, only=[BIG])
    assert (dest / BIG).read_bytes() == whole
    record = json.loads((dest / MANIFEST).read_text())["files"][0]
    assert not record["resumed"] and record["downloaded_bytes"] == len(whole)


def test_stale_part_from_another_version_is_replaced_by_a_full_download(server, tmp_path):
    dest = tmp_path / "raw"
    whole = (server.root / BIG).read_bytes()
    part = dest / (BIG + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"x" * 500)
    fetch(dest, server, only=[BIG])
    assert (dest / BIG).read_bytes() == whole
    assert [r["range"] for r in server.requests] == ["bytes=500-", None]


def test_corrupted_bytes_raise_sha256_error_and_leave_nothing(server, tmp_path):
    server.mode = "corrupt"
    dest = tmp_path / "raw"
    rel = SOME[0]
    src = select(load_catalogue(), [rel])[0]
    with pytest.raises(EvalkitError) as info:
        fetch(dest, server, only=[rel])
    text = str(info.value)
    actual = hashlib.sha256(
        b"".join([bytes([(server.root / rel).read_bytes()[0] ^ 0xFF]), (server.root / rel).read_bytes()[1:]])
    ).hexdigest()
    assert rel in text and src.sha256 in text and actual in text
    assert "\n" not in text
    assert not (dest / rel).exists()
    assert not (dest / (rel + ".part")).exists()


def test_dropped_connection_leaves_part_that_next_call_completes(server, tmp_path):
    server.mode = "drop"
    dest = tmp_path / "raw"
    whole = (server.root / BIG).read_bytes()
    with pytest.raises(EvalkitError, match="run again to resume"):
        fetch(dest, server, only=[BIG], retries=1)
    part = dest / (BIG + ".part")
    kept = part.stat().st_size
    assert 0 < kept < len(whole)
    assert whole.startswith(part.read_bytes())
    assert not (dest / BIG).exists()
    assert len(server.requests) == 2  # bounded: one try and one retry (which resumed)
    assert server.requests[1]["range"] is not None

    server.mode = "normal"
    fetch(dest, server, only=[BIG])
    assert (dest / BIG).read_bytes() == whole
    assert not part.exists()
    assert server.requests[-1]["range"] == f"bytes={kept}-"
    record = json.loads((dest / MANIFEST).read_text())["files"][0]
    assert record["resumed"] and record["downloaded_bytes"] == len(whole) - kept


def test_404_is_one_line_naming_the_url(server, tmp_path):
    with pytest.raises(EvalkitError) as info:
        fetch(tmp_path / "raw", server, only=[SOME[0]], mirror=server.url + "/missing")
    text = str(info.value)
    assert "\n" not in text and "404" in text
    assert f"{server.url}/missing/{SOME[0]}" in text
    assert len(server.requests) == 1, "a 404 is not retried"


def test_mirror_from_environment_and_local_folder(server, tmp_path, monkeypatch):
    monkeypatch.setenv(MIRROR_ENV, server.url)
    fetch_all(tmp_path / "a", only=[SOME[0]], timeout=5)
    assert len(server.requests) == 1
    monkeypatch.delenv(MIRROR_ENV)
    fetch_all(tmp_path / "b", only=[SOME[1]], mirror=str(server.root))  # a folder on disk
    assert (tmp_path / "b" / SOME[1]).read_bytes() == (server.root / SOME[1]).read_bytes()


def test_landing_pages_are_reported_after_direct_files(server, tmp_path):
    """Without a mirror, direct URLs are fetched and landing-page entries end in one error."""
    direct, landing = SOME[1], SOME[0]
    real = {s.path: s for s in load_catalogue()}
    catalogue = tmp_path / "sources.toml"
    catalogue.write_text(
        "\n".join(
            [
                "[[file]]",
                f'path = "{direct}"',
                f'url = "{server.url}/{direct}"',
                'url_kind = "direct"',
                f'sha256 = "{real[direct].sha256}"',
                f"bytes = {real[direct].bytes}",
                "[[file]]",
                f'path = "{landing}"',
                'url = "https://example.invalid/landing"',
                'url_kind = "landing_page"',
                f'sha256 = "{real[landing].sha256}"',
                f"bytes = {real[landing].bytes}",
                'note = "Only a landing page is known"',
            ]
        )
    )
    dest = tmp_path / "raw"
    with pytest.raises(EvalkitError) as info:
        fetch_all(dest, catalogue=catalogue, timeout=5)
    text = str(info.value)
    assert "1 file(s) need a manual download" in text and landing in text and "https://example.invalid/landing" in text
    assert "\n" not in text
    assert (dest / direct).read_bytes() == (server.root / direct).read_bytes()
    manifest = json.loads((dest / MANIFEST).read_text())
    assert [m["file"] for m in manifest["manual_download"]] == [landing]
    assert [f["file"] for f in manifest["files"]] == [direct]

    # the user saves the landing-page file by hand: it verifies, and nothing is downloaded again
    (dest / landing).parent.mkdir(parents=True, exist_ok=True)
    (dest / landing).write_bytes((server.root / landing).read_bytes())
    before = len(server.requests)
    assert fetch_all(dest, catalogue=catalogue, timeout=5) == dest
    assert len(server.requests) == before
    assert json.loads((dest / MANIFEST).read_text())["manual_download"] == []


def test_fetched_folder_is_what_ingest_reads(server, tmp_path):
    from evalkit.ingest import ingest

    dest = fetch(tmp_path / "raw", server, only=SOME)
    manifest = ingest(dest, tmp_path / "out")
    assert "dfe_las.csv" in [f["file"] for f in manifest["files"]]
    assert MANIFEST in [f["file"] for f in manifest["skipped"]]  # the fetch record is not taken for data


# --- Bounds (issue #14): size cap, overall deadline, one fetch per folder -----------------------------


def test_endless_body_is_cut_at_the_catalogued_size(server, tmp_path):
    """9.7 GB in 30 s for a 334 KB file was the defect: now refused once one byte too many arrives."""
    server.mode = "endless"
    dest = tmp_path / "raw"
    start = time.monotonic()
    with pytest.raises(EvalkitError) as info:
        fetch(dest, server, only=[BIG])
    text = str(info.value)
    assert "\n" not in text and BIG in text and "more than the" in text and "bytes catalogued" in text
    assert time.monotonic() - start < 10
    assert len(server.requests) == 1, "an oversized body is not retried"
    assert not (dest / BIG).exists() and not (dest / (BIG + ".part")).exists()


def test_declared_length_over_the_catalogue_is_refused_before_reading(server, tmp_path):
    server.mode = "declares_more"
    with pytest.raises(EvalkitError, match="declares .* more than the .* bytes catalogued"):
        fetch(tmp_path / "raw", server, only=[SOME[0]])


def test_entry_without_size_is_capped_at_the_stated_maximum(server, tmp_path, monkeypatch):
    """`bytes = 0` (size unknown): the stated maximum applies (lowered here so the test is fast)."""
    from evalkit import fetch as fetch_module

    src = next(s for s in load_catalogue() if s.path == BIG)
    cat = tmp_path / "catalogue.toml"
    cat.write_text(
        f'[[file]]\npath = "{src.path}"\nsha256 = "{src.sha256}"\nbytes = 0\nurl = "x"\nurl_kind = "direct"\n'
    )
    monkeypatch.setattr(fetch_module, "MAX_DOWNLOAD_BYTES", 4 * src.bytes)
    fetch(tmp_path / "ok", server, only=[BIG], catalogue=cat)  # an honest server: verified by sha256
    assert (tmp_path / "ok" / BIG).read_bytes() == (server.root / BIG).read_bytes()
    server.mode = "endless"
    with pytest.raises(EvalkitError, match=f"more than the {4 * src.bytes} bytes catalogued"):
        fetch(tmp_path / "raw", server, only=[BIG], catalogue=cat)
    assert 0 < server.sent_after_body


def test_trickling_server_stops_at_the_overall_deadline(server, tmp_path, monkeypatch):
    """One byte every 0.1 s never trips a per-read timeout of 5 s; the 1.5 s deadline (env) stops it."""
    server.mode = "trickle"
    monkeypatch.setenv(DEADLINE_ENV, "1.5")
    dest = tmp_path / "raw"
    start = time.monotonic()
    with pytest.raises(EvalkitError) as info:
        fetch(dest, server, only=[SOME[0]], retries=3)
    took = time.monotonic() - start
    text = str(info.value)
    assert "\n" not in text and "deadline of 1.5 s" in text and SOME[0] in text
    assert 1.4 < took < 4, took
    part = dest / (SOME[0] + ".part")
    assert 0 < part.stat().st_size < (server.root / SOME[0]).stat().st_size  # kept for a resume
    assert not (dest / SOME[0]).exists()


def test_deadline_setting_must_be_a_positive_number(server, tmp_path, monkeypatch):
    monkeypatch.setenv(DEADLINE_ENV, "soon")
    with pytest.raises(EvalkitError, match=f"{DEADLINE_ENV}='soon' is not a number of seconds"):
        fetch(tmp_path / "raw", server, only=[SOME[0]])


def test_a_second_fetch_into_the_same_folder_is_refused(server, tmp_path):
    """Two concurrent `ingest --fetch` share data/raw: the second is refused at once, nothing written."""
    dest = tmp_path / "raw"
    hold = (
        "import sys, time\nfrom pathlib import Path\nfrom evalkit.locking import data_lock\n"
        "with data_lock(Path(sys.argv[1])):\n    print('locked', flush=True)\n    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", hold, str(dest)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(EvalkitError, match="another evalkit run is using this folder"):
            fetch(dest, server, only=SOME)
        assert server.requests == []
        assert not (dest / MANIFEST).exists()
    finally:
        proc.kill()
        proc.wait(timeout=10)
    fetch(dest, server, only=SOME)  # released: the next run goes ahead
    assert (dest / SOME[0]).is_file()


def test_disk_full_during_a_download_is_one_line(server, tmp_path, monkeypatch):
    """ENOSPC while writing the .part: one line naming it (the bytes so far kept for a resume)."""
    import builtins
    import errno
    import os

    real_open = builtins.open

    class Full:
        def __init__(self, fh):
            self.fh = fh

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.fh.close()

        def close(self):
            self.fh.close()

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fake_open(file, mode="r", *a, **k):
        fh = real_open(file, mode, *a, **k)
        return Full(fh) if str(file).endswith(".part") and "b" in mode and mode[0] in "aw" else fh

    monkeypatch.setattr("evalkit.fetch.open", fake_open, raising=False)
    with pytest.raises(EvalkitError) as info:
        fetch(tmp_path / "raw", server, only=[SOME[0]])
    text = str(info.value)
    assert "\n" not in text and text.startswith(str(tmp_path / "raw" / (SOME[0] + ".part")))
    assert "cannot write the file: No space left on device" in text
