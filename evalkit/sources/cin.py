"""Children in need (CIN census): "Characteristics of children in need", EES tables 2013-2025.

Five files of the 2025 release are read (FORMATS.md section 2), each recognised by its header:

* b1 ``children_in_need``: ``At31_episodes`` -> ``cin_at_31_march``, ``Started_episodes`` ->
  ``cin_starts``, ``Ended_episodes`` -> ``cin_ends``, ``Anypoint_episodes`` -> ``cin_during_year``
  (all counts of episodes).
* c1 ``referrals_and_rereferrals``: ``referral_count`` -> ``referrals``, ``rereferral_count`` ->
  ``rereferrals`` (count), ``rereferral_percent`` -> ``rereferral_percent`` (percent).
* c4 ``section_47s_and_icpcs``: ``Section47`` -> ``section47``, ``ICPC`` -> ``icpc`` (count).
* d3 ``cpps_subsequent_plan``: ``CPP_start`` -> ``cpp_starts`` (count), ``CPP_subsequent_percent``
  -> ``cpp_subsequent_percent`` (percent).
* d5 ``cpps_at31march_by_duration``: ``CPP_At31`` -> ``cpp_at_31_march`` (count).

``year`` is the reporting year ending 31 March (reference_date 31 March). Only local-authority
rows are returned; quoted empties, ``c``, ``u``, ``x`` and ``z`` become null values with the marker
kept (a quoted or bare empty cell gets the marker ``blank``). Files must be UTF-8 (a BOM is
allowed). b1 has no rates; compute them with the population file.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from evalkit.sources.common import (
    EES_GEOGRAPHY,
    ees_local_authorities,
    head_columns,
    long_measures,
    match_columns,
    parse_year,
    published_names,
    read_csv_strict,
    reject_duplicates,
    with_row,
)

NAME = "cin"
KIND = "measures"
PARSER_VERSION = "1.0.0"

# table -> {published column: (measure, unit)}
TABLES: dict[str, dict[str, tuple[str, str]]] = {
    "b1": {
        "At31_episodes": ("cin_at_31_march", "count"),
        "Started_episodes": ("cin_starts", "count"),
        "Ended_episodes": ("cin_ends", "count"),
        "Anypoint_episodes": ("cin_during_year", "count"),
    },
    "c1": {
        "referral_count": ("referrals", "count"),
        "rereferral_count": ("rereferrals", "count"),
        "rereferral_percent": ("rereferral_percent", "percent"),
    },
    "c4": {
        "Section47": ("section47", "count"),
        "ICPC": ("icpc", "count"),
    },
    "d3": {
        "CPP_start": ("cpp_starts", "count"),
        "CPP_subsequent_percent": ("cpp_subsequent_percent", "percent"),
    },
    "d5": {
        "CPP_At31": ("cpp_at_31_march", "count"),
    },
}
# A column that identifies each table even when another of its columns was renamed.
SIGNATURE = {
    "b1": {"anypoint_episodes", "at31_episodes", "started_episodes"},
    "c1": {"referral_count", "rereferral_count", "rereferral_percent"},
    "c4": {"section47", "icpc", "section47_child"},
    "d3": {"cpp_start", "cpp_subsequent", "cpp_subsequent_percent"},
    "d5": {"cpp_at31", "3_months_or_less"},
}
FILE_HINT = {"b1": "children_in_need", "c1": "referrals", "c4": "section_47", "d3": "subsequent", "d5": "at31march"}


def _table(path: Path) -> str | None:
    cols = head_columns(path)
    if not {"time_period", "geographic_level", "old_la_code", "category"} <= cols:
        return None
    scores = {t: len(sig & cols) for t, sig in SIGNATURE.items()}
    best = max(scores, key=lambda t: scores[t])
    if scores[best] >= 2:
        return best
    # a header with several value columns renamed: fall back on the published file name
    name = path.name.lower()
    for table, hint in FILE_HINT.items():
        if f"{table}_" in name and hint in name:
            return table
    return None


def detect(path: Path) -> bool:
    path = Path(path)
    return path.suffix.lower() == ".csv" and _table(path) is not None


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    table = _table(path)
    raw = read_csv_strict(path)
    # an unrecognised header is matched against every table so the error names the closest one
    layouts = {f"cin_{t}": {**EES_GEOGRAPHY, **{c: [c] for c in TABLES[t]}} for t in ([table] if table else TABLES)}
    name, frame = match_columns(raw, path, with_row(layouts))
    columns = TABLES[name.removeprefix("cin_")]
    shown = published_names(raw, layouts[name])
    frame = frame.with_columns(parse_year(frame, "time_period", path)).rename({"time_period": "year"})
    la = ees_local_authorities(frame, path)
    reject_duplicates(la, ["year", "la_code"], path, shown["la_code"], "council-year")
    return long_measures(la, path, source=NAME, measures=columns, shown=shown, reference=(3, 31))
