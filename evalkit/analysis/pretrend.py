"""Joint Wald test that every pre-treatment event-study coefficient is zero.

The decision rule asks whether pre-trends *fail the test*; counting pre-period intervals that exclude
zero is not a test (its size grows with the number of pre-periods). With few treated units the
permutation version in analysis.intervals is used instead (see `pretrend_result`). This works on a results document
(`Results.to_dict()` or an analysis's `results` in results.json): the `dynamic:e=k` rows with k < 0 and
the covariance in `extra["vcov_dynamic"]` (CS, Sun-Abraham). W = b' V^+ b ~ chi2(rank V) under the null.
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
    for r in results.get("estimates") or []:
        if r.get("name") == "pretrend" and r.get("p_value") is not None:
            return {"statistic": r.get("estimate"), "p_value": float(r["p_value"]), "test": "pretrend row"}
    return wald_pretrend(results)
