"""The report's summary sections, rendered from the stored answers (`doc["answers"]`, evalkit.answers)
and from nothing else: the first screen (the answer table and the verdict words), the bottom line,
the answer per question and the differences between models. A test reads these sections back and
checks every number in them against the answers (tests/report/test_answer_consistency.py).
"""

from __future__ import annotations

from typing import Any

from evalkit import answers as A
from evalkit.report import evidence_words as EW
from evalkit.report.blocks import BulletList, Heading, Link, Para, Strong, Table

# The first-screen table's words for each verdict of the decision rule (evalkit.answers.VERDICTS).
TABLE_WORDS = {
    "estimated effect": "lower / higher after the move",
    "no detectable effect": "no detectable change",
    "the data cannot tell": "the data cannot tell",
    "negligible": "no change large enough to matter",
}
OUTCOME_DOMAINS = ("outcomes", "quality", "workforce", "demand")


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def questions(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list((doc.get("answers") or {}).get("questions") or [])


def short_name(name: str) -> str:
    """'Kingston upon Thames / Richmond upon Thames' -> 'Kingston/Richmond'; 'Northamptonshire (North ...)' ->
    'Northamptonshire': council names short enough for a table cell."""
    parts = [p.split(" (")[0].replace(" upon Thames", "").replace(" and Maidenhead", "") for p in name.split(" / ")]
    return "/".join(parts)


def _councils_cell(a: dict[str, Any]) -> str:
    used = a.get("councils") or []
    out = a.get("councils_left_out") or []
    text = f"{len(used)} of {len(used) + len(out)}"
    if out:
        text += "; not " + ", ".join(short_name(c["name"]) for c in out)
    return text


def _sure_cell(a: dict[str, Any]) -> str:
    lo, hi = a.get("ci_low"), a.get("ci_high")
    if lo is None or hi is None:
        return "no interval"
    zero = "excludes zero" if a.get("excludes_zero") else "includes zero"
    p = "" if a.get("p_value") is None else f", p = {A.sig(a['p_value'], 2)}"
    adj = a.get("adjusted_p") or {}
    if adj.get("p") is not None:  # the p the verdict used: adjusted for the plan's family of outcomes
        p += f"; adjusted for {adj['family_size']} outcomes p = {A.sig(adj['p'], 2)}"
    mde = A.mde_short(a)
    return f"{A.interval_text(a)} ({zero}{p})" + (f"; {mde}" if mde else "")


def _found_cell(a: dict[str, Any]) -> str:
    """The verdict in plain words; for 'the data cannot tell', why."""
    verdict = a.get("verdict")
    if verdict == "estimated effect":
        return f"{A.direction(a)} after the move"
    if verdict == "no detectable effect":
        why = _not_after_adjusting(a)
        return "no detectable change" + (f" ({why})" if why else "")
    if verdict == "negligible":
        return "no change large enough to matter"
    why = _cannot_tell_why(a)
    return "the data cannot tell" + (f" ({why})" if why else "")


def _not_after_adjusting(a: dict[str, Any]) -> str:
    """Why an interval that excludes zero is still 'no detectable effect': its p adjusted for the family of
    primary outcomes is not below alpha (the rule's multiplicity condition). Empty otherwise."""
    adj = a.get("adjusted_p") or {}
    alpha = 1 - float(a.get("level") or 0.95)
    if not a.get("excludes_zero") or adj.get("p") is None or adj["p"] < alpha:
        return ""
    n = adj.get("family_size")
    return f"not once adjusted for the {n} outcomes" if n else "not once adjusted for the other outcomes"


def _cannot_tell_why(a: dict[str, Any]) -> str:
    """Why the rule said 'the data cannot tell', in the words the first screen and the answer share."""
    pre = a.get("pretrend_test") or {}
    alpha = 1 - float(a.get("level") or 0.95)
    if a.get("ci_low") is None:
        return "no interval"
    if pre.get("p_value") is not None and pre["p_value"] < alpha:
        return "the councils' trends differed before the move"
    if a.get("disagree"):
        n = len(a["disagree"])
        return f"{n} other {'analyses disagree' if n > 1 else 'analysis disagrees'} in sign"
    return ""


def first_screen_blocks(doc: dict[str, Any]) -> list:
    """One row per pre-registered question: what we found, the size beside the treated councils' level
    before the move, how sure, how many councils and which; then the verdict words, defined once."""
    qs = questions(doc)
    if not qs:
        return []
    rows = [
        [
            a["outcome_words"][:1].upper() + a["outcome_words"][1:],
            Strong(_found_cell(a)),
            A.size_words(a),
            _sure_cell(a),
            _councils_cell(a),
        ]
        for a in qs
    ]
    verdicts = (doc.get("answers") or {}).get("verdicts") or A.VERDICTS
    level = f"{100 * float(qs[0].get('level') or 0.95):.0f}%"
    return [
        Table(
            columns=[
                "Did it change…",
                "What we found",
                "Size of the change (before the move)",
                f"How sure ({level} interval)",
                "Councils in the answer",
            ],
            rows=rows,
            caption="In brief: the answer to each pre-registered question",
            css="answers",
            anchor="in-brief",
        ),
        Para(
            [Strong("Verdict words. ")]
            + [
                part
                for word, meaning in verdicts.items()
                for part in (Strong(TABLE_WORDS.get(word, word)), f" (the rule's '{word}'): {meaning}. ")
            ]
            + [
                "Sizes are the average change after the move in the councils that moved, against comparison councils. ",
                Link("What about my council?", "#my-council"),
                " · ",
                Link("How these answers were reached", "#answer"),
            ],
            css="verdict-words",
        ),
    ]


def bottom_line(doc: dict[str, Any]) -> list[str]:
    """Three to five sentences: better outcomes? more or less money? which models? how sure?"""
    qs = questions(doc)
    if not qs:
        return []
    sentences = []
    outs = [a for a in qs if a["domain"] in OUTCOME_DOMAINS]
    if outs:
        found = [f"{a['outcome_words']} ({A.direction(a)})" for a in outs if a["verdict"] == "estimated effect"]
        none = [a["outcome_words"] for a in outs if a["verdict"] == "no detectable effect"]
        cannot = [a["outcome_words"] for a in outs if a["verdict"] == "the data cannot tell"]
        if found:
            first = (
                "Better outcomes? After councils moved children's services into a trust or company, the plan's rule "
                f"finds a change in {_join(found)}"
            )
        else:
            first = (
                "Better outcomes? The plan's rule finds no outcome that changed detectably after councils moved "
                "children's services into a trust or company"
            )
        rest = []
        if none:
            rest.append(f"no detectable effect on {_join(none)}")
        if cannot:
            rest.append(f"the data cannot tell for {_join(cannot)}")
        sentences.append(first + (": " + "; ".join(rest) if rest else "") + ".")
    money = [a for a in qs if a["domain"] == "cost"]
    if money:
        bits = [
            f"{a['outcome_words']}: {a['verdict']}"
            + ("" if a.get("estimate") is None else f" ({A.amount(a['estimate'], a['unit'])}, {A.sureness_words(a)})")
            for a in money
        ]
        sentences.append("More or less money? " + "; ".join(bits) + ".")
    by_model = (doc.get("answers") or {}).get("by_model") or []
    if by_model:
        sig = [a for a in by_model if a.get("excludes_zero")]
        small = sorted({_group(a) for a in by_model if len(a.get("councils") or []) < 3})
        text = (
            "Which kinds of model? Estimated separately for each kind of model and for imposed and voluntary moves, "
            "with the same interval as the verdicts (no verdict was pre-registered): "
        )
        text += (
            "no group's interval excludes zero"
            if not sig
            else "the interval excludes zero for "
            + _join([f"{a['outcome_words']} ({_group(a)}, {A.sig(a['estimate'])})" for a in sig])
        )
        if small:
            text += f"; the groups {_join(small)} have two councils or fewer, too few to tell models apart"
        sentences.append(text + ".")
    journey = (doc.get("answers") or {}).get("journey")
    if journey:
        parts = []
        for g in journey["groups"]:
            med = g.get("median_years")
            parts.append(
                f"{g['reached_good']} of {g['spells']} {g['who']}"
                + (f" (median {A.sig(med, 2)} years)" if med is not None else " (median not reached)")
            )
        p = journey.get("logrank_p_vs_directed")
        sentences.append(
            f"From 'inadequate' to 'good or better': {parts[0]} got there, against {_join(parts[1:])}"
            + (f" (log-rank p = {A.sig(p, 2)} against the directed councils)" if p is not None else "")
            + "."
        )
    treated = {c["unit"] for a in qs for c in (a.get("councils") or []) + (a.get("councils_left_out") or [])}
    used = [len(a.get("councils") or []) for a in qs]
    if used:
        span = f"{min(used)}" if min(used) == max(used) else f"{min(used)} to {max(used)}"
        sentences.append(
            f"How sure? Each answer rests on {span} of the {len(treated)} councils that moved, so intervals are "
            "wide: 'no detectable effect' means an effect of the size these councils could show was not seen, not "
            "that there was none; per-council results show how much councils differ."
        )
    return sentences


def _group(a: dict[str, Any]) -> str:
    sub = a.get("subgroup") or ""
    return sub.split("=", 1)[1].replace("_", " ") if "=" in sub else sub


def _lower_first(text: str | None) -> str | None:
    """A sentence set inside brackets: no capital, no closing full stop."""
    if not text:
        return text
    return (text[:1].lower() + text[1:]).rstrip(".")


def bottom_line_blocks(doc: dict[str, Any]) -> list:
    sentences = bottom_line(doc)
    if not sentences:
        return []
    return [Heading(2, "The bottom line", "bottom-line"), BulletList(sentences)]


def verdict_items(doc: dict[str, Any]) -> list:
    """Each question's verdict with its estimate, the rule's interval, p, the MDE and the councils."""
    items = []
    for a in questions(doc):
        bits = ["no estimate" if a.get("estimate") is None else f"estimate {A.amount(a['estimate'], a['unit'])}"]
        bits.append(A.sureness_words(a))
        pre = a.get("pretrend_test")
        caution = "; ".join(c for c in (a.get("pretrend_caution"), _lower_first(a.get("pretrend_size"))) if c)
        bits.append(
            "no pre-trend test was possible"
            if pre is None
            else f"pre-trend test p = {A.sig(pre['p_value'], 2)}" + (f" ({caution})" if caution else "")
        )
        if a.get("disagree"):
            bits.append("disagreeing in sign: " + "; ".join(a["disagree"]))
        mde = A.mde_words(a)
        if mde:
            bits.append(mde)
        bits.append(f"councils {A.councils_words(a)}")
        flagged = [f for f in a.get("flagged_values") or [] if f["column"] == a["outcome"]]
        moved = {c["unit"] for c in (a.get("councils") or []) + (a.get("councils_left_out") or [])}
        mine = [f for f in flagged if f["unit"] in moved]
        if flagged:
            bits.append(
                "includes values the panel's screening flagged"
                + (
                    ", in councils that moved: "
                    + ", ".join(f"{f['name']} {'/'.join(str(y) for y in f['years'])} ({f['kind']})" for f in mine)
                    if mine
                    else ", none in councils that moved"
                )
                + " (see Unusual values in the data)"
            )
        words = EW.evidence(a, doc)  # the evidence rule's sentences, in the units shown here
        evidence = f" {words}" if words else ""
        why = (
            _cannot_tell_why(a)
            if a.get("verdict") == "the data cannot tell"
            else _not_after_adjusting(a)
            if a.get("verdict") == "no detectable effect"
            else ""
        )
        items.append(
            [
                Strong(
                    f"{a['outcome_words'][:1].upper()}{a['outcome_words'][1:]}: {a['verdict']}"
                    + (f" ({why})" if why else "")
                    + ". "
                ),
                "; ".join(bits) + "." + evidence,
            ]
        )
    return items


def answer_blocks(doc: dict[str, Any]) -> list:
    if not questions(doc):
        return []
    blocks: list = [Heading(2, "The answer", "answer"), BulletList(verdict_items(doc))]
    if doc.get("decision_rule"):
        blocks.append(
            Para(["Decision rule (fixed in the plan): ", str(doc["decision_rule"]) + EW.adjustment_used(doc)])
        )
    wald = wald_pretrend_sentence(doc)
    if wald:
        blocks.append(Para(wald))
    return blocks


def wald_pretrend_sentence(doc: dict[str, Any]) -> str:
    """Why the analytic Wald pre-trend test is not the evidence, measured on this panel: its size on the
    placebo draws of the analytic calibration ([power] pretrend), beside the range of the tests the verdicts
    read. Empty without that calibration."""
    wald, used, n, alpha = [], [], set(), 0.05
    for a in (doc.get("power") or {}).get("analyses") or []:
        designs = (a.get("calibration") or {}).get("designs") or {}
        kind = str(a.get("interval", "")).replace("randomisation", "randomization")
        for per_kind in designs.values():
            w = (per_kind.get("analytic") or {}).get("pretrend") or {}
            u = (per_kind.get(kind) or {}).get("pretrend") or {}
            if w.get("draws") and u.get("draws") and kind != "analytic":
                wald.append(w["size"])
                used.append(u["size"])
                alpha = float(u.get("alpha", alpha))
                n.add(w["draws"])
    if not wald:
        return ""
    draws = f"{min(n)}" if len(n) == 1 else f"{min(n)} to {max(n)}"

    def span(values: list[float]) -> str:
        lo, hi = f"{100 * min(values):.0f}%", f"{100 * max(values):.0f}%"
        return lo if lo == hi else f"{lo} to {hi}"

    return (
        "Why not the usual Wald pre-trend test: on placebo draws of this panel, where there is no pre-trend by "
        f"construction, the analytic Wald test rejected in {span(wald)} of "
        f"{draws} draws for the primary analyses (its standard errors leave out how few councils some pre-move "
        f"years rest on); the permutation test the verdicts use rejected in {span(used)}, against the {100 * alpha:g}% a valid test rejects."
    )


def heterogeneity_blocks(doc: dict[str, Any]) -> list:
    by_model = (doc.get("answers") or {}).get("by_model") or []
    if not by_model:
        return []
    level = f"{100 * float(by_model[0].get('level') or 0.95):.0f}%"
    seen: dict[tuple, str] = {}
    rows = []
    for a in by_model:
        key = (a["outcome"], tuple(sorted(c["unit"] for c in a.get("councils") or [])), a.get("estimate"))
        n = len(a.get("councils") or [])
        same = seen.get(key)
        seen.setdefault(key, _group(a))
        rows.append(
            [
                a["outcome_words"],
                _group(a),
                f"{n}: {', '.join(c['name'] for c in a.get('councils') or [])}" if n else "0",
                f"same councils and numbers as {same}"
                if same
                else ("—" if a.get("estimate") is None else A.sig(a["estimate"])),
                "" if same else A.interval_text(a),
                "" if same or a.get("p_value") is None else A.sig(a["p_value"], 2),
                "yes" if n >= 3 else ("no estimate" if n == 0 else "too few to generalise (fewer than 3)"),
            ]
        )
    return [
        Heading(2, "Differences between models", "heterogeneity"),
        Para(
            "Each row re-estimates the outcome with only one kind of treated council against all comparison councils, "
            "with the same kind of interval as the verdicts. With two or three councils a group's interval mostly "
            "reflects those councils; read it with the per-council results."
        ),
        Table(
            columns=["Outcome", "Group", "Councils", "Effect", f"{level} interval", "p-value", "Enough councils?"],
            rows=rows,
            numeric={3, 5},
            caption="Estimates by model type and by imposed or voluntary move",
        ),
    ]


def placebo_refusals(doc: dict[str, Any]) -> dict[tuple[str, str], str]:
    """(analysis label, council) -> why synthetic control gave that council no placebo p-value (a pre-move
    fit that is not identified or exact at rounding level: its effect is one of many exact fits)."""
    out = {}
    for a in doc.get("analyses") or []:
        diag = (a.get("results") or {}).get("diagnostics") or {}
        for unit, why in (diag.get("placebo_refused") or {}).items():
            out[(a.get("label"), str(unit))] = str(why)
    return out


def council_blocks(doc: dict[str, Any]) -> list:
    """'What about my council?': one row per council that moved, its own effect per question that has a
    per-council analysis (synthetic control), the interval's stand-in (placebo p-value), the pre-move fit,
    and whether it later left the model; each cell links to the council's figure."""
    councils = (doc.get("answers") or {}).get("councils") or []
    if not councils:
        return []
    shown = []  # questions that have a per-council analysis, in question order
    for c in councils:
        for r in c.get("results") or []:
            if r["question"] not in [s["question"] for s in shown]:
                shown.append(r)
    blocks: list = [Heading(2, "What about my council?", "my-council")]
    if not shown:
        return blocks + [Para("No question has a per-council analysis in this plan.")]
    refused = placebo_refusals(doc)
    rows = []
    for c in councils:
        by_q = {r["question"]: r for r in c.get("results") or []}
        cells: list = [f"{c['name']} ({c.get('cohort') or '—'})", c.get("model") or "—"]
        for s in shown:
            r = by_q.get(s["question"])
            if r is None:
                cells.append("—")
            elif r.get("effect") is None:
                cells.append(f"no estimate: {r.get('why_none')}")
            elif refused.get((r.get("analysis"), str(c.get("unit")))):
                why = refused[(r.get("analysis"), str(c.get("unit")))]
                cells.append(
                    [
                        Link(A.amount(r["effect"], r["unit"]), f"#{r['figure']}"),
                        f"; not to be read: no placebo p-value ({why})",
                    ]
                )
            else:
                p = "" if r.get("p_value") is None else f", p = {A.sig(r['p_value'], 2)}"
                fit = r.get("fit_pct")
                off = "" if fit is None else (" (almost exact)" if fit < 0.01 else f" ({A.sig(fit, 2)}% off)")
                fit_text = f"{r['fit']} pre-move fit{off}"
                cells.append([Link(A.amount(r["effect"], r["unit"]), f"#{r['figure']}"), f"{p}; {fit_text}"])
        cells.append(c.get("left_model") or "no")
        rows.append(cells)
    blocks.append(
        Para(
            "Each council against its own synthetic comparison (a weighted mix of councils that stayed in-house, "
            "matched on the years before the move). The p-value is the share of comparison councils with as large a "
            "gap when they are given the move instead; a poor pre-move fit means the council's own number should not "
            "be read, and neither should one whose fit is not identified (too few years before the move for the "
            "predictors, or a fit exact to rounding: many comparisons fit as well and give other numbers). "
            "Click an effect for the council's figure."
        )
    )
    blocks.append(
        Table(
            columns=["Council (year of the move)", "Model"]
            + [f"{s['outcome_words'][:1].upper()}{s['outcome_words'][1:]}" for s in shown]
            + ["Later left the model?"],
            rows=rows,
            caption="Per-council effects",
            anchor="per-council",
        )
    )
    return blocks


def spending_blocks(doc: dict[str, Any]) -> list:
    """ "Does demand drive cost?": real spending per child beside demand and unit cost, each with the
    move's estimated effect as a share of the treated councils' level before the move, and one sentence."""
    parts = (doc.get("answers") or {}).get("spending_parts") or []
    if not parts:
        return []
    rows = [
        [
            f"{a['outcome_words'][:1].upper()}{a['outcome_words'][1:]}",
            a["part"],
            A.size_words(a),
            A.sureness_words(a),
            f"{len(a.get('councils') or [])} of {len(a.get('councils') or []) + len(a.get('councils_left_out') or [])}",
        ]
        for a in parts
    ]
    return [
        Heading(2, "Does demand drive cost?", "demand-cost"),
        Para(spending_sentence(parts)),
        Table(
            columns=["Measure", "Part", "Change after the move", "How sure", "Councils"],
            rows=rows,
            caption="Spending per child = demand (children in care and in need) × unit cost (spending per child)",
        ),
    ]


def spending_sentence(parts: list[dict[str, Any]]) -> str:
    total = next(a for a in parts if a["part"] == "total")

    def pct(a: dict[str, Any]) -> str:
        p = a.get("percent_of_baseline")
        return A.amount(a["estimate"], a["unit"]) if p is None else f"{A.sig(p, 2)}%"

    clear = [a for a in parts if a["part"] != "total" and a.get("excludes_zero")]
    text = (
        f"Real spending per child changed by {pct(total)} of its level before the move "
        f"({'the interval excludes zero' if total.get('excludes_zero') else 'the interval includes zero'}). "
    )
    demand = [a for a in parts if a["part"] == "demand"]
    unit_cost = [a for a in parts if a["part"] == "unit cost"]
    text += "Demand: " + "; ".join(f"{a['outcome_words']} {pct(a)}" for a in demand) + ". " if demand else ""
    text += "Unit cost: " + "; ".join(f"{a['outcome_words']} {pct(a)}" for a in unit_cost) + ". " if unit_cost else ""
    if not clear:
        text += (
            "No part's interval excludes zero, so the data cannot say whether any change in spending came from fewer "
            "children in care or from cheaper care."
        )
    else:
        text += (
            f"Of the parts, {_join([a['outcome_words'] for a in clear])} changed clearly (the interval excludes zero)"
        )
        text += (
            "."
            if total.get("excludes_zero")
            else ", while spending per child itself did not change detectably: the parts may offset each other, or "
            "the total is measured less precisely."
        )
    return text


def anomaly_blocks(doc: dict[str, Any]) -> list:
    """Unusual values the panel's screening flagged: those of the councils that moved in full, the rest
    counted (all of them are in panel_diagnostics.json and flagged_values.csv beside the report)."""
    anomalies = doc.get("anomalies") or {}
    flags = anomalies.get("flags") or []
    if not flags:
        return []
    from evalkit import columns

    treated = {str(r.get("la_code")) for r in doc.get("registry") or [] if r.get("role") == "treated"}
    treated |= {str(c["unit"]) for c in (doc.get("answers") or {}).get("councils") or []}
    mine = [f for f in flags if any(u in treated for u in str(f["unit"]).split(" / "))]
    excluded = (doc.get("sample_notes") or {}).get("excluded_values") or []
    blocks: list = [
        Heading(2, "Unusual values in the data", "anomalies"),
        Para(
            f"Every council's series was screened ({anomalies.get('rule')}). {len(flags)} values or runs were flagged "
            f"across all councils, {len(mine)} of them in councils that moved (below). A spike is a value that breaks "
            "from both neighbours (often a coding or publication error); a level break is a lasting shift (census "
            "rebasing, boundary changes, payments coded differently after go-live); a break in a council's go-live "
            "year may be the move's effect itself, so it is a reason to look, not to drop. Each analysis lists the "
            "flagged values it includes; a plan can leave a value out with a stated reason."
        ),
    ]
    if mine:
        blocks.append(
            Table(
                columns=["Council", "Measure", "Kind", "Years", "Value", "Before", "After"],
                rows=[
                    [
                        f["name"],
                        columns.label(f["column"]),
                        f["kind"],
                        "–".join(str(y) for y in (f["years"][0], f["years"][-1]))
                        if len(f["years"]) > 1
                        else str(f["years"][0]),
                        A.sig(f.get("value")),
                        A.sig(f.get("before")),
                        A.sig(f.get("after")),
                    ]
                    for f in mine
                ],
                numeric={4, 5, 6},
                caption="Flagged values of the councils that moved",
            )
        )
    if excluded:
        blocks.append(
            BulletList(
                [f"{v['unit']} {v['year']} {columns.label(v['column'])}: left out ({v['reason']})" for v in excluded]
            )
        )
    else:
        blocks.append(Para("The plan leaves no flagged value out: every analysis includes the values listed."))
    return blocks
