"""Reference numbers for the Dette & Schumann (2024) pre-trend equivalence tests, from the `equitrends`
package (Python port of the authors' EquiTrends; AGPL, so it is run here in a throwaway venv and never
installed with evalkit, and none of its code is copied).

Run (from the repository root, with ../shared/data beside it; .peer-venv is git-ignored):
    python3 -m venv .peer-venv && .peer-venv/bin/pip install equitrends==0.1.1
    .peer-venv/bin/python tests/estimators/reference/equitrends/make.py
Writes equitrends.json beside this file: for each example, the placebo coefficients and their covariance
as equitrends estimates them (two-way fixed-effects placebo regression) and the smallest equivalence
thresholds of its maximum (intersection-union) and mean tests. evalkit's tests feed the same
coefficients and covariance to evalkit.estimators.pretrend_evidence and compare the thresholds.
Writes equitrends_rms.json: its RMS test (`rms_equiv_test`, no_lambda = 5) with a seeded subsample plan
(the units of each subsample, as equitrends draws them), the mean square of the placebo coefficients on
each subsample and the smallest equivalence threshold. evalkit's tests re-estimate the placebo
coefficients with evalkit's own Callaway-Sant'Anna event study on the same units and compare.
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


def run_rms(name: str, panel: pd.DataFrame, pre: list[int], base: int, seed: int) -> dict:
    """equitrends' RMS test with its own seeded subsample plan, passed back to it explicitly so the units
    of every subsample are on record (the plan generator and the per-subsample mean squares are
    equitrends internals: called here, on the peer, only to record what its test used)."""
    from equitrends.data.panel import construct_panel_data
    from equitrends.testing import _generate_internal_rms_subsample_plan, _mean_squared_rms_placebos_from_plan

    kw = dict(data=panel, y="Y", id="ID", g="G", period="period", pretreatment_period=pre, base_period=base)
    built = construct_panel_data(
        y="Y",
        id="ID",
        g="G",
        period="period",
        x=None,
        data=panel,
        pretreatment_period=pre,
        base_period=base,
        cluster=None,
        equiv_threshold=None,
        alpha=0.05,
    ).dataset
    placebo = [c for c in built.columns if c.startswith("placebo_")]
    # equitrends numbers units 1..n in order of appearance: map back to the data's own ids, and check it
    original = pd.factorize(panel.loc[panel["period"].isin(pre), "ID"], sort=False)[1]
    ids = {k + 1: int(v) for k, v in enumerate(original)}
    back = built.assign(orig=built["ID"].map(ids)).merge(
        panel.rename(columns={"ID": "orig"}), on=["orig", "period"], suffixes=("", "_data")
    )
    assert len(back) == len(built) and (back["Y"] == back["Y_data"]).all(), "unit numbering not recovered"
    plan = _generate_internal_rms_subsample_plan(dataset=built, placebo_names=placebo, no_lambda=5, seed=seed)
    res = equitrends.rms_equiv_test(**kw, no_lambda=5, subsample_plan=plan)
    ms = _mean_squared_rms_placebos_from_plan(dataset=built, placebo_names=placebo, no_lambda=5, subsample_plan=plan)
    return {
        "example": name,
        "pretreatment_period": pre,
        "base_period": base,
        "seed": seed,
        "placebo_coefficients": [float(v) for v in res.placebo_coefficients],
        "rms_placebo_coefficients": float(res.rms_placebo_coefficients),
        "subsample_ids": [sorted(ids[int(i)] for i in s["sampled_ids"]) for s in plan["subsamples"]],
        "subsample_mean_squares": [float(v) for v in ms],
        "minimum_equiv_threshold": float(res.minimum_equiv_threshold),
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
    rms = [
        run_rms("ditella", ditella, [4, 5, 6, 7], 7, seed=20240101),
        run_rms("mpdta_2007", mpdta, [2003, 2004, 2005, 2006], 2006, seed=20240101),
    ]
    doc = {"equitrends_version": equitrends.__version__, "alpha": 0.05, "no_lambda": 5, "cases": rms}
    (Path(__file__).parent / "equitrends_rms.json").write_text(json.dumps(doc) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
