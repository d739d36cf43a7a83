"""Stage 2: one row per council and year, with outcomes, covariates and treatment timing.

Year convention: `year` t is the year ending 31 March t (financial year t-1/t), the year of the
children looked after and children in need returns and of the spending returns. Sources dated
otherwise are mapped to it:
  * population: the mid-year estimate of June t-1 (inside financial year t-1/t; DfE's own CLA
    rates use the same vintage);
  * workforce (30 September t-1, inside financial year t-1/t) -> year t;
  * Ofsted: the grade in force on 31 March t is the latest judgement published on or before it;
    `inspected_in_year` marks a judgement published during the financial year.
Treatment: see `evalkit.panel.registry` (first year whose 31 March falls after go-live).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.io import write_json, write_parquet
from evalkit.panel import registry as reg
from evalkit.sources.common import GRADE_SCORE

# Measures the panel carries, with the tidy measure names that can supply them (first wins).
MEASURE_SOURCES: dict[str, list[str]] = {
    "cla_count": ["cla_at_31_march"],
    "cla_starts": ["cla_starting"],
    "cin_count": ["cin_at_31_march"],
    "cpp_count": ["cpp_at_31_march"],
    "referrals": ["referrals"],
    "rereferral_percent": ["rereferral_percent"],
    "agency_rate_fte": ["agency_rate_fte"],
    "turnover_rate_fte": ["turnover_rate_fte"],
    "spend_csc_total": ["spend_csc_total"],
    "spend_cla": ["spend_cla"],
}
# Sources whose year label is shifted to the panel's financial year (see the module docstring).
YEAR_SHIFT = {"population": 1, "workforce": 1}
PANEL_FILE = "panel.parquet"


def read_processed(processed: Path) -> tuple[dict, dict[str, pl.DataFrame]]:
    manifest_path = processed / "manifest.json"
    if not manifest_path.exists():
        raise EvalkitError("no ingest manifest; run `evalkit ingest` first", file=manifest_path)
    manifest = json.loads(manifest_path.read_text())
    tables = {name: pl.read_parquet(processed / spec["file"]) for name, spec in manifest["outputs"].items()}
    return manifest, tables


def _measures(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    frames = []
    for name, table in tables.items():
        if "measure" not in table.columns:
            continue
        shift = YEAR_SHIFT.get(name, 0)
        frames.append(table.with_columns((pl.col("year") + shift).cast(pl.Int32).alias("year")))
    if not frames:
        raise EvalkitError("the processed folder holds no measures", file="manifest.json")
    return pl.concat(frames, how="diagonal_relaxed").with_columns(pl.col("la_code").alias("unit_code"))


def _pick(measures: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """One value per council-year: a published number beats a marker; the later file beats the earlier."""
    rows = measures.filter(pl.col("measure").is_in(names))
    return (
        rows.with_columns(pl.col("value").is_not_null().alias("has_value"))
        .sort(["unit_code", "year", "has_value", "file"], nulls_last=False)
        .group_by(["unit_code", "year"], maintain_order=True)
        .agg(pl.col("value").last(), pl.col("marker").last(), pl.col("la_name").last(), pl.col("gss_code").last())
    )


def _ofsted(judgements: pl.DataFrame | None, frame: pl.DataFrame) -> pl.DataFrame:
    """Grade in force at 31 March of each year, inadequate flag, years since the last judgement."""
    if judgements is None or judgements.height == 0:
        return frame.with_columns(
            pl.lit(None, dtype=pl.Int32).alias("ofsted_grade"), pl.lit(None, dtype=pl.Int8).alias("ofsted_inadequate"),
            pl.lit(None, dtype=pl.Float64).alias("years_since_inspection"), pl.lit(0, dtype=pl.Int8).alias("inspected_in_year"),
            pl.lit(None, dtype=pl.Utf8).alias("ofsted_framework"),
        )
    oe = (
        judgements.filter(pl.col("judgement") == "overall_effectiveness", pl.col("grade").is_not_null())
        .with_columns(pl.col("la_code").alias("unit_code"))
        .unique(subset=["unit_code", "publication_date"], keep="first", maintain_order=True)
        .with_columns(pl.col("grade").replace_strict(GRADE_SCORE, return_dtype=pl.Int32).alias("score"))
        .sort("unit_code", "publication_date")
        .select("unit_code", "publication_date", "score", "framework")
    )
    base = frame.select("unit_code", "year").with_columns(
        pl.date(pl.col("year"), 3, 31).alias("_ref"), pl.date(pl.col("year") - 1, 4, 1).alias("_start")
    ).sort("unit_code", "_ref")
    in_force = base.sort("_ref").join_asof(
        oe.sort("publication_date"), left_on="_ref", right_on="publication_date", by="unit_code", strategy="backward",
        check_sortedness=False,
    )
    counts = base.join(oe, on="unit_code", how="inner").filter(
        (pl.col("publication_date") >= pl.col("_start")) & (pl.col("publication_date") <= pl.col("_ref"))
    ).group_by("unit_code", "year").len()
    in_force = in_force.join(counts, on=["unit_code", "year"], how="left").select(
        "unit_code", "year",
        pl.col("score").alias("ofsted_grade"),
        pl.when(pl.col("score").is_null()).then(None).otherwise((pl.col("score") == 4).cast(pl.Int8)).alias("ofsted_inadequate"),
        ((pl.col("_ref") - pl.col("publication_date")).dt.total_days() / 365.25).round(2).alias("years_since_inspection"),
        (pl.col("len").fill_null(0) > 0).cast(pl.Int8).alias("inspected_in_year"),
        pl.col("framework").alias("ofsted_framework"),
    )
    return frame.join(in_force, on=["unit_code", "year"], how="left")


def _treatment(frame: pl.DataFrame, registry: pl.DataFrame) -> pl.DataFrame:
    table = reg.treatment_table(registry).select(
        pl.col("la_code").alias("unit_code"), "first_treated_year", "model", "exit_year", "spell_id", "dfe_direction"
    )
    roles = registry.group_by("la_code").agg(pl.col("role").sort().str.join("+").alias("registry_roles")).rename({"la_code": "unit_code"})
    out = frame.join(table, on="unit_code", how="left").join(roles, on="unit_code", how="left")
    return out.with_columns(
        pl.col("first_treated_year").is_not_null().cast(pl.Int8).alias("ever_treated"),
        pl.col("first_treated_year").fill_null(0).cast(pl.Int32).alias("cohort"),
        pl.when(pl.col("first_treated_year").is_null()).then(None).otherwise(pl.col("year") - pl.col("first_treated_year")).alias("years_since_treatment"),
        (
            pl.col("first_treated_year").is_not_null()
            & (pl.col("year") >= pl.col("first_treated_year"))
            & (pl.col("exit_year").is_null() | (pl.col("year") < pl.col("exit_year")))
        ).cast(pl.Int8).alias("treated_now"),
        pl.col("model").fill_null("in_house"),
        pl.col("registry_roles").fill_null(""),
    )


def build_panel(processed: Path, *, registry_path: Path | None = None, extra_registries: list[Path] | None = None) -> tuple[pl.DataFrame, dict]:
    """Return (panel, diagnostics) from the ingest outputs in `processed`."""
    manifest, tables = read_processed(processed)
    measures = _measures(tables)
    if registry_path is None and (processed / "adm_registry.csv").exists():
        registry_path = processed / "adm_registry.csv"
    registry = reg.load_registry(registry_path, extra=extra_registries)

    population = _pick(measures, ["population_0_17"]).select("unit_code", "year", pl.col("value").alias("population_0_17"))
    keys = measures.select("unit_code", "year").unique()
    names = measures.sort("year").group_by("unit_code").agg(pl.col("la_name").drop_nulls().last().alias("unit_name"))
    frame = keys.join(names, on="unit_code", how="left").join(population, on=["unit_code", "year"], how="left")
    coverage = []
    for column, sources in MEASURE_SOURCES.items():
        picked = _pick(measures, sources)
        if picked.height == 0:
            continue
        frame = frame.join(
            picked.select("unit_code", "year", pl.col("value").alias(column), pl.col("marker").alias(f"{column}_marker")),
            on=["unit_code", "year"], how="left",
        )
    frame = frame.with_columns(
        (pl.col("cla_count") / pl.col("population_0_17") * 10_000).round(4).alias("cla_rate_per_10000"),
        pl.col("cla_count_marker").alias("cla_rate_per_10000_marker"),
    ) if "cla_count" in frame.columns else frame
    for count, rate in (("cin_count", "cin_rate_per_10000"), ("cpp_count", "cpp_rate_per_10000")):
        if count in frame.columns:
            frame = frame.with_columns(
                (pl.col(count) / pl.col("population_0_17") * 10_000).round(4).alias(rate), pl.col(f"{count}_marker").alias(f"{rate}_marker")
            )
    if "spend_csc_total" in frame.columns:
        frame = frame.with_columns((pl.col("spend_csc_total") / pl.col("population_0_17")).round(4).alias("spend_csc_per_child"))
    frame = _ofsted(tables.get("ofsted"), frame)
    frame = _treatment(frame, registry)
    frame = frame.sort("unit_code", "year")
    for column in [c for c in frame.columns if c in set(MEASURE_SOURCES) | {"cla_rate_per_10000", "spend_csc_per_child", "ofsted_grade", "population_0_17"}]:
        coverage.append(_coverage(frame, column))
    diagnostics = {
        "synthetic_demo": manifest.get("synthetic_demo", False),
        "units": frame["unit_code"].n_unique(),
        "years": [int(frame["year"].min()), int(frame["year"].max())],
        "rows": frame.height,
        "treated_units": int(frame.filter(pl.col("ever_treated") == 1)["unit_code"].n_unique()),
        "coverage": coverage,
        "year_convention": "year t = year ending 31 March t; population mid-(t-1); workforce 30 Sept t-1; Ofsted grade in force on 31 March t",
        "treatment_convention": "first treated year = first year whose 31 March falls after go-live; exit year likewise for returns in-house",
    }
    return frame, diagnostics


def _coverage(frame: pl.DataFrame, column: str) -> dict:
    marker = f"{column}_marker"
    missing = frame.filter(pl.col(column).is_null())
    reasons: dict[str, int] = {}
    if marker in frame.columns:
        for value, n in missing.group_by(marker).len().sort(marker, nulls_last=True).iter_rows():
            reasons[_reason(value)] = reasons.get(_reason(value), 0) + int(n)
    else:
        reasons = {"not_available": missing.height} if missing.height else {}
    present = frame.filter(pl.col(column).is_not_null())
    years = f"{present['year'].min()}-{present['year'].max()}" if present.height else ""
    return {"measure": column, "units": present["unit_code"].n_unique(), "years": years, "missing": missing.height, "missing_reasons": reasons}


def _reason(marker: str | None) -> str:
    return {
        None: "not_published", "c": "suppressed", "x": "not_available", "z": "not_applicable", "u": "low_reliability",
        "low": "rounded_to_zero", "blank": "blank", "partial_aggregate": "reorganisation", "rate_not_aggregable": "reorganisation",
    }.get(marker, f"marker_{marker}")


def write_panel(processed: Path, frame: pl.DataFrame, diagnostics: dict) -> None:
    write_parquet(processed / PANEL_FILE, frame)
    write_json(processed / "panel_diagnostics.json", diagnostics)


