"""Synthetic DiD and DiD on Prop 99 (California vs 38 states, 1970-1988 / 1989-2000), computed by
synthdid (a Python port of R synthdid) with its defaults.

The package rounds `att` to 5 decimals; the full-precision number is its per-period table
`att_info` (att_time weighted by att_wt), which is what is stored.

    python3 -m venv .ref-venv/synthdid && .ref-venv/synthdid/bin/pip install synthdid==0.10.1
    .ref-venv/synthdid/bin/python tests/estimators/reference/sdid_prop99/make.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from synthdid.synthdid import Synthdid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from provenance import block, shared_data, write  # noqa: E402

SPECS = {
    "sdid": ({}, "synthdid::synthdid_estimate(Y, N0, T0)"),
    "did": ({"did": True}, "synthdid::did_estimate(Y, N0, T0)"),
}


def main() -> None:
    path = shared_data(sys.argv) / "validation" / "california_prop99.csv"
    data = pd.read_csv(path, sep=";")
    specs = {}
    for spec, (options, r_call) in SPECS.items():
        fit = Synthdid(data, unit="State", time="Year", treatment="treated", outcome="PacksPerCapita").fit(**options)
        info = fit.att_info
        att = float(np.dot(info["att_time"], info["att_wt"]) / info["att_wt"].sum())
        specs[spec] = {
            "R": r_call,
            "synthdid_options": options,
            "rows": [{"name": "att", "estimate": att, "estimate_printed": float(fit.att)}],
        }
    write(
        __file__,
        {
            "what": "SDID and DiD ATT of Prop 99 on cigarette packs per capita (AAHIW 2021 Table 1: -15.6, -27.3)",
            "provenance": block(__file__, ["synthdid", "pandas", "numpy"], {"prop99": path}),
            "specs": specs,
        },
    )


if __name__ == "__main__":
    main()
