"""Family-wise error rate of the evidence rule's multiplicity adjustment on the real England panel.

Global null by construction: the real treated councils are left out, and their 11 adoption years are
given to never-treated councils drawn at random (one placebo design per draw), so no outcome of the
family has a true effect. Each draw runs the family's primary analyses exactly as `evalkit estimate`
would (estimate.run_plan on the plan's family, with the shared permuted adoption dates), and records
whether any outcome is rejected at 5% unadjusted, after Holm, and after Romano-Wolf. The FWER is the
share of draws with at least one rejection; its Monte Carlo standard error is sqrt(p(1-p)/draws).

Run from a folder with the England data ingested and paneled (see plans/england-adm-v3.toml):
    python benchmarks/fwer_family.py --plan plans/drafts/v4-evidence.toml --draws 100 \
        --out benchmarks/fwer-family.jsonl
Each draw is one JSON line (appended as it finishes, so a partial run counts); `--summary` prints and
writes the table and figure from the lines.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tomllib
from pathlib import Path

import numpy as np


def placebo_plan(plan: dict, treated: dict[str, int], never: list[str], rng: np.random.Generator, perms: int) -> dict:
    """The plan's family only, with the real treated councils excluded and their years given to
    never-treated councils drawn at random."""
    family = set(plan["inference"]["family"])
    picks = rng.choice(len(never), size=len(treated), replace=False)
    years = sorted(treated.values())
    out = json.loads(json.dumps(plan))
    out["sample"]["treated"] = [{"unit": never[i], "first_year": y} for i, y in zip(sorted(picks), years)]
    out["sample"]["exclude_units"] = sorted(set(out["sample"].get("exclude_units", [])) | set(treated))
    out["inference"]["permutations"] = perms
    out["analysis"] = [
        {k: v for k, v in a.items() if k not in ("sensitivity", "pretrend_test")}
        for a in plan["analysis"]
        if a["label"] in family
    ]
    out.pop("power", None)
    out.pop("multiverse", None)
    return out


def run(args: argparse.Namespace) -> None:
    import polars as pl

    from evalkit import generations
    from evalkit.analysis.sample import sample_panel
    from evalkit.estimate import run_plan
    from evalkit.panel.build import read_parquet_checked
    from evalkit.plan_schema import validate

    doc = tomllib.loads(Path(args.plan).read_text(encoding="utf-8"))
    plan = validate(doc, args.plan)
    panel = read_parquet_checked(generations.resolve(Path(plan["data"]["panel"])))
    sample, _ = sample_panel(panel, plan["sample"])
    treated = dict(sample.filter(pl.col("cohort") > 0).group_by("unit_code").agg(pl.col("cohort").first()).iter_rows())
    never = sorted(sample.filter(pl.col("cohort") == 0)["unit_code"].unique().to_list())
    out = Path(args.out)
    done = len(out.read_text().splitlines()) if out.exists() else 0
    for d in range(done, args.draws):
        t0 = time.process_time()
        rng = np.random.default_rng([args.seed, d])
        p = placebo_plan(plan, treated, never, rng, args.permutations)
        res = run_plan(p, command="benchmarks/fwer_family.py")
        rows = {c["label"]: c for c in res["conclusions"]}
        line = {
            "draw": d,
            "placebo": [t["unit"] for t in p["sample"]["treated"]],
            "p": {k: (c.get("multiplicity") or {}).get("p") for k, c in rows.items()},
            "holm": {k: (c.get("multiplicity") or {}).get("holm") for k, c in rows.items()},
            "romano_wolf": {k: (c.get("multiplicity") or {}).get("romano_wolf") for k, c in rows.items()},
            "cpu_s": round(time.process_time() - t0, 1),
        }
        with out.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")
        print(f"draw {d}: cpu {line['cpu_s']} s", file=sys.stderr, flush=True)


def summary(path: Path, alpha: float = 0.05) -> dict:
    lines = [json.loads(x) for x in path.read_text().splitlines() if x.strip()]
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plan", default="plans/drafts/v4-evidence.toml")
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--permutations", type=int, default=99)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--out", default="benchmarks/fwer-family.jsonl")
    ap.add_argument("--summary", action="store_true", help="Only summarise the lines written so far.")
    args = ap.parse_args()
    if not args.summary:
        run(args)
    stats = summary(Path(args.out))
    Path(args.out).with_suffix(".json").write_text(json.dumps(stats, indent=2) + "\n", encoding="utf-8")
    if stats["draws"]:
        figure(stats, Path(args.out).with_suffix(".png"))
    print(json.dumps(stats, indent=2))


if __name__ == "__main__":
    main()
