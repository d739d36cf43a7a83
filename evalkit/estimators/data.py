"""Normalise a user's long panel once, at the door, into the shape every estimator reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from evalkit.errors import EvalkitError


@dataclass(frozen=True)
class LongPanel:
    """A long panel with canonical column names.

    data columns: `unit` (Utf8), `time` (Int64), `y` (Float64), `cohort` (Int64; 0 = never
    treated, else the first treated period), and each covariate under its own name; when the
    panel was given the treatment in force per period, also `d` (Float64), which may switch off.
    """

    data: pl.DataFrame
    outcome: str
    covariates: tuple[str, ...] = ()

    @property
    def units(self) -> list[str]:
        return sorted(self.data["unit"].unique().to_list())

    @property
    def times(self) -> list[int]:
        return sorted(self.data["time"].unique().to_list())

    def unit_cohorts(self) -> dict[str, int]:
        """unit -> first treated period (0 = never), in unit order: the one lookup every estimator uses."""
        rows = self.data.group_by("unit").agg(pl.col("cohort").first()).sort("unit")
        return dict(zip(rows["unit"].to_list(), rows["cohort"].to_list()))

    def switch_off_units(self) -> list[str]:
        """Units whose treatment in force falls at some period (a return to no treatment): every
        estimator that reads only `cohort` would treat them as treated for good."""
        if "d" not in self.data.columns:
            return []
        fell = (
            self.data.sort("unit", "time")
            .with_columns((pl.col("d") < pl.col("d").shift(1).over("unit")).alias("__fell"))
            .filter(pl.col("__fell"))
        )
        return sorted(fell["unit"].unique().to_list())

    def wide(self) -> tuple[np.ndarray, list[str], list[int]]:
        """Outcome matrix units × times (NaN where missing), with unit and time labels."""
        units, times = self.units, self.times
        piv = self.data.pivot(on="time", index="unit", values="y", aggregate_function="first", sort_columns=True)
        piv = piv.sort("unit")
        cols = [str(t) for t in times]
        for c in cols:
            if c not in piv.columns:
                piv = piv.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
        mat = piv.select(cols).to_numpy().astype(float)
        return mat, units, times


def drop_incomplete_donors(panel: LongPanel) -> tuple[LongPanel, list[str]]:
    """Never-treated units whose outcome is missing in some period of the panel, dropped (as a plan's
    sample drops incomplete councils), so methods that need every donor-period do not stop on them.
    Treated units are kept: dropping one would change what is estimated, so its gap is reported."""
    n_times = panel.data["time"].n_unique()
    counts = panel.data.group_by("unit").agg(
        pl.col("y").is_not_null().sum().alias("n"),
        (pl.col("cohort").max() == 0).alias("never"),
        *([(pl.col("d").max() <= 0).alias("never_d")] if "d" in panel.data.columns else []),
    )
    never = pl.col("never") & pl.col("never_d") if "d" in panel.data.columns else pl.col("never")
    short = sorted(counts.filter((pl.col("n") < n_times) & never)["unit"].to_list())
    if not short:
        return panel, []
    kept = panel.data.filter(~pl.col("unit").is_in(short))
    return LongPanel(kept, panel.outcome, panel.covariates), short


def cohort_from_treated(frame: pl.DataFrame, unit: str, time: str, treated: str) -> pl.Series:
    """First period in which a unit's 0/1 treated column is 1 (0 when never)."""
    first = frame.filter(pl.col(treated) == 1).group_by(unit).agg(pl.col(time).min().alias("__cohort"))
    joined = frame.select(unit).join(first, on=unit, how="left", maintain_order="left")
    return joined["__cohort"].fill_null(0).cast(pl.Int64)


def read_panel_file(path: str | Path) -> pl.DataFrame:
    """Read a CSV (comma or semicolon separated) or Parquet panel."""
    path = Path(path)
    if not path.exists():
        raise EvalkitError("file not found", file=path)
    if path.suffix.lower() == ".parquet":
        try:
            return pl.read_parquet(path)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - a Rust panic (non-UTF-8 metadata) is a BaseException
            raise EvalkitError(
                f"not a readable Parquet file ({type(exc).__name__})", file=path, expected="a Parquet file"
            ) from None
    with open(path, encoding="utf-8-sig") as fh:
        head = fh.readline()
    sep = ";" if head.count(";") > head.count(",") else ","
    try:
        return pl.read_csv(path, separator=sep, infer_schema_length=10000, null_values=["", "NA", "."])
    except pl.exceptions.PolarsError as exc:
        raise EvalkitError(f"cannot read as a {sep!r}-separated table: {exc}".splitlines()[0], file=path) from exc


def make_panel(
    frame: pl.DataFrame,
    *,
    unit: str,
    time: str,
    outcome: str,
    cohort: str | None = None,
    treated: str | None = None,
    covariates: tuple[str, ...] | list[str] = (),
    source: str = "panel",
) -> LongPanel:
    """Check and rename the user's columns; exactly one of `cohort` or `treated` names treatment.

    A `treated` column is also kept as the treatment in force (`d`), so an estimator for treatment
    that switches off can read it and the others can refuse units that switch off."""
    covariates = tuple(covariates)
    if (cohort is None) == (treated is None):
        raise EvalkitError("give exactly one of a cohort (first-treated period) or a 0/1 treated column", file=source)
    needed = [unit, time, outcome, cohort or treated, *covariates]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise EvalkitError(f"missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}", file=source)
    if cohort is None:
        cohort_series = cohort_from_treated(frame, unit, time, treated)  # type: ignore[arg-type]
    else:
        cohort_series = frame[cohort]
    out = frame.select(
        pl.col(unit).cast(pl.Utf8).alias("unit"),
        pl.col(time).alias("time"),
        pl.col(outcome).alias("y"),
        *[pl.col(c) for c in covariates],
        *([pl.col(treated).alias("d")] if treated is not None else []),
    ).with_columns(cohort_series.alias("cohort"))
    checks = [("time", pl.Int64), ("y", pl.Float64), ("cohort", pl.Int64)] + ([("d", pl.Float64)] if treated else [])
    for col, dtype in checks:
        try:
            out = out.with_columns(pl.col(col).cast(dtype, strict=True))
        except pl.exceptions.PolarsError:
            bad = out.with_row_index("__row").filter(
                pl.col(col).cast(dtype, strict=False).is_null() & pl.col(col).is_not_null()
            )
            row = int(bad["__row"][0]) + 2 if bad.height else None
            name = {"time": time, "y": outcome, "cohort": cohort or treated, "d": treated}[col]
            raise EvalkitError("not a number", file=source, row=row, column=name, expected="numeric values") from None
    out = out.with_columns(pl.col("cohort").fill_null(0))
    dup = out.group_by("unit", "time").len().filter(pl.col("len") > 1)
    if dup.height:
        u, t = dup.sort("unit", "time").row(0)[:2]
        raise EvalkitError(
            f"unit {u} appears more than once in period {t}",
            file=source,
            column=unit,
            expected="one row per unit and period",
        )
    cohorts = out.group_by("unit").agg(pl.col("cohort").n_unique().alias("n"))
    if cohorts.filter(pl.col("n") > 1).height:
        u = cohorts.filter(pl.col("n") > 1).sort("unit")["unit"][0]
        raise EvalkitError(
            f"unit {u} has more than one first-treated period",
            file=source,
            column=cohort or treated,
            expected="a constant cohort per unit",
        )
    return LongPanel(data=out.sort("unit", "time"), outcome=outcome, covariates=covariates)
