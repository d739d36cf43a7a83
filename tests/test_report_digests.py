"""tools/report_digests.py: the reproduction workflow's cross-machine comparison can fail."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tests.conftest import REPO

spec = importlib.util.spec_from_file_location("report_digests", REPO / "tools" / "report_digests.py")
rd = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rd)


def _cell(root: Path, label: str, html: bytes) -> Path:
    report = root / label
    report.mkdir()
    (report / "results.json").write_bytes(b'{"a": 1}\n')
    (report / "report.html").write_bytes(html)
    (report / "fig-x.svg").write_bytes(b"<svg/>\n")
    out = root / "digests" / f"{label}.json"
    assert rd.main(["write", str(report), "--label", label, "--out", str(out)]) == 0
    return out


def test_identical_cells_pass_and_a_differing_or_missing_cell_fails(tmp_path: Path, capsys) -> None:
    a = _cell(tmp_path, "ubuntu-py3.11", b"<p>same</p>\n")
    b = _cell(tmp_path, "windows-py3.13", b"<p>same</p>\n")
    assert rd.main(["compare", str(a), str(b), "--expect", "2"]) == 0
    assert rd.main(["compare", str(a), str(b), "--expect", "3"]) == 1  # a cell that never reported
    c = _cell(tmp_path, "macos-py3.12", b"<p>same</p>\r\n")
    capsys.readouterr()
    assert rd.main(["compare", str(a), str(b), str(c)]) == 1
    out = capsys.readouterr().out
    assert "DIFF  report.html" in out and "macos-py3.12" in out
    assert "same  results.json" in out and "same  fig-x.svg" in out


def test_records_the_files_verify_compares() -> None:
    from evalkit.verify import COMPARED_FILES

    assert set(rd.COMPARED) == set(COMPARED_FILES)
