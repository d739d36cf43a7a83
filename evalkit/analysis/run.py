"""One analysis, run the same way by every caller.

`run` is the estimator, its default interval beside the analytic one, and the requested checks
(pre-trend test, Rambachan–Roth sensitivity) on a long panel: `evalkit estimate --panel`, each placebo
draw of `evalkit power`, each multiverse specification and the plan's analyses all call it.
`run_planned` is a plan's analysis end to end: its sample (analysis.sample), the cached run, and the
results entry with the accounting of treated councils.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from evalkit.analysis import sensitivity
from evalkit.analysis.estimator import call_estimator
from evalkit.analysis.intervals import KEEP_DRAWS, SHARED_SIZE, UNIVERSE, UNIVERSE_SIZES, add_default_interval
from evalkit.analysis.pretrend import RMS_KEY, add_rms_equivalence
from evalkit.analysis.sample import prepare
from evalkit.errors import EvalkitError, UsageError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.results import Results


@dataclass(frozen=True)
class Analysis:
    """A plan's analysis, typed: what to estimate, on which outcome, with which options and checks."""

    label: str
    method: str
    outcome: str
    title: str
    primary: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    subgroup: str | None = None
    reason: str | None = None
    sensitivity: dict[str, Any] | None = None
    pretrend_test: bool = False
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_plan(cls, entry: dict[str, Any]) -> Analysis:
        return cls(
            label=entry["label"],
            method=entry["method"],
            outcome=entry["outcome"],
            title=entry.get("title", entry["label"]),
            primary=bool(entry.get("primary", False)),
            options=dict(entry.get("options", {})),
            subgroup=entry.get("subgroup") or None,
            reason=entry.get("reason") or None,
            sensitivity=entry.get("sensitivity"),
            pretrend_test=bool(entry.get("pretrend_test")),
            raw=entry,
        )

    @property
    def checks(self) -> dict[str, Any]:
        return {"sensitivity": self.sensitivity, "pretrend": self.pretrend_test}

    def entry(self, results: dict[str, Any]) -> dict[str, Any]:
        """The analysis as results.json records it."""
        return {
            "label": self.label,
            "title": self.title,
            "primary": self.primary,
            "method": self.method,
            "results": results,
            **({"reason": self.reason} if self.reason else {}),
            **({"subgroup": self.subgroup} if self.subgroup else {}),
            **{k: self.raw[k] for k in ("vote", "smallest_effect") if self.raw.get(k) is not None},
            **{k: self.raw[k] for k in ("treatment", "ownership_change") if self.raw.get(k)},
        }


def run(
    method: str,
    panel: LongPanel,
    options: dict[str, Any],
    inference: dict[str, Any],
    *,
    checks: dict[str, Any] | None = None,
) -> Results:
    """The estimator, its default interval (analysis.intervals) and the requested checks."""
    result = call_estimator(method, panel, options, inference)
    add_default_interval(method, panel, options, inference, result)
    if checks and (checks.get("sensitivity") or checks.get("pretrend")):
        sensitivity.add_rows(
            result,
            sensitivity=checks.get("sensitivity"),
            pretrend=bool(checks.get("pretrend")),
            alpha=float(inference.get("alpha", 0.05)),
        )
    return result


def unit_sizes(rows: pl.DataFrame, column: str | None) -> dict[str, float] | None:
    """{unit: mean of `column` over the analysis's rows}: each council's size for the Ferman-Pinto
    interval and size-matched placebo draws ([inference] size_column, e.g. population_0_17)."""
    if not column:
        return None
    if column not in rows.columns:
        raise UsageError(f"[inference] size_column {column!r} is not a panel column")
    means = rows.group_by("unit_code").agg(pl.col(column).cast(pl.Float64).mean()).drop_nulls()
    return dict(zip(means["unit_code"].to_list(), means[column].to_list()))


def run_planned(
    analysis: Analysis,
    panel: pl.DataFrame,
    sample: pl.DataFrame,
    plan: dict[str, Any],
    panel_path: Path,
    *,
    cached: Callable[[tuple[Any, ...], Callable[[], dict[str, Any]]], dict[str, Any]] | None = None,
    universe: dict[Any, int] | None = None,
    observe: Callable[[Any], None] | None = None,
    universe_sizes: dict[Any, float] | None = None,
) -> dict[str, Any]:
    """A plan's analysis end to end; returns its results.json entry. `cached(key_parts, compute)`
    returns a stored result for the exact inputs or computes and stores it (estimate's cache).
    `universe`: the councils of the plan's family, whose adoption dates are permuted jointly.
    `observe(prepared)` sees the prepared sample (estimate reads the treated councils' level before the move)."""
    inference = with_draws(plan["inference"], universe, analysis.sensitivity)
    if universe is not None and universe_sizes and inference.get(SHARED_SIZE):  # opt-in (plans v1-v4: never)
        inference = {**inference, UNIVERSE_SIZES: universe_sizes}
    options = analysis.options
    checks = analysis.checks
    if checks["sensitivity"] or checks["pretrend"]:
        options = sensitivity.check_method(analysis.method, options, f"analysis {analysis.label!r}: sensitivity")
    try:
        prep = prepare(panel, sample, plan, analysis.raw, panel_path)
    except EvalkitError as exc:
        raise refusal(analysis, exc, None) from None
    if observe is not None:
        observe(prep)
    options = {k: v for k, v in options.items() if k != "donors"}
    long = prep.panel
    if long is None:
        return analysis.entry(_no_estimate(analysis, prep))
    few_treated = True  # every estimator leads with its default interval (analysis.intervals)
    key = (analysis.method, options, inference, few_treated, checks, long.outcome, list(long.covariates), long.data)
    rms = bool(analysis.primary and inference.get(RMS_KEY))  # opt-in: [inference] equivalence_rms = true
    key += ("rms",) if rms else ()  # older plans keep their cache keys

    sizes = unit_sizes(prep.rows, inference.get("size_column"))  # new plans only: v1-v3 name no size column
    inf = {**inference, **({"unit_size": sizes} if sizes else {})}

    def compute() -> dict[str, Any]:
        try:
            result = run(analysis.method, long, options, inf, checks=checks)
            if rms:
                add_rms_equivalence(analysis.method, long, options, inf, result)
            return result.to_dict()
        except EvalkitError as exc:
            raise refusal(analysis, exc, prep.window) from None

    out = cached(key, compute) if cached is not None else compute()
    out["diagnostics"]["years"] = list(prep.window)
    if prep.sparse:
        out["diagnostics"]["sample"] = (
            f"inspection years only: {prep.rows.height} council-years with a published judgement"
        )
    out["diagnostics"]["units_dropped_for_missing_outcome"] = prep.dropped
    out["diagnostics"]["treated_units"] = prep.accounting
    if analysis.subgroup:
        out["diagnostics"]["subgroup"] = analysis.subgroup
    return analysis.entry(out)


def with_draws(
    inference: dict[str, Any], universe: dict[Any, int] | None, sensitivity_spec: dict[str, Any] | None
) -> dict[str, Any]:
    """The inference settings of one run, plus the family's universe and whether to keep the permuted
    estimates (a family member, or sensitivity with the permutation covariance); unchanged otherwise, so
    older plans keep their cache keys and bytes."""
    keep = universe is not None or (sensitivity_spec or {}).get("covariance") == "permutation"
    if not keep:
        return inference
    out = {**inference, KEEP_DRAWS: True}
    if universe is not None:
        out[UNIVERSE] = universe
    return out


def _no_estimate(analysis: Analysis, prep: Any) -> dict[str, Any]:
    """An analysis none of whose treated councils can be estimated: kept in the results with the reasons."""
    return {
        "method": analysis.method,
        "outcome": analysis.outcome,
        "estimates": [],
        "inference": {},
        "diagnostics": {
            "years": list(prep.window),
            "treated_units": prep.accounting,
            "units_dropped_for_missing_outcome": prep.dropped,
            "no_estimate": "no treated council has both a pre- and a post-treatment year of this outcome",
        },
        "options": dict(analysis.options),
        "seed": None,
        "extra": {},
    }


def refusal(analysis: Analysis, exc: EvalkitError, window: tuple[int, int] | None) -> EvalkitError:
    """An analysis that cannot run names itself and the cause: the outcome's years where they matter."""
    cause = exc.message
    if window is not None:
        cause = f"{analysis.raw['outcome']} covers {window[0]}-{window[1]} only: {cause}"
    return EvalkitError(
        f"{analysis.label}: {cause}", file=exc.file, row=exc.row, column=exc.column, expected=exc.expected
    )
