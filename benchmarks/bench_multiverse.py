"""Issue #13 figures: the England plan estimate, the England multiverse, and its scaling with workers.

Run from the repository root after `evalkit ingest --from ../shared/data/reference && evalkit panel`:

    .venv/bin/python benchmarks/bench_multiverse.py estimate            # England v1 plan estimate
    .venv/bin/python benchmarks/bench_multiverse.py multiverse [--max-specs 500]
    .venv/bin/python benchmarks/bench_multiverse.py scaling [--max-specs 40]
    .venv/bin/python benchmarks/bench_multiverse.py cluster [--max-specs 4] [--draws 10] [--permutations 19]

`cluster` (issue #29) runs the multiverse (`--backend dask --workers N`) and the power analysis
(`evalkit power`, which reads EVALKIT_BACKEND=dask and EVALKIT_JOBS=N) on a Dask LocalCluster with
N = 1, 2 and 4 workers and prints each run's wall and CPU seconds and its speed-up in wall time over
one worker. Keep the runs short on a shared machine (few specifications, few draws); the numbers are
identical whatever N (each task carries its own seed), so only the time changes.

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
    ap.add_argument("what", choices=["estimate", "multiverse", "scaling", "cluster"])
    ap.add_argument("--draws", type=int, default=10, help="cluster: power draws (evalkit power needs at least 10)")
    ap.add_argument("--permutations", type=int, default=19, help="cluster: permutations inside each power draw")
    ap.add_argument("--power-plan", default="plans/england-adm.toml", help="cluster: the plan whose power to assess")
    ap.add_argument("--max-specs", type=int, default=None)
    ap.add_argument("--plan", default="plans/england-multiverse.toml")
    a = ap.parse_args()
    print("| figure | command | wall s | CPU s | load (1 min) | status |")
    print("|---|---|---|---|---|---|")
    if a.what == "estimate":
        cmd = ["estimate", "--plan", "plans/england-adm.toml"]
        print(row("England v1 plan estimate", "evalkit " + " ".join(cmd), run(cmd)), flush=True)
        return
    if a.what == "cluster":
        cluster(a)
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


def cluster(a: argparse.Namespace) -> None:
    """Multiverse and power on a Dask LocalCluster of 1, 2 and 4 workers; speed-up = wall(1) / wall(N)."""
    n = a.max_specs or 6
    jobs = {
        "multiverse": lambda w: (
            ["multiverse", "--plan", a.plan, "--max-specs", str(n), "--backend", "dask", "--workers", str(w)],
            None,
        ),
        "power": lambda w: (
            ["power", "--plan", a.power_plan, "--draws", str(a.draws), "--permutations", str(a.permutations)],
            {"EVALKIT_BACKEND": "dask", "EVALKIT_JOBS": str(w)},
        ),
    }
    print("\n| work | workers | command | wall s | CPU s | speed-up (wall) | load (1 min) | status |")
    print("|---|---|---|---|---|---|---|---|")
    for name, make in jobs.items():
        one = None
        for w in (1, 2, 4):
            cmd, env = make(w)
            r = run(cmd, env)
            one = r["wall"] if w == 1 else one
            shown = (f"EVALKIT_BACKEND=dask EVALKIT_JOBS={w} " if env else "") + "evalkit " + " ".join(cmd)
            print(
                f"| {name} | {w} | `{shown}` | {r['wall']:.1f} | {r['cpu']:.1f} | {one / r['wall']:.2f}x | "
                f"{r['load']} | {r['status']} |",
                flush=True,
            )
    print(f"\n{os.cpu_count()} CPUs; CPU s counts the command and the worker processes it reaped.")


if __name__ == "__main__":
    main()
