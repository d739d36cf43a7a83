"""Stage 3: run the analyses a plan names on the council-year panel and write the results.

The estimators themselves (evalkit.estimators) work on any long panel; this module only turns the
plan's sample rules into that long panel, calls each estimator with the options it accepts, and
writes `reports/<name>/results.json` (canonical JSON) and `results.parquet` atomically.
"""

from __future__ import annotations

import importlib.metadata
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from evalkit import __version__, cache, generations, methods, sensitivity
from evalkit.conclusions import RULE, conclude
from evalkit.errors import EvalkitError, UsageError
from evalkit.estimators.data import LongPanel, make_panel
from evalkit.estimators.results import Results, estimates_frame
from evalkit.io import checked_sha256, sha256_file, write_json, write_parquet
from evalkit.panel.build import EXTRA_REGISTRY, read_parquet_checked
from evalkit.plan import LoadedPlan

LIBRARIES = ["numpy", "scipy", "polars", "pandas", "linearmodels", "matplotlib", "quadprog", "joblib"]


def resolve(method: str) -> Callable[..., Results]:
    """The estimator function of a registered method (see evalkit.methods)."""
    return methods.get(method).function()


def typed_options(method: str, options: dict[str, Any], inference: dict[str, Any]) -> methods.Options:
    """The method's options dataclass from the plan's options and the [inference] settings it takes."""
    from pydantic import ValidationError

    try:
        return methods.validate_options(method, methods.with_inference(method, options, inference))
    except ValidationError as exc:
        e = exc.errors()[0]
        where = ".".join(str(p) for p in e["loc"])
        if e["type"] == "extra_forbidden":
            takes = ", ".join(n for n in methods.get(method).option_names() if n not in methods.SAMPLE_OPTIONS)
            raise UsageError(
                f"method {method!r} has no option {where!r}; it takes {takes} (see `evalkit methods {method}`)"
            ) from None
        raise UsageError(f"method {method!r}, option {where}: {e['msg']}") from None


def call_estimator(method: str, panel: LongPanel, options: dict[str, Any], inference: dict[str, Any]) -> Results:
    """Run one registered method. The options recorded are every typed option (defaults included),
    with what the estimator resolved itself (e.g. the donor pool it used) taking precedence."""
    check_covariates(method, panel)
    opts = typed_options(method, options, inference)
    kwargs = methods.estimator_kwargs(opts)
    result = resolve(method)(panel, **kwargs)
    result.options = {**methods.recorded(opts), **result.options}
    return result


def check_covariates(method: str, panel: LongPanel) -> None:
    """Covariates given to a method that does not use them are refused, never dropped (methods.Method.covariates)."""
    if panel.covariates and not methods.get(method).covariates:
        raise UsageError(
            f"method {method!r} does not use covariates; drop --covariates or use "
            f"{', '.join(k for k, m in methods.METHODS.items() if m.covariates)}"
        )


def add_few_treated_inference(
    method: str, panel: LongPanel, options: dict[str, Any], inference: dict[str, Any], result: Results
) -> None:
    """The default interval (few treated units: randomisation or wild bootstrap) beside the analytic
    one, every row marked with its `interval` and whether it is the `default` (see few_treated)."""
    from evalkit.estimators.few_treated import add_default_interval, mark, normalise, supported

    if "randomization" not in supported(method) or not int(inference.get("permutations") or 0):
        if normalise(inference.get("interval")) not in ("auto", "analytic"):
            add_default_interval(method, panel, options, inference, result)  # refuses what it cannot do
        mark(result, "analytic")
        return
    add_default_interval(method, panel, options, inference, result)
    if (
        method == "twfe"
        and "wild_bootstrap" not in result.inference
        and result.inference["default_interval"]["interval"] != "analytic"
    ):
        # the wild cluster bootstrap is shown beside the randomisation interval for TWFE
        from evalkit.estimators.inference import wild_cluster_bootstrap

        seed, alpha = int(inference.get("seed", 20240101)), float(inference.get("alpha", 0.05))
        draws = int(inference.get("bootstrap") or 999)
        wild = wild_cluster_bootstrap(panel, draws=draws, seed=seed, alpha=alpha)
        row = {
            **wild.estimate("coef"),
            "name": "coef:wild_bootstrap",
            "aggregation": "wild_bootstrap",
            "interval": "wild",
            "default": False,
        }
        result.estimates = pl.concat([result.estimates, estimates_frame([row])], how="vertical_relaxed")
        result.inference["wild_bootstrap"] = {"draws": draws, "weights": "webb", "null_imposed": True}


def library_versions() -> dict[str, str]:
    out = {}
    for name in LIBRARIES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


# --- Sample rules ------------------------------------------------------------------------------------


def sample_panel(panel: pl.DataFrame, sample: dict[str, Any]) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Apply the plan's sample rules; returns the rows kept and what was excluded and why."""
    notes: dict[str, Any] = {}
    frame = panel
    if "years" in sample:
        first, last = sample["years"]
        frame = frame.filter(pl.col("year").is_between(first, last))
    exclude = list(sample.get("exclude_units", []))
    other = sorted(
        frame.filter(pl.col("registry_roles").str.contains("other_intervention"), pl.col("ever_treated") == 0)[
            "unit_code"
        ]
        .unique()
        .to_list()
    )
    if other:
        notes["excluded_other_intervention"] = other
    frame = frame.filter(~pl.col("unit_code").is_in(exclude + other))
    if exclude:
        notes["excluded_by_plan"] = sorted(exclude)
    treated = sample.get("treated", "registry")
    if isinstance(treated, list):
        cohorts = {str(t["unit"]): int(t["first_year"]) for t in treated}
        frame = frame.with_columns(
            pl.col("unit_code").replace_strict(cohorts, default=0, return_dtype=pl.Int32).alias("cohort")
        ).with_columns((pl.col("cohort") > 0).cast(pl.Int8).alias("ever_treated"))
        notes["treated_from"] = "plan"
    else:
        notes["treated_from"] = "registry"
    last_year = frame["year"].max()
    late = sorted(frame.filter(pl.col("cohort") > last_year)["unit_code"].unique().to_list())
    if late:  # treated after the sample ends: neither treated nor clean controls
        frame = frame.filter(~pl.col("unit_code").is_in(late))
        notes["excluded_treated_after_sample"] = late
    donors = sample.get("donors", "never_treated")
    if donors not in methods.DONOR_RULES:
        raise UsageError(
            f"unknown donor rule {donors!r}; choose never_treated, not_yet_treated or inadequate_pre_period"
        )
    if donors == "inadequate_pre_period":
        # Councils that also failed: judged inadequate in some year before the last move in the sample.
        last_cohort = frame.filter(pl.col("cohort") > 0)["cohort"].max()
        pool = frame.filter(pl.col("cohort") == 0, pl.col("year") < last_cohort, pl.col("ofsted_inadequate") == 1)[
            "unit_code"
        ].unique()
        dropped = frame.filter(pl.col("cohort") == 0, ~pl.col("unit_code").is_in(pool.implode()))["unit_code"].unique()
        frame = frame.filter((pl.col("cohort") > 0) | pl.col("unit_code").is_in(pool.implode()))
        notes["donor_rule"] = (
            f"never-treated councils judged inadequate in a year before {last_cohort}: {pool.len()} kept, {dropped.len()} dropped"
        )
    else:  # never_treated / not_yet_treated: the pool is the same; the estimator's `control` option chooses
        notes["donor_rule"] = donors
    return frame, notes


def outcome_window(frame: pl.DataFrame, outcome: str, share: float = 0.5) -> tuple[int, int]:
    # share 0 (sparse outcomes observed at inspections) means: any year with an observation.
    """The first and last sample years in which at least `share` of councils report the outcome.

    Publications start and stop in different years (workforce from 2017, LAIT spending from
    2015-16); each analysis uses the years its outcome covers instead of losing every council.
    """
    by_year = (
        frame.group_by("year")
        .agg(pl.col(outcome).is_not_null().mean().alias("share"))
        .filter(pl.col("share") > 0 if share == 0 else pl.col("share") >= share)
    )
    if by_year.height == 0:
        raise EvalkitError(
            f"no sample year in which at least {share:.0%} of councils report {outcome!r}",
            file="panel.parquet",
            column=outcome,
        )
    return int(by_year["year"].min()), int(by_year["year"].max())


def treated_accounting(
    sample: pl.DataFrame, rows: pl.DataFrame, dropped: list[dict[str, Any]], window: tuple[int, int]
) -> list[dict[str, Any]]:
    """Every treated council of the sample: in this analysis, or why not."""
    kept = set(rows["unit_code"].unique().to_list())
    reasons = {d["unit"]: d["reason"] for d in dropped}
    out = []
    treated = (
        sample.filter(pl.col("cohort") > 0)
        .group_by("unit_code")
        .agg(pl.col("unit_name").first(), pl.col("cohort").first())
        .sort("cohort", "unit_code")
    )
    for unit, name, cohort in treated.iter_rows():
        if unit in kept and cohort <= window[0]:
            status, reason = False, f"no pre-treatment year: the outcome starts in {window[0]}, treatment in {cohort}"
        elif unit in kept and cohort > window[1]:
            status, reason = False, f"treated in {cohort}, after the outcome's last year {window[1]}"
        elif unit in kept:
            status, reason = True, ""
        else:
            status, reason = False, reasons.get(unit, "not in the sample")
        out.append({"unit": unit, "name": name, "cohort": int(cohort), "included": status, "reason": reason})
    return out


def balanced_outcome_panel(frame: pl.DataFrame, outcome: str) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Keep councils observed in every sample year (the estimators compare like with like)."""
    if outcome not in frame.columns:
        raise EvalkitError(
            f"the panel has no column {outcome!r}",
            file="panel.parquet",
            column=outcome,
            expected="an outcome the panel carries",
        )
    n_years = frame["year"].n_unique()
    counts = frame.group_by("unit_code").agg(
        pl.col(outcome).is_not_null().sum().alias("n"), pl.col("unit_name").first()
    )
    short = counts.filter(pl.col("n") < n_years).sort("unit_code")
    dropped = [
        {
            "unit": r["unit_code"],
            "name": r["unit_name"],
            "years_observed": int(r["n"]),
            "reason": "outcome missing in some year",
        }
        for r in short.iter_rows(named=True)
    ]
    return frame.filter(~pl.col("unit_code").is_in(short["unit_code"].implode())), dropped


# --- Running a plan ------------------------------------------------------------------------------------


def prepare_analysis(
    panel: pl.DataFrame, sample: pl.DataFrame, plan: dict[str, Any], analysis: dict[str, Any], panel_path: Path
) -> dict[str, Any]:
    """The long panel one analysis runs on, built by the plan's rules in one place (its donor pool, its
    years, its subgroup, the outcome window, complete councils, two pre-years for synthetic controls),
    the estimator options left after the sample ones, and the accounting of treated councils.

    `estimate`, `power` and the multiverse all call this, so a power draw runs on exactly the sample
    the verdict was drawn from. `panel` is None when no treated council is left."""
    options = dict(analysis.get("options", {}))
    rows_for_analysis = sample
    if "donors" in options:  # a per-analysis comparison pool, e.g. councils also judged inadequate
        rows_for_analysis, _ = sample_panel(panel, {**plan.get("sample", {}), "donors": options.pop("donors")})
    if analysis.get("years"):  # e.g. v1's window kept in v2 so the answers compare
        rows_for_analysis = rows_for_analysis.filter(pl.col("year").is_between(*analysis["years"]))
    if analysis.get("subgroup"):  # heterogeneity: only the treated councils of one kind, all comparison councils
        column, value = analysis["subgroup"].split("=", 1)
        if column not in rows_for_analysis.columns:
            raise EvalkitError(
                f"the panel has no column {column!r} for the subgroup", file=panel_path.name, column=column
            )
        rows_for_analysis = rows_for_analysis.filter((pl.col("cohort") == 0) | (pl.col(column) == value))
    if analysis["outcome"] not in sample.columns:
        raise EvalkitError(
            f"the panel has no column {analysis['outcome']!r}",
            file=panel_path.name,
            column=analysis["outcome"],
            expected="an outcome the panel carries",
        )
    sparse = analysis["outcome"].endswith("_at_inspection")
    window = outcome_window(rows_for_analysis, analysis["outcome"], share=0.0 if sparse else 0.5)
    in_window = rows_for_analysis.filter(pl.col("year").is_between(*window))
    if sparse:  # observed in inspection years only: the sample is those council-years, stated as such
        rows = in_window.filter(pl.col(analysis["outcome"]).is_not_null())
        dropped = [
            {"unit": u, "name": n, "years_observed": 0, "reason": "no inspection in the window"}
            for u, n in in_window.filter(~pl.col("unit_code").is_in(rows["unit_code"].unique().implode()))
            .group_by("unit_code")
            .agg(pl.col("unit_name").first())
            .sort("unit_code")
            .iter_rows()
        ]
    else:
        rows, dropped = balanced_outcome_panel(in_window, analysis["outcome"])
    accounting = treated_accounting(in_window, rows, dropped, window)
    # Units treated before the window's first year have no pre-period; those after it are not treated here.
    rows = rows.filter((pl.col("cohort") == 0) | pl.col("cohort").is_between(window[0] + 1, window[1]))
    if analysis["method"] in ("synth", "synth_staggered", "sdid"):  # a synthetic control needs two pre-period years
        short = set(rows.filter(pl.col("cohort") == window[0] + 1)["unit_code"].unique().to_list())
        rows = rows.filter(~pl.col("unit_code").is_in(list(short)))
        for t in accounting:
            if t["unit"] in short:
                t.update(
                    included=False,
                    reason=f"one pre-treatment year only ({window[0]}): too few to fit a synthetic control",
                )
    long = None
    if rows.filter(pl.col("cohort") > 0).height > 0:
        long = make_panel(
            rows, unit="unit_code", time="year", outcome=analysis["outcome"], cohort="cohort", source=str(panel_path)
        )
    return {
        "panel": long,
        "options": options,
        "window": window,
        "dropped": dropped,
        "accounting": accounting,
        "sparse": sparse,
        "rows": rows,
    }


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
    panel_path = Path(plan["data"]["panel"])  # as the plan names it; the file read is the generation in force
    panel_file = generations.resolve(panel_path)
    if not panel_file.is_file():
        raise EvalkitError("panel not found; run `evalkit panel` first", file=panel_path)
    expected = plan["data"].get("expected_sha256", {})
    for path, digest in sorted(expected.items()):
        actual = checked_sha256(generations.resolve(Path(path)))
        if actual != digest:
            raise EvalkitError(
                f"sha256 is {actual}, the plan expects {digest}",
                file=path,
                expected="the input the plan was written for",
            )
    panel = read_parquet_checked(panel_file)
    sample, notes = sample_panel(panel, plan.get("sample", {}))
    inference = plan["inference"]
    analyses = []
    for analysis in plan["analysis"]:
        if progress:
            progress(analysis["label"])
        if analysis["method"] == "time_to_good":  # not a panel estimator: Ofsted journeys next to the panel
            analyses.append(time_to_good(analysis, panel_path, sample, inference))
            continue
        options = dict(analysis.get("options", {}))
        checks = {"sensitivity": analysis.get("sensitivity"), "pretrend": bool(analysis.get("pretrend_test"))}
        if checks["sensitivity"] or checks["pretrend"]:
            options = sensitivity.check_method(
                analysis["method"], options, f"analysis {analysis['label']!r}: sensitivity"
            )
        prep = prepare_analysis(panel, sample, plan, analysis, panel_path)
        window, dropped, accounting, sparse, rows = (
            prep["window"],
            prep["dropped"],
            prep["accounting"],
            prep["sparse"],
            prep["rows"],
        )
        options = {k: v for k, v in options.items() if k != "donors"}
        long = prep["panel"]
        if long is None:
            analyses.append(_no_estimate(analysis, window, accounting, dropped))
            continue
        few_treated = True  # every estimator leads with its default interval (estimators.few_treated)
        digest = (
            cache.key(
                "analysis",
                analysis["method"],
                options,
                inference,
                few_treated,
                checks,
                long.outcome,
                list(long.covariates),
                long.data,
            )
            if cache_dir is not None
            else ""
        )
        out = cache.get(cache_dir, digest, shape=cache.results_shaped)
        if out is None:
            result = call_estimator(analysis["method"], long, options, inference)
            if few_treated:
                add_few_treated_inference(analysis["method"], long, options, inference, result)
            if checks["sensitivity"] or checks["pretrend"]:
                sensitivity.add_rows(
                    result,
                    sensitivity=checks["sensitivity"],
                    pretrend=checks["pretrend"],
                    alpha=float(inference.get("alpha", 0.05)),
                )
            out = result.to_dict()
            cache.put(cache_dir, digest, out)
        out["diagnostics"]["years"] = list(window)
        if sparse:
            out["diagnostics"]["sample"] = (
                f"inspection years only: {rows.height} council-years with a published judgement"
            )
        out["diagnostics"]["units_dropped_for_missing_outcome"] = dropped
        out["diagnostics"]["treated_units"] = accounting
        if analysis.get("subgroup"):
            out["diagnostics"]["subgroup"] = analysis["subgroup"]
        analyses.append(
            {
                "label": analysis["label"],
                "title": analysis.get("title", analysis["label"]),
                "primary": bool(analysis.get("primary", False)),
                "method": analysis["method"],
                "results": out,
                **({"reason": analysis["reason"]} if analysis.get("reason") else {}),
                **({"subgroup": analysis["subgroup"]} if analysis.get("subgroup") else {}),
            }
        )
    power_doc, mdes = None, None
    if plan.get("power"):  # the plan's [power] section: design-based power and MDE beside every verdict
        from evalkit.power import mde_by_label, power_analysis

        power_doc = power_analysis(plan, panel, sample, panel_path, progress=progress)
        mdes = mde_by_label(power_doc)
    context = panel_context(panel_file, sample)
    return {
        "name": plan["plan"]["name"],
        "title": plan["plan"]["title"],
        "question": plan["plan"]["question"],
        **context,
        "limitations": LIMITATIONS,  # the plan's own [report] limitations are added by the renderer
        "conclusions": conclude(analyses, alpha=float(inference.get("alpha", 0.05)), power=mdes),
        "decision_rule": RULE,
        "synthetic_demo": bool(plan["plan"].get("synthetic_demo", False)),
        "plan": plan,
        "plan_sha256": plan_sha256,
        "lock": lock,
        "deviations": deviations or [],
        "sample_notes": notes,
        "provenance": {
            "inputs": [{"path": panel_path.as_posix(), "sha256": sha256_file(panel_file), "rows": panel.height}],
            "evalkit_version": __version__,
            "libraries": library_versions(),
            "seeds": {"inference.seed": inference.get("seed")},
            "command": command,
        },
        "analyses": analyses,
        **({"power": power_doc} if power_doc is not None else {}),
    }


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


def _no_estimate(analysis: dict[str, Any], window: tuple[int, int], accounting: list, dropped: list) -> dict[str, Any]:
    """An analysis none of whose treated councils can be estimated: kept in the results with the reasons."""
    results = {
        "method": analysis["method"],
        "outcome": analysis["outcome"],
        "estimates": [],
        "inference": {},
        "diagnostics": {
            "years": list(window),
            "treated_units": accounting,
            "units_dropped_for_missing_outcome": dropped,
            "no_estimate": "no treated council has both a pre- and a post-treatment year of this outcome",
        },
        "options": dict(analysis.get("options", {})),
        "seed": None,
        "extra": {},
    }
    return {
        "label": analysis["label"],
        "title": analysis.get("title", analysis["label"]),
        "primary": bool(analysis.get("primary", False)),
        "method": analysis["method"],
        "results": results,
        **({"reason": analysis["reason"]} if analysis.get("reason") else {}),
        **({"subgroup": analysis["subgroup"]} if analysis.get("subgroup") else {}),
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
    from evalkit.sources import registry as reg

    folder = panel_path.parent  # the panel's own generation: registry, coverage and balance of the same run
    local = folder / "adm_registry.csv"
    extra = folder / EXTRA_REGISTRY
    registry = reg.load_registry(local if local.exists() else None, extra=[extra] if extra.exists() else None)
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
    coverage = json.loads(diagnostics.read_text(encoding="utf-8")).get("coverage", []) if diagnostics.exists() else []
    balance_file = folder / "balance.parquet"
    balance = read_parquet_checked(balance_file).to_dicts() if balance_file.exists() else []
    return {"registry": rows, "coverage": coverage, "balance": balance}


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
