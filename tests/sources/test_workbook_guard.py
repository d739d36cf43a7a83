"""Bounds on .xlsx/.ods before any reader opens them (evalkit/sources/workbook_guard.py).

The refusals on hostile files are in the malformed corpus (tests/robustness/test_malformed_corpus.py,
cases ods-zip-bomb ... xlsx-*); here: the caps themselves, and that the real official workbooks pass.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from evalkit.errors import EvalkitError
from evalkit.ingest import demo_dir
from evalkit.sources import population, workbook_guard
from tests.robustness import workbooks
from tests.shared_data import REFERENCE, absent_reason

ODS = demo_dir() / "ofsted_LA_Inspection_Outcomes_as_at_31_March_2025.ods"


def _write(tmp_path: Path, name: str, raw: bytes) -> Path:
    p = tmp_path / name
    p.write_bytes(raw)
    return p


def test_small_workbooks_pass(tmp_path: Path) -> None:
    workbook_guard.check_workbook(ODS)
    ok = _write(tmp_path, "ok.xlsx", workbooks.xlsx([("A1", "Code"), ("CV2000", "x")], dimension="A1:CV2000"))
    workbook_guard.check_workbook(ok)  # 100 columns x 2000 rows: well inside the cap


def test_cell_cap_is_on_the_rectangle(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(workbook_guard, "MAX_SHEET_CELLS", 100 * 2000 - 1)
    p = _write(tmp_path, "edge.xlsx", workbooks.xlsx([("A1", "Code"), ("CV2000", "x")]))
    with pytest.raises(EvalkitError, match="reaches cell CV2000"):
        workbook_guard.check_workbook(p)


def test_total_inflated_cap_counts_real_bytes(tmp_path: Path, monkeypatch) -> None:
    """Honest headers, total over the cap: refused while inflating, at the member that passes it."""
    raw = workbooks.ods_bomb(ODS.read_bytes(), 3 * 1024 * 1024, incompressible=True)
    p = _write(tmp_path, "big.ods", raw)
    workbook_guard.check_workbook(p)  # 3 MB of padding is fine with the real caps
    monkeypatch.setattr(workbook_guard, "MAX_DECOMPRESSED_BYTES", 2 * 1024 * 1024)
    workbook_guard._check_cached.cache_clear()
    with pytest.raises(EvalkitError, match="big.ods: .*over the cap|big.ods: inflates past 2 MiB"):
        workbook_guard.check_workbook(p)


def test_far_cell_refused_fast_and_by_the_reader(tmp_path: Path) -> None:
    """A 2 KB workbook with one cell at XFD1048576: population.detect refuses it before calamine opens it."""
    p = _write(tmp_path, "mye23tablesew.xlsx", workbooks.xlsx([("A1", "Code"), ("XFD1048576", "x")]))
    assert p.stat().st_size < 2048
    start = time.monotonic()
    with pytest.raises(EvalkitError, match="XFD1048576"):
        population.detect(p)
    with pytest.raises(EvalkitError, match="XFD1048576"):
        population.parse(p)
    assert time.monotonic() - start < 5


def test_other_compression_methods_refused(tmp_path: Path) -> None:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_LZMA) as zf:
        zf.writestr("content.xml", b"<x/>")
    p = _write(tmp_path, "lzma.ods", buf.getvalue())
    with pytest.raises(EvalkitError, match="compression method 14"):
        workbook_guard.check_workbook(p)


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=absent_reason(REFERENCE))
@pytest.mark.parametrize(
    "rel",
    [
        "population/ons_mye23tablesew.xlsx",
        "spending_mhclg/mhclg_RO3_2016-17_data_by_LA.xlsx",
        "spending_mhclg/mhclg_RO3_LA_Data_2024-25_data_by_LA.ods",
        "ofsted/ofsted_LA_Inspection_Outcomes_as_at_31_March_2025.ods",
    ],
)
def test_real_official_workbooks_pass(rel: str) -> None:
    workbook_guard.check_workbook(REFERENCE / rel)


def test_xlsx_cap_still_names_the_first_cell_that_passes_it(tmp_path: Path, monkeypatch) -> None:
    """Over the cap, the chunk is scanned cell by cell, so the error names the first offending cell, not
    the furthest one (here D40 makes 40 x 4 = 160 > 150 before Z999 is reached)."""
    monkeypatch.setattr(workbook_guard, "MAX_SHEET_CELLS", 150)
    p = _write(tmp_path, "first.xlsx", workbooks.xlsx([("A1", "Code"), ("D40", "x"), ("Z999", "y")]))
    with pytest.raises(EvalkitError, match="reaches cell D40"):
        workbook_guard.check_workbook(p)


def test_ods_token_pattern_matches_as_the_lazy_one_did() -> None:
    """`_ODS_TOKENS` (one greedy run to the first ">", a trailing "/" read as self-closed) finds what the
    earlier lazy pattern `<table:(...)(?=[\\s/>])([^>]*?)(/?)>` found, on tags with slashes inside values,
    "//>", unclosed tails."""
    import re

    lazy = re.compile(rb"<table:(table-row|table-cell|covered-table-cell|table)(?=[\s/>])([^>]*?)(/?)>")
    body = (
        b'<table:table table:name="A/B"><table:table-row table:number-rows-repeated="3">'
        b'<table:table-cell office:value-type="float" office:value="1"/><table:table-cell a="x//y"//>'
        b'<table:covered-table-cell/><table:table-cell table:number-columns-repeated="2"><text:p>a/b</text:p>'
        b"</table:table-cell><table:table-cell/ ><table:table-rows><table:table-cell x='1/'>"
        b"</table:table-row></table:table><table:table-cell b=1"
    )
    found = [
        (tag, attrs[:-1], b"/") if attrs.endswith(b"/") else (tag, attrs, b"")
        for tag, attrs in workbook_guard._ODS_TOKENS.findall(body)
    ]
    assert found == lazy.findall(body)
    assert len(found) == 8 and (b"table-cell", b' a="x//y"/', b"/") in found
