"""The panel's screening flags a spike and a multi-year level break that are planted in a simulated
panel of ordinary councils, and nothing in councils whose series only carry ordinary noise."""

from __future__ import annotations

import numpy as np
import polars as pl

from evalkit.panel import anomalies


def _panel(seed: int = 3) -> pl.DataFrame:
    """60 councils x 2009-2024 whose year-on-year changes are 0.7 % +- 1.6 % (as the child population's
    across English councils); council 001 has a spike in 2010 (x2.1, as Slough's S251 2009-10 line),
    council 002 a 25 % rise spread over 2011-2013 (as a census rebasing interpolated over three years)."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(60):
        value = 800.0 * np.exp(rng.normal(0, 0.2))
        for year in range(2009, 2025):
            if year > 2009:
                value *= np.exp(0.007 + rng.normal(0, 0.016))
                if u == 2 and 2011 <= year <= 2013:
                    value *= 1.078
            shown = value * (2.1 if u == 1 and year == 2010 else 1.0)
            rows.append({"unit_code": f"{u:03d}", "unit_name": f"Council {u}", "year": year, "x": shown})
    return pl.DataFrame(rows)


def test_spike_and_level_break_found_in_every_draw() -> None:
    """Ten simulated panels: the spike and the three-year break are found in each (the break's run may take
    in a neighbouring year whose noise points the same way), other flags stay rare."""
    others = 0
    for seed in range(10):
        flags = anomalies.screen(_panel(seed), ["x"])
        by_unit = {f["unit"]: f for f in flags}
        assert by_unit["001"]["kind"] == "spike" and by_unit["001"]["years"] == [2010], (seed, flags)
        brk = by_unit["002"]
        assert brk["kind"] == "level break" and {2011, 2012, 2013} <= set(brk["years"]) <= set(range(2010, 2015))
        assert 15 < brk["change_percent"] < 45, brk
        others += len(set(by_unit) - {"001", "002"})
    assert others <= 3, others


def test_false_flags_are_rare_without_planted_breaks() -> None:
    """Ordinary noise in 20 simulated panels (60 councils x 15 changes each): at most a handful of flags."""
    total = 0
    for seed in range(20):
        frame = _panel(seed).filter(~pl.col("unit_code").is_in(["001", "002"]))
        total += len(anomalies.screen(frame, ["x"]))
    assert total <= 3, total


def test_binary_columns_are_not_screened() -> None:
    frame = _panel().with_columns((pl.col("x") > 800).cast(pl.Int8).alias("flag01"))
    assert anomalies.screened_columns(frame, ["x", "flag01"]) == ["x"]
