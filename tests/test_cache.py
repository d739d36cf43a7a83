"""evalkit.cache: an entry is found only under the exact inputs, code and library versions it was made with."""

from __future__ import annotations

import importlib.metadata
import math

import polars as pl
import pytest

from evalkit import cache


def test_key_depends_on_every_part_and_on_frame_values() -> None:
    frame = pl.DataFrame({"unit": ["a", "b"], "y": [1.0, 2.0]})
    base = cache.key("analysis", "cs", {"control": "never"}, frame)
    assert base == cache.key("analysis", "cs", {"control": "never"}, frame.clone())
    assert base != cache.key("analysis", "cs", {"control": "notyet"}, frame)
    assert base != cache.key("analysis", "sunab", {"control": "never"}, frame)
    assert base != cache.key("analysis", "cs", {"control": "never"}, frame.with_columns(pl.col("y") + 1e-12))
    assert base != cache.key("analysis", "cs", {"control": "never"}, frame.with_columns(pl.col("y").cast(pl.Float32)))
    nulls = pl.DataFrame({"unit": ["a", None], "y": [1.0, None]})
    zeros = pl.DataFrame({"unit": ["a", ""], "y": [1.0, 0.0]})
    assert cache.frame_digest(nulls) != cache.frame_digest(zeros)


def test_fingerprint_covers_the_libraries_that_compute_numbers(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {"numpy", "numba", "llvmlite", "quadprog", "polars"} <= set(cache.LIBRARIES)
    before = cache.code_fingerprint()
    real = importlib.metadata.version

    def other_numba(name: str) -> str:
        return "0.0.0-other" if name == "numba" else real(name)

    cache.code_fingerprint.cache_clear()
    monkeypatch.setattr(importlib.metadata, "version", other_numba)
    try:
        assert cache.code_fingerprint() != before
    finally:
        monkeypatch.undo()
        cache.code_fingerprint.cache_clear()
    assert cache.code_fingerprint() == before


def test_round_trip_keeps_nan_and_infinities(tmp_path) -> None:
    value = {"estimate": 1.5, "se": math.nan, "ci_high": math.inf, "rows": [1, 2]}
    digest = cache.key("x", value)
    assert cache.get(tmp_path, digest) is None
    cache.put(tmp_path, digest, value)
    got = cache.get(tmp_path, digest)
    assert got["estimate"] == 1.5 and math.isnan(got["se"]) and got["ci_high"] == math.inf and got["rows"] == [1, 2]
    assert cache.get(None, digest) is None
    cache.put(None, digest, value)  # no folder: nothing written, no error


def test_corrupt_entry_is_ignored(tmp_path) -> None:
    digest = cache.key("y", 1)
    cache.put(tmp_path, digest, {"a": 1})
    path = tmp_path / digest[:2] / f"{digest}.json"
    path.write_text("{not json", encoding="utf-8")
    assert cache.get(tmp_path, digest) is None


def test_provenance_lists_the_libraries_that_compute_numbers() -> None:
    from evalkit.estimate import LIBRARIES, library_versions

    assert {"numpy", "scipy", "polars", "linearmodels", "quadprog", "numba"} <= set(LIBRARIES)
    assert set(library_versions()) == set(LIBRARIES)
