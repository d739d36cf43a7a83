"""Coverage of evalkit's default (few-treated) and analytic intervals on simulated panels.

Panels: 150 units, 12 periods, 10 treated in three adoption cohorts (periods 5, 7, 9: 4, 3, 3 units),
unit and time effects, AR(1) errors (rho = 0.5), a constant true effect of 1. Each panel goes
through the same code as `evalkit estimate` (evalkit.analysis.run.run), so
the figures are those of the intervals users get. A second table gives the analytic intervals'
coverage against the number of treated units: it is what fixes few_treated.FEW_TREATED.

    .venv/bin/python benchmarks/coverage.py --reps 200 --jobs 2          # writes benchmarks/COVERAGE.md
    .venv/bin/python benchmarks/coverage.py --reps 20 --no-write          # quick look
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.parallel import pmap

N_UNITS, N_PERIODS, EFFECT, RHO = 150, 12, 1.0, 0.5
COHORTS = {5: 4, 7: 3, 9: 3}
SEED = 20240101


def _covers(row: dict[str, Any] | None) -> float:
    if row is None or row.get("ci_low") is None or row.get("ci_high") is None:
        return float("nan")
    return float(row["ci_low"] <= EFFECT <= row["ci_high"])


def _length(row: dict[str, Any] | None) -> float:
    if row is None or row.get("ci_low") is None or row.get("ci_high") is None:
        return float("nan")
    return float(row["ci_high"] - row["ci_low"])


def one_panel(
    k: int, n_perm: int = 99, draws: int = 399, parts: tuple[str, ...] = ("cs", "twfe", "sdid")
) -> dict[str, tuple[float, float]]:
    """Coverage indicator and length of every interval of interest on simulated panel k."""
    from evalkit.analysis.estimator import call_estimator
    from evalkit.analysis.intervals import add_default_interval
    from evalkit.analysis.run import run
    from evalkit.estimators.did.simulate import simulate_staggered
    from evalkit.estimators.synth.sdid import synthetic_did_staggered

    panel = simulate_staggered(N_UNITS, N_PERIODS, COHORTS, EFFECT, ar=RHO, seed=SEED + k)
    inf = {"seed": SEED + k, "alpha": 0.05, "permutations": n_perm, "bootstrap": draws, "interval": "auto"}
    out: dict[str, tuple[float, float]] = {}

    def rows(method: str, options: dict[str, Any], inference: dict[str, Any]) -> dict[str, dict]:
        res = run(method, panel, options, inference)
        return {r["name"]: r for r in res.estimates.to_dicts()}

    def put(key: str, row: dict | None) -> None:
        out[key] = (_covers(row), _length(row))

    def default(r: dict[str, dict], name: str) -> dict | None:
        from evalkit.analysis.intervals import default_row

        return default_row(list(r.values()), name)

    if "cs" in parts:
        cs = rows("cs", {"control": "never", "est_method": "reg"}, {**inf, "bootstrap": 0})
        put("cs_simple_default", default(cs, "simple"))
        put("cs_simple_analytic", cs["simple"])
        put("cs_dynamic_default", default(cs, "dynamic"))
        put("cs_dynamic_analytic", cs["dynamic"])
    if "twfe" in parts:
        tw = rows("twfe", {}, inf)
        put("twfe_default", default(tw, "coef"))
        put("twfe_analytic", tw["coef"])
        put("twfe_wild", tw.get("coef:wild_bootstrap"))
    if "sdid" in parts:
        res = call_estimator("sdid", panel, {"se": "placebo"}, inf)
        att = res.estimate("att")["estimate"]
        q_lo, q_hi = np.quantile(res.extra["draws"]["estimate"].to_numpy(), [0.025, 0.975])
        add_default_interval("sdid", panel, {"se": "placebo"}, inf, res)
        put("sdid_default", default({r["name"]: r for r in res.estimates.to_dicts()}, "att"))
        put("sdid_percentile", {"ci_low": att - q_hi, "ci_high": att - q_lo})
        jk = synthetic_did_staggered(panel, se="jackknife", jackknife_weights="fixed")
        put("sdid_jackknife", jk.estimate("att"))
    return out


def analytic_only(args: tuple[int, int]) -> dict[str, float]:
    """Analytic CS (simple, dynamic) and TWFE (CR1) coverage with n_treated units in three cohorts."""
    from evalkit.estimators.did.cs import callaway_santanna
    from evalkit.estimators.did.simulate import simulate_staggered
    from evalkit.estimators.did.twfe import twfe

    n_treated, k = args
    base, rest = divmod(n_treated, 3)
    cohorts = {5: base + (rest > 0), 7: base + (rest > 1), 9: base}
    panel = simulate_staggered(N_UNITS, N_PERIODS, cohorts, EFFECT, ar=RHO, seed=SEED + 10_000 * n_treated + k)
    cs = callaway_santanna(panel, control="never", est_method="reg")
    return {
        "cs_simple": _covers(cs.estimate("simple")),
        "cs_dynamic": _covers(cs.estimate("dynamic")),
        "twfe": _covers(twfe(panel).estimate("coef")),
    }


def summarise(values: list[float]) -> tuple[float, float, int]:
    v = np.array([x for x in values if np.isfinite(x)])
    if not len(v):
        return float("nan"), float("nan"), 0
    p = float(v.mean())
    return p, float(np.sqrt(p * (1 - p) / len(v))), len(v)


LABELS = {
    "cs_simple_default": ("CS simple ATT", "default (randomisation)"),
    "cs_simple_analytic": ("CS simple ATT", "analytic"),
    "cs_dynamic_default": ("CS dynamic (average of event-time effects)", "default (randomisation)"),
    "cs_dynamic_analytic": ("CS dynamic (average of event-time effects)", "analytic"),
    "sdid_default": ("SDID (cohort-weighted ATT)", "default (placebo adoption dates: normal, placebo variance)"),
    "sdid_percentile": ("SDID (cohort-weighted ATT)", "placebo adoption dates: percentile"),
    "sdid_jackknife": ("SDID (cohort-weighted ATT)", "jackknife (fixed weights)"),
    "twfe_default": ("TWFE coefficient", "default (randomisation)"),
    "twfe_analytic": ("TWFE coefficient", "analytic (CR1, clustered by unit)"),
    "twfe_wild": ("TWFE coefficient", "wild cluster bootstrap (WCR, Webb)"),
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=200, help="simulated panels for the main table")
    ap.add_argument(
        "--threshold-reps", type=int, default=None, help="panels per row of the threshold table (default: --reps)"
    )
    ap.add_argument("--perm", type=int, default=99, help="permutations / placebo draws per panel")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--parts", default="cs,twfe,sdid", help="estimators of the main table")
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the figures as JSON here")
    ap.add_argument("--merge", type=Path, nargs="+", help="only combine earlier --json files into COVERAGE.md")
    ap.add_argument("--first", type=int, default=0, help="index of the first panel (to split a run over processes)")
    ap.add_argument(
        "--jsonl",
        type=Path,
        help="serial run, one line per panel appended as it finishes (resumable, "
        "partial results usable); summarise the lines with --from-jsonl",
    )
    ap.add_argument("--from-jsonl", type=Path, nargs="+", help="summarise --jsonl files into a --json document")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("COVERAGE.md"))
    args = ap.parse_args(argv)
    if args.merge:
        docs = [json.loads(p.read_text(encoding="utf-8")) for p in args.merge]
        args.out.write_text(render_many(docs), encoding="utf-8", newline="\n")
        return 0
    t0 = time.time()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    parts = tuple(args.parts.split(","))
    if args.jsonl:
        done = set()
        if args.jsonl.exists():
            done = {json.loads(line)["k"] for line in args.jsonl.read_text(encoding="utf-8").splitlines() if line}
        for k in range(args.first, args.first + args.reps):
            if k in done:
                continue
            t = time.time()
            row = one_panel(k, args.perm, parts=parts)
            with args.jsonl.open("a", encoding="utf-8", newline="\n") as fh:
                fh.write(json.dumps({"k": k, "seconds": round(time.time() - t, 2), "load": load, **row}) + "\n")
        return 0
    if args.from_jsonl:
        lines = [
            json.loads(line) for p in args.from_jsonl for line in p.read_text(encoding="utf-8").splitlines() if line
        ]
        main_rows = [{k: tuple(v) for k, v in r.items() if isinstance(v, list)} for r in lines]
        doc = summary_doc(main_rows, [], 0, args, sum(r["seconds"] for r in lines), max(r["load"] for r in lines))
        doc["panels"] = sorted(r["k"] for r in lines)
        if args.json:
            args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8", newline="\n")
        return 0
    main_rows = pmap(lambda k: one_panel(k, args.perm, parts=parts), range(args.reps), n_jobs=args.jobs)
    t_main = time.time() - t0
    treated_grid = [5, 10, 20, 30, 40, 50, 75]
    t_reps = args.reps if args.threshold_reps is None else args.threshold_reps
    grid = pmap(analytic_only, [(n, k) for n in treated_grid for k in range(t_reps)], n_jobs=args.jobs)
    treated_grid = treated_grid if t_reps else []
    doc = summary_doc(main_rows, grid, t_reps, args, round(time.time() - t0, 1), load, treated_grid)
    doc["seconds_main"] = round(t_main, 1)
    print(json.dumps(doc, indent=1))
    if args.json:
        args.json.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8", newline="\n")
    if not args.no_write:
        args.out.write_text(render_many([doc]), encoding="utf-8", newline="\n")
    return 0


def summary_doc(
    main_rows: list[dict],
    grid: list[dict],
    t_reps: int,
    args: argparse.Namespace,
    seconds: float,
    load: float,
    treated_grid: list[int] = (),
) -> dict[str, Any]:
    table = []
    for key, (what, interval) in LABELS.items():
        if not any(key in r for r in main_rows):
            continue
        cov, se, n = summarise([r[key][0] for r in main_rows if key in r])
        length = float(np.nanmean([r[key][1] for r in main_rows if key in r])) if n else float("nan")
        table.append(
            {
                "key": key,
                "estimate": what,
                "interval": interval,
                "coverage": cov,
                "mc_se": se,
                "n": n,
                "mean_length": length,
            }
        )
    thresh = []
    for i, n_tr in enumerate(treated_grid):
        chunk = grid[i * t_reps : (i + 1) * t_reps]
        thresh.append(
            {"n_treated": n_tr, **{k: summarise([r[k] for r in chunk])[0] for k in ("cs_simple", "cs_dynamic", "twfe")}}
        )
    command = " ".join(["benchmarks/coverage.py", *sys.argv[1:]])
    return {
        "command": command,
        "reps": len(main_rows),
        "threshold_reps": t_reps,
        "perm": args.perm,
        "seed": SEED,
        "rows": table,
        "threshold": thresh,
        "seconds": round(seconds, 1),
        "load_at_start": load,
        "python": platform.python_version(),
    }


def render_many(docs: list[dict[str, Any]]) -> str:
    """COVERAGE.md from one or more runs (e.g. the CS/TWFE, SDID and threshold parts run separately)."""
    from evalkit.analysis.intervals import FEW_TREATED

    lines = [
        "# Coverage of evalkit's intervals with few treated units",
        "",
        "Runs (each reproducible from its command):",
        "",
    ]
    for doc in docs:
        lines.append(
            f"* `.venv/bin/python {doc['command']}`: seed {doc['seed']}, {doc['reps']} panels, "
            f"{doc['perm']} permutations / placebo draws each, {doc['threshold_reps']} panels per threshold row; "
            f"{doc['seconds']} s wall, load average {doc['load_at_start']:.1f} at start (2 shared cores)."
        )
    lines += [
        "",
        f"Design: {N_UNITS} units, {N_PERIODS} periods, {sum(COHORTS.values())} treated in cohorts "
        f"{', '.join(f'{g} ({n})' for g, n in COHORTS.items())}, unit and time effects, AR(1) errors rho = {RHO}, "
        f"constant effect {EFFECT}. Target: 95% intervals covering 93-97%.",
        "",
        "| estimate | interval | coverage | MC s.e. | panels | mean length |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in [r for doc in docs for r in doc["rows"] if r["n"]]:
        lines.append(
            f"| {r['estimate']} | {r['interval']} | {100 * r['coverage']:.1f}% | {100 * r['mc_se']:.1f} | "
            f"{r['n']} | {r['mean_length']:.3f} |"
        )
    thresh = next((d for d in docs if d["threshold"]), None)
    if thresh is None:
        return "\n".join(lines) + "\n"
    lines += [
        "",
        f"## Analytic coverage against the number of treated units ({thresh['threshold_reps']} panels each)",
        "",
        "Same design, the treated split over the three cohorts. `few_treated.FEW_TREATED` "
        f'= {FEW_TREATED}: below it, `interval = "auto"` uses the randomisation interval.',
        "",
        "| treated units | CS simple | CS dynamic | TWFE (CR1) |",
        "|---:|---:|---:|---:|",
    ]
    for r in thresh["threshold"]:
        lines.append(
            f"| {r['n_treated']} | {100 * r['cs_simple']:.1f}% | {100 * r['cs_dynamic']:.1f}% | {100 * r['twfe']:.1f}% |"
        )
    rule = threshold_rule(thresh["threshold"])
    lines += [
        "",
        f"Threshold rule: the smallest number of treated units from which every analytic interval above covers "
        f"at least 93% at that size and at every larger size in the table: {rule}. Below it the analytic "
        "intervals under-cover (Monte Carlo s.e. about 1.7 points per cell), so `auto` switches to the "
        "randomisation interval, which is exact under random assignment of adoption dates whatever the number "
        "of treated units but costs one estimator run per permutation.",
    ]
    return "\n".join(lines) + "\n"


def threshold_rule(rows: list[dict[str, Any]], floor: float = 0.93) -> int | None:
    ok = [all(r[k] >= floor for k in ("cs_simple", "cs_dynamic", "twfe")) for r in rows]
    for i, r in enumerate(rows):
        if all(ok[i:]):
            return int(r["n_treated"])
    return None


if __name__ == "__main__":
    raise SystemExit(main())
