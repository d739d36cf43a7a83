"""One calamine reader per workbook during detection and parsing (evalkit.sources.workbooks, issue #29)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import fastexcel
import pytest

from evalkit.ingest import identify, source_modules
from evalkit.sources import mhclg, workbooks
from tests.shared_data import REFERENCE

RO3 = REFERENCE / "spending_mhclg" / "mhclg_RO3_2016-17_data_by_LA.xlsx"
needs_ref = pytest.mark.skipif(not RO3.is_file(), reason=f"reference workbook {RO3} is absent")


def _counting(monkeypatch) -> list[str]:
    opened: list[str] = []
    real = fastexcel.read_excel

    def read_excel(path, *args, **kwargs):
        opened.append(str(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(fastexcel, "read_excel", read_excel)
    workbooks._reader.cache_clear()
    return opened


@needs_ref
def test_an_ro3_workbook_is_opened_once_by_its_detectors_and_its_parser(tmp_path: Path, monkeypatch) -> None:
    """Before: population's detector, RO3's detector, RO3's sheet list and each RO3 sheet opened it anew."""
    book = Path(shutil.copy(RO3, tmp_path / RO3.name))
    opened = _counting(monkeypatch)
    assert identify(book, source_modules()) is mhclg
    frame = mhclg.parse(book)
    assert frame.height == 1520
    assert opened == [str(book)]


@needs_ref
def test_a_changed_workbook_is_read_again(tmp_path: Path, monkeypatch) -> None:
    book = Path(shutil.copy(RO3, tmp_path / "book.xlsx"))
    opened = _counting(monkeypatch)
    first = workbooks.excel_reader(book)
    assert workbooks.excel_reader(book) is first
    st = book.stat()
    os.utime(book, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert workbooks.excel_reader(book) is not first
    assert len(opened) == 2
