"""CPU seconds of the randomisation inference of one England analysis (its own method, or with
--method sunab / imputation that method on the analysis's sample): the full estimator per
permutation (before) against the many-columns path (cs_points / sunab_points / imputation_points:
y and d in one pass, after), and the largest difference between the rows the two give.

Run from the repository root after `evalkit ingest` and `evalkit panel` (see benchmarks/RESULTS.md):
    python benchmarks/bench_ri_cs.py --plan plans/england-adm-v2.toml --label cla_cs_never
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import polars as pl

from evalkit import generations
from evalkit.analysis import intervals as ft
from evalkit.analysis.estimator import call_estimator
from evalkit.analysis.sample import prepare, sample_panel
from evalkit.plan import load_plan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", default="plans/england-adm-v2.toml")
    ap.add_argument("--label", default="cla_cs_never")
    ap.add_argument("--skip-full", action="store_true", help="time the fast path only")
    ap.add_argument("--method", help="run this method on the analysis's sample instead (e.g. sunab)")
    args = ap.parse_args()
    plan = load_plan(args.plan)
    analysis = next(a for a in plan["analysis"] if a["label"] == args.label)
    panel_path = Path(plan["data"]["panel"])
    panel = pl.read_parquet(generations.resolve(panel_path))
    sample, _ = sample_panel(panel, plan.get("sample", {}))
    if analysis.get("years"):
        sample = sample.filter(pl.col("year").is_between(*analysis["years"]))
    prep = prepare(panel, sample, plan, analysis, panel_path)
    inference = plan["inference"]
    long, options, method = prep.panel, prep.options, analysis["method"]
    if args.method and args.method != method:
        method = args.method
        options = {k: v for k, v in options.items() if k == "control" and method != "imputation"}
    result = call_estimator(method, long, options, inference)
    names = ft._ri_targets(result)
    stat = ft._point_statistic(method, options, inference)
    n_perm, seed, alpha = int(inference["permutations"]), int(inference["seed"]), float(inference["alpha"])
    print(
        f"{args.label} ({method}): {long.data['unit'].n_unique()} units x {long.data['time'].n_unique()} periods, "
        f"{len(names)} RI estimates, {n_perm} permutations, load {os.getloadavg()[0]:.2f}"
    )

    def timed(statistic):
        t0, w0 = time.process_time(), time.perf_counter()
        rows, _ = ft.randomisation_rows(long, statistic, names, n_perm=n_perm, seed=seed, alpha=alpha)
        return rows, time.process_time() - t0, time.perf_counter() - w0

    fast_rows, fast_cpu, fast_wall = timed(stat)
    print(f"fast path: CPU {fast_cpu:.2f} s, wall {fast_wall:.2f} s")
    if args.skip_full:
        return
    full_rows, full_cpu, full_wall = timed(lambda p: stat(p))  # no `bind`: the full estimator per permutation
    print(f"full estimator per permutation: CPU {full_cpu:.2f} s, wall {full_wall:.2f} s")
    worst = 0.0
    for a, b in zip(fast_rows, full_rows):
        assert a["name"] == b["name"]
        for key in ("estimate", "ci_low", "ci_high", "p_value"):
            if a[key] is None or b[key] is None:
                assert a[key] is b[key], (a, b)
            else:
                worst = max(worst, abs(a[key] - b[key]))
    print(
        f"speed-up {full_cpu / fast_cpu:.1f}x (CPU); largest difference in estimate/ci/p over {len(fast_rows)} rows: {worst:.3g}"
    )


if __name__ == "__main__":
    main()
