"""Run every specification of a multiverse: build its sample, call its estimator with the plan's
inference, keep the headline estimate. Specifications go through `evalkit.parallel.pmap`, so they run
serially, on local processes or on a Dask cluster with the same numbers.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from evalkit import generations, methods
from evalkit.errors import EvalkitError, UsageError
from evalkit.multiverse.specs import NA, expand, label

# Unit codes as the panel carries them (DfE three-digit codes; joint units "a / b").
KINGSTON_RICHMOND = ("314 / 318", "314", "318")
# Kingston and Richmond (one company, Achieving for Children) as one unit, as two boroughs, or left out,
# whatever the policy for the other boundary changes: the units taken from the panel built that way.
KR_UNITS = {"joint": ("aggregate", ("314 / 318",)), "separate": ("separate", ("314", "318"))}
NORTHAMPTONSHIRE = ("928", "940", "941", "940 / 941")
COLUMNS = [
    "id",
    "comparison",
    "years",
    "boundaries",
    "kingston_richmond",
    "northamptonshire",
    "estimator",
    "covariates",
    "anticipation",
    "est_method",
    "outcome",
    "estimate",
    "ci_low",
    "ci_high",
    "p_value",
    "interval",
    "n_treated",
    "treated_units",
    "status",
]


@dataclass
class Context:
    """What every specification reads: the panel variants (by boundary policy), the plan's inference,
    the outcome, and the comparison pools that come from files beside the panel."""

    panels: dict[str, pl.DataFrame]
    inference: dict[str, Any]
    outcome: str
    matched: list[str] = field(default_factory=list)
    neighbours: list[str] = field(default_factory=list)


def choose_outcome(plan: dict[str, Any]) -> str:
    mv = plan["multiverse"]
    if mv.get("outcome"):
        return mv["outcome"]
    primary = [a for a in plan["analysis"] if a.get("primary")] or plan["analysis"]
    return primary[0]["outcome"]


# --------------------------------------------------------------------------- panels


def panel_variant(processed: Path, policy: str, cache: Path) -> Path:
    """The panel built with boundary policy `policy`, built once and cached by the inputs' manifest."""
    from evalkit.panel import build

    manifest = generations.resolve(processed / "manifest.json")
    if not manifest.exists():
        raise EvalkitError("no manifest: run `evalkit ingest` first (needed to build a panel variant)", file=manifest)
    diagnostics = generations.resolve(processed / "panel_diagnostics.json")
    index = (json.loads(diagnostics.read_text(encoding="utf-8")) if diagnostics.exists() else {}).get("deflator", {})
    index = index.get("index_exact") if isinstance(index, dict) else None
    key_bytes = manifest.read_bytes() + policy.encode() + json.dumps(index, sort_keys=True).encode()
    key = hashlib.sha256(key_bytes).hexdigest()[:16]
    target = cache / f"panel-{policy}-{key}.parquet"
    if not target.exists():
        frame, _ = build.build_panel(processed, policy=policy)
        if index:  # the panel in force has real-terms columns: the variant gets them from the same index
            from evalkit.panel.deflator import apply_index

            table = pl.DataFrame({"year": [int(y) for y in index], "deflator": [float(v) for v in index.values()]})
            frame = apply_index(frame, table.cast({"year": frame["year"].dtype}))
        cache.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        frame.write_parquet(tmp)
        tmp.replace(target)
    return target


def load_panels(plan: dict[str, Any], policies: list[str]) -> dict[str, pl.DataFrame]:
    base_path = Path(plan["data"]["panel"])
    if not generations.resolve(base_path).is_file():
        raise EvalkitError("panel not found; run `evalkit panel` first", file=base_path)
    base = pl.read_parquet(generations.resolve(base_path))
    base_policy = base["boundary_policy"][0] if "boundary_policy" in base.columns else "aggregate"
    out = {}
    for policy in policies:
        if policy == base_policy:
            out[policy] = base
        else:
            out[policy] = pl.read_parquet(panel_variant(base_path.parent, policy, base_path.parent / "variants"))
    return out


def comparison_pools(folder: Path, panel: pl.DataFrame) -> tuple[list[str], list[str]]:
    """Matched comparators (matches.parquet) and DfE statistical neighbours of treated councils."""
    matched, neighbours = [], []
    matches, sn_file = (
        generations.resolve(folder / "matches.parquet"),
        generations.resolve(folder / "statistical_neighbours.parquet"),
    )
    if matches.exists():
        matched = sorted(pl.read_parquet(matches)["comparator_unit"].unique().to_list())
    if sn_file.exists():
        sn = pl.read_parquet(sn_file)
        model = sn["model"].max()
        treated = panel.filter(pl.col("cohort") > 0)["unit_code"].unique().to_list()
        codes = {c for t in treated for c in t.split(" / ")}
        neighbours = sorted(
            sn.filter(pl.col("model") == model, pl.col("la_code").is_in(list(codes)))["neighbour_code"]
            .unique()
            .to_list()
        )
    return matched, neighbours


# --------------------------------------------------------------------------- one specification


def spec_panel(spec: dict[str, Any], ctx: Context) -> tuple[Any, list[str]]:
    """The LongPanel a specification estimates on, and the treated councils it uses."""
    from evalkit.analysis.sample import balanced_outcome_panel, drop_short_pre_periods, outcome_window, sample_panel
    from evalkit.estimators.data import make_panel

    panel = ctx.panels[spec["boundaries"]].filter(~pl.col("unit_code").is_in(list(KINGSTON_RICHMOND)))
    if spec["kingston_richmond"] in KR_UNITS:
        policy, units = KR_UNITS[spec["kingston_richmond"]]
        kr = ctx.panels[policy].filter(pl.col("unit_code").is_in(list(units)))
        panel = pl.concat([panel, kr], how="diagonal_relaxed")  # columns only one variant has are null elsewhere
    exclude: list[str] = []
    if spec["northamptonshire"] == "out":
        exclude += [u for u in NORTHAMPTONSHIRE if u in set(panel["unit_code"].unique().to_list())]
    donors = "inadequate_pre_period" if spec["comparison"] == "inadequate" else "never_treated"
    sample = {"years": spec["years"], "treated": "registry", "exclude_units": sorted(set(exclude)), "donors": donors}
    frame, _ = sample_panel(panel, sample)
    pool = {"matched": ctx.matched, "neighbours": ctx.neighbours}.get(spec["comparison"])
    if pool is not None:
        frame = frame.filter((pl.col("cohort") > 0) | pl.col("unit_code").is_in(pool))
    outcome = ctx.outcome
    if outcome not in frame.columns:
        raise EvalkitError(f"the panel has no column {outcome!r}", column=outcome)
    window = outcome_window(frame, outcome, share=0.5)
    rows, _ = balanced_outcome_panel(frame.filter(pl.col("year").is_between(*window)), outcome)
    rows = rows.filter((pl.col("cohort") == 0) | pl.col("cohort").is_between(window[0] + 1, window[1]))
    short = drop_short_pre_periods(rows, methods.MULTIVERSE[spec["estimator"]].key, window)  # as `evalkit estimate`
    if short:
        rows = rows.filter(~pl.col("unit_code").is_in(sorted(short)))
    covariates = [] if spec["covariates"] == NA else list(spec["covariates"])
    missing = [c for c in covariates if c not in rows.columns]
    if missing:
        raise UsageError(f"multiverse covariate {missing[0]!r} is not a panel column")
    if covariates:  # a unit needs its covariates in its first year (CS reads them there)
        rows = rows.filter(
            ~pl.col("unit_code").is_in(
                rows.sort("year")
                .group_by("unit_code")
                .agg([pl.col(c).drop_nulls().len() for c in covariates])
                .filter(pl.any_horizontal([pl.col(c) == 0 for c in covariates]))["unit_code"]
                .implode()
            )
        )
    long = make_panel(
        rows, unit="unit_code", time="year", outcome=outcome, cohort="cohort", covariates=covariates, source="panel"
    )
    treated = sorted(rows.filter(pl.col("cohort") > 0)["unit_code"].unique().to_list())
    return long, treated


def estimator_options(spec: dict[str, Any]) -> dict[str, Any]:
    est = spec["estimator"]
    opts = dict(methods.MULTIVERSE[est].multiverse.options)
    if est == "cs":
        opts.update(
            control="notyet" if spec["comparison"] == "notyet" else "never",
            est_method=spec["est_method"],
            anticipation=int(spec["anticipation"]),
        )
    elif est == "sunab":
        opts["control"] = "never"
    elif est == "imputation":
        opts["anticipation"] = int(spec["anticipation"])
    elif est == "synth" and spec["comparison"] == "notyet":
        opts["control"] = "notyet"
    return opts


def run_spec(spec: dict[str, Any], ctx: Context) -> dict[str, Any]:
    """One row: the specification's choices, headline estimate, interval, p-value, treated councils."""
    from evalkit.analysis.run import run

    row: dict[str, Any] = {k: (label(v) if k != "id" else v) for k, v in spec.items()}
    row.update(
        outcome=ctx.outcome,
        estimate=None,
        ci_low=None,
        ci_high=None,
        p_value=None,
        interval=None,
        n_treated=None,
        treated_units=None,
        status="ok",
    )
    try:
        long, treated = spec_panel(spec, ctx)
        method = methods.MULTIVERSE[spec["estimator"]]
        options = estimator_options(spec)
        result = run(method.key, long, options, ctx.inference)
        head = result.estimate(method.headline)
        interval, lo, hi, p = "analytic", head.get("ci_low"), head.get("ci_high"), head.get("p_value")
        names = set(result.estimates["name"].to_list())
        ri = f"{method.headline}:randomisation"
        if ri in names:  # few treated councils: the randomisation interval where it exists (as the plan's default)
            r = result.estimate(ri)
            p = r["p_value"]
            if r.get("ci_low") is not None:
                interval, lo, hi = "randomisation", r["ci_low"], r["ci_high"]
            else:
                interval = "analytic (randomisation p-value)"
        if spec["estimator"] == "sdid" and interval == "analytic":
            interval = "jackknife"
        if spec["estimator"] == "synth":
            interval = "none (placebo p-value)"
        row.update(
            estimate=head["estimate"],
            ci_low=lo,
            ci_high=hi,
            p_value=p,
            interval=interval,
            n_treated=len(treated),
            treated_units=",".join(treated),
        )
    except (EvalkitError, UsageError, ValueError, ArithmeticError, KeyError, IndexError) as exc:
        row["status"] = f"not estimable: {str(exc).splitlines()[0]}"
    except Exception as exc:  # numpy's LinAlgError and friends: recorded, not fatal to the multiverse
        row["status"] = f"not estimable: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    return row


class _Runner:
    """Picklable task for pmap (the context travels once per chunk)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def __call__(self, spec: dict[str, Any]) -> dict[str, Any]:
        return run_spec(spec, self.ctx)


def run_multiverse(
    plan: dict[str, Any],
    *,
    on_result: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """Every specification's row (in specification order) and how the specifications were chosen."""
    from evalkit.parallel import pmap

    if "multiverse" not in plan:
        raise UsageError("the plan has no [multiverse] table")
    specs, note = expand(plan["multiverse"], (plan.get("sample") or {}).get("years"))
    policies = sorted(
        {s["boundaries"] for s in specs}
        | {KR_UNITS[s["kingston_richmond"]][0] for s in specs if s["kingston_richmond"] in KR_UNITS}
    )
    panels = load_panels(plan, policies)
    folder = Path(plan["data"]["panel"]).parent
    matched, neighbours = comparison_pools(folder, next(iter(panels.values())))
    ctx = Context(
        panels=panels,
        inference=dict(plan["inference"]),
        outcome=choose_outcome(plan),
        matched=matched,
        neighbours=neighbours,
    )
    if on_start:
        on_start(len(specs))
    rows = pmap(_Runner(ctx), specs, on_result=on_result)
    frame = (
        pl.DataFrame(
            rows,
            schema={
                c: (
                    pl.Float64
                    if c in ("estimate", "ci_low", "ci_high", "p_value")
                    else pl.Int64
                    if c == "n_treated"
                    else pl.Utf8
                )
                for c in COLUMNS
            },
            orient="row",
        )
        if rows
        else pl.DataFrame(schema={c: pl.Utf8 for c in COLUMNS})
    )
    note.update(
        outcome=ctx.outcome,
        inference={k: ctx.inference.get(k) for k in ("alpha", "seed", "permutations", "bootstrap")},
        matched_pool=len(matched),
        neighbour_pool=len(neighbours),
    )
    return frame, note


def spec_json(frame: pl.DataFrame) -> str:
    return json.dumps(frame.to_dicts(), sort_keys=True)
