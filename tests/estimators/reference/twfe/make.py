"""Static TWFE (outcome on the treated-and-post dummy, unit and period fixed effects, SE clustered by
unit) on mpdta and on Prop 99, computed by pyfixest (a Python port of R fixest).

Two small-sample corrections are stored: fixest's default (ssc(adj = TRUE, fixef.K = "nested")),
which is the number R users see printed, and adj = FALSE (G/(G-1) only), evalkit's convention.

    python3 -m venv .ref-venv/pyfixest && .ref-venv/pyfixest/bin/pip install pyfixest==0.60.0
    .ref-venv/pyfixest/bin/python tests/estimators/reference/twfe/make.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pyfixest as pf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from provenance import block, shared_data, write  # noqa: E402


def fit(data: pd.DataFrame, y: str, unit: str, time: str, treated: str, r_call: str) -> dict:
    fml = f"{y} ~ {treated} | {unit} + {time}"
    default = pf.feols(fml, data=data, vcov={"CRV1": unit})
    plain = pf.feols(fml, data=data, vcov={"CRV1": unit}, ssc=pf.ssc(k_adj=False))
    return {
        "R": r_call,
        "pyfixest": f'feols("{fml}", vcov={{"CRV1": "{unit}"}})',
        "n_obs": int(default._N),
        "rows": [
            {
                "name": "coef",
                "estimate": float(default.coef().iloc[0]),
                "se": float(default.se().iloc[0]),
                "se_ssc_adj_false": float(plain.se().iloc[0]),
            }
        ],
    }


def main() -> None:
    shared = shared_data(sys.argv)
    mpdta_path = shared / "validation" / "mpdta.csv"
    prop99_path = shared / "validation" / "california_prop99.csv"
    mpdta = pd.read_csv(mpdta_path)
    mpdta["D"] = ((mpdta["first.treat"] > 0) & (mpdta["year"] >= mpdta["first.treat"])).astype(float)
    prop99 = pd.read_csv(prop99_path, sep=";")
    write(
        __file__,
        {
            "what": "Static TWFE with unit and period effects, CR1 by unit: mpdta (lemp) and Prop 99 (packs per capita)",
            "provenance": block(__file__, ["pyfixest", "pandas"], {"mpdta": mpdta_path, "prop99": prop99_path}),
            "specs": {
                "mpdta": fit(
                    mpdta,
                    "lemp",
                    "countyreal",
                    "year",
                    "D",
                    "fixest::feols(lemp ~ D | countyreal + year, cluster = ~countyreal, data = mpdta)",
                ),
                "prop99": fit(
                    prop99,
                    "PacksPerCapita",
                    "State",
                    "Year",
                    "treated",
                    "fixest::feols(PacksPerCapita ~ treated | State + Year, cluster = ~State, data = prop99)",
                ),
            },
        },
    )


if __name__ == "__main__":
    main()
