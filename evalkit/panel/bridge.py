"""Bridge years of the spliced S251 spending series: where two publications carry the same council,
year and line, how closely they agree.

The panel's `spend_csc_s251` / `spend_cla_s251` / `spend_cyp_s251` take each year from one
publication (`build.SPLICED`); this table shows, for every pair of publications that overlap, the
number of council-years compared, the share agreeing within 0.1% and within 1%, and the median and
90th-percentile relative difference |a - b| / max(|a|, |b|). Run `python -m evalkit.panel.bridge
data/processed` to print the Markdown table kept in docs/spending-bridge.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import polars as pl

# (measure, source a, source b, meaning)
PAIRS = [
    ("spend_csc_total", "s251", "s251_webb", "S251 line files vs Webb panel (same S251 lines, SFR Table 6 in £000)"),
    ("spend_cla", "s251", "s251_webb", "S251 line files vs Webb panel"),
    ("spend_csc_total", "s251_webb", "lait", "Webb panel vs LAIT (same S251 lines)"),
    ("spend_cla", "s251_webb", "lait", "Webb panel vs LAIT"),
    ("spend_cyp_total", "s251", "lait", "CFR/S251 highlights summary (in `s251`) vs LAIT, CYPS total"),
    ("spend_csc_total", "s251", "mhclg_ro", "S251 line files vs MHCLG RO3 (different return)"),
    ("spend_csc_total", "lait", "mhclg_ro", "LAIT vs MHCLG RO3 (different return)"),
    ("spend_cla", "lait", "mhclg_ro", "LAIT vs MHCLG RO3 (different return)"),
]


def _one(tables: dict[str, pl.DataFrame], source: str, measure: str) -> pl.DataFrame:
    t = tables[source].filter(
        pl.col("measure") == measure, pl.col("value").is_not_null(), pl.col("la_code").is_not_null()
    )
    # one value per council-year: the latest file
    return t.sort("file").group_by("la_code", "year").agg(pl.col("value").last())


def bridge_table(processed: Path) -> pl.DataFrame:
    from evalkit.panel.build import read_processed

    _, tables = read_processed(Path(processed))
    if "mhclg_ro" in tables and "la_codes" in tables:  # RO3 carries GSS codes only
        from evalkit.sources import la_codes

        gss = la_codes.code_for_gss(tables["la_codes"])
        tables["mhclg_ro"] = tables["mhclg_ro"].with_columns(
            pl.coalesce(
                pl.col("la_code"), pl.col("gss_code").replace_strict(gss, default=None, return_dtype=pl.Utf8)
            ).alias("la_code")
        )
    rows = []
    for measure, a, b, meaning in PAIRS:
        if a not in tables or b not in tables:
            continue
        j = _one(tables, a, measure).join(_one(tables, b, measure), on=["la_code", "year"], suffix="_b")
        j = j.with_columns(
            (
                (pl.col("value") - pl.col("value_b")).abs()
                / pl.max_horizontal(pl.col("value").abs(), pl.col("value_b").abs())
            )
            .fill_nan(0.0)
            .alias("rel")
        )
        for year, g in j.group_by("year", maintain_order=True):
            rows.append(
                {
                    "measure": measure,
                    "source_a": a,
                    "source_b": b,
                    "year": int(year[0]),
                    "compared": g.height,
                    "within_0.1pct": round(float((g["rel"] <= 0.001).mean()), 4),
                    "within_1pct": round(float((g["rel"] <= 0.01).mean()), 4),
                    "median_rel_diff": round(float(g["rel"].median()), 6),
                    "p90_rel_diff": round(float(g["rel"].quantile(0.9, "nearest")), 6),
                    "meaning": meaning,
                }
            )
    return pl.DataFrame(rows).sort("measure", "source_a", "source_b", "year")


def markdown(table: pl.DataFrame) -> str:
    cols = [
        "measure",
        "source_a",
        "source_b",
        "year",
        "compared",
        "within_0.1pct",
        "within_1pct",
        "median_rel_diff",
        "p90_rel_diff",
    ]
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in table.iter_rows(named=True)]
    return "\n".join(out) + "\n"


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(markdown(bridge_table(Path(sys.argv[1] if len(sys.argv) > 1 else "data/processed"))))
