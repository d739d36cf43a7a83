"""Children's social work workforce (CSWW), EES, both generations of the local-authority table.

* ``csww_indicators_2017_to_2025.csv`` (2025 layout, no BOM): ``inpost_fte``, ``leavers_fte``,
  ``turnover_rate_fte``, ``agency_fte``, ``agency_rate_fte``, ``vacancy_rate_fte``,
  ``caseload_fte``.
* ``csww_headline_measures_2017_to_2022.csv`` (older layout, with BOM, ``%`` in column names):
  ``social_worker_fte``, ``leaver_fte``, ``turnover_rate_fte_%``, ``agency_fte``,
  ``agency_worker_rate_fte_%``, ``vacancy_rate_fte_%``, ``caseload_fte``.

Measures (unit): ``social_workers_fte`` (fte), ``leavers_fte`` (fte), ``agency_fte`` (fte),
``agency_rate_fte``, ``turnover_rate_fte``, ``vacancy_rate_fte`` (percent), ``caseload_fte``
(ratio: cases per case-holding FTE).

``year`` is ``time_period`` and is taken to be the position at 30 September of that year
(reference_date = 30 September). This is INFERRED, not stated in any file seen: BCP first appears
in 2019 and the 2025 data were published in March 2026 (FORMATS.md section 0); check it against the
CSWW methodology. Joint units keep their joint codes and names as published (``314 / 318``,
``E09000021 / E09000027``; ``940 / 941`` from 2021). Markers ``x``, ``z``, ``u``, ``low``, ``c``
become nulls with the marker kept. The two files overlap in 2017-2022; each is parsed on its own
and the panel decides which to use.
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

NAME = "workforce"
KIND = "measures"
PARSER_VERSION = "1.0.0"

MEASURES: dict[str, tuple[str, str]] = {
    "social_workers_fte": ("social_workers_fte", "fte"),
    "leavers_fte": ("leavers_fte", "fte"),
    "agency_fte": ("agency_fte", "fte"),
    "agency_rate_fte": ("agency_rate_fte", "percent"),
    "turnover_rate_fte": ("turnover_rate_fte", "percent"),
    "vacancy_rate_fte": ("vacancy_rate_fte", "percent"),
    "caseload_fte": ("caseload_fte", "ratio"),
}
LAYOUTS = {
    "csww_indicators_2025": {
        **EES_GEOGRAPHY,
        "social_workers_fte": ["inpost_fte"],
        "leavers_fte": ["leavers_fte"],
        "agency_fte": ["agency_fte"],
        "agency_rate_fte": ["agency_rate_fte"],
        "turnover_rate_fte": ["turnover_rate_fte"],
        "vacancy_rate_fte": ["vacancy_rate_fte"],
        "caseload_fte": ["caseload_fte"],
    },
    "csww_headline_2017_2022": {
        **EES_GEOGRAPHY,
        "social_workers_fte": ["social_worker_fte"],
        "leavers_fte": ["leaver_fte"],
        "agency_fte": ["agency_fte"],
        "agency_rate_fte": ["agency_worker_rate_fte_%"],
        "turnover_rate_fte": ["turnover_rate_fte_%"],
        "vacancy_rate_fte": ["vacancy_rate_fte_%"],
        "caseload_fte": ["caseload_fte"],
    },
}
SIGNATURE = {"inpost_fte", "social_worker_fte", "caseload_fte", "case_holders_fte", "agency_fte", "vacancy_fte"}


def detect(path: Path) -> bool:
    path = Path(path)
    if path.suffix.lower() != ".csv":
        return False
    cols = head_columns(path)
    return {"time_period", "geographic_level", "old_la_code"} <= cols and len(SIGNATURE & cols) >= 3


def parse(path: Path) -> pl.DataFrame:
    path = Path(path)
    raw = read_csv_strict(path)
    layout, frame = match_columns(raw, path, with_row(LAYOUTS))
    shown = published_names(raw, LAYOUTS[layout])
    frame = frame.with_columns(parse_year(frame, "time_period", path)).rename({"time_period": "year"})
    la = ees_local_authorities(frame, path)
    # normalise the spacing of joint codes but keep them joint, as published
    la = la.with_columns(pl.col("la_code").str.replace_all(r"\s*/\s*", " / "))
    reject_duplicates(la, ["year", "la_code"], path, shown["la_code"], "council-year")
    return long_measures(la, path, source=NAME, measures=MEASURES, shown=shown, reference=(9, 30))
