"""Borusyak-Jaravel-Spiess imputation on mpdta, computed as Wooldridge's extended TWFE by moderndid.

With no covariates and not-yet-treated controls, the ETWFE cohort-by-period coefficients are the
imputation estimates (Wooldridge 2021, Borusyak et al. 2024), and emfx's simple, event and group
averages weight treated observations as imputation's aggregations do. So the point estimates are
an independent computation of evalkit's imputation; the standard errors are not (ETWFE's delta
method vs BJS's conservative variance) and are stored for the record only.

Run in a throwaway venv (moderndid needs Python >= 3.12; etwfe needs pyfixest), never the project's:

    python3.12 -m venv .ref-venv/moderndid
    .ref-venv/moderndid/bin/pip install moderndid==0.4.1 pyfixest==0.60.0
    .ref-venv/moderndid/bin/python tests/estimators/reference/imputation_mpdta/make.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import moderndid as md
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from provenance import block, shared_data, write  # noqa: E402

# emfx type -> evalkit's row-name prefix and key, and the name of the overall row
AGGREGATIONS = {"event": ("dynamic", "e", "dynamic"), "group": ("group", "g", None)}


def main() -> None:
    path = shared_data(sys.argv) / "validation" / "mpdta.csv"
    res = md.etwfe(
        pl.read_csv(path), yname="lemp", tname="year", gname="first.treat", idname="countyreal", cgroup="notyet"
    )
    simple = md.emfx(res, type="simple")
    rows = [{"name": "simple", "estimate": float(simple.overall_att), "se_etwfe": float(simple.overall_se)}]
    for kind, (prefix, key, overall) in AGGREGATIONS.items():
        agg = md.emfx(res, type=kind)
        for k, a, s in zip(agg.event_times, agg.att_by_event, agg.se_by_event):
            rows.append({"name": f"{prefix}:{key}={int(k)}", "estimate": float(a), "se_etwfe": float(s)})
        if overall:
            rows.append({"name": overall, "estimate": float(agg.overall_att), "se_etwfe": float(agg.overall_se)})
    write(
        __file__,
        {
            "what": "Imputation (BJS) ATTs on mpdta (lemp), as ETWFE with not-yet-treated controls; "
            "se_etwfe is ETWFE's delta-method SE, not comparable with BJS's",
            "provenance": block(__file__, ["moderndid", "pyfixest", "polars"], {"mpdta": path}),
            "specs": {
                "etwfe_notyet": {
                    "R": 'etwfe::etwfe(lemp ~ 0, tvar = year, gvar = first.treat, ivar = countyreal, data = mpdta, cgroup = "notyet") |> etwfe::emfx(type = ...)',
                    "rows": rows,
                }
            },
        },
    )


if __name__ == "__main__":
    main()
