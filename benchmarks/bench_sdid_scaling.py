"""Synthetic DiD with placebo SE as the donor pool grows (issue #29): CPU seconds and peak memory.

    .venv/bin/python benchmarks/bench_sdid_scaling.py [--units 39,100,300,1000,2000,5000] [--reps 200]

Each size runs `synthetic_did(panel, se="placebo", reps=200, seed=0)` in a fresh process on a simulated
panel of N control units and 1 treated unit over 31 periods (treated from period 20: 19 pre-periods as
Prop 99; unit and period effects, a factor structure, noise; seed 7). The parent reaps the child with
os.wait4 and reports its CPU seconds (user + system, whole process: interpreter, imports, numba's
cached kernel, the fit and the 200 placebo refits) and peak resident memory (ru_maxrss), and the child
prints the estimate and SE so a change of numbers shows beside a change of cost. `--ref PYTHONPATH`
runs the same child against another checkout of evalkit (e.g. before a change) for a side-by-side table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

CHILD = """
import json, sys, time
import numpy as np
import polars as pl
from evalkit.estimators.data import make_panel
try:
    from evalkit.estimators.synth.sdid import synthetic_did
except ImportError:  # a checkout from before the estimators were grouped by family (--ref)
    from evalkit.estimators.sdid import synthetic_did

n, reps = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(7)
T, g = 31, 20
units = n + 1
load = rng.normal(size=(units, 2))
factors = rng.normal(size=(2, T)).cumsum(axis=1)
y = 10 + rng.normal(size=(units, 1)) + np.arange(T) * 0.1 + load @ factors + rng.normal(0, 0.5, (units, T))
y[-1, g:] -= 2.0
frame = pl.DataFrame({
    "unit": np.repeat(np.arange(units), T),
    "time": np.tile(np.arange(T), units),
    "y": y.ravel(),
    "cohort": np.repeat(np.r_[np.zeros(n, dtype=np.int64), [g]], T),
})
panel = make_panel(frame, unit="unit", time="time", outcome="y", cohort="cohort")
t0 = time.process_time()
res = synthetic_did(panel, se="placebo", reps=reps, seed=0, n_jobs=1)
row = res.estimates.row(0, named=True)
import evalkit
print(json.dumps({"where": evalkit.__file__, "estimate": row["estimate"], "se": row["se"], "call_cpu": time.process_time() - t0}))
"""


def run_child(n: int, reps: int, pythonpath: str | None) -> dict:
    env = {**os.environ, "EVALKIT_BACKEND": "serial"}
    env.pop("EVALKIT_JOBS", None)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        # cwd outside any checkout: `-c` puts the working folder first on sys.path, before PYTHONPATH
        cmd = [sys.executable, "-c", CHILD, str(n), str(reps)]
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=tempfile.gettempdir())
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if os.waitstatus_to_exitcode(status):
            return {"error": err.read().decode(errors="replace").strip().splitlines()[-1:]}
        doc = json.loads(out.read().decode().strip().splitlines()[-1])
    return {**doc, "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss / 1024, "wall": wall}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", default="39,100,300,1000,2000,5000", help="control units per run, comma-separated")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--ref", default=None, help="PYTHONPATH of another evalkit checkout to run beside this one")
    a = ap.parse_args()
    sizes = [int(s) for s in a.units.split(",")]
    head = "| controls × periods | CPU s | peak RSS MiB | CPU s in the call | estimate | SE |"
    if a.ref:
        head += " ref CPU s | ref peak MiB | same numbers |"
    print(f"SDID, placebo SE ({a.reps} draws), 31 periods, 1 treated unit; whole process per row\n")
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for n in sizes:
        r = run_child(n, a.reps, str(ROOT))
        if "error" in r:
            print(f"| {n:,} × 31 | failed: {' '.join(r['error'])} |")
            continue
        line = f"| {n:,} × 31 | {r['cpu']:.2f} | {r['rss']:.0f} | {r['call_cpu']:.2f} | {r['estimate']:.6f} | {r['se']:.6f} |"
        if a.ref:
            b = run_child(n, a.reps, a.ref)
            if "error" in b:
                line += f" failed: {' '.join(b['error'])} | | |"
            else:
                same = b["estimate"] == r["estimate"] and b["se"] == r["se"]
                line += f" {b['cpu']:.2f} | {b['rss']:.0f} | {'yes (bit for bit)' if same else 'NO'} |"
        print(line, flush=True)
    load = os.getloadavg()
    print(f"\nLoad average: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
