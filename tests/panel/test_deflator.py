"""Real terms from a user-supplied deflator; the index values here are made up for the test."""

from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.panel.deflator import add_real_terms, read_deflator, rebase
from tests.conftest import REFERENCE, need_reference


def test_real_terms_in_base_year_prices(tmp_path: Path) -> None:
    f = tmp_path / "deflator.csv"
    f.write_text("financial_year,index\n2014-15,80\n2015-16,100\n")
    panel = pl.DataFrame({"year": pl.Series([2015, 2016], dtype=pl.Int32), "spend_csc_per_child": [800.0, 1000.0]})
    out, info = add_real_terms(panel, f)
    assert out["spend_csc_per_child_real"].to_list() == [1000.0, 1000.0]
    assert info["base_year"] == 2016 and len(info["sha256"]) == 64


@pytest.mark.parametrize(
    "body,needle",
    [
        ("financial_year,index\n2015-17,80\n", "row 2"),
        ("financial_year,index\n2015-16,-3\n", "positive"),
        ("year,value\n2015,3\n", "expected columns"),
    ],
)
def test_bad_deflator_is_one_line(tmp_path: Path, body: str, needle: str) -> None:
    f = tmp_path / "deflator.csv"
    f.write_text(body)
    panel = pl.DataFrame({"year": pl.Series([2016], dtype=pl.Int32), "spend_csc_per_child": [1.0]})
    with pytest.raises(EvalkitError) as err:
        add_real_terms(panel, f)
    assert needle in err.value.one_line() and "\n" not in err.value.one_line()


# --- the ONS time-series CSV as published ---------------------------------------------------------------


YBGB = "prices/ons_ybgb_gdp_deflator_2025-06-30.csv"


def test_ons_ybgb_financial_year_average_matches_sources_md() -> None:
    """SOURCES.md: FY 2024-25 = mean of 2024 Q2, Q3, Q4 and 2025 Q1 = 112.4 (YBGB, 2022 = 100)."""
    need_reference()
    index, info = read_deflator(REFERENCE / YBGB)
    fy = dict(index.iter_rows())
    assert round(fy[2025], 1) == 112.4
    # 2024 Q2 110.1 and 2025 Q1 114.1 are in the file; the mean of the four quarters is 112.375
    assert fy[2025] == pytest.approx(112.375, abs=1e-9)
    assert info["series"] == "YBGB" and info["release_date"] == "2025-06-30"
    assert 2026 not in fy  # 2025-26 lacks Q2-Q4 of 2025 and Q1 2026


def test_ons_layout_quarters_months_and_annual_rows(tmp_path: Path) -> None:
    """Annual rows are ignored; a quarter missing from the file is built from its three months."""
    f = tmp_path / "series.csv"
    f.write_text(
        '"Title","Test index"\n"CDID","ABCD"\n"Release date","01-02-2025"\n"Important notes",\n'
        '"2023","50"\n"2023 Q2","100"\n"2023 Q3","104"\n"2023 Q4","108"\n'
        '"2024 JAN","110"\n"2024 FEB","112"\n"2024 MAR","114"\n"2024 APR","120"\n'
    )
    index, info = read_deflator(f)
    assert dict(index.iter_rows()) == {2024: pytest.approx((100 + 104 + 108 + 112) / 4)}
    assert info["release_date"] == "2025-02-01" and info["series"] == "ABCD"
    rebased, base = rebase(index, None, f.name)
    assert base == 2024 and rebased["deflator"][0] == pytest.approx(100.0)


def test_every_money_column_gets_a_real_twin_with_the_base_recorded(tmp_path: Path) -> None:
    need_reference()
    panel = pl.DataFrame(
        {
            "year": pl.Series([2024, 2025], dtype=pl.Int32),
            "spend_csc_total": [1000.0, 1000.0],
            "spend_cla_per_cla": [50.0, 60.0],
            "spend_csc_total_marker": [None, None],
        }
    )
    out, info = add_real_terms(panel, REFERENCE / YBGB, base=2025)
    # FY 2023-24 = mean(2023 Q2..Q4, 2024 Q1) of YBGB; computed by hand from the file's rows
    rows = {
        r.split(",")[0].strip('"'): float(r.split(",")[1].strip().strip('"'))
        for r in (REFERENCE / YBGB).read_text().splitlines()
        if " Q" in r.split(",")[0]
    }
    fy24 = (rows["2023 Q2"] + rows["2023 Q3"] + rows["2023 Q4"] + rows["2024 Q1"]) / 4
    fy25 = (rows["2024 Q2"] + rows["2024 Q3"] + rows["2024 Q4"] + rows["2025 Q1"]) / 4
    assert out["spend_csc_total_real"].to_list() == pytest.approx([1000 * fy25 / fy24, 1000.0], abs=1e-3)
    assert out["spend_cla_per_cla_real"][1] == pytest.approx(60.0)
    assert set(info["columns"]) == {"spend_csc_total_real", "spend_cla_per_cla_real"}
    assert info["base_year"] == 2025 and info["release_date"] == "2025-06-30" and len(info["sha256"]) == 64


def test_base_year_outside_the_series_is_one_line(tmp_path: Path) -> None:
    need_reference()
    panel = pl.DataFrame({"year": pl.Series([2016], dtype=pl.Int32), "spend_csc_total": [1.0]})
    with pytest.raises(EvalkitError) as err:
        add_real_terms(panel, REFERENCE / YBGB, base=2040)
    assert "base year 2040" in err.value.one_line()
