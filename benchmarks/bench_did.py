"""Timing of the DiD estimators on a 1,500 unit × 31 period panel (target: a few seconds for
Callaway-Sant'Anna, doubly robust with covariates, 999 bootstrap draws).

Run: PYTHONPATH=. .venv/bin/python benchmarks/bench_did.py [--coverage]
`--coverage` also runs the few-treated coverage simulation (150 units, 12 treated, 500 draws).
"""

from __future__ import annotations

import sys
import time

from evalkit.estimators.did.simulate import simulate_staggered


def _timed(label: str, fn) -> object:
    start = time.perf_counter()
    out = fn()
    print(f"{label:<55}{time.perf_counter() - start:8.2f} s")
    return out


def main() -> None:
    from evalkit.estimators.did.cs import callaway_santanna

    cohorts = {g: 90 for g in range(6, 31, 2)}  # 13 cohorts × 90 units, 330 never treated
    panel = simulate_staggered(
        1500, 31, cohorts, effect=lambda g, e: 0.1 * e, n_covariates=2, covariate_trend=1.0, seed=1
    )
    res = _timed("callaway_santanna dr + 2 covariates, 999 draws", lambda: callaway_santanna(panel, bootstrap=999))
    print("   simple ATT", round(res.estimate("simple")["estimate"], 4), "cells", res.estimates.height)
    _timed("callaway_santanna dr, not-yet-treated, analytic", lambda: callaway_santanna(panel, control="notyet"))
    try:
        from evalkit.estimators.did.imputation import imputation
        from evalkit.estimators.did.sunab import sun_abraham
        from evalkit.estimators.did.twfe import bacon_decomposition, twfe
        from evalkit.estimators.inference.wild import wild_cluster_bootstrap
    except ImportError as exc:  # pragma: no cover
        print("skipping:", exc)
        return
    _timed("twfe (linearmodels PanelOLS)", lambda: twfe(panel))
    _timed("bacon_decomposition", lambda: bacon_decomposition(panel))
    _timed("wild_cluster_bootstrap 9,999 draws + CI inversion", lambda: wild_cluster_bootstrap(panel, draws=9999))
    _timed("sun_abraham", lambda: sun_abraham(panel))
    _timed("imputation (BJS)", lambda: imputation(panel))
    if "--coverage" in sys.argv:
        from evalkit.estimators.inference.wild import coverage_simulation

        cov = _timed("coverage simulation, 500 draws", lambda: coverage_simulation(n_sims=500))
        print("   ", cov)


if __name__ == "__main__":
    main()
