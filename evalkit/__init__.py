"""evalkit: independent evaluation of alternative delivery models of children's social care."""

import os as _os

# One BLAS thread per process. evalkit's matrices are small (councils × years); multithreaded BLAS
# spends more time synchronising than computing on them (16x slower synthetic-control fits on a busy
# 2-core machine), and parallelism comes from evalkit.parallel instead. Set before numpy loads; a
# user's own setting wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    _os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
