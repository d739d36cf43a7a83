"""Issue #13 figures: the England plan estimate, the England multiverse, and its scaling with workers.

Run from the repository root after `evalkit ingest --from ../shared/data/reference && evalkit panel`:

    .venv/bin/python benchmarks/bench_multiverse.py estimate            # England v1 plan estimate
    .venv/bin/python benchmarks/bench_multiverse.py multiverse [--max-specs 500]
    .venv/bin/python benchmarks/bench_multiverse.py scaling [--max-specs 40]

Each figure is one `evalkit` console command in a fresh process; wall time, and user + system CPU
time of the command and every process it started and reaped (os.wait4 / RUSAGE_CHILDREN), with the
load average before and after (the machine is shared: compare CPU seconds when the load is high).
Each call prints a Markdown table row to paste into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

EVALKIT = str(Path(sys.executable).parent / "evalkit")


def run(args: list[str], env: dict[str, str] | None = None) -> dict[str, float | str]:
    load0 = os.getloadavg()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [EVALKIT, "--quiet", *args], env={**os.environ, **(env or {})}, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    load1 = os.getloadavg()
    status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"
    return {"wall": wall, "cpu": cpu, "load": f"{load0[0]:.1f} → {load1[0]:.1f}", "status": status}


def row(label: str, command: str, r: dict) -> str:
    return f"| {label} | `{command}` | {r['wall']:.1f} | {r['cpu']:.1f} | {r['load']} | {r['status']} |"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=["estimate", "multiverse", "scaling"])
    ap.add_argument("--max-specs", type=int, default=None)
    ap.add_argument("--plan", default="plans/england-multiverse.toml")
    a = ap.parse_args()
    print("| figure | command | wall s | CPU s | load (1 min) | status |")
    print("|---|---|---|---|---|---|")
    if a.what == "estimate":
        cmd = ["estimate", "--plan", "plans/england-adm.toml"]
        print(row("England v1 plan estimate", "evalkit " + " ".join(cmd), run(cmd)), flush=True)
        return
    n = a.max_specs or (500 if a.what == "multiverse" else 40)
    base = ["multiverse", "--plan", a.plan, "--max-specs", str(n)]
    if a.what == "multiverse":
        cmd = base + ["--backend", "processes", "--workers", "2"]
        print(
            row(f"England multiverse, {n} specifications, 2 processes", "evalkit " + " ".join(cmd), run(cmd)),
            flush=True,
        )
        return
    for label, extra in (
        ("serial (1 process)", ["--backend", "serial"]),
        ("2 local processes", ["--backend", "processes", "--workers", "2"]),
        ("Dask LocalCluster, 2 workers", ["--backend", "dask", "--workers", "2"]),
    ):
        cmd = base + extra
        print(row(f"{n} specifications, {label}", "evalkit " + " ".join(cmd), run(cmd)), flush=True)


if __name__ == "__main__":
    main()
