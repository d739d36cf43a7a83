"""verify: byte-for-byte comparison of a report folder with a fresh rerun."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.io import write_json, write_parquet
from evalkit.verify import compare_dirs, json_differences, verify

DOC = {
    "name": "demo",
    "analyses": [{"label": "a", "results": {"estimates": [{"estimate": 1.25, "se": 0.5}]}}],
    "provenance": {"seeds": {"inference": 1}},
}
HTML = "<!DOCTYPE html>\n<html>\n<body>\n" + "".join(f"<p>line {i}</p>\n" for i in range(40)) + "</body>\n</html>\n"


def make_report(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "results.json", DOC)
    write_parquet(folder / "results.parquet", pl.DataFrame({"label": ["a"], "estimate": [1.25]}))
    (folder / "report.html").write_text(HTML)
    (folder / "report.md").write_text("# Demo\n\nEstimate 1.25\n")
    (folder / "fig-a-event-study.svg").write_text("<svg><title>a</title></svg>\n")
    return folder


def copier(source: Path, tmp_path: Path):
    """A rerun that copies `source` into a fresh folder (stands in for re-running the plan)."""

    def rerun(report_dir: Path) -> Path:
        fresh = tmp_path / "rerun"
        shutil.copytree(source, fresh)
        return fresh

    return rerun


def test_identical_dirs_reproduce(tmp_path: Path) -> None:
    recorded = make_report(tmp_path / "recorded")
    assert verify(recorded, copier(recorded, tmp_path)) == []


def test_changed_byte_in_results_json(tmp_path: Path) -> None:
    recorded = make_report(tmp_path / "recorded")
    source = make_report(tmp_path / "source")
    raw = (source / "results.json").read_bytes()
    (source / "results.json").write_bytes(raw.replace(b"1.25", b"1.26"))
    diffs = verify(recorded, copier(source, tmp_path))
    assert diffs == ["results.json: analyses[0].results.estimates[0].estimate: recorded 1.25, rerun 1.26"]


def test_changed_byte_in_report_html(tmp_path: Path) -> None:
    recorded = make_report(tmp_path / "recorded")
    source = make_report(tmp_path / "source")
    (source / "report.html").write_text(HTML.replace("line 20", "line 2O"))
    diffs = verify(recorded, copier(source, tmp_path))
    assert len(diffs) == 1
    assert diffs[0].startswith("report.html: text differs")
    assert "-<p>line 20</p>" in diffs[0] and "+<p>line 2O</p>" in diffs[0]
    assert "line 5<" not in diffs[0]  # an excerpt, not the whole file


def test_formatting_only_json_change(tmp_path: Path) -> None:
    recorded = make_report(tmp_path / "recorded")
    source = make_report(tmp_path / "source")
    (source / "results.json").write_text((source / "results.json").read_text().replace("\n", "\r\n"))
    (diff,) = verify(recorded, copier(source, tmp_path))
    assert "same values but different bytes" in diff and "sha256" in diff


def test_parquet_figures_and_missing_files(tmp_path: Path) -> None:
    recorded = make_report(tmp_path / "recorded")
    source = make_report(tmp_path / "source")
    write_parquet(source / "results.parquet", pl.DataFrame({"label": ["a"], "estimate": [1.5]}))
    (source / "fig-a-event-study.svg").unlink()
    (source / "fig-b-weights.svg").write_text("<svg/>\n")
    (source / "report.md").write_text("# Demo\n\nEstimate 1.25")
    diffs = verify(recorded, copier(source, tmp_path))
    assert diffs[0].startswith("results.parquet: bytes differ: recorded ") and "(table values differ)" in diffs[0]
    assert "sha256" in diffs[0]
    assert diffs[1].startswith("report.md: differs only in line endings")
    assert diffs[2] == "fig-a-event-study.svg: recorded but not produced by the rerun"
    assert diffs[3] == "fig-b-weights.svg: produced by the rerun but not recorded"


def test_json_differences_limits_and_lengths() -> None:
    a = {"x": list(range(30)), "y": {"k": 1}}
    b = {"x": [v + 1 for v in range(30)], "z": 2}
    diffs = json_differences(a, b, limit=5)
    assert len(diffs) == 5 and diffs[0] == "x[0]: recorded 0, rerun 1"
    assert json_differences([1, 2], [1, 2, 3]) == [": recorded has 2 items, rerun has 3"]
    assert json_differences({"a": 1}, {"a": 1.0}) == ["a: recorded 1, rerun 1.0"]


def test_compare_dirs_skips_files_absent_on_both_sides(tmp_path: Path) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        write_json(tmp_path / d / "results.json", DOC)
    assert compare_dirs(tmp_path / "a", tmp_path / "b") == []


def test_verify_needs_results_and_a_fresh_dir(tmp_path: Path) -> None:
    with pytest.raises(EvalkitError, match="no results.json"):
        verify(tmp_path, lambda d: d)
    recorded = make_report(tmp_path / "recorded")
    with pytest.raises(EvalkitError, match="fresh"):
        verify(recorded, lambda d: d)
