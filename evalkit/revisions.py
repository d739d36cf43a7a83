"""What a new ingest changed in the data: council-years added, revised (old and new value) and dropped.

Each side is first resolved the way the panel resolves it (`resolve`): one value per council, year and
measure, a published number over a marker, a later release over an earlier one (`releases.release_rank`),
so a revision is what a reader of the panel would see change, not a row that moved between files.
"""

from __future__ import annotations

import polars as pl

from evalkit.releases import release_rank

KEYS = ["la_code", "year", "measure"]
MAX_LISTED = 2000  # revised values kept in the manifest per source (the count is always exact)


def row_key(entry: dict) -> str:
    """The `file` value a manifest entry's rows carry in the tidy table."""
    return entry.get("rows_file") or entry["file"].rsplit("/", 1)[-1]


def resolve(table: pl.DataFrame, files: list[dict]) -> pl.DataFrame:
    """One row per (la_code, year, measure): the value a later release holds wins."""
    ranks = pl.DataFrame(
        [{"file": row_key(f), "rank": release_rank(f.get("release"), f.get("release_from"))} for f in files],
        schema={"file": pl.Utf8, "rank": pl.Int64},
    ).unique("file", keep="last")
    return (
        table.filter(pl.col("la_code").is_not_null())
        .join(ranks, on="file", how="left")
        .with_columns(pl.col("value").is_not_null().alias("_has"))
        .sort([*KEYS, "_has", "rank", "file"], nulls_last=False)
        .group_by(KEYS, maintain_order=True)
        .agg(pl.col("la_name").last(), pl.col("value").last(), pl.col("marker").last(), pl.col("file").last())
    )


def compare(old: pl.DataFrame, old_files: list[dict], new: pl.DataFrame, new_files: list[dict]) -> dict:
    """Council-years added, revised and dropped between two versions of one measures source."""
    a = resolve(old, old_files)
    b = resolve(new, new_files)
    joined = a.join(b, on=KEYS, how="full", coalesce=True, suffix="_new")
    cy_old = a.select("la_code", "year").unique()
    cy_new = b.select("la_code", "year").unique()
    added = cy_new.join(cy_old, on=["la_code", "year"], how="anti").sort("year", "la_code")
    dropped = cy_old.join(cy_new, on=["la_code", "year"], how="anti").sort("year", "la_code")
    both = joined.filter(pl.col("file").is_not_null() & pl.col("file_new").is_not_null())
    changed = both.filter(
        pl.col("value").ne_missing(pl.col("value_new"))
        | (pl.col("value").is_null() & pl.col("marker").ne_missing(pl.col("marker_new")))
    ).sort("year", "la_code", "measure")
    revised = [
        {
            "la_code": r["la_code"],
            "la_name": r["la_name_new"] or r["la_name"],
            "year": r["year"],
            "measure": r["measure"],
            "old": r["value"] if r["value"] is not None else r["marker"],
            "new": r["value_new"] if r["value_new"] is not None else r["marker_new"],
            "old_file": r["file"],
            "new_file": r["file_new"],
        }
        for r in changed.head(MAX_LISTED).iter_rows(named=True)
    ]
    return {
        "added_council_years": added.height,
        "added_years": sorted(set(added["year"].to_list())),
        "revised_values": changed.height,
        "revised_council_years": changed.select("la_code", "year").unique().height,
        "revised": revised,
        "dropped_council_years": dropped.height,
        "dropped_years": sorted(set(dropped["year"].to_list())),
    }


def any_change(changes: dict) -> bool:
    return any(c["added_council_years"] or c["revised_values"] or c["dropped_council_years"] for c in changes.values())


def describe(changes: dict, *, limit: int = 10) -> list[str]:
    """Lines for the terminal: per source, what was added, revised and dropped."""
    lines = []
    for source, c in sorted(changes.items()):
        if not (c["added_council_years"] or c["revised_values"] or c["dropped_council_years"]):
            continue
        parts = []
        if c["added_council_years"]:
            parts.append(f"{c['added_council_years']} new council-year(s) ({_years(c['added_years'])})")
        if c["revised_values"]:
            parts.append(f"{c['revised_council_years']} revised council-year(s) ({c['revised_values']} value(s))")
        if c["dropped_council_years"]:
            parts.append(f"{c['dropped_council_years']} council-year(s) no longer held ({_years(c['dropped_years'])})")
        lines.append(f"{source}: " + "; ".join(parts))
        for r in c["revised"][:limit]:
            lines.append(
                f"  revised {r['la_name'] or ''} ({r['la_code']}) {r['year']} {r['measure']}: "
                f"{_num(r['old'])} -> {_num(r['new'])}"
            )
        if c["revised_values"] > limit:
            lines.append(f"  ... and {c['revised_values'] - limit} more (manifest.json: changes)")
    return lines


def _years(years: list[int]) -> str:
    if not years:
        return ""
    return (
        str(years[0])
        if len(years) == 1
        else f"{years[0]}-{years[-1]}"
        if years == list(range(years[0], years[-1] + 1))
        else ", ".join(map(str, years))
    )


def _num(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
