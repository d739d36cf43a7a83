"""Bounds on an .xlsx/.ods workbook, checked before any spreadsheet reader opens it.

A workbook is a zip of XML. Two cheap files can make a reader exhaust the machine: a zip bomb
(1 MB that inflates to gigabytes, which `zipfile.read` or calamine holds in memory) and a sheet
whose one cell sits at XFD1048576 (calamine allocates the dense rectangle, 17 billion cells).
`check_workbook(path)` refuses both with one line, holding at most one chunk in memory:

* every zip member is inflated here in bounded chunks (the sizes in the zip headers are not
  trusted: a member that inflates past its declared size is refused), and the total may not pass
  MAX_DECOMPRESSED_BYTES; a member larger than 1 MiB may not inflate more than MAX_RATIO times;
* only stored and deflated members are accepted (what spreadsheet programs write), not encrypted;
* each sheet's used rectangle (the declared `<dimension>` of an .xlsx sheet, and the furthest
  cell that holds something, counting ODS row and column repeats) may not exceed MAX_SHEET_CELLS
  cells. An xlsx member is a sheet wherever the workbook's relationships put it, so every member
  is scanned, whatever its name or case; cells without an `r=` reference count by position, as
  calamine numbers them.

The caps are about ten times the largest official file evalkit reads (an RO3 .ods inflates to
39 MB; the widest sheet is 419 x 478 cells). The result is cached per file identity (path, size,
modification time), so the several detectors that look at one workbook scan it once.
"""

from __future__ import annotations

import functools
import re
import struct
import zipfile
import zlib
from pathlib import Path

from evalkit.errors import EvalkitError

MAX_DECOMPRESSED_BYTES = 400 * 1024 * 1024  # all members together, inflated
MAX_RATIO = 200  # inflated / compressed, for members over RATIO_FLOOR bytes (real files: at most 40)
RATIO_FLOOR = 1024 * 1024
MAX_SHEET_CELLS = 5_000_000  # rows x columns of a sheet's used rectangle (real files: at most 0.3 million)
CHUNK = 1024 * 1024
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_EXPECTED = "a spreadsheet within evalkit's bounds"


def _refuse(path: Path, message: str) -> EvalkitError:
    return EvalkitError(message, file=path.name, expected=_EXPECTED)


def _inflate(path: Path, fh, info: zipfile.ZipInfo, budget: int):
    """Yield the member's inflated bytes chunk by chunk, never more than `budget` in total."""
    if info.flag_bits & 0x1:
        raise _refuse(path, f"zip member {info.filename!r} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _refuse(path, f"zip member {info.filename!r} uses compression method {info.compress_type}")
    fh.seek(info.header_offset)
    head = fh.read(_LOCAL_HEADER.size)
    if len(head) != _LOCAL_HEADER.size or head[:4] != b"PK\x03\x04":
        raise _refuse(path, f"zip member {info.filename!r} has no local header")
    name_len, extra_len = _LOCAL_HEADER.unpack(head)[9:]
    fh.seek(info.header_offset + _LOCAL_HEADER.size + name_len + extra_len)
    left = info.compress_size
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    produced = 0
    while left > 0 or (inflater is not None and inflater.unconsumed_tail):
        if inflater is not None and inflater.unconsumed_tail:
            raw = inflater.unconsumed_tail
        else:
            raw = fh.read(min(CHUNK, left))
            if not raw:
                raise _refuse(path, f"zip member {info.filename!r} is cut short")
            left -= len(raw)
        try:
            out = inflater.decompress(raw, CHUNK) if inflater is not None else raw
        except zlib.error as exc:
            raise _refuse(path, f"zip member {info.filename!r} is not valid deflate data ({exc})") from None
        produced += len(out)
        if produced > budget:
            raise _refuse(
                path,
                f"inflates past {MAX_DECOMPRESSED_BYTES // (1024 * 1024)} MiB in total "
                f"(at zip member {info.filename!r}); refusing a possible zip bomb",
            )
        if produced > info.file_size:
            raise _refuse(
                path, f"zip member {info.filename!r} inflates past its declared size of {info.file_size} bytes"
            )
        if produced > RATIO_FLOOR and produced > MAX_RATIO * max(info.compress_size, 1):
            raise _refuse(
                path,
                f"zip member {info.filename!r} inflates more than {MAX_RATIO} times its compressed size; "
                "refusing a possible zip bomb",
            )
        yield out


def _split_open_tag(data: bytes) -> tuple[bytes, bytes]:
    """(complete part, a tag left open at the end to carry into the next chunk)."""
    cut = data.rfind(b"<")
    if cut < 0 or data.find(b">", cut) >= 0:
        return data, b""
    return data[:cut], data[cut:]


def _col_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


# A sheet names the same few hundred column letters over and over; bounded, so a hostile sheet of
# distinct letters costs memory of the cache size only.
_col_number_cached = functools.lru_cache(maxsize=4096)(_col_number)


_XLSX_TOKENS = re.compile(rb"<(?:[\w.-]+:)?(dimension|row|c)(?=[\s/>])([^>]*)>")
_DIM_REF = re.compile(rb'\bref\s*=\s*["\']([^"\']*)["\']')
_ROW_R = re.compile(rb'\br\s*=\s*["\']\s*(\d{1,12})\s*["\']')
_CELL_R = re.compile(rb'\br\s*=\s*["\']\s*\$?([A-Za-z]{1,8})\$?(\d{1,12})\s*["\']')
_REF = re.compile(rb"([A-Za-z]{1,8})(\d{1,12})$")
# The attributes run to the first ">" (a trailing "/" marks a self-closed tag): one greedy run that never
# backtracks (a tag left open at a chunk's end is carried, see _split_open_tag), ~1.5x faster than the
# possessive `([^>/]*+(?:/(?!>)[^>/]*+)*+)(/?)>` it replaced and ~4.5x faster than a lazy `[^>]*?`, with the
# same tokens on the 200 MB of content.xml in the reference folder's workbooks.
_ODS_TOKENS = re.compile(rb"<table:(table-row|table-cell|covered-table-cell|table)(?=[\s/>])([^>]*)>")
_ROWS_REP = re.compile(rb'table:number-rows-repeated="(\d+)"')
_COLS_REP = re.compile(rb'table:number-columns-repeated="(\d+)"')


class _Rect:
    """The furthest (row, column) seen in one sheet; refuses once rows x columns passes the cap."""

    def __init__(self, path: Path, where: str) -> None:
        self.path, self.where, self.rows, self.cols = path, where, 0, 0

    def see(self, row: int, col: int, ref: str) -> None:
        self.rows, self.cols = max(self.rows, row), max(self.cols, col)
        if self.rows * self.cols > MAX_SHEET_CELLS:
            raise _refuse(
                self.path,
                f"{self.where} reaches cell {ref}: a used range of {self.rows:,} rows x {self.cols:,} columns "
                f"passes the cap of {MAX_SHEET_CELLS:,} cells",
            )


def _xlsx_scan(path: Path, name: str, chunks) -> None:
    """The used rectangle of an xlsx sheet as calamine sees it: cells with an `r=` reference where
    they say, cells without one numbered by position (the next column of the current row; a row
    without `r=` is the row after the previous one), and the declared `<dimension>`."""
    rect = _Rect(path, f"sheet {name!r}")
    row = col = 0
    carry = b""
    cell_ref, col_number = _CELL_R.search, _col_number_cached
    for chunk in chunks:
        data = carry + chunk
        body, carry = _split_open_tag(data)
        if len(carry) > CHUNK:  # one tag longer than a chunk: not a spreadsheet program's XML
            raise _refuse(path, f"sheet {name!r} has a tag longer than {CHUNK} bytes")
        # findall's tuples, and rect.see only when a cell passes the furthest row or column seen so far
        # (the used rectangle cannot grow otherwise): this loop runs once per cell of every sheet
        for tag, attrs in _XLSX_TOKENS.findall(body):
            if tag == b"c":
                r = cell_ref(attrs)
                if r is not None:
                    letters, digits = r.groups()
                    col, number = col_number(letters), int(digits)
                    if number > rect.rows or col > rect.cols:
                        rect.see(number, col, (letters + digits).decode())
                else:
                    col += 1
                    number = row if row > 1 else 1
                    if number > rect.rows or col > rect.cols:
                        rect.see(number, col, f"row {number}, column {col}")
            elif tag == b"row":
                r = _ROW_R.search(attrs)
                row, col = (int(r.group(1)) if r else row + 1), 0
            else:  # dimension
                ref = _DIM_REF.search(attrs)
                r = _REF.match(ref.group(1).split(b":")[-1].replace(b"$", b"").strip()) if ref else None
                if r:
                    rect.see(int(r.group(2)), _col_number(r.group(1)), r.group(0).decode())


def _ods_scan(path: Path, chunks) -> None:
    rect: _Rect | None = None
    row_start = row_rep = col = 0  # the current row covers 1-based rows row_start + 1 .. row_start + row_rep
    carry = b""
    for chunk in chunks:
        data = carry + chunk
        body, carry = _split_open_tag(data)
        if len(carry) > CHUNK:
            raise _refuse(path, f"content.xml has a tag longer than {CHUNK} bytes")
        # findall's tuples and plain comparisons: this loop runs once per cell of every sheet
        for tag, attrs in _ODS_TOKENS.findall(body):
            if tag == b"table-cell" or tag == b"covered-table-cell":
                if b"number-columns-repeated" in attrs:
                    rep = _COLS_REP.search(attrs)
                    col += int(rep.group(1)) if rep else 1
                else:
                    col += 1
                if rect is not None and (
                    attrs[-1:] != b"/" or b"office:value-type" in attrs or b"table:formula" in attrs
                ):
                    last = row_start + row_rep
                    if last > rect.rows or col > rect.cols:
                        rect.see(last, col, f"row {last}, column {col}")
            elif tag == b"table-row":
                rep = _ROWS_REP.search(attrs) if b"number-rows-repeated" in attrs else None
                row_start, row_rep, col = row_start + row_rep, (int(rep.group(1)) if rep else 1), 0
            else:  # table
                name = re.search(rb'table:name="([^"]*)"', attrs)
                rect = _Rect(path, f"sheet {name.group(1).decode('utf-8', 'replace') if name else '?'!r}")
                row_start = row_rep = 0


def _check(path: Path) -> None:
    kind = "OpenDocument spreadsheet" if path.suffix.lower() == ".ods" else "spreadsheet"
    if path.stat().st_size == 0:
        raise EvalkitError("file is empty", file=path.name, expected=f"an {path.suffix} workbook")
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise EvalkitError(
            f"not a readable {kind} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            file=path.name,
            expected=f"an {path.suffix} file (a zip archive)",
        ) from None
    with zf, path.open("rb") as fh:
        infos = zf.infolist()
        declared = sum(i.file_size for i in infos)
        if declared > MAX_DECOMPRESSED_BYTES:
            raise _refuse(
                path,
                f"declares {declared:,} bytes once inflated, over the cap of {MAX_DECOMPRESSED_BYTES:,}; "
                "refusing a possible zip bomb",
            )
        budget = MAX_DECOMPRESSED_BYTES
        for info in infos:
            if info.is_dir():
                continue
            chunks = _inflate(path, fh, info, budget)
            name = info.filename
            if name == "content.xml":
                _ods_scan(path, chunks)
            else:
                # Every other member is scanned as a possible sheet: calamine finds sheets through
                # xl/_rels/workbook.xml.rels, which may name any member (another folder, an upper-case
                # .XML, no extension), so no name is trusted to hold no cells.
                _xlsx_scan(path, name.rsplit("/", 1)[-1], chunks)
            budget -= info.file_size


@functools.lru_cache(maxsize=64)
def _check_cached(path: str, size: int, mtime_ns: int) -> None:
    _check(Path(path))


def check_workbook(path: str | Path) -> None:
    """Raise EvalkitError (one line, naming the file) unless the workbook is within the bounds above."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError as exc:
        raise EvalkitError(f"cannot read the file: {exc.strerror}", file=path.name) from None
    _check_cached(str(path.resolve()), st.st_size, st.st_mtime_ns)


__all__ = ["MAX_DECOMPRESSED_BYTES", "MAX_RATIO", "MAX_SHEET_CELLS", "check_workbook"]
