"""Reads what was appended to a journal since the last call, on a read-only connection.

The journal's own API rebuilds everything on each call; a dashboard polling every second over a
long session needs only the new rows, so this tails each table by its autoincrement `id`. It
never writes: the file is opened `mode=ro` after `Journal(readonly=True)` has checked its meta.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from nexusforge.errors import JournalError, MalformedMessageError
from nexusforge.nexus import executions as ex
from nexusforge.nexus.executions import Execution
from nexusforge.nexus.journal import CACHE_KIB, Journal, ModelRecord, exec_rows


@dataclass(frozen=True, slots=True)
class IntentRow:
    """One journaled order intent."""

    ts_ms: int
    order_link_id: str
    slot: int
    side: int
    qty: Decimal
    reduce_only: bool
    reason: str


@dataclass(frozen=True, slots=True)
class StateRow:
    """One journaled model state change."""

    ts_ms: int
    slot: int
    to_state: str
    reason: str


@dataclass(frozen=True, slots=True)
class KillRow:
    """One journaled kill event (slot None: the whole account)."""

    ts_ms: int
    slot: int | None
    kind: str
    detail: str


@dataclass(frozen=True, slots=True)
class Appended:
    """Rows appended since the previous `JournalTail.read()`."""

    executions: tuple[Execution, ...]
    intents: tuple[IntentRow, ...]
    acks: tuple[tuple[str, str], ...]  # (orderLinkId, status)
    states: tuple[StateRow, ...]
    weights: tuple[tuple[int, int, Decimal], ...]  # (ts_ms, slot, weight)
    kills: tuple[KillRow, ...]

    @property
    def rows(self) -> int:
        """The most rows read from any one table."""
        parts = (self.executions, self.intents, self.acks, self.states, self.weights, self.kills)
        return max(len(p) for p in parts)


class JournalTail:
    """A read-only cursor over one journal file's tables."""

    def __init__(self, path: str | Path) -> None:
        with Journal(path, readonly=True) as journal:  # checks app id and schema version
            self.run_id = journal.run_id
        self.path = Path(path)
        # the dashboard may build the source on one thread and serve it from the loop thread;
        # every use is still serialized on that one loop
        self._db = sqlite3.connect(
            f"file:{self.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )
        self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # lives as long as the dashboard
        self._last = {t: 0 for t in ("executions", "order_intents", "venue_acks")}
        self._last |= {t: 0 for t in ("model_states", "weights", "kill_events")}

    def close(self) -> None:
        """Closes the connection."""
        self._db.close()

    def models(self) -> list[ModelRecord]:
        """Registered models by slot."""
        rows = self._db.execute("SELECT slot, name, symbol, capital FROM models ORDER BY slot")
        return [ModelRecord(int(s), n, sym, Decimal(c)) for s, n, sym, c in rows]

    def exec_rows(self, exec_ids: Sequence[str], symbol: str | None = None) -> dict[str, int]:
        """The journal row id of each of `exec_ids` that is journaled (for `symbol`, if given)."""
        try:
            return exec_rows(self._db, exec_ids, symbol)
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: unreadable ({exc})") from None

    def read(self, limit: int | None = None) -> Appended:
        """The rows appended since the last read, at most `limit` per table (None: all), in
        one read transaction (a consistent cut)."""
        try:
            self._db.execute("BEGIN")
            try:
                return self._read(limit)
            finally:
                self._db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"{self.path}: unreadable ({exc})") from None

    def _read(self, limit: int | None) -> Appended:
        execs = tuple(self._decode(b) for (b,) in self._tail(limit, "executions", "body"))
        intents = tuple(
            IntentRow(int(t), link, int(s), int(side), Decimal(q), bool(ro), reason)
            for t, link, s, side, q, ro, reason in self._tail(
                limit, "order_intents", "ts_ms, order_link_id, slot, side, qty, reduce_only, reason"
            )
        )
        ack_rows = self._tail(limit, "venue_acks", "order_link_id, status")
        acks = tuple((link, st) for link, st in ack_rows)
        states = tuple(
            StateRow(int(t), int(s), to, why)
            for t, s, to, why in self._tail(limit, "model_states", "ts_ms, slot, to_state, reason")
        )
        weight_rows = self._tail(limit, "weights", "ts_ms, slot, weight")
        weights = tuple((int(t), int(s), Decimal(w)) for t, s, w in weight_rows)
        kills = tuple(
            KillRow(int(t), None if s is None else int(s), k, d)
            for t, s, k, d in self._tail(limit, "kill_events", "ts_ms, slot, kind, detail")
        )
        return Appended(execs, intents, acks, states, weights, kills)

    def _tail(self, limit: int | None, table: str, columns: str) -> list[tuple[Any, ...]]:
        # table and column names are constants of this module, never caller input
        rows = self._db.execute(
            f"SELECT id, {columns} FROM {table} WHERE id > ? ORDER BY id LIMIT ?",  # noqa: S608
            (self._last[table], -1 if limit is None else limit),
        ).fetchall()
        if rows:
            self._last[table] = int(rows[-1][0])
        return [tuple(r[1:]) for r in rows]

    def _decode(self, body: object) -> Execution:
        try:
            return ex.decode(str(body))
        except MalformedMessageError as exc:
            raise JournalError(f"{self.path}: corrupt execution row ({exc})") from None
