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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources import la_codes
from evalkit.sources.common import (
    JUDGEMENTS_SCHEMA,
    finish_judgements,
    grade_of,
    normalise_header,
    read_csv_rows,
    text_frame,
)
from evalkit.sources.ods import Cell, col_letter, ods_sheet_names, read_ods_sheet
from evalkit.sources.workbook_guard import check_workbook

NAME = "ofsted"
KIND = "judgements"
PARSER_VERSION = "1"

# --- Helpers ------------------------------------------------------------------------------------


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
    fmts = (
        ("%Y-%m-%d",)
        if iso
        else (
            ("%d/%m/%Y",)
            if re.match(r"^\d{1,2}/\d{1,2}/\d{4}$", t)
            else ("%d/%m/%y",)
            if re.match(r"^\d{1,2}/\d{1,2}/\d{2}$", t)
            else ()
        )
    )
    for c in candidates:
        for f in fmts:
            try:
                return dt.datetime.strptime(c, f).date()
            except ValueError:
                pass
    raise EvalkitError(
        f"{text!r} is not a date",
        file=file,
        row=row,
        column=column,
        expected="a date (a date cell, yyyy-mm-dd, dd/mm/yyyy or dd/mm/yy)",
    )


_OFFICIAL_LABELS = "Outstanding, Good, Requires improvement to be good, Inadequate or blank"


def _grade(raw: str | None, *, file: str, row: int, column: str) -> tuple[str | None, str | None]:
    if raw is None or raw.strip() in ("", "-"):
        return None, "blank"
    g = grade_of(raw)
    if g is None:
        raise EvalkitError(
            f"unknown grade label {raw.strip()!r}", file=file, row=row, column=column, expected=_OFFICIAL_LABELS
        )
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


def _resolve(
    codes: _Codes, *, gss: str | None, name: str | None, link: str | None, predecessor: bool, file: str, row: int
) -> str:
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
        file=file,
        row=row,
        column="Web link",
        expected="a /provider/44/<DfE code> link, or dfe_las.csv beside the file to map LA names",
    )


# --- Wide layouts (2023 and 2024 workbooks) -----------------------------------------------------


@dataclass(frozen=True)
class Group:
    framework: str
    inspection_type: str | None  # fixed type, or None when a type column is given
    date: str  # header of the publication-date column
    judgements: tuple[tuple[str, str], ...]  # (judgement, header)
    type_column: str | None = None
    split_care_leavers: bool = False  # children_in_care means the combined judgement if care leavers is blank


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
        j.append(
            (
                "children_in_care_and_care_leavers",
                f"{prefix} experiences and progress of children in care and care leavers",
            )
        )
    else:
        j.append(("children_in_care", f"{prefix} experiences and progress of children in care"))
        j.append(("care_leavers", f"{prefix} experiences and progress of care leavers"))
    return Group("ilacs", None, date, tuple(j), type_column=type_col, split_care_leavers=not combined)


PRE_SIF = (
    Group(
        "pre_sif",
        "SLAC",
        "Safeguarding & Looked After Children (SLAC) Inspection publication date",
        (
            ("safeguarding", "SLAC Safeguarding Overall effectiveness (OE)"),
            ("looked_after_children", "SLAC Looked After Children Overall Effectiveness (OE)"),
        ),
    ),
    Group(
        "pre_sif",
        "SLAC re-inspection of safeguarding",
        "SLAC re-inspection of Safeguarding publication date",
        (("safeguarding", "SLAC re-inspection Safeguarding OE"),),
    ),
    Group(
        "pre_sif",
        "SLAC re-inspection of services for children looked after",
        "SLAC re-inspection of services for Children Looked After publication date",
        (("looked_after_children", "SLAC re-inspection of services Children Looked After OE"),),
    ),
    Group(
        "pre_sif",
        "CPI",
        "Child Protection Inspections (CPI) publication date",
        (("child_protection", "CPI Overall Effectiveness (OE)"),),
    ),
    Group(
        "pre_sif",
        "CPRI",
        "Child Protection Re-Inspection (CPRI) publication date",
        (("child_protection", "CPRI Overall Effectiveness (OE)"),),
    ),
    Group(
        "pre_sif",
        "TLAC",
        "Targeted Looked After Children (TLAC) inspection publication date",
        (("looked_after_children", "TLAC Overall Effectiveness (OE)"),),
    ),
    _sif(
        "First SIF", "Single Inspection of LA Children's Services (SIF)  First SIF publication date", True, "First SIF"
    ),
    _sif(
        "SIF Re-inspection",
        "Single Inspection of LA Children's Services (SIF) SIF Re-inspection publication date",
        False,
        "SIF re-inspection",
    ),
)
_ID_HEADERS = ("Web link", "Local authority name", "LA region", "LA Authority Type")

# The exact header rows of each wide table, in order.
_G2023_FIRST = _ilacs_wide(
    "First ILACS framework",
    "First ILACS framework publication date",
    "First ILACS framework inspection type",
    combined=True,
)
_G2023_SECOND = _ilacs_wide(
    "Second ILACS framework",
    "Second ILACS framework publication date",
    "Second ILACS framework inspection type",
    combined=False,
)
_G2023_PRED = _ilacs_wide(
    "ILACS framework", "ILACS framework publication date", "ILACS framework inspection type", combined=True
)
_G2024_FIRST = _ilacs_wide("First ILACS", "First ILACS publication date", "First ILACS inspection type", combined=False)
_G2024_SECOND = _ilacs_wide(
    "Second ILACS", "Second ILACS publication date", "Second ILACS inspection type", combined=False
)
_G2024_PRED = _ilacs_wide(
    "ILACS framework", "ILACS framework publication date", "ILACS framework inspection type", combined=True
)


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
    ("2023_current", _ID_HEADERS, PRE_SIF + (_G2023_FIRST, _G2023_SECOND), True),
    ("2023_predecessor", _ID_HEADERS, PRE_SIF + (_G2023_PRED,), True),
    ("2024_current", _ID_HEADERS[:3], (_G2024_FIRST, _G2024_SECOND), False),
    ("2024_predecessor", _ID_HEADERS[:3], (_G2024_PRED,), False),
):
    WIDE_TABLES[_name] = (_headers(_ids, _groups, _tf), _groups)
del _name, _ids, _groups, _tf

SHEET_2023 = "LA_inspections_2009-2023"
SHEET_2024 = "ILACS_inspections_2018-2024"
SHEET_2025 = "ILACS_inspection_history"
HEADERS_2023 = WIDE_TABLES["2023_current"][0]  # the exact 45 headers


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
    pos = next(
        (i for i, (a, b) in enumerate(zip(found, [normalise_header(h) for h in want])) if a != b),
        min(len(found), len(want)),
    )
    got = found[pos] if pos < len(found) else "(nothing)"
    raise EvalkitError(
        f"unrecognised table header: column {col_letter(pos)} is {got!r}, {len(found)} columns in all",
        file=file,
        row=row,
        column=col_letter(pos),
        expected=f"{want[pos] if pos < len(want) else '(no column)'!r} ({len(want)} headers of the {best} table)",
    )


def _parse_wide(path: Path, sheet: str, candidates: tuple[str, str], codes: _Codes) -> list[dict]:
    file = path.name
    rows = read_ods_sheet(path, sheet)
    header_rows = [i for i, (_, cells) in enumerate(rows) if normalise_header(_val(cells, 0) or "") == "web link"]
    if not header_rows:
        raise EvalkitError(
            f"no header row starting 'Web link' in sheet {sheet!r}",
            file=file,
            column="A",
            expected="a table whose first header is 'Web link'",
        )
    out: list[dict] = []
    for t, hi in enumerate(header_rows):
        hrow, hcells = rows[hi]
        layout = _match_wide(file, hrow, hcells, candidates if t == 0 else candidates[::-1])
        headers, groups = WIDE_TABLES[layout]
        index = {normalise_header(h): i for i, h in enumerate(headers)}
        col = {h: index[normalise_header(h)] for h in headers}
        predecessor = layout.endswith("predecessor")
        stop = header_rows[t + 1] - 1 if t + 1 < len(header_rows) else len(rows)
        for rnum, cells in rows[hi + 1 : stop]:
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
                            "judgements given without a publication date",
                            file=file,
                            row=rnum,
                            column=g.date.strip(),
                            expected="a publication date for every inspection with judgements",
                        )
                    continue
                itype = g.inspection_type if g.type_column is None else _val(cells, col[g.type_column])
                judgements = list(g.judgements)
                if g.split_care_leavers and _val(cells, col[judgements[-1][1]]) is None:
                    # Before January 2023 the children-in-care column held the combined judgement.
                    judgements = judgements[:-2] + [("children_in_care_and_care_leavers", judgements[-2][1])]
                for judgement, h in judgements:
                    grade, note = _grade(_val(cells, col[h]), file=file, row=rnum, column=h.strip())
                    out.append(
                        {
                            "la_code": la_code,
                            "gss_code": None,
                            "la_name": name,
                            "framework": g.framework,
                            "inspection_type": itype,
                            "inspection_start": None,
                            "inspection_end": None,
                            "publication_date": date,
                            "judgement": judgement,
                            "grade": grade,
                            "grade_note": note,
                        }
                    )
    return out


# --- Long layout (2025) ------------------------------------------------------------------------

HEADERS_2025 = (
    "Web link",
    "Local authority area code",
    "Local authority name",
    "Local authority status",
    "Ofsted region",
    "Inspection date",
    "Publication date",
    "Inspection type",
    "Overall effectiveness",
    "The impact of leaders on social work practice with children and families",
    "The experiences and progress of children who need help and protection",
    "The experiences and progress of children in care",
    "The experiences and progress of care leavers",
)
_J2025 = (
    ("overall_effectiveness", 8),
    ("leadership", 9),
    ("help_and_protection", 10),
    ("children_in_care", 11),
    ("care_leavers", 12),
)
CARE_LEAVERS_FROM = dt.date(2023, 1, 1)


def _parse_2025(path: Path, codes: _Codes) -> list[dict]:
    file = path.name
    rows = read_ods_sheet(path, SHEET_2025)
    hi = next((i for i, (_, c) in enumerate(rows) if normalise_header(_val(c, 0) or "") == "web link"), None)
    if hi is None:
        raise EvalkitError(
            f"no header row starting 'Web link' in sheet {SHEET_2025!r}",
            file=file,
            column="A",
            expected="the ILACS_inspection_history header on row 3",
        )
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
            file=file,
            row=hrow,
            column=col_letter(pos),
            expected=f"{HEADERS_2025[pos] if pos < len(HEADERS_2025) else '(no column)'!r} (the 13 headers of the 2025 layout)",
        )
    out: list[dict] = []
    for rnum, cells in rows[hi + 1 :]:
        name = _val(cells, 2)
        if name is None:
            continue
        gss = _val(cells, 1)
        la_code = _resolve(
            codes, gss=gss, name=None, link=link_code(cells.get(0)), predecessor=False, file=file, row=rnum
        )
        start = _parse_date(_val(cells, 5), file=file, row=rnum, column=HEADERS_2025[5])
        pub = _parse_date(_val(cells, 6), file=file, row=rnum, column=HEADERS_2025[6])
        if pub is None:
            raise EvalkitError(
                "publication date is blank",
                file=file,
                row=rnum,
                column=HEADERS_2025[6],
                expected="a publication date on every inspection row",
            )
        itype = _val(cells, 7)
        combined = (start is not None and start < CARE_LEAVERS_FROM) or (start is None and _val(cells, 12) is None)
        for judgement, ci in _J2025:
            if combined and judgement == "care_leavers":
                if _val(cells, ci) is not None:
                    raise EvalkitError(
                        "care-leavers judgement given for an inspection before 1 January 2023",
                        file=file,
                        row=rnum,
                        column=HEADERS_2025[ci],
                        expected="blank before the judgement existed",
                    )
                continue
            name_j = "children_in_care_and_care_leavers" if combined and judgement == "children_in_care" else judgement
            grade, note = _grade(_val(cells, ci), file=file, row=rnum, column=HEADERS_2025[ci])
            out.append(
                {
                    "la_code": la_code,
                    "gss_code": gss,
                    "la_name": name,
                    "framework": "ilacs",
                    "inspection_type": itype,
                    "inspection_start": start,
                    "inspection_end": None,
                    "publication_date": pub,
                    "judgement": name_j,
                    "grade": grade,
                    "grade_note": note,
                }
            )
    return out


# --- D2I scraped CSV ---------------------------------------------------------------------------

D2I_COLUMNS = (
    "urn",
    "local_authority",
    "inspection_link",
    "pdf_filename",
    "publication_date",
    "inspection_framework",
    "inspector_name",
    "inspection_start_date",
    "inspection_end_date",
    "overall_effectiveness_grade",
    "impact_of_leaders_grade",
    "help_and_protection_grade",
    "in_care_grade",
    "care_leavers_grade",
)
_D2I_REQUIRED = (
    "urn",
    "local_authority",
    "publication_date",
    "inspection_framework",
    "inspection_start_date",
    "inspection_end_date",
    "overall_effectiveness_grade",
    "impact_of_leaders_grade",
    "help_and_protection_grade",
    "in_care_grade",
    "care_leavers_grade",
)
_D2I_J = (
    ("overall_effectiveness", "overall_effectiveness_grade"),
    ("leadership", "impact_of_leaders_grade"),
    ("help_and_protection", "help_and_protection_grade"),
    ("children_in_care", "in_care_grade"),
    ("care_leavers", "care_leavers_grade"),
)
D2I_SENTINELS = ("data_unreadable", "inspection_pre_dates_judgement", "not_reported_post_reform")
# Scraping artefacts whose meaning is unambiguous (checked against the official 2025 ODS: both cells
# are "Requires improvement to be good" there). Kept with grade_note "label_repaired".
D2I_REPAIRS = {"to requires improvement": "requires_improvement"}
SIF_FROM = dt.date(2014, 1, 1)  # first SIF reports were published in February 2014
ILACS_FROM = dt.date(2018, 9, 1)  # SIF re-inspections were published until 2018-08-24 (2023 workbook);
# D2I reports with no readable grade before this are SIF / pre-SIF


def _load_provider_lookup(
    path: Path, given: pl.DataFrame | Path | None | bool
) -> dict[str, tuple[str, str | None]] | None:
    if given is False:
        return None
    if given is None:
        given = _find(
            path,
            [
                "d2i_Provider_data_lookup.csv",
                "neighbours/d2i_Provider_data_lookup.csv",
                "../neighbours/d2i_Provider_data_lookup.csv",
                "../d2i_Provider_data_lookup.csv",
            ],
        )
        if given is None:
            return None
    if isinstance(given, pl.DataFrame):
        frame = given
    else:
        header, rows = read_csv_rows(Path(given))
        frame = text_frame([h.strip() for h in header], rows)
        missing = [c for c in ("urn", "la_code", "la_code_new") if c not in frame.columns]
        if missing:
            raise EvalkitError(
                f"provider lookup lacks column(s) {', '.join(missing)}",
                file=Path(given).name,
                row=1,
                column=missing[0],
                expected="urn, la_code, la_code_new",
            )
    return {
        u: (c, g)
        for u, c, g in zip(frame["urn"].to_list(), frame["la_code"].to_list(), frame["la_code_new"].to_list())
        if u is not None and c is not None
    }


def _parse_d2i(path: Path, codes: _Codes, provider_lookup: pl.DataFrame | Path | None) -> list[dict]:
    file = path.name
    header, rows = read_csv_rows(path)
    norm = [normalise_header(h) for h in header]
    missing = [c for c in _D2I_REQUIRED if c not in norm]
    if missing:
        shown = ", ".join(header[:15])
        raise EvalkitError(
            f"unrecognised layout: column(s) {', '.join(missing)} missing; found {shown}",
            file=file,
            row=1,
            column=missing[0],
            expected="the D2I ofsted_csc_ilacs_history.csv header",
        )
    idx = {c: norm.index(c) for c in _D2I_REQUIRED}
    lookup = _load_provider_lookup(path, provider_lookup)
    out: list[dict] = []
    for rnum, row in enumerate(rows, start=2):
        get = {c: (row[i].strip() or None) for c, i in idx.items()}
        urn, name = get["urn"], get["local_authority"]
        if urn is None or not urn.isdigit():
            raise EvalkitError(
                f"urn {urn!r} is not a number", file=file, row=rnum, column="urn", expected="an Ofsted provider URN"
            )
        if lookup is not None:
            if urn not in lookup:
                raise EvalkitError(
                    f"urn {urn} is not in the provider lookup",
                    file=file,
                    row=rnum,
                    column="urn",
                    expected="a URN listed in d2i_Provider_data_lookup.csv",
                )
            la_code, gss = lookup[urn]
        else:
            la_code = codes.for_name(name, predecessor=False)
            gss = None
            if la_code is None:
                how = (
                    "dfe_las.csv has no such name"
                    if codes.available
                    else "neither d2i_Provider_data_lookup.csv nor dfe_las.csv was found next to the file"
                )
                raise EvalkitError(
                    f"cannot map urn {urn} ({name!r}) to a DfE LA code: {how}",
                    file=file,
                    row=rnum,
                    column="urn",
                    expected="d2i_Provider_data_lookup.csv in neighbours/ beside the file",
                )
        pub = _parse_date(get["publication_date"], file=file, row=rnum, column="publication_date")
        if pub is None:
            raise EvalkitError(
                "publication date is blank", file=file, row=rnum, column="publication_date", expected="a date dd/mm/yy"
            )
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
                        f"unknown grade label {raw!r}",
                        file=file,
                        row=rnum,
                        column=c,
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
            out.append(
                {
                    "la_code": la_code,
                    "gss_code": gss,
                    "la_name": name,
                    "framework": framework,
                    "inspection_type": get["inspection_framework"],
                    "inspection_start": start,
                    "inspection_end": end,
                    "publication_date": pub,
                    "judgement": judgement,
                    "grade": grade,
                    "grade_note": note,
                }
            )
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
    check_workbook(path)  # a zip bomb or a far cell is refused here, before any reader opens it
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
        raise EvalkitError(
            f"unsupported file type {path.suffix!r}",
            file=path.name,
            expected="an Ofsted .ods workbook or the D2I .csv history",
        )
    names = ods_sheet_names(path)
    if SHEET_2025 in names:
        return "2025"
    if SHEET_2023 in names:
        return "2023"
    if SHEET_2024 in names:
        return "2024"
    raise EvalkitError(
        f"no known inspection-history sheet; found sheets {', '.join(names) or '(none)'}",
        file=path.name,
        expected=f"a sheet {SHEET_2023!r}, {SHEET_2024!r} or {SHEET_2025!r}",
    )


def parse(
    path: Path,
    *,
    las: pl.DataFrame | Path | None | bool = None,
    provider_lookup: pl.DataFrame | Path | None | bool = None,
) -> pl.DataFrame:
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
            file=path.name,
            column="Area code",
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
    dup = (
        frame.group_by("la_code", "framework", "inspection_type", "publication_date", "judgement")
        .len()
        .filter(pl.col("len") > 1)
    )
    if dup.height and layout != "d2i":
        first = dup.sort("la_code", "publication_date").row(0, named=True)
        raise EvalkitError(
            f"duplicated inspection: la_code={first['la_code']}, published {first['publication_date']}, "
            f"judgement {first['judgement']}",
            file=path.name,
            expected="one row per inspection and judgement",
        )
    return finish_judgements(frame)
