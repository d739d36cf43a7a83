"""Writers of the embedded demo files, each in its publication's official layout.

The demo is read by the very parsers evalkit uses on real files (evalkit.sources), so these write
what those parsers read: the same inputs give the same bytes (a test checks the shipped files).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources import cla, ods, ofsted, population, s251
from evalkit.sources.common import format_number, published_cell, write_csv_bytes

# --- Ofsted: a 2023-style and a 2025-style workbook ---------------------------------------------------

_LABEL_OF = {
    "outstanding": "Outstanding",
    "good": "Good",
    "requires_improvement": "Requires improvement to be good",
    "inadequate": "Inadequate",
}
_WEB_TEXT = "Ofsted Local Authority Webpage"
_DEMO_2023 = "ofsted_Childrens_social_care_in_England_2023_underlying_data.ods"
_DEMO_2025 = "ofsted_LA_Inspection_Outcomes_as_at_31_March_2025.ods"


def _web(la_code: str) -> tuple[str, str, str]:
    return ("link", f"https://reports.ofsted.gov.uk/provider/44/{la_code}", _WEB_TEXT)


def _demo_2023_rows(sif: pl.DataFrame) -> list[list[object]]:
    headers = list(ofsted.HEADERS_2023)
    col = {h: i for i, h in enumerate(headers)}
    first, second = ofsted.PRE_SIF[-2], ofsted.PRE_SIF[-1]
    rows: list[list[object]] = [
        ["Children's social care data in England 2023 - LA inspections 2009-2023"],
        [
            "This worksheet contains two tables with no blank rows or columns. The first table begins in cell A5 "
            "(demonstration file with fictional local authorities)."
        ],
        [
            "Column A includes a link to the Local Authority Webpage for each local authority, links will open in a new window."
        ],
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
                raise EvalkitError(
                    f"LA {code} has {len(dates)} '{g.inspection_type}' inspections",
                    expected="at most one first SIF and one SIF re-inspection per LA",
                )
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
        [
            "This worksheet contains one table with no blank rows or columns. This table begins in cell A3 "
            "(demonstration file with fictional local authorities)."
        ],
        list(ofsted.HEADERS_2025),
    ]
    keys = ["la_code", "gss_code", "la_name", "publication_date", "inspection_start", "inspection_type"]
    groups = sorted(ilacs.group_by(keys), key=lambda kv: (kv[0][2] or "", kv[0][0] or "", kv[0][3]))
    for (code, gss, name, pub, start, itype), group in groups:
        grades = dict(zip(group["judgement"].to_list(), group["grade"].to_list()))
        cic = grades.get("children_in_care", grades.get("children_in_care_and_care_leavers"))
        line: list[object] = [
            _web(code),
            gss,
            name,
            "Current",
            None,
            start,
            pub,
            itype,
            grades.get("overall_effectiveness"),
            grades.get("leadership"),
            grades.get("help_and_protection"),
            cic,
            grades.get("care_leavers"),
        ]
        rows.append([_LABEL_OF.get(v, v) if isinstance(v, str) and v in _LABEL_OF else v for v in line])
    return rows


def write_ofsted(frame: pl.DataFrame, folder: Path) -> list[Path]:
    """Write tidy judgement rows in the official layouts: SIF rows into a 2023-style workbook
    (sheet LA_inspections_2009-2023, the exact 45 headers) and ILACS rows into a 2025-style workbook
    (sheet ILACS_inspection_history, with Cover/Contents/Notes sheets). Web links are HYPERLINK
    formulas to /provider/44/<la_code>, so `parse` recovers the codes of fictional LAs."""
    folder = Path(folder)
    bad = frame.filter(~pl.col("framework").is_in(["sif", "ilacs"]))
    if bad.height:
        raise EvalkitError(
            f"write_ofsted writes SIF and ILACS rows only, got framework {bad['framework'][0]!r}",
            expected="framework sif or ilacs",
        )
    out: list[Path] = []
    sif = frame.filter(pl.col("framework") == "sif")
    if sif.height:
        out.append(
            ods.write_ods(
                folder / _DEMO_2023,
                [
                    ("Cover", [["Cover sheet - Official statistics (demonstration copy, fictional data)"]]),
                    (
                        "Contents",
                        [
                            ["Contents"],
                            ["Worksheet title and link", "Description of contents of worksheet"],
                            ["LA inspections 2009-2023", "Inspection history of local authorities"],
                        ],
                    ),
                    ("Notes", [["Notes"], ["Fictional local authorities generated for the evalkit demonstration."]]),
                    (ofsted.SHEET_2023, _demo_2023_rows(sif)),
                ],
            )
        )
    ilacs = frame.filter(pl.col("framework") == "ilacs")
    if ilacs.height:
        out.append(
            ods.write_ods(
                folder / _DEMO_2025,
                [
                    (
                        "Cover",
                        [
                            [
                                "Local authority inspection outcomes as at 31 March 2025 (demonstration copy, fictional data)"
                            ]
                        ],
                    ),
                    (
                        "Contents",
                        [
                            ["Contents"],
                            ["Worksheet title and link", "Description of contents of worksheet"],
                            ["ILACS inspection history", "All short and standard inspections from 2018"],
                        ],
                    ),
                    ("Notes", [["Notes"], ["Fictional local authorities generated for the evalkit demonstration."]]),
                    (ofsted.SHEET_2025, _demo_2025_rows(ilacs)),
                ],
            )
        )
    return out


# --- CLA: the 2025 EES layout -------------------------------------------------------------------------


def _cla_rate(count: float | None, pop: float | None) -> float | None:
    if count is None or not pop:
        return None
    return float(int(count * 10000 / pop + 0.5))


def write_cla(frame: pl.DataFrame, folder: Path) -> list[Path]:
    """Write tidy CLA rows as one file in the official 2025 EES layout (UTF-8 with BOM, LF).

    Reads measures cla_at_31_march, cla_starting, cla_ceasing, cla_rate_per_10000 and
    population_0_17_cla_denominator (other measures are ignored). Optional frame columns
    ``region_code``/``region_name`` place each council; otherwise a default fictional region.
    National and regional rows are added as plain sums of the LA values (suppressed LA values count
    as 0; unlike the published file they are not rounded to 10). Missing cells are written as
    ``x``; null values with a marker are written as that marker. The starting/ceasing rates are
    computed from count and denominator (rounded half up), as only the 31 March rate is parsed.
    Rows are ordered by year (newest first), level, region code, LA code, population type, so the
    same input always gives the same bytes.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {"cla_at_31_march", "cla_starting", "cla_ceasing", "cla_rate_per_10000", "population_0_17_cla_denominator"}
    f = frame.filter(pl.col("measure").is_in(list(wanted)))
    if "region_code" not in f.columns:
        f = f.with_columns(pl.lit(cla.DEFAULT_REGION[0]).alias("region_code"))
    if "region_name" not in f.columns:
        f = f.with_columns(pl.lit(cla.DEFAULT_REGION[1]).alias("region_name"))
    f = f.with_columns(
        pl.col("region_code").fill_null(cla.DEFAULT_REGION[0]),
        pl.col("region_name").fill_null(cla.DEFAULT_REGION[1]),
        pl.col("year").cast(pl.Int32),
    )
    cells: dict[tuple, dict[str, tuple[float | None, str | None]]] = {}
    meta: dict[tuple, tuple[str, str, str | None, str | None]] = {}
    for r in f.iter_rows(named=True):
        key = (int(r["year"]), str(r["la_code"]))
        cells.setdefault(key, {})[r["measure"]] = (r["value"], r["marker"])
        meta[key] = (r["region_code"], r["region_name"], r["la_name"], r["gss_code"])

    rows: list[list[str]] = []
    years = sorted({k[0] for k in cells}, reverse=True)
    for year in years:
        keys = sorted((k for k in cells if k[0] == year), key=lambda k: (meta[k][0], k[1]))
        # national and regional sums
        groups: dict[tuple[str, str, str], list[tuple]] = {("National", "", ""): keys}
        for k in keys:
            groups.setdefault(("Regional", meta[k][0], meta[k][1]), []).append(k)
        for (level, rcode, rname), members in sorted(groups.items(), key=lambda g: (g[0][0] != "National", g[0][1])):
            pop = sum((cells[k].get("population_0_17_cla_denominator", (None, None))[0] or 0.0) for k in members)
            for label, measure in cla.DEMO_TYPES:
                count = sum((cells[k].get(measure, (None, None))[0] or 0.0) for k in members)
                rate = _cla_rate(count, pop)
                rows.append(
                    [
                        str(year),
                        "Reporting year",
                        level,
                        "E92000001",
                        "England",
                        rcode,
                        rname,
                        "",
                        "",
                        "",
                        label,
                        format_number(pop) if pop else "x",
                        format_number(count) or "0",
                        format_number(rate) if rate is not None else "x",
                    ]
                )
        for k in keys:
            rcode, rname, la_name, gss = meta[k]
            c = cells[k]
            pop_v, pop_m = c.get("population_0_17_cla_denominator", (None, None))
            for label, measure in cla.DEMO_TYPES:
                n_v, n_m = c.get(measure, (None, None))
                if measure == "cla_at_31_march":
                    r_v, r_m = c.get("cla_rate_per_10000", (None, None))
                else:
                    r_v, r_m = _cla_rate(n_v, pop_v), ("z" if n_v is None else "x")
                rows.append(
                    [
                        str(year),
                        "Reporting year",
                        "Local authority",
                        "E92000001",
                        "England",
                        rcode,
                        rname,
                        k[1],
                        la_name or "",
                        gss or "",
                        label,
                        published_cell(pop_v, pop_m),
                        published_cell(n_v, n_m),
                        published_cell(r_v, r_m),
                    ]
                )
    path = folder / cla.DEMO_FILE
    path.write_bytes(write_csv_bytes(cla.DEMO_HEADER, rows, bom=True))
    return [path]


# --- Population: the EES layout ----------------------------------------------------------------------


def write_population(frame: pl.DataFrame, folder: Path) -> list[Path]:
    """Write tidy ``population_0_17`` rows as one EES-layout CSV (UTF-8 without BOM, LF).

    A National row per year is the sum of the LA values (nulls count as 0). Optional
    ``region_code``/``region_name`` columns place each council, else a default fictional region.
    Rows: newest year first, National then LAs by region code and LA code.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    f = frame.filter(pl.col("measure") == "population_0_17")
    for col, default in zip(("region_code", "region_name"), population.DEFAULT_REGION):
        if col not in f.columns:
            f = f.with_columns(pl.lit(default).alias(col))
        f = f.with_columns(pl.col(col).fill_null(default))
    rows: list[list[str]] = []
    for year in sorted(set(f["year"].to_list()), reverse=True):
        part = f.filter(pl.col("year") == year).sort(["region_code", "la_code"])
        total = sum(v for v in part["value"].to_list() if v is not None)
        rows.append(
            [
                str(year),
                "Reporting year",
                "National",
                "E92000001",
                "England",
                "",
                "",
                "",
                "",
                "",
                population.AGE_GROUP,
                format_number(total) or "0",
            ]
        )
        for r in part.iter_rows(named=True):
            rows.append(
                [
                    str(year),
                    "Reporting year",
                    "Local authority",
                    "E92000001",
                    "England",
                    r["region_code"],
                    r["region_name"],
                    r["la_code"] or "",
                    r["gss_code"] or "",
                    r["la_name"] or "",
                    population.AGE_GROUP,
                    published_cell(r["value"], r["marker"]),
                ]
            )
    path = folder / population.DEMO_FILE
    path.write_bytes(write_csv_bytes(population.DEMO_HEADER, rows, bom=False))
    return [path]


# --- S251: one EES CYPS CSV ---------------------------------------------------------------------------

_GROSS = ["spend_cla", "spend_safeguarding", "spend_family_support", "spend_cyp_total", "spend_csc_total"]


def _million_text(value: float | None, marker: str | None) -> str:
    if value is None:
        return marker or "x"
    pounds = Decimal(repr(round(float(value), 2)))
    text = format(pounds / Decimal(1_000_000), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def write_s251(frame: pl.DataFrame, folder: Path) -> list[Path]:
    """Write tidy spending rows as ONE EES S251 CYPS CSV (any run of years), read back by ``s251.parse``.

    Layout: ``time_period`` (201314 style), geography (``old_la_code`` = la_code, ``new_la_code`` =
    gss_code), ``category_of_expenditure``, ``description_of_expenditure``, ``total_expenditure`` in
    £ million (exact decimal text, so pence survive), plus ``net_current_expenditure`` when the frame
    has ``_net`` measures (then every council-year must have a ``_net`` for each gross measure, and
    vice versa, since each line carries both columns; otherwise ValueError). Measures written: spend_cla (3.1.11), spend_safeguarding (3.3.4),
    spend_family_support (3.4.6), spend_cyp_total (5.0.2); spend_csc_total is carried by the
    balancing line 3.2.1 "Other children and families services" = csc - (cla + safeguarding +
    family support present), so ``s251.parse`` re-derives exactly the same spend_csc_total. Nulls are
    written as their marker ('x' if none). A null component with a non-null spend_csc_total cannot
    be represented and raises ValueError. Byte-deterministic: rows sorted, LF line ends, UTF-8.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    known = set(_GROSS) | {m + "_net" for m in _GROSS}
    unknown = sorted(set(frame["measure"].unique().to_list()) - known)
    if unknown:
        raise ValueError(f"write_s251 cannot represent measures {unknown}")
    has_net = frame.filter(pl.col("measure").str.ends_with("_net")).height > 0
    records: dict[tuple, dict] = {}
    for r in frame.iter_rows(named=True):
        key = (int(r["year"]), r["la_code"])
        rec = records.setdefault(
            key, {"gss_code": r.get("gss_code"), "la_name": r.get("la_name"), "gross": {}, "net": {}}
        )
        kind = "net" if r["measure"].endswith("_net") else "gross"
        rec[kind][r["measure"].removesuffix("_net")] = (r["value"], r.get("marker"))
    lines = [s251.DEMO_COLUMNS + (["net_current_expenditure"] if has_net else [])]

    for (year, la_code), rec in sorted(records.items(), key=lambda kv: (kv[0][0], kv[0][1] or "")):
        if has_net and set(rec["net"]) != set(rec["gross"]):
            raise ValueError(
                f"write_s251: {la_code} {year}: the _net measures {sorted(rec['net'])} must mirror the gross "
                f"measures {sorted(rec['gross'])} (one total_expenditure and one net_current_expenditure per line)"
            )
        cells_by_line: dict[str, dict[str, str]] = {}
        for kind in ("gross", "net") if has_net else ("gross",):
            got = rec[kind]
            for m in ("spend_cla", "spend_safeguarding", "spend_family_support", "spend_cyp_total"):
                if m in got:
                    cells_by_line.setdefault(m, {})[kind] = _million_text(*got[m])
            if "spend_csc_total" in got:
                csc, csc_marker = got["spend_csc_total"]
                comps = [got[m] for m in ("spend_cla", "spend_safeguarding", "spend_family_support") if m in got]
                if "spend_cla" not in got:
                    raise ValueError(f"write_s251: {la_code} {year} has spend_csc_total without spend_cla")
                if csc is None:
                    cells_by_line.setdefault("other", {})[kind] = csc_marker or "x"
                else:
                    if any(v is None for v, _ in comps):
                        raise ValueError(f"write_s251: {la_code} {year} has a null component but a spend_csc_total")
                    rest = Decimal(repr(round(float(csc), 2))) - sum(
                        Decimal(repr(round(float(v), 2))) for v, _ in comps
                    )
                    cells_by_line.setdefault("other", {})[kind] = _million_text(float(rest), None)
        for key in ("spend_cla", "other", "spend_safeguarding", "spend_family_support", "spend_cyp_total"):
            if key not in cells_by_line:
                continue
            category, description = s251.DEMO_LINES[key]
            row = [
                f"{year - 1}{year % 100:02d}",
                "Financial year",
                "Local authority",
                "E92000001",
                "England",
                la_code,
                rec["gss_code"] or "",
                rec["la_name"] or "",
                category,
                description,
                cells_by_line[key]["gross"],
            ]
            if has_net:
                row.append(cells_by_line[key]["net"])
            lines.append(["" if c is None else str(c) for c in row])
    # the csv module quotes a cell holding a comma, quote or line break and doubles its quotes (RFC 4180)
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_MINIMAL).writerows(lines)
    out = folder / s251.DEMO_FILE
    out.write_bytes(buf.getvalue().encode("utf-8"))
    return [out]
