"""Check that a report reproduces: rerun the recorded plan and compare the outputs byte for byte.

`verify(report_dir, rerun)` calls `rerun(report_dir)`, which re-runs the plan recorded in
`report_dir/results.json` into a fresh temporary directory and returns that directory. Then
results.json, results.parquet, report.html, report.md and every fig-*.svg are compared byte for
byte. The result is a list of readable differences; an empty list means the report reproduced.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.io import sha256_bytes
from evalkit.meaning import same_meaning

COMPARED_FILES = (
    "results.json",
    "results.parquet",
    "report.html",
    "report.md",
    "multiverse.json",
    "multiverse.parquet",
)
MAX_JSON_DIFFS = 10
MAX_DIFF_LINES = 24


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def json_differences(recorded: Any, rerun: Any, path: str = "", limit: int = MAX_JSON_DIFFS) -> list[str]:
    """The first `limit` key paths whose values differ, as 'path: recorded X, rerun Y'."""
    out: list[str] = []

    def walk(a: Any, b: Any, p: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for k in sorted(set(a) | set(b)):
                kp = f"{p}.{k}" if p else str(k)
                if k not in a:
                    out.append(f"{kp}: missing in recorded, rerun {_short(b[k])}")
                elif k not in b:
                    out.append(f"{kp}: recorded {_short(a[k])}, missing in rerun")
                else:
                    walk(a[k], b[k], kp)
                if len(out) >= limit:
                    return
            return
        if isinstance(a, list) and isinstance(b, list):
            for i in range(min(len(a), len(b))):
                walk(a[i], b[i], f"{p}[{i}]")
                if len(out) >= limit:
                    return
            if len(a) != len(b):
                out.append(f"{p}: recorded has {len(a)} items, rerun has {len(b)}")
            return
        if type(a) is not type(b) or a != b:
            out.append(f"{p or '(top level)'}: recorded {_short(a)}, rerun {_short(b)}")

    walk(recorded, rerun, path)
    return out


def _text_diff(name: str, a: bytes, b: bytes) -> str:
    try:
        ta, tb = a.decode("utf-8"), b.decode("utf-8")
    except UnicodeDecodeError:
        return _binary_diff(name, a, b)
    lines = list(
        difflib.unified_diff(ta.splitlines(), tb.splitlines(), f"recorded/{name}", f"rerun/{name}", n=1, lineterm="")
    )
    if not lines:  # only line endings or a trailing newline differ
        return f"{name}: differs only in line endings or trailing whitespace; {_binary_diff(name, a, b, prefix=False)}"
    shown = [ln if len(ln) <= 200 else ln[:199] + "…" for ln in lines[:MAX_DIFF_LINES]]
    more = f"\n  … {len(lines) - MAX_DIFF_LINES} more diff lines" if len(lines) > MAX_DIFF_LINES else ""
    return f"{name}: text differs\n  " + "\n  ".join(shown) + more


def _binary_diff(name: str, a: bytes, b: bytes, prefix: bool = True) -> str:
    text = f"recorded {len(a)} bytes sha256 {sha256_bytes(a)}, rerun {len(b)} bytes sha256 {sha256_bytes(b)}"
    return f"{name}: bytes differ: {text}" if prefix else text


def _parquet_note(a_path: Path, b_path: Path) -> str:
    """Whether two parquet files hold the same table, when the bytes differ."""
    try:
        import polars as pl

        fa, fb = pl.read_parquet(a_path), pl.read_parquet(b_path)
    except Exception as exc:  # unreadable file: the byte difference is the report
        return f" (could not read as Parquet: {type(exc).__name__})"
    if fa.schema != fb.schema:
        return " (schemas differ)"
    if fa.shape != fb.shape:
        return f" (shapes differ: {fa.shape} vs {fb.shape})"
    return " (same table contents; only the encoding differs)" if fa.equals(fb) else " (table values differ)"


def compare_file(name: str, recorded: Path, rerun: Path) -> list[str]:
    """Differences between one recorded file and its rerun ([] when byte-identical)."""
    a, b = recorded.read_bytes(), rerun.read_bytes()
    if a == b:
        return []
    if name.endswith(".json"):
        try:
            ja, jb = json.loads(a), json.loads(b)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return [_text_diff(name, a, b)]
        diffs = json_differences(ja, jb)
        if not diffs:
            return [f"{name}: same values but different bytes (formatting); {_binary_diff(name, a, b, prefix=False)}"]
        return [f"{name}: {d}" for d in diffs]
    if name.endswith((".html", ".md", ".svg", ".txt", ".csv")):
        return [_text_diff(name, a, b)]
    note = _parquet_note(recorded, rerun) if name.endswith(".parquet") else ""
    return [_binary_diff(name, a, b) + note]


def _compared_names(recorded_dir: Path, rerun_dir: Path) -> list[str]:
    names = set(COMPARED_FILES)
    for d in (recorded_dir, rerun_dir):
        names |= {p.name for p in d.glob("fig-*.svg")}
    return sorted(
        names, key=lambda n: (n not in COMPARED_FILES, COMPARED_FILES.index(n) if n in COMPARED_FILES else 0, n)
    )


def compare_dirs(recorded_dir: Path, rerun_dir: Path, notes: list[str] | None = None) -> list[str]:
    """Compare the report files of two directories; [] when every file is byte-identical.

    A file missing from both directories is skipped (e.g. no report rendered yet); a file missing
    from one side is a difference. With a `notes` list, a file whose bytes differ but whose meaning
    is the same (`evalkit.meaning`: floats equal to rounding, as between processors) is a note there
    instead of a difference.
    """
    recorded_dir, rerun_dir = Path(recorded_dir), Path(rerun_dir)
    out: list[str] = []
    for name in _compared_names(recorded_dir, rerun_dir):
        a, b = recorded_dir / name, rerun_dir / name
        if not a.exists() and not b.exists():
            continue
        if not b.exists():
            out.append(f"{name}: recorded but not produced by the rerun")
        elif not a.exists():
            out.append(f"{name}: produced by the rerun but not recorded")
        else:
            diffs = compare_file(name, a, b)
            if diffs and notes is not None and same_meaning(name, a, b):
                notes.append(f"{name}: same meaning, different bytes (numbers equal to rounding)")
                continue
            out.extend(diffs)
    return out


def verify(report_dir: Path, rerun: Callable[[Path], Path], notes: list[str] | None = None) -> list[str]:
    """Rerun the plan recorded in `report_dir` via `rerun(report_dir)` and compare the outputs.

    `rerun` must write into a fresh directory (never into `report_dir`) and return it. Returns the
    differences as readable strings; an empty list means the report reproduced byte for byte.
    """
    report_dir = Path(report_dir)
    if not (report_dir / "results.json").is_file():
        raise EvalkitError(
            "no results.json in the report folder; nothing to verify",
            file=report_dir,
            expected="a folder written by `evalkit estimate`",
        )
    fresh = Path(rerun(report_dir))
    if fresh.resolve() == report_dir.resolve():
        raise EvalkitError(
            "the rerun wrote into the report folder itself", file=report_dir, expected="a fresh temporary directory"
        )
    if not fresh.is_dir():
        raise EvalkitError("the rerun did not produce a directory", file=fresh)
    return compare_dirs(report_dir, fresh, notes)


__all__ = ["verify", "compare_dirs", "compare_file", "json_differences", "COMPARED_FILES"]


# --- What the report claims, recomputed -----------------------------------------------------------

CLAIMS = ("plan_sha256", "lock", "deviations", "plan")


def recompute(doc: dict[str, Any], plan_path: Path | None) -> tuple[Any, list[str]]:
    """Re-read the plan and its lock, re-hash the inputs, and list where results.json says otherwise.

    Returns (the LoadedPlan as it is now, the differences). Nothing about the plan's state is taken
    from the results being checked: a results.json edited to say "no deviations" fails here.
    """
    from evalkit import generations
    from evalkit.io import checked_sha256
    from evalkit.plan import open_plan, resolve_reference

    if plan_path is None:
        ref = doc.get("plan_file")
        if not isinstance(ref, str) or not ref:
            raise EvalkitError(
                "results.json does not name its plan file",
                file="results.json",
                column="plan_file",
                expected="give the plan with `evalkit verify --plan PLAN`",
            )
        plan_path = resolve_reference(ref)
    if not Path(plan_path).is_file():
        raise EvalkitError(
            "plan file not found", file=plan_path, expected="the plan the results were made from (--plan)"
        )
    loaded = open_plan(plan_path, allow_deviations=True)
    now = {"plan_sha256": loaded.sha256, "lock": loaded.lock, "deviations": loaded.deviations, "plan": loaded.plan}
    out: list[str] = []
    for key in CLAIMS:
        said = doc.get(key)
        if key == "deviations":
            said = said or []
        if json.loads(json.dumps(said, sort_keys=True, default=str)) != json.loads(
            json.dumps(now[key], sort_keys=True, default=str)
        ):
            out.append(
                f"results.json {key}: the report says {_short(said)}, the plan and its lock now give {_short(now[key])}"
            )
    for item in (doc.get("provenance") or {}).get("inputs", []) or []:
        path = item.get("path") if isinstance(item, dict) else None
        if not isinstance(path, str):
            out.append("results.json provenance.inputs: an entry without a path")
            continue
        actual = checked_sha256(generations.resolve(Path(path)))
        if actual != item.get("sha256"):
            out.append(f"input {path}: the report says sha256 {item.get('sha256')}, the file in force has {actual}")
    return loaded, out


def read_results(report_dir: Path) -> dict[str, Any]:
    """results.json of a report folder; a missing, truncated or non-object file is one line."""
    from evalkit import generations

    path = Path(report_dir) / "results.json"
    if Path(report_dir).is_dir():
        generations.recover(report_dir)  # finish a set a killed run had committed, before reading it
    if not path.is_file():
        raise EvalkitError(
            "no results.json in the report folder; nothing to verify",
            file=report_dir,
            expected="a folder written by `evalkit estimate`",
        )
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EvalkitError(
            f"results.json is not readable JSON ({type(exc).__name__}: truncated or edited?)",
            file=path,
            expected="results.json as written by `evalkit estimate`",
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("plan"), dict):
        raise EvalkitError(
            "results.json does not hold a results document",
            file=path,
            column="plan",
            expected="results.json as written by `evalkit estimate`",
        )
    return doc
