"""Pre-trend test and Rambachan & Roth (2023) style sensitivity of the first post-period effect.

Input is an event study (`callaway_santanna(..., base_period="universal")` or `sun_abraham`):
coefficients b_e relative to the reference period e = -1 (b_{-1} = 0) and their covariance
(`Results.extra["vcov_dynamic"]`). Write b_e = tau_e + delta_e with delta the bias from
differential trends; before treatment tau_e = 0, so b_pre estimates delta_pre. The target is
theta = tau_0 = b_0 - delta_0.

What is computed (a simple, conservative version of RR, not their optimal ARP/FLCI procedures):

* Relative magnitudes, Delta^RM(Mbar): |delta_0 - delta_{-1}| <= Mbar * max_s |delta_{s+1} - delta_s|
  over pre-period steps s = -K..-2 (the last step is 0 - delta_{-2}). The identified set is
  b_0 ± Mbar * m with m = max |Δb_pre|. Robust CI (Bonferroni, level >= 1 - alpha): an upper
  confidence bound m_U for m at level 1 - alpha/2 (sup-t band over the pre-period steps, by
  simulation from the estimated normal), and b_0 ± (Mbar * m_U + z_{1-alpha/4} se_0).
  Also returned: the "plug-in" interval b_0 ± (Mbar * m_hat + z_{1-alpha/2} se_0), which ignores
  the sampling error of m_hat and can under-cover when pre-trends are noisy.
* Smoothness, Delta^SD(M): |(delta_0 - delta_{-1}) - (delta_{-1} - delta_{-2})| <= M, i.e. the trend
  can change slope by at most M per period; with delta_{-1} = 0 this gives delta_0 in
  [-b_{-2} - M, -b_{-2} + M], so the identified set is c ± M with c = b_0 + b_{-2} (linear
  extrapolation of the last pre-period slope). CI: c ± (M + z_{1-alpha/2} se(c)), which covers every
  point of the identified set with probability >= 1 - alpha. The constraint is applied only at
  e = 0; pre-period second differences larger than M (which would refute Delta^SD) are reported,
  not used.

Limitations: only the first post-period effect; no conditional/hybrid tests, so intervals are
wider than RR's `HonestDiD` at the same M; normal approximation throughout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl
from scipy import stats

from evalkit.errors import EvalkitError
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
    stat = float(b @ np.linalg.pinv(v) @ b)
    df = int(np.linalg.matrix_rank(v))
    return {"statistic": stat, "df": df, "p_value": float(stats.chi2.sf(stat, df)), "tested": labels}


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


def _universal(res: Results) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if res.options.get("base_period", "universal") != "universal":
        raise EvalkitError("sensitivity bounds need event-study coefficients relative to e = -1: use base_period='universal'")
    e, beta, vcov = event_study(res)
    if 0 not in e or not ((e < -1).any()):
        raise EvalkitError("need the e = 0 coefficient and at least one pre-period before the reference (e = -2)")
    return e, beta, vcov


def relative_magnitude_bounds(res: Results, mbar: list[float] | tuple[float, ...] = (0.5, 1.0, 1.5, 2.0), *,
                              alpha: float = 0.05, draws: int = 20_000, seed: int = 20240101) -> pl.DataFrame:
    """Identified set and CIs for tau_0 when post-treatment trend breaks are at most Mbar times
    the largest pre-period one (see module docstring for the exact method)."""
    e, beta, vcov = _universal(res)
    i0 = int(np.nonzero(e == 0)[0][0])
    pre = np.nonzero(e <= -1)[0]  # ordered, ends at the reference
    diff = np.zeros((len(pre) - 1, len(e)))
    for r, (a, b) in enumerate(zip(pre[:-1], pre[1:])):
        diff[r, b], diff[r, a] = 1.0, -1.0
    d_hat, d_cov = diff @ beta, diff @ vcov @ diff.T
    m_hat = float(np.max(np.abs(d_hat)))
    m_up = _max_abs_upper(d_hat, d_cov, alpha / 2, draws, seed)
    se0 = float(np.sqrt(vcov[i0, i0]))
    z2, z4 = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(1 - alpha / 4)
    rows = [("relative_magnitude", float(m), beta[i0] - m * m_hat, beta[i0] + m * m_hat,
             beta[i0] - m * m_up - z4 * se0, beta[i0] + m * m_up + z4 * se0,
             beta[i0] - m * m_hat - z2 * se0, beta[i0] + m * m_hat + z2 * se0) for m in mbar]
    return _frame(rows)


def _max_abs_upper(d_hat: np.ndarray, d_cov: np.ndarray, level: float, draws: int, seed: int) -> float:
    """Upper confidence bound for max_k |d_k|: max_k (|d_hat_k| + c se_k), c the sup-t critical
    value of the joint normal at 1 - level (simulated)."""
    se = np.sqrt(np.maximum(np.diag(d_cov), 0))
    ok = se > 0
    if not ok.any():
        return float(np.max(np.abs(d_hat)))
    corr = d_cov[np.ix_(ok, ok)] / np.outer(se[ok], se[ok])
    z = np.random.default_rng(seed).multivariate_normal(np.zeros(ok.sum()), corr, size=draws, method="eigh")
    c = float(np.quantile(np.max(np.abs(z), axis=1), 1 - level))
    return float(np.max(np.abs(d_hat) + c * se))


def smoothness_bounds(res: Results, m: list[float] | tuple[float, ...] = (0.0, 0.01, 0.02, 0.05), *,
                      alpha: float = 0.05) -> pl.DataFrame:
    """Identified set and CI for tau_0 when the differential trend's slope changes by at most M
    per period (M = 0: linear extrapolation of the last pre-period slope)."""
    e, beta, vcov = _universal(res)
    i0, i2 = int(np.nonzero(e == 0)[0][0]), int(np.nonzero(e == -2)[0][0])
    a = np.zeros(len(e))
    a[i0], a[i2] = 1.0, 1.0
    c, se = float(a @ beta), float(np.sqrt(a @ vcov @ a))
    z = stats.norm.ppf(1 - alpha / 2)
    rows = [("smoothness", float(mm), c - mm, c + mm, c - mm - z * se, c + mm + z * se, None, None) for mm in m]
    return _frame(rows)


def _frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(rows, orient="row", schema={
        "restriction": pl.Utf8, "m": pl.Float64, "id_low": pl.Float64, "id_high": pl.Float64,
        "ci_low": pl.Float64, "ci_high": pl.Float64, "plugin_ci_low": pl.Float64, "plugin_ci_high": pl.Float64})


def breakdown_value(bounds: pl.DataFrame) -> float | None:
    """Smallest M (or Mbar) in `bounds` whose robust CI includes 0 (None if none does)."""
    hit = bounds.filter((pl.col("ci_low") <= 0) & (pl.col("ci_high") >= 0)).sort("m")
    return float(hit["m"][0]) if hit.height else None
