"""A cache of finished work keyed by its exact inputs, so rerunning a plan redoes only what changed.

The key of an entry is the sha256 of everything the result depends on: the estimator's name and
options, the inference settings, the rows of the panel it saw (every column's values), the source of
every evalkit module (any code change invalidates every entry) and the numeric libraries' versions.
Values are JSON (NaN and infinities kept; a cache file is data, never code). An entry carries its
key and the sha256 of its value as written, so an entry edited by hand, copied under another key,
of the wrong shape, corrupt or unreadable is ignored and recomputed, with a note on stderr. A cache
folder that cannot be written degrades to no cache (one note), never to an error.
`evalkit verify` never reads the cache.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from evalkit.io import atomic_write_text

# Every library whose version can change a number a cached analysis holds (numba: the SDID kernel).
LIBRARIES = ("numpy", "scipy", "polars", "pandas", "statsmodels", "linearmodels", "quadprog", "numba", "llvmlite")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """sha256 of every evalkit source file and the versions of the libraries that compute numbers."""
    import importlib.metadata

    h = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    for lib in LIBRARIES:
        try:
            h.update(f"{lib}={importlib.metadata.version(lib)}\0".encode())
        except importlib.metadata.PackageNotFoundError:
            h.update(f"{lib}=none\0".encode())
    return h.hexdigest()


def frame_digest(frame: pl.DataFrame) -> str:
    """sha256 of a frame's column names, types and values, in row order."""
    h = hashlib.sha256()
    for name in frame.columns:
        s = frame[name]
        h.update(f"{name}:{s.dtype}\0".encode())
        if s.dtype == pl.Utf8:
            h.update("\x1f".join("\x00" if v is None else v for v in s.to_list()).encode())
        else:
            h.update(s.is_null().to_numpy().tobytes())
            h.update(np.ascontiguousarray(s.fill_null(0).to_numpy()).tobytes())
    return h.hexdigest()


def key(*parts: Any) -> str:
    """sha256 of the parts (JSON-encoded; frames by `frame_digest`) and the code fingerprint."""
    h = hashlib.sha256(code_fingerprint().encode())
    for part in parts:
        h.update(b"\0")
        h.update(
            frame_digest(part).encode()
            if isinstance(part, pl.DataFrame)
            else json.dumps(_plain(part), sort_keys=True, allow_nan=True).encode()
        )
    return h.hexdigest()


def _plain(value: Any) -> Any:
    """JSON-ready copy that keeps NaN and infinities (json writes them as NaN / Infinity)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return value.as_posix()
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, (str, bytes)):
        return value.item()
    return value


_NOTED: set[str] = set()


def note(message: str) -> None:
    """One line on stderr, once per message per process (the result is recomputed, never wrong)."""
    if message not in _NOTED:
        _NOTED.add(message)
        sys.stderr.write(f"note: {message}\n")


def _value_sha256(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, allow_nan=True).encode()).hexdigest()


def _path(folder: Path, digest: str) -> Path:
    return Path(folder) / digest[:2] / f"{digest}.json"


def get(folder: Path | None, digest: str, shape: Callable[[Any], bool] | None = None) -> Any | None:
    """The value stored under `digest`, or None (then the caller recomputes). An entry whose key,
    checksum or `shape` does not match is ignored with a note."""
    if folder is None:
        return None
    path = _path(folder, digest)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, ValueError):
        note(f"cache entry {path} is unreadable; recomputing")
        return None
    try:
        doc = json.loads(raw)
        valid = (
            isinstance(doc, dict)
            and doc.get("key") == digest
            and doc.get("sha256") == _value_sha256(doc.get("value"))
            and (shape is None or shape(doc["value"]))
        )
    except (ValueError, TypeError, KeyError, AttributeError):
        valid = False
    if not valid:
        note(f"cache entry {path} does not match its key and checksum or has the wrong shape; recomputing")
        return None
    return doc["value"]


def put(folder: Path | None, digest: str, value: Any) -> None:
    """Store `value` under `digest`; a folder that cannot be written leaves the run uncached (a note)."""
    if folder is None:
        return
    from evalkit.errors import EvalkitError

    path = _path(folder, digest)
    plain = _plain(value)
    entry = {"key": digest, "sha256": _value_sha256(plain), "value": plain}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(entry, allow_nan=True) + "\n")
    except (OSError, EvalkitError) as exc:
        note(f"cache folder {folder} is not writable ({exc}); running without the cache")


def results_shaped(value: Any) -> bool:
    """True for what `Results.to_dict` writes: the keys estimate reads, with the types it reads them as."""
    return (
        isinstance(value, dict)
        and isinstance(value.get("estimates"), list)
        and all(isinstance(row, dict) for row in value["estimates"])
        and isinstance(value.get("diagnostics"), dict)
        and isinstance(value.get("inference"), dict)
        and isinstance(value.get("options"), dict)
        and isinstance(value.get("method"), str)
        and isinstance(value.get("outcome"), str)
    )


__all__ = ["code_fingerprint", "results_shaped", "note", "frame_digest", "key", "get", "put"]
