"""Callaway & Sant'Anna on mpdta, computed by moderndid (a Python port of R `did` that reproduces its
documented mpdta output), in evalkit's row names.

Run in a throwaway venv (moderndid needs Python >= 3.12), never the project's:

    python3.12 -m venv .peer-venv && .peer-venv/bin/pip install moderndid==0.4.1
    .peer-venv/bin/python tests/estimators/reference/cs_mpdta/make.py [SHARED_DATA_DIR]

Each spec is one R `did` call, written beside it; analytic standard errors (bootstrap off).
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import moderndid as md
import numpy as np
import polars as pl
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from provenance import block, shared_data, write  # noqa: E402

SPECS = {
    "never_dr": ({}, 'att_gt(yname="lemp", tname="year", idname="countyreal", gname="first.treat", data=mpdta)'),
    "never_dr_lpop": ({"xformla": "~lpop"}, "... , xformla = ~lpop, est_method = 'dr')"),
    "notyet_dr": ({"control_group": "notyettreated"}, '... , control_group = "notyettreated")'),
    "never_dr_universal": ({"base_period": "universal"}, '... , base_period = "universal")'),
}
AGGREGATIONS = {"group": "g", "dynamic": "e", "calendar": "t"}


def _num(x) -> float | None:
    x = float(x)
    return None if math.isnan(x) else x


def rows(res) -> list[dict]:
    out = [
        {"name": f"att_gt:g={int(g)},t={int(t)}", "estimate": _num(a), "se": _num(s)}
        for g, t, a, s in zip(res.groups, res.times, res.att_gt, res.se_gt)
    ]
    simple = md.aggte(res, type="simple", boot=False, cband=False)
    out.append({"name": "simple", "estimate": _num(simple.overall_att), "se": _num(simple.overall_se)})
    for kind, key in AGGREGATIONS.items():
        agg = md.aggte(res, type=kind, boot=False, cband=False)
        for k, a, s in zip(agg.event_times, agg.att_by_event, agg.se_by_event):
            out.append({"name": f"{kind}:{key}={int(k)}", "estimate": _num(a), "se": _num(s)})
        out.append({"name": kind, "estimate": _num(agg.overall_att), "se": _num(agg.overall_se)})
    return out


def main() -> None:
    path = shared_data(sys.argv) / "validation" / "mpdta.csv"
    data = pl.read_csv(path)
    specs = {}
    for spec, (options, r_call) in SPECS.items():
        res = md.att_gt(
            data,
            yname="lemp",
            tname="year",
            idname="countyreal",
            gname="first.treat",
            boot=False,
            cband=False,
            **options,
        )
        se = np.asarray(res.se_gt, dtype=float)
        df = int(np.sum((np.asarray(res.times) < np.asarray(res.groups)) & np.isfinite(se) & (se > 0)))
        specs[spec] = {
            "R": r_call,
            "moderndid_options": options,
            "pretest": {
                "statistic": _num(res.wald_stat),
                "df": df,
                "p_value": float(stats.chi2.sf(res.wald_stat, df)) if res.wald_stat is not None else None,
                "p_value_printed": _num(res.wald_pvalue) if res.wald_pvalue is not None else None,
            },
            "rows": rows(res),
        }
    write(
        __file__,
        {
            "what": "Callaway-Sant'Anna ATT(g,t) and aggte aggregations on mpdta (lemp; county, year, first.treat)",
            "provenance": block(__file__, ["moderndid", "numpy", "scipy", "polars"], {"mpdta": path}),
            "specs": specs,
        },
    )


if __name__ == "__main__":
    main()
