"""The end-of-run checks: the journal's books against what the VENUE reports, exactly.

- every model's ledger rebuilt from the journal equals the ledger built from the venue's own
  executions of that model's orderLinkIds (plus the internal crosses only the journal knows);
- Σ inventories (models + orphan) equals the venue's position;
- every venue execution of ours is in the journal (a missing one is a lost fill);
- no open venue order has an orderLinkId the journal does not know;
- after its Sudden Death a model sent nothing but flatten orders.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import msgspec

from nexusforge.nexus import order_ids
from nexusforge.nexus.engine import to_execution
from nexusforge.nexus.executions import Execution
from nexusforge.nexus.journal import Journal
from nexusforge.nexus.ledger import Book, Ledger, LedgerState
from nexusforge.nexus.venues.bybit import BybitConfig, BybitRestClient, Credentials


@dataclass(frozen=True, slots=True)
class VenueView:
    """What the venue says at the end: our executions, our open orders' links, the position."""

    executions: tuple[Execution, ...]
    open_links: tuple[str, ...]
    position: Decimal


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of the checks; `ok` when every count is zero."""

    models: int
    venue_fills: int
    ledger_mismatches: int
    lost_fills: int
    unknown_open_orders: int
    position_gap: Decimal
    traded_after_death: int
    deaths: int  # models that hit Sudden Death in the run (what the rule above was tested on)
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


async def venue_view(config: BybitConfig, creds: Credentials, symbol: str) -> VenueView:
    """Executions, open orders and position of `symbol`, over REST."""
    async with BybitRestClient(config, creds) as rest:
        rows = await rest.executions(symbol=symbol)
        orders = await rest.open_orders(symbol)
        positions = await rest.positions(symbol)
    position = sum((p.signed_size for p in positions if p.symbol == symbol), Decimal(0))
    links = tuple(o.orderLinkId for o in orders)
    return VenueView(tuple(to_execution(r) for r in rows), links, position)


def check(journal_path: Path, venue: VenueView, symbol: str) -> Verdict:
    """Every check above, each failure named in `problems`."""
    with Journal(journal_path, readonly=True) as j:
        models = {m.slot: (m.name, m.capital) for m in j.models()}
        internal = [e for e in j.executions() if e.exec_type == "Internal"]
        known_execs = j.exec_ids()
        book = j.rebuild().get(symbol) or Book(symbol, {})
        unknown = [link for link in venue.open_links if j.intent(link) is None]
        deaths = sum(1 for state in j.latest_states().values() if state == "dead")
    want = _venue_ledgers(models, [*venue.executions, *internal], symbol)
    got = {n: lg.state for n, lg in book.ledgers.items()} | {"orphan": book.orphan.state}
    problems = [f"ledger {n}: journal {got.get(n)} != venue {s}" for n, s in want.items()
                if got.get(n) != s]  # fmt: skip
    if not models:
        problems.append("the engine never registered its models (it never started)")
    mismatches = len(problems)
    lost = [e.exec_id for e in venue.executions if e.exec_id not in known_execs]
    problems += [f"lost fill {x}" for x in lost]
    problems += [f"open venue order {link} unknown to the journal" for link in unknown]
    total = sum((s.inventory for s in got.values()), Decimal(0))
    gap = total - venue.position
    if gap != 0:
        problems.append(f"sum of inventories {total} != venue position {venue.position}")
    after = traded_after_death(journal_path)
    problems += [f"slot {s} sent {r!r} after its sudden death" for s, r in after]
    return Verdict(len(models), len(venue.executions), mismatches, len(lost), len(unknown), gap,
                   len(after), deaths, tuple(problems))  # fmt: skip


def _venue_ledgers(
    models: dict[int, tuple[str, Decimal]], rows: list[Execution], symbol: str
) -> dict[str, LedgerState]:
    ledgers = {name: Ledger(name, symbol, capital) for name, capital in models.values()}
    orphan = Ledger("orphan", symbol, Decimal(0))
    for e in sorted(rows, key=lambda e: (e.exec_time_ms, e.exec_id)):
        slot = order_ids.slot_of(e.order_link_id)
        (ledgers[models[slot][0]] if slot in models else orphan).apply(e)
    return {n: lg.state for n, lg in ledgers.items()} | {"orphan": orphan.state}


def traded_after_death(journal_path: Path) -> list[tuple[int, str]]:
    """(slot, reason) of every non-flatten order intent journaled after the slot's death."""
    with sqlite3.connect(f"file:{journal_path}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT i.slot, i.reason FROM order_intents i JOIN model_states s ON s.slot = i.slot "
            "AND s.to_state = 'dead' WHERE i.id > 0 AND i.ts_ms > s.ts_ms AND i.reason != 'flatten'"
        ).fetchall()
    return [(int(s), str(r)) for s, r in rows]


def encode_verdict(v: Verdict) -> bytes:
    """The verdict as JSON (Decimals as strings)."""
    return msgspec.json.encode(v, enc_hook=str)
