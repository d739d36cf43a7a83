"""The synthetic DiD Frank–Wolfe loop: numpy batch (the reference) against the compiled kernel.

Runs one analysis of a plan (default: `cla_sdid` of plans/england-adm.toml, with the plan's
inference: jackknife refits and the randomisation interval's placebo draws) twice in this process,
once with `sdid._fw_run_numpy` and once with production's `sdid._fw_run` (numba), and prints the CPU
seconds of each (the estimator and its default randomisation interval, as `evalkit estimate` runs
them) and whether the two estimate tables are equal to the bit. Then the one-off costs of
the kernel in a fresh process: numba's import, loading the cached machine code, compiling it anew.

    python benchmarks/bench_sdid_fw.py [--plan plans/england-adm.toml] [--label cla_sdid]

Needs the England panel: `evalkit ingest --from ../shared/data/reference && evalkit panel`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# this folder holds a `coverage.py`, which numba would import in place of the coverage package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]

import polars as pl  # noqa: E402

from evalkit import generations  # noqa: E402
from evalkit.analysis.estimator import call_estimator  # noqa: E402
from evalkit.analysis.intervals import add_default_interval  # noqa: E402
from evalkit.analysis.sample import prepare, sample_panel  # noqa: E402
from evalkit.estimators.synth import sdid  # noqa: E402
from evalkit.plan import load_plan  # noqa: E402

_ONE_OFF = """
import time
t0 = time.perf_counter()
import numba
t1 = time.perf_counter()
from evalkit.estimators.synth import _fw_kernel
t2 = time.perf_counter()
numba.njit(_fw_kernel._SIGNATURE, cache=False, **_fw_kernel._OPTIONS)(_fw_kernel._iterate)
t3 = time.perf_counter()
print(f"{t1 - t0:.2f} {t2 - t1:.2f} {t3 - t2:.2f}")
"""


def _run(analysis: dict, plan: dict) -> tuple[float, pl.DataFrame]:
    panel_path = Path(plan["data"]["panel"])
    panel = pl.read_parquet(generations.resolve(panel_path))
    sample, _ = sample_panel(panel, plan.get("sample", {}))
    prep = prepare(panel, sample, plan, analysis, panel_path)
    options = {k: v for k, v in dict(analysis.get("options", {})).items() if k != "donors"}
    method, long, inference = analysis["method"], prep.panel, plan["inference"]
    t0 = time.process_time()
    res = call_estimator(method, long, options, inference)
    add_default_interval(method, long, options, inference, res)  # the randomisation interval
    return time.process_time() - t0, res.estimates


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", default="plans/england-adm.toml")
    ap.add_argument("--label", default="cla_sdid")
    args = ap.parse_args()
    os.environ.setdefault("EVALKIT_BACKEND", "serial")
    if sdid._kernel() is None:
        sys.exit("the compiled kernel is not usable here (is numba installed?)")
    plan = load_plan(args.plan)
    analysis = next(a for a in plan["analysis"] if a["label"] == args.label)
    _run(analysis, plan)  # warm-up: imports, the kernel loaded or compiled once
    compiled = sdid._fw_run
    cpu_fast, est_fast = _run(analysis, plan)
    sdid._fw_run = sdid._fw_run_numpy
    try:
        cpu_ref, est_ref = _run(analysis, plan)
    finally:
        sdid._fw_run = compiled
    print(f"{args.plan} {args.label} (serial), CPU seconds of the estimator call:")
    print(f"  numpy batch (reference)  {cpu_ref:7.2f}")
    print(f"  compiled kernel          {cpu_fast:7.2f}   ({cpu_ref / cpu_fast:.1f}x less)")
    print(f"  estimates identical to the bit: {est_ref.equals(est_fast)} ({est_ref.height} rows)")
    out = subprocess.run([sys.executable, "-c", _ONE_OFF], capture_output=True, text=True, check=True).stdout.split()
    print(f"  per process: import numba {out[0]} s, kernel from the cache {out[1]} s, compiling it anew {out[2]} s")
    print(f"  load: {os.getloadavg() if hasattr(os, 'getloadavg') else 'n/a'}")


if __name__ == "__main__":
    main()
