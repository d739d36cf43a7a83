"""A cache of finished work keyed by its exact inputs, so rerunning a plan redoes only what changed.

The key of an entry is the sha256 of everything the result depends on: the estimator's name and
options, the inference settings, the rows of the panel it saw (every column's values), the source of
every evalkit module (any code change invalidates every entry) and the numeric libraries' versions.
Values are JSON (NaN and infinities kept; a cache file is data, never code). A corrupt
or unreadable entry is ignored and recomputed. `evalkit verify` never reads the cache.
"""

from __future__ import annotations

import hashlib
import json
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


def get(folder: Path | None, digest: str) -> Any | None:
    if folder is None:
        return None
    path = Path(folder) / digest[:2] / f"{digest}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))["value"]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def put(folder: Path | None, digest: str, value: Any) -> None:
    if folder is None:
        return
    path = Path(folder) / digest[:2] / f"{digest}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps({"key": digest, "value": _plain(value)}, allow_nan=True) + "\n")


__all__ = ["code_fingerprint", "frame_digest", "key", "get", "put"]
