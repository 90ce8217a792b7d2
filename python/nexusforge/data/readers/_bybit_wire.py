"""Bybit v5 public websocket wire types (msgspec Structs, strict: a wrong JSON type is an error).

Decision on types: fields are typed exactly as Bybit sends them. Prices and sizes are JSON strings
and times are JSON integers; a price sent as a number (or a time sent as a string) fails
validation, and the reader skips that message with the validation message as the reason.
"""

from __future__ import annotations

import msgspec


class BybitEnvelope(msgspec.Struct, frozen=True):
    """Any public message: data messages have `topic`; replies to `op`s have `op` and no topic."""

    topic: str | None = None
    type: str | None = None
    ts: int | None = None
    data: msgspec.Raw = msgspec.Raw(b"")  # empty when absent; decoded by topic
    cts: int | None = None
    op: str | None = None
    success: bool | None = None
    ret_msg: str | None = None


class BybitTrade(msgspec.Struct, frozen=True):
    """One item of a `publicTrade.{symbol}` message; `S` is the taker side."""

    T: int
    s: str
    S: str
    v: str
    p: str
    i: str


class BybitTicker(msgspec.Struct, frozen=True):
    """The top-of-book fields of `tickers.{symbol}`; deltas carry only the changed fields."""

    symbol: str
    bid1Price: str | None = None
    bid1Size: str | None = None
    ask1Price: str | None = None
    ask1Size: str | None = None


class BybitKline(msgspec.Struct, frozen=True):
    """One candle of `kline.{interval}.{symbol}`; `confirm` is true once the candle has closed."""

    start: int
    end: int
    interval: str
    open: str
    close: str
    high: str
    low: str
    volume: str
    turnover: str
    confirm: bool
    timestamp: int


ENVELOPE = msgspec.json.Decoder(BybitEnvelope)
TRADES = msgspec.json.Decoder(list[BybitTrade])
TICKER = msgspec.json.Decoder(BybitTicker)
KLINES = msgspec.json.Decoder(list[BybitKline])
