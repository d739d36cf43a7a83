"""Download the published files evalkit reads into a folder that `evalkit ingest --from` then reads.

The catalogue (`evalkit/data/sources.toml`) names every file by a stable path under `data/raw/`
(the layout of the reference folder), where it can be downloaded, and the sha256 and size of the
published bytes. A download is:

* cached: a file already in place with the catalogue's sha256 is not fetched again;
* resumable: bytes go to `<file>.part`; when a `.part` exists the rest is asked for with an HTTP
  `Range` header and appended (a server that ignores Range and answers 200 gets a full download);
* verified and atomic: the `.part` is hashed before it is renamed into place; a mismatch deletes it
  and raises EvalkitError naming the file and both hashes;
* bounded: a server may not send more bytes than the catalogue says the file has (a declared
  Content-Length over it is refused before reading, and the body is cut off as soon as one byte too
  many arrives; an entry with no size, `bytes = 0`, is capped at MAX_DOWNLOAD_BYTES), and each file
  has an overall deadline across all its attempts (`deadline` seconds, or EVALKIT_FETCH_DEADLINE;
  by default DEADLINE_BASE plus one second per DEADLINE_RATE bytes), so neither an endless body nor
  a server trickling one byte at a time can keep a run going; reads return as soon as any bytes
  arrive, and the socket timeout is never longer than the time left;
* one fetch per folder: the download folder is held with `evalkit.locking.data_lock` for the
  whole run, so two concurrent `ingest --fetch` never write the same `.part` files.

Every catalogued file has a direct URL (a raw file at a full commit of a public repository, checked
by sha256: the reference folder's ORIGINS.csv); `landing_page` keeps the official page where newer
releases appear. `mirror` (or the environment variable EVALKIT_MIRROR) is a base URL, or a local
folder, under which the files sit at their catalogue paths; with a mirror every entry is fetched
from it. An entry whose only known location is a landing page (`url_kind = "landing_page"`, e.g. in
a user's own catalogue) cannot be fetched:
fetch_all downloads everything else first, writes the manifest, then raises one EvalkitError that
lists them. A landing-page file that the user saved by hand at its path with the right sha256
counts as cached, so saving those files and running again succeeds.

What happened is recorded in `<dest>/fetch_manifest.json` (written also when a download fails).
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import time
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from evalkit import __version__
from evalkit.errors import EvalkitError
from evalkit.io import sha256_file, write_failed, write_json

MANIFEST = "fetch_manifest.json"
MIRROR_ENV = "EVALKIT_MIRROR"
DEADLINE_ENV = "EVALKIT_FETCH_DEADLINE"
MAX_DOWNLOAD_BYTES = 1 << 30  # 1 GiB: the cap for an entry with no catalogued size (the largest file is 40 MB)
DEADLINE_BASE = 300.0  # seconds per file, plus one second per DEADLINE_RATE bytes of its size
DEADLINE_RATE = 50_000
PART_SUFFIX = ".part"
CHUNK = 1 << 16
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
URL_KINDS = ("direct", "landing_page")


@dataclass(frozen=True)
class Source:
    """One catalogued file. `path` is relative to the download folder, with forward slashes."""

    path: str
    sha256: str
    bytes: int
    url: str
    url_kind: str
    title: str = ""
    publisher: str = ""
    origin: str = ""
    note: str = ""
    landing_page: str = ""  # the official page where newer releases appear


def catalogue_path() -> Path:
    return Path(str(resources.files("evalkit") / "data" / "sources.toml"))


def load_catalogue(path: str | Path | None = None) -> list[Source]:
    """Read and check the catalogue; every entry's path is a safe relative path."""
    path = Path(path) if path is not None else catalogue_path()
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EvalkitError(f"cannot read the download catalogue: {exc}", file=path) from exc
    sources: list[Source] = []
    seen: set[str] = set()
    fields = set(Source.__dataclass_fields__)
    for i, entry in enumerate(data.get("file", []), start=1):
        missing = {"path", "sha256", "bytes", "url", "url_kind"} - set(entry)
        unknown = set(entry) - fields
        if missing or unknown:
            raise EvalkitError(
                f"catalogue entry {i} has missing fields {sorted(missing)} or unknown fields {sorted(unknown)}",
                file=path,
            )
        src = Source(**entry)
        rel = Path(src.path)
        if rel.is_absolute() or ".." in rel.parts or src.path != rel.as_posix() or src.path in seen:
            raise EvalkitError(f"catalogue entry {i} has a bad or repeated path {src.path!r}", file=path)
        if src.url_kind not in URL_KINDS or len(src.sha256) != 64:
            raise EvalkitError(f"catalogue entry {src.path!r} has a bad url_kind or sha256", file=path)
        if not isinstance(src.bytes, int) or isinstance(src.bytes, bool) or src.bytes < 0:
            raise EvalkitError(
                f"catalogue entry {src.path!r} has a bad size {src.bytes!r}",
                file=path,
                expected="bytes = the file's size (0 when unknown)",
            )
        seen.add(src.path)
        sources.append(src)
    if not sources:
        raise EvalkitError("the download catalogue lists no files", file=path)
    return sources


def select(sources: list[Source], only: list[str] | None) -> list[Source]:
    """Entries named in `only`: an exact catalogue path, or a folder such as "cla" for all under it."""
    if only is None:
        return list(sources)
    chosen: dict[str, Source] = {}
    unknown = []
    for item in only:
        key = item.strip().strip("/")
        hits = [s for s in sources if s.path == key or s.path.startswith(key + "/")] if key else []
        if not hits:
            unknown.append(item)
        for s in hits:
            chosen[s.path] = s
    if unknown:
        raise EvalkitError(
            f"not in the download catalogue: {', '.join(unknown)}",
            expected="a catalogue path such as cla/<file>.csv or a folder such as cla",
        )
    return [s for s in sources if s.path in chosen]


def mirror_url(mirror: str, rel: str) -> str:
    """The URL of `rel` under a mirror base URL; a plain local folder is turned into a file: URL."""
    if "://" not in mirror:
        mirror = Path(mirror).resolve().as_uri()
    return mirror.rstrip("/") + "/" + urllib.parse.quote(rel)


def fetch_all(
    dest: Path,
    *,
    mirror: str | None = None,
    only: list[str] | None = None,
    progress: Callable[[str], None] | None = None,
    timeout: float = 60,
    retries: int = 2,
    catalogue: str | Path | None = None,
    deadline: float | None = None,
) -> Path:
    """Download every catalogued file (or those in `only`) into `dest`; return `dest`.

    Raises EvalkitError on the first file that cannot be downloaded or verified (the files done so
    far stay in place and in the manifest), and at the end if some files need a manual download.
    `deadline` is the overall time allowed per file in seconds (default: EVALKIT_FETCH_DEADLINE, or
    `default_deadline` of its size). Another fetch into the same `dest` is refused at once.
    """
    from evalkit.locking import data_lock

    dest = Path(dest)
    mirror = mirror or os.environ.get(MIRROR_ENV) or None
    sources = select(load_catalogue(catalogue), only)
    deadline = deadline if deadline is not None else _deadline_from_env()
    with data_lock(dest):
        return _fetch_locked(dest, sources, mirror, progress, timeout, retries, catalogue, deadline)


def default_deadline(size: int) -> float:
    """Seconds allowed for one file of `size` bytes: generous for a slow line, finite for a stalled one."""
    return DEADLINE_BASE + (size or MAX_DOWNLOAD_BYTES) / DEADLINE_RATE


def _deadline_from_env() -> float | None:
    value = os.environ.get(DEADLINE_ENV)
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds != seconds or seconds == float("inf"):
        raise EvalkitError(f"{DEADLINE_ENV}={value!r} is not a number of seconds", expected="a positive number")
    return seconds


def _fetch_locked(
    dest: Path,
    sources: list[Source],
    mirror: str | None,
    progress: Callable[[str], None] | None,
    timeout: float,
    retries: int,
    catalogue: str | Path | None,
    deadline: float | None,
) -> Path:
    say = progress or (lambda _msg: None)
    records: dict[str, dict] = {}
    manual: list[dict] = []
    try:
        for src in sources:
            target = dest / src.path
            if target.is_file() and target.stat().st_size == src.bytes and sha256_file(target) == src.sha256:
                url = mirror_url(mirror, src.path) if mirror else src.url
                records[src.path] = _record(src, url, cached=True, resumed=False, downloaded=0)
                say(f"{src.path}: cached")
                continue
            if not mirror and src.url_kind != "direct":
                reason = "present with a different sha256" if target.exists() else "not present"
                manual.append({"file": src.path, "url": src.url, "reason": reason, "note": src.note})
                say(f"{src.path}: needs a manual download from {src.url}")
                continue
            url = mirror_url(mirror, src.path) if mirror else src.url
            seconds = deadline if deadline is not None else default_deadline(src.bytes)
            records[src.path] = _download(src, url, target, timeout=timeout, retries=retries, say=say, deadline=seconds)
    finally:
        _write_manifest(dest, records, manual, mirror, Path(catalogue) if catalogue else catalogue_path())
    if manual:
        listed = "; ".join(f"{m['file']} ({m['reason']}) from {m['url']}" for m in manual)
        raise EvalkitError(
            f"{len(manual)} file(s) need a manual download (only a landing page is known): {listed}",
            file=dest,
            expected=f"each saved at its path under {dest.as_posix()}, or a mirror given with --mirror or {MIRROR_ENV}",
        )
    return dest


def _record(src: Source, url: str, *, cached: bool, resumed: bool, downloaded: int) -> dict:
    return {
        "file": src.path,
        "url": url,
        "sha256": src.sha256,
        "bytes": src.bytes,
        "cached": cached,
        "resumed": resumed,
        "downloaded_bytes": downloaded,
    }


def _write_manifest(
    dest: Path, records: dict[str, dict], manual: list[dict], mirror: str | None, catalogue: Path
) -> None:
    """Merge this run into the manifest: entries from earlier runs stay while their file is in place."""
    path = dest / MANIFEST
    files: dict[str, dict] = {}
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        for rec in old.get("files", []):
            if isinstance(rec, dict) and isinstance(rec.get("file"), str) and (dest / rec["file"]).is_file():
                files[rec["file"]] = rec
    except (OSError, ValueError, AttributeError):
        pass
    files.update(records)
    write_json(
        path,
        {
            "evalkit_version": __version__,
            "catalogue_sha256": sha256_file(catalogue),
            "mirror": mirror,
            "files": [files[k] for k in sorted(files)],
            "manual_download": sorted(manual, key=lambda m: m["file"]),
        },
    )


def _download(
    src: Source,
    url: str,
    target: Path,
    *,
    timeout: float,
    retries: int,
    say: Callable[[str], None],
    deadline: float,
) -> dict:
    """Fetch one file to `<target>.part` (resuming), verify it, and rename it into place."""
    limit = src.bytes or MAX_DOWNLOAD_BYTES
    until = time.monotonic() + deadline
    part = target.with_name(target.name + PART_SUFFIX)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failed(target.parent, exc) from None
    resumed = False
    downloaded = 0
    attempt = 0
    restarted = False
    while True:
        have = part.stat().st_size if part.is_file() else 0
        if have > limit:  # longer than the published file: cannot be a prefix of it
            part.unlink()
            have = 0
        if have < limit:
            try:
                got, was_resumed = _transfer(
                    url, part, have, timeout=timeout, say=say, rel=src.path, limit=limit, until=until, deadline=deadline
                )
                downloaded += got
                resumed = resumed or was_resumed
                size = part.stat().st_size if part.is_file() else 0
                if src.bytes and size < src.bytes:
                    raise _Retryable(f"connection closed early ({size} of {src.bytes} bytes)")
            except _Retryable as exc:
                attempt += 1
                if attempt > retries:
                    size = part.stat().st_size if part.is_file() else 0
                    raise EvalkitError(
                        f"download from {url} failed after {attempt} attempt(s): {exc}; "
                        f"{size} of {src.bytes} bytes kept in {part.name}, run again to resume",
                        file=src.path,
                    ) from None
                say(f"{src.path}: {exc}; retrying ({attempt}/{retries})")
                time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0, max(until - time.monotonic(), 0)))
                continue
        else:
            resumed = True  # a complete .part from an earlier run: only verification is left
        actual = sha256_file(part)
        if actual != src.sha256:
            size = part.stat().st_size
            part.unlink(missing_ok=True)
            if resumed and not restarted:
                # the old .part may belong to another version of the file: one clean full download
                say(f"{src.path}: resumed download does not verify; downloading it whole")
                resumed, restarted = False, True
                continue
            raise EvalkitError(
                f"downloaded file from {url} does not match the catalogue: sha256 {actual} ({size} bytes)",
                file=src.path,
                expected=f"sha256 {src.sha256} ({src.bytes} bytes)",
            )
        with open(part, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(part, target)
        say(f"{src.path}: {'resumed' if resumed else 'downloaded'} and verified")
        return _record(src, url, cached=False, resumed=resumed, downloaded=downloaded)


class _Retryable(Exception):
    """A transient failure (dropped connection, timeout, 5xx): worth another attempt."""


def _over_deadline(rel: str, url: str, part: Path, deadline: float, received: int) -> EvalkitError:
    size = part.stat().st_size if part.is_file() else 0
    return EvalkitError(
        f"download from {url} did not finish within its deadline of {deadline:g} s ({received} bytes in this "
        f"attempt; {size} bytes kept in {part.name}, run again to resume)",
        file=rel,
        expected=f"the whole file within the deadline (set {DEADLINE_ENV} for a slow line)",
    )


def _too_long(rel: str, url: str, part: Path, limit: int, what: str) -> EvalkitError:
    part.unlink(missing_ok=True)
    return EvalkitError(
        f"server at {url} {what}, more than the {limit} bytes catalogued; refused and nothing kept",
        file=rel,
        expected=f"at most {limit} bytes",
    )


def _transfer(
    url: str,
    part: Path,
    have: int,
    *,
    timeout: float,
    say: Callable[[str], None],
    rel: str,
    limit: int,
    until: float,
    deadline: float,
) -> tuple[int, bool]:
    """One request appending to `part` from byte `have`; returns (bytes received, whether it resumed).

    Never writes past `limit` bytes in `part` and never runs past the monotonic time `until`.
    """
    left = until - time.monotonic()
    if left <= 0:
        raise _over_deadline(rel, url, part, deadline, 0)
    timeout = min(timeout, left)
    headers = {"User-Agent": f"evalkit/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416 and have:  # the server will not serve that range: start again
            part.unlink(missing_ok=True)
            raise _Retryable("server refused the resume range (HTTP 416)") from None
        if exc.code in RETRY_STATUS:
            raise _Retryable(f"HTTP {exc.code} {exc.reason}") from None
        raise EvalkitError(f"download failed: HTTP {exc.code} {exc.reason} for {url}", file=rel) from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout, ConnectionError)):
            raise _Retryable(f"cannot reach the server: {reason}") from None
        raise EvalkitError(f"cannot download {url}: {reason}", file=rel) from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise _Retryable(f"{type(exc).__name__}: {exc}") from None
    with response:
        status = getattr(response, "status", None) or 200  # file: URLs carry no status
        resumed = bool(have) and status == 206
        if resumed:
            start = _range_start(response.headers.get("Content-Range"))
            if start is not None and start != have:
                part.unlink(missing_ok=True)
                raise _Retryable(f"server resumed at byte {start}, not {have}")
            say(f"{rel}: resuming at byte {have}")
            mode = "ab"
        else:
            if have:
                say(f"{rel}: server ignored the resume request; downloading it whole")
            mode = "wb"
        start = have if resumed else 0
        declared = response.headers.get("Content-Length") if hasattr(response, "headers") else None
        if declared and declared.strip().isdigit() and start + int(declared) > limit:
            raise _too_long(rel, url, part, limit, f"declares {start + int(declared)} bytes")
        read = getattr(response, "read1", None) or response.read  # read1: return as soon as bytes arrive
        received = 0
        try:
            fh = open(part, mode)
        except OSError as exc:
            raise write_failed(part, exc) from None
        with fh:
            while True:
                if time.monotonic() > until:
                    fh.flush()  # so that the message counts the bytes the .part really keeps
                    raise _over_deadline(rel, url, part, deadline, received)
                try:
                    block = read(CHUNK)
                except (TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
                    if time.monotonic() > until:
                        fh.flush()
                        raise _over_deadline(rel, url, part, deadline, received) from None
                    raise _Retryable(f"connection lost after {received} bytes ({type(exc).__name__})") from None
                if not block:
                    break
                if start + received + len(block) > limit:
                    fh.close()
                    raise _too_long(rel, url, part, limit, f"sent more than {limit - start} bytes")
                try:
                    fh.write(block)
                except OSError as exc:  # disk full, quota: one line, the .part kept for a resume
                    raise write_failed(part, exc) from None
                received += len(block)
    return received, resumed


def _range_start(content_range: str | None) -> int | None:
    """The first byte of a `Content-Range: bytes a-b/n` header, or None when absent or unreadable."""
    if not content_range:
        return None
    try:
        unit, _, rest = content_range.strip().partition(" ")
        return int(rest.split("-", 1)[0]) if unit.lower() == "bytes" else None
    except ValueError:
        return None


# --- new releases (evalkit.updates): files no catalogue pins yet ----------------------------------------

MAX_JSON_BYTES = 8 << 20  # an API answer larger than this is not one of the documented listings


class Unreachable(Exception):
    """A server could not be reached or answered with a server error: nothing was checked there."""


def get_json(url: str, *, timeout: float = 30) -> object:
    """GET a JSON document (an API listing), bounded in size and time."""
    request = urllib.request.Request(
        url, headers={"User-Agent": f"evalkit/{__version__}", "Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_JSON_BYTES + 1)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code >= 500 or exc.code in RETRY_STATUS:
            raise Unreachable(f"HTTP {exc.code} from {url}") from None
        raise EvalkitError(f"HTTP {exc.code} {exc.reason} for {url}", expected="a listing the API documents") from None
    except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Unreachable(f"{urllib.parse.urlsplit(url).netloc or url} unreachable ({reason})") from None
    if len(body) > MAX_JSON_BYTES:
        raise EvalkitError(f"answer from {url} is larger than {MAX_JSON_BYTES} bytes", expected="an API listing")
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise EvalkitError(f"answer from {url} is not JSON: {exc}", expected="the API's JSON") from None


def download_new(
    url: str,
    target: Path,
    *,
    rel: str,
    timeout: float = 60,
    retries: int = 2,
    say: Callable[[str], None] = lambda _: None,
) -> tuple[str, int]:
    """Download a file no catalogue pins yet (trusted on first use) to `target` via `<target>.part`,
    bounded in size and time like every download; returns (sha256, bytes). On failure nothing is left."""
    part = target.with_name(target.name + PART_SUFFIX)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_failed(target.parent, exc) from None
    deadline = _deadline_from_env() or default_deadline(0)
    until = time.monotonic() + deadline
    attempt = 0
    try:
        while True:
            try:
                _transfer(
                    url,
                    part,
                    0,
                    timeout=timeout,
                    say=say,
                    rel=rel,
                    limit=MAX_DOWNLOAD_BYTES,
                    until=until,
                    deadline=deadline,
                )
                break
            except _Retryable as exc:
                attempt += 1
                if attempt > retries:
                    raise Unreachable(f"download from {url} failed: {exc}") from None
                time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
        digest, size = sha256_file(part), part.stat().st_size
        with open(part, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
    return digest, size
