"""One `orderbook.{depth}.{symbol}` topic: the top-N book it last published, and its `u`.

Deltas are the difference between what was published and the book's top N now, so a delta
only deletes (size "0") levels the subscribers hold, keeps the book at N levels, and `u` rises
by one per published change. Depth 1 publishes snapshots only (Bybit's rule).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

DEPTHS = (1, 50, 200, 500, 1000)
Side = dict[str, str]  # price -> size, as published
Levels = list[tuple[str, str]]  # (price, size) strings, best first


@dataclass
class BookTopic:
    """Published state of one book topic."""

    depth: int
    symbol: str
    bids: Side = field(default_factory=dict)
    asks: Side = field(default_factory=dict)
    u: int = 0
    last_push_ms: int = 0

    @property
    def name(self) -> str:
        return f"orderbook.{self.depth}.{self.symbol}"

    def load(self, bids: Levels, asks: Levels) -> None:
        """Take the current book as the published state (on the topic's first subscriber)."""
        self.bids, self.asks = _side(bids), _side(asks)
        self.u += 1

    def snapshot(self, now_ms: int) -> dict[str, Any]:
        self.last_push_ms = now_ms
        return self._message("snapshot", _rows(self.bids, True), _rows(self.asks, False), now_ms)

    def update(self, bids: Levels, asks: Levels, now_ms: int) -> dict[str, Any] | None:
        """The message taking subscribers to the new top N, or None when it is unchanged."""
        new_bids, new_asks = _side(bids), _side(asks)
        bid_diff, ask_diff = _diff(self.bids, new_bids), _diff(self.asks, new_asks)
        if not bid_diff and not ask_diff:
            return None
        self.bids, self.asks = new_bids, new_asks
        self.u += 1
        if self.depth == 1:
            return self.snapshot(now_ms)
        self.last_push_ms = now_ms
        return self._message("delta", bid_diff, ask_diff, now_ms)

    def _message(
        self, kind: str, b: list[list[str]], a: list[list[str]], now_ms: int
    ) -> dict[str, Any]:
        return {
            "topic": self.name,
            "type": kind,
            "ts": now_ms,
            "data": {"s": self.symbol, "b": b, "a": a, "u": self.u, "seq": self.u},
            "cts": now_ms,
        }


def _side(levels: Levels) -> Side:
    return dict(levels)


def _rows(side: Side, bids: bool) -> list[list[str]]:
    ordered = sorted(side.items(), key=lambda kv: Decimal(kv[0]), reverse=bids)
    return [[price, size] for price, size in ordered]


def _diff(old: Side, new: Side) -> list[list[str]]:
    gone = [[price, "0"] for price in old if price not in new]
    changed = [[price, size] for price, size in new.items() if old.get(price) != size]
    return gone + changed
