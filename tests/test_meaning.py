"""evalkit.meaning: what `evalkit verify` accepts when bytes differ (as between processors)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from evalkit.io import dumps_json, write_parquet
from evalkit.meaning import json_same_meaning, numbers_same_meaning, same_meaning, text_same_meaning
from evalkit.verify import compare_dirs


def test_numbers_equal_to_the_precision_printed() -> None:
    assert numbers_same_meaning("0.701881", "0.701882")  # one unit in the last printed digit
    assert not numbers_same_meaning("0.701881", "0.701883")
    assert numbers_same_meaning("2.13044e-12", "2.13045e-12")
    assert not numbers_same_meaning("2.13044e-12", "8.02026e-13")
    assert numbers_same_meaning("-4.398923684210527", "-4.3989236842105255")  # last bits of a double
    assert not numbers_same_meaning("46", "47")  # counts, years and codes exactly
    assert not numbers_same_meaning("2016", "2016.0000001")


def test_json_floats_within_tolerance_everything_else_exactly() -> None:
    a = {"est": -4.398923684210527, "p": 1.87885239014676e-61, "n": 46, "name": "att", "zero": 2e-16}
    assert json_same_meaning(a, {**a, "est": -4.3989236842105255, "p": 1.878852390146653e-61, "zero": -1e-16})
    assert not json_same_meaning(a, {**a, "est": -4.3989})
    assert not json_same_meaning(a, {**a, "n": 47})
    assert not json_same_meaning(a, {**a, "name": "ATT"})
    assert not json_same_meaning(a, {k: v for k, v in a.items() if k != "zero"})
    assert not json_same_meaning([1.0, 2.0], [1.0, 2.0, 3.0])
    assert not json_same_meaning({"flag": True}, {"flag": 1.0})


def test_text_words_exactly_and_svg_ids_by_order() -> None:
    assert text_same_meaning("ATT −6.12 (SE 0.31) in 46 councils", "ATT −6.13 (SE 0.31) in 46 councils")
    assert not text_same_meaning("ATT −6.12 in 46 councils", "ATT −6.12 in 45 councils")
    assert not text_same_meaning("ATT −6.12 in 46 councils", "ATE −6.12 in 46 councils")
    svg_a = '<path id="m3929e3b00e" d="M 73.632924 -196.809778"/><use xlink:href="#m3929e3b00e" x="1.5"/>'
    svg_b = '<path id="m027a733aa1" d="M 73.632924 -196.809779"/><use xlink:href="#m027a733aa1" x="1.5"/>'
    assert text_same_meaning(svg_a, svg_b, svg_ids=True)
    assert not text_same_meaning(svg_a, svg_b)  # without renaming, the hashed ids differ
    svg_c = '<path id="m027a733aa1" d="M 73.632924 -196.809779"/><use xlink:href="#other" x="1.5"/>'
    assert not text_same_meaning(svg_a, svg_c, svg_ids=True)


def _report(folder: Path, estimate: float, label: str = "att") -> Path:
    folder.mkdir()
    (folder / "results.json").write_bytes(dumps_json({"estimates": [{"name": label, "estimate": estimate}]}).encode())
    (folder / "report.md").write_bytes(f"ATT {estimate:.6g}\n".encode())
    write_parquet(folder / "results.parquet", pl.DataFrame({"name": [label], "estimate": [estimate]}))
    return folder


def test_verify_accepts_rounding_differences_as_notes_and_reports_real_ones(tmp_path: Path) -> None:
    recorded = _report(tmp_path / "recorded", -4.398923684210527)
    ulps = _report(tmp_path / "ulps", -4.3989236842105255)
    notes: list[str] = []
    assert compare_dirs(recorded, ulps, notes) == []
    assert sorted(n.split(":")[0] for n in notes) == ["results.json", "results.parquet"]  # report.md: same bytes
    assert compare_dirs(recorded, ulps) != []  # without notes (make crossversion): bytes only

    changed = _report(tmp_path / "changed", -4.3989)
    notes = []
    diffs = compare_dirs(recorded, changed, notes)
    assert notes == [] and {d.split(":")[0] for d in diffs} == {"results.json", "results.parquet", "report.md"}
    assert same_meaning("results.json", recorded / "results.json", ulps / "results.json")
    assert json.loads((changed / "results.json").read_text(encoding="utf-8"))["estimates"][0]["estimate"] == -4.3989
