"""What a plausible value is, declared once per source; ingest refuses anything outside it.

The format checks of each parser (columns, numbers, codes as text) say whether a file is readable.
These rules say whether what it holds can be true: years a publication can cover, counts that are
whole and not negative, rates within 0-10,000 per 10,000 and consistent with their count and
population, populations of a council's size, LA codes that exist in the year (and area codes issued
by it), one row per council-year. Across files: a child population agrees with the other publications
that report it (`check_populations_across`), and no row is about a year after its file's release
(`check_within_release`). A new source adds one entry to ``SOURCES`` (and, if it has a new unit, to ``UNITS``).

Why a rule table of our own and not pandera/patito: the tidy tables are long (one row per council,
year and measure), so every rule depends on the row's ``unit`` or ``measure`` and needs the file's
own row number and published column for the one-line error (file, row, column, value, expected).
Those libraries report failures as frames of their own and would still need all of that written
around them; a table of a dozen declarative entries evaluated with polars expressions is shorter,
has no dependency, and gives the exact message.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError

ROW = "__row"  # the file row a tidy row came from (kept by parsers during ingest only)
COLUMN = "__column"  # the published column it came from


@dataclass(frozen=True)
class Range:
    low: float | None = None
    high: float | None = None
    integer: bool = False
    what: str = ""


# Per unit: the domain every value in that unit must lie in.
UNITS: dict[str, Range] = {
    "count": Range(0, None, integer=True, what="a whole number of 0 or more"),
    "rate_per_10000": Range(0, 10_000, what="a rate between 0 and 10,000 per 10,000"),
    "percent": Range(0, 100, what="a percentage between 0 and 100"),
    "fte": Range(0, None, what="a number of full-time equivalents of 0 or more"),
    "days": Range(0, None, what="a number of days of 0 or more"),
    "ratio": Range(0, None, what="a ratio of 0 or more"),
    # gbp: net expenditure lines can be negative (income above spending). The largest council's whole
    # children's and young people's budget (schools included) is under £2.5bn a year, so a line past
    # ±£10bn is a unit error (pence, £ thousand read as £) or an edit, not a council's spending.
    "gbp": Range(-10e9, 10e9, what="an amount of money between -£10bn and £10bn for one council-year"),
    # A week of a looked-after child's placement: the dearest residential placements cost under £25,000.
    "gbp_per_child_week": Range(0, 100_000, what="a weekly cost per child between £0 and £100,000"),
}

# Measures that are populations: a council's 0-17 population lies in this band (smallest: Isles of
# Scilly, about 400 children; largest: Kent and Birmingham, under 350,000).
POPULATION_BAND = Range(50, 2_000_000, integer=False, what="a council's child population (50 to 2,000,000)")


@dataclass(frozen=True)
class RateCheck:
    """rate ~= 10,000 x count / population, within the rounding of a published whole-number rate."""

    rate: str
    count: str
    population: str
    tolerance: float = 1.0  # per 10,000: the rate is rounded to a whole number, populations to 10s


@dataclass(frozen=True)
class ShareCheck:
    """percent ~= 100 x part / (part + rest): a published percentage against the counts beside it."""

    percent: str
    part: str
    rest: str
    tolerance: float = 2.0  # percentage points: FTEs and the rate are each published to one decimal


# A population more than this factor away from the same council's value in both neighbouring years
# is an edit or a unit error, not a change: real child populations move a few per cent a year.
POPULATION_JUMP = 1.5


@dataclass(frozen=True)
class Source:
    first_year: int  # the earliest year label the publication can carry
    populations: frozenset[str] = frozenset()
    rate_checks: tuple[RateCheck, ...] = ()
    share_checks: tuple[ShareCheck, ...] = ()
    year_lag: int = 0  # year labels may run this far past the current year
    keys: tuple[str, ...] = ("year", "la_code", "gss_code", "measure", "file")
    notes: str = ""
    # False for a derived panel that carries today's codes back in time (the years a code existed
    # and its GSS pairing are then not those DfE lists for that year); unknown codes are still refused.
    codes_as_of_year: bool = True


_CLA_RATE = RateCheck("cla_rate_per_10000", "cla_at_31_march", "population_0_17_cla_denominator")

SOURCES: dict[str, Source] = {
    "cla": Source(1994, populations=frozenset({"population_0_17_cla_denominator"}), rate_checks=(_CLA_RATE,)),
    "cin": Source(2010),
    "workforce": Source(2012, share_checks=(ShareCheck("agency_rate_fte", "agency_fte", "social_workers_fte"),)),
    "population": Source(1991, populations=frozenset({"population_0_17"})),
    "s251": Source(2008, year_lag=1),
    "lait": Source(2008, year_lag=1),
    "mhclg_ro": Source(2008, year_lag=1),
    # Webb's research panel sums Bournemouth and Poole into BCP (839) and recodes Dorset in every
    # year (SOURCES.md), so its codes are today's, not those in force each year.
    "s251_webb": Source(2008, year_lag=1, codes_as_of_year=False),
}


def last_plausible_year(source: Source, today: dt.date | None = None) -> int:
    """Nothing is published about a year that has not ended: this year (plus the source's lag)."""
    return (today or dt.date.today()).year + source.year_lag


def check_within_release(frame: pl.DataFrame, source: str, release: int | None, how: str | None) -> None:
    """No row is about a year after the release the file is: a 2026 row inside the 2024 release is an
    edit (a release publishes years that have ended; the sources with ``year_lag`` label a financial
    year by its end, so their file names may say the year before)."""
    if release is None or "year" not in frame.columns or frame.height == 0:
        return
    rules = SOURCES.get(source)
    last = release + (rules.year_lag if rules else 0)
    bad = (frame["year"] > last).fill_null(False)
    if bad.any():
        if ROW not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias(ROW))
        year = frame["year"][int(bad.arg_true()[0])]
        _fail(
            frame,
            bad,
            f"year {year} is after the release this file is ({release}, from the {how})",
            f"a year up to {last} in the {release} release (a later release under its own name)",
            "time_period",
            fixed_column=True,
        )


def _fail(
    frame: pl.DataFrame,
    mask: pl.Series,
    message: str,
    expected: str,
    column: str | None = None,
    *,
    fixed_column: bool = False,
) -> None:
    """Raise for the first row in `mask`; the column is the row's published value column unless fixed."""
    if not mask.any():
        return
    idx = int(mask.arg_true()[0])
    wanted = [c for c in ("file", "la_code", "year", "measure", ROW, COLUMN) if c in frame.columns]
    r = frame.select(wanted).row(idx, named=True)  # not reference_date: year 0 has no Python date
    row = r.get(ROW)
    col = column if fixed_column else (r.get(COLUMN) or column)
    where = f"{r.get('la_code')} {r.get('year')} {r.get('measure')}"
    raise EvalkitError(
        f"{message} ({where})",
        file=r.get("file"),
        row=int(row) if row is not None else None,
        column=col,
        expected=expected,
    )


def _value_text(v: float | None) -> str:
    if v is None:
        return "blank"
    return str(int(v)) if float(v).is_integer() else repr(float(v))


def check_measures(
    frame: pl.DataFrame, source: str, *, known: KnownCodes | None = None, today: dt.date | None = None
) -> None:
    """Raise one EvalkitError for the first implausible row of one source's tidy measures."""
    rules = SOURCES.get(source)
    if rules is None or frame.height == 0 or "measure" not in frame.columns:
        return
    if ROW not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias(ROW))
    if COLUMN not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias(COLUMN))
    last = last_plausible_year(rules, today)
    years = frame["year"]
    bad = (years < rules.first_year) | (years > last)
    if bad.any():
        idx = int(bad.arg_true()[0])
        _fail(
            frame,
            bad,
            f"year {years[idx]} is not a year this publication can cover",
            f"a year from {rules.first_year} to {last}",
            "time_period",
            fixed_column=True,
        )
    value = frame["value"]
    has = value.is_not_null()
    for unit, rng in UNITS.items():
        in_unit = (frame["unit"] == unit) & has & ~frame["measure"].is_in(list(rules.populations))
        _range(frame, in_unit, rng)
    if rules.populations:
        pops = frame["measure"].is_in(list(rules.populations)) & has
        _range(frame, pops, POPULATION_BAND)
    for check in rules.rate_checks:
        _rates(frame, check)
    for share in rules.share_checks:
        _shares(frame, share)
    if rules.populations:
        _jumps(frame, rules.populations)
    if known is not None:
        known.check(frame, as_of_year=rules.codes_as_of_year)
    dup = frame.select(pl.struct(list(rules.keys)).is_duplicated()).to_series()
    if dup.any():
        # the same council-year twice is allowed only when the rows are identical
        distinct = frame.filter(dup).unique(subset=[c for c in frame.columns if c not in (ROW, COLUMN)])
        clash = distinct.select(pl.struct(list(rules.keys)).is_duplicated()).to_series()
        if clash.any():
            first = distinct.filter(clash).sort(ROW, nulls_last=True)
            _fail(
                first,
                pl.Series([True] + [False] * (first.height - 1)),
                "a second, different value for the same council-year",
                "one row per council-year and measure",
            )


def _range(frame: pl.DataFrame, mask: pl.Series, rng: Range) -> None:
    if not mask.any():
        return
    v = frame["value"]
    bad = pl.Series([False] * frame.height)
    if rng.low is not None:
        bad = bad | (mask & (v < rng.low)).fill_null(False)
    if rng.high is not None:
        bad = bad | (mask & (v > rng.high)).fill_null(False)
    if rng.integer:
        bad = bad | (mask & ((v - v.round(0)).abs() > 1e-9)).fill_null(False)
    if bad.any():
        idx = int(bad.arg_true()[0])
        _fail(frame, bad, f"value {_value_text(v[idx])} is not plausible", rng.what)


def _rates(frame: pl.DataFrame, check: RateCheck) -> None:
    keys = ["year", "la_code", "file"]
    part = {}
    for role, measure in (("rate", check.rate), ("count", check.count), ("population", check.population)):
        part[role] = frame.filter(pl.col("measure") == measure).select(
            *keys,
            pl.col("value").alias(role),
            *([pl.col(ROW), pl.col(COLUMN), pl.col("measure")] if role == "rate" else []),
        )
    joined = part["rate"].join(part["count"], on=keys, how="inner").join(part["population"], on=keys, how="inner")
    joined = joined.filter(
        pl.col("rate").is_not_null()
        & pl.col("count").is_not_null()
        & pl.col("population").is_not_null()
        & (pl.col("population") > 0)
    )
    if joined.height == 0:
        return
    implied = joined["count"] / joined["population"] * 10_000
    bad = (joined["rate"] - implied).abs() > check.tolerance + 0.005 * implied
    if bad.any():
        idx = int(bad.arg_true()[0])
        _fail(
            joined,
            bad,
            f"rate {_value_text(joined['rate'][idx])} does not match count {_value_text(joined['count'][idx])}"
            f" / population {_value_text(joined['population'][idx])} (= {implied[idx]:.1f})",
            f"the rate per 10,000 implied by the count and population, within {check.tolerance:g} for rounding",
        )


def _shares(frame: pl.DataFrame, check: ShareCheck) -> None:
    keys = ["year", "la_code", "file"]
    part = {}
    for role, measure in (("percent", check.percent), ("part", check.part), ("rest", check.rest)):
        part[role] = frame.filter(pl.col("measure") == measure).select(
            *keys,
            pl.col("value").alias(role),
            *([pl.col(ROW), pl.col(COLUMN), pl.col("measure")] if role == "percent" else []),
        )
    joined = (
        part["percent"]
        .join(part["part"], on=keys, how="inner")
        .join(part["rest"], on=keys, how="inner")
        .filter(
            pl.col("percent").is_not_null()
            & pl.col("part").is_not_null()
            & pl.col("rest").is_not_null()
            & ((pl.col("part") + pl.col("rest")) > 0)
        )
    )
    if joined.height == 0:
        return
    implied = joined["part"] / (joined["part"] + joined["rest"]) * 100
    bad = (joined["percent"] - implied).abs() > check.tolerance
    if bad.any():
        idx = int(bad.arg_true()[0])
        _fail(
            joined,
            bad,
            f"{check.percent} {_value_text(joined['percent'][idx])}% does not match {check.part} "
            f"{_value_text(joined['part'][idx])} of {_value_text(joined['part'][idx] + joined['rest'][idx])} "
            f"(= {implied[idx]:.1f}%)",
            f"the percentage implied by the counts beside it, within {check.tolerance:g} points",
        )


def _jumps(frame: pl.DataFrame, populations: frozenset[str]) -> None:
    """A council's population that differs from both neighbouring years by more than POPULATION_JUMP."""
    pops = frame.with_row_index("__i").filter(
        pl.col("measure").is_in(list(populations)) & pl.col("value").is_not_null()
    )
    if pops.height < 2:
        return
    group = [c for c in ("la_code", "gss_code", "measure", "file") if c in frame.columns]
    pops = pops.sort([*group, "year"]).with_columns(
        prev=pl.col("value").shift(1).over(group),
        prev_year=pl.col("year").shift(1).over(group),
        next=pl.col("value").shift(-1).over(group),
        next_year=pl.col("year").shift(-1).over(group),
    )

    def far(other: str, other_year: str) -> pl.Expr:
        ratio = pl.max_horizontal(pl.col("value"), pl.col(other)) / pl.min_horizontal(pl.col("value"), pl.col(other))
        near = (pl.col(other_year) - pl.col("year")).abs().is_between(1, 2)
        return pl.when(pl.col(other).is_not_null() & near & (pl.col(other) > 0)).then(ratio > POPULATION_JUMP)

    flagged = pops.with_columns(a=far("prev", "prev_year"), b=far("next", "next_year")).with_columns(
        # both neighbours far (a spike), or the only neighbour far (a series end)
        bad=pl.when(pl.col("a").is_null())
        .then(pl.col("b"))
        .when(pl.col("b").is_null())
        .then(pl.col("a"))
        .otherwise(pl.col("a") & pl.col("b"))
        .fill_null(False)
    )
    flagged = flagged.filter(pl.col("bad")).sort("__i")
    if flagged.height:
        r = flagged.row(0, named=True)
        neighbours = ", ".join(
            f"{int(y)}: {_value_text(v)}"
            for y, v in ((r["prev_year"], r["prev"]), (r["next_year"], r["next"]))
            if v is not None
        )
        mask = pl.Series([i == r["__i"] for i in range(frame.height)])
        _fail(
            frame,
            mask,
            f"population {_value_text(r['value'])} jumps more than {POPULATION_JUMP:g}-fold from the same "
            f"council's neighbouring years ({neighbours})",
            "a population within a factor of 1.5 of the years beside it",
        )


# --- Populations across publications ---------------------------------------------------------------

# Two publications' child populations of one council (years within one of each other: the CLA
# denominator of March Y is ONS's mid-year Y-1 estimate) agree to a few per cent, revisions to a
# census included; the City of London (under 1,000 children) differs by up to 67 % between releases.
# A value more than POPULATION_JUMP-fold and more than POPULATION_SLACK children from every other
# publication's is an edit or a unit error.
POPULATION_SLACK = 1_000


def check_populations_across(
    files: list[tuple[pl.DataFrame, str]], *, known: KnownCodes | None = None, checked: int | None = None
) -> None:
    """Raise when a council's child population in one file disagrees with every other file that reports
    it (by more than POPULATION_JUMP-fold and POPULATION_SLACK children), naming both files. Only the
    first `checked` files (default all) can be refused; the rest are compared against."""
    pops = _population_rows(files, known)
    if pops.height == 0 or pops["pub"].n_unique() < 2:
        return
    pairs = (
        pops.join(pops, on="council", suffix="_o")
        .filter((pl.col("pub") != pl.col("pub_o")) & ((pl.col("year") - pl.col("year_o")).abs() <= 1))
        .with_columns(
            ratio=pl.max_horizontal("value", "value_o") / pl.min_horizontal("value", "value_o"),
            gap=(pl.col("value") - pl.col("value_o")).abs(),
        )
        .with_columns(far=(pl.col("ratio") > POPULATION_JUMP) & (pl.col("gap") > POPULATION_SLACK))
    )
    if pairs.height == 0:
        return
    verdict = pairs.group_by("pub", "i").agg(
        pl.col("far").all().alias("all_far"), pl.col("pub_o").filter(pl.col("far")).n_unique().alias("n_far")
    )
    flagged = verdict.filter(pl.col("all_far") & (pl.col("pub") < (len(files) if checked is None else checked)))
    flagged = flagged.sort(["n_far", "pub", "i"], descending=[True, False, False])
    if flagged.height == 0:
        return
    pub, i = flagged.row(0)[:2]
    mine = pops.filter((pl.col("pub") == pub) & (pl.col("i") == i)).row(0, named=True)
    other = pairs.filter((pl.col("pub") == pub) & (pl.col("i") == i)).sort(["ratio", "pub_o", "i_o"]).row(0, named=True)
    frame = files[pub][0]
    where = f", row {other['row_o']}" if other["row_o"] is not None else ""
    _fail(
        frame,
        pl.Series([k == i for k in range(frame.height)]),
        f"population {_value_text(mine['value'])} is more than {POPULATION_JUMP:g}-fold from the "
        f"{_value_text(other['value_o'])} that {other['file_o']}{where} reports for {other['year_o']}",
        f"a child population within {POPULATION_JUMP:g}-fold or {POPULATION_SLACK:,} children of what the other "
        "publications report for the council",
    )


def _population_rows(files: list[tuple[pl.DataFrame, str]], known: KnownCodes | None) -> pl.DataFrame:
    """Every published child population: (pub, i, council, year, value, file, row), one frame."""
    gss_to_code: dict[str, str] = {}
    if known is not None:
        for code, gss in known.pairs:
            if "/" not in code:
                gss_to_code.setdefault(gss, code)
    parts = []
    for pub, (frame, source) in enumerate(files):
        rules = SOURCES.get(source)
        if rules is None or not rules.populations or "measure" not in frame.columns or frame.height == 0:
            continue
        council = pl.col("la_code") if "la_code" in frame.columns else pl.lit(None, dtype=pl.Utf8)
        if "gss_code" in frame.columns and gss_to_code:
            council = pl.coalesce(
                council, pl.col("gss_code").replace_strict(gss_to_code, default=None, return_dtype=pl.Utf8)
            )
        parts.append(
            frame.with_row_index("i")
            .filter(pl.col("measure").is_in(list(rules.populations)) & pl.col("value").is_not_null())
            .select(
                pl.lit(pub, dtype=pl.Int64).alias("pub"),
                pl.col("i").cast(pl.Int64),
                council.alias("council"),
                pl.col("year").cast(pl.Int64),
                pl.col("value").cast(pl.Float64),
                (pl.col("file") if "file" in frame.columns else pl.lit(None)).cast(pl.Utf8).alias("file"),
                (pl.col(ROW) if ROW in frame.columns else pl.lit(None)).cast(pl.Int64).alias("row"),
            )
            .filter(pl.col("council").is_not_null() & ~pl.col("council").str.contains("/") & (pl.col("value") > 0))
        )
    return pl.concat(parts) if parts else pl.DataFrame()


# --- LA codes known for the year -------------------------------------------------------------------

# How many years before its issue a council's area code may stand on a row. EES local-authority files
# cover five or six years and are written with the codes in force at release, carried back to their
# first year: Buckinghamshire's E06000060 (issued 2020) is on the 2017 rows of the 2017-2022 workforce
# file, North Yorkshire's E06000065 (2023) on the 2020 rows of the 2020-2024 CLA files: 3 years in the
# reference files; a six-year file allows 5, and a file's rows never carry a code issued after its data end.
GSS_LEAD = 5


def _period(old: tuple[int, int | None] | None, issued: int, retired: int | None) -> tuple[int, int | None]:
    """The years a GSS code is in use, over every row of DfE's list that carries it."""
    if old is None:
        return issued, retired
    return min(old[0], issued), None if old[1] is None or retired is None else max(old[1], retired)


def _span(period: tuple[int, int | None]) -> str:
    issued, retired = period
    if retired is None:
        return "in use" if issued == 0 else f"from {issued}"
    return f"to {retired}" if issued == 0 else f"{issued}-{retired}"


@dataclass
class KnownCodes:
    """Which DfE codes (and code/GSS pairs) exist, and when. Built from DfE's LA list.

    A code with a published value must exist in the year (a margin of one year either side covers
    the sources' different year labels); filler rows (no value, a marker) of a code that exists at
    some time are allowed, as the files carry them for councils before creation or after abolition.
    """

    first: dict[str, int]  # code -> first year it may carry values
    last: dict[str, int]  # code -> last year
    pairs: set[tuple[str, str]] = field(default_factory=set)
    source: str = ""
    # GSS code -> (year issued, year retired or None); 0 for codes in use when DfE's list began (2009)
    periods: dict[str, tuple[int, int | None]] = field(default_factory=dict)

    @classmethod
    def from_lookup(cls, lookup: pl.DataFrame, source: str) -> KnownCodes:
        first: dict[str, int] = {}
        last: dict[str, int] = {}
        pairs: set[tuple[str, str]] = set()
        periods: dict[str, tuple[int, int | None]] = {}
        for r in lookup.iter_rows(named=True):
            code = r.get("la_code")
            if not code:
                continue
            start = r.get("date_of_operation")
            end = r.get("date_of_termination")
            # DfE dates most councils to 2009 (when the list began): only a later start is a real creation date.
            y0 = start.year if isinstance(start, dt.date) and start > dt.date(2009, 4, 1) else 0
            y1 = end.year + 1 if isinstance(end, dt.date) else 9999
            first[code] = min(first.get(code, y0), y0)
            last[code] = max(last.get(code, y1), y1)
            gss = r.get("gss_code")
            if gss:
                pairs.add((code, gss))
                periods[gss] = _period(periods.get(gss), y0, end.year if isinstance(end, dt.date) else None)
        return cls(first, last, pairs, source, periods)

    def check(self, frame: pl.DataFrame, *, as_of_year: bool = True) -> None:
        if "la_code" not in frame.columns:
            return
        codes = frame["la_code"]
        single = codes.is_not_null() & ~codes.str.contains("/").fill_null(False)
        self._check_joint(frame, codes)
        known = codes.is_in(list(self.first))
        unknown = single & ~known
        _fail(
            frame,
            unknown,
            f"LA code {codes.filter(unknown).head(1).to_list()[0] if unknown.any() else ''} is not a council DfE lists",
            f"a DfE LA code in {self.source}",
            "old_la_code",
            fixed_column=True,
        )
        if not as_of_year:
            return
        valued = frame["value"].is_not_null() & single
        first = codes.replace_strict(self.first, default=None, return_dtype=pl.Int64)
        last = codes.replace_strict(self.last, default=None, return_dtype=pl.Int64)
        early = valued & (frame["year"] < first - 1).fill_null(False)
        late = valued & (frame["year"] > last).fill_null(False)
        bad = early | late
        if bad.any():
            idx = int(bad.arg_true()[0])
            _fail(
                frame,
                bad,
                f"LA code {codes[idx]} did not exist in {frame['year'][idx]}",
                f"a council in existence that year (per {self.source})",
                "old_la_code",
                fixed_column=True,
            )
        if "gss_code" in frame.columns and self.pairs:
            gss = frame["gss_code"]
            # Every GSS code beside a single council's code, Welsh (W...) ones included; then the year
            # (`_check_issued`): a code of the council's own, but not yet issued, is refused too.
            paired = single & gss.is_not_null() & (gss.str.strip_chars() != "").fill_null(False)
            if paired.any():
                combo = codes + "|" + gss
                allowed = [f"{c}|{g}" for c, g in self.pairs]
                mismatch = paired & ~combo.is_in(allowed).fill_null(False)
                if mismatch.any():
                    idx = int(mismatch.arg_true()[0])
                    _fail(
                        frame,
                        mismatch,
                        f"LA code {codes[idx]} is paired with area code {gss[idx]}, which is another council's",
                        f"the GSS code DfE lists for {codes[idx]}",
                        "new_la_code",
                        fixed_column=True,
                    )
                self._check_issued(frame, paired & valued)

    def _check_issued(self, frame: pl.DataFrame, rows: pl.Series) -> None:
        """A council's own area code on a valued row must have been issued by the row's year, allowing
        GSS_LEAD years (files carry the codes in force at release back on earlier rows), and by the
        file's own last year. A retired code of the council's own is allowed on any later row: DfE's
        files keep old codes for years after a change (Gateshead's E08000020, retired 2013, on 2019 rows)."""
        if not self.periods or not rows.any():
            return
        issued = frame["gss_code"].replace_strict(
            {g: p[0] for g, p in self.periods.items()}, default=None, return_dtype=pl.Int64
        )
        by_file = frame.select(pl.col("year").max().over("file") if "file" in frame.columns else pl.col("year").max())
        file_last = by_file.to_series()
        limit = pl.min_horizontal(frame["year"] + GSS_LEAD, file_last + 1).alias("limit")
        early = rows & (issued > frame.select(limit).to_series()).fill_null(False)
        if not early.any():
            return
        idx = int(early.arg_true()[0])
        code, gss, year = frame["la_code"][idx], frame["gss_code"][idx], int(frame["year"][idx])
        own = sorted(
            (g for c, g in self.pairs if c == code and "/" not in g),
            key=lambda g: (self.periods[g][0], self.periods[g][1] or 9999),
        )
        valid = ", ".join(f"{g} {_span(self.periods[g])}" for g in own)
        last = int(file_last[idx])
        why = f"{year} row" if issued[idx] > year + GSS_LEAD else f"{year} row of a file whose data end in {last}"
        _fail(
            frame,
            early,
            f"LA code {code} is paired with area code {gss}, first issued in {issued[idx]}, on a {why}",
            f"an area code of {code} valid by {year} ({valid}; a code may stand up to {GSS_LEAD} years"
            " before it was issued, in files recoded at release)",
            "new_la_code",
            fixed_column=True,
        )

    def _check_joint(self, frame: pl.DataFrame, codes: pl.Series) -> None:
        """A joint unit (``314 / 318``) is checked like single ones: each of its codes must be a council."""
        joint = codes.is_not_null() & codes.str.contains("/").fill_null(False)
        if not joint.any():
            return
        for code in codes.filter(joint).unique(maintain_order=True).to_list():
            parts = [p.strip() for p in code.split("/")]
            unknown = [p for p in parts if p not in self.first]
            if unknown or len(set(parts)) != len(parts) or len(parts) < 2:
                what = f"{unknown[0]} is not a council DfE lists" if unknown else "names a council twice"
                _fail(
                    frame,
                    joint & (codes == code),
                    f"joint LA code {code!r}: {what}",
                    f"a joint unit of DfE LA codes in {self.source}",
                    "old_la_code",
                    fixed_column=True,
                )


def known_codes_from(tables: Mapping[str, pl.DataFrame], *, synthetic_demo: bool) -> KnownCodes | None:
    """The lookup in force: DfE's LA list ingested in the same set, else the one shipped in the package.

    The demo's councils are fictional (codes 001-048, GSS E99...), so synthetic demo data are checked
    against the demo's own council list.
    """
    if "la_codes" in tables:
        return KnownCodes.from_lookup(tables["la_codes"], "the LA list ingested with these files (dfe_las.csv)")
    if synthetic_demo:
        from evalkit.demo import dgp

        councils = dgp._councils()  # the fictional council list the demo files are drawn from
        return KnownCodes(
            {c: 0 for c in councils["la_code"]},
            {c: 9999 for c in councils["la_code"]},
            set(zip(councils["la_code"], councils["gss_code"])),
            "the demo's fictional councils",
        )
    return packaged_codes()


PACKAGED = "la_codes_known.csv"


def packaged_codes() -> KnownCodes:
    """DfE's LA list as shipped (codes, GSS codes and dates only; see tools/derive_la_codes.py)."""
    from importlib import resources

    path = Path(str(resources.files("evalkit") / "data" / PACKAGED))
    frame = pl.read_csv(path, comment_prefix="#", infer_schema=False).with_columns(
        pl.col("date_of_operation").str.to_date("%Y-%m-%d", strict=False),
        pl.col("date_of_termination").str.to_date("%Y-%m-%d", strict=False),
    )
    return KnownCodes.from_lookup(frame, "DfE's LA list shipped with evalkit")


def strip_row_columns(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.drop([c for c in (ROW, COLUMN) if c in frame.columns])


__all__ = [
    "SOURCES",
    "UNITS",
    "Source",
    "RateCheck",
    "Range",
    "check_measures",
    "check_within_release",
    "check_populations_across",
    "KnownCodes",
    "known_codes_from",
    "packaged_codes",
    "strip_row_columns",
    "ROW",
    "COLUMN",
]
