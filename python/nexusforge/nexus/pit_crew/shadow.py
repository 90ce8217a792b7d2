"""Shadow mode: a challenger trades on paper against the live book, with the one cost model.

A shadow is an ordinary `TradingModel` in state SHADOW with a virtual `Ledger` of its own. It is
fed every feature row the champions get (the engine's rows, same clock), and at each decision
round its target is reached at once by a virtual taker fill priced by `market.costs.CostModel`
(contract 3) against the live L2 book: half-spread, walk of the visible depth, square-root
temporary impact and the taker fee. Permanent impact is not carried: the live book, not our
paper order, sets the next mid. Orders the venue would refuse (below the minimum quantity or
notional) are not filled, and the target is capped at the engine's `max_position` as a
champion's is. Virtual fills never reach the journal's execution table or the venue ledgers,
so the invariant Σ ledgers == venue position is untouched.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from nexusforge.market.book import OrderBook
from nexusforge.market.costs import BookDepth, CostModel, FillCost
from nexusforge.market.instruments import Instrument, Rounding
from nexusforge.nexus.executions import ExecId, Execution
from nexusforge.nexus.ledger import RECENT_EXEC_IDS, Ledger
from nexusforge.nexus.live_head import LiveHead
from nexusforge.nexus.model import ModelState, TradingModel
from nexusforge.strategy.expr import Expr

ZERO = Decimal(0)
DEPTH_LEVELS = 50
EWMA_ALPHA = 0.05


@dataclass(frozen=True, slots=True)
class MarketView:
    """The live market at one decision round, as the cost model reads it."""

    mid: Decimal
    bid: float
    ask: float
    depth: BookDepth
    sigma: float  # return volatility per round (a fraction)
    volume: float  # traded base volume per round


@dataclass
class MarketStats:
    """EWMA volatility of mid returns and traded volume per round (the impact model's inputs)."""

    alpha: float = EWMA_ALPHA
    variance: float = math.nan
    volume: float = math.nan
    rounds: int = 0
    _last_mid: float = math.nan
    _volume_now: float = 0.0

    def add_volume(self, qty: float) -> None:
        """Public trade volume since the last round."""
        if math.isfinite(qty) and qty > 0:
            self._volume_now += qty

    def on_round(self, mid: float) -> None:
        """Closes one round at `mid`."""
        if math.isfinite(self._last_mid) and self._last_mid > 0 and mid > 0:
            r2 = math.log(mid / self._last_mid) ** 2
            self.variance = (
                r2 if math.isnan(self.variance) else _ewma(self.variance, r2, self.alpha)
            )
        self._last_mid = mid
        v = self._volume_now
        self.volume = v if math.isnan(self.volume) else _ewma(self.volume, v, self.alpha)
        self._volume_now = 0.0
        self.rounds += 1

    @property
    def sigma(self) -> float:
        """Volatility per round (0 until two rounds were seen)."""
        return math.sqrt(self.variance) if math.isfinite(self.variance) else 0.0


def _ewma(prev: float, x: float, alpha: float) -> float:
    return (1 - alpha) * prev + alpha * x


def market_view(book: OrderBook, mid: Decimal, stats: MarketStats) -> MarketView | None:
    """The view at this round, or None when the book cannot price a fill (invalid, one-sided)."""
    if not book.is_valid:
        return None
    bid, ask = book.best_bid(), book.best_ask()
    if bid is None or ask is None or not 0 < bid.price <= float(mid) <= ask.price:
        return None
    bids, asks = book.depth(DEPTH_LEVELS)
    return MarketView(mid, bid.price, ask.price, (bids, asks), stats.sigma, stats.volume)


@dataclass
class ShadowStats:
    """What a shadow did: fills, notional, costs, and rounds it could not fill."""

    fills: int = 0
    notional: float = 0.0
    fees: float = 0.0
    spread: float = 0.0
    slippage: float = 0.0
    impact: float = 0.0
    unpriced_rounds: int = 0
    no_impact_fills: int = 0


@dataclass
class Shadow:
    """One challenger in shadow mode: its model (state SHADOW), virtual ledger and fill stats."""

    key: str  # "challenger-<sha16>"
    sha256: str
    model: TradingModel
    since_s: float
    since_ms: int
    costs: CostModel
    max_position: Decimal
    stats: ShadowStats = field(default_factory=ShadowStats)
    equity_series: deque[tuple[int, Decimal]] = field(default_factory=lambda: deque(maxlen=500))

    @classmethod
    def start(
        cls,
        sha256: str,
        expr: Expr,
        symbol: str,
        capital: Decimal,
        weight: Decimal,
        *,
        now_s: float,
        now_ms: int,
        costs: CostModel,
        max_position: Decimal,
        head: LiveHead | None = None,
    ) -> Shadow:
        """A new shadow with a fresh virtual ledger of `capital` (and its MAML head, if any)."""
        key = f"challenger-{sha256[:16]}"
        # virtual fills carry unique sequential ids, so a recent window dedupes exactly
        ledger = Ledger(key, symbol, capital, max_ids=RECENT_EXEC_IDS)
        model = TradingModel(-1, key, symbol, expr, ledger, ModelState.SHADOW, weight, head=head)
        return cls(key, sha256, model, now_s, now_ms, costs, max_position)

    def signal(self, row: Mapping[str, float]) -> None:
        """Feeds a row between rounds (keeps its windows in step with the champions')."""
        self.model.signal(row)

    def on_round(
        self, row: Mapping[str, float], view: MarketView | None, inst: Instrument, now_ms: int
    ) -> Execution | None:
        """Target for this row, filled virtually at once; the fill booked, or None."""
        mid = view.mid if view is not None else None
        if mid is None:
            self.model.signal(row)
            self.stats.unpriced_rounds += 1
            return None
        target = self.model.target_position(row, mid, inst)
        target = max(-self.max_position, min(self.max_position, target))
        delta = inst.round_qty(abs(target - self.model.ledger.inventory), Rounding.DOWN)
        delta = min(delta, inst.max_market_qty)  # the venue's cap on one market order
        if delta == 0 or inst.order_problem(mid, delta, market=True) is not None:
            return None
        side = 1 if target > self.model.ledger.inventory else -1
        fill = self._price(view, side, float(delta))
        e = self._execution(side, delta, fill, now_ms)
        self.model.ledger.apply(e)
        self._count(fill)
        return e

    def _price(self, view: MarketView | None, side: int, qty: float) -> FillCost:
        assert view is not None
        costs = self.costs
        if not (view.volume > 0 and math.isfinite(view.volume)):
            costs = CostModel(costs.maker_fee, costs.taker_fee, 0.0, 0.0)  # no volume seen yet
            self.stats.no_impact_fills += 1
        return costs.price_fill(
            "buy" if side > 0 else "sell", qty, float(view.mid), view.bid, view.ask,
            depth=view.depth, sigma=view.sigma, volume=view.volume,
        )  # fmt: skip

    def _execution(self, side: int, qty: Decimal, fill: FillCost, now_ms: int) -> Execution:
        n = self.stats.fills
        newest = self.model.ledger.last_fill
        last = newest.exec_time_ms if newest is not None else 0
        return Execution(
            exec_id=ExecId(f"{self.key}-{n:09d}"),
            symbol=self.model.symbol,
            exec_type="Trade",
            side=side,
            price=Decimal(repr(fill.price)),
            qty=qty,
            fee=Decimal(repr(fill.fee)),
            exec_time_ms=max(now_ms, last),
            order_link_id="",
            fee_rate=Decimal(repr(self.costs.taker_fee)),
        )

    def _count(self, fill: FillCost) -> None:
        s = self.stats
        s.fills += 1
        s.notional += fill.notional
        s.fees += fill.fee
        s.spread += fill.spread
        s.slippage += fill.slippage
        s.impact += fill.impact_temp

    def mark(self, mid: Decimal, now_ms: int) -> Decimal:
        """Equity at `mid`, appended to its series."""
        eq = self.model.ledger.equity(mid)
        self.equity_series.append((now_ms, eq))
        return eq
