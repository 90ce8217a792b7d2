"""`/api/stream`: server-sent events carrying the state JSON whenever it changes.

One `state` event on connect, then one per change (checked every `interval_s`), and a comment
line every `keepalive_s` so proxies keep an idle stream open. Ends when the client goes away or
the server shuts down (an endless response would otherwise hold a graceful shutdown).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import StreamingResponse

from nexusforge.nexus.dashboard.cache import SnapshotCache


def sse_response(
    request: Request,
    cache: SnapshotCache,
    interval_s: float,
    closing: asyncio.Event,
    keepalive_s: float = 15.0,
) -> StreamingResponse:
    """The event stream for one client; it ends when `closing` is set (server shutdown)."""
    headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
    return StreamingResponse(
        _events(request, cache, interval_s, closing, keepalive_s),
        media_type="text/event-stream",
        headers=headers,
    )


async def _events(
    request: Request,
    cache: SnapshotCache,
    interval_s: float,
    closing: asyncio.Event,
    keepalive_s: float,
) -> AsyncIterator[bytes]:
    sent, idle = -1, 0.0
    yield b"retry: 2000\n\n"
    while not closing.is_set() and not await request.is_disconnected():
        cached = cache.current()
        if cached.version != sent:
            sent, idle = cached.version, 0.0
            yield b"event: state\ndata: " + cached.body + b"\n\n"
        elif idle >= keepalive_s:
            idle = 0.0
            yield b": keepalive\n\n"
        await asyncio.sleep(interval_s)
        idle += interval_s
