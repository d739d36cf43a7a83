"""Record and compare the sha256 of a report's files across machines (the reproduction workflow).

    python tools/report_digests.py write reports/demo --label ubuntu-3.12 --out digests/ubuntu-3.12.json
    python tools/report_digests.py compare digests/*.json [--expect 9]

`write` records every compared file of a report folder (the files `evalkit verify` compares).
`compare` prints, for each file, which cells share which digest, and exits 1 when any file's bytes
differ between cells, when a cell lacks a file the others have, or when fewer than `--expect` cells
reported (a cell that failed before writing its digests must not pass unseen). Plain Python, no
dependencies, so it runs on every runner before or without evalkit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

# The files `evalkit verify` compares (evalkit.verify.COMPARED_FILES; a test keeps the two equal),
# named here because this script must run without evalkit installed.
COMPARED = ("results.json", "results.parquet", "report.html", "report.md", "multiverse.json", "multiverse.parquet")


def digests(report: Path) -> dict[str, str]:
    names = [n for n in COMPARED if (report / n).is_file()] + sorted(p.name for p in report.glob("fig-*.svg"))
    return {n: hashlib.sha256((report / n).read_bytes()).hexdigest() for n in names}


def write(report: Path, label: str, out: Path) -> int:
    files = digests(report)
    if "results.json" not in files:
        print(f"{report}: no results.json; nothing to record", file=sys.stderr)
        return 1
    out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"label": label, "files": files}, indent=2, sort_keys=True) + "\n"
    out.write_bytes(text.encode("utf-8"))
    print(f"{label}: {len(files)} files recorded in {out.as_posix()}")
    return 0


def compare(paths: list[Path], expect: int | None) -> int:
    cells = {}
    for p in paths:
        record = json.loads(p.read_text(encoding="utf-8"))
        cells[record["label"]] = record["files"]
    problems = []
    if expect is not None and len(cells) < expect:
        problems.append(f"only {len(cells)} of {expect} cells reported digests (a cell failed before the end)")
    names = sorted({n for files in cells.values() for n in files})
    for name in names:
        groups: dict[str, list[str]] = {}
        for label, files in sorted(cells.items()):
            groups.setdefault(files.get(name, "missing"), []).append(label)
        if len(groups) == 1:
            print(f"same  {name}  {next(iter(groups))[:16]}  ({len(cells)} cells)")
            continue
        problems.append(f"{name} differs between cells")
        print(f"DIFF  {name}")
        for digest, labels in sorted(groups.items(), key=lambda kv: -len(kv[1])):
            print(f"        {digest[:16]:<16}  {', '.join(labels)}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if not problems:
        print(f"all {len(names)} files byte-identical across {len(cells)} cells: {', '.join(sorted(cells))}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("write")
    w.add_argument("report", type=Path)
    w.add_argument("--label", required=True)
    w.add_argument("--out", type=Path, required=True)
    c = sub.add_parser("compare")
    c.add_argument("records", type=Path, nargs="+")
    c.add_argument("--expect", type=int)
    args = ap.parse_args(argv)
    if args.cmd == "write":
        return write(args.report, args.label, args.out)
    return compare(args.records, args.expect)


if __name__ == "__main__":
    sys.exit(main())
