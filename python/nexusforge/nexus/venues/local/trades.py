"""Public trades the exchange printed (recorded ones and our taker fills) and candles from them.

Times are the exchange's clock (ms) when the trade printed. Candles of any Bybit interval are
built on request from the kept trades: `[start, open, high, low, close, volume, turnover]`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from nexusforge.nexus.venues.local.rejects import PARAMS, Reject

KEEP = 200_000  # trades kept per symbol
INTERVAL_MS = {
    **{str(m): m * 60_000 for m in (1, 3, 5, 15, 30, 60, 120, 240, 360, 720)},
    "D": 86_400_000,
    "W": 604_800_000,
}


@dataclass(frozen=True, slots=True)
class Print:
    """One public trade."""

    ts_ms: int
    price: Decimal
    qty: Decimal
    side: str  # taker side
    trade_id: str
    seq: int


@dataclass(frozen=True, slots=True)
class Candle:
    """One bar: `start` ms, OHLC, base volume and quote turnover."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    turnover: Decimal


def interval_ms(interval: str) -> int:
    """Length of a Bybit kline interval; `M` (a calendar month) is refused."""
    if interval not in INTERVAL_MS:
        raise Reject(PARAMS, f"interval {interval!r} is not one of {list(INTERVAL_MS)}")
    return INTERVAL_MS[interval]


class TradeHistory:
    """The last `KEEP` prints per symbol."""

    def __init__(self) -> None:
        self._prints: dict[str, deque[Print]] = {}

    def add(self, symbol: str, trade: Print) -> None:
        self._prints.setdefault(symbol, deque(maxlen=KEEP)).append(trade)

    def recent(self, symbol: str, limit: int) -> list[Print]:
        """Newest first."""
        prints = self._prints.get(symbol, deque())
        return [prints[-1 - i] for i in range(min(limit, len(prints)))]

    def last(self, symbol: str) -> Print | None:
        prints = self._prints.get(symbol)
        return prints[-1] if prints else None

    def candles(
        self, symbol: str, length_ms: int, start: int | None, end: int | None, limit: int
    ) -> list[Candle]:
        """Bars with trades whose start lies in [start, end], newest first, at most `limit`."""
        bars: dict[int, list[Print]] = {}
        for trade in self._prints.get(symbol, deque()):
            bucket = trade.ts_ms - trade.ts_ms % length_ms
            if (start is None or bucket >= start) and (end is None or bucket <= end):
                bars.setdefault(bucket, []).append(trade)
        out = [_candle(b, prints) for b, prints in sorted(bars.items(), reverse=True)]
        return out[:limit]

    def window(self, symbol: str, since_ms: int) -> list[Print]:
        return [t for t in self._prints.get(symbol, deque()) if t.ts_ms >= since_ms]


def _candle(start: int, prints: list[Print]) -> Candle:
    prices = [p.price for p in prints]
    return Candle(
        start=start,
        open=prices[0],
        high=max(prices),
        low=min(prices),
        close=prices[-1],
        volume=sum((p.qty for p in prints), Decimal(0)),
        turnover=sum((p.qty * p.price for p in prints), Decimal(0)),
    )
