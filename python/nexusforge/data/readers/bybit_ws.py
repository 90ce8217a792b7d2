"""Bybit v5 public websocket messages: orderbook, publicTrade, tickers and kline topics.

Inputs are single pretty-printed JSON messages (`*.json`), NDJSON streams (one message per line,
also inside zip archives such as Bybit's ob500 history) and the recorder's buffers. Book messages
go to the Rust parser (`nexusforge.market.book`); the rest is decoded here with strict msgspec
types.

- `publicTrade.SYM` (and the older `trade.linear.SYM` spelling) -> trades; `S` is the taker side.
- `tickers.SYM`: a snapshot sets the symbol's bid1/ask1 state and deltas merge into it; every
  message that carries a top-of-book field yields one quotes row of the merged state.
  A delta before any snapshot is skipped (its untouched fields are unknown).
- `kline.N.SYM` -> bars, only for closed candles (`confirm: true`). An unconfirmed candle is still
  changing, so it is skipped and counted ("unconfirmed kline"), never stored as a bar.
- Replies to `op`s (subscribe acks, pongs) are counted as skipped control messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import msgspec

from nexusforge.data.readers import _bybit_wire as wire
from nexusforge.data.readers._archive import read_bytes
from nexusforge.data.readers._book import BookMessages
from nexusforge.data.readers._messages import (
    BadValue,
    MessageBatch,
    ndjson_batch,
    non_negative,
    ns_from_ms,
    positive,
    taker_side,
)
from nexusforge.data.readers._result import ReadResult, RowBuilder, SkipLog
from nexusforge.data.schema import BARS, BOOK_EVENTS, QUOTES, TRADES, VENUE_BYBIT_LINEAR

VENUE = VENUE_BYBIT_LINEAR
_KLINE_SECONDS = {"D": 86_400, "W": 604_800}
PUBLIC_PREFIXES = ("orderbook.", "publicTrade.", "trade.", "tickers.", "kline.")


@dataclass
class _Quote:
    bid: float | None = None
    bid_qty: float | None = None
    ask: float | None = None
    ask_qty: float | None = None


class BybitPublicReader:
    """Turns batches of v5 public messages into trades, quotes, bars and book rows.

    Ticker state (the merged bid1/ask1 per symbol) lives across `read` calls, so a recorder
    that reads its stream in several batches gets the same quotes as one read of the whole.
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.tickers: dict[str, _Quote] = {}
        self._start_batch()

    def _start_batch(self) -> None:
        self.skips = SkipLog(self.source)
        self.trades = RowBuilder(TRADES)
        self.quotes = RowBuilder(QUOTES)
        self.bars = RowBuilder(BARS)

    def read(self, batch: MessageBatch) -> ReadResult:
        """Read every message of `batch`; bad ones are counted in the skip log."""
        self._start_batch()
        book = BookMessages("bybit", VENUE)
        for index, payload in enumerate(batch.payloads):
            line = batch.lines[index]
            try:
                envelope = wire.ENVELOPE.decode(payload)
            except msgspec.ValidationError as exc:  # a subclass of DecodeError: check it first
                self.skips.skip(line, "wrong type", str(exc))
                continue
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # bad UTF-8 in a string
                self.skips.skip(line, "malformed JSON", str(exc))
                continue
            self._dispatch(envelope, batch, index, book)
        frames = {
            BOOK_EVENTS: book.frame(self.skips),
            TRADES: self.trades.frame(),
            QUOTES: self.quotes.frame(),
            BARS: self.bars.frame(),
        }
        return ReadResult(frames, self.skips, messages=len(batch))

    def _dispatch(
        self, env: wire.BybitEnvelope, batch: MessageBatch, index: int, book: BookMessages
    ) -> None:
        line = batch.lines[index]
        topic = env.topic
        if topic is None:
            reason = "control message" if env.op is not None else "no topic"
            self.skips.skip(line, reason)
            return
        if not env.data or env.ts is None:
            self.skips.skip(line, "missing data or ts", topic)
            return
        symbol = topic.rsplit(".", 1)[-1]
        try:
            if topic.startswith("orderbook."):
                local = None if batch.local_ts is None else batch.local_ts[index]
                book.add(batch.payloads[index], line, symbol, local)
            elif topic.startswith(("publicTrade.", "trade.")):
                self._trades(env, batch, index)
            elif topic.startswith("tickers."):
                self._ticker(env, batch, index, symbol)
            elif topic.startswith("kline."):
                self._klines(env, line, symbol)
            else:
                self.skips.skip(line, "unknown topic", topic)
        except msgspec.ValidationError as exc:
            self.skips.skip(line, "wrong type", f"{topic}: {exc}")
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            self.skips.skip(line, "malformed JSON", f"{topic}: {exc}")
        except BadValue as exc:
            self.skips.skip(line, str(exc), topic)

    def _trades(self, env: wire.BybitEnvelope, batch: MessageBatch, index: int) -> None:
        items = wire.TRADES.decode(env.data)
        rows = [
            (t, positive(t.p, "price"), positive(t.v, "size"), taker_side(t.S),
             ns_from_ms(t.T, "trade time"))
            for t in items
        ]  # validate the whole message before adding any of it  # fmt: skip
        for trade, price, qty, side, exch_ts in rows:
            self.trades.append(
                venue=VENUE, symbol=trade.s, exch_ts=exch_ts, local_ts=batch.local(index, exch_ts),
                price=price, qty=qty, side=side, trade_id=trade.i,
            )  # fmt: skip

    def _ticker(
        self, env: wire.BybitEnvelope, batch: MessageBatch, index: int, symbol: str
    ) -> None:
        assert env.ts is not None
        tick = wire.TICKER.decode(env.data)
        if env.type == "snapshot":
            self.tickers[symbol] = _Quote()
        elif symbol not in self.tickers:
            self.skips.skip(batch.lines[index], "ticker delta before snapshot", symbol)
            return
        fields = (tick.bid1Price, tick.bid1Size, tick.ask1Price, tick.ask1Size)
        if all(f is None or f == "" for f in fields):
            self.skips.skip(batch.lines[index], "ticker without bid1/ask1", symbol)
            return
        state = self.tickers[symbol]
        _merge_quote(state, tick)
        if None in (state.bid, state.bid_qty, state.ask, state.ask_qty):
            self.skips.skip(batch.lines[index], "ticker top of book incomplete", symbol)
            return
        exch_ts = ns_from_ms(env.ts, "ts")
        self.quotes.append(
            venue=VENUE, symbol=symbol, exch_ts=exch_ts, local_ts=batch.local(index, exch_ts),
            bid=state.bid, bid_qty=state.bid_qty, ask=state.ask, ask_qty=state.ask_qty,
        )  # fmt: skip

    def _klines(self, env: wire.BybitEnvelope, line: int, symbol: str) -> None:
        for candle in wire.KLINES.decode(env.data):
            if not candle.confirm:
                self.skips.skip(line, "unconfirmed kline (candle not closed)", symbol)
                continue
            seconds = kline_seconds(candle.interval)
            if (candle.end + 1 - candle.start) != seconds * 1000:
                raise BadValue(f"kline start/end do not span {candle.interval}")
            self.bars.append(
                venue=VENUE, symbol=symbol, interval_s=seconds,
                open_ts=ns_from_ms(candle.start, "kline start"),
                open=positive(candle.open, "open"), high=positive(candle.high, "high"),
                low=positive(candle.low, "low"), close=positive(candle.close, "close"),
                volume=non_negative(candle.volume, "volume"),
                turnover=non_negative(candle.turnover, "turnover"),
                trade_count=None, taker_buy_volume=None,
            )  # fmt: skip


def _merge_quote(state: _Quote, tick: wire.BybitTicker) -> None:
    """Merge the top-of-book fields present in `tick` into `state` (empty strings are absent)."""
    if tick.bid1Price:
        state.bid = positive(tick.bid1Price, "bid")
    if tick.bid1Size:
        state.bid_qty = non_negative(tick.bid1Size, "bid size")
    if tick.ask1Price:
        state.ask = positive(tick.ask1Price, "ask")
    if tick.ask1Size:
        state.ask_qty = non_negative(tick.ask1Size, "ask size")


def kline_seconds(interval: str) -> int:
    """Bybit kline interval (`1`..`720` minutes, `D`, `W`) in seconds; `M` has no fixed length."""
    if interval in _KLINE_SECONDS:
        return _KLINE_SECONDS[interval]
    if interval.isdigit() and int(interval) > 0:
        return int(interval) * 60
    raise BadValue(f"kline interval {interval!r} has no fixed length")


def read_bybit_batch(batch: MessageBatch, source: str) -> ReadResult:
    """Read a batch of raw v5 public messages (used by files and by the recorder)."""
    return BybitPublicReader(source).read(batch)


def sniff_bybit_json(path: Path, head: bytes) -> bool:
    """A single JSON message (pretty or not) whose topic is a v5 public market-data topic."""
    if path.suffix != ".json":
        return False
    return _has_public_topic(head)


def sniff_bybit_ndjson(path: Path, head: bytes) -> bool:
    """NDJSON of v5 public messages (`.ndjson`, `.jsonl`, `.data`, or inside a zip)."""
    if path.suffix not in (".ndjson", ".jsonl", ".data", ".zip", ".gz", ".txt"):
        return False
    first = head.lstrip().split(b"\n", 1)[0]
    return first.startswith(b"{") and _has_public_topic(first)


def _has_public_topic(head: bytes) -> bool:
    if b'"topic"' not in head:
        return False
    return any(b'"' + prefix.encode() in head for prefix in PUBLIC_PREFIXES)


def read_bybit_json(path: Path, head: bytes) -> ReadResult:
    """One pretty-printed message per file."""
    batch = MessageBatch()
    content = read_bytes(path)
    if content.strip():
        batch.add(content, 1)
    return read_bybit_batch(batch, str(path))


def read_bybit_ndjson(path: Path, head: bytes) -> ReadResult:
    """One message per line, in a plain, gzip or zip file."""
    return read_bybit_batch(ndjson_batch(read_bytes(path)), str(path))
