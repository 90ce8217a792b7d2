"""Order requests as Nexus sends them: validated before they reach the wire.

Every order carries an `orderLinkId` (model slot + sequence); it is what makes a create safe to
resolve after an ambiguous failure, because Bybit refuses a second order with the same id (110072).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from nexusforge.nexus.venues.bybit.config import PositionMode

_LINK_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")
SIDES = frozenset({"Buy", "Sell"})
ORDER_TYPES = frozenset({"Limit", "Market"})
TIME_IN_FORCE = frozenset({"GTC", "IOC", "FOK", "PostOnly"})


def check_order_link_id(order_link_id: str) -> str:
    """`order_link_id` when Bybit accepts it (1..36 of `[A-Za-z0-9_-]`), else ValueError."""
    if not _LINK_ID.match(order_link_id):
        raise ValueError(f"orderLinkId {order_link_id!r} must be 1..36 chars of [A-Za-z0-9_-]")
    return order_link_id


@dataclass(frozen=True, slots=True)
class OrderRequest:
    """One order to create; prices and quantities are exact Decimals on the instrument's grid."""

    symbol: str
    side: str
    order_type: str
    qty: Decimal
    order_link_id: str
    price: Decimal | None = None
    time_in_force: str | None = None
    reduce_only: bool = False
    position_idx: int | None = None

    def __post_init__(self) -> None:
        check_order_link_id(self.order_link_id)
        if self.side not in SIDES:
            raise ValueError(f"side must be Buy or Sell, got {self.side!r}")
        if self.order_type not in ORDER_TYPES:
            raise ValueError(f"order_type must be Limit or Market, got {self.order_type!r}")
        if not self.qty.is_finite() or self.qty <= 0:
            raise ValueError(f"qty must be a positive number, got {self.qty}")
        if self.order_type == "Limit" and (self.price is None or self.price <= 0):
            raise ValueError("a Limit order needs a positive price")
        if self.time_in_force is not None and self.time_in_force not in TIME_IN_FORCE:
            raise ValueError(f"unknown timeInForce {self.time_in_force!r}")

    def params(self, category: str, mode: PositionMode) -> dict[str, object]:
        """The JSON body of POST /v5/order/create."""
        return {
            "category": category,
            "symbol": self.symbol,
            "side": self.side,
            "orderType": self.order_type,
            "qty": format(self.qty, "f"),
            "price": None if self.price is None else format(self.price, "f"),
            "timeInForce": self.time_in_force,
            "orderLinkId": self.order_link_id,
            "reduceOnly": True if self.reduce_only else None,
            "positionIdx": self._position_idx(mode),
        }

    def _position_idx(self, mode: PositionMode) -> int:
        if self.position_idx is not None:
            return self.position_idx
        if mode is PositionMode.ONE_WAY:
            return 0
        # Hedge mode: a position side is named by the side that opens it.
        opening_buy = (self.side == "Buy") != self.reduce_only
        return 1 if opening_buy else 2
