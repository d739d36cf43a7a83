"""One calamine reader per workbook, shared by the detectors and the parser that look at it in turn.

Opening a workbook (fastexcel.read_excel) reads its zip, its shared strings and, for an .ods, every
sheet: 50-100 ms of CPU for an RO3 file. `ingest` asks two detectors and then the parser about each
workbook, and the RO3 parser opened it once for its sheet names and once more per sheet, so the
reference folder was opened 65 times for 20 workbooks. The reader of the last workbook opened is kept
(one only: an .ods reader holds its parsed sheets) and reused while the file is unchanged (same path,
size and modification time). Callers still run `check_workbook` first; a failure is not kept.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any


def excel_reader(path: str | Path) -> Any:
    """fastexcel's ExcelReader for `path`, reused while the file is unchanged."""
    st = Path(path).stat()
    return _reader(str(path), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=1)
def _reader(path: str, size: int, mtime_ns: int) -> Any:
    import fastexcel

    return fastexcel.read_excel(path)
