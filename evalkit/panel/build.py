"""Stage 2: one row per council and year, with outcomes, covariates and treatment timing.

Year convention: `year` t is the year ending 31 March t (financial year t-1/t), the year of the
children looked after and children in need returns and of the spending returns. Sources dated
otherwise are mapped to it:
  * population: the mid-year estimate of June t-1 (inside financial year t-1/t; DfE's own CLA
    rates use the same vintage);
  * workforce (30 September t-1, inside financial year t-1/t) -> year t;
  * Ofsted: the grade in force on 31 March t is the latest judgement published on or before it;
    `inspected_in_year` marks a judgement published during the financial year.
Treatment: see `evalkit.sources.registry` (first year whose 31 March falls after go-live).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from evalkit import generations as gens
from evalkit.errors import EvalkitError
from evalkit.io import atomic_write_bytes, sha256_file, write_json, write_parquet
from evalkit.panel import boundaries, ofsted_history
from evalkit.releases import release_rank
from evalkit.sources import la_codes
from evalkit.sources import registry as reg
from evalkit.sources.common import GRADE_SCORE

# Panel columns and the (source, tidy measure) pairs that can supply them, in order of preference.
# A column takes its whole series from ONE source (the first that has data): splicing two
# publications year by year would build a break into the series (their definitions differ).
MEASURE_SOURCES: dict[str, list[tuple[str, str]]] = {
    "cla_count": [("cla", "cla_at_31_march")],
    "cla_starts": [("cla", "cla_starting")],
    "cin_count": [("cin", "cin_at_31_march")],
    "cpp_count": [("cin", "cpp_at_31_march")],
    "referrals": [("cin", "referrals")],
    "rereferral_percent": [("cin", "rereferral_percent")],
    "agency_rate_fte": [("workforce", "agency_rate_fte")],
    "turnover_rate_fte": [("workforce", "turnover_rate_fte")],
    # Spending: DfE's LAIT (S251, 2015-16 on) first, then the S251 files, then MHCLG RO3.
    "spend_csc_total": [("lait", "spend_csc_total"), ("s251", "spend_csc_total"), ("mhclg_ro", "spend_csc_total")],
    "spend_cla": [("lait", "spend_cla"), ("s251", "spend_cla"), ("mhclg_ro", "spend_cla")],
    # The other publications' series, kept whole for robustness checks and break tests.
    "spend_csc_total_s251": [("s251", "spend_csc_total")],
    "spend_csc_total_ro": [("mhclg_ro", "spend_csc_total")],
    "spend_cla_ro": [("mhclg_ro", "spend_cla")],
    # Placement unit costs (LAIT, 2015-16 on): pounds per child per week.
    "spend_cla_per_child_week": [("lait", "spend_cla_per_child_week")],
    "spend_fostering_per_child_week": [("lait", "spend_fostering_per_child_week")],
    "spend_residential_per_child_week": [("lait", "spend_residential_per_child_week")],
    "vacancy_rate_fte": [("workforce", "vacancy_rate_fte")],
    "caseload_fte": [("workforce", "caseload_fte")],
    "cpp_subsequent_percent": [("cin", "cpp_subsequent_percent")],
    "cin_starts": [("cin", "cin_starts")],
    "cpp_starts": [("cin", "cpp_starts")],
    "section47": [("cin", "section47")],
    "cla_ceasing": [("cla", "cla_ceasing")],
}
# Spending on ONE definition from 2008-09 (year 2009): the same S251 gross lines read from the
# publication that carries them in each year (source, measure, first year, last year). Bridge
# years, where two of these sources overlap, are compared in docs/spending-bridge.md and tested.
SPLICED: dict[str, list[tuple[str, str, int, int]]] = {
    "spend_csc_s251": [
        ("s251", "spend_csc_total", 2009, 2014),
        ("s251_webb", "spend_csc_total", 2015, 2015),
        ("lait", "spend_csc_total", 2016, 2100),
    ],
    "spend_cla_s251": [
        ("s251", "spend_cla", 2009, 2014),
        ("s251_webb", "spend_cla", 2015, 2015),
        ("lait", "spend_cla", 2016, 2100),
    ],
    "spend_cyp_s251": [("s251", "spend_cyp_total", 2009, 2015), ("lait", "spend_cyp_total", 2016, 2100)],
}
POPULATION = [("population", "population_0_17")]
# Sources whose year label is shifted to the panel's financial year (see the module docstring).
YEAR_SHIFT = {"population": 1, "workforce": 1}
PANEL_FILE = "panel.parquet"
EXTRA_REGISTRY = "adm_registry_extra.csv"  # rows given with `panel --registry`, kept with the panel
_CODE = r"^\d{3}( / \d{3})*$"


def read_processed(processed: Path) -> tuple[dict, dict[str, pl.DataFrame]]:
    """The ingest outputs of the generation in force, each checked against the manifest's sha256 first."""
    gen, manifest = gens.open_current(processed)
    outputs = manifest.get("outputs")
    if not isinstance(outputs, dict) or not outputs:
        raise EvalkitError(
            "the manifest lists no ingest outputs",
            file=gen / gens.MANIFEST,
            column="outputs",
            expected="a manifest written by `evalkit ingest`",
        )
    tables = {}
    for name, spec in outputs.items():
        tables[name] = read_parquet_checked(gen / str(spec.get("file")) if isinstance(spec, dict) else gen / "?")
    return manifest, tables


def read_parquet_checked(path: Path) -> pl.DataFrame:
    """Read a Parquet output; a damaged one is one line, not a traceback."""
    if path.name not in ("?",) and not path.is_file():
        raise EvalkitError("output listed in the manifest is missing", file=path)
    try:
        return pl.read_parquet(path)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - polars errors, and Rust panics (PanicException is a BaseException)
        raise EvalkitError(
            f"not a readable Parquet file ({type(exc).__name__})",
            file=path,
            expected="a Parquet file written by evalkit (rerun the stage that wrote it)",
        ) from None


def run_stage(
    processed: Path,
    *,
    registry: Path | None = None,
    policy: str = "aggregate",
    deflator: Path | None = None,
    deflator_base: int | None = None,
    match: dict | None = None,
    tick=None,
) -> dict:
    """The whole panel stage as one generation: the ingest outputs in force, carried over unchanged,
    plus panel.parquet, panel_diagnostics.json and (with `match`) matches.parquet and balance.parquet.
    The new set becomes current only when all of it is written; returns the diagnostics."""
    processed = Path(processed)
    source_gen, manifest = gens.open_current(processed)
    frame, diagnostics = build_panel(processed, extra_registries=[registry] if registry else None, policy=policy)
    inputs = {}
    if registry is not None:
        inputs["registry"] = {"file": Path(registry).name, "sha256": sha256_file(registry)}
        extra_registry = Path(registry).read_bytes()
    if deflator is not None:
        from evalkit.panel.deflator import add_real_terms

        frame, diagnostics["deflator"] = add_real_terms(frame, deflator, deflator_base)
        inputs["deflator"] = {"file": Path(deflator).name, "sha256": sha256_file(deflator)}
    diagnostics["anomalies"] = screen_anomalies(frame)
    later = set(manifest.get("panel", {}).get("files", []))
    with gens.Generation(processed, "panel") as gen:
        for name in manifest["checksums"]:
            if name not in later:
                gens.link_or_copy(source_gen / name, gen.path / name)
        if match is not None:
            from evalkit.panel import matching

            if tick:
                tick("matching")
            diagnostics["matching"] = matching.match_and_write(frame, gen.path, **match)
        write_panel(gen.path, frame, diagnostics)
        if registry is not None:  # the report's registry table shows these rows too
            atomic_write_bytes(gen.path / EXTRA_REGISTRY, extra_registry)  # a full disk: one line
        files = sorted(p.name for p in gen.path.iterdir() if p.name not in manifest["checksums"] or p.name in later)
        ingest_part = {k: v for k, v in manifest.items() if k not in ("checksums", "stage", "panel")}
        gen.publish({**ingest_part, "panel": {"files": files, "inputs": inputs}})
    return diagnostics


def _measures(tables: dict[str, pl.DataFrame], policy: str, files: list[dict] | None = None) -> pl.DataFrame:
    """Every measure row on the panel's year, with DfE codes filled from GSS codes and harmonised units."""
    frames = []
    for name, table in tables.items():
        if "measure" not in table.columns:
            continue
        shift = YEAR_SHIFT.get(name, 0)
        frames.append(table.with_columns((pl.col("year") + shift).cast(pl.Int32).alias("year")))
    if not frames:
        raise EvalkitError("the processed folder holds no measures", file="manifest.json")
    measures = pl.concat(frames, how="diagonal_relaxed")
    if "la_codes" in tables:  # e.g. MHCLG returns carry only GSS codes
        gss = la_codes.code_for_gss(tables["la_codes"])
        measures = measures.with_columns(
            pl.coalesce(
                pl.col("la_code"), pl.col("gss_code").replace_strict(gss, default=None, return_dtype=pl.Utf8)
            ).alias("la_code")
        )
    measures = measures.filter(pl.col("la_code").is_not_null() & pl.col("la_code").str.contains(_CODE))
    # Filler rows (x, z, LAIT's -) of reorganised councils in years they did not exist (e.g. North and West
    # Northamptonshire before 2021) would stop the aggregate unit from being a complete cover.
    reorganised = boundaries.reorganised_codes()
    measures = measures.filter(
        ~(pl.col("la_code").is_in(reorganised) & pl.col("value").is_null() & pl.col("marker").is_in(["x", "z", "-"]))
    )
    # Later releases win within a source: each file's release comes from the catalogue, the release log
    # or its name (recorded by ingest), never from the largest year in its rows alone (evalkit.releases).
    # Rows name their file as ingest recorded it (`rows_file` where two files share a base name).
    release = pl.DataFrame(
        [
            {
                "file": f.get("rows_file") or f["file"].rsplit("/", 1)[-1],
                "release_year": release_rank(f.get("release"), f.get("release_from")),
            }
            for f in (files or [])
        ],
        schema={"file": pl.Utf8, "release_year": pl.Int64},
    ).unique("file", keep="last")
    measures = measures.join(release, on="file", how="left")
    return boundaries.harmonise(measures, policy)


def _pick(measures: pl.DataFrame, candidates: list[tuple[str, str]]) -> tuple[pl.DataFrame, str | None]:
    """One value per unit-year from the first source with data: a published number beats a marker,
    a later release beats an earlier one."""
    for source, measure in candidates:
        rows = measures.filter(pl.col("source") == source, pl.col("measure") == measure)
        if rows.filter(pl.col("value").is_not_null()).height == 0:
            continue
        picked = (
            rows.with_columns(pl.col("value").is_not_null().alias("has_value"))
            .sort(["unit_code", "year", "has_value", "release_year", "file"], nulls_last=False)
            .group_by(["unit_code", "year"], maintain_order=True)
            .agg(pl.col("value").last(), pl.col("marker").last())
        )
        return picked, source
    return pl.DataFrame(schema={"unit_code": pl.Utf8, "year": pl.Int32, "value": pl.Float64, "marker": pl.Utf8}), None


def _ofsted(judgements: pl.DataFrame | None, frame: pl.DataFrame, policy: str) -> pl.DataFrame:
    """Grade in force at 31 March of each year, inadequate flag, years since the last judgement.

    The same inspection published in several editions is taken once (`ofsted_history.combine`); where a
    harmonised unit has two judgements on one day (e.g. North and West Northamptonshire) the worse
    grade is kept.
    """
    if judgements is None or judgements.height == 0:
        return frame.with_columns(
            pl.lit(None, dtype=pl.Int32).alias("ofsted_grade"),
            pl.lit(None, dtype=pl.Int8).alias("ofsted_inadequate"),
            pl.lit(None, dtype=pl.Float64).alias("years_since_inspection"),
            pl.lit(0, dtype=pl.Int8).alias("inspected_in_year"),
            pl.lit(None, dtype=pl.Utf8).alias("ofsted_framework"),
            pl.lit(None, dtype=pl.Int32).alias("ofsted_grade_at_inspection"),
            pl.lit(None, dtype=pl.Int8).alias("ofsted_inadequate_at_inspection"),
        )
    history = ofsted_history.combine([part for _, part in judgements.group_by("file", maintain_order=True)])
    oe = (
        history.filter(pl.col("judgement") == "overall_effectiveness", pl.col("grade").is_not_null())
        .with_columns(
            pl.col("la_code")
            .map_elements(lambda c: boundaries.unit_of(c, policy), return_dtype=pl.Utf8)
            .alias("unit_code"),
            pl.col("grade").replace_strict(GRADE_SCORE, return_dtype=pl.Int32).alias("score"),
        )
        .group_by("unit_code", "publication_date")
        .agg(pl.col("score").max(), pl.col("framework").first())
        .sort("unit_code", "publication_date")
        .select("unit_code", "publication_date", "score", "framework")
    )
    base = (
        frame.select("unit_code", "year")
        .with_columns(pl.date(pl.col("year"), 3, 31).alias("_ref"), pl.date(pl.col("year") - 1, 4, 1).alias("_start"))
        .sort("unit_code", "_ref")
    )
    in_force = base.sort("_ref").join_asof(
        oe.sort("publication_date"),
        left_on="_ref",
        right_on="publication_date",
        by="unit_code",
        strategy="backward",
        check_sortedness=False,
    )
    counts = (
        base.join(oe, on="unit_code", how="inner")
        .filter((pl.col("publication_date") >= pl.col("_start")) & (pl.col("publication_date") <= pl.col("_ref")))
        .group_by("unit_code", "year")
        .len()
    )
    in_force = (
        in_force.join(counts, on=["unit_code", "year"], how="left")
        .select(
            "unit_code",
            "year",
            pl.col("score").alias("ofsted_grade"),
            pl.when(pl.col("score").is_null())
            .then(None)
            .otherwise((pl.col("score") == 4).cast(pl.Int8))
            .alias("ofsted_inadequate"),
            ((pl.col("_ref") - pl.col("publication_date")).dt.total_days() / 365.25)
            .round(2)
            .alias("years_since_inspection"),
            (pl.col("len").fill_null(0) > 0).cast(pl.Int8).alias("inspected_in_year"),
            pl.col("framework").alias("ofsted_framework"),
        )
        .with_columns(
            # Observed only in years with a published judgement: no carrying forward (which would
            # manufacture persistence); the estimators then use the inspection-year sample.
            pl.when(pl.col("inspected_in_year") == 1).then(pl.col("ofsted_grade")).alias("ofsted_grade_at_inspection"),
            pl.when(pl.col("inspected_in_year") == 1)
            .then(pl.col("ofsted_inadequate"))
            .alias("ofsted_inadequate_at_inspection"),
        )
    )
    return frame.join(in_force, on=["unit_code", "year"], how="left")


def _treatment(frame: pl.DataFrame, registry: pl.DataFrame, policy: str) -> pl.DataFrame:
    registry = registry.with_columns(
        pl.col("la_code").map_elements(lambda c: boundaries.unit_of(c, policy), return_dtype=pl.Utf8).alias("la_code")
    )
    table = reg.treatment_table(registry).select(
        pl.col("la_code").alias("unit_code"),
        "first_treated_year",
        "model",
        "exit_year",
        "spell_id",
        "dfe_direction",
        "scope",
        "assignment",
        "pre_transfer_grade",
    )
    missing = sorted(set(table["unit_code"].to_list()) - set(frame["unit_code"].unique().to_list()))
    if missing:
        bad = registry.filter(pl.col("la_code") == missing[0], pl.col("role") == "treated").row(0, named=True)
        raise EvalkitError(
            f"treated spell {bad['spell_id']} names council {missing[0]}, which has no data in the ingested files",
            file=bad["registry_file"],
            column="la_code",
            expected="a council present in the ingested publications",
        )
    roles = (
        registry.group_by("la_code")
        .agg(pl.col("role").sort().str.join("+").alias("registry_roles"))
        .rename({"la_code": "unit_code"})
    )
    out = frame.join(table, on="unit_code", how="left").join(roles, on="unit_code", how="left")
    return out.with_columns(
        pl.col("first_treated_year").is_not_null().cast(pl.Int8).alias("ever_treated"),
        pl.col("first_treated_year").fill_null(0).cast(pl.Int32).alias("cohort"),
        pl.when(pl.col("first_treated_year").is_null())
        .then(None)
        .otherwise(pl.col("year") - pl.col("first_treated_year"))
        .alias("years_since_treatment"),
        (
            pl.col("first_treated_year").is_not_null()
            & (pl.col("year") >= pl.col("first_treated_year"))
            & (pl.col("exit_year").is_null() | (pl.col("year") < pl.col("exit_year")))
        )
        .cast(pl.Int8)
        .alias("treated_now"),
        pl.col("model").fill_null("in_house"),
        pl.col("registry_roles").fill_null(""),
    )


def build_panel(
    processed: Path,
    *,
    registry_path: Path | None = None,
    extra_registries: list[Path] | None = None,
    policy: str = "aggregate",
) -> tuple[pl.DataFrame, dict]:
    """Return (panel, diagnostics) from the ingest outputs in `processed`.

    `policy` is the boundary-change policy of `evalkit.panel.boundaries.harmonise`: "aggregate"
    follows reorganised areas as one unit over time, "separate" keeps successors as new units.
    """
    manifest, tables = read_processed(processed)
    measures = _measures(tables, policy, manifest.get("files"))
    source_gen = gens.current_dir(processed)
    if registry_path is None and source_gen is not None and (source_gen / "adm_registry.csv").exists():
        registry_path = source_gen / "adm_registry.csv"
    registry = reg.load_registry(registry_path, extra=extra_registries)

    population, population_source = _pick(measures, POPULATION)
    keys = measures.select("unit_code", "year").unique()
    names = measures.sort("year").group_by("unit_code").agg(pl.col("unit_name").drop_nulls().last())
    frame = keys.join(names, on="unit_code", how="left").join(
        population.select("unit_code", "year", pl.col("value").alias("population_0_17")),
        on=["unit_code", "year"],
        how="left",
    )
    sources = {"population_0_17": population_source}
    for column, candidates in MEASURE_SOURCES.items():
        picked, source = _pick(measures, candidates)
        if source is None:
            continue
        sources[column] = source
        frame = frame.join(
            picked.select(
                "unit_code", "year", pl.col("value").alias(column), pl.col("marker").alias(f"{column}_marker")
            ),
            on=["unit_code", "year"],
            how="left",
        )
    for column, pieces in SPLICED.items():
        parts = []
        for source, measure, first, last in pieces:
            picked, found = _pick(measures.filter(pl.col("year").is_between(first, last)), [(source, measure)])
            if found is not None:
                parts.append(picked)
        if parts:
            sources[column] = " + ".join(f"{s} {a}-{min(b, int(frame['year'].max()))}" for s, _, a, b in pieces)
            frame = frame.join(
                pl.concat(parts).select(
                    "unit_code", "year", pl.col("value").alias(column), pl.col("marker").alias(f"{column}_marker")
                ),
                on=["unit_code", "year"],
                how="left",
            )
    frame = _population_back(frame, measures)
    frame = _derived(frame)
    frame = _ofsted(tables.get("ofsted"), frame, policy)
    frame = _treatment(frame, registry, policy)
    frame = _regions(frame, tables.get("la_codes"), policy)
    frame = frame.with_columns(pl.lit(policy).alias("boundary_policy")).sort("unit_code", "year")
    covered = [
        c for c in [*MEASURE_SOURCES, *SPLICED, "population_0_17", *DERIVED_RATES, "ofsted_grade"] if c in frame.columns
    ]
    diagnostics = {
        "synthetic_demo": manifest.get("synthetic_demo", False),
        "units": frame["unit_code"].n_unique(),
        "years": [int(frame["year"].min()), int(frame["year"].max())],
        "rows": frame.height,
        "treated_units": int(frame.filter(pl.col("ever_treated") == 1)["unit_code"].n_unique()),
        "boundary_policy": policy,
        "column_sources": sources,
        "coverage": [_coverage(frame, c) for c in covered],
        "year_convention": "year t = year ending 31 March t; population mid-(t-1); workforce 30 Sept t-1; Ofsted grade in force on 31 March t",
        "treatment_convention": "first treated year = first year whose 31 March falls after go-live; exit year likewise for returns in-house",
        "spending": "nominal pounds unless a deflator is given (then every spend_* column has a _real twin); "
        "spend per child = spend / population 0-17 (mid t-1); *_s251 columns splice the S251 gross lines "
        "across publications on one definition (see column_sources)",
        "population_before_2013": "mid-2009 0-17 population from SFR27/2010 for 2010; 2011 and 2012 linearly interpolated "
        "between mid-2009 and mid-2012; 2009 carries mid-2009 back one year (marker "
        "'interpolated' / 'carried_back')",
    }
    return frame, diagnostics


PER_10K = {
    "cla_count": "cla_rate_per_10000",
    "cin_count": "cin_rate_per_10000",
    "cpp_count": "cpp_rate_per_10000",
    "referrals": "referral_rate_per_10000",
    "cla_starts": "cla_starts_per_10000",
}
# (numerator, denominator) -> ratio column: spending per child aged 0-17, per child in need, per child in care.
RATIOS = {
    "spend_csc_per_child": ("spend_csc_total", "population_0_17"),
    "spend_csc_per_child_s251": ("spend_csc_s251", "population_0_17"),
    "spend_cyp_per_child_s251": ("spend_cyp_s251", "population_0_17"),
    "spend_csc_per_cin": ("spend_csc_s251", "cin_count"),
    "spend_cla_per_cla": ("spend_cla_s251", "cla_count"),
}
DERIVED_RATES = [*PER_10K.values(), *RATIOS]


def _population_back(frame: pl.DataFrame, measures: pl.DataFrame) -> pl.DataFrame:
    """0-17 population for 2009-2012, where the ONS series on hand starts at mid-2012 (year 2013).

    Mid-2009 comes from the CLA return of 2010 (SFR27, `population_0_17_cla_denominator`); mid-2010
    and mid-2011 are interpolated linearly to mid-2012; year 2009 (mid-2008) carries mid-2009 back.
    Marked, never silent: `population_0_17_marker` says 'interpolated' or 'carried_back'.
    """
    base, _ = _pick(measures.filter(pl.col("year") == 2010), [("cla", "population_0_17_cla_denominator")])
    if base.height == 0 or "population_0_17" not in frame.columns:
        return frame
    later = frame.filter(pl.col("year") == 2013).select("unit_code", pl.col("population_0_17").alias("_p13"))
    anchors = base.select("unit_code", pl.col("value").alias("_p10")).join(later, on="unit_code", how="left")
    out = frame.join(anchors, on="unit_code", how="left")
    step = (pl.col("_p13") - pl.col("_p10")) / 3
    filled = (
        pl.when(pl.col("year") == 2010)
        .then(pl.col("_p10"))
        .when(pl.col("year") == 2009)
        .then(pl.col("_p10"))
        .when(pl.col("year") == 2011)
        .then((pl.col("_p10") + step).round(0))
        .when(pl.col("year") == 2012)
        .then((pl.col("_p10") + 2 * step).round(0))
    )
    marker = (
        pl.when(pl.col("year") == 2009)
        .then(pl.lit("carried_back"))
        .when(pl.col("year").is_in([2011, 2012]))
        .then(pl.lit("interpolated"))
    )
    if "population_0_17_marker" not in out.columns:
        out = out.with_columns(pl.lit(None, dtype=pl.Utf8).alias("population_0_17_marker"))
    use = pl.col("population_0_17").is_null() & pl.col("year").is_between(2009, 2012) & filled.is_not_null()
    return out.with_columns(
        pl.when(use).then(filled).otherwise(pl.col("population_0_17")).alias("population_0_17"),
        pl.when(use).then(marker).otherwise(pl.col("population_0_17_marker")).alias("population_0_17_marker"),
    ).drop("_p10", "_p13")


def _derived(frame: pl.DataFrame) -> pl.DataFrame:
    """Rates per 10,000 children and spending per child / per child in need / per child in care,
    recomputed from counts (so aggregated units and every year use one definition); each rate
    inherits its numerator's missing-value marker."""
    for count, rate in PER_10K.items():
        if count in frame.columns:
            frame = frame.with_columns(
                (pl.col(count) / _positive("population_0_17") * 10_000).round(4).alias(rate),
                pl.col(f"{count}_marker").alias(f"{rate}_marker"),
            )
    for ratio, (num, den) in RATIOS.items():
        if num in frame.columns and den in frame.columns:
            frame = frame.with_columns(
                (pl.col(num) / _positive(den)).round(4).alias(ratio),
                pl.col(f"{num}_marker").alias(f"{ratio}_marker"),
            )
    return frame


def _positive(column: str) -> pl.Expr:
    """A denominator that is null unless positive: a zero population gives no rate, never infinity."""
    return pl.when(pl.col(column) > 0).then(pl.col(column)).otherwise(None)


def _regions(frame: pl.DataFrame, lookup: pl.DataFrame | None, policy: str) -> pl.DataFrame:
    """Region (ONS region code) of each unit, from the DfE LA list when it was ingested."""
    if lookup is None or "parent_geography_code" not in lookup.columns:
        return frame.with_columns(pl.lit(None, dtype=pl.Utf8).alias("region_code"))
    regions = (
        lookup.filter(pl.col("la_code").is_not_null())
        .with_columns(
            pl.col("la_code")
            .map_elements(lambda c: boundaries.unit_of(c, policy), return_dtype=pl.Utf8)
            .alias("unit_code")
        )
        .group_by("unit_code")
        .agg(pl.col("parent_geography_code").drop_nulls().sort().first().alias("region_code"))
    )
    return frame.join(regions, on="unit_code", how="left")


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
    return {
        "measure": column,
        "units": present["unit_code"].n_unique(),
        "years": years,
        "missing": missing.height,
        "missing_reasons": reasons,
    }


def _reason(marker: str | None) -> str:
    return {
        None: "not_published",
        "interpolated": "interpolated",
        "carried_back": "carried_back",
        "c": "suppressed",
        "x": "not_available",
        "z": "not_applicable",
        "u": "low_reliability",
        "low": "rounded_to_zero",
        "blank": "blank",
        "partial_aggregate": "reorganisation",
        "rate_not_aggregable": "reorganisation",
    }.get(marker, f"marker_{marker}")


def screen_anomalies(frame: pl.DataFrame) -> dict:
    """Spikes and level breaks in every catalogued outcome column and the levels behind them
    (evalkit.panel.anomalies), with the rule that found them."""
    from evalkit import columns
    from evalkit.panel import anomalies

    screened = anomalies.screened_columns(frame, list(columns.COLUMNS))
    return {
        "rule": (
            "year-on-year log change against the other councils' changes in the same year: robust z = "
            f"(change - median) / ({anomalies.SCALE} x MAD); spike: two changes in a row beyond {anomalies.THRESHOLD:g} "
            f"in opposite directions; level break: consecutive same-direction changes beyond {anomalies.RUN_Z:g} whose "
            f"combined z (sum / sqrt(length)) passes {anomalies.THRESHOLD:g}"
        ),
        "columns": screened,
        "flags": anomalies.screen(frame, screened),
    }


def write_panel(processed: Path, frame: pl.DataFrame, diagnostics: dict) -> None:
    write_parquet(processed / PANEL_FILE, frame)
    write_json(processed / "panel_diagnostics.json", diagnostics)
