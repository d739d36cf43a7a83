"""The registry of alternative delivery models: who moved children's services out, when, and on whose word.

There is no official register (DfE told Parliament it keeps none), so the registry is a curated,
sourced CSV in the repository (`evalkit/data/adm_registry.csv`); users can add rows with
`--registry FILE` in the same columns. Every fact carries a status (seen / uncertain) and the
spell's sources.

Timing convention (documented in the panel): a spell's first treated year is the first reporting
year t (the year ending 31 March t) whose 31 March falls after go-live, i.e. go-live on or before
31 March t. A go-live known only to the month is taken as the 1st of that month; one known only to
the year is kept in the registry but cannot set a treated year (status "uncertain").
"""

from __future__ import annotations

import re
from datetime import date
from importlib import resources
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError

COLUMNS = [
    "spell_id",
    "la_code",
    "gss_code",
    "la_name",
    "body_name",
    "model",
    "go_live",
    "go_live_status",
    "end_date",
    "end_type",
    "end_status",
    "dfe_direction",
    "role",
    "sources",
]
# Facts carried over from the research notes (../shared/domain/adm_registry.csv), each with its status;
# optional so older registries and users' extra rows still load (missing -> "").
OPTIONAL = [
    "scope",
    "scope_status",
    "assignment",
    "assignment_status",
    "pre_transfer_grade",
    "pre_transfer_grade_status",
    "setup_funding_gbp",
    "setup_funding_status",
]
SCOPES = {"csc", "wider", ""}  # children's social care only, or wider (early help, education, health ...)
ASSIGNMENTS = {"imposed", "voluntary", "mixed", ""}  # mixed: a council decision while under DfE intervention
GRADES = {"outstanding", "good", "requires_improvement", "inadequate", ""}
MODELS = {"independent_trust", "council_company", "social_enterprise", "partnership", "commissioner", "none", "other"}
ROLES = {"treated", "model_change", "comparison", "other_intervention"}
STATUSES = {"seen", "uncertain", ""}
DIRECTIONS = {"yes", "no", "conflicting", "uncertain"}
END_TYPES = {"", "returned_in_house", "ownership_change", "partnership_ended"}
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


def packaged_registry() -> Path:
    return Path(str(resources.files("evalkit") / "data" / "adm_registry.csv"))


def parse_partial_date(text: str | None, *, file: str, row: int, column: str) -> tuple[date | None, str]:
    """'2018-04-01' -> exact; '2018-04' -> 1st of month; '2019' -> None with precision 'year'."""
    if text is None or text == "":
        return None, ""
    if not _DATE.match(text):
        raise EvalkitError(
            f"{text!r} is not a date", file=file, row=row, column=column, expected="YYYY-MM-DD, YYYY-MM or YYYY"
        )
    parts = [int(p) for p in text.split("-")]
    try:
        if len(parts) == 3:
            return date(*parts), "day"
        if len(parts) == 2:
            return date(parts[0], parts[1], 1), "month"
    except ValueError:
        raise EvalkitError(
            f"{text!r} is not a valid date", file=file, row=row, column=column, expected="a calendar date"
        ) from None
    return None, "year"


def first_treated_year(go_live: date) -> int:
    """The first year ending 31 March whose 31 March is on or after go-live."""
    return go_live.year if go_live <= date(go_live.year, 3, 31) else go_live.year + 1


def load_registry(path: str | Path | None = None, *, extra: list[Path] | None = None) -> pl.DataFrame:
    """Read and validate the registry (packaged by default) plus any user files; one row per spell."""
    paths = [Path(path) if path else packaged_registry(), *(extra or [])]
    frames = [_read_one(p) for p in paths]
    reg = pl.concat(frames, how="vertical")
    dup = reg.group_by("spell_id").len().filter(pl.col("len") > 1)
    if dup.height:
        raise EvalkitError(
            f"spell_id {dup['spell_id'][0]!r} appears twice",
            file=paths[-1].name,
            column="spell_id",
            expected="unique spell ids",
        )
    _check_overlaps(reg, paths[-1].name)
    return reg.sort("la_code", "go_live_date", "spell_id", nulls_last=True)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _check_no_control(r: dict, file: str, row: int) -> None:
    """No control characters (a line break, tab, escape or NUL) in any cell: names and codes from a
    registry land in tables, report code spans and file names, where one would break the line."""
    for column, value in r.items():
        hit = _CONTROL.search(value or "")
        if hit:
            raise EvalkitError(
                f"{value!r} contains the control character U+{ord(hit.group(0)):04X}",
                file=file,
                row=row,
                column=column,
                expected="text without line breaks, tabs or other control characters",
            )


def _read_one(path: Path) -> pl.DataFrame:
    if not path.exists():
        raise EvalkitError("registry file not found", file=path)
    try:
        frame = pl.read_csv(path, infer_schema=False, encoding="utf8")
    except (pl.exceptions.PolarsError, UnicodeDecodeError) as exc:
        raise EvalkitError(f"not a readable CSV: {str(exc).splitlines()[0]}", file=path.name) from exc
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise EvalkitError(
            f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}",
            file=path.name,
            row=1,
            column=missing[0],
        )
    unknown = [c for c in frame.columns if c not in COLUMNS + OPTIONAL]
    if unknown:
        raise EvalkitError(
            f"unknown column(s) {', '.join(unknown)}",
            file=path.name,
            row=1,
            column=unknown[0],
            expected=", ".join(COLUMNS + OPTIONAL),
        )
    frame = frame.with_columns([pl.lit("").alias(c) for c in OPTIONAL if c not in frame.columns])
    frame = frame.select(COLUMNS + OPTIONAL).with_columns(pl.all().fill_null(""))
    go_dates, precisions, end_dates, first_years = [], [], [], []
    for k, r in enumerate(frame.iter_rows(named=True)):
        row = k + 2
        _check_no_control(r, path.name, row)
        _check_choice(r, "model", MODELS, path.name, row)
        _check_choice(r, "role", ROLES, path.name, row)
        _check_choice(r, "go_live_status", STATUSES, path.name, row)
        _check_choice(r, "dfe_direction", DIRECTIONS, path.name, row)
        _check_choice(r, "end_type", END_TYPES, path.name, row)
        _check_choice(r, "scope", SCOPES, path.name, row)
        _check_choice(r, "assignment", ASSIGNMENTS, path.name, row)
        _check_choice(r, "pre_transfer_grade", GRADES, path.name, row)
        for column in ("scope_status", "assignment_status", "pre_transfer_grade_status", "setup_funding_status"):
            _check_choice(r, column, STATUSES, path.name, row)
        if r["setup_funding_gbp"] and not r["setup_funding_gbp"].isdigit():
            raise EvalkitError(
                f"{r['setup_funding_gbp']!r} is not a sum in pounds",
                file=path.name,
                row=row,
                column="setup_funding_gbp",
                expected="whole pounds, e.g. 2900000, or empty when not seen",
            )
        if not re.fullmatch(r"\d{3}", r["la_code"]):
            raise EvalkitError(
                f"{r['la_code']!r} is not a DfE LA code",
                file=path.name,
                row=row,
                column="la_code",
                expected="a 3-digit DfE code",
            )
        if r["role"] in ("treated", "model_change") and not r["sources"].strip():
            raise EvalkitError(
                "a treated spell needs its sources",
                file=path.name,
                row=row,
                column="sources",
                expected="at least one source",
            )
        go, precision = parse_partial_date(r["go_live"], file=path.name, row=row, column="go_live")
        end, _ = parse_partial_date(r["end_date"], file=path.name, row=row, column="end_date")
        for value, column in ((go, "go_live"), (end, "end_date")):
            if value is not None and value > date.today():
                raise EvalkitError(
                    f"{r[column]} is in the future",
                    file=path.name,
                    row=row,
                    column=column,
                    expected="a date that has happened",
                )
        if go and end and end < go:
            raise EvalkitError(
                f"end_date {r['end_date']} is before go_live {r['go_live']}",
                file=path.name,
                row=row,
                column="end_date",
                expected="an end after the start",
            )
        go_dates.append(go)
        precisions.append(precision)
        end_dates.append(end)
        first_years.append(first_treated_year(go) if go else None)
    return frame.with_columns(
        pl.Series("go_live_date", go_dates, dtype=pl.Date),
        pl.Series("go_live_precision", precisions, dtype=pl.Utf8),
        pl.Series("end_date_parsed", end_dates, dtype=pl.Date),
        pl.Series("first_treated_year", first_years, dtype=pl.Int32),
        pl.lit(path.name).alias("registry_file"),
    )


def _check_choice(r: dict, column: str, allowed: set[str], file: str, row: int) -> None:
    if r[column] not in allowed:
        raise EvalkitError(
            f"{r[column]!r} is not a known value",
            file=file,
            row=row,
            column=column,
            expected=" | ".join(sorted(a for a in allowed if a)),
        )


def _check_overlaps(reg: pl.DataFrame, file: str) -> None:
    """Two treated spells of one council may not both start inside one another's span."""
    spells = reg.filter(pl.col("role") == "treated", pl.col("go_live_date").is_not_null()).sort(
        "la_code", "go_live_date"
    )
    for code, group in spells.group_by("la_code", maintain_order=True):
        rows = group.to_dicts()
        for earlier, later in zip(rows, rows[1:]):
            end = earlier["end_date_parsed"]
            if end is None or later["go_live_date"] < end:
                raise EvalkitError(
                    f"treated spells {earlier['spell_id']} and {later['spell_id']} of council {code[0]} overlap",
                    file=file,
                    column="go_live",
                    expected="a later spell to start after the earlier one ends",
                )


def treatment_table(reg: pl.DataFrame) -> pl.DataFrame:
    """One row per treated council: first treated year, model and exit year (when services returned in-house)."""
    treated = reg.filter(pl.col("role") == "treated")
    exits = reg.filter(pl.col("end_type") == "returned_in_house").select(
        "la_code", pl.col("end_date_parsed").alias("exit_date")
    )
    return (
        treated.group_by("la_code")
        .agg(
            pl.col("first_treated_year").min(),
            pl.col("go_live_date").min(),
            pl.col("model").first(),
            pl.col("spell_id").first(),
            pl.col("la_name").first(),
            pl.col("dfe_direction").first(),
            *[pl.col(c).first() for c in ("scope", "assignment", "pre_transfer_grade", "setup_funding_gbp")],
        )
        .join(exits.group_by("la_code").agg(pl.col("exit_date").max()), on="la_code", how="left")
        .with_columns(
            pl.when(pl.col("exit_date").is_not_null())
            .then(pl.col("exit_date").map_elements(first_treated_year, return_dtype=pl.Int32))
            .alias("exit_year")
        )
        .sort("la_code")
    )
