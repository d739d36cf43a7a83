"""Reference numbers for the Dette & Schumann (2024) pre-trend equivalence tests, from the `equitrends`
package (Python port of the authors' EquiTrends; AGPL, so it is run here in a throwaway venv and never
installed with evalkit, and none of its code is copied).

Run (from the repository root, with ../shared/data beside it):
    python3 -m venv /tmp/inf-evidence-ref && /tmp/inf-evidence-ref/bin/pip install equitrends==0.1.1
    /tmp/inf-evidence-ref/bin/python tests/estimators/reference/equitrends/make.py
Writes equitrends.json beside this file: for each example, the placebo coefficients and their covariance
as equitrends estimates them (two-way fixed-effects placebo regression) and the smallest equivalence
thresholds of its maximum (intersection-union) and mean tests. evalkit's tests feed the same
coefficients and covariance to evalkit.estimators.pretrend_evidence and compare the thresholds.
"""

from __future__ import annotations

import json
from pathlib import Path

import equitrends
import pandas as pd

SHARED = Path(__file__).resolve().parents[4].parent / "shared" / "data"


def run(name: str, panel: pd.DataFrame, pre: list[int], base: int, vcov: str | None) -> dict:
    kw = dict(data=panel, y="Y", id="ID", g="G", period="period", pretreatment_period=pre, base_period=base)
    vkw = {"vcov": vcov, "cluster": "ID"} if vcov == "cluster" else ({"vcov": vcov} if vcov else {})
    mx = equitrends.equiv_test(type="max", method="IU", **kw, **vkw)
    mn = equitrends.equiv_test(type="mean", **kw, **vkw)
    return {
        "example": name,
        "vcov": vcov or "homoskedastic (default)",
        "pretreatment_period": pre,
        "base_period": base,
        "placebo_coefficients": [float(v) for v in mx.placebo_coefficients],
        "placebo_se": [float(v) for v in mx.placebo_coefficients_se],
        "max_minimum_equiv_threshold": float(mx.minimum_equiv_threshold),
        "mean_abs_placebo": float(mn.abs_mean_placebo_coefs),
        "mean_placebo_variance": float(mn.var_mean_placebo_coef),
        "mean_minimum_equiv_threshold": float(mn.minimum_equiv_threshold),
    }


def main() -> None:
    ditella = pd.read_csv(SHARED / "more" / "monthlypanel_ditella.csv")
    ditella = ditella.rename(columns={"observ": "ID", "totrob": "Y", "mes": "period"})
    ditella["G"] = (ditella["distanci"] == 0).astype(int)
    mpdta = pd.read_csv(SHARED / "validation" / "mpdta.csv")
    # Counties first treated in 2007 against never-treated ones, pre-periods 2003-2006 (base 2006).
    mpdta = mpdta[mpdta["first.treat"].isin([0, 2007])].rename(
        columns={"countyreal": "ID", "lemp": "Y", "year": "period"}
    )
    mpdta["G"] = (mpdta["first.treat"] == 2007).astype(int)
    mpdta = mpdta[mpdta["period"] <= 2006]
    out = [
        run("ditella", ditella, [4, 5, 6, 7], 7, "cluster"),
        run("ditella", ditella, [4, 5, 6, 7], 7, None),
        run("mpdta_2007", mpdta, [2003, 2004, 2005, 2006], 2006, "cluster"),
        run("mpdta_2007", mpdta, [2003, 2004, 2005, 2006], 2006, None),
    ]
    doc = {"equitrends_version": equitrends.__version__, "alpha": 0.05, "cases": out}
    (Path(__file__).parent / "equitrends.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
