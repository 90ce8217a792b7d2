"""`/metrics`: one snapshot in the Prometheus text exposition format (prometheus_client).

Per model: equity, capital, inventory, PnL, fees, funding, drawdown, weight, state, fill and
order counts; per venue stream: messages, gaps, reconnects, malformed, stale, connection; book
validity; latencies as histograms; reconciliation, alerts and the kill switch. Every scrape is
built from a fresh snapshot, so nothing here keeps state between scrapes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from itertools import accumulate

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from nexusforge.nexus.dashboard.snapshot import LatencyView, ModelView, Snapshot, VenueView

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MODEL_STATES = ("active", "shadow", "dead")
ALERT_LEVELS = ("info", "warning", "critical")
_MODEL_GAUGES: dict[str, tuple[str, Callable[[ModelView], Decimal]]] = {
    "equity_usdt": ("Equity marked to the latest price", lambda m: m.equity),
    "capital_usdt": ("Starting capital of the model's ledger", lambda m: m.capital),
    "inventory": ("Signed position in base units", lambda m: m.inventory),
    "realized_pnl_usdt": ("Realized PnL", lambda m: m.realized),
    "unrealized_pnl_usdt": ("Unrealized PnL at the latest price", lambda m: m.unrealized),
    "fees_usdt": ("Fees paid", lambda m: m.fees),
    "funding_usdt": ("Funding paid (negative: received)", lambda m: m.funding),
    "drawdown_usdt": ("Equity below its running peak", lambda m: m.drawdown),
    "weight": ("Capital weight set by the CWO", lambda m: m.weight),
}


def render(snap: Snapshot) -> bytes:
    """The exposition text of one snapshot."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SnapshotCollector(snap))
    return generate_latest(registry)


class _SnapshotCollector(Collector):
    def __init__(self, snap: Snapshot) -> None:
        self._snap = snap

    def collect(self) -> Iterator[Metric]:
        yield from _models(self._snap.models)
        yield from _venues(self._snap)
        if self._snap.latencies:
            yield _latencies(self._snap.latencies)
        yield from _health(self._snap)


def _models(models: tuple[ModelView, ...]) -> Iterator[Metric]:
    labels = ["model", "symbol"]
    for suffix, (doc, get) in _MODEL_GAUGES.items():
        g = GaugeMetricFamily(f"nexus_model_{suffix}", doc, labels=labels)
        for m in models:
            g.add_metric([m.name, m.symbol], float(get(m)))
        yield g
    state = GaugeMetricFamily(
        "nexus_model_state", "1 for the model's current state", labels=["model", "state"]
    )
    for m in models:
        for s in MODEL_STATES:
            state.add_metric([m.name, s], 1.0 if m.state == s else 0.0)
    yield state
    fills = CounterMetricFamily("nexus_model_fills", "Fills booked to the model", labels=["model"])
    orders = CounterMetricFamily("nexus_model_orders", "Orders the model sent", labels=["model"])
    for m in models:
        fills.add_metric([m.name], m.fills)
        orders.add_metric([m.name], m.orders)
    yield fills
    yield orders


def _venues(snap: Snapshot) -> Iterator[Metric]:
    counters: dict[str, tuple[str, Callable[[VenueView], int]]] = {
        "messages": ("Messages received", lambda v: v.messages),
        "gaps": ("Order book sequence gaps (each forces a resync)", lambda v: v.gaps),
        "reconnects": ("Reconnections after the first connect", lambda v: v.reconnects),
        "malformed": ("Malformed messages dropped", lambda v: v.malformed),
        "stale": ("Silent-topic resubscribes and reconnects", lambda v: v.stale),
    }
    for suffix, (doc, get) in counters.items():
        c = CounterMetricFamily(f"nexus_venue_{suffix}", doc, labels=["stream"])
        for v in snap.venues:
            c.add_metric([v.name], get(v))
        yield c
    up = GaugeMetricFamily("nexus_venue_connected", "1 while connected", labels=["stream"])
    rate = GaugeMetricFamily(
        "nexus_venue_messages_per_second", "Recent message rate", labels=["stream"]
    )
    for v in snap.venues:
        up.add_metric([v.name], 1.0 if v.connected else 0.0)
        rate.add_metric([v.name], v.messages_per_s)
    yield up
    yield rate
    valid = GaugeMetricFamily(
        "nexus_book_valid", "1 while every order book of the stream is valid", labels=["stream"]
    )
    for v in snap.venues:
        if v.book_valid is not None:
            valid.add_metric([v.name], 1.0 if v.book_valid else 0.0)
    yield valid


def _latencies(views: tuple[LatencyView, ...]) -> Metric:
    h = HistogramMetricFamily(
        "nexus_latency_seconds", "Latencies inside the engine and to the venue", labels=["name"]
    )
    for v in views:
        cumulative = list(accumulate(v.counts))
        bounds = [repr(b) for b in v.bounds_s] + ["+Inf"]
        buckets = [(b, float(n)) for b, n in zip(bounds, cumulative, strict=True)]
        h.add_metric([v.name], buckets, v.sum_s)
    return h


def _health(snap: Snapshot) -> Iterator[Metric]:
    recon = GaugeMetricFamily(
        "nexus_reconciliation_status", "1 for the current status", labels=["status"]
    )
    for s in ("ok", "alert", "unknown"):
        recon.add_metric([s], 1.0 if snap.reconciliation.status == s else 0.0)
    yield recon
    alerts = GaugeMetricFamily("nexus_alerts", "Alerts held by the dashboard", labels=["level"])
    for level in ALERT_LEVELS:
        alerts.add_metric([level], sum(1 for a in snap.alerts if a.level == level))
    yield alerts
    yield GaugeMetricFamily(
        "nexus_kill_switch_tripped",
        "1 once the global kill switch is tripped",
        value=1.0 if snap.kill_switch.tripped else 0.0,
    )
    yield GaugeMetricFamily(
        "nexus_challengers", "Shadow challengers under evaluation", value=len(snap.challengers)
    )
