"""The report's "After a return in-house" section: what is known about councils that came back.

Written only when the plan has exit analyses (as treated, the switching estimator, the carryover
check): it says in words who came back and when, how few they are, that exits followed judgements
(selection on exit), then as-treated beside intention to treat, the switch-out effects for each
council that came back (or why none could be estimated), and the carryover check. Reads results.json
only; nothing here changes a report whose plan has no such analyses.
"""

from __future__ import annotations

from typing import Any

from evalkit.report.blocks import BulletList, Heading, Para, Table


def fmt_num(v: Any) -> str:
    """Three decimals, thousands with one (as the rest of the report; render imports this module)."""
    if v is None or v != v:
        return "—"
    f = float(v) if abs(float(v)) >= 0.0005 else 0.0  # no "-0.000"
    return f"{f:,.1f}" if abs(f) >= 10000 else f"{f:.3f}"


def fmt_ci(lo: Any, hi: Any) -> str:
    return "—" if lo is None or hi is None else f"{fmt_num(lo)} to {fmt_num(hi)}"


GRADE_WORDS = {
    "inadequate": "'inadequate'",
    "requires_improvement": "'requires improvement'",
    "good": "'good'",
    "outstanding": "'outstanding'",
}


def _exit_analyses(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in doc.get("analyses") or [] if a.get("treatment") or a.get("ownership_change")]


def _returns(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """Registry rows of spells that ended with a return in-house, in date order."""
    rows = [r for r in doc.get("registry") or [] if isinstance(r, dict) and r.get("end_type") == "returned_in_house"]
    return sorted(rows, key=lambda r: str(r.get("end_date") or ""))


def _treated_count(doc: dict[str, Any]) -> int:
    """Treated councils as the analyses count them (Kingston and Richmond are one unit), else the registry's."""
    for a in doc.get("analyses") or []:
        accounting = ((a.get("results") or {}).get("diagnostics") or {}).get("treated_units")
        if accounting:
            return len(accounting)
    return len(
        {r.get("la_code") for r in doc.get("registry") or [] if isinstance(r, dict) and r.get("role") == "treated"}
    )


def _row(results: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The row to quote for an estimate: the rule's default-interval row (analysis.intervals.default_row),
    the same row every summary of the report quotes."""
    from evalkit.analysis.intervals import default_row

    return default_row(results.get("estimates") or [], name)


def _est(results: dict[str, Any], name: str) -> str:
    from evalkit.analysis.verdict import interval_words

    r = _row(results, name)
    if r is None or r.get("estimate") is None:
        return "not estimated"
    return f"{fmt_num(r['estimate'])} ({interval_words(r)} {fmt_ci(r.get('ci_low'), r.get('ci_high'))})"


def _words(outcome: str) -> str:
    """The outcome in words (the column catalogue), never its column name."""
    from evalkit import columns

    return columns.get(outcome).label if columns.known(outcome) else outcome.replace("_", " ")


def _headline(results: dict[str, Any]) -> str | None:
    """The estimate the verdict states (the method's registered headline; analysis.verdict)."""
    from evalkit.analysis.verdict import headline_name

    return headline_name(results) if results.get("estimates") else None


def section(doc: dict[str, Any]) -> list:
    """The section's blocks, or [] when the plan has no exit analyses."""
    analyses = _exit_analyses(doc)
    if not analyses:
        return []
    returns = _returns(doc)
    names = {r.get("la_code"): r.get("la_name") for r in doc.get("registry") or [] if isinstance(r, dict)}
    blocks: list = [Heading(2, "After a return in-house", "exits")]
    blocks += _known(doc, returns)
    pairs = _pairs(doc, analyses)
    if pairs:
        blocks.append(Heading(3, "As treated beside intention to treat"))
        blocks.append(
            Para(
                "Intention to treat counts a council as treated from its move for good, years back in-house "
                "included; as treated drops a council's years from its return on. Where the two agree, the "
                "returns do not drive the answer."
            )
        )
        blocks.append(
            Table(
                ["Outcome", "Intention to treat", "As treated"],
                [[_words(a["results"]["outcome"]), _est(a["results"], h), _est(b["results"], h)] for a, b, h in pairs],
                caption="Headline estimate of each primary, both ways (the interval the report quotes for it)",
            )
        )
    blocks += _switch_out(analyses, returns, names)
    blocks += _carryover(analyses, names)
    blocks += _ownership(analyses)
    return blocks


def _known(doc: dict[str, Any], returns: list[dict[str, Any]]) -> list:
    n_treated = _treated_count(doc)
    if not returns:
        return [Para("No treated council in the registry has returned its services in-house.")]
    items = []
    spells = [r for r in doc.get("registry") or [] if isinstance(r, dict)]
    for r in returns:
        first = next((s for s in spells if s.get("la_code") == r.get("la_code") and s.get("role") == "treated"), r)
        grade = GRADE_WORDS.get(str(first.get("pre_transfer_grade") or ""), "")
        before = f"; judged {grade} before the move" if grade else ""
        change = (
            f", council-owned from {r.get('go_live')}"
            if first is not r and first.get("end_type") == "ownership_change"
            else ""
        )
        items.append(
            f"{r.get('la_name')} ({first.get('body_name')}, {str(first.get('model', '')).replace('_', ' ')}"
            f"{change}): went live {first.get('go_live')}, back in-house {r.get('end_date')}{before}."
        )
    words = {1: "One", 2: "Two", 3: "Three", 4: "Four"}.get(len(returns), str(len(returns)))
    return [
        Para(
            f"{words} of the {n_treated} treated councils took their services back in-house. "
            "They are few, so every estimate below rests on one to three councils and says little on its own."
        ),
        BulletList(items),
        Para(
            [
                "Exits were not random. Doncaster's return followed a 'requires improvement' inspection with "
                "leadership judged inadequate (February 2022), and Reading's followed 'requires improvement' "
                "judgements; a council leaves when its model is seen to be failing, or its finances are. "
                "Estimates for the years after a return therefore describe councils that left ",
                "(selection on exit), ",
                "not what a return would do to a council picked at random.",
            ]
        ),
    ]


def _pairs(doc: dict[str, Any], analyses: list[dict[str, Any]]) -> list[tuple[dict, dict, str]]:
    by_label = {a["label"]: a for a in doc.get("analyses") or []}
    out = []
    for b in analyses:
        if b.get("treatment") != "as_treated" or b.get("ownership_change"):
            continue
        a = by_label.get(str(b["label"]).removesuffix("_as_treated"))
        head = _headline(b["results"]) if a is not None else None
        if a is not None and head is not None and a is not b:
            out.append((a, b, head))
    return out


def _switch_out(analyses: list[dict[str, Any]], returns: list[dict[str, Any]], names: dict) -> list:
    outs = [a for a in analyses if a.get("method") == "dcdh" and a.get("treatment") == "switching"]
    if not outs:
        return []
    blocks: list = [
        Heading(3, "Switch-out effects"),
        Para(
            "de Chaisemartin and D'Haultfœuille's estimator compares each returning council's outcome from the "
            "year before its return with councils that started the window under a model and had not left; the "
            "sign is that of 'more treatment', so a positive number means the outcome was higher under the "
            "model than after coming back. Effect 1 is the first year back."
        ),
    ]
    rows = []
    for a in outs:
        res = a["results"]
        diag = res.get("diagnostics") or {}
        if res.get("no_estimate") or not res.get("estimates"):
            rows.append([res.get("outcome", a["label"]), "—", "—", "not estimable: " + str(res.get("no_estimate", ""))])
            continue
        units = diag.get("switchers_out_units") or []
        years = diag.get("years") or []
        effects = [r for r in res["estimates"] if r.get("aggregation") == "dynamic" and (r.get("event_time") or 0) >= 0]
        first = _est(res, "dynamic:e=0")
        rows.append(
            [
                _words(res["outcome"]),
                ", ".join(str(names.get(u, u)) for u in units) or "none",
                first,
                f"{len(effects)} year(s) after the return estimated, window {years[0]}-{years[-1]}" if years else "",
            ]
        )
    blocks.append(
        Table(
            ["Outcome", "Councils that came back, in the estimate", "First year back", "Note"],
            rows,
            caption="Switch-out effects (minus the effect of coming back), all returning councils together",
        )
    )
    blocks += _per_council(outs, names)
    why = []
    for a in outs:
        diag = a["results"].get("diagnostics") or {}
        units, years = set(diag.get("switchers_out_units") or []), diag.get("years") or []
        for r in returns:
            if r.get("la_code") in units:
                continue
            back = _first_year_back(str(r.get("end_date") or ""))
            if back is not None and years and back > years[-1]:
                reason = f"its first year back ({back}) is after the outcome's last year here ({years[-1]})"
            else:
                reason = "its outcome is missing around its return, or no council still under a model compares"
            why.append(f"{a['results'].get('outcome')}: {r.get('la_name')} not estimable: {reason}.")
    if why:
        blocks.append(BulletList(why))
    return blocks


def _first_year_back(end_date: str) -> int | None:
    """The first year (ending 31 March) wholly after a spell's end date, as the treatment histories count."""
    parts = end_date.split("-")
    if not parts[0].isdigit():
        return None
    y = int(parts[0])
    if len(parts) < 3:
        return y
    return y if (int(parts[1]), int(parts[2])) < (3, 31) else y + 1


def _per_council(outs: list[dict[str, Any]], names: dict) -> list:
    """Each returning council's own switch-out comparison by year back (point estimates: one council each)."""
    rows = []
    for a in outs:
        res = a["results"]
        units = (res.get("diagnostics") or {}).get("switchers_out_units") or []
        own = (res.get("extra") or {}).get("switchers") or []
        for unit in units:
            by_e = {r["event_time"]: r["estimate"] for r in own if r.get("unit") == unit}
            cells = [fmt_num(by_e[e]) if e in by_e else "—" for e in (0, 1, 2)]
            rows.append([_words(res["outcome"]), str(names.get(unit, unit)), *cells])
    if not rows:
        return []
    return [
        Table(
            ["Outcome", "Council", "Year 1 back", "Year 2 back", "Year 3 back"],
            rows,
            caption="Each council's own comparison (its change from the year before its return, minus that of "
            "councils still under a model; sign of 'more treatment'; no interval: one council each)",
        )
    ]


def _carryover(analyses: list[dict[str, Any]], names: dict) -> list:
    checks = [a for a in analyses if a.get("treatment") == "after_return"]
    if not checks:
        return []
    rows = []
    for a in checks:
        res = a["results"]
        head = _headline(res)
        rows.append([res.get("outcome", a["label"]), _est(res, head) if head else "not estimated"])
    return [
        Heading(3, "Carryover check"),
        Para(
            "Do outcomes after a return revert towards the in-house counterfactual? For the councils that came "
            "back, their years back in-house are compared with what their own years before the move and the "
            "never-treated councils predict for them (imputation). Near zero: outcomes reverted; away from "
            "zero: the model's effect carried over, or the councils that left differed (selection on exit)."
        ),
        Table(
            ["Outcome", "Years back in-house against the in-house counterfactual"],
            rows,
            caption="Carryover check (all years back in-house averaged)",
        ),
    ]


def _ownership(analyses: list[dict[str, Any]]) -> list:
    own = [a for a in analyses if a.get("ownership_change") == "own_switch"]
    if not own:
        return []
    rows = [[_words(a["results"]["outcome"]), _est(a["results"], _headline(a["results"]) or "simple")] for a in own]
    return [
        Heading(3, "Ownership changes as a sensitivity"),
        Para(
            "Doncaster's trust became council-owned in 2019 and Slough's trust was replaced by a council-owned "
            "company in 2021 (year 2022 here). Counting each change as the end of the first treatment:"
        ),
        Table(["Outcome", "Estimate"], rows, caption="Primary with ownership changes as their own switch"),
    ]
