"""The [multiverse] plan table and the list of specifications it defines.

A plan names dimensions and their defensible values; the multiverse is their cross-product. A choice
that does not apply to a specification (est_method for synthetic control, anticipation for SDID,
...) is recorded as "n/a" and the duplicates it would create are run once. When more specifications
remain than `max_specs`, a random subset of `max_specs` is drawn with `seed` (stated in the output).
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np

from evalkit.plan_schema import (  # noqa: F401  (re-exported: the multiverse's vocabulary)
    CHOICES,
    COMPARISONS,
    DEFAULTS,
    ESTIMATORS,
    NA,
    POOLS,
    SAMPLE_DIMENSIONS,
    USES,
)
from evalkit.plan_schema import validate_multiverse as validate  # noqa: F401


def label(value: Any) -> str:
    """A choice as text for tables and figures: [2013, 2025] -> "2013-2025", [] -> "none"."""
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, int) for v in value):
            return f"{value[0]}-{value[1]}"
        return "+".join(value) if value else "none"
    return str(value)


def _effective(spec: dict[str, Any]) -> dict[str, Any] | None:
    """The spec with choices its estimator ignores set to n/a; None if the combination is impossible."""
    est = spec["estimator"]
    if spec["comparison"] not in POOLS[est]:
        return None
    out = dict(spec)
    for dim in ("comparison", "covariates", "anticipation", "est_method"):
        if dim not in USES[est]:
            out[dim] = NA
    return out


def expand(multiverse: dict[str, Any], sample_years: list[int] | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every distinct specification (cross-product, n/a-collapsed), or a seeded subset of max_specs.

    Returns the specifications (each with an `id` "s0001"…) and a note of how they were chosen."""
    dims = multiverse["dimensions"]
    names = list(CHOICES)
    values = [dims.get(n, [DEFAULTS[n] if n != "years" else sample_years]) for n in names]
    seen: set[str] = set()
    specs: list[dict[str, Any]] = []
    impossible = 0
    for combo in itertools.product(*values):
        eff = _effective(dict(zip(names, combo)))
        if eff is None:
            impossible += 1
            continue
        key = json.dumps(eff, sort_keys=True)
        if key not in seen:
            seen.add(key)
            specs.append(eff)
    total = len(specs)
    note = {
        "cross_product": int(np.prod([len(v) for v in values])),
        "not_applicable_combinations": impossible,
        "distinct_specifications": total,
        "max_specs": multiverse["max_specs"],
        "seed": multiverse["seed"],
    }
    if "max_specs_in_plan" in multiverse:
        note["max_specs_in_plan"] = multiverse["max_specs_in_plan"]  # overridden by --max-specs
    if total > multiverse["max_specs"]:
        rng = np.random.default_rng(multiverse["seed"])
        keep = np.sort(rng.choice(total, size=multiverse["max_specs"], replace=False))
        specs = [specs[int(k)] for k in keep]
        note["subset"] = f"a random subset of {len(specs)} of {total} (numpy default_rng({multiverse['seed']}))"
    else:
        note["subset"] = "all"
    for k, s in enumerate(specs):
        s["id"] = f"s{k + 1:04d}"
    return specs, note
