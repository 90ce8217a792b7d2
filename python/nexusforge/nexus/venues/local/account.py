"""The exchange's one account: a USDT wallet and one-way positions per symbol, in exact Decimal.

A fill changes the position and the wallet exactly once: the wallet moves by the fill's realised
PnL (closing part, before fees) minus its fee, so at every moment
`wallet == initial + sum(execPnl) - sum(execFee)` over all executions. A position keeps its
cost basis (`sum(qty * price)` of what is open); closing part of it releases the proportional
cost, rounded to 1e-8 (the only rounding; a full close releases the cost exactly).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
COST_QUANTUM = Decimal("1e-8")


@dataclass
class Position:
    """One-way position of one symbol: `size` is signed (long > 0)."""

    symbol: str
    size: Decimal = ZERO
    cost: Decimal = ZERO  # sum(qty * price) of the open part, always >= 0
    cur_realised: Decimal = ZERO  # PnL minus fees since the position was opened
    cum_realised: Decimal = ZERO  # PnL minus fees since the account began
    created_ms: int = 0
    updated_ms: int = 0
    seq: int = -1

    @property
    def avg_price(self) -> Decimal:
        return self.cost / abs(self.size) if self.size else ZERO

    @property
    def side(self) -> str:
        return "Buy" if self.size > 0 else "Sell" if self.size < 0 else ""

    def unrealised(self, mark: Decimal | None) -> Decimal:
        if not self.size or mark is None:
            return ZERO
        return self.size * mark - (self.cost if self.size > 0 else -self.cost)


@dataclass(frozen=True, slots=True)
class FillEffect:
    """What one fill did to the position: the size it closed and the PnL of that part."""

    closed_size: Decimal
    pnl: Decimal


class Account:
    """Wallet balance and positions; the exchange calls `apply_fill` for every execution."""

    def __init__(self, initial_balance: Decimal, leverage: Decimal) -> None:
        self.initial_balance = initial_balance
        self.wallet = initial_balance
        self.leverage = leverage
        self.cum_realised = ZERO
        self.positions: dict[str, Position] = {}

    def position(self, symbol: str) -> Position:
        found = self.positions.get(symbol)
        if found is None:
            found = self.positions[symbol] = Position(symbol)
        return found

    def apply_fill(
        self, symbol: str, side: str, qty: Decimal, price: Decimal, fee: Decimal, now_ms: int,
        seq: int,
    ) -> FillEffect:  # fmt: skip
        """Apply one fill (`side` Buy/Sell, `qty` > 0) and its fee; returns closed size and PnL."""
        pos = self.position(symbol)
        signed = qty if side == "Buy" else -qty
        closed = min(qty, abs(pos.size)) if pos.size and (pos.size > 0) != (signed > 0) else ZERO
        pnl = self._close(pos, closed, price) if closed else ZERO
        opened = qty - closed
        fresh = bool(opened) and not pos.size  # a new holding: its PnL starts from this fee
        if fresh:
            pos.created_ms, pos.cur_realised = now_ms, ZERO
        if opened:
            pos.cost += opened * price
            pos.size += opened if signed > 0 else -opened
        pos.cur_realised += (ZERO if fresh else pnl) - fee
        pos.cum_realised += pnl - fee
        pos.updated_ms, pos.seq = now_ms, seq
        self.wallet += pnl - fee
        self.cum_realised += pnl - fee
        return FillEffect(closed, pnl)

    def _close(self, pos: Position, closed: Decimal, price: Decimal) -> Decimal:
        size = abs(pos.size)
        released = pos.cost if closed == size else (pos.cost * closed / size).quantize(COST_QUANTUM)
        pnl = closed * price - released if pos.size > 0 else released - closed * price
        pos.cost -= released
        pos.size += closed if pos.size < 0 else -closed
        return pnl

    def reducible(self, symbol: str, side: str) -> Decimal:
        """How much an order on `side` can reduce the position."""
        size = self.position(symbol).size
        if (side == "Buy" and size < 0) or (side == "Sell" and size > 0):
            return abs(size)
        return ZERO

    def unrealised(self, marks: Mapping[str, Decimal | None]) -> Decimal:
        return sum((p.unrealised(marks.get(s)) for s, p in self.positions.items()), ZERO)

    def equity(self, marks: Mapping[str, Decimal | None]) -> Decimal:
        return self.wallet + self.unrealised(marks)

    def position_im(self, marks: Mapping[str, Decimal | None]) -> Decimal:
        """Initial margin of the positions at `1 / leverage` of their marked value."""
        total = ZERO
        for symbol, pos in self.positions.items():
            mark = marks.get(symbol) or pos.avg_price
            total += abs(pos.size) * mark / self.leverage
        return total
