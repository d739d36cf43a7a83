"""DfE Section 251 outturn: local authority spending on children's and young people's services.

Files read (all KIND "measures", LA rows only, every value in POUNDS, unit "gbp"):

1. The pre-EES LA-line files, 2008-09 to 2013-14 (``outturn_0809.csv`` ... ``outturn_1314.csv``):
   one row per council per S52/S251 line, cp1252 text, money in £ (some years with decimal pence),
   so values are taken as published (×1). The financial year is NOT in the file; it is read from the
   file name (``outturn_YYZZ`` -> year 20ZZ). Six header variants (FORMATS.md 6a) are matched by name.
   Lines are matched on their DESCRIPTION text, normalised (tabs, double spaces, non-breaking
   spaces, curly quotes, leading line numbers such as ``16 Total ...`` or ``11Short``, and the typos
   ``Comissioning``/``Equiptment``), never on the line number, which shifts every year.
2. EES S251 CYPS files in the layout ``time_period, geographic_level, old_la_code, new_la_code,
   la_name, category_of_expenditure, description_of_expenditure, total_expenditure[,
   net_current_expenditure]`` (the 2021-22 release ``s251_childrens_young_peoples_services_
   la_regional_national3.csv`` and its ``national3`` sibling). Values are in £ MILLION (the national3
   file and the DfE code that reads the LA file say so) and are multiplied by 1e6, then rounded to
   the penny to remove binary noise. The national3 file has National rows only: it is recognised
   and parses to an empty frame (0 LA rows).
3. The EES ``cfr-s251_highlightssummary`` file (2014-15 to 2019-20): ``cyps_spend`` = gross children
   and young people's services spend, £ million, ×1e6 -> ``spend_cyp_total``. Its other columns are
   about schools and are not read.

``year`` is the financial year's END year (2013-14 -> 2014); ``reference_date`` is 31 March of it.

Canonical measures (gross = the "Total Expenditure" column; ``_net`` = "NET Current Expenditure",
where the file has it):

- ``spend_cla``: the "Total Children Looked After" line. NB its content changes: from 2012-13 it
  includes adoption and special guardianship (before, they sat in "Other children's and families
  services"); from 2009-10 it includes asylum-seeking children (2008-09 has a separate "Total Asylum
  Seeker" block).
- ``spend_safeguarding``: "Total Children and Young People's Safety" (2008-09 to 2010-11, which
  excludes social work; social work sat in "Children's Services Strategy"), "... Safety/children
  social care" (2011-12, includes commissioning and social work), "Total Safeguarding Children and
  Young Peoples Services" (2012-13 on: social work, commissioning and strategy, LSCB). Comparable
  over time only from 2011-12.
- ``spend_family_support``: "Total Family Support Services".
- ``spend_cyp_total``: "(TOTAL) CHILDREN AND YOUNG PEOPLE'S SERVICES BUDGET (excluding CERA)", or
  EES line 5.0.2, or the highlights ``cyps_spend``.
- ``spend_csc_total``: children's social care = the sum of these published lines (no such line
  exists in the publication, so it is derived; null, with the first component's marker, when any
  component is missing):
    * 2008-09: Total Children Looked After + Total Children and Young Peoples Safety + Total
      Family Support + Total Other Childrens and Families Services + Total Youth Justice + Total
      Asylum Seeker + Total Childrens Services Strategy (which holds commissioning and social work);
    * 2009-10: the same less asylum (now inside CLA);
    * 2010-11: the same plus "Commissioning and social work" (a stand-alone line that year, checked:
      the strategy total is the sum of plan, partnership and central commissioning only);
    * 2011-12: CLA + Safety/children social care + Family Support + Total Other Children's and
      Families Services + Children's Services Strategy + Youth Justice;
    * 2012-13, 2013-14 and EES: CLA + Other children's and families services (a single line) +
      Safeguarding + Family Support + Youth Justice (EES 3.1.11 + 3.2.1 + 3.3.4 + 3.4.6 + 3.6.1).
  I.e. the CYPS total less Sure Start/early years, services for young people (Connexions, teenage
  pregnancy and substance misuse when they sit there), Child Trust Fund top-ups, "Unknown" and CERA.
  Checked for Doncaster 2013-14: the parts sum exactly to the CYPS total with Sure Start and young
  people's services.

Other lines (components of the totals) are used only inside ``spend_csc_total``.

Missing values: ``NULL`` (2011-12), blanks (2008-09, 2009-10) and EES symbols become null with the
symbol kept in ``marker`` (``null``, ``blank``, ``x``, ``:``, ...), never 0.

Demo layout (``evalkit.demo.writers.write_s251``): the EES S251 CYPS layout above, one CSV holding any run of years, money
in £ million written as exact decimal text.

Not read: ``webb_ipse_merged_data.csv`` (Webb, "Investing in Prevention", University of Sheffield).
It is a derived research panel, not an official publication: its spend columns are SPPI-deflated to
2022 prices, 2010-11 to 2014-15 come from £000-rounded SFR tables, Bournemouth and Poole are summed
into BCP in every year and the Northamptonshire successors back into 928. Its nominal figures can be
recovered (÷ ``sppi``) but would duplicate, less precisely, what this module and ``lait`` read from
the publications themselves. ``detect`` returns False for it.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.sources.common import (
    MEASURES_SCHEMA,
    check_la_codes,
    finish_measures,
    is_binary,
    is_blank,
    match_columns,
    normalise_header,
    read_csv_text,
    reject_duplicates,
    split_values,
)

NAME = "s251"
KIND = "measures"
PARSER_VERSION = "1.0"

ENCODINGS = ("utf-8-sig", "cp1252")

# --- Layouts ------------------------------------------------------------------------------------

LINE_LAYOUTS: dict[str, dict[str, list[str]]] = {
    # 2008-09: provider columns PRIVATE, VOLUNTARY, PUBLIC (not read; only totals are used)
    "line_2008_09": {
        "la_code": ["LEA Number:"],
        "la_name": ["LA Name:"],
        "description": ["S52 Line Reference:"],
        "total": ["TOTAL EXPENDITURE (k)"],
        "net": ["NET Current Expenditure (m)"],
    },
    "line_2009_11": {
        "la_code": ["LEA", "LA"],
        "la_name": ["LEA Name", "LA Name"],
        "description": ["S52 Line Reference"],
        "total": ["Total Expenditure (k)"],
        "net": ["NET Current Expenditure (m)"],
    },
    "line_2011_14": {
        "la_code": ["LA"],
        "la_name": ["LA Name"],
        "description": ["CYPServiceDescription"],
        "total": ["TotalExpenditure"],
        "net": ["NetCurrentExpenditure"],
    },
}

EES_LINE_LAYOUT = {
    "ees_cyps": {
        "time_period": ["time_period"],
        "geographic_level": ["geographic_level"],
        "category": ["category_of_expenditure"],
        "description": ["description_of_expenditure"],
        "total": ["total_expenditure"],
    }
}
EES_GEO = ["old_la_code", "new_la_code", "la_name"]

HIGHLIGHTS_LAYOUT = {
    "ees_highlights": {
        "time_period": ["time_period"],
        "geographic_level": ["geographic_level"],
        "old_la_code": ["old_la_code"],
        "new_la_code": ["new_la_code"],
        "la_name": ["la_name"],
        "cyps_spend": ["cyps_spend"],
    }
}

# --- Line descriptions ----------------------------------------------------------------------------

_TYPOS = {"comissioning": "commissioning", "equiptment": "equipment", "servcies": "services"}


@functools.lru_cache(maxsize=8192, typed=True)  # the same few hundred line descriptions recur in every council's rows
def normalise_description(text: str | None) -> str:
    """'16 Total  Children Looked After\\t' -> 'total children looked after'; "Children's" -> 'children'."""
    if text is None:
        return ""
    s = str(text).replace("\xa0", " ").replace("\t", " ").replace("\u2019", "'").replace("\u2018", "'")
    s = re.sub(r"^\s*\d+(?:\.\d+)*(?:[a-z](?=\s))?\s*", "", s)  # 16 / 11Short / 3.1.2a
    s = s.lower().replace("'", "")
    for bad, good in _TYPOS.items():
        s = s.replace(bad, good)
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()
    # "children's"/"childrens"/"children", "peoples"/"people", "families"/"family" vary by year
    s = re.sub(r"\bchildrens\b", "children", s)
    s = re.sub(r"\bpeoples\b", "people", s)
    s = re.sub(r"\bfamilies\b", "family", s)
    return s


# component key -> predicate on the normalised description (line files and EES alike)
def _component(desc: str) -> str | None:
    if desc == "total children looked after":
        return "cla"
    if desc.startswith("total children and young people safety") or desc.startswith(
        "total safeguarding children and young people services"
    ):
        return "safeguarding"
    if desc == "total family support services":
        return "family_support"
    if desc == "total other children and family services":
        return "other_total"
    if desc == "other children and family services":
        return "other_single"
    if desc == "total youth justice":
        return "yj_total"
    if desc == "youth justice":
        return "yj_single"
    if desc == "total asylum seeker":
        return "asylum_total"
    if desc == "total children services strategy":
        return "strategy_total"
    if desc == "children services strategy":
        return "strategy_single"
    if desc == "commissioning and social work":
        return "commissioning_sw"
    if re.search(r"children and young people services (budget|expenditure) excluding cera", desc):
        return "cyp_total"
    return None


# spend_csc_total components by financial year (end year); EES years use the 2014 rule
CSC_PARTS: dict[int, tuple[str, ...]] = {
    2009: ("cla", "safeguarding", "family_support", "other_total", "yj_total", "asylum_total", "strategy_total"),
    2010: ("cla", "safeguarding", "family_support", "other_total", "yj_total", "strategy_total"),
    2011: ("cla", "safeguarding", "family_support", "other_total", "yj_total", "strategy_total", "commissioning_sw"),
    2012: ("cla", "safeguarding", "family_support", "other_total", "strategy_single", "yj_single"),
    2013: ("cla", "other_single", "safeguarding", "family_support", "yj_single"),
    2014: ("cla", "other_single", "safeguarding", "family_support", "yj_single"),
}
# (order matters only for the marker of a null total: the first null part's marker is kept; the
# "other" line first, so that the demo writer's balancing line carries spend_csc_total's own marker)
EES_CSC_PARTS = ("other_single", "cla", "safeguarding", "family_support", "yj_single")

PUBLISHED = {
    "cla": "spend_cla",
    "safeguarding": "spend_safeguarding",
    "family_support": "spend_family_support",
    "cyp_total": "spend_cyp_total",
}

# --- Small helpers ------------------------------------------------------------------------------


def _header_line(path: Path) -> str:
    with open(path, "rb") as fh:
        raw = fh.readline(20000)
    return raw.decode("latin-1").lstrip("\ufeff").replace("ï»¿", "")


def _header_names(path: Path) -> set[str]:
    return {normalise_header(c.strip('"')) for c in _header_line(path).rstrip("\r\n").split(",")}


# The published file names (``outturn_1314.csv``, ``s251_childrens_young_peoples_services_...csv``,
# ``cfr-s251_highlightssummary...csv``): a file so named is claimed when it is empty or, with the EES
# geography columns, when a value column was renamed, so that parse() rejects it with one line
# instead of ingest skipping it unseen.
FAMILY_FILE = re.compile(r"(?:^|[^a-z0-9])s251(?:[^a-z0-9]|$)|outturn_?\d{4}(?!\d)", re.IGNORECASE)
HIGHLIGHTS_FILE = re.compile(r"highlightssummary", re.IGNORECASE)


def _named(path: Path) -> bool:
    return FAMILY_FILE.search(path.name) is not None


def _kind(path: Path) -> str | None:
    names = _header_names(path)
    if "s52 line reference:" in names or "s52 line reference" in names or "cypservicedescription" in names:
        return "line"
    if {"category_of_expenditure", "description_of_expenditure", "total_expenditure"} <= names:
        return "ees"
    if {"cyps_spend", "time_period"} <= names:
        return "highlights"
    if {"time_period", "geographic_level"} <= names:
        if {"category_of_expenditure", "description_of_expenditure"} & names:
            return "ees"  # the S251 line layout with its value column renamed or missing
        if _named(path):
            return "highlights" if HIGHLIGHTS_FILE.search(path.name) else "ees"
    return None


def detect(path: Path) -> bool:
    path = Path(path)
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    try:
        if _named(path) and (is_blank(path) or is_binary(path)):
            return True  # an empty or binary S251 file: parse() rejects it by name
        return _kind(path) is not None
    except OSError:
        return False


def year_from_file_name(path: Path) -> int:
    m = re.search(r"outturn_?(\d{2})(\d{2})(?!\d)", path.name, re.I)
    if not m or (int(m.group(1)) + 1) % 100 != int(m.group(2)):
        raise EvalkitError(
            "cannot tell the financial year: the S251 line files carry no year column",
            file=path.name,
            expected="a file name containing outturn_YYZZ, e.g. outturn_1314.csv for 2013-14",
        )
    return 2000 + int(m.group(2))


def _period_year(series: pl.Series, file: str, index: pl.Series) -> pl.Series:
    """'201415' -> 2015; ``index`` holds each row's 0-based data index in the file (for the error row)."""
    text = series.cast(pl.Utf8).str.strip_chars()
    ok = text.str.contains(r"^\d{6}$")
    start = text.str.slice(0, 4).cast(pl.Int32, strict=False)
    end2 = text.str.slice(4, 2).cast(pl.Int32, strict=False)
    good = ok & (((start + 1) % 100) == end2)
    if not good.all():
        idx = int((~good.fill_null(False)).arg_true()[0])
        raise EvalkitError(
            f"time_period {text[idx]!r} is not a financial year",
            file=file,
            row=int(index[idx]) + 2,
            column="time_period",
            expected="six digits like 201415",
        )
    return (start + 1).alias("year")


def _reference_date(year: pl.Expr) -> pl.Expr:
    return pl.date(year, 3, 31)


def _million_to_pounds(values: pl.Series) -> pl.Series:
    return (values * 1_000_000).round(2)


# --- Parsing: line files --------------------------------------------------------------------------


def _check_complete(frame: pl.DataFrame, file: str) -> None:
    """Every council in a line file reports every line; a council with fewer lines means truncation."""
    per_la = frame.group_by("la_code", maintain_order=True).agg(pl.len().alias("n"), pl.col("_i").max().alias("last"))
    expected = int(per_la["n"].max())
    short = per_la.filter(pl.col("n") < expected)
    if short.height:
        r = short.row(0, named=True)
        raise EvalkitError(
            f"council {r['la_code']} has {r['n']} of the {expected} lines the other councils have (truncated file?)",
            file=file,
            row=int(r["last"]) + 2,
            column="LA",
            expected="every council to report every line",
        )


_GROUP_KEYS = ["la_code", "gss_code", "la_name", "year", "kind"]


def _groups(comp: pl.DataFrame) -> list[tuple[tuple, list[tuple]]]:
    """Rows (component, value, marker) per council, year and kind, groups and rows in file order (as
    group_by(maintain_order=True) gives them), read once into Python: a polars call per group cost seconds."""
    groups: dict[tuple, list[tuple]] = {}
    for *key, component, value, marker in comp.select(*_GROUP_KEYS, "component", "value", "marker").iter_rows():
        groups.setdefault(tuple(key), []).append((component, value, marker))
    return list(groups.items())


def _csc_total(key: tuple, group: list[tuple], csc_parts_for_year) -> dict | None:
    """The children's social care total of one group: the sum of the year's parts, or a marker when a
    part is missing or suppressed (the first suppressed part's marker in the parts' order, else 'x')."""
    components = [c for c, _, _ in group]
    parts = csc_parts_for_year(key[3], set(components))
    if not parts or "cla" not in components:
        return None
    order = {p: i for i, p in enumerate(parts)}
    sub = sorted((r for r in group if r[0] in order), key=lambda r: order[r[0]])
    if len({c for c, _, _ in sub}) != len(sub):  # a part twice: polars' own (unstable) order, as before
        return _csc_total_polars(key, group, parts)
    present = {c for c, _, _ in sub}
    if any(p not in present for p in parts) or any(v is None for _, v, _ in sub):
        value, marker = None, next((m for _, v, m in sub if v is None and m), "x")
    else:
        # polars' sum, not Python's: the same additions in the same order as the frame code this replaces
        value, marker = round(float(pl.Series([v for _, v, _ in sub], dtype=pl.Float64).sum()), 2), None
    return _total_row(key, value, marker)


def _csc_total_polars(key: tuple, group: list[tuple], parts) -> dict:
    sub = pl.DataFrame(group, schema={"component": pl.Utf8, "value": pl.Float64, "marker": pl.Utf8}, orient="row")
    sub = sub.filter(pl.col("component").is_in(list(parts)))
    order = {p: i for i, p in enumerate(parts)}
    sub = sub.with_columns(pl.col("component").replace_strict(order, return_dtype=pl.Int32).alias("_o")).sort("_o")
    missing = [p for p in parts if p not in sub["component"].to_list()]
    if missing or sub["value"].null_count():
        marker = next((m for m in sub.filter(pl.col("value").is_null())["marker"].to_list() if m), "x")
        return _total_row(key, None, marker)
    return _total_row(key, round(float(sub["value"].sum()), 2), None)


def _total_row(key: tuple, value: float | None, marker: str | None) -> dict:
    la_code, gss, la_name, year, kind = key
    return {
        "la_code": la_code,
        "gss_code": gss,
        "la_name": la_name,
        "year": year,
        "kind": kind,
        "measure": "spend_csc_total",
        "value": value,
        "marker": marker,
    }


def _measures_from_components(comp: pl.DataFrame, csc_parts_for_year, file: str) -> pl.DataFrame:
    """comp: la_code, gss_code, la_name, year, component, value, marker, kind ('gross'|'net')."""
    out = []
    published = comp.filter(pl.col("component").is_in(list(PUBLISHED))).with_columns(
        pl.col("component").replace_strict(PUBLISHED, return_dtype=pl.Utf8).alias("measure")
    )
    out.append(published)
    rows = [row for key, group in _groups(comp) if (row := _csc_total(key, group, csc_parts_for_year)) is not None]
    if rows:
        out.append(
            pl.DataFrame(
                rows,
                schema={
                    "la_code": pl.Utf8,
                    "gss_code": pl.Utf8,
                    "la_name": pl.Utf8,
                    "year": pl.Int32,
                    "kind": pl.Utf8,
                    "measure": pl.Utf8,
                    "value": pl.Float64,
                    "marker": pl.Utf8,
                },
            )
        )
    cols = ["la_code", "gss_code", "la_name", "year", "kind", "measure", "value", "marker"]
    frame = pl.concat(
        [
            f.select(
                [
                    pl.col(c).cast(t)
                    for c, t in zip(cols, [pl.Utf8, pl.Utf8, pl.Utf8, pl.Int32, pl.Utf8, pl.Utf8, pl.Float64, pl.Utf8])
                ]
            )
            for f in out
        ]
    )
    frame = frame.with_columns(
        pl.when(pl.col("kind") == "net").then(pl.col("measure") + "_net").otherwise(pl.col("measure")).alias("measure")
    )
    return frame.with_columns(
        pl.lit(NAME).alias("source"),
        pl.lit(file).alias("file"),
        _reference_date(pl.col("year")).alias("reference_date"),
        pl.lit("gbp").alias("unit"),
    )


def _originals(raw: pl.DataFrame, layouts: dict, layout: str) -> dict[str, str]:
    """Canonical column -> the header as published, for error messages."""
    found = {normalise_header(c): c for c in raw.columns}
    out = {}
    for canon, variants in layouts[layout].items():
        out[canon] = next((found[normalise_header(v)] for v in variants if normalise_header(v) in found), canon)
    return out


def _parse_line_file(path: Path) -> pl.DataFrame:
    file = path.name
    year = year_from_file_name(path)
    if year not in CSC_PARTS:
        raise EvalkitError(
            f"line file for {year - 1}-{year % 100:02d} is outside the known layouts",
            file=file,
            expected="a financial year from 2008-09 to 2013-14",
        )
    raw = read_csv_text(path, ENCODINGS)
    layout, frame = match_columns(raw, file, LINE_LAYOUTS)
    names = _originals(raw, LINE_LAYOUTS, layout)
    frame = frame.with_row_index("_i").with_columns(
        pl.col("la_code").str.strip_chars(),
        pl.col("la_name").str.strip_chars(),
    )
    bad_code = frame.filter(~pl.col("la_code").fill_null("").str.contains(r"^\d{3}$"))
    if bad_code.height:
        r = bad_code.row(0, named=True)
        raise EvalkitError(
            f"LA code {r['la_code']!r} is not a DfE 3-digit code",
            file=file,
            row=r["_i"] + 2,
            column=names["la_code"],
            expected="a 3-digit code like 371",
        )
    frame = frame.with_columns(
        pl.col("description").map_elements(normalise_description, return_dtype=pl.Utf8).alias("desc")
    )
    reject_duplicates(
        frame, ["la_code", "desc"], file, names["description"], "council-year-line", row_column="_i", row_offset=2
    )
    _check_complete(frame, file)
    gross, gm = split_values(frame["total"], file=file, column=names["total"])
    net, nm = split_values(frame["net"], file=file, column=names["net"])
    frame = frame.with_columns(
        pl.col("desc").map_elements(_component, return_dtype=pl.Utf8).alias("component"),
        gross.alias("g"),
        gm.alias("gm"),
        net.alias("n"),
        nm.alias("nm"),
    ).filter(pl.col("component").is_not_null())
    comp = pl.concat(
        [
            frame.select(
                "la_code",
                "la_name",
                "component",
                pl.col("g").alias("value"),
                pl.col("gm").alias("marker"),
                pl.lit("gross").alias("kind"),
            ),
            frame.select(
                "la_code",
                "la_name",
                "component",
                pl.col("n").alias("value"),
                pl.col("nm").alias("marker"),
                pl.lit("net").alias("kind"),
            ),
        ]
    ).with_columns(pl.lit(year, dtype=pl.Int32).alias("year"), pl.lit(None, dtype=pl.Utf8).alias("gss_code"))

    def parts(y: int, present: set[str]) -> tuple[str, ...]:
        return CSC_PARTS[y]

    return finish_measures(_measures_from_components(comp, parts, file))


# --- Parsing: EES ---------------------------------------------------------------------------------


def _parse_ees_lines(path: Path) -> pl.DataFrame:
    file = path.name
    raw = read_csv_text(path, ("utf-8-sig",))
    _, frame = match_columns(raw, file, EES_LINE_LAYOUT)
    has_net = "net_current_expenditure" in raw.columns
    extra = [c for c in EES_GEO if c in raw.columns]
    frame = pl.concat([frame, raw.select(extra)], how="horizontal").with_row_index("_i")
    # convert every row first, so an error names the row as the file shows it
    gross, gm = split_values(frame["total"], file=file, column="total_expenditure")
    cols = {"g": _million_to_pounds(gross), "gm": gm}
    if has_net:
        net, nm = split_values(raw["net_current_expenditure"], file=file, column="net_current_expenditure")
        cols |= {"n": _million_to_pounds(net), "nm": nm}
    frame = frame.with_columns(*[s.alias(k) for k, s in cols.items()])
    frame = frame.filter(pl.col("geographic_level").str.strip_chars() == "Local authority")
    if frame.height == 0:
        return finish_measures(pl.DataFrame(schema=MEASURES_SCHEMA))
    missing = [c for c in EES_GEO if c not in frame.columns]
    if missing:
        raise EvalkitError(
            "LA rows without LA code columns",
            file=file,
            row=1,
            column=missing[0],
            expected="old_la_code, new_la_code and la_name",
        )
    years = _period_year(frame["time_period"], file, frame["_i"])
    check_la_codes(frame["old_la_code"], frame["_i"] + 2, file, "old_la_code")
    frame = frame.with_columns(
        years,
        pl.col("old_la_code").str.strip_chars().alias("la_code"),
        pl.col("new_la_code").str.strip_chars().alias("gss_code"),
        pl.col("la_name").str.strip_chars(),
        pl.col("description").map_elements(normalise_description, return_dtype=pl.Utf8).alias("desc"),
    ).with_columns(pl.col("desc").map_elements(_component, return_dtype=pl.Utf8).alias("component"))
    reject_duplicates(
        frame,
        ["year", "la_code", "desc"],
        file,
        "description_of_expenditure",
        "council-year-line",
        row_column="_i",
        row_offset=2,
    )
    frame = frame.filter(pl.col("component").is_not_null())
    base = ["la_code", "gss_code", "la_name", "year", "component"]
    parts_list = [
        frame.select(*base, pl.col("g").alias("value"), pl.col("gm").alias("marker"), pl.lit("gross").alias("kind"))
    ]
    if has_net:
        parts_list.append(
            frame.select(*base, pl.col("n").alias("value"), pl.col("nm").alias("marker"), pl.lit("net").alias("kind"))
        )
    comp = pl.concat(parts_list)

    def parts(y: int, present: set[str]) -> tuple[str, ...]:
        # Official files carry every component line; demo files may omit lines they have no value for.
        return tuple(p for p in EES_CSC_PARTS if p in present)

    return finish_measures(_measures_from_components(comp, parts, file))


def _parse_highlights(path: Path) -> pl.DataFrame:
    file = path.name
    raw = read_csv_text(path, ("utf-8-sig",))
    _, frame = match_columns(raw, file, HIGHLIGHTS_LAYOUT)
    values, markers = split_values(frame["cyps_spend"], file=file, column="cyps_spend")
    frame = frame.with_row_index("_i").with_columns(_million_to_pounds(values).alias("value"), markers.alias("marker"))
    frame = frame.filter(pl.col("geographic_level").str.strip_chars() == "Local authority")
    years = _period_year(frame["time_period"], file, frame["_i"])
    check_la_codes(frame["old_la_code"], frame["_i"] + 2, file, "old_la_code")
    frame = frame.with_columns(years, pl.col("old_la_code").str.strip_chars().alias("la_code"))
    reject_duplicates(frame, ["year", "la_code"], file, "old_la_code", "council-year", row_column="_i", row_offset=2)
    out = frame.select(
        pl.lit(NAME).alias("source"),
        pl.lit(file).alias("file"),
        "year",
        _reference_date(pl.col("year")).alias("reference_date"),
        "la_code",
        pl.col("new_la_code").str.strip_chars().alias("gss_code"),
        pl.col("la_name").str.strip_chars(),
        pl.lit("spend_cyp_total").alias("measure"),
        "value",
        "marker",
        pl.lit("gbp").alias("unit"),
    )
    return finish_measures(out)


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise EvalkitError("file not found", file=path.name)
    if path.stat().st_size == 0 or not path.read_bytes().strip():
        raise EvalkitError("file is empty", file=path.name, expected="a header row and data rows")
    kind = _kind(path)
    if kind == "line":
        return _parse_line_file(path)
    if kind == "ees":
        return _parse_ees_lines(path)
    if kind == "highlights":
        return _parse_highlights(path)
    raw = read_csv_text(path, ENCODINGS)  # raises for undecodable files
    match_columns(raw, path.name, LINE_LAYOUTS | EES_LINE_LAYOUT | HIGHLIGHTS_LAYOUT)  # names missing columns
    raise EvalkitError("not an S251 file", file=path.name, row=1)


# --- Demo -----------------------------------------------------------------------------------------

DEMO_FILE = "s251_childrens_young_peoples_services_la_regional_national3.csv"
DEMO_COLUMNS = [
    "time_period",
    "time_identifier",
    "geographic_level",
    "country_code",
    "country_name",
    "old_la_code",
    "new_la_code",
    "la_name",
    "category_of_expenditure",
    "description_of_expenditure",
    "total_expenditure",
]
DEMO_LINES = {
    "spend_cla": ("Children looked after", "3.1.11 Total Children Looked After"),
    "other": ("Other children and family services", "3.2.1 Other children and families services"),
    "spend_safeguarding": (
        "Safeguarding children and young peoples services",
        "3.3.4 Total Safeguarding Children and Young Peoples Services",
    ),
    "spend_family_support": ("Family support services", "3.4.6 Total Family Support Services"),
    "spend_cyp_total": ("Total", "5.0.2 Total Children and Young Peoples Services Expenditure (excluding CERA)"),
}
