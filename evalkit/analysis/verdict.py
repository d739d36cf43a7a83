"""The plan's decision rule applied as written: an answer per primary outcome, in words.

For each primary analysis, in this order: no interval → "the data cannot tell"; pre-trends that fail the
joint pre-trend test, or another analysis of the same outcome disagreeing in sign → "the data cannot
tell", whatever the primary interval; otherwise "estimated effect" when the primary interval excludes
zero and "no detectable effect" when it includes it. The primary interval is the analysis's default
interval (few treated councils: randomisation inference, see analysis.intervals); the report quotes
that same interval wherever it summarises the analysis. Each verdict names the outcome in words, says
how many treated councils contribute, and, when a power analysis ran, the minimum detectable effect.
"""

from __future__ import annotations

from typing import Any

from evalkit import methods
from evalkit.analysis.intervals import default_row
from evalkit.analysis.pretrend import pretrend_result

HEADLINE = ("simple", "coef", "att", "pooled", "average")  # results of estimators outside the registry
RULE = (
    "The primary interval is each analysis's default interval: with few treated councils, the "
    "randomisation-inference interval (adoption dates permuted across councils), else the analytic one; "
    "the same interval is quoted in every summary. The data cannot tell when the pre-treatment estimates "
    "fail the joint pre-trend test (p-value below the plan's alpha) or any other analysis of the same "
    "outcome disagrees in sign, whatever the primary interval. Otherwise an effect is reported when the "
    "primary interval excludes zero, and 'no detectable effect' when it includes zero."
)

# The unit an effect is measured in, as a phrase for "effects smaller than about X <unit>", from the
# report's outcome table (evalkit.report.outcomes: labels and units of every outcome column).
UNIT_PHRASES = {
    "per 10,000": "per 10,000 children",
    "£": "pounds per child",
    "£ a week": "pounds a week",
    "share of councils": "(as a share of councils, 0 to 1)",
    "share of inspections": "(as a share of inspections, 0 to 1)",
}


def outcome_words(outcome: str, title: str | None = None) -> tuple[str, str]:
    """(outcome in words, unit) for a column name; unknown columns fall back to the analysis title."""
    from evalkit.report import outcomes

    if outcome in outcomes.OUTCOMES:
        unit = outcomes.unit(outcome)
        return outcomes.label(outcome), UNIT_PHRASES.get(unit, unit)
    if title and ":" in title:
        return title.split(":", 1)[0].strip(), "in the outcome's units"
    return outcome.replace("_", " "), "in the outcome's units"


def headline_name(results: dict[str, Any]) -> str | None:
    """The estimate a verdict states: the method's registered headline (methods.Method.headline); for
    results of an estimator the registry does not know, the first summary row there is."""
    rows = {e["name"]: e for e in results["estimates"]}
    key = methods.key_of_result(str(results.get("method", "")))
    names = (methods.METHODS[key].headline,) if key in methods.METHODS else HEADLINE
    return next((n for n in names if n and n in rows and rows[n]["estimate"] is not None), None)


def headline(results: dict[str, Any]) -> dict[str, Any] | None:
    """The summary estimate of an analysis, with its default interval: the one row every summary quotes."""
    name = headline_name(results)
    return None if name is None else default_row(results["estimates"], name)


def interval_kind(row: dict[str, Any]) -> str:
    kind = row.get("interval")
    if kind:
        return str(kind)
    return "randomisation" if str(row.get("name", "")).endswith(":randomisation") else "analytic"


def interval_words(row: dict[str, Any]) -> str:
    kind = interval_kind(row).replace("randomization", "randomisation")
    return {"wild": "wild cluster bootstrap"}.get(kind, kind) + " interval"


def contributing(results: dict[str, Any]) -> tuple[int | None, int | None]:
    """(treated councils in the estimate, treated councils in the sample) from the analysis's accounting."""
    acc = (results.get("diagnostics") or {}).get("treated_units")
    if isinstance(acc, list) and acc:
        return sum(1 for a in acc if a.get("included")), len(acc)
    n = ((results.get("inference") or {}).get("default_interval") or {}).get("n_treated_units")
    return (int(n), int(n)) if n is not None else (None, None)


def fmt(v: float) -> str:
    return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}" if abs(v) < 1 else f"{v:.1f}"


def mde_sentence(power: dict[str, Any] | None, unit: str) -> str:
    if not power or power.get("mde_increase") is None:
        return ""
    up, down = power["mde_increase"], power.get("mde_decrease")
    level = f"{100 * power.get('power', 0.8):.0f}%"
    if down is None or abs(abs(down) - up) <= 0.1 * up:
        size = fmt(up if down is None else (up + abs(down)) / 2)
        return f" Effects smaller than about {size} {unit} could not have been detected ({level} power)."
    return (
        f" Increases smaller than about {fmt(up)} or decreases smaller than about {fmt(abs(down))} {unit} "
        f"could not have been detected ({level} power)."
    )


def conclude(
    analyses: list[dict[str, Any]], *, alpha: float = 0.05, power: dict[str, dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One conclusion per primary analysis. `power` maps an analysis label to its MDE (from `evalkit power`)."""
    out = []
    for primary in (a for a in analyses if a.get("primary")):
        res = primary["results"]
        outcome = res["outcome"]
        words, unit = outcome_words(outcome, primary.get("title"))
        n_in, n_all = contributing(res)
        councils = f"{n_in} of {n_all} treated councils have data for this outcome." if n_in is not None else ""
        head = headline(res)
        base = {
            "label": primary["label"],
            "title": primary.get("title", primary["label"]),
            "outcome": outcome,
            "outcome_words": words,
            "councils_contributing": n_in,
            "councils_treated": n_all,
        }
        mde = (power or {}).get(primary["label"])
        if mde:
            base["mde"] = {k: mde.get(k) for k in ("mde_increase", "mde_decrease", "power", "draws")}
        if head is None or head.get("ci_low") is None or head.get("ci_high") is None:
            out.append(
                {
                    **base,
                    "verdict": "the data cannot tell",
                    "text": f"the primary analysis produced no interval for {words}. {councils}".strip(),
                }
            )
            continue
        others = [
            (a.get("title") or a["label"], headline(a["results"]))
            for a in analyses
            if a is not primary and a["results"]["outcome"] == outcome and not a.get("subgroup")
        ]
        others = [(label, h) for label, h in others if h is not None and h.get("estimate") is not None]
        sign = 1 if head["estimate"] > 0 else -1
        disagree = [label for label, h in others if h["estimate"] * sign < 0]
        pre = pretrend_result(res)
        pre_fails = pre is not None and pre["p_value"] < alpha
        excludes_zero = head["ci_low"] > 0 or head["ci_high"] < 0
        if pre_fails or disagree:
            verdict = "the data cannot tell"
        elif excludes_zero:
            verdict = "estimated effect"
        else:
            verdict = "no detectable effect"
        level = f"{100 * (1 - alpha):.0f}%"
        pre_text = (
            "no pre-trend test was possible"
            if pre is None
            else f"pre-trend test p = {pre['p_value']:.3f} ({'fails' if pre_fails else 'passes'} at {alpha:g})"
        )
        text = (
            f"Effect on {words}: {head['estimate']:.3f} {unit} ({level} {interval_words(head)} "
            f"{head['ci_low']:.3f} to {head['ci_high']:.3f}); "
            f"{len(others) - len(disagree)} of {len(others)} other analyses agree in sign"
            + (f" (disagree: {'; '.join(disagree)})" if disagree else "")
            + f"; {pre_text}. {councils}"
            + mde_sentence(mde, unit)
        )
        out.append(
            {
                **base,
                "verdict": verdict,
                "text": text.strip(),
                "estimate": head["estimate"],
                "ci_low": head["ci_low"],
                "ci_high": head["ci_high"],
                "interval": interval_kind(head),
                "pretrend": pre,
                "disagree": disagree,
            }
        )
    return out
