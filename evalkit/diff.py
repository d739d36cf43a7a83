"""`evalkit diff OLD NEW`: what changed between two runs of a plan, in the data and in the findings.

Both sides are tables joined with polars (never a diff of text): the findings on the analysis label
(headline estimate, default interval, verdict of the plan's decision rule), the data on council and
year (the panel each run read, kept as `vintage.parquet` by `evalkit.vintage`) and on file content
(the ingest manifest's files and releases). The result is written as NEW/changes.json, which the
report of NEW shows first ("Since the last run", `evalkit.report.since`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.io import sha256_file, write_json
from evalkit.vintage import SNAPSHOT, read_vintage

CHANGES = "changes.json"  # = evalkit.report.since.CHANGES
KEYS = ["unit_code", "year"]
LARGEST = 10  # largest revisions listed (every count is exact)


def diff_runs(old_dir: Path, new_dir: Path) -> dict[str, Any]:
    """The data and findings changes from the run in `old_dir` to the run in `new_dir`."""
    old_doc, new_doc = _results(old_dir), _results(new_dir)
    if old_doc.get("name") != new_doc.get("name"):
        raise EvalkitError(
            f"the two runs are of different plans ({old_doc.get('name')!r} and {new_doc.get('name')!r})",
            file=new_dir,
            expected="two runs of the same plan",
        )
    old_v, new_v = read_vintage(old_dir), read_vintage(new_dir)
    found = findings_changes(_findings(old_doc), _findings(new_doc))
    return {
        "plan": new_doc.get("name"),
        "same_locked_plan": old_doc.get("plan_sha256") == new_doc.get("plan_sha256"),
        "old": {"folder": Path(old_dir).as_posix(), "run_date": old_v.get("run_date")},
        "new": {
            "folder": Path(new_dir).as_posix(),
            "run_date": new_v.get("run_date"),
            "results_sha256": sha256_file(Path(new_dir) / "results.json"),
        },
        "data": data_changes(old_dir, old_v, new_dir, new_v),
        "findings": found,
        "verdicts_flipped": [f["label"] for f in found if f["verdict_flipped"]],
    }


def write_changes(changes: dict[str, Any], new_dir: Path) -> Path:
    write_json(Path(new_dir) / CHANGES, changes)
    return Path(new_dir) / CHANGES


def _results(folder: Path) -> dict[str, Any]:
    path = Path(folder) / "results.json"
    if not path.is_file():
        raise EvalkitError("no results in this folder; run `evalkit estimate` first", file=path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EvalkitError(f"cannot read results: {exc}", file=path) from None


# --- findings ---------------------------------------------------------------------------------------

FINDING_SCHEMA = {
    "label": pl.Utf8,
    "title": pl.Utf8,
    "primary": pl.Boolean,
    "estimate": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "interval": pl.Utf8,
    "verdict": pl.Utf8,
}


def _findings(doc: dict[str, Any]) -> pl.DataFrame:
    """One row per analysis: headline estimate and default interval; the verdict for primary analyses."""
    from evalkit.analysis.verdict import headline, interval_kind

    verdicts = {c["label"]: c["verdict"] for c in doc.get("conclusions") or []}
    rows = []
    for a in doc.get("analyses") or []:
        head = headline(a["results"]) if a.get("results", {}).get("estimates") else None
        rows.append(
            {
                "label": a["label"],
                "title": a.get("title") or a["label"],
                "primary": bool(a.get("primary")),
                "estimate": None if head is None else head.get("estimate"),
                "ci_low": None if head is None else head.get("ci_low"),
                "ci_high": None if head is None else head.get("ci_high"),
                "interval": None if head is None else interval_kind(head),
                "verdict": verdicts.get(a["label"]),
            }
        )
    return pl.DataFrame(rows, schema=FINDING_SCHEMA)


def findings_changes(old: pl.DataFrame, new: pl.DataFrame) -> list[dict[str, Any]]:
    joined = old.join(new, on="label", how="full", coalesce=True, suffix="_new").sort("label")
    out = []
    for r in joined.iter_rows(named=True):
        out.append(
            {
                "label": r["label"],
                "title": r["title_new"] or r["title"],
                "primary": bool(r["primary_new"] if r["primary_new"] is not None else r["primary"]),
                "old": {k: r[k] for k in ("estimate", "ci_low", "ci_high", "interval", "verdict")},
                "new": {k: r[f"{k}_new"] for k in ("estimate", "ci_low", "ci_high", "interval", "verdict")},
                "estimate_change": None
                if r["estimate"] is None or r["estimate_new"] is None
                else r["estimate_new"] - r["estimate"],
                "verdict_flipped": r["verdict"] != r["verdict_new"],
            }
        )
    return out


# --- data -------------------------------------------------------------------------------------------


def data_changes(old_dir: Path, old_v: dict, new_dir: Path, new_v: dict) -> dict[str, Any]:
    old_files = _files(old_v)
    new_files = _files(new_v)
    added = new_files.join(old_files, on="sha256", how="anti")
    removed = old_files.join(new_files, on="sha256", how="anti")
    releases = []
    for source in sorted(set(old_v.get("releases", {})) | set(new_v.get("releases", {}))):
        before, after = old_v.get("releases", {}).get(source), new_v.get("releases", {}).get(source)
        if before != after:
            releases.append({"source": source, "old": before, "new": after})
    return {
        "releases": releases,
        "files_added": added.sort("source", "file").to_dicts(),
        "files_removed": removed.sort("source", "file").to_dicts(),
        "panel": panel_changes(Path(old_dir) / SNAPSHOT, Path(new_dir) / SNAPSHOT),
        "ingest_changes": new_v.get("ingest_changes") or {},
    }


def _files(vintage: dict) -> pl.DataFrame:
    schema = {"source": pl.Utf8, "file": pl.Utf8, "sha256": pl.Utf8, "release": pl.Int64, "release_from": pl.Utf8}
    return pl.DataFrame(vintage.get("files") or [], schema=schema)


def panel_changes(old_path: Path, new_path: Path) -> dict[str, Any] | None:
    """Council-years and values the new panel adds or revises against the old one."""
    if not (old_path.is_file() and new_path.is_file()):
        return None
    old, new = pl.read_parquet(old_path), pl.read_parquet(new_path)
    values = [c for c, t in new.schema.items() if t.is_numeric() and c not in KEYS and c in old.columns]
    names = new.select("unit_code", "unit_name").unique("unit_code") if "unit_name" in new.columns else None
    a = _long(old, values)
    b = _long(new, values)
    joined = a.join(b, on=[*KEYS, "column"], how="full", coalesce=True, suffix="_new")
    filled = joined.filter(pl.col("value").is_null() & pl.col("value_new").is_not_null())
    revised = joined.filter(
        pl.col("value").is_not_null() & pl.col("value_new").is_not_null() & (pl.col("value") != pl.col("value_new"))
    ).with_columns(
        ((pl.col("value_new") - pl.col("value")).abs() / pl.max_horizontal(pl.col("value").abs(), pl.lit(1.0))).alias(
            "relative"
        )
    )
    withdrawn = joined.filter(pl.col("value").is_not_null() & pl.col("value_new").is_null())
    largest = revised.sort(["relative", "unit_code", "year", "column"], descending=[True, False, False, False]).head(
        LARGEST
    )
    if names is not None:
        largest = largest.join(names, on="unit_code", how="left")
    new_rows = new.select(KEYS).join(old.select(KEYS), on=KEYS, how="anti")
    return {
        "new_council_years": new_rows.height,
        "new_years": sorted(set(new_rows["year"].to_list())),
        "values_filled": filled.height,
        "years_filled": sorted(set(filled["year"].to_list())),
        "values_revised": revised.height,
        "council_years_revised": revised.select(KEYS).unique().height,
        "values_withdrawn": withdrawn.height,
        "largest_revisions": [
            {
                "unit_code": r["unit_code"],
                "unit_name": r.get("unit_name"),
                "year": r["year"],
                "column": r["column"],
                "old": r["value"],
                "new": r["value_new"],
            }
            for r in largest.iter_rows(named=True)
        ],
    }


def _long(frame: pl.DataFrame, values: list[str]) -> pl.DataFrame:
    return (
        frame.select([*KEYS, *[pl.col(c).cast(pl.Float64) for c in values]])
        .unpivot(index=KEYS, on=values, variable_name="column", value_name="value")
        .filter(pl.col("value").is_not_null())
    )


# --- terminal ---------------------------------------------------------------------------------------


def print_changes(changes: dict[str, Any], console) -> None:
    """The findings table, then the data changes, on a rich console."""
    from rich.table import Table

    from evalkit.revisions import describe

    data = changes["data"]
    console.print(
        f"[bold]{changes['plan']}[/]: {changes['old']['folder']} ({changes['old']['run_date'] or 'undated'}) -> "
        f"{changes['new']['folder']} ({changes['new']['run_date'] or 'undated'})"
        + ("" if changes["same_locked_plan"] else "  [red](the plan itself differs)[/]")
    )
    table = Table(title="Findings", title_justify="left")
    for col in ("analysis", "old estimate", "old interval", "new estimate", "new interval", "verdict"):
        table.add_column(col, justify="right" if "estimate" in col else "left")
    for f in changes["findings"]:
        o, n = f["old"], f["new"]
        verdict = n["verdict"] or ""
        if f["verdict_flipped"]:
            verdict = f"[bold red]{o['verdict'] or '-'} -> {n['verdict'] or '-'}[/]"
        table.add_row(f["label"], _num(o["estimate"]), _ci(o), _num(n["estimate"]), _ci(n), verdict)
    console.print(table)
    flipped = changes["verdicts_flipped"]
    console.print(f"verdicts flipped: {', '.join(flipped) if flipped else 'none'}")
    for r in data["releases"]:
        console.print(f"release of {r['source']}: {r['old'] or 'unknown'} -> {r['new'] or 'unknown'}")
    for f in data["files_added"]:
        console.print(f"file added: {f['file']} ({f['source']}, release {f['release']})")
    for f in data["files_removed"]:
        console.print(f"file no longer read: {f['file']} ({f['source']})")
    for line in describe(data["ingest_changes"]):
        console.print(line, markup=False, highlight=False)
    panel = data["panel"]
    if panel is None:
        console.print("panel: no snapshot on one side (run with this version of evalkit to compare values)")
        return
    console.print(
        f"panel: {panel['new_council_years']} new council-year row(s); {panel['values_filled']} value(s) newly "
        f"published ({_years(panel['years_filled'])}); {panel['values_revised']} value(s) revised in "
        f"{panel['council_years_revised']} council-year(s); {panel['values_withdrawn']} value(s) withdrawn"
    )
    for r in panel["largest_revisions"]:
        console.print(
            f"  {r['unit_name'] or ''} ({r['unit_code']}) {r['year']} {r['column']}: {_num(r['old'])} -> {_num(r['new'])}",
            markup=False,
            highlight=False,
        )


def _num(v: Any) -> str:
    if v is None:
        return "-"
    if float(v).is_integer():
        return f"{v:,.0f}"
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}" if abs(v) < 1 else f"{v:.3f}"


def _ci(side: dict) -> str:
    if side["ci_low"] is None or side["ci_high"] is None:
        return "-"
    return f"{_num(side['ci_low'])} to {_num(side['ci_high'])}"


def _years(years: list[int]) -> str:
    if not years:
        return "no year"
    return str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"
