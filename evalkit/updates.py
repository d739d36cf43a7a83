"""`evalkit releases` and `evalkit update`: find newer releases of the catalogued publications, fetch them.

Each feed of `evalkit/data/release_feeds.toml` names where a publication's newer releases appear: DfE's
explore-education-statistics API (publication -> data set -> versions; each version's release, date
and `changes`; the CSV download) or a GOV.UK page's attachments (GOV.UK's Content API). The release in
force is the latest of the catalogue's files for the feed and the release log's rows for it. `update`
downloads each newer release into `data/raw/<folder>/` and appends it to the committed release log
(`releases/release_log.csv`: source, release, version, date, URL, sha256, size): a file is trusted on
first use and pinned from then on (the same URL with other bytes is refused). Every check happens
before anything is written: a feed that cannot be reached stops the command in one line, with
nothing downloaded and nothing recorded.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tomllib
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from evalkit.errors import EvalkitError
from evalkit.fetch import Unreachable, download_new, get_json, load_catalogue
from evalkit.io import atomic_write_text
from evalkit.releases import LOG_COLUMNS, read_log, release_of

EES_API_ENV = "EVALKIT_EES_API"
GOVUK_API_ENV = "EVALKIT_GOVUK_API"
EES_API = "https://api.education.gov.uk/statistics/v1"
GOVUK_API = "https://www.gov.uk/api/content"
MAX_PAGES = 20
_SPAN = re.compile(r"(?<!\d)((?:19|20)\d{2})\s*(?:-|/|to)\s*(\d{2}|(?:19|20)\d{2})(?!\d)")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")


@dataclass(frozen=True)
class Feed:
    name: str
    source: str
    kind: str
    catalogue: str
    folder: str
    publication: str = ""
    data_set: str = ""
    page: str = ""
    document: str = ""
    attachment: str = ""


@dataclass
class Candidate:
    """The newest release a feed offers."""

    feed: Feed
    release: int | None
    version: str
    date: str
    url: str
    file_name: str
    changes: dict = field(default_factory=dict)


@dataclass
class Status:
    feed: Feed
    in_force: int | None
    latest: Candidate | None
    new: bool


def feeds_path() -> Path:
    return Path(str(resources.files("evalkit") / "data" / "release_feeds.toml"))


def load_feeds(path: Path | None = None) -> list[Feed]:
    path = Path(path) if path is not None else feeds_path()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise EvalkitError(f"cannot read the release feeds: {exc}", file=path) from None
    fields = set(Feed.__dataclass_fields__)
    out = []
    for i, entry in enumerate(data.get("feed", []), start=1):
        if set(entry) - fields or {"name", "source", "kind", "catalogue", "folder"} - set(entry):
            raise EvalkitError(f"feed {i} has unknown or missing fields", file=path, expected=", ".join(sorted(fields)))
        if entry["kind"] not in ("ees", "govuk"):
            raise EvalkitError(f"feed {entry['name']!r} has kind {entry['kind']!r}", file=path, expected="ees or govuk")
        out.append(Feed(**entry))
    return out


def release_year(text: str) -> int | None:
    """The year a release title names: the end of a span ("2024-25", "2024 to 2025") or its last year."""
    span = _SPAN.findall(text or "")
    if span:
        start, end = span[-1]
        return int(end) if len(end) == 4 else int(start[:2] + end)
    years = _YEAR.findall(text or "")
    return int(years[-1]) if years else None


def in_force(feed: Feed, log: list[dict]) -> int | None:
    years = []
    for src in load_catalogue():
        if src.path.startswith(feed.catalogue):
            year, _ = release_of(Path(src.path).name, src.sha256)
            if year is not None:
                years.append(year)
    years += [int(r["release"]) for r in log if r["feed"] == feed.name and r["release"].isdigit()]
    return max(years) if years else None


def check(feeds: list[Feed], *, log: list[dict], ees_api: str, govuk_api: str) -> list[Status]:
    """The release in force and the newest offered, per feed; raises one EvalkitError naming every feed
    that could not be checked."""
    out, failed = [], []
    for feed in feeds:
        try:
            latest = _ees_latest(feed, ees_api) if feed.kind == "ees" else _govuk_latest(feed, govuk_api)
        except Unreachable as exc:
            failed.append(f"{feed.name} ({exc})")
            continue
        current = in_force(feed, log)
        known = {r["url"] for r in log}
        new = (
            latest is not None
            and latest.url not in known
            and latest.release is not None
            and (current is None or latest.release > current or _revises(feed, latest, log))
        )
        out.append(Status(feed, current, latest, bool(new)))
    if failed:
        raise EvalkitError(f"could not check {'; '.join(failed)}: nothing changed")
    return out


def _revises(feed: Feed, latest: Candidate, log: list[dict]) -> bool:
    """A new version of a release the log already holds (a revision published later)."""
    return any(r["feed"] == feed.name and r["release"] == str(latest.release) for r in log)


def update(
    feeds: list[Feed],
    *,
    raw: Path,
    log_path: Path,
    ees_api: str,
    govuk_api: str,
    say: Callable[[str], None] = lambda _: None,
) -> list[dict]:
    """Download every newer release and record it in the release log; returns the rows added."""
    log = read_log(log_path)
    statuses = check(feeds, log=log, ees_api=ees_api, govuk_api=govuk_api)
    rows = []
    done: list[Path] = []
    try:
        for status in (s for s in statuses if s.new):
            cand = status.latest
            assert cand is not None
            rel = f"{cand.feed.folder}/{cand.file_name}"
            target = raw / rel
            if target.exists():
                raise EvalkitError(
                    "a file is already there and the release log does not pin it",
                    file=target,
                    expected="move it away, or record it in the release log",
                )
            digest, size = download_new(cand.url, target, rel=rel, say=say)
            done.append(target)
            rows.append(
                {
                    "source": cand.feed.source,
                    "release": str(cand.release),
                    "version": cand.version,
                    "date": cand.date,
                    "url": cand.url,
                    "sha256": digest,
                    "bytes": str(size),
                    "file": rel,
                    "feed": cand.feed.name,
                }
            )
            say(f"{cand.feed.name}: release {cand.release} version {cand.version} -> data/raw/{rel}")
            for line in _change_lines(cand.changes):
                say(f"  {line}")
    except (Unreachable, EvalkitError) as exc:
        for path in done:  # nothing half-done: the files of this run go, the log is unchanged
            path.unlink(missing_ok=True)
        if isinstance(exc, Unreachable):
            raise EvalkitError(f"could not download ({exc}): nothing changed") from None
        raise
    if rows:
        write_log(log_path, log + rows)
    return rows


def write_log(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(LOG_COLUMNS), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in LOG_COLUMNS})
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, buf.getvalue())


def check_pinned(raw: Path, log: list[dict]) -> None:
    """Every file the log records that is present under `raw` still has its recorded bytes."""
    from evalkit.io import sha256_file

    for row in log:
        path = raw / row["file"]
        if path.is_file() and sha256_file(path) != row["sha256"]:
            raise EvalkitError(
                "file differs from the bytes the release log pinned",
                file=path,
                expected=f"sha256 {row['sha256']} ({row['url']})",
            )


def default_apis() -> tuple[str, str]:
    return os.environ.get(EES_API_ENV) or EES_API, os.environ.get(GOVUK_API_ENV) or GOVUK_API


# --- explore-education-statistics ---------------------------------------------------------------------


def _paged(url: str) -> list[dict]:
    """Every result of a paged EES listing ({"paging": {...}, "results": [...]})."""
    results: list[dict] = []
    for page in range(1, MAX_PAGES + 1):
        sep = "&" if "?" in url else "?"
        doc = get_json(f"{url}{sep}page={page}&pageSize=40")
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            raise EvalkitError(f"answer from {url} has no results list", expected="the EES API's paged listing")
        results += [r for r in doc["results"] if isinstance(r, dict)]
        paging = doc.get("paging") or {}
        if page >= int(paging.get("totalPages") or 1):
            break
    return results


def _ees_latest(feed: Feed, api: str) -> Candidate | None:
    api = api.rstrip("/")
    query = urllib.parse.quote_plus(feed.publication.replace("-", " "))
    publication = next(
        (p for p in _paged(f"{api}/publications?search={query}") if p.get("slug") == feed.publication), None
    )
    if publication is None:
        return None
    data_sets = _paged(f"{api}/publications/{publication['id']}/data-sets")
    want = feed.data_set.lower()
    data_set = next(
        (
            d
            for d in data_sets
            if want in str(d.get("title", "")).lower() and d.get("status", "Published") == "Published"
        ),
        None,
    )
    if data_set is None:
        return None
    versions = [
        v
        for v in _paged(f"{api}/data-sets/{data_set['id']}/versions")
        if v.get("status", "Published") == "Published" and not v.get("withdrawn")
    ]
    if not versions:
        return None
    latest = max(versions, key=lambda v: tuple(int(x) for x in re.findall(r"\d+", str(v.get("version", "0")))))
    version = str(latest["version"])
    release = release_year(str((latest.get("release") or {}).get("title", ""))) or release_year(
        str((latest.get("timePeriods") or {}).get("end", ""))
    )
    changes = get_json(f"{api}/data-sets/{data_set['id']}/versions/{urllib.parse.quote(version)}/changes")
    return Candidate(
        feed=feed,
        release=release,
        version=version,
        date=str(latest.get("published", ""))[:10],
        url=f"{api}/data-sets/{data_set['id']}/csv?dataSetVersion={urllib.parse.quote(version)}",
        file_name=f"ees_{_slug(data_set.get('title', 'data'))}_v{version}_{release}.csv",
        changes=changes if isinstance(changes, dict) else {},
    )


def _change_lines(changes: dict) -> list[str]:
    """One line per kind of change the EES `changes` endpoint lists (major and minor)."""
    lines = []
    for level in ("majorChanges", "minorChanges"):
        part = changes.get(level) or {}
        if isinstance(part, dict):
            for kind, items in sorted(part.items()):
                if isinstance(items, list) and items:
                    lines.append(f"{level[:5]} change: {len(items)} {kind}")
    return lines


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60] or "data"


# --- GOV.UK -------------------------------------------------------------------------------------------


def _govuk_latest(feed: Feed, api: str) -> Candidate | None:
    api = api.rstrip("/")
    page = get_json(f"{api}{feed.page}")
    if not isinstance(page, dict):
        raise EvalkitError(f"answer for {feed.page} is not a content item", expected="GOV.UK's Content API")
    pages = [page]
    if feed.document:
        docs = [d for d in (page.get("links") or {}).get("documents", []) if isinstance(d, dict)]
        wanted = [d for d in docs if re.search(feed.document, str(d.get("title", "")))]
        pages = [get_json(f"{api}{d['base_path']}") for d in wanted if d.get("base_path")]
    found = []
    for item in pages:
        if not isinstance(item, dict):
            continue
        for att in (item.get("details") or {}).get("attachments", []) or []:
            if not isinstance(att, dict) or not att.get("url"):
                continue
            label = f"{att.get('title', '')} {att.get('filename', '')}"
            if not re.search(feed.attachment, label):
                continue
            found.append(
                (release_year(str(att.get("title", ""))) or release_year(str(att.get("filename", ""))), att, item)
            )
    if not found:
        return None
    year, att, item = max(found, key=lambda f: (f[0] or 0, str(f[2].get("public_updated_at", ""))))
    url = urllib.parse.urljoin("https://www.gov.uk/", att["url"]) if "://" not in att["url"] else att["url"]
    name = att.get("filename") or url.rsplit("/", 1)[-1]
    return Candidate(
        feed=feed,
        release=year,
        version=str(item.get("public_updated_at", ""))[:10],
        date=str(item.get("public_updated_at", ""))[:10],
        url=url,
        file_name=Path(urllib.parse.unquote(name)).name.lstrip(".") or "attachment",
    )
