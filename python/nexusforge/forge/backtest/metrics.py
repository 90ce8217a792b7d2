"""The metrics summary of one backtest, as the Rust core computes it."""

from __future__ import annotations

from dataclasses import astuple, dataclass, fields

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class BacktestMetrics:
    """Returns, risk ratios, drawdown, activity and costs; undefined ratios are NaN.

    Costs are in quote currency and positive when paid; `turnover` is traded notional over
    initial capital; a round trip runs from flat to flat (or to a flip of side).
    """

    total_return: float
    annual_return: float
    sharpe: float
    sortino: float
    calmar: float
    max_drawdown: float
    max_drawdown_bars: float
    turnover: float
    hit_rate: float
    avg_holding_bars: float
    round_trips: float
    trades: float
    fees_paid: float
    spread_paid: float
    slippage_paid: float
    impact_paid: float
    impact_perm_paid: float
    funding_paid: float
    total_cost: float
    final_equity: float

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Field names, in the order the core returns the values."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_array(cls, values: npt.NDArray[np.float64]) -> BacktestMetrics:
        """Build from one row of the core's metrics array."""
        return cls(*(float(v) for v in values))

    def cost_breakdown(self) -> dict[str, float]:
        """How much each cost component took, in quote currency."""
        return {
            "fee": self.fees_paid,
            "spread": self.spread_paid,
            "slippage": self.slippage_paid,
            "impact": self.impact_paid,
            "impact_perm": self.impact_perm_paid,
            "funding": self.funding_paid,
        }

    def as_tuple(self) -> tuple[float, ...]:
        """Values in field order."""
        return astuple(self)
