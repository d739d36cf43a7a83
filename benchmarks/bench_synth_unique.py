"""The England synthetic controls' point estimates and weights under the BLAS thread count of the
environment (run it with OPENBLAS_NUM_THREADS=1 and =4 and compare): with two pre-treatment years
the weight problem has many exact solutions, and since the minimum-norm tie-break (qp.min_norm_weights)
the answer no longer depends on the thread count.

    OPENBLAS_NUM_THREADS=4 python benchmarks/bench_synth_unique.py --plan plans/england-adm-v2.toml
"""

from __future__ import annotations

import argparse
import hashlib
import os
from pathlib import Path

import polars as pl

from evalkit import generations
from evalkit.analysis.estimator import call_estimator
from evalkit.analysis.sample import prepare, sample_panel
from evalkit.plan import load_plan


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--plan", default="plans/england-adm-v2.toml")
    ap.add_argument("--labels", default="cla_synth,spend_synth")
    args = ap.parse_args()
    plan = load_plan(args.plan)
    panel_path = Path(plan["data"]["panel"])
    panel = pl.read_parquet(generations.resolve(panel_path))
    for label in args.labels.split(","):
        found = [a for a in plan["analysis"] if a["label"] == label]
        if not found:
            continue
        analysis = found[0]
        sample, _ = sample_panel(panel, plan.get("sample", {}))
        if analysis.get("years"):
            sample = sample.filter(pl.col("year").is_between(*analysis["years"]))
        prep = prepare(panel, sample, plan, analysis, panel_path)
        options = {**prep.options, "inference": False}
        res = call_estimator(analysis["method"], prep.panel, options, plan["inference"])
        w = res.extra["weights"].sort(*res.extra["weights"].columns[:2])
        digest = hashlib.sha256(w.write_csv(float_precision=8).encode()).hexdigest()[:12]
        att = res.estimate("att")["estimate"]
        print(
            f"{label}: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} att {att:.10f} "
            f"weights sha256(8 digits) {digest}"
        )


if __name__ == "__main__":
    main()
