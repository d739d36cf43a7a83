"""Family-wise error rate of the evidence rule's multiplicity adjustment on the real England panel.

Global null by construction: the real treated councils are left out, and their 11 adoption years are
given to never-treated councils drawn at random (one placebo design per draw), so no outcome of the
family has a true effect. Each draw runs the family's primary analyses exactly as `evalkit estimate`
would (estimate.run_plan on the plan's family, with the shared permuted adoption dates), and records
whether any outcome is rejected at 5% unadjusted, after Holm, and after Romano-Wolf. The FWER is the
share of draws with at least one rejection; its Monte Carlo standard error is sqrt(p(1-p)/draws).

Two modes:
* `v4` (the first run, plans/drafts/v4-evidence.toml): coefficient permutation, 99 permutations, the
  plan's sensitivity and Wald pre-trend rows dropped;
* `v5` (plans/england-adm-v5.toml): the plan's own interval (auto-size: Ferman-Pinto with the child
  population as size), its own permutation count (199) and shared size-keeping draws over the family's
  universe of councils. The permutation pre-trend test the report prints as evidence is kept and
  recorded per analysis, with the number of placebo movers in the analysis's sample, so the test's size
  can be read for analyses that cover only part of the family. Only the sensitivity analysis is dropped
  (it decides no rejection); its one effect on the estimate, CS's universal base period, is kept, so the
  numbers are the plan's (`--with-sensitivity` runs it too, to check that).

Run from a folder with the England data ingested and paneled (see plans/england-adm-v5.toml):
    nice -n 10 python benchmarks/fwer_family.py --mode v5 --draws 400
    python benchmarks/fwer_family.py --plan plans/drafts/v4-evidence.toml --draws 100 \
        --out benchmarks/fwer-family.jsonl
Each draw is one JSON line (appended as it finishes, so a partial run counts and a rerun resumes after
the last line); the placebo design of draw d comes from numpy's generator seeded [seed, d], recorded
in the line. `--summary` only writes the table (.json) and figure (.png) from the lines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

# One BLAS thread (evalkit sets it on import, but numpy is imported first here), and this folder off the
# import path (its coverage.py shadows the package numba imports): CPU only, no number changes.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402

MODES = {
    "v4": {"plan": "plans/drafts/v4-evidence.toml", "out": "benchmarks/fwer-family.jsonl", "permutations": 99},
    "v5": {"plan": "plans/england-adm-v5.toml", "out": "benchmarks/fwer-family-v5.jsonl", "permutations": None},
}
ALPHA = 0.05


def placebo_sample(plan: dict, treated: dict[str, int], never: list[str], rng: np.random.Generator) -> dict:
    """The plan's sample rules with the real treated councils excluded and their adoption years given to
    never-treated councils drawn at random (the years in order, the councils in code order)."""
    picks = rng.choice(len(never), size=len(treated), replace=False)
    years = sorted(treated.values())
    sample = dict(plan["sample"])
    sample["treated"] = [{"unit": never[i], "first_year": y} for i, y in zip(sorted(picks), years)]
    sample["exclude_units"] = sorted(set(sample.get("exclude_units", [])) | set(treated))
    return sample


def placebo_plan(plan: dict, treated: dict[str, int], never: list[str], rng: np.random.Generator, perms: int) -> dict:
    """v4 mode: the plan's family only, 99 coefficient permutations, no sensitivity or Wald rows."""
    family = set(plan["inference"]["family"])
    out = json.loads(json.dumps(plan))
    out["sample"] = placebo_sample(plan, treated, never, rng)
    out["inference"]["permutations"] = perms
    out["analysis"] = [
        {k: v for k, v in a.items() if k not in ("sensitivity", "pretrend_test")}
        for a in plan["analysis"]
        if a["label"] in family
    ]
    out.pop("power", None)
    out.pop("multiverse", None)
    return out


def without_sensitivity(entry: dict) -> dict:
    """The analysis without its sensitivity check, estimated with the options the check would have set
    (CS: base_period universal, the event study's pre-period coefficients relative to e = -1, which the
    permutation pre-trend test reads)."""
    from evalkit.analysis.sensitivity import check_method

    if not entry.get("sensitivity"):
        return dict(entry)
    options = check_method(entry["method"], dict(entry.get("options", {})), f"analysis {entry['label']!r}")
    return {**{k: v for k, v in entry.items() if k != "sensitivity"}, "options": options}


def placebo_plan_v5(
    plan: dict,
    treated: dict[str, int],
    never: list[str],
    rng: np.random.Generator,
    perms: int | None,
    *,
    with_sensitivity: bool = False,
) -> dict:
    """v5 mode: the plan's family only, with its inference settings as locked (auto-size, size column,
    shared size draws, its permutation count unless `perms` is given), no power or multiverse."""
    family = set(plan["inference"]["family"])
    out = json.loads(json.dumps(plan))
    out["sample"] = placebo_sample(plan, treated, never, rng)
    if perms is not None:
        out["inference"]["permutations"] = perms
    keep = [a for a in out["analysis"] if a["label"] in family]
    out["analysis"] = keep if with_sensitivity else [without_sensitivity(a) for a in keep]
    out.pop("power", None)
    out.pop("multiverse", None)
    return out


def real_design(plan: dict) -> tuple[dict[str, int], list[str]]:
    """(real treated council -> adoption year, never-treated councils) of the plan's sample, as run_plan
    builds it (the plan's window through the latest year)."""
    import polars as pl

    from evalkit import generations
    from evalkit.analysis.sample import living_window, sample_panel
    from evalkit.panel.build import read_parquet_checked

    panel = read_parquet_checked(generations.resolve(Path(plan["data"]["panel"])))
    sample, _ = sample_panel(panel, living_window(plan["sample"], panel))
    treated = dict(sample.filter(pl.col("cohort") > 0).group_by("unit_code").agg(pl.col("cohort").first()).iter_rows())
    never = sorted(sample.filter(pl.col("cohort") == 0)["unit_code"].unique().to_list())
    return treated, never


def v5_record(res: dict[str, Any]) -> dict[str, Any]:
    """Per analysis of the family: its own p, Romano-Wolf and Holm adjusted p, the pre-trend test's p (the
    one the verdict reads and the report prints), the placebo movers in its sample, the verdict."""
    entries = {a["label"]: a for a in res["analyses"]}
    out: dict[str, Any] = {}
    methods = set()
    for c in res["conclusions"]:
        label = c["label"]
        adj = c.get("multiplicity") or {}
        pre = c.get("pretrend") or {}
        inference = entries[label]["results"].get("inference") or {}
        chosen = (inference.get("default_interval") or {}).get("interval")
        methods.add(adj.get("method"))
        accounting = entries[label]["results"]["diagnostics"].get("treated_units") or []
        included = sorted(str(t["unit"]) for t in accounting if t.get("included"))
        out[label] = {
            "p": adj.get("p"),
            "romano_wolf": adj.get("romano_wolf"),
            "holm": adj.get("holm"),
            "pretrend_p": pre.get("p_value"),
            "pretrend_test": pre.get("test"),
            "movers": int((inference.get("default_interval") or {}).get("n_treated_units") or 0),
            "movers_in_sample": included,
            "interval": chosen,
            "joint_refused": bool((inference.get(chosen) or {}).get("joint_refused")) if chosen else None,
            "estimate": c.get("estimate"),
            "verdict": c.get("verdict"),
        }
    universe = sorted({u for a in out.values() for u in a["movers_in_sample"]})
    return {"analyses": out, "universe_movers": len(universe), "multiplicity_method": sorted(m for m in methods if m)}


def variance_fits(plan: dict, draw: int | None, seed: int) -> None:
    """Print, per analysis of the family, the Ferman-Pinto log-variance-on-log-size fit as
    size_robust.modelled_sd makes it and without the councils whose untreated residual variance is zero
    up to rounding (< 1e-12), for the real assignment (draw None) or placebo draw `draw`."""
    from evalkit import generations
    from evalkit.analysis.run import unit_sizes
    from evalkit.analysis.sample import living_window, prepare, sample_panel
    from evalkit.estimators.inference.size_robust import Layout
    from evalkit.panel.build import read_parquet_checked

    if draw is not None:
        treated, never = real_design(plan)
        plan = placebo_plan_v5(plan, treated, never, np.random.default_rng([seed, draw]), None)
    panel_path = Path(plan["data"]["panel"])
    panel = read_parquet_checked(generations.resolve(panel_path))
    sample, _ = sample_panel(panel, living_window(plan["sample"], panel))
    for entry in plan["analysis"]:
        if entry["label"] not in set(plan["inference"]["family"]):
            continue
        prep = prepare(panel, sample, plan, entry, panel_path)
        lay = Layout(prep.panel)
        sizes = unit_sizes(prep.rows, plan["inference"]["size_column"])
        size = np.array([sizes[u] for u in prep.panel.units])
        data = prep.panel.data
        y, t, c = (data[k].to_numpy().astype(float) for k in ("y", "time", "cohort"))
        untreated = ~((c > 0) & (t >= c))
        r = lay.residualise(y, untreated)
        ss = np.bincount(lay.ui[untreated], weights=r[untreated] ** 2, minlength=lay.n)
        own = ss / np.maximum(np.bincount(lay.ui[untreated], minlength=lay.n), 1)
        ok, tiny = own > 0, own < 1e-12
        fit = np.polyfit(np.log(size[ok]), np.log(own[ok]), 1)
        clean = np.polyfit(np.log(size[ok & ~tiny]), np.log(own[ok & ~tiny]), 1)
        units = [str(list(lay.units)[i]) for i in np.flatnonzero(ok & tiny)]
        print(
            f"{entry['label']}: window {prep.window}, near-zero variance {units}, "
            f"slope {fit[0]:.2f} (without them {clean[0]:.2f})"
        )


def load_lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()] if path.exists() else []


def run(args: argparse.Namespace) -> None:
    from evalkit import parallel
    from evalkit.estimate import run_plan
    from evalkit.plan_schema import validate

    parallel.configure(backend="serial")
    doc = tomllib.loads(Path(args.plan).read_text(encoding="utf-8"))
    plan = validate(doc, args.plan)
    treated, never = real_design(plan)
    out = Path(args.out)
    lines = load_lines(out)
    for ln in lines:  # a resumed run must be the same design
        if ln.get("seed", args.seed) != args.seed or ln.get("mode", "v4") != args.mode:
            sys.exit(f"{out}: line {ln.get('draw')} was written with another seed or mode; use another --out")
    for d in range(len(lines), args.draws):
        t0, w0 = time.process_time(), time.perf_counter()
        rng = np.random.default_rng([args.seed, d])
        if args.mode == "v4":
            p = placebo_plan(plan, treated, never, rng, args.permutations)
        else:
            p = placebo_plan_v5(plan, treated, never, rng, args.permutations, with_sensitivity=args.with_sensitivity)
        res = run_plan(p, command="benchmarks/fwer_family.py")
        line: dict[str, Any] = {"draw": d, "placebo": [t["unit"] for t in p["sample"]["treated"]]}
        if args.mode == "v4":
            rows = {c["label"]: c for c in res["conclusions"]}
            for key in ("p", "holm", "romano_wolf"):
                line[key] = {k: (c.get("multiplicity") or {}).get(key) for k, c in rows.items()}
        else:
            load = getattr(os, "getloadavg", lambda: (float("nan"),))()[0]
            line.update(
                mode="v5",
                seed=args.seed,
                permutations=p["inference"]["permutations"],
                years=[t["first_year"] for t in p["sample"]["treated"]],
                load1=round(load, 2),
                wall_s=round(time.perf_counter() - w0, 1),
                **v5_record(res),
            )
        line["cpu_s"] = round(time.process_time() - t0, 1)
        with out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")
        print(f"draw {d}: cpu {line['cpu_s']} s", file=sys.stderr, flush=True)


def summary(path: Path, alpha: float = ALPHA) -> dict:
    lines = load_lines(path)
    out = {"draws": len(lines), "alpha": alpha}
    for key in ("p", "holm", "romano_wolf"):
        anyrej = [any(v is not None and v < alpha for v in ln[key].values()) for ln in lines]
        complete = [all(v is not None for v in ln[key].values()) for ln in lines]
        rate = float(np.mean(anyrej)) if lines else float("nan")
        se = float(np.sqrt(rate * (1 - rate) / max(len(lines), 1)))
        out[key] = {"fwer": rate, "mc_se": se, "draws_with_every_p": int(sum(complete))}
    out["family_size"] = len(lines[0]["p"]) if lines else 0
    out["cpu_s_per_draw"] = float(np.mean([ln["cpu_s"] for ln in lines])) if lines else None
    return out


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval for k successes in n trials."""
    from scipy.stats import beta

    a = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high


def rate(hits: list[bool]) -> dict[str, Any]:
    """Share of hits with its Monte Carlo s.e. and Clopper-Pearson 95% interval."""
    n, k = len(hits), int(sum(hits))
    r = k / n if n else float("nan")
    low, high = clopper_pearson(k, n) if n else (float("nan"), float("nan"))
    return {"n": n, "hits": k, "rate": r, "mc_se": float(np.sqrt(r * (1 - r) / n)) if n else None, "cp95": [low, high]}


def summary_v5(path: Path, alpha: float = ALPHA, first: int | None = None) -> dict:
    """FWER (any of the family rejected) unadjusted / Holm / Romano-Wolf and by the verdicts; per analysis
    the rejection rate of its own test and of its pre-trend test, with the placebo movers in its sample.
    `first`: only draws 0..first-1 (to pair runs of the same seed)."""
    lines = load_lines(path)
    if first is not None:
        lines = [ln for ln in lines if ln["draw"] < first]
    labels = list(lines[0]["analyses"]) if lines else []
    out: dict[str, Any] = {"draws": len(lines), "alpha": alpha, "family_size": len(labels)}
    if not lines:
        return out

    def below(v: float | None) -> bool:
        return v is not None and v < alpha

    out["fwer"] = {
        key: rate([any(below(a[key]) for a in ln["analyses"].values()) for ln in lines])
        for key in ("p", "holm", "romano_wolf")
    }
    out["fwer"]["pretrend_unadjusted"] = rate(
        [any(below(a["pretrend_p"]) for a in ln["analyses"].values()) for ln in lines]
    )
    out["fwer"]["verdict_estimated_effect"] = rate(
        [any(a["verdict"] == "estimated effect" for a in ln["analyses"].values()) for ln in lines]
    )
    out["missing"] = {
        key: int(sum(a[key] is None for ln in lines for a in ln["analyses"].values()))
        for key in ("p", "holm", "romano_wolf", "pretrend_p")
    }
    out["multiplicity_methods"] = sorted({m for ln in lines for m in ln["multiplicity_method"]})
    out["joint_refused"] = int(sum(bool(a["joint_refused"]) for ln in lines for a in ln["analyses"].values()))
    per = {}
    for label in labels:
        rows = [ln["analyses"][label] for ln in lines]
        movers = [r["movers"] for r in rows]
        per[label] = {
            "movers_median": float(np.median(movers)),
            "movers_min": int(min(movers)),
            "movers_max": int(max(movers)),
            "own_test": rate([below(r["p"]) for r in rows if r["p"] is not None]),
            "romano_wolf": rate([below(r["romano_wolf"]) for r in rows if r["romano_wolf"] is not None]),
            "pretrend": rate([below(r["pretrend_p"]) for r in rows if r["pretrend_p"] is not None]),
            "verdict_cannot_tell": rate([r["verdict"] == "the data cannot tell" for r in rows]),
            "interval": sorted({str(r["interval"]) for r in rows}),
        }
    out["per_analysis"] = per
    # coverage: an analysis holds all of the draw's movers (those in any analysis of the family), or part
    cells = [(a, a["movers"] == ln["universe_movers"]) for ln in lines for a in ln["analyses"].values()]
    for name, whole in (("all_of_the_family_movers", True), ("part_of_the_family_movers", False)):
        keep = [a for a, w in cells if w == whole]
        out[f"pooled_{name}"] = {
            "cells": len(keep),
            "own_test": rate([below(a["p"]) for a in keep if a["p"] is not None]),
            "pretrend": rate([below(a["pretrend_p"]) for a in keep if a["pretrend_p"] is not None]),
        }
    out["by_movers"] = {
        str(m): {
            "own_test": rate([below(a["p"]) for a, _ in cells if a["movers"] == m and a["p"] is not None]),
            "pretrend": rate(
                [below(a["pretrend_p"]) for a, _ in cells if a["movers"] == m and a["pretrend_p"] is not None]
            ),
        }
        for m in sorted({a["movers"] for a, _ in cells})
    }
    out["universe_movers"] = {
        str(m): sum(ln["universe_movers"] == m for ln in lines) for m in sorted({ln["universe_movers"] for ln in lines})
    }
    out["cpu_s_per_draw"] = float(np.mean([ln["cpu_s"] for ln in lines]))
    out["load1_median"] = float(np.nanmedian([ln.get("load1", float("nan")) for ln in lines]))
    out["seed"] = lines[0]["seed"]
    out["permutations"] = lines[0]["permutations"]
    return out


def pct(cell: dict) -> str:
    """'4.5 % (18/400; s.e. 1.0; CP 2.7-7.0)' for a rate cell."""
    lo, hi = cell["cp95"]
    return (
        f"{100 * cell['rate']:.1f} % ({cell['hits']}/{cell['n']}; s.e. {100 * cell['mc_se']:.1f}; "
        f"CP {100 * lo:.1f}-{100 * hi:.1f})"
    )


def markdown_v5(stats: dict) -> str:
    """The tables FWER.md reports, from the summary."""
    names = {"p": "unadjusted", "holm": "Holm", "romano_wolf": "Romano-Wolf (the verdict's)"}
    out = ["| p-values | any of the nine rejected at 5 % |", "|---|---|"]
    out += [f"| {names[k]} | {pct(stats['fwer'][k])} |" for k in names]
    out += [
        f"| pre-trend tests, unadjusted | {pct(stats['fwer']['pretrend_unadjusted'])} |",
        f'| verdict "estimated effect" anywhere | {pct(stats["fwer"]["verdict_estimated_effect"])} |',
        "",
        "| analysis | placebo movers in sample, median (min-max) | own test rejects | pre-trend test rejects |",
        "|---|---|---|---|",
    ]
    for label, a in stats["per_analysis"].items():
        out.append(
            f"| {label} | {a['movers_median']:g} ({a['movers_min']}-{a['movers_max']}) | {pct(a['own_test'])} "
            f"| {pct(a['pretrend'])} |"
        )
    out += [
        "",
        "| pooled over analyses and draws | cells | own test rejects | pre-trend test rejects |",
        "|---|---|---|---|",
    ]
    for key, words in (
        ("pooled_all_of_the_family_movers", "sample holds all of the draw's movers"),
        ("pooled_part_of_the_family_movers", "sample holds part of them"),
    ):
        c = stats[key]
        out.append(f"| {words} | {c['cells']} | {pct(c['own_test'])} | {pct(c['pretrend'])} |")
    out += ["", "| movers in the analysis's sample | own test rejects | pre-trend test rejects |", "|---|---|---|"]
    out += [f"| {m} | {pct(c['own_test'])} | {pct(c['pretrend'])} |" for m, c in stats["by_movers"].items()]
    return "\n".join(out)


def figure(stats: dict, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [("p", "unadjusted"), ("holm", "Holm"), ("romano_wolf", "Romano-Wolf")]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    rates = [stats[k]["fwer"] for k, _ in keys]
    errs = [1.96 * stats[k]["mc_se"] for k, _ in keys]
    ax.bar([n for _, n in keys], rates, yerr=errs, color=["#999", "#4a7", "#27a"], capsize=4)
    ax.axhline(stats["alpha"], color="k", lw=1, ls="--")
    ax.set_ylabel("share of placebo draws with any rejection")
    ax.set_title(f"Family-wise error, {stats['family_size']} outcomes, {stats['draws']} placebo draws", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=120, metadata={"Software": None})


def figure_v5(stats: dict, png: Path) -> None:
    """FWER by adjustment, and per analysis the size of its own test and of its pre-trend test."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.4), gridspec_kw={"width_ratios": [1, 2.6]})
    keys = [("p", "unadjusted"), ("holm", "Holm"), ("romano_wolf", "Romano-Wolf")]
    cells = [stats["fwer"][k] for k, _ in keys]
    ax1.bar(
        [n for _, n in keys],
        [c["rate"] for c in cells],
        yerr=np.array([[c["rate"] - c["cp95"][0], c["cp95"][1] - c["rate"]] for c in cells]).T,
        color=["#999", "#4a7", "#27a"],
        capsize=4,
    )
    ax1.axhline(stats["alpha"], color="k", lw=1, ls="--")
    ax1.set_ylabel("share of placebo draws")
    ax1.set_title(f"any of {stats['family_size']} rejected ({stats['draws']} draws)", fontsize=9)
    per = stats["per_analysis"]
    labels = list(per)
    x = np.arange(len(labels))
    for shift, key, colour, name in (
        (-0.2, "own_test", "#27a", "primary test"),
        (0.2, "pretrend", "#c63", "pre-trend"),
    ):
        r = [per[lab][key] for lab in labels]
        ax2.bar(
            x + shift,
            [c["rate"] for c in r],
            width=0.4,
            yerr=np.array([[c["rate"] - c["cp95"][0], c["cp95"][1] - c["rate"]] for c in r]).T,
            color=colour,
            capsize=2,
            label=name,
        )
    ax2.axhline(stats["alpha"], color="k", lw=1, ls="--")
    names = [f"{lab.removesuffix('_cs_never')} ({per[lab]['movers_median']:g} movers)" for lab in labels]
    ax2.set_xticks(x, names, rotation=30, ha="right", fontsize=7)
    ax2.set_title("per analysis, rejections at 5% (Clopper-Pearson 95%)", fontsize=9)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(png, dpi=120, metadata={"Software": None})


def compare_v5(paths: list[Path], first: int) -> str:
    """Runs of the same seed side by side on draws 0..first-1 (draw k has the same placebo movers in each):
    per analysis the rejection rate of the own test and of the pre-trend test, pooled by coverage, and the
    family-wise rates; then, per pair with the first run, the cells where only one of the two rejected."""
    stats = [summary_v5(p, first=first) for p in paths]
    head = "| | " + " | ".join(p.stem for p in paths) + " |"
    rule = "|---|" + "---|" * len(paths)
    out = [f"draws 0-{first - 1}: " + ", ".join(f"{p.stem} {s['draws']}" for p, s in zip(paths, stats)), ""]
    pooled = (("pooled_part_of_the_family_movers", "pooled, part"), ("pooled_all_of_the_family_movers", "pooled, all"))
    for test, title in (("pretrend", "Pre-trend test"), ("own_test", "Own (primary) test")):
        out += [f"{title} rejects at 5 %:", "", head, rule]
        for label in stats[0]["per_analysis"]:
            out.append(f"| {label} | " + " | ".join(pct(s["per_analysis"][label][test]) for s in stats) + " |")
        out += [f"| {words} | " + " | ".join(pct(s[key][test]) for s in stats) + " |" for key, words in pooled]
        out.append("")
    out += ["Family-wise:", "", head, rule]
    for key, words in (
        ("p", "unadjusted"),
        ("holm", "Holm"),
        ("romano_wolf", "Romano-Wolf"),
        ("verdict_estimated_effect", "verdict 'estimated effect' anywhere"),
    ):
        out.append(f"| {words} | " + " | ".join(pct(s["fwer"][key]) for s in stats) + " |")
    base = {ln["draw"]: ln for ln in load_lines(paths[0]) if ln["draw"] < first}
    for p in paths[1:]:
        other = {ln["draw"]: ln for ln in load_lines(p) if ln["draw"] < first}
        for key in ("pretrend_p", "p"):
            only_a = only_b = 0
            for k in sorted(set(base) & set(other)):
                for label, a in base[k]["analyses"].items():
                    b = other[k]["analyses"].get(label, {})
                    ra = a.get(key) is not None and a[key] < ALPHA
                    rb = b.get(key) is not None and b[key] < ALPHA
                    only_a += ra and not rb
                    only_b += rb and not ra
            out.append(f"\n{key}: rejected only in {paths[0].stem} {only_a}, only in {p.stem} {only_b} (paired cells)")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=sorted(MODES), default="v4")
    ap.add_argument("--plan", help="default: the mode's plan")
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--permutations", type=int, help="default: 99 (v4), the plan's (v5)")
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--out", help="default: the mode's jsonl")
    ap.add_argument("--with-sensitivity", action="store_true", help="v5: keep the sensitivity analysis (check)")
    ap.add_argument("--summary", action="store_true", help="Only summarise the lines written so far.")
    ap.add_argument("--variance-fit", choices=["real", "draw"], help="v5: print the size-variance fits and stop")
    ap.add_argument("--draw", type=int, default=0, help="with --variance-fit draw: which placebo draw")
    ap.add_argument("--compare", nargs="+", help="v5 runs' jsonl files (same seed) to set side by side")
    ap.add_argument("--first", type=int, default=200, help="with --compare: draws 0..FIRST-1")
    args = ap.parse_args()
    if args.compare:
        print(compare_v5([Path(p) for p in args.compare], args.first))
        return
    mode = MODES[args.mode]
    args.plan = args.plan or mode["plan"]
    args.out = args.out or mode["out"]
    args.permutations = args.permutations if args.permutations is not None else mode["permutations"]
    if args.variance_fit:
        from evalkit.plan_schema import validate

        plan = validate(tomllib.loads(Path(args.plan).read_text(encoding="utf-8")), args.plan)
        variance_fits(plan, args.draw if args.variance_fit == "draw" else None, args.seed)
        return
    if not args.summary:
        run(args)
    path = Path(args.out)
    stats = summary(path) if args.mode == "v4" else summary_v5(path)
    path.with_suffix(".json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    if stats["draws"]:
        (figure if args.mode == "v4" else figure_v5)(stats, path.with_suffix(".png"))
    print(json.dumps(stats, indent=2))
    if args.mode == "v5" and stats["draws"]:
        print(markdown_v5(stats))


if __name__ == "__main__":
    main()
