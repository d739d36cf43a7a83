"""The one catalogue of panel outcome columns: what a column means to a reader and how it behaves.

Every module that names an outcome in words, picks its unit, groups it by domain, asks which
direction is better or whether it is observed only in some years (verdicts, report, estimate's
sample rules, multiverse) reads this table instead of rules on the column's name. A column missing
from the catalogue is described from its name and treated as a dense, directionless measure.

Fields: `label` (words), `unit` (short, for tables), `unit_phrase` (for "effects smaller than about X
<unit_phrase>"), `domain` (outcomes, quality, workforce, demand, cost), `better` ("lower", "higher" or
"" when neither direction is simply better: a lower rate of children in care is not unambiguously
good; demand is context), `sparse` (observed only in inspection years: the sample is those
council-years, not a balanced panel), `spending_part` (where the column
sits in spending = demand x unit cost: "total", "demand", "unit cost"), `scale` (multiply a value by this to show it in `unit`: shares
0 to 1 shown as percentage points). `unit_phrase` is in the estimator's own scale (before `scale`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    label: str
    unit: str
    unit_phrase: str
    domain: str
    better: str = ""
    sparse: bool = False
    scale: float = 1.0
    spending_part: str = ""  # "total", "demand" or "unit cost": the parts of "does demand drive cost?"


_PER_10K = ("per 10,000", "per 10,000 children")
_PP = ("percentage points", "percentage points")
_GBP = ("£ a year per child", "pounds per child")
_GBP_WEEK = ("£ a week", "pounds a week")

COLUMNS: dict[str, Column] = {
    "cla_rate_per_10000": Column(
        "children looked after per 10,000 children", *_PER_10K, "outcomes", spending_part="demand"
    ),
    "ofsted_inadequate": Column(
        "Ofsted 'inadequate' in force",
        "percentage points of councils",
        "(as a share of councils, 0 to 1)",
        "quality",
        "lower",
        scale=100.0,
    ),
    "ofsted_inadequate_at_inspection": Column(
        "judged 'inadequate' at an inspection",
        "percentage points of inspections",
        "(as a share of inspections, 0 to 1)",
        "quality",
        "lower",
        sparse=True,
        scale=100.0,
    ),
    "ofsted_grade_at_inspection": Column(
        "Ofsted grade at an inspection (1 outstanding to 4 inadequate)",
        "grade points",
        "grade points",
        "quality",
        "lower",
        sparse=True,
    ),
    "ofsted_time_to_good": Column("time from 'inadequate' to 'good'", "years", "years", "quality", "lower"),
    "rereferral_percent": Column("re-referrals within 12 months", *_PP, "quality", "lower"),
    "cpp_subsequent_percent": Column("repeat child protection plans", *_PP, "quality", "lower"),
    "agency_rate_fte": Column("agency social workers", *_PP, "workforce", "lower"),
    "turnover_rate_fte": Column("social worker turnover", *_PP, "workforce", "lower"),
    "vacancy_rate_fte": Column("social worker vacancies", *_PP, "workforce", "lower"),
    "caseload_fte": Column("caseload per social worker", "cases", "cases", "workforce", "lower"),
    "cin_rate_per_10000": Column("children in need per 10,000", *_PER_10K, "demand", spending_part="demand"),
    "cpp_rate_per_10000": Column("child protection plans per 10,000", *_PER_10K, "demand"),
    "referral_rate_per_10000": Column("referrals per 10,000", *_PER_10K, "demand"),
    "spend_csc_per_child": Column("spending per child (nominal pounds, from 2015-16)", *_GBP, "cost"),
    "spend_csc_per_child_s251_real": Column(
        "real spending per child (2024-25 prices)", *_GBP, "cost", spending_part="total"
    ),
    "spend_cla_per_cla_real": Column(
        "real spending per child in care (2024-25 prices)",
        "£ a year per child in care",
        "pounds per child",
        "cost",
        spending_part="unit cost",
    ),
    "spend_csc_per_cin_real": Column(
        "real spending per child in need (2024-25 prices)",
        "£ a year per child in need",
        "pounds per child",
        "cost",
        spending_part="unit cost",
    ),
    "spend_cla_per_child_week_real": Column("weekly cost per child in care (2024-25 prices)", *_GBP_WEEK, "cost"),
    "spend_fostering_per_child_week_real": Column(
        "weekly cost of a foster placement (2024-25 prices)", *_GBP_WEEK, "cost", spending_part="unit cost"
    ),
    "spend_residential_per_child_week_real": Column(
        "weekly cost of a residential placement (2024-25 prices)", *_GBP_WEEK, "cost", spending_part="unit cost"
    ),
}


def get(column: str) -> Column:
    """The column's entry; an uncatalogued column is described from its name (dense, no direction)."""
    found = COLUMNS.get(column)
    if found is not None:
        return found
    words = column.replace("_", " ")
    return Column(words, "", "in the outcome's units", "other")


def known(column: str) -> bool:
    return column in COLUMNS


def label(column: str) -> str:
    return get(column).label


def unit(column: str) -> str:
    return get(column).unit


def domain(column: str) -> str:
    return get(column).domain


def better(column: str) -> str:
    return get(column).better


def sparse(column: str) -> bool:
    return get(column).sparse
