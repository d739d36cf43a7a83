"""A local stand-in for DfE's explore-education-statistics API and GOV.UK's Content API, on 127.0.0.1.

Responses are shaped as the public documentation shows them (explore-education-statistics-api-docs:
paged listings `{"paging": {...}, "results": [...]}`; a data set version's `version`, `type`, `status`,
`published`, `release {title, slug}`, `timePeriods {start, end}`; the `changes` endpoint's
`majorChanges`/`minorChanges`; `/data-sets/{id}/csv?dataSetVersion=`; GOV.UK content items with
`links.documents` and `details.attachments`). Written from the documentation, not recorded: no test
ever reaches the network.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLA_SLUG = "children-looked-after-in-england-including-adoptions"
DATA_SET = "7c0e9201-c7c0-ff73-bee4-304e731ec0e6"


class FakeApis:
    """Serves the EES API under /statistics/v1 and GOV.UK's Content API under /api/content."""

    def __init__(self, csv_by_version: dict[str, bytes]) -> None:
        self.csv_by_version = csv_by_version  # version -> CSV bytes; the highest is the newest release
        self.requests: list[str] = []
        handler = type("Handler", (_Handler,), {"apis": self})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def ees(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/statistics/v1"

    @property
    def govuk(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/content"

    def __enter__(self) -> FakeApis:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    def versions(self) -> list[dict]:
        out = []
        for version in sorted(self.csv_by_version, key=float, reverse=True):
            year = 2024 + int(float(version))  # 1.0: the 2025 release, 2.0: the 2026 release
            out.append(
                {
                    "version": version,
                    "type": "Major",
                    "status": "Published",
                    "published": f"{year}-11-20T09:30:00Z",
                    "withdrawn": None,
                    "notes": "",
                    "totalResults": 2505,
                    "release": {"title": f"Reporting year {year}", "slug": f"reporting-year-{year}"},
                    "timePeriods": {"start": str(year - 4), "end": str(year)},
                    "geographicLevels": ["National", "Regional", "Local authority"],
                    "filters": ["Population type"],
                    "indicators": ["Number of children", "Rate per 10,000 children"],
                }
            )
        return out


def _paged(results: list, query: dict) -> dict:
    page = int(query.get("page", ["1"])[0])
    size = int(query.get("pageSize", ["20"])[0])
    total_pages = max(1, -(-len(results) // size))
    return {
        "paging": {"page": page, "pageSize": size, "totalResults": len(results), "totalPages": total_pages},
        "results": results[(page - 1) * size : page * size],
    }


class _Handler(BaseHTTPRequestHandler):
    apis: FakeApis

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - the http.server name
        url = urllib.parse.urlsplit(self.path)
        query = urllib.parse.parse_qs(url.query)
        self.apis.requests.append(self.path)
        path = url.path
        if path.startswith("/api/content/"):
            page = {"base_path": path[len("/api/content") :], "title": "A GOV.UK page", "details": {"attachments": []}}
            return self._json({**page, "links": {"documents": []}, "public_updated_at": "2026-03-01T09:30:00Z"})
        prefix = "/statistics/v1"
        if not path.startswith(prefix):
            return self._status(404)
        path = path[len(prefix) :]
        if path == "/publications":
            search = query.get("search", [""])[0].lower()
            pubs = [
                {"id": "pub-cla", "slug": CLA_SLUG, "title": "Children looked after in England including adoptions"}
            ]
            return self._json(_paged([p for p in pubs if search in p["title"].lower()], query))
        if path == "/publications/pub-cla/data-sets":
            latest = self.apis.versions()[0]
            data_set = {
                "id": DATA_SET,
                "title": "Number and rate per 10,000 children looked after",
                "summary": "Children looked after, starting and ceasing, by local authority",
                "status": "Published",
                "latestVersion": {k: latest[k] for k in ("version", "published", "totalResults", "timePeriods")},
            }
            return self._json(_paged([data_set], query))
        if path == f"/data-sets/{DATA_SET}/versions":
            return self._json(_paged(self.apis.versions(), query))
        if path.startswith(f"/data-sets/{DATA_SET}/versions/") and path.endswith("/changes"):
            version = path.split("/")[-2]
            year = 2024 + int(float(version))
            return self._json(
                {
                    "majorChanges": {},
                    "minorChanges": {"timePeriods": [{"currentState": {"code": "RY", "period": str(year)}}]},
                }
            )
        if path == f"/data-sets/{DATA_SET}/csv":
            version = query.get("dataSetVersion", [""])[0]
            body = self.apis.csv_by_version.get(version)
            if body is None:
                return self._status(404)
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return None
        return self._status(404)

    def _json(self, doc: object) -> None:
        body = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _status(self, code: int) -> None:
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()
