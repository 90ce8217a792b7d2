"""A dashboard source over the engine's own objects, in the engine's process and event loop.

The engine builds one `LiveSource` from its `TradingModel`s, the `Book` of each symbol and its
`KillSwitch`, registers its venue streams, and calls the `on_*` hooks where it already acts
(after a mark, an intent, an ack, an applied fill, a CWO round, a reconciliation check). The
hooks only append to bounded buffers; `snapshot()` reads the ledgers' exact state directly, so
the page can never disagree with the books. Nothing here sends orders; `trigger_kill` only trips
the engine's `KillSwitch`, which the engine's loop acts on like the kill file or a signal.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from nexusforge.nexus import order_ids
from nexusforge.nexus.dashboard.latency import LatencyHistogram
from nexusforge.nexus.dashboard.snapshot import (
    AlertView,
    ChallengerView,
    FillView,
    KillSwitchView,
    ModelView,
    OrderView,
    ReconciliationView,
    Snapshot,
    VenueView,
    WeightPoint,
)
from nexusforge.nexus.dashboard.track import ModelTrack
from nexusforge.nexus.executions import INVENTORY_KINDS, Execution
from nexusforge.nexus.intents import OrderIntent
from nexusforge.nexus.ledger import Book, ReconciliationAlert
from nexusforge.nexus.model import TradingModel
from nexusforge.nexus.venues.bybit.ws_connection import StreamStatus, WsStats
from nexusforge.nexus.watchtower import KillSwitch

MAX_WEIGHT_POINTS = 1440
MAX_ALERTS = 100
_UP = frozenset({"connected", "ready", "subscribed", "recovered"})
_DOWN = frozenset({"disconnected", "auth_failed"})


def wall_ms() -> int:
    """Wall clock in ms (what the page's time axes show)."""
    return time.time_ns() // 1_000_000


class VenueStream(Protocol):
    """What the dashboard reads of a venue stream client (BybitPublicWs, BybitPrivateWs, …)."""

    url: str
    stats: WsStats


@dataclass(slots=True)
class _Stream:
    client: VenueStream
    connected: bool = False
    last: tuple[float, int] = (0.0, 0)
    rate: float = 0.0


class LiveSource:
    """The engine's live state for the dashboard; every method runs on the engine's loop."""

    def __init__(
        self,
        models: Sequence[TradingModel],
        books: Mapping[str, Book],
        kill_switch: KillSwitch,
        *,
        session: str = "",
        challengers: Callable[[], Sequence[ChallengerView]] | None = None,
        clock_ms: Callable[[], int] = wall_ms,
    ) -> None:
        self._models = list(models)
        self._books = books
        self._kill = kill_switch
        self.session = session
        self._challengers = challengers
        self._clock = clock_ms
        self._tracks = {m.name: ModelTrack(m.ledger.capital) for m in self._models}
        self._by_slot = {m.slot: m for m in self._models}
        self._marks: dict[str, Decimal] = {}
        self._streams: dict[str, _Stream] = {}
        self._book_valid: dict[str, bool] = {}
        self._latency: dict[str, LatencyHistogram] = {}
        self._weights: deque[WeightPoint] = deque(maxlen=MAX_WEIGHT_POINTS)
        self._alerts: deque[AlertView] = deque(maxlen=MAX_ALERTS)
        self._recon = ReconciliationView("unknown", "not checked yet")

    # ---- the engine's hooks ----

    def add_stream(self, name: str, client: VenueStream) -> None:
        """Shows a venue stream's counters under `name` ("public", "private", "trade")."""
        self._streams[name] = _Stream(client)

    def latency(self, name: str) -> LatencyHistogram:
        """The histogram the engine observes `name` latencies into (created on first use)."""
        return self._latency.setdefault(name, LatencyHistogram(name))

    def on_stream_status(self, name: str, status: StreamStatus) -> None:
        """A stream's connection news (connected, ready, stale, disconnected, …)."""
        s = self._streams.get(name)
        if s is not None and status.kind in _UP | _DOWN:
            s.connected = status.kind in _UP
        if status.kind in _DOWN or status.kind in ("stale", "recovery_failed"):
            self.alert("warning", f"{name} stream {status.kind}: {status.detail}".rstrip(": "))

    def on_book(self, symbol: str, valid: bool) -> None:
        """Whether the symbol's order book currently passes its integrity checks."""
        if self._book_valid.get(symbol, True) and not valid:
            self.alert("warning", f"{symbol} book invalid: waiting for a snapshot")
        self._book_valid[symbol] = valid

    def on_mark(self, symbol: str, price: Decimal) -> None:
        """The price every model of `symbol` is marked at now (after the Watchtower's mark)."""
        self._marks[symbol] = price
        now = self._clock()
        for m in self._models:
            if m.symbol == symbol:
                self._tracks[m.name].mark(now, m.ledger.equity(price))

    def on_intent(self, intent: OrderIntent) -> None:
        """An order intent, once journaled."""
        track = self._track(intent.slot)
        if track is not None:
            track.order(
                OrderView(
                    self._clock(),
                    intent.order_link_id,
                    intent.side,
                    intent.qty,
                    intent.reduce_only,
                    intent.reason,
                    "New",
                )
            )

    def on_ack(self, order_link_id: str, status: str) -> None:
        """The venue's answer or a later state of one of our orders."""
        slot = order_ids.slot_of(order_link_id)
        track = None if slot is None else self._track(slot)
        if track is not None:
            track.order_status(order_link_id, status)

    def on_fill(self, slot: int, e: Execution) -> None:
        """An execution the book applied to the model in `slot`."""
        track = self._track(slot)
        if track is not None and e.kind in INVENTORY_KINDS:
            track.fill(
                FillView(
                    e.exec_time_ms,
                    e.exec_id,
                    e.order_link_id,
                    e.side,
                    e.qty,
                    e.price,
                    e.fee,
                    e.exec_type,
                )
            )

    def on_weights(self) -> None:
        """A CWO round set the models' weights (read from the models)."""
        weights = tuple((m.name, m.weight) for m in self._models)
        self._weights.append(WeightPoint(self._clock(), weights))

    def on_reconcile(self, symbol: str, alert: ReconciliationAlert | None) -> None:
        """The result of `Book.check` against the venue's position."""
        now = self._clock()
        if alert is None:
            self._recon = ReconciliationView("ok", f"{symbol}: ledgers equal the venue", now)
            return
        if self._recon.status != "alert":
            self.alert("critical", f"reconciliation: {alert}; new orders paused")
        self._recon = ReconciliationView("alert", str(alert), now)

    def alert(self, level: str, text: str) -> None:
        """Anything else the operator should see."""
        self._alerts.append(AlertView(self._clock(), level, text))

    # ---- DashboardSource ----

    @property
    def can_kill(self) -> bool:
        """The engine's kill switch is right here."""
        return True

    def trigger_kill(self, reason: str) -> None:
        """Trips the engine's kill switch; its loop flattens everything on its next pass."""
        self._kill.trigger(reason)
        self.alert("critical", f"kill switch: {reason}")

    def snapshot(self) -> Snapshot:
        """The live state now."""
        reason = self._kill.check()
        challengers = tuple(self._challengers()) if self._challengers is not None else ()
        return Snapshot(
            ts_ms=self._clock(),
            source="live",
            session=self.session,
            models=tuple(self._model_view(m) for m in self._models),
            challengers=challengers,
            weight_history=tuple(self._weights),
            venues=tuple(self._venue_view(n, s) for n, s in self._streams.items()),
            reconciliation=self._recon,
            alerts=tuple(reversed(self._alerts)),
            latencies=tuple(h.view() for h in self._latency.values()),
            kill_switch=KillSwitchView(reason is not None, reason, armable=True),
            marks=tuple(sorted(self._marks.items())),
        )

    def _track(self, slot: int) -> ModelTrack | None:
        m = self._by_slot.get(slot)
        return None if m is None else self._tracks[m.name]

    def _model_view(self, m: TradingModel) -> ModelView:
        return self._tracks[m.name].view(
            m.slot,
            m.name,
            m.symbol,
            m.state.value,
            m.weight,
            self._books[m.symbol].ledger(m.name).state,
            self._marks.get(m.symbol),
        )

    def _venue_view(self, name: str, s: _Stream) -> VenueView:
        st = s.client.stats
        now = time.monotonic()
        t0, n0 = s.last
        if now - t0 >= 1.0:
            s.rate = (st.messages - n0) / (now - t0) if t0 else 0.0
            s.last = (now, st.messages)
        book_stats = getattr(s.client, "book_stats", None)
        gaps = int(getattr(book_stats, "gaps", 0))
        valid = all(self._book_valid.values()) if name == "public" and self._book_valid else None
        return VenueView(
            name=name,
            url=s.client.url,
            connected=s.connected,
            book_valid=valid,
            messages=st.messages,
            messages_per_s=s.rate,
            gaps=gaps,
            reconnects=max(0, st.connects - 1),
            malformed=st.malformed,
            stale=st.stale_reconnects + st.stale_resubscribes,
        )
