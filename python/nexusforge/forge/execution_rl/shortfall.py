"""Implementation shortfall of one order intent against its arrival mid, in bps, net of fees.

For an intent of `qty` on `side` (+1 buy, -1 sell) that arrived when the mid was `arrival_mid`,
each fill (price p, size q, fee rate f from the one cost model) adds

    side * (p - arrival_mid) / arrival_mid * 1e4 * q / qty   (price cost)
    f * p * q / (arrival_mid * qty) * 1e4                     (fee; negative rates are rebates)

so the sum over the fills of a complete intent is its shortfall per unit of arrival notional.
A positive number is a cost.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from nexusforge.errors import ConfigError
from nexusforge.market.costs import CostModel, Liquidity


@dataclass(slots=True)
class Shortfall:
    """Running shortfall of one intent; `add` books a fill and returns what it cost (bps)."""

    side: int
    qty: float
    arrival_mid: float
    costs: CostModel = field(default_factory=CostModel)
    filled: float = 0.0
    price_bps: float = 0.0
    fee_bps: float = 0.0

    def __post_init__(self) -> None:
        if self.side not in (1, -1):
            raise ConfigError(f"side must be +1 or -1, got {self.side}")
        if not (self.qty > 0 and self.arrival_mid > 0):
            raise ConfigError("qty and arrival_mid must be > 0")

    def add(self, price: float, qty: float, liquidity: Liquidity) -> float:
        """Books one fill; returns its shortfall contribution in bps of the intent."""
        weight = qty / self.qty * 1e4
        price_part = self.side * (price - self.arrival_mid) / self.arrival_mid * weight
        fee_part = self.costs.fee_rate(liquidity) * price / self.arrival_mid * weight
        self.filled += qty
        self.price_bps += price_part
        self.fee_bps += fee_part
        return price_part + fee_part

    @property
    def total_bps(self) -> float:
        return self.price_bps + self.fee_bps
