"""One parallel map for resampling and placebo loops.

Everything that loops over draws or placebo units goes through `pmap`, so users can hand the work
to another joblib backend (e.g. Dask or Ray via `joblib.parallel_config(backend=...)`) without
code changes. Results come back in input order, so they are deterministic whatever the backend.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from joblib import Parallel, delayed

T = TypeVar("T")


def default_jobs() -> int:
    """EVALKIT_JOBS if set, else 1 (loops are usually vectorised; processes cost start-up time)."""
    return int(os.environ.get("EVALKIT_JOBS", "1"))


def pmap(func: Callable[..., T], items: Iterable[Any], *, n_jobs: int | None = None) -> list[T]:
    items = list(items)
    jobs = default_jobs() if n_jobs is None else n_jobs
    if jobs == 1 or len(items) < 2:
        return [func(item) for item in items]
    return list(Parallel(n_jobs=jobs)(delayed(func)(item) for item in items))
