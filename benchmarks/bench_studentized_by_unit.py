"""The studentized interval's unit contributions from the point path's `by_unit` (one pass per assignment,
`[inference] studentized_by_unit = true`, issue #29 round 7) against one outcome column per council (plans
v4, v5 and any plan without the key): CPU seconds per power placebo draw (headline row, 99 permutations) on
plan v5's CLA and agency analyses, the two interleaved draw by draw in one process, and the largest relative
difference of the headline (estimate, ci_low, ci_high). From the repository root after ingest and panel:

    python benchmarks/bench_studentized_by_unit.py [draws]

Exit 1 when a draw differs by more than 1e-10 relative."""

import os
import sys
import time
from pathlib import Path

import numpy as np

from evalkit import generations
from evalkit import power as P
from evalkit.analysis.run import unit_sizes
from evalkit.analysis.sample import living_window, prepare, sample_panel
from evalkit.panel.build import read_parquet_checked
from evalkit.plan import open_plan


def main(draws: int) -> int:
    plan = open_plan(Path("plans/england-adm-v5.toml")).plan
    panel_path = Path(plan["data"]["panel"])
    panel = read_parquet_checked(generations.resolve(panel_path))
    sample, _ = sample_panel(panel, living_window(plan.get("sample", {}), panel))
    print(f"1-minute load at start {os.getloadavg()[0]:.2f}")
    worst_all = 0.0
    for label in ["cla_cs_never", "agency_cs_never"]:
        entry = next(x for x in plan["analysis"] if x["label"] == label)
        prep = prepare(panel, sample, plan, entry, panel_path)
        inf = {**plan["inference"], "permutations": 99, "interval": "studentized"}
        sizes = unit_sizes(prep.rows, inf.get("size_column"))
        if sizes:
            inf["unit_size"] = sizes
        made = [P.placebo_panel(prep.panel, np.random.default_rng(s)) for s in np.random.SeedSequence(7).spawn(draws)]
        cpu: dict[str, list[float]] = {"per unit": [], "by_unit": []}
        worst = 0.0
        for j, m in enumerate(made):
            got = {}
            for mode in ("per unit", "by_unit"):
                key = {"studentized_by_unit": True} if mode == "by_unit" else {}
                t = time.process_time()
                got[mode] = P._interval("cs", m[0], prep.options, {**inf, **key, "seed": j})
                cpu[mode].append(time.process_time() - t)
            a, b = np.array(got["per unit"][:3], float), np.array(got["by_unit"][:3], float)
            worst = max(worst, float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-300))))
            assert got["per unit"][3] == got["by_unit"][3], (label, j)
        shown = ", ".join(f"{k} {np.median(v):.3f} (range {min(v):.3f}-{max(v):.3f})" for k, v in cpu.items())
        print(
            f"{label} studentized, {draws} draws: CPU s per draw, median {shown}; headline largest rel. diff {worst:.1e}"
        )
        worst_all = max(worst_all, worst)
    print(f"1-minute load at end {os.getloadavg()[0]:.2f}")
    return 1 if worst_all > 1e-10 else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 6))
