"""Permutations in batches (`CSPoints.estimates_batch`, `randomisation._in_batches`, issue #29): CPU seconds per
power placebo draw with the permuted assignments evaluated 100 at a time and one call per assignment, and
that every draw's (estimate, ci_low, ci_high, kind, pre-trend p) is identical, on plan v3's primary analyses
as `evalkit power` runs them (the plan's inference, [power] permutations, placebo panels of its seeds).
From the repository root after ingest and panel:

    python benchmarks/bench_batch.py [draws per analysis, default 4]

The two modes alternate draw by draw in one process. Exit 1 when any draw differs."""

import sys
import time
from pathlib import Path

import numpy as np

from evalkit import generations
from evalkit import power as P
from evalkit.analysis.sample import living_window, prepare, sample_panel
from evalkit.estimators.inference import randomisation
from evalkit.panel.build import read_parquet_checked
from evalkit.plan import open_plan

MODES = {"batches": randomisation.BATCH, "one call each": 1}


def main(draws: int) -> int:
    plan = open_plan(Path("plans/england-adm-v3.toml")).plan
    panel_path = Path(plan["data"]["panel"])
    panel = read_parquet_checked(generations.resolve(panel_path))
    sample, _ = sample_panel(panel, living_window(plan.get("sample", {}), panel))
    conf = P.settings(plan)
    inference = {**plan["inference"], "permutations": conf["permutations"]}
    bad = 0
    totals = dict.fromkeys(MODES, 0.0)
    primaries = [a for a in plan["analysis"] if a.get("primary")]
    for k, entry in enumerate(primaries):
        prep = prepare(panel, sample, plan, entry, panel_path)
        if prep.panel is None:
            continue
        seeds = np.random.SeedSequence(conf["seed"] + 1000 * k).spawn(draws)
        made = [P.placebo_panel(prep.panel, np.random.default_rng(s))[0] for s in seeds]
        if k == 0:  # warm-up (imports, first fit) outside the timings
            P._interval(entry["method"], made[0], prep.options, {**inference, "seed": int(inference["seed"])})
        cpu = dict.fromkeys(MODES, 0.0)
        same = True
        for j, placebo in enumerate(made):
            got = {}
            for mode, size in MODES.items():
                randomisation.BATCH = size
                t = time.process_time()
                got[mode] = P._interval(
                    entry["method"], placebo, prep.options, {**inference, "seed": int(inference["seed"]) + j}
                )
                cpu[mode] += time.process_time() - t
            same &= repr(got["batches"]) == repr(got["one call each"])
        bad += not same
        for mode in MODES:
            totals[mode] += cpu[mode]
        shown = ", ".join(f"{m} {v / draws:.4f}" for m, v in cpu.items())
        print(f"{entry['label']}: CPU s per draw {shown}; draws {'identical' if same else 'DIFFERENT'}")
    randomisation.BATCH = MODES["batches"]
    print("all analyses, CPU s: " + ", ".join(f"{m} {v:.2f}" for m, v in totals.items()))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 4))
