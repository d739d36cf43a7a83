"""The plan's decision rule applied to the results: an answer per outcome, in words.

For each primary analysis (its randomisation interval when there is one, the few-treated default):
"estimated effect" when its interval excludes zero, every other
analysis of the same outcome agrees in sign, and no more than one pre-treatment event-time
estimate excludes zero; "no detectable effect" when its interval includes zero; otherwise "the data
cannot tell" (methods disagree, or pre-trends). The rule is stated in the report with the answer.
"""

from __future__ import annotations

from typing import Any

HEADLINE = ("simple", "coef", "att", "pooled", "average")
RULE = (
    "The primary interval is the randomisation-inference interval (adoption dates permuted across "
    "councils) where one was computed, else the analytic one. "
    "An effect is reported only when the primary interval excludes zero, every other analysis of the "
    "same outcome agrees in sign, and at most one pre-treatment event-time estimate excludes zero. An "
    "interval that includes zero is 'no detectable effect'; anything else is 'the data cannot tell'."
)


def headline(results: dict[str, Any]) -> dict[str, Any] | None:
    rows = {e["name"]: e for e in results["estimates"]}
    return next((rows[n] for n in HEADLINE if n in rows and rows[n]["estimate"] is not None), None)


def pre_trend_flags(results: dict[str, Any]) -> int:
    """Pre-treatment event-time estimates whose interval excludes zero."""
    return sum(
        1 for e in results["estimates"]
        if e["aggregation"] == "dynamic" and e["event_time"] is not None and e["event_time"] < 0
        and e["ci_low"] is not None and (e["ci_low"] > 0 or e["ci_high"] < 0)
    )


def conclude(analyses: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for primary in (a for a in analyses if a.get("primary")):
        head = headline(primary["results"])
        outcome = primary["results"]["outcome"]
        basis = "analytic"
        if head is not None:  # few treated councils: the permutation interval is the default when present
            rows = {e["name"]: e for e in primary["results"]["estimates"]}
            ri = rows.get(f"{head['name']}:randomisation")
            if ri is not None and ri["ci_low"] is not None:
                head, basis = {**head, "ci_low": ri["ci_low"], "ci_high": ri["ci_high"]}, "randomisation"
        if head is None or head["ci_low"] is None:
            out.append({"label": primary["label"], "outcome": outcome, "verdict": "the data cannot tell",
                        "text": "the primary analysis produced no interval."})
            continue
        others = [(a["label"], headline(a["results"])) for a in analyses
                  if a is not primary and a["results"]["outcome"] == outcome and not a.get("subgroup")]
        others = [(label, h) for label, h in others if h is not None]
        sign = 1 if head["estimate"] > 0 else -1
        disagree = [label for label, h in others if h["estimate"] * sign < 0]
        flags = pre_trend_flags(primary["results"])
        excludes_zero = head["ci_low"] > 0 or head["ci_high"] < 0
        if not excludes_zero:
            verdict = "no detectable effect"
        elif disagree or flags > 1:
            verdict = "the data cannot tell"
        else:
            verdict = "estimated effect"
        text = (f"{head['estimate']:.3f} ({basis} interval {head['ci_low']:.3f} to {head['ci_high']:.3f}); "
                f"{len(others) - len(disagree)} of {len(others)} other analyses agree in sign"
                + (f" (disagree: {', '.join(disagree)})" if disagree else "")
                + f"; {flags} pre-treatment estimate(s) exclude zero.")
        out.append({"label": primary["label"], "outcome": outcome, "verdict": verdict, "text": text})
    return out
