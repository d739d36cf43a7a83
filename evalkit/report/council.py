"""Report sections for a reader who runs a council: Ofsted journeys and the registry split into treated
councils and comparison rows. (The bottom line, the verdicts and the differences between models are
rendered from the stored answers: evalkit.report.answer_blocks.)
"""

from __future__ import annotations

from typing import Any

from evalkit.report.blocks import Heading, Para, Table


def _num(v: Any) -> str:
    if v is None:
        return "—"
    v = float(v)
    return f"{v:.3g}" if abs(v) < 1000 else f"{v:,.0f}"


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
