"""Bad input never corrupts and never passes silently: a corpus of malformed official files.

Every case starts from the shipped demo folder (official layouts), mutates ONE file (or supplies a
registry / plan file) and expects either

* an error: exit status 1, exactly one line on stderr that names the file and, where meaningful,
  the row and the column; and the outputs of an earlier good run in the same working directory
  (data/processed/*, reports/demo/*) byte-identical afterwards; or
* an accepted parse: the tidy output equals the clean parse (or differs only as stated).

Decisions recorded here (what the product is expected to do):
* headers in another case or with stray spaces, a UTF-8 BOM (added or removed), CRLF line ends and
  extra columns are accepted and parse exactly as the clean file;
* every suppression marker in a count cell parses to a null value with the marker kept, never 0;
* thousands commas and a trailing percent sign are stripped ("87,380" -> 87380, "86%" -> 86);
* an LA code that is well formed (3 digits) but not in the demo set (e.g. a new or retired
  council) is kept as published: the parsers do not hold a list of councils;
* an LA code that is not a DfE code at all ("ABC") is an error;
* NaN/inf text in a count is an error (not a number a publication would print);
* an empty file, or a file with a renamed/missing column that is evidently a known publication,
  is an error, not "skipped as unrecognised";
* a registry spell whose go-live is in the future is an error; a treated spell for a council
  that is not in the panel must not vanish silently.

Cases marked xfail(strict=True) document defects found by this corpus (see the reason).
Most cases run in process (`evalkit.ingest.ingest`, or `evalkit.cli.main` with argv set); the
ones with `cli=True` run the installed console script.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.generations import current_dir
from evalkit.ingest import demo_dir, ingest
from tests.conftest import evalkit_cmd
from tests.robustness import workbooks

CORPUS = Path(__file__).parent / "corpus"
CLA = "cla_number_and_rate_per_10k_children.csv"
POP = "ons_mid-year_population_estimates.csv"
S251 = "s251_childrens_young_peoples_services_la_regional_national3.csv"
ODS = "ofsted_LA_Inspection_Outcomes_as_at_31_March_2025.ods"
REG = "adm_registry.csv"
STANDARD_SKIPPED = {"SYNTHETIC_DEMO_DATA.txt", REG}

# Column positions in the demo files (header = line 1).
CLA_COL = {
    "old_la_code": 7,
    "la_name": 8,
    "new_la_code": 9,
    "children_count": 12,
    "rate_per_10000": 13,
    "time_period": 0,
    "geographic_level": 2,
    "population_estimate": 11,
}
POP_COL = {"time_period": 0, "old_la_code": 7, "new_la_code": 8, "la_name": 9, "population_estimate": 11}
S251_COL = {"old_la_code": 5, "la_name": 7, "total_expenditure": 10}

DEFECT_DETECT = (
    "DEFECT: a file in an official layout with a renamed/missing column (or an empty file) is not "
    "claimed by detect() and is listed as 'skipped' while ingest exits 0; fix detect() in "
    "evalkit/sources/cla.py (_kind), population.py and s251.py (_kind) to claim the family, "
    "and/or make evalkit/ingest.py:ingest raise for empty files"
)
DEFECT_NONFINITE = (
    "DEFECT: evalkit/sources/common.py:split_values casts 'NaN'/'inf' text to float NaN/inf; "
    "reject non-finite values (bad |= values.is_nan() | values.is_infinite())"
)
DEFECT_LA_CODE = (
    "DEFECT: evalkit/sources/cla.py:ees_local_authorities accepts any non-empty old_la_code; "
    r"require ^\d{3}( / \d{3})*$ as registry.py and s251 line files do"
)
DEFECT_INGEST_REGISTRY = (
    "DEFECT: evalkit/ingest.py:ingest copies the folder's adm_registry.csv into the outputs without "
    "validating it (exit 0, overwrites the good copy); call sources.registry.load_registry(registry) "
    "before writing anything"
)
DEFECT_FUTURE = (
    "DEFECT: evalkit/sources/registry.py:_read_one accepts a go_live in the future (cohort 2100, "
    "council counted as ever treated); reject go_live/end_date after date.today()"
)
DEFECT_UNMATCHED = (
    "DEFECT: evalkit/panel/build.py:_treatment silently drops a treated registry spell whose la_code "
    "has no rows in the processed data; raise EvalkitError naming the registry file, the spell's row "
    "and column la_code (the council is absent, so the analysis would lose a treated unit unseen)"
)


# --- Mutations ----------------------------------------------------------------------------------------


def _lines(p: Path) -> list[bytes]:
    return p.read_bytes().split(b"\n")


def _la_line(p: Path, nth: int = 0, level: bytes = b"Local authority") -> int:
    """0-based index of the nth local-authority line."""
    return [i for i, line in enumerate(_lines(p)) if b"," + level + b"," in line][nth]


def header_sub(old: bytes, new: bytes) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        lines = _lines(p)
        assert old in lines[0], old
        lines[0] = lines[0].replace(old, new)
        p.write_bytes(b"\n".join(lines))
        return {}

    return mutate


def header_map(fn: Callable[[bytes], bytes]) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        raw = p.read_bytes()
        bom = raw.startswith(b"\xef\xbb\xbf")
        lines = (raw[3:] if bom else raw).split(b"\n")
        lines[0] = b",".join(fn(c) for c in lines[0].split(b","))
        p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + b"\n".join(lines))
        return {}

    return mutate


def drop_column(index: int) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        out = []
        for line in _lines(p):
            cells = line.split(b",")
            if len(cells) > index:
                del cells[index]
            out.append(b",".join(cells))
        p.write_bytes(b"\n".join(out))
        return {}

    return mutate


def add_column(name: bytes, value: bytes) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        lines = _lines(p)
        out = [lines[0] + b"," + name] + [line + b"," + value if line else line for line in lines[1:]]
        p.write_bytes(b"\n".join(out))
        return {}

    return mutate


def set_cell(column: int, new: bytes, nth: int = 0) -> Callable[[Path], dict]:
    """Replace one cell of the nth LA row; returns the row number and the old cell."""

    def mutate(p: Path) -> dict:
        lines = _lines(p)
        k = _la_line(p, nth)
        cells = lines[k].split(b",")
        old = cells[column]
        cells[column] = new
        lines[k] = b",".join(cells)
        p.write_bytes(b"\n".join(lines))
        return {"row": k + 1, "old": old, "cells": [c.decode("utf-8", "replace") for c in cells]}

    return mutate


def cp1252_name(column: int) -> Callable[[Path], dict]:
    """An LA name with a cp1252 byte (0xF6, 'ö') in an otherwise UTF-8 file."""

    def mutate(p: Path) -> dict:
        lines = _lines(p)
        k = _la_line(p, 3)
        cells = lines[k].split(b",")
        cells[column] = cells[column][:2] + b"\xf6" + cells[column][2:]
        lines[k] = b",".join(cells)
        p.write_bytes(b"\n".join(lines))
        return {"row": k + 1}

    return mutate


def truncate_mid_line(p: Path) -> dict:
    raw = p.read_bytes()
    lines = raw.split(b"\n")
    k = len(lines) // 2
    cut = len(b"\n".join(lines[:k])) + 1 + len(lines[k]) // 3  # a third into line k+1
    assert raw[cut - 1 : cut] != b"\n"
    p.write_bytes(raw[:cut])
    return {"row": k + 1}


def cut_last_field(p: Path) -> dict:
    """Cut inside the last field of the last row: same field count, no final line break."""
    raw = p.read_bytes().rstrip(b"\n")
    p.write_bytes(raw[:-1])
    return {"row": raw.count(b"\n") + 1}


def truncate_bytes(n: int) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        p.write_bytes(p.read_bytes()[:n])
        return {}

    return mutate


def empty(p: Path) -> dict:
    p.write_bytes(b"")
    return {}


def header_only(p: Path) -> dict:
    p.write_bytes(_lines(p)[0] + b"\n")
    return {"row": 2}


def duplicate_la_row(nth: int = 5) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        lines = _lines(p)
        k = _la_line(p, nth)
        lines.insert(k + 1, lines[k])
        p.write_bytes(b"\n".join(lines))
        return {"row": k + 2}

    return mutate


def add_bom(p: Path) -> dict:
    raw = p.read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    p.write_bytes(b"\xef\xbb\xbf" + raw)
    return {}


def remove_bom(p: Path) -> dict:
    raw = p.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    p.write_bytes(raw[3:])
    return {}


def crlf(p: Path) -> dict:
    p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    return {}


def write_bytes(build: Callable[[], bytes]) -> Callable[[Path], dict]:
    """Write a file built at test time (a hostile workbook: small on disk, nothing large in the repo)."""

    def mutate(p: Path) -> dict:
        p.write_bytes(build())
        return {}

    return mutate


def rebuild(build: Callable[[bytes], bytes]) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        p.write_bytes(build(p.read_bytes()))
        return {}

    return mutate


def from_corpus(name: str) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        shutil.copyfile(CORPUS / name, p)
        return {}

    return mutate


def registry_rows(*rows: str) -> Callable[[Path], dict]:
    """An extra registry (for `panel --registry`) in the packaged columns with these rows."""

    def mutate(p: Path) -> dict:
        header = (demo_dir() / REG).read_text().splitlines()[0]
        p.write_text("\n".join([header, *rows]) + "\n")
        return {}

    return mutate


def registry_text(text: bytes) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        p.write_bytes(text)
        return {}

    return mutate


def _demo_plan() -> str:
    from evalkit.cli import demo_plan

    return demo_plan().read_text()


def plan_edit(fn: Callable[[str], str | bytes]) -> Callable[[Path], dict]:
    def mutate(p: Path) -> dict:
        new = fn(_demo_plan())
        p.write_bytes(new if isinstance(new, bytes) else new.encode("utf-8"))
        return {}

    return mutate


def _drop_section(text: str, name: str) -> str:
    head, rest = text.split(f"[{name}]\n", 1)
    return head + "[" + rest.split("\n[", 1)[1]


S = "synthetic robustness case"
SPELL = "X-1,010,E99000010,Corpusham,Corpusham Trust,independent_trust,{go},seen,{end},{etype},,yes,treated," + S


def spell(go: str = "2016-04-01", end: str = "", etype: str = "", **kw: str) -> str:
    row = SPELL.format(go=go, end=end, etype=etype if end else "")
    for k, v in kw.items():
        row = row.replace({"code": "010", "model": "independent_trust"}[k], v, 1)
    return row


# --- Cases ----------------------------------------------------------------------------------------------


@dataclass
class Err:
    words: str
    row: int | str | None = None  # "auto": the row the mutation reports
    column: str | None = None


@dataclass
class Accept:
    table: str
    check: str = "equal"  # equal | marker | value | code
    extra: dict = field(default_factory=dict)


@dataclass
class Case:
    id: str
    stage: str  # ingest | panel | estimate
    target: str  # the file mutated (ingest: in the demo folder; panel/estimate: a new file)
    mutate: Callable[[Path], dict]
    expect: Err | Accept
    cli: bool = False
    xfail: str | None = None


MARKERS = ["c", "x", "z", "u", "k", "low", "..", ":", "~", "[c]", "[x]", "[z]"]

CASES: list[Case] = [
    # renamed, missing and extra columns
    Case(
        "cla-renamed-la_name",
        "ingest",
        CLA,
        header_sub(b",la_name,", b",local_authority,"),
        Err("unrecognised layout", 1, "la_name"),
        cli=True,
    ),
    Case(
        "cla-renamed-children_count",
        "ingest",
        CLA,
        header_sub(b"children_count", b"child_count"),
        Err("unrecognised layout", 1, "children_count"),
    ),
    Case(
        "pop-renamed-population_estimate",
        "ingest",
        POP,
        header_sub(b"population_estimate", b"pop_estimate"),
        Err("unrecognised layout", 1, "population_estimate"),
    ),
    Case(
        "s251-renamed-total_expenditure",
        "ingest",
        S251,
        header_sub(b"total_expenditure", b"total_spend"),
        Err("unrecognised layout", 1, "total_expenditure"),
    ),
    Case(
        "cla-missing-la_name", "ingest", CLA, drop_column(CLA_COL["la_name"]), Err("unrecognised layout", 1, "la_name")
    ),
    Case(
        "cla-missing-rate_per_10000",
        "ingest",
        CLA,
        drop_column(CLA_COL["rate_per_10000"]),
        Err("unrecognised layout", 1, "rate_per_10000"),
    ),
    Case(
        "pop-missing-la_name", "ingest", POP, drop_column(POP_COL["la_name"]), Err("unrecognised layout", 1, "la_name")
    ),
    Case(
        "s251-missing-la_name",
        "ingest",
        S251,
        drop_column(S251_COL["la_name"]),
        Err("without LA code columns", 1, "la_name"),
    ),
    Case("cla-extra-column", "ingest", CLA, add_column(b"notes", b"see footnote"), Accept("cla")),
    Case("pop-extra-column", "ingest", POP, add_column(b"notes", b""), Accept("population")),
    Case("s251-extra-column", "ingest", S251, add_column(b"notes", b"n/a"), Accept("s251")),
    # headers in another case or with stray spaces: accepted, same parse
    Case("cla-header-upper-case", "ingest", CLA, header_map(bytes.upper), Accept("cla")),
    Case("cla-header-stray-spaces", "ingest", CLA, header_map(lambda c: b" " + c + b"  "), Accept("cla")),
    Case("pop-header-title-case", "ingest", POP, header_map(bytes.title), Accept("population")),
    Case("s251-header-stray-spaces", "ingest", S251, header_map(lambda c: b" " + c), Accept("s251")),
    # every suppression marker in a count cell: null with the marker kept, never 0
    *[
        Case(
            f"cla-marker-{m}",
            "ingest",
            CLA,
            set_cell(CLA_COL["children_count"], m.encode()),
            Accept("cla", "marker", {"marker": m}),
        )
        for m in MARKERS
    ],
    Case(
        "pop-marker-upper-C",
        "ingest",
        POP,
        set_cell(POP_COL["population_estimate"], b"C"),
        Accept("population", "marker", {"marker": "c"}),
    ),
    Case(
        "s251-marker-x",
        "ingest",
        S251,
        set_cell(S251_COL["total_expenditure"], b"x"),
        Accept("s251", "marker", {"marker": "x"}),
    ),
    # numbers with thousands commas and percent signs
    Case(
        "pop-thousands-comma",
        "ingest",
        POP,
        set_cell(POP_COL["population_estimate"], b'"87,380"'),
        Accept("population"),
    ),
    Case("cla-rate-percent-sign", "ingest", CLA, set_cell(CLA_COL["rate_per_10000"], b"86%", nth=1), Accept("cla")),
    Case(
        "cla-count-thousands-comma",
        "ingest",
        CLA,
        set_cell(CLA_COL["children_count"], b'"1,214"'),
        Accept("cla", "value", {"value": 1214.0}),
    ),
    # encodings
    Case("pop-utf8-bom-added", "ingest", POP, add_bom, Accept("population")),
    Case("cla-utf8-bom-removed", "ingest", CLA, remove_bom, Accept("cla")),
    Case("s251-utf8-bom-added", "ingest", S251, add_bom, Accept("s251")),
    Case("cla-crlf-line-ends", "ingest", CLA, crlf, Accept("cla")),
    Case(
        "cla-cp1252-byte",
        "ingest",
        CLA,
        cp1252_name(CLA_COL["la_name"]),
        Err("cannot be decoded", "auto", "la_name"),
        cli=True,
    ),
    Case(
        "pop-cp1252-byte", "ingest", POP, cp1252_name(POP_COL["la_name"]), Err("cannot be decoded", "auto", "la_name")
    ),
    Case("s251-cp1252-byte", "ingest", S251, cp1252_name(S251_COL["la_name"]), Err("cannot be decoded", "auto")),
    # truncated, empty, header only
    Case("cla-truncated-mid-line", "ingest", CLA, truncate_mid_line, Err("truncated", "auto"), cli=True),
    Case("pop-truncated-mid-line", "ingest", POP, truncate_mid_line, Err("truncated", "auto")),
    Case("s251-truncated-mid-line", "ingest", S251, truncate_mid_line, Err("truncated", "auto")),
    Case("ods-truncated", "ingest", ODS, truncate_bytes(2000), Err("not a readable OpenDocument spreadsheet")),
    Case("cla-empty", "ingest", CLA, empty, Err("empty"), cli=True),
    Case("pop-empty", "ingest", POP, empty, Err("empty")),
    Case("s251-empty", "ingest", S251, empty, Err("empty")),
    Case("ods-empty", "ingest", ODS, empty, Err("empty")),
    # bounds on workbooks before any reader opens them (issue #14)
    Case(
        "ods-zip-bomb",
        "ingest",
        ODS,
        rebuild(lambda b: workbooks.ods_bomb(b, 60 * 1024 * 1024)),
        Err("refusing a possible zip bomb"),
        cli=True,
    ),
    Case(
        "ods-declares-500MB",
        "ingest",
        ODS,
        rebuild(lambda b: workbooks.patch_declared_size(b, "content.xml", 500 * 1024 * 1024)),
        Err("over the cap"),
    ),
    Case(
        "ods-inflates-past-declared-size",
        "ingest",
        ODS,
        rebuild(lambda b: workbooks.patch_declared_size(b, "content.xml", 100)),
        Err("inflates past its declared size"),
    ),
    Case(
        "ods-cell-repeated-to-XFD1048576",
        "ingest",
        ODS,
        rebuild(workbooks.ods_far_cell),
        Err("passes the cap of 5,000,000 cells"),
    ),
    Case(
        "xlsx-one-cell-at-XFD1048576",
        "ingest",
        "mye23tablesew.xlsx",
        write_bytes(lambda: workbooks.xlsx([("A1", "Code"), ("XFD1048576", "x")])),
        Err("reaches cell XFD1048576"),
        cli=True,
    ),
    Case(
        "xlsx-dimension-XFD1048576",
        "ingest",
        "mye23tablesew.xlsx",
        write_bytes(lambda: workbooks.xlsx([("A1", "Code")], dimension="A1:XFD1048576")),
        Err("reaches cell XFD1048576"),
    ),
    Case(
        "xlsx-truncated-zip",
        "ingest",
        "mye23tablesew.xlsx",
        write_bytes(lambda: workbooks.xlsx([("A1", "Code")])[:700]),
        Err("not a readable spreadsheet"),
    ),
    Case(
        "xlsx-population-corrupt-sheet-xml",
        "ingest",
        "mye23tablesew.xlsx",
        write_bytes(lambda: workbooks.xlsx([], sheet_xml=b"\x00\x01garbage<<<")),
        Err("cannot read sheet 'MYE2 - Persons'"),
        cli=True,
    ),
    Case(
        "xlsx-mhclg-corrupt-sheet-xml",
        "ingest",
        "mhclg_RO3_2016-17_data_by_LA.xlsx",
        write_bytes(lambda: workbooks.xlsx([], sheet="RO3_LA_Data_2016-17", sheet_xml=b"\x00\x01garbage<<<")),
        Err("cannot read sheet 'RO3_LA_Data_2016-17'"),
        cli=True,
    ),
    Case("cla-header-only", "ingest", CLA, header_only, Err("no data rows", 2)),
    Case("cla-header-only-handmade", "ingest", CLA, from_corpus("cla_header_only.csv"), Err("no data rows", 2)),
    Case("pop-header-only", "ingest", POP, header_only, Err("no data rows", 2)),
    Case("s251-header-only", "ingest", S251, header_only, Err("no data rows", 1)),
    # duplicated council-years
    Case(
        "cla-duplicated-council-year",
        "ingest",
        CLA,
        duplicate_la_row(),
        Err("duplicated", "auto", "old_la_code"),
        cli=True,
    ),
    Case("pop-duplicated-council-year", "ingest", POP, duplicate_la_row(), Err("duplicated", "auto", "old_la_code")),
    Case(
        "s251-duplicated-council-year",
        "ingest",
        S251,
        duplicate_la_row(),
        Err("duplicated", "auto", "description_of_expenditure"),
    ),
    # unknown or retired LA codes
    # (issue #14: an LA code no lookup knows is refused; the demo's lookup is its own fictional council list)
    Case(
        "cla-unknown-3-digit-code",
        "ingest",
        CLA,
        set_cell(CLA_COL["old_la_code"], b"777"),
        Err("not a council", "auto", "old_la_code"),
        cli=True,
    ),
    Case(
        "cla-retired-code-928",
        "ingest",
        CLA,
        set_cell(CLA_COL["old_la_code"], b"928", nth=3),
        Err("not a council", "auto", "old_la_code"),
    ),
    Case(
        "cla-code-paired-with-other-gss",
        "ingest",
        CLA,
        set_cell(CLA_COL["new_la_code"], b"E99000016"),
        Err("another council", "auto", "new_la_code"),
    ),
    Case(
        "pop-code-paired-with-other-gss",
        "ingest",
        POP,
        set_cell(POP_COL["new_la_code"], b"E99000016"),
        Err("another council", "auto", "new_la_code"),
    ),
    # impossible values (issue #14): years, counts, rates, populations
    Case(
        "cla-year-2099",
        "ingest",
        CLA,
        set_cell(CLA_COL["time_period"], b"2099"),
        Err("not a year this publication can cover", "auto", "time_period"),
        cli=True,
    ),
    Case(
        "cla-year-0000",
        "ingest",
        CLA,
        set_cell(CLA_COL["time_period"], b"0000"),
        Err("not a year this publication can cover", "auto", "time_period"),
    ),
    Case(
        "pop-year-2099",
        "ingest",
        POP,
        set_cell(POP_COL["time_period"], b"2099"),
        Err("not a year this publication can cover", "auto", "time_period"),
    ),
    Case(
        "cla-count-negative",
        "ingest",
        CLA,
        set_cell(CLA_COL["children_count"], b"-237"),
        Err("not plausible", "auto", "children_count"),
        cli=True,
    ),
    Case(
        "cla-count-fractional",
        "ingest",
        CLA,
        set_cell(CLA_COL["children_count"], b"12.5"),
        Err("not plausible", "auto", "children_count"),
    ),
    Case(
        "cla-rate-over-10000",
        "ingest",
        CLA,
        set_cell(CLA_COL["rate_per_10000"], b"10001", nth=1),
        Err("not plausible", "auto", "rate_per_10000"),
    ),
    Case(
        "cla-rate-negative",
        "ingest",
        CLA,
        set_cell(CLA_COL["rate_per_10000"], b"-3", nth=1),
        Err("not plausible", "auto", "rate_per_10000"),
    ),
    Case(
        "cla-rate-inconsistent-with-count",
        "ingest",
        CLA,
        set_cell(CLA_COL["rate_per_10000"], b"172", nth=1),
        Err("does not match", "auto", "rate_per_10000"),
    ),
    Case(
        "cla-count-inconsistent-with-rate",
        "ingest",
        CLA,
        set_cell(CLA_COL["children_count"], b"1508", nth=1),
        Err("does not match", "auto", "rate_per_10000"),
    ),
    Case(
        "cla-population-zero",
        "ingest",
        CLA,
        set_cell(CLA_COL["population_estimate"], b"0", nth=1),
        Err("not plausible", "auto", "population_estimate"),
    ),
    Case(
        "pop-population-zero",
        "ingest",
        POP,
        set_cell(POP_COL["population_estimate"], b"0"),
        Err("not plausible", "auto", "population_estimate"),
    ),
    Case(
        "pop-population-negative",
        "ingest",
        POP,
        set_cell(POP_COL["population_estimate"], b"-87380"),
        Err("not plausible", "auto", "population_estimate"),
    ),
    Case(
        "pop-population-201-million",
        "ingest",
        POP,
        set_cell(POP_COL["population_estimate"], b"201000000"),
        Err("not plausible", "auto", "population_estimate"),
    ),
    Case(
        "cla-duplicated-header",
        "ingest",
        CLA,
        add_column(b"children_count", b"5"),
        Err("appears twice", 1, "children_count"),
        cli=True,
    ),
    Case(
        "pop-duplicated-header",
        "ingest",
        POP,
        add_column(b"population_estimate", b"1"),
        Err("appears twice", 1, "population_estimate"),
    ),
    Case("cla-cut-in-last-field", "ingest", CLA, cut_last_field, Err("cut off", "auto"), cli=True),
    Case("pop-cut-in-last-field", "ingest", POP, cut_last_field, Err("cut off", "auto")),
    Case(
        "cla-not-a-dfe-code",
        "ingest",
        CLA,
        set_cell(CLA_COL["old_la_code"], b"ABC"),
        Err("code", "auto", "old_la_code"),
    ),
    # non-numeric values
    Case(
        "cla-count-non-numeric",
        "ingest",
        CLA,
        set_cell(CLA_COL["children_count"], b"abc"),
        Err("not a number", "auto", "children_count"),
        cli=True,
    ),
    Case(
        "pop-value-non-numeric",
        "ingest",
        POP,
        set_cell(POP_COL["population_estimate"], b"12o4"),
        Err("not a number", "auto", "population_estimate"),
    ),
    Case(
        "s251-value-non-numeric",
        "ingest",
        S251,
        set_cell(S251_COL["total_expenditure"], b"1.2.3"),
        Err("not a number", "auto", "total_expenditure"),
    ),
    Case(
        "cla-count-NaN",
        "ingest",
        CLA,
        set_cell(CLA_COL["children_count"], b"NaN"),
        Err("not a number", "auto", "children_count"),
    ),
    Case(
        "cla-count-inf",
        "ingest",
        CLA,
        set_cell(CLA_COL["children_count"], b"inf"),
        Err("not a number", "auto", "children_count"),
    ),
    Case(
        "cla-time-period-not-a-year",
        "ingest",
        CLA,
        set_cell(CLA_COL["time_period"], b"2024/25"),
        Err("not a 4-digit year", "auto", "time_period"),
    ),
    Case(
        "cla-unknown-geographic-level",
        "ingest",
        CLA,
        set_cell(CLA_COL["geographic_level"], b"Local Authority"),
        Err("unknown geographic level", "auto", "geographic_level"),
    ),
    # the folder's own registry is copied by ingest
    Case(
        "ingest-registry-invalid-date",
        "ingest",
        REG,
        lambda p: p.write_text(p.read_text().replace("2017-04-01", "2017-13-01")) and {},
        Err("not a valid date", 2, "go_live"),
    ),
    Case("ingest-registry-empty", "ingest", REG, empty, Err("empty")),
    # registry: dates out of order, in the future, overlapping spells, bad values  (panel --registry)
    Case(
        "registry-go-live-after-end",
        "panel",
        "extra_registry.csv",
        registry_rows(spell("2016-04-01", "2015-01-01", "returned_in_house")),
        Err("is before go_live", 2, "end_date"),
        cli=True,
    ),
    Case(
        "registry-go-live-after-end-handmade",
        "panel",
        "extra_registry.csv",
        from_corpus("registry_go_live_after_end.csv"),
        Err("is before go_live", 2, "end_date"),
    ),
    Case(
        "registry-overlapping-spells-handmade",
        "panel",
        "extra_registry.csv",
        from_corpus("registry_overlap.csv"),
        Err("overlap", None, "go_live"),
    ),
    Case(
        "registry-overlaps-packaged-spell",
        "panel",
        "extra_registry.csv",
        registry_rows(spell("2018-04-01").replace(",010,E99000010,", ",030,E99000030,")),
        Err("overlap", None, "go_live"),
    ),
    Case(
        "registry-go-live-in-future",
        "panel",
        "extra_registry.csv",
        registry_rows(spell("2099-04-01")),
        Err("future", 2, "go_live"),
    ),
    Case(
        "registry-date-format",
        "panel",
        "extra_registry.csv",
        registry_rows(spell("01/04/2016")),
        Err("is not a date", 2, "go_live"),
    ),
    Case(
        "registry-impossible-date",
        "panel",
        "extra_registry.csv",
        registry_rows(spell("2016-02-30")),
        Err("not a valid date", 2, "go_live"),
    ),
    Case(
        "registry-unknown-model",
        "panel",
        "extra_registry.csv",
        registry_rows(spell(model="charity")),
        Err("not a known value", 2, "model"),
    ),
    Case(
        "registry-two-digit-code",
        "panel",
        "extra_registry.csv",
        registry_rows(spell(code="77")),
        Err("not a DfE LA code", 2, "la_code"),
    ),
    Case(
        "registry-duplicate-spell-id",
        "panel",
        "extra_registry.csv",
        registry_rows(spell().replace("X-1", "DEMO-1")),
        Err("appears twice", None, "spell_id"),
    ),
    Case(
        "registry-missing-column",
        "panel",
        "extra_registry.csv",
        registry_text(
            b"spell_id,la_code,gss_code,la_name,body_name,model,go_live,go_live_status,end_date,end_type,end_status,dfe_direction,role\n"
        ),
        Err("missing column", 1, "sources"),
    ),
    Case(
        "registry-extra-column",
        "panel",
        "extra_registry.csv",
        lambda p: (
            registry_rows(spell())(p)
            or p.write_text(p.read_text().replace(",sources\n", ",sources,notes\n").replace(S + "\n", S + ",x\n"))
            and {}
        ),
        Err("unknown column", 1, "notes"),
    ),
    Case(
        "registry-cp1252",
        "panel",
        "extra_registry.csv",
        lambda p: (
            registry_rows(spell())(p) or p.write_bytes(p.read_bytes().replace(b"Corpusham", b"Corpush\xe4m")) and {}
        ),
        Err("not a readable CSV"),
    ),
    Case(
        "registry-unknown-council",
        "panel",
        "extra_registry.csv",
        registry_rows(spell(code="777")),
        Err("777", None, "la_code"),
    ),
    # plan TOML: wrong types, unknown keys, missing sections  (estimate --plan)
    Case(
        "plan-seed-string",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace("seed = 20240101", 'seed = "20240101"')),
        Err("is a string", None, "inference.seed"),
        cli=True,
    ),
    Case(
        "plan-alpha-string",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace("alpha = 0.05", 'alpha = "0.05"')),
        Err("is a string", None, "inference.alpha"),
    ),
    Case(
        "plan-years-string",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace("years = [2011, 2024]", 'years = "2011-2024"')),
        Err("is a string", None, "sample.years"),
    ),
    Case(
        "plan-primary-string",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace("primary = true", 'primary = "yes"', 1)),
        Err("is a string", None, "analysis[0].primary"),
    ),
    Case(
        "plan-unknown-key",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace("[data]\n", '[data]\nformat = "parquet"\n')),
        Err("unknown key", None, "data.format"),
    ),
    Case(
        "plan-unknown-key-handmade",
        "estimate",
        "bad.toml",
        from_corpus("plan_unknown_key.toml"),
        Err("unknown key", None, "inference.bootsrap"),
    ),
    Case(
        "plan-unknown-section",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t + "\n[extras]\nx = 1\n"),
        Err("unknown section", None, "extras"),
    ),
    Case(
        "plan-missing-inference",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: _drop_section(t, "inference")),
        Err("missing section [inference]", None, "inference"),
    ),
    Case(
        "plan-missing-analysis-handmade",
        "estimate",
        "bad.toml",
        from_corpus("plan_missing_analysis.toml"),
        Err("missing [[analysis]]", None, "analysis"),
    ),
    Case(
        "plan-analysis-single-table",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.split("[[analysis]]")[0] + '[analysis]\nlabel = "a"\noutcome = "x"\nmethod = "cs"\n'),
        Err("is a single table", None, "analysis"),
    ),
    Case(
        "plan-toml-syntax",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace("alpha = 0.05", "alpha = = 0.05")),
        Err("TOML syntax error", 20),
    ),
    Case(
        "plan-cp1252",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace("Sant'Anna", "S\u00e9nt").encode("cp1252")),
        Err("not UTF-8"),
    ),
    Case("plan-empty", "estimate", "bad.toml", empty, Err("missing section [plan]", None, "plan")),
    # issue #14: [sample] required, data paths inside the project, no control characters
    Case(
        "plan-missing-sample",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: _drop_section(t, "sample")),
        Err("missing section [sample]", None, "sample"),
        cli=True,
    ),
    Case(
        "plan-panel-dotdot",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace('panel = "data/', 'panel = "../work/data/', 1)),
        Err("leaves the project folder", None, "data.panel"),
    ),
    Case(
        "plan-checksum-dotdot-dev-zero",
        "estimate",
        "bad.toml",
        plan_edit(
            lambda t: t.replace(
                "[sample]", 'expected_sha256 = { "../../dev/zero" = "' + "0" * 64 + '" }\n\n[sample]', 1
            )
        ),
        Err("leaves the project folder", None, 'data.expected_sha256["../../dev/zero"]'),
        cli=True,
    ),
    Case(
        "plan-panel-backslash-dotdot",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace('panel = "data/processed/', 'panel = "data\\\\..\\\\..\\\\', 1)),
        Err("leaves the project folder", None, "data.panel"),
    ),
    Case(
        "plan-panel-windows-drive",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace('panel = "data/', 'panel = "C:/data/', 1)),
        Err("is an absolute path", None, "data.panel"),
    ),
    Case(
        "plan-name-trailing-newline",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace('name = "demo"', 'name = "demo\\n"', 1)),
        Err("invalid name", None, "plan.name"),
    ),
    Case(
        "plan-label-control-char",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace('label = "cla_cs_never"', 'label = "cla_cs\\u0007never"', 1)),
        Err("invalid label", None, "analysis[0].label"),
    ),
    Case(
        "plan-title-escape-sequence",
        "estimate",
        "bad.toml",
        plan_edit(lambda t: t.replace('title = "Children', 'title = "\\u001b[2JChildren', 1)),
        Err("control character U+001B", None, "plan.title"),
    ),
    Case(
        "registry-name-trailing-newline",
        "panel",
        "extra_registry.csv",
        registry_rows(spell().replace("Corpusham Trust", '"Corpusham Trust\n"')),
        Err("control character U+000A", 2, "body_name"),
        cli=True,
    ),
    Case(
        "registry-name-escape",
        "panel",
        "extra_registry.csv",
        registry_rows(spell().replace(",Corpusham,", ",Corpus\x1bham,")),
        Err("control character U+001B", 2, "la_name"),
    ),
]


# --- Fixtures -------------------------------------------------------------------------------------------

OUTPUT_DIRS = ("data/processed", "reports/demo")


def snapshot(work: Path) -> dict[str, str]:
    """Every file under the stage folders (generations included), by sha256."""
    files: dict[str, str] = {}
    for folder in OUTPUT_DIRS:
        for p in (work / folder).rglob("*"):
            if p.is_file():
                files[p.relative_to(work).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return files


@pytest.fixture(scope="module")
def good_run(demo_run: Path, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """A private copy of a good demo run (ingest, panel, estimate, report) and its output hashes."""
    base = tmp_path_factory.mktemp("good_run")
    for sub in ("data", "reports"):
        shutil.copytree(demo_run / sub, base / sub)
    snap = snapshot(base)
    assert any(k.startswith("reports/demo/") for k in snap) and any(k.endswith("/panel.parquet") for k in snap)
    return base, snap


@pytest.fixture
def work(good_run, tmp_path: Path) -> Path:
    base, _ = good_run
    target = tmp_path / "work"
    for sub in ("data", "reports"):
        shutil.copytree(base / sub, target / sub)
    return target


@pytest.fixture(scope="module")
def clean_tables(tmp_path_factory) -> dict[str, pl.DataFrame]:
    out = tmp_path_factory.mktemp("clean")
    manifest = ingest(demo_dir(), out)
    return {name: pl.read_parquet(current_dir(out) / spec["file"]) for name, spec in manifest["outputs"].items()}


# --- Running a case -------------------------------------------------------------------------------------


def _prepare(case: Case, tmp_path: Path) -> tuple[Path, Path, dict]:
    """Returns (source folder, mutated file, mutation info)."""
    src = tmp_path / "src"
    if case.stage == "ingest":
        shutil.copytree(demo_dir(), src)
        target = src / case.target
    else:
        src.mkdir()
        target = src / case.target
    info = case.mutate(target) or {}
    return src, target, info


def _argv(case: Case, src: Path, target: Path) -> list[str]:
    if case.stage == "ingest":
        return ["ingest", "--from", str(src)]
    if case.stage == "panel":
        return ["panel", "--registry", str(target)]
    return ["estimate", "--plan", str(target)]


def _run_in_process(argv: list[str], cwd: Path, monkeypatch, capsys) -> tuple[int, str]:
    """`evalkit.cli.main` in this process (same code path as the console script, minus the start-up)."""
    from evalkit import cli

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(sys, "argv", ["evalkit", "-q", *argv])
    capsys.readouterr()
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def _check_error_line(line: str, case: Case, target: Path, info: dict) -> None:
    exp = case.expect
    assert isinstance(exp, Err)
    assert "\n" not in line.strip(), f"more than one line: {line!r}"
    assert target.name in line, f"file not named: {line!r}"
    assert exp.words in line, f"expected {exp.words!r} in {line!r}"
    row = info.get("row") if exp.row == "auto" else exp.row
    if row is not None:
        assert f"row {row}" in line, f"expected row {row}: {line!r}"
    if exp.column is not None:
        assert f"column {exp.column!r}" in line, f"expected column {exp.column!r}: {line!r}"


def _params(cases: list[Case]):
    return [
        pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)] if c.xfail else [])
        for c in cases
    ]


ERROR_CASES = [c for c in CASES if isinstance(c.expect, Err)]
ACCEPT_CASES = [c for c in CASES if isinstance(c.expect, Accept)]


def test_corpus_size() -> None:
    assert len(CASES) >= 50
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", _params(ERROR_CASES))
def test_error_case(case: Case, work: Path, good_run, tmp_path: Path, monkeypatch, capsys) -> None:
    """One-line error naming file/row/column, exit 1, and the earlier good outputs untouched."""
    _, before = good_run
    src, target, info = _prepare(case, tmp_path)
    argv = _argv(case, src, target)
    try:
        if case.cli:
            proc = evalkit_cmd("-q", *argv, cwd=work, check=False)
            code, stderr = proc.returncode, proc.stderr
        elif case.stage == "ingest":
            monkeypatch.chdir(work)
            try:
                ingest(src, work / "data" / "processed")
                code, stderr = 0, ""
            except EvalkitError as exc:
                code, stderr = 1, f"error: {exc.one_line()}\n"
        else:
            code, stderr = _run_in_process(argv, work, monkeypatch, capsys)
        assert code == 1, f"exit {code}, stderr {stderr!r}"
        assert len(stderr.splitlines()) == 1 and stderr.startswith("error: "), repr(stderr)
        _check_error_line(stderr, case, target, info)
    finally:
        after = snapshot(work)
        assert after == before, "outputs of the earlier good run changed: " + ", ".join(
            sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        )


@pytest.mark.parametrize("case", _params(ACCEPT_CASES))
def test_accepted_case(case: Case, clean_tables: dict[str, pl.DataFrame], tmp_path: Path) -> None:
    exp = case.expect
    assert isinstance(exp, Accept)
    src, target, info = _prepare(case, tmp_path)
    manifest = ingest(src, tmp_path / "out")
    assert {s["file"] for s in manifest["skipped"]} == STANDARD_SKIPPED, manifest["skipped"]
    got = pl.read_parquet(current_dir(tmp_path / "out") / f"{exp.table}.parquet")
    clean = clean_tables[exp.table]
    if exp.check == "equal":
        assert got.equals(clean, null_equal=True)
        return
    cells = info["cells"]
    if exp.check == "code":
        assert got.filter(pl.col("la_code") == exp.extra["code"]).height > 0
        assert got.height == clean.height
        return
    year, code = (
        int(cells[0][:4]) + (1 if exp.table == "s251" else 0),
        cells[
            CLA_COL["old_la_code"]
            if exp.table == "cla"
            else POP_COL["old_la_code"]
            if exp.table == "population"
            else S251_COL["old_la_code"]
        ],
    )
    if exp.table == "cla":
        from evalkit.sources.cla import POPULATION_TYPES

        measures = [POPULATION_TYPES[cells[10].lower()]]
    elif exp.table == "population":
        measures = ["population_0_17"]
    else:
        measures = ["spend_cla"]
    key = (pl.col("year") == year) & (pl.col("la_code") == code) & pl.col("measure").is_in(measures)
    row = got.filter(key)
    assert row.height == 1, row
    if exp.check == "marker":
        assert row["value"][0] is None, "a suppressed count parsed to a number"
        assert row["marker"][0] == exp.extra["marker"]
    else:
        assert row["value"][0] == exp.extra["value"]
    # every other council-year is unchanged
    same = ~((pl.col("year") == year) & (pl.col("la_code") == code))
    assert got.filter(same).equals(clean.filter(same), null_equal=True)
