"""Ofsted inspection judgements of local authority children's services (SLAC/CPI/TLAC, SIF, ILACS).

Layouts read (see FORMATS.md section 5):

* "2023": `Childrens_social_care_in_England_2023_underlying_data.ods`, sheet `LA_inspections_2009-2023`:
  two wide tables (152 current LAs, then "local authorities that existed before the restructure"),
  one column group per framework: pre-SIF SLAC / SLAC re-inspections / CPI / CPRI / TLAC
  (framework "pre_sif"), first SIF and SIF re-inspection ("sif", with every sub-judgement and LSCB),
  first and second ILACS ("ilacs"). Publication dates only.
* "2024": `LA_Inspection_Outcomes_as_at_March_2024.ods`, sheet `ILACS_inspections_2018-2024`: wide
  First/Second ILACS history, two tables, publication dates only.
* "2025": `LA_Inspection_Outcomes_as_at_31_March_2025.ods`, sheet `ILACS_inspection_history`: long,
  one row per ILACS inspection with GSS area code, inspection and publication dates.
* "d2i": the scraped `d2i_ofsted_csc_ilacs_history.csv` (not official).

Reading .ods: the sheet is read straight from `content.xml` with the standard library (zipfile +
xml.etree), not with calamine, because (1) the LA code sits only in the web-link cell's HYPERLINK
formula or link, which calamine does not return, and (2) calamine drops blank rows, so its row
numbers are not the spreadsheet's (the 2023 sheet's second table is at row 160, calamine says 158).

Recovering the DfE LA code (`la_code`), in this order:
  1. the GSS area code (2025 layout) through `dfe_las.csv`;
  2. the LA name through `dfe_las.csv` (names normalised: case, "&", ", City of", "Bedford Borough",
     "Durham"); a name with two codes (Dorset 835/838) takes the terminated code in the
     "existed before the restructure" table and the live code elsewhere;
  3. a 3-digit number after `/provider/44/` in the web link (formula, link, or plain text).
  The web link is NOT reliable on its own: in the 2023/2024 files 100 links are
  `/local-authorities/<slug>` and most `/provider/44/<n>` numbers are Ofsted URNs (80427 ...), not DfE
  codes; in the 2025 file the links are DfE codes but some are wrong (City of London -> 206,
  North Northamptonshire -> 941, Bournemouth/Cumbria/Northamptonshire -> their successors).
  `dfe_las.csv` is looked for next to the file, in its parent folder, or in `lookups/` of either
  (or pass `las=`). When no rule gives a code, parse raises an EvalkitError naming the row.
  D2I rows carry an Ofsted URN instead: it is mapped with `d2i_Provider_data_lookup.csv` (looked for
  next to the file, in `neighbours/` beside it or beside its parent, or pass `provider_lookup=`),
  which also gives the GSS code; without it, the LA name is matched through `dfe_las.csv`.

Judgement names: overall_effectiveness, leadership, help_and_protection, children_in_care,
care_leavers, children_in_care_and_care_leavers (ILACS before the January 2023 change: recognised by
a blank care-leavers cell, or in the 2025 layout by an inspection date before 2023-01-01),
adoption, lscb (SIF); safeguarding, looked_after_children, child_protection (pre-SIF).
Blank or "-" cells of an inspection that took place give grade null with grade_note "blank"; the
D2I sentinels give grade null with grade_note data_unreadable | inspection_pre_dates_judgement |
not_reported_post_reform.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources import la_codes
from evalkit.sources.common import JUDGEMENTS_SCHEMA, finish_judgements, grade_of, normalise_header

NAME = "ofsted"
KIND = "judgements"
PARSER_VERSION = "1"

# --- Reading an .ods sheet ----------------------------------------------------------------------

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
    value: str | None          # text; ISO date for date cells; number text for numeric cells
    kind: str | None           # office:value-type (string, date, float, ...)
    formula: str | None = None
    href: str | None = None


def _content(path: Path) -> bytes:
    try:
        with zipfile.ZipFile(path) as zf:
            return zf.read("content.xml")
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise EvalkitError(
            f"not a readable OpenDocument spreadsheet ({type(exc).__name__})", file=path.name,
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
        raise EvalkitError(f"no sheet {sheet!r}; found {', '.join(names)}", file=path.name, expected=f"a sheet {sheet!r}")
    start = next(m for m in _SHEET_RE.finditer(data) if html.unescape(m.group(1).decode("utf-8")) == sheet).start()
    end = data.find(b"</table:table>", start)
    head = re.search(rb"<office:document-content[^>]*>", data)
    if end < 0 or head is None:
        raise EvalkitError(f"sheet {sheet!r} is cut short", file=path.name, expected="a complete .ods file")
    try:
        root = ET.fromstring(head.group(0) + data[start: end + len(b"</table:table>")] + b"</office:document-content>")
    except ET.ParseError as exc:
        raise EvalkitError(f"sheet {sheet!r} is not well-formed XML: {exc}", file=path.name,
                           expected="a complete .ods file") from exc
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


# --- Helpers ------------------------------------------------------------------------------------

_COL = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def col_letter(i: int) -> str:
    s = ""
    i += 1
    while i:
        i, rem = divmod(i - 1, 26)
        s = _COL[rem] + s
    return s


def _val(cells: Mapping[int, Cell], i: int | None) -> str | None:
    if i is None or i not in cells:
        return None
    v = cells[i].value
    if v is None:
        return None
    v = v.strip()
    return v or None


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y")


def _parse_date(text: str | None, *, file: str, row: int, column: str) -> dt.date | None:
    if text is None or not text.strip():
        return None
    t = text.strip()
    iso = re.match(r"^(\d{4}-\d{2}-\d{2})(T00:00:00(\.0+)?)?$", t)
    candidates = [iso.group(1)] if iso else [t]
    fmts = ("%Y-%m-%d",) if iso else (("%d/%m/%Y",) if re.match(r"^\d{1,2}/\d{1,2}/\d{4}$", t) else
                                       ("%d/%m/%y",) if re.match(r"^\d{1,2}/\d{1,2}/\d{2}$", t) else ())
    for c in candidates:
        for f in fmts:
            try:
                return dt.datetime.strptime(c, f).date()
            except ValueError:
                pass
    raise EvalkitError(f"{text!r} is not a date", file=file, row=row, column=column,
                       expected="a date (a date cell, yyyy-mm-dd, dd/mm/yyyy or dd/mm/yy)")


_OFFICIAL_LABELS = "Outstanding, Good, Requires improvement to be good, Inadequate or blank"


def _grade(raw: str | None, *, file: str, row: int, column: str) -> tuple[str | None, str | None]:
    if raw is None or raw.strip() in ("", "-"):
        return None, "blank"
    g = grade_of(raw)
    if g is None:
        raise EvalkitError(f"unknown grade label {raw.strip()!r}", file=file, row=row, column=column,
                           expected=_OFFICIAL_LABELS)
    return g, None


_PROVIDER = re.compile(r"/provider/44/(\d+)")


def link_code(cell: Cell | None) -> str | None:
    """The 3-digit number after /provider/44/ in a web-link cell (formula, link or plain text)."""
    if cell is None:
        return None
    for text in (cell.formula, cell.href, cell.value):
        if text:
            m = _PROVIDER.search(html.unescape(text))
            if m:
                return m.group(1) if len(m.group(1)) == 3 else None
    return None


def _norm_name(name: str) -> str:
    n = name.lower().replace("&", " and ").replace(".", "").replace("-", " ")
    n = re.sub(r",\s*(city|county) of\b", "", n)
    n = re.sub(r"[^a-z ]", " ", n)
    n = " ".join(n.split())
    return _NAME_ALIASES.get(n, n)


_NAME_ALIASES = {"bedford borough": "bedford", "durham": "county durham", "bristol city": "bristol"}


def _find(path: Path, names: Sequence[str]) -> Path | None:
    for rel in names:
        cand = (path.parent / rel).resolve()
        if cand.is_file():
            return cand
    return None


class _Codes:
    """Name/GSS -> DfE code resolution from dfe_las.csv (when available)."""

    def __init__(self, las: pl.DataFrame | None):
        self.available = las is not None
        self.by_gss: dict[str, str] = {}
        self.by_name: dict[str, dict[str, set[str]]] = {}
        if las is None:
            return
        self.by_gss = la_codes.code_for_gss(las.filter(~pl.col("is_joint")))
        for row in las.filter(pl.col("la_code").is_not_null() & ~pl.col("is_joint")).iter_rows(named=True):
            slot = self.by_name.setdefault(_norm_name(row["la_name"]), {"live": set(), "terminated": set()})
            slot[row["status"]].add(row["la_code"])

    def for_name(self, name: str | None, predecessor: bool) -> str | None:
        if not name:
            return None
        slot = self.by_name.get(_norm_name(name))
        if not slot:
            return None
        codes = slot["live"] | slot["terminated"]
        if len(codes) == 1:
            return next(iter(codes))
        pick = slot["terminated"] if predecessor else slot["live"]
        return next(iter(pick)) if len(pick) == 1 else None


def _load_las(path: Path, las: pl.DataFrame | Path | None | bool) -> _Codes:
    if las is False:  # ingest: only lookups from inside --from, passed in; never searched for
        return _Codes(None)
    if isinstance(las, pl.DataFrame):
        return _Codes(las)
    if las is None:
        las = _find(path, ["dfe_las.csv", "../dfe_las.csv", "lookups/dfe_las.csv", "../lookups/dfe_las.csv"])
    return _Codes(la_codes.parse(Path(las)) if las is not None else None)


def _resolve(codes: _Codes, *, gss: str | None, name: str | None, link: str | None, predecessor: bool,
             file: str, row: int) -> str:
    if gss and gss in codes.by_gss:
        return codes.by_gss[gss]
    by_name = codes.for_name(name, predecessor)
    if by_name:
        return by_name
    if link:
        return link
    how = "dfe_las.csv has no such name or area code" if codes.available else "no dfe_las.csv found next to the file"
    raise EvalkitError(
        f"cannot recover the DfE LA code for {name!r}: the web link holds no 3-digit code and {how}",
        file=file, row=row, column="Web link",
        expected="a /provider/44/<DfE code> link, or dfe_las.csv beside the file to map LA names",
    )


# --- Wide layouts (2023 and 2024 workbooks) -----------------------------------------------------

@dataclass(frozen=True)
class Group:
    framework: str
    inspection_type: str | None          # fixed type, or None when a type column is given
    date: str                            # header of the publication-date column
    judgements: tuple[tuple[str, str], ...]   # (judgement, header)
    type_column: str | None = None
    split_care_leavers: bool = False     # children_in_care means the combined judgement if care leavers is blank


def _sif(prefix: str, date: str, lscb: bool, itype: str) -> Group:
    j = [
        ("overall_effectiveness", f" {prefix} Overall Judgement\n(OE)"),
        ("help_and_protection", f" {prefix} children who need help and protection "),
        ("children_in_care", f" {prefix} children looked after and achieving permanence "),
        ("adoption", f" {prefix} CLA Sub: Adoption Performance"),
        ("care_leavers", f" {prefix} CLA Sub: Experiences and progress of care leavers"),
        ("leadership", f" {prefix} leadership, management and governance"),
    ]
    if lscb:
        j.append(("lscb", "LSCB Overall Effectiveness "))
    return Group("sif", itype, date, tuple(j))


def _ilacs_wide(prefix: str, date: str, type_col: str, combined: bool) -> Group:
    j = [
        ("overall_effectiveness", f"{prefix} overall effectiveness"),
        ("leadership", f"{prefix} impact of leaders"),
        ("help_and_protection", f"{prefix} experiences and progress of children who need help and protection"),
    ]
    if combined:
        j.append(("children_in_care_and_care_leavers", f"{prefix} experiences and progress of children in care and care leavers"))
    else:
        j.append(("children_in_care", f"{prefix} experiences and progress of children in care"))
        j.append(("care_leavers", f"{prefix} experiences and progress of care leavers"))
    return Group("ilacs", None, date, tuple(j), type_column=type_col, split_care_leavers=not combined)


_PRE_SIF = (
    Group("pre_sif", "SLAC", "Safeguarding & Looked After Children (SLAC) Inspection publication date",
          (("safeguarding", "SLAC Safeguarding Overall effectiveness (OE)"),
           ("looked_after_children", "SLAC Looked After Children Overall Effectiveness (OE)"))),
    Group("pre_sif", "SLAC re-inspection of safeguarding", "SLAC re-inspection of Safeguarding publication date",
          (("safeguarding", "SLAC re-inspection Safeguarding OE"),)),
    Group("pre_sif", "SLAC re-inspection of services for children looked after",
          "SLAC re-inspection of services for Children Looked After publication date",
          (("looked_after_children", "SLAC re-inspection of services Children Looked After OE"),)),
    Group("pre_sif", "CPI", "Child Protection Inspections (CPI) publication date",
          (("child_protection", "CPI Overall Effectiveness (OE)"),)),
    Group("pre_sif", "CPRI", "Child Protection Re-Inspection (CPRI) publication date",
          (("child_protection", "CPRI Overall Effectiveness (OE)"),)),
    Group("pre_sif", "TLAC", "Targeted Looked After Children (TLAC) inspection publication date",
          (("looked_after_children", "TLAC Overall Effectiveness (OE)"),)),
    _sif("First SIF", "Single Inspection of LA Children's Services (SIF)  First SIF publication date", True, "First SIF"),
    _sif("SIF Re-inspection", "Single Inspection of LA Children's Services (SIF) SIF Re-inspection publication date",
         False, "SIF re-inspection"),
)
_ID_HEADERS = ("Web link", "Local authority name", "LA region", "LA Authority Type")

# The exact header rows of each wide table, in order.
_G2023_FIRST = _ilacs_wide("First ILACS framework", "First ILACS framework publication date",
                           "First ILACS framework inspection type", combined=True)
_G2023_SECOND = _ilacs_wide("Second ILACS framework", "Second ILACS framework publication date",
                            "Second ILACS framework inspection type", combined=False)
_G2023_PRED = _ilacs_wide("ILACS framework", "ILACS framework publication date",
                          "ILACS framework inspection type", combined=True)
_G2024_FIRST = _ilacs_wide("First ILACS", "First ILACS publication date", "First ILACS inspection type", combined=False)
_G2024_SECOND = _ilacs_wide("Second ILACS", "Second ILACS publication date", "Second ILACS inspection type", combined=False)
_G2024_PRED = _ilacs_wide("ILACS framework", "ILACS framework publication date", "ILACS framework inspection type", combined=True)


def _headers(ids: Sequence[str], groups: Sequence[Group], ilacs_type_first: bool) -> tuple[str, ...]:
    out = list(ids)
    for g in groups:
        if g.type_column and ilacs_type_first:
            out += [g.type_column, g.date]
        elif g.type_column:
            out += [g.date, g.type_column]
        else:
            out.append(g.date)
        out += [h for _, h in g.judgements]
    return tuple(out)


# Table layouts: name -> (headers in order, groups)
WIDE_TABLES: dict[str, tuple[tuple[str, ...], tuple[Group, ...]]] = {}
for _name, _ids, _groups, _tf in (
    ("2023_current", _ID_HEADERS, _PRE_SIF + (_G2023_FIRST, _G2023_SECOND), True),
    ("2023_predecessor", _ID_HEADERS, _PRE_SIF + (_G2023_PRED,), True),
    ("2024_current", _ID_HEADERS[:3], (_G2024_FIRST, _G2024_SECOND), False),
    ("2024_predecessor", _ID_HEADERS[:3], (_G2024_PRED,), False),
):
    WIDE_TABLES[_name] = (_headers(_ids, _groups, _tf), _groups)
del _name, _ids, _groups, _tf

SHEET_2023 = "LA_inspections_2009-2023"
SHEET_2024 = "ILACS_inspections_2018-2024"
SHEET_2025 = "ILACS_inspection_history"
HEADERS_2023 = WIDE_TABLES["2023_current"][0]   # the exact 45 headers


def _match_wide(file: str, row: int, cells: Mapping[int, Cell], candidates: Sequence[str]) -> str:
    found = [normalise_header(cells[i].value or "") for i in sorted(cells) if _val(cells, i)]
    best, best_score = None, -1
    for name in candidates:
        want = [normalise_header(h) for h in WIDE_TABLES[name][0]]
        if found == want:
            return name
        score = sum(a == b for a, b in zip(found, want))
        if score > best_score:
            best, best_score = name, score
    want = WIDE_TABLES[best][0]  # type: ignore[index]
    pos = next((i for i, (a, b) in enumerate(zip(found, [normalise_header(h) for h in want])) if a != b),
               min(len(found), len(want)))
    got = found[pos] if pos < len(found) else "(nothing)"
    raise EvalkitError(
        f"unrecognised table header: column {col_letter(pos)} is {got!r}, {len(found)} columns in all",
        file=file, row=row, column=col_letter(pos),
        expected=f"{want[pos] if pos < len(want) else '(no column)'!r} ({len(want)} headers of the {best} table)",
    )


def _parse_wide(path: Path, sheet: str, candidates: tuple[str, str], codes: _Codes) -> list[dict]:
    file = path.name
    rows = read_ods_sheet(path, sheet)
    header_rows = [i for i, (_, cells) in enumerate(rows) if normalise_header(_val(cells, 0) or "") == "web link"]
    if not header_rows:
        raise EvalkitError(f"no header row starting 'Web link' in sheet {sheet!r}", file=file,
                           column="A", expected="a table whose first header is 'Web link'")
    out: list[dict] = []
    for t, hi in enumerate(header_rows):
        hrow, hcells = rows[hi]
        layout = _match_wide(file, hrow, hcells, candidates if t == 0 else candidates[::-1])
        headers, groups = WIDE_TABLES[layout]
        index = {normalise_header(h): i for i, h in enumerate(headers)}
        col = {h: index[normalise_header(h)] for h in headers}
        predecessor = layout.endswith("predecessor")
        stop = header_rows[t + 1] - 1 if t + 1 < len(header_rows) else len(rows)
        for rnum, cells in rows[hi + 1: stop]:
            name = _val(cells, col["Local authority name"])
            if name is None:
                continue
            link = link_code(cells.get(0))
            la_code = _resolve(codes, gss=None, name=name, link=link, predecessor=predecessor, file=file, row=rnum)
            for g in groups:
                dcol = col[g.date]
                date = _parse_date(_val(cells, dcol), file=file, row=rnum, column=g.date.strip())
                graded = [(j, h) for j, h in g.judgements if _val(cells, col[h]) not in (None, "-")]
                if date is None:
                    if graded:
                        raise EvalkitError(
                            "judgements given without a publication date", file=file, row=rnum,
                            column=g.date.strip(), expected="a publication date for every inspection with judgements",
                        )
                    continue
                itype = g.inspection_type if g.type_column is None else _val(cells, col[g.type_column])
                judgements = list(g.judgements)
                if g.split_care_leavers and _val(cells, col[judgements[-1][1]]) is None:
                    # Before January 2023 the children-in-care column held the combined judgement.
                    judgements = judgements[:-2] + [("children_in_care_and_care_leavers", judgements[-2][1])]
                for judgement, h in judgements:
                    grade, note = _grade(_val(cells, col[h]), file=file, row=rnum, column=h.strip())
                    out.append({
                        "la_code": la_code, "gss_code": None, "la_name": name, "framework": g.framework,
                        "inspection_type": itype, "inspection_start": None, "inspection_end": None,
                        "publication_date": date, "judgement": judgement, "grade": grade, "grade_note": note,
                    })
    return out


# --- Long layout (2025) ------------------------------------------------------------------------

HEADERS_2025 = (
    "Web link", "Local authority area code", "Local authority name", "Local authority status", "Ofsted region",
    "Inspection date", "Publication date", "Inspection type", "Overall effectiveness",
    "The impact of leaders on social work practice with children and families",
    "The experiences and progress of children who need help and protection",
    "The experiences and progress of children in care",
    "The experiences and progress of care leavers",
)
_J2025 = (
    ("overall_effectiveness", 8), ("leadership", 9), ("help_and_protection", 10),
    ("children_in_care", 11), ("care_leavers", 12),
)
CARE_LEAVERS_FROM = dt.date(2023, 1, 1)


def _parse_2025(path: Path, codes: _Codes) -> list[dict]:
    file = path.name
    rows = read_ods_sheet(path, SHEET_2025)
    hi = next((i for i, (_, c) in enumerate(rows) if normalise_header(_val(c, 0) or "") == "web link"), None)
    if hi is None:
        raise EvalkitError(f"no header row starting 'Web link' in sheet {SHEET_2025!r}", file=file, column="A",
                           expected="the ILACS_inspection_history header on row 3")
    hrow, hcells = rows[hi]
    found = [_val(hcells, i) or "" for i in range(max(hcells) + 1)]
    want = [normalise_header(h) for h in HEADERS_2025]
    got = [normalise_header(h) for h in found]
    while got and got[-1] == "":
        got.pop()
    if got != want:
        pos = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        raise EvalkitError(
            f"unrecognised ILACS history header: column {col_letter(pos)} is "
            f"{found[pos] if pos < len(found) else '(nothing)'!r}",
            file=file, row=hrow, column=col_letter(pos),
            expected=f"{HEADERS_2025[pos] if pos < len(HEADERS_2025) else '(no column)'!r} (the 13 headers of the 2025 layout)",
        )
    out: list[dict] = []
    for rnum, cells in rows[hi + 1:]:
        name = _val(cells, 2)
        if name is None:
            continue
        gss = _val(cells, 1)
        la_code = _resolve(codes, gss=gss, name=None, link=link_code(cells.get(0)), predecessor=False,
                           file=file, row=rnum)
        start = _parse_date(_val(cells, 5), file=file, row=rnum, column=HEADERS_2025[5])
        pub = _parse_date(_val(cells, 6), file=file, row=rnum, column=HEADERS_2025[6])
        if pub is None:
            raise EvalkitError("publication date is blank", file=file, row=rnum, column=HEADERS_2025[6],
                               expected="a publication date on every inspection row")
        itype = _val(cells, 7)
        combined = (start is not None and start < CARE_LEAVERS_FROM) or (start is None and _val(cells, 12) is None)
        for judgement, ci in _J2025:
            if combined and judgement == "care_leavers":
                if _val(cells, ci) is not None:
                    raise EvalkitError(
                        "care-leavers judgement given for an inspection before 1 January 2023", file=file,
                        row=rnum, column=HEADERS_2025[ci], expected="blank before the judgement existed",
                    )
                continue
            name_j = "children_in_care_and_care_leavers" if combined and judgement == "children_in_care" else judgement
            grade, note = _grade(_val(cells, ci), file=file, row=rnum, column=HEADERS_2025[ci])
            out.append({
                "la_code": la_code, "gss_code": gss, "la_name": name, "framework": "ilacs",
                "inspection_type": itype, "inspection_start": start, "inspection_end": None,
                "publication_date": pub, "judgement": name_j, "grade": grade, "grade_note": note,
            })
    return out


# --- D2I scraped CSV ---------------------------------------------------------------------------

D2I_COLUMNS = (
    "urn", "local_authority", "inspection_link", "pdf_filename", "publication_date", "inspection_framework",
    "inspector_name", "inspection_start_date", "inspection_end_date", "overall_effectiveness_grade",
    "impact_of_leaders_grade", "help_and_protection_grade", "in_care_grade", "care_leavers_grade",
)
_D2I_REQUIRED = ("urn", "local_authority", "publication_date", "inspection_framework", "inspection_start_date",
                 "inspection_end_date", "overall_effectiveness_grade", "impact_of_leaders_grade",
                 "help_and_protection_grade", "in_care_grade", "care_leavers_grade")
_D2I_J = (
    ("overall_effectiveness", "overall_effectiveness_grade"), ("leadership", "impact_of_leaders_grade"),
    ("help_and_protection", "help_and_protection_grade"), ("children_in_care", "in_care_grade"),
    ("care_leavers", "care_leavers_grade"),
)
D2I_SENTINELS = ("data_unreadable", "inspection_pre_dates_judgement", "not_reported_post_reform")
# Scraping artefacts whose meaning is unambiguous (checked against the official 2025 ODS: both cells
# are "Requires improvement to be good" there). Kept with grade_note "label_repaired".
D2I_REPAIRS = {"to requires improvement": "requires_improvement"}
SIF_FROM = dt.date(2014, 1, 1)        # first SIF reports were published in February 2014
ILACS_FROM = dt.date(2018, 9, 1)      # SIF re-inspections were published until 2018-08-24 (2023 workbook);
                                      # D2I reports with no readable grade before this are SIF / pre-SIF


def _load_provider_lookup(path: Path, given: pl.DataFrame | Path | None | bool) -> dict[str, tuple[str, str | None]] | None:
    if given is False:
        return None
    if given is None:
        given = _find(path, ["d2i_Provider_data_lookup.csv", "neighbours/d2i_Provider_data_lookup.csv",
                             "../neighbours/d2i_Provider_data_lookup.csv", "../d2i_Provider_data_lookup.csv"])
        if given is None:
            return None
    if isinstance(given, pl.DataFrame):
        frame = given
    else:
        header, rows = la_codes.read_csv_rows(Path(given))
        frame = la_codes.text_frame([h.strip() for h in header], rows)
        missing = [c for c in ("urn", "la_code", "la_code_new") if c not in frame.columns]
        if missing:
            raise EvalkitError(f"provider lookup lacks column(s) {', '.join(missing)}", file=Path(given).name,
                               row=1, column=missing[0], expected="urn, la_code, la_code_new")
    return {u: (c, g) for u, c, g in zip(frame["urn"].to_list(), frame["la_code"].to_list(), frame["la_code_new"].to_list())
            if u is not None and c is not None}


def _parse_d2i(path: Path, codes: _Codes, provider_lookup: pl.DataFrame | Path | None) -> list[dict]:
    file = path.name
    header, rows = la_codes.read_csv_rows(path)
    norm = [normalise_header(h) for h in header]
    missing = [c for c in _D2I_REQUIRED if c not in norm]
    if missing:
        shown = ", ".join(header[:15])
        raise EvalkitError(
            f"unrecognised layout: column(s) {', '.join(missing)} missing; found {shown}",
            file=file, row=1, column=missing[0], expected="the D2I ofsted_csc_ilacs_history.csv header",
        )
    idx = {c: norm.index(c) for c in _D2I_REQUIRED}
    lookup = _load_provider_lookup(path, provider_lookup)
    out: list[dict] = []
    for rnum, row in enumerate(rows, start=2):
        get = {c: (row[i].strip() or None) for c, i in idx.items()}
        urn, name = get["urn"], get["local_authority"]
        if urn is None or not urn.isdigit():
            raise EvalkitError(f"urn {urn!r} is not a number", file=file, row=rnum, column="urn",
                               expected="an Ofsted provider URN")
        if lookup is not None:
            if urn not in lookup:
                raise EvalkitError(f"urn {urn} is not in the provider lookup", file=file, row=rnum, column="urn",
                                   expected="a URN listed in d2i_Provider_data_lookup.csv")
            la_code, gss = lookup[urn]
        else:
            la_code = codes.for_name(name, predecessor=False)
            gss = None
            if la_code is None:
                how = ("dfe_las.csv has no such name" if codes.available else
                       "neither d2i_Provider_data_lookup.csv nor dfe_las.csv was found next to the file")
                raise EvalkitError(f"cannot map urn {urn} ({name!r}) to a DfE LA code: {how}", file=file,
                                   row=rnum, column="urn",
                                   expected="d2i_Provider_data_lookup.csv in neighbours/ beside the file")
        pub = _parse_date(get["publication_date"], file=file, row=rnum, column="publication_date")
        if pub is None:
            raise EvalkitError("publication date is blank", file=file, row=rnum, column="publication_date",
                               expected="a date dd/mm/yy")
        start = _parse_date(get["inspection_start_date"], file=file, row=rnum, column="inspection_start_date")
        end = _parse_date(get["inspection_end_date"], file=file, row=rnum, column="inspection_end_date")
        parsed: list[tuple[str, str | None, str | None, str]] = []
        for judgement, c in _D2I_J:
            raw = get[c]
            key = " ".join(raw.lower().split()) if raw else None
            if key is None:
                grade, note = None, "blank"
            elif key in D2I_SENTINELS:
                grade, note = None, key
            elif key in D2I_REPAIRS:
                grade, note = D2I_REPAIRS[key], "label_repaired"
            else:
                grade, note = grade_of(raw), None
                if grade is None:
                    raise EvalkitError(
                        f"unknown grade label {raw!r}", file=file, row=rnum, column=c,
                        expected="outstanding, good, requires improvement, inadequate, blank or "
                                 + ", ".join(D2I_SENTINELS),
                    )
            parsed.append((judgement, grade, note, c))
        readable = any(g is not None for _, g, _, _ in parsed)
        if readable or pub >= ILACS_FROM:
            framework = "ilacs"
        else:
            framework = "sif" if pub >= SIF_FROM else "pre_sif"
        combined = framework == "ilacs" and parsed[-1][2] == "inspection_pre_dates_judgement"
        for judgement, grade, note, _ in parsed:
            if combined and judgement == "children_in_care":
                judgement = "children_in_care_and_care_leavers"
            out.append({
                "la_code": la_code, "gss_code": gss, "la_name": name, "framework": framework,
                "inspection_type": get["inspection_framework"], "inspection_start": start, "inspection_end": end,
                "publication_date": pub, "judgement": judgement, "grade": grade, "grade_note": note,
            })
    return out


# --- Module contract ---------------------------------------------------------------------------

_NAME_PATTERNS = (
    re.compile(r"childrens_social_care_in_england_\d{4}_underlying_data", re.I),
    re.compile(r"la_inspection_outcomes_as_at", re.I),
    re.compile(r"ofsted_csc_ilacs_history", re.I),
)


def detect(path: Path) -> bool:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".csv":
        try:
            with path.open("r", encoding="utf-8-sig") as fh:
                first = fh.readline()
        except (OSError, UnicodeDecodeError):
            return False
        cols = {normalise_header(c) for c in first.rstrip("\r\n").split(",")}
        return {"urn", "local_authority", "overall_effectiveness_grade", "inspection_framework"} <= cols
    if suffix != ".ods":
        return False
    if any(p.search(path.name) for p in _NAME_PATTERNS):
        return True
    try:
        names = ods_sheet_names(path)
    except EvalkitError:
        return False
    return any(n in (SHEET_2023, SHEET_2024, SHEET_2025) for n in names)


def layout_of(path: Path) -> str:
    path = Path(path)
    if path.suffix.lower() == ".csv":
        return "d2i"
    if path.suffix.lower() != ".ods":
        raise EvalkitError(f"unsupported file type {path.suffix!r}", file=path.name,
                           expected="an Ofsted .ods workbook or the D2I .csv history")
    names = ods_sheet_names(path)
    if SHEET_2025 in names:
        return "2025"
    if SHEET_2023 in names:
        return "2023"
    if SHEET_2024 in names:
        return "2024"
    raise EvalkitError(
        f"no known inspection-history sheet; found sheets {', '.join(names) or '(none)'}", file=path.name,
        expected=f"a sheet {SHEET_2023!r}, {SHEET_2024!r} or {SHEET_2025!r}",
    )


def parse(path: Path, *, las: pl.DataFrame | Path | None | bool = None,
          provider_lookup: pl.DataFrame | Path | None | bool = None) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise EvalkitError("file not found", file=path.name)
    if path.stat().st_size == 0:
        raise EvalkitError("file is empty", file=path.name, expected="an Ofsted workbook or the D2I history")
    layout = layout_of(path)
    codes = _load_las(path, las)
    if layout == "2025" and not codes.available:
        raise EvalkitError(
            "the 2025 layout names councils by GSS area code, and DfE's LA list (dfe_las.csv) is not among the inputs",
            file=path.name, column="Area code",
            expected="dfe_las.csv in the same --from folder (its web links are not reliable DfE codes)",
        )
    if layout == "2023":
        rows = _parse_wide(path, SHEET_2023, ("2023_current", "2023_predecessor"), codes)
    elif layout == "2024":
        rows = _parse_wide(path, SHEET_2024, ("2024_current", "2024_predecessor"), codes)
    elif layout == "2025":
        rows = _parse_2025(path, codes)
    else:
        rows = _parse_d2i(path, codes, provider_lookup)
    if not rows:
        raise EvalkitError("no inspection rows found", file=path.name, expected="at least one inspection")
    schema = {k: v for k, v in JUDGEMENTS_SCHEMA.items() if k not in ("source", "file")}
    frame = pl.DataFrame(rows, schema=schema).with_columns(source=pl.lit(NAME), file=pl.lit(path.name))
    dup = frame.group_by("la_code", "framework", "inspection_type", "publication_date", "judgement").len().filter(pl.col("len") > 1)
    if dup.height and layout != "d2i":
        first = dup.sort("la_code", "publication_date").row(0, named=True)
        raise EvalkitError(
            f"duplicated inspection: la_code={first['la_code']}, published {first['publication_date']}, "
            f"judgement {first['judgement']}", file=path.name, expected="one row per inspection and judgement",
        )
    return finish_judgements(frame)


# --- Reconciliation across publications ----------------------------------------------------------

_KEY = ("la_code", "framework", "publication_date", "judgement")
OFFICIAL_PRIORITY = ("2025", "2024", "2023", "d2i")


def _label(frame: pl.DataFrame) -> str:
    files = frame["file"].unique().to_list()
    return files[0] if len(files) == 1 else "+".join(sorted(str(f) for f in files))


def reconcile(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Line up the same inspection judgement across publications and compare grades.

    Rows match on (la_code, framework, publication_date, judgement). For every pair of input frames,
    one output row per matched judgement: file_a, grade_a, file_b, grade_b and `status`:
    "agree", "disagree", or "missing_a" / "missing_b" / "missing_both" when a grade is null there.
    """
    labelled = [(_label(f), f.select(*_KEY, "grade", "grade_note")) for f in frames]
    parts = []
    for i in range(len(labelled)):
        for j in range(i + 1, len(labelled)):
            (la, fa), (lb, fb) = labelled[i], labelled[j]
            fa = fa.unique(subset=list(_KEY), keep="first", maintain_order=True)
            fb = fb.unique(subset=list(_KEY), keep="first", maintain_order=True)
            joined = fa.join(fb, on=list(_KEY), how="inner", suffix="_b", nulls_equal=False).rename(
                {"grade": "grade_a", "grade_note": "grade_note_a"})
            joined = joined.with_columns(file_a=pl.lit(la), file_b=pl.lit(lb)).with_columns(
                status=pl.when(pl.col("grade_a").is_null() & pl.col("grade_b").is_null()).then(pl.lit("missing_both"))
                .when(pl.col("grade_a").is_null()).then(pl.lit("missing_a"))
                .when(pl.col("grade_b").is_null()).then(pl.lit("missing_b"))
                .when(pl.col("grade_a") == pl.col("grade_b")).then(pl.lit("agree"))
                .otherwise(pl.lit("disagree"))
            )
            parts.append(joined.select(*_KEY, "file_a", "grade_a", "grade_note_a", "file_b", "grade_b",
                                       "grade_note_b", "status"))
    schema = {"la_code": pl.Utf8, "framework": pl.Utf8, "publication_date": pl.Date, "judgement": pl.Utf8,
              "file_a": pl.Utf8, "grade_a": pl.Utf8, "grade_note_a": pl.Utf8, "file_b": pl.Utf8,
              "grade_b": pl.Utf8, "grade_note_b": pl.Utf8, "status": pl.Utf8}
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).sort(["file_a", "file_b", "la_code", "publication_date", "judgement"])


def _priority(frame: pl.DataFrame) -> int:
    """Lower is preferred: newest official publication first, scraped data last."""
    name = _label(frame).lower()
    if "ofsted_csc_ilacs_history" in name or name.endswith(".csv"):
        return 100
    years = [int(y) for y in re.findall(r"(20\d\d)", name)]
    return -max(years) if years else 50


def combine(frames: Sequence[pl.DataFrame], *, tolerance_days: int = 90) -> pl.DataFrame:
    """One de-duplicated judgement history.

    Each inspection (la_code, framework, publication_date) is taken whole from the most
    authoritative publication that has it: the newest official workbook first (2025, then 2024,
    then 2023), the scraped D2I history last. An inspection of a lower-ranked source is dropped when
    a higher-ranked one has an inspection of the same LA and framework published within
    `tolerance_days` (publication dates are sometimes revised between editions: Nottingham's 2022
    ILACS is 2022-11-05 in the 2023/2024 workbooks and 2022-09-05 in the 2025 one). Scraped
    inspections with no readable grade at all are dropped (they add nothing but a date).
    """
    ranked = sorted(frames, key=_priority)
    inspection = ["la_code", "framework", "publication_date"]
    taken: pl.DataFrame | None = None
    parts = []
    for frame in ranked:
        if _priority(frame) >= 100:
            graded = frame.group_by(inspection).agg(pl.col("grade").is_not_null().any().alias("_g"))
            frame = frame.join(graded.filter(pl.col("_g")).drop("_g"), on=inspection, how="semi", nulls_equal=True)
        keys = frame.select(inspection).unique()
        if taken is not None and keys.height:
            near = (
                keys.join(taken, on=["la_code", "framework"], how="inner", suffix="_t", nulls_equal=True)
                .filter((pl.col("publication_date") - pl.col("publication_date_t")).dt.total_days().abs() <= tolerance_days)
                .select(inspection).unique()
            )
            keys = keys.join(near, on=inspection, how="anti", nulls_equal=True)
        parts.append(frame.join(keys, on=inspection, how="semi", nulls_equal=True))
        taken = keys if taken is None else pl.concat([taken, keys])
    if not parts:
        return finish_judgements(pl.DataFrame(schema=JUDGEMENTS_SCHEMA))
    return finish_judgements(pl.concat(parts))


# --- Writing the demo in the official layouts ------------------------------------------------------

_LABEL_OF = {"outstanding": "Outstanding", "good": "Good", "requires_improvement": "Requires improvement to be good",
             "inadequate": "Inadequate"}
_WEB_TEXT = "Ofsted Local Authority Webpage"
_DEMO_2023 = "ofsted_Childrens_social_care_in_England_2023_underlying_data.ods"
_DEMO_2025 = "ofsted_LA_Inspection_Outcomes_as_at_31_March_2025.ods"


def _x(text: str) -> str:
    return html.escape(text, quote=True)


def _cell_xml(value: object) -> str:
    if value is None or value == "":
        return "<table:table-cell/>"
    if isinstance(value, dt.date):
        return (f'<table:table-cell table:style-name="ceDate" office:value-type="date" '
                f'office:date-value="{value.isoformat()}"><text:p>{value.strftime("%d/%m/%Y")}</text:p></table:table-cell>')
    if isinstance(value, tuple) and value and value[0] == "link":
        url = value[1]
        formula = f'of:=HYPERLINK("{url}";"{_WEB_TEXT}")'
        return (f'<table:table-cell table:formula="{_x(formula)}" office:value-type="string" '
                f'office:string-value="{_WEB_TEXT}"><text:p><text:a xlink:href="{_x(url)}" xlink:type="simple">'
                f'{_WEB_TEXT}</text:a></text:p></table:table-cell>')
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
    '<office:automatic-styles>'
    '<number:date-style style:name="N_DATE"><number:day number:style="long"/><number:text>/</number:text>'
    '<number:month number:style="long"/><number:text>/</number:text><number:year number:style="long"/>'
    '</number:date-style>'
    '<style:style style:name="ceDate" style:family="table-cell" style:data-style-name="N_DATE"/>'
    '</office:automatic-styles><office:body><office:spreadsheet>'
)
_CONTENT_TAIL = "</office:spreadsheet></office:body></office:document-content>"
_MANIFEST = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
    '<manifest:file-entry manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
    '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
    '<manifest:file-entry manifest:full-path="styles.xml" manifest:media-type="text/xml"/>'
    '<manifest:file-entry manifest:full-path="meta.xml" manifest:media-type="text/xml"/>'
    '</manifest:manifest>'
)
_STYLES = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-styles xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" office:version="1.3"/>'
)
_META = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<office:document-meta xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0" office:version="1.3">'
    '<office:meta><meta:generator>evalkit demo (fictional data)</meta:generator></office:meta>'
    '</office:document-meta>'
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


def _web(la_code: str) -> tuple[str, str]:
    return ("link", f"https://reports.ofsted.gov.uk/provider/44/{la_code}")


def _demo_2023_rows(sif: pl.DataFrame) -> list[list[object]]:
    headers = list(HEADERS_2023)
    col = {h: i for i, h in enumerate(headers)}
    first, second = _PRE_SIF[-2], _PRE_SIF[-1]
    rows: list[list[object]] = [
        ["Children's social care data in England 2023 - LA inspections 2009-2023"],
        ["This worksheet contains two tables with no blank rows or columns. The first table begins in cell A5 "
         "(demonstration file with fictional local authorities)."],
        ["Column A includes a link to the Local Authority Webpage for each local authority, links will open in a new window."],
        ["Some cells in this table are empty because data was not provided to Ofsted. "],
        headers,
    ]
    for (code, name), group in sorted(sif.group_by(["la_code", "la_name"]), key=lambda kv: (kv[0][1], kv[0][0])):
        line: list[object] = [None] * len(headers)
        line[0] = _web(code)
        line[1] = name
        for g in (first, second):
            sub = group.filter(pl.col("inspection_type") == g.inspection_type)
            if sub.height == 0:
                continue
            dates = sub["publication_date"].unique().to_list()
            if len(dates) != 1:
                raise EvalkitError(f"LA {code} has {len(dates)} '{g.inspection_type}' inspections",
                                   expected="at most one first SIF and one SIF re-inspection per LA")
            line[col[g.date]] = dates[0]
            grades = dict(zip(sub["judgement"].to_list(), sub["grade"].to_list()))
            for judgement, h in g.judgements:
                grade = grades.get(judgement)
                line[col[h]] = _LABEL_OF.get(grade) if grade else None
        rows.append(line)
    return rows


def _demo_2025_rows(ilacs: pl.DataFrame) -> list[list[object]]:
    rows: list[list[object]] = [
        ["ILACS inspection history from 2018-2025"],
        ["This worksheet contains one table with no blank rows or columns. This table begins in cell A3 "
         "(demonstration file with fictional local authorities)."],
        list(HEADERS_2025),
    ]
    keys = ["la_code", "gss_code", "la_name", "publication_date", "inspection_start", "inspection_type"]
    groups = sorted(ilacs.group_by(keys), key=lambda kv: (kv[0][2] or "", kv[0][0] or "", kv[0][3]))
    for (code, gss, name, pub, start, itype), group in groups:
        grades = dict(zip(group["judgement"].to_list(), group["grade"].to_list()))
        cic = grades.get("children_in_care", grades.get("children_in_care_and_care_leavers"))
        line: list[object] = [_web(code), gss, name, "Current", None, start, pub, itype,
                              grades.get("overall_effectiveness"), grades.get("leadership"),
                              grades.get("help_and_protection"), cic, grades.get("care_leavers")]
        rows.append([_LABEL_OF.get(v, v) if isinstance(v, str) and v in _LABEL_OF else v for v in line])
    return rows


def write_demo(frame: pl.DataFrame, folder: Path) -> list[Path]:
    """Write tidy judgement rows in the official layouts: SIF rows into a 2023-style workbook
    (sheet LA_inspections_2009-2023, the exact 45 headers) and ILACS rows into a 2025-style workbook
    (sheet ILACS_inspection_history, with Cover/Contents/Notes sheets). Web links are HYPERLINK
    formulas to /provider/44/<la_code>, so `parse` recovers the codes of fictional LAs."""
    folder = Path(folder)
    bad = frame.filter(~pl.col("framework").is_in(["sif", "ilacs"]))
    if bad.height:
        raise EvalkitError(f"write_demo writes SIF and ILACS rows only, got framework {bad['framework'][0]!r}",
                           expected="framework sif or ilacs")
    out: list[Path] = []
    sif = frame.filter(pl.col("framework") == "sif")
    if sif.height:
        out.append(write_ods(folder / _DEMO_2023, [
            ("Cover", [["Cover sheet - Official statistics (demonstration copy, fictional data)"]]),
            ("Contents", [["Contents"], ["Worksheet title and link", "Description of contents of worksheet"],
                          ["LA inspections 2009-2023", "Inspection history of local authorities"]]),
            ("Notes", [["Notes"], ["Fictional local authorities generated for the evalkit demonstration."]]),
            (SHEET_2023, _demo_2023_rows(sif)),
        ]))
    ilacs = frame.filter(pl.col("framework") == "ilacs")
    if ilacs.height:
        out.append(write_ods(folder / _DEMO_2025, [
            ("Cover", [["Local authority inspection outcomes as at 31 March 2025 (demonstration copy, fictional data)"]]),
            ("Contents", [["Contents"], ["Worksheet title and link", "Description of contents of worksheet"],
                          ["ILACS inspection history", "All short and standard inspections from 2018"]]),
            ("Notes", [["Notes"], ["Fictional local authorities generated for the evalkit demonstration."]]),
            (SHEET_2025, _demo_2025_rows(ilacs)),
        ]))
    return out
