"""The report never renders from files of two different runs (issue #14: a stage's outputs are one set).

results.json is written after results.parquet and names it by sha256; multiverse.json names the panel it
was run on. A parquet from another run (or one left by a run killed between the two files), or a
multiverse made from another panel, is refused with one line and the earlier report is left as it was.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import evalkit_cmd


def _copy(demo_run: Path, tmp_path: Path) -> Path:
    work = tmp_path / "work"
    shutil.copytree(demo_run, work, symlinks=True)
    return work


def test_report_refuses_a_results_parquet_from_another_run(demo_run: Path, tmp_path: Path) -> None:
    work = _copy(demo_run, tmp_path)
    out = next(p.parent for p in (work / "reports").glob("*/results.json"))
    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert set(doc["outputs"]) == {"results.parquet"}
    before = (out / "report.md").read_bytes()
    parquet = out / "results.parquet"
    parquet.write_bytes(parquet.read_bytes() + b"\0")  # not the file results.json was written with
    proc = evalkit_cmd("report", cwd=work, check=False)
    assert proc.returncode == 1, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "results.parquet" in lines[0] and "rerun `evalkit estimate`" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert (out / "report.md").read_bytes() == before


def test_report_refuses_a_multiverse_from_another_panel(tmp_path: Path) -> None:
    from evalkit.errors import EvalkitError
    from evalkit.report.render import check_companions

    folder = tmp_path / "r"
    folder.mkdir()
    doc = {
        "name": "p",
        "provenance": {"inputs": [{"path": "data/processed/panel.parquet", "sha256": "a" * 64}]},
        "multiverse_results": {"inputs": {"panel_sha256": "b" * 64}},
    }
    try:
        check_companions(doc, folder / "results.json")
    except EvalkitError as exc:
        assert "multiverse.json was made from another panel" in str(exc)
    else:
        raise AssertionError("a multiverse from another panel was accepted")
    doc["multiverse_results"]["inputs"]["panel_sha256"] = "a" * 64
    check_companions(doc, folder / "results.json")  # the same panel: accepted
