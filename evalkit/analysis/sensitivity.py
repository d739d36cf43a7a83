"""Pre-trend test and Rambachan-Roth sensitivity as rows of an estimator's results (CLI and plans).

One place decides which methods have an event study to test, checks the request (one-line
refusals, exit 2), and appends the rows every consumer reads:

* `pretrend`: estimate = Wald chi-squared statistic of the pre-period event-study coefficients,
  p_value; degrees of freedom and the event times tested in diagnostics["pretrend"].
* `honest:rm:mbar=<Mbar>` / `honest:sd:m=<M>`: ci_low, ci_high = the robust interval for the target;
  estimate = the conventional estimate of the target (the same in every row).
* `honest:<rm|sd>:original`: the conventional interval for the target.
* `honest:<rm|sd>:breakdown`: estimate = the smallest Mbar (M) whose robust interval includes 0
  (0 when even the most restrictive one does; null when none up to the search limit does).
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from evalkit.errors import UsageError
from evalkit.estimators.results import Results, estimates_frame

DEFAULT_MBAR = (0.5, 1.0, 1.5, 2.0)
TARGETS = ("first", "average")
# The event study's covariance: the estimator's own, or the spread of the coefficients over permuted adoption
# dates (few treated councils: the analytic one is far too small where an event time rests on one council).
COVARIANCES = ("analytic", "permutation")


def label(value: float) -> str:
    """0.5 -> '0.5', 1.0 -> '1', 0.01 -> '0.01' (the number as written in row names)."""
    return f"{value:g}"


def parse_values(text: str, flag: str) -> list[float]:
    """'0.5,1,1.5' -> [0.5, 1.0, 1.5]; refuses anything else in one line."""
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"{flag} takes comma-separated numbers, e.g. 0.5,1,1.5,2; got {text!r}") from None
    if not values or any(not math.isfinite(v) or v < 0 for v in values):
        raise UsageError(f"{flag} takes one or more finite numbers >= 0; got {text!r}")
    return values


def check_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """Validate {method, mbar | m, target}; returns it normalised (raises ValueError with the reason)."""
    allowed = {"method", "mbar", "m", "target", "covariance", "also_first"}
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} (expected method, mbar or m, target, covariance, also_first)")
    method = spec.get("method")
    if method not in ("rm", "sd"):
        raise ValueError(f"method must be 'rm' (relative magnitudes) or 'sd' (smoothness), not {method!r}")
    key, other = ("mbar", "m") if method == "rm" else ("m", "mbar")
    if other in spec:
        raise ValueError(f"{other!r} does not apply to method {method!r}; use {key!r}")
    values = spec.get(key, list(DEFAULT_MBAR) if method == "rm" else None)
    if values is None:
        raise ValueError("method 'sd' needs m = [...] (bounds on the change in slope, in outcome units per period)")
    if (
        not isinstance(values, list)
        or not values
        or any(isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 for v in values)
    ):
        raise ValueError(f"{key} must be a non-empty list of numbers >= 0")
    target = spec.get("target", "first")
    if target not in TARGETS:
        raise ValueError(f"target must be 'first' or 'average', not {target!r}")
    covariance = spec.get("covariance")
    if covariance not in (None, *COVARIANCES):
        raise ValueError(f"covariance must be 'analytic' or 'permutation', not {covariance!r}")
    also_first = spec.get("also_first")
    if also_first is not None and (not isinstance(also_first, bool) or (also_first and target != "average")):
        raise ValueError("also_first = true goes with target = 'average' (the first year beside the average)")
    out = {"method": method, key: [float(v) for v in values], "target": target}
    out = out if covariance is None else {**out, "covariance": covariance}
    return {**out, "also_first": True} if also_first else out


def check_method(method: str, options: dict[str, Any], what: str) -> dict[str, Any]:
    """Refuse `what` (e.g. '--sensitivity') for methods without an event study (the method registry
    says which have one); returns the options to estimate with (a method with a `base_period` option,
    CS, is asked for its universal-base event study, coefficients relative to e = -1)."""
    from evalkit import methods

    m = methods.get(method)
    if not m.event_study:
        with_es = ", ".join(k for k, v in methods.METHODS.items() if v.event_study)
        raise UsageError(
            f"{what} needs an event study: {m.event_study_hint or f'method {method!r} has none; use {with_es}'}"
        )
    if "base_period" in m.option_names():
        if options.get("base_period", "universal") != "universal":
            raise UsageError(
                f"{what} needs event-study coefficients relative to e = -1: base_period must be 'universal'"
            )
        return {**options, "base_period": "universal"}
    return dict(options)


def add_rows(result: Results, *, sensitivity: dict[str, Any] | None, pretrend: bool, alpha: float) -> None:
    """Append the `pretrend` and `honest:*` rows (and their details) to `result`."""
    from evalkit.estimators.honest import honest

    rows: list[dict[str, Any]] = []
    if pretrend:
        test = honest.pretrend_test(result)
        result.diagnostics["pretrend"] = {"test": "Wald chi-squared, pre-period event-study coefficients = 0", **test}
        rows.append(
            {"name": "pretrend", "aggregation": "pretrend", "estimate": test["statistic"], "p_value": test["p_value"]}
        )
    if sensitivity:
        spec = check_spec(sensitivity)
        rows += _sensitivity_rows(result, spec, alpha)
    if rows:
        result.estimates = pl.concat([result.estimates, estimates_frame(rows)], how="vertical_relaxed")


def _sensitivity_rows(result: Results, spec: dict[str, Any], alpha: float) -> list[dict[str, Any]]:
    from evalkit.estimators.honest import honest

    es = honest.honest_event_study(result)
    method, target = spec["method"], spec["target"]
    covariance = spec.get("covariance")
    if covariance == "permutation":
        es = _permutation_covariance(result, es)
    est, lo, hi = honest.original_interval(es, target, alpha)
    if method == "rm":
        values = spec["mbar"]
        table = honest.relative_magnitude_sensitivity(es, values, target=target, alpha=alpha)
        breakdown = honest.rm_breakdown(es, target=target, alpha=alpha)
        key, details = (
            "mbar",
            {
                "test": "ARP conditional least-favourable hybrid, kappa = alpha/10",
                "grid_points": 1000,
                "breakdown_search": "bisection on [0, 10], step 0.001",
            },
        )
    else:
        values = spec["m"]
        table = honest.smoothness_sensitivity(es, values, target=target, alpha=alpha)
        breakdown = honest.sd_breakdown(es, target=target, alpha=alpha)
        key, details = "m", {"interval": "optimal fixed-length (FLCI)", "breakdown_search": "bisection, relative 1e-3"}
    largest_pre_step = max(abs(b - a) for a, b in zip([*es.betahat[: es.num_pre]], [*es.betahat[1 : es.num_pre], 0.0]))
    result.extra["sensitivity"] = table.with_columns(pl.lit(target).alias("target"))
    result.diagnostics["sensitivity"] = {
        "method": method,
        "target": target,
        "alpha": alpha,
        key: values,
        "breakdown": breakdown,
        "num_pre_periods": es.num_pre,
        "num_post_periods": es.num_post,
        "event_times": list(es.event_times),
        "largest_pre_period_step": float(largest_pre_step),
        **details,
        **({"covariance": COVARIANCE_WORDS[covariance]} if covariance else {}),
    }
    if spec.get("also_first"):  # opt-in: the first-year effect beside the average (never what a verdict states)
        f_est, f_lo, f_hi = honest.original_interval(es, "first", alpha)
        f_break = (honest.rm_breakdown if method == "rm" else honest.sd_breakdown)(es, target="first", alpha=alpha)
        result.diagnostics["sensitivity"]["first_year"] = {
            "target": "first",
            "breakdown": f_break,
            "original": {"estimate": f_est, "ci_low": f_lo, "ci_high": f_hi},
        }
    prefix = f"honest:{method}"
    rows = [{"name": f"{prefix}:original", "aggregation": "honest", "estimate": est, "ci_low": lo, "ci_high": hi}]
    for r in table.iter_rows(named=True):
        rows.append(
            {
                "name": f"{prefix}:{key}={label(r['m'])}",
                "aggregation": "honest",
                "estimate": est,
                "ci_low": r["ci_low"],
                "ci_high": r["ci_high"],
            }
        )
    rows.append({"name": f"{prefix}:breakdown", "aggregation": "honest_breakdown", "estimate": breakdown})
    return rows


COVARIANCE_WORDS = {
    "analytic": "analytic (the estimator's own covariance of the event study)",
    "permutation": "permutation (covariance of the event-study coefficients over the permuted adoption dates "
    "of the default interval; valid with few treated councils)",
}


def _permutation_covariance(result: Results, es: Any) -> Any:
    """The event study with its permutation covariance (the randomisation interval's kept draws)."""
    import numpy as np

    from evalkit.estimators.honest import honest

    kind = (result.inference.get("default_interval") or {}).get("interval")
    # the default interval's kept draws: coefficient permutation, or a size-keeping kind's own draws
    keys = ("randomisation",) if kind in (None, "randomization") else (str(kind), "randomisation")
    draws = next((d for d in ((result.inference.get(k) or {}).get("draws") for k in keys) if d), {})
    if not draws:
        raise UsageError(
            "sensitivity covariance 'permutation' needs the randomisation interval (few treated councils and "
            "[inference].permutations > 0)"
        )
    values = np.array([[np.nan if v is None else v for v in row] for row in draws["values"]], dtype=float)
    return honest.with_draws_covariance(es, draws["names"], values)
