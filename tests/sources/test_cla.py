"""CLA parser: real values from the reference files, malformed inputs, and the demo round trip."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evalkit.demo import writers
from evalkit.errors import EvalkitError
from evalkit.sources import cla
from evalkit.sources.common import MEASURES_SCHEMA
from tests.shared_data import REFERENCE

REF = REFERENCE / "cla"
MALFORMED = Path(__file__).parent / "malformed"
needs_ref = pytest.mark.skipif(not REF.is_dir(), reason=f"reference folder {REF} is absent")


def value(frame: pl.DataFrame, year: int, la_code: str, measure: str) -> tuple[float | None, str | None]:
    hit = frame.filter((pl.col("year") == year) & (pl.col("la_code") == la_code) & (pl.col("measure") == measure))
    assert hit.height == 1, hit
    return hit["value"][0], hit["marker"][0]


@pytest.fixture(scope="module")
def rate2025() -> pl.DataFrame:
    return cla.parse(REF / "ees_cla_number_and_rate_per_10k_children_latest_dfe_dashboard.csv")


@pytest.fixture(scope="module")
def rate2024() -> pl.DataFrame:
    return cla.parse(REF / "ees_cla_number_and_rate_per_10k_children_2020_2024.csv")


# --- real files ---------------------------------------------------------------------------------


@needs_ref
@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("ees_cla_number_and_rate_per_10k_children_latest_dfe_dashboard.csv", 3875),  # 775 LA rows x 5 - 0
        ("ees_cla_number_and_rate_per_10k_children_2020_2024.csv", 3875),
        ("ees_cla_number_and_rate_per_10k_children_2019_2023.csv", 3900),
        ("ees_la_cla_at_31_march_placement_stability_indicator_2018_2022.csv", 780),
        ("ees_la_cla_placement_stability_2020_2024.csv", 775),
        ("ees_la_cla_who_started_to_be_looked_after_2018_2022.csv", 780),
        ("sfr_SFR27_2010_March.csv", 304),
        ("sfr_SFR21_CLA.csv", 151),
        ("sfr_SFR20_CLA2012.csv", 151),
        ("sfr_SFR36_CLA2013.csv", 151),
        ("sfr_SFR36_CLA2014.csv", 151),
        ("sfr_SFR34_CLA2015.csv", 151),
        ("sfr_SFR41_CLA2016.csv", 151),
        ("sfr_SFR50_CLA2017.csv", 152),
        ("sfr_SFR50_ADM2017.csv", 151),
    ],
)
def test_row_counts_and_schema(name: str, rows: int) -> None:
    path = REF / name
    assert cla.detect(path)
    frame = cla.parse(path)
    assert frame.height == rows
    assert dict(frame.schema) == MEASURES_SCHEMA
    assert frame["source"].unique().to_list() == ["cla"]
    assert frame["file"].unique().to_list() == [name]
    # a value is either a number or null with its marker, never both
    assert frame.filter(pl.col("value").is_null() & pl.col("marker").is_null()).height == 0
    assert frame.filter(pl.col("value").is_not_null() & pl.col("marker").is_not_null()).height == 0


@needs_ref
def test_detect_rejects_other_files() -> None:
    assert not cla.detect(REF / "ees_cla_time_series_1994_2024.csv")  # national only
    assert not cla.detect(REF / "ees_cla_data_guidance_2023.txt")
    assert not cla.detect(REFERENCE / "cin" / "ees_b1_children_in_need_2013_to_2025.csv")


@needs_ref
def test_rate_file_2024_hartlepool(rate2024: pl.DataFrame) -> None:
    # 2024,...,805,Hartlepool,E06000001,Children ceasing to be looked after each year,20417,114,56
    assert value(rate2024, 2024, "805", "cla_ceasing") == (114.0, None)
    assert value(rate2024, 2024, "805", "population_0_17_cla_denominator") == (20417.0, None)
    row = rate2024.filter((pl.col("la_code") == "805") & (pl.col("year") == 2024)).row(0, named=True)
    assert row["gss_code"] == "E06000001" and row["la_name"] == "Hartlepool"
    den = rate2024.filter((pl.col("la_code") == "805") & (pl.col("measure") == "population_0_17_cla_denominator"))
    assert den.filter(pl.col("year") == 2024)["reference_date"][0] == dt.date(2023, 6, 30)  # mid-(t-1)


@needs_ref
def test_doncaster_2022_in_every_file(rate2025: pl.DataFrame, rate2024: pl.DataFrame) -> None:
    stability = cla.parse(REF / "ees_la_cla_at_31_march_placement_stability_indicator_2018_2022.csv")
    stability24 = cla.parse(REF / "ees_la_cla_placement_stability_2020_2024.csv")
    for frame in (rate2025, rate2024, stability, stability24):
        assert value(frame, 2022, "371", "cla_at_31_march") == (589.0, None)
    assert value(rate2025, 2022, "371", "cla_rate_per_10000") == (92.0, None)
    assert value(rate2025, 2022, "371", "cla_starting") == (220.0, None)
    assert value(rate2025, 2022, "371", "population_0_17_cla_denominator") == (64097.0, None)
    assert value(stability, 2018, "371", "cla_at_31_march") == (568.0, None)  # the only 2018 count
    row = rate2025.filter(pl.col("year") == 2022).row(0, named=True)
    assert row["reference_date"] == dt.date(2022, 3, 31)


@needs_ref
def test_who_started_total() -> None:
    frame = cla.parse(REF / "ees_la_cla_who_started_to_be_looked_after_2018_2022.csv")
    assert set(frame["measure"]) == {"cla_starting"}
    # differs from the rate file's 220 for the same year (documented in the module)
    assert value(frame, 2022, "371", "cla_starting") == (214.0, None)


@needs_ref
def test_sfr_files() -> None:
    assert value(cla.parse(REF / "sfr_SFR36_CLA2014.csv"), 2014, "371", "cla_at_31_march") == (499.0, None)
    s2011 = cla.parse(REF / "sfr_SFR21_CLA.csv")
    assert value(s2011, 2011, "371", "cla_at_31_march") == (450.0, None)
    assert s2011.filter(pl.col("la_code") == "371")["gss_code"][0] == "E08000017"
    assert set(s2011["measure"]) == {"cla_at_31_march"}  # CLA_stp2011 is short-term placements, not starts
    s2017 = cla.parse(REF / "sfr_SFR50_CLA2017.csv")
    assert value(s2017, 2017, "371", "cla_at_31_march") == (510.0, None)
    assert value(s2017, 2017, "420", "cla_at_31_march") == (0.0, None)  # Isles of Scilly, empty geog_l
    assert value(cla.parse(REF / "sfr_SFR50_ADM2017.csv"), 2017, "371", "cla_starting") == (212.0, None)
    s2010 = cla.parse(REF / "sfr_SFR27_2010_March.csv")
    assert value(s2010, 2010, "371", "cla_at_31_march") == (466.0, None)
    assert value(s2010, 2010, "371", "population_0_17_cla_denominator") == (63300.0, None)
    assert s2010["gss_code"].null_count() == s2010.height  # no GSS code in 2010
    # national and regional rows are gone
    for frame in (s2011, s2017, s2010):
        assert frame["la_code"].str.contains(r"^\d{3}$").all() and not frame["la_code"].is_in(["999"]).any()
        assert not frame["la_name"].str.to_uppercase().is_in(["ENGLAND", "NORTH EAST", "LONDON"]).any()
    assert value(s2010, 2010, "921", "cla_at_31_march")[0] is not None  # 921 is the Isle of Wight, not England


@needs_ref
def test_markers_kept_never_zero(rate2025: pl.DataFrame) -> None:
    # 2021,...,420,Isles of Scilly,...,Children ceasing to be looked after each year,306,c,c
    assert value(rate2025, 2021, "420", "cla_ceasing") == (None, "c")
    assert value(rate2025, 2021, "420", "population_0_17_cla_denominator") == (306.0, None)
    # filler rows of councils that did not exist: x,z,z kept as nulls
    assert value(rate2025, 2022, "942", "cla_at_31_march") == (None, "z")
    assert value(rate2025, 2022, "942", "population_0_17_cla_denominator") == (None, "x")
    assert value(rate2025, 2021, "928", "cla_at_31_march") == (1144.0, None)
    assert value(rate2025, 2022, "928", "cla_at_31_march") == (None, "z")
    counts = dict(rate2025["marker"].value_counts().rows())
    assert counts == {"c": 3, "x": 14, "z": 75, None: 3783}


# --- malformed ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "row", "column", "words"),
    [
        ("cla_renamed_column.csv", 1, "children_count", "unrecognised layout"),
        ("cla_missing_column.csv", 1, "rate_per_10000", "unrecognised layout"),
        ("cla_non_numeric.csv", 3, "children_count", "'12O' is not a number"),
        ("cla_cp1252.csv", 3, "la_name", "cannot be decoded"),
        ("cla_empty.csv", 1, None, "empty"),
        ("cla_truncated.csv", 4, "population_type", "truncated"),
        ("cla_duplicate.csv", 5, "old_la_code", "duplicated"),
        ("cla_sfr_non_numeric.csv", 3, "CLA_Mar2014", "'2OO' is not a number"),
    ],
)
def test_malformed(name: str, row: int, column: str | None, words: str) -> None:
    with pytest.raises(EvalkitError) as info:
        cla.parse(MALFORMED / name)
    err = info.value
    assert err.file == name and err.row == row and err.column == column
    assert words in str(err) and "\n" not in str(err)


# --- demo writer ----------------------------------------------------------------------------------

MEASURE_UNITS = {
    "cla_at_31_march": "count",
    "cla_starting": "count",
    "cla_ceasing": "count",
    "cla_rate_per_10000": "rate_per_10000",
    "population_0_17_cla_denominator": "count",
}


def tidy(records: list[dict]) -> pl.DataFrame:
    rows = []
    for r in records:
        rows.append(
            {
                "source": "cla",
                "file": cla.DEMO_FILE,
                "year": r["year"],
                "reference_date": dt.date(r["year"] - 1, 6, 30)
                if r["measure"] == "population_0_17_cla_denominator"
                else dt.date(r["year"], 3, 31),
                "la_code": r["la_code"],
                "gss_code": f"E99000{r['la_code']}",
                "la_name": r["la_name"],
                "measure": r["measure"],
                "value": r["value"],
                "marker": r["marker"],
                "unit": MEASURE_UNITS[r["measure"]],
            }
        )
    return pl.DataFrame(rows, schema=MEASURES_SCHEMA)


def demo_records(councils: list[tuple[str, str]], years: list[int], cells: dict) -> list[dict]:
    out = []
    for code, name in councils:
        for year in years:
            for measure in MEASURE_UNITS:
                v, m = cells.get((code, year, measure), (float(hash((code, year, measure)) % 500), None))
                out.append(
                    {"year": year, "la_code": code, "la_name": name, "measure": measure, "value": v, "marker": m}
                )
    return out


def test_demo_round_trip_and_bytes(tmp_path: Path) -> None:
    councils = [("011", "Ashford Vale"), ("012", "Brookmere, City of"), ("013", "Cinder Fell")]
    cells = {
        ("012", 2024, "cla_ceasing"): (None, "c"),
        ("013", 2023, "cla_at_31_march"): (None, "z"),
        ("013", 2023, "cla_rate_per_10000"): (None, "z"),
        ("013", 2023, "population_0_17_cla_denominator"): (None, "x"),
    }
    frame = tidy(demo_records(councils, [2023, 2024], cells)).with_columns(
        pl.when(pl.col("la_code") == "013")
        .then(pl.lit("E12999998"))
        .otherwise(pl.lit("E12999999"))
        .alias("region_code"),
        pl.when(pl.col("la_code") == "013")
        .then(pl.lit("Other Region"))
        .otherwise(pl.lit("Demo Region"))
        .alias("region_name"),
    )
    [path] = writers.write_cla(frame, tmp_path / "a")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf" + ",".join(cla.DEMO_HEADER).encode())
    assert b"\r" not in raw and b'"Brookmere, City of"' in raw
    assert b"\n2024,Reporting year,National,E92000001,England,,,,,," in raw
    assert cla.detect(path)
    back = cla.parse(path)
    expected = frame.drop("region_code", "region_name").sort(["year", "la_code", "measure", "file"])
    assert back.equals(expected)
    # byte-deterministic, whatever the input order
    [again] = writers.write_cla(frame.reverse(), tmp_path / "b")
    assert again.read_bytes() == raw


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    n=st.integers(1, 4),
    years=st.lists(st.integers(2015, 2030), min_size=1, max_size=3, unique=True),
    values=st.lists(
        st.one_of(st.integers(0, 100000).map(float), st.sampled_from(["c", "x", "z"])), min_size=60, max_size=60
    ),
)
def test_demo_round_trip_property(
    tmp_path_factory: pytest.TempPathFactory, n: int, years: list[int], values: list
) -> None:
    councils = [(f"{11 + i:03d}", f"Council {i}") for i in range(n)]
    records = demo_records(councils, years, {})
    for rec, v in zip(records, values * 10):
        rec["value"], rec["marker"] = (None, v) if isinstance(v, str) else (v, None)
    frame = tidy(records)
    [path] = writers.write_cla(frame, tmp_path_factory.mktemp("demo"))
    assert cla.parse(path).equals(frame.sort(["year", "la_code", "measure", "file"]))
