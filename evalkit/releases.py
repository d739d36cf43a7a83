"""Which release of a publication a file is: from a trusted record of the file, never its rows alone.

Later releases revise earlier figures, so the panel prefers a later release where two overlap. The
order must come from what the publisher says about the file, not from the largest year found in
it: one stray row "2099" in the oldest release would otherwise make it the newest and replace the
revised figures. In order:

1. the catalogue (`evalkit/data/sources.toml`), matched by sha256: the title's "(2025 release, ...)"
   or "SFR21/2011";
2. the release log (`releases/release_log.csv`, written by `evalkit update` from the publisher's own
   metadata: the data set version's release), matched by sha256;
3. the file name's last four-digit year (EES names end in their years: `..._2020_2024.csv`; LAIT's in
   its publication date), but never more than one year after the last year the file holds (a
   release comes out within a year of its data: CLA to March 2025 in November 2025, LAIT's 2024-25
   in 2026): an edited old release saved as `..._2099.csv` ranks as the release its rows could be,
   not as release 2099 (to outrank a later release it needs both a false name and false rows, and
   validation refuses years past the present);
4. unknown (None): such a file ranks below every file of known release.

At equal years a trusted file (1 or 2) outranks one known from its name (`release_rank`).
"""

from __future__ import annotations

import csv
import functools
import re
from pathlib import Path

_TITLE = (re.compile(r"\((\d{4}) release"), re.compile(r"/(\d{4})\b"))
_NAME_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
TRUSTED = ("catalogue", "release log")
RELEASE_LOG = Path("releases") / "release_log.csv"
LOG_COLUMNS = ("source", "release", "version", "date", "url", "sha256", "bytes", "file", "feed")


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict[str, str]:
    from evalkit.fetch import load_catalogue

    return {src.sha256: src.title for src in load_catalogue()}


def read_log(path: Path | None = None) -> list[dict[str, str]]:
    """The release log's rows (empty when there is none yet)."""
    path = Path(path) if path is not None else RELEASE_LOG
    if not path.is_file():
        return []
    from evalkit.errors import EvalkitError

    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != LOG_COLUMNS:
            raise EvalkitError(
                f"release log has columns {reader.fieldnames}", file=path, expected=",".join(LOG_COLUMNS)
            )
        return list(reader)


def _logged(sha256: str, log: list[dict[str, str]] | None) -> int | None:
    for row in log if log is not None else read_log():
        if row["sha256"] == sha256 and row["release"].isdigit():
            return int(row["release"])
    return None


def release_of(
    name: str, sha256: str, *, last_year: int | None = None, log: list[dict[str, str]] | None = None
) -> tuple[int | None, str | None]:
    """(release year, where it came from) for a file; (None, None) when nothing says.

    `last_year` is the latest year among the file's rows (None when it has no year column)."""
    title = _catalogue().get(sha256)
    if title:
        for pattern in _TITLE:
            m = pattern.search(title)
            if m:
                return int(m.group(1)), "catalogue"
    logged = _logged(sha256, log)
    if logged is not None:
        return logged, "release log"
    years = _NAME_YEAR.findall(name)
    if years:
        year = int(years[-1])
        if last_year is not None and year > last_year + 1:
            return last_year + 1, "file name, capped a year after its last year"
        return year, "file name"
    return None, None


def release_rank(release: int | None, how: str | None) -> int | None:
    """An order for releases of one source: later first, then a trusted record over a file name."""
    if release is None:
        return None
    return 2 * release + (1 if how in TRUSTED else 0)


__all__ = ["LOG_COLUMNS", "RELEASE_LOG", "TRUSTED", "read_log", "release_of", "release_rank"]
