"""The S251 children's social care total computed row by row in Python equals the frame code it replaced.

`_measures_from_components` built each council-year's total with a dozen polars calls per group (1,800
groups, seconds of `ingest`); it now reads the groups into Python once (issue #29). The reference below is
the replaced group-by-group frame code, and the cases hold what it handled: missing parts, suppressed
values with and without a marker, a part listed twice, null keys, groups without 'cla'.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from evalkit.sources import s251

PARTS = ("cla", "safeguarding", "family_support", "other")


def _parts(year: int, present: set[str]) -> tuple[str, ...]:
    return PARTS if year % 2 else PARTS[:3]


def _reference_rows(comp: pl.DataFrame, csc_parts_for_year) -> list[dict]:
    keys = ["la_code", "gss_code", "la_name", "year", "kind"]
    rows = []
    for (la_code, gss, la_name, year, kind), grp in comp.group_by(keys, maintain_order=True):
        parts = csc_parts_for_year(year, set(grp["component"].to_list()))
        if not parts or "cla" not in grp["component"].to_list():
            continue
        sub = grp.filter(pl.col("component").is_in(list(parts)))
        order = {p: i for i, p in enumerate(parts)}
        sub = sub.with_columns(pl.col("component").replace_strict(order, return_dtype=pl.Int32).alias("_o")).sort("_o")
        missing = [p for p in parts if p not in sub["component"].to_list()]
        if missing or sub["value"].null_count():
            marker = next((m for m in sub.filter(pl.col("value").is_null())["marker"].to_list() if m), "x")
            value = None
        else:
            value = round(float(sub["value"].sum()), 2)
            marker = None
        rows.append(
            {"la_code": la_code, "gss_code": gss, "la_name": la_name, "year": year, "kind": kind}
            | {"measure": "spend_csc_total", "value": value, "marker": marker}
        )
    return rows


def _components(seed: int, groups: int = 300) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(groups):
        code = f"E{g % 97:03d}" if g % 41 else None
        year, kind = 2010 + g % 5, ("gross", "net")[g % 2]
        names = [c for c in (*PARTS, "cyp_total", "extra") if rng.random() > 0.15]
        if g % 13 == 0:
            names.append(names[0] if names else "cla")  # a part listed twice
        for c in rng.permutation(names):
            suppressed = rng.random() < 0.08
            value = None if suppressed else float(np.round(rng.normal(5_000, 3_000), int(rng.integers(0, 4))))
            marker = (rng.choice(["c", "z", ""]) if suppressed else None) or None
            rows.append((code, None, f"council {g % 97}", year, str(c), value, marker, kind))
    schema = ["la_code", "gss_code", "la_name", "year", "component", "value", "marker", "kind"]
    return pl.DataFrame(rows, schema=schema, orient="row").with_columns(pl.col("year").cast(pl.Int32))


def test_totals_equal_the_frame_code_they_replaced() -> None:
    for seed in range(4):
        comp = _components(seed)
        got = [row for key, group in s251._groups(comp) if (row := s251._csc_total(key, group, _parts)) is not None]
        want = _reference_rows(comp, _parts)
        assert len(want) > 100
        assert [r["value"] for r in want].count(None) > 5  # suppressed and missing parts were exercised
        assert got == want
