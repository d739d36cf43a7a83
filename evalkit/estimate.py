"""Stage 3: run the analyses a plan names on the council-year panel and write the results.

The estimators themselves (evalkit.estimators) work on any long panel; this module only turns the
plan's sample rules into that long panel, calls each estimator with the options it accepts, and
writes `reports/<name>/results.json` (canonical JSON) and `results.parquet` atomically.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl

from evalkit import __version__
from evalkit.errors import EvalkitError, UsageError
from evalkit.estimators.data import LongPanel, make_panel
from evalkit.estimators.results import Results
from evalkit.io import sha256_file, write_json, write_parquet

# Method name -> "module:function". Each function takes a LongPanel and keyword options.
METHODS: dict[str, str] = {
    "cs": "evalkit.estimators.cs:callaway_santanna",
    "twfe": "evalkit.estimators.twfe:twfe",
    "sunab": "evalkit.estimators.sunab:sun_abraham",
    "imputation": "evalkit.estimators.imputation:imputation",
    "synth": "evalkit.estimators.synth:synthetic_control",
    "synth_staggered": "evalkit.estimators.synth:synth_staggered",
    "sdid": "evalkit.estimators.sdid:synthetic_did_staggered",
}
LIBRARIES = ["numpy", "scipy", "polars", "pandas", "statsmodels", "linearmodels", "matplotlib", "quadprog", "joblib"]


def resolve(method: str) -> Callable[..., Results]:
    if method not in METHODS:
        raise UsageError(f"unknown method {method!r}; choose one of {', '.join(sorted(METHODS))}")
    module, func = METHODS[method].split(":")
    try:
        return getattr(importlib.import_module(module), func)
    except (ImportError, AttributeError) as exc:
        raise UsageError(f"method {method!r} is not available in this version ({exc})") from exc


def call_estimator(method: str, panel: LongPanel, options: dict[str, Any], inference: dict[str, Any]) -> Results:
    """Pass the plan's options, and the inference settings the estimator accepts (alpha, seed, draws)."""
    func = resolve(method)
    params = inspect.signature(func).parameters
    unknown = [k for k in options if k not in params]
    if unknown:
        raise UsageError(f"method {method!r} has no option {unknown[0]!r}; it takes {', '.join(p for p in params if p != 'panel')}")
    kwargs = dict(options)
    for key, value in (("alpha", inference.get("alpha")), ("seed", inference.get("seed"))):
        if key in params and key not in kwargs and value is not None:
            kwargs[key] = value
    if "bootstrap" in params and "bootstrap" not in kwargs and inference.get("bootstrap"):
        kwargs["bootstrap"] = inference["bootstrap"]
    if "reps" in params and "reps" not in kwargs and inference.get("permutations"):
        kwargs["reps"] = inference["permutations"]
    return func(panel, **kwargs)


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
    other = sorted(frame.filter(pl.col("registry_roles").str.contains("other_intervention"), pl.col("ever_treated") == 0)["unit_code"].unique().to_list())
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
    if donors == "inadequate_pre_period":
        first_cohort = frame.filter(pl.col("cohort") > 0)["cohort"].min()
        pool = frame.filter(pl.col("cohort") == 0, pl.col("year") < first_cohort, pl.col("ofsted_inadequate") == 1)["unit_code"].unique()
        dropped = frame.filter(pl.col("cohort") == 0, ~pl.col("unit_code").is_in(pool))["unit_code"].unique()
        frame = frame.filter((pl.col("cohort") > 0) | pl.col("unit_code").is_in(pool))
        notes["donor_rule"] = f"never-treated councils judged inadequate before {first_cohort}: {pool.len()} kept, {dropped.len()} dropped"
    else:
        notes["donor_rule"] = donors
    return frame, notes


def balanced_outcome_panel(frame: pl.DataFrame, outcome: str) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Keep councils observed in every sample year (the estimators compare like with like)."""
    if outcome not in frame.columns:
        raise EvalkitError(f"the panel has no column {outcome!r}", file="panel.parquet", column=outcome, expected="an outcome the panel carries")
    n_years = frame["year"].n_unique()
    counts = frame.group_by("unit_code").agg(pl.col(outcome).is_not_null().sum().alias("n"), pl.col("unit_name").first())
    short = counts.filter(pl.col("n") < n_years).sort("unit_code")
    dropped = [{"unit": r["unit_code"], "name": r["unit_name"], "years_observed": int(r["n"]), "reason": "outcome missing in some year"} for r in short.iter_rows(named=True)]
    return frame.filter(~pl.col("unit_code").is_in(short["unit_code"])), dropped


# --- Running a plan ------------------------------------------------------------------------------------

def run_plan(plan: dict[str, Any], *, command: str, plan_sha256: str | None = None, lock: dict | None = None,
             deviations: list | None = None, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run every analysis of a validated plan; returns the results document (see report.render)."""
    panel_path = Path(plan["data"]["panel"])
    if not panel_path.exists():
        raise EvalkitError("panel not found; run `evalkit panel` first", file=panel_path)
    expected = plan["data"].get("expected_sha256", {})
    for path, digest in sorted(expected.items()):
        actual = sha256_file(path) if Path(path).exists() else "missing"
        if actual != digest:
            raise EvalkitError(f"sha256 is {actual}, the plan expects {digest}", file=path, expected="the input the plan was written for")
    panel = pl.read_parquet(panel_path)
    sample, notes = sample_panel(panel, plan.get("sample", {}))
    inference = plan["inference"]
    analyses = []
    for analysis in plan["analysis"]:
        if progress:
            progress(analysis["label"])
        rows, dropped = balanced_outcome_panel(sample, analysis["outcome"])
        long = make_panel(rows, unit="unit_code", time="year", outcome=analysis["outcome"], cohort="cohort", source=str(panel_path))
        result = call_estimator(analysis["method"], long, dict(analysis.get("options", {})), inference)
        result.diagnostics["units_dropped_for_missing_outcome"] = dropped
        analyses.append({
            "label": analysis["label"], "title": analysis.get("title", analysis["label"]),
            "primary": bool(analysis.get("primary", False)), "method": analysis["method"], "results": result.to_dict(),
        })
    return {
        "name": plan["plan"]["name"], "title": plan["plan"]["title"], "question": plan["plan"]["question"],
        "synthetic_demo": bool(plan["plan"].get("synthetic_demo", False)),
        "plan": plan, "plan_sha256": plan_sha256, "lock": lock, "deviations": deviations or [],
        "sample_notes": notes,
        "provenance": {
            "inputs": [{"path": panel_path.as_posix(), "sha256": sha256_file(panel_path), "rows": panel.height}],
            "evalkit_version": __version__, "libraries": library_versions(),
            "seeds": {"inference.seed": inference.get("seed")}, "command": command,
        },
        "analyses": analyses,
    }


def write_results(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    """results.json and results.parquet (every estimates table stacked, labelled)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    frames = []
    for a in doc["analyses"]:
        est = pl.DataFrame(a["results"]["estimates"], infer_schema_length=None)
        if est.height:
            frames.append(est.with_columns(pl.lit(a["label"]).alias("label"), pl.lit(a["results"]["method"]).alias("method"), pl.lit(a["results"]["outcome"]).alias("outcome")))
    write_parquet(out_dir / "results.parquet", pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame())
    write_json(out_dir / "results.json", doc)
    return [out_dir / "results.json", out_dir / "results.parquet"]
