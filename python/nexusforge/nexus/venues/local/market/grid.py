"""An instrument's price and size grid: exact Decimals and wire strings from integer ticks/lots.

The strings are cached per integer, so publishing a book costs two roundings and two dict
lookups per level instead of Decimal arithmetic and formatting.
"""

from __future__ import annotations

from decimal import Decimal

from nexusforge.nexus.venues.local.market.base import PxLevel
from nexusforge.nexus.venues.local.wire import fmt

MAX_CACHED = 200_000  # strings kept per grid before the caches start over


class Grid:
    """Tick and lot grid of one instrument."""

    def __init__(self, tick: Decimal, step: Decimal) -> None:
        self.tick, self.step = tick, step
        self._tick_f, self._step_f = float(tick), float(step)
        self._prices: dict[int, str] = {}
        self._sizes: dict[int, str] = {}

    def ticks(self, price: float) -> int:
        return round(price / self._tick_f)

    def lots(self, qty: float) -> int:
        return round(qty / self._step_f)

    def level(self, ticks: int, lots: int) -> PxLevel:
        return PxLevel(Decimal(ticks) * self.tick, Decimal(lots) * self.step)

    def text(self, ticks: int, lots: int) -> tuple[str, str]:
        """The level as Bybit writes it: `(price, size)` strings."""
        price = self._prices.get(ticks)
        if price is None:
            if len(self._prices) > MAX_CACHED:
                self._prices.clear()
            price = self._prices[ticks] = fmt(Decimal(ticks) * self.tick)
        size = self._sizes.get(lots)
        if size is None:
            if len(self._sizes) > MAX_CACHED:
                self._sizes.clear()
            size = self._sizes[lots] = fmt(Decimal(lots) * self.step)
        return price, size
