"""Synthetic DiD draws are streamed (issue #29): the same numbers to the last bit, in bounded memory.

Placebo, bootstrap and jackknife draws are fitted in chunks of bounded Gram size (`sdid._streamed`),
each chunk's matrices formed, solved, reduced to estimates and freed. The reference is what the code
did before: every draw's problem built at once and fitted in one `sdid_fit_many` batch (or, for the
staggered estimator, one chunk holding every draw). Equality is `np.array_equal`, no tolerance.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import polars as pl
import pytest

from evalkit.estimators.data import make_panel
from evalkit.estimators.synth import sdid


def _panel(n0: int, n1: int, *, seed: int, staggered: bool = False, T: int = 31, g: int = 20):
    """Controls and treated units with unit effects, a two-factor structure and noise; treated from g
    (alternate treated units from g − 5 when staggered)."""
    rng = np.random.default_rng(seed)
    units = n0 + n1
    y = 10 + rng.normal(size=(units, 1)) + rng.normal(size=(units, 2)) @ rng.normal(size=(2, T)).cumsum(axis=1)
    y += rng.normal(0, 0.5, (units, T))
    cohorts = [g - 5 if staggered and i % 2 == 0 else g for i in range(n1)]
    coh = np.r_[np.zeros(n0, dtype=np.int64), cohorts]
    frame = pl.DataFrame(
        {
            "unit": np.repeat(np.arange(units), T),
            "time": np.tile(np.arange(T), units),
            "y": y.ravel(),
            "cohort": np.repeat(coh, T),
        }
    )
    return make_panel(frame, unit="unit", time="time", outcome="y", cohort="cohort")


def _matrix(panel) -> tuple[np.ndarray, int, int]:
    coh = panel.unit_cohorts()
    tr = sorted(u for u, c in coh.items() if c > 0)
    co = sorted(u for u, c in coh.items() if c == 0)
    g = min(coh[u] for u in tr)
    return sdid._block_matrix(panel, tr, co, panel.times), len(co), sum(t < g for t in panel.times)


def _reference(Y: np.ndarray, T0: int, fit: sdid.SDIDFit, draws: list[tuple[np.ndarray, int]]) -> np.ndarray:
    """The draws as before streaming: every problem built, then one batch."""
    specs = [(Y[ind], n0, T0, fit.opts, sdid._sum_normalize(fit.omega[ind[:n0]]), fit.lambda_) for ind, n0 in draws]
    return np.array([f.estimate for f in sdid.sdid_fit_many(specs)])


@pytest.mark.parametrize(
    ("n0", "n1", "seed", "estimator"),
    [(39, 1, 7, "sdid"), (120, 3, 1, "sdid"), (120, 3, 1, "sc"), (300, 2, 2, "sdid"), (60, 1, 4, "did")],
)
def test_placebo_draws_equal_the_one_batch_reference(
    n0: int, n1: int, seed: int, estimator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Y, N0, T0 = _matrix(_panel(n0, n1, seed=seed))
    fit = sdid.sdid_matrix(Y, N0, T0, estimator)
    rng = np.random.default_rng(0)
    perms = [rng.permutation(N0) for _ in range(40)]
    expected = _reference(Y, T0, fit, [(p, len(p) - n1) for p in perms])
    # a budget of about three draws' Gram matrices: many chunks, the last one partial
    monkeypatch.setattr(sdid, "_GRAM_BUDGET", 3 * (N0 - n1) ** 2 + 1)
    got = sdid.placebo_draws(Y, N0, T0, fit, perms, n_jobs=1)
    assert np.array_equal(got, expected)
    assert len(np.unique(got)) > 30  # real, varied refits (not one value repeated)


def test_bootstrap_draws_equal_the_one_batch_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    Y, N0, T0 = _matrix(_panel(80, 4, seed=3))
    fit = sdid.sdid_matrix(Y, N0, T0)
    expected_rng, rng = np.random.default_rng(5), np.random.default_rng(5)
    samples = []
    while len(samples) < 30:  # as bootstrap_draws draws them
        ind = expected_rng.integers(0, Y.shape[0], size=Y.shape[0])
        if np.all(ind < N0) or np.all(ind >= N0):
            continue
        samples.append(np.sort(ind))
    expected = _reference(Y, T0, fit, [(s, int(np.sum(s < N0))) for s in samples])
    monkeypatch.setattr(sdid, "_GRAM_BUDGET", 1)  # one draw per chunk
    assert np.array_equal(sdid.bootstrap_draws(Y, N0, T0, fit, rng, 30, n_jobs=1), expected)


@pytest.mark.parametrize("se", ["placebo", "bootstrap", "jackknife"])
def test_staggered_draws_do_not_depend_on_the_chunking(se: str, monkeypatch: pytest.MonkeyPatch) -> None:
    panel = _panel(70, 4, seed=4, staggered=True)
    monkeypatch.setattr(sdid, "_GRAM_BUDGET", 10**12)  # every draw in one chunk: the code before streaming
    one = sdid.synthetic_did_staggered(panel, se=se, reps=25, seed=2, n_jobs=1)
    monkeypatch.setattr(sdid, "_GRAM_BUDGET", 1)  # one draw per chunk
    streamed = sdid.synthetic_did_staggered(panel, se=se, reps=25, seed=2, n_jobs=1)
    a, b = one.extra["draws"]["estimate"].to_numpy(), streamed.extra["draws"]["estimate"].to_numpy()
    assert len(a) >= 25 and np.array_equal(a, b)
    assert one.estimates.equals(streamed.estimates)


def test_placebo_memory_is_one_chunk_not_every_draw(monkeypatch: pytest.MonkeyPatch) -> None:
    """300 controls, 60 draws: all Gram matrices at once would be 60 × 300² × 8 B = 43 MB (twice that with
    the kernel's copies); streamed one draw at a time the peak traced allocation stays near one draw's."""
    Y, N0, T0 = _matrix(_panel(300, 1, seed=6))
    fit = sdid.sdid_matrix(Y, N0, T0)
    rng = np.random.default_rng(1)
    perms = [rng.permutation(N0) for _ in range(60)]
    sdid.placebo_draws(Y, N0, T0, fit, perms[:2], n_jobs=1)  # compile/load the kernel outside the trace
    all_grams = 60 * (N0 - 1) ** 2 * 8
    monkeypatch.setattr(sdid, "_GRAM_BUDGET", 1)
    tracemalloc.start()
    try:
        sdid.placebo_draws(Y, N0, T0, fit, perms, n_jobs=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < all_grams / 5, f"peak {peak / 2**20:.1f} MiB with draws streamed one by one"


@pytest.mark.skipif(sdid._kernel() is None, reason="numba is not installed here")
def test_kernel_runs_a_large_problem_alone_with_the_reference_bits() -> None:
    """Problems at or above `_fw_kernel._ALONE` Gram entries run on their own (their `Gt` uncopied);
    mixed with small ones in one call, each still equals the numpy reference."""
    rng = np.random.default_rng(11)
    probs = []
    for k in (300, 12, 260, 40):
        Y = rng.normal(size=(19, k + 1)).cumsum(axis=0)
        probs.append(sdid._fw_setup(Y, 0.3, True, None, 1e-5))
    kernel = sdid._kernel()
    got = kernel.fw_run(probs, 10_000)
    want = sdid._fw_run_numpy(probs, 10_000)
    assert all(np.array_equal(a, b) for a, b in zip(got, want))
    assert any(p["k"] ** 2 >= kernel._ALONE for p in probs) and any(p["k"] ** 2 < kernel._ALONE for p in probs)


@pytest.mark.parametrize("intercept", [True, False])
def test_gram_matrix_is_exactly_symmetric_so_its_rows_are_its_columns(intercept: bool) -> None:
    """The kernel reads column i of G as row i of the set-up's `Gt` (= G, not copied): exact symmetry of
    A.T @ A on the strided views the estimator makes (ω: the collapsed matrix's pre-period columns
    transposed; λ: the control rows) is what makes that the same bits as the transposed copy."""
    rng = np.random.default_rng(12)
    for n0, T0 in [(5, 3), (39, 19), (120, 12), (301, 25), (700, 30)]:
        Y = rng.normal(size=(n0 + 2, 31)).cumsum(axis=1) * 40
        Yc = sdid._collapsed(Y, n0, T0)
        for problem in (Yc[:, :T0].T, Yc[:n0, :]):
            p = sdid._fw_setup(problem, 0.5, intercept, None, 1e-5)
            assert p["Gt"] is p["G"]
            assert np.array_equal(p["G"], p["G"].T)
