"""Public market data -> the Rust L2 book -> streaming event features, one message at a time.

The venue client (`BybitPublicWs`) already enforces Bybit's book rules (snapshot first, `u`
continuity, resubscribe on a gap); each update it passes is re-encoded as a v5 frame and applied
by the Rust book, which checks them again (a crossed or gapped book makes it invalid, so the
features turn NaN and the models hold). Event clock: our receive time in ns, kept non-decreasing
(the feature windows need a monotonic clock; the wall clock can step back).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from decimal import Decimal

import msgspec

from nexusforge.market.book import OrderBook
from nexusforge.market.features import FeatureConfig, FeatureStream
from nexusforge.market.instruments import Instrument
from nexusforge.nexus.venues.bybit import BookUpdate, TradeBatch

log = logging.getLogger(__name__)
SIDES = {"Buy": 1, "Sell": -1}
_ENCODER = msgspec.json.Encoder()


@dataclass(slots=True)
class FeedStats:
    """Counters of the market-data path."""

    book_messages: int = 0
    trades: int = 0
    malformed: int = 0
    bad_trades: int = 0


class MarketFeed:
    """Book and features of one symbol; `mid` and the latest feature row for the engine."""

    def __init__(self, instrument: Instrument, features: FeatureConfig | None = None) -> None:
        self.instrument = instrument
        self.cfg = features or FeatureConfig(tick_size=float(instrument.tick_size))
        self.book = OrderBook(float(instrument.tick_size))
        self.stream = FeatureStream(self.cfg)
        self.stats = FeedStats()
        self.row: dict[str, float] = {}
        self._clock = 0

    def now_ns(self) -> int:
        """The event clock: wall time in ns, never going back."""
        self._clock = max(self._clock, time.time_ns())
        return self._clock

    def on_book(self, update: BookUpdate) -> dict[str, float]:
        """Applies one book update and returns its feature row."""
        self.stats.book_messages += 1
        frame = _ENCODER.encode(
            {
                "topic": update.topic,
                "type": "snapshot" if update.snapshot else "delta",
                "ts": update.ts_ms,
                "data": {
                    "s": update.symbol,
                    "b": update.bids,
                    "a": update.asks,
                    "u": update.update_id,
                    "seq": update.seq,
                },
            }
        )
        self.stats.malformed += self.book.apply_json([frame], "bybit")
        d = self.cfg.max_depth
        bids, asks = self.book.depth(d)
        self.row = self.stream.on_book(
            self.now_ns(),
            self.book.is_valid,
            bids[:, 0],
            bids[:, 1],
            asks[:, 0],
            asks[:, 1],
        )
        return self.row

    def on_trades(self, batch: TradeBatch) -> list[dict[str, float]]:
        """Feeds each public trade of one message; one feature row per trade."""
        rows = []
        for t in batch.trades:
            side = SIDES.get(t.S)
            if side is None or t.v < 0:
                self.stats.bad_trades += 1
                log.warning("public trade %s skipped: side %r qty %s", t.i, t.S, t.v)
                continue
            self.stats.trades += 1
            self.row = self.stream.on_trade(self.now_ns(), float(t.p), float(t.v), side)
            rows.append(self.row)
        return rows

    def mid(self) -> Decimal | None:
        """The book's mid on the tick grid, or None while the book is invalid or one-sided."""
        if not self.book.is_valid:
            return None
        m = self.book.mid()
        if m is None or not m > 0:
            return None
        return self.instrument.round_price(Decimal(repr(m)))
