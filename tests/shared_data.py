"""Where the shared reference data live: one setting for tests and benchmarks alike.

`EVALKIT_SHARED_DATA` names the folder (holding reference/ and validation/); by default it is
``../shared/data`` relative to the repository, as in CI. Nothing else may name a machine path.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = "EVALKIT_SHARED_DATA"


def shared_data_dir() -> Path:
    value = os.environ.get(ENV)
    return Path(value).expanduser() if value else REPO.parent / "shared" / "data"


SHARED = shared_data_dir()
REFERENCE = SHARED / "reference"
VALIDATION = SHARED / "validation"


def absent_reason(path: Path) -> str:
    return f"shared data not found at {path} (set {ENV}, default ../shared/data beside the checkout)"
