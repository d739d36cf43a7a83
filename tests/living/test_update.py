"""`evalkit releases` and `evalkit update` against a local stand-in of the EES and GOV.UK APIs (#27)."""

from __future__ import annotations

import csv
import hashlib
import json
import socket
from pathlib import Path

import pytest

from tests.conftest import evalkit_cmd, need_reference
from tests.living.fake_apis import FakeApis
from tests.living.simulated import DASHBOARD, next_cla_release


def _tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def apis(tmp_path: Path):
    root = need_reference()
    new = next_cla_release(root, tmp_path / "next")
    with FakeApis({"1.0": (root / DASHBOARD).read_bytes(), "2.0": new.read_bytes()}) as server:
        yield server


def _run(cmd: str, work: Path, apis: FakeApis, check: bool = True):
    return evalkit_cmd(cmd, "--ees-api", apis.ees, "--govuk-api", apis.govuk, cwd=work, check=check)


def test_update_finds_downloads_records_and_then_finds_nothing(apis: FakeApis, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    listed = _run("releases", work, apis)
    assert "cla-rates (cla): in force 2025; offered release 2026 version 2.0 (2026-11-20): NEW" in listed.stdout
    assert not (work / "releases").exists()  # listing changes nothing

    first = _run("update", work, apis)
    assert "cla-rates: release 2026 version 2.0 -> data/raw/cla/" in first.stdout
    assert "minor change: 1 timePeriods" in first.stdout
    with open(work / "releases" / "release_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1
    row = rows[0]
    downloaded = work / "data" / "raw" / row["file"]
    assert downloaded.read_bytes() == apis.csv_by_version["2.0"]
    assert row["sha256"] == hashlib.sha256(downloaded.read_bytes()).hexdigest()
    assert (row["source"], row["release"], row["version"], row["date"]) == ("cla", "2026", "2.0", "2026-11-20")
    assert row["bytes"] == str(len(apis.csv_by_version["2.0"]))
    assert row["url"] == f"{apis.ees}/data-sets/7c0e9201-c7c0-ff73-bee4-304e731ec0e6/csv?dataSetVersion=2.0"

    before = _tree(work)
    second = _run("update", work, apis)
    assert "no new release" in second.stdout
    assert _tree(work) == before
    assert "cla-rates (cla): in force 2026; offered release 2026 version 2.0" in _run("releases", work, apis).stdout

    # The downloaded file's release comes from the log (the publisher's metadata), not its name.
    ingested = evalkit_cmd("ingest", "--from", "data/raw", "--out", "processed", cwd=work)
    assert ingested.returncode == 0

    manifest = json.loads(next((work / "processed" / "generations").glob("*/manifest.json")).read_text())
    entry = next(f for f in manifest["files"] if f["file"] == row["file"])
    assert (entry["release"], entry["release_from"]) == (2026, "release log")


def test_pinned_file_with_other_bytes_is_refused(apis: FakeApis, tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    _run("update", work, apis)
    log = (work / "releases" / "release_log.csv").read_text()
    path = work / "data" / "raw" / log.splitlines()[1].split(",")[7]
    path.write_bytes(path.read_bytes() + b"\n")
    proc = _run("update", work, apis, check=False)
    assert proc.returncode == 1
    assert "file differs from the bytes the release log pinned" in proc.stderr
    assert (work / "releases" / "release_log.csv").read_text() == log


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_offline_fails_in_one_line_and_changes_nothing(tmp_path: Path) -> None:
    work = tmp_path / "work"
    (work / "releases").mkdir(parents=True)
    (work / "releases" / "release_log.csv").write_text("source,release,version,date,url,sha256,bytes,file,feed\n")
    before = _tree(work)
    port = _closed_port()
    for cmd in ("releases", "update"):
        proc = evalkit_cmd(
            cmd,
            "--ees-api",
            f"http://127.0.0.1:{port}/statistics/v1",
            "--govuk-api",
            f"http://127.0.0.1:{port}/api/content",
            cwd=work,
            check=False,
        )
        assert proc.returncode == 1, proc.stdout + proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, lines
        assert lines[0].startswith("error: could not check cla-rates (127.0.0.1:")
        assert "ro3 (" in lines[0] and lines[0].endswith("nothing changed")
        assert _tree(work) == before
        assert not (work / "data").exists()
