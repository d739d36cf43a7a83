"""The report's "After a return in-house" section (evalkit.report.exits) on a small results document."""

from __future__ import annotations

from evalkit.report import exits
from evalkit.report.blocks import Heading, block_md

REGISTRY = [
    {"la_code": "371", "la_name": "Doncaster", "role": "treated", "end_type": "ownership_change"},
    {
        "la_code": "371",
        "la_name": "Doncaster",
        "body_name": "DCST",
        "model": "council_company",
        "role": "model_change",
        "go_live": "2019",
        "end_date": "2022-09-01",
        "end_type": "returned_in_house",
        "pre_transfer_grade": "good",
    },
    {
        "la_code": "870",
        "la_name": "Reading",
        "body_name": "BFfC",
        "model": "council_company",
        "role": "treated",
        "go_live": "2018-12",
        "end_date": "2025-10-01",
        "end_type": "returned_in_house",
        "pre_transfer_grade": "inadequate",
    },
    {"la_code": "330", "la_name": "Birmingham", "role": "treated", "end_type": ""},
]


def _res(outcome: str, rows: list[dict], **diag) -> dict:
    return {"outcome": outcome, "estimates": rows, "diagnostics": diag}


def test_no_exit_analyses_no_section() -> None:
    doc = {"registry": REGISTRY, "analyses": [{"label": "a", "method": "cs", "results": _res("y", [])}]}
    assert exits.section(doc) == []


def test_section_says_who_came_back_selection_and_what_was_estimable() -> None:
    itt = _res("cla", [{"name": "simple", "estimate": 1.0, "ci_low": 0.0, "ci_high": 2.0, "default": True}])
    at = _res("cla", [{"name": "simple", "estimate": 0.5, "ci_low": -1.0, "ci_high": 2.0, "default": True}])
    out = _res(
        "cla",
        [
            {
                "name": "dynamic:e=0",
                "estimate": -3.0,
                "ci_low": -5.0,
                "ci_high": -1.0,
                "aggregation": "dynamic",
                "event_time": 0,
                "default": False,
            },
            {
                "name": "dynamic:e=0:randomisation",
                "estimate": -3.0,
                "ci_low": -9.0,
                "ci_high": 4.0,
                "aggregation": "randomisation",
                "event_time": 0,
                "default": True,
            },
        ],
        switchers_out_units=["371"],
        years=[2020, 2025],
    )
    out["extra"] = {"switchers": [{"unit": "371", "event_time": 0, "estimate": -3.0}]}
    doc = {
        "registry": REGISTRY,
        "analyses": [
            {"label": "cla_cs_never", "method": "cs", "results": itt},
            {"label": "cla_cs_never_as_treated", "method": "cs", "treatment": "as_treated", "results": at},
            {"label": "cla_exit_dcdh", "method": "dcdh", "treatment": "switching", "results": out},
        ],
    }
    blocks = exits.section(doc)
    assert isinstance(blocks[0], Heading) and blocks[0].text == "After a return in-house"
    text = "\n".join(block_md(b) for b in blocks)
    assert "Two of the 3 treated councils took" in text
    assert "selection on exit" in text
    assert "| cla | 1.000 (analytic interval 0.000 to 2.000) | 0.500 (analytic interval -1.000 to 2.000) |" in text
    # the switch-out row quotes its default (randomisation) interval and names the council in it
    assert "| cla | Doncaster | -3.000 (randomisation interval -9.000 to 4.000) |" in text
    assert "| cla | Doncaster | -3.000 | — | — |" in text  # the council's own comparison, year by year
    assert "cla: Reading not estimable: its first year back (2026) is after the outcome's last year here (2025)" in text
