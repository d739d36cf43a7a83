"""de Chaisemartin and D'Haultfœuille (2024) intertemporal DiD estimator (DID_ℓ, `did_multiplegt_dyn`).

Treatment may switch on and off. A unit's first switch F_g (first period whose treatment differs
from its period-1 "status quo" d_g) defines its event; DID_ℓ compares its outcome change from F_g-1
to F_g-1+ℓ with that of units with the same status quo that have not switched yet by F_g-1+ℓ,
whatever the switcher did after F_g (the effect of having switched ℓ periods ago, not of a
constant treatment). Switchers in (treatment rose) and switchers out (it fell) are estimated
separately; the pooled effect is their switcher-count-weighted mean, switchers out entering with
their sign flipped (the paper's S_g), so every estimate reads as "the effect of more treatment".
Placebos compare F_g-1-ℓ with F_g-1 on the same units and controls as effect ℓ.

Standard errors follow the authors' implementation (the default, not `less_conservative_se`): each
unit's influence U_g, with every outcome change demeaned by its cohort's mean (switchers: same
status quo, switch date and new treatment; controls: same status quo and period; a cohort of one
borrows the pooled mean of its period) and scaled by sqrt(n/(n-1)); SE = sqrt(Σ_c (Σ_{g∈c} U_g)²)/G
over clusters c (units by default). The average total effect is Σ_ℓ N_ℓ DID_ℓ / Σ_ℓ N_ℓ δ_ℓ,
δ_ℓ the switchers' average cumulated treatment change up to ℓ (1 per period for a binary switch
held), its variance from the same influence functions.
Pure numerics: no councils, plans or files. Checked against the authors' Python port
(tests/estimators/reference/dcdh/).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError
from evalkit.estimators.data import LongPanel
from evalkit.estimators.defaults import DEFAULT_ALPHA
from evalkit.estimators.did._util import estimate_table, normal_row
from evalkit.estimators.results import Results

SWITCHERS = ("both", "in", "out")


@dataclass(frozen=True)
class Design:
    """Unit × period arrays the estimator works on (periods ranked 1..T, 0-based columns)."""

    y: np.ndarray  # outcome, NaN where missing
    d: np.ndarray  # treatment in force
    units: list[str]
    times: np.ndarray
    cluster: np.ndarray  # cluster id per unit (its index by default)
    d_sq: np.ndarray  # status quo: treatment in the first period
    first: np.ndarray  # F_g, 1-based first period whose treatment differs from d_sq (T+1 when never)
    increase: np.ndarray  # 1 when the first switch raised the treatment, 0 when it lowered it, -1 never
    last: np.ndarray  # T_g: last period with a not-yet-switched unit of the same status quo
    d_first: np.ndarray  # treatment at F_g (NaN when never)


@dataclass(frozen=True)
class Piece:
    """One effect or placebo for one direction of switch: estimate, switcher count and influences."""

    estimate: float
    n_switchers: float
    u: np.ndarray  # influence per unit, mean = estimate
    u_var: np.ndarray  # cohort-demeaned influence for the variance
    delta: float = np.nan  # switchers' average current treatment change (effects only)
    per_unit: dict[int, float] | None = None  # each switcher's own DID_{g,ℓ} (unsigned), by unit index


def treatment_wide(panel: LongPanel) -> np.ndarray:
    """Unit × period treatment in force: the panel's `d` column when it has one, else from the cohort."""
    units, times = panel.units, panel.times
    if "d" in panel.data.columns:
        piv = panel.data.pivot(on="time", index="unit", values="d", aggregate_function="first", sort_columns=True)
        piv = piv.sort("unit")
        cols = [str(t) for t in times]
        for c in cols:
            if c not in piv.columns:
                piv = piv.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
        return piv.select(cols).to_numpy().astype(float)
    coh = np.array([panel.unit_cohorts()[u] for u in units])
    t = np.asarray(times)
    return ((coh[:, None] > 0) & (t[None, :] >= coh[:, None])).astype(float)


def design(y: np.ndarray, d: np.ndarray, units: list[str], times, cluster: np.ndarray | None = None) -> Design:
    """Status quo, first switch and last usable period of every unit. Units whose treatment is both
    above and below their status quo at some periods are dropped by the caller (as the reference)."""
    G, T = d.shape
    seen = np.isfinite(d)
    if not seen.any(1).all():
        g = int(np.argmin(seen.any(1)))
        raise EvalkitError(f"unit {units[g]} has no period with a treatment", column="treated")
    start = seen.argmax(1)
    stop = T - 1 - seen[:, ::-1].argmax(1)
    inside = (np.arange(T)[None, :] >= start[:, None]) & (np.arange(T)[None, :] <= stop[:, None])
    if (inside & ~seen).any():
        g, t = np.argwhere(inside & ~seen)[0]
        raise EvalkitError(
            f"treatment missing for unit {units[g]} in period {times[t]}, between periods where it is known",
            column="treated",
            expected="the treatment in force in every period from a unit's first to its last",
        )
    # a unit that enters late starts from its first observed treatment (as the reference)
    d_sq = d[np.arange(G), start]
    changed = seen & (d != d_sq[:, None])
    has = changed.any(1)
    first = np.where(has, changed.argmax(1) + 1, T + 1)  # 1-based
    d_first = np.where(has, d[np.arange(G), np.minimum(first - 1, T - 1)], np.nan)
    increase = np.where(has, (d_first > d_sq).astype(int), -1)
    # a never-switcher that leaves early is a control only until it leaves
    first_trunc = np.where(has, first, np.minimum(first, stop + 2))
    last = np.empty(G, dtype=int)
    for v in np.unique(d_sq):
        same = d_sq == v
        last[same] = first_trunc[same].max() - 1
    last = np.minimum(last, T)
    cl = np.arange(G) if cluster is None else cluster
    return Design(y, d, units, np.asarray(times), cl, d_sq, first, increase, last, d_first)


def _group_sum(keys: np.ndarray, values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each row, the sum of `values` over masked rows sharing its key (rows × key columns)."""
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    tot = np.bincount(inv, weights=np.where(mask, values, 0.0))
    return tot[inv]


def _group_clusters(keys: np.ndarray, cluster: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each row, the number of distinct clusters among masked rows sharing its key."""
    _, inv = np.unique(keys, axis=0, return_inverse=True)
    inv = inv.ravel()
    pairs = np.unique(np.column_stack([inv[mask], cluster[mask]]), axis=0)
    counts = np.bincount(pairs[:, 0], minlength=inv.max() + 1) if pairs.size else np.zeros(inv.max() + 1)
    return counts[inv].astype(float)


def _piece(des: Design, ell: int, inc: int, placebo: bool) -> Piece | None:
    """Effect (or placebo) ℓ of the units whose first switch went in direction `inc`; None when no
    switcher has it."""
    y, G, T = des.y, *des.y.shape
    t1 = np.arange(1, T + 1)[None, :].repeat(G, 0)  # 1-based period of each cell
    obs = np.isfinite(y)
    n_gt = obs.astype(float)
    lag = np.full_like(y, np.nan)
    lag[:, ell:] = y[:, :-ell]
    diff = y - lag
    F, dsq, Tg = des.first[:, None], des.d_sq[:, None], des.last[:, None]
    never = np.where(np.isfinite(diff), (F > t1).astype(float), np.nan)
    key_dt = np.stack([np.repeat(des.d_sq[:, None], T, 1), t1], -1).reshape(-1, 2)

    def by_dt(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
        return _group_sum(key_dt, values.ravel(), mask.ravel()).reshape(G, T)

    n_ctrl = by_dt(np.nan_to_num(never) * n_gt, np.isfinite(never))
    Lg = des.last - des.first + 1
    dist = ((t1 == F - 1 + ell) & (Lg[:, None] >= ell) & (des.increase[:, None] == inc) & (n_ctrl > 0)).astype(float)
    dist = np.where(np.isfinite(diff), dist, np.nan)
    if placebo:
        lag2 = np.full_like(y, np.nan)
        lag2[:, 2 * ell :] = y[:, : -2 * ell] if 2 * ell < T else lag2[:, 2 * ell :]
        diff = lag2 - lag  # Y_{t-2ℓ} - Y_{t-ℓ}: at t = F-1+ℓ, Y_{F-1-ℓ} - Y_{F-1}
        ok = np.isfinite(diff)
        never = np.where(np.isfinite(never), never * ok, np.nan)
        n_ctrl = by_dt(np.nan_to_num(never) * n_gt, np.isfinite(never))
        dist = np.where(np.isfinite(dist) & ok, dist * (n_ctrl > 0), np.nan)
    dist0 = np.nan_to_num(dist)
    n_t = (dist0 * n_gt).sum(0)  # switchers per period
    N = float(n_t.sum())
    if N == 0:
        return None
    n_tg = by_dt(dist0 * n_gt, np.ones_like(dist0, bool))
    ratio = np.where(n_ctrl != 0, n_tg / np.where(n_ctrl != 0, n_ctrl, 1.0) * np.nan_to_num(never), 0.0)
    window = (t1 >= ell + 1) & (t1 <= Tg)
    dummy = (ell <= des.last - 1)[:, None]
    w = dummy * (G / N) * window * n_gt * (dist0 - ratio)
    w = np.where(np.isfinite(never) | np.isfinite(dist), w, 0.0)
    u = np.nansum(np.where(w != 0, w * diff, 0.0), 1)

    # cohort means and sizes for the variance
    dof_ns = (n_gt != 0) & np.isfinite(diff) & (np.nan_to_num(never) == 1) & (n_t[None, :] > 0)
    dof_s = (n_gt != 0) & (dist0 == 1)
    cl = np.repeat(des.cluster[:, None], T, 1).ravel()
    dn = np.nan_to_num(diff)
    mean_ns = by_dt(dn * n_gt, dof_ns) / np.where(dof_ns, by_dt(n_gt, dof_ns), np.nan)
    cnt_ns = _group_clusters(key_dt, cl, dof_ns.ravel()).reshape(G, T)
    either = dof_ns | dof_s
    mean_nss = by_dt(dn * n_gt, either) / np.where(either, by_dt(n_gt, either), np.nan)
    cnt_nss = _group_clusters(key_dt, cl, either.ravel()).reshape(G, T)
    key_s = np.stack(
        [
            np.repeat(des.d_sq[:, None], T, 1),
            np.repeat(des.first[:, None], T, 1),
            np.repeat(np.nan_to_num(des.d_first, nan=-1e300)[:, None], T, 1),
            (t1 == F - 1 + ell),
        ],
        -1,
    ).reshape(-1, 4)
    cnt_s = _group_clusters(key_s, cl, dof_s.ravel()).reshape(G, T)
    with np.errstate(divide="ignore", invalid="ignore"):
        num_s = _group_sum(key_s, (dn * n_gt).ravel(), dof_s.ravel())
        mean_s = (num_s / _group_sum(key_s, n_gt.ravel(), dof_s.ravel())).reshape(G, T)
        # controls: own cohort when it has 2+ clusters, else the pooled (d_sq, t) cohort when it has 2+
        e_ctrl = np.where(cnt_ns >= 2, mean_ns, np.where(cnt_nss >= 2, mean_nss, 0.0))
        f_ctrl = np.where(
            cnt_ns >= 2,
            np.sqrt(cnt_ns / (cnt_ns - 1)),
            np.where(cnt_nss >= 2, np.sqrt(cnt_nss / (cnt_nss - 1)), np.nan),
        )
        e_sw = np.where(cnt_s >= 2, mean_s, np.where(cnt_nss >= 2, mean_nss, np.nan))
        f_sw = np.where(
            cnt_s >= 2, np.sqrt(cnt_s / (cnt_s - 1)), np.where(cnt_nss >= 2, np.sqrt(cnt_nss / (cnt_nss - 1)), 1.0)
        )
    e_hat = np.where(dof_s, e_sw, np.where(dof_ns, e_ctrl, np.nan))
    dof = np.where(dof_s, f_sw, np.where(dof_ns, f_ctrl, np.nan))
    term = w * dof * (diff - e_hat)
    u_var = np.where(np.isfinite(term), term, 0.0).sum(1)
    delta = np.nan
    if not placebo:
        # the switchers' current treatment change at F_g-1+ℓ, signed so that it is positive (the
        # denominator of the average total effect, per period of exposure)
        signed = np.nan_to_num(np.where(des.increase[:, None] == 1, des.d - dsq, dsq - des.d))
        delta = float(np.sum(dist0 * n_gt * signed) / N)
    # each switcher's own comparison: its change minus the mean change of its controls in that period
    ctrl_mean = by_dt(np.nan_to_num(never) * n_gt * dn, np.isfinite(never)) / np.where(n_ctrl > 0, n_ctrl, np.nan)
    per_unit = {int(g): float(diff[g, t] - ctrl_mean[g, t]) for g, t in np.argwhere(dof_s)}
    return Piece(float(u.sum() / G), N, u, u_var, delta, per_unit)


def _drop_larger_lower(d: np.ndarray) -> np.ndarray:
    """Units whose treatment is at some period above and at another below their status quo (the
    reference drops them: their switch direction is not defined)."""
    seen = np.isfinite(d)
    d_sq = d[np.arange(d.shape[0]), seen.argmax(1)][:, None]
    return ~((d > d_sq).any(1) & (d < d_sq).any(1))


def _combine(pieces: dict[int, Piece], G: int) -> tuple[float, float, np.ndarray, np.ndarray]:
    """Switchers in and out pooled, weighted by their switcher counts; switchers out enter with
    their sign flipped (S_g), their variance influence as it is (as the reference)."""
    n = sum(p.n_switchers for p in pieces.values())
    u = sum(p.n_switchers / n * (p.u if inc == 1 else -p.u) for inc, p in pieces.items())
    u_var = sum(p.n_switchers / n * p.u_var for inc, p in pieces.items())
    return float(u.sum() / G), n, u, u_var


def _se(u_var: np.ndarray, cluster: np.ndarray, G: int) -> float:
    """sqrt(Σ_c (Σ_{g∈c} U_g)²) / G."""
    _, inv = np.unique(cluster, return_inverse=True)
    per = np.bincount(inv, weights=u_var)
    return float(np.sqrt(np.sum(per**2)) / G)


def dcdh_points(
    y: np.ndarray,
    d: np.ndarray,
    *,
    effects: int,
    placebo: int,
    switchers: str,
    cluster: np.ndarray | None = None,
    units: list[str] | None = None,
    times=None,
) -> dict:
    """Every estimate with its influence functions, from unit × period arrays."""
    units = units if units is not None else [str(i) for i in range(y.shape[0])]
    times = times if times is not None else np.arange(1, y.shape[1] + 1)
    keep = _drop_larger_lower(d)
    cl = None if cluster is None else np.asarray(cluster)[keep]
    des = design(y[keep], d[keep], [u for u, k in zip(units, keep) if k], times, cl)
    G = des.y.shape[0]
    directions = {"in": (1,), "out": (0,), "both": (1, 0)}[switchers]
    avail = [inc for inc in directions if (des.increase == inc).any()]
    out = {"G": G, "dropped_larger_lower": int((~keep).sum()), "effects": {}, "placebos": {}, "design": des}
    ate_parts = {}
    for inc in avail:
        lg = des.last - des.first + 1
        max_l = int(lg[des.increase == inc].max()) if (des.increase == inc).any() else 0
        pieces = {ell: _piece(des, ell, inc, False) for ell in range(1, min(effects, max_l) + 1)}
        pieces = {k: v for k, v in pieces.items() if v is not None}
        for ell, p in pieces.items():
            out["effects"].setdefault(ell, {})[inc] = p
        for ell in range(1, min(placebo, max(pieces, default=0)) + 1):
            p = _piece(des, ell, inc, True)
            if p is not None:
                out["placebos"].setdefault(ell, {})[inc] = p
        if pieces:
            total = sum(p.n_switchers for p in pieces.values())
            den = sum(p.n_switchers / total * p.delta for p in pieces.values())
            num = sum(p.n_switchers / total * p.u for p in pieces.values())
            num_var = sum(p.n_switchers / total * p.u_var for p in pieces.values())
            ate_parts[inc] = (total, den, num / den, num_var / den)
    if ate_parts:
        wsum = sum(t * den for t, den, _, _ in ate_parts.values())
        u = sum((t * den / wsum) * (uu if inc == 1 else -uu) for inc, (t, den, uu, _) in ate_parts.items())
        u_var = sum((t * den / wsum) * uv for inc, (t, den, _, uv) in ate_parts.items())
        out["average"] = (float(u.sum() / G), sum(t for t, *_ in ate_parts.values()), u, u_var)
    return out


def _rows_of(points: dict, switchers: str) -> list[tuple[str, str, int | None, float, float, np.ndarray]]:
    """(name, aggregation, event_time, estimate, n_switchers, variance influence) of every estimate.

    Effect ℓ is event time ℓ-1 (ℓ = 1 is the first period after the switch) and placebo ℓ event
    time -ℓ-1, both relative to F_g-1, so the rows line up with evalkit's other event studies."""
    G = points["G"]
    out = []
    for table, sign in ((points["effects"], 1), (points["placebos"], -1)):
        for ell in sorted(table):
            pieces = table[ell]
            e = ell - 1 if sign > 0 else -ell - 1
            est, n, _, u_var = _combine(pieces, G)
            out.append((f"dynamic:e={e}", "dynamic", e, est, n, u_var))
            if switchers == "both" and len(pieces) == 2:
                for inc, label in ((1, "in"), (0, "out")):
                    e_in, n_in, _, v_in = _combine({inc: pieces[inc]}, G)
                    out.append((f"{label}:dynamic:e={e}", f"dynamic_{label}", e, e_in, n_in, v_in))
    return out


def _unit_rows(points: dict, des: Design) -> list[dict]:
    """Each switcher's own effect (sign of "more treatment"), point only, for `extra["switchers"]`: with
    one to three councils behind an estimate, the reader should see whose change it is."""
    rows = []
    for table, sign in ((points["effects"], 1), (points["placebos"], -1)):
        for ell in sorted(table):
            e = ell - 1 if sign > 0 else -ell - 1
            for inc, piece in sorted(table[ell].items()):
                for g, value in sorted((piece.per_unit or {}).items()):
                    unit = des.units[g]
                    rows.append({"unit": unit, "event_time": e, "estimate": value if inc == 1 else -value})
    return rows


def dcdh(
    panel: LongPanel,
    *,
    effects: int = 5,
    placebo: int = 0,
    switchers: str = "both",
    alpha: float = DEFAULT_ALPHA,
    permutations: int = 0,
    seed: int = 0,
) -> Results:
    """DID_ℓ for ℓ = 1..`effects`, placebos 1..`placebo`, the average total effect, switchers in and
    out separately and pooled; with `permutations` > 0 also a randomisation interval per estimate
    (treatment paths permuted across units, the sharp null of a constant effect inverted)."""
    if switchers not in SWITCHERS:
        raise EvalkitError(f"switchers must be one of {', '.join(SWITCHERS)}, not {switchers!r}")
    y, units, times = panel.wide()
    d = treatment_wide(panel)
    pts = dcdh_points(y, d, effects=effects, placebo=placebo, switchers=switchers, units=units, times=times)
    des: Design = pts["design"]
    kinds = {
        "in": "switches in (its treatment rises from its first-period level)",
        "out": "switches out (its treatment falls from its first-period level)",
    }
    wanted = {"both": (1, 0), "in": (1,), "out": (0,)}[switchers]
    if not any((des.increase == inc).any() for inc in wanted):
        what = kinds[switchers] if switchers != "both" else "switches treatment"
        raise EvalkitError(f"no unit {what}: nothing for the switching estimator to estimate", column="treated")
    if not pts["effects"]:
        raise EvalkitError(
            "no switcher has a not-yet-switched unit with the same starting treatment to compare with",
            column="treated",
        )
    rows_spec = _rows_of(pts, switchers)
    if "average" in pts:
        est, n, _, u_var = pts["average"]
        rows_spec.append(("average", "average", None, est, n, u_var))
    G = pts["G"]
    rows = [
        normal_row(name, est, _se(u_var, des.cluster, G), alpha, aggregation=agg, event_time=e)
        for name, agg, e, est, n, u_var in rows_spec
    ]
    inference = {
        "se_type": "analytic, clustered by unit (cohort-demeaned influence functions, as did_multiplegt_dyn)",
        "alpha": alpha,
    }
    if permutations > 0:
        ri_rows, info = randomisation(
            y,
            d,
            [r[0] for r in rows_spec],
            effects=effects,
            placebo=placebo,
            switchers=switchers,
            n_perm=permutations,
            seed=seed,
            alpha=alpha,
        )
        rows += ri_rows
        inference["randomisation"] = info
    n_in = int(((des.increase == 1) & (des.first <= des.last)).sum())
    n_out = int(((des.increase == 0) & (des.first <= des.last)).sum())
    return Results(
        method="dcdh",
        outcome=panel.outcome,
        estimates=estimate_table(rows),
        inference=inference,
        diagnostics={
            "units": G,
            "units_dropped_above_and_below_status_quo": pts["dropped_larger_lower"],
            "switchers_in": n_in,
            "switchers_out": n_out,
            "switchers_out_units": [
                u for u, inc, f, t in zip(des.units, des.increase, des.first, des.last) if inc == 0 and f <= t
            ],
            "switchers_in_units": [
                u for u, inc, f, t in zip(des.units, des.increase, des.first, des.last) if inc == 1 and f <= t
            ],
            "switchers_per_effect": {r[0]: r[4] for r in rows_spec},
            "sign": "switchers out enter with their sign flipped: every estimate is the effect of more treatment",
        },
        options={
            "effects": effects,
            "placebo": placebo,
            "switchers": switchers,
            "alpha": alpha,
            "permutations": permutations,
            "seed": seed,
        },
        seed=seed if permutations > 0 else None,
        extra={
            "switchers": pl.DataFrame(
                _unit_rows(pts, des), schema={"unit": pl.Utf8, "event_time": pl.Int64, "estimate": pl.Float64}
            )
        },
    )


def _exposure(d: np.ndarray) -> np.ndarray:
    """(D_{F_g} - D_{g,1})·1{t ≥ F_g}: the size of each unit's first switch from that switch on."""
    G, T = d.shape
    seen = np.isfinite(d)
    d_sq = d[np.arange(G), seen.argmax(1)]
    changed = seen & (d != d_sq[:, None])
    first = np.where(changed.any(1), changed.argmax(1), T)
    size = np.where(changed.any(1), d[np.arange(G), np.minimum(first, T - 1)] - d_sq, 0.0)
    after = np.arange(T)[None, :] >= first[:, None]
    return np.where(seen, np.where(after, size[:, None], 0.0), np.nan)


def _statistic(y, d, names, **kw) -> np.ndarray:
    pts = dcdh_points(y, d, **kw)
    got = {r[0]: r[3] for r in _rows_of(pts, kw["switchers"])}
    if "average" in pts:
        got["average"] = pts["average"][0]
    return np.array([got.get(n, np.nan) for n in names])


def randomisation(
    y: np.ndarray,
    d: np.ndarray,
    names: list[str],
    *,
    effects: int,
    placebo: int,
    switchers: str,
    n_perm: int,
    seed: int,
    alpha: float,
) -> tuple[list[dict], dict]:
    """Permutation test of every estimate: whole treatment paths are reassigned across units.

    Sharp null: every unit's outcome moves by a constant τ0 from its first switch on, in the
    direction of that switch (E = (D_{F_g} - D_{g,1})·1{t ≥ F_g}), so Y(0) = Y - τ0·E. Each
    estimate is linear in the outcome, so T(Y - τ0·E) = T(Y) - τ0·T(E) for every permuted path
    from two evaluations; the interval is stated on the estimate's own scale (θ = τ0·T_obs(E),
    which is τ0 itself for every effect ℓ). Placebos do not move with τ0: they get a p-value only."""
    from evalkit.estimators.inference.inversion import invert

    kw = {"effects": effects, "placebo": placebo, "switchers": switchers}
    exposure = _exposure(d)
    a_obs = _statistic(y, d, names, **kw)
    b_obs = _statistic(exposure, d, names, **kw)
    rng = np.random.default_rng(seed)
    a_p, b_p = np.full((n_perm, len(names)), np.nan), np.full((n_perm, len(names)), np.nan)
    for k in range(n_perm):
        dp = d[rng.permutation(d.shape[0])]
        a_p[k] = _statistic(y, dp, names, **kw)
        b_p[k] = _statistic(exposure, dp, names, **kw)
    rows = []
    for j, name in enumerate(names):
        ok = np.isfinite(a_p[:, j]) & np.isfinite(b_p[:, j])
        if not np.isfinite(a_obs[j]) or ok.sum() < 2:
            continue
        aj, bj, m = a_p[ok, j], b_p[ok, j], int(ok.sum())

        def pfun(tau0: float, aj=aj, bj=bj, j=j, m=m) -> float:
            return float((1 + np.sum(np.abs(aj - tau0 * bj) >= np.abs(a_obs[j] - tau0 * b_obs[j]) - 1e-12)) / (1 + m))

        lo = hi = None
        if abs(b_obs[j]) > 1e-12:
            bo = b_obs[j]

            def ptheta(theta: float, pfun=pfun, bo=bo) -> float:
                return pfun(theta / bo)

            scale = max(float(np.std(aj)), 1e-8)
            lo, hi = invert(ptheta, a_obs[j], scale, alpha, -1), invert(ptheta, a_obs[j], scale, alpha, 1)
            lo, hi = (lo if np.isfinite(lo) else None), (hi if np.isfinite(hi) else None)
        base = name.split("dynamic:e=")
        rows.append(
            {
                "name": f"{name}:randomisation",
                "aggregation": "randomisation",
                "event_time": int(base[1]) if len(base) == 2 else None,
                "estimate": float(a_obs[j]),
                "ci_low": lo,
                "ci_high": hi,
                "p_value": pfun(0.0),
                "interval": "randomization",
            }
        )
    info = {
        "n_perm": n_perm,
        "permuted": "whole treatment paths across units",
        "ci": "inverts the sharp null of a constant effect from the first switch on, in its direction",
        "seed": seed,
        "min_attainable_p": 1 / (1 + n_perm),
    }
    return rows, info
