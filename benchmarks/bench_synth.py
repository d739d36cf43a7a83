"""Timings and peak memory of synthetic control and SDID (not a test: speed targets live here, never in
unit tests, whose wall-clock assertions are flaky on shared machines).

Prints each task's time next to its target. Targets:
  * SC nested-V fit (no inference) on Prop 99: under 1 s;
  * SC placebo run (placebos in space + LOO + time, no conformal) on Prop 99 with 2 jobs: under 10 s;
  * staggered SDID on the demo panel (46 units × 14 years, 8 treated units in 8 cohorts): placebo SE
    with 200 reps in a few seconds, jackknife under 2 s (whole demo pipeline budget: 20 s on 2 cores).

Run: .venv/bin/python benchmarks/bench_synth.py [--jobs 2] [--reps 200] [--quick] [--memory]
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import polars as pl

from evalkit.estimators.data import make_panel, read_panel_file
from evalkit.estimators.synth.sdid import synthetic_did, synthetic_did_staggered
from evalkit.estimators.synth.synth import synthetic_control

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.shared_data import VALIDATION  # noqa: E402  (EVALKIT_SHARED_DATA, default ../shared/data)

DATA = str(VALIDATION / "california_prop99.csv")


def demo_panel():
    """46 units × 14 years, units 0–7 first treated 2016–2023 (one per cohort), effect −6."""
    rng = np.random.default_rng(0)
    rows = []
    cohorts = {f"{i:03d}": (2016 + i if i < 8 else 0) for i in range(46)}
    for u, g in cohorts.items():
        a = rng.normal(65, 18)
        for t in range(2011, 2025):
            rows.append(
                {
                    "unit": u,
                    "year": t,
                    "y": a + 0.8 * (t - 2011) + (-6 if g and t >= g else 0) + rng.normal(0, 1),
                    "cohort": g,
                }
            )
    return make_panel(pl.DataFrame(rows), unit="unit", time="year", outcome="y", cohort="cohort")


MEMORY = False


def timed(label, func, rows, target=None):
    """Wall time of an untraced run (tracemalloc slows numpy-heavy loops several-fold, so it would distort
    the timings); with --memory, a second traced run gives the Python peak."""
    t = time.perf_counter()
    out = func()
    dt = time.perf_counter() - t
    peak = float("nan")
    if MEMORY:
        tracemalloc.start()
        func()
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    rows.append((label, dt, peak, target))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="skip the Prop 99 SC placebo/inference runs")
    ap.add_argument("--memory", action="store_true", help="also report each task's Python peak (re-runs it traced)")
    a = ap.parse_args()
    global MEMORY
    MEMORY = a.memory
    panel = make_panel(read_panel_file(DATA), unit="State", time="Year", outcome="PacksPerCapita", treated="treated")
    demo = demo_panel()
    synthetic_did_staggered(demo, se=None)  # warm-up (imports, first polars query)
    rows: list[tuple[str, float, float, float | None]] = []
    timed("SC fit, nested V (no inference)", lambda: synthetic_control(panel, inference=False), rows, 1.0)
    r = None
    if not a.quick:
        timed(
            f"SC placebos + LOO + time (no conformal), {a.jobs} jobs",
            lambda: synthetic_control(panel, n_jobs=a.jobs, conformal=False),
            rows,
            10.0,
        )
        timed(
            f"SC placebo-in-space only, {a.jobs} jobs",
            lambda: synthetic_control(panel, n_jobs=a.jobs, conformal=False, leave_one_out=False),
            rows,
        )
        r = timed(
            f"SC full inference (placebos, time, LOO, conformal), {a.jobs} jobs",
            lambda: synthetic_control(panel, n_jobs=a.jobs),
            rows,
        )
    timed("SDID point estimate (Prop 99)", lambda: synthetic_did(panel, se=None), rows)
    s = timed(
        f"SDID placebo SE, {a.reps} reps, 1 job (Prop 99)",
        lambda: synthetic_did(panel, se="placebo", reps=a.reps, seed=0, n_jobs=1),
        rows,
    )
    timed("staggered SDID point estimate (demo panel)", lambda: synthetic_did_staggered(demo, se=None), rows)
    timed(
        "staggered SDID placebo SE, 20 reps, 1 job",
        lambda: synthetic_did_staggered(demo, se="placebo", reps=20, seed=0, n_jobs=1),
        rows,
    )
    d = timed(
        f"staggered SDID placebo SE, {a.reps} reps, 1 job",
        lambda: synthetic_did_staggered(demo, se="placebo", reps=a.reps, seed=0, n_jobs=1),
        rows,
        5.0,
    )
    timed(
        f"staggered SDID placebo SE, {a.reps} reps, {a.jobs} jobs",
        lambda: synthetic_did_staggered(demo, se="placebo", reps=a.reps, seed=0, n_jobs=a.jobs),
        rows,
        5.0,
    )
    jr = timed(
        "staggered SDID jackknife SE, weights re-estimated, 1 job",
        lambda: synthetic_did_staggered(demo, se="jackknife", n_jobs=1),
        rows,
        2.0,
    )
    jf = timed(
        "staggered SDID jackknife SE, weights fixed (synthdid)",
        lambda: synthetic_did_staggered(demo, se="jackknife", jackknife_weights="fixed"),
        rows,
        2.0,
    )
    timed(
        f"staggered SDID bootstrap SE, {a.reps} reps, 1 job",
        lambda: synthetic_did_staggered(demo, se="bootstrap", reps=a.reps, seed=0, n_jobs=1),
        rows,
    )
    print(f"{'task':<64}{'seconds':>9}{'target':>8}{'py peak MiB':>13}")
    for label, dt, peak, target in rows:
        tgt = f"<{target:g}" if target is not None else ""
        flag = " OVER" if target is not None and dt > target else ""
        print(f"{label:<64}{dt:>9.3f}{tgt:>8}{peak:>13.1f}{flag}")
    print(f"process max RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.1f} MiB")
    if r is not None:
        print(f"SC att {r.estimate('att')['estimate']:.4f}, placebo p {r.estimate('att')['p_value']:.4f}")
    print(f"SDID att {s.estimate('att')['estimate']:.4f}, placebo se {s.estimate('att')['se']:.4f} (seed 0)")
    print(
        f"staggered SDID (demo) att {d.estimate('att')['estimate']:.4f}; se placebo {d.estimate('att')['se']:.4f}, "
        f"jackknife refit {jr.estimate('att')['se']:.4f}, jackknife fixed weights {jf.estimate('att')['se']:.4f}"
    )


if __name__ == "__main__":
    main()
