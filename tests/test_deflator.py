"""Real terms from a user-supplied deflator; the index values here are made up for the test."""

from pathlib import Path

import polars as pl
import pytest

from evalkit.errors import EvalkitError
from evalkit.panel.deflator import add_real_terms


def test_real_terms_in_base_year_prices(tmp_path: Path) -> None:
    f = tmp_path / "deflator.csv"
    f.write_text("financial_year,index\n2014-15,80\n2015-16,100\n")
    panel = pl.DataFrame({"year": pl.Series([2015, 2016], dtype=pl.Int32), "spend_csc_per_child": [800.0, 1000.0]})
    out, info = add_real_terms(panel, f)
    assert out["spend_csc_per_child_real"].to_list() == [1000.0, 1000.0]
    assert info["base_year"] == 2016 and len(info["sha256"]) == 64


@pytest.mark.parametrize("body,needle", [
    ("financial_year,index\n2015-17,80\n", "row 2"),
    ("financial_year,index\n2015-16,-3\n", "positive"),
    ("year,value\n2015,3\n", "expected columns"),
])
def test_bad_deflator_is_one_line(tmp_path: Path, body: str, needle: str) -> None:
    f = tmp_path / "deflator.csv"
    f.write_text(body)
    panel = pl.DataFrame({"year": pl.Series([2016], dtype=pl.Int32), "spend_csc_per_child": [1.0]})
    with pytest.raises(EvalkitError) as err:
        add_real_terms(panel, f)
    assert needle in err.value.one_line() and "\n" not in err.value.one_line()
