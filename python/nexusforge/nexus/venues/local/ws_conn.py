"""One websocket client: a send queue drained by its own task, so venue code never awaits.

Frames keep the order they were queued in. A client that stops reading is dropped once its
queue holds `MAX_QUEUED` frames (logged), never allowed to stall the exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

import msgspec
from starlette.websockets import WebSocket, WebSocketDisconnect

log = logging.getLogger(__name__)
MAX_QUEUED = 50_000
_encoder = msgspec.json.Encoder()
_CLOSE = b""


class Connection:
    """A connected client of one websocket path."""

    def __init__(self, websocket: WebSocket, path: str) -> None:
        self.websocket = websocket
        self.path = path
        self.conn_id = str(uuid.uuid4())
        self.topics: set[str] = set()
        self.api_key: str | None = None
        self.closed = False
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()
        self._close_code = 1000
        self._writer = asyncio.create_task(self._write(), name=f"ws-writer-{path}")

    def send(self, message: dict[str, Any]) -> None:
        """Queue one JSON frame (no-op once closed)."""
        if self.closed:
            return
        if self._queue.qsize() >= MAX_QUEUED:
            log.warning("%s client %s is not reading; dropped", self.path, self.conn_id)
            self.close(1008)
            return
        self._queue.put_nowait(_encoder.encode(message))

    def close(self, code: int = 1000) -> None:
        """Close after the frames already queued (used by faults and shutdown)."""
        if self.closed:
            return
        self.closed = True
        self._close_code = code
        self._queue.put_nowait(_CLOSE)

    async def _write(self) -> None:
        try:
            while True:
                frame = await self._queue.get()
                if not frame:  # the close marker
                    await self.websocket.close(self._close_code)
                    return
                await self.websocket.send_text(frame.decode())
        except (WebSocketDisconnect, RuntimeError, OSError) as exc:
            log.debug("%s client %s gone while writing: %r", self.path, self.conn_id, exc)
            self.closed = True

    async def finish(self) -> None:
        """Stop the writer after the reader saw the client leave."""
        self.closed = True
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
