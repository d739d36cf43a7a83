"""The sample one analysis runs on, built by the plan's rules in one place.

`estimate`, `power` and the multiverse all build their long panels here, so a power draw or a
multiverse specification runs on exactly the sample rules the verdict was drawn from: the plan's
years and exclusions, the donor pool, the outcome's window, complete councils, and the pre-periods the
method needs (methods.Method.min_pre_periods), with every treated council accounted for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from evalkit import methods
from evalkit.analysis import treatment
from evalkit.errors import EvalkitError, UsageError
from evalkit.estimators.data import LongPanel, make_panel


def living_window(sample: dict[str, Any], panel: pl.DataFrame) -> dict[str, Any]:
    """`through = "latest"`: the window's last year becomes the latest year the panel holds (never
    earlier than the plan's own last year). Without it, the plan's sample unchanged (the same object)."""
    if sample.get("through") != "latest" or "years" not in sample or panel.height == 0:
        return sample
    first, last = sample["years"]
    latest = int(panel["year"].max())  # type: ignore[arg-type]
    return {**sample, "years": [first, max(last, latest)]}


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


def drop_short_pre_periods(rows: pl.DataFrame, method: str, window: tuple[int, int]) -> set[str]:
    """Treated units with fewer pre-treatment years in the window than the method needs (none for most)."""
    need = methods.get(method).min_pre_periods
    if need <= 1:
        return set()
    return set(
        rows.filter(pl.col("cohort").is_between(window[0] + 1, window[0] + need - 1))["unit_code"].unique().to_list()
    )


def short_pre_reason(method: str, window: tuple[int, int]) -> str:
    need = methods.get(method).min_pre_periods
    if need == 2:
        return f"one pre-treatment year only ({window[0]}): too few to fit a synthetic control"
    return f"fewer than {need} pre-treatment years from {window[0]}: too few for {method}"


@dataclass
class Prepared:
    """One analysis's long panel (None when no treated council is left), the estimator options left
    after the sample ones, the outcome window, and the accounting of treated and dropped councils."""

    panel: LongPanel | None
    options: dict[str, Any]
    window: tuple[int, int]
    dropped: list[dict[str, Any]]
    accounting: list[dict[str, Any]]
    sparse: bool
    rows: pl.DataFrame


def prepare(
    panel: pl.DataFrame, sample: pl.DataFrame, plan: dict[str, Any], analysis: dict[str, Any], panel_path: Path
) -> Prepared:
    """The long panel one analysis runs on, built by the plan's rules in one place (its donor pool, its
    years, its subgroup, the outcome window, complete councils, two pre-years for synthetic controls),
    the estimator options left after the sample ones, and the accounting of treated councils.

    `panel` is None when no treated council is left."""
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
    # (Not so for the switching estimator: a council already under a model when the window opens is the
    # one whose return in-house it estimates, against councils still under theirs.)
    switching = analysis.get("treatment") == "switching"
    if not switching:
        rows = rows.filter((pl.col("cohort") == 0) | pl.col("cohort").is_between(window[0] + 1, window[1]))
    short = set() if switching else drop_short_pre_periods(rows, analysis["method"], window)
    if short:
        rows = rows.filter(~pl.col("unit_code").is_in(list(short)))
        for t in accounting:
            if t["unit"] in short:
                t.update(included=False, reason=short_pre_reason(analysis["method"], window))
    in_force = None
    if treatment.asks(analysis):
        rows, in_force = treatment.apply(
            rows,
            treatment=analysis.get("treatment"),
            ownership_change=analysis.get("ownership_change"),
            switching_method=methods.get(analysis["method"]).switch_off,
            method=analysis["method"],
        )
    long = None
    if rows.filter(pl.col("cohort") > 0).height > 0:
        given = {"treated": in_force} if in_force else {"cohort": "cohort"}
        long = make_panel(
            rows, unit="unit_code", time="year", outcome=analysis["outcome"], source=str(panel_path), **given
        )
    return Prepared(long, options, window, dropped, accounting, sparse, rows)
