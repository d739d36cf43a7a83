"""The multiverse (specification curve) of an evaluation: every defensible specification at once.

`evalkit multiverse --plan PLAN` reads the plan's [multiverse] table (see `specs`), runs every
specification with the plan's inference (see `run`), and writes into reports/<name>/:
multiverse.parquet (one row per specification), multiverse.json (how the specifications were chosen,
the summary of `summary`, and the rows) and fig-multiverse.svg (the specification curve). The report
states the summary when the plan has a [multiverse] table.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_multiverse(
    plan: dict[str, Any],
    out_dir: Path,
    *,
    on_start: Callable[[int], None] | None = None,
    on_result: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Run the multiverse of `plan` and write its three files; returns the multiverse document."""
    from evalkit import generations
    from evalkit.io import atomic_write_text, sha256_file, write_json, write_parquet
    from evalkit.multiverse.run import run_multiverse
    from evalkit.multiverse.specs import CHOICES
    from evalkit.multiverse.summary import summarise
    from evalkit.report.multiverse import figure

    frame, note = run_multiverse(plan, on_start=on_start, on_result=on_result)
    doc = {
        "plan": plan["plan"]["name"],
        # the report joins this file to results.json only when both were made from the same panel
        "inputs": {"panel_sha256": sha256_file(generations.resolve(Path(plan["data"]["panel"])))},
        "specifications": note,
        "summary": summarise(frame),
        "dimensions": list(CHOICES),
        "rows": frame.to_dicts(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(out_dir / "multiverse.parquet", frame)
    write_json(out_dir / "multiverse.json", doc)
    fig = figure(doc, demo=bool(plan["plan"].get("synthetic_demo")))
    if fig is not None:
        atomic_write_text(out_dir / fig.filename, fig.svg)
    return doc
