"""The multiverse in the report: its summary as sentences, and the specification curve.

Reads the document `evalkit multiverse` writes (multiverse.json); knows nothing of how it was run.
"""

from __future__ import annotations

from typing import Any

from evalkit.report.figures import SvgFigure, specification_curve

FIGURE_SLUG = "multiverse"


def _words(outcome: str) -> str:
    """The outcome in words (the report's vocabulary), not its column name."""
    from evalkit.analysis.verdict import outcome_words

    return outcome_words(outcome)[0]


def figure(doc: dict[str, Any], demo: bool) -> SvgFigure | None:
    outcome = _words(doc["specifications"].get("outcome", "the outcome"))
    return specification_curve(
        doc["rows"],
        doc["dimensions"],
        slug=FIGURE_SLUG,
        title=f"Every specification: effect on {outcome}",
        outcome=outcome,
        demo=demo,
    )


def sentences(summary: dict[str, Any], outcome: str) -> list[str]:
    """The summary as plain sentences for the report."""
    n, total = summary.get("estimable", 0), summary.get("specifications", 0)
    outcome = _words(outcome)
    if not n:
        return [f"None of the {total} specifications could be estimated."]
    out = [
        f"{n} of {total} specifications could be estimated for {outcome}; estimates range from "
        f"{summary['min_estimate']:.3g} to {summary['max_estimate']:.3g} (median {summary['median_estimate']:.3g})."
    ]
    out.append(f"{summary['share_same_sign']:.0%} have the sign of the median ({summary['sign_of_median']}).")
    if "share_interval_excludes_zero" in summary:
        out.append(
            f"{summary['share_interval_excludes_zero']:.0%} of the {summary['with_interval']} specifications "
            "with an interval have one that excludes zero."
        )
    m = summary.get("moves_most")
    if m:
        out.append(
            f"The choice that moves the estimate most is {m['dimension'].replace('_', ' ')}: the mean estimate is "
            f"{m['lowest']['mean_estimate']:.3g} with {m['lowest']['value']} and {m['highest']['mean_estimate']:.3g} "
            f"with {m['highest']['value']} (a difference of {m['range']:.3g})."
        )
    return out
