"""The synthetic DiD Frank–Wolfe iterations compiled with numba: the same numbers as the numpy batch.

`sdid._fw_run_numpy` (numpy, vectorised across problems) is the reference; this module runs the very
same arithmetic one problem at a time in compiled code, which removes numpy's per-call cost on the
small (problems × k) arrays of the placebo and jackknife loops. Bit-for-bit equality holds because
every step of an iteration is elementwise or a scalar recurrence, evaluated here in the same order
with the same IEEE double operations: no fastmath (so no reassociation and no fused multiply-add),
numpy's division semantics (x/0 is ±inf or NaN, never an exception), numpy's argmin (first NaN, else
first minimum), the clamp `min(1, max(0, step))` with NaN → 0, and a problem that has met its
stopping rule takes no further step. A zero step updates x and the cached products as the batch
does (the reference's scalar tail skips it): the values stay the same, at most a −0 becomes +0, which
no comparison sees and no weight can show (starts are 1/k, sparsified or normalised weights, never
−0). tests/estimators/test_fw_kernel.py checks the equality on many random and degenerate problems;
benchmarks/bench_sdid_fw.py times both.

Imported only when a Frank–Wolfe batch runs (numba's import and the cached machine code cost a
fraction of a second per process); `cache=True` keeps the compiled code beside this file, or in the
user's cache folder when the package folder is read-only, and compiles in memory when neither can
be written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numba import njit

_SIGNATURE = (
    "void(float64[::1], int64[::1], int64[::1], float64[::1], float64[::1], float64[::1], float64[::1],"
    " float64[:, ::1], int64)"
)
_OPTIONS = dict(error_model="numpy", fastmath=False, nogil=True, boundscheck=False)


def _iterate(Gt, goff, voff, c, diag, x, Gx, scal, max_iter):  # pragma: no cover - runs compiled
    """Run Frank–Wolfe on every problem of a flat batch, updating x and Gx in place.

    Problem p has k = voff[p+1] − voff[p] weights; its vectors are c, diag, x, Gx[voff[p]:voff[p+1]],
    its Gram matrix is stored transposed from goff[p] (column i of G is Gt[goff[p] + i·k : … + k]),
    and scal[p] = (x'Gx, c'x, x'x, b'b, n, zeta², eta, min_decrease²).
    """
    maxk = 0
    for p in range(voff.shape[0] - 1):
        maxk = max(maxk, voff[p + 1] - voff[p])
    h = np.empty(maxk)  # the half gradient (Gx − c) + eta·x of the current problem
    for p in range(voff.shape[0] - 1):
        v0 = voff[p]
        k = voff[p + 1] - v0
        if k == 0:  # no weights to choose (the set-up refuses this; never read past the arrays)
            continue
        g0 = goff[p]
        xs = x[v0 : v0 + k]
        gx = Gx[v0 : v0 + k]
        cs = c[v0 : v0 + k]
        ds = diag[v0 : v0 + k]
        xGx = scal[p, 0]
        cx = scal[p, 1]
        xx = scal[p, 2]
        bb = scal[p, 3]
        n = scal[p, 4]
        zeta2 = scal[p, 5]
        eta = scal[p, 6]
        md2 = scal[p, 7]
        prev = math.inf
        last = math.inf
        for j in range(k):
            h[j] = (gx[j] - cs[j]) + eta * xs[j]
        t = 0
        while t < max_iter:
            if t >= 2 and not (prev - last > md2):
                break
            t += 1
            # numpy's argmin of h: the first NaN, else the first minimum. The minimum's value is found
            # over four interleaved lanes (a minimum does not depend on the order), then its first index.
            m0 = math.inf
            m1 = math.inf
            m2 = math.inf
            m3 = math.inf
            nan = False
            j = 0
            while j + 4 <= k:
                a0 = h[j]
                a1 = h[j + 1]
                a2 = h[j + 2]
                a3 = h[j + 3]
                m0 = a0 if a0 < m0 else m0
                m1 = a1 if a1 < m1 else m1
                m2 = a2 if a2 < m2 else m2
                m3 = a3 if a3 < m3 else m3
                nan = nan | (a0 != a0) | (a1 != a1) | (a2 != a2) | (a3 != a3)
                j += 4
            while j < k:
                a0 = h[j]
                m0 = a0 if a0 < m0 else m0
                nan = nan | (a0 != a0)
                j += 1
            m0 = m1 if m1 < m0 else m0
            m2 = m3 if m3 < m2 else m2
            m0 = m2 if m2 < m0 else m0
            i = 0
            if nan:
                while h[i] == h[i]:
                    i += 1
            else:
                while not (h[i] == m0):
                    i += 1
            Gxi = gx[i]
            ci = cs[i]
            xi = xs[i]
            di = ds[i]
            derr_r = (Gxi - ci) - (xGx - cx)
            derr2 = (di - 2.0 * Gxi) + xGx
            xd = xi - xx
            dd = (1.0 - 2.0 * xi) + xx
            step = (-derr_r - eta * xd) / (derr2 + eta * dd)
            # min(1, max(0, step)) as Python evaluates it (NaN -> 0); no step when degenerate
            if step > 0.0:
                s = step if step < 1.0 else 1.0
            else:
                s = 0.0
            degenerate = dd <= 0.0
            if degenerate:
                s = 0.0
            # x <- x + s (e_i - x) and the cached products, as the numpy batch updates every row
            # (s = 0 leaves them unchanged); h for the next iteration from the new Gx and x
            om = 1.0 - s
            om2 = om * om
            s2 = 2.0 * s
            xGx = (om2 * xGx + s2 * om * Gxi) + s * s * di
            cx = om * cx + s * ci
            xx = (om2 * xx + s2 * om * xi) + s * s
            col = g0 + i * k
            for j in range(k):
                g = gx[j] * om + s * Gt[col + j]
                gx[j] = g
                xv = xs[j] * om
                xs[j] = xv
                h[j] = (g - cs[j]) + eta * xv
            xs[i] = xs[i] + s
            h[i] = (gx[i] - cs[i]) + eta * xs[i]
            r = (xGx - 2.0 * cx) + bb
            if degenerate:
                val = zeta2 * xx + r / n
            else:
                # np.maximum(r, 0.0): NaN propagates
                val = zeta2 * xx + (r if (r >= 0.0 or r != r) else 0.0) / n
            prev = last
            last = val


try:
    _iterate_compiled = njit(_SIGNATURE, cache=True, **_OPTIONS)(_iterate)
except RuntimeError:  # no writable cache folder at all (numba: "no locator available"): compile in memory
    _iterate_compiled = njit(_SIGNATURE, cache=False, **_OPTIONS)(_iterate)


# A problem whose Gram matrix has at least this many entries runs on its own (its `Gt` passed without
# copying); smaller ones are packed into one flat batch (one compiled call for many small problems).
_ALONE = 256 * 256


def fw_run(probs: Sequence[dict], max_iter: int) -> list[np.ndarray]:
    """`sdid._fw_run_numpy` for the same set-ups (from `sdid._fw_setup`): each problem's final weights."""
    out: list[np.ndarray | None] = [None] * len(probs)
    small = [j for j, p in enumerate(probs) if p["k"] * p["k"] < _ALONE]
    if small:
        for j, x in zip(small, _run_flat([probs[j] for j in small], max_iter)):
            out[j] = x
    for j, p in enumerate(probs):
        if out[j] is None:
            out[j] = _run_flat([p], max_iter)[0]
    return out  # type: ignore[return-value]


def _run_flat(probs: Sequence[dict], max_iter: int) -> list[np.ndarray]:
    """The kernel on problems laid end to end in flat arrays (one problem: its own `Gt`, no copy)."""
    P = len(probs)
    if P == 0:
        return []
    ks = np.array([p["k"] for p in probs], dtype=np.int64)
    voff = np.zeros(P + 1, dtype=np.int64)
    np.cumsum(ks, out=voff[1:])
    goff = np.zeros(P + 1, dtype=np.int64)
    np.cumsum(ks * ks, out=goff[1:])
    if P == 1:
        Gt = _columns(probs[0]).reshape(-1)
    else:
        Gt = np.empty(goff[-1])
        for j, p in enumerate(probs):
            Gt[goff[j] : goff[j + 1]] = _columns(p).reshape(-1)
    c = np.concatenate([np.asarray(p["c"], dtype=np.float64) for p in probs])
    diag = np.concatenate([np.asarray(p["diag"], dtype=np.float64) for p in probs])
    x = np.concatenate([np.asarray(p["x"], dtype=np.float64) for p in probs])
    Gx = np.concatenate([np.asarray(p["Gx"], dtype=np.float64) for p in probs])
    keys = ("xGx", "cx", "xx", "bb", "n", "zeta2", "eta", "md2")
    scal = np.array([[float(p[key]) for key in keys] for p in probs], dtype=np.float64)
    _iterate_compiled(Gt, goff, voff, c, diag, x, Gx, scal, int(max_iter))
    return [x[voff[j] : voff[j + 1]].copy() for j in range(P)]


def _columns(p: dict) -> np.ndarray:
    """G transposed, C-contiguous float64 (row i = column i of G): the set-up's copy, or made here."""
    Gt = p.get("Gt")
    if Gt is None or Gt.dtype != np.float64 or not Gt.flags.c_contiguous:
        Gt = np.ascontiguousarray(np.asarray(p["G"], dtype=np.float64).T)
    return Gt
