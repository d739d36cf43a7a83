"""One answer per pre-registered question, computed once when the plan runs and stored in results.json.

Every summary a reader sees (the console after `evalkit estimate`, `evalkit answer`, the report's
first screen, "In brief", "The bottom line", "The answer", "Differences between models" and the
figure captions) is rendered from these values and from nothing else, so no two places can quote
different numbers for the same question. An answer holds the estimand in words and units, the
decision rule's estimate, interval and p-value (the analysis's default interval: `default` rows),
the MDE, the verdict, the treated councils' level before the move, and which councils contribute and
which are left out and why. Fields other helpers fill are present and None until they do:
`adjusted_p` (multiplicity), `ruled_out` (effects the interval excludes), `sensitivity` (of this same
estimand), `pretrend` (pre-trend equivalence) and `exaggeration` (type M error).
"""

from __future__ import annotations

import math
import re
from typing import Any

from evalkit import columns
from evalkit.analysis.pretrend import pretrend_result
from evalkit.analysis.verdict import headline, interval_kind, pretrend_size_sentence

# The verdict words, defined once (the report prints this table once, on its first screen).
VERDICTS: dict[str, str] = {
    "estimated effect": "the rule's interval excludes zero, the pre-move trends pass the test and no other analysis "
    "of the outcome disagrees in sign",
    "no detectable effect": "the rule's interval includes zero: an effect as large as the minimum detectable effect "
    "would probably have been seen, a smaller one may have been missed",
    "the data cannot tell": "the pre-move trends fail the test, another analysis disagrees in sign, or there is no "
    "interval",
    "negligible": "the rule's interval lies inside the plan's smallest effect of interest: any effect is too small to "
    "matter (two one-sided tests)",
}
OPTIONAL_FIELDS = ("adjusted_p", "ruled_out", "sensitivity", "pretrend", "exaggeration")
INTERVAL_WORDS = {
    "randomization": "randomisation interval (adoption dates permuted across councils)",
    "randomisation": "randomisation interval (adoption dates permuted across councils)",
    "wild": "wild cluster bootstrap interval",
    "analytic": "analytic interval",
}


def sig(value: float | None, digits: int = 3) -> str:
    """`value` to `digits` significant figures, thousands separated, no scientific notation."""
    if value is None or not math.isfinite(value):
        return "—"
    if value == 0:
        return "0"
    places = digits - 1 - int(math.floor(math.log10(abs(value))))
    rounded = round(value, places)
    text = f"{rounded:,.{max(0, places)}f}"
    if "." in text:  # 2.50 -> 2.5: significant figures, not trailing zeros
        text = text.rstrip("0").rstrip(".")
    return text.replace("-", "−")


def _councils(results: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    acc = (results.get("diagnostics") or {}).get("treated_units") or []
    used = [
        {"unit": t["unit"], "name": t.get("name") or t["unit"], "cohort": t.get("cohort")}
        for t in acc
        if t.get("included")
    ]
    out = [
        {
            "unit": t["unit"],
            "name": t.get("name") or t["unit"],
            "cohort": t.get("cohort"),
            "reason": t.get("reason", ""),
        }
        for t in acc
        if not t.get("included")
    ]
    return used, out


def _scaled(value: Any, scale: float) -> float | None:
    return None if value is None else float(value) * scale


def question_words(outcome: str) -> str:
    col = columns.get(outcome)
    return f"Did moving children's services out of the council change {col.label}?"


def estimand_words(outcome: str) -> str:
    col = columns.get(outcome)
    unit = col.unit or "the outcome's units"
    return (
        f"The average difference in {col.label} ({unit}) between the councils that moved and comparison councils "
        "that stayed in-house, over the years after each move, beyond the difference before it"
    )


def pretrend_caution(res: dict[str, Any], used: int, left_out: int) -> str | None:
    """Why a pre-trend test is a diagnostic and not evidence, or None. The permutation pre-trend test on a
    family's shared draws (plan v5) permutes adoption dates over councils this analysis lacks, so its draws
    have other mover counts than the observed design where it holds only part of the treated councils; on
    placebo designs of the England panel it rejected a true zero in 11.0 % of such analysis-draws at 5 %
    (benchmarks/FWER.md, 2,321 cells). `pretrend_draws = "own"` (plan v6 onwards) draws among its own."""
    inference = res.get("inference") or {}
    chosen = (inference.get("default_interval") or {}).get("interval")
    info = inference.get(chosen) or {}
    if not left_out or "joint" not in info or "pretrend_draws" in info or "pretrend" not in info:
        return None
    return (
        f"not evidence here: drawn over the family's shared adoption dates while this analysis holds {used} of the "
        f"{used + left_out} councils that moved, a test that over-rejects at partial coverage (it rejected a true zero "
        "in 11% of such placebo designs of the England panel at 5%, benchmarks/FWER.md); read it, its power and its "
        "equivalence bounds as a diagnostic"
    )


def answer_for(
    analysis: dict[str, Any],
    conclusion: dict[str, Any] | None,
    *,
    alpha: float,
    baseline: dict[str, Any] | None,
    mde: dict[str, Any] | None,
) -> dict[str, Any]:
    """The answer of one analysis (a primary: its verdict from `conclusion`; a subgroup: no verdict)."""
    res = analysis["results"]
    outcome = res["outcome"]
    col = columns.get(outcome)
    head = headline(res) or {}
    used, left_out = _councils(res)
    kind = interval_kind(head) if head else None
    estimate = head.get("estimate")
    base_value = (baseline or {}).get("value")
    percent = (
        100 * float(estimate) / float(base_value) if estimate is not None and base_value not in (None, 0) else None
    )
    if baseline is not None:
        baseline = {**baseline, "value": _scaled(base_value, col.scale)}
    pre = pretrend_result(res) if res.get("estimates") else None
    out: dict[str, Any] = {
        "label": analysis["label"],
        "title": analysis.get("title") or analysis["label"],
        "role": "primary" if analysis.get("primary") else "subgroup" if analysis.get("subgroup") else "other",
        "question": question_words(outcome),
        "outcome": outcome,
        "outcome_words": col.label,
        "estimand": estimand_words(outcome),
        "unit": col.unit,
        "scale": col.scale,
        "domain": col.domain,
        "better": col.better,
        "method": analysis.get("method"),
        "estimate": _scaled(estimate, col.scale),
        "ci_low": _scaled(head.get("ci_low"), col.scale),
        "ci_high": _scaled(head.get("ci_high"), col.scale),
        "p_value": head.get("p_value"),
        "level": 1 - alpha,
        "interval": kind,
        "interval_words": INTERVAL_WORDS.get(kind or "", f"{kind} interval") if kind else None,
        "interval_is_rules": bool(head.get("default")) if "default" in head else head != {},
        "excludes_zero": (
            head.get("ci_low") is not None
            and head.get("ci_high") is not None
            and (head["ci_low"] > 0 or head["ci_high"] < 0)
        ),
        "baseline": baseline,
        "percent_of_baseline": percent,
        "mde": (
            None
            if not mde
            else {
                "increase": _scaled(mde.get("mde_increase"), col.scale),
                "decrease": _scaled(mde.get("mde_decrease"), col.scale),
                "power": mde.get("power"),
                "draws": mde.get("draws"),
            }
        ),
        "pretrend_test": pre,
        "pretrend_caution": pretrend_caution(res, len(used), len(left_out)) if pre else None,
        "councils": used,
        "councils_left_out": left_out,
        "verdict": None if conclusion is None else conclusion["verdict"],
        "verdict_text": None if conclusion is None else conclusion.get("text"),
        "disagree": [] if conclusion is None else conclusion.get("disagree") or [],
        "subgroup": analysis.get("subgroup"),
        "flagged_values": (res.get("diagnostics") or {}).get("flagged_values_included") or [],
    }
    for name in OPTIONAL_FIELDS:
        out[name] = None
    sized = pretrend_size_sentence(mde, kind, alpha, res).strip() if pre and kind else ""
    if sized:  # [power] pretrend (plan v7 onwards): absent otherwise, so older plans' answers keep their bytes
        out["pretrend_size"] = sized
    if conclusion is not None:
        out.update(_evidence(conclusion, res, out, col.scale))
    return out


def _evidence(conclusion: dict[str, Any], res: dict[str, Any], answer: dict[str, Any], scale: float) -> dict[str, Any]:
    """The evidence rule's fields of a primary's answer (plans with a family; see analysis.verdict)."""
    out: dict[str, Any] = {}
    m = conclusion.get("multiplicity")
    if m:
        out["adjusted_p"] = {
            "p": m.get("used"),
            "method": "Romano-Wolf" if "romano_wolf" in m else "Holm",
            "romano_wolf": m.get("romano_wolf"),
            "holm": m.get("holm"),
            "family_size": m.get("family_size"),
        }
    if conclusion.get("verdict") in ("no detectable effect", "negligible") and answer.get("ci_low") is not None:
        out["ruled_out"] = {"increases_above": answer["ci_high"], "decreases_below": answer["ci_low"]}
    if conclusion.get("design_analysis"):
        out["exaggeration"] = conclusion["design_analysis"]
    if conclusion.get("pretrend_evidence"):
        out["pretrend"] = conclusion["pretrend_evidence"]
    sens = (res.get("diagnostics") or {}).get("sensitivity")
    if sens:
        out["sensitivity"] = sens
    if conclusion.get("evidence_text"):
        out["evidence_text"] = conclusion["evidence_text"]
    return out


def build(
    analyses: list[dict[str, Any]],
    conclusions: list[dict[str, Any]],
    *,
    alpha: float,
    baselines: dict[str, dict[str, Any] | None],
    mdes: dict[str, dict[str, Any]] | None,
    registry: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The answers document: one per primary analysis (`questions`), one per subgroup analysis
    (`by_model`, no verdict pre-registered), and the verdict words."""
    by_label = {c["label"]: c for c in conclusions}
    questions, by_model = [], []
    journey = None
    for a in analyses:
        if a.get("method") == "time_to_good":
            journey = journey or journey_answer(a)
            continue
        kwargs = {"alpha": alpha, "baseline": baselines.get(a["label"]), "mde": (mdes or {}).get(a["label"])}
        if a.get("primary"):
            questions.append(answer_for(a, by_label.get(a["label"]), **kwargs))
        elif a.get("subgroup"):
            by_model.append(answer_for(a, None, **kwargs))
    return {
        "verdicts": VERDICTS,
        "questions": questions,
        "by_model": by_model,
        "councils": council_answers(analyses, questions, registry or []),
        "spending_parts": spending_parts(analyses, by_label, alpha=alpha, baselines=baselines, mdes=mdes),
        **({"journey": journey} if journey else {}),
    }


def council_fit(
    paths: list[dict[str, Any]], rmspe: list[dict[str, Any]], estimates: list[dict[str, Any]]
) -> dict[str, dict]:
    """Per treated unit of a synthetic-control analysis: pre-period years, pre-RMSPE, its size relative to
    the outcome's pre-move mean (fit: good up to 5 %, fair up to 10 %, else poor), p-value, effect."""
    out: dict[str, dict] = {}
    for r in paths:
        u = str(r["unit"])
        d = out.setdefault(u, {"pre_years": 0, "pre_levels": []})
        if r.get("event_time") is not None and r["event_time"] < 0:
            d["pre_years"] += 1
            if _finite(r.get("treated")) is not None:
                d["pre_levels"].append(float(r["treated"]))
    for r in rmspe or []:
        if r.get("treated") and str(r.get("unit")) in out:
            out[str(r["unit"])]["pre_rmspe"] = _finite(r.get("pre_rmspe"))
    for e in estimates or []:
        if e.get("aggregation") == "unit" and str(e.get("unit")) in out:
            out[str(e["unit"])].update(
                effect=_finite(e.get("estimate")), p_value=_finite(e.get("p_value")), cohort=e.get("group")
            )
    for d in out.values():
        levels = d.pop("pre_levels")
        mean = (
            abs(math.fsum(levels) / len(levels)) if levels else None
        )  # fsum: the same bits on every Python (3.12 changed sum)
        rm = d.get("pre_rmspe")
        d["fit_pct"] = (100 * rm / mean) if (rm is not None and mean) else None
        d["fit"] = (
            "good"
            if d["fit_pct"] is not None and d["fit_pct"] <= 5
            else "fair"
            if d["fit_pct"] is not None and d["fit_pct"] <= 10
            else "poor"
        )
    return out


def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def council_answers(
    analyses: list[dict[str, Any]], questions: list[dict[str, Any]], registry: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """ "What about my council?": every treated council of the questions, with, per question whose outcome has
    a per-council (synthetic control) analysis, its own effect, p-value and pre-move fit or why none, and
    whether the council later left the model (returned in-house or changed body), from the registry."""
    synth = {}
    for a in analyses:
        extra = (a.get("results") or {}).get("extra") or {}
        if a.get("subgroup") or not extra.get("paths") or not extra.get("rmspe"):
            continue
        synth.setdefault(a["results"]["outcome"], a)
    units: dict[str, dict[str, Any]] = {}
    for q in questions:
        for c in (q.get("councils") or []) + (q.get("councils_left_out") or []):
            units.setdefault(str(c["unit"]), {"unit": str(c["unit"]), "name": c["name"], "cohort": c.get("cohort")})
    spells = [r for r in registry if r.get("role") == "treated"]
    out = []
    for unit, council in sorted(units.items(), key=lambda kv: (kv[1].get("cohort") or 0, kv[1]["name"])):
        codes = set(unit.split(" / "))
        mine = [r for r in spells if str(r.get("la_code")) in codes]
        ended = [r for r in mine if r.get("end_date") or r.get("exit_year")]
        council["model"] = ", ".join(sorted({str(r.get("model")).replace("_", " ") for r in mine if r.get("model")}))
        council["left_model"] = (
            None
            if not ended
            else "; ".join(
                f"{str(r.get('end_type') or 'ended').replace('_', ' ')} {r.get('end_date') or r.get('exit_year')}"
                for r in ended
            )
        )
        results = []
        for q in questions:
            a = synth.get(q["outcome"])
            if a is None:
                continue
            res = a["results"]
            extra = res.get("extra") or {}
            fit = council_fit(extra.get("paths") or [], extra.get("rmspe") or [], res.get("estimates") or []).get(unit)
            acc = {str(t["unit"]): t for t in (res.get("diagnostics") or {}).get("treated_units") or []}
            row = {
                "question": q["label"],
                "analysis": a["label"],
                "outcome_words": q["outcome_words"],
                "unit": q["unit"],
            }
            if fit is None or fit.get("effect") is None:
                reason = (acc.get(unit) or {}).get("reason") or "not in this analysis"
                row["why_none"] = reason
            else:
                row.update(
                    effect=_scaled(fit["effect"], q.get("scale") or 1.0),
                    p_value=fit.get("p_value"),
                    fit=fit["fit"],
                    fit_pct=fit["fit_pct"],
                    figure=f"{_slug(a['label'])}-councils",
                )
            results.append(row)
        council["results"] = results
        out.append(council)
    return out


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", str(text).lower()).strip("-") or "x"


def _representative(analyses: list[dict[str, Any]], outcome: str) -> dict[str, Any] | None:
    """The analysis that answers for an outcome: its primary, else its first whole-sample analysis with
    never-treated comparisons (label ending _cs_never), else its first whole-sample analysis."""
    mine = [
        a
        for a in analyses
        if a["results"].get("outcome") == outcome and not a.get("subgroup") and a.get("method") != "time_to_good"
    ]
    for pick in (
        lambda a: a.get("primary"),
        lambda a: str(a["label"]).endswith("_cs_never"),
        lambda a: True,
    ):
        found = next((a for a in mine if pick(a)), None)
        if found is not None:
            return found
    return None


def spending_parts(
    analyses: list[dict[str, Any]],
    verdicts: dict[str, dict[str, Any]],
    *,
    alpha: float,
    baselines: dict[str, dict[str, Any] | None],
    mdes: dict[str, dict[str, Any]] | None,
) -> list[dict[str, Any]]:
    """ "Does demand drive cost?": the move's effect on real spending per child beside its parts, demand
    (children looked after and in need per 10,000) and unit cost (spending per child in care and in need,
    weekly placement costs), each from the analysis that answers for it (columns.spending_part)."""
    out = []
    for outcome, col in columns.COLUMNS.items():
        if not col.spending_part:
            continue
        a = _representative(analyses, outcome)
        if a is None:
            continue
        ans = answer_for(
            a,
            verdicts.get(a["label"]),
            alpha=alpha,
            baseline=baselines.get(a["label"]),
            mde=(mdes or {}).get(a["label"]),
        )
        ans["part"] = col.spending_part
        out.append(ans)
    order = {"total": 0, "demand": 1, "unit cost": 2}
    return sorted(out, key=lambda a: order[a["part"]]) if any(a["part"] == "total" for a in out) else []


JOURNEY_GROUPS = {
    "treated": "councils that moved",
    "directed_in_house": "councils under a DfE direction that stayed in-house",
    "other_in_house": "other councils judged inadequate",
}


def journey_answer(analysis: dict[str, Any]) -> dict[str, Any]:
    """From 'inadequate' to 'good': per group, spells, how many got there, the median years; the log-rank p
    of the treated councils against the directed ones (the plan's time_to_good analysis)."""
    res = analysis["results"]
    rows = {e["name"]: e for e in res.get("estimates") or []}
    spells = (res.get("extra") or {}).get("spells") or []
    groups = (res.get("diagnostics") or {}).get("groups") or {}
    out = []
    for g, who in JOURNEY_GROUPS.items():
        mine = [s for s in spells if s.get("group") == g]
        out.append(
            {
                "group": g,
                "who": who,
                "spells": int(groups.get(g, len(mine))),
                "reached_good": int(sum(int(s.get("event") or 0) for s in mine)),
                "median_years": rows.get(f"median_years:{g}", {}).get("estimate"),
            }
        )
    return {
        "label": analysis["label"],
        "groups": out,
        "logrank_p_vs_directed": rows.get("logrank:treated_vs_directed_in_house", {}).get("p_value"),
    }


# --------------------------------------------------------------------------- words for every renderer


def direction(answer: dict[str, Any]) -> str:
    est = answer.get("estimate")
    if est is None:
        return ""
    return "higher" if est > 0 else "lower" if est < 0 else "unchanged"


def amount(value: float | None, unit: str, digits: int = 3) -> str:
    """A value in its unit: '−£4.35 a year per child', '−5.92 per 10,000', '12 percentage points'."""
    if value is None:
        return "—"
    if unit.startswith("£"):
        sign = "−" if value < 0 else ""
        return f"{sign}£{sig(abs(value), digits)}{unit[1:]}"
    return f"{sig(value, digits)} {unit}".strip()


def size_words(answer: dict[str, Any]) -> str:
    """'−5.92 per 10,000 (−6.5% of 90.8)': the change in the outcome's natural unit and as a share of the
    treated councils' level before the move (the table's header says 'before the move')."""
    est = answer.get("estimate")
    if est is None:
        return "no estimate"
    unit = answer.get("unit") or ""
    text = amount(est, unit)
    base = (answer.get("baseline") or {}).get("value")
    if base is not None:
        pct = answer.get("percent_of_baseline")
        level = amount(float(base), "£" if unit.startswith("£") else "")
        text += f" ({sig(pct, 2)}% of {level})" if pct is not None else f" (before: {level})"
    return text


def interval_text(answer: dict[str, Any]) -> str:
    lo, hi = answer.get("ci_low"), answer.get("ci_high")
    if lo is None or hi is None:
        return "no interval"
    return f"{sig(lo)} to {sig(hi)}"


def sureness_words(answer: dict[str, Any]) -> str:
    """How sure, in plain words: the interval, whether it includes zero, the p-value."""
    lo, hi = answer.get("ci_low"), answer.get("ci_high")
    level = f"{100 * float(answer.get('level') or 0.95):.0f}%"
    if lo is None or hi is None:
        return "no interval could be computed"
    zero = "excludes zero" if answer.get("excludes_zero") else "includes zero"
    p = answer.get("p_value")
    p_text = "" if p is None else f", p = {sig(p, 2)}"
    return f"{level} interval {interval_text(answer)} ({zero}{p_text})"


def found_words(answer: dict[str, Any]) -> str:
    """What we found, in plain words, for the first-screen table."""
    verdict = answer.get("verdict")
    if verdict == "estimated effect":
        return f"{answer['outcome_words'].capitalize()}: {direction(answer)} after the move"
    if verdict == "no detectable effect":
        return f"{answer['outcome_words'].capitalize()}: no detectable change"
    if verdict == "negligible":
        return f"{answer['outcome_words'].capitalize()}: no change large enough to matter"
    return f"{answer['outcome_words'].capitalize()}: the data cannot tell"


def councils_words(answer: dict[str, Any]) -> str:
    used = answer.get("councils") or []
    total = len(used) + len(answer.get("councils_left_out") or [])
    names = ", ".join(c["name"] for c in used)
    return f"{len(used)} of {total}" + (f": {names}" if names else "")


def whole_scale(answer: dict[str, Any]) -> float | None:
    """The largest change the outcome can show, when it is bounded: 100 for percentages and shares."""
    return 100.0 if str(answer.get("unit") or "").startswith("percentage points") else None


def bare_amount(answer: dict[str, Any], value: float, digits: int = 3) -> str:
    """A number in the answer's unit without the unit's words: '£4,680', '41.4'."""
    if not str(answer.get("unit") or "").startswith("£"):
        return sig(value, digits)
    return ("−" if value < 0 else "") + "£" + sig(abs(value), digits)


def unit_tail(answer: dict[str, Any]) -> str:
    """The unit's words after a bare amount: 'a year per child', 'percentage points of councils'."""
    unit = str(answer.get("unit") or "")
    return unit[1:].strip() if unit.startswith("£") else unit


def _mde_sides(answer: dict[str, Any]) -> tuple[float, float | None] | None:
    """(increase, size of decrease) of the stored MDE; the decrease is None when the two agree at the two
    significant figures shown, so every sentence quotes one number where the sides look the same."""
    mde = answer.get("mde") or {}
    up, down = mde.get("increase"), mde.get("decrease")
    if up is None:
        return None
    if down is None or sig(up, 2) == sig(abs(down), 2):
        return float(up), None
    return float(up), abs(float(down))


def _mde_phrases(answer: dict[str, Any], approx: str) -> tuple[str, str | None] | None:
    """Each side of the MDE as '~£160' (or 'about 160'), or 'any' when it is at least the whole scale."""
    sides = _mde_sides(answer)
    if sides is None:
        return None
    top = whole_scale(answer)

    def one(v: float) -> str:
        return "any" if top is not None and v >= top else approx + bare_amount(answer, v, 2)

    up, down = sides
    if down is not None and one(up) == one(down) == "any":
        return "any", None
    return one(up), None if down is None else one(down)


def mde_words(answer: dict[str, Any]) -> str:
    phrases = _mde_phrases(answer, "about ")
    if phrases is None:
        return ""
    up, down = phrases
    tail = unit_tail(answer)
    if down is None:
        if up == "any":
            return f"any change could have been missed (the smallest detectable is more than the whole scale, {sig(whole_scale(answer))} {tail})"
        return f"changes smaller than {up} {tail} could have been missed".replace("  ", " ").strip()
    if "any" not in (up, down):
        return f"increases below {up} or decreases below {down} {tail} could have been missed".replace("  ", " ")
    rise = "any increase" if up == "any" else f"increases below {up} {tail}".strip()
    fall = "any decrease" if down == "any" else f"decreases below {down} {tail}".strip()
    return f"{rise}, or {fall}, could have been missed"


def mde_short(answer: dict[str, Any]) -> str:
    """The minimum detectable effect in a few words for a table cell: 'could miss changes below ~12'."""
    phrases = _mde_phrases(answer, "~")
    if phrases is None:
        return ""
    up, down = phrases
    if down is None:
        return "could miss any change" if up == "any" else f"could miss changes below {up}"
    rise = "any rise" if up == "any" else f"rises below {up}"
    fall = "any fall" if down == "any" else f"falls below {down}"
    return f"could miss {rise}, {fall}"


def terminal_table(doc: dict[str, Any]) -> str:
    """`evalkit answer`: one plain line per question, from the stored answers only."""
    ans = doc.get("answers") or {}
    rows = [
        (
            a["outcome_words"],
            a.get("verdict") or "",
            "—" if a.get("estimate") is None else sig(a["estimate"]),
            interval_text(a),
            "—" if a.get("p_value") is None else sig(a["p_value"], 2),
            "—" if (a.get("baseline") or {}).get("value") is None else sig(a["baseline"]["value"]),
            "—" if a.get("percent_of_baseline") is None else f"{sig(a['percent_of_baseline'], 2)}%",
            a.get("unit") or "",
            str(len(a.get("councils") or [])),
        )
        for a in ans.get("questions") or []
    ]
    head = ("question (outcome)", "verdict", "effect", "interval", "p", "before", "% of before", "unit", "councils")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in [head, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
