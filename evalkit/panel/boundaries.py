"""Boundary changes of 2019-2023 and the harmonisation policy: which units a panel follows over time.

Written down as data (`BOUNDARY_CHANGES`, with sources) and applied by `harmonise` to tidy
measures; `unit_of` maps a DfE code to its panel unit. Policy "aggregate" follows reorganised areas
as one unit over time (BCP + Dorset, Northamptonshire, Cumbria); "separate" keeps successors as new
units.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from evalkit.errors import EvalkitError

_FORMATS_9 = "FORMATS.md section 9 (LA codes and reorganisations)"
_DFE_LAS = "dfe_las.csv (DfE LA list, dfe-published-data-qa data/las.csv)"


@dataclass(frozen=True)
class BoundaryChange:
    key: str
    kind: str  # merge_split | split | gss_only | joint_reporting
    effective: dt.date | None
    predecessors: tuple[tuple[str, str], ...]  # (DfE code, GSS code)
    successors: tuple[tuple[str, str], ...]
    joint_code: str | None  # joint reporting unit seen in the data, if any
    aggregate_unit: str  # unit_code under policy "aggregate"
    aggregate_name: str
    sources: tuple[str, ...]
    note: str = ""

    def codes(self) -> tuple[str, ...]:
        out = [c for c, _ in self.predecessors] + [c for c, _ in self.successors]
        if self.joint_code:
            out.append(self.joint_code)
        return tuple(dict.fromkeys(out))

    def component_sets(self) -> tuple[frozenset[str], ...]:
        """Sets of codes that each cover the unit's whole area in one year."""
        sets = []
        if self.predecessors:
            sets.append(frozenset(c for c, _ in self.predecessors))
        if self.successors:
            sets.append(frozenset(c for c, _ in self.successors))
        if self.joint_code:
            sets.append(frozenset([self.joint_code]))
        return tuple(dict.fromkeys(sets))


BOUNDARY_CHANGES: tuple[BoundaryChange, ...] = (
    BoundaryChange(
        key="bcp_dorset_2019",
        kind="merge_split",
        effective=dt.date(2019, 4, 1),
        predecessors=(("835", "E10000009"), ("836", "E06000029"), ("837", "E06000028")),
        successors=(("838", "E06000059"), ("839", "E06000058")),
        joint_code=None,
        aggregate_unit="835+836+837+838+839",
        aggregate_name="Bournemouth, Christchurch and Poole + Dorset",
        sources=(
            _FORMATS_9,
            _DFE_LAS + ": 836 Poole and 837 Bournemouth terminated 31/03/2019; "
            "835 Dorset county terminated 31/03/2019; 839 and 838 operating from 01/04/2019",
        ),
        note="Bournemouth (837) and Poole (836) joined Christchurch (from the Dorset county area, 835) "
        "as 839; the rest of Dorset became 838. Because Christchurch moved, 835 -> 838 alone is not "
        "the same area, so the aggregate unit covers all five codes.",
    ),
    BoundaryChange(
        key="northamptonshire_2021",
        kind="split",
        effective=dt.date(2021, 4, 1),
        predecessors=(("928", "E10000021"),),
        successors=(("940", "E06000061"), ("941", "E06000062")),
        joint_code="940 / 941",
        aggregate_unit="928",
        aggregate_name="Northamptonshire",
        sources=(_FORMATS_9, _DFE_LAS + ": 928 terminated 31/03/2021; 940, 941 and joint '940 / 941' from 01/04/2021"),
    ),
    BoundaryChange(
        key="cumbria_2023",
        kind="split",
        effective=dt.date(2023, 4, 1),
        predecessors=(("909", "E10000006"),),
        successors=(("942", "E06000063"), ("943", "E06000064")),
        joint_code="942 / 943",
        aggregate_unit="909",
        aggregate_name="Cumbria",
        sources=(_FORMATS_9, _DFE_LAS + ": 909 terminated 31/03/2023; 942, 943 and joint '942 / 943' from 01/04/2023"),
    ),
    BoundaryChange(
        key="north_yorkshire_2023",
        kind="gss_only",
        effective=dt.date(2023, 4, 1),
        predecessors=(("815", "E10000023"),),
        successors=(("815", "E06000065"),),
        joint_code=None,
        aggregate_unit="815",
        aggregate_name="North Yorkshire",
        sources=(
            _FORMATS_9,
            _DFE_LAS + ": E10000023 terminated 31/03/2023, E06000065 from 01/04/2023, both old_la_code 815",
        ),
        note="County became a unitary on the same boundary; the DfE code is unchanged, so one unit.",
    ),
    BoundaryChange(
        key="somerset_2023",
        kind="gss_only",
        effective=dt.date(2023, 4, 1),
        predecessors=(("933", "E10000027"),),
        successors=(("933", "E06000066"),),
        joint_code=None,
        aggregate_unit="933",
        aggregate_name="Somerset",
        sources=(
            _FORMATS_9,
            _DFE_LAS + ": E10000027 terminated 31/03/2023, E06000066 from 01/04/2023, both old_la_code 933",
        ),
        note="County became a unitary on the same boundary; the DfE code is unchanged, so one unit.",
    ),
    BoundaryChange(
        key="kingston_richmond_joint",
        kind="joint_reporting",
        effective=None,
        predecessors=(("314", "E09000021"), ("318", "E09000027")),
        successors=(),
        joint_code="314 / 318",
        aggregate_unit="314 / 318",
        aggregate_name="Kingston upon Thames / Richmond upon Thames",
        sources=(
            "FORMATS.md section 0 (joint units appear only in the CSWW workforce files)",
            _DFE_LAS + ": joint unit '314 / 318' (added for the CSWW return)",
        ),
        note="Workforce data come only for the joint unit (one children's services company serves both "
        "boroughs). Under 'aggregate' the two boroughs are combined everywhere so every source "
        "shares the joint unit; under 'separate' the boroughs and the joint unit stay distinct.",
    ),
)

POLICIES = ("aggregate", "separate")
ADDITIVE_UNITS = frozenset({"count", "gbp", "fte"})  # may be summed over areas; all else may not
_GEO = ("la_code", "gss_code", "la_name", "value", "marker")


def _unit_maps(policy: str) -> tuple[dict[str, str], dict[str, str], dict[str, BoundaryChange]]:
    code_to_unit: dict[str, str] = {}
    unit_names: dict[str, str] = {}
    unit_change: dict[str, BoundaryChange] = {}
    for change in BOUNDARY_CHANGES:
        if change.kind == "gss_only":
            code_to_unit[change.aggregate_unit] = change.aggregate_unit
            unit_names[change.aggregate_unit] = change.aggregate_name
            continue
        if policy == "aggregate":
            for code in change.codes():
                code_to_unit[code] = change.aggregate_unit
            unit_names[change.aggregate_unit] = change.aggregate_name
            unit_change[change.aggregate_unit] = change
    return code_to_unit, unit_names, unit_change


def reorganised_codes() -> list[str]:
    """Every DfE code touched by a boundary change (predecessors, successors, joint units)."""
    return sorted(_unit_maps("aggregate")[0])


def unit_of(la_code: str, policy: str = "aggregate") -> str:
    """The harmonised unit a DfE code belongs to under a policy."""
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}")
    return _unit_maps(policy)[0].get(la_code, la_code)


def harmonise(frame: pl.DataFrame, policy: str = "aggregate") -> pl.DataFrame:
    """Add `unit_code` and `unit_name` to a MEASURES-schema frame under a boundary policy.

    "separate": every DfE code is its own unit (successors start new units, predecessors end);
    joint reporting units ("314 / 318", "940 / 941") stay units of their own.
    "aggregate": the reorganised areas are followed as one unit over time (see BOUNDARY_CHANGES).
    Rows of such a unit are collapsed to one row per unit, year and measure: additive measures
    (units count, gbp, fte) are summed when the codes present form one complete cover of the area
    (all predecessors, all successors, or the joint unit) with no missing value; otherwise the value
    is null with marker "partial_aggregate". Rates, percentages and other non-additive units are
    null with marker "rate_not_aggregable" (recompute them from aggregated counts). A unit covered by
    a single code in a year (e.g. Cumbria 909 before 2023) passes through unchanged.
    GSS-only changes (815, 933) keep one unit under the DfE code in both policies.
    """
    if policy not in POLICIES:
        raise EvalkitError(f"unknown harmonisation policy {policy!r}", expected=" or ".join(POLICIES))
    missing = [
        c for c in ("la_code", "la_name", "year", "measure", "value", "marker", "unit") if c not in frame.columns
    ]
    if missing:
        raise EvalkitError(f"frame lacks column(s) {', '.join(missing)}", expected="a MEASURES-schema frame")
    code_to_unit, unit_names, unit_change = _unit_maps(policy)
    if "gss_code" not in frame.columns:
        frame = frame.with_columns(gss_code=pl.lit(None, dtype=pl.Utf8))
    columns = list(frame.columns)
    mapped = frame.with_columns(
        unit_code=pl.col("la_code").replace_strict(code_to_unit, default=pl.col("la_code"), return_dtype=pl.Utf8)
    )
    multi = mapped.filter(pl.col("unit_code").is_in(list(unit_change)))
    plain = mapped.filter(~pl.col("unit_code").is_in(list(unit_change)) | pl.col("unit_code").is_null())
    parts = [plain]
    if multi.height:
        keys = ["unit_code"] + [c for c in columns if c not in _GEO]
        groups = multi.group_by(keys, maintain_order=True).agg(
            pl.col("la_code"),
            pl.col("gss_code"),
            pl.col("la_name"),
            pl.col("value"),
            pl.col("marker"),
        )
        rows = []
        for row in groups.iter_rows(named=True):
            change = unit_change[row["unit_code"]]
            codes = row["la_code"]
            order = sorted(range(len(codes)), key=lambda i: codes[i])
            present = frozenset(codes)
            complete = len(codes) == len(present) and present in change.component_sets()
            out = {k: row[k] for k in keys}
            if len(codes) == 1 and complete:
                out.update(
                    la_code=codes[0],
                    gss_code=row["gss_code"][0],
                    la_name=row["la_name"][0],
                    value=row["value"][0],
                    marker=row["marker"][0],
                )
            else:
                out.update(
                    la_code="+".join(codes[i] for i in order),
                    gss_code="+".join(str(row["gss_code"][i]) for i in order)
                    if any(g is not None for g in row["gss_code"])
                    else None,
                    la_name=" + ".join(str(row["la_name"][i]) for i in order),
                )
                values = row["value"]
                if row["unit"] not in ADDITIVE_UNITS:
                    out.update(value=None, marker="rate_not_aggregable")
                elif not complete or any(v is None for v in values):
                    out.update(value=None, marker="partial_aggregate")
                else:
                    out.update(value=float(sum(values)), marker=None)
            rows.append(out)
        agg = pl.DataFrame(
            rows,
            schema={
                **{k: mapped.schema[k] for k in keys},
                **{k: mapped.schema[k] for k in _GEO if k in mapped.columns},
            },
        )
        parts.append(agg.select(mapped.columns))
    out = pl.concat(parts, how="vertical")
    # One name per unit: the policy's name, else the name published in the latest year.
    latest = (
        out.filter(pl.col("unit_code").is_not_null())
        .sort(["year", "la_name"], nulls_last=False)
        .group_by("unit_code", maintain_order=True)
        .agg(pl.col("la_name").last().alias("_latest_name"))
    )
    names = pl.DataFrame(
        {"unit_code": list(unit_names), "_policy_name": list(unit_names.values())},
        schema={"unit_code": pl.Utf8, "_policy_name": pl.Utf8},
    )
    out = (
        out.join(latest, on="unit_code", how="left")
        .join(names, on="unit_code", how="left")
        .with_columns(unit_name=pl.coalesce("_policy_name", "_latest_name"))
        .drop("_latest_name", "_policy_name")
    )
    return out.select(columns + ["unit_code", "unit_name"]).sort(
        ["year", "unit_code", "measure"], nulls_last=True, maintain_order=True
    )
