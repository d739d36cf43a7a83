"""Size of every interval method when the treated councils differ in size from the rest (issue #25).

England's shape: 150 councils x 13 years (2012-2024), 11 treated with first years 2015, 2015, 2016,
2018, 2018, 2019, 2019, 2019, 2020, 2021, 2024; unit and year effects; AR(1) errors (rho 0.5,
stationary start) with s.d. proportional to 1/sqrt(child population), population log-normal
(log s.d. 1); true effect 0. Designs: the treated drawn from the smallest third of councils by
population ("small"), the largest third ("large"), at random ("random"), and at random with noise
that does not depend on size ("homoskedastic"). Each panel records, for every estimator and
interval, whether the interval rejected zero at 5 % (interval excludes 0; permutation tests p <= 0.05).

Resumable: each finished panel is one JSON line in --out; a rerun skips the panels already there.
Seeded: panel k of design d is generated from SeedSequence([SEED, design index, k]) whatever
the order or the number of processes.

    .venv/bin/python benchmarks/size_by_council.py --panels 200 --jobs 2          # the full run
    .venv/bin/python benchmarks/size_by_council.py --table                        # table from --out
    .venv/bin/python benchmarks/size_by_council.py --defaults --also more.jsonl   # default cells, pooled
    .venv/bin/python benchmarks/size_by_council.py --recheck 0,199 --estimators cs  # stored lines rerun
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

# Two things the script's own setting would otherwise undo, both CPU only (no number changes):
# one BLAS thread (evalkit sets it on import, but numpy is imported first here; a multithreaded
# BLAS spins on a shared machine: imputation 2.8 CPU s a panel instead of 0.3), and this folder off
# the import path, since its coverage.py shadows the coverage package numba imports, which sends
# SDID to its numpy Frank-Wolfe path instead of the compiled one (same bits, tests/estimators/test_fw_kernel.py).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402

SEED = 20251207
N_UNITS, YEARS = 150, list(range(2012, 2025))
COHORTS = [2015, 2015, 2016, 2018, 2018, 2019, 2019, 2019, 2020, 2021, 2024]
RHO, ALPHA = 0.5, 0.05
DESIGNS = ("small", "large", "random", "homoskedastic")
GROUPS = ("cs", "twfe", "imputation", "sdid", "sunab", "sunab_perm")
OUT = Path(__file__).with_name("size-by-council-v2.jsonl")  # the earlier run: size-by-council(-b).jsonl


def simulate(design: str, k: int) -> tuple[Any, np.ndarray]:
    """One panel (LongPanel, true effect 0) and each unit's child population, in panel.units order."""
    from evalkit.estimators.data import make_panel

    rng = np.random.default_rng(np.random.SeedSequence([SEED, DESIGNS.index(design), k]))
    pop = np.exp(rng.normal(10.0, 1.0, N_UNITS))
    order = np.argsort(pop)
    third = N_UNITS // 3
    pool = {"small": order[:third], "large": order[-third:]}.get(design, np.arange(N_UNITS))
    treated = rng.choice(pool, size=len(COHORTS), replace=False)
    cohort = np.zeros(N_UNITS, dtype=np.int64)
    cohort[treated] = rng.permutation(COHORTS)
    sd = np.ones(N_UNITS) if design == "homoskedastic" else np.sqrt(np.median(pop) / pop)
    T = len(YEARS)
    eps = np.empty((N_UNITS, T))
    eps[:, 0] = rng.normal(size=N_UNITS) / math.sqrt(1 - RHO**2)
    for t in range(1, T):
        eps[:, t] = RHO * eps[:, t - 1] + rng.normal(size=N_UNITS)
    y = rng.normal(size=N_UNITS)[:, None] + np.cumsum(rng.normal(0, 0.3, T))[None, :] + sd[:, None] * eps
    units = [f"u{i:03d}" for i in range(N_UNITS)]
    frame = pl.DataFrame(
        {
            "unit": np.repeat(units, T),
            "year": np.tile(YEARS, N_UNITS),
            "y": y.ravel(),
            "cohort": np.repeat(cohort, T),
        }
    )
    panel = make_panel(frame, unit="unit", time="year", outcome="y", cohort="cohort", source="simulated")
    index = {u: i for i, u in enumerate(units)}
    return panel, pop[[index[u] for u in panel.units]]


def _raw(row: dict[str, Any] | None) -> list[float | None] | None:
    """[ci_low, ci_high, p_value] of a row, kept in the jsonl beside the rejection."""
    if row is None:
        return None
    return [
        None if row.get(k) is None or not np.isfinite(row[k]) else float(row[k])
        for k in ("ci_low", "ci_high", "p_value")
    ]


def _rejects(row: dict[str, Any] | None) -> bool | None:
    """Rejection of zero at 5 %: the interval excludes 0 (or, without one, p <= 0.05)."""
    if row is None:
        return None
    lo, hi = row.get("ci_low"), row.get("ci_high")
    if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
        return bool(lo > 0 or hi < 0)
    p = row.get("p_value")
    return None if p is None or not np.isfinite(p) else bool(p <= ALPHA)


def _perm_p(row: dict[str, Any] | None) -> bool | None:
    if row is None or row.get("p_value") is None:
        return None
    return bool(row["p_value"] <= ALPHA)


def one_panel(args: tuple[str, int, int, str]) -> dict[str, Any]:
    """Every interval's rejection of zero on panel k of `design`, for one estimator group."""
    from evalkit.analysis.intervals import randomisation_rows
    from evalkit.estimators.did.cs import callaway_santanna
    from evalkit.estimators.did.cs_points import CSPoints
    from evalkit.estimators.did.imputation import imputation
    from evalkit.estimators.did.imputation_points import ImputationPoints
    from evalkit.estimators.did.sunab import sun_abraham
    from evalkit.estimators.did.sunab_points import SunabPoints
    from evalkit.estimators.did.twfe import twfe
    from evalkit.estimators.did.twfe_points import TWFEPoints
    from evalkit.estimators.inference.size_robust import permutation_rows, sdid_ferman_pinto
    from evalkit.estimators.inference.wild import wild_cluster_bootstrap
    from evalkit.estimators.synth.sdid import synthetic_did_staggered

    design, k, n_perm, group = args
    t0 = time.process_time()
    panel, pop = simulate(design, k)
    seed = 1000 * DESIGNS.index(design) + k
    out: dict[str, Any] = {"design": design, "panel": k, "n_perm": n_perm, "group": group}
    raw: dict[str, Any] = {}

    def permutations(prefix: str, points: Any, names: list[str]) -> None:
        many = points.bind(panel)

        class Stat:  # the existing coefficient-permutation engine's protocol
            def __call__(self, p: Any) -> dict[str, float]:
                return {n: float(v[0]) for n, v in points.bind(p)(_cohorts(p), p.data["y"].to_numpy()).items()}

            def bind(self, p: Any) -> Any:
                return points.bind(p)

        ri, _ = randomisation_rows(panel, Stat(), names, n_perm=n_perm, seed=seed, alpha=ALPHA)
        by = {r["name"].split(":randomisation")[0]: r for r in ri}
        for n in names:
            out[f"{prefix}.{n}.randomization"] = _rejects(by.get(n))
            raw[f"{prefix}.{n}.randomization"] = _raw(by.get(n))
        for kind in ("studentized", "ferman_pinto"):
            rows, _ = permutation_rows(panel, many, names, kind, n_perm=n_perm, seed=seed, alpha=ALPHA, size=pop)
            by = {r["name"]: r for r in rows}
            for n in names:
                out[f"{prefix}.{n}.{kind}"] = _perm_p(by.get(n))
                raw[f"{prefix}.{n}.{kind}"] = _raw(by.get(n))

    if group == "cs":  # Callaway-Sant'Anna: analytic, multiplier bootstrap, and the permutation kinds
        cs_a = callaway_santanna(panel, bootstrap=0)
        cs_b = callaway_santanna(panel, bootstrap=999, seed=seed)
        for n in ("simple", "dynamic"):
            out[f"cs.{n}.analytic"] = _rejects(cs_a.estimate(n))
            out[f"cs.{n}.bootstrap"] = _rejects(cs_b.estimate(n))
            raw[f"cs.{n}.analytic"], raw[f"cs.{n}.bootstrap"] = _raw(cs_a.estimate(n)), _raw(cs_b.estimate(n))
        permutations("cs", CSPoints(), ["simple", "dynamic"])
    elif group == "sunab":  # analytic only: its permutation tests are CS simple's (module docstring), checked here
        out["sunab.simple.analytic"] = _rejects(sun_abraham(panel).estimate("simple"))
        raw["sunab.simple.analytic"] = _raw(sun_abraham(panel).estimate("simple"))
        out["sunab_minus_cs_simple"] = _sunab_cs_gap(panel, seed, SunabPoints(), CSPoints())
    elif group == "sunab_perm":  # the full Sun-Abraham permutation rows (12x the CPU of the check above)
        out["sunab.simple.analytic"] = _rejects(sun_abraham(panel).estimate("simple"))
        permutations("sunab", SunabPoints(), ["simple"])
    elif group == "imputation":
        out["imputation.simple.analytic"] = _rejects(imputation(panel).estimate("simple"))
        raw["imputation.simple.analytic"] = _raw(imputation(panel).estimate("simple"))
        permutations("imputation", ImputationPoints(), ["simple"])
    elif group == "twfe":
        out["twfe.coef.analytic"] = _rejects(twfe(panel).estimate("coef"))
        wild = wild_cluster_bootstrap(panel, draws=999, seed=seed).estimate("coef")
        out["twfe.coef.wild"] = _rejects(wild)
        raw["twfe.coef.analytic"], raw["twfe.coef.wild"] = _raw(twfe(panel).estimate("coef")), _raw(wild)
        permutations("twfe", TWFEPoints(), ["coef"])
    elif group == "sdid":
        from evalkit.estimators.inference.size_robust import _pvalue

        sd = synthetic_did_staggered(panel, se="placebo", reps=n_perm, seed=seed)
        att = sd.estimate("att")
        out["sdid.att.placebo_normal"] = _rejects(att)  # evalkit's SDID interval: att +- z * s.d. of the draws
        rank = _pvalue(sd.extra["draws"]["estimate"].to_numpy(), float(att["estimate"]))  # their ranks instead
        out["sdid.att.placebo"] = bool(rank <= ALPHA)
        row, _ = sdid_ferman_pinto(panel, float(att["estimate"]), n_perm=n_perm, seed=seed, alpha=ALPHA, size=pop)
        out["sdid.att.ferman_pinto"] = _perm_p(row)
        out["sdid.att.ferman_pinto_normal"] = _rejects(row)
        raw["sdid.att.placebo_normal"], raw["sdid.att.placebo"] = _raw(att), [None, None, rank]
        raw["sdid.att.ferman_pinto"] = _raw(row)
    out["raw"] = raw
    out["cpu_seconds"] = time.process_time() - t0
    return out


def _sunab_cs_gap(panel: Any, seed: int, sunab: Any, cs: Any) -> float:
    """Largest |Sun-Abraham simple - CS simple| over the observed and one permuted assignment, for the
    outcome and its two-way residual scaled by unit (the columns the permutation tests feed them)."""
    from evalkit.estimators.inference.size_robust import Layout

    cohort = _cohorts(panel)
    layout = Layout(panel)
    y = panel.data["y"].to_numpy().astype(float)
    cols = np.column_stack([y, layout.residualise(y) * (1 + layout.ui)])
    sa, ca = sunab.bind(panel), cs.bind(panel)
    gap = 0.0
    for coh in (cohort, np.random.default_rng(seed).permutation(cohort)):
        gap = max(gap, float(np.max(np.abs(sa(coh, cols)["simple"] - ca(coh, cols)["simple"]))))
    return gap


def _cohorts(panel: Any) -> np.ndarray:
    from evalkit.estimators.inference.randomisation import panel_cohorts

    return panel_cohorts(panel)


def done_keys(path: Path) -> set[tuple[str, int, str]]:
    if not path.exists():
        return set()
    keys = set()
    for line in path.read_text().splitlines():
        if line.strip():
            r = json.loads(line)
            keys.add((r["design"], int(r["panel"]), r["group"]))
    return keys


def _mark(rate: float, n: int) -> str:
    """' *' outside 3-7 % and more than 2 Monte Carlo s.e. from 5 %, ' ~' outside 3-7 % within them, else ''."""
    if 0.03 <= rate <= 0.07:
        return ""
    return " *" if abs(rate - ALPHA) > 2 * math.sqrt(ALPHA * (1 - ALPHA) / n) else " ~"


def table(*paths: Path) -> str:
    rows = [json.loads(x) for p in paths if p.exists() for x in p.read_text().splitlines() if x.strip()]
    if not rows:
        return "no panels yet"
    gap = _derived(rows)
    skip = {"design", "panel", "n_perm", "cpu_seconds", "group", "raw", "sunab_minus_cs_simple"}
    cols = sorted({k for r in rows for k in r} - skip)
    designs = [d for d in DESIGNS if any(r["design"] == d for r in rows)]
    lines = [
        "| estimator | estimand | interval | " + " | ".join(designs) + " |",
        "|---|---|---|" + "---|" * len(designs),
    ]
    for c in cols:
        est, name, kind = c.split(".")
        cells = []
        for d in designs:
            v = [r[c] for r in rows if r["design"] == d and r.get(c) is not None]
            cells.append(f"{100 * np.mean(v):.1f} ({len(v)}){_mark(float(np.mean(v)), len(v))}" if v else "-")
        lines.append(f"| {est} | {name} | {kind} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "Rejection rate of a true zero at 5 %, per cent (panels in brackets). Monte Carlo s.e. of a 5 % rate: "
        "sqrt(0.05 x 0.95 / n), 2.2 points at n = 100, 1.5 at n = 200. Outside 3-7 %: `*` more than 2 s.e. from "
        "5 %, `~` within 2 s.e. of it. Mean CPU s per panel: "
    )
    for g in GROUPS:
        c = [r["cpu_seconds"] for r in rows if r["group"] == g]
        if c:
            lines[-1] += f"{g} {np.mean(c):.2f}; "
    if gap is not None:
        lines.append(f"\nLargest |Sun-Abraham simple - CS simple| over the sunab panels' checks: {gap:.1e}.")
    return "\n".join(lines)


SAME = 1e-8  # Sun-Abraham simple equals CS simple to this on a panel's check: it takes CS's permutation rows


def _derived(rows: list[dict[str, Any]]) -> float | None:
    """Rows computed from others, in place: Sun-Abraham's permutation rows where its check found it equal
    to CS simple (`<kind>=cs`), and SDID's normal intervals read with a t critical value on m - 1 degrees
    of freedom (`<kind>_t`: what the interval does with many placebo draws, without 19 draws' noise in the
    s.d.; as m grows t -> z and the row becomes the normal one). Returns the largest Sun-Abraham gap."""
    from scipy.stats import norm, t

    cs = {(r["design"], r["panel"]): r for r in rows if r["group"] == "cs"}
    gaps = []
    for r in rows:
        if r["group"] == "sunab" and "sunab_minus_cs_simple" in r:
            gaps.append(r["sunab_minus_cs_simple"])
            twin = cs.get((r["design"], r["panel"]))
            if twin is not None and r["sunab_minus_cs_simple"] < SAME:
                for kind in ("randomization", "studentized", "ferman_pinto"):
                    r[f"sunab.simple.{kind}=cs"] = twin.get(f"cs.simple.{kind}")
        if r["group"] == "sdid" and "raw" in r:
            q = t.ppf(1 - ALPHA / 2, r["n_perm"] - 1) / norm.ppf(1 - ALPHA / 2)
            for kind, key in (("placebo", "placebo_normal"), ("ferman_pinto", "ferman_pinto")):  # rows with the CI
                lo, hi, _ = r["raw"].get(f"sdid.att.{key}") or (None, None, None)
                if lo is not None and hi is not None:
                    centre, half = (lo + hi) / 2, (hi - lo) / 2
                    r[f"sdid.att.{kind}_t"] = bool(abs(centre) > q * half)
    return max(gaps) if gaps else None


DEFAULTS = (  # (label, column): the interval auto-size reports with a size column, and SDID's other readings
    ("CS simple", "cs.simple.ferman_pinto"),
    ("CS dynamic", "cs.dynamic.ferman_pinto"),
    ("Sun-Abraham simple (= CS simple, checked)", "sunab.simple.ferman_pinto=cs"),
    ("imputation simple", "imputation.simple.ferman_pinto"),
    ("SDID, v4's interval (t reading of 19 draws)", "sdid.att.ferman_pinto_t"),
    ("SDID, rank p-value of the same draws", "sdid.att.ferman_pinto"),
    ("SDID, normal with 19 draws", "sdid.att.ferman_pinto_normal"),
)


def defaults_table(*paths: Path, split: int = 200) -> str:
    """Every default cell pooled over the files: rejections, per cent, Clopper-Pearson 95 % interval, and
    the panels below / from `split` beside it (the run and its extension, so a reader sees both halves).
    A (design, panel, group) found twice is an error, not a silent double count."""
    from scipy.stats import beta

    rows, seen = [], set()
    for p in paths:
        for x in p.read_text().splitlines():
            if x.strip():
                r = json.loads(x)
                key = (r["design"], r["panel"], r["group"])
                if key in seen:
                    raise SystemExit(f"{p}: {key} is in the files twice")
                seen.add(key)
                rows.append(r)
    _derived(rows)
    last = max(r["panel"] for r in rows)
    lines = [
        f"| method | design | rejected | per cent | 95 % CP | panels 0-{split - 1} | panels {split}-{last} | in 3-7 % |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for label, col in DEFAULTS:
        for d in DESIGNS:
            v = [(r["panel"], bool(r[col])) for r in rows if r["design"] == d and r.get(col) is not None]
            n, x = len(v), sum(b for _, b in v)
            if not n:
                continue
            lo = beta.ppf(ALPHA / 2, x, n - x + 1) if x else 0.0
            hi = beta.ppf(1 - ALPHA / 2, x + 1, n - x) if x < n else 1.0
            halves = [[b for k, b in v if (k < split) == first] for first in (True, False)]
            h = [f"{sum(b)}/{len(b)} = {100 * sum(b) / len(b):.1f}" if b else "-" for b in halves]
            inside = "yes" if 0.03 <= x / n <= 0.07 else "**no**"
            lines.append(
                f"| {label} | {d} | {x}/{n} | {100 * x / n:.2f} | {100 * lo:.1f}-{100 * hi:.1f} | {h[0]} | {h[1]} | {inside} |"
            )
    return "\n".join(lines)


def recheck(panels: list[int], groups: list[str], *paths: Path) -> str:
    """Rerun stored lines (these panels and groups, every design) with the current code and compare every
    field but cpu_seconds: stored lines may be pooled with new ones only if they are bit-identical."""
    stored = {
        (r["design"], r["panel"], r["group"]): r
        for p in paths
        for x in p.read_text().splitlines()
        if x.strip()
        for r in [json.loads(x)]
    }
    out, same, t0 = [], 0, time.process_time()
    keys = [(d, k, g) for k in panels for g in groups for d in DESIGNS if (d, k, g) in stored]
    for d, k, g in keys:
        old = {c: v for c, v in stored[(d, k, g)].items() if c != "cpu_seconds"}
        new = {c: v for c, v in one_panel((d, k, old["n_perm"], g)).items() if c != "cpu_seconds"}
        differ = sorted(c for c in set(old) | set(new) if c != "raw" and old.get(c) != new.get(c))
        raw_o, raw_n = old.get("raw", {}), new.get("raw", {})
        differ += sorted(f"raw:{c}" for c in set(raw_o) | set(raw_n) if raw_o.get(c) != raw_n.get(c))
        same += not differ
        out.append(f"{d} {k} {g}: " + ("bit-identical" if not differ else "differ: " + ", ".join(differ)))
    out.append(f"{same} of {len(keys)} lines bit-identical ({time.process_time() - t0:.1f} CPU s)")
    return "\n".join(out)


def compare(new: Path, *old: Path) -> str:
    """Per column, on the (design, panel, group) present in both: how many rejections differ between
    the run in `new` and the earlier run(s) in `old` (same seeds, earlier code)."""
    load = lambda ps: {  # noqa: E731
        (r["design"], r["panel"], r["group"]): r
        for p in ps
        for x in p.read_text().splitlines()
        if x.strip()
        for r in [json.loads(x)]
    }
    a, b = load(old), load([new])
    same = sorted(set(a) & set(b))
    cols = sorted({c for k in same for c in b[k] if c.count(".") == 2 and c in a[k]})
    out = [f"{len(same)} (design, panel, estimator) in both"]
    for c in cols:
        both = [k for k in same if a[k].get(c) is not None and b[k].get(c) is not None]
        diff = [f"{k[0]}:{k[1]}" for k in both if a[k][c] != b[k][c]]
        out.append(f"{c}: {len(diff)} of {len(both)} differ" + (f" ({', '.join(diff)})" if diff else ""))
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--panels", type=int, default=200, help="panels per design")
    ap.add_argument("--perms", type=int, default=19, help="permutations / placebo draws per panel")
    ap.add_argument("--designs", default=",".join(DESIGNS))
    ap.add_argument(
        "--estimators",
        default="cs,twfe,imputation,sdid,sunab",
        help=f"estimator groups ({', '.join(GROUPS)}), run in this order",
    )
    ap.add_argument("--jobs", type=int, default=1, help="processes (panels in parallel)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--table", action="store_true", help="only print the table of what --out holds")
    ap.add_argument("--also", type=Path, nargs="*", default=[], help="more result files for --table")
    ap.add_argument("--compare", type=Path, nargs="*", help="only compare --out's rejections with these files'")
    ap.add_argument("--defaults", action="store_true", help="only print the default cells of --out and --also, pooled")
    ap.add_argument(
        "--recheck", help="only rerun these panels (comma-separated) of --estimators stored in --out/--also"
    )
    a = ap.parse_args()
    if a.compare:
        print(compare(a.out, *a.compare))
        return
    if a.recheck:
        panels = [int(k) for k in a.recheck.split(",")]
        print(recheck(panels, a.estimators.split(","), a.out, *a.also))
        return
    if a.defaults:
        print(defaults_table(a.out, *a.also))
        return
    if a.table:
        print(table(a.out, *a.also))
        return
    have = done_keys(a.out)
    todo = [
        (d, k, a.perms, g)
        for k in range(a.panels)
        for g in a.estimators.split(",")
        for d in a.designs.split(",")
        if (d, k, g) not in have
    ]  # panel-major: a stopped run has every design and estimator at similar counts
    print(f"{len(todo)} panels to run ({len(have)} already in {a.out})", flush=True)
    if a.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(a.jobs) as pool, a.out.open("a") as fh:
            for r in pool.map(one_panel, todo, chunksize=1):
                fh.write(json.dumps(r) + "\n")
                fh.flush()
    else:
        with a.out.open("a") as fh:
            for item in todo:
                fh.write(json.dumps(one_panel(item)) + "\n")
                fh.flush()
    print(table(a.out))


if __name__ == "__main__":
    main()
