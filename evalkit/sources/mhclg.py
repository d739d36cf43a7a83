"""MHCLG Revenue Outturn: RO3 (social care, with children's social care sub-services) and RSX (summary).

Files (FORMATS.md section 7, SOURCES.md): RO3 2013-14 to 2020-21 and 2022-23 to 2024-25 (xlsx up to
2018-19, ods after), RSX 2022-23 to 2024-25 (ods) and RSX 2021-22 (a CSV saved from the ods; the
only source for 2021-22, which has no RO3 file). All in £ THOUSAND: every value is multiplied by
1000 (and rounded to the penny, since some councils report fractional thousands) -> unit "gbp".

Layout. A title block, then a header row whose first cell is ``E-code`` (sheet row 10 in 2013-14
and 2014-15, 7 in 2015-16 to 2016-17 and 2018-19 to 2020-21, 5 in 2017-18, 12 in 2022-23/2023-24
for RO3, 11 for RSX, 7 in 2024-25; found by looking, not assumed). Up to 2023-24 the service name is
in a band row just above the header (one cell per block of C1..C7 columns) and the header holds
``Total Expenditure (C3 = C1 + C2)`` etc.; in 2024-25 each header is ``<service> - <column>``.
2013-14 splits the columns over three sheets: ``(1)`` C1-C3 and ``(3)`` C7-C9 are read.
Rows: councils of class UA, MD, LB (``L`` up to 2020-21) and SC only (children's services
authorities); shire districts, fire, police etc. are dropped. A missing return is ``[x]`` in every
cell with ``M`` in Notes: values null with marker ``[x]``.

Codes. ``E-code`` is MHCLG's own code and is not carried. ``ONS Code`` is the GSS code ->
``gss_code``; 2013-14 has no ONS Code column, so its GSS codes are borrowed, by E-code, from the
nearest later RO3 file in the same folder that has one (null if there is none). ``la_code`` (DfE
3-digit) is null: the panel maps GSS -> DfE.

Measures (gross = C3 "Total Expenditure", ``_net`` = C7 "Net Current Expenditure"):

- RO3 ``spend_cla``: "Children's social care - Children Looked After" (2022-23 on, its "of which"
  sub-lines are not read).
- RO3 ``spend_safeguarding``: "Safeguarding children and young people's services" (2014-15 on); in
  2013-14 the sum of "Service strategy" + "Commissioning and social work" + "Children and Young
  People's Safety", the lines that S251 groups as safeguarding from 2012-13.
- RO3 ``spend_family_support``: "Family Support Services".
- RO3 ``spend_cyp_total``: "TOTAL CHILDREN SOCIAL CARE" (2014-15 on, when RO3 adopted the S251
  headings incl. Sure Start/early years and services for young people). Not emitted for 2013-14,
  whose RO3 total has neither (they were in RO1 education).
- RO3 ``spend_csc_total``: children's social care = TOTAL CHILDREN SOCIAL CARE less "Sure start
  children's centres (and early years)" less "Services for young people" = CLA + other children's
  and families services + family support + youth justice + safeguarding + asylum seekers. In
  2013-14 = TOTAL CHILDREN SOCIAL CARE (which then had only those headings, plus strategy and
  commissioning and social work).
- RSX ``spend_cyp_total``: "Children Social Care" total (= RO3 TOTAL CHILDREN SOCIAL CARE). RSX has
  no sub-services, so no spend_csc_total / spend_cla. RSX 2022-23 to 2024-25 duplicate the RO3
  totals (kept, distinguished by ``file``).

``year`` = financial year's end year (2013-14 -> 2014), reference_date 31 March.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources.common import finish_measures, read_csv_records, split_values
from evalkit.sources.workbook_guard import check_workbook
from evalkit.sources.workbooks import excel_reader

NAME = "mhclg_ro"
KIND = "measures"
PARSER_VERSION = "1.0"

CLASSES = {"UA", "MD", "LB", "L", "SC"}
THOUSAND = 1000.0
DOTS = {"...", "\u2026"}

Grid = list[list[str | None]]


# --- Reading ------------------------------------------------------------------------------------


def _year_from_name(text: str) -> int | None:
    m = re.search(r"(20\d{2})[-_]?(\d{2})(?!\d)", text)
    if m and (int(m.group(1)) + 1) % 100 == int(m.group(2)):
        return int(m.group(1)) + 1
    return None


def _form_of(name: str) -> str | None:
    m = re.search(r"(?<![A-Za-z])(RO3|RSX)(?![A-Za-z])", name, re.I)
    return m.group(1).upper() if m else None


def _data_sheets(names: list[str]) -> list[str]:
    picked = [n for n in names if re.match(r"^\s*(RO3|RSX)[ _]LA[ _]Data", n, re.I)]
    if any(re.search(r"\(\d\)\s*$", n) for n in picked):
        picked = [n for n in picked if re.search(r"\((1|3)\)\s*$", n)]
    return picked


def _read_sheet(path: Path, sheet: str) -> Grid:
    try:
        reader = excel_reader(path)
        frame = reader.load_sheet(sheet, header_row=None, skip_rows=0, dtypes="string").to_polars()
    except Exception as exc:  # noqa: BLE001 - calamine raises several error types for a damaged sheet
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EvalkitError(
            f"cannot read sheet {sheet!r}: {msg}", file=path.name, expected="an xlsx or ods workbook"
        ) from None
    return [list(r) for r in frame.iter_rows()]


def _read_csv_grid(path: Path) -> Grid:
    _, records = read_csv_records(path, ("utf-8-sig", "cp1252"))
    return [[c if c != "" else None for c in rec] for rec in records]


def _open(path: Path) -> list[tuple[str, Grid]]:
    """(sheet name, grid of text cells; grid[i] is sheet row i + 1)."""
    if path.suffix.lower() == ".csv":
        return [(path.stem, _read_csv_grid(path))]
    check_workbook(path)
    try:
        reader = excel_reader(path)
        names = list(reader.sheet_names)
    except Exception as exc:  # noqa: BLE001 - calamine raises several error types for a damaged file
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise EvalkitError(
            f"not a readable spreadsheet: {msg}", file=path.name, expected="an xlsx or ods workbook"
        ) from exc
    sheets = _data_sheets(names)
    if not sheets:
        raise EvalkitError(
            f"no RO3/RSX data sheet; sheets are {', '.join(names)}",
            file=path.name,
            expected="a sheet named like 'RO3_LA_Data_2024-25'",
        )
    return [(s, _read_sheet(path, s)) for s in sheets]


# --- Header interpretation --------------------------------------------------------------------------

_MEASURE_WORDS = r"(Employees|Running Expenses|Total Expenditure|Sales, Fees|Other Income|Total Income|Net Current Expenditure|Capital items|Net Total Cost)"


@functools.lru_cache(maxsize=8192, typed=True)  # headers and service names recur in every sheet and row
def _clean(text: str | None) -> str:
    if text is None:
        return ""
    s = str(text).replace("\n", " ").replace("\u2019", "'").replace("\xa0", " ")
    return re.sub(r"\s+", " ", s).strip()


def _service_key(service: str, form: str) -> str | None:
    s = _clean(service).lower().replace("'", "")
    s = re.sub(r"\[note \d+\]", "", s).strip()
    if form == "RSX":
        return "total" if s == "children social care" else None
    if s.startswith("total children social care"):
        return "total"
    if not s.startswith("childrens social care"):
        return None
    if "of which" in s:
        return None
    for key, pattern in (
        ("cla", r"children looked after"),
        ("safeguarding", r"safeguarding children"),
        ("cyp_safety", r"children and young peoples safety"),
        ("strategy", r"service strategy"),
        ("comm_sw", r"commissioning and social work"),
        ("family_support", r"family support"),
        ("youth_justice", r"youth justice"),
        ("other", r"other childrens and families"),
        ("asylum", r"asylum seekers"),
        ("sure_start", r"sure start"),
        ("young_people", r"services for young people"),
    ):
        if re.search(pattern, s):
            return key
    return None


def _find_header(grid: Grid, file: str) -> int:
    for i, row in enumerate(grid[:60]):
        if row and _clean(row[0]).lower() == "e-code":
            return i
    raise EvalkitError(
        "no header row starting with 'E-code' in the first 60 rows",
        file=file,
        column="E-code",
        expected="the MHCLG RO layout (title block, then a header row E-code, ONS Code, Local authority, ...)",
    )


def _columns(grid: Grid, hdr: int, form: str, file: str) -> dict[tuple[str, str], int]:
    """(service key, 'C3'|'C7') -> column index."""
    header = grid[hdr]
    # the service band: the nearest row above the header with text right of the identifier columns
    # (2013-14 has an empty row in between)
    band_row: list = [None] * len(header)
    for k in range(hdr - 1, max(hdr - 4, -1), -1):
        if any(c not in (None, "") for c in grid[k][3:]):
            band_row = grid[k]
            break
    found: dict[tuple[str, str], int] = {}
    band = None
    for j, cell in enumerate(header):
        b = band_row[j] if j < len(band_row) else None
        if b not in (None, "") and j > 2:
            band = _clean(b)
        h = _clean(cell)
        if re.search(r"\(C3\b", h):
            kind = "C3"
        elif re.search(r"\(C7\b", h):
            kind = "C7"
        else:
            continue
        m = re.match(rf"^(.*?)\s*-\s*{_MEASURE_WORDS}", h, re.I)
        service = m.group(1) if m and m.group(1) else band
        key = _service_key(service or "", form)
        if key is None:
            continue
        if (key, kind) in found:
            raise EvalkitError(
                f"two columns for {service!r} {kind}",
                file=file,
                row=hdr + 1,
                column=h,
                expected="one column per service and column type",
            )
        found[(key, kind)] = j
    return found


def _ident_columns(header: list, file: str, hdr: int) -> dict[str, int | None]:
    names = [_clean(c).lower() for c in header]
    out: dict[str, int | None] = {}
    for canon, variants, required in (
        ("ecode", ["E-code"], True),
        ("gss", ["ONS Code"], False),
        ("name", ["Local authority"], True),
        ("class", ["Class"], True),
        ("notes", ["Notes"], False),
    ):
        idx = next((names.index(v.lower()) for v in variants if v.lower() in names), None)
        if idx is None and required:
            raise EvalkitError(
                f"column {variants[0]!r} missing from the header",
                file=file,
                row=hdr + 1,
                column=variants[0],
                expected="E-code, ONS Code, Local authority, Class",
            )
        out[canon] = idx
    return out


def _numbers(values: list[str | None], rows: list[int], file: str, column: str) -> tuple[pl.Series, pl.Series]:
    # '...' / '…' (not available; e.g. RO3 2020-21 Reading, Slough, Medway, 2016-17 Isles of Scilly)
    # are not in common.MARKERS: keep them as markers here.
    dots = [str(x).strip() if x is not None and str(x).strip() in DOTS else None for x in values]
    series = pl.Series([None if d else x for x, d in zip(values, dots)], dtype=pl.Utf8)
    try:
        v, m = split_values(series, file=file, column=column, row_offset=0)
    except EvalkitError as exc:
        raise EvalkitError(
            exc.message, file=file, row=rows[exc.row or 0], column=column, expected=exc.expected
        ) from None
    m = pl.Series([d if d else mk for d, mk in zip(dots, m.to_list())], dtype=pl.Utf8)
    return (v * THOUSAND).round(2), m


# --- Parsing ------------------------------------------------------------------------------------


def _sheet_rows(grid: Grid, file: str) -> tuple[int, dict[str, int | None], list[int]]:
    hdr = _find_header(grid, file)
    ids = _ident_columns(grid[hdr], file, hdr)
    keep: list[int] = []
    seen: dict[str, int] = {}
    for i in range(hdr + 1, len(grid)):
        row = grid[i]
        code = _clean(row[ids["ecode"]]) if ids["ecode"] < len(row) else ""
        cls = _clean(row[ids["class"]]) if ids["class"] < len(row) else ""
        if not re.match(r"^E\d{4}$", code) or cls not in CLASSES:
            continue
        if code in seen:
            raise EvalkitError(
                f"duplicated council-year: E-code {code} also on row {seen[code] + 1}",
                file=file,
                row=i + 1,
                column=_clean(grid[hdr][ids["ecode"]]),
                expected="one row per council",
            )
        seen[code] = i
        keep.append(i)
    if not keep:
        raise EvalkitError(
            "no council rows of class UA, MD, LB or SC",
            file=file,
            row=hdr + 2,
            column="Class",
            expected="rows for the children's services authorities",
        )
    return hdr, ids, keep


def _gss_from_sibling(path: Path, year: int) -> dict[str, str]:
    candidates = []
    for other in path.parent.iterdir():
        if other == path or _form_of(other.name) != "RO3" or other.suffix.lower() not in (".xlsx", ".ods"):
            continue
        y = _year_from_name(other.name)
        if y and y > year:
            candidates.append((y, other.name, other))
    for _, _, other in sorted(candidates):
        try:
            sheets = _open(other)
        except EvalkitError:
            continue
        grid = sheets[0][1]
        try:
            hdr = _find_header(grid, other.name)
        except EvalkitError:
            continue
        names = [_clean(c).lower() for c in grid[hdr]]
        if "ons code" not in names:
            continue
        e, g = names.index("e-code"), names.index("ons code")
        return {_clean(r[e]): _clean(r[g]) for r in grid[hdr + 1 :] if len(r) > g and r[e] and r[g]}
    return {}


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    file = path.name
    if not path.is_file():
        raise EvalkitError("file not found", file=file)
    if path.stat().st_size == 0:
        raise EvalkitError("file is empty", file=file, expected="an MHCLG RO3/RSX workbook")
    form = _form_of(file)
    sheets = _open(path)
    if form is None:
        form = _form_of(sheets[0][0])
    if form is None:
        raise EvalkitError(
            "cannot tell RO3 from RSX by the file or sheet name", file=file, expected="'RO3' or 'RSX' in the file name"
        )
    year = _year_from_name(file) or _year_from_name(sheets[0][0])
    if year is None:
        raise EvalkitError(
            "cannot tell the financial year from the file or sheet name",
            file=file,
            expected="a name containing e.g. 2013-14",
        )

    # (key, kind) -> {E-code: (value, marker)}
    cells: dict[tuple[str, str], dict[str, tuple[float | None, str | None]]] = {}
    councils: dict[str, tuple[str | None, str]] = {}
    for sheet, grid in sheets:
        where = file if len(sheets) == 1 else f"{file} [{sheet}]"
        hdr, ids, keep = _sheet_rows(grid, where)
        cols = _columns(grid, hdr, form, where)
        for i in keep:
            row = grid[i]
            code = _clean(row[ids["ecode"]])
            gss = _clean(row[ids["gss"]]) if ids["gss"] is not None and ids["gss"] < len(row) else None
            councils.setdefault(code, (gss or None, _clean(row[ids["name"]])))
        for (key, kind), j in cols.items():
            vals = [grid[i][j] if j < len(grid[i]) else None for i in keep]
            v, m = _numbers(vals, [i + 1 for i in keep], where, _clean(grid[hdr][j]))
            cells[(key, kind)] = {
                _clean(grid[i][ids["ecode"]]): (a, b) for i, a, b in zip(keep, v.to_list(), m.to_list())
            }
    needed = [("total", "C3")] + ([("cla", "C3")] if form == "RO3" else [])
    for key, kind in needed:
        if (key, kind) not in cells:
            label = {
                "total": "TOTAL CHILDREN SOCIAL CARE" if form == "RO3" else "Children Social Care",
                "cla": "Children's social care - Children Looked After",
            }[key]
            raise EvalkitError(
                f"no column for {label!r} {kind}",
                file=file,
                column=f"{label} - Total Expenditure ({kind})",
                expected=f"the {form} children's social care columns",
            )
    if form == "RO3" and all(g is None for g, _ in councils.values()):
        lookup = _gss_from_sibling(path, year)
        councils = {c: (lookup.get(c), n) for c, (g, n) in councils.items()}

    rows: list[dict] = []

    def emit(code: str, measure: str, value: float | None, marker: str | None) -> None:
        gss, name = councils[code]
        rows.append({"gss_code": gss, "la_name": name, "measure": measure, "value": value, "marker": marker})

    def combine(code: str, kind: str, plus: list[str], minus: list[str]) -> tuple[float | None, str | None]:
        total = 0.0
        for sign, keys in ((1, plus), (-1, minus)):
            for key in keys:
                if (key, kind) not in cells:
                    continue
                v, m = cells[(key, kind)][code]
                if v is None:
                    return None, m or "x"
                total += sign * v
        return round(total, 2), None

    for code in sorted(councils):
        for kind, suffix in (("C3", ""), ("C7", "_net")):
            if ("total", kind) not in cells:
                continue
            if form == "RSX":
                emit(code, "spend_cyp_total" + suffix, *cells[("total", kind)][code])
                continue
            for key, measure in (
                ("cla", "spend_cla"),
                ("safeguarding", "spend_safeguarding"),
                ("family_support", "spend_family_support"),
            ):
                if (key, kind) in cells:
                    emit(code, measure + suffix, *cells[(key, kind)][code])
            if ("safeguarding", kind) not in cells and ("cyp_safety", kind) in cells:
                emit(
                    code, "spend_safeguarding" + suffix, *combine(code, kind, ["strategy", "comm_sw", "cyp_safety"], [])
                )
            has_cyps_headings = ("sure_start", kind) in cells or ("young_people", kind) in cells
            if has_cyps_headings:
                emit(code, "spend_cyp_total" + suffix, *cells[("total", kind)][code])
            emit(code, "spend_csc_total" + suffix, *combine(code, kind, ["total"], ["sure_start", "young_people"]))
    out = pl.DataFrame(
        rows,
        schema={"gss_code": pl.Utf8, "la_name": pl.Utf8, "measure": pl.Utf8, "value": pl.Float64, "marker": pl.Utf8},
    )
    out = out.with_columns(
        pl.lit(NAME).alias("source"),
        pl.lit(file).alias("file"),
        pl.lit(year, dtype=pl.Int32).alias("year"),
        pl.lit(None, dtype=pl.Utf8).alias("la_code"),
        pl.lit("gbp").alias("unit"),
    ).with_columns(pl.date(pl.col("year"), 3, 31).alias("reference_date"))
    return finish_measures(out).sort(["year", "gss_code", "la_name", "measure"], nulls_last=True, maintain_order=True)


def detect(path: Path) -> bool:
    path = Path(path)
    if not path.is_file():
        return False
    form = _form_of(path.name)
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".ods"):
        if form is None:
            return False
        check_workbook(path)  # bounds before calamine allocates anything
        try:
            return bool(_data_sheets(list(excel_reader(path).sheet_names)))
        except Exception:  # noqa: BLE001
            return False
    if suffix == ".csv" and form is not None:
        try:
            head = path.read_bytes()[:20000].decode("utf-8-sig", errors="replace")
        except OSError:
            return False
        return "E-code" in head and "ONS Code" in head
    return False


__all__ = ["NAME", "KIND", "PARSER_VERSION", "detect", "parse"]
