"""The engine's journal: SQLite in WAL mode, every record committed before it is acted on.

Tables (schema version `SCHEMA_VERSION`, kept in `meta`): `models` (slot → name, symbol, capital),
`order_intents` (unique orderLinkId), `venue_acks` (acks and later order states), `executions`
(unique execId, in arrival order; the row as JSON), `model_states`, `weights`, `kill_events`,
`link_sequence` (reserved orderLinkId sequence blocks). `synchronous=FULL` by default: a commit
is on disk before the call returns, so a `kill -9` loses nothing that was acknowledged.

After a restart, `rebuild()` replays the executions in arrival order into fresh `Book`s (so the
funding split and every ledger come out exactly as they were), and `reconcile()` compares the
journal with what the venue reports (open orders, position, executions since the last known one)
and says what to apply, which working orders to keep, which intents are closed and how much
position nobody owns. It never invents a fill to make numbers agree: an unexplained difference is
an orphaned position, adopted (`apply_plan`) into the orphan ledger at the venue's average price
and flattened there by the engine; never a synthetic execution in a model's ledger.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import Enum
from pathlib import Path
from types import TracebackType
from typing import Any

from nexusforge.errors import JournalError, MalformedMessageError
from nexusforge.nexus import executions as ex
from nexusforge.nexus import order_ids
from nexusforge.nexus.executions import INVENTORY_KINDS, Execution
from nexusforge.nexus.intents import OrderIntent, WorkingOrder
from nexusforge.nexus.ledger import Book, ReconciliationAlert, slot_router

SCHEMA_VERSION = 1
APP_ID = "nexusforge-journal"
TERMINAL = frozenset({"Filled", "Cancelled", "Rejected", "Deactivated", "PartiallyFilledCanceled"})
SOURCES = frozenset({"ws", "rest", "internal", "reconcile"})
# SQLite's page cache per connection, in KiB (default 2,000). Held for the life of the engine and
# of each reader, it would fill to the cap as the journal grows. 512 KiB is 128 pages of 4 KiB:
# the root and interior pages of the executions table and of its execId index (a few hundred
# thousand rows need a few dozen) plus the leaves being appended; anything else comes from the
# OS page cache. Appends and execId lookups run at the same speed (benchmarked in the memory
# bounds work, issue 11).
CACHE_KIB = 512
# execIds per `exec_rows` query (SQLite's default host-parameter limit is 32,766; old builds 999).
LOOKUP_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS models (
    slot INTEGER PRIMARY KEY, name TEXT NOT NULL, symbol TEXT NOT NULL, capital TEXT NOT NULL,
    ts_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS order_intents (
    id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, order_link_id TEXT NOT NULL UNIQUE,
    slot INTEGER NOT NULL, symbol TEXT NOT NULL, side INTEGER NOT NULL, qty TEXT NOT NULL,
    reduce_only INTEGER NOT NULL, order_type TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS venue_acks (
    id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, order_link_id TEXT NOT NULL,
    order_id TEXT NOT NULL, status TEXT NOT NULL, ret_code INTEGER NOT NULL,
    ret_msg TEXT NOT NULL, cum_exec_qty TEXT);
CREATE INDEX IF NOT EXISTS venue_acks_link ON venue_acks (order_link_id, id);
CREATE TABLE IF NOT EXISTS executions (
    id INTEGER PRIMARY KEY, exec_id TEXT NOT NULL UNIQUE, symbol TEXT NOT NULL,
    order_link_id TEXT NOT NULL, exec_time_ms INTEGER NOT NULL, source TEXT NOT NULL,
    body TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS executions_link ON executions (order_link_id);
CREATE TABLE IF NOT EXISTS model_states (
    id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, slot INTEGER NOT NULL,
    from_state TEXT NOT NULL, to_state TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS weights (
    id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, slot INTEGER NOT NULL, weight TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS kill_events (
    id INTEGER PRIMARY KEY, ts_ms INTEGER NOT NULL, slot INTEGER, kind TEXT NOT NULL,
    detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS link_sequence (run_id TEXT PRIMARY KEY, next_seq INTEGER NOT NULL);
"""


def now_ms() -> int:
    """Wall clock in ms (journal stamps only; ledgers use the venue's execTime)."""
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class ModelRecord:
    """One registered model slot."""

    slot: int
    name: str
    symbol: str
    capital: Decimal


class Journal:
    """One engine's journal file. Single-threaded: the engine's loop owns it."""

    def __init__(
        self, path: str | Path, *, synchronous: str = "FULL", readonly: bool = False
    ) -> None:
        if synchronous not in ("FULL", "NORMAL", "EXTRA"):
            raise JournalError(f"synchronous must be FULL, NORMAL or EXTRA, got {synchronous!r}")
        self.path = Path(path)
        self.readonly = readonly
        if readonly and not self.path.is_file():
            raise JournalError(f"{self.path}: no journal to read")
        try:
            target = f"file:{self.path}?mode=ro" if readonly else str(self.path)
            self._db = sqlite3.connect(target, isolation_level=None, uri=readonly)
            self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            meta = self._read_meta()  # before any write: never touch someone else's database
            if not readonly:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={synchronous}")
            self.run_id = self._check_meta(meta) if meta else self._create()
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: not a usable journal ({exc})") from None

    def _read_meta(self) -> dict[str, str]:
        tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master")}
        if not tables:
            return {}
        if "meta" not in tables:
            raise JournalError(f"{self.path}: not a NexusForge journal (no meta table)")
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not meta:
            raise JournalError(f"{self.path}: not a NexusForge journal (empty meta)")
        return meta

    def _check_meta(self, meta: dict[str, str]) -> str:
        if meta.get("app") != APP_ID:
            raise JournalError(f"{self.path}: not a NexusForge journal")
        if meta.get("schema_version") != str(SCHEMA_VERSION):
            raise JournalError(
                f"{self.path}: schema version {meta.get('schema_version')}, "
                f"this build reads {SCHEMA_VERSION}"
            )
        return order_ids.check_run_id(meta.get("run_id", ""))

    def _create(self) -> str:
        if self.readonly:
            raise JournalError(f"{self.path}: empty file, no journal to read")
        run_id = order_ids.new_run_id()
        with self._tx():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            self._db.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [("app", APP_ID), ("schema_version", str(SCHEMA_VERSION)), ("run_id", run_id)],
            )
        return run_id

    def _tx(self) -> _Transaction:
        if self.readonly:
            raise JournalError(f"{self.path}: opened read-only")
        return _Transaction(self._db)

    def close(self) -> None:
        """Closes the file (everything was committed already)."""
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # --- orderLinkId sequence -------------------------------------------------------------

    def reserve_sequence(self, n: int) -> int:
        """Commits a block of n sequence numbers and returns its first."""
        if n < 1:
            raise JournalError(f"reserve at least 1 sequence number, got {n}")
        with self._tx():
            row = self._db.execute(
                "SELECT next_seq FROM link_sequence WHERE run_id = ?", (self.run_id,)
            ).fetchone()
            first = 0 if row is None else int(row[0])
            self._db.execute(
                "INSERT INTO link_sequence VALUES (?, ?) "
                "ON CONFLICT(run_id) DO UPDATE SET next_seq = excluded.next_seq",
                (self.run_id, first + n),
            )
        return first

    def allocator(self, block: int = 1024) -> order_ids.LinkIdAllocator:
        """An orderLinkId allocator whose blocks this journal reserves."""
        return order_ids.LinkIdAllocator(self.run_id, self.reserve_sequence, block)

    # --- records --------------------------------------------------------------------------

    def record_model(self, slot: int, name: str, symbol: str, capital: Decimal) -> None:
        """Registers (or re-registers) the model in `slot`."""
        with self._tx():
            self._db.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?) ON CONFLICT(slot) DO UPDATE SET "
                "name = excluded.name, symbol = excluded.symbol, capital = excluded.capital, "
                "ts_ms = excluded.ts_ms",
                (slot, name, symbol, str(capital), now_ms()),
            )

    def models(self) -> list[ModelRecord]:
        """Registered models by slot."""
        rows = self._db.execute("SELECT slot, name, symbol, capital FROM models ORDER BY slot")
        return [ModelRecord(int(s), n, sym, Decimal(c)) for s, n, sym, c in rows]

    def record_intent(self, intent: OrderIntent) -> None:
        """Journals an order intent before it is sent; JournalError if its id was used."""
        try:
            with self._tx():
                self._db.execute(
                    "INSERT INTO order_intents (ts_ms, order_link_id, slot, symbol, side, qty, "
                    "reduce_only, order_type, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        now_ms(),
                        intent.order_link_id,
                        intent.slot,
                        intent.symbol,
                        intent.side,
                        str(intent.qty),
                        int(intent.reduce_only),
                        intent.order_type,
                        intent.reason,
                    ),
                )
        except sqlite3.IntegrityError:
            raise JournalError(f"orderLinkId {intent.order_link_id} was used before") from None

    def intent(self, order_link_id: str) -> OrderIntent | None:
        """The journaled intent with this id, if any."""
        row = self._db.execute(
            "SELECT order_link_id, slot, symbol, side, qty, reduce_only, reason, order_type "
            "FROM order_intents WHERE order_link_id = ?",
            (order_link_id,),
        ).fetchone()
        if row is None:
            return None
        link, slot, symbol, side, qty, ro, reason, otype = row
        return OrderIntent(
            order_ids.OrderLinkId(link), slot, symbol, side, Decimal(qty), bool(ro), reason, otype
        )

    def record_ack(
        self,
        order_link_id: str,
        *,
        status: str,
        order_id: str = "",
        ret_code: int = 0,
        ret_msg: str = "OK",
        cum_exec_qty: Decimal | None = None,
    ) -> None:
        """A venue answer or order-state change for one of our orders."""
        with self._tx():
            self._db.execute(
                "INSERT INTO venue_acks (ts_ms, order_link_id, order_id, status, ret_code, "
                "ret_msg, cum_exec_qty) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    now_ms(),
                    order_link_id,
                    order_id,
                    status,
                    ret_code,
                    ret_msg,
                    None if cum_exec_qty is None else str(cum_exec_qty),
                ),
            )

    def record_execution(self, e: Execution, source: str) -> bool:
        """Journals an execution once; False when its execId is already there."""
        return self.record_executions([e], source)[0]

    def record_executions(self, rows: Sequence[Execution], source: str) -> list[bool]:
        """Journals the rows of one message in ONE commit (one fsync); per row, whether it was
        new. Apply exactly the new ones, in this order."""
        if source not in SOURCES:
            raise JournalError(f"execution source must be one of {sorted(SOURCES)}, got {source!r}")
        fresh = []
        with self._tx():
            for e in rows:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO executions (exec_id, symbol, order_link_id, "
                    "exec_time_ms, source, body) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        e.exec_id,
                        e.symbol,
                        e.order_link_id,
                        e.exec_time_ms,
                        source,
                        ex.encode(e).decode(),
                    ),
                )
                fresh.append(cur.rowcount == 1)
        return fresh

    def record_state(self, slot: int, from_state: str, to_state: str, reason: str) -> None:
        """A model state change (before the engine acts on it)."""
        with self._tx():
            self._db.execute(
                "INSERT INTO model_states (ts_ms, slot, from_state, to_state, reason) "
                "VALUES (?, ?, ?, ?, ?)",
                (now_ms(), slot, from_state, to_state, reason),
            )

    def record_weight(self, slot: int, weight: Decimal) -> None:
        """A capital-weight change."""
        with self._tx():
            self._db.execute(
                "INSERT INTO weights (ts_ms, slot, weight) VALUES (?, ?, ?)",
                (now_ms(), slot, str(weight)),
            )

    def record_kill(self, slot: int | None, kind: str, detail: str) -> None:
        """A Sudden Death, kill-switch or flatten event (slot None: the whole account)."""
        with self._tx():
            self._db.execute(
                "INSERT INTO kill_events (ts_ms, slot, kind, detail) VALUES (?, ?, ?, ?)",
                (now_ms(), slot, kind, detail),
            )

    # --- reads ----------------------------------------------------------------------------

    def executions(self, symbol: str | None = None) -> Iterator[Execution]:
        """Journaled executions in arrival order."""
        sql, args = "SELECT body FROM executions ORDER BY id", tuple[str, ...]()
        if symbol is not None:
            sql, args = "SELECT body FROM executions WHERE symbol = ? ORDER BY id", (symbol,)
        for (body,) in self._db.execute(sql, args):
            try:
                yield ex.decode(body)
            except MalformedMessageError as exc:
                raise JournalError(f"{self.path}: corrupt execution row ({exc})") from None

    def exec_ids(self) -> set[str]:
        """Every journaled execId (all in memory: for checks, not for a long-running loop)."""
        return {r[0] for r in self._db.execute("SELECT exec_id FROM executions")}

    def has_execution(self, exec_id: str) -> bool:
        """Whether this execId is journaled (one lookup in the unique index)."""
        row = self._db.execute("SELECT 1 FROM executions WHERE exec_id = ?", (exec_id,))
        return row.fetchone() is not None

    def exec_rows(self, exec_ids: Sequence[str], symbol: str | None = None) -> dict[str, int]:
        """The journal row id of each of `exec_ids` that is journaled (for `symbol`, if given)."""
        return exec_rows(self._db, exec_ids, symbol)

    def last_exec_time_ms(self, symbol: str | None = None) -> int | None:
        """execTime of the latest venue execution (the start of a REST recovery window)."""
        sql = "SELECT max(exec_time_ms) FROM executions WHERE source IN ('ws', 'rest')"
        args: tuple[str, ...] = ()
        if symbol is not None:
            sql, args = sql + " AND symbol = ?", (symbol,)
        value = self._db.execute(sql, args).fetchone()[0]
        return None if value is None else int(value)

    def first_intent_time_ms(self, symbol: str) -> int | None:
        """Journal time of the first order intent for `symbol` (None: none was ever sent)."""
        row = self._db.execute(
            "SELECT min(ts_ms) FROM order_intents WHERE symbol = ?", (symbol,)
        ).fetchone()
        return None if row[0] is None else int(row[0])

    def latest_states(self) -> dict[int, str]:
        """The last recorded state of each slot."""
        rows = self._db.execute(
            "SELECT slot, to_state FROM model_states WHERE id IN "
            "(SELECT max(id) FROM model_states GROUP BY slot)"
        )
        return {int(s): st for s, st in rows}

    def latest_weights(self) -> dict[int, Decimal]:
        """The last recorded weight of each slot."""
        rows = self._db.execute(
            "SELECT slot, weight FROM weights WHERE id IN "
            "(SELECT max(id) FROM weights GROUP BY slot)"
        )
        return {int(s): Decimal(w) for s, w in rows}

    def kill_events(self) -> list[tuple[int | None, str, str]]:
        """(slot, kind, detail) of every kill event, oldest first."""
        rows = self._db.execute("SELECT slot, kind, detail FROM kill_events ORDER BY id")
        return [(s, k, d) for s, k, d in rows]

    def filled_qty(self, order_link_id: str) -> Decimal:
        """Σ qty of journaled executions of one order."""
        rows = self._db.execute(
            "SELECT body FROM executions WHERE order_link_id = ?", (order_link_id,)
        )
        return sum((ex.decode(b).qty for (b,) in rows), Decimal(0))

    def open_intents(self) -> list[OrderIntent]:
        """Intents whose last venue state is not terminal (or that have no venue answer yet)."""
        rows = self._db.execute(
            "SELECT i.order_link_id, i.slot, i.symbol, i.side, i.qty, i.reduce_only, i.reason, "
            "i.order_type, a.ret_code, a.status FROM order_intents i LEFT JOIN venue_acks a "
            "ON a.id = (SELECT max(id) FROM venue_acks WHERE order_link_id = i.order_link_id) "
            "ORDER BY i.id"
        )
        out = []
        for link, slot, sym, side, qty, ro, reason, otype, code, status in rows:
            if code is None or (code == 0 and status not in TERMINAL):
                link_id = order_ids.OrderLinkId(link)
                out.append(
                    OrderIntent(link_id, slot, sym, side, Decimal(qty), bool(ro), reason, otype)
                )
        return out

    def rebuild(self) -> dict[str, Book]:
        """Fresh Books per symbol, every journaled execution replayed in arrival order."""
        models = self.models()
        owner = slot_router({m.slot: m.name for m in models})
        books: dict[str, Book] = {}
        for sym in sorted({m.symbol for m in models}):
            capitals = {m.name: m.capital for m in models if m.symbol == sym}
            books[sym] = Book(sym, capitals, owner, exec_rows=self.exec_rows)
        for e in self.executions():
            if e.symbol not in books:
                books[e.symbol] = Book(e.symbol, {}, owner, exec_rows=self.exec_rows)
            books[e.symbol].apply(e)
        return books


def exec_rows(
    db: sqlite3.Connection, exec_ids: Sequence[str], symbol: str | None = None
) -> dict[str, int]:
    """execId -> journal row id for those of `exec_ids` in the journal open on `db`."""
    out: dict[str, int] = {}
    for i in range(0, len(exec_ids), LOOKUP_CHUNK):
        part = list(exec_ids[i : i + LOOKUP_CHUNK])
        marks = ",".join("?" * len(part))
        sql = f"SELECT exec_id, id FROM executions WHERE exec_id IN ({marks})"  # noqa: S608
        args: list[str] = part
        if symbol is not None:
            sql, args = sql + " AND symbol = ?", [*part, symbol]
        out.update((str(k), int(r)) for k, r in db.execute(sql, args))
    return out


@dataclass(frozen=True, slots=True)
class ModelStatus:
    """One line of `nexusforge nexus status`: a model's books as the journal has them."""

    slot: int
    name: str
    symbol: str
    state: str
    weight: Decimal | None
    inventory: Decimal
    avg_entry: Decimal
    realized: Decimal
    fees: Decimal
    funding: Decimal
    equity: Decimal | None


def status(journal: Journal, marks: Mapping[str, Decimal]) -> list[ModelStatus]:
    """Every registered model's books rebuilt from the journal, equity at `marks[symbol]` (None
    when no mark is given for its symbol)."""
    books = journal.rebuild()
    states, weights = journal.latest_states(), journal.latest_weights()
    out = []
    for m in journal.models():
        s = books[m.symbol].ledger(m.name).state
        mark = marks.get(m.symbol)
        out.append(
            ModelStatus(
                m.slot,
                m.name,
                m.symbol,
                states.get(m.slot, "unknown"),
                weights.get(m.slot),
                s.inventory,
                s.avg_entry,
                s.realized,
                s.fees,
                s.funding,
                None if mark is None else s.equity(mark),
            )
        )
    return out


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._db.execute("COMMIT" if t is None else "ROLLBACK")


# --- reconciliation -----------------------------------------------------------------------


class OrderOutcome(Enum):
    """What became of one of our orders, judged from the venue and the fills."""

    WORKING = "Working"
    FILLED = "Filled"
    CANCELLED_EMPTY = "Cancelled"
    CANCELLED_PARTIAL = "PartiallyFilledCanceled"


def order_outcome(intent_qty: Decimal, filled_qty: Decimal, *, open_at_venue: bool) -> OrderOutcome:
    """An order's state from its fills: the answer to "order not found" (110001) once the
    order's executions were fetched, or to a venue `Cancelled` with zero filled."""
    if open_at_venue:
        return OrderOutcome.WORKING
    if filled_qty >= intent_qty:
        return OrderOutcome.FILLED
    return OrderOutcome.CANCELLED_EMPTY if filled_qty == 0 else OrderOutcome.CANCELLED_PARTIAL


@dataclass(frozen=True, slots=True)
class VenueOrder:
    """One open order as the venue reports it (/v5/order/realtime item or WS `order`)."""

    order_id: str
    order_link_id: str
    symbol: str
    side: int
    qty: Decimal
    leaves_qty: Decimal
    cum_exec_qty: Decimal
    status: str
    reduce_only: bool = False

    def working(self) -> WorkingOrder:
        """The planner's view of it."""
        return WorkingOrder(self.order_link_id, self.side, self.leaves_qty, self.reduce_only)


def parse_venue_order(item: Mapping[str, Any]) -> VenueOrder:
    """A VenueOrder from one order record; MalformedMessageError when a needed field is bad."""
    if not isinstance(item, Mapping):
        raise MalformedMessageError(f"order record is {type(item).__name__}, not an object")
    try:
        side = {"Buy": 1, "Sell": -1}[item["side"]]
        reduce_only = {False: False, True: True, "false": False, "true": True}[
            item.get("reduceOnly", False)
        ]
        return VenueOrder(
            order_id=str(item["orderId"]),
            order_link_id=str(item.get("orderLinkId") or ""),
            symbol=str(item["symbol"]),
            side=side,
            qty=_qty(item["qty"]),
            leaves_qty=_qty(item.get("leavesQty") or "0"),
            cum_exec_qty=_qty(item.get("cumExecQty") or "0"),
            status=str(item["orderStatus"]),
            reduce_only=reduce_only,
        )
    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
        raise MalformedMessageError(f"order record: {exc!r}") from None


def _qty(raw: object) -> Decimal:
    """A non-negative finite quantity from the venue's decimal string (never a float)."""
    if not isinstance(raw, str):
        raise TypeError(f"quantity {raw!r} is not a decimal string")
    value = Decimal(raw)
    if not value.is_finite() or value < 0:
        raise ValueError(f"quantity {raw!r} is not a non-negative number")
    return value


@dataclass(frozen=True, slots=True)
class ReconcilePlan:
    """What a restart or reconnect must do to agree with the venue (nothing applied yet)."""

    apply: tuple[Execution, ...]
    working: tuple[VenueOrder, ...]
    foreign_orders: tuple[VenueOrder, ...]
    closed: tuple[tuple[str, OrderOutcome], ...]
    orphan_position: Decimal

    @property
    def clean(self) -> bool:
        """Nothing orphaned: no foreign orders and no unexplained position."""
        return not self.foreign_orders and self.orphan_position == 0


def reconcile(
    journal: Journal,
    book: Book,
    venue_orders: Sequence[VenueOrder],
    venue_position: Decimal,
    venue_executions: Sequence[Execution],
) -> ReconcilePlan:
    """Compares journal + book of one symbol with the venue's open orders, signed position and
    the executions it reports since the last known one (REST rows, any order, duplicates ok).

    - executions the journal lacks are to be applied (journal first), in canonical order;
    - venue open orders with our orderLinkId are working orders of their model and are kept,
      even when the journal never saw their ack (crash between send and ack);
    - open orders no model of ours owns are foreign (cancel them, do not adopt them);
    - journal intents the venue no longer has open are closed with their outcome from fills;
    - whatever position remains unexplained after applying the missing executions is orphaned
      (for the orphan ledger and a flatten), never booked as a synthetic fill.
    """
    known = journal.exec_rows([e.exec_id for e in venue_executions])
    fresh: dict[str, Execution] = {}
    for e in venue_executions:
        if e.symbol == book.symbol and e.exec_id not in known:
            fresh.setdefault(e.exec_id, e)
    apply = tuple(sorted(fresh.values(), key=lambda e: e.sort_key))
    ours = [o for o in venue_orders if o.symbol == book.symbol]
    working = tuple(o for o in ours if order_ids.slot_of(o.order_link_id) is not None)
    foreign = tuple(o for o in ours if order_ids.slot_of(o.order_link_id) is None)
    open_links = {o.order_link_id for o in working}
    closed = []
    for intent in journal.open_intents():
        if intent.symbol != book.symbol or intent.order_link_id in open_links:
            continue
        filled = journal.filled_qty(intent.order_link_id) + sum(
            (e.qty for e in apply if e.order_link_id == intent.order_link_id), Decimal(0)
        )
        closed.append(
            (intent.order_link_id, order_outcome(intent.qty, filled, open_at_venue=False))
        )
    moved = sum((e.signed_qty for e in apply if e.kind in INVENTORY_KINDS), Decimal(0))
    orphan = venue_position - (book.total_inventory() + moved)
    return ReconcilePlan(apply, working, foreign, tuple(closed), orphan)


ADOPTED = "Adopted"


def adoption(
    symbol: str, qty: Decimal, price: Decimal, time_ms: int, run_id: str
) -> Execution | None:
    """The orphan-ledger row that takes over an unexplained venue position (signed `qty`) at
    the venue's average entry `price`; None when there is nothing to adopt.

    Not a fill of any model: it has no orderLinkId, so the Book routes it to the orphan
    ledger, where the engine flattens it with orders of `ENGINE_SLOT`.
    """
    if qty == 0:
        return None
    if price <= 0:
        raise JournalError(f"adopting {qty} {symbol} needs the venue's average price, got {price}")
    return Execution(
        exec_id=ex.ExecId(f"adopt-{run_id}-{time_ms}-{symbol}"),
        symbol=symbol,
        exec_type=ADOPTED,
        side=1 if qty > 0 else -1,
        price=price,
        qty=abs(qty),
        fee=Decimal(0),
        exec_time_ms=time_ms,
    )


def apply_plan(
    journal: Journal,
    book: Book,
    plan: ReconcilePlan,
    venue_position: Decimal,
    venue_avg_price: Decimal,
    time_ms: int,
) -> ReconciliationAlert | None:
    """Carries out a ReconcilePlan: journals then applies the missing executions, records the
    closed orders' outcomes, adopts any unexplained position into the orphan ledger; returns
    what `Book.check` says afterwards (None: the books agree with the venue again)."""
    for fresh, e in zip(journal.record_executions(plan.apply, "rest"), plan.apply, strict=True):
        if fresh:
            book.apply(e)
    for link, outcome in plan.closed:
        journal.record_ack(link, status=outcome.value)
    adopt = adoption(book.symbol, plan.orphan_position, venue_avg_price, time_ms, journal.run_id)
    if adopt is not None and journal.record_execution(adopt, "reconcile"):
        book.apply(adopt)
    return book.check(venue_position)
