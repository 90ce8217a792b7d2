"""Our order records: parameters as accepted, fills so far, status, and the legal transitions.

Statuses follow Bybit linear: `New` -> `PartiallyFilled` -> `Filled`, or `Cancelled` (also
with `cumExecQty > 0`) from either open state; `Rejected` only at creation. Every change goes
through `Order.transition`, which refuses pairs that Bybit never produces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from nexusforge.nexus.venues.local.market.base import Side

ZERO = Decimal(0)
OPEN = ("New", "PartiallyFilled")
LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")

_TRANSITIONS: dict[str, tuple[str, ...]] = {
    "Created": ("New", "Rejected", "Cancelled"),
    "New": ("PartiallyFilled", "Filled", "Cancelled"),
    "PartiallyFilled": ("PartiallyFilled", "Filled", "Cancelled"),
}


class IllegalTransition(RuntimeError):
    """An order was asked to move between two statuses Bybit never links (a bug here)."""


@dataclass
class Order:
    """One order of the account."""

    order_id: str
    order_link_id: str
    symbol: str
    side: Side
    order_type: str  # Market / Limit
    price: Decimal  # the limit, or a market order's protective price
    qty: Decimal
    time_in_force: str
    reduce_only: bool
    close_on_trigger: bool
    created_ms: int
    last_price_on_created: Decimal | None
    status: str = "Created"
    cum_qty: Decimal = ZERO
    cum_value: Decimal = ZERO
    cum_fee: Decimal = ZERO
    cancel_type: str = "UNKNOWN"
    reject_reason: str = "EC_NoError"
    updated_ms: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.cum_qty if self.status in (*OPEN, "Created") else ZERO

    @property
    def avg_price(self) -> Decimal | None:
        return self.cum_value / self.cum_qty if self.cum_qty else None

    def transition(self, status: str, now_ms: int) -> None:
        if status not in _TRANSITIONS.get(self.status, ()):
            raise IllegalTransition(f"order {self.order_id}: {self.status} -> {status}")
        self.status = status
        self.updated_ms = now_ms

    def add_fill(self, price: Decimal, qty: Decimal, fee: Decimal) -> None:
        self.cum_qty += qty
        self.cum_value += price * qty
        self.cum_fee += fee

    def settle(self, now_ms: int, *, keep_open: bool) -> None:
        """After fills: Filled when done, else PartiallyFilled (resting) or Cancelled (IOC)."""
        if self.cum_qty >= self.qty:
            self.transition("Filled", now_ms)
        elif keep_open:
            if self.status == "Created":
                self.transition("New", now_ms)
            if self.cum_qty > 0:
                self.transition("PartiallyFilled", now_ms)
        else:
            if self.status == "Created":
                self.transition("New", now_ms)
            self.transition("Cancelled", now_ms)
