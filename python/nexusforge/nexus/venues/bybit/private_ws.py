"""Bybit v5 private stream client: auth, execution/order/position/wallet, recovery on reconnect.

Order of a session, and the rule it keeps: connect → `op: auth` → wait for the auth reply →
subscribe → recover over REST. Nothing but the auth request is written to a socket before its
authentication is confirmed: the heartbeat starts after it, and `send()` waits for it (messages
queued for an earlier socket are never replayed on a new one). After every reconnect the fills
missed while away are read back from /v5/execution/list and emitted once, deduplicated by execId.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import msgspec
from websockets.asyncio.client import ClientConnection

from nexusforge.nexus.venues.bybit.backoff import Backoff
from nexusforge.nexus.venues.bybit.config import BybitConfig
from nexusforge.nexus.venues.bybit.errors import BybitError
from nexusforge.nexus.venues.bybit.keys import Credentials
from nexusforge.nexus.venues.bybit.models import (
    BybitExecution,
    BybitOrder,
    BybitPosition,
    BybitWallet,
)
from nexusforge.nexus.venues.bybit.recovery import (
    ExecIdSet,
    ExecMark,
    newest,
    recover_executions,
)
from nexusforge.nexus.venues.bybit.rest import BybitRestClient
from nexusforge.nexus.venues.bybit.schema import SchemaWatch
from nexusforge.nexus.venues.bybit.ws_auth import AuthenticatedWs
from nexusforge.nexus.venues.bybit.ws_connection import (
    BybitWsEnvelope,
    StreamStatus,
)

log = logging.getLogger(__name__)

DEFAULT_TOPICS = ("execution", "order", "position", "wallet")
_ITEMS = msgspec.json.Decoder(list[Any])  # items are checked one by one
T = TypeVar("T", bound=msgspec.Struct)


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """New fills (never seen before on this client); `recovered` when read back over REST."""

    executions: list[BybitExecution]
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class OrderEvent:
    """Order state snapshots; `recovered` when read back over REST after a reconnect."""

    orders: list[BybitOrder]
    recovered: bool = False


@dataclass(frozen=True, slots=True)
class PositionEvent:
    """Position rows."""

    positions: list[BybitPosition]


@dataclass(frozen=True, slots=True)
class WalletEvent:
    """Wallet accounts."""

    wallets: list[BybitWallet]


@dataclass(frozen=True, slots=True)
class AccountDrift:
    """The venue's account config disagrees with ours (e.g. positionIdx vs position mode)."""

    symbol: str
    position_idx: int
    where: str


PrivateEvent = ExecutionEvent | OrderEvent | PositionEvent | WalletEvent | AccountDrift


class BybitPrivateWs(AuthenticatedWs[PrivateEvent]):
    """Private stream of one account; with `rest` it also recovers missed fills on reconnect."""

    def __init__(
        self,
        config: BybitConfig,
        credentials: Credentials,
        on_event: Callable[[PrivateEvent | StreamStatus], Awaitable[None] | None],
        *,
        rest: BybitRestClient | None = None,
        topics: Sequence[str] = DEFAULT_TOPICS,
        since_ms: int | None = None,
        seen: ExecIdSet | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, config.private_ws_url, credentials, on_event, rest=rest, rng=rng)
        self.topics = list(dict.fromkeys(topics))
        self.seen = seen or ExecIdSet()
        self.watch = rest.watch if rest is not None else SchemaWatch(config.position_mode)
        self.last_exec: ExecMark | None = None
        self.duplicates = 0
        self.recovered = 0
        self.recovery_failures = 0
        self._since_ms = since_ms
        self._first_ready_ms: int | None = None
        self._sessions = 0
        self._recovery: asyncio.Task[None] | None = None

    # ---- public API ----

    async def send(self, message: dict[str, Any]) -> None:
        """Send on the current socket once its authentication is confirmed (never before).

        If that socket dies while sending, `ConnectionClosed` is raised and nothing is kept to
        replay later: the caller decides, after the next re-authentication, what to send again.
        """
        await self.wait_ready()
        ws = self._ws
        assert ws is not None  # authenticated implies a socket; no await since the check
        await self._send(ws, message)

    async def recover_executions(self, since_ms: int | None = None) -> list[BybitExecution]:
        """Fills since `since_ms` (default: newest known fill) not delivered yet, oldest first."""
        if self.rest is None:
            raise RuntimeError("recover_executions needs a REST client")
        start = since_ms if since_ms is not None else self._recovery_start()
        if start is None:
            return []
        fresh = await recover_executions(self.rest, start, self.seen)
        self.last_exec = newest(self.last_exec, fresh)
        self.recovered += len(fresh)
        return fresh

    # ---- session ----

    def _watched_topics(self) -> list[str]:
        # Private topics are quiet when nothing happens: only those given a data timeout in
        # the config are watched (none by default).
        return [t for t in self.topics if self.config.data_timeout_for(t) is not None]

    def _helpers(self) -> list[asyncio.Task[None]]:
        return [self._recovery] if self._recovery is not None else []

    async def _open(self, ws: ClientConnection) -> None:
        self._sessions += 1
        await self._authenticate(ws)
        await self._send(ws, {"op": "subscribe", "req_id": self._req_id(), "args": self.topics})
        self._authed.set()
        if self._first_ready_ms is None and self.rest is not None:
            self._first_ready_ms = self.rest.time.now_ms()
        await self._emit(StreamStatus("ready", f"session {self._sessions}"))
        wanted = self._sessions > 1 or self._recovery_start() is not None
        idle = self._recovery is None or self._recovery.done()
        if self.rest is not None and wanted and idle:
            self._recovery = asyncio.create_task(self._recover_all())

    def _recovery_start(self) -> int | None:
        """From the newest fill seen, else the caller's mark, else our first connection."""
        if self.last_exec is not None:
            return self.last_exec.time_ms
        if self._since_ms is not None:
            return self._since_ms
        return self._first_ready_ms if self._sessions > 1 else None

    async def _recover_all(self) -> None:
        """Read back missed fills and open orders; retried with backoff until it succeeds."""
        assert self.rest is not None
        backoff = Backoff(self.config.reconnect_min_s, self.config.reconnect_max_s)
        while True:
            try:
                start = self._recovery_start()
                fills = await self.recover_executions(start) if start is not None else []
                orders = await self.rest.open_orders()
            except BybitError as exc:
                self.recovery_failures += 1
                log.warning(
                    "bybit private ws: recovery attempt %d failed: %s", backoff.attempt + 1, exc
                )
                if backoff.attempt == self.config.max_retries:
                    await self._emit(StreamStatus("recovery_failed", str(exc)))
                await asyncio.sleep(backoff.next())
                continue
            if fills:
                await self._emit(ExecutionEvent(fills, recovered=True))
            await self._emit(OrderEvent(orders, recovered=True))
            log.info(
                "bybit private ws: recovered %d fills, %d open orders", len(fills), len(orders)
            )
            await self._emit(StreamStatus("recovered", f"{len(fills)} fills"))
            return

    # ---- data ----

    async def _on_data(self, env: BybitWsEnvelope, frame: str | bytes) -> None:
        topic = (env.topic or "").partition(".")
        kind, category = topic[0], topic[2]
        if kind not in DEFAULT_TOPICS or category not in ("", "linear"):
            self.stats.unknown += 1
            log.warning("bybit private ws: topic %r not handled", env.topic)
            return
        try:
            items = _ITEMS.decode(env.data)
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            self._malformed(f"{env.topic}: {exc}", env.data)
            return
        for event in self._events(kind, items):
            await self._emit(event)

    def _events(self, kind: str, items: list[Any]) -> list[PrivateEvent]:
        where = f"ws {kind}"
        if kind == "execution":
            fresh = []
            for ex in self.watch.convert(items, BybitExecution, where):
                if self.seen.add(ex.execId):
                    fresh.append(ex)
                else:
                    self.duplicates += 1
            self.last_exec = newest(self.last_exec, fresh)
            return [ExecutionEvent(fresh)] if fresh else []
        if kind == "order":
            orders = self.watch.convert(items, BybitOrder, where)
            drift = self._drift([(o.symbol, o.positionIdx) for o in orders], where)
            return [*drift, OrderEvent(orders)] if orders else drift
        if kind == "position":
            rows = self.watch.convert(items, BybitPosition, where)
            drift = self._drift([(p.symbol, p.positionIdx) for p in rows], where)
            return [*drift, PositionEvent(rows)] if rows else drift
        wallets = self.watch.convert(items, BybitWallet, where)
        return [WalletEvent(wallets)] if wallets else []

    def _drift(self, pairs: list[tuple[str, int]], where: str) -> list[PrivateEvent]:
        return [
            AccountDrift(symbol, idx, where)
            for symbol, idx in pairs
            if not self.watch.check_position_idx(idx, symbol, where)
        ]
