"""A power draw's permutation rows for the headline alone (intervals.HEADLINE_ONLY, issue #29): CPU seconds
per placebo draw with and without it, and that the headline's (estimate, ci_low, ci_high, kind) are
identical, on plan v5's CLA and agency analyses (6 draws each, 99 permutations). From the repository
root after ingest and panel:

    python benchmarks/bench_headline_only.py randomization,studentized,ferman_pinto,analytic

"without" puts back what every run did before: permutation rows for every row, all CS aggregations on the
fast path. Exit 1 when any draw differs."""

import sys
import time
from pathlib import Path

import numpy as np

from evalkit import generations
from evalkit import power as P
from evalkit.analysis import intervals
from evalkit.analysis.run import unit_sizes
from evalkit.analysis.sample import living_window, prepare, sample_panel
from evalkit.estimators.did.cs_points import CSPoints
from evalkit.panel.build import read_parquet_checked
from evalkit.plan import open_plan

DRAWS = 6
ALL_ROWS = intervals._ri_targets


def set_mode(headline_only: bool) -> None:
    intervals._ri_targets = ALL_ROWS if headline_only else (lambda result, inference=None: ALL_ROWS(result))
    CSPoints.computes_subsets = headline_only


def main(kinds: list[str]) -> int:
    plan = open_plan(Path("plans/england-adm-v5.toml")).plan
    panel_path = Path(plan["data"]["panel"])
    panel = read_parquet_checked(generations.resolve(panel_path))
    sample, _ = sample_panel(panel, living_window(plan.get("sample", {}), panel))
    bad = 0
    for label in ["cla_cs_never", "agency_cs_never"]:
        entry = next(x for x in plan["analysis"] if x["label"] == label)
        prep = prepare(panel, sample, plan, entry, panel_path)
        inf = {**plan["inference"], "permutations": 99}
        sizes = unit_sizes(prep.rows, inf.get("size_column"))
        if sizes:
            inf["unit_size"] = sizes
        made = [P.placebo_panel(prep.panel, np.random.default_rng(s)) for s in np.random.SeedSequence(7).spawn(DRAWS)]
        for kind in kinds:
            cpu, out = {}, {}
            for mode in ("headline only", "every row"):
                set_mode(mode == "headline only")
                t = time.process_time()
                out[mode] = [
                    P._interval("cs", m[0], prep.options, {**inf, "interval": kind, "seed": j})
                    for j, m in enumerate(made)
                ]
                cpu[mode] = (time.process_time() - t) / DRAWS
            same = repr(out["headline only"]) == repr(out["every row"])  # a draw's pre-trend p may be NaN
            bad += not same
            shown = ", ".join(f"{k} {v:.3f}" for k, v in cpu.items())
            print(f"{label} {kind}: CPU s per draw {shown}; headline rows {'identical' if same else 'DIFFERENT'}")
    set_mode(True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1].split(",") if len(sys.argv) > 1 else ["randomization", "ferman_pinto"]))
