"""The analysis cache earns its trust (issue #30, item 6).

An entry edited by hand to say 9.999 used to be printed by the next `estimate` and reported; an
entry of the wrong shape or an unwritable cache folder ended in a traceback. Now an entry carries
its key and the sha256 of its value: a mismatch or the wrong shape is recomputed with a note, and a
cache folder that cannot be written leaves the run uncached.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evalkit import cache
from tests.conftest import evalkit_cmd


@pytest.fixture
def work(demo_run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "w"
    shutil.copytree(demo_run, target, ignore=shutil.ignore_patterns(".evalkit.lock"))
    return target


def _entries(work: Path) -> list[Path]:
    return sorted((work / "reports" / ".cache").rglob("*.json"))


def _tamper(entry: Path) -> None:
    """Change every estimate in the entry to 12345.678 (the issue used 9.999), as a hand edit would (the checksum left as it was)."""
    doc = json.loads(entry.read_text())
    for row in doc["value"]["estimates"]:
        row["estimate"] = 12345.678
    entry.write_text(json.dumps(doc, allow_nan=True))


def test_edited_entry_is_recomputed(work: Path) -> None:
    evalkit_cmd("estimate", cwd=work)  # fills the cache (the session's demo run wrote it already)
    before = (work / "reports" / "demo" / "results.json").read_bytes()
    entries = _entries(work)
    assert entries
    for entry in entries:
        _tamper(entry)
    run = evalkit_cmd("estimate", cwd=work)
    assert "note: cache entry" in run.stderr
    assert (work / "reports" / "demo" / "results.json").read_bytes() == before
    assert b"12345.678" not in before


def test_wrong_shape_is_recomputed(work: Path) -> None:
    evalkit_cmd("estimate", cwd=work)
    before = (work / "reports" / "demo" / "results.json").read_bytes()
    for entry in _entries(work):
        doc = json.loads(entry.read_text())
        value = {"estimates": "not a list"}
        doc["value"] = value
        doc["sha256"] = cache._value_sha256(value) if hasattr(cache, "_value_sha256") else ""
        entry.write_text(json.dumps(doc))
    run = evalkit_cmd("estimate", cwd=work, check=False)
    assert run.returncode == 0, run.stderr
    assert "wrong shape" in run.stderr
    assert (work / "reports" / "demo" / "results.json").read_bytes() == before


def test_unwritable_cache_degrades_to_no_cache(work: Path) -> None:
    shutil.rmtree(work / "reports" / ".cache", ignore_errors=True)
    (work / "reports" / ".cache").write_text("a file where the cache folder should be\n")
    before = (work / "reports" / "demo" / "results.json").read_bytes()
    run = evalkit_cmd("estimate", cwd=work, check=False)
    assert run.returncode == 0, run.stderr
    assert "running without the cache" in run.stderr
    assert (work / "reports" / "demo" / "results.json").read_bytes() == before


def test_entry_under_another_key_is_ignored(tmp_path: Path) -> None:
    cache.put(tmp_path, "a" * 64, {"x": 1})
    moved = tmp_path / "bb" / f"{'b' * 64}.json"
    moved.parent.mkdir()
    shutil.copy(tmp_path / "aa" / f"{'a' * 64}.json", moved)
    assert cache.get(tmp_path, "a" * 64) == {"x": 1}
    assert cache.get(tmp_path, "b" * 64) is None
