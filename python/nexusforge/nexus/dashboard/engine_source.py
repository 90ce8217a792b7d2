"""The dashboard over a running `nexus.engine.Engine`, in the engine's process and loop.

The engine journals every intent, ack, fill, state and weight change before acting on it, so
the per-model books, recent fills and orders, CWO weights and kill events come from tailing its
journal file (a `JournalSource` on a second, read-only connection). The engine's memory adds
what a journal does not hold: the mid every model is marked at, stream and book health, the
tick-to-order latencies, the reconciliation alert and the kill switch, which `trigger_kill`
trips through `Engine.trigger_kill` (the engine's loop then flattens everything).

    run_nexus(cfg, seconds, on_start=DashboardOnStart("127.0.0.1", 8940, token, typer.echo))

or by hand in the loop: `handle = start_dashboard(engine, host, port, token)`, then
`await handle.stop()`.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from nexusforge.errors import NexusForgeError
from nexusforge.nexus.dashboard.journal_source import JournalSource
from nexusforge.nexus.dashboard.latency import LatencyHistogram
from nexusforge.nexus.dashboard.live_source import VenueStream, wall_ms
from nexusforge.nexus.dashboard.serve import DEFAULT_PORT, DashboardServer, dashboard_server
from nexusforge.nexus.dashboard.snapshot import (
    AlertView,
    KillSwitchView,
    ReconciliationView,
    Snapshot,
    VenueView,
)

if TYPE_CHECKING:
    from nexusforge.nexus.engine import Engine

TICK_TO_ORDER = "tick_to_order"
SAMPLE_S = 1.0
SLICE_ROWS = 500  # journal rows per table per read: ~25 ms of the engine's loop at most
log = logging.getLogger(__name__)


class EngineSource:
    """Reads an Engine (never writes to it, except the kill switch)."""

    def __init__(self, engine: Engine, *, clock_ms: Callable[[], int] = wall_ms) -> None:
        self._engine = engine
        self._clock = clock_ms
        self._journal = JournalSource(engine.journal.path, mark_fills=False)
        self._latency = LatencyHistogram(TICK_TO_ORDER)
        self._latency_seen = 0
        self._rates: dict[str, tuple[float, int, float]] = {}
        self._alerts: list[AlertView] = []
        self._last_alert: str | None = None

    @property
    def can_kill(self) -> bool:
        """The engine's kill switch is reachable."""
        return True

    def trigger_kill(self, reason: str) -> None:
        """Trips the engine's kill switch."""
        self._engine.trigger_kill(reason)

    def close(self) -> None:
        """Closes the journal reader."""
        self._journal.close()

    def sample(self) -> bool:
        """Reads a slice of the journal and marks the models at the mid: one point on every
        equity curve (every second while the dashboard runs, watched or not). True once the
        journal is caught up; a long journal is read in slices so the loop never stalls."""
        eng = self._engine
        caught_up = self._journal.refresh(SLICE_ROWS)
        if eng.state.mid is not None:
            self._journal.mark(eng.symbol, eng.state.mid, self._clock())
        return caught_up

    def snapshot(self) -> Snapshot:
        """The journal's books marked at the engine's mid, with the engine's live health."""
        eng, now = self._engine, self._clock()
        self._journal.refresh(SLICE_ROWS)
        if eng.state.mid is not None:
            self._journal.mark(eng.symbol, eng.state.mid, now)
        base = self._journal.snapshot(refresh=False)
        self._observe_latencies()
        self._note_alert(now)
        kill = eng.kill.check()
        return replace(
            base,
            ts_ms=now,
            source="live",
            venues=self._venues(),
            latencies=(self._latency.view(),),
            reconciliation=self._reconciliation(now),
            alerts=(*reversed(self._alerts), *base.alerts),
            kill_switch=KillSwitchView(kill is not None, kill, armable=True),
            marks=() if eng.state.mid is None else ((eng.symbol, eng.state.mid),),
            challengers=base.challengers if eng.pit_crew is None else eng.pit_crew.views(),
        )

    def _observe_latencies(self) -> None:
        router = self._engine.router
        self._latency_seen = observe_new(
            self._latency, router.latencies_ns, router.latency_count, self._latency_seen
        )

    def _note_alert(self, now: int) -> None:
        text = self._engine.state.alert
        if text is not None and text != self._last_alert:
            self._alerts = [*self._alerts[-49:], AlertView(now, "critical", text)]
        self._last_alert = text

    def _reconciliation(self, now: int) -> ReconciliationView:
        st = self._engine.state
        if st.alert is not None:
            return ReconciliationView("alert", st.alert, now)
        if st.venue_position is None:
            return ReconciliationView("unknown", "no venue position seen yet")
        if st.venue_position != st.ledgers_total:
            # fills on their way, or a real break: the engine's next check decides which
            detail = f"venue position {st.venue_position} vs ledgers {st.ledgers_total}: checking"
            return ReconciliationView("unknown", detail, now)
        return ReconciliationView(
            "ok", f"venue position {st.venue_position} = ledgers {st.ledgers_total}", now
        )

    def _venues(self) -> tuple[VenueView, ...]:
        eng = self._engine
        feed = eng.feed
        book_valid = None if feed is None else bool(feed.book.is_valid)
        out = []
        for name, ws in (("public", eng.public), ("private", eng.private)):
            if ws is not None:
                out.append(self._venue(name, ws, book_valid if name == "public" else None))
        return tuple(out)

    def _venue(self, name: str, ws: VenueStream, valid: bool | None) -> VenueView:
        st = ws.stats
        rate = self._rate(name, st.messages)
        gaps = int(getattr(getattr(ws, "book_stats", None), "gaps", 0))
        connected = st.connects > st.disconnects
        if name == "private":
            connected = connected and self._engine.state.private_ready
        return VenueView(
            name=name,
            url=ws.url,
            connected=connected,
            book_valid=valid,
            messages=st.messages,
            messages_per_s=rate,
            gaps=gaps,
            reconnects=max(0, st.connects - 1),
            malformed=st.malformed,
            stale=st.stale_reconnects + st.stale_resubscribes,
        )

    def _rate(self, name: str, messages: int) -> float:
        """Messages per second over the last second or more."""
        now = time.monotonic()
        t0, n0, rate = self._rates.get(name, (now, messages, 0.0))
        if now - t0 >= 1.0:
            rate = (messages - n0) / (now - t0)
            t0, n0 = now, messages
        self._rates[name] = (t0, n0, rate)
        return rate


def observe_new(hist: LatencyHistogram, ring: deque[int], total: int, seen: int) -> int:
    """Observes the samples (ns) of `ring` recorded after the first `seen` of `total` ever
    recorded (those the ring dropped before we looked are lost); returns the new `seen`."""
    fresh = min(total - seen, len(ring))
    batch = list(itertools.islice(reversed(ring), fresh))  # O(new), not O(ring)
    for ns in reversed(batch):
        hist.observe(ns / 1e9)
    return total


@dataclass
class DashboardHandle:
    """A dashboard serving in the engine's loop: its task, server and source."""

    task: asyncio.Task[None]
    server: DashboardServer
    source: EngineSource

    @property
    def port(self) -> int:
        """The port it listens on (bound before the task started)."""
        return self.server.port

    async def started(self, timeout_s: float = 10.0) -> int:
        """Waits until the server serves; the port it listens on."""
        async with asyncio.timeout(timeout_s):
            while not self.server.started:
                if self.task.done():
                    self.task.result()  # raises what stopped it (e.g. the port is taken)
                    raise RuntimeError("the dashboard server ended before it started")
                await asyncio.sleep(0.02)
        return self.port

    async def stop(self) -> None:
        """Stops serving (open pages reconnect to nothing) and closes the journal reader."""
        self.server.should_exit = True
        await asyncio.wait({self.task}, timeout=5)
        if not self.task.done():
            self.task.cancel()


async def _sample_every(source: EngineSource, interval_s: float) -> None:
    while True:
        try:
            while not source.sample():
                await asyncio.sleep(0)  # catching up a long journal: let the engine run
        except NexusForgeError as exc:  # a dashboard problem never stops the engine
            log.warning("dashboard sample failed: %s", exc)
        await asyncio.sleep(interval_s)


def start_dashboard(
    engine: Engine,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    token: str | None = None,
    reports: Path | None = None,
) -> DashboardHandle:
    """Serves the dashboard of `engine` from the running loop (port 0: any free port), listing
    the research reports under `reports`.

    Binds before returning: ConfigError (public host without a token) or OSError (port taken)
    reach the caller, who decides whether the engine runs without a dashboard."""
    source = EngineSource(engine)
    try:
        server = dashboard_server(source, host, port, token, reports)
    except BaseException:
        source.close()
        raise

    async def serve() -> None:
        sampler = asyncio.create_task(_sample_every(source, SAMPLE_S), name="dashboard-sampler")
        try:
            await server.serve_socket()
        finally:
            sampler.cancel()
            await asyncio.wait({sampler})
            source.close()

    task = asyncio.get_running_loop().create_task(serve(), name="nexus-dashboard")
    return DashboardHandle(task, server, source)


class DashboardOnStart:
    """`run_nexus(..., on_start=DashboardOnStart(host, port, token, typer.echo))`: serves the
    engine's dashboard in its loop and announces the address. A dashboard that cannot start
    (port taken, public host without a token) is logged; the engine trades on without it."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        token: str | None = None,
        announce: Callable[[str], None] | None = None,
        reports: Path | None = None,
    ) -> None:
        self.host, self.port, self.token, self.reports = host, port, token, reports
        self._announce = announce or (lambda line: log.warning("%s", line))
        self.handle: DashboardHandle | None = None

    def __call__(self, engine: Engine) -> None:
        """Starts serving (called once, from the engine's loop)."""
        try:
            self.handle = start_dashboard(engine, self.host, self.port, self.token, self.reports)
        except (NexusForgeError, OSError) as exc:
            log.error("dashboard not started: %s", exc)
            return
        shown = f"[{self.host}]" if ":" in self.host else self.host
        url = f"http://{shown}:{self.handle.port}"
        self._announce(f"dashboard at {url}/ (metrics at /metrics, reports at /reports)")
        if self.reports is not None:
            self._announce(f"reports listed from {self.reports.resolve()}")


__all__ = ["DashboardHandle", "DashboardOnStart", "EngineSource", "start_dashboard"]
