"""One Ofsted judgement history from several publications (panel work: the parsers read each file).

The same inspection appears in several editions (the 2023, 2024 and 2025 workbooks, the scraped
D2I history); `combine` takes each inspection once, from the most authoritative publication, and
`reconcile` lines the editions up to show where they agree.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import polars as pl

from evalkit.sources.common import JUDGEMENTS_SCHEMA, finish_judgements

_KEY = ("la_code", "framework", "publication_date", "judgement")


def _label(frame: pl.DataFrame) -> str:
    files = frame["file"].unique().to_list()
    return files[0] if len(files) == 1 else "+".join(sorted(str(f) for f in files))


def reconcile(frames: Sequence[pl.DataFrame]) -> pl.DataFrame:
    """Line up the same inspection judgement across publications and compare grades.

    Rows match on (la_code, framework, publication_date, judgement). For every pair of input frames,
    one output row per matched judgement: file_a, grade_a, file_b, grade_b and `status`:
    "agree", "disagree", or "missing_a" / "missing_b" / "missing_both" when a grade is null there.
    """
    labelled = [(_label(f), f.select(*_KEY, "grade", "grade_note")) for f in frames]
    parts = []
    for i in range(len(labelled)):
        for j in range(i + 1, len(labelled)):
            (la, fa), (lb, fb) = labelled[i], labelled[j]
            fa = fa.unique(subset=list(_KEY), keep="first", maintain_order=True)
            fb = fb.unique(subset=list(_KEY), keep="first", maintain_order=True)
            joined = fa.join(fb, on=list(_KEY), how="inner", suffix="_b", nulls_equal=False).rename(
                {"grade": "grade_a", "grade_note": "grade_note_a"}
            )
            joined = joined.with_columns(file_a=pl.lit(la), file_b=pl.lit(lb)).with_columns(
                status=pl.when(pl.col("grade_a").is_null() & pl.col("grade_b").is_null())
                .then(pl.lit("missing_both"))
                .when(pl.col("grade_a").is_null())
                .then(pl.lit("missing_a"))
                .when(pl.col("grade_b").is_null())
                .then(pl.lit("missing_b"))
                .when(pl.col("grade_a") == pl.col("grade_b"))
                .then(pl.lit("agree"))
                .otherwise(pl.lit("disagree"))
            )
            parts.append(
                joined.select(*_KEY, "file_a", "grade_a", "grade_note_a", "file_b", "grade_b", "grade_note_b", "status")
            )
    schema = {
        "la_code": pl.Utf8,
        "framework": pl.Utf8,
        "publication_date": pl.Date,
        "judgement": pl.Utf8,
        "file_a": pl.Utf8,
        "grade_a": pl.Utf8,
        "grade_note_a": pl.Utf8,
        "file_b": pl.Utf8,
        "grade_b": pl.Utf8,
        "grade_note_b": pl.Utf8,
        "status": pl.Utf8,
    }
    if not parts:
        return pl.DataFrame(schema=schema)
    return pl.concat(parts).sort(["file_a", "file_b", "la_code", "publication_date", "judgement"])


def _priority(frame: pl.DataFrame) -> int:
    """Lower is preferred: newest official publication first, scraped data last."""
    name = _label(frame).lower()
    if "ofsted_csc_ilacs_history" in name or name.endswith(".csv"):
        return 100
    years = [int(y) for y in re.findall(r"(20\d\d)", name)]
    return -max(years) if years else 50


def combine(frames: Sequence[pl.DataFrame], *, tolerance_days: int = 90) -> pl.DataFrame:
    """One de-duplicated judgement history.

    Each inspection (la_code, framework, publication_date) is taken whole from the most
    authoritative publication that has it: the newest official workbook first (2025, then 2024,
    then 2023), the scraped D2I history last. An inspection of a lower-ranked source is dropped when
    a higher-ranked one has an inspection of the same LA and framework published within
    `tolerance_days` (publication dates are sometimes revised between editions: Nottingham's 2022
    ILACS is 2022-11-05 in the 2023/2024 workbooks and 2022-09-05 in the 2025 one). Scraped
    inspections with no readable grade at all are dropped (they add nothing but a date).
    """
    ranked = sorted(frames, key=_priority)
    inspection = ["la_code", "framework", "publication_date"]
    taken: pl.DataFrame | None = None
    parts = []
    for frame in ranked:
        if _priority(frame) >= 100:
            graded = frame.group_by(inspection).agg(pl.col("grade").is_not_null().any().alias("_g"))
            frame = frame.join(graded.filter(pl.col("_g")).drop("_g"), on=inspection, how="semi", nulls_equal=True)
        keys = frame.select(inspection).unique()
        if taken is not None and keys.height:
            near = (
                keys.join(taken, on=["la_code", "framework"], how="inner", suffix="_t", nulls_equal=True)
                .filter(
                    (pl.col("publication_date") - pl.col("publication_date_t")).dt.total_days().abs() <= tolerance_days
                )
                .select(inspection)
                .unique()
            )
            keys = keys.join(near, on=inspection, how="anti", nulls_equal=True)
        parts.append(frame.join(keys, on=inspection, how="semi", nulls_equal=True))
        taken = keys if taken is None else pl.concat([taken, keys])
    if not parts:
        return finish_judgements(pl.DataFrame(schema=JUDGEMENTS_SCHEMA))
    return finish_judgements(pl.concat(parts))
