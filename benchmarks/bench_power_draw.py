"""CPU seconds of one `evalkit power` placebo draw (CS, cla_cs_never of plan v3, 99 permutations), mean of 20;
`python benchmarks/bench_power_draw.py` from the repository root after ingest and panel (old code: PYTHONPATH=<copy>)."""

import cProfile
import pstats
import sys
import time
from pathlib import Path

import numpy as np

import evalkit
from evalkit import generations
from evalkit import power as P
from evalkit.analysis.sample import living_window, prepare, sample_panel
from evalkit.panel.build import read_parquet_checked
from evalkit.plan import open_plan

lp = open_plan(Path("plans/england-adm-v3.toml"))
plan = lp.plan
panel_path = Path(plan["data"]["panel"])
panel = read_parquet_checked(generations.resolve(panel_path))
rules = living_window(plan.get("sample", {}), panel)
sample, _ = sample_panel(panel, rules)
a = next(x for x in plan["analysis"] if x["label"] == "cla_cs_never")
prep = prepare(panel, sample, plan, a, panel_path)
inf = dict(plan["inference"])
inf["permutations"] = 99
seeds = np.random.SeedSequence(1).spawn(20)
made = [P.placebo_panel(prep.panel, np.random.default_rng(s)) for s in seeds]
t = time.process_time()
for j in range(20):
    P._interval("cs", made[j][0], prep.options, {**inf, "seed": j})
print(evalkit.__file__)
print("per draw", (time.process_time() - t) / 20)
if len(sys.argv) > 1:
    pr = cProfile.Profile()
    pr.enable()
    for j in range(20):
        P._interval("cs", made[j][0], prep.options, {**inf, "seed": j})
    pr.disable()
    pstats.Stats(pr).sort_stats("cumtime").print_stats(40)

# one evaluation of the CS fast path (what each of the 99 permutations of a draw runs), mean of 300
from evalkit.estimators.did.cs_points import CSPoints  # noqa: E402
from evalkit.estimators.inference.randomisation import Permuter  # noqa: E402

p0 = made[0][0]
many = CSPoints(control="never", est_method="reg").bind(p0)
perm = Permuter(p0)
cols = np.column_stack([p0.data["y"].to_numpy(), perm.d_obs])
rng = np.random.default_rng(0)
assignments = [rng.permutation(perm.cohort) for _ in range(300)]
t = time.process_time()
for c in assignments:
    many(c, cols)
print("per fast-path evaluation ms", (time.process_time() - t) / 300 * 1000)
