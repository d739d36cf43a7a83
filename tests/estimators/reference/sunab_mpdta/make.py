"""Sun & Abraham's cohort-by-event-time coefficients on mpdta (never-treated controls, reference
period e = -1), computed by pyfixest's saturated event study (R: fixest::sunab).

The interaction-weighted averages (evalkit's dynamic:e rows) are those of Callaway-Sant'Anna with a
universal base period, stored in reference/cs_mpdta (spec never_dr_universal).

    python3 -m venv .ref-venv/pyfixest && .ref-venv/pyfixest/bin/pip install pyfixest==0.60.0
    .ref-venv/pyfixest/bin/python tests/estimators/reference/sunab_mpdta/make.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pyfixest as pf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from provenance import block, shared_data, write  # noqa: E402

TERM = re.compile(r"rel_time::(-?[0-9.]+):first_treated_period::([0-9]+)")


def main() -> None:
    path = shared_data(sys.argv) / "validation" / "mpdta.csv"
    data = pd.read_csv(path).rename(columns={"first.treat": "g"})
    fit = pf.event_study(
        data,
        yname="lemp",
        idname="countyreal",
        tname="year",
        gname="g",
        estimator="saturated",
        att=False,
        cluster="countyreal",
    )
    rows = []
    for term, est, se in zip(fit.coef().index, fit.coef().to_numpy(), fit.se().to_numpy()):
        e, g = TERM.fullmatch(term).groups()
        rows.append(
            {"name": f"catt:g={int(g)},e={int(float(e))}", "term": term, "estimate": float(est), "se": float(se)}
        )
    rows.sort(key=lambda r: r["name"])
    write(
        __file__,
        {
            "what": "Sun-Abraham cohort x event-time ATTs on mpdta (lemp), never-treated controls, CR1 by county",
            "provenance": block(__file__, ["pyfixest", "pandas"], {"mpdta": path}),
            "specs": {
                "saturated": {
                    "R": "fixest::feols(lemp ~ sunab(first.treat, year) | countyreal + year, cluster = ~countyreal, data = mpdta)",
                    "pyfixest": 'event_study(..., estimator="saturated", att=False, cluster="countyreal")',
                    "rows": rows,
                }
            },
        },
    )


if __name__ == "__main__":
    main()
