"""The Pit Crew's decision log: one SQLite table inside the engine's journal file.

Every decision is written here before it is acted on: admitted, rejected, shadow started,
evaluated (throttled), promoted (with the verdict, both ledgers' closing statements and the
challenger's expression as codec JSON, so a restart trades the promoted strategy), retired.
The table lives beside the journal's own (a second connection; WAL lets both write in turn).
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nexusforge.errors import JournalError
from nexusforge.nexus.dashboard.snapshot import ChallengerView
from nexusforge.nexus.journal import CACHE_KIB, now_ms
from nexusforge.nexus.live_head import LiveHead, head_from_json
from nexusforge.strategy import codec
from nexusforge.strategy.expr import Expr

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS pit_crew_decisions (id INTEGER PRIMARY KEY, ts_ms INTEGER NOT "
    "NULL, kind TEXT NOT NULL, challenger TEXT NOT NULL, slot INTEGER, detail TEXT NOT NULL)"
)
FINAL_KINDS = ("promoted", "retired")
log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Decision:
    """One logged decision."""

    ts_ms: int
    kind: str
    challenger: str
    slot: int | None
    detail: dict[str, Any]


class DecisionLog:
    """Append-only decisions; in memory only when `path` is None."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._memory: list[Decision] = []
        self._db: sqlite3.Connection | None = None
        if path is not None:
            try:
                self._db = sqlite3.connect(str(path), isolation_level=None, timeout=5.0)
                self._db.execute("PRAGMA synchronous=FULL")
                self._db.execute(f"PRAGMA cache_size=-{CACHE_KIB}")  # lives as long as the engine
                self._db.execute(_SCHEMA)
            except sqlite3.DatabaseError as exc:
                raise JournalError(
                    f"{path}: cannot keep the Pit Crew's decisions ({exc})"
                ) from None

    def record(self, kind: str, challenger: str, slot: int | None, detail: dict[str, Any]) -> None:
        """Appends one decision (durable before this returns when backed by a file)."""
        d = Decision(now_ms(), kind, challenger, slot, detail)
        text = json.dumps(detail, sort_keys=True, default=str, allow_nan=False)
        if self._db is not None:
            self._db.execute(
                "INSERT INTO pit_crew_decisions (ts_ms, kind, challenger, slot, detail) "
                "VALUES (?, ?, ?, ?, ?)",
                (d.ts_ms, kind, challenger, slot, text),
            )
        self._memory.append(d)

    def decisions(self) -> list[Decision]:
        """Every decision, oldest first (from the file when there is one)."""
        if self._db is None:
            return list(self._memory)
        rows = self._db.execute(
            "SELECT ts_ms, kind, challenger, slot, detail FROM pit_crew_decisions ORDER BY id"
        )
        return [Decision(int(t), k, c, s, json.loads(d)) for t, k, c, s, d in rows]

    def final_hashes(self) -> set[str]:
        """sha256 of every challenger already promoted or retired."""
        return {str(d.detail.get("sha256")) for d in self.decisions() if d.kind in FINAL_KINDS}

    def close(self) -> None:
        """Closes the file."""
        if self._db is not None:
            self._db.close()
            self._db = None


def promoted_strategies(journal: Path) -> dict[int, Expr]:
    """Slot → promoted strategy from a journal file ({} when it has no Pit Crew table yet)."""
    if not journal.is_file():
        return {}
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        if "pit_crew_decisions" not in tables:
            return {}
        rows = db.execute(
            "SELECT slot, detail FROM pit_crew_decisions WHERE kind = 'promoted' ORDER BY id"
        )
        return {int(s): codec.loads(json.dumps(json.loads(d)["strategy"])) for s, d in rows}
    finally:
        db.close()


def promoted_heads(journal: Path) -> dict[int, LiveHead | None]:
    """Slot → the MAML head of its latest promotion (None: that strategy has none). A saved head
    that no longer parses is logged and left out: the slot trades its expression alone."""
    out: dict[int, LiveHead | None] = {}
    for slot, detail in _promotions(journal):
        doc = detail.get("head")
        try:
            out[slot] = head_from_json(doc) if isinstance(doc, dict) else None
        except ValueError as exc:
            log.error("slot %d: the promoted head in %s does not parse: %s", slot, journal, exc)
            out[slot] = None
    return out


def _promotions(journal: Path) -> list[tuple[int, dict[str, Any]]]:
    """(slot, detail) of every promotion, oldest first ([] without a Pit Crew table)."""
    if not journal.is_file():
        return []
    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        if "pit_crew_decisions" not in tables:
            return []
        rows = db.execute(
            "SELECT slot, detail FROM pit_crew_decisions WHERE kind = 'promoted' ORDER BY id"
        )
        return [(int(s), json.loads(d)) for s, d in rows]
    finally:
        db.close()


def challenger_views(decisions: Sequence[Decision]) -> tuple[ChallengerView, ...]:
    """Shadows still under evaluation, as the dashboard shows them, from logged decisions only
    (for a journal-file dashboard; scores appear once a shadow's window was first evaluated)."""
    started: dict[str, int] = {}
    best: dict[str, dict[str, Any]] = {}
    for d in decisions:
        if d.kind == "shadow_started":
            started[d.challenger] = d.ts_ms
        elif d.kind in FINAL_KINDS:
            started.pop(d.challenger, None)
        elif d.kind == "evaluated" and d.detail.get("verdicts"):
            vs = d.detail["verdicts"]
            best[d.challenger] = min(vs, key=lambda v: (not v["beats"], _num(v["champion_sharpe"])))
    out = []
    for key, since in started.items():
        v = best.get(key)
        if v is None:
            out.append(ChallengerView(key, "", since, math.nan, math.nan))
        else:
            score, theirs = _num(v["challenger_sharpe"]), _num(v["champion_sharpe"])
            out.append(ChallengerView(key, str(v["champion"]), since, score, theirs))
    return tuple(out)


def _num(v: object) -> float:
    """A verdict figure back from JSON (non-finite ones were written as strings)."""
    try:
        return float(v) if isinstance(v, int | float | str) else math.nan
    except ValueError:
        return math.nan
