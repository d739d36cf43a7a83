"""The default intervals keep their size with 10 treated of 150 units (AR(1) errors, staggered adoption).

A smaller version of benchmarks/coverage.py (whose 200-panel figures are in benchmarks/COVERAGE.md).
With n panels the Monte Carlo s.e. of a 95% coverage is sqrt(.95 * .05 / n); the assertion allows 2.5 of
them below 93% and above 97%, so a correct 95% interval passes and the analytic CS interval at 10
treated (about 90% in the benchmark) would be caught only with luck: the benchmark is the real check."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from evalkit.parallel import pmap

BENCH = Path(__file__).resolve().parents[3] / "benchmarks" / "coverage.py"

N_PANELS = 60


@pytest.mark.slow
def test_default_intervals_cover_93_to_97_percent() -> None:
    spec = importlib.util.spec_from_file_location("evalkit_bench_coverage", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)

    rows = pmap(lambda k: bench.one_panel(k, n_perm=49, parts=("cs", "twfe", "sdid")), range(N_PANELS))
    slack = 2.5 * np.sqrt(0.95 * 0.05 / N_PANELS)
    for key in ("cs_simple_default", "cs_dynamic_default", "twfe_default", "sdid_default"):
        cover = float(np.nanmean([r[key][0] for r in rows]))
        assert 0.93 - slack <= cover <= 0.97 + slack, (key, cover)
