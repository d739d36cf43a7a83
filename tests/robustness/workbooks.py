"""Hostile workbooks built at test time (small on disk, nothing large kept in the repository).

* `xlsx(cells, dimension=...)`: a minimal .xlsx whose one sheet holds the given (ref, value) cells;
* `ods_bomb(base, pad)`: an .ods whose content.xml carries `pad` bytes of whitespace (a zip bomb);
* `patch_declared_size(raw, member, size)`: rewrite a member's declared inflated size in the zip
  headers (central directory and local header) without touching its data.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile

_CT = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'officeDocument" Target="xl/workbook.xml"/></Relationships>'
)
_WB_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'worksheet" Target="worksheets/sheet1.xml"/></Relationships>'
)
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()


def xlsx(
    cells: list[tuple[str, str]],
    *,
    sheet: str = "MYE2 - Persons",
    dimension: str | None = None,
    sheet_xml: bytes | None = None,
) -> bytes:
    rows: dict[int, list[str]] = {}
    for ref, value in cells:
        row = int("".join(ch for ch in ref if ch.isdigit()))
        rows.setdefault(row, []).append(f'<c r="{ref}" t="inlineStr"><is><t>{value}</t></is></c>')
    body = "".join(f'<row r="{r}">{"".join(cs)}</row>' for r, cs in sorted(rows.items()))
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    xml = (
        sheet_xml
        or (
            f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{dim}<sheetData>{body}</sheetData></worksheet>'
        ).encode()
    )
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook {_NS} {_R}><sheets>'
        f'<sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ).encode()
    return _zip(
        {
            "[Content_Types].xml": _CT.encode(),
            "_rels/.rels": _RELS.encode(),
            "xl/workbook.xml": workbook,
            "xl/_rels/workbook.xml.rels": _WB_RELS.encode(),
            "xl/worksheets/sheet1.xml": xml,
        }
    )


def rewrite_member(raw: bytes, member: str, fn) -> bytes:
    """The same zip with `member`'s bytes replaced by fn(old bytes) (other members copied as they are)."""
    src = zipfile.ZipFile(io.BytesIO(raw))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == member:
                data = fn(data)
            out.writestr(info, data, compress_type=info.compress_type, compresslevel=9)
    return buf.getvalue()


def ods_bomb(base: bytes, pad: int, *, incompressible: bool = False) -> bytes:
    """`base` (an .ods) with `pad` bytes inserted into content.xml before its last tag: spaces (a zip
    bomb, ~1000:1), or with `incompressible` an XML comment of seeded random hex (~2:1, a big honest file)."""

    def grow(xml: bytes) -> bytes:
        cut = xml.rfind(b"</office:document-content>")
        if incompressible:
            hexed = random.Random(0).randbytes(pad // 2).hex().encode()
            filler = b"".join(b"<!--" + hexed[i : i + 72] + b"-->\n" for i in range(0, len(hexed), 72))
        else:
            filler = b" " * pad
        return xml[:cut] + filler + xml[cut:]

    return rewrite_member(base, "content.xml", grow)


def ods_far_cell(base: bytes) -> bytes:
    """`base` with one row repeated 1,048,576 times, holding a cell repeated 16,384 columns."""

    def far(xml: bytes) -> bytes:
        cut = xml.find(b"</table:table>")
        row = (
            b'<table:table-row table:number-rows-repeated="1048576">'
            b'<table:table-cell table:number-columns-repeated="16384" office:value-type="string">'
            b"<text:p>x</text:p></table:table-cell></table:table-row>"
        )
        return xml[:cut] + row + xml[cut:]

    return rewrite_member(base, "content.xml", far)


def patch_declared_size(raw: bytes, member: str, size: int) -> bytes:
    """Set `member`'s uncompressed size to `size` in both the local header and the central directory."""
    data = bytearray(raw)
    name = member.encode()
    central = data.find(b"PK\x01\x02" + b"\x00" * 0)
    while central >= 0:
        name_len = struct.unpack_from("<H", data, central + 28)[0]
        if bytes(data[central + 46 : central + 46 + name_len]) == name:
            struct.pack_into("<I", data, central + 24, size)
            local = struct.unpack_from("<I", data, central + 42)[0]
            struct.pack_into("<I", data, local + 22, size)
            return bytes(data)
        central = data.find(b"PK\x01\x02", central + 4)
    raise KeyError(member)


def xlsx_variant(
    cells: list[tuple[int, int, str]],
    *,
    sheet_path: str = "xl/worksheets/sheet1.xml",
    cell_refs: bool = True,
    row_refs: bool = True,
    dimension: str | None = None,
    sheet: str = "MYE2 - Persons",
) -> bytes:
    """An .xlsx whose one sheet sits at `sheet_path` (found through xl/_rels/workbook.xml.rels, as
    calamine finds it), holding `cells` as (row, column, text), 1-based. Without `cell_refs` the cells
    carry no `r=` and calamine numbers them by position: the gaps are filled with empty `<c/>` cells
    (so a far column costs bytes, which deflate squeezes); without `row_refs` rows carry no `r=` either
    and the gaps are filled with empty rows."""
    rows: dict[int, dict[int, str]] = {}
    for r, c, v in cells:
        rows.setdefault(r, {})[c] = v
    parts, last_row = [], 0
    for r in sorted(rows):
        if not row_refs:
            parts.append("<row/>" * (r - last_row - 1))
        cs, last_col = [], 0
        for c in sorted(rows[r]):
            ref = f' r="{_col_letters(c)}{r}"' if cell_refs else ""
            if not cell_refs:
                cs.append("<c/>" * (c - last_col - 1))
            cs.append(f'<c{ref} t="inlineStr"><is><t>{rows[r][c]}</t></is></c>')
            last_col = c
        row_attr = f' r="{r}"' if row_refs else ""
        parts.append(f"<row{row_attr}>{''.join(cs)}</row>")
        last_row = r
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    body = "".join(parts)
    xml = f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{dim}<sheetData>{body}</sheetData></worksheet>'
    target = sheet_path[3:] if sheet_path.startswith("xl/") else "/" + sheet_path
    wb_rels = _WB_RELS.replace('Target="worksheets/sheet1.xml"', f'Target="{target}"')
    workbook = (
        f'<?xml version="1.0" encoding="UTF-8"?><workbook {_NS} {_R}><sheets>'
        f'<sheet name="{sheet}" sheetId="1" r:id="rId1"/></sheets></workbook>'
    )
    ct = _CT.replace("/xl/worksheets/sheet1.xml", "/" + sheet_path)
    return _zip(
        {
            "[Content_Types].xml": ct.encode(),
            "_rels/.rels": _RELS.encode(),
            "xl/workbook.xml": workbook.encode(),
            "xl/_rels/workbook.xml.rels": wb_rels.encode(),
            sheet_path: xml.encode(),
        }
    )


def _col_letters(n: int) -> str:
    out = ""
    while n:
        n, rem = divmod(n - 1, 26)
        out = chr(65 + rem) + out
    return out
