"""The reconnecting Bybit WebSocket loop both streams share: heartbeat, staleness, backoff.

One session = connect → `_open` (auth/subscribe, by the subclass) → read, ping and watch for
silence until something fails → back off with jitter → connect again. A malformed frame or a
failing event handler is logged and counted; it never ends the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from nexusforge.nexus.venues.bybit.backoff import Backoff
from nexusforge.nexus.venues.bybit.config import BybitConfig

log = logging.getLogger(__name__)

E = TypeVar("E")
MAX_FRAME_BYTES = 16 * 1024 * 1024


class BybitWsEnvelope(msgspec.Struct, frozen=True):
    """Any frame: data frames carry `topic`; replies to ops carry `op`."""

    topic: str | None = None
    type: str | None = None
    ts: int | None = None
    cts: int | None = None
    creationTime: int | None = None
    data: msgspec.Raw = msgspec.Raw(b"null")
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None
    retCode: int | None = None
    retMsg: str | None = None
    req_id: str | None = None
    reqId: str | None = None  # order-entry replies (/v5/trade)


ENVELOPE = msgspec.json.Decoder(BybitWsEnvelope)


class SessionEnded(Exception):
    """Raised inside a session to make the loop reconnect; the message says why."""


@dataclass(slots=True)
class WsStats:
    """Counters of one stream client (over its whole life, all sessions)."""

    connects: int = 0
    disconnects: int = 0
    messages: int = 0
    malformed: int = 0
    unknown: int = 0
    pongs: int = 0
    ping_timeouts: int = 0
    stale_resubscribes: int = 0
    stale_reconnects: int = 0
    handler_errors: int = 0
    rejected_ops: int = 0


@dataclass(frozen=True, slots=True)
class StreamStatus:
    """A connection-level happening: connected, ready, stale, resubscribed, disconnected, …"""

    kind: str
    detail: str = ""
    topic: str = ""


def is_pong(env: BybitWsEnvelope) -> bool:
    """Both pong shapes: public `op:"ping", ret_msg:"pong"` and private `op:"pong"`."""
    return env.op == "pong" or env.ret_msg == "pong"


class BybitWsConnection(Generic[E]):
    """Base of the public and private stream clients; subclasses define `_open` and `_on_data`."""

    def __init__(
        self,
        config: BybitConfig,
        url: str,
        on_event: Callable[[E | StreamStatus], Awaitable[None] | None],
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.config = config
        self.url = url
        self.stats = WsStats()
        self._on_event = on_event
        self._backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s, rng)
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._ws: ClientConnection | None = None
        self._pong = asyncio.Event()
        self._req_ids = itertools.count(1)
        self._last_data: dict[str, float] = {}
        self._stale_since: dict[str, float] = {}
        self._malformed_logged = 0

    # ---- lifecycle ----

    def start(self) -> None:
        """Run the connection loop in a background task."""
        if self._task is not None:
            raise RuntimeError("already started")
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name=f"bybit-ws {self.url}")

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Close the socket and end the loop (waits at most `timeout_s`)."""
        self._stopping = True
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._ws.close(), timeout_s)
        tasks = {t for t in (self._task, *self._helpers()) if t is not None and not t.done()}
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout_s)
            for task in pending:
                log.error(
                    "bybit ws %s: task %s did not stop within %.1f s",
                    self.url,
                    task.get_name(),
                    timeout_s,
                )
        self._task = None

    def _helpers(self) -> list[asyncio.Task[None]]:
        """Background tasks of the subclass (resubscribes, recovery) to cancel on stop."""
        return []

    async def _run(self) -> None:
        while not self._stopping:
            reason = "closed"
            try:
                async with connect(
                    self.url,
                    ping_interval=None,  # the JSON ping below is Bybit's heartbeat
                    open_timeout=self.config.http_timeout_s,
                    close_timeout=1.0,
                    max_size=MAX_FRAME_BYTES,
                ) as ws:
                    self._ws = ws
                    self.stats.connects += 1
                    await self._emit(StreamStatus("connected", self.url))
                    await self._session(ws)
            except asyncio.CancelledError:
                raise
            except SessionEnded as exc:
                reason = str(exc)
            except (OSError, ConnectionClosed, InvalidHandshake, InvalidURI, TimeoutError) as exc:
                reason = f"{type(exc).__name__}: {exc}"
            finally:
                self._ws = None
                self._closed()
            if self._stopping:
                break
            self.stats.disconnects += 1
            delay = self._backoff.next()
            log.warning("bybit ws %s: %s; reconnecting in %.2f s", self.url, reason, delay)
            await self._emit(StreamStatus("disconnected", reason))
            await asyncio.sleep(delay)

    async def _session(self, ws: ClientConnection) -> None:
        self._pong.clear()
        await self._open(ws)
        now = asyncio.get_running_loop().time()
        self._last_data = dict.fromkeys(self._watched_topics(), now)
        self._stale_since.clear()
        tasks = [
            asyncio.create_task(self._read(ws)),
            asyncio.create_task(self._heartbeat(ws)),
            asyncio.create_task(self._watch(ws)),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            task.result()  # re-raise why the session ended
        raise SessionEnded("server closed the connection")

    # ---- subclass hooks ----

    async def _open(self, ws: ClientConnection) -> None:
        """Authenticate and subscribe on a fresh socket."""
        raise NotImplementedError

    async def _on_data(self, env: BybitWsEnvelope, frame: str | bytes) -> None:
        """Handle one data frame (it has a topic)."""
        raise NotImplementedError

    def _watched_topics(self) -> list[str]:
        """Topics with a data timeout."""
        return []

    def _closed(self) -> None:
        """The socket is gone (called once per session, whatever ended it)."""

    def _on_reply(self, env: BybitWsEnvelope) -> bool:
        """Handle a reply to a request of ours (order entry); False when it is not one."""
        return False

    async def _resubscribe(self, ws: ClientConnection, topic: str) -> None:
        """Unsubscribe and subscribe `topic` again."""
        await self._send(ws, {"op": "unsubscribe", "req_id": self._req_id(), "args": [topic]})
        await self._send(ws, {"op": "subscribe", "req_id": self._req_id(), "args": [topic]})

    # ---- reading ----

    async def _read(self, ws: ClientConnection) -> None:
        async for frame in ws:
            await self._dispatch(frame)

    async def _dispatch(self, frame: str | bytes) -> None:
        self.stats.messages += 1
        try:
            env = ENVELOPE.decode(frame)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            self._malformed(f"unreadable frame ({exc})", frame)
            return
        if env.topic is not None:
            self._last_data[env.topic] = asyncio.get_running_loop().time()
            self._stale_since.pop(env.topic, None)
            await self._on_data(env, frame)
        elif is_pong(env):
            self.stats.pongs += 1
            self._pong.set()
        elif env.op in ("subscribe", "unsubscribe"):
            self._on_op_reply(env)
        elif not self._on_reply(env):
            self.stats.unknown += 1
            log.warning("bybit ws %s: unknown frame ignored: %.200r", self.url, frame)

    def _on_op_reply(self, env: BybitWsEnvelope) -> None:
        if env.success is False or (env.retCode or 0) != 0:
            self.stats.rejected_ops += 1
            log.error("bybit ws %s: %s refused: %s", self.url, env.op, env.ret_msg or env.retMsg)

    def _malformed(self, why: str, frame: str | bytes | msgspec.Raw) -> None:
        self.stats.malformed += 1
        # Log the first few in full, then every 1000th, so a flood cannot flood the log.
        if self._malformed_logged < 10 or self.stats.malformed % 1000 == 0:
            self._malformed_logged += 1
            text = bytes(frame) if isinstance(frame, msgspec.Raw) else frame
            log.warning("bybit ws %s: malformed message skipped (%s): %.200r", self.url, why, text)

    # ---- heartbeat and staleness ----

    async def _heartbeat(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.config.ping_interval_s)
            self._pong.clear()
            await self._send(ws, {"op": "ping", "req_id": self._req_id()})
            try:
                await asyncio.wait_for(self._pong.wait(), self.config.pong_timeout_s)
            except TimeoutError:
                self.stats.ping_timeouts += 1
                raise SessionEnded("no pong within the pong timeout") from None

    async def _watch(self, ws: ClientConnection) -> None:
        """Per-topic data timeouts: a silent topic is resubscribed once, then the socket dropped."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.config.stale_check_s)
            now = loop.time()
            for topic in self._watched_topics():
                limit = self.config.data_timeout_for(topic)
                if limit is None or now - self._last_data.get(topic, now) <= limit:
                    continue
                if topic in self._stale_since:
                    self.stats.stale_reconnects += 1
                    raise SessionEnded(f"{topic} still silent after a resubscribe")
                self._stale_since[topic] = now
                self._last_data[topic] = now
                self.stats.stale_resubscribes += 1
                log.warning(
                    "bybit ws %s: no data on %s for %.1f s: resubscribing", self.url, topic, limit
                )
                await self._emit(StreamStatus("stale", f"silent {limit:.1f} s", topic))
                await self._resubscribe(ws, topic)

    # ---- helpers ----

    def _req_id(self) -> str:
        return str(next(self._req_ids))

    async def _send(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        await ws.send(msgspec.json.encode(message).decode())

    async def _emit(self, event: E | StreamStatus) -> None:
        try:
            result = self._on_event(event)
            if inspect.isawaitable(result):
                await result
        except Exception:
            self.stats.handler_errors += 1
            log.exception("bybit ws %s: event handler failed on %s", self.url, type(event).__name__)
