"""The dashboard's report endpoints over a `ReportFolder`, all read-only.

    GET /api/reports         the index as JSON (the page's Reports panel)
    GET /reports             the same index as a plain HTML page (no script)
    GET /reports/<path>      one report file, HTML or PNG

Listing and resolving run in a worker thread: the dashboard shares the engine's event loop, and
a folder walk must not hold up trading. A report is a standalone page with plotly.js inlined,
so it is served under its own content security policy: inline scripts run, but in a sandbox
(an opaque origin, no network, no forms), so a report cannot read or act on the dashboard it
came from.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response

from nexusforge.nexus.dashboard.reports import ReportFolder, ReportIndex, ReportRefused

REPORT_CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'; sandbox allow-scripts allow-popups allow-downloads"
)


@dataclass(frozen=True, slots=True)
class ReportEndpoints:
    """The handlers; `folder` None: no reports folder configured (an empty index)."""

    folder: ReportFolder | None

    def _index(self) -> ReportIndex:
        if self.folder is None:
            return ReportIndex("", False, ())
        return self.folder.index()

    async def index_json(self, request: Request) -> Response:
        """GET /api/reports."""
        body = msgspec.json.encode(await run_in_threadpool(self._index))
        return Response(body, media_type="application/json", headers={"cache-control": "no-store"})

    async def index_html(self, request: Request) -> Response:
        """GET /reports: a page of links, newest first."""
        page = index_page(await run_in_threadpool(self._index))
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def file(self, request: Request) -> Response:
        """GET /reports/<path>: the file, if it is a report inside the folder."""
        if self.folder is None:
            return PlainTextResponse("no reports folder configured", 404)
        try:
            path, media_type = await run_in_threadpool(
                self.folder.open, request.path_params["path"]
            )
        except ReportRefused as exc:
            return PlainTextResponse(f"not found: {exc}", 404)
        headers = {"cache-control": "no-cache"}
        if media_type.startswith("text/html"):
            headers["content-security-policy"] = REPORT_CSP
        return FileResponse(path, media_type=media_type, headers=headers)


def index_page(index: ReportIndex) -> str:
    """The index as one HTML document (every value escaped)."""
    rows = "".join(
        f"<tr><td>{html.escape(e.kind)}</td>"
        f'<td><a href="/reports/{html.escape(e.path, quote=True)}">{html.escape(e.title)}</a></td>'
        f"<td>{html.escape(e.path)}</td><td>{_when(e.modified_ms)}</td></tr>"
        for e in index.reports
    )
    where = html.escape(index.folder or "(none configured)")
    note = "" if index.exists else f"<p>No reports folder at {where} yet.</p>"
    more = "<p>Only the newest are listed.</p>" if index.truncated else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Reports</title>'
        "<style>body{font-family:sans-serif;margin:2em}td,th{padding:2px 10px;text-align:left}"
        "</style></head>"
        f"<body><h1>Reports</h1><p>Folder: <code>{where}</code></p>{note}"
        "<table><thead><tr><th>kind</th><th>title</th><th>file</th><th>modified (UTC)</th></tr>"
        f"</thead><tbody>{rows}</tbody></table>{more}</body></html>"
    )


def _when(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms / 1000))
