"""Order intents -> venue orders over REST; every ack, refusal and order state journaled.

An intent is journaled (`record_intent`) right before its request is built (a crash between the
two leaves a journaled intent the venue never saw; reconciliation closes it). It is *in flight*
from submission until the venue has said it is over (a terminal order status, or a refusal) AND
the fills the venue counted (`cumExecQty`) are all in our ledgers. While anything is in flight
the engine plans no new round, so a plan never rests on fills that are still on their way.

Latency: for orders a book message triggered, the time from that message's receipt to the
moment the request is handed to the REST client is kept (`latencies_ns`, wall clock), and the CPU
time this thread spent in between (`cpu_latencies_ns`: on a loaded machine the wall figure is
mostly waiting for a core), for the benchmark: the last MAX_LATENCY_SAMPLES of each (rings), and
`latency_count`, how many were ever recorded (readers take the new ones by it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from nexusforge.errors import JournalError
from nexusforge.nexus.execution import OrderSpec, RouterTactics
from nexusforge.nexus.executions import Execution
from nexusforge.nexus.intents import OrderIntent, WorkingOrder
from nexusforge.nexus.journal import TERMINAL, Journal
from nexusforge.nexus.venues.bybit import (
    BybitError,
    BybitOrder,
    BybitOrderNotFoundError,
    BybitRestClient,
    OrderRequest,
)

log = logging.getLogger(__name__)
ZERO = Decimal(0)
MAX_LATENCY_SAMPLES = 100_000
MAX_COOL_S = 30.0
FLATTENING = frozenset({"flatten", "kill", "orphan"})  # intent reasons that only reduce risk
# When a book message arrived: (perf_counter_ns, thread_time_ns).
Stamp = tuple[int, int]


def stamp() -> Stamp:
    """Now, on the wall clock and on this thread's CPU clock."""
    return time.perf_counter_ns(), time.thread_time_ns()


@dataclass(slots=True)
class InFlight:
    """One of our orders the venue has not finished with (or whose fills are still coming)."""

    intent: OrderIntent
    since_s: float
    sent: bool = False
    order_id: str = ""
    status: str = "Pending"
    cum_exec_qty: Decimal | None = None
    filled: Decimal = ZERO

    @property
    def terminal(self) -> bool:
        """The venue will not fill it any further."""
        return self.status in TERMINAL

    @property
    def done(self) -> bool:
        """Terminal and every fill the venue counted is in the ledger."""
        return self.terminal and (self.cum_exec_qty is None or self.filled >= self.cum_exec_qty)

    def working(self) -> WorkingOrder:
        """The planner's view: what may still fill."""
        leaves = ZERO if self.terminal else max(self.intent.qty - self.filled, ZERO)
        return WorkingOrder(self.intent.order_link_id, self.intent.side, leaves)


@dataclass(slots=True)
class RouterStats:
    """Counters of the order path."""

    sent: int = 0
    acked: int = 0
    rejected: int = 0
    cancels: int = 0
    resolved_by_query: int = 0
    errors: dict[int, int] = field(default_factory=dict)


class OrderRouter:
    """Sends intents, tracks them until done, journals every venue answer."""

    def __init__(self, rest: BybitRestClient, journal: Journal, symbol: str) -> None:
        self.rest = rest
        self.journal = journal
        self.symbol = symbol
        self.inflight: dict[str, InFlight] = {}
        self.stats = RouterStats()
        self.latencies_ns: deque[int] = deque(maxlen=MAX_LATENCY_SAMPLES)
        self.cpu_latencies_ns: deque[int] = deque(maxlen=MAX_LATENCY_SAMPLES)
        self.latency_count = 0
        self.blocked_slots: set[int] = set()  # dead models: only flattening orders go out
        self.blocked_all = False  # kill switch: only flattening orders go out
        self._refusals: dict[int, int] = {}  # slot -> refusals in a row
        self._cool_until: dict[int, float] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.closing = False  # set by drain(): from then on nothing new goes to the venue
        # IEL (nexus/execution.py): the venue order per intent; None sends market orders.
        self.tactics: RouterTactics | None = None
        self._specs: dict[str, OrderSpec] = {}

    # ---- sending ----

    def submit(self, intents: Iterable[OrderIntent], t0: Stamp | None = None) -> None:
        """Counts the intents in flight now; a task journals and sends them one by one (each
        intent is committed to the journal before its request is built)."""
        if self.closing:
            return
        batch = list(intents)
        if self.tactics is not None:
            batch = self._with_tactics(batch)
        if not batch:
            return
        now = time.monotonic()
        for intent in batch:
            self.inflight[intent.order_link_id] = InFlight(intent, now)
        self._spawn(self._send_all(batch, t0))

    def _with_tactics(self, batch: list[OrderIntent]) -> list[OrderIntent]:
        """The intents with the order type the IEL chose; a `wait` intent is not sent (the
        next round plans the need again)."""
        assert self.tactics is not None
        out = []
        for intent in batch:
            spec = self.tactics.spec_for(intent.slot, intent.side, intent.qty, intent.reason)
            if spec is None:
                continue
            self._specs[intent.order_link_id] = spec
            out.append(replace(intent, order_type=spec.order_type))
        return out

    def _expire(self, link: str) -> None:
        """A resting order's timeout: cancel it if the venue has not finished it."""
        flight = self.inflight.get(link)
        if flight is not None and not flight.terminal:
            self._spawn(self.cancel([link]))

    def adopt(self, intent: OrderIntent) -> None:
        """Tracks an order of ours found open at the venue on start (already journaled or not)."""
        self.inflight[intent.order_link_id] = InFlight(intent, time.monotonic(), sent=True)

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        if self.closing:
            coro.close()
            return
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_all(self, batch: list[OrderIntent], t0: Stamp | None) -> None:
        for intent in batch:
            await self._send(intent, t0)
            t0 = None  # only the first order of a round measures tick-to-order

    async def _send(self, intent: OrderIntent, t0: Stamp | None) -> None:
        spec = self._specs.pop(intent.order_link_id, None)
        if self.closing:  # the rest of a batch planned before the stop: never sent
            self.inflight.pop(intent.order_link_id, None)
            return
        if intent.reason not in FLATTENING and (
            self.blocked_all or intent.slot in self.blocked_slots
        ):
            # Planned before a death or the kill switch, not sent yet: never sent at all.
            log.warning("order %s dropped: its model may only flatten now", intent.order_link_id)
            self.inflight.pop(intent.order_link_id, None)
            return
        try:
            self.journal.record_intent(intent)
        except JournalError as exc:  # never send what the journal does not hold
            log.error("order %s not sent: %s", intent.order_link_id, exc)
            self.inflight.pop(intent.order_link_id, None)
            return
        request = OrderRequest(
            symbol=intent.symbol,
            side="Buy" if intent.side > 0 else "Sell",
            order_type=intent.order_type,
            qty=intent.qty,
            order_link_id=intent.order_link_id,
            price=spec.price if spec else None,
            time_in_force=spec.time_in_force if spec else None,
            reduce_only=intent.reduce_only,
        )
        if t0 is not None:
            self.latencies_ns.append(time.perf_counter_ns() - t0[0])
            self.cpu_latencies_ns.append(time.thread_time_ns() - t0[1])
            self.latency_count += 1
        self.stats.sent += 1
        flight = self.inflight.get(intent.order_link_id)
        if flight is not None:
            flight.sent = True
        try:
            ack = await self.rest.create_order(request)
        except BybitError as exc:
            self._refused(intent.order_link_id, exc)
            self._cool(intent.slot)
            return
        self.stats.acked += 1
        self._refusals.pop(intent.slot, None)
        self.journal.record_ack(intent.order_link_id, status="New", order_id=ack.orderId)
        if flight is not None and not flight.order_id:
            flight.order_id = ack.orderId
        if spec is not None and spec.timeout_s is not None:
            asyncio.get_running_loop().call_later(
                spec.timeout_s, self._expire, request.order_link_id
            )

    def _cool(self, slot: int) -> None:
        """A refused order: the slot waits 1, 2, 4 … 30 s before its next order (never a tight
        loop of orders the venue keeps refusing, e.g. insufficient balance)."""
        n = self._refusals[slot] = self._refusals.get(slot, 0) + 1
        self._cool_until[slot] = time.monotonic() + min(MAX_COOL_S, 2.0 ** (n - 1))

    def cooling(self, slot: int) -> bool:
        """Whether `slot` is waiting after refused orders."""
        return time.monotonic() < self._cool_until.get(slot, 0.0)

    def _refused(self, link: str, exc: BybitError) -> None:
        self.stats.rejected += 1
        self.stats.errors[exc.code] = self.stats.errors.get(exc.code, 0) + 1
        log.warning("order %s refused: %s", link, exc)
        self.journal.record_ack(
            link, status="Rejected", ret_code=exc.code or -1, ret_msg=str(exc), cum_exec_qty=ZERO
        )
        flight = self.inflight.get(link)
        if flight is not None:
            flight.status, flight.cum_exec_qty = "Rejected", ZERO

    async def cancel(self, links: Iterable[str]) -> None:
        """Cancels orders of ours; "not found" means it is closed already (its fills tell)."""
        for link in links:
            self.stats.cancels += 1
            try:
                await self.rest.cancel_order(self.symbol, order_link_id=link)
            except BybitOrderNotFoundError:
                log.info("cancel %s: already closed at the venue", link)
            except BybitError as exc:
                log.warning("cancel %s failed: %s", link, exc)

    async def drain(self, timeout_s: float = 5.0) -> set[asyncio.Task[None]]:
        """Waits for the send tasks still running; those still running after `timeout_s`."""
        if not self._tasks:
            return set()
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout_s)
        return pending

    async def close(self, timeout_s: float = 5.0) -> None:
        """Stops sending, waits for requests already out, then cancels what is still waiting.

        A request still queued behind the rate limiter or a venue back-off when the time is up
        is cancelled before it leaves: an order sent after the engine's final venue check would
        fill where no ledger sees it. One cancelled on the wire is journaled and reconciled."""
        self.closing = True
        pending = await self.drain(timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("stop: %d order requests still waiting were cancelled", len(pending))
            await asyncio.wait(pending, timeout=1.0)

    # ---- venue answers ----

    def on_fill(self, e: Execution) -> None:
        """A new fill of one of our orders reached the ledgers."""
        flight = self.inflight.get(e.order_link_id)
        if flight is not None:
            flight.filled += e.qty

    def on_order(self, o: BybitOrder) -> None:
        """An order record (stream or REST) of one of our orders."""
        flight = self.inflight.get(o.orderLinkId)
        if flight is None:
            return
        if o.orderStatus != flight.status or o.cumExecQty != flight.cum_exec_qty:
            self.journal.record_ack(
                o.orderLinkId, status=o.orderStatus, order_id=o.orderId, cum_exec_qty=o.cumExecQty
            )
        flight.status, flight.cum_exec_qty = o.orderStatus, o.cumExecQty
        flight.order_id = flight.order_id or o.orderId

    def settle(self) -> list[InFlight]:
        """Forgets the orders that are done; returns them."""
        done = [f for f in self.inflight.values() if f.done]
        for f in done:
            del self.inflight[f.intent.order_link_id]
        return done

    def working(self, slot: int) -> tuple[WorkingOrder, ...]:
        """Orders of `slot` that may still fill."""
        return tuple(f.working() for f in self.inflight.values() if f.intent.slot == slot)

    def stale(self, older_than_s: float) -> list[InFlight]:
        """Sent orders still not done after `older_than_s` (an order message may have been lost)."""
        now = time.monotonic()
        return [f for f in self.inflight.values() if f.sent and now - f.since_s > older_than_s]

    def unknown_at_venue(self, flight: InFlight) -> None:
        """The venue has no such order (never created): it is over with nothing filled."""
        self.stats.resolved_by_query += 1
        self.journal.record_ack(
            flight.intent.order_link_id, status="Cancelled", cum_exec_qty=flight.filled
        )
        flight.status, flight.cum_exec_qty = "Cancelled", flight.filled
