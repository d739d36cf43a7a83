"""Stage 3: run the analyses a plan names on the council-year panel and write the results.

Each analysis runs through `evalkit.analysis.run.run_planned` (its sample, estimator, default interval
and checks, the same path `power`, the multiverse and `estimate --panel` take); this module reads the
panel the plan names, applies the plan-wide sample rules, keeps the cache, adds the verdicts, the
power analysis and the provenance, and writes `reports/<name>/results.json` (canonical JSON) and
`results.parquet` atomically.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from evalkit import __version__, answers, cache, generations, methods
from evalkit.analysis.run import Analysis, run_planned
from evalkit.analysis.sample import baseline_level, flagged_in, living_window, sample_panel
from evalkit.analysis.treatment import asks
from evalkit.analysis.verdict import RULE, RULE_EVIDENCE, conclude
from evalkit.errors import EvalkitError
from evalkit.io import checked_sha256, inside_project, sha256_file, write_json, write_parquet
from evalkit.panel.build import EXTRA_REGISTRY, read_parquet_checked
from evalkit.plan import LoadedPlan

# Every library that computes a number in the results (numba: the SDID Frank-Wolfe kernel).
LIBRARIES = ["numpy", "scipy", "polars", "pandas", "linearmodels", "matplotlib", "quadprog", "joblib", "numba"]


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# --- Running a plan ------------------------------------------------------------------------------------


def run_plan(
    plan: dict[str, Any],
    *,
    command: str,
    plan_sha256: str | None = None,
    lock: dict | None = None,
    deviations: list | None = None,
    progress: Callable[[str], None] | None = None,
    cache_dir: Path | None = None,
) -> dict[str, Any]:
    """Run every analysis of a validated plan; returns the results document (see report.render).

    With `cache_dir`, each analysis's estimator output is kept there keyed by its exact inputs
    (`evalkit.cache`) and reused when nothing it depends on changed."""
    # as the plan names it; the file read is the generation in force
    panel_path = inside_project(plan["data"]["panel"], column="data.panel")
    panel_file = generations.resolve(panel_path)
    if not panel_file.is_file():
        raise EvalkitError("panel not found; run `evalkit panel` first", file=panel_path)
    expected = plan["data"].get("expected_sha256", {})
    for path, digest in sorted(expected.items()):
        actual = checked_sha256(generations.resolve(inside_project(path, column=f"data.expected_sha256[{path!r}]")))
        if actual != digest:
            raise EvalkitError(
                f"sha256 is {actual}, the plan expects {digest}",
                file=path,
                expected="the input the plan was written for",
            )
    panel = read_parquet_checked(panel_file)
    panel_registry(panel_file, panel)  # before any work: the registry beside the panel is the one it was built with
    if any(asks(entry) for entry in plan["analysis"]):  # treatment histories only when a rule asks (v1-v3: never)
        panel = with_treatment_history(panel, panel_file)
    sample_rules = living_window(plan.get("sample", {}), panel)
    sample, notes = sample_panel(panel, sample_rules)
    if sample_rules is not plan.get("sample", {}):
        notes["window_through_latest"] = sample_rules["years"]
    inference = plan["inference"]
    family = set(inference.get("family") or [])
    universe = family_universe(panel, sample, plan, family, panel_path) if family else None
    sizes = (
        family_sizes(panel, sample, plan, family, panel_path)
        if universe and inference.get("shared_size_draws") and inference.get("size_column")
        else None
    )
    analyses = []
    baselines: dict[str, dict[str, Any] | None] = {}
    diagnostics_file = panel_file.parent / "panel_diagnostics.json"
    flags = (
        (json.loads(diagnostics_file.read_text(encoding="utf-8")).get("anomalies") or {}).get("flags") or []
        if diagnostics_file.exists()
        else []
    )
    for entry in plan["analysis"]:
        if progress:
            progress(entry["label"])
        if methods.get(entry["method"]).kind == "journeys":  # Ofsted journeys next to the panel, not a long panel
            analyses.append(time_to_good(entry, panel_path, sample, inference))
            continue
        joint = universe if entry["label"] in family else None
        seen: list[Any] = []  # the analysis's prepared sample: the treated councils' level before the move
        done = run_planned(
            Analysis.from_plan(entry),
            panel,
            sample,
            plan,
            panel_path,
            cached=_cache(cache_dir),
            universe=joint,
            observe=seen.append,
            universe_sizes=sizes,
        )
        prep = seen[0]
        baselines[entry["label"]] = baseline_level(prep.rows, entry["outcome"], prep.accounting)
        if done["results"].get("estimates"):
            done["results"]["diagnostics"]["flagged_values_included"] = flagged_in(flags, prep.rows, entry["outcome"])
        analyses.append(done)
    power_doc, mdes = None, None
    if plan.get("power"):  # the plan's [power] section: design-based power and MDE beside every verdict
        from evalkit.power import mde_by_label, power_analysis

        power_doc = power_analysis(plan, panel, sample, panel_path, progress=progress)
        mdes = mde_by_label(power_doc)
    context = panel_context(panel_file, sample)
    alpha = float(inference.get("alpha", 0.05))
    verdicts = conclude(analyses, alpha=alpha, power=mdes, family=inference.get("family"))
    return {
        "name": plan["plan"]["name"],
        "title": plan["plan"]["title"],
        "question": plan["plan"]["question"],
        **context,
        "limitations": LIMITATIONS,  # the plan's own [report] limitations are added by the renderer
        "conclusions": verdicts,
        "answers": answers.build(
            analyses, verdicts, alpha=alpha, baselines=baselines, mdes=mdes, registry=context["registry"]
        ),
        "decision_rule": RULE_EVIDENCE if inference.get("family") else RULE,
        "synthetic_demo": bool(plan["plan"].get("synthetic_demo", False)),
        "plan": plan,
        "plan_sha256": plan_sha256,
        "lock": lock,
        "deviations": deviations or [],
        "sample_notes": notes,
        "provenance": {
            "inputs": [{"path": panel_path.as_posix(), "sha256": sha256_file(panel_file), "rows": panel.height}],
            "sources": input_provenance(panel_file),
            "evalkit_version": __version__,
            "libraries": library_versions(),
            "seeds": {"inference.seed": inference.get("seed")},
            "command": command,
        },
        "analyses": analyses,
        **({"power": power_doc} if power_doc is not None else {}),
    }


def panel_registry(panel_file: Path, panel: pl.DataFrame | None = None) -> pl.DataFrame:
    """The registry the panel was built with: the copy beside it (its generation's `adm_registry.csv` and
    extra rows), else the one packaged with evalkit. With `panel`, a registry that lacks a spell the
    panel's treated councils came from is refused: a panel copied out of its generation (the demo's,
    say) would otherwise show the packaged England registry's councils in its report."""
    from evalkit.sources import registry as reg

    folder = panel_file.parent
    local, extra = folder / "adm_registry.csv", folder / EXTRA_REGISTRY
    registry = reg.load_registry(local if local.exists() else None, extra=[extra] if extra.exists() else None)
    if panel is None or "spell_id" not in panel.columns or "ever_treated" not in panel.columns:
        return registry
    spells = panel.filter(pl.col("ever_treated") == 1)["spell_id"].drop_nulls().unique().sort().to_list()
    missing = [s for s in spells if s not in set(registry["spell_id"].to_list())]
    if missing:
        where = (
            f"{local.name} beside the panel"
            if local.exists()
            else f"packaged with evalkit ({reg.packaged_registry().name}: no adm_registry.csv beside the panel)"
        )
        raise EvalkitError(
            f"the panel's treated councils come from registry spells {', '.join(missing[:5])}"
            f"{' …' if len(missing) > 5 else ''}, which the registry {where} does not hold",
            file=panel_file,
            column="spell_id",
            expected="the registry the panel was built with beside it (adm_registry.csv from its generation)",
        )
    return registry


def with_treatment_history(panel: pl.DataFrame, panel_file: Path) -> pl.DataFrame:
    """The panel with each council-year's treatment in force and ownership changes so far, from the
    registry the panel was built with (its own generation's copy and any extra rows)."""
    from evalkit.panel import treatment_history as th

    registry = panel_registry(panel_file)
    policy = panel["boundary_policy"][0] if "boundary_policy" in panel.columns and panel.height else "aggregate"
    return th.in_force(panel, th.spells(registry, policy))


def _cache(cache_dir: Path | None) -> Any:
    """`cached(key_parts, compute)` over evalkit.cache, or None without a cache folder."""
    if cache_dir is None:
        return None

    def cached(parts: tuple[Any, ...], compute: Any) -> dict[str, Any]:
        digest = cache.key("analysis", *parts)
        out = cache.get(cache_dir, digest, shape=cache.results_shaped)
        if out is None:
            out = compute()
            cache.put(cache_dir, digest, out)
        return out

    return cached


def family_universe(
    panel: pl.DataFrame, sample: pl.DataFrame, plan: dict[str, Any], family: set[str], panel_path: Path
) -> dict[Any, int] | None:
    """unit -> adoption year over every council in any analysis of the family: the assignments that are
    permuted jointly (None, and Holm only, when two analyses give a council different years)."""
    from evalkit.analysis.sample import prepare

    universe: dict[Any, int] = {}
    for entry in plan["analysis"]:
        if entry["label"] not in family or methods.get(entry["method"]).kind == "journeys":
            continue
        long = prepare(panel, sample, plan, entry, panel_path).panel
        if long is None:
            continue
        for unit, cohort in long.unit_cohorts().items():
            if universe.setdefault(unit, cohort) != cohort:
                return None
    return universe or None


def family_sizes(
    panel: pl.DataFrame, sample: pl.DataFrame, plan: dict[str, Any], family: set[str], panel_path: Path
) -> dict[Any, float]:
    """unit -> size ([inference].size_column, mean over the analysis's rows) over the family's councils: the
    Ferman-Pinto variance model's input for a council whose adoption date a shared draw gives to another
    analysis's council (first analysis of the family that has the council)."""
    from evalkit.analysis.run import unit_sizes
    from evalkit.analysis.sample import prepare

    out: dict[Any, float] = {}
    for entry in plan["analysis"]:
        if entry["label"] not in family or methods.get(entry["method"]).kind == "journeys":
            continue
        prep = prepare(panel, sample, plan, entry, panel_path)
        for unit, size in (unit_sizes(prep.rows, plan["inference"]["size_column"]) or {}).items():
            out.setdefault(unit, size)
    return out


def time_to_good(
    analysis: dict[str, Any], panel_path: Path, sample: pl.DataFrame, inference: dict[str, Any]
) -> dict[str, Any]:
    """The plan's `time_to_good` analysis: Kaplan-Meier curves from the first 'inadequate' judgement to
    'good or better' by group (evalkit.panel.journeys defines spells, groups and censoring), log-rank
    tests of the treated councils against each other group. Same shape as every other analysis."""
    from evalkit.estimators.survival import compare_groups
    from evalkit.panel import journeys

    judgements = generations.resolve(Path(panel_path).parent / "ofsted.parquet")
    if not judgements.is_file():
        raise EvalkitError("no Ofsted judgements next to the panel; run `evalkit ingest`", file=judgements)
    policy = str(sample["boundary_policy"][0]) if "boundary_policy" in sample.columns and sample.height else "aggregate"
    lines = journeys.timelines(read_parquet_checked(judgements), policy)
    groups = journeys.groups_from_panel(sample)
    spells = journeys.time_to_good(lines, groups)
    full = read_parquet_checked(generations.resolve(Path(panel_path)))  # names of councils the sample leaves out too
    names = dict(full.group_by("unit_code").agg(pl.col("unit_name").drop_nulls().last()).iter_rows())
    spells = spells.with_columns(
        pl.col("unit_code").replace_strict(names, default=None, return_dtype=pl.Utf8).alias("unit_name")
    )
    alpha = float(inference.get("alpha", 0.05))
    rows, curves, tests = compare_groups(
        spells["years"].to_numpy(),
        spells["event"].to_numpy(),
        spells["group"].to_list(),
        reference="treated",
        order=journeys.GROUPS,
        alpha=alpha,
    )
    estimates = [
        {
            "name": r["name"],
            "aggregation": r["aggregation"],
            "estimate": r.get("estimate"),
            "se": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": r.get("p_value"),
            "group": None,
            "time": None,
            "event_time": None,
            "unit": None,
        }
        for r in rows
    ]
    results = {
        "method": "kaplan_meier",
        "outcome": analysis["outcome"],
        "estimates": estimates,
        "inference": {
            "method": "Kaplan-Meier with Greenwood variance, log(-log) band; two-group log-rank tests",
            "alpha": alpha,
            "logrank": tests,
        },
        "diagnostics": {
            "spell": journeys.SPELL,
            "censoring": journeys.censoring_text(spells),
            "groups": {g: int(spells.filter(pl.col("group") == g).height) for g in journeys.GROUPS},
            "directed_in_house_named": journeys.DIRECTED_IN_HOUSE,
            "not_in_analysis": journeys.NOT_IN_ANALYSIS,
        },
        "options": {},
        "seed": None,
        "extra": {
            "spells": [
                {k: (str(v) if hasattr(v, "isoformat") else v) for k, v in r.items()}
                for r in spells.select(
                    "unit_code", "unit_name", "group", "start", "stop", "years", "event", "path"
                ).to_dicts()
            ],
            "km": curves,
            "timelines": [
                {"unit": u, "unit_name": names.get(u), "group": groups[u], "date": str(d), "grade": g}
                for u, d, g in lines.select("unit_code", "publication_date", "grade").iter_rows()
                if groups.get(u) in ("treated", "directed_in_house")
            ],
        },
    }
    return {
        "label": analysis["label"],
        "title": analysis.get("title", analysis["label"]),
        "primary": False,
        "method": "time_to_good",
        "results": results,
        **({"reason": analysis["reason"]} if analysis.get("reason") else {}),
    }


def run(
    loaded: LoadedPlan,
    out_dir: Path,
    *,
    command: str,
    progress: Callable[[str], None] | None = None,
    cache_dir: Path | None = None,
) -> Path:
    """Run a plan read once (evalkit.plan.open_plan, or LoadedPlan.from_results for verify) and write
    its results into out_dir; returns out_dir. `cache_dir`: see run_plan (verify passes none)."""
    doc = run_plan(
        loaded.plan,
        command=command,
        plan_sha256=loaded.sha256,
        lock=loaded.lock,
        deviations=loaded.deviations,
        progress=progress,
        cache_dir=cache_dir,
    )
    if loaded.path is not None:  # so that `verify` can re-read the plan and its lock, not trust this file
        from evalkit.plan import plan_reference

        doc["plan_file"] = plan_reference(loaded.path)
    with generations.staged(out_dir) as stage:  # results.json and results.parquet as one set
        write_results(doc, stage)
    return out_dir


def panel_context(panel_path: Path, sample: pl.DataFrame) -> dict[str, Any]:
    """Registry rows of the sample's treated councils (with sources), coverage and balance, for the report."""
    folder = panel_path.parent  # the panel's own generation: registry, coverage and balance of the same run
    registry = panel_registry(panel_path)
    treated_codes = set(sample.filter(pl.col("ever_treated") == 1)["unit_code"].unique().to_list())
    rows = [
        {
            k: r[k]
            for k in (
                "spell_id",
                "la_code",
                "la_name",
                "body_name",
                "model",
                "go_live",
                "go_live_status",
                "end_date",
                "end_type",
                "dfe_direction",
                "role",
                "scope",
                "assignment",
                "pre_transfer_grade",
                "setup_funding_gbp",
                "sources",
            )
            if k in r
        }
        | {"first_treated_year": r["first_treated_year"]}
        for r in registry.iter_rows(named=True)
        if r["la_code"] in treated_codes
        or any(r["la_code"] in code.split(" / ") for code in treated_codes)
        or r["role"] != "treated"
    ]
    diagnostics = folder / "panel_diagnostics.json"
    diag = json.loads(diagnostics.read_text(encoding="utf-8")) if diagnostics.exists() else {}
    coverage = diag.get("coverage", [])
    balance_file = folder / "balance.parquet"
    balance = read_parquet_checked(balance_file).to_dicts() if balance_file.exists() else []
    out = {"registry": rows, "coverage": coverage, "balance": balance}
    if diag.get("anomalies"):
        out["anomalies"] = diag["anomalies"]
    return out


def input_provenance(panel_file: Path) -> dict[str, Any]:
    """What a reader can cite: every published file that went into the panel (its publication, release, sha256
    and public origin, from the ingest manifest and the source catalogue), the deflator series and its
    release, and the registry of delivery models (file and sha256)."""
    import tomllib
    from importlib import resources

    from evalkit.sources import registry as reg

    folder = panel_file.parent
    manifest_file = folder / "manifest.json"
    manifest = json.loads(manifest_file.read_text(encoding="utf-8")) if manifest_file.exists() else {}
    catalogue_text = (resources.files("evalkit") / "data" / "sources.toml").read_text(encoding="utf-8")
    catalogue = {f.get("sha256"): f for f in tomllib.loads(catalogue_text).get("file", [])}
    files = []
    for f in manifest.get("files") or []:
        known = catalogue.get(f.get("sha256"), {})
        files.append(
            {
                "file": f.get("file"),
                "source": f.get("source"),
                "release": f.get("release"),
                "rows": f.get("rows"),
                "sha256": f.get("sha256"),
                "title": known.get("title"),
                "publisher": known.get("publisher"),
                "origin": known.get("origin"),
                "url": known.get("url"),
                "landing_page": known.get("landing_page"),
            }
        )
    diagnostics = folder / "panel_diagnostics.json"
    deflator = json.loads(diagnostics.read_text(encoding="utf-8")).get("deflator") if diagnostics.exists() else None
    local = folder / "adm_registry.csv"
    registry_file = local if local.exists() else reg.packaged_registry()
    registries = [{"file": registry_file.name, "sha256": sha256_file(registry_file)}]
    if (folder / EXTRA_REGISTRY).exists():
        registries.append({"file": EXTRA_REGISTRY, "sha256": sha256_file(folder / EXTRA_REGISTRY)})
    return {
        "publications": files,
        "source_dir": manifest.get("source_dir"),
        "deflator": None
        if not deflator
        else {
            k: deflator.get(k) for k in ("series", "title", "dataset", "release_date", "file", "sha256", "base_label")
        },
        "registry": registries,
    }


LIMITATIONS = [
    "Few treated councils: every estimate rests on about a dozen councils or fewer, so intervals are wide and "
    "per-council results matter as much as the pooled average.",
    "Selection on failure: most moves followed 'inadequate' Ofsted judgements; councils picked at a low point may "
    "improve anyway (regression to the mean). Comparisons with councils that were also judged inadequate are the "
    "fairest test.",
    "Inspection timing: Ofsted grades are observed only at inspections (about every three years, sooner after "
    "'inadequate', none March 2020 - May 2021), and inspection years themselves move referral and care rates.",
    "Spending series: publications differ in definition and coverage; each series is taken from one publication "
    "without splicing, and payments to a trust may be coded differently after go-live.",
    "Treatment is intention-to-treat from the first go-live: later changes of ownership and returns in-house are "
    "recorded in the registry but not removed from the treated years.",
]


def write_results(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    """results.json and results.parquet (every estimates table stacked, labelled)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    for a in doc["analyses"]:
        est = pl.DataFrame(a["results"]["estimates"], infer_schema_length=None)
        if est.height:
            frames.append(
                est.with_columns(
                    pl.lit(a["label"]).alias("label"),
                    pl.lit(a["results"]["method"]).alias("method"),
                    pl.lit(a["results"]["outcome"]).alias("outcome"),
                )
            )
    write_parquet(out_dir / "results.parquet", pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame())
    # results.json is written last and names the parquet it goes with: a run killed between the two
    # files leaves a pair the report refuses (report.render.check_companions), never a silent mix.
    doc["outputs"] = {"results.parquet": sha256_file(out_dir / "results.parquet")}
    write_json(out_dir / "results.json", doc)
    return [out_dir / "results.json", out_dir / "results.parquet"]
