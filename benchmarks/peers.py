"""Peer-package runner for `run_all.py --peers`: run ONE estimation with a peer package and print JSON.

Executed with the peer venv's python (benchmarks/.peer-venv/bin/python), never with evalkit's; it
imports nothing from evalkit. The parent process times the whole subprocess and reads its peak RSS;
this script reports the seconds spent in the estimation call itself (data loading and imports
excluded) and the headline estimate, so the two can be compared with evalkit's.

    python benchmarks/peers.py TASK DATA_FILE [--biters 999] [--aggregations simple|all]

Tasks
  csdid_sim / differences_sim      CS, never treated, DR with covariates x0 + x1, `biters` multiplier
                                   bootstrap draws, simple aggregation; DATA_FILE is the simulated
                                   panel written by run_all.py (id, period, y, first, x0, x1).
  csdid_mpdta / differences_mpdta  CS on mpdta: never treated, DR with ~lpop, `biters` draws, simple.
  csdid_dfhet / differences_dfhet / moderndid_dfhet
                                   CS on a df_het-shaped panel (unit, year, dep_var, g): never treated,
                                   DR without covariates, `biters` draws (bench_process.py).
  pysyncon_prop99                  ADH synthetic control for California (nested V by Nelder-Mead,
                                   pysyncon's default), predictors = each pre-1989 outcome (the
                                   evalkit default), ATT = mean gap 1989-2000. One fit, no placebos.
  versions                         installed versions of the peer packages.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

warnings.filterwarnings("ignore")


def _scalar(x) -> float:
    import numpy as np

    return float(np.asarray(x, dtype=float).ravel()[0])


def _csdid(df, *, y: str, t: str, i: str, g: str, xformla: str | None, biters: int, aggs: str) -> dict:
    from csdid.att_gt import ATTgt

    start = time.perf_counter()
    att = ATTgt(
        yname=y, tname=t, idname=i, gname=g, data=df, control_group=["nevertreated"], xformla=xformla, biters=biters
    )
    att.fit(est_method="dr", bstrap=biters > 0)
    att.aggte(typec="simple", bstrap=biters > 0, biters=biters)
    simple = att.atte
    if aggs == "all":  # the other three aggregations evalkit always computes
        for typec in ("group", "dynamic", "calendar"):
            att.aggte(typec=typec, bstrap=biters > 0, biters=biters)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "estimate": _scalar(simple["overall_att"]), "se": _scalar(simple["overall_se"])}


def _differences(df, *, y: str, t: str, i: str, g: str, covs: list[str], biters: int, aggs: str) -> dict:
    import numpy as np
    from differences import ATTgt

    data = df.copy()
    data[g] = data[g].astype(float).where(data[g] > 0, np.nan)  # never treated = NaN in `differences`
    data = data.set_index([i, t])
    formula = f"{y} ~ {' + '.join(covs)}" if covs else y
    start = time.perf_counter()
    att = ATTgt(data=data, cohort_column=g)
    att.fit(
        formula,
        est_method="dr",
        control_group="never_treated",
        boot_iterations=biters,
        random_state=1,
        progress_bar=False,
    )
    agg = att.aggregate("simple", boot_iterations=biters, random_state=1)
    if aggs == "all":  # the other three aggregations evalkit always computes
        for kind in ("cohort", "event", "time"):
            att.aggregate(kind, boot_iterations=biters, random_state=1)
    seconds = time.perf_counter() - start
    row = agg.iloc[0]
    # columns are a MultiIndex like ('simple', 'ATT') / ('simple', 'std_error') in recent releases
    est = next(float(row[c]) for c in agg.columns if "ATT" in str(c))
    se = next((float(row[c]) for c in agg.columns if "std_error" in str(c)), float("nan"))
    return {"seconds": seconds, "estimate": est, "se": se}


def _moderndid(df, *, y: str, t: str, i: str, g: str, covs: list[str], biters: int, aggs: str) -> dict:
    import moderndid

    xformla = "~" + " + ".join(covs) if covs else None
    start = time.perf_counter()
    mp = moderndid.att_gt(
        data=df,
        yname=y,
        tname=t,
        idname=i,
        gname=g,  # never treated = 0, as R's did
        xformla=xformla,
        est_method="dr",
        control_group="nevertreated",
        boot=biters > 0,
        biters=biters,
        random_state=1,
    )
    simple = moderndid.aggte(mp, type="simple")
    if aggs == "all":  # the other three aggregations evalkit always computes
        for kind in ("group", "dynamic", "calendar"):
            moderndid.aggte(mp, type=kind)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "estimate": _scalar(simple.overall_att), "se": _scalar(simple.overall_se)}


def _pysyncon(path: str) -> dict:
    import pandas as pd
    from pysyncon import Dataprep, Synth

    df = pd.read_csv(path, sep=";")
    treated_year = int(df.loc[df["treated"] == 1, "Year"].min())
    pre = sorted(int(y) for y in df["Year"].unique() if y < treated_year)
    post = sorted(int(y) for y in df["Year"].unique() if y >= treated_year)
    treated_unit = df.loc[df["treated"] == 1, "State"].iloc[0]
    controls = sorted(s for s in df["State"].unique() if s != treated_unit)
    start = time.perf_counter()
    dp = Dataprep(
        foo=df,
        predictors=[],
        predictors_op="mean",
        dependent="PacksPerCapita",
        unit_variable="State",
        time_variable="Year",
        treatment_identifier=treated_unit,
        controls_identifier=controls,
        time_predictors_prior=pre,
        time_optimize_ssr=pre,
        special_predictors=[("PacksPerCapita", [yr], "mean") for yr in pre],
    )
    synth = Synth()
    synth.fit(dataprep=dp, optim_method="Nelder-Mead", optim_initial="equal")
    att = synth.att(time_period=post)
    seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "estimate": float(att["att"]),
        "loss_V": float(synth.loss_V),
        "weights": {str(k): round(float(v), 4) for k, v in synth.W.items() if abs(v) > 1e-3}
        if hasattr(synth.W, "items")
        else None,
    }


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("csdid", "drdid", "differences", "moderndid", "pysyncon", "numpy", "pandas", "scipy"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("task")
    ap.add_argument("data", nargs="?")
    ap.add_argument("--biters", type=int, default=999)
    ap.add_argument(
        "--aggregations",
        choices=("simple", "all"),
        default="simple",
        help="CS: the simple aggregation only, or also group/dynamic/calendar (as evalkit does)",
    )
    a = ap.parse_args()
    if a.task == "versions":
        print(json.dumps(_versions()))
        return
    import pandas as pd

    # the peers print summaries and progress bars: keep stdout for the one JSON line
    real_stdout = sys.stdout
    sys.stdout = sys.stderr
    if a.task.endswith("_sim"):
        df = pd.read_csv(a.data)
        kw = dict(y="y", t="period", i="id", g="first", biters=a.biters, aggs=a.aggregations)
        covs = ["x0", "x1"]
    elif a.task.endswith("_mpdta"):
        df = pd.read_csv(a.data)
        kw = dict(y="lemp", t="year", i="countyreal", g="first.treat", biters=a.biters, aggs=a.aggregations)
        covs = ["lpop"]
    elif a.task.endswith("_dfhet"):
        df = pd.read_csv(a.data)
        kw = dict(y="dep_var", t="year", i="unit", g="g", biters=a.biters, aggs=a.aggregations)
        covs = []
    else:
        df = None
    if a.task.startswith("csdid_"):
        out = _csdid(df, xformla="~" + " + ".join(covs) if covs else None, **kw)
    elif a.task.startswith("differences_"):
        out = _differences(df, covs=covs, **kw)
    elif a.task.startswith("moderndid_"):
        out = _moderndid(df, covs=covs, **kw)
    elif a.task == "pysyncon_prop99":
        out = _pysyncon(a.data)
    else:
        sys.exit(f"unknown task {a.task!r}")
    print(json.dumps(out), file=real_stdout)


if __name__ == "__main__":
    main()
