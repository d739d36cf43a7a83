"""Joint Wald test that every pre-treatment event-study coefficient is zero.

The decision rule asks whether pre-trends *fail the test*; counting pre-period intervals that exclude
zero is not a test (its size grows with the number of pre-periods). With few treated units the
permutation version in analysis.intervals is used instead (see `pretrend_result`). This works on a results document
(`Results.to_dict()` or an analysis's `results` in results.json): the `dynamic:e=k` rows with k < 0 and
the covariance in `extra["vcov_dynamic"]` (CS, Sun-Abraham). W = b' V^+ b ~ chi2(rank V) under the null.
Also the opt-in RMS pre-trend equivalence test (`add_rms_equivalence`, [inference] equivalence_rms), which
re-estimates the analysis's pre-period coefficients on subsamples of councils.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def wald_pretrend(results: dict[str, Any]) -> dict[str, Any] | None:
    """{statistic, df, p_value, event_times} or None when there is no pre-period or no covariance."""
    rows = results.get("estimates") or []
    pre = {
        int(r["event_time"]): float(r["estimate"])
        for r in rows
        if r.get("aggregation") == "dynamic"
        and r.get("event_time") is not None
        and int(r["event_time"]) < 0
        and r.get("estimate") is not None
        and ":" in str(r.get("name", ""))
        and not str(r["name"]).endswith((":randomisation", ":wild_bootstrap"))
    }
    vcov = (results.get("extra") or {}).get("vcov_dynamic") or []
    if not pre or not vcov:
        return None
    order = [int(v["event_time"]) for v in vcov]
    keep = [e for e in sorted(pre) if e in order and f"e={e}" in vcov[0]]
    if not keep:
        return None
    idx = [order.index(e) for e in keep]
    v = np.array([[float(vcov[i][f"e={e}"]) for e in keep] for i in idx])
    b = np.array([pre[e] for e in keep])
    if not np.all(np.isfinite(v)) or not np.all(np.isfinite(b)):
        return None
    from evalkit.estimators.honest.honest import wald  # here: scipy.stats (~1 CPU s) is paid only by a test

    test = wald(b, v)
    if test is None:
        return None
    return {
        **test,
        "event_times": keep,
        "test": "Wald, all pre-treatment event-time effects zero (analytic covariance)",
    }


def pretrend_result(results: dict[str, Any]) -> dict[str, Any] | None:
    """The pre-trend test the decision rule uses. When the analysis's default interval is the randomisation
    one (few treated units), the permutation test computed with it (analysis.intervals); an analytic
    Wald test over-rejects badly when an event time rests on one or two treated units. Otherwise a
    `pretrend` row (written by the sensitivity work) if present, else the Wald test computed here."""
    inference = results.get("inference") or {}
    chosen = (inference.get("default_interval") or {}).get("interval")
    ri = (inference.get("randomisation") or {}).get("pretrend")
    if ri is not None and chosen == "randomization":
        return ri
    sized = (inference.get(chosen) or {}).get("pretrend") if chosen in ("studentized", "ferman_pinto") else None
    if sized is not None:  # the same permutation test on the size-keeping interval's own draws
        return sized
    for r in results.get("estimates") or []:
        if r.get("name") == "pretrend" and r.get("p_value") is not None:
            return {"statistic": r.get("estimate"), "p_value": float(r["p_value"]), "test": "pretrend row"}
    return wald_pretrend(results)


RMS_KEY = "equivalence_rms"  # [inference] key (opt-in; plans v1-v4 lack it) and results.inference entry


def add_rms_equivalence(
    method: str,
    panel: Any,
    options: dict[str, Any],
    inference: dict[str, Any],
    result: Any,
    *,
    picks: list[list[str]] | None = None,
) -> None:
    """Dette & Schumann's RMS pre-trend equivalence test (estimators.inference.pretrend_rms) for an analysis
    with an event study: its pre-period coefficients re-estimated on subsamples of councils, recorded in
    `result.inference["equivalence_rms"]` (or why it could not be computed). The coefficients are the
    placebo effects against the last pre-move year, as the test defines them: a method with a base-period
    option is run with the universal base, and the base year itself (zero by construction) is left out.
    `picks`: the subsamples' units (default: drawn by pretrend_rms.subsamples from the plan's seed)."""
    from evalkit.analysis.intervals import _point_statistic
    from evalkit.errors import EvalkitError
    from evalkit.estimators.data import LongPanel
    from evalkit.estimators.inference.pretrend_rms import LAMBDAS, equivalence_rms, mean_square, subsamples

    universal = "base_period" in (result.options or {})
    opts = {**options, "base_period": "universal"} if universal else options
    stat = _point_statistic(method, opts, inference)
    full = stat(panel)
    names = [
        n
        for n, v in full.items()
        if n.startswith("dynamic:e=-")
        and v is not None
        and np.isfinite(v)
        and not (n == "dynamic:e=-1" and (universal or abs(v) <= 1e-12))
    ]
    if not names:
        return
    seed = int(inference.get("seed", 20240101))
    if picks is None:
        picks = subsamples(panel.unit_cohorts(), np.random.default_rng([seed, LAMBDAS]))
    subs = []
    for units in picks:
        sub = LongPanel(panel.data.filter(panel.data["unit"].is_in(units)), panel.outcome, panel.covariates)
        try:
            subs.append(stat(sub))
        except (EvalkitError, ValueError, np.linalg.LinAlgError) as exc:  # recorded, never fatal
            result.inference[RMS_KEY] = {
                "refused": f"a subsample of {len(units)} councils could not be estimated: {exc}"
            }
            return
    keep = [n for n in names if all(s.get(n) is not None and np.isfinite(s[n]) for s in subs)]
    if not keep:
        result.inference[RMS_KEY] = {"refused": "no pre-move event time is estimated in every subsample of councils"}
        return
    test = equivalence_rms(
        mean_square([full[n] for n in keep]),
        [mean_square([s[n] for n in keep]) for s in subs],
        alpha=float(inference.get("alpha", 0.05)),
    )
    result.inference[RMS_KEY] = {
        **test,
        "event_times": [int(n.split("=")[1]) for n in keep],
        "subsample_sizes": [len(u) for u in picks],
        "test": "Dette & Schumann (2024) RMS equivalence, self-normalised over subsamples of councils "
        f"(fractions 1/{len(picks) + 1} to {len(picks)}/{len(picks) + 1}, treated and untreated councils drawn "
        "separately), placebo effects against the last pre-move year",
    }
