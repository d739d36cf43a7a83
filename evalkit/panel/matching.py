"""Matched in-house comparators for each treated council, and the balance they achieve.

For a council first treated in year g, each candidate (never treated, no other intervention) is
described by its means over the pre-treatment window g-3..g-1 of the matching variables; the
treated council by its own. Three ways to choose up to k comparators per treated council:

* ``method="mahalanobis"`` (default): nearest by Mahalanobis distance (covariance of the candidates'
  features in that window).
* ``method="propensity"``: one logistic regression pooled over all treated councils -- a row per
  treated council (y = 1, its own pre-window features) stacked with, for each treated council, a
  row per candidate (y = 0, the candidate's features in that treated council's window). Features are
  standardised, the fit is Newton-Raphson (numpy, no statsmodels); if it does not converge or the
  linear predictor diverges (|eta| > 30, i.e. (quasi-)complete separation, which is easy with few
  treated councils) it is refitted with a ridge penalty (lambda = 1 on the standardised slopes, the
  intercept unpenalised), and the summary says so. Distance = |logit(p_t) - logit(p_c)|.
* ``method="statistical_neighbours"``: the treated council's DfE statistical neighbours (the
  ``sn_model`` model, "2025" by default, falling back to the other model for a council the preferred
  one does not list) that are candidates, in DfE rank order. Neighbour codes are mapped to panel
  units with the panel's boundary policy (e.g. 940/941 -> unit 928 under "aggregate"); codes not in
  the panel, the treated council itself and non-candidates are skipped. Distance = the DfE rank
  (1-10); features are not needed to match, only for the balance table.

Options shared by all methods: ``k`` per treated council; ``replacement`` (False: treated councils
are processed in (cohort, code) order and a comparator already used is skipped); ``caliper``: a
maximum distance in the method's own units (Mahalanobis distance, logit-score difference, or DfE
rank), or ``"auto"`` for propensity only = 0.2 x the SD of the logit score over all stacked rows
(Austin 2011). Ties are broken by unit code, so results are deterministic.

Balance is the standardised mean difference (pooled-SD denominator) before matching (all
candidates with complete features) and after (the matched ones with complete features).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError
from evalkit.estimators.numeric.logit import newton_logit
from evalkit.io import write_parquet

VARIABLES = ["cla_rate_per_10000", "spend_csc_per_child", "ofsted_inadequate", "cin_rate_per_10000", "agency_rate_fte"]
WINDOW = 3
METHODS = ("mahalanobis", "propensity", "statistical_neighbours")
SN_MODELS = ("2025", "2021")
SN_FILE = "statistical_neighbours.parquet"
RIDGE = 1.0
DESCRIPTIONS = {
    "mahalanobis": "Mahalanobis nearest neighbours on pre-treatment means (window 3 years)",
    "propensity": "Nearest neighbours on the logit of a pooled propensity score (logistic regression on pre-treatment means, window 3 years)",
    "statistical_neighbours": "DfE children's services statistical neighbours that are candidates, in rank order",
}
MATCH_SCHEMA = {
    "treated_unit": pl.Utf8,
    "cohort": pl.Int64,
    "comparator_unit": pl.Utf8,
    "rank": pl.Int64,
    "distance": pl.Float64,
    "method": pl.Utf8,
}


def _features(frame: pl.DataFrame, units: list[str], g: int, variables: list[str]) -> pl.DataFrame:
    window = frame.filter(pl.col("unit_code").is_in(units), pl.col("year").is_between(g - WINDOW, g - 1))
    return window.group_by("unit_code").agg([pl.col(v).cast(pl.Float64).mean() for v in variables]).sort("unit_code")


def usable_variables(frame: pl.DataFrame) -> list[str]:
    """Matching variables the panel carries with data for most councils."""
    return [v for v in VARIABLES if v in frame.columns and frame[v].null_count() < 0.5 * frame.height]


def candidates(frame: pl.DataFrame) -> list[str]:
    pool = frame.filter(
        pl.col("ever_treated") == 0, ~pl.col("registry_roles").fill_null("").str.contains("other_intervention")
    )
    return sorted(pool["unit_code"].unique().to_list())


def _complete(feat: pl.DataFrame, variables: list[str]) -> pl.DataFrame:
    return feat.drop_nulls(variables) if variables else feat


# --- propensity score -------------------------------------------------------------------------


def fit_propensity(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, dict]:
    """Fit on standardised features; return (linear predictor = logit p, info about the fit)."""
    mean = x.mean(axis=0)
    sd = x.std(axis=0)
    keep = sd > 0
    z = (x[:, keep] - mean[keep]) / sd[keep]
    design = np.column_stack([np.ones(len(z)), z])
    beta, ok = newton_logit(design, y, ridge=0.0, tol=1e-9, max_eta=30.0)
    ridge = 0.0
    if not ok:
        ridge = RIDGE
        beta, ok = newton_logit(design, y, ridge=ridge, tol=1e-9, max_eta=30.0)
        if not ok:
            raise EvalkitError(
                "propensity model did not converge even with a ridge penalty", expected="more varied matching variables"
            )
    return design @ beta, {"ridge": ridge, "separation_fallback": ridge > 0}


# --- statistical neighbours -------------------------------------------------------------------


def neighbour_lists(
    neighbours: pl.DataFrame, panel_units: set[str], policy: str = "aggregate", sn_model: str = "2025"
) -> dict[str, tuple[str, list[tuple[str, int]]]]:
    """unit_code -> (model used, [(neighbour unit, DfE rank), ...] in rank order), as panel units.

    A unit made of several DfE codes (e.g. "314 / 318") takes each neighbour's best rank over them.
    """
    from evalkit.panel.boundaries import unit_of

    if sn_model not in SN_MODELS:
        raise EvalkitError(f"unknown statistical neighbours model {sn_model!r}", expected=" or ".join(SN_MODELS))
    if policy not in ("aggregate", "separate"):
        policy = "aggregate"
    rows = neighbours.select("model", "la_code", "neighbour_code", pl.col("rank").cast(pl.Int64)).drop_nulls()
    ranks: dict[str, dict[str, dict[str, int]]] = {}  # model -> unit -> neighbour unit -> best rank
    for model, la, nb, rank in rows.iter_rows():
        unit, nb_unit = unit_of(str(la).strip(), policy), unit_of(str(nb).strip(), policy)
        if unit not in panel_units or nb_unit not in panel_units or nb_unit == unit:
            continue
        best = ranks.setdefault(str(model), {}).setdefault(unit, {})
        best[nb_unit] = min(rank, best.get(nb_unit, rank))
    order = [sn_model] + [m for m in SN_MODELS if m != sn_model]
    out: dict[str, tuple[str, list[str]]] = {}
    for unit in panel_units:
        for model in order:
            if ranks.get(model, {}).get(unit):
                best = ranks[model][unit]
                out[unit] = (model, [(c, best[c]) for c in sorted(best, key=lambda c: (best[c], c))])
                break
    return out


# --- matching ---------------------------------------------------------------------------------


def nearest_neighbours(
    frame: pl.DataFrame,
    *,
    k: int = 3,
    replacement: bool = True,
    caliper: float | str | None = None,
    method: str = "mahalanobis",
    neighbours: pl.DataFrame | None = None,
    sn_model: str = "2025",
    info: dict | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Return (matches, balance) tables; see the module docstring for the methods.

    `neighbours` is the statistical_neighbours table (required for method="statistical_neighbours").
    `info`, if given, is filled with what was used (caliper value, propensity fit, SN models).
    """
    if method not in METHODS:
        raise EvalkitError(f"unknown matching method {method!r}", expected=" or ".join(METHODS))
    if k < 1:
        raise EvalkitError(f"matching k must be at least 1, got {k}")
    if caliper == "auto" and method != "propensity":
        raise EvalkitError(
            f"caliper 'auto' is defined only for the propensity method, not {method}", expected="a number"
        )
    if isinstance(caliper, str) and caliper != "auto":
        try:
            caliper = float(caliper)
        except ValueError:
            raise EvalkitError(f"caliper must be a number or 'auto', got {caliper!r}") from None
    info = {} if info is None else info
    variables = usable_variables(frame)
    pool = candidates(frame)
    treated = (
        frame.filter(pl.col("cohort") > 0)
        .group_by("unit_code")
        .agg(pl.col("cohort").first())
        .sort("cohort", "unit_code")
    )
    if method == "statistical_neighbours":
        if neighbours is None:
            raise EvalkitError("statistical neighbours method needs the statistical_neighbours table", file=SN_FILE)
        policy = (
            frame["boundary_policy"].drop_nulls()[0]
            if "boundary_policy" in frame.columns and frame["boundary_policy"].drop_nulls().len()
            else "aggregate"
        )
        sn = neighbour_lists(neighbours, set(frame["unit_code"].unique().to_list()), policy, sn_model)
        info["sn_model_used"] = {u: sn[u][0] for u in treated["unit_code"].to_list() if u in sn}

    # Per treated council: its features, its candidates' features, candidate codes and distances.
    windows = []
    for unit, g in treated.iter_rows():
        t_feat = _features(frame, [unit], g, variables)
        c_feat = _features(frame, pool, g, variables)
        t_ok = t_feat.height == 1 and (not variables or t_feat.select(variables).null_count().sum_horizontal()[0] == 0)
        windows.append((unit, int(g), t_feat, c_feat, t_ok))

    scores = None
    if method == "propensity":
        xs, ys, owner = [], [], []
        for i, (_, _, t_feat, c_feat, t_ok) in enumerate(windows):
            c_ok = _complete(c_feat, variables)
            if not t_ok or c_ok.height < 1:
                continue
            xs += [t_feat.select(variables).to_numpy(), c_ok.select(variables).to_numpy()]
            ys += [1.0] + [0.0] * c_ok.height
            owner += [(i, None)] + [(i, c) for c in c_ok["unit_code"].to_list()]
        scores = {}
        if xs and variables:
            eta, fit = fit_propensity(np.vstack(xs), np.array(ys))
            info["propensity"] = fit
            scores = dict(zip(owner, eta.tolist()))
            if caliper == "auto":
                caliper = 0.2 * float(np.std(eta, ddof=1)) if len(eta) > 1 else None
        elif caliper == "auto":
            caliper = None
    info["caliper_used"] = caliper

    used: set[str] = set()
    matches, before_t, before_c, after_c = [], [], [], []
    for i, (unit, g, t_feat, c_feat, t_ok) in enumerate(windows):
        c_ok = _complete(c_feat, variables)
        if method == "statistical_neighbours":
            pool_set = set(pool)
            listed = [(c, r) for c, r in sn.get(unit, ("", []))[1] if c in pool_set]
            codes = [c for c, _ in listed]
            dist = np.array([float(r) for _, r in listed])  # the DfE rank, 1 = closest
        else:
            if not t_ok or c_ok.height < 2 or not variables:
                continue
            codes = c_ok["unit_code"].to_list()
            if method == "mahalanobis":
                x_t = t_feat.select(variables).to_numpy()[0]
                x_c = c_ok.select(variables).to_numpy()
                inv = np.linalg.pinv(np.atleast_2d(np.cov(x_c, rowvar=False)))
                diff = x_c - x_t
                dist = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", diff, inv, diff), 0.0))
            else:
                if (i, None) not in scores:
                    continue
                s_t = scores[(i, None)]
                dist = np.array([abs(s_t - scores[(i, c)]) for c in codes])
        order = sorted(range(len(codes)), key=lambda j: (dist[j], codes[j]))  # ties broken by code
        chosen: list[int] = []
        for j in order:
            if not replacement and codes[j] in used:
                continue
            if caliper is not None and dist[j] > caliper:
                break
            chosen.append(j)
            if len(chosen) == k:
                break
        for rank, j in enumerate(chosen, start=1):
            used.add(codes[j])
            matches.append(
                {
                    "treated_unit": unit,
                    "cohort": g,
                    "comparator_unit": codes[j],
                    "rank": rank,
                    "distance": float(dist[j]),
                    "method": method,
                }
            )
        if t_ok and variables and c_ok.height:
            before_t.append(t_feat.select(variables).to_numpy()[0])
            before_c.append(c_ok.select(variables).to_numpy())
            picked = c_ok.filter(pl.col("unit_code").is_in([codes[j] for j in chosen]))
            if picked.height:
                after_c.append(picked.select(variables).to_numpy())
    balance = _balance(variables, before_t, before_c, after_c)
    return pl.DataFrame(matches, schema=MATCH_SCHEMA), balance


def _smd(t: np.ndarray, c: np.ndarray) -> float | None:
    if len(t) == 0 or len(c) == 0:
        return None
    pooled = np.sqrt((np.var(t, ddof=1 if len(t) > 1 else 0) + np.var(c, ddof=1 if len(c) > 1 else 0)) / 2)
    return float((t.mean() - c.mean()) / pooled) if pooled > 0 else 0.0


def _balance(variables: list[str], before_t: list, before_c: list, after_c: list) -> pl.DataFrame:
    rows = []
    t = np.array(before_t) if before_t else np.empty((0, len(variables)))
    c_all = np.vstack(before_c) if before_c else np.empty((0, len(variables)))
    c_after = np.vstack(after_c) if after_c else np.empty((0, len(variables)))
    for j, v in enumerate(variables):
        rows.append(
            {
                "variable": v,
                "smd_before": _smd(t[:, j], c_all[:, j]),
                "smd_after": _smd(t[:, j], c_after[:, j]),
                "treated_mean": float(t[:, j].mean()) if len(t) else None,
                "control_mean_before": float(c_all[:, j].mean()) if len(c_all) else None,
                "control_mean_after": float(c_after[:, j].mean()) if len(c_after) else None,
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "variable": pl.Utf8,
            "smd_before": pl.Float64,
            "smd_after": pl.Float64,
            "treated_mean": pl.Float64,
            "control_mean_before": pl.Float64,
            "control_mean_after": pl.Float64,
        },
    )


def match_and_write(
    frame: pl.DataFrame,
    processed: Path,
    *,
    method: str = "mahalanobis",
    k: int = 3,
    replacement: bool = True,
    caliper: float | str | None = None,
    sn_model: str = "2025",
) -> dict:
    """Match, write matches.parquet and balance.parquet to `processed`, and return a summary."""
    processed = Path(processed)
    neighbours = None
    if method == "statistical_neighbours":
        from evalkit import generations as gens

        path = (gens.current_dir(processed) or processed) / SN_FILE
        if not path.exists():
            raise EvalkitError(
                "statistical neighbours table not found; ingest the DfE statistical neighbours files first", file=path
            )
        neighbours = pl.read_parquet(path)
    info: dict = {}
    matches, balance = nearest_neighbours(
        frame,
        k=k,
        replacement=replacement,
        caliper=caliper,
        method=method,
        neighbours=neighbours,
        sn_model=sn_model,
        info=info,
    )
    write_parquet(processed / "matches.parquet", matches)
    write_parquet(processed / "balance.parquet", balance)
    options = {
        "method": method,
        "k": k,
        "replacement": replacement,
        "caliper": caliper,
        "caliper_used": info.get("caliper_used"),
    }
    if method == "statistical_neighbours":
        options["sn_model"] = sn_model
        options["sn_model_used"] = info.get("sn_model_used", {})
    if "propensity" in info:
        options["propensity_fit"] = info["propensity"]
    return {
        "method": method,
        "description": DESCRIPTIONS[method],
        "options": options,
        "variables": balance["variable"].to_list(),
        "treated_matched": matches["treated_unit"].n_unique(),
        "balance": balance.to_dicts(),
    }
