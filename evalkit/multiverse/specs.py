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

from evalkit.errors import EvalkitError

NA = "n/a"
ESTIMATORS = ("cs", "sunab", "imputation", "sdid", "synth")
# Comparison pools. never / notyet: the estimator's control group; inadequate: never-treated councils
# also judged inadequate before the last move (those the DfE directed that stayed in-house);
# matched: the comparators `evalkit panel --match` chose; neighbours: DfE statistical neighbours of a
# treated council (2025 model).
COMPARISONS = ("never", "notyet", "inadequate", "matched", "neighbours")
CHOICES: dict[str, tuple[Any, ...] | None] = {
    "comparison": COMPARISONS,
    "years": None,  # [first, last] pairs
    "boundaries": ("aggregate", "separate"),
    "kingston_richmond": ("joint", "out"),
    "northamptonshire": ("in", "out"),
    "estimator": ESTIMATORS,
    "covariates": None,  # lists of panel columns
    "anticipation": (0, 1),
    "est_method": ("reg", "ipw", "dr"),
}
DEFAULTS: dict[str, Any] = {
    "comparison": "never", "years": None, "boundaries": "aggregate", "kingston_richmond": "joint",
    "northamptonshire": "in", "estimator": "cs", "covariates": [], "anticipation": 0, "est_method": "reg",
}
# Which choices each estimator uses (the others are "n/a" for it).
USES: dict[str, set[str]] = {
    "cs": {"comparison", "covariates", "anticipation", "est_method"},
    "sunab": {"comparison"},
    "imputation": {"anticipation"},
    "sdid": {"comparison"},
    "synth": {"comparison"},
}
# Comparison pools an estimator can use (imputation always uses every untreated council-year).
POOLS: dict[str, tuple[str, ...]] = {
    "cs": COMPARISONS, "sunab": ("never", "inadequate", "matched", "neighbours"),
    "imputation": ("never",), "sdid": ("never", "inadequate", "matched", "neighbours"),
    "synth": COMPARISONS,
}
SAMPLE_DIMENSIONS = ("years", "boundaries", "kingston_richmond", "northamptonshire")


def validate(table: Any, file: str) -> dict[str, Any]:
    """Check a [multiverse] table; return it with defaults (max_specs 500, seed 1, outcome None)."""

    def fail(key: str, message: str, expected: str) -> EvalkitError:
        return EvalkitError(message, file=file, column=f"multiverse.{key}", expected=expected)

    if not isinstance(table, dict):
        raise fail("", "is not a table", "a [multiverse] table")
    unknown = sorted(set(table) - {"max_specs", "seed", "outcome", "dimensions"})
    if unknown:
        raise fail(unknown[0], "unknown key", "max_specs, seed, outcome or dimensions")
    out: dict[str, Any] = {}
    for key, default in (("max_specs", 500), ("seed", 1)):
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise fail(key, f"is {value!r}", "a positive integer")
        out[key] = value
    outcome = table.get("outcome")
    if outcome is not None and not isinstance(outcome, str):
        raise fail("outcome", f"is {outcome!r}", "an outcome column name")
    out["outcome"] = outcome
    dims = table.get("dimensions", {})
    if not isinstance(dims, dict) or not dims:
        raise fail("dimensions", "is missing or empty", "a [multiverse.dimensions] table")
    out_dims: dict[str, list[Any]] = {}
    for name, values in dims.items():
        if name not in CHOICES:
            raise fail(f"dimensions.{name}", "unknown dimension", ", ".join(CHOICES))
        if not isinstance(values, list) or not values:
            raise fail(f"dimensions.{name}", f"is {values!r}", "a non-empty array of values")
        allowed = CHOICES[name]
        for i, v in enumerate(values):
            key = f"dimensions.{name}[{i}]"
            if name == "years":
                if not (isinstance(v, list) and len(v) == 2 and all(isinstance(y, int) and not isinstance(y, bool) for y in v)
                        and v[0] < v[1]):
                    raise fail(key, f"is {v!r}", "[first, last] years")
            elif name == "covariates":
                if not (isinstance(v, list) and all(isinstance(c, str) for c in v)):
                    raise fail(key, f"is {v!r}", "a list of panel columns, e.g. [] or [\"population_0_17\"]")
            elif v not in allowed or isinstance(v, bool):
                raise fail(key, f"unknown value {v!r}", "one of " + ", ".join(map(str, allowed)))
        if len({json.dumps(v) for v in values}) != len(values):
            raise fail(f"dimensions.{name}", "has a repeated value", "each value once")
        out_dims[name] = list(values)
    out["dimensions"] = out_dims
    return out


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
    note = {"cross_product": int(np.prod([len(v) for v in values])), "not_applicable_combinations": impossible,
            "distinct_specifications": total, "max_specs": multiverse["max_specs"], "seed": multiverse["seed"]}
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
