"""Design-based power and the minimum detectable effect (MDE) of a plan's primary analyses.

On the real panel, the treated councils are set aside and their adoption pattern (the cohort sizes of the
analysis) is given to never-treated councils drawn at random (placebo adoptions). A known constant effect
is added to the placebo-treated council-years and the plan's own analysis and default interval are run;
the rejection rate is the share of draws whose interval excludes zero. The MDE is the smallest effect
rejected in at least 80% of draws, for increases and decreases separately.

Every estimator evalkit runs is equivariant to adding delta to the treated cells (the estimate and its
interval shift by delta: CS/TWFE/imputation/Sun-Abraham are linear with weights summing to one over
treated cells, SDID's weights are fitted on untreated cells only), so each draw is run once at effect 0 and
its interval shifted. That is checked on the first draw by a real re-run at the largest effect; if the
check fails, every effect is re-run.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError, UsageError
from evalkit.estimators.data import LongPanel
from evalkit.parallel import pmap, tracked

POWER = 0.8
DEFAULT_DRAWS = 200
EFFECT_MULTIPLES = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)


SIZE_BINS = 3  # size-matched placebo draws: a treated council's stand-in comes from its size tercile


def placebo_panel(
    panel: LongPanel, rng: np.random.Generator, sizes: dict[str, float] | None = None
) -> tuple[LongPanel, np.ndarray]:
    """Never-treated units only, the treated units' cohorts given to randomly drawn ones (sizes kept).
    With `sizes` ({unit: size}) each treated unit's cohort goes to a never-treated unit of the same size
    tercile (among all units), so the placebo treated are as small or as large as the real ones.
    Returns the panel and its 0/1 treated-cell indicator in row order."""
    units = panel.data.group_by("unit").agg(pl.col("cohort").first()).sort("unit")
    cohorts = units.filter(pl.col("cohort") > 0)["cohort"].to_numpy()
    controls = units.filter(pl.col("cohort") == 0)["unit"].to_list()
    if len(controls) < len(cohorts) + 2:
        raise EvalkitError(f"{len(controls)} never-treated units cannot take {len(cohorts)} placebo adoptions")
    if sizes is None:
        chosen = rng.choice(len(controls), size=len(cohorts), replace=False)
        mapping = {controls[i]: int(c) for i, c in zip(chosen, rng.permutation(cohorts))}
    else:
        mapping = _size_matched(units, controls, sizes, rng)
    data = panel.data.filter(pl.col("unit").is_in(controls)).with_columns(
        pl.col("unit").replace_strict(mapping, default=0, return_dtype=pl.Int64).alias("cohort")
    )
    d = ((data["cohort"] > 0) & (data["time"] >= data["cohort"])).cast(pl.Float64).to_numpy()
    return LongPanel(data, panel.outcome, panel.covariates), d


def _size_matched(
    units: pl.DataFrame, controls: list[str], sizes: dict[str, float], rng: np.random.Generator
) -> dict[str, int]:
    """{control: cohort}: each treated unit's cohort to a never-treated unit of its size bin (the nearest
    bin with a free control when its own is used up)."""
    every = np.array([sizes[u] for u in units["unit"].to_list()], dtype=float)
    edges = np.quantile(every, np.linspace(0, 1, SIZE_BINS + 1)[1:-1])
    free: dict[int, list[str]] = {}
    for u in controls:
        free.setdefault(int(np.searchsorted(edges, sizes[u], side="right")), []).append(u)
    for b in free:
        free[b] = [free[b][i] for i in rng.permutation(len(free[b]))]
    mapping = {}
    treated = units.filter(pl.col("cohort") > 0)
    for u, c in zip(treated["unit"].to_list(), treated["cohort"].to_list()):
        b = int(np.searchsorted(edges, sizes[u], side="right"))
        near = sorted((k for k in free if free[k]), key=lambda k: (abs(k - b), k))
        mapping[free[near[0]].pop()] = int(c)
    return mapping


def _interval(
    method: str, panel: LongPanel, options: dict[str, Any], inference: dict[str, Any], *, pretrend: bool = False
) -> tuple[float, float, float, str, float]:
    """(estimate, ci_low, ci_high, interval kind, pre-trend p) of the analysis's headline estimate with its
    default interval. The pre-trend p (NaN when not asked or no test could be made) is that of the test the
    decision rule reads (analysis.pretrend.pretrend_result) on the same draw."""
    from evalkit.analysis.pretrend import pretrend_result
    from evalkit.analysis.run import run
    from evalkit.analysis.verdict import headline, interval_kind

    row, doc = _permutation_headline(method, panel, options, inference, pretrend=pretrend)
    if row is None:
        doc = run(method, panel, options, inference).to_dict()
        row = headline(doc)
    pre = pretrend_result(doc) if pretrend and doc is not None else None
    pre_p = float(pre["p_value"]) if pre is not None and pre.get("p_value") is not None else float("nan")
    if row is None or row.get("ci_low") is None or row.get("ci_high") is None:
        return float("nan"), float("nan"), float("nan"), "none", pre_p
    return float(row["estimate"]), float(row["ci_low"]), float(row["ci_high"]), interval_kind(row), pre_p


def _permutation_headline(
    method: str, panel: LongPanel, options: dict[str, Any], inference: dict[str, Any], *, pretrend: bool = False
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(row, results document): the headline row when it is a permutation row (randomisation by test
    inversion, or a size-keeping kind), found without the estimator's own bootstrap; (None, None)
    otherwise (the caller runs everything). With `pretrend` the pre-move estimates are permuted on the same
    draws for the pre-trend test (intervals.PRETREND_TOO), which reads them alone: the headline's bits are
    the same either way.

    A draw reads only the headline row. A permutation row is made from the estimator's point estimates
    (its rows' names and values) and the permuted assignments, never from the estimator's standard errors,
    so the same run with `bootstrap = 0` gives it bit for bit and skips the multiplier bootstrap. When
    the headline is another row (the analytic rule chose, or no permutation row could be made), its
    interval may be the bootstrap's: None, and the draw is run as it always was. The permutation rows
    are made for the headline alone (intervals.HEADLINE_ONLY): each row's test reads its own column of
    the same permuted assignments, so the headline's bits do not depend on the other rows."""
    from evalkit import methods
    from evalkit.analysis.intervals import HEADLINE_ONLY, PRETREND_TOO, RI_SUFFIX, SIZE_KINDS, SUFFIXES
    from evalkit.analysis.run import run
    from evalkit.analysis.verdict import headline

    m = methods.get(method)
    if m.randomisation != "inversion" or "bootstrap" not in m.option_names():
        return None, None
    if inference.get("interval") == "analytic":  # the headline is the analytic row: no second fit
        return None, None
    fast = {**inference, HEADLINE_ONLY: True, **({PRETREND_TOO: True} if pretrend else {})}
    doc = run(method, panel, {**options, "bootstrap": 0}, fast).to_dict()
    row = headline(doc)
    permuted = (RI_SUFFIX, *(SUFFIXES[k] for k in SIZE_KINDS))
    if row is None or row.get("default") is not True or not str(row["name"]).endswith(permuted):
        return None, None
    return row, doc


def rejection(lo: np.ndarray, hi: np.ndarray, effect: float) -> float:
    """Share of draws whose interval, shifted by `effect`, excludes zero."""
    return float(np.mean((lo + effect > 0) | (hi + effect < 0)))


def mde(lo: np.ndarray, hi: np.ndarray, sign: int, power: float = POWER) -> float | None:
    """Smallest |effect| in direction `sign` rejected in at least `power` of draws (exact on the draws)."""
    cands = np.unique(np.concatenate([-lo, -hi]) * sign)
    cands = np.sort(cands[cands > 0])
    for c in cands:
        for eff in (c, np.nextafter(c, np.inf)):
            if rejection(lo, hi, sign * eff) >= power:
                return float(sign * eff)
    return None


def analysis_power(
    method: str,
    panel: LongPanel,
    options: dict[str, Any],
    inference: dict[str, Any],
    *,
    draws: int,
    seed: int,
    effects: list[float] | None,
) -> dict[str, Any]:
    """Placebo draws for one analysis: the curve of rejection rate against effect and the MDE."""
    from evalkit.estimators.did.simulate import with_outcome

    seeds = np.random.SeedSequence(seed).spawn(draws)
    made = [placebo_panel(panel, np.random.default_rng(s)) for s in seeds]
    # each draw's inference gets its own seed so permutations differ between draws
    infs = [{**inference, "seed": int(inference.get("seed", 0)) + j} for j in range(draws)]
    out = pmap(
        lambda j: _interval(method, made[j][0], options, infs[j]),
        range(draws),
        on_result=tracked(f"placebo draws ({panel.outcome})", draws),
    )
    est = np.array([o[0] for o in out])
    lo, hi = np.array([o[1] for o in out]), np.array([o[2] for o in out])
    ok = np.isfinite(lo) & np.isfinite(hi)
    if ok.sum() < max(10, draws // 2):
        raise EvalkitError(f"only {int(ok.sum())} of {draws} placebo draws gave an interval", column=panel.outcome)
    est, lo, hi = est[ok], lo[ok], hi[ok]
    up, down = mde(lo, hi, 1), mde(lo, hi, -1)
    scale = max(abs(up or 0.0), abs(down or 0.0)) or float(np.nanmean(hi - lo))
    grid = (
        sorted(set(effects))
        if effects
        else sorted({round(s * m * scale, 10) + 0.0 for m in EFFECT_MULTIPLES for s in (-1, 1)})
    )
    # equivariance check: re-run the first draw with the largest effect actually added
    big = max(grid, key=abs) or scale
    p0, d0 = made[0]
    shifted = with_outcome(p0, p0.data["y"].to_numpy() + big * d0)
    e1, l1, h1, _, _ = _interval(method, shifted, options, infs[0])
    e0, l0, h0, kind, _ = out[0]
    gap = max(abs(e1 - e0 - big), abs(l1 - l0 - big), abs(h1 - h0 - big))
    equivariant = bool(np.isfinite(gap) and gap <= 1e-6 * max(1.0, abs(big), abs(h0 - l0)))
    if equivariant:
        curve = [{"effect": float(e), "rejection_rate": rejection(lo, hi, e)} for e in grid]
    else:  # re-run each effect on every draw
        curve = []
        for e in grid:
            res = pmap(
                lambda j, e=e: _interval(
                    method, with_outcome(made[j][0], made[j][0].data["y"].to_numpy() + e * made[j][1]), options, infs[j]
                ),
                range(draws),
            )
            r_lo, r_hi = np.array([r[1] for r in res]), np.array([r[2] for r in res])
            keep = np.isfinite(r_lo) & np.isfinite(r_hi)
            curve.append({"effect": float(e), "rejection_rate": float(np.mean((r_lo[keep] > 0) | (r_hi[keep] < 0)))})
        up = next((c["effect"] for c in curve if c["effect"] > 0 and c["rejection_rate"] >= POWER), None)
        down = next(
            (
                c["effect"]
                for c in sorted(curve, key=lambda c: -c["effect"])
                if c["effect"] < 0 and c["rejection_rate"] >= POWER
            ),
            None,
        )
    return {
        "draws": int(ok.sum()),
        "interval": kind,
        "size": rejection(lo, hi, 0.0),
        "mde_increase": up,
        "mde_decrease": down,
        "power": POWER,
        "curve": curve,
        "equivariance_gap": float(gap),
        "equivariant": equivariant,
        "placebo_estimate_sd": float(np.std(est, ddof=1)),
        "n_treated": int(panel.data.filter(pl.col("cohort") > 0)["unit"].n_unique()),
        "n_never_treated": int(panel.data.filter(pl.col("cohort") == 0)["unit"].n_unique()),
    }


def calibration(
    method: str,
    panel: LongPanel,
    options: dict[str, Any],
    inference: dict[str, Any],
    *,
    kinds: list[str],
    draws: int,
    seed: int,
    sizes: dict[str, float] | None,
    pretrend: bool = False,
) -> dict[str, Any]:
    """Every interval kind's empirical size (rejection rate of a true zero) and MDE on placebo draws of
    this panel: exchangeable draws (any never-treated council) and, with `sizes`, draws matched to the
    treated councils' size terciles. The same draws serve every kind. With `pretrend` ([power] pretrend),
    also the size of the pre-trend test each kind leads to (`pretrend_size`): the placebo panels have no
    effect and no pre-trend by construction, so every rejection is a false one."""
    from evalkit.analysis.intervals import supported

    usable = [k for k in kinds if k in supported(method)]
    designs = {"exchangeable": None, **({"size_matched": sizes} if sizes else {})}
    out: dict[str, Any] = {"kinds": usable, "designs": {}}
    for d, (design, matched) in enumerate(designs.items()):
        seeds = np.random.SeedSequence([seed, d]).spawn(draws)
        made = [placebo_panel(panel, np.random.default_rng(s), matched)[0] for s in seeds]
        per_kind = {}
        for kind in usable:
            infs = [{**inference, "interval": kind, "seed": int(inference.get("seed", 0)) + j} for j in range(draws)]
            res = pmap(
                lambda j, infs=infs, made=made: _interval(method, made[j], options, infs[j], pretrend=pretrend),
                range(draws),
                on_result=tracked(f"calibration {design} {kind} ({panel.outcome})", draws),
            )
            pre = (
                {"pretrend": pretrend_size([r[4] for r in res], float(inference.get("alpha", 0.05)))}
                if pretrend
                else {}
            )
            lo, hi = np.array([r[1] for r in res]), np.array([r[2] for r in res])
            ok = np.isfinite(lo) & np.isfinite(hi)
            n = int(ok.sum())
            if n == 0:
                per_kind[kind] = {"draws": 0, "size": None, "mde_increase": None, "mde_decrease": None, **pre}
                continue
            size = rejection(lo[ok], hi[ok], 0.0)
            per_kind[kind] = {
                "draws": n,
                "size": size,
                "mc_se": float(np.sqrt(max(size * (1 - size), 1e-12) / n)),
                "mde_increase": mde(lo[ok], hi[ok], 1),
                "mde_decrease": mde(lo[ok], hi[ok], -1),
                **pre,
            }
        out["designs"][design] = per_kind
    if not sizes:
        out["size_matched"] = "not made: the plan's [inference] names no size column"
    return out


def pretrend_size(p_values: list[float], alpha: float) -> dict[str, Any]:
    """How often the pre-trend test rejected (p < alpha, the decision rule's reading) over the draws where it
    could be made, with its binomial Monte Carlo s.e.; every rejection on a placebo draw is a false one."""
    p = np.array(p_values, dtype=float)
    p = p[np.isfinite(p)]
    if len(p) == 0:
        return {"draws": 0, "size": None, "why": "no placebo draw had a pre-move event time to test"}
    size = float(np.mean(p < alpha))
    return {
        "draws": int(len(p)),
        "rejected": int(np.sum(p < alpha)),
        "size": size,
        "mc_se": float(np.sqrt(max(size * (1 - size), 1e-12) / len(p))),
        "alpha": alpha,
    }


def pretrend_size_line(analysis: dict[str, Any]) -> str:
    """One line for the terminal: the pre-trend test's size on this panel for the analysis's own interval kind
    in each placebo design ([power] pretrend), or '' when it was not calibrated."""
    kind = str(analysis.get("interval", "")).replace("randomisation", "randomization")
    designs = (analysis.get("calibration") or {}).get("designs") or {}
    parts = [
        f"{design.replace('_', '-')} {100 * pre['size']:.1f}% of {pre['draws']}"
        for design, per_kind in designs.items()
        if (pre := (per_kind.get(kind) or {}).get("pretrend") or {}).get("draws")
    ]
    return f"pre-trend test size at 0 ({kind} draws): " + ", ".join(parts) if parts else ""


def settings(plan: dict[str, Any], draws: int | None = None, permutations: int | None = None) -> dict[str, Any]:
    section = dict(plan.get("power") or {})
    out = {
        "draws": int(draws or section.get("draws") or DEFAULT_DRAWS),
        "seed": int(section.get("seed", plan["inference"].get("seed", 0))),
        "effects": [float(e) for e in section.get("effects") or []] or None,
    }
    if out["draws"] < 10:
        raise UsageError("power draws must be at least 10")
    if permutations or section.get("permutations"):
        out["permutations"] = int(permutations or section["permutations"])
    if section.get("intervals"):  # per-interval calibration (new plans); absent: v1-v3's output unchanged
        out["intervals"] = [str(k) for k in section["intervals"]]
    if section.get("pretrend"):  # the pre-trend test's size too (plan v7 onwards); absent: output unchanged
        if not out.get("intervals"):
            raise UsageError(
                "[power] pretrend needs [power] intervals: the pre-trend test is calibrated on each interval "
                "kind's placebo draws"
            )
        out["pretrend"] = True
    return out


def power_analysis(
    plan: dict[str, Any],
    panel: pl.DataFrame,
    sample: pl.DataFrame,
    panel_path: Path,
    *,
    draws: int | None = None,
    permutations: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Power of every primary analysis of the plan, with the plan's inference settings."""
    from evalkit.analysis.sample import prepare

    conf = settings(plan, draws, permutations)
    inference = dict(plan["inference"])
    if conf.get("permutations"):
        inference["permutations"] = conf["permutations"]
    rows = []
    for k, analysis in enumerate(a for a in plan["analysis"] if a.get("primary")):
        if progress:
            progress(f"power: {analysis['label']}")
        prep = prepare(panel, sample, plan, analysis, panel_path)
        if prep.panel is None:  # no treated council left in this analysis's sample: nothing to detect
            continue
        sizes = unit_sizes(prep.rows, inference.get("size_column"))
        inf = {**inference, **({"unit_size": sizes} if sizes else {})}
        res = analysis_power(
            analysis["method"],
            prep.panel,
            prep.options,
            inf,
            draws=conf["draws"],
            seed=conf["seed"] + 1000 * k,
            effects=conf["effects"],
        )
        if conf.get("intervals"):
            res["calibration"] = calibration(
                analysis["method"],
                prep.panel,
                prep.options,
                inf,
                kinds=conf["intervals"],
                draws=conf["draws"],
                seed=conf["seed"] + 1000 * k + 500,
                sizes=sizes,
                pretrend=bool(conf.get("pretrend")),
            )
        rows.append({"label": analysis["label"], "outcome": analysis["outcome"], "method": analysis["method"], **res})
    return {
        "settings": {
            **conf,
            "alpha": inference.get("alpha"),
            "permutations": inference.get("permutations"),
            "power": POWER,
            "design": "placebo adoptions: the treated councils' cohort sizes given "
            "to randomly drawn never-treated councils, a constant effect added",
        },
        "analyses": rows,
    }


def unit_sizes(rows: pl.DataFrame, column: str | None) -> dict[str, float] | None:
    """{unit: mean of the size column over the analysis's years}, or None without a column."""
    from evalkit.analysis.run import unit_sizes as sizes

    return sizes(rows, column)


def mde_by_label(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {a["label"]: a for a in doc["analyses"]}


def curve_frame(doc: dict[str, Any]) -> pl.DataFrame:
    rows = [
        {
            "label": a["label"],
            "outcome": a["outcome"],
            "effect": c["effect"],
            "rejection_rate": c["rejection_rate"],
            "draws": a["draws"],
            "mde_increase": a["mde_increase"],
            "mde_decrease": a["mde_decrease"],
        }
        for a in doc["analyses"]
        for c in a["curve"]
    ]
    schema = {
        "label": pl.Utf8,
        "outcome": pl.Utf8,
        "effect": pl.Float64,
        "rejection_rate": pl.Float64,
        "draws": pl.Int64,
        "mde_increase": pl.Float64,
        "mde_decrease": pl.Float64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row")


def write_power(doc: dict[str, Any], out_dir: Path) -> list[Path]:
    from evalkit.io import write_json, write_parquet

    out_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(out_dir / "power.parquet", curve_frame(doc))
    write_json(out_dir / "power.json", doc)
    return [out_dir / "power.json", out_dir / "power.parquet"]
