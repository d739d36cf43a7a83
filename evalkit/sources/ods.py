"""OpenDocument spreadsheets (.ods): read one sheet's cells, and write a minimal deterministic file.

Reading takes the sheet's XML straight from content.xml (no spreadsheet library), keeping each
cell's text, type, formula and link, with rows numbered as a spreadsheet shows them. Writing is
used for the demo files and tests: fixed zip timestamps, so the same sheets give the same bytes.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.sources.workbook_guard import check_workbook

LINK_TEXT = "Link"


# --- Reading ----------------------------------------------------------------------

_NS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "xlink": "http://www.w3.org/1999/xlink",
}
_T = "{" + _NS["table"] + "}"
_O = "{" + _NS["office"] + "}"
_X = "{" + _NS["text"] + "}"
_L = "{" + _NS["xlink"] + "}"


@dataclass(frozen=True)
class Cell:
    value: str | None  # text; ISO date for date cells; number text for numeric cells
    kind: str | None  # office:value-type (string, date, float, ...)
    formula: str | None = None
    href: str | None = None


def _content(path: Path) -> bytes:
    check_workbook(path)  # size and cell-range bounds before inflating anything
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.read("content.xml")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise EvalkitError(
            f"not a readable OpenDocument spreadsheet ({type(exc).__name__})",
            file=path.name,
            expected="an .ods file (a zip holding content.xml)",
        ) from exc


_SHEET_RE = re.compile(rb'<table:table\s[^>]*?table:name="([^"]*)"')


def ods_sheet_names(path: Path) -> list[str]:
    return [html.unescape(m.group(1).decode("utf-8")) for m in _SHEET_RE.finditer(_content(Path(path)))]


def _cell_text(el: ET.Element) -> str:
    out: list[str] = []

    def walk(e: ET.Element) -> None:
        if e.text:
            out.append(e.text)
        for c in e:
            if c.tag == _X + "s":
                out.append(" " * int(c.get(_X + "c", "1")))
            elif c.tag == _X + "tab":
                out.append("\t")
            elif c.tag == _X + "line-break":
                out.append("\n")
            else:
                walk(c)
            if c.tail:
                out.append(c.tail)

    walk(el)
    return "".join(out)


def read_ods_sheet(path: Path, sheet: str) -> list[tuple[int, dict[int, Cell]]]:
    """Non-empty rows of one sheet as (1-based spreadsheet row, {0-based column: Cell})."""
    path = Path(path)
    data = _content(path)
    names = [html.unescape(m.group(1).decode("utf-8")) for m in _SHEET_RE.finditer(data)]
    if sheet not in names:
        raise EvalkitError(
            f"no sheet {sheet!r}; found {', '.join(names)}", file=path.name, expected=f"a sheet {sheet!r}"
        )
    start = next(m for m in _SHEET_RE.finditer(data) if html.unescape(m.group(1).decode("utf-8")) == sheet).start()
    end = data.find(b"</table:table>", start)
    head = re.search(rb"<office:document-content[^>]*>", data)
    if end < 0 or head is None:
        raise EvalkitError(f"sheet {sheet!r} is cut short", file=path.name, expected="a complete .ods file")
    try:
        root = ET.fromstring(head.group(0) + data[start : end + len(b"</table:table>")] + b"</office:document-content>")
    except ET.ParseError as exc:
        raise EvalkitError(
            f"sheet {sheet!r} is not well-formed XML: {exc}", file=path.name, expected="a complete .ods file"
        ) from exc
    table = root[0]
    rows: list[tuple[int, dict[int, Cell]]] = []
    r = 0
    for row in table.iter(_T + "table-row"):
        rep = int(row.get(_T + "number-rows-repeated", "1"))
        cells: dict[int, Cell] = {}
        c = 0
        for cell in row:
            if cell.tag not in (_T + "table-cell", _T + "covered-table-cell"):
                continue
            crep = int(cell.get(_T + "number-columns-repeated", "1"))
            kind = cell.get(_O + "value-type")
            paras = cell.findall(_X + "p")
            if kind is not None or paras:
                if kind == "date":
                    value = cell.get(_O + "date-value")
                elif kind in ("float", "percentage", "currency"):
                    value = cell.get(_O + "value")
                elif kind == "boolean":
                    value = cell.get(_O + "boolean-value")
                else:
                    value = "\n".join(_cell_text(p) for p in paras)
                    if not value and cell.get(_O + "string-value"):
                        value = cell.get(_O + "string-value")
                link = cell.find(".//" + _X + "a")
                item = Cell(value, kind, cell.get(_T + "formula"), link.get(_L + "href") if link is not None else None)
                for k in range(min(crep, 256)):
                    cells[c + k] = item
            c += crep
        if any(v.value not in (None, "") or v.formula for v in cells.values()):
            rows.append((r + 1, cells))
        r += rep
    return rows


_COL = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = _COL[rem] + s
    return s


# --- Writing ---------------------------------------------------------------------------------------


def _x(text: str) -> str:
    return html.escape(text, quote=True)


def _cell_xml(value: object) -> str:
    if value is None or value == "":
        return "<table:table-cell/>"
    if isinstance(value, dt.date):
        return (
            f'<table:table-cell table:style-name="ceDate" office:value-type="date" '
            f'office:date-value="{value.isoformat()}"><text:p>{value.strftime("%d/%m/%Y")}</text:p></table:table-cell>'
        )
    if isinstance(value, tuple) and value and value[0] == "link":  # ("link", url[, text]): a HYPERLINK cell
        url, text = value[1], value[2] if len(value) > 2 else LINK_TEXT
        formula = f'of:=HYPERLINK("{url}";"{text}")'
        return (
            f'<table:table-cell table:formula="{_x(formula)}" office:value-type="string" '
            f'office:string-value="{text}"><text:p><text:a xlink:href="{_x(url)}" xlink:type="simple">'
            f"{text}</text:a></text:p></table:table-cell>"
        )
    lines = str(value).split("\n")
    paras = "".join(f"<text:p>{_x(line)}</text:p>" for line in lines)
    return f'<table:table-cell office:value-type="string">{paras}</table:table-cell>'


def _table_xml(name: str, rows: Sequence[Sequence[object]]) -> str:
    out = [f'<table:table table:name="{_x(name)}">']
    width = max((len(r) for r in rows), default=1)
    out.append(f'<table:table-column table:number-columns-repeated="{max(width, 1)}"/>')
    for r in rows:
        out.append("<table:table-row>" + "".join(_cell_xml(v) for v in r) + "</table:table-row>")
    out.append("</table:table>")
    return "".join(out)


_CONTENT_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0" '
    'xmlns:number="urn:oasis:names:tc:opendocument:xmlns:datastyle:1.0" '
    'xmlns:xlink="http://www.w3.org/1999/xlink" '
    'xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2" office:version="1.3">'
    "<office:automatic-styles>"
    '<number:date-style style:name="N_DATE"><number:day number:style="long"/><number:text>/</number:text>'
    '<number:month number:style="long"/><number:text>/</number:text><number:year number:style="long"/>'
    "</number:date-style>"
    '<style:style style:name="ceDate" style:family="table-cell" style:data-style-name="N_DATE"/>'
    "</office:automatic-styles><office:body><office:spreadsheet>"
)
_CONTENT_TAIL = "</office:spreadsheet></office:body></office:document-content>"
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
    '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
    "</manifest:manifest>"
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-styles xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.3"/>'
)
_META = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3">'
    "<office:meta><meta:generator>evalkit demo (fictional data)</meta:generator></office:meta>"
    "</office:document-meta>"
)


def write_ods(path: Path, sheets: Sequence[tuple[str, Sequence[Sequence[object]]]]) -> Path:
    """Write a minimal, byte-deterministic .ods (fixed zip timestamps, no dates in metadata)."""
    import io

    content = _CONTENT_HEAD + "".join(_table_xml(n, rows) for n, rows in sheets) + _CONTENT_TAIL
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:

        def add(name: str, data: str, compress: int) -> None:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compress
            info.external_attr = 0o644 << 16
            info.create_system = 0
            zf.writestr(info, data.encode("utf-8"))

        add("mimetype", "application/vnd.oasis.opendocument.spreadsheet", zipfile.ZIP_STORED)
        add("META-INF/manifest.xml", _MANIFEST, zipfile.ZIP_DEFLATED)
        add("content.xml", content, zipfile.ZIP_DEFLATED)
        add("meta.xml", _META, zipfile.ZIP_DEFLATED)
        add("styles.xml", _STYLES, zipfile.ZIP_DEFLATED)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    return path
