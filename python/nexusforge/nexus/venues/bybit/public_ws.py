"""Bybit v5 public stream client: orderbook, publicTrade, tickers and kline as typed events.

Book rules (brief §6.2): after every (re)subscribe a fresh snapshot is required; deltas before it
are dropped and counted; a delta whose `u` is not the previous `u + 1` is a gap: the topic is
resubscribed and its deltas are ignored until the new snapshot. Level-1 snapshots may repeat `u`.
A topic silent longer than its data timeout is resubscribed, and the socket is dropped if it
stays silent (pongs alone do not prove data is flowing).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection

from nexusforge.nexus.venues.bybit.config import BybitConfig
from nexusforge.nexus.venues.bybit.ws_connection import (
    BybitWsConnection,
    BybitWsEnvelope,
    StreamStatus,
)

log = logging.getLogger(__name__)

TOPIC_KINDS = ("orderbook", "publicTrade", "tickers", "kline")
SUBSCRIBE_CHUNK = 10


class _BookData(msgspec.Struct, frozen=True):
    s: str
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]
    u: int
    seq: int = 0


class PublicTrade(msgspec.Struct, frozen=True):
    """One public trade; `S` is the taker side."""

    T: int
    s: str
    S: str
    v: Decimal
    p: Decimal
    i: str
    BT: bool = False
    seq: int | None = None


class WsKline(msgspec.Struct, frozen=True):
    """One candle of `kline.{interval}.{symbol}`; `confirm` once it has closed."""

    start: int
    end: int
    interval: str
    open: Decimal
    close: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal
    turnover: Decimal
    confirm: bool
    timestamp: int


_BOOK = msgspec.json.Decoder(_BookData)
_TRADES = msgspec.json.Decoder(list[PublicTrade])
_KLINES = msgspec.json.Decoder(list[WsKline])
_TICKER = msgspec.json.Decoder(dict[str, Any])


@dataclass(frozen=True, slots=True)
class BookUpdate:
    """A book snapshot or a delta that follows on from the last one (levels as venue strings)."""

    topic: str
    symbol: str
    snapshot: bool
    bids: list[tuple[str, str]]
    asks: list[tuple[str, str]]
    update_id: int
    seq: int
    ts_ms: int
    cts_ms: int
    frame: str | bytes  # the message as received, e.g. for `OrderBook.apply_json`


@dataclass(frozen=True, slots=True)
class TradeBatch:
    """Public trades of one message, in match order."""

    topic: str
    trades: list[PublicTrade]


@dataclass(frozen=True, slots=True)
class TickerUpdate:
    """The merged ticker state after a snapshot or delta (all fields as venue strings)."""

    topic: str
    symbol: str
    ts_ms: int
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class KlineUpdate:
    """Candles of one kline message."""

    topic: str
    candles: list[WsKline]


PublicEvent = BookUpdate | TradeBatch | TickerUpdate | KlineUpdate


@dataclass(slots=True)
class _BookState:
    need_snapshot: bool = True
    last_u: int | None = None


@dataclass(slots=True)
class BookStats:
    """Book-rule counters."""

    snapshots: int = 0
    deltas: int = 0
    deltas_before_snapshot: int = 0
    gaps: int = 0
    resyncs: Counter[str] = field(default_factory=Counter)  # per topic, bounded by topics


def check_topic(topic: str) -> str:
    """`topic` if it names a public linear topic we understand, else ValueError."""
    kind, _, rest = topic.partition(".")
    if kind not in TOPIC_KINDS or not rest:
        raise ValueError(f"unsupported public topic {topic!r} (use one of {TOPIC_KINDS})")
    return topic


class BybitPublicWs(BybitWsConnection[PublicEvent]):
    """Public linear stream: subscribes `topics`, emits typed events and `StreamStatus`."""

    def __init__(
        self,
        config: BybitConfig,
        topics: Sequence[str],
        on_event: Callable[[PublicEvent | StreamStatus], Awaitable[None] | None],
        *,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, config.public_ws_url, on_event, rng=rng)
        self.topics = [check_topic(t) for t in dict.fromkeys(topics)]
        self.book_stats = BookStats()
        self._books: dict[str, _BookState] = {}
        self._tickers: dict[str, dict[str, Any]] = {}
        self._background: set[asyncio.Task[None]] = set()

    async def _open(self, ws: ClientConnection) -> None:
        self._books = {t: _BookState() for t in self.topics if t.startswith("orderbook.")}
        self._tickers.clear()
        for start in range(0, len(self.topics), SUBSCRIBE_CHUNK):
            args = self.topics[start : start + SUBSCRIBE_CHUNK]
            await self._send(ws, {"op": "subscribe", "req_id": self._req_id(), "args": args})
        await self._emit(StreamStatus("subscribed", ",".join(self.topics)))

    def _watched_topics(self) -> list[str]:
        return self.topics

    def _helpers(self) -> list[asyncio.Task[None]]:
        return list(self._background)

    async def _resubscribe(self, ws: ClientConnection, topic: str) -> None:
        if topic in self._books:
            self._books[topic] = _BookState()
        self._tickers.pop(topic, None)
        await super()._resubscribe(ws, topic)

    async def _on_data(self, env: BybitWsEnvelope, frame: str | bytes) -> None:
        topic = env.topic or ""
        if topic not in self.topics:
            self.stats.unknown += 1
            log.warning("bybit public ws: data for unsubscribed topic %r ignored", topic)
            return
        try:
            event = self._parse(topic, env, frame)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
            self._malformed(f"{topic}: {exc}", env.data)
            return
        if event is not None:
            await self._emit(event)

    def _parse(self, topic: str, env: BybitWsEnvelope, frame: str | bytes) -> PublicEvent | None:
        kind = topic.partition(".")[0]
        if kind == "orderbook":
            return self._book(topic, env, frame)
        if kind == "publicTrade":
            return TradeBatch(topic, _TRADES.decode(env.data))
        if kind == "kline":
            return KlineUpdate(topic, _KLINES.decode(env.data))
        return self._ticker(topic, env)

    def _book(self, topic: str, env: BybitWsEnvelope, frame: str | bytes) -> BookUpdate | None:
        data = _BOOK.decode(env.data)
        state = self._books[topic]
        if env.type == "snapshot":
            state.need_snapshot, state.last_u = False, data.u
            self.book_stats.snapshots += 1
        elif env.type == "delta":
            if state.need_snapshot:
                self.book_stats.deltas_before_snapshot += 1
                return None
            if state.last_u is None or data.u != state.last_u + 1:
                self._book_gap(topic, state, data.u)
                return None
            state.last_u = data.u
            self.book_stats.deltas += 1
        else:
            raise ValueError(f"orderbook type {env.type!r}")
        return BookUpdate(
            topic,
            data.s,
            env.type == "snapshot",
            data.b,
            data.a,
            data.u,
            data.seq,
            env.ts or 0,
            env.cts or 0,
            frame,
        )

    def _book_gap(self, topic: str, state: _BookState, u: int) -> None:
        self.book_stats.gaps += 1
        self.book_stats.resyncs[topic] += 1
        log.warning(
            "bybit public ws: %s gap (u %s -> %d): resubscribing for a snapshot",
            topic,
            state.last_u,
            u,
        )
        state.need_snapshot, state.last_u = True, None
        if self._ws is not None:
            # From a task, so the reader keeps draining frames meanwhile.
            task = asyncio.get_running_loop().create_task(self._resubscribe(self._ws, topic))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    def _ticker(self, topic: str, env: BybitWsEnvelope) -> TickerUpdate:
        fields = _TICKER.decode(env.data)
        if env.type == "snapshot" or topic not in self._tickers:
            if env.type != "snapshot":
                raise ValueError("ticker delta before its snapshot")
            self._tickers[topic] = dict(fields)
        else:
            self._tickers[topic].update(fields)
        state = self._tickers[topic]
        return TickerUpdate(topic, str(state.get("symbol", "")), env.ts or 0, dict(state))
