"""The data-generating process of the SYNTHETIC DEMO DATA.

Nothing here is a real statistic: the councils are fictional ("Demo" codes 001-048 and GSS codes
E99xxxxxx, which ONS never issues). The process is simple enough to state exactly, so that the
estimators can be checked against the truth:

* 48 councils, reporting years 2011-2024 (year t = the year ending 31 March t).
* Children looked after per 10,000 children aged 0-17 (CLA rate):
      rate[i,t] = a[i] + 0.8 * (t - 2011) + g[t] + TRUE_CLA_EFFECT * treated[i,t] + e[i,t]
  with a[i] ~ N(65, 18^2), g[t] ~ N(0, 1.5^2) common shocks, e[i,t] AR(1) with rho 0.4 and
  innovation sd 1.0. The published count is round(rate * population / 10,000), where population
  is the mid-year before t (as DfE does), and the published rate is the rounded integer.
* Children's social care spending per child (GBP, cash):
      spend[i,t] = (b[i] + 14 * (t - 2011) + h[t] + TRUE_SPEND_EFFECT * treated[i,t] + f[i,t]) * pop / 1
  with b[i] ~ N(620, 90^2), h[t] ~ N(0, 10^2), f[i,t] ~ N(0, 15^2); TRUE_SPEND_EFFECT = 0, a known null.
* Inspections: a latent quality q[i] = -(a[i]-65)/18 * 0.5 + N(0, 1); each council has one SIF
  judgement (published 2014-2017) and ILACS judgements from 2018 every 3 years (2 after
  'inadequate'), with grade cut-points on q + N(0, 0.6) noise. None during March 2020 - May 2021.
* Selection on failure: the 8 councils with the worst SIF grades (inadequate first) move their
  children's services into a trust or company, 12-30 months after the SIF publication, each at a
  different date; the rest stay in-house. Selection depends on the permanent quality q[i] (and
  through it on a[i]), not on the transitory shocks e[i,t], so parallel trends hold and
  difference-in-differences identifies TRUE_CLA_EFFECT. The effect starts in the first year whose
  31 March falls after go-live and is constant thereafter.
* Suppression: one small council ("Demo Isles") has its counts published as "c" in every year,
  and one council's 2013 CLA count is "x" (not available), as the real files do.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

SEED = 2024
YEARS = list(range(2011, 2025))
TRUE_CLA_EFFECT = -6.0  # children looked after per 10,000, from the first treated year on
TRUE_SPEND_EFFECT = 0.0  # GBP per child: a known null
N_COUNCILS = 48
N_TREATED = 8
BANNER = "SYNTHETIC DEMO DATA"

_STEMS = [
    "Aldermoor",
    "Brackenfield",
    "Cawley Vale",
    "Dunmere",
    "Eastling",
    "Fallowmead",
    "Greyford",
    "Hollinbury",
    "Ivelstone",
    "Juniper Heath",
    "Kestrelby",
    "Lanthorpe",
    "Marrowdale",
    "Nethercombe",
    "Oakhurst Fen",
    "Pellbridge",
    "Quarrington",
    "Rookwell",
    "Saltmarsh Cross",
    "Thistlebury",
    "Upper Wendle",
    "Varrowby",
    "Westerleigh Moor",
    "Yarncliffe",
    "Ambergate Vale",
    "Bellhaven",
    "Corriston",
    "Dewbury",
    "Elmsworth",
    "Foxcombe",
    "Glenholt",
    "Harrowmere",
    "Ironbridge Fields",
    "Jessamy",
    "Kingsmere Downs",
    "Larkholm",
    "Millcaster",
    "Northwold",
    "Otterhay",
    "Pennock",
    "Redmarley Cross",
    "Stonebeck",
    "Tarrowfield",
    "Ullesworth",
    "Vennford",
    "Whinmoor",
    "Yeldham Vale",
    "Demo Isles",
]
_REGIONS = [
    ("E12000001", "North East"),
    ("E12000002", "North West"),
    ("E12000003", "Yorkshire and The Humber"),
    ("E12000004", "East Midlands"),
    ("E12000005", "West Midlands"),
    ("E12000006", "East of England"),
    ("E12000008", "South East"),
    ("E12000009", "South West"),
]
_GRADES = ["outstanding", "good", "requires_improvement", "inadequate"]
_BODY_KINDS = [("independent_trust", "Children's Services Trust"), ("council_company", "Children First Ltd")]


@dataclass(frozen=True)
class DemoData:
    councils: pl.DataFrame  # la_code, gss_code, la_name, region_code, region_name, small
    cla: (
        pl.DataFrame
    )  # MEASURES rows: cla_at_31_march, cla_starting, cla_ceasing, cla_rate_per_10000, population_0_17_cla_denominator
    population: pl.DataFrame  # MEASURES rows: population_0_17 (mid-year)
    spending: pl.DataFrame  # MEASURES rows: spend_csc_total, spend_cla (GBP, financial year by end year)
    judgements: pl.DataFrame  # JUDGEMENTS rows
    registry: pl.DataFrame  # the demo's own registry of delivery-model changes
    truth: pl.DataFrame  # la_code, year, treated, rate_true (noise-free counterfactual not needed)


def _councils() -> pl.DataFrame:
    rows = []
    for k, stem in enumerate(_STEMS, start=1):
        code = f"{k:03d}"
        region_code, region_name = _REGIONS[k % len(_REGIONS)]
        rows.append(
            {
                "la_code": code,
                "gss_code": f"E99{k:06d}",
                "la_name": stem,
                "region_code": region_code,
                "region_name": region_name,
                "small": stem == "Demo Isles",
            }
        )
    return pl.DataFrame(rows)


def _grade(score: float) -> str:
    if score < -1.1:
        return "inadequate"
    if score < 0.0:
        return "requires_improvement"
    if score < 1.3:
        return "good"
    return "outstanding"


def _inspections(rng: np.random.Generator, q: np.ndarray, councils: pl.DataFrame) -> list[dict]:
    """One SIF and a run of ILACS judgements per council; publication 6 weeks after the inspection ends."""
    rows = []
    for i, c in enumerate(councils.iter_rows(named=True)):
        sif_pub = date(2014, 3, 1).toordinal() + int(rng.integers(0, 365 * 3 + 200))
        sif_grade = _grade(q[i] + rng.normal(0, 0.6))
        rows.append({**_judgement_row(c, "sif", "First SIF", sif_pub, sif_grade)})
        pub = date(2018, 6, 1).toordinal() + int(rng.integers(0, 500))
        grade = _grade(q[i] + rng.normal(0, 0.6))
        while pub < date(2024, 3, 1).toordinal():
            if date(2020, 3, 1).toordinal() <= pub < date(2021, 6, 1).toordinal():
                pub = date(2021, 6, 1).toordinal() + int(rng.integers(0, 120))
                continue
            rows.append(_judgement_row(c, "ilacs", "ILACS Standard Inspection", pub, grade))
            gap = 365 * 2 if grade == "inadequate" else 365 * 3
            pub += gap + int(rng.integers(-60, 60))
            grade = _grade(q[i] + rng.normal(0, 0.6))
    return rows


def _judgement_row(c: dict, framework: str, kind: str, pub: int, grade: str) -> dict:
    start = date.fromordinal(pub - 56)
    end = date.fromordinal(pub - 42)
    return {
        "la_code": c["la_code"],
        "gss_code": c["gss_code"],
        "la_name": c["la_name"],
        "framework": framework,
        "inspection_type": kind,
        "inspection_start": start if framework == "ilacs" else None,
        "inspection_end": end if framework == "ilacs" else None,
        "publication_date": date.fromordinal(pub),
        "judgement": "overall_effectiveness",
        "grade": grade,
        "grade_note": None,
    }


def _go_live_dates(rng: np.random.Generator, judgements: pl.DataFrame, councils: pl.DataFrame) -> list[dict]:
    sif = judgements.filter(pl.col("framework") == "sif").with_columns(
        pl.col("grade").replace_strict({g: k for k, g in enumerate(_GRADES)}, return_dtype=pl.Int64).alias("score")
    )
    eligible = sif.join(councils.filter(~pl.col("small")).select("la_code"), on="la_code")
    worst = eligible.sort(["score", "publication_date"], descending=[True, False]).head(N_TREATED)
    rows, used_years = [], set()
    for k, r in enumerate(worst.iter_rows(named=True)):
        go = r["publication_date"].toordinal() + 365 + int(rng.integers(0, 540))
        go_live = date.fromordinal(go).replace(day=1)
        while _first_year(go_live) in used_years:  # one cohort per year: staggered adoption
            go_live = go_live.replace(year=go_live.year + 1)
        used_years.add(_first_year(go_live))
        model, body = _BODY_KINDS[k % 2]
        rows.append(
            {
                "spell_id": f"DEMO-{k + 1}",
                "la_code": r["la_code"],
                "gss_code": r["gss_code"],
                "la_name": r["la_name"],
                "body_name": f"{r['la_name']} {body}",
                "model": model,
                "go_live": go_live,
                "go_live_status": "seen",
                "end_date": None,
                "end_type": None,
                "dfe_direction": "yes" if r["grade"] == "inadequate" else "no",
                "role": "treated",
                "source": "synthetic: evalkit.demo.dgp (SYNTHETIC DEMO DATA)",
            }
        )
    return rows


def _first_year(go_live: date) -> int:
    """First reporting year (ending 31 March) whose 31 March falls after go-live."""
    return go_live.year + 1 if go_live >= date(go_live.year, 4, 1) else go_live.year


def generate(seed: int = SEED) -> DemoData:
    """Draw the demo data. Same seed, same numbers, on any machine (numpy's PCG64)."""
    rng = np.random.default_rng(seed)
    councils = _councils()
    n, years = councils.height, np.array(YEARS)
    a = rng.normal(65, 18, n).clip(25, 130)
    q = -(a - 65) / 18 * 0.5 + rng.normal(0, 1, n)
    judgements = pl.DataFrame(_inspections(rng, q, councils), infer_schema_length=None)
    registry = pl.DataFrame(_go_live_dates(rng, judgements, councils), infer_schema_length=None)
    first_year = dict(zip(registry["la_code"], [_first_year(d) for d in registry["go_live"]]))

    pop_base = rng.uniform(25_000, 140_000, n).round()
    pop_base[councils["small"].to_numpy()] = 420
    pop_years = list(range(2010, 2024))  # mid-years; year t uses mid-(t-1)
    growth = 1 + 0.004 * (np.array(pop_years) - 2010)
    population = np.round(pop_base[:, None] * growth[None, :] * rng.normal(1, 0.003, (n, len(pop_years))))

    g = rng.normal(0, 1.5, len(years))
    e = np.zeros((n, len(years)))
    e[:, 0] = rng.normal(0, 1.0 / np.sqrt(1 - 0.16), n)
    for k in range(1, len(years)):
        e[:, k] = 0.4 * e[:, k - 1] + rng.normal(0, 1.0, n)
    treated = np.array([[t >= first_year.get(code, 10_000) for t in years] for code in councils["la_code"]])
    rate = a[:, None] + 0.8 * (years - 2011)[None, :] + g[None, :] + TRUE_CLA_EFFECT * treated + e
    denominator = population[:, : len(years)]  # mid-(t-1) for t = 2011..2024
    count = np.round(rate * denominator / 10_000)
    starts = np.round(count * rng.uniform(0.28, 0.36, (n, len(years))))
    ceases = np.round(count * rng.uniform(0.28, 0.36, (n, len(years))))

    b = rng.normal(620, 90, n)
    h = rng.normal(0, 10, len(years))
    f = rng.normal(0, 15, (n, len(years)))
    per_child = b[:, None] + 14 * (years - 2011)[None, :] + h[None, :] + TRUE_SPEND_EFFECT * treated + f
    spend = np.round(per_child * denominator)
    spend_cla = np.round(spend * rng.uniform(0.45, 0.6, n)[:, None])  # looked-after share, fixed per council

    cla_rows, pop_rows, spend_rows, truth_rows = [], [], [], []
    for i, c in enumerate(councils.iter_rows(named=True)):
        key = {"la_code": c["la_code"], "gss_code": c["gss_code"], "la_name": c["la_name"]}
        for k, t in enumerate(YEARS):
            ref = date(t, 3, 31)
            suppressed = c["small"]
            missing = c["la_code"] == "005" and t == 2013
            cnt = None if (suppressed or missing) else float(count[i, k])
            marker = "c" if suppressed else ("x" if missing else None)
            rate_pub = None if cnt is None else float(round(cnt / denominator[i, k] * 10_000))
            rate_marker = marker if cnt is None else None
            base = {**key, "year": t, "reference_date": ref}
            cla_rows += [
                {**base, "measure": "cla_at_31_march", "value": cnt, "marker": marker, "unit": "count"},
                {
                    **base,
                    "measure": "cla_rate_per_10000",
                    "value": rate_pub,
                    "marker": rate_marker,
                    "unit": "rate_per_10000",
                },
                {
                    **base,
                    "measure": "cla_starting",
                    "value": None if cnt is None else float(starts[i, k]),
                    "marker": marker,
                    "unit": "count",
                },
                {
                    **base,
                    "measure": "cla_ceasing",
                    "value": None if cnt is None else float(ceases[i, k]),
                    "marker": marker,
                    "unit": "count",
                },
                {
                    **base,
                    "measure": "population_0_17_cla_denominator",
                    "value": float(denominator[i, k]),
                    "marker": None,
                    "unit": "count",
                },
            ]
            spend_rows.append(
                {**base, "measure": "spend_csc_total", "value": float(spend[i, k]), "marker": None, "unit": "gbp"}
            )
            spend_rows.append(
                {**base, "measure": "spend_cla", "value": float(spend_cla[i, k]), "marker": None, "unit": "gbp"}
            )
            truth_rows.append({"la_code": c["la_code"], "year": t, "treated": bool(treated[i, k])})
        for k, t in enumerate(pop_years):
            pop_rows.append(
                {
                    **key,
                    "year": t,
                    "reference_date": date(t, 6, 30),
                    "measure": "population_0_17",
                    "value": float(population[i, k]),
                    "marker": None,
                    "unit": "count",
                }
            )
    return DemoData(
        councils=councils,
        cla=_measures(cla_rows, "cla"),
        population=_measures(pop_rows, "population"),
        spending=_measures(spend_rows, "s251"),
        judgements=judgements,
        registry=registry,
        truth=pl.DataFrame(truth_rows),
    )


def _measures(rows: list[dict], source: str) -> pl.DataFrame:
    from evalkit.sources.common import finish_measures

    return finish_measures(
        pl.DataFrame(rows, infer_schema_length=None).with_columns(
            pl.lit(source).alias("source"), pl.lit(None, dtype=pl.Utf8).alias("file")
        )
    )
