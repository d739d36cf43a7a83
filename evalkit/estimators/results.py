"""The one results shape every estimator returns: estimates table, inference, diagnostics, options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from evalkit.io import dumps_json

# Columns of every estimates table, in this order. `name` is unique within one Results.
ESTIMATE_COLUMNS: dict[str, pl.DataType] = {
    "name": pl.Utf8,  # e.g. "simple", "dynamic:e=2", "att_gt:g=2004,t=2006", "unit:California"
    "aggregation": pl.Utf8,  # att_gt | simple | group | dynamic | calendar | unit | coef | pooled ...
    "group": pl.Int64,  # first-treated period, where it applies
    "time": pl.Int64,  # calendar period, where it applies
    "event_time": pl.Int64,  # time - group, where it applies
    "unit": pl.Utf8,  # a unit's id, for per-unit estimates
    "estimate": pl.Float64,
    "se": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "interval": pl.Utf8,  # how ci_low/ci_high were made: analytic | randomization | wild | bootstrap | jackknife ...
    "default": pl.Boolean,  # the row whose interval is the one to quote for its estimand (few_treated.mark)
}


def estimates_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Build an estimates table from dicts; missing fields become nulls, columns in a fixed order."""
    filled = [{col: row.get(col) for col in ESTIMATE_COLUMNS} for row in rows]
    return pl.DataFrame(filled, schema=ESTIMATE_COLUMNS, orient="row")


@dataclass
class Results:
    """What an estimator returns.

    `inference` says how `se`/`ci_*`/`p_value` were obtained (e.g. {"se_type": "analytic",
    "alpha": 0.05}); `extra` holds further tables (e.g. Goodman-Bacon weights, synthetic weights,
    placebo gaps) as polars frames; `options` is every option that produced the result, `seed` the
    random seed (None when nothing was random).
    """

    method: str
    outcome: str
    estimates: pl.DataFrame
    inference: dict[str, Any] = field(default_factory=dict)
    diagnostics: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    seed: int | None = None
    extra: dict[str, pl.DataFrame] = field(default_factory=dict)

    def estimate(self, name: str) -> dict[str, Any]:
        """One row of the estimates table, by name."""
        hit = self.estimates.filter(pl.col("name") == name)
        if hit.height != 1:
            raise KeyError(f"no single estimate named {name!r} in {self.method} results")
        return hit.row(0, named=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "outcome": self.outcome,
            "estimates": self.estimates.to_dicts(),
            "inference": self.inference,
            "diagnostics": self.diagnostics,
            "options": self.options,
            "seed": self.seed,
            "extra": {k: v.to_dicts() for k, v in sorted(self.extra.items())},
        }

    def to_json(self) -> str:
        return dumps_json(self.to_dict())

    def summary(self) -> str:
        """A plain-text table for terminals and logs."""
        lines = [f"{self.method} on {self.outcome}"]
        chosen = (self.inference.get("default_interval") or {}).get("reason")
        if chosen:
            lines.append(f"default interval: {chosen} (rows marked *; the others are shown beside them)")
        lines.append(f"{'name':<34}{'estimate':>12}{'se':>10}{'ci_low':>12}{'ci_high':>12}  interval")
        for row in self.estimates.iter_rows(named=True):

            def fmt(v: float | None, w: int) -> str:
                return f"{v:>{w}.4f}" if v is not None else f"{'':>{w}}"

            star = "*" if chosen and row.get("default") else " "
            lines.append(
                f"{star}{row['name']:<33}{fmt(row['estimate'], 12)}{fmt(row['se'], 10)}"
                f"{fmt(row['ci_low'], 12)}{fmt(row['ci_high'], 12)}  {row.get('interval') or ''}"
            )
        return "\n".join(lines)
