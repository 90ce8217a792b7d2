"""The Nexus engine: one asyncio loop wiring venue, book, features, models, ledgers and journal.

    public WS --> MarketFeed (Rust book -> streaming features) --> six TradingModels' targets
      --> plan_round (internal crossing at mid; see intents.py) --> OrderRouter --> venue (REST)
    private WS executions --> journal (before anything else) --> Book of ledgers --> Watchtower

Rules it keeps:
- A decision round runs on a book event, at most once per `round_interval_s`, and only when
  nothing is in flight, the private stream is authenticated and caught up (missed fills
  recovered over REST after every reconnect), no reconciliation alert is open and the kill
  switch is not tripped.
- Invariant: Σ ledgers (models + orphan) == the venue's position. After rounds it is checked
  against the `position` topic; a disagreement is verified over REST (position list, then the
  executions since the last known one, applied once); if it persists, new orders are paused and
  the alert is kept in `LiveState` and logged, until a later check agrees.
- Watchtower marks every model each round; a model at its kill level is journaled DEAD and
  flattened (reduce-only market orders in lot chunks, retried until flat). An orphaned venue
  position (adopted on reconciliation) is flattened with the engine's own orders.
- The kill switch (file, SIGUSR1, `trigger_kill()`) stops trading and flattens everything.
- On start with an existing journal: rebuild the ledgers, reconcile with the venue (open orders,
  position, executions since the last known one), then continue.
`LiveState` is the read-only face for a dashboard: `engine.state.snapshot()` at any time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from nexusforge.errors import ConfigError, MalformedMessageError
from nexusforge.market.instruments import Instrument
from nexusforge.nexus import executions as ex
from nexusforge.nexus import order_ids
from nexusforge.nexus.allocator import Allocator, AllocatorConfig, reweight
from nexusforge.nexus.config import CHAMPION_PREFIX, EngineConfig, ModelSpec
from nexusforge.nexus.executions import INVENTORY_KINDS, Execution
from nexusforge.nexus.intents import IntentLimits, ModelView, internal_fills, plan_round
from nexusforge.nexus.journal import (
    Journal,
    VenueOrder,
    apply_plan,
    now_ms,
    parse_venue_order,
    reconcile,
)
from nexusforge.nexus.ledger import Book, Ledger, slot_router
from nexusforge.nexus.market_feed import MarketFeed
from nexusforge.nexus.model import (
    ModelEvent,
    ModelState,
    TradingModel,
    load_champion,
    load_strategy,
)
from nexusforge.nexus.order_router import OrderRouter, Stamp, stamp
from nexusforge.nexus.pit_crew import PitCrew, promoted_heads, promoted_strategies
from nexusforge.nexus.venues.bybit import (
    BookUpdate,
    BybitConfig,
    BybitError,
    BybitPrivateWs,
    BybitPublicWs,
    BybitRestClient,
    Credentials,
    ExecIdSet,
    ExecutionEvent,
    KlineUpdate,
    OrderEvent,
    PositionEvent,
    StreamStatus,
    TradeBatch,
    recover_executions,
)
from nexusforge.nexus.venues.bybit.backoff import Backoff
from nexusforge.nexus.venues.bybit.errors import BybitAmbiguousError, BybitRetryableError
from nexusforge.nexus.venues.bybit.models import BybitExecution
from nexusforge.nexus.watchtower import (
    KillSwitch,
    LiquidationOutcome,
    Watchtower,
    WatchtowerConfig,
    flatten_all,
    flatten_plan,
)

log = logging.getLogger(__name__)
T = TypeVar("T")
START_ATTEMPTS = 6  # start-up venue reads: ~15 s of backoff before giving up
START_CLOCK_MARGIN_MS = 600_000  # engine vs venue clock when reading fills back
ZERO = Decimal(0)
TICK_S = 0.1
STALE_ORDER_S = 3.0
FLATTEN_RETRY_S = 1.0
COMPACT_EVERY_S = 600.0
KEEP_FILLS_MS = 3_600_000
STREAM_EXEC_IDS = 4096  # execIds the private stream keeps in memory (the journal has them all)
FINAL_CHECK_TIMEOUT_S = 10.0  # the venue check at a stop; SIGTERM senders wait ~30 s


@dataclass(frozen=True, slots=True)
class ModelRow:
    """One model's books at one moment (what the summary and the dashboard show)."""

    slot: int
    name: str
    state: str
    weight: Decimal
    inventory: Decimal
    avg_entry: Decimal
    cash: Decimal
    fees: Decimal
    funding: Decimal
    realized: Decimal
    equity: Decimal | None
    fills: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (decimals as strings, exact)."""
        out: dict[str, Any] = {}
        for k in self.__slots__:
            v = getattr(self, k)
            out[k] = str(v) if isinstance(v, Decimal) else v
        return out


@dataclass
class LiveState:
    """The engine's live state, updated in place by the engine's loop (read it, never write)."""

    symbol: str
    started_ms: int = field(default_factory=now_ms)
    mid: Decimal | None = None
    venue_position: Decimal | None = None
    ledgers_total: Decimal = ZERO
    orphan: Decimal = ZERO
    alert: str | None = None
    paused: str | None = None
    kill: str | None = None
    private_ready: bool = False
    rounds: int = 0
    orders_sent: int = 0
    fills: int = 0
    internal_fills: int = 0
    md_messages: int = 0
    models: list[ModelRow] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return {
            "symbol": self.symbol,
            "started_ms": self.started_ms,
            "mid": None if self.mid is None else str(self.mid),
            "venue_position": None if self.venue_position is None else str(self.venue_position),
            "ledgers_total": str(self.ledgers_total),
            "orphan": str(self.orphan),
            "alert": self.alert,
            "paused": self.paused,
            "kill": self.kill,
            "private_ready": self.private_ready,
            "rounds": self.rounds,
            "orders_sent": self.orders_sent,
            "fills": self.fills,
            "internal_fills": self.internal_fills,
            "md_messages": self.md_messages,
            "models": [m.to_json() for m in self.models],
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """What a bounded run prints at the end."""

    symbol: str
    models: tuple[ModelRow, ...]
    venue_position: Decimal | None
    ledgers_total: Decimal
    orphan: Decimal
    reconciled: bool
    alert: str | None
    rounds: int
    orders_sent: int
    fills: int
    md_messages: int

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (decimals as strings)."""
        return {
            "symbol": self.symbol,
            "models": [m.to_json() for m in self.models],
            "venue_position": None if self.venue_position is None else str(self.venue_position),
            "ledgers_total": str(self.ledgers_total),
            "orphan": str(self.orphan),
            "reconciled": self.reconciled,
            "alert": self.alert,
            "rounds": self.rounds,
            "orders_sent": self.orders_sent,
            "fills": self.fills,
            "md_messages": self.md_messages,
        }


def load_model_strategy(spec: ModelSpec, base: Path | None = None) -> Any:
    """The expression of a model spec: a bundled champion or a strategy file (codec only)."""
    if spec.strategy.startswith(CHAMPION_PREFIX):
        return load_champion(spec.strategy.removeprefix(CHAMPION_PREFIX))
    path = Path(spec.strategy)
    if not path.is_absolute() and base is not None:
        path = base / path
    return load_strategy(path)


def to_execution(row: BybitExecution) -> Execution:
    """The exact ledger row of one venue execution (MalformedMessageError when unusable)."""
    return ex.from_fields(msgspec.structs.asdict(row), row.category or "linear")


def to_venue_order(row: Any) -> VenueOrder:
    """A journal VenueOrder from the client's order record."""
    fields = {
        k: str(v) if isinstance(v, Decimal) else v for k, v in msgspec.structs.asdict(row).items()
    }
    return parse_venue_order(fields)


class Engine:
    """Trades `config.models` on one symbol of one venue account until stopped."""

    def __init__(
        self,
        config: EngineConfig,
        venue: BybitConfig,
        credentials: Credentials,
        *,
        strategy_base: Path | None = None,
    ) -> None:
        self.config = config
        self.venue = venue
        self.symbol = config.symbol
        self.state = LiveState(config.symbol)
        self.journal = Journal(config.journal, synchronous=config.journal_synchronous)
        self.rest = BybitRestClient(venue, credentials)
        self.router = OrderRouter(self.rest, self.journal, self.symbol)
        self.watch = Watchtower(WatchtowerConfig(kill_fraction=config.kill_fraction))
        self.kill = KillSwitch(config.kill_file or None)
        self.limits = IntentLimits(max_position=config.max_position)
        self.alloc = self.journal.allocator()
        self.cwo = Allocator(AllocatorConfig(interval_s=config.cwo_interval_s))
        self.pit_crew: PitCrew | None = None  # made in start(), once the instrument is known
        self._credentials = credentials
        self._specs = config.models
        self._strategy_base = strategy_base
        self.models: list[TradingModel] = []
        self.book: Book | None = None
        self.feed: MarketFeed | None = None
        self.instrument: Instrument | None = None
        self.public: BybitPublicWs | None = None
        self.private: BybitPrivateWs | None = None
        self._last_round = 0.0
        self._rounds_since_check = 0
        self._last_check = 0.0
        self._verifying = False
        self._needs_recovery = False
        self._flatten_at = 0.0
        self._flat_recorded = False
        self._compact_at = time.monotonic() + COMPACT_EVERY_S
        self._liq_recorded: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self.malformed_executions = 0
        self.foreign_orders = 0
        self.fill_counts: dict[int, int] = {}  # slot -> fills applied (survives compaction)

    # ---- lifecycle ----

    async def start(self) -> None:
        """Loads the instrument, sets up models and ledgers, reconciles, opens the streams."""
        await self._start_step(self.rest.sync_time, "server time")
        found = await self._start_step(lambda: self.rest.instruments(self.symbol), "instruments")
        if self.symbol not in found:
            raise ConfigError(f"engine.symbol: {self.symbol} is not listed by the venue")
        self.instrument = found[self.symbol]
        self.feed = feed = MarketFeed(self.instrument, bars=self.config.bar_spec())
        self._setup_models()
        feed.check_models(self.models)
        self.pit_crew = PitCrew.for_engine(self.config, self.instrument, self.journal)
        # Resumed shadows warm up on the seed as the champions do; it holds enough bars for
        # every head, which adapts on the newest one (restart: the same bars again).
        resumed = self.pit_crew.resume(len(self.models)) if self.pit_crew is not None else []
        feed.want_bars_for([*self.models, *resumed])
        await self._start_step(lambda: feed.seed_bars(self.rest), "klines")
        feed.warm_up([*self.models, *resumed])
        await self._start_step(self._reconcile_on_start, "start reconciliation")
        since = self.journal.last_exec_time_ms(self.symbol)
        self._needs_recovery = since is not None
        # the newest fills in memory, every older one answered by the journal's execId index
        seen = ExecIdSet(STREAM_EXEC_IDS, known=self.journal.has_execution)
        self.private = BybitPrivateWs(
            self.venue, self._credentials, self._on_private, rest=self.rest, since_ms=since,
            seen=seen,
        )  # fmt: skip
        depth = self.config.orderbook_depth
        topics = [f"orderbook.{depth}.{self.symbol}", f"publicTrade.{self.symbol}"]
        topics += feed.topics()
        self.public = BybitPublicWs(self.venue, topics, self._on_public)
        self.private.start()
        self.public.start()
        self._spawn(self._ticker())

    async def run(
        self, duration_s: float | None = None, stop: asyncio.Event | None = None
    ) -> Summary:
        """start(), trade until `stop` is set or `duration_s` passes, then close(); the summary."""
        stop = stop or asyncio.Event()
        try:
            if not await self._start_unless(stop):
                log.warning("stopped during start-up; the next start reconciles with the venue")
                return self._summary(None)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), duration_s)
            return await self.close()
        finally:
            await self._shutdown()

    async def _start_unless(self, stop: asyncio.Event) -> bool:
        """start(), abandoned when `stop` is set first (a SIGTERM during a long venue back-off)."""
        starting = asyncio.ensure_future(self.start())
        stopping = asyncio.ensure_future(stop.wait())
        done, _ = await asyncio.wait({starting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        if starting in done:
            stopping.cancel()
            starting.result()  # start's own error, if any, goes up as before
            return True
        starting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await starting
        return False

    async def close(self) -> Summary:
        """Stops the streams, waits for orders in flight, checks the venue; the final summary."""
        for ws in (self.public, self.private):
            if ws is not None:
                await ws.stop()
        await self.router.close()
        venue_pos: Decimal | None = None
        try:
            # Bounded: a venue in a long back-off must not hold a stop hostage; the journal has
            # everything and the next start reconciles against the venue anyway.
            async with asyncio.timeout(FINAL_CHECK_TIMEOUT_S):
                venue_pos = await self._venue_position()
                await self._recover()
                venue_pos = await self._settle(venue_pos)
        except BybitError as exc:
            log.warning("final venue check failed: %s", exc)
        except TimeoutError:
            log.warning(
                "final venue check skipped: no answer within %.0f s (the next start reconciles)",
                FINAL_CHECK_TIMEOUT_S,
            )
        return self._summary(venue_pos)

    async def _shutdown(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=2)
        for ws in (self.public, self.private):
            if ws is not None:
                await ws.stop()
        await self.rest.aclose()
        self.journal.close()

    def trigger_kill(self, reason: str) -> None:
        """The dashboard's kill button: stop trading and flatten everything."""
        self.kill.trigger(reason)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("engine task failed", exc_info=task.exception())

    # ---- setup ----

    def _setup_models(self) -> None:
        names = {slot: spec.name for slot, spec in enumerate(self._specs)}
        known = {m.slot: m.name for m in self.journal.models()}
        if known and known != names:
            raise ConfigError(
                f"models: the journal {self.journal.path} has {known}, the config {names}; "
                "use a new journal for a different set of models"
            )
        if not known:
            for slot, name in names.items():
                self.journal.record_model(slot, name, self.symbol, self.config.capital)
        books = self.journal.rebuild()
        capitals = {n: self.config.capital for n in names.values()}
        self.book = books.get(self.symbol) or Book(
            self.symbol, capitals, slot_router(names), exec_rows=self.journal.exec_rows
        )
        states, weights = self.journal.latest_states(), self.journal.latest_weights()
        weight = Decimal(1) / len(names)
        promoted = promoted_strategies(self.journal.path)  # Pit Crew swaps survive a restart
        heads = promoted_heads(self.journal.path)  # with their MAML heads (re-warmed from no bars)
        for slot, spec in enumerate(self._specs):
            expr = promoted.get(slot) or load_model_strategy(spec, self._strategy_base)
            m = TradingModel(slot, spec.name, self.symbol, expr, self.book.ledger(spec.name),
                             head=heads.get(slot) if slot in promoted else None)  # fmt: skip
            self._restore_state(m, states.get(slot))
            if weights.get(slot) != weight:
                self.journal.record_weight(slot, weight)
            m.set_weight(weight)
            self.models.append(m)
            self.fill_counts[slot] = m.ledger.fill_count

    def _restore_state(self, m: TradingModel, last: str | None) -> None:
        if last is None:
            self.journal.record_state(m.slot, "shadow", "active", "engine start")
            m.apply_event(ModelEvent.PROMOTE)
        elif last == ModelState.ACTIVE.value:
            m.apply_event(ModelEvent.PROMOTE)
        elif last == ModelState.DEAD.value:
            m.apply_event(ModelEvent.KILL)
            self.router.blocked_slots.add(m.slot)
            self.watch.dead[m.name] = "dead before the restart"
            self.watch.liquidate(m.slot, self.symbol, time.monotonic())

    async def _start_step(self, step: Callable[[], Awaitable[T]], what: str) -> T:
        """A start-up step that only reads the venue (or journals after all its reads), retried
        with backoff on a transient venue error: a restart during a venue hiccup (502, 10006,
        10002 past the re-syncs) must not exit. The error is raised after START_ATTEMPTS."""
        backoff = Backoff(0.5, 8.0)
        for _ in range(START_ATTEMPTS - 1):
            try:
                return await step()
            except (BybitRetryableError, BybitAmbiguousError) as exc:
                delay = backoff.next()
                log.warning("start: %s failed (%s); retrying in %.1f s", what, exc, delay)
                await asyncio.sleep(delay)
        return await step()

    async def _reconcile_on_start(self) -> None:
        """Journal vs venue: missing fills applied once, stale orders closed, orphans adopted."""
        assert self.book is not None
        rows = await self.rest.positions(self.symbol)
        position = sum((r.signed_size for r in rows if r.symbol == self.symbol), ZERO)
        avg = next((r.avg_price for r in rows if r.symbol == self.symbol and r.size), None)
        orders = [to_venue_order(o) for o in await self.rest.open_orders(self.symbol)]
        fills = await self._venue_executions_since_last()
        plan = reconcile(self.journal, self.book, orders, position, fills)
        price = avg if avg is not None and avg > 0 else ZERO
        if plan.orphan_position != 0 and price == 0:
            price = await self._rest_mid()  # adoption needs a price; the venue gave none
        alert = apply_plan(self.journal, self.book, plan, position, price, now_ms())
        for o in (*plan.working, *plan.foreign_orders):
            self.foreign_orders += o in plan.foreign_orders
            log.warning("cancelling open order %s found on start", o.order_link_id or o.order_id)
            try:
                await self.rest.cancel_order(self.symbol, order_id=o.order_id)
            except BybitError as exc:
                log.warning("cancel of %s failed: %s", o.order_id, exc)
        self.state.venue_position = position
        if alert is not None:
            self._alert(str(alert))
        log.info(
            "start reconciliation: %d executions applied, %d orders closed, orphan %s",
            len(plan.apply), len(plan.closed), plan.orphan_position,
        )  # fmt: skip

    async def _venue_executions_since_last(self) -> list[Execution]:
        since = self.journal.last_exec_time_ms(self.symbol)
        if since is not None:
            rows = await recover_executions(self.rest, since, ExecIdSet(), symbol=self.symbol)
            return self._convert(rows)
        first = self.journal.first_intent_time_ms(self.symbol)
        if first is None:
            return []  # a new journal owns no venue history (an old position is adopted)
        # Orders were sent but no venue fill journaled (a crash before the first one landed):
        # read from the first order on (less a clock margin), keeping fills of OUR orders only,
        # or their position would be adopted as an orphan and flattened by a real trade.
        start = first - START_CLOCK_MARGIN_MS
        rows = await recover_executions(self.rest, start, ExecIdSet(), symbol=self.symbol)
        return [e for e in self._convert(rows) if self.journal.intent(e.order_link_id) is not None]

    def _convert(self, rows: list[BybitExecution]) -> list[Execution]:
        out = []
        for row in rows:
            try:
                out.append(to_execution(row))
            except MalformedMessageError as exc:
                self.malformed_executions += 1
                log.warning("execution %s skipped: %s", row.execId, exc)
        return [e for e in out if e.symbol == self.symbol]

    async def _rest_mid(self, attempts: int = 50) -> Decimal:
        for _ in range(attempts):
            ob = await self.rest.orderbook(self.symbol, limit=1)
            if ob.b and ob.a:
                return (Decimal(ob.b[0][0]) + Decimal(ob.a[0][0])) / 2
            await asyncio.sleep(0.2)  # a venue that just started may have no book yet
        raise ConfigError(f"{self.symbol}: the venue shows no two-sided book")

    # ---- market data ----

    def _on_public(self, event: object) -> Awaitable[None] | None:
        """One public event; after a round that sent orders, an awaitable that yields once, so
        the send task reaches the venue before the reader drains a backlog of frames."""
        t0 = stamp()
        feed = self.feed
        assert feed is not None
        if isinstance(event, BookUpdate):
            if event.symbol != self.symbol:
                return None
            self.state.md_messages += 1
            row = feed.on_book(event)
            if not self._round_due():
                self._signal(row)
                return None
            mid = feed.mid()
            if mid is None:
                self._signal(row)
                return None
            if self._round(row, mid, t0):
                return self._adapt_after_send(row, mid)
            self._adapt(row, mid)
            return None
        elif isinstance(event, TradeBatch):
            self.state.md_messages += 1
            if self.pit_crew is not None:
                self.pit_crew.on_trades(event)
            for row in feed.on_trades(event):
                self._signal(row)
        elif isinstance(event, KlineUpdate):
            for row in feed.on_kline(event):  # a closed bar: bar-clocked models read it
                self._signal(row)
            if feed.gap_to_fill() is not None:  # closed bars missed: fetched, then in order
                self._spawn(self._fill_bar_gap(feed))
        elif isinstance(event, StreamStatus):
            log.info("public stream: %s %s", event.kind, event.detail)
        return None

    async def _fill_bar_gap(self, feed: MarketFeed) -> None:
        for row in await feed.fill_gap(self.rest):
            self._signal(row)

    def _signal(self, row: dict[str, float]) -> None:
        for m in self.models:
            m.signal(row)
        if self.pit_crew is not None:
            self.pit_crew.on_row(row)

    def _round_due(self) -> bool:
        return time.monotonic() - self._last_round >= self.config.round_interval_s

    # ---- decision round ----

    def _round(self, row: dict[str, float], mid: Decimal, t0: Stamp) -> bool:
        """Targets -> Watchtower -> plan -> orders + internal fills; True when orders went out."""
        assert self.instrument is not None and self.book is not None
        self._last_round = time.monotonic()
        self.state.rounds += 1
        self.state.mid = mid
        targets = {m.slot: m.target_position(row, mid, self.instrument) for m in self.models}
        self._mark(mid)
        self._rounds_since_check += 1
        if self._blocked() is not None:
            return False
        views = [
            ModelView(m.slot, targets[m.slot], m.ledger.inventory, self.router.working(m.slot))
            for m in self.models
            if m.state is ModelState.ACTIVE and not self.router.cooling(m.slot)
        ]
        plan = plan_round(
            self.symbol, views, self.book.total_inventory(), mid, self.instrument, self.limits,
            self.alloc.next, now_ms(),
        )  # fmt: skip
        self.router.submit(plan.intents, t0)
        self.state.orders_sent += len(plan.intents)
        # Orders first: the send task journals and sends the first order before this runs
        # (the crosses net to zero at the venue, so booking them a moment later is safe).
        asyncio.get_running_loop().call_soon(self._book_internal, plan.fills)
        if plan.cancels:
            self._spawn(self.router.cancel(plan.cancels))
        return bool(plan.intents)

    async def _adapt_after_send(self, row: dict[str, float], mid: Decimal) -> None:
        await asyncio.sleep(0)  # the send task reaches the venue first
        self._adapt(row, mid)

    def _adapt(self, row: dict[str, float], mid: Decimal) -> None:
        """After each round: CWO weights, then the Pit Crew (shadows trade on paper; a promotion
        swaps a model, trading from the next round). Off the tick-to-order path."""
        reweight(self.cwo, self.models, mid, self.journal, time.monotonic())
        if self.pit_crew is not None and self.feed is not None:
            self.pit_crew.on_round(row, self.feed.book, mid, self.models)
            self.feed.warm_up(s.model for s in self.pit_crew.shadows.values())

    def _blocked(self) -> str | None:
        """Why no new round may trade now (None: it may)."""
        if self.kill.check() is not None:
            self.router.blocked_all = True  # orders planned before it are not sent either
            return "kill switch"
        if self.state.alert is not None:
            return "reconciliation alert"
        if not self.state.private_ready:
            return "private stream not ready"
        if self.router.inflight:
            return "orders in flight"
        return None

    def _book_internal(self, fills: tuple[Execution, ...]) -> None:
        assert self.book is not None
        for fresh, f in zip(self.journal.record_executions(fills, "internal"), fills, strict=True):
            if fresh and self.book.apply(f):
                self.state.internal_fills += 1
                self._count(f)

    def _mark(self, mid: Decimal) -> None:
        """Watchtower: equity of every model; a death is journaled, then acted on."""
        now = time.monotonic()
        for m in self.models:
            mark = self.watch.mark(m.ledger, mid)
            if mark.death is None or m.state is ModelState.DEAD:
                continue
            before, after = m.state, ModelState.DEAD
            self.journal.record_state(m.slot, before.value, after.value, mark.death)
            self.journal.record_kill(m.slot, "sudden_death", mark.death)
            m.apply_event(ModelEvent.KILL)
            self.router.blocked_slots.add(m.slot)
            self.watch.liquidate(m.slot, self.symbol, now)
            log.error("model %s killed: %s; flattening", m.name, mark.death)

    # ---- the ticker: liquidations, kill switch, orphans, invariant, stale orders ----

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            self.router.settle()
            self._refresh_state()
            self._compact()
            if not self.state.private_ready or self.state.mid is None:
                continue
            if self.kill.check() is not None:
                self._kill_flatten()
            else:
                self._liquidate()
                self._flatten_orphan()
            if self.router.stale(STALE_ORDER_S) and not self._verifying:
                self._spawn(self._resolve_stale())
            if self._check_due():
                self._spawn(self._check_invariant())

    def _compact(self) -> None:
        """Bounds memory on long runs: ledgers forget fills older than KEEP_FILLS_MS (their
        effect stays, execIds stay for dedupe; the journal keeps everything)."""
        now = time.monotonic()
        if self.book is None or now < self._compact_at:
            return
        self._compact_at = now + COMPACT_EVERY_S
        cut = now_ms() - KEEP_FILLS_MS
        for ledger in (*self.book.ledgers.values(), self.book.orphan):
            ledger.compact(cut)

    def _liquidate(self) -> None:
        assert self.instrument is not None and self.book is not None
        now = time.monotonic()
        for m in self.models:
            liq = self.watch.liquidations.get(m.slot)
            if liq is None:
                continue
            if liq.outcome is not LiquidationOutcome.PENDING:
                if m.slot not in self._liq_recorded:
                    self._liq_recorded.add(m.slot)
                    self.journal.record_kill(m.slot, "flatten", liq.describe())
                continue
            intents = liq.step(
                now, m.ledger.inventory, self.book.total_inventory(), self.router.working(m.slot),
                self.instrument, self.alloc.next,
            )  # fmt: skip
            self.router.submit(intents)
            self.state.orders_sent += len(intents)

    def _flatten_orphan(self) -> None:
        assert self.instrument is not None and self.book is not None
        inv = self.book.orphan.inventory
        slot = order_ids.ENGINE_SLOT
        if inv == 0 or self.router.working(slot) or time.monotonic() < self._flatten_at:
            return
        self._flatten_at = time.monotonic() + FLATTEN_RETRY_S
        plan = flatten_plan(
            slot, self.symbol, inv, self.book.total_inventory(), self.instrument, self.alloc.next,
            reason="orphan",
        )  # fmt: skip
        log.warning("flattening orphaned position %s (dust %s)", inv, plan.dust)
        self.router.submit(plan.intents)
        self.state.orders_sent += len(plan.intents)

    def _kill_flatten(self) -> None:
        """Kill switch: cross opposite model positions at mid, send the net, retry until flat."""
        assert self.instrument is not None and self.book is not None
        if self.state.kill is None:
            self.router.blocked_all = True
            self.state.kill = self.kill.reason
            self.journal.record_kill(None, "kill_switch", str(self.kill.reason))
            log.error("kill switch: %s; flattening everything", self.kill.reason)
        if self.router.inflight or time.monotonic() < self._flatten_at:
            return
        inventories = {m.slot: m.ledger.inventory for m in self.models}
        inventories[order_ids.ENGINE_SLOT] = self.book.orphan.inventory
        if all(v == 0 for v in inventories.values()):
            if not self._flat_recorded:
                self._flat_recorded = True
                self.journal.record_kill(None, "flatten", "flat")
            return
        self._flatten_at = time.monotonic() + FLATTEN_RETRY_S
        mid = self.state.mid
        assert mid is not None
        plan = flatten_all(self.symbol, inventories, mid, self.instrument, self.alloc.next)
        for c in plan.crosses:
            self._book_internal(internal_fills(c, self.symbol, now_ms(), self.alloc.next))
        self.router.submit(plan.intents)
        self.state.orders_sent += len(plan.intents)

    def _check_due(self) -> bool:
        if self._verifying or self.router.inflight:
            return False
        due = time.monotonic() - self._last_check >= self.config.check_interval_s
        return due and (self._rounds_since_check > 0 or self.state.alert is not None)

    async def _check_invariant(self) -> None:
        """Σ ledgers vs the venue: the position topic first, REST (and recovery) to confirm."""
        assert self.book is not None
        self._verifying = True
        self._last_check = time.monotonic()
        self._rounds_since_check = 0
        try:
            if (
                self.state.venue_position is not None
                and self.book.check(self.state.venue_position) is None
                and self.state.alert is None
            ):
                return
            position = await self._venue_position()
            await self._recover()
            position = await self._settle(position)
            alert = self.book.check(position)
            if alert is None:
                if self.state.alert is not None:
                    log.warning("reconciliation restored: ledgers equal the venue position")
                self.state.alert = None
                self.state.paused = None
            else:
                self._alert(str(alert))
        except BybitError as exc:
            log.warning("invariant check could not reach the venue: %s", exc)
        finally:
            self._verifying = False

    def _alert(self, text: str) -> None:
        if self.state.alert != text:
            log.error("RECONCILIATION ALERT (new orders paused): %s", text)
        self.state.alert = text
        self.state.paused = "reconciliation alert"

    async def _venue_position(self) -> Decimal:
        rows = await self.rest.positions(self.symbol)
        position = sum((r.signed_size for r in rows if r.symbol == self.symbol), ZERO)
        self.state.venue_position = position
        return position

    async def _settle(self, position: Decimal) -> Decimal:
        """Reads the venue again (twice at most) while its position and the ledgers disagree: a
        resting order may fill between the position read and the executions read."""
        for _ in range(2):
            if self.book is None or self.book.check(position) is None:
                break
            position = await self._venue_position()
            await self._recover()
        return position

    async def _recover(self) -> None:
        """Reads back executions since the newest one known and applies the missing ones."""
        if self.private is None:
            return
        since = self.journal.last_exec_time_ms(self.symbol)
        if since is None:
            # No fill journaled yet, and on its first session the stream has no start point of
            # its own: read from our first order on, as a restart does (the journal drops
            # duplicates), or fills that raced a stop would be missing from the final check.
            found = await self._venue_executions_since_last()
        else:
            found = self._convert(await self.private.recover_executions(since))
        if found:
            log.warning("recovered %d executions over REST", len(found))
            self._apply(found, "rest")

    async def _resolve_stale(self) -> None:
        """Orders with no final word from the stream: ask the venue (and fetch their fills)."""
        self._verifying = True
        try:
            for flight in self.router.stale(STALE_ORDER_S):
                link = flight.intent.order_link_id
                order = await self.rest.find_order(self.symbol, link)
                rows = await self.rest.executions(symbol=self.symbol, order_link_id=link)
                self._apply(self._convert(rows), "rest")
                if order is None:
                    self.router.unknown_at_venue(flight)
                else:
                    self.router.on_order(order)
                flight.since_s = time.monotonic()  # ask again later if still not done
        except BybitError as exc:
            log.warning("resolving stale orders failed: %s", exc)
        finally:
            self._verifying = False

    # ---- private stream ----

    def _on_private(self, event: object) -> None:
        if isinstance(event, ExecutionEvent):
            self._apply(self._convert(event.executions), "rest" if event.recovered else "ws")
        elif isinstance(event, OrderEvent):
            for o in event.orders:
                if o.symbol != self.symbol:
                    continue
                if order_ids.slot_of(o.orderLinkId) is None:
                    self.foreign_orders += 1
                    log.warning("order %s on %s is not ours", o.orderId, o.symbol)
                self.router.on_order(o)
        elif isinstance(event, PositionEvent):
            for p in event.positions:
                if p.symbol == self.symbol:
                    self.state.venue_position = p.signed_size
        elif isinstance(event, StreamStatus):
            self._private_status(event)

    def _private_status(self, event: StreamStatus) -> None:
        log.info("private stream: %s %s", event.kind, event.detail)
        if event.kind == "disconnected":
            self.state.private_ready = False
            self._needs_recovery = True
        elif event.kind == "ready" and not self._needs_recovery:
            self.state.private_ready = True
            self._needs_recovery = True  # every later session recovers before trading
        elif event.kind == "recovered":
            self.state.private_ready = True
            self._rounds_since_check += 1  # verify the invariant after a recovery
        elif event.kind == "recovery_failed":
            self._alert("private stream recovery failed; fills may be missing")
            self.state.private_ready = True  # the invariant check recovers over REST

    def _apply(self, rows: list[Execution], source: str) -> None:
        """Journal first, then the ledgers; each execId once."""
        assert self.book is not None
        if not rows:
            return
        for fresh, e in zip(self.journal.record_executions(rows, source), rows, strict=True):
            if fresh and self.book.apply(e):
                self.state.fills += 1
                self.router.on_fill(e)
                self._count(e)

    def _count(self, e: Execution) -> None:
        slot = order_ids.slot_of(e.order_link_id)
        if slot in self.fill_counts and e.kind in INVENTORY_KINDS:
            self.fill_counts[slot] += 1

    # ---- reporting ----

    def model_rows(self, mark: Decimal | None) -> list[ModelRow]:
        """Every model's books now, equity at `mark`."""
        rows = []
        for m in self.models:
            n = self.fill_counts.get(m.slot, 0)
            rows.append(_row(m.slot, m.name, m.state.value, m.weight, m.ledger, mark, n))
        return rows

    def _refresh_state(self) -> None:
        assert self.book is not None
        self.state.ledgers_total = self.book.total_inventory()
        self.state.orphan = self.book.orphan.inventory
        self.state.models = self.model_rows(self.state.mid)
        self.state.paused = self._blocked()

    def _summary(self, venue_pos: Decimal | None) -> Summary:
        if self.book is None:  # stopped before the ledgers were loaded
            return Summary(
                symbol=self.symbol, models=(), venue_position=None, ledgers_total=ZERO,
                orphan=ZERO, reconciled=False, alert="stopped during start-up", rounds=0,
                orders_sent=0, fills=0, md_messages=self.state.md_messages,
            )  # fmt: skip
        alert = None if venue_pos is None else self.book.check(venue_pos)
        mark = self.feed.mid() if self.feed is not None else None
        return Summary(
            symbol=self.symbol,
            models=tuple(self.model_rows(mark or self.state.mid)),
            venue_position=venue_pos,
            ledgers_total=self.book.total_inventory(),
            orphan=self.book.orphan.inventory,
            reconciled=venue_pos is not None and alert is None,
            alert=None if alert is None else str(alert),
            rounds=self.state.rounds,
            orders_sent=self.state.orders_sent,
            fills=self.state.fills,
            md_messages=self.state.md_messages,
        )


def _row(
    slot: int,
    name: str,
    state: str,
    weight: Decimal,
    ledger: Ledger,
    mark: Decimal | None,
    fills: int,
) -> ModelRow:
    s = ledger.state
    return ModelRow(
        slot, name, state, weight, s.inventory, s.avg_entry, s.cash, s.fees, s.funding,
        s.realized, None if mark is None else s.equity(mark), fills,
    )  # fmt: skip
