"""Reference numbers for the Romano-Wolf stepdown, from pyfixest's `rwolf` on its own public example data.

Run (from the repository root; pyfixest only in a throwaway venv, never in evalkit's lock):
    python3 -m venv .ref-venv/rwolf && .ref-venv/rwolf/bin/pip install pyfixest==0.60.0
    .ref-venv/rwolf/bin/python tests/estimators/reference/pyfixest_rwolf/make.py
Writes rwolf.json: for three outcomes regressed on X1 with two-way fixed effects (f1 + f2), clustered by
f1, the observed t-statistics, the wild-bootstrap t-statistics of every draw (the same draws for every
outcome: pyfixest resets the seed per model), pyfixest's unadjusted p-values and its Romano-Wolf adjusted
p-values. evalkit's test feeds the same t-statistics and draws to evalkit.estimators.multiplicity.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyfixest as pf
from pyfixest.utils import get_data

SEED, REPS = 123, 499


def main() -> None:
    data = get_data(N=1000, seed=20).dropna()
    formulas = ["Y ~ X1 | f1 + f2", "Y2 ~ X1 | f1 + f2", "Y ~ X1 + X2 | f1 + f2"]
    fits = [pf.feols(f, data=data, vcov={"CRV1": "f1"}) for f in formulas]
    rw = pf.rwolf(fits, "X1", reps=REPS, seed=SEED)
    t_stats, boot = [], []
    for fit in fits:
        res, draws = fit.wildboottest(param="X1", reps=REPS, return_bootstrapped_t_stats=True, seed=SEED)
        t_stats.append(float(res["t value"]))
        boot.append(np.asarray(draws, dtype=float).tolist())
    adjusted = [float(v) for v in rw.loc["RW Pr(>|t|)"].to_numpy()]
    unadjusted = [float(fit.tidy().xs("X1")["Pr(>|t|)"]) for fit in fits]
    doc = {
        "pyfixest_version": pf.__version__,
        "formulas": formulas,
        "data": "pyfixest.utils.get_data(N=1000, seed=20).dropna()",
        "seed": SEED,
        "reps": REPS,
        "t_stats": t_stats,
        "boot_t_stats": np.array(boot).T.tolist(),
        "unadjusted_p_analytic": unadjusted,
        "rwolf_adjusted_p": adjusted,
    }
    (Path(__file__).parent / "rwolf.json").write_text(json.dumps(doc) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
