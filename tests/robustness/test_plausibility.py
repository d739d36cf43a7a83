"""Values that fit their own column's bounds but not their neighbours (issue #30, item 2, plausibility).

Hartlepool's child population edited to 1,999,999 (published 20,164; inside the 50-2,000,000 band)
turned its CLA rate from 159.2 into 1.6 without a word; a joint code `999 / 998` became a 152nd
council; Welsh and other councils' GSS codes passed; an agency rate of 99 % beside 5 agency
FTE of 151 passed; money was unbounded. Each is now refused in one line naming the file and row.
Real files are edited at test time (skipped when the shared reference data are absent); the small
tidy tables are built here.
"""

from __future__ import annotations

import polars as pl
import pytest

from evalkit import validation
from evalkit.errors import EvalkitError
from evalkit.sources import population
from tests.shared_data import REFERENCE, absent_reason

POPULATION_FILE = REFERENCE / "population" / "ons_mid-year_population_estimates_2012_to_2024.csv"


def _tidy(rows: list[tuple], source_unit: str = "count") -> pl.DataFrame:
    """rows of (year, la_code, gss_code, measure, value, unit)."""
    return pl.DataFrame(
        rows, schema=["year", "la_code", "gss_code", "measure", "value", "unit"], orient="row"
    ).with_columns(
        pl.lit("f.csv").alias("file"),
        pl.col("year").cast(pl.Int64),
        pl.col("value").cast(pl.Float64),
        pl.col("gss_code").cast(pl.Utf8),
    )


@pytest.mark.skipif(not POPULATION_FILE.is_file(), reason=absent_reason(POPULATION_FILE))
def test_hartlepool_population_edit_is_refused() -> None:
    frame = population.parse(POPULATION_FILE)
    validation.check_measures(frame, "population")  # the published file passes
    edited = frame.with_columns(
        pl.when((pl.col("la_code") == "805") & (pl.col("year") == 2022))
        .then(1_999_999.0)
        .otherwise(pl.col("value"))
        .alias("value")
    )
    with pytest.raises(EvalkitError, match=r"1999999 jumps more than 1.5-fold .*2021: 19864, 2023: 20541"):
        validation.check_measures(edited, "population")


def test_population_jump_at_a_series_end_is_refused() -> None:
    rows = [(y, "805", "E06000001", "population_0_17", 20_000.0 + y, "count") for y in range(2015, 2020)]
    rows.append((2020, "805", "E06000001", "population_0_17", 200.0, "count"))
    with pytest.raises(EvalkitError, match="jumps"):
        validation.check_measures(_tidy(rows), "population", known=validation.packaged_codes())
    validation.check_measures(_tidy(rows[:-1]), "population", known=validation.packaged_codes())


def test_joint_code_of_unknown_councils_is_refused() -> None:
    known = validation.packaged_codes()
    ok = _tidy([(2020, "314 / 318", None, "social_workers_fte", 100.0, "fte")])
    validation.check_measures(ok, "workforce", known=known)
    bad = _tidy([(2020, "999 / 998", None, "social_workers_fte", 100.0, "fte")])
    with pytest.raises(EvalkitError, match="joint LA code '999 / 998': 999 is not a council"):
        validation.check_measures(bad, "workforce", known=known)


@pytest.mark.parametrize(
    "gss,why",
    [
        ("W06000001", "another council's"),  # Welsh (Isle of Anglesey)
        ("E06000002", "another council's"),  # Middlesbrough's code beside Hartlepool's
    ],
)
def test_gss_codes_are_checked_by_year(gss: str, why: str) -> None:
    known = validation.packaged_codes()
    code = "929" if gss == "E06000048" else "805"
    good = "E06000057" if code == "929" else "E06000001"
    validation.check_measures(_tidy([(2020, code, good, "cla_at_31_march", 100.0, "count")]), "cla", known=known)
    with pytest.raises(EvalkitError, match=why):
        validation.check_measures(_tidy([(2020, code, gss, "cla_at_31_march", 100.0, "count")]), "cla", known=known)


def test_agency_rate_is_checked_against_its_counts() -> None:
    rows = [
        (2020, "805", "E06000001", "agency_fte", 5.0, "fte"),
        (2020, "805", "E06000001", "social_workers_fte", 151.0, "fte"),
        (2020, "805", "E06000001", "agency_rate_fte", 3.2, "percent"),
    ]
    validation.check_measures(_tidy(rows), "workforce")
    rows[2] = (2020, "805", "E06000001", "agency_rate_fte", 99.0, "percent")
    with pytest.raises(EvalkitError, match=r"agency_rate_fte 99% does not match agency_fte 5 of 156"):
        validation.check_measures(_tidy(rows), "workforce")


@pytest.mark.parametrize("value", [1e15, -1e12])
def test_money_is_bounded(value: float) -> None:
    rows = [(2020, "805", "E06000001", "spend_cla", 12_500_000.0, "gbp")]
    validation.check_measures(_tidy(rows), "lait")
    rows[0] = (2020, "805", "E06000001", "spend_cla", value, "gbp")
    with pytest.raises(EvalkitError, match="between -£10bn and £10bn"):
        validation.check_measures(_tidy(rows), "lait")


def test_unit_cost_is_bounded() -> None:
    rows = [(2020, "805", "E06000001", "spend_cla_per_child_week", 5e6, "gbp_per_child_week")]
    with pytest.raises(EvalkitError, match="weekly cost per child"):
        validation.check_measures(_tidy(rows), "lait")


@pytest.mark.skipif(not REFERENCE.is_dir(), reason=absent_reason(REFERENCE))
def test_real_workforce_files_pass_the_share_check() -> None:
    from evalkit.sources import workforce

    for path in sorted((REFERENCE / "workforce").glob("*.csv")):
        validation.check_measures(workforce.parse(path), "workforce", known=validation.packaged_codes())
