"""Population parser (EES file and ONS workbook), demo writer, and the CLA denominator check."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from evalkit.demo import writers
from evalkit.errors import EvalkitError
from evalkit.sources import cla, population
from evalkit.sources.common import MEASURES_SCHEMA
from tests.shared_data import REFERENCE

REF = REFERENCE
POP = REF / "population"
MALFORMED = Path(__file__).parent / "malformed"
needs_ref = pytest.mark.skipif(not POP.is_dir(), reason=f"reference folder {POP} is absent")
EES = POP / "ons_mid-year_population_estimates_2012_to_2024.csv"
WORKBOOK = POP / "ons_mye23tablesew.xlsx"


@pytest.fixture(scope="module")
def ees() -> pl.DataFrame:
    return population.parse(EES)


@pytest.fixture(scope="module")
def workbook() -> pl.DataFrame:
    return population.parse(WORKBOOK)


def value(frame: pl.DataFrame, year: int, key: str, *, on: str = "la_code") -> tuple[float | None, str | None]:
    hit = frame.filter((pl.col("year") == year) & (pl.col(on) == key))
    assert hit.height == 1, hit
    return hit["value"][0], hit["marker"][0]


@needs_ref
def test_ees_file(ees: pl.DataFrame) -> None:
    assert population.detect(EES)
    assert ees.height == 1976  # 152 LAs x 13 mid-years
    assert dict(ees.schema) == MEASURES_SCHEMA
    assert sorted(ees["year"].unique()) == list(range(2012, 2025))
    assert value(ees, 2024, "840") == (100432.0, None)  # County Durham
    assert value(ees, 2024, "371") == (68271.0, None)  # Doncaster
    assert ees.filter(pl.col("year") == 2024)["reference_date"][0] == dt.date(2024, 6, 30)
    assert value(ees, 2018, "837") == (None, "x")  # Bournemouth, after BCP existed
    assert dict(ees["marker"].value_counts().rows()) == {None: 1955, "x": 21}


@needs_ref
def test_workbook(workbook: pl.DataFrame) -> None:
    assert population.detect(WORKBOOK)
    assert not population.detect(REF / "cla" / "goodair_meta_data.xlsx")
    assert workbook.height == 153  # 63 E06 + 36 E08 + 33 E09 + 21 E10
    assert workbook["la_code"].null_count() == 153
    assert set(workbook["year"]) == {2023}
    assert workbook["reference_date"][0] == dt.date(2023, 6, 30)
    # sum of single years 0-17 in MYE2 - Persons
    assert value(workbook, 2023, "E08000017", on="gss_code") == (66236.0, None)  # Doncaster
    assert value(workbook, 2023, "E06000001", on="gss_code") == (20417.0, None)  # Hartlepool
    assert not workbook["gss_code"].str.starts_with("W").any()


@needs_ref
def test_reconcile_cla_denominator(ees: pl.DataFrame, workbook: pl.DataFrame) -> None:
    cla25 = cla.parse(REF / "cla" / "ees_cla_number_and_rate_per_10k_children_latest_dfe_dashboard.csv")
    by_code = population.reconcile_population(cla25, ees)
    assert by_code.height == 761  # LA rows with a numeric denominator, 2021-2025
    assert dict(by_code["status"].value_counts().rows()) == {"equal_t_minus_1": 761}
    # FORMATS.md's "755 of 761": joining on the GSS code loses North Yorkshire and Somerset, whose
    # GSS codes changed in 2023 while the CLA file uses the new codes for earlier years too.
    by_gss = population.reconcile_population(cla25, ees, on="gss_code")
    assert dict(by_gss["status"].value_counts().rows()) == {"equal_t_minus_1": 755, "no_population": 4, "differs": 2}
    assert set(by_gss.filter(pl.col("status") != "equal_t_minus_1")["la_code"]) == {"815", "933"}

    # The 2024 release used the original mid-2022/mid-2023 estimates: its 2023-24 denominators differ
    # from the (revised) EES file but its 2024 ones equal the mye23 workbook for all 153 LAs.
    cla24 = cla.parse(REF / "cla" / "ees_cla_number_and_rate_per_10k_children_2020_2024.csv")
    old = population.reconcile_population(cla24, ees)
    counts = {(y, s): n for y, s, n in old.group_by("year", "status").len().rows()}
    assert counts == {
        (2020, "equal_t_minus_1"): 151,
        (2021, "equal_t_minus_1"): 151,
        (2022, "equal_t_minus_1"): 152,
        (2023, "differs"): 152,
        (2024, "differs"): 153,
    }
    wb = population.reconcile_population(cla24.filter(pl.col("year") == 2024), workbook, on="gss_code")
    assert dict(wb["status"].value_counts().rows()) == {"equal_t_minus_1": 153}


def test_demo_round_trip(tmp_path: Path) -> None:
    rows = []
    for year in (2023, 2024):
        for i, (code, name) in enumerate(
            [("011", "Ashford Vale"), ("012", "Brookmere, City of"), ("013", "Cinder Fell")]
        ):
            v, m = (None, "x") if (year, code) == (2023, "013") else (float(10000 + 137 * i + year), None)
            rows.append(
                {
                    "source": "population",
                    "file": population.DEMO_FILE,
                    "year": year,
                    "reference_date": dt.date(year, 6, 30),
                    "la_code": code,
                    "gss_code": f"E99000{code}",
                    "la_name": name,
                    "measure": "population_0_17",
                    "value": v,
                    "marker": m,
                    "unit": "count",
                }
            )
    frame = pl.DataFrame(rows, schema=MEASURES_SCHEMA)
    [path] = writers.write_population(frame, tmp_path / "a")
    raw = path.read_bytes()
    assert raw.startswith(",".join(population.DEMO_HEADER).encode() + b"\n")  # no BOM, like the real file
    assert b"2024,Reporting year,National,E92000001,England,,,,,,Children aged 0 to 17 years,36483\n" in raw
    assert population.detect(path)
    assert population.parse(path).equals(frame.sort(["year", "la_code", "measure", "file"]))
    [again] = writers.write_population(frame.reverse(), tmp_path / "b")
    assert again.read_bytes() == raw


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("population_renamed_column.csv", 1, "population_estimate", "unrecognised layout"),
        ("population_missing_column.csv", 1, "population_estimate", "unrecognised layout"),
        ("population_non_numeric.csv", 3, "population_estimate", "'12O' is not a number"),
        ("population_cp1252.csv", 3, "la_name", "cannot be decoded"),
        ("population_empty.csv", 1, None, "empty"),
        ("population_truncated.csv", 4, "age_group", "truncated"),
        ("population_duplicate.csv", 5, "old_la_code", "duplicated council-year"),
    ],
)
def test_malformed(name: str, row: int, column: str | None, words: str) -> None:
    with pytest.raises(EvalkitError) as info:
        population.parse(MALFORMED / name)
    err = info.value
    assert err.file == name and err.row == row and err.column == column
    assert words in str(err) and "\n" not in str(err)
