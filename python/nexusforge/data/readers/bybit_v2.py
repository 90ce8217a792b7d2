"""Legacy Bybit v2 USDT-perpetual websocket captures (`realtime_public`, 2021).

Lines are `<unix seconds>: <json>` (received) or `wss://... <- ...` (sent by the client, skipped).
`trade.SYM` -> trades (v2 `side` is the taker side). `orderBookL2_25.SYM` -> book_events:
a snapshot (`data.order_book`) becomes a snapshot message; a delta's `delete`, `update` and
`insert` lists become level rows, applied in that order (delete = qty 0). v2 keys a level by
`id`; a level's price is taken from the message, or from an id -> price map kept per symbol
when a message leaves it out (a delete or update of an unknown id skips the message).
Ids: `update_id` and `seq` are `cross_seq`. v2 has no continuity id (cross_seq rises with gaps),
so a delta's `prev_update_id` is the previous message's cross_seq on that topic: it records the
order received, and a lost message cannot be detected in v2 data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from nexusforge.data.readers._archive import read_bytes
from nexusforge.data.readers._messages import (
    NS_PER_MS,
    BadValue,
    non_negative,
    positive,
)
from nexusforge.data.readers._result import ReadResult, RowBuilder, SkipLog
from nexusforge.data.schema import BOOK_EVENTS, TRADES, VENUE_BYBIT_LINEAR
from nexusforge.market.events import FLAG_BEGIN, FLAG_EMPTY, FLAG_END, FLAG_SNAPSHOT

VENUE = VENUE_BYBIT_LINEAR
_RECEIVED = re.compile(rb"^(\d{9,11})(?:\.(\d{1,9}))?: (\{.*\})\s*$")


class V2Envelope(msgspec.Struct, frozen=True):
    topic: str | None = None
    type: str | None = None
    data: msgspec.Raw = msgspec.Raw(b"")
    cross_seq: str | None = None
    timestamp_e6: str | None = None


class V2Trade(msgspec.Struct, frozen=True):
    symbol: str
    price: str
    size: float
    side: str
    trade_time_ms: str
    trade_id: str


class V2Level(msgspec.Struct, frozen=True):
    id: str
    symbol: str
    side: str
    price: str | None = None
    size: float | None = None


class V2Snapshot(msgspec.Struct, frozen=True):
    order_book: list[V2Level]


class V2Delta(msgspec.Struct, frozen=True):
    delete: list[V2Level] = []
    update: list[V2Level] = []
    insert: list[V2Level] = []


_ENVELOPE = msgspec.json.Decoder(V2Envelope)
_TRADES = msgspec.json.Decoder(list[V2Trade])
_SNAPSHOT = msgspec.json.Decoder(V2Snapshot)
_DELTA = msgspec.json.Decoder(V2Delta)


def sniff_bybit_v2(path: Path, head: bytes) -> bool:
    """A capture whose lines are `wss://...` or `<seconds>: {json}` with v2 topics."""
    first = head.split(b"\n", 1)[0]
    return (first.startswith(b"wss://") or _RECEIVED.match(first) is not None) and (
        b"orderBookL2_25." in head or b'"topic":"trade.' in head or b'"trade.' in head
    )


def read_bybit_v2(path: Path, head: bytes) -> ReadResult:
    """Read a whole v2 capture file."""
    reader = V2Reader(SkipLog(str(path)))
    lines = read_bytes(path).split(b"\n")
    for number, line in enumerate(lines, start=1):
        if line.strip():
            reader.line(number, line)
    frames = {BOOK_EVENTS: reader.book.frame(), TRADES: reader.trades.frame()}
    return ReadResult(frames, reader.skips, messages=reader.messages)


def _receive_ns(whole: bytes, frac: bytes | None) -> int:
    """Exact ns from `seconds.fraction` text (no float rounding)."""
    digits = (frac or b"").decode().ljust(9, "0")
    return _int64(int(whole) * 1_000_000_000 + int(digits), "receive time")


def _int64(value: int, name: str) -> int:
    """`value` when it fits the tables' Int64 columns (a corrupt digit can overflow them)."""
    if not 0 <= value < 2**63:
        raise BadValue(f"{name} out of range")
    return value


@dataclass
class _Book:
    """Per-symbol v2 book state: id -> (price, side) of live levels, last cross_seq."""

    levels: dict[str, tuple[float, int]] = field(default_factory=dict)
    last_seq: int = 0


@dataclass
class V2Reader:
    """Line-by-line v2 reader; keeps per-symbol level maps."""

    skips: SkipLog
    trades: RowBuilder = field(default_factory=lambda: RowBuilder(TRADES))
    book: RowBuilder = field(default_factory=lambda: RowBuilder(BOOK_EVENTS))
    books: dict[str, _Book] = field(default_factory=dict)
    messages: int = 0

    def line(self, number: int, line: bytes) -> None:
        """Read one line of the capture."""
        self.messages += 1
        if line.startswith(b"wss://"):
            self.skips.skip(number, "client-side line (sent message or connect)")
            return
        match = _RECEIVED.match(line.strip())
        if match is None:
            self.skips.skip(number, "not `<seconds>: <json>`")
            return
        try:
            local_ts = _receive_ns(match[1], match[2])
            self._message(number, match[3], local_ts)
        except msgspec.ValidationError as exc:
            self.skips.skip(number, "wrong type", str(exc))
        except msgspec.DecodeError as exc:
            self.skips.skip(number, "malformed JSON", str(exc))
        except (BadValue, ValueError) as exc:
            self.skips.skip(number, str(exc))

    def _message(self, number: int, payload: bytes, local_ts: int) -> None:
        env = _ENVELOPE.decode(payload)
        if env.topic is None:
            self.skips.skip(number, "control message")
        elif env.topic.startswith("trade."):
            self._trades(env, local_ts)
        elif env.topic.startswith("orderBookL2_25."):
            self._book(env, local_ts, env.topic.split(".", 1)[1])
        else:
            self.skips.skip(number, "unknown topic", env.topic)

    def _trades(self, env: V2Envelope, local_ts: int) -> None:
        rows = []
        for t in _TRADES.decode(env.data):
            side = {"Buy": 1, "Sell": -1}.get(t.side)
            if side is None:
                raise BadValue("unknown side")
            qty = t.size
            if not qty > 0:
                raise BadValue("non-positive size")
            exch_ts = _int64(int(t.trade_time_ms) * NS_PER_MS, "trade time")
            rows.append((t, positive(t.price, "price"), qty, side, exch_ts))
        for t, price, qty, side, exch_ts in rows:
            self.trades.append(
                venue=VENUE, symbol=t.symbol, exch_ts=exch_ts, local_ts=local_ts,
                price=price, qty=qty, side=side, trade_id=t.trade_id,
            )  # fmt: skip

    def _book(self, env: V2Envelope, local_ts: int, symbol: str) -> None:
        if env.cross_seq is None or env.timestamp_e6 is None:
            raise BadValue("book message without cross_seq or timestamp_e6")
        seq = _int64(int(env.cross_seq), "cross_seq")
        exch_ts = _int64(int(env.timestamp_e6) * 1_000, "timestamp_e6")
        if env.type == "snapshot":
            state = _Book()
            levels = [
                self._level(state, lv, lv.size) for lv in _SNAPSHOT.decode(env.data).order_book
            ]
            prev = 0
        elif env.type == "delta":
            state = self.books.get(symbol) or _fail("delta before snapshot")
            levels = self._delta(state, _DELTA.decode(env.data))
            prev = state.last_seq
        else:
            raise BadValue(f"unknown book message type {env.type!r}")
        state.last_seq = seq
        self.books[symbol] = state
        self._rows(symbol, levels, exch_ts, local_ts, seq, prev, env.type == "snapshot")

    def _delta(self, state: _Book, delta: V2Delta) -> list[tuple[float, float, int]]:
        """Levels of a delta, checked in full before the id map changes."""
        trial = _Book(dict(state.levels), state.last_seq)
        levels = [self._forget(trial, lv) for lv in delta.delete]
        levels += [self._level(trial, lv, lv.size, must_exist=True) for lv in delta.update]
        levels += [self._level(trial, lv, lv.size) for lv in delta.insert]
        state.levels = trial.levels
        return levels

    def _level(
        self, state: _Book, lv: V2Level, size: float | None, must_exist: bool = False
    ) -> tuple[float, float, int]:
        side = _side(lv.side)
        known = state.levels.get(lv.id)
        if must_exist and known is None:
            raise BadValue("update of an unknown level id")
        if lv.price is not None:
            price = positive(lv.price, "price")
        elif known is not None:
            price = known[0]
        else:
            raise BadValue("level without price and unknown id")
        if size is None:
            raise BadValue("level without size")
        qty = non_negative(str(size), "size")
        state.levels[lv.id] = (price, side)
        return price, qty, side

    def _forget(self, state: _Book, lv: V2Level) -> tuple[float, float, int]:
        known = state.levels.pop(lv.id, None)
        if lv.price is not None:
            return positive(lv.price, "price"), 0.0, _side(lv.side)
        if known is None:
            raise BadValue("delete of an unknown level id")
        return known[0], 0.0, known[1]

    def _rows(
        self, symbol: str, levels: list[tuple[float, float, int]], exch_ts: int, local_ts: int,
        seq: int, prev: int, snapshot: bool,
    ) -> None:  # fmt: skip
        base = FLAG_SNAPSHOT if snapshot else 0
        if not levels:
            base |= FLAG_EMPTY
            levels = [(float("nan"), float("nan"), 0)]
        last = len(levels) - 1
        for i, (price, qty, side) in enumerate(levels):
            flags = base | (FLAG_BEGIN if i == 0 else 0) | (FLAG_END if i == last else 0)
            self.book.append(
                venue=VENUE, symbol=symbol, exch_ts=exch_ts, local_ts=local_ts, update_id=seq,
                prev_update_id=prev, seq=seq, price=price, qty=qty, side=side, flags=flags,
            )  # fmt: skip


def _side(word: str) -> int:
    if word == "Buy":
        return 1
    if word == "Sell":
        return -1
    raise BadValue("unknown side")


def _fail(reason: str) -> _Book:
    raise BadValue(reason)
