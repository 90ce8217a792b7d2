"""Binance USD-M raw websocket captures: `<receive time, ns> <json>` per line (gzip or plain).

The JSON is the combined-stream envelope `{"stream", "data"}` or, once, the REST depth snapshot
(`lastUpdateId`). `depthUpdate` diffs and the REST snapshot go to the Rust book parser (the
snapshot becomes a snapshot message with update_id = lastUpdateId; a diff continues from U-1).
`trade` -> trades: `m` true means the buyer was the maker, so the taker sold (side -1). Only
`X: MARKET` trades are order-book trades; insurance-fund/ADL prints are skipped and counted.
`bookTicker` -> quotes, stamped with the transaction time `T`.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from nexusforge.data.readers._archive import read_bytes
from nexusforge.data.readers._book import BookMessages
from nexusforge.data.readers._messages import (
    BadValue,
    MessageBatch,
    non_negative,
    ns_from_ms,
    positive,
)
from nexusforge.data.readers._result import ReadResult, RowBuilder, SkipLog
from nexusforge.data.schema import BOOK_EVENTS, QUOTES, TRADES, VENUE_BINANCE_USDM

_LINE = re.compile(rb"^(\d{16,20}) (\{.*\})\s*$")
_NAME = re.compile(r"^(?P<venue>binance_usdm|binance_spot)_(?P<symbol>[A-Z0-9]+)_")


class BinanceEnvelope(msgspec.Struct, frozen=True):
    """A combined-stream message, or the REST depth snapshot (which has `lastUpdateId`)."""

    stream: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"")
    lastUpdateId: int | None = None


class BinanceTrade(msgspec.Struct, frozen=True, tag_field="e", tag="trade"):
    """A `trade` event; `m` is true when the buyer is the maker."""

    T: int
    s: str
    t: int
    p: str
    q: str
    X: str
    m: bool


class BinanceBookTicker(msgspec.Struct, frozen=True, tag_field="e", tag="bookTicker"):
    """A `bookTicker` event: best bid/ask price and quantity."""

    T: int
    s: str
    b: str
    B: str
    a: str
    A: str


class BinanceDepthUpdate(msgspec.Struct, frozen=True, tag_field="e", tag="depthUpdate"):
    """A `depthUpdate` diff; only the symbol is read here, the Rust parser reads the rest."""

    s: str


_ENVELOPE = msgspec.json.Decoder(BinanceEnvelope)
_EVENT = msgspec.json.Decoder(BinanceTrade | BinanceBookTicker | BinanceDepthUpdate)


def sniff_binance_capture(path: Path, head: bytes) -> bool:
    """First line is `<19-digit ns> {json}`."""
    first = head.split(b"\n", 1)[0]
    return re.match(rb"^\d{16,20} \{", first) is not None


def read_binance_capture(path: Path, head: bytes) -> ReadResult:
    """Read a whole capture file."""
    skips = SkipLog(str(path))
    batch = MessageBatch(local_ts=[])
    for number, line in enumerate(read_bytes(path).split(b"\n"), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None:
            skips.skip(number, "not `<ns> <json>`")
            continue
        local_ts = int(match[1])
        if local_ts >= 2**63:  # a corrupt digit: it would overflow the Int64 column
            skips.skip(number, "local timestamp out of range")
            continue
        batch.add(match[2], number, local_ts)
    name = _NAME.match(path.name)
    venue = name["venue"] if name else VENUE_BINANCE_USDM
    symbol = name["symbol"] if name else None
    return BinanceReader(skips, venue, symbol).read(batch)


class BinanceReader:
    """Turns a batch of Binance messages into book rows, trades and quotes."""

    def __init__(self, skips: SkipLog, venue: str, symbol: str | None) -> None:
        self.skips = skips
        self.venue = venue
        self.symbol = symbol
        self.trades = RowBuilder(TRADES)
        self.quotes = RowBuilder(QUOTES)
        self.book = BookMessages("binance", venue)

    def read(self, batch: MessageBatch) -> ReadResult:
        """Read every message; REST snapshots take the file's symbol (its name or its streams)."""
        snapshots: list[int] = []
        for index, payload in enumerate(batch.payloads):
            try:
                self._message(batch, index, payload, snapshots)
            except msgspec.ValidationError as exc:  # before DecodeError, its base class
                self.skips.skip(batch.lines[index], "wrong type", str(exc))
            except (msgspec.DecodeError, UnicodeDecodeError) as exc:  # bad UTF-8: the latter
                self.skips.skip(batch.lines[index], "malformed JSON", str(exc))
            except BadValue as exc:
                self.skips.skip(batch.lines[index], str(exc))
        self._name_snapshots(snapshots)
        frames = {
            BOOK_EVENTS: self.book.frame(self.skips),
            TRADES: self.trades.frame(),
            QUOTES: self.quotes.frame(),
        }
        return ReadResult(frames, self.skips, messages=len(batch) + self.skips.total)

    def _message(self, batch: MessageBatch, index: int, payload: bytes, snaps: list[int]) -> None:
        envelope = _ENVELOPE.decode(payload)
        local = batch.local_ts[index] if batch.local_ts is not None else None
        if envelope.lastUpdateId is not None:
            snaps.append(len(self.book.payloads))
            self.book.add(payload, batch.lines[index], "", local)
            return
        if not envelope.data:
            raise BadValue("neither a stream message nor a depth snapshot")
        event = _EVENT.decode(envelope.data)
        if isinstance(event, BinanceDepthUpdate):
            self.book.add(payload, batch.lines[index], event.s, local)
        elif isinstance(event, BinanceTrade):
            self._trade(event, batch, index)
        else:
            self._ticker(event, batch, index)

    def _trade(self, trade: BinanceTrade, batch: MessageBatch, index: int) -> None:
        if trade.X != "MARKET":
            raise BadValue(f"non-market trade (X={trade.X})")
        exch_ts = ns_from_ms(trade.T, "T")  # a corrupt digit must not overflow Int64
        self.trades.append(
            venue=self.venue, symbol=trade.s, exch_ts=exch_ts, local_ts=batch.local(index, exch_ts),
            price=positive(trade.p, "price"), qty=positive(trade.q, "size"),
            side=-1 if trade.m else 1, trade_id=str(trade.t),
        )  # fmt: skip

    def _ticker(self, tick: BinanceBookTicker, batch: MessageBatch, index: int) -> None:
        exch_ts = ns_from_ms(tick.T, "T")
        self.quotes.append(
            venue=self.venue, symbol=tick.s, exch_ts=exch_ts, local_ts=batch.local(index, exch_ts),
            bid=positive(tick.b, "bid"), bid_qty=non_negative(tick.B, "bid size"),
            ask=positive(tick.a, "ask"), ask_qty=non_negative(tick.A, "ask size"),
        )  # fmt: skip

    def _name_snapshots(self, snapshots: list[int]) -> None:
        """A REST snapshot names no symbol: use the file name's, or the one symbol streamed."""
        if not snapshots:
            return
        streamed = {s for s in self.book.symbols if s}
        streamed.update(str(s) for s in self.trades.columns["symbol"])
        symbol = self.symbol or (next(iter(streamed)) if len(streamed) == 1 else "")
        for position in snapshots:
            self.book.symbols[position] = symbol
