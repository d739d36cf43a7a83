"""The report's "Since the last run" section: what `evalkit diff` found (NEW/changes.json), shown first.

Kept apart from the rest of the report so that the top of the report can change around it: the
renderer only places `since_blocks(doc.get("since_last_run"))` under the title.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evalkit.io import sha256_file
from evalkit.report.blocks import BulletList, Heading, Para, Strong, Table

CHANGES = "changes.json"


def load_changes(results_json: Path) -> dict[str, Any] | None:
    """NEW/changes.json when it was written for these very results (a later re-estimate makes it stale)."""
    path = Path(results_json).parent / CHANGES
    if not path.is_file():
        return None
    try:
        changes = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(changes, dict) or (changes.get("new") or {}).get("results_sha256") != sha256_file(results_json):
        return None
    return changes


def since_blocks(changes: dict[str, Any] | None) -> list:
    if not changes:
        return []
    old, new = changes["old"], changes["new"]
    blocks: list = [
        Heading(2, "Since the last run", "since-last-run"),
        Para(
            f"This run ({new.get('run_date') or 'undated'}) against the last one ({old.get('run_date') or 'undated'})"
            + (
                ", the same locked plan on newer data."
                if changes.get("same_locked_plan")
                else "; the plan itself differs between the two runs."
            )
        ),
    ]
    flipped = changes.get("verdicts_flipped") or []
    blocks.append(
        Para([Strong("Verdicts that changed: "), ", ".join(flipped) + "." if flipped else "none."], css="brief")
    )
    rows = []
    for f in changes.get("findings") or []:
        if not f["primary"] and not f["verdict_flipped"] and not f["estimate_change"]:
            continue
        o, n = f["old"], f["new"]
        rows.append(
            [
                f["label"],
                _num(o["estimate"]),
                _ci(o),
                o["verdict"] or "",
                _num(n["estimate"]),
                _ci(n),
                n["verdict"] or "",
            ]
        )
    if rows:
        blocks.append(
            Table(
                ["Analysis", "Last estimate", "Last interval", "Last verdict", "Estimate", "Interval", "Verdict"],
                rows,
                numeric={1, 4},
                caption="Primary analyses, and any analysis whose estimate moved",
            )
        )
    blocks.append(BulletList(_data_items(changes.get("data") or {})))
    return blocks


def _data_items(data: dict[str, Any]) -> list:
    items: list = []
    for r in data.get("releases") or []:
        items.append(f"{r['source']}: release {r['old'] or 'unknown'} -> {r['new'] or 'unknown'}.")
    for f in data.get("files_added") or []:
        items.append(f"New file read: {f['file']} ({f['source']}, release {f['release']}).")
    for source, c in sorted((data.get("ingest_changes") or {}).items()):
        if c.get("added_council_years"):
            years = c["added_years"]
            span = str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"
            items.append(f"{source}: {c['added_council_years']} new council-years ({span}).")
        if c.get("revised_values"):
            shown = "; ".join(
                f"{r['la_name'] or r['la_code']} {r['year']} {r['measure']} {_num(r['old'])} -> {_num(r['new'])}"
                for r in c["revised"][:5]
            )
            more = f" and {c['revised_values'] - 5} more" if c["revised_values"] > 5 else ""
            items.append(f"{source}: {c['revised_council_years']} council-year(s) revised: {shown}{more}.")
    panel = data.get("panel")
    if panel:
        items.append(
            f"Panel: {panel['values_filled']} value(s) newly published, {panel['values_revised']} revised in "
            f"{panel['council_years_revised']} council-year(s), {panel['values_withdrawn']} withdrawn."
        )
        for r in panel["largest_revisions"][:5]:
            items.append(
                f"Largest revision: {r['unit_name'] or r['unit_code']} {r['year']} {r['column']} "
                f"{_num(r['old'])} -> {_num(r['new'])}."
            )
    return items or ["No change in the data."]


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 1 else f"{v:.3f}"


def _ci(side: dict) -> str:
    if side.get("ci_low") is None or side.get("ci_high") is None:
        return "-"
    return f"{_num(side['ci_low'])} to {_num(side['ci_high'])}"
