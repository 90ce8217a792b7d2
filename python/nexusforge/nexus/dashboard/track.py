"""What the dashboard remembers per model beyond its ledger: equity curve, peak, recent activity.

Both sources keep one `ModelTrack` per model and feed it marks, fills, orders and order states;
`view()` joins that with the ledger's exact state into a `ModelView`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from decimal import Decimal

from nexusforge.nexus.dashboard.series import SeriesRecorder
from nexusforge.nexus.dashboard.snapshot import FillView, ModelView, OrderView
from nexusforge.nexus.ledger import LedgerState

RECENT = 20


class ModelTrack:
    """Equity series, running peak, recent fills and orders of one model."""

    def __init__(self, capital: Decimal, *, recent: int = RECENT, max_points: int = 1200) -> None:
        self.capital = capital
        self.peak = capital
        self.series = SeriesRecorder(max_points)
        self.fills: deque[FillView] = deque(maxlen=recent)
        self.orders: deque[OrderView] = deque(maxlen=recent)
        self.fill_count = 0
        self.order_count = 0

    def mark(self, ts_ms: int, equity: Decimal) -> None:
        """One equity mark: extends the curve and the peak."""
        self.series.add(ts_ms, equity)
        self.peak = max(self.peak, equity)

    def fill(self, f: FillView) -> None:
        """A fill booked to this model (also counted against its order, if recent)."""
        self.fills.append(f)
        self.fill_count += 1
        for i, o in enumerate(self.orders):
            if o.order_link_id == f.order_link_id:
                filled = o.filled + f.qty
                # the fills say more than a lagging ack: a fully filled order is Filled
                status = "Filled" if filled >= o.qty else o.status
                self.orders[i] = replace(o, filled=filled, status=status)

    def order(self, o: OrderView) -> None:
        """An order intent of this model."""
        self.orders.append(o)
        self.order_count += 1

    def order_status(self, order_link_id: str, status: str) -> None:
        """The venue's latest state of a recent order (older orders are no longer shown)."""
        for i, o in enumerate(self.orders):
            if o.order_link_id == order_link_id and o.status != "Filled":
                self.orders[i] = replace(o, status=status)

    def view(
        self,
        slot: int,
        name: str,
        symbol: str,
        state: str,
        weight: Decimal,
        books: LedgerState,
        mark: Decimal | None,
    ) -> ModelView:
        """The model as the page shows it; without a mark the position is valued at cost."""
        price = mark if mark is not None else books.avg_entry
        equity = books.equity(price)
        peak = max(self.peak, equity)
        return ModelView(
            slot=slot,
            name=name,
            symbol=symbol,
            state=state,
            weight=weight,
            capital=self.capital,
            equity=equity,
            inventory=books.inventory,
            avg_entry=books.avg_entry,
            realized=books.realized,
            unrealized=books.unrealized(price),
            fees=books.fees,
            funding=books.funding,
            peak=peak,
            drawdown=peak - equity,
            equity_series=self.series.points,
            recent_fills=tuple(reversed(self.fills)),
            recent_orders=tuple(reversed(self.orders)),
            fills=self.fill_count,
            orders=self.order_count,
        )
