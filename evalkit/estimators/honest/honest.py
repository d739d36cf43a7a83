"""Pre-trend test and Rambachan & Roth (2023) sensitivity of an event study to parallel-trends violations.

Input: an event study, coefficients b_e relative to the reference e = -1 and their covariance
(`Results.extra["vcov_dynamic"]`, from CS with base_period="universal", Sun-Abraham or the TWFE
event study). Write b_e = tau_e + delta_e with delta the differential trend; tau_e = 0 before
treatment. The target theta is l' tau_post: the first post-period effect (l = e1, HonestDiD's
default) or the average of the post periods.

* Smoothness, Delta^SD(M): the slope of delta changes by at most M between consecutive periods;
  optimal fixed-length confidence interval (`honest_flci`).
* Relative magnitudes, Delta^RM(Mbar): every post-period step of delta is at most Mbar times the
  largest pre-period step; ARP conditional least-favourable hybrid test inverted over a grid
  (`honest_arp`).
* Breakdown: the smallest M (or Mbar) at which the robust interval first includes 0.

Checked against the HonestDiD package's documented Medicaid example
(tests/estimators/reference/honestdid_ehec.json).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from evalkit.errors import EvalkitError
from evalkit.estimators.honest.arp import RMProblem
from evalkit.estimators.honest.flci import flci_sd
from evalkit.estimators.results import Results


def event_study(res: Results) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event times, coefficients and covariance of an event study in `res` (components
    "dynamic:e=…" and extra["vcov_dynamic"]), with the reference e = -1 included as 0."""
    if "vcov_dynamic" not in res.extra:
        raise EvalkitError(f"{res.method} results carry no event-study covariance (extra['vcov_dynamic'])")
    vf = res.extra["vcov_dynamic"]
    e = vf["event_time"].to_numpy()
    vcov = vf.select([f"e={k}" for k in e]).to_numpy()
    beta = np.array([res.estimate(f"dynamic:e={k}")["estimate"] for k in e])
    if -1 not in e:
        e, beta = np.append(e, -1), np.append(beta, 0.0)
        vcov = np.pad(vcov, ((0, 1), (0, 1)))
    order = np.argsort(e)
    return e[order], beta[order], vcov[np.ix_(order, order)]


def wald(b: np.ndarray, v: np.ndarray) -> dict[str, Any] | None:
    """The one Wald pre-trend computation: W = b' V^+ b against chi2(rank V); None when V has rank 0.

    A diagnostic only where few treated units carry an event time (their analytic variance is near zero
    and the test over-rejects badly); the verdicts use the permutation test (analysis.intervals)."""
    rank = int(np.linalg.matrix_rank(v))
    if rank == 0:
        return None
    w = float(b @ np.linalg.pinv(v) @ b)
    return {"statistic": w, "df": rank, "p_value": float(stats.chi2.sf(w, rank))}


def pretrend_test(res: Results, *, level: str = "dynamic") -> dict[str, Any]:
    """Joint Wald test that all pre-treatment coefficients are zero (chi-squared with as many
    degrees of freedom as the rank of their covariance). `level="dynamic"` tests the event-study
    coefficients e < 0; `level="att_gt"` (Callaway-Sant'Anna only) the pre-treatment ATT(g,t),
    t < g, as R `did`'s att_gt pre-test (with analytic covariance)."""
    if level == "att_gt":
        b, v, labels = _att_gt_pre(res)
    elif level == "dynamic":
        e, beta, vcov = event_study(res)
        pre = (e < 0) & (np.diag(vcov) > 1e-14)
        b, v, labels = beta[pre], vcov[np.ix_(pre, pre)], [int(k) for k in e[pre]]
    else:
        raise EvalkitError(f"level must be 'dynamic' or 'att_gt', not {level!r}")
    if len(b) == 0:
        raise EvalkitError("no pre-treatment coefficient to test")
    test = wald(b, v)
    if test is None:
        raise EvalkitError("the pre-treatment coefficients have no variance: no Wald test")
    return {**test, "tested": labels}


def _att_gt_pre(res: Results) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if "vcov_att_gt" not in res.extra:
        raise EvalkitError(f"{res.method} results carry no ATT(g,t) covariance (extra['vcov_att_gt'])")
    vf = res.extra["vcov_att_gt"]
    names = [f"g={g},t={t}" for g, t in zip(vf["group"], vf["time"])]
    pre = [k for k, (g, t) in enumerate(zip(vf["group"], vf["time"])) if t < g]
    vcov = vf.select(names).to_numpy()[np.ix_(pre, pre)]
    keep = [i for i in range(len(pre)) if vcov[i, i] > 1e-14]
    beta = np.array([res.estimate(f"att_gt:{names[pre[i]]}")["estimate"] for i in keep])
    return beta, vcov[np.ix_(keep, keep)], [names[pre[i]] for i in keep]


@dataclass(frozen=True)
class EventStudy:
    """Coefficients and covariance in HonestDiD's layout: pre-periods e = -K-1..-2, then post
    e = 0..T-1, the reference e = -1 left out."""

    event_times: tuple[int, ...]
    betahat: np.ndarray
    sigma: np.ndarray
    num_pre: int
    num_post: int

    def l_vec(self, target: str) -> np.ndarray:
        if target == "first":
            return np.eye(self.num_post)[0]
        if target == "average":
            return np.full(self.num_post, 1.0 / self.num_post)
        raise EvalkitError(f"sensitivity target must be 'first' or 'average', not {target!r}")


def honest_event_study(res: Results) -> EventStudy:
    """The event study of `res` ready for sensitivity analysis: consecutive event times, at least one
    pre-period before the reference and one post-period (refused otherwise, with the reason)."""
    if res.options.get("base_period", "universal") != "universal":
        raise EvalkitError(
            "sensitivity bounds need event-study coefficients relative to e = -1: use base_period='universal'"
        )
    e, beta, vcov = event_study(res)
    keep = (e != -1) & np.isfinite(beta)
    e, beta, vcov = e[keep], beta[keep], vcov[np.ix_(keep, keep)]
    pre, post = e[e < -1], e[e >= 0]
    if len(pre) == 0 or len(post) == 0:
        raise EvalkitError("sensitivity needs at least one pre-period coefficient before e = -1 and one from e = 0")
    if not (np.array_equal(pre, np.arange(pre.min(), -1)) and np.array_equal(post, np.arange(0, post.max() + 1))):
        raise EvalkitError(f"sensitivity needs consecutive event times around e = -1; got {[int(k) for k in e]}")
    if np.any(np.diag(vcov) <= 0):
        raise EvalkitError("an event-study coefficient has no variance: cannot bound its sensitivity")
    return EventStudy(tuple(int(k) for k in e), beta, vcov, len(pre), len(post))


def with_draws_covariance(es: EventStudy, names: list[str], draws: np.ndarray) -> EventStudy:
    """The event study with the covariance of its coefficients over resampled draws (B x len(names), e.g.
    estimates under permuted adoption dates): valid with few treated units, where the analytic one is far
    too small at event times resting on one unit. Draws with a missing coefficient are dropped."""
    col = {n: i for i, n in enumerate(names)}
    need = [f"dynamic:e={k}" for k in es.event_times]
    missing = [n for n in need if n not in col]
    if missing:
        raise EvalkitError(f"the resampling draws lack {missing[0]!r}: no resampled covariance for the event study")
    d = np.asarray(draws, dtype=float)[:, [col[n] for n in need]]
    d = d[np.all(np.isfinite(d), axis=1)]
    if d.shape[0] < 2 * len(need):
        raise EvalkitError(f"{d.shape[0]} complete draws are too few for a {len(need)}-coefficient covariance")
    sigma = np.atleast_2d(np.cov(d, rowvar=False, ddof=1))
    if np.any(np.diag(sigma) <= 0):
        raise EvalkitError("an event-study coefficient does not vary over the draws: no resampled covariance")
    return EventStudy(es.event_times, es.betahat, sigma, es.num_pre, es.num_post)


def original_interval(es: EventStudy, target: str = "first", alpha: float = 0.05) -> tuple[float, float, float]:
    """Estimate and conventional normal interval for the target (what the sensitivity starts from)."""
    lv = es.l_vec(target)
    est = float(lv @ es.betahat[es.num_pre :])
    se = float(np.sqrt(lv @ es.sigma[es.num_pre :, es.num_pre :] @ lv))
    z = stats.norm.ppf(1 - alpha / 2)
    return est, est - z * se, est + z * se


def smoothness_sensitivity(
    es: EventStudy, m: Sequence[float], *, target: str = "first", alpha: float = 0.05
) -> pl.DataFrame:
    """Optimal FLCI under Delta^SD(M) for each M."""
    lv = es.l_vec(target)
    rows = []
    for mm in m:
        if mm < 0:
            raise EvalkitError(f"M must be >= 0, not {mm}")
        f = flci_sd(es.betahat, es.sigma, es.num_pre, es.num_post, float(mm), l_vec=lv, alpha=alpha)
        rows.append(("sd", float(mm), None, None, f.ci_low, f.ci_high))
    return _frame(rows)


def relative_magnitude_sensitivity(
    es: EventStudy, mbar: Sequence[float], *, target: str = "first", alpha: float = 0.05, grid_points: int = 1000
) -> pl.DataFrame:
    """ARP hybrid confidence set (and identified set) under Delta^RM(Mbar) for each Mbar."""
    prob = RMProblem(es.betahat, es.sigma, es.num_pre, es.num_post, es.l_vec(target), alpha=alpha)
    rows = []
    for mb in mbar:
        if mb < 0:
            raise EvalkitError(f"Mbar must be >= 0, not {mb}")
        lo, hi = prob.confidence_interval(float(mb), grid_points)
        id_lo, id_hi = prob.identified_set(float(mb))
        rows.append(("rm", float(mb), id_lo, id_hi, lo, hi))
    return _frame(rows)


def rm_breakdown(es: EventStudy, *, target: str = "first", alpha: float = 0.05, upper: float = 10.0) -> float | None:
    """Smallest Mbar (to 0.001) at which theta = 0 is no longer rejected; None if beyond `upper`."""
    prob = RMProblem(es.betahat, es.sigma, es.num_pre, es.num_post, es.l_vec(target), alpha=alpha)
    return prob.breakdown(upper=upper)


def sd_breakdown(es: EventStudy, *, target: str = "first", alpha: float = 0.05) -> float | None:
    """Smallest M at which the FLCI first includes 0 (relative precision 1e-3); None if never."""
    lv = es.l_vec(target)

    def covers(mm: float) -> bool:
        f = flci_sd(es.betahat, es.sigma, es.num_pre, es.num_post, mm, l_vec=lv, alpha=alpha)
        return f.ci_low <= 0 <= f.ci_high

    if covers(0.0):
        return 0.0
    hi = float(np.sqrt(lv @ es.sigma[es.num_pre :, es.num_pre :] @ lv))
    for _ in range(60):
        if covers(hi):
            break
        hi *= 2
    else:
        return None
    lo = 0.0
    while hi - lo > 1e-3 * hi:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if covers(mid) else (mid, hi)
    return hi


def _frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        orient="row",
        schema={
            "restriction": pl.Utf8,
            "m": pl.Float64,
            "id_low": pl.Float64,
            "id_high": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
        },
    )
