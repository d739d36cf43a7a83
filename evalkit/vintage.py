"""The data a plan ran on, kept beside its results: which files and releases, and the panel's values.

`evalkit estimate --plan` writes `vintage.json` (the ingest manifest's files with their releases, what
that ingest added and revised, the panel's sha256, the run date of a dated run) and `vintage.parquet`
(the panel it read), so that `evalkit diff` can say what changed in the data between two runs long
after the generations they read are gone. results.json is untouched: its bytes stay the plan's alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from evalkit.io import sha256_file, write_json

VINTAGE = "vintage.json"
SNAPSHOT = "vintage.parquet"


def write_vintage(results_dir: Path, *, run_date: str | None = None) -> Path:
    """Record the data vintage of the results in `results_dir` (read from its results.json)."""
    results_dir = Path(results_dir)
    doc = json.loads((results_dir / "results.json").read_text(encoding="utf-8"))
    inputs = (doc.get("provenance") or {}).get("inputs") or []
    panel = _panel_file(inputs[0]["path"]) if inputs else None
    manifest = _manifest(panel.parent / "manifest.json") if panel is not None else {}
    files = [
        {k: f.get(k) for k in ("source", "file", "sha256", "release", "release_from")}
        for f in manifest.get("files", [])
    ]
    record: dict[str, Any] = {
        "plan": doc.get("name"),
        "plan_sha256": doc.get("plan_sha256"),
        "run_date": run_date,
        "panel": {"path": inputs[0]["path"], "sha256": inputs[0]["sha256"]} if inputs else None,
        "source_dir": manifest.get("source_dir"),
        "added_to": manifest.get("added_to"),
        "files": sorted(files, key=lambda f: (f["source"] or "", f["file"] or "", f["sha256"] or "")),
        "releases": releases_in_force(files),
        "ingest_changes": manifest.get("changes") or {},
    }
    if panel is not None and panel.is_file() and sha256_file(panel) == record["panel"]["sha256"]:
        shutil.copyfile(panel, results_dir / SNAPSHOT)
        record["snapshot"] = {"file": SNAPSHOT, "sha256": sha256_file(results_dir / SNAPSHOT)}
    write_json(results_dir / VINTAGE, record)
    return results_dir / VINTAGE


def releases_in_force(files: list[dict]) -> dict[str, int | None]:
    """The latest release of each source among the files read."""
    out: dict[str, int | None] = {}
    for f in files:
        year = f.get("release")
        if f["source"] not in out or (year is not None and (out[f["source"]] or 0) < year):
            out[f["source"]] = year
    return dict(sorted(out.items()))


def read_vintage(results_dir: Path) -> dict[str, Any]:
    path = Path(results_dir) / VINTAGE
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _panel_file(path: str) -> Path | None:
    from evalkit import generations

    try:
        return generations.resolve(Path(path))
    except Exception:  # a panel no longer there: the vintage says so by having no snapshot
        return None


def _manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
