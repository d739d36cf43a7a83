"""Timings and peak memory of synthetic control and SDID on Prop 99 (not a test).

Run: .venv/bin/python benchmarks/bench_synth.py [--jobs 2]
"""

from __future__ import annotations

import argparse
import resource
import time
import tracemalloc

from evalkit.estimators.data import make_panel, read_panel_file
from evalkit.estimators.sdid import synthetic_did
from evalkit.estimators.synth import synthetic_control

DATA = "/work/shared/data/validation/california_prop99.csv"


def timed(label, func, rows):
    tracemalloc.start()
    t = time.perf_counter()
    out = func()
    dt = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    rows.append((label, dt, peak))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=200)
    a = ap.parse_args()
    panel = make_panel(read_panel_file(DATA), unit="State", time="Year", outcome="PacksPerCapita", treated="treated")
    rows: list[tuple[str, float, float]] = []
    timed("SC fit, nested V (no inference)", lambda: synthetic_control(panel, inference=False), rows)
    timed(f"SC placebo-in-space only, {a.jobs} jobs", lambda: synthetic_control(
        panel, n_jobs=a.jobs, conformal=False, leave_one_out=False), rows)
    r = timed(f"SC full inference (placebos, time, LOO, conformal), {a.jobs} jobs",
              lambda: synthetic_control(panel, n_jobs=a.jobs), rows)
    timed("SDID point estimate", lambda: synthetic_did(panel, se=None), rows)
    s = timed(f"SDID placebo SE, {a.reps} reps, {a.jobs} jobs",
              lambda: synthetic_did(panel, se="placebo", reps=a.reps, seed=0, n_jobs=a.jobs), rows)
    print(f"{'task':<62}{'seconds':>10}{'py peak MiB':>14}")
    for label, dt, peak in rows:
        print(f"{label:<62}{dt:>10.3f}{peak:>14.1f}")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    print(f"SC att {r.estimate('att')['estimate']:.4f}, placebo p {r.estimate('att')['p_value']:.4f}; "
          f"SDID att {s.estimate('att')['estimate']:.4f}, placebo se {s.estimate('att')['se']:.4f} (seed 0)")


if __name__ == "__main__":
    main()
