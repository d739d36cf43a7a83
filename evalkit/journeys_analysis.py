"""The plan's `time_to_good` analysis: Kaplan-Meier curves of the time from a council's first
'inadequate' judgement to 'good or better', by group, with log-rank tests against the treated group.

Reads the ingested Ofsted judgements next to the panel (`ofsted.parquet`); see
`evalkit.panel.journeys` for the spell definition and the censoring rule. The results have the
shape of every other analysis (estimates rows, inference, diagnostics, extra tables), so the report,
verify and the results table treat them alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from evalkit.errors import EvalkitError
from evalkit.estimators.survival import kaplan_meier, logrank, survival_at
from evalkit.panel import journeys

GROUPS = ("treated", "directed_in_house", "other_in_house")
HORIZONS = (3, 5)


def run_time_to_good(analysis: dict[str, Any], panel_path: Path, sample: pl.DataFrame, inference: dict[str, Any]) -> dict[str, Any]:
    from evalkit import generations

    judgements = generations.resolve(Path(panel_path).parent / "ofsted.parquet")
    if not judgements.exists():
        raise EvalkitError("no Ofsted judgements next to the panel; run `evalkit ingest`", file=judgements)
    policy = str(sample["boundary_policy"][0]) if "boundary_policy" in sample.columns and sample.height else "aggregate"
    lines = journeys.timelines(pl.read_parquet(judgements), policy)
    groups = journeys.groups_from_panel(sample)
    spells = journeys.time_to_good(lines, groups)
    # councils excluded from the sample (e.g. other interventions such as Rotherham) keep their named group
    full = pl.read_parquet(generations.resolve(Path(panel_path)), columns=["unit_code", "unit_name"])
    names = dict(full.group_by("unit_code").agg(pl.col("unit_name").drop_nulls().last()).iter_rows())
    spells = spells.with_columns(pl.col("unit_code").replace_strict(names, default=None, return_dtype=pl.Utf8).alias("unit_name"))
    alpha = float(inference.get("alpha", 0.05))
    rows, km_rows = [], []
    fits = {}
    for group in GROUPS:
        g = spells.filter(pl.col("group") == group)
        if g.height == 0:
            continue
        km = kaplan_meier(g["years"].to_numpy(), g["event"].to_numpy(), alpha=alpha)
        fits[group] = (g, km)
        rows.append({"name": f"median_years:{group}", "aggregation": "group_summary", "estimate": km.median,
                     "n": km.n, "events": km.n_events})
        for h in HORIZONS:
            rows.append({"name": f"good_within_{h}y:{group}", "aggregation": "group_summary",
                         "estimate": 1 - survival_at(km, h), "n": km.n, "events": km.n_events})
        km_rows += [{"group": group, "years": t, "at_risk": n, "events": d, "survival": s, "ci_low": lo, "ci_high": hi}
                    for t, n, d, s, lo, hi in zip(km.times, km.at_risk, km.events, km.survival, km.ci_low, km.ci_high)]
    tests = {}
    if "treated" in fits:
        a = fits["treated"][0]
        for other in ("directed_in_house", "other_in_house"):
            if other in fits:
                b = fits[other][0]
                lr = logrank(a["years"].to_numpy(), a["event"].to_numpy(), b["years"].to_numpy(), b["event"].to_numpy())
                tests[other] = lr
                rows.append({"name": f"logrank:treated_vs_{other}", "aggregation": "test", "estimate": lr["chi2"],
                             "p_value": lr["p_value"]})
    estimates = [{"name": r["name"], "aggregation": r["aggregation"], "estimate": r.get("estimate"), "se": None,
                  "ci_low": None, "ci_high": None, "p_value": r.get("p_value"), "group": None, "time": None,
                  "event_time": None, "unit": None} for r in rows]
    end = spells["stop"].max() if spells.height else None
    results = {
        "method": "kaplan_meier", "outcome": analysis["outcome"], "estimates": estimates,
        "inference": {"method": "Kaplan-Meier with Greenwood variance, log(-log) band; two-group log-rank tests",
                      "alpha": alpha, "logrank": tests},
        "diagnostics": {
            "spell": "from the first SIF/ILACS 'inadequate' judgement (publication date) to the first later 'good' or 'outstanding'",
            "censoring": f"councils not yet good are censored at the end of follow-up ({end}); no judgement after 31 March 2026 "
                         "counts (Ofsted stopped the overall-effectiveness grade from April 2026); treated councils that "
                         "returned in-house stay treated (intention to treat)",
            "groups": {g: int(spells.filter(pl.col("group") == g).height) for g in GROUPS},
            "directed_in_house_named": journeys.DIRECTED_IN_HOUSE,
            "not_in_analysis": "councils with no SIF/ILACS 'inadequate' judgement have no spell (e.g. Isle of Wight, "
                               "whose 2013 'inadequate' predates SIF)",
        },
        "options": {}, "seed": None,
        "extra": {
            "spells": [{k: (str(v) if hasattr(v, "isoformat") else v) for k, v in r.items()}
                       for r in spells.select("unit_code", "unit_name", "group", "start", "stop", "years", "event", "path").to_dicts()],
            "km": km_rows,
            "timelines": [{"unit": u, "unit_name": names.get(u), "group": groups.get(u, "other_in_house"), "date": str(d), "grade": g}
                          for u, d, g in lines.select("unit_code", "publication_date", "grade").iter_rows()
                          if groups.get(u) in ("treated", "directed_in_house")],
        },
    }
    return {"label": analysis["label"], "title": analysis.get("title", analysis["label"]), "primary": False,
            "method": "time_to_good", "results": results,
            **({"reason": analysis["reason"]} if analysis.get("reason") else {})}
