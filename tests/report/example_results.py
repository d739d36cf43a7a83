"""A small, hand-built results document (made-up numbers) for tests and for previewing the report.

Built from real `Results` objects so it has exactly the shape the estimate stage writes.
"""

from __future__ import annotations

import math
from typing import Any

import polars as pl

from evalkit import __version__
from evalkit.estimators.results import Results, estimates_frame


def _cs_results() -> Results:
    rows: list[dict[str, Any]] = [
        {
            "name": "simple",
            "aggregation": "simple",
            "estimate": -4.21,
            "se": 1.62,
            "ci_low": -7.39,
            "ci_high": -1.03,
            "p_value": 0.0094,
        },
    ]
    for g, est in ((2014, -3.1), (2016, -5.2), (2018, -2.4)):
        rows.append(
            {
                "name": f"group:g={g}",
                "aggregation": "group",
                "group": g,
                "estimate": est,
                "se": 2.1,
                "ci_low": est - 4.1,
                "ci_high": est + 4.1,
                "p_value": 0.14,
            }
        )
    for e in range(-5, 6):
        est = 0.3 * math.sin(e) if e < 0 else -1.0 - 0.8 * e
        se = 1.1 + 0.1 * abs(e)
        rows.append(
            {
                "name": f"dynamic:e={e}",
                "aggregation": "dynamic",
                "event_time": e,
                "estimate": round(est, 4),
                "se": round(se, 4),
                "ci_low": round(est - 1.96 * se, 4),
                "ci_high": round(est + 1.96 * se, 4),
                "p_value": None if e == -1 else 0.2,
            }
        )
    for g in (2014, 2016):
        for t in (2013, 2015, 2017):
            rows.append(
                {
                    "name": f"att_gt:g={g},t={t}",
                    "aggregation": "att_gt",
                    "group": g,
                    "time": t,
                    "event_time": t - g,
                    "estimate": 0.5 * (t - g),
                    "se": 1.5,
                    "ci_low": 0.5 * (t - g) - 2.9,
                    "ci_high": 0.5 * (t - g) + 2.9,
                    "p_value": 0.5,
                }
            )
    return Results(
        method="cs",
        outcome="cla_rate_per_10000",
        estimates=estimates_frame(rows),
        inference={"se_type": "multiplier bootstrap", "alpha": 0.05, "bootstrap": 199, "uniform_bands": True},
        diagnostics={"pretrend_wald_p": 0.62, "n_units": 150, "n_treated": 9, "n_periods": 14},
        options={"control": "never", "est_method": "dr"},
        seed=20240101,
    )


def _twfe_results() -> Results:
    rows = [
        {
            "name": "coef:treated",
            "aggregation": "coef",
            "estimate": -2.05,
            "se": 1.31,
            "ci_low": -4.62,
            "ci_high": 0.52,
            "p_value": 0.118,
        }
    ]
    return Results(
        method="twfe",
        outcome="cla_rate_per_10000",
        estimates=estimates_frame(rows),
        inference={"se_type": "cluster-robust", "cluster": "unit", "alpha": 0.05},
        diagnostics={"negative_weights_share": 0.08},
        options={},
        seed=None,
    )


def _synth_results() -> Results:
    years = list(range(2011, 2025))
    treated = "E06000034"
    paths = []
    for t in years:
        base = 60 + 1.5 * (t - 2011)
        synthetic = base + 0.4 * math.cos(t)
        effect = -6.0 - 0.5 * (t - 2017) if t >= 2017 else 0.3 * math.sin(t)
        paths.append(
            {
                "unit": treated,
                "time": t,
                "treated": round(synthetic + effect, 4),
                "synthetic": round(synthetic, 4),
                "gap": round(effect, 4),
            }
        )
    donors = [f"E0800{n:04d}" for n in range(1, 13)]
    placebo = []
    for i, d in enumerate(donors):
        for t in years:
            placebo.append({"unit": d, "time": t, "gap": round(2.0 * math.sin(0.7 * t + i), 4)})
    raw = [max(0.0, math.cos(i)) for i in range(len(donors))]
    total = sum(raw)
    weights = [{"unit": d, "weight": round(w / total, 6)} for d, w in zip(donors, raw)]
    rmspe = [
        {"unit": d, "pre_rmspe": 1.4, "post_rmspe": round(1.4 * (1 + 0.2 * i), 4), "ratio": round(1 + 0.2 * i, 4)}
        for i, d in enumerate(donors)
    ]
    rmspe.append({"unit": treated, "pre_rmspe": 0.9, "post_rmspe": 7.2, "ratio": 8.0})
    rows = [
        {
            "name": f"unit:{treated}",
            "aggregation": "unit",
            "unit": treated,
            "group": 2017,
            "estimate": -7.9,
            "se": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": 1 / 13,
        },
        {
            "name": "pooled",
            "aggregation": "pooled",
            "estimate": -7.9,
            "se": None,
            "ci_low": None,
            "ci_high": None,
            "p_value": 1 / 13,
        },
    ]
    return Results(
        method="synth",
        outcome="cla_rate_per_10000",
        estimates=estimates_frame(rows),
        inference={"se_type": "placebo permutation", "alpha": 0.05, "permutations": 12},
        diagnostics={"pre_rmspe": 0.9, "donors": len(donors)},
        options={"v": "equal"},
        seed=20240101,
        extra={
            "paths": pl.DataFrame(paths),
            "placebo": pl.DataFrame(placebo),
            "weights": pl.DataFrame(weights),
            "rmspe": pl.DataFrame(rmspe),
        },
    )


def example_document(*, synthetic_demo: bool = True) -> dict[str, Any]:
    """A complete results.json document with CS (primary), TWFE and synthetic-control analyses."""
    plan = {
        "plan": {
            "name": "example",
            "title": "Example evaluation",
            "synthetic_demo": synthetic_demo,
            "question": "Did moving children's services to a trust change the rate of children looked after?",
        },
        "data": {"panel": "data/processed/panel.parquet", "expected_sha256": {}},
        "sample": {
            "years": [2011, 2024],
            "treated": "registry",
            "exclude_units": ["E06000052"],
            "donors": "never_treated",
        },
        "inference": {"alpha": 0.05, "seed": 20240101, "bootstrap": 199, "permutations": 12},
        "analysis": [
            {
                "label": "cla_cs",
                "title": "Children looked after: Callaway and Sant'Anna",
                "outcome": "cla_rate_per_10000",
                "method": "cs",
                "primary": True,
                "options": {"control": "never", "est_method": "dr"},
            },
            {
                "label": "cla_twfe",
                "title": "Children looked after: two-way fixed effects",
                "outcome": "cla_rate_per_10000",
                "method": "twfe",
                "primary": False,
                "options": {},
            },
            {
                "label": "cla_synth",
                "title": "Children looked after: synthetic control (one trust)",
                "outcome": "cla_rate_per_10000",
                "method": "synth",
                "primary": False,
                "options": {"v": "equal"},
            },
        ],
        "report": {
            "limitations": [
                "Councils chose to move; the comparison cannot rule out changes that would have happened anyway."
            ]
        },
    }
    return {
        "title": plan["plan"]["title"],
        "name": "example",
        "synthetic_demo": synthetic_demo,
        "question": plan["plan"]["question"],
        "plan": plan,
        "plan_sha256": "0" * 64,
        "lock": {
            "plan_file": "plans/example.toml",
            "sha256": "1" * 64,
            "locked_at": "2024-01-01T00:00:00Z",
            "evalkit_version": __version__,
        },
        "deviations": [
            {"field": "analysis[0].options.control", "change": "changed", "locked": "notyet", "current": "never"}
        ],
        "provenance": {
            "inputs": [{"path": "data/processed/panel.parquet", "sha256": "ab" * 32, "rows": 2100}],
            "evalkit_version": __version__,
            "libraries": {"polars": pl.__version__, "numpy": "2.4.6"},
            "seeds": {"inference": 20240101},
            "command": "evalkit estimate --plan plans/example.toml",
        },
        "registry": [
            {
                "unit": "E06000034",
                "la_name": "Thurrock (example)",
                "model": "trust",
                "first_year": 2017,
                "source": "https://www.gov.uk/government/publications/example",
                "source_note": "made-up row",
            },
            {
                "unit": "E10000021",
                "la_name": "Northamptonshire (example)",
                "model": "trust",
                "first_year": 2020,
                "source": "https://www.gov.uk/government/publications/example-2",
                "source_note": "made-up row",
            },
        ],
        "coverage": [
            {
                "measure": "cla_rate_per_10000",
                "units": 150,
                "years": "2011-2024",
                "missing": 12,
                "missing_reasons": {"suppressed": 8, "not_published": 4},
            },
            {"measure": "cin_rate_per_10000", "units": 150, "years": "2013-2024", "missing": 0, "missing_reasons": {}},
        ],
        "balance": [
            {"variable": "cla_rate_per_10000_pre", "smd_before": 0.41, "smd_after": 0.05},
            {"variable": "idaci_score", "smd_before": 0.62, "smd_after": 0.12},
        ],
        "analyses": [
            {
                "label": "cla_cs",
                "title": plan["analysis"][0]["title"],
                "primary": True,
                "results": _cs_results().to_dict(),
            },
            {
                "label": "cla_twfe",
                "title": plan["analysis"][1]["title"],
                "primary": False,
                "results": _twfe_results().to_dict(),
            },
            {
                "label": "cla_synth",
                "title": plan["analysis"][2]["title"],
                "primary": False,
                "results": _synth_results().to_dict(),
            },
        ],
        "limitations": [
            "Councils chose to move; the comparison cannot rule out changes that would have happened anyway.",
            "Nine treated councils: estimates are imprecise.",
        ],
    }
