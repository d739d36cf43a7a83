"""Which release of a publication a file is: from the catalogue or the file's own name, never its rows.

Later releases revise earlier figures, so the panel prefers a later release where two overlap. The
order must come from what the publisher says about the file, not from the largest year found in
it: one stray row "2099" in the oldest release would otherwise make it the newest and replace the
revised figures. In order:

1. the catalogue (`evalkit/data/sources.toml`), matched by sha256: the title's "(2025 release, ...)"
   or "SFR21/2011";
2. the file name's last four-digit year (EES names end in their years: `..._2020_2024.csv`);
3. unknown (None): such a file ranks below every file of known release.
"""

from __future__ import annotations

import functools
import re

_TITLE = (re.compile(r"\((\d{4}) release"), re.compile(r"/(\d{4})\b"))
_NAME_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


@functools.lru_cache(maxsize=1)
def _catalogue() -> dict[str, str]:
    from evalkit.fetch import load_catalogue

    return {src.sha256: src.title for src in load_catalogue()}


def release_of(name: str, sha256: str) -> tuple[int | None, str | None]:
    """(release year, where it came from) for a file; (None, None) when nothing says."""
    title = _catalogue().get(sha256)
    if title:
        for pattern in _TITLE:
            m = pattern.search(title)
            if m:
                return int(m.group(1)), "catalogue"
    years = _NAME_YEAR.findall(name)
    if years:
        return int(years[-1]), "file name"
    return None, None


__all__ = ["release_of"]
