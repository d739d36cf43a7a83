"""Size and power of Hagemann's interval on rows resting on one treated council (issue #25, items 1 and 4).

One treated council moving in 2019 among q comparison councils (q = 30, 75, 149), 13 years (2013-2025), unit
and year effects, AR(1) errors (0.5, stationary start). The comparison councils' noise s.d. are all 1
("equal") or differ (log-uniform on [1, 3], drawn for every panel: "varied"); the treated council's is `ratio` times the least variable comparison
council's: ratio 1 and 2 satisfy the assumption of rho = 2 (2 is its boundary, where the size bound binds),
ratio 4 breaks it. True effect 0 (size) and 6 or 12 after the move (power; in units of the least variable
council's noise s.d.). Rows: Callaway-Sant'Anna (never-treated comparison) "simple" (the council's average
post-move change from 2018 against the comparison councils'), "dynamic:e=0" and "dynamic:e=2".

Each row's interval comes from `one_council.row_interval` (the code the opt-in rows use) at alpha 0.05 with
rho = 2; the row's weights are read once per design with `one_council.cell_weights` on the CS point path
(the estimator is linear and the weights do not depend on the outcome) and, as a check, the first draws of
every cell are also run through `one_council.hagemann_rows` end to end (identical rows, or the script stops).
Beside it, the equal-variance single-unit placebo rank test (the council's estimate ranked among the
comparison councils' own leave-one-out estimates; Conley-Taber's idea), which assumes the treated council is
no more variable than the rest.

Rejection: the 95 % interval excludes the true effect's null (0). Resumable: one JSON line per finished cell
in --out; seeded by SeedSequence([SEED, q, spread index, ratio index, effect index]).

    nice -n 10 .venv/bin/python benchmarks/hagemann_single.py --draws 2000     # the run
    .venv/bin/python benchmarks/hagemann_single.py --table                     # the table from --out
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import sys
import time
from pathlib import Path

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

SEED = 20261207
YEARS = np.arange(2013, 2026)
MOVE = 2019
QS = (30, 75, 149)
RATIOS = (1.0, 2.0, 4.0)
SPREADS = ("equal", "varied")  # comparison councils' s.d.: all 1, or log-uniform on [1, 3]
EFFECTS = (0.0, 6.0, 12.0)
RHO, ALPHA, AR = 2.0, 0.05, 0.5
ROWS = ("simple", "dynamic:e=0", "dynamic:e=2")
CHECK_DRAWS = 3
OUT = Path(__file__).with_name("hagemann-single.jsonl")


def outcomes(q: int, spread: str, ratio: float, effect: float, rng: np.random.Generator) -> np.ndarray:
    """One panel's outcomes, councils x years: council 0 treated from MOVE, councils 1..q never treated."""
    n, T = q + 1, len(YEARS)
    sd = np.exp(rng.uniform(0.0, math.log(3.0), n)) if spread == "varied" else np.ones(n)
    sd[0] = ratio * sd[1:].min()
    eps = np.empty((n, T))
    eps[:, 0] = rng.normal(size=n) / math.sqrt(1 - AR**2)
    for t in range(1, T):
        eps[:, t] = AR * eps[:, t - 1] + rng.normal(size=n)
    y = 5 * rng.normal(size=n)[:, None] + rng.normal(size=T)[None, :] + sd[:, None] * eps
    y[0, YEARS >= MOVE] += effect * sd[1:].min()
    return y


def long_panel(y: np.ndarray):
    from evalkit.estimators.data import make_panel

    n, T = y.shape
    cohort = np.zeros(n, dtype=np.int64)
    cohort[0] = MOVE
    data = pl.DataFrame(
        {
            "unit": np.repeat([f"c{i:03d}" for i in range(n)], T),
            "year": np.tile(YEARS, n),
            "y": y.ravel(),
            "g": np.repeat(cohort, T),
        }
    )
    return make_panel(data, unit="unit", time="year", outcome="y", cohort="g")


def cell(q: int, si: int, ri: int, ei: int, draws: int) -> dict:
    from evalkit.estimators.did.cs_points import CSPoints
    from evalkit.estimators.inference import hagemann
    from evalkit.estimators.inference.one_council import cell_weights, comparison, hagemann_rows, split
    from evalkit.estimators.inference.randomisation import panel_cohorts
    from evalkit.estimators.inference.size_robust import Layout

    spread, ratio, effect = SPREADS[si], RATIOS[ri], EFFECTS[ei]
    rng = np.random.default_rng(np.random.SeedSequence([SEED, q, si, ri, ei]))
    counts = {r: {"hagemann": 0, "rank": 0, "refused": 0} for r in ROWS}
    width: dict[str, list[float]] = {r: [] for r in ROWS}
    est: dict[str, list[float]] = {r: [] for r in ROWS}
    cube = outcomes(q, spread, ratio, effect, rng)
    first = long_panel(cube)
    many = CSPoints(control="never", est_method="reg").bind(first)  # every panel of the cell has this layout
    cohort, lay = panel_cohorts(first), Layout(first)
    weights = cell_weights(many, cohort, first.data["y"].to_numpy(), lay.ui, lay.ti, lay.mask.shape, list(ROWS))
    parts = {r: split(weights[r], cohort) for r in ROWS}
    for k in range(draws):
        if k:
            cube = outcomes(q, spread, ratio, effect, rng)
        y = cube[lay.ui, lay.ti]  # the panel's row order
        points = {r: float(v[0]) for r, v in many(cohort, y[:, None]).items() if r in ROWS}
        check = k < CHECK_DRAWS  # the path the opt-in rows take, end to end, on a panel built afresh
        if check:
            panel = long_panel(cube)
            full = hagemann_rows(
                panel, CSPoints(control="never", est_method="reg").bind(panel), list(ROWS), points, rho=RHO, alpha=ALPHA
            )
            full = {d["name"]: d for d in full}
        for r in ROWS:
            if "reason" in parts[r]:
                counts[r]["refused"] += 1
                continue
            x1, x0 = comparison(weights[r], cube, parts[r])
            if abs(x1 - x0.mean() - points[r]) > 1e-8 * max(1.0, abs(points[r])):
                raise SystemExit(f"x1 - mean(x0) is not the row's estimate at q={q} draw {k}")
            ci = hagemann.interval(x1, x0, alpha=ALPHA, rho=RHO)
            if check and (full[r]["ci_low"], full[r]["ci_high"]) != (ci["ci_low"], ci["ci_high"]):
                raise SystemExit(f"end-to-end interval differs at q={q} draw {k}: {full[r]} vs {ci}")
            if ci["ci_low"] is None:
                counts[r]["refused"] += 1
                continue
            counts[r]["hagemann"] += int(not ci["ci_low"] <= 0.0 <= ci["ci_high"])
            counts[r]["rank"] += int(_rank_p(x1, x0) <= ALPHA)
            width[r].append(ci["ci_high"] - ci["ci_low"])
            est[r].append(points[r])
    return {
        "q": q,
        "spread": spread,
        "ratio": ratio,
        "effect": effect,
        "draws": draws,
        "rho": RHO,
        "w": hagemann.weight(q, ALPHA / 2, RHO),
        "rows": {
            r: {
                **counts[r],
                "median_width": float(np.median(width[r])) if width[r] else None,
                "sd_estimate": float(np.std(est[r], ddof=1)) if len(est[r]) > 1 else None,
            }
            for r in ROWS
        },
    }


def _rank_p(x1: float, x0: np.ndarray) -> float:
    """Equal-variance placebo rank test: |x1 - mean x0| among |x0_j - mean of the other x0|."""
    q = len(x0)
    loo = x0 - (x0.sum() - x0) / (q - 1)
    d = abs(x1 - x0.mean())
    return float((1 + np.sum(np.abs(loo) >= d)) / (q + 1))


def mc_se(p: float, n: int) -> float:
    return math.sqrt(max(p * (1 - p), 1e-12) / n)


def table(path: Path) -> str:
    lines = [json.loads(s) for s in path.read_text().splitlines() if s.strip()]
    lines.sort(key=lambda c: (c["effect"], c["spread"], c["q"], c["ratio"]))
    refused = sum(c["rows"][r]["refused"] for c in lines for r in ROWS)
    draws = sorted({c["draws"] for c in lines})
    out = [
        f"rho = {RHO:g} assumed, alpha {ALPHA:g}; {'/'.join(map(str, draws))} draws a cell; rows refused (no interval): "
        f"{refused}. Per cent of draws rejecting a zero effect, for the rows {' / '.join(ROWS)}: Hagemann (the 95 % "
        "interval excludes 0) and the equal-variance rank test (p <= 0.05); largest Monte Carlo s.e. of the "
        "cell in brackets. Width: median width of the simple row's interval; s.d.: of the simple estimate.",
        "",
        "| effect | comparisons' s.d. | q | ratio | w | Hagemann % | rank test % | width | s.d. |",
        "|---|---|---|---|---|---|---|---|---|",
    ]

    def rates(c: dict, key: str) -> str:
        ps = [c["rows"][r][key] / (c["draws"] - c["rows"][r]["refused"]) for r in ROWS]
        se = max(mc_se(p, c["draws"]) for p in ps)
        return " / ".join(f"{100 * p:.1f}" for p in ps) + f" ({100 * se:.2f})"

    for c in lines:
        s = c["rows"][ROWS[0]]
        out.append(
            f"| {c['effect']:g} | {c['spread']} | {c['q']} | {c['ratio']:g} | {c['w']} | {rates(c, 'hagemann')} | "
            f"{rates(c, 'rank')} | {s['median_width']:.3g} | {s['sd_estimate']:.3g} |"
        )
    cpu = sum(c.get("cpu_s", 0) for c in lines)
    loads = [c["load_1min"] for c in lines if c.get("load_1min") is not None]
    if loads:
        out += ["", f"CPU {cpu:.0f} s over the cells (1-minute load average {min(loads):g}-{max(loads):g})."]
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=2000)
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--table", action="store_true")
    args = ap.parse_args()
    if args.table:
        print(table(args.out))
        return
    done = set()
    if args.out.exists():
        lines = map(json.loads, args.out.read_text().splitlines())
        done = {(c["q"], c["spread"], c["ratio"], c["effect"]) for c in lines}
    for ei, si, q, ri in itertools.product(range(len(EFFECTS)), range(len(SPREADS)), QS, range(len(RATIOS))):
        if (q, SPREADS[si], RATIOS[ri], EFFECTS[ei]) in done:
            continue
        t0 = time.process_time()
        c = cell(q, si, ri, ei, args.draws)
        c["cpu_s"] = round(time.process_time() - t0, 1)
        c["load_1min"] = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
        with args.out.open("a") as fh:
            fh.write(json.dumps(c, sort_keys=True) + "\n")
        print(f"q={q} {SPREADS[si]} ratio={RATIOS[ri]} effect={EFFECTS[ei]}: {c['cpu_s']} CPU s", flush=True)
    ru = resource.getrusage(resource.RUSAGE_SELF)
    print(f"CPU s (this process): {ru.ru_utime + ru.ru_stime:.1f}")


if __name__ == "__main__":
    main()
