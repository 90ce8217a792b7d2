"""A dashboard source over a journal file, read-only: a past session, or one still running.

Each `snapshot()` reads only what was appended since the last one and folds it into `Book`s
rebuilt exactly as `Journal.rebuild` does (arrival order). The journal records no market data,
so equity is marked at the latest execution of each symbol (its mark price when the venue gave
one, else its price), unless the engine's process marks it live (`mark_fills=False`, `mark()`).
Venue health and reconciliation with the venue are not in a journal and show as unknown.
The kill switch cannot be tripped from here (`can_kill` is False).
"""

from __future__ import annotations

import time
from collections import deque
from decimal import Decimal
from pathlib import Path

from nexusforge.errors import NexusError
from nexusforge.nexus import order_ids
from nexusforge.nexus.dashboard.journal_tail import Appended, IntentRow, JournalTail, KillRow
from nexusforge.nexus.dashboard.snapshot import (
    AlertView,
    FillView,
    KillSwitchView,
    OrderView,
    ReconciliationView,
    Snapshot,
    WeightPoint,
)
from nexusforge.nexus.dashboard.track import ModelTrack
from nexusforge.nexus.executions import INVENTORY_KINDS, Execution
from nexusforge.nexus.journal import ModelRecord
from nexusforge.nexus.ledger import Book, slot_router

MAX_WEIGHT_POINTS = 1440  # a day of 60-second re-weights
MAX_ALERTS = 100
ROUND_MS = 1000  # weight rows closer than this belong to one CWO round


class JournalSource:
    """Reads a journal (WAL readers never block the engine writing it)."""

    def __init__(self, path: str | Path, *, mark_fills: bool = True) -> None:
        self.path = Path(path)
        self.mark_fills = mark_fills
        self._tail = JournalTail(self.path)
        self._reset(self._tail.models())

    @property
    def can_kill(self) -> bool:
        """A journal reader never acts on the engine."""
        return False

    def trigger_kill(self, reason: str) -> None:
        """Refused: this source only reads a file."""
        raise NexusError(f"{self.path}: a journal is read-only; the kill switch is not here")

    def close(self) -> None:
        """Closes the journal connection."""
        self._tail.close()

    def _reset(self, models: list[ModelRecord]) -> None:
        self._models = {m.slot: m for m in models}
        owner = slot_router({m.slot: m.name for m in models})
        self._books: dict[str, Book] = {}
        for sym in sorted({m.symbol for m in models}):
            capitals = {m.name: m.capital for m in models if m.symbol == sym}
            self._books[sym] = Book(sym, capitals, owner, exec_rows=self._tail.exec_rows)
        self._owner = owner
        self._tracks = {m.name: ModelTrack(m.capital) for m in models}
        self._marks: dict[str, Decimal] = {}
        self._states: dict[int, str] = {}
        self._weights: dict[int, Decimal] = {}
        self._weight_history: deque[WeightPoint] = deque(maxlen=MAX_WEIGHT_POINTS)
        self._alerts: deque[AlertView] = deque(maxlen=MAX_ALERTS)
        self._kill: str | None = None

    def _refresh(self, max_rows: int | None = None) -> bool:
        models = self._tail.models()
        if {m.slot: m for m in models} != self._models:
            # a model was (re-)registered: replay from the start so every row routes correctly
            self._tail.close()
            self._tail = JournalTail(self.path)
            self._reset(models)
        new = self._tail.read(max_rows)
        self._fold(new)
        return max_rows is None or new.rows < max_rows

    def _fold(self, new: Appended) -> None:
        for row in new.intents:
            self._intent(row)  # before the fills: an intent is journaled before its fills
        for e in new.executions:
            self._execution(e)
        for link, status in new.acks:
            track = self._track_of(link)
            if track is not None:
                track.order_status(link, status)
        for s in new.states:
            self._states[s.slot] = s.to_state
            if s.to_state == "dead":
                name = self._name(s.slot)
                self._alerts.append(AlertView(s.ts_ms, "critical", f"{name} dead: {s.reason}"))
        for ts, slot, w in new.weights:
            self._weights[slot] = w
            self._weight_point(ts)
        for k in new.kills:
            self._kill_event(k)

    def _execution(self, e: Execution) -> None:
        book = self._books.get(e.symbol)
        if book is None:
            book = Book(e.symbol, {}, self._owner, exec_rows=self._tail.exec_rows)
            self._books[e.symbol] = book
        applied = book.apply(e)
        if self.mark_fills and e.kind in INVENTORY_KINDS:
            self._marks[e.symbol] = e.mark_price if e.mark_price is not None else e.price
        owner = self._owner(e.order_link_id)
        if applied and owner in self._tracks and e.kind in INVENTORY_KINDS:
            fill = FillView(
                e.exec_time_ms, e.exec_id, e.order_link_id, e.side, e.qty, e.price, e.fee,
                e.exec_type,
            )  # fmt: skip
            self._tracks[owner].fill(fill)
        if self.mark_fills:
            self._mark_book(book, e.exec_time_ms)

    def mark(self, symbol: str, price: Decimal, ts_ms: int) -> None:
        """Marks `symbol`'s models at `price` (a live mid); the equity curves get a point."""
        self._marks[symbol] = price
        book = self._books.get(symbol)
        if book is not None:
            self._mark_book(book, ts_ms)

    def _mark_book(self, book: Book, ts_ms: int) -> None:
        mark = self._marks.get(book.symbol)
        if mark is None:
            return
        for name, ledger in book.ledgers.items():
            self._tracks[name].mark(ts_ms, ledger.equity(mark))

    def _intent(self, row: IntentRow) -> None:
        name = self._name(row.slot)
        if name not in self._tracks:
            return  # the engine's own orders (orphan flattening) belong to no model
        order = OrderView(
            row.ts_ms, row.order_link_id, row.side, row.qty, row.reduce_only, row.reason, "New"
        )
        self._tracks[name].order(order)

    def _weight_point(self, ts_ms: int) -> None:
        weights = tuple((self._name(s), w) for s, w in sorted(self._weights.items()))
        last = self._weight_history[-1].ts_ms if self._weight_history else None
        if last is not None and ts_ms - last < ROUND_MS:
            # one CWO round writes one row per model, a few ms apart: one point per round
            self._weight_history.pop()
            ts_ms = last
        self._weight_history.append(WeightPoint(ts_ms, weights))

    def _kill_event(self, k: KillRow) -> None:
        who = "account" if k.slot is None else self._name(k.slot)
        self._alerts.append(AlertView(k.ts_ms, "critical", f"{k.kind} ({who}): {k.detail}"))
        if k.slot is None and k.kind == "kill_switch" and self._kill is None:
            self._kill = k.detail

    def _name(self, slot: int) -> str:
        m = self._models.get(slot)
        return m.name if m is not None else f"slot {slot}"

    def _track_of(self, order_link_id: str) -> ModelTrack | None:
        slot = order_ids.slot_of(order_link_id)
        return None if slot is None else self._tracks.get(self._name(slot))

    def refresh(self, max_rows: int | None = None) -> bool:
        """Reads what was appended since the last read, at most `max_rows` rows per table (so a
        long journal can be caught up in slices between other work); True once caught up."""
        return self._refresh(max_rows)

    def snapshot(self, *, refresh: bool = True) -> Snapshot:
        """The whole state as a snapshot (after reading every new row, unless `refresh=False`)."""
        if refresh:
            self._refresh()
        views = []
        for slot, m in sorted(self._models.items()):
            ledger = self._books[m.symbol].ledger(m.name)
            views.append(
                self._tracks[m.name].view(
                    slot,
                    m.name,
                    m.symbol,
                    self._states.get(slot, "unknown"),
                    self._weights.get(slot, Decimal(0)),
                    ledger.state,
                    self._marks.get(m.symbol),
                )
            )
        return Snapshot(
            ts_ms=time.time_ns() // 1_000_000,
            source="journal",
            session=self._tail.run_id,
            models=tuple(views),
            weight_history=tuple(self._weight_history),
            reconciliation=self._reconciliation(),
            alerts=tuple(reversed(self._alerts)),
            kill_switch=KillSwitchView(self._kill is not None, self._kill, armable=False),
            marks=tuple(sorted(self._marks.items())),
        )

    def _reconciliation(self) -> ReconciliationView:
        orphans = {s: b.orphan.inventory for s, b in self._books.items() if b.orphan.inventory}
        if orphans:
            detail = ", ".join(f"{s} orphan position {q}" for s, q in sorted(orphans.items()))
            return ReconciliationView("alert", detail)
        return ReconciliationView("unknown", "the journal records no venue position")
