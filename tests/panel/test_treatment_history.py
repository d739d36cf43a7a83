"""The registry's dates as treatment histories (evalkit.panel.treatment_history), on the packaged registry."""

from __future__ import annotations

import polars as pl
import pytest

from evalkit.analysis import treatment as rule
from evalkit.errors import EvalkitError
from evalkit.panel import treatment_history as th
from evalkit.sources import registry as reg

YEARS = range(2012, 2027)
UNITS = {"371": "Doncaster", "871": "Slough", "885": "Worcestershire", "870": "Reading", "999": "not in registry"}


@pytest.fixture(scope="module")
def history() -> pl.DataFrame:
    frame = pl.DataFrame({"unit_code": [u for u in UNITS for _ in YEARS], "year": [y for _ in UNITS for y in YEARS]})
    return th.in_force(frame, th.spells(reg.load_registry()))


def _path(history: pl.DataFrame, unit: str) -> dict[int, str]:
    rows = history.filter(pl.col("unit_code") == unit).sort("year")
    return dict(zip(rows["year"].to_list(), rows["treatment_in_force"].to_list()))


def test_returns_start_in_the_registry_exit_years(history: pl.DataFrame) -> None:
    # exit_year of the registry: Doncaster 2023, Worcestershire 2025, Reading 2026
    for unit, back in (("371", 2023), ("885", 2025), ("870", 2026)):
        path = _path(history, unit)
        assert path[back] == rule.RETURNED and path[back - 1] != rule.RETURNED, unit
    assert set(_path(history, "999").values()) == {rule.IN_HOUSE}


def test_doncaster_and_slough_change_ownership(history: pl.DataFrame) -> None:
    don, slo = _path(history, "371"), _path(history, "871")
    assert (don[2014], don[2015], don[2018], don[2019], don[2022]) == (
        "in_house",
        "trust",
        "trust",
        "council_company",
        "council_company",
    )
    assert (slo[2016], slo[2021], slo[2022]) == ("trust", "trust", "council_company")
    changes = history.filter(pl.col("unit_code") == "371", pl.col("year") == 2020)["ownership_changes"].item()
    assert changes == 1


def test_plan_rules(history: pl.DataFrame) -> None:
    rows = history.with_columns(pl.lit(1.0).alias("y"))
    itt, col = rule.apply(rows, treatment=None, ownership_change=None, switching_method=False, method="cs")
    assert col is None and itt.height == rows.height
    as_treated, _ = rule.apply(rows, treatment="as_treated", ownership_change=None, switching_method=False, method="cs")
    assert as_treated.filter(pl.col("treatment_in_force") == rule.RETURNED).height == 0
    assert as_treated.height == rows.height - (2026 - 2023 + 1) - (2026 - 2025 + 1) - 1
    with pytest.raises(EvalkitError, match="'cs' does not"):
        rule.apply(rows, treatment="switching", ownership_change=None, switching_method=False, method="cs")
    sw, col = rule.apply(
        rows, treatment="switching", ownership_change="own_switch", switching_method=True, method="dcdh"
    )
    don = sw.filter(pl.col("unit_code") == "371").sort("year")[col].to_list()
    assert don[YEARS.index(2014)] == 0 and don[YEARS.index(2015)] == 1 and don[YEARS.index(2019)] == 2
    assert don[YEARS.index(2023)] == 0  # back in-house: the switch out


def test_labels_agree_between_the_history_and_the_rule() -> None:
    assert (th.IN_HOUSE, th.RETURNED) == (rule.IN_HOUSE, rule.RETURNED)
