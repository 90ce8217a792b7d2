"""What the dashboard shows: one immutable snapshot of the engine's live state, as typed records.

Money and quantities stay `Decimal` (JSON strings, so the page shows the ledger's exact digits);
series carry millisecond wall-clock stamps (`ts_ms`). A snapshot is built by a `DashboardSource`
and never refers back to live objects, so the web app can hand it to any number of clients.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class FillView:
    """One execution booked to a model."""

    ts_ms: int
    exec_id: str
    order_link_id: str
    side: int
    qty: Decimal
    price: Decimal
    fee: Decimal
    exec_type: str


@dataclass(frozen=True, slots=True)
class OrderView:
    """One order intent of a model and the venue's latest word on it."""

    ts_ms: int
    order_link_id: str
    side: int
    qty: Decimal
    reduce_only: bool
    reason: str
    status: str
    filled: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class ModelView:
    """One model slot: state, weight, books and equity."""

    slot: int
    name: str
    symbol: str
    state: str
    weight: Decimal
    capital: Decimal
    equity: Decimal
    inventory: Decimal
    avg_entry: Decimal
    realized: Decimal
    unrealized: Decimal
    fees: Decimal
    funding: Decimal
    peak: Decimal
    drawdown: Decimal
    equity_series: tuple[tuple[int, Decimal], ...] = ()
    recent_fills: tuple[FillView, ...] = ()
    recent_orders: tuple[OrderView, ...] = ()
    fills: int = 0
    orders: int = 0

    @property
    def drawdown_fraction(self) -> Decimal:
        """Drawdown over peak (0 when the peak is not positive)."""
        return self.drawdown / self.peak if self.peak > 0 else ZERO


@dataclass(frozen=True, slots=True)
class ChallengerView:
    """A shadow challenger and how it compares with the champion it would replace."""

    name: str
    champion: str
    since_ms: int
    score: float
    champion_score: float
    equity_series: tuple[tuple[int, Decimal], ...] = ()

    @property
    def uplift(self) -> float:
        """Relative improvement over the champion's score (NaN when that score is 0)."""
        if self.champion_score == 0:
            return float("nan")
        return (self.score - self.champion_score) / abs(self.champion_score)


@dataclass(frozen=True, slots=True)
class WeightPoint:
    """The CWO's capital weights at one moment, by model name."""

    ts_ms: int
    weights: tuple[tuple[str, Decimal], ...]


@dataclass(frozen=True, slots=True)
class LatencyView:
    """A latency histogram: per-bucket counts (not cumulative) under upper bounds in seconds,
    since start (`counts`, for Prometheus) and over the recent window (`recent`, for the page)."""

    name: str
    bounds_s: tuple[float, ...]
    counts: tuple[int, ...]
    sum_s: float
    count: int
    recent: tuple[int, ...] = ()  # empty: no window kept, percentiles use `counts`

    def percentile(self, q: float) -> float:
        """The q-quantile (0 < q < 1) of the recent window, interpolated inside its bucket; NaN
        when empty.

        `counts` has one more entry than `bounds_s`: the overflow bucket, reported as the last
        bound (a histogram cannot say more)."""
        counts = self.recent or self.counts
        total = sum(counts)
        if total == 0:
            return float("nan")
        rank, seen = q * total, 0
        for i, n in enumerate(counts):
            if n and seen + n >= rank:
                if i == len(self.bounds_s):
                    return self.bounds_s[-1]
                lower = self.bounds_s[i - 1] if i else 0.0
                return lower + (self.bounds_s[i] - lower) * (rank - seen) / n
            seen += n
        return self.bounds_s[-1]


@dataclass(frozen=True, slots=True)
class VenueView:
    """One venue stream's health (public market data, private, trade)."""

    name: str
    url: str
    connected: bool
    book_valid: bool | None
    messages: int
    messages_per_s: float
    gaps: int
    reconnects: int
    malformed: int
    stale: int


@dataclass(frozen=True, slots=True)
class ReconciliationView:
    """Whether the ledgers agree with the venue, and when that was last checked."""

    status: str  # "ok", "alert" or "unknown"
    detail: str = ""
    checked_ms: int | None = None


@dataclass(frozen=True, slots=True)
class AlertView:
    """Something an operator should look at."""

    ts_ms: int
    level: str  # "info", "warning" or "critical"
    text: str


@dataclass(frozen=True, slots=True)
class KillSwitchView:
    """The global kill switch: tripped or not, and why; `armable` when this source can trip it."""

    tripped: bool
    reason: str | None = None
    armable: bool = False


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything the page, `/api/state` and `/metrics` show, at one moment."""

    ts_ms: int
    source: str  # "live" or "journal"
    session: str
    models: tuple[ModelView, ...] = ()
    challengers: tuple[ChallengerView, ...] = ()
    weight_history: tuple[WeightPoint, ...] = ()
    venues: tuple[VenueView, ...] = ()
    reconciliation: ReconciliationView = ReconciliationView("unknown")
    alerts: tuple[AlertView, ...] = ()
    latencies: tuple[LatencyView, ...] = ()
    kill_switch: KillSwitchView = KillSwitchView(False)
    marks: tuple[tuple[str, Decimal], ...] = ()
