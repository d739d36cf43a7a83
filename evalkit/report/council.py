"""Report sections for a reader who runs a council: the bottom line in plain English, verdicts in
words, differences between models, Ofsted journeys and the registry split into treated councils and
comparison rows.

The bottom line is generated from the decision rule's verdicts (`doc["conclusions"]`), never
written by hand, so it cannot say more than the rule allows.
"""

from __future__ import annotations

from typing import Any

from evalkit.report import outcomes as O
from evalkit.report.blocks import BulletList, Heading, Para, Strong, Table

DOMAINS_OUTCOME = ("outcomes", "quality", "workforce", "demand")


def _num(v: Any, money: bool = False) -> str:
    if v is None:
        return "—"
    v = float(v)
    if money:
        return f"£{v:,.0f}" if abs(v) >= 10 else f"£{v:,.2f}"
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


def _headline(a: dict[str, Any]) -> dict[str, Any] | None:
    rows = {e["name"]: e for e in a["results"].get("estimates") or []}
    for n in ("simple", "coef", "att", "pooled", "average"):
        if n in rows and rows[n].get("estimate") is not None:
            return rows[n]
    return None


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def verdict_items(doc: dict[str, Any]) -> list:
    """The decision rule's answers, each labelled with its outcome in words."""
    return [
        [Strong(f"{O.label(c['outcome']).capitalize()}: {c['verdict']}. "), c["text"]]
        for c in doc.get("conclusions") or []
    ]


def bottom_line(doc: dict[str, Any]) -> list[str]:
    """Three to five sentences: better outcomes? more or less money? which models? how sure?"""
    concl = doc.get("conclusions") or []
    if not concl:
        return []
    analyses = {a["label"]: a for a in doc.get("analyses") or []}
    sentences = []
    outs = [c for c in concl if O.domain(c["outcome"]) in DOMAINS_OUTCOME]
    found = [c for c in outs if c["verdict"] == "estimated effect"]
    none = [O.label(c["outcome"]) for c in outs if c["verdict"] == "no detectable effect"]
    cannot = [O.label(c["outcome"]) for c in outs if c["verdict"] == "the data cannot tell"]
    small = [O.label(c["outcome"]) for c in outs if c["verdict"] == "negligible"]
    if outs:
        if found:
            parts = []
            for c in found:
                h = _headline(analyses[c["label"]]) if c["label"] in analyses else None
                direction = "" if h is None else (" (higher)" if h["estimate"] > 0 else " (lower)")
                parts.append(O.label(c["outcome"]) + direction)
            first = f"Better outcomes? After councils moved children's services into a trust or company, the plan's rule finds a change in {_join(parts)}"
        else:
            first = "Better outcomes? The plan's rule finds no outcome that changed detectably after councils moved children's services into a trust or company"
        rest = []
        if none:
            rest.append(f"no detectable effect on {_join(none)}")
        if small:
            rest.append(
                f"an effect too small to matter (inside the plan's smallest effect of interest) on {_join(small)}"
            )
        if cannot:
            rest.append(f"the data cannot tell for {_join(cannot)}")
        sentences.append(first + (": " + "; ".join(rest) if rest else "") + ".")
    money = [c for c in concl if O.domain(c["outcome"]) == "cost"]
    if money:
        bits = []
        for c in money:
            h = _headline(analyses[c["label"]]) if c["label"] in analyses else None
            est = ""
            if h is not None and h.get("estimate") is not None:
                word = "lower" if h["estimate"] < 0 else "higher"
                est = f" (point estimate {_num(abs(h['estimate']), money=True)} a year {word} than comparison councils)"
            bits.append(f"{O.label(c['outcome'])}: {c['verdict']}{est}")
        sentences.append("More or less money? " + "; ".join(bits) + ".")
    het = heterogeneity_rows(doc)
    if het:
        sig = [r for r in het if r["excludes_zero"]]
        small = sorted({r["group"] for r in het if r["n"] < 3})
        text = (
            "Which kinds of model? Estimated separately for council-owned companies, independent trusts, Achieving for "
            "Children, imposed and voluntary moves (analytic intervals, no verdict pre-registered), "
        )
        text += (
            "no group's interval excludes zero"
            if not sig
            else "the interval excludes zero for "
            + _join([f"{O.label(r['outcome'])} ({r['group']}, {_num(r['estimate'])})" for r in sig])
        )
        if small:
            text += f"; the groups {_join(small)} have two councils or fewer, too few to tell models apart"
        sentences.append(text + ".")
    journey = next((a for a in analyses.values() if a.get("method") == "time_to_good"), None)
    if journey:
        rows = {e["name"]: e for e in journey["results"]["estimates"]}
        groups = journey["results"]["diagnostics"].get("groups", {})

        def reached(g: str) -> str:
            spells = [s for s in journey["results"]["extra"].get("spells", []) if s["group"] == g]
            k = sum(s["event"] for s in spells)
            med = rows.get(f"median_years:{g}", {}).get("estimate")
            return f"{k} of {groups.get(g, len(spells))} {who[g]}" + (
                f" (median {med:.1f} years)" if med is not None else " (median not reached)"
            )

        who = {
            "treated": "councils that moved",
            "directed_in_house": "councils under a DfE direction that stayed in-house",
            "other_in_house": "other councils judged inadequate",
        }
        lr = rows.get("logrank:treated_vs_directed_in_house", {}).get("p_value")
        sentences.append(
            f"From 'inadequate' to 'good or better': {reached('treated')} got there, against "
            f"{reached('directed_in_house')} and {reached('other_in_house')}"
            + (f" (log-rank p = {lr:.2f} against the directed councils)" if lr is not None else "")
            + "."
        )
    n_treated = len(
        {t["unit"] for a in analyses.values() for t in (a["results"].get("diagnostics") or {}).get("treated_units", [])}
    )
    sentences.append(
        f"How sure? Every answer rests on about {n_treated} councils, so intervals are wide: 'no detectable effect' means "
        "an effect of the size these councils could show was not seen, not that there was none; per-council results "
        "below show how much councils differ."
    )
    return sentences[:5] if len(sentences) > 5 else sentences


def heterogeneity_rows(doc: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for a in doc.get("analyses") or []:
        if not a.get("subgroup"):
            continue
        res = a["results"]
        h = _headline(a)
        included = [t for t in (res.get("diagnostics") or {}).get("treated_units", []) if t.get("included")]
        out.append(
            {
                "label": a["label"],
                "group": a["subgroup"].split("=", 1)[1].replace("_", " "),
                "outcome": res["outcome"],
                "n": len(included),
                "councils": ", ".join(t.get("name") or t["unit"] for t in included),
                "estimate": None if h is None else h.get("estimate"),
                "ci_low": None if h is None else h.get("ci_low"),
                "ci_high": None if h is None else h.get("ci_high"),
                "excludes_zero": bool(h and h.get("ci_low") is not None and (h["ci_low"] > 0 or h["ci_high"] < 0)),
            }
        )
    return out


def heterogeneity_blocks(doc: dict[str, Any]) -> list:
    rows = heterogeneity_rows(doc)
    if not rows:
        return []
    blocks: list = [
        Heading(2, "Differences between models", "heterogeneity"),
        Para(
            "Each row re-estimates the outcome with only one kind of treated council against all "
            "comparison councils (Callaway-Sant'Anna, analytic 95% interval). With two or three councils "
            "a group's interval mostly reflects those councils; read it with the per-council synthetic "
            "controls."
        ),
    ]
    blocks.append(
        Table(
            columns=["Outcome", "Group", "Councils", "Effect", "95% interval", "Enough councils?"],
            rows=[
                [
                    O.label(r["outcome"]),
                    r["group"],
                    f"{r['n']}: {r['councils']}" if r["n"] else "0",
                    _num(r["estimate"]),
                    "—" if r["ci_low"] is None else f"{_num(r['ci_low'])} to {_num(r['ci_high'])}",
                    "yes"
                    if r["n"] >= 3
                    else (
                        "no estimate: no council of this kind has a pre- and post-period"
                        if r["n"] == 0
                        else "too few to generalise (fewer than 3)"
                    ),
                ]
                for r in rows
            ],
            numeric={3},
            caption="Estimates by model type and by imposed or voluntary move",
        )
    )
    return blocks


def journey_blocks(doc: dict[str, Any], analysis: dict[str, Any]) -> list:
    res = analysis["results"]
    spells = res["extra"].get("spells", [])
    diag = res.get("diagnostics") or {}
    blocks: list = [
        Para(
            [
                "Spell: ",
                str(diag.get("spell", "")),
                ". Censoring: ",
                str(diag.get("censoring", "")),
                ". ",
                str(diag.get("not_in_analysis", "")),
                ".",
            ]
        )
    ]
    rows = [e for e in res.get("estimates") or []]
    blocks.append(
        Table(
            columns=["Measure", "Value", "p-value"],
            rows=[
                [
                    r["name"].replace("_", " ").replace(":", ": "),
                    _num(r.get("estimate")),
                    "—" if r.get("p_value") is None else f"{r['p_value']:.3f}",
                ]
                for r in rows
            ],
            numeric={1, 2},
            caption="Time to good: medians, share good within 3 and 5 years, log-rank tests",
        )
    )
    shown = [s for s in spells if s["group"] != "other_in_house"]
    blocks.append(
        Table(
            columns=["Council", "Group", "First inadequate", "Good or better", "Years", "Judgements"],
            rows=[
                [
                    s.get("unit_name") or s["unit_code"],
                    s["group"].replace("_", " "),
                    s["start"],
                    s["stop"] if s["event"] else f"not yet (censored {s['stop']})",
                    f"{s['years']:.1f}",
                    s["path"].replace("_", " "),
                ]
                for s in shown
            ],
            numeric={4},
            caption="Treated and directed councils: spells from 'inadequate' to 'good'",
        )
    )
    return blocks


def registry_blocks(doc: dict[str, Any]) -> list:
    """Treated councils (and their model changes) in one table, comparison and other-intervention rows in another."""
    reg = [r for r in doc.get("registry") or [] if isinstance(r, dict)]
    blocks: list = [Heading(2, "Treated councils and sources", "registry")]
    if not reg:
        return blocks + [Para("No treated councils were recorded.")]
    cols = [
        ("la_name", "Council"),
        ("la_code", "Code"),
        ("body_name", "Body"),
        ("model", "Model"),
        ("scope", "Scope"),
        ("assignment", "Imposed or voluntary"),
        ("pre_transfer_grade", "Ofsted before the move"),
        ("setup_funding_gbp", "DfE set-up funding (£)"),
        ("go_live", "Go-live"),
        ("first_treated_year", "First treated year"),
        ("end_date", "End"),
        ("end_type", "How it ended"),
        ("role", "Role"),
        ("sources", "Sources"),
    ]

    def table(rows: list[dict], caption: str) -> Table:
        return Table(
            columns=[h for _, h in cols],
            rows=[
                [
                    (
                        "—"
                        if r.get(k) in (None, "")
                        else str(r.get(k)).replace("_", " ")
                        if k not in ("sources", "body_name", "la_name")
                        else str(r.get(k))
                    )
                    for k, _ in cols
                ]
                for r in rows
            ],
            caption=caption,
        )

    treated = [r for r in reg if r.get("role") in ("treated", "model_change")]
    other = [r for r in reg if r.get("role") not in ("treated", "model_change")]
    councils = sorted({r["la_name"] for r in treated if r.get("role") == "treated"})
    blocks.append(table(treated, f"{len(councils)} treated council(s) and their model changes ({len(treated)} spells)"))
    if other:
        blocks.append(
            Para(
                "Not treated: councils kept as comparisons (under a direction, a planned trust never created) "
                "or under another intervention (commissioners, a council-to-council partnership, an NHS trust); "
                "other interventions are left out of the comparison pool."
            )
        )
        blocks.append(table(other, f"{len(other)} comparison or other-intervention row(s)"))
    return blocks


def bottom_line_blocks(doc: dict[str, Any]) -> list:
    sentences = bottom_line(doc)
    if not sentences:
        return []
    return [Heading(2, "The bottom line", "bottom-line"), BulletList(sentences)]
