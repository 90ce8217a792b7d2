"""What the exchange needs from a market: books, trades, and liquidity for our orders.

Two backends implement `MarketBackend`: replay (a recorded Bybit stream) and sim (the HF-ABM
matching engine). The exchange keeps accounts and order records; the backend decides what our
orders can trade against. Prices and sizes cross this boundary as exact `Decimal`s on the
instrument grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal, Protocol

from nexusforge.market.instruments import Instrument

Side = Literal["Buy", "Sell"]


@dataclass(frozen=True, slots=True)
class PxLevel:
    """One price level of a book side."""

    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class Liquidity:
    """What a taker order took from one level: the level's price and the size taken."""

    price: Decimal
    qty: Decimal


@dataclass(frozen=True, slots=True)
class MarketTrade:
    """A public trade of the market (not ours); `side` is the taker's."""

    symbol: str
    price: Decimal
    qty: Decimal
    side: Side
    trade_id: str


@dataclass(frozen=True, slots=True)
class MakerFill:
    """The market traded against one of our resting orders, at its price, for `qty`."""

    order_id: str
    price: Decimal
    qty: Decimal


class MarketListener(Protocol):
    """The exchange side of a backend: called on the event loop after every market change."""

    def on_book(self, symbol: str, reset: bool) -> None: ...

    def on_trade(self, trade: MarketTrade) -> None: ...

    def on_maker_fills(self, symbol: str, fills: list[MakerFill]) -> None: ...


class MarketBackend(Protocol):
    """A market the local exchange runs on."""

    instruments: dict[str, Instrument]

    def bind(self, listener: MarketListener) -> None: ...

    def levels(self, symbol: str, side: Side, depth: int) -> list[PxLevel]:
        """Book side levels best first (`Buy`: bids, `Sell`: asks), as the market shows them."""
        ...

    def take(self, symbol: str, side: Side, qty: Decimal, limit: Decimal | None) -> list[Liquidity]:
        """Take up to `qty` as a taker (`side` is ours), no worse than `limit`; best level first."""
        ...

    def available(self, symbol: str, side: Side, limit: Decimal) -> Decimal:
        """What `take` could fill now for `side` (ours) no worse than `limit` (FOK checks)."""
        ...

    def rest(self, order_id: str, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        """Rest (or re-rest after an amend) our limit order; later fills come as `MakerFill`s."""
        ...

    def unrest(self, order_id: str) -> None:
        """Remove our resting order (cancel, or fully filled)."""
        ...

    def book_text(self, symbol: str, side: Side, depth: int) -> list[tuple[str, str]]:
        """`levels` as the wire strings `(price, size)` (the publishers' fast path)."""
        ...

    def mark_price(self, symbol: str) -> Decimal | None:
        """The mid of the book on the tick grid, or None while a side is empty."""
        ...

    async def run(self) -> None:
        """Produce market events until cancelled."""
        ...

    def pause(self) -> None: ...

    def resume(self) -> None: ...

    def step(self, events: int) -> int:
        """While paused, play the next `events` market events; returns how many were played."""
        ...


Clock = Callable[[], int]
