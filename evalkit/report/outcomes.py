"""Outcome columns in words: what a council leader reads instead of a column name.

(label, unit, domain, better): `better` is "lower", "higher" or "" when neither direction is
simply better (a lower rate of children in care is not unambiguously good; demand is context).
"""

from __future__ import annotations

OUTCOMES: dict[str, tuple[str, str, str, str]] = {
    "cla_rate_per_10000": ("children looked after per 10,000 children", "per 10,000", "outcomes", ""),
    "ofsted_inadequate": ("Ofsted 'inadequate' in force", "share of councils", "quality", "lower"),
    "ofsted_inadequate_at_inspection": (
        "judged 'inadequate' at an inspection",
        "share of inspections",
        "quality",
        "lower",
    ),
    "ofsted_grade_at_inspection": (
        "Ofsted grade at an inspection (1 outstanding to 4 inadequate)",
        "grade points",
        "quality",
        "lower",
    ),
    "ofsted_time_to_good": ("time from 'inadequate' to 'good'", "years", "quality", "lower"),
    "rereferral_percent": ("re-referrals within 12 months", "percentage points", "quality", "lower"),
    "cpp_subsequent_percent": ("repeat child protection plans", "percentage points", "quality", "lower"),
    "agency_rate_fte": ("agency social workers", "percentage points", "workforce", "lower"),
    "turnover_rate_fte": ("social worker turnover", "percentage points", "workforce", "lower"),
    "vacancy_rate_fte": ("social worker vacancies", "percentage points", "workforce", "lower"),
    "caseload_fte": ("caseload per social worker", "cases", "workforce", "lower"),
    "cin_rate_per_10000": ("children in need per 10,000", "per 10,000", "demand", ""),
    "cpp_rate_per_10000": ("child protection plans per 10,000", "per 10,000", "demand", ""),
    "referral_rate_per_10000": ("referrals per 10,000", "per 10,000", "demand", ""),
    "spend_csc_per_child": ("spending per child (nominal pounds, from 2015-16)", "£", "cost", ""),
    "spend_csc_per_child_s251_real": ("real spending per child (2024-25 prices)", "£", "cost", ""),
    "spend_cla_per_cla_real": ("real spending per child in care (2024-25 prices)", "£", "cost", ""),
    "spend_csc_per_cin_real": ("real spending per child in need (2024-25 prices)", "£", "cost", ""),
    "spend_cla_per_child_week_real": ("weekly cost per child in care (2024-25 prices)", "£ a week", "cost", ""),
    "spend_fostering_per_child_week_real": (
        "weekly cost of a foster placement (2024-25 prices)",
        "£ a week",
        "cost",
        "",
    ),
    "spend_residential_per_child_week_real": (
        "weekly cost of a residential placement (2024-25 prices)",
        "£ a week",
        "cost",
        "",
    ),
}


def label(column: str) -> str:
    return OUTCOMES[column][0] if column in OUTCOMES else column.replace("_", " ")


def unit(column: str) -> str:
    return OUTCOMES[column][1] if column in OUTCOMES else ""


def domain(column: str) -> str:
    return OUTCOMES[column][2] if column in OUTCOMES else "other"


def better(column: str) -> str:
    return OUTCOMES[column][3] if column in OUTCOMES else ""
