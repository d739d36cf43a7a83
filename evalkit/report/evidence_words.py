"""The evidence beside each verdict, in the units the report shows it in.

The estimate stage stores each verdict's evidence in the estimator's own scale (a share of councils 0 to
1, pounds as a bare number); the report shows the same answer in display units (percentage points,
"£4,680"). Rendering the evidence again here, from the stored numbers and with the report's formatter,
keeps every number of one answer in one unit and one rounding, and lets a sentence say when an interval
or a minimum detectable effect runs past what the outcome can show at all (a share cannot move more than
100 percentage points).
"""

from __future__ import annotations

import math
from typing import Any

from evalkit import answers as A
from evalkit.analysis.verdict import size_sentence

bare = A.bare_amount
tail = A.unit_tail


def _join(words: list[str]) -> str:
    return " ".join(w for w in words if w)


def ruled_out(a: dict[str, Any]) -> str:
    """Which effects the interval rules out (every null), and which it cannot because the interval runs
    past the largest change the outcome can show."""
    r = a.get("ruled_out")
    if not r:
        return ""
    lo, hi = float(r["decreases_below"]), float(r["increases_above"])
    level = f"{100 * float(a.get('level') or 0.95):.0f}%"
    top = A.whole_scale(a)
    sides, open_sides = [], []
    if hi > 0:
        (sides if top is None or hi < top else open_sides).append(("increases", hi))
    if lo < 0:
        (sides if top is None or -lo < top else open_sides).append(("decreases", -lo))
    text = ""
    if sides:
        said = " and ".join(f"{word} larger than {bare(a, v)}" for word, v in sides)
        text = f" The data rule out (at {level}) {_join([said, tail(a)])}."
    if open_sides:
        words = " or ".join("rise" if w == "increases" else "fall" for w, _ in open_sides)
        scale = f"{A.sig(top)} {tail(a)}"
        text += (
            f" The interval runs past the largest possible {words} ({scale}, the whole scale), so it rules out "
            f"no possible {words}" + (" at all." if not sides else ".")
        )
    return text


def mde_side(a: dict[str, Any]) -> tuple[str, float] | None:
    """The minimum detectable effect on the estimate's side: ('decrease', 152.3)."""
    mde = a.get("mde") or {}
    up, down = mde.get("increase"), mde.get("decrease")
    est = a.get("estimate")
    if up is None or est is None:
        return None
    if est > 0 or down is None:
        return "increase", float(up)
    return "decrease", abs(float(down))


def adjusted(a: dict[str, Any], alpha: float) -> str:
    """The verdict's p before and after adjusting for the plan's family, naming the method used."""
    adj = a.get("adjusted_p") or {}
    if adj.get("p") is None or a.get("p_value") is None:
        return ""
    if adj.get("method") == "Romano-Wolf":
        how = f"Romano-Wolf stepdown; Holm {A.sig(adj['holm'], 2)}"
    else:
        how = "Holm's method"
    text = (
        f" p = {A.sig(a['p_value'], 2)} before and {A.sig(adj['p'], 2)} after adjusting for the "
        f"{adj['family_size']} primary outcomes ({how})."
    )
    if a.get("excludes_zero") and adj["p"] >= alpha and a.get("verdict") != "the data cannot tell":
        text += " The interval excludes zero, but not after adjusting for the number of outcomes tested."
    return text


def smallest_effect(a: dict[str, Any], conclusion: dict[str, Any] | None) -> str:
    smallest = (conclusion or {}).get("smallest_effect")
    if smallest is None or a.get("ci_low") is None:
        return ""
    s = float(smallest) * float(a.get("scale") or 1.0)
    inside = -s < a["ci_low"] and a["ci_high"] < s
    alpha = 1 - float(a.get("level") or 0.95)
    return f" Smallest effect of interest ±{_join([bare(a, s), tail(a)])}: the interval " + (
        f"lies inside it: negligible (two one-sided tests, each at {100 * alpha / 2:g}%)."
        if inside
        else "does not lie inside it."
    )


def exaggeration(a: dict[str, Any]) -> str:
    """Gelman & Carlin's design check of a detected effect, at the MDE the first screen quotes."""
    d = a.get("exaggeration")
    side = mde_side(a)
    if not d or side is None:
        return ""
    word, size = side
    text = (
        f" Design check (Gelman & Carlin 2014): with this design's minimum detectable {word} of about "
        f"{_join([bare(a, size, 2), tail(a)])}, if the true effect were as large as the estimate it would be "
        f"detected {100 * d['power_if_true_is_estimate']:.0f}% of the time and a detected estimate would overstate "
        f"it {d['exaggeration_if_true_is_estimate']:.2f}-fold on average; if it were half as large, "
        f"{d['exaggeration_if_true_is_half']:.1f}-fold."
    )
    if d.get("at_or_below_mde"):
        text += (
            " Warning: the estimate is at or below the minimum detectable effect, so it is likely to exaggerate "
            "the true effect; read it as an upper-end guess, not a measurement."
        )
    return text


def pretrend(a: dict[str, Any]) -> str:
    """The pre-trend test's power (Roth 2022) and the equivalence bounds (Dette & Schumann 2024)."""
    ev = a.get("pretrend")
    if not ev:
        return ""
    k = float(a.get("scale") or 1.0)
    text = ""
    if ev.get("power_80_slope"):
        slope = _join([bare(a, k * float(ev["power_80_slope"])), tail(a)])
        text += (
            f" The pre-trend test would detect a linear pre-trend of {slope} each year 80% of the time (Roth 2022); "
            "smaller ones could pass unseen."
        )
    if ev.get("equivalence_max") is None:
        return text
    mean = (
        f"their mean smaller than {bare(a, k * float(ev['equivalence_mean']))}"
        if (ev.get("equivalence_mean") or 0) > 0
        else "their mean within any positive bound (its estimate is near zero relative to its spread)"
    )
    bounds = [bare(a, k * float(ev["equivalence_max"])), mean]
    rms = ev.get("rms")
    no_rms = ""
    if rms:
        if rms.get("threshold") is None:
            no_rms = f" No root-mean-square bound: {rms.get('refused', 'not computed')}."
        else:
            e = rms.get("event_times") or []
            what = "the root mean square of the placebo effects against the last pre-move year" + (
                f" (event times {min(e)} to {max(e)})" if e else ""
            )
            t = float(rms["threshold"])
            bounds.append(f"{what} within any positive bound" if t <= 0 else f"{what} smaller than {bare(a, k * t)}")
    said = ", ".join(bounds[:-1]) + " and " + bounds[-1]
    return text + (
        f" Equivalence (Dette & Schumann 2024): the data show every pre-move coefficient is smaller than "
        f"{_join([said, tail(a)])} (the smallest bounds the tests reject)." + no_rms
    )


def fragility(a: dict[str, Any]) -> str:
    """For a detected effect: how large a departure from parallel trends would overturn it (the breakdown of
    the Rambachan-Roth analysis of the verdict's own number), so the answer does not read as robust."""
    s = a.get("sensitivity") or {}
    if a.get("verdict") != "estimated effect" or s.get("method") != "rm" or s.get("target") != "average":
        return ""
    b = s.get("breakdown")
    if b is None:
        return (
            " It survives departures from parallel trends after the move of up to 10 times the largest "
            "year-to-year departure seen before it (Rambachan & Roth 2023; the largest searched)."
        )
    if b <= 0:
        return (
            " Any departure from parallel trends after the move would overturn it (Rambachan & Roth 2023: its "
            "robust interval includes zero already at no departure)."
        )
    words = "Fragile: a" if b < 1 else "A"
    return (
        f" {words} departure from parallel trends after the move larger than {A.sig(b, 2)} times the largest "
        f"year-to-year departure seen before it would overturn it (Rambachan & Roth 2023, breakdown M̄)."
    )


def calibration(a: dict[str, Any], doc: dict[str, Any]) -> str:
    """How often this verdict's own interval rejected a true zero on placebo draws of this panel."""
    rows = [p for p in ((doc.get("power") or {}).get("analyses") or []) if p.get("label") == a.get("label")]
    if not rows or not a.get("interval"):
        return ""
    text = size_sentence(rows[0], str(a["interval"]))
    alpha = 1 - float(a.get("level") or 0.95)
    designs = ((rows[0].get("calibration") or {}).get("designs") or {}).values()
    kind = str(a["interval"]).replace("randomisation", "randomization")
    over = [
        c
        for d in designs
        if (c := d.get(kind)) and c.get("draws") and c.get("size") is not None
        if c["size"] > alpha + 2 * math.sqrt(alpha * (1 - alpha) / c["draws"])
    ]
    if over:
        text += (
            f" That is more than the {100 * alpha:g}% a valid interval rejects, beyond Monte Carlo error, so on this "
            "panel the interval is likely too narrow and its p-value too small."
        )
    analysis = next((x for x in doc.get("analyses") or [] if x.get("label") == a.get("label")), {})
    drawn = ((analysis.get("results") or {}).get("inference") or {}).get(str(a["interval"])) or {}
    if text and drawn.get("joint"):
        text += (
            " (Measured with each placebo draw's own permutations: the verdict's interval permutes the family's "
            "shared adoption dates, which this calibration does not reproduce.)"
        )
    return text


def evidence(a: dict[str, Any], doc: dict[str, Any]) -> str:
    """Every evidence sentence of one answer, in display units (empty for plans without the evidence rule)."""
    if not a.get("adjusted_p") and not a.get("pretrend") and not a.get("ruled_out"):
        return a.get("evidence_text") or ""  # an older results file: its stored words
    conclusion = next((c for c in doc.get("conclusions") or [] if c.get("label") == a.get("label")), None)
    alpha = 1 - float(a.get("level") or 0.95)
    text = adjusted(a, alpha) + smallest_effect(a, conclusion)
    if a.get("verdict") in ("no detectable effect", "negligible"):
        text += ruled_out(a)
    if a.get("excludes_zero"):
        text += exaggeration(a)
    text += fragility(a)
    return (calibration(a, doc) + text + pretrend(a)).strip()


def adjustment_used(doc: dict[str, Any]) -> str:
    """The multiplicity method the run used, with its reason (the rule may name a method the run could not
    use: Romano-Wolf needs the family's analyses to share their permuted assignments)."""
    methods = {
        str((c.get("multiplicity") or {}).get("method"))
        for c in doc.get("conclusions") or []
        if (c.get("multiplicity") or {}).get("method")
    }
    if len(methods) != 1:
        return ""
    return f" In this run the adjusted p-values are by {methods.pop()}."
