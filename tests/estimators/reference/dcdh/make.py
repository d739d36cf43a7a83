"""Reference numbers for evalkit.estimators.dcdh from two published implementations of
de Chaisemartin & D'Haultfœuille's did_multiplegt_dyn, each run in its own throwaway venv
(never part of evalkit's lock):

    python3.12 -m venv .ref-venv/exits-dyn && .ref-venv/exits-dyn/bin/pip install py-did-multiplegt-dyn==0.1.9 "polars<2"  # it calls pl.count()
    python3.12 -m venv .ref-venv/exits-mdd && .ref-venv/exits-mdd/bin/pip install moderndid==0.4.1
    .ref-venv/exits-dyn/bin/python tests/estimators/reference/dcdh/make.py dyn
    .ref-venv/exits-mdd/bin/python tests/estimators/reference/dcdh/make.py moderndid

Each run writes `<package>.json` beside this file: per case (data set, options), the effects,
placebos and average total effect with their standard errors and switcher counts, plus the
package versions. Run from the repository root (the data are read from ../shared/data/more).
"""

from __future__ import annotations

import importlib.metadata
import json
import sys
from pathlib import Path

import polars as pl

DATA = Path("../shared/data/more")
HERE = Path(__file__).parent

# name -> (file, outcome, group, time, treatment, effects, placebo, switchers, cluster)
CASES = {
    "sim_both": ("dcdh_sim_nonabsorbing.csv", "y", "id", "t", "D", 4, 3, "", None),
    "sim_in": ("dcdh_sim_nonabsorbing.csv", "y", "id", "t", "D", 4, 3, "in", None),
    "sim_out": ("dcdh_sim_nonabsorbing.csv", "y", "id", "t", "D", 4, 3, "out", None),
    "wagepan_both": ("wagepan.csv", "lwage", "nr", "year", "union", 5, 3, "", None),
    "wagepan_in": ("wagepan.csv", "lwage", "nr", "year", "union", 5, 3, "in", None),
    "wagepan_out": ("wagepan.csv", "lwage", "nr", "year", "union", 5, 3, "out", None),
    "favara": ("favara_imbs.csv", "Dl_vloans_b", "county", "year", "inter_bra", 8, 3, "", None),
}


def run_dyn(frame, y, g, t, d, effects, placebo, switchers, cluster):
    from did_multiplegt_dyn import DidMultiplegtDyn

    model = DidMultiplegtDyn(
        df=frame,
        outcome=y,
        group=g,
        time=t,
        treatment=d,
        effects=effects,
        placebo=placebo,
        switchers=switchers,
        cluster=cluster,
    )
    model.fit()
    res = model.result["did_multiplegt_dyn"]
    out = {"effects": {}, "placebos": {}}
    eff = res["Effects"]
    for i in range(eff.shape[0]):
        out["effects"][str(i + 1)] = _row(eff, i)
    pl_ = res.get("Placebos")
    if pl_ is not None:
        for i in range(pl_.shape[0]):
            out["placebos"][str(i + 1)] = _row(pl_, i)
    ate = res.get("ATE")
    if ate is not None:
        out["average"] = _row(ate, 0)
    return out


def _row(frame, i):
    import pandas as pd

    row = frame.iloc[i] if isinstance(frame, pd.DataFrame) else frame
    return {"estimate": float(row["Estimate"]), "se": float(row["SE"]), "switchers": float(row["Switchers"])}


def run_moderndid(frame, y, g, t, d, effects, placebo, switchers, cluster):
    from moderndid.didinter import did_multiplegt

    res = did_multiplegt(
        frame,
        yname=y,
        tname=t,
        idname=g,
        dname=d,
        effects=effects,
        placebo=placebo,
        switchers=switchers,
        cluster=cluster,
    )
    out = {"effects": {}, "placebos": {}}
    e = res.effects
    for k, h in enumerate(e.horizons):
        out["effects"][str(int(h))] = {
            "estimate": float(e.estimates[k]),
            "se": float(e.std_errors[k]),
            "switchers": float(e.n_switchers[k]),
        }
    if res.placebos is not None:
        p = res.placebos
        for k, h in enumerate(p.horizons):
            out["placebos"][str(abs(int(h)))] = {
                "estimate": float(p.estimates[k]),
                "se": float(p.std_errors[k]),
                "switchers": float(p.n_switchers[k]),
            }
    if res.ate is not None:
        out["average"] = {"estimate": float(res.ate.estimate), "se": float(res.ate.std_error)}
    return out


def main(which: str) -> None:
    runner, dist = {"dyn": (run_dyn, "py-did-multiplegt-dyn"), "moderndid": (run_moderndid, "moderndid")}[which]
    cases = {}
    for name, (file, y, g, t, d, effects, placebo, switchers, cluster) in CASES.items():
        frame = pl.read_csv(DATA / file, infer_schema_length=100000)
        cases[name] = {
            "file": file,
            "outcome": y,
            "group": g,
            "time": t,
            "treatment": d,
            "effects": effects,
            "placebo": placebo,
            "switchers": switchers or "both",
            "cluster": cluster,
            **runner(frame, y, g, t, d, effects, placebo, switchers, cluster),
        }
        print(name, "done", file=sys.stderr)
    versions = {p: importlib.metadata.version(p) for p in (dist, "polars", "numpy")}
    versions["python"] = sys.version.split()[0]
    doc = {"package": dist, "versions": versions, "cases": cases}
    (HERE / f"{which}.json").write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main(sys.argv[1])
