"""The dashboard's Starlette app: page, state JSON, live stream, metrics and the kill switch.

    GET  /                  the page (our HTML/JS/CSS, plotly.js from the plotly package)
    GET  /static/<name>     those files
    GET  /api/state         the state JSON
    GET  /api/stream        the same JSON as server-sent events, on every change
    GET  /metrics           Prometheus text format
    GET  /api/reports       the research reports folder's index (JSON)   see report_routes.py
    GET  /reports[/<path>]  that index as a page, and each report (read-only)
    POST /api/kill/arm      step 1 of the kill switch (token)       see kill.py
    POST /api/kill/confirm  step 2 (token + one-time code)

Read-only without a token. `allowed_hosts` (set by `serve_dashboard` on loopback) refuses
requests for any other Host header, so a web page elsewhere cannot reach it by DNS rebinding.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nexusforge.nexus.dashboard import assets, metrics
from nexusforge.nexus.dashboard.auth import check_token_strength
from nexusforge.nexus.dashboard.cache import SnapshotCache
from nexusforge.nexus.dashboard.kill import KillEndpoints
from nexusforge.nexus.dashboard.report_routes import ReportEndpoints
from nexusforge.nexus.dashboard.reports import ReportFolder
from nexusforge.nexus.dashboard.source import DashboardSource
from nexusforge.nexus.dashboard.stream import sse_response


def create_app(
    source: DashboardSource,
    *,
    token: str | None = None,
    allowed_hosts: Sequence[str] | None = None,
    interval_s: float = 0.5,
    reports: Path | None = None,
) -> Starlette:
    """The dashboard over `source`; with `token`, the kill switch can be used (with it);
    `reports`: the folder of research reports it lists and serves."""
    if token is not None:
        check_token_strength(token)
    cache = SnapshotCache(
        source, actions=token is not None and source.can_kill, max_age_s=interval_s
    )
    kill = KillEndpoints(cache, token)
    report = ReportEndpoints(None if reports is None else ReportFolder(reports))
    closing = asyncio.Event()

    async def state(request: Request) -> Response:
        return Response(cache.current().body, media_type="application/json")

    async def stream(request: Request) -> Response:
        return sse_response(request, cache, interval_s, closing)

    async def prometheus(request: Request) -> Response:
        return Response(metrics.render(cache.current().snapshot), media_type=metrics.CONTENT_TYPE)

    routes = [
        Route("/", assets.index),
        Route("/static/{name}", assets.static),
        Route("/api/state", state),
        Route("/api/stream", stream),
        Route("/metrics", prometheus),
        Route("/api/reports", report.index_json),
        Route("/reports", report.index_html),
        Route("/reports/", report.index_html),
        Route("/reports/{path:path}", report.file),
        Route("/api/kill/arm", kill.arm, methods=["POST"]),
        Route("/api/kill/confirm", kill.confirm, methods=["POST"]),
    ]
    middleware = [Middleware(SecurityHeaders)]
    if allowed_hosts is not None:
        middleware.insert(0, Middleware(TrustedHostMiddleware, allowed_hosts=list(allowed_hosts)))
    app = Starlette(routes=routes, middleware=middleware)
    app.state.cache = cache
    app.state.closing = closing  # set by DashboardServer.shutdown: open streams end
    return app


class SecurityHeaders:
    """Adds `assets.SECURITY_HEADERS` (CSP, no-sniff, no framing) to every reply, except a
    header the reply sets itself (a report's own CSP: two policies would both apply)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                own = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
                have = {k.lower() for k, _ in own}
                extra = [
                    (k.encode(), v.encode())
                    for k, v in assets.SECURITY_HEADERS.items()
                    if k.encode() not in have
                ]
                message["headers"] = [*own, *extra]
            await send(message)

        await self.app(scope, receive, with_headers)
