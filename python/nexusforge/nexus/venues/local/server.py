"""`LocalExchange`: the whole exchange on one loopback port (REST and the three websockets).

Start it inside a running event loop (`async with LocalExchange(cfg) as ex`) or on its own thread
(`with LocalExchange(cfg) as ex`, for synchronous clients such as pybit). The admin methods
(market control and injected faults) are for tests; they are plain Python calls, never reachable
over the network, and safe to call from any thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import Future
from decimal import Decimal
from types import TracebackType
from typing import Any, Protocol, TypeVar

import msgspec
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from nexusforge.errors import ConfigError
from nexusforge.nexus.venues.local.config import ExchangeConfig, default_replay_files
from nexusforge.nexus.venues.local.market.base import MarketBackend, PxLevel, Side
from nexusforge.nexus.venues.local.ratelimit import RateLimiter
from nexusforge.nexus.venues.local.rejects import SERVER_ERROR
from nexusforge.nexus.venues.local.rest import RestApi, wall_ms
from nexusforge.nexus.venues.local.trades import Print
from nexusforge.nexus.venues.local.venue import Venue
from nexusforge.nexus.venues.local.ws_conn import Connection
from nexusforge.nexus.venues.local.ws_private import PrivateHub
from nexusforge.nexus.venues.local.ws_public import PublicHub
from nexusforge.nexus.venues.local.ws_trade import TradeGateway

log = logging.getLogger(__name__)
T = TypeVar("T")
START_TIMEOUT_S = 20.0


class _Hub(Protocol):
    def handle(self, conn: Connection, message: dict[str, Any]) -> None: ...


class _Fanout:
    """The venue's effects to the websocket hubs."""

    def __init__(self, public: PublicHub, private: PrivateHub) -> None:
        self.public, self.private_hub = public, private

    def private(self, kind: str, records: list[dict[str, Any]]) -> None:
        self.private_hub.private(kind, records)

    def public_trade(self, symbol: str, trade: Print) -> None:
        self.public.public_trade(symbol, trade)

    def book_changed(self, symbol: str, reset: bool) -> None:
        self.public.book_changed(symbol, reset)


def build_market(config: ExchangeConfig) -> MarketBackend:
    """The backend the config names."""
    if config.mode == "replay":
        from nexusforge.nexus.venues.local.market.replay import ReplayMarket
        from nexusforge.nexus.venues.local.market.tape import load_tape

        files = config.replay_files or default_replay_files()
        tape = load_tape(files, config.instruments)
        return ReplayMarket(tape, config.speed, config.loop, config.start_paused)
    from nexusforge.nexus.venues.local.market.sim import build_sim_market

    return build_sim_market(config)


class LocalExchange:
    """A Bybit-v5-compatible exchange on 127.0.0.1."""

    def __init__(self, config: ExchangeConfig | None = None, market: MarketBackend | None = None):
        self.config = config or ExchangeConfig()
        self.market = market or build_market(self.config)
        self.venue = Venue(self.config, self.market, wall_ms)
        limiter = RateLimiter(self.config.rate_limits)
        self.rest = RestApi(self.venue, limiter)
        self.public = PublicHub(self.venue)
        self.private = PrivateHub(self.venue)
        self.trade = TradeGateway(self.venue, limiter)
        self.venue.events = _Fanout(self.public, self.private)
        self.port = 0
        self.malformed_frames = 0
        self._server: uvicorn.Server | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stop: asyncio.Event | None = None

    # ---- addresses ----

    @property
    def rest_url(self) -> str:
        return f"http://{self.config.host}:{self.port}"

    @property
    def ws_public_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/v5/public/linear"

    @property
    def ws_private_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/v5/private"

    @property
    def ws_trade_url(self) -> str:
        return f"ws://{self.config.host}:{self.port}/v5/trade"

    # ---- lifecycle in the caller's loop ----

    async def start(self) -> None:
        """Bind, serve, and start the market; returns once the port accepts connections."""
        self._loop = asyncio.get_running_loop()
        # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets, and without it
        # Nagle + delayed ACK hold every reply's body ~40 ms on loopback.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((self.config.host, self.config.port))
        except OSError as exc:
            sock.close()
            raise ConfigError(f"cannot bind {self.config.host}:{self.config.port}: {exc}") from exc
        self.port = sock.getsockname()[1]
        uv = uvicorn.Config(
            self._app(), log_level="warning", lifespan="off", ws="websockets-sansio",
            timeout_graceful_shutdown=2, ws_ping_interval=None,
        )  # fmt: skip
        self._server = uvicorn.Server(uv)
        serve = asyncio.create_task(self._server.serve(sockets=[sock]), name="exchange-http")
        self._tasks = [serve]
        await self._wait_started(serve)
        self._tasks.append(asyncio.create_task(self.market.run(), name="exchange-market"))
        self._tasks.append(asyncio.create_task(self.public.run_periodic(), name="exchange-push"))
        log.info("local exchange (%s) on %s", self.config.mode, self.rest_url)

    async def _wait_started(self, serve: asyncio.Task[Any]) -> None:
        assert self._server is not None
        deadline = asyncio.get_running_loop().time() + START_TIMEOUT_S
        while not self._server.started:
            if serve.done():
                serve.result()
                raise ConfigError("the exchange's HTTP server stopped while starting")
            if asyncio.get_running_loop().time() > deadline:
                raise ConfigError("the exchange's HTTP server did not start in time")
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        """Close every client, stop serving and stop the market."""
        for conn in [*self.private.connections, *self.trade.connections]:
            conn.close(1001)
        for subscribers in self.public.subscribers.values():
            for conn in subscribers:
                conn.close(1001)
        if self._server is not None:
            self._server.should_exit = True
        for task in self._tasks[1:]:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def __aenter__(self) -> LocalExchange:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    # ---- lifecycle on a thread of its own ----

    def __enter__(self) -> LocalExchange:
        started: Future[None] = Future()
        self._thread = threading.Thread(
            target=asyncio.run, args=(self._thread_main(started),), name="local-exchange",
            daemon=True,
        )  # fmt: skip
        self._thread.start()
        started.result(timeout=START_TIMEOUT_S + 5)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=10)

    async def _thread_main(self, started: Future[None]) -> None:
        self._stop = asyncio.Event()
        try:
            await self.start()
        except BaseException as exc:
            started.set_exception(exc)
            return
        started.set_result(None)
        await self._stop.wait()
        await self.stop()

    # ---- the web app ----

    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v5/{rest:path}", self.rest.handle, methods=["GET", "POST"]),
                WebSocketRoute("/v5/public/linear", self._ws_public),
                WebSocketRoute("/v5/private", self._ws_private),
                WebSocketRoute("/v5/trade", self._ws_trade),
            ]
        )

    async def _ws_public(self, websocket: WebSocket) -> None:
        await self._serve_ws(websocket, "public", self.public, None)

    async def _ws_private(self, websocket: WebSocket) -> None:
        await self._serve_ws(websocket, "private", self.private, self.private.connections)

    async def _ws_trade(self, websocket: WebSocket) -> None:
        await self._serve_ws(websocket, "trade", self.trade, self.trade.connections)

    async def _serve_ws(
        self, websocket: WebSocket, path: str, hub: _Hub, members: set[Connection] | None
    ) -> None:
        await websocket.accept()
        conn = Connection(websocket, path)
        if members is not None:
            members.add(conn)
        try:
            while not conn.closed:
                frame = await websocket.receive()
                if frame["type"] == "websocket.disconnect":
                    break
                message = self._decode(frame.get("text") or frame.get("bytes") or b"")
                if message is None:
                    conn.send({"success": False, "ret_msg": "malformed request", "op": ""})
                    continue
                hub.handle(conn, message)
        except (WebSocketDisconnect, RuntimeError) as exc:
            log.debug("%s client %s left: %r", path, conn.conn_id, exc)
        finally:
            if members is not None:
                members.discard(conn)
            self.public.leave(conn)
            await conn.finish()

    def _decode(self, raw: str | bytes) -> dict[str, Any] | None:
        try:
            message = msgspec.json.decode(raw)
        except msgspec.DecodeError:
            message = None
        if not isinstance(message, dict):
            self.malformed_frames += 1
            log.warning("malformed websocket frame (%d so far)", self.malformed_frames)
            return None
        return message

    # ---- admin: market control and faults (tests; any thread) ----

    def pause_market(self) -> None:
        """Stop market events; the server still answers requests and pings."""
        self._call(self.market.pause)

    def resume_market(self) -> None:
        self._call(self.market.resume)

    def step_market(self, events: int = 1) -> int:
        """Play the next `events` market events now (with the market paused)."""
        return self._call(lambda: self.market.step(events))

    def levels(self, symbol: str, side: Side, depth: int) -> list[PxLevel]:
        """The book side the market shows now, best first (`Buy` = bids)."""
        return self._call(lambda: self.market.levels(symbol, side, depth))

    def drop_private_connections(self) -> int:
        """Close every private websocket (clients see the connection end); returns how many."""
        return self._call(self.private.drop_all)

    def lose_next_book_messages(self, count: int = 1) -> None:
        """Publish the next `count` book updates to nobody: subscribers see a gap in `u`."""

        def arm() -> None:
            self.public.lose_book_messages += count

        self._call(arm)

    def lose_next_kline_closes(self, count: int = 1) -> None:
        """Publish the next `count` closed klines to nobody: subscribers miss those bars."""

        def arm() -> None:
            self.public.lose_kline_closes += count

        self._call(arm)

    def duplicate_next_executions(self, count: int = 1) -> None:
        """Send each of the next `count` execution messages twice."""

        def arm() -> None:
            self.private.duplicate_executions += count

        self._call(arm)

    def fail_next_requests(
        self,
        count: int,
        code: int = SERVER_ERROR,
        message: str = "Server error (injected fault)",
        http_status: int = 200,
        scope: str = "any",
    ) -> None:
        """Answer the next `count` REST requests with retCode `code` (and HTTP `http_status`);
        `scope` narrows them to `private` (signed) requests or `order` writes."""

        def arm() -> None:
            self.rest.fail_next.scope = scope
            self.rest.fail_next.count = count
            self.rest.fail_next.code = code
            self.rest.fail_next.message = message
            self.rest.fail_next.http_status = http_status

        self._call(arm)

    def delay_next_requests(self, count: int, delay_s: float) -> None:
        """Hold the next `count` REST replies `delay_s` seconds (past a client's timeout)."""

        def arm() -> None:
            self.rest.fail_next.delay_count = count
            self.rest.fail_next.delay_s = delay_s

        self._call(arm)

    def delay_next_executions(self, count: int, delay_s: float) -> None:
        """Send each of the next `count` execution messages `delay_s` late (others overtake)."""

        def arm() -> None:
            self.private.delay_executions = count
            self.private.delay_s = delay_s

        self._call(arm)

    def drop_public_connections(self) -> int:
        """Close every public websocket mid-stream; returns how many."""

        def drop() -> int:
            conns = {c for subs in self.public.subscribers.values() for c in subs}
            for conn in conns:
                conn.close(1011)
            return len(conns)

        return self._call(drop)

    def skew_clock(self, offset_ms: int) -> None:
        """Run the venue's clock `offset_ms` ahead of the wall (negative: behind)."""

        def arm() -> None:
            self.venue.now_ms = lambda: wall_ms() + offset_ms

        self._call(arm)

    def wallet_balance(self) -> Decimal:
        return self._call(lambda: self.venue.account.wallet)

    def _call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the exchange's loop and return its result, from any thread."""
        loop = self._loop
        if loop is None or not loop.is_running() or _in_loop(loop):
            return fn()

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=10)


def _in_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
