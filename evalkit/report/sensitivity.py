"""The report's account of Rambachan-Roth sensitivity: a figure (robust interval against Mbar or M,
the conventional interval beside it, the breakdown value marked) and one sentence in words.

Reads only the rows `evalkit.analysis.sensitivity` wrote (`honest:*`) and diagnostics["sensitivity"]; the
figure is drawn like every other report figure (figures.py), so it is byte-identical on re-run.
"""

from __future__ import annotations

from typing import Any

import matplotlib

from evalkit.report import figures as F

_SYMBOL = {"rm": "M̄", "sd": "M"}


def summary(results: dict[str, Any]) -> dict[str, Any] | None:
    """Method, target, breakdown and the (value, low, high) intervals, or None without sensitivity."""
    diag = (results.get("diagnostics") or {}).get("sensitivity")
    if not isinstance(diag, dict) or diag.get("method") not in _SYMBOL:
        return None
    method = diag["method"]
    key = "mbar" if method == "rm" else "m"
    rows = {r["name"]: r for r in results.get("estimates") or [] if str(r.get("name", "")).startswith("honest:")}
    original = rows.get(f"honest:{method}:original")
    intervals = []
    for r in rows.values():
        name = str(r["name"])
        if name.startswith(f"honest:{method}:{key}="):
            intervals.append((float(name.split("=", 1)[1]), F._clean(r.get("ci_low")), F._clean(r.get("ci_high"))))
    if original is None or not intervals:
        return None
    return {
        "method": method,
        "target": diag.get("target", "first"),
        "breakdown": F._clean(diag.get("breakdown")),
        "largest_pre_step": F._clean(diag.get("largest_pre_period_step")),
        "original": (
            F._clean(original.get("estimate")),
            F._clean(original.get("ci_low")),
            F._clean(original.get("ci_high")),
        ),
        "intervals": sorted(intervals),
        **({"covariance": diag["covariance"]} if diag.get("covariance") else {}),
        **({"first_year": diag["first_year"]} if diag.get("first_year") else {}),
    }


def _target_words(target: str) -> str:
    return (
        "the effect in the first year under the new model"
        if target == "first"
        else "the average effect over the years since the move"
    )


def sentence(s: dict[str, Any], outcome: str, verdict: str | None = None, detected: bool = False) -> str:
    """How large a violation of parallel trends would overturn the conclusion, in words. `verdict`: the
    analysis's verdict, and `detected`: whether its own interval excludes zero, so an effect the verdict's
    interval detects is never said to have nothing to overturn."""
    text = _sentence(s, outcome, "estimated effect" if detected else verdict)
    first = s.get("first_year")
    if first:  # opt-in (sensitivity also_first): beside the verdict's number, labelled as not being it
        o = first["original"]
        year = {**s, "target": "first", "breakdown": F._clean(first.get("breakdown"))}
        year["original"] = (F._clean(o.get("estimate")), F._clean(o.get("ci_low")), F._clean(o.get("ci_high")))
        words = _sentence(year, outcome, None)
        text += (
            " Beside it, for the first year only (not the number the verdict states, which is the average): "
            + words[0].lower()
            + words[1:]
        )
    if s.get("covariance"):
        text += f" Covariance of the event study: {s['covariance']}."
    return text


def _sentence(s: dict[str, Any], outcome: str, verdict: str | None) -> str:
    what = f"{_target_words(s['target'])} on {_words(outcome)}"
    _, lo, hi = s["original"]
    if lo is None or hi is None:
        return f"The sensitivity of {what} to parallel-trends violations could not be summarised."
    if lo <= 0 <= hi and verdict == "estimated effect":
        return (
            f"With this covariance the interval for {what} includes zero even before any departure from parallel "
            "trends is allowed: the effect the verdict's interval detects does not survive the smallest violation "
            "of parallel trends."
        )
    if lo <= 0 <= hi:
        return (
            f"The conventional interval for {what} already includes zero, so there is no detected effect for a "
            "violation of parallel trends to overturn."
        )
    b = s["breakdown"]
    if s["method"] == "rm" and b is not None and 0 < b < 0.005:  # "larger than 0%" would read as a number
        return (
            f"Fragile: a departure from parallel trends after the move of even 0.5% of the largest year-to-year "
            f"departure seen before it would overturn the finding for {what} (breakdown M̄ = {b:.3f}; "
            "Rambachan & Roth 2023, relative magnitudes)."
        )
    if s["method"] == "rm" and b is not None and 0 < b < 1:
        return (
            f"Fragile: any departure from parallel trends after the move larger than {100 * b:.0f}% of the largest "
            f"year-to-year departure seen before it would overturn the finding for {what} (breakdown M̄ = {b:.2f}; "
            "Rambachan & Roth 2023, relative magnitudes)."
        )
    if s["method"] == "rm":
        if b is None:
            return (
                f"The finding for {what} survives even if, after the move, departures from parallel trends are "
                "10 times the largest pre-move departure (the largest relative magnitude searched)."
            )
        if b == 0:
            return (
                f"Allowing for any departure from parallel trends after the move overturns the finding for {what}: "
                "its robust interval includes zero already at M̄ = 0."
            )
        return (
            f"The finding for {what} is overturned only if, after the move, departures from parallel trends can be "
            f"{b:.2f} times as large as the largest year-to-year departure seen before it (breakdown M̄ = {b:.2f}; "
            "Rambachan & Roth 2023, relative magnitudes)."
        )
    pre = s.get("largest_pre_step")
    scale = f" (the largest year-to-year change in the pre-move gap was {pre:.3g})" if pre else ""
    if b is None:
        return f"The finding for {what} survives every smoothness bound searched."
    if b == 0:
        return (
            f"The finding for {what} does not survive even a linear extrapolation of the pre-move trend "
            "(its robust interval includes zero at M = 0)."
        )
    return (
        f"The finding for {what} is overturned only if the slope of the difference in trends can change by more "
        f"than {b:.3g} per year between consecutive years{scale} (breakdown M = {b:.3g}; Rambachan & Roth 2023, "
        "smoothness)."
    )


def _words(outcome: str) -> str:
    """The outcome in words (the report's vocabulary), not its column name."""
    from evalkit.analysis.verdict import outcome_words

    return outcome_words(outcome)[0] if outcome else "the outcome"


def figure(s: dict[str, Any], *, slug: str, title: str, outcome: str, demo: bool) -> F.SvgFigure | None:
    outcome = _words(outcome)
    """Robust intervals against Mbar (or M), the conventional interval at the left, the breakdown marked."""
    pts = [(x, lo, hi) for x, lo, hi in s["intervals"] if lo is not None and hi is not None]
    est, olo, ohi = s["original"]
    if not pts or olo is None or ohi is None:
        return None
    symbol = _SYMBOL[s["method"]]
    xs = [p[0] for p in pts]
    span = (max(xs) - min(xs)) or max(abs(xs[0]), 1e-12)
    step = min([b - a for a, b in zip(xs, xs[1:])] or [span])
    x_orig = min(xs) - step
    full_title = F._title(title, demo)
    with matplotlib.rc_context(F._RC):
        fig = F._new_figure(7.2, 4.0)
        ax = fig.add_subplot()
        ax.axhline(0.0, color=F.BLACK, linewidth=0.8)
        ax.vlines([x_orig], [olo], [ohi], color=F.GREY, linewidth=6)
        ax.vlines(xs, [p[1] for p in pts], [p[2] for p in pts], color=F.BLUE, linewidth=6)
        b = s["breakdown"]
        if b is not None and b > 0 and min(xs) <= b <= max(xs) + step:
            ax.axvline(b, color=F.ORANGE, linewidth=1.2, linestyle="--")
            ax.text(
                b,
                0.98,
                f" breakdown {symbol} = {b:.3g}",
                transform=ax.get_xaxis_transform(),
                color=F.ORANGE,
                ha="left",
                va="top",
                fontsize=8,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
            )
        ax.set_xticks([x_orig, *xs], ["original", *[f"{x:g}" for x in xs]])
        ax.set_xlabel(
            f"{symbol}: "
            + (
                "post-move violation relative to the largest pre-move one"
                if s["method"] == "rm"
                else "bound on the change in slope of the trend difference, per year"
            )
        )
        ax.set_ylabel(f"Effect on {outcome}")
        ax.set_title(full_title, loc="left", wrap=True)
    alt = (
        f"Robust confidence intervals for {_target_words(s['target'])} on {outcome} for {symbol} from "
        f"{xs[0]:g} to {xs[-1]:g}, beside the conventional interval ({F._fmt(olo)} to {F._fmt(ohi)})"
        + (f"; the interval first includes zero at {symbol} = {b:.3g}" if b is not None else "")
        + ". The same numbers are in the sensitivity table."
    )
    return F._render(fig, slug, full_title, alt)
