"""Ofsted journeys: each council's judgement timeline, and the time from 'inadequate' to 'good or better'.

Judgements: overall effectiveness under the two frameworks that grade it on one four-point scale,
SIF (published 2014-2018) and ILACS (2018-), de-duplicated across editions (`ofsted_history.combine`).
Earlier frameworks grade different things and are not used.

Time to good (a spell per council): starts at the publication of the council's FIRST 'inadequate'
judgement under SIF/ILACS; ends with the first later judgement 'good' or 'outstanding' (the event).
A council still waiting is censored at the end of follow-up: the last publication date in the
data, and never later than 31 March 2026 (Ofsted stopped reporting the overall-effectiveness
judgement from April 2026, so nobody can become 'good' after it in these data). A treated council
that returned in-house stays in its group (intention to treat), as in the panel.

Groups: 'treated' (the registry's treated councils), 'directed_in_house' (councils under a DfE
statutory direction that kept services in-house or in a council-to-council partnership; named in
DIRECTED_IN_HOUSE with the research notes' sources), 'other_in_house' (every other council with an
inadequate judgement).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from evalkit.panel import boundaries, ofsted_history
from evalkit.sources.common import GRADE_SCORE

FRAMEWORKS = ("sif", "ilacs")
GROUPS = ("treated", "directed_in_house", "other_in_house")
SPELL = "from the first SIF/ILACS 'inadequate' judgement (publication date) to the first later 'good' or 'outstanding'"
NOT_IN_ANALYSIS = (
    "councils with no SIF/ILACS 'inadequate' judgement have no spell (e.g. Isle of Wight, whose 2013 "
    "'inadequate' predates SIF)"
)
END_OF_JUDGEMENT = date(2026, 3, 31)
# Councils under a DfE statutory direction that did NOT move services into a trust or company
# (../shared/domain/domain.md, "Directions" and point 5 of the selection notes; registry rows IOW-X, WSX-X, ROT-X).
DIRECTED_IN_HOUSE = {
    "938": "West Sussex (direction June 2019, planned trust dropped 2022)",
    "332": "Dudley (direction after the April 2016 inadequate judgement, no trust)",
    "921": "Isle of Wight (direction June 2013, partnership with Hampshire)",
    "372": "Rotherham (commissioners 2015, services stayed with the council)",
}


def timelines(judgements: pl.DataFrame, policy: str = "aggregate") -> pl.DataFrame:
    """One row per council and SIF/ILACS inspection: unit_code, publication_date, framework, grade, score."""
    history = ofsted_history.combine([part for _, part in judgements.group_by("file", maintain_order=True)])
    return (
        history.filter(
            pl.col("judgement") == "overall_effectiveness",
            pl.col("grade").is_not_null(),
            pl.col("framework").is_in(FRAMEWORKS),
            pl.col("grade").is_in(list(GRADE_SCORE)),
        )
        .with_columns(
            pl.col("la_code")
            .map_elements(lambda c: boundaries.unit_of(c, policy), return_dtype=pl.Utf8)
            .alias("unit_code"),
            pl.col("grade").replace_strict(GRADE_SCORE, return_dtype=pl.Int32).alias("score"),
        )
        # two judgements of one harmonised unit on one day (North and West Northamptonshire): the worse
        .group_by("unit_code", "publication_date")
        .agg(pl.col("score").max(), pl.col("framework").first())
        .with_columns(
            pl.col("score").replace_strict({v: k for k, v in GRADE_SCORE.items()}, return_dtype=pl.Utf8).alias("grade")
        )
        .sort("unit_code", "publication_date")
    )


def time_to_good(lines: pl.DataFrame, groups: dict[str, str], end: date | None = None) -> pl.DataFrame:
    """One spell per council with an 'inadequate' judgement: start, end, years, event (1 good+ / 0 censored)."""
    last = lines["publication_date"].max() if lines.height else END_OF_JUDGEMENT
    end = min(end or last, END_OF_JUDGEMENT)
    rows = []
    for unit, g in lines.group_by("unit_code", maintain_order=True):
        g = g.sort("publication_date")
        bad = g.filter(pl.col("grade") == "inadequate")
        if bad.height == 0:
            continue
        start = bad["publication_date"][0]
        later = g.filter(
            pl.col("publication_date") > start,
            pl.col("grade").is_in(["good", "outstanding"]),
            pl.col("publication_date") <= end,
        )
        event = later.height > 0
        stop = later["publication_date"][0] if event else end
        rows.append(
            {
                "unit_code": unit[0],
                "group": groups.get(unit[0], "other_in_house"),
                "start": start,
                "stop": stop,
                "years": round((stop - start).days / 365.25, 4),
                "event": int(event),
                "path": " > ".join(f"{d.year} {gr}" for d, gr in zip(g["publication_date"], g["grade"])),
            }
        )
    schema = {
        "unit_code": pl.Utf8,
        "group": pl.Utf8,
        "start": pl.Date,
        "stop": pl.Date,
        "years": pl.Float64,
        "event": pl.Int8,
        "path": pl.Utf8,
    }
    return pl.DataFrame(rows, schema=schema).sort("group", "unit_code")


def groups_from_panel(panel: pl.DataFrame) -> dict[str, str]:
    treated = set(panel.filter(pl.col("ever_treated") == 1)["unit_code"].unique().to_list())
    out = {u: "directed_in_house" for u in DIRECTED_IN_HOUSE}
    out.update({u: "treated" for u in treated})
    return out


def load(processed: Path, policy: str = "aggregate") -> pl.DataFrame:
    from evalkit import generations

    return timelines(pl.read_parquet(generations.resolve(Path(processed) / "ofsted.parquet")), policy)


def censoring_text(spells: pl.DataFrame) -> str:
    end = spells["stop"].max() if spells.height else END_OF_JUDGEMENT
    return (
        f"councils not yet good are censored at the end of follow-up ({end}); no judgement after "
        f"{END_OF_JUDGEMENT} counts (Ofsted stopped the overall-effectiveness grade from April 2026); treated "
        "councils that returned in-house stay treated (intention to treat)"
    )
