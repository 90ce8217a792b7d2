"""Record a Bybit-v5-compatible public websocket feed into the parquet store.

Subscribes to `orderbook.{depth}.{SYM}`, `publicTrade.{SYM}` and `tickers.{SYM}`, sends
`{"op":"ping"}` every 20 s, and reconnects with exponential backoff when the connection drops
(the venue then starts the book again with a snapshot; the store records what arrives). Raw
messages are buffered with their receive time and flushed every N messages or T seconds
through the same reader as `ingest`; each flush is its own atomically written parquet file.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import websockets
from websockets.asyncio.client import ClientConnection

from nexusforge.data.ingest import write_result
from nexusforge.data.readers import MessageBatch
from nexusforge.data.readers.bybit_ws import BybitPublicReader
from nexusforge.data.store import Store
from nexusforge.errors import ConfigError

log = logging.getLogger("nexusforge.data.recorder")


@dataclass(frozen=True)
class RecorderConfig:
    """Where to connect, what to record, and when to flush, stop and retry."""

    url: str
    symbol: str
    store: Path
    depth: int = 50
    tickers: bool = True
    duration_s: float | None = None
    max_messages: int | None = None
    flush_messages: int = 5_000
    flush_seconds: float = 30.0
    ping_interval_s: float = 20.0
    backoff_min_s: float = 0.5
    backoff_max_s: float = 30.0

    def topics(self) -> list[str]:
        """The topics subscribed to."""
        topics = [f"orderbook.{self.depth}.{self.symbol}", f"publicTrade.{self.symbol}"]
        return topics + ([f"tickers.{self.symbol}"] if self.tickers else [])


@dataclass
class RecorderStats:
    """What a recording produced."""

    messages: int = 0
    connects: int = 0
    flushes: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    files: list[str] = field(default_factory=list)


class _Reply(msgspec.Struct, frozen=True):
    """Reply to an `op` (subscribe ack, pong); data messages have `topic` instead."""

    op: str | None = None
    topic: str | None = None
    success: bool | None = None
    ret_msg: str | None = None


_REPLY = msgspec.json.Decoder(_Reply)


class Recorder:
    """One recording session; `run()` returns when the duration or message budget is spent."""

    def __init__(self, config: RecorderConfig) -> None:
        self.config = config
        self.store = Store(config.store)
        self.stats = RecorderStats()
        self._reader = BybitPublicReader(f"ws:{config.url}")
        self._batch = MessageBatch(local_ts=[])
        self._last_flush = time.monotonic()
        self._session = uuid.uuid4().hex[:8]
        self._deadline = None if config.duration_s is None else time.monotonic() + config.duration_s

    async def run(self) -> RecorderStats:
        """Record until done; always flushes what is buffered."""
        try:
            await self._connect_loop()
        finally:
            await self._flush()
        return self.stats

    def _done(self) -> bool:
        budget = self.config.max_messages
        if budget is not None and self.stats.messages >= budget:
            return True
        return self._deadline is not None and time.monotonic() >= self._deadline

    def _remaining(self) -> float | None:
        return None if self._deadline is None else max(self._deadline - time.monotonic(), 0.0)

    async def _connect_loop(self) -> None:
        backoff = self.config.backoff_min_s
        while not self._done():
            try:
                async with websockets.connect(self.config.url, ping_interval=None) as ws:
                    self.stats.connects += 1
                    backoff = self.config.backoff_min_s
                    await self._session_loop(ws)
            except (OSError, websockets.ConnectionClosed, websockets.InvalidHandshake) as exc:
                log.warning(
                    "connection to %s lost (%s); retrying in %.1f s", self.config.url, exc, backoff
                )
            await self._flush()
            if self._done():
                return
            await asyncio.sleep(min(backoff, self._remaining() or backoff))
            backoff = min(backoff * 2, self.config.backoff_max_s)

    async def _session_loop(self, ws: ClientConnection) -> None:
        request = {"op": "subscribe", "req_id": self._session, "args": self.config.topics()}
        await ws.send(msgspec.json.encode(request).decode())
        pinger = asyncio.create_task(self._ping(ws))
        try:
            while not self._done():
                try:
                    raw = await asyncio.wait_for(ws.recv(), timeout=self._wait_s())
                except TimeoutError:
                    await self._maybe_flush()
                    continue
                await self._on_message(raw.encode() if isinstance(raw, str) else raw)
        finally:
            pinger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinger

    def _wait_s(self) -> float:
        """How long to wait for a message before checking the flush timer and the deadline."""
        wait = self.config.flush_seconds
        remaining = self._remaining()
        return max(min(wait, remaining) if remaining is not None else wait, 0.01)

    async def _ping(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.config.ping_interval_s)
            await ws.send('{"op":"ping"}')

    async def _on_message(self, payload: bytes) -> None:
        local_ts = time.time_ns()
        try:
            reply = _REPLY.decode(payload)
        except (msgspec.DecodeError, UnicodeDecodeError):  # bad UTF-8 raises the latter
            reply = _Reply(topic="?")  # malformed: record it; the reader counts it as skipped
        if reply.topic is None:
            self._on_reply(reply)
            return
        self.stats.messages += 1
        self._batch.add(payload, self.stats.messages, local_ts)
        await self._maybe_flush()

    def _on_reply(self, reply: _Reply) -> None:
        if reply.op == "subscribe" and reply.success is False:
            raise ConfigError(f"subscription refused by {self.config.url}: {reply.ret_msg}")
        log.debug("reply %s: %s", reply.op, reply.ret_msg)

    async def _maybe_flush(self) -> None:
        full = len(self._batch) >= self.config.flush_messages
        due = time.monotonic() - self._last_flush >= self.config.flush_seconds
        if full or (due and len(self._batch)):
            await self._flush()

    async def _flush(self) -> None:
        """Read the buffered messages and write them as one new source of the store."""
        self._last_flush = time.monotonic()
        if not len(self._batch):
            return
        batch, self._batch = self._batch, MessageBatch(local_ts=[])
        first = batch.local_ts[0] if batch.local_ts else 0
        source_id = f"rec_{self.config.symbol}_{first}_{self._session}_{self.stats.flushes:05d}"
        result = self._reader.read(batch)
        await asyncio.to_thread(write_result, self.store, source_id, result)
        self.stats.flushes += 1
        self.stats.skipped += result.skips.total
        for table, count in result.rows().items():
            self.stats.rows[table] = self.stats.rows.get(table, 0) + count
        self.stats.files.append(source_id)


async def record(config: RecorderConfig) -> RecorderStats:
    """Record one session with `config` (see `Recorder`)."""
    return await Recorder(config).run()
