"""The compiled Frank–Wolfe kernel gives the numpy reference's weights bit for bit.

`sdid._fw_run_numpy` (vectorised across problems, with the scalar loop `_fw_scalar` for the last
few problems) is the reference; `_fw_kernel.fw_run` is what production runs. Equality is exact
(`np.array_equal`, no tolerance) on seeded random problems of varied sizes, starts, penalties,
intercepts, stopping thresholds and iteration caps, and on degenerate ones (one weight, identical
columns, zero and constant matrices, a start on a vertex). The mutants at the end show these checks
see a change as small as one reassociated addition.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest

from evalkit.estimators.synth import sdid
from evalkit.estimators.synth.sdid import _fw_run_numpy, _fw_setup, _sparsify

_fw_kernel = pytest.importorskip("evalkit.estimators.synth._fw_kernel", reason="numba is not installed here")


def _start(rng: np.random.Generator, k: int) -> np.ndarray | None:
    kind = rng.integers(0, 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.dirichlet(np.ones(k))
    if kind == 2:  # sparse, as after `_sparsify`
        return _sparsify(rng.dirichlet(np.full(k, 0.3)) + 1e-12)
    if kind == 3:  # a vertex: the first direction may have ‖d‖² = 0 (the degenerate branch)
        x = np.zeros(k)
        x[rng.integers(0, k)] = 1.0
        return x
    return np.full(k, 1.0 / k)


def _matrix(rng: np.random.Generator, n: int, k: int) -> np.ndarray:
    kind = rng.integers(0, 8)
    scale = float(rng.choice([1e-3, 1.0, 50.0, 1e4]))
    if kind == 0:
        return np.zeros((n, k + 1))
    if kind == 1:  # identical columns: ties in the gradient
        return np.repeat(rng.normal(size=(n, 1)) * scale, k + 1, axis=1)
    if kind == 2:  # constant rows (zero after centring)
        return np.repeat(rng.normal(size=(1, k + 1)) * scale, n, axis=0)
    if kind == 3:  # some duplicated columns, rank deficient
        Y = rng.normal(size=(n, k + 1)) * scale
        Y[:, rng.integers(0, k + 1, size=k // 2 + 1)] = Y[:, [0]]
        return Y
    if kind == 4:  # the target is one of the columns (an exact fit exists)
        Y = rng.normal(size=(n, k + 1)) * scale
        Y[:, k] = Y[:, rng.integers(0, k)]
        return Y
    if kind == 5:  # integers: many exact ties
        return rng.integers(-3, 4, size=(n, k + 1)).astype(float)
    return rng.normal(size=(n, k + 1)) * scale + rng.normal(size=(1, k + 1)) * scale


def _problems(seed: int, count: int, *, max_n: int = 25, max_k: int = 45) -> list[dict]:
    rng = np.random.default_rng(seed)
    probs = []
    for _ in range(count):
        n = int(rng.integers(1, max_n + 1))
        k = int(rng.choice([1, 2, 3, int(rng.integers(1, max_k + 1))]))
        zeta = float(rng.choice([0.0, 1e-6, 0.05, 1.0, 7.5]))
        md = float(rng.choice([0.0, 1e-9, 1e-5, 1e-2, 1.0]))
        probs.append(_fw_setup(_matrix(rng, n, k), zeta, bool(rng.integers(0, 2)), _start(rng, k), md))
    return probs


CASES = [  # (seed, problems in one batch, max_iter)
    (1, 40, 10_000),
    (2, 40, 100),
    (3, 25, 0),
    (4, 25, 1),
    (5, 25, 2),
    (6, 25, 3),
    (7, 60, 10_000),
    (8, 3, 10_000),  # the batch hands over to the scalar tail at once
    (9, 1, 10_000),  # one problem: the scalar loop only
    (10, 2, 500),
]


def _mismatches(run, cases=CASES) -> list[str]:
    bad = []
    for seed, count, max_iter in cases:
        probs = _problems(seed, count)
        ref = _fw_run_numpy(probs, max_iter)
        got = run(probs, max_iter)
        assert len(got) == len(ref)
        bad += [f"seed {seed} problem {j}" for j, (a, b) in enumerate(zip(ref, got)) if not np.array_equal(a, b)]
    return bad


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"seed{c[0]}-B{c[1]}-it{c[2]}")
def test_kernel_equals_numpy_reference_bit_for_bit(case):
    assert _mismatches(_fw_kernel.fw_run, [case]) == []


def test_kernel_matches_each_problem_alone_and_keeps_inputs():
    """Alone (the scalar loop) or in a batch, every problem gets the same bits; the set-ups are not modified."""
    probs = _problems(11, 30)
    before = [{key: np.copy(v) for key, v in p.items()} for p in probs]
    batch = _fw_kernel.fw_run(probs, 10_000)
    for p, w in zip(probs, batch):
        assert np.array_equal(_fw_run_numpy([p], 10_000)[0], w)
        assert np.array_equal(_fw_kernel.fw_run([p], 10_000)[0], w)
    for p, saved in zip(probs, before):
        assert all(np.array_equal(p[key], saved[key]) for key in saved)


def test_degenerate_problems_by_name():
    one = _fw_setup(np.arange(6.0).reshape(3, 2), 1.0, True, None, 1e-5)  # k = 1: the only weight is 1
    zero = _fw_setup(np.zeros((4, 5)), 0.0, True, None, 0.0)  # 0/0 steps: stays at the start
    same = _fw_setup(np.ones((3, 4)) * np.arange(3.0)[:, None], 0.5, False, None, 0.0)  # identical columns
    vertex = _fw_setup(np.eye(4)[:, :4], 0.1, False, np.array([0.0, 1.0, 0.0]), 1e-5)  # start on a vertex
    probs = [one, zero, same, vertex]
    for max_iter in (0, 1, 5, 10_000):
        ref, got = _fw_run_numpy(probs, max_iter), _fw_kernel.fw_run(probs, max_iter)
        assert all(np.array_equal(a, b) for a, b in zip(ref, got)), max_iter
    assert np.array_equal(got[0], [1.0]) and np.array_equal(got[1], np.full(4, 0.25))


def test_sdid_fits_identical_with_either_path(monkeypatch):
    """Whole fits (both weights, the sparsify restart, sdid / sc / did) agree to the bit."""
    rng = np.random.default_rng(12)
    problems = []
    for _ in range(12):
        N0, N1, T0, T1 = (int(rng.integers(a, b)) for a, b in ((3, 30), (1, 4), (2, 12), (1, 5)))
        Y = rng.normal(size=(N0 + N1, T0 + T1)).cumsum(axis=1) + rng.normal(size=(N0 + N1, 1)) * 3
        Y[N0:, T0:] -= 1.5
        est = ("sdid", "sc", "did")[int(rng.integers(0, 3))]
        opts, om, lam = sdid.default_options(Y, N0, T0, est)
        problems.append((Y, N0, T0, opts, om, lam))
    fast = sdid.sdid_fit_many(problems)
    monkeypatch.setattr(sdid, "_fw_run", _fw_run_numpy)
    slow = sdid.sdid_fit_many(problems)
    for a, b in zip(fast, slow):
        assert a.estimate == b.estimate or (math.isnan(a.estimate) and math.isnan(b.estimate))
        assert np.array_equal(a.omega, b.omega) and np.array_equal(a.lambda_, b.lambda_)


def test_production_runs_the_kernel(monkeypatch):
    calls = []
    monkeypatch.setattr(
        _fw_kernel, "fw_run", lambda probs, max_iter: calls.append(len(probs)) or [p["x"] for p in probs]
    )
    sdid.fw_weights(np.arange(12.0).reshape(4, 3), 0.1, True, None, 1e-5, 100)
    assert calls == [1]


# Mutants of the kernel: each must be caught by the equality checks above (so they cannot pass
# by comparing something that never differs). Compiled from the kernel's own source with one edit.
MUTANTS = {
    "no upper clamp of the step": ("s = step if step < 1.0 else 1.0", "s = step"),
    "one addition reassociated": (
        "xGx = (om2 * xGx + s2 * om * Gxi) + s * s * di",
        "xGx = om2 * xGx + (s2 * om * Gxi + s * s * di)",
    ),
    "last minimum instead of the first": (
        "while not (h[i] == m0):\n                    i += 1",
        "i = k - 1\n                while not (h[i] == m0):\n                    i -= 1",
    ),
    "max(r, 0) dropped": ("(r if (r >= 0.0 or r != r) else 0.0) / n", "r / n"),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_checks_catch_a_mutated_kernel(name, monkeypatch):
    from numba import njit

    old, new = MUTANTS[name]
    source = inspect.getsource(_fw_kernel._iterate)
    assert source.count(old) == 1
    namespace = {"math": math, "np": np}
    exec(compile(source.replace(old, new), f"<mutant: {name}>", "exec"), namespace)  # our own source, edited
    mutant = njit(_fw_kernel._SIGNATURE, cache=False, **_fw_kernel._OPTIONS)(namespace["_iterate"])
    monkeypatch.setattr(_fw_kernel, "_iterate_compiled", mutant)
    assert _mismatches(_fw_kernel.fw_run) != []
