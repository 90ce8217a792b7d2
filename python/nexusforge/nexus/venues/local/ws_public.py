"""`/v5/public/linear`: subscribe/unsubscribe/ping and the orderbook, publicTrade, tickers and
kline topics, in Bybit's linear shapes.

A subscriber is added to a topic only when its snapshot is queued (a few ms after the ack, as
pybit prefers), so no delta can reach it before its snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from nexusforge.nexus.venues.local.book_topic import DEPTHS, BookTopic, Levels
from nexusforge.nexus.venues.local.market_data import ticker
from nexusforge.nexus.venues.local.rejects import Reject
from nexusforge.nexus.venues.local.trades import Candle, Print, interval_ms
from nexusforge.nexus.venues.local.venue import Venue
from nexusforge.nexus.venues.local.wire import fmt
from nexusforge.nexus.venues.local.ws_conn import Connection

log = logging.getLogger(__name__)
TOPIC = re.compile(r"^(orderbook)\.(\d+)\.([A-Z0-9]+)$|^(publicTrade|tickers)\.([A-Z0-9]+)$"
                   r"|^(kline)\.(\w+)\.([A-Z0-9]+)$")  # fmt: skip
SNAPSHOT_DELAY_S = 0.005
TICKER_PERIOD_S = 0.1
DEPTH1_REPUSH_MS = 3000


class PublicHub:
    """Topic subscriptions of every public client and the state each topic has published."""

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.subscribers: dict[str, set[Connection]] = {}
        self.books: dict[str, BookTopic] = {}
        self.tickers: dict[str, dict[str, Any]] = {}
        self.ticker_cs = 0
        self.klines: dict[str, tuple[int, dict[str, Any]]] = {}  # topic -> (bar start, last bar)
        self.candles: dict[str, Candle] = {}  # topic -> its running candle
        self.lose_book_messages = 0  # a fault: book updates published to nobody (a `u` gap)
        self.lose_kline_closes = 0  # a fault: closed klines published to nobody

    # ---- client requests ----

    def handle(self, conn: Connection, message: dict[str, Any]) -> None:
        op = message.get("op")
        req_id = message.get("req_id", "")
        if op == "ping":
            conn.send({"success": True, "ret_msg": "pong", "conn_id": conn.conn_id,
                       "req_id": req_id, "op": "ping"})  # fmt: skip
        elif op in ("subscribe", "unsubscribe"):
            self._subscription(conn, op, message.get("args"), req_id)
        else:
            conn.send({"success": False, "ret_msg": f"Invalid op: {op!r}", "conn_id": conn.conn_id,
                       "op": str(op)})  # fmt: skip

    def _subscription(self, conn: Connection, op: str, args: object, req_id: str) -> None:
        topics = args if isinstance(args, list) else []
        bad = [t for t in topics if not (isinstance(t, str) and self._valid(t))]
        if not topics or bad:
            # No req_id on a failure: pybit mishandles failed acks that carry one.
            conn.send({"success": False, "ret_msg": f"Invalid topic: {bad or args}",
                       "conn_id": conn.conn_id, "op": op})  # fmt: skip
            return
        conn.send({"success": True, "ret_msg": "", "conn_id": conn.conn_id, "req_id": req_id,
                   "op": op})  # fmt: skip
        for topic in topics:
            if op == "unsubscribe":
                conn.topics.discard(topic)
                self.subscribers.get(topic, set()).discard(conn)
            elif topic not in conn.topics:
                conn.topics.add(topic)
                asyncio.get_running_loop().call_later(SNAPSHOT_DELAY_S, self._join, conn, topic)

    def _valid(self, topic: str) -> bool:
        m = TOPIC.match(topic)
        if m is None:
            return False
        if m[1]:
            return int(m[2]) in DEPTHS and m[3] in self.venue.instruments
        if m[4]:
            return m[5] in self.venue.instruments
        try:
            interval_ms(m[7])
        except Reject:
            return False
        return m[8] in self.venue.instruments

    def _join(self, conn: Connection, topic: str) -> None:
        """Queue the topic's snapshot to `conn` and start sending it updates."""
        if conn.closed or topic not in conn.topics:
            return
        now = self.venue.now_ms()
        kind, _, rest = topic.partition(".")
        if kind == "orderbook":
            book = self._book(topic)
            conn.send(book.snapshot(now))
        elif kind == "tickers":
            state = self.tickers.setdefault(topic, ticker(self.venue, rest))
            conn.send({"topic": topic, "type": "snapshot", "data": state, "cs": self.ticker_cs,
                       "ts": now})  # fmt: skip
        self.subscribers.setdefault(topic, set()).add(conn)

    def leave(self, conn: Connection) -> None:
        for topic in conn.topics:
            self.subscribers.get(topic, set()).discard(conn)

    def _book(self, topic: str) -> BookTopic:
        book = self.books.get(topic)
        if book is None:
            _, depth, symbol = topic.split(".")
            book = self.books[topic] = BookTopic(int(depth), symbol)
            book.load(*self._levels(symbol, book.depth))
        return book

    def _levels(self, symbol: str, depth: int) -> tuple[Levels, Levels]:
        market = self.venue.market
        return market.book_text(symbol, "Buy", depth), market.book_text(symbol, "Sell", depth)

    # ---- venue events ----

    def book_changed(self, symbol: str, reset: bool) -> None:
        now = self.venue.now_ms()
        for topic, book in self.books.items():
            if book.symbol != symbol or not self.subscribers.get(topic):
                continue
            message = book.update(*self._levels(symbol, book.depth), now)
            if message is None:
                continue
            if self.lose_book_messages > 0:
                self.lose_book_messages -= 1  # lost on the way: subscribers see `u` jump
                continue
            self._fan_out(topic, message)

    def public_trade(self, symbol: str, trade: Print) -> None:
        topic = f"publicTrade.{symbol}"
        if self.subscribers.get(topic):
            item = {"T": trade.ts_ms, "s": symbol, "S": trade.side, "v": fmt(trade.qty),
                    "p": fmt(trade.price), "L": "ZeroPlusTick", "i": trade.trade_id, "BT": False,
                    "RPI": False, "seq": trade.seq}  # fmt: skip
            self._fan_out(topic, {"topic": topic, "type": "snapshot", "ts": trade.ts_ms,
                                  "data": [item]})  # fmt: skip
        for topic in [
            t for t in self.subscribers if t.startswith("kline.") and t.endswith(f".{symbol}")
        ]:
            self._kline(topic, trade)

    def _kline(self, topic: str, trade: Print) -> None:
        """The topic's candle with `trade` in it, pushed open; the candle it ends is pushed
        closed first (the periodic close may not have run yet: a fast replay crosses bars
        between two ticks). Kept running, so a trade costs O(1), not a scan of the history."""
        _, interval, symbol = topic.split(".")
        length = interval_ms(interval)
        now = self.venue.now_ms()
        start = trade.ts_ms - trade.ts_ms % length
        bar = self.candles.get(topic)
        if bar is None or start > bar.start:
            last = self.klines.get(topic)
            if last is not None and not last[1]["confirm"]:
                self._close_kline(topic, last, now)
            # the candle so far (a first subscriber may join in the middle of one)
            bar = self.venue.trades.candles(symbol, length, start, start, 1)[0]
        else:  # the same candle (a venue clock stepped back stays in it)
            bar = Candle(bar.start, bar.open, max(bar.high, trade.price),
                         min(bar.low, trade.price), trade.price, bar.volume + trade.qty,
                         bar.turnover + trade.qty * trade.price)  # fmt: skip
        self.candles[topic] = bar
        item = {"start": bar.start, "end": bar.start + length - 1, "interval": interval,
                "open": fmt(bar.open), "close": fmt(bar.close), "high": fmt(bar.high),
                "low": fmt(bar.low), "volume": fmt(bar.volume), "turnover": fmt(bar.turnover),
                "confirm": False, "timestamp": now}  # fmt: skip
        self.klines[topic] = (bar.start, item)
        self._fan_out(topic, {"topic": topic, "type": "snapshot", "ts": now, "data": [item]})

    def _fan_out(self, topic: str, message: dict[str, Any]) -> None:
        for conn in list(self.subscribers.get(topic, ())):
            conn.send(message)

    # ---- periodic pushes ----

    async def run_periodic(self) -> None:
        """Ticker deltas every 100 ms, depth-1 re-pushes after 3 s, kline closes."""
        while True:
            await asyncio.sleep(TICKER_PERIOD_S)
            try:
                self.tick()
            except Exception:  # a bug here must not stop the pushes; it is logged loudly
                log.exception("periodic public push failed")

    def tick(self) -> None:
        now = self.venue.now_ms()
        for topic, state in self.tickers.items():
            if not self.subscribers.get(topic):
                continue
            fresh = ticker(self.venue, topic.split(".", 1)[1])
            delta = {k: v for k, v in fresh.items() if state.get(k) != v}
            if delta:
                state.update(delta)
                self.ticker_cs += 1
                delta["symbol"] = fresh["symbol"]
                self._fan_out(topic, {"topic": topic, "type": "delta", "data": delta,
                                      "cs": self.ticker_cs, "ts": now})  # fmt: skip
        for topic, book in self.books.items():
            stale = now - book.last_push_ms >= DEPTH1_REPUSH_MS
            if book.depth == 1 and stale and self.subscribers.get(topic):
                self._fan_out(topic, book.snapshot(now))
        for topic, (start, item) in list(self.klines.items()):
            if not item["confirm"] and now > item["end"] and self.subscribers.get(topic):
                self._close_kline(topic, (start, item), now)

    def _close_kline(self, topic: str, last: tuple[int, dict[str, Any]], now: int) -> None:
        closed = dict(last[1], confirm=True, timestamp=now)
        self.klines[topic] = (last[0], closed)
        if self.lose_kline_closes > 0:
            self.lose_kline_closes -= 1  # lost on the way: subscribers miss this bar
            return
        self._fan_out(topic, {"topic": topic, "type": "snapshot", "ts": now, "data": [closed]})
