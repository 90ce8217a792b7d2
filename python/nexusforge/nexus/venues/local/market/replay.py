"""Replay backend: a recorded Bybit stream drives the market; our orders fill against it.

Fill rules (the recording cannot react to us, so they are conservative):

- **Taker** (market orders, and the crossing part of limit orders): walk the recorded book from
  the touch, one fill per level at the level's price, never worse than the order's limit. What
  we take is remembered per level and is not available again until the recording changes that
  level (a later message for that price, or a snapshot). The published book stays the recording.
- **Maker** (our resting limit orders): queue position is not modelled, so an order at price P
  fills only when the market goes *through* P: a recorded trade strictly better than P for the
  other side (a sell print below our bid; up to the print's size, shared best price first,
  then oldest first), or the recorded book crossing P (an ask at or below our bid), up to the
  size shown there. Prints *at* P never fill us. Maker fills are at P.
- Our fills do not move the recorded book (no market impact is modelled in replay).

Timing: events play at `speed` times the recording's pace (0 = as fast as possible); several
files play side by side from a common start; with `loop` the tape restarts (fresh books) when
the longest file ends.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import count

import numpy as np

from nexusforge.market.book import OrderBook
from nexusforge.market.events import FLAG_SNAPSHOT, SIDE_ASK, SIDE_BID, BookLevelRows
from nexusforge.market.instruments import Instrument, Rounding
from nexusforge.nexus.venues.local.market.base import (
    Liquidity,
    MakerFill,
    MarketListener,
    MarketTrade,
    PxLevel,
    Side,
)
from nexusforge.nexus.venues.local.market.grid import Grid
from nexusforge.nexus.venues.local.market.tape import BOOK, Tape, TapeEvent

log = logging.getLogger(__name__)
FAST_BATCH = 16  # events played per event-loop turn at speed 0
WALK_DEPTHS = (8, 64, 1000)  # a book walk fetches this many levels, then more if it needs


@dataclass
class _Resting:
    order_id: str
    symbol: str
    side: Side
    price: Decimal
    leaves: Decimal
    rank: int  # time priority


class ReplayMarket:
    """A `MarketBackend` playing a `Tape`."""

    def __init__(self, tape: Tape, speed: float = 1.0, loop: bool = True, paused: bool = False):
        self.tape = tape
        self.instruments: dict[str, Instrument] = tape.instruments
        self.speed = speed
        self.loop = loop
        self._books = self._fresh_books()
        self._grids = {s: Grid(i.tick_size, i.qty_step) for s, i in self.instruments.items()}
        self._taken: dict[tuple[str, int, Decimal], Decimal] = {}
        self._resting: dict[str, _Resting] = {}
        self._ranks = count()
        self._pos = 0
        self._running = asyncio.Event()
        if not paused:
            self._running.set()
        self._listener: MarketListener | None = None
        self.events_played = 0
        self.laps = 0

    def _fresh_books(self) -> dict[str, OrderBook]:
        return {s: OrderBook(float(i.tick_size)) for s, i in self.instruments.items()}

    def bind(self, listener: MarketListener) -> None:
        self._listener = listener

    # ---- what the market shows ----

    def is_ready(self, symbol: str) -> bool:
        book = self._books.get(symbol)
        return book is not None and book.is_valid

    def levels(self, symbol: str, side: Side, depth: int) -> list[PxLevel]:
        book = self._books.get(symbol)
        if book is None or not book.is_valid:
            return []
        grid = self._grids[symbol]
        return [grid.level(t, n) for t, n in self._grid_rows(book, grid, side, depth)]

    def book_text(self, symbol: str, side: Side, depth: int) -> list[tuple[str, str]]:
        book = self._books.get(symbol)
        if book is None or not book.is_valid:
            return []
        grid = self._grids[symbol]
        return [grid.text(t, n) for t, n in self._grid_rows(book, grid, side, depth)]

    @staticmethod
    def _grid_rows(book: OrderBook, grid: Grid, side: Side, depth: int) -> list[tuple[int, int]]:
        """(ticks, lots) of the top `depth` levels; levels that round to no lot are left out."""
        bids, asks = book.depth(depth)
        rows = (bids if side == "Buy" else asks).tolist()
        pairs = [(grid.ticks(p), grid.lots(q)) for p, q in rows]
        return [(t, n) for t, n in pairs if n > 0]

    def _walk(self, symbol: str, side: Side) -> Iterator[PxLevel]:
        """Levels best first, fetched and converted only as far as a caller reads."""
        seen = 0
        for depth in WALK_DEPTHS:
            levels = self.levels(symbol, side, depth)
            yield from levels[seen:]
            if len(levels) < depth:
                return
            seen = len(levels)

    def mark_price(self, symbol: str) -> Decimal | None:
        book = self._books.get(symbol)
        mid = None if book is None or not book.is_valid else book.mid()
        if mid is None:
            return None
        return self.instruments[symbol].round_price(Decimal(repr(mid)), Rounding.NEAREST)

    # ---- our orders ----

    def take(self, symbol: str, side: Side, qty: Decimal, limit: Decimal | None) -> list[Liquidity]:
        opposite: Side = "Sell" if side == "Buy" else "Buy"
        book_side = SIDE_ASK if side == "Buy" else SIDE_BID
        fills: list[Liquidity] = []
        remaining = qty
        for level in self._walk(symbol, opposite):
            if remaining <= 0 or (limit is not None and _worse(side, level.price, limit)):
                break
            key = (symbol, book_side, level.price)
            free = level.qty - self._taken.get(key, Decimal(0))
            take = min(free, remaining)
            if take <= 0:
                continue
            self._taken[key] = self._taken.get(key, Decimal(0)) + take
            fills.append(Liquidity(level.price, take))
            remaining -= take
        return fills

    def available(self, symbol: str, side: Side, limit: Decimal) -> Decimal:
        opposite: Side = "Sell" if side == "Buy" else "Buy"
        book_side = SIDE_ASK if side == "Buy" else SIDE_BID
        total = Decimal(0)
        for level in self._walk(symbol, opposite):
            if _worse(side, level.price, limit):
                break
            total += max(
                Decimal(0), level.qty - self._taken.get((symbol, book_side, level.price), 0)
            )
        return total

    def rest(self, order_id: str, symbol: str, side: Side, price: Decimal, qty: Decimal) -> None:
        old = self._resting.get(order_id)
        rank = old.rank if old is not None and old.price == price else next(self._ranks)
        self._resting[order_id] = _Resting(order_id, symbol, side, price, qty, rank)

    def unrest(self, order_id: str) -> None:
        self._resting.pop(order_id, None)

    # ---- playing the tape ----

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return not self._running.is_set()

    async def run(self) -> None:
        """Play events at the configured pace until the tape ends (no loop) or cancelled."""
        previous = None
        while True:
            await self._running.wait()
            event = self._next()
            if event is None:
                return
            if self.speed > 0 and previous is not None and event.offset_ns > previous:
                await asyncio.sleep((event.offset_ns - previous) / 1e9 / self.speed)
                if not self._running.is_set():
                    continue  # paused while waiting: the event is played after resume
            elif self.speed == 0:
                self.step(FAST_BATCH)  # as fast as possible, yielding between batches
                await asyncio.sleep(0)  # so the server answers and the writers drain
                continue
            previous = event.offset_ns
            self._play_next()

    def step(self, events: int) -> int:
        """Play up to `events` events now (meant for a paused market in tests)."""
        played = 0
        while played < events and self._next() is not None:
            self._play_next()
            played += 1
        return played

    def _next(self) -> TapeEvent | None:
        if self._pos >= len(self.tape.events):
            if not self.loop:
                return None
            self._restart()
        return self.tape.events[self._pos]

    def _restart(self) -> None:
        self._pos = 0
        self._books = self._fresh_books()
        self._grids = {s: Grid(i.tick_size, i.qty_step) for s, i in self.instruments.items()}
        self._taken.clear()
        self.laps += 1
        log.info("replay restarts from the beginning (lap %d)", self.laps)

    def _play_next(self) -> None:
        event = self.tape.events[self._pos]
        self._pos += 1
        self.events_played += 1
        if event.kind == BOOK:
            self._play_book(event)
        else:
            self._play_trade(event)

    def _play_book(self, event: TapeEvent) -> None:
        rows = _slice(self.tape.symbols[event.symbol].book, event.start, event.end)
        book = self._books[event.symbol]
        book.apply(rows)
        reset = bool(rows.flags[0] & FLAG_SNAPSHOT)
        self._forget_taken(event.symbol, rows, reset)
        if not book.is_valid:
            return
        fills = self._cross_fills(event.symbol)
        if self._listener is not None:
            if fills:
                self._listener.on_maker_fills(event.symbol, fills)
            self._listener.on_book(event.symbol, reset)

    def _play_trade(self, event: TapeEvent) -> None:
        row = self.tape.symbols[event.symbol].trades.row(event.start, named=True)
        inst = self.instruments[event.symbol]
        trade = MarketTrade(
            symbol=event.symbol,
            price=inst.round_price(Decimal(repr(float(row["price"])))),
            qty=inst.round_qty(Decimal(repr(float(row["qty"]))), Rounding.NEAREST),
            side="Buy" if int(row["side"]) > 0 else "Sell",
            trade_id=str(row["trade_id"] or f"replay-{self.laps}-{event.start}"),
        )
        fills = self._through_fills(trade)
        if self._listener is not None:
            if fills:
                self._listener.on_maker_fills(trade.symbol, fills)
            self._listener.on_trade(trade)

    def _forget_taken(self, symbol: str, rows: BookLevelRows, reset: bool) -> None:
        if not self._taken:
            return
        if reset:
            for key in [k for k in self._taken if k[0] == symbol]:
                del self._taken[key]
            return
        inst = self.instruments[symbol]
        for price, side in zip(rows.price.tolist(), rows.side.tolist(), strict=True):
            px = inst.round_price(Decimal(repr(price)))
            self._taken.pop((symbol, int(side), px), None)

    def _orders(self, symbol: str, side: Side) -> list[_Resting]:
        mine = [r for r in self._resting.values() if r.symbol == symbol and r.side == side]
        sign = -1 if side == "Buy" else 1  # best price first: highest bid, lowest ask
        return sorted(mine, key=lambda r: (sign * r.price, r.rank))

    def _through_fills(self, trade: MarketTrade) -> list[MakerFill]:
        """A print strictly through our price fills us, up to its size."""
        ours: Side = "Buy" if trade.side == "Sell" else "Sell"
        left, fills = trade.qty, []
        for order in self._orders(trade.symbol, ours):
            through = order.price > trade.price if ours == "Buy" else order.price < trade.price
            if left <= 0 or not through:
                break
            qty = min(left, order.leaves)
            fills.append(self._fill(order, qty))
            left -= qty
        return fills

    def _cross_fills(self, symbol: str) -> list[MakerFill]:
        """The recorded book crossing our resting price fills us from the size shown there."""
        fills: list[MakerFill] = []
        sides: tuple[Side, Side] = ("Buy", "Sell")
        for ours in sides:
            orders = self._orders(symbol, ours)
            if not orders:
                continue
            opposite: Side = "Sell" if ours == "Buy" else "Buy"
            book_side = SIDE_ASK if ours == "Buy" else SIDE_BID
            for level in self._walk(symbol, opposite):
                key = (symbol, book_side, level.price)
                free = level.qty - self._taken.get(key, Decimal(0))
                for order in orders:
                    if free <= 0 or order.leaves <= 0 or _worse(ours, level.price, order.price):
                        continue
                    qty = min(free, order.leaves)
                    fills.append(self._fill(order, qty))
                    self._taken[key] = self._taken.get(key, Decimal(0)) + qty
                    free -= qty
                if free > 0 or not any(o.leaves > 0 for o in orders):
                    break
        return fills

    def _fill(self, order: _Resting, qty: Decimal) -> MakerFill:
        order.leaves -= qty
        if order.leaves <= 0:
            self._resting.pop(order.order_id, None)
        return MakerFill(order.order_id, order.price, qty)


def _worse(side: Side, price: Decimal, limit: Decimal) -> bool:
    """Is `price` beyond what an order on `side` with `limit` accepts?"""
    return price > limit if side == "Buy" else price < limit


def _slice(rows: BookLevelRows, start: int, end: int) -> BookLevelRows:
    return BookLevelRows(
        exch_ts=rows.exch_ts[start:end],
        local_ts=rows.local_ts[start:end],
        update_id=rows.update_id[start:end],
        prev_update_id=rows.prev_update_id[start:end],
        price=rows.price[start:end],
        qty=rows.qty[start:end],
        side=np.ascontiguousarray(rows.side[start:end]),
        flags=rows.flags[start:end],
    )
