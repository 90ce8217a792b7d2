"""Memory bounds found by the soak (issue 11): a ledger keeps at most `max_kept` fills however
long it trades, and the bound changes nothing it reports (state, dedupe, fill count); the execIds
kept for dedupe (engine book, ledgers, private stream, dashboard copy) stay bounded while an
hours-old duplicate is still refused, from the journal's index; SQLite's page caches are capped."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from nexusforge.errors import LedgerError
from nexusforge.market.costs import CostModel
from nexusforge.nexus import ledger as ledger_mod
from nexusforge.nexus.dashboard.journal_source import JournalSource
from nexusforge.nexus.dashboard.journal_tail import JournalTail
from nexusforge.nexus.executions import ExecId, Execution
from nexusforge.nexus.journal import CACHE_KIB, Journal, reconcile
from nexusforge.nexus.ledger import CHECKPOINT_EVERY, MAX_KEPT_FILLS, Book, Ledger, slot_router
from nexusforge.nexus.order_ids import make
from nexusforge.nexus.pit_crew.record import DecisionLog
from nexusforge.nexus.pit_crew.shadow import Shadow
from nexusforge.nexus.venues.bybit.recovery import ExecIdSet
from nexusforge.strategy.expr import Const

D = Decimal
SYMBOL = "BTCUSDT"
NAMES = {1: "m1", 2: "m2", 3: "m3"}


def fill(i: int, rng: random.Random, link: str = "") -> Execution:
    return Execution(
        exec_id=ExecId(f"e{i:06d}"),
        symbol=SYMBOL,
        exec_type="Trade",
        side=rng.choice((1, -1)),
        price=D(rng.randrange(9_000, 11_000)) / 10,
        qty=D(rng.randrange(1, 50)) / 1000,
        fee=D(rng.randrange(0, 100)) / 10_000,
        exec_time_ms=1_000 + i,
        order_link_id=link,
    )


def test_a_long_run_keeps_at_most_max_kept_fills_and_the_same_state() -> None:
    rng = random.Random(7)
    rows = [fill(i, rng) for i in range(20 * MAX_KEPT_FILLS)]
    bounded = Ledger("m", SYMBOL, D(1000))
    unbounded = Ledger("m", SYMBOL, D(1000), max_kept=len(rows) + CHECKPOINT_EVERY)
    peak = 0
    for e in rows:
        assert bounded.apply(e) and unbounded.apply(e)
        peak = max(peak, len(bounded.fills))
    assert MAX_KEPT_FILLS <= peak <= MAX_KEPT_FILLS + CHECKPOINT_EVERY
    assert len(unbounded.fills) == len(rows)  # the bound is what kept the other one small
    assert bounded.state == unbounded.state
    assert bounded.fill_count == unbounded.fill_count == len(rows)
    assert bounded.last_fill == rows[-1]
    assert not bounded.apply(rows[0]) and bounded.duplicates == 1  # forgotten, still a duplicate


def test_late_fills_inside_the_kept_window_stay_canonical() -> None:
    rng = random.Random(11)
    rows = [fill(i, rng) for i in range(6 * MAX_KEPT_FILLS)]
    arrival = list(rows)
    for k in range(len(arrival) - 1, 0, -97):  # swap a fill with one a few places back
        j = max(k - rng.randrange(1, MAX_KEPT_FILLS // 2), 0)
        arrival[k], arrival[j] = arrival[j], arrival[k]
    bounded = Ledger("m", SYMBOL, D(1000))
    for e in arrival:
        bounded.apply(e)
    ordered = Ledger("m", SYMBOL, D(1000), max_kept=len(rows) + CHECKPOINT_EVERY)
    for e in rows:
        ordered.apply(e)
    # every late fill reached back less than max_kept fills: inside the kept window, replayed
    # in canonical order, so even the path-dependent realized/cost split is the same
    assert bounded.late_beyond_horizon == 0
    assert bounded.state == ordered.state


def test_a_book_of_bounded_ledgers_stays_bounded() -> None:
    rng = random.Random(3)
    book = Book(SYMBOL, {"a": D(1000), "b": D(1000)}, lambda link: link or None)
    for i in range(8 * MAX_KEPT_FILLS):
        assert book.apply(fill(i, rng, "a" if i % 3 else "b"))
    sizes = [len(lg.fills) for lg in book.ledgers.values()]
    assert all(n <= MAX_KEPT_FILLS + CHECKPOINT_EVERY for n in sizes)
    assert sum(lg.fill_count for lg in book.ledgers.values()) == 8 * MAX_KEPT_FILLS


def test_a_bound_below_one_checkpoint_is_refused() -> None:
    with pytest.raises(LedgerError, match="max_kept"):
        Ledger("m", SYMBOL, D(0), max_kept=CHECKPOINT_EVERY - 1)


# --- execIds: a bounded memory in front of the journal's exact index -------------------------

HOUR_MS = 3_600_000


def journal_fill(i: int, rng: random.Random, links: tuple[str, ...]) -> Execution:
    """Fill i, one every 2 s (fill 0 is over an hour older than fill 2,000), routed to a model."""
    e = fill(i, rng, links[i % len(links)])
    return msgspec.structs.replace(e, exec_time_ms=1_700_000_000_000 + i * 2000)


def open_journal(path: Path) -> tuple[Journal, tuple[str, ...]]:
    j = Journal(path, synchronous="NORMAL")
    alloc = j.allocator()
    for slot, name in NAMES.items():
        j.record_model(slot, name, SYMBOL, D(10_000))
    return j, tuple(alloc.next(slot) for slot in NAMES)


def engine_path(j: Journal, book: Book, rows: list[Execution]) -> int:
    """What `Engine._apply` does: journal first (one commit), then the book, each id once."""
    fresh = j.record_executions(rows, "ws")
    return sum(1 for new, e in zip(fresh, rows, strict=True) if new and book.apply(e))


def total_funding(book: Book) -> Decimal:
    return sum((lg.state.funding for lg in [*book.ledgers.values(), book.orphan]), D(0))


def bounded(book: Book) -> bool:
    cap = ledger_mod.RECENT_EXEC_IDS + ledger_mod.FORGET_BATCH
    ledgers = [*book.ledgers.values(), book.orphan]
    return book.remembered_ids <= cap and all(lg.remembered_ids <= cap for lg in ledgers)


@pytest.fixture
def small_window(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same code with a window of 64 ids, so a few thousand fills overflow it many times."""
    monkeypatch.setattr(ledger_mod, "RECENT_EXEC_IDS", 64)
    monkeypatch.setattr(ledger_mod, "FORGET_BATCH", 16)


def run_stream(tmp_path: Path, n: int) -> tuple[Journal, Book, list[Execution]]:
    """n fills through a real journal and the engine's book, in messages of 1 to 20 rows."""
    j, links = open_journal(tmp_path / "journal.sqlite")
    book = j.rebuild()[SYMBOL]
    rng = random.Random(5)
    rows = [journal_fill(i, rng, links) for i in range(n)]
    i, applied = 0, 0
    while i < n:
        k = rng.randrange(1, 21)
        applied += engine_path(j, book, rows[i : i + k])
        assert bounded(book)
        i += k
    assert applied == n
    return j, book, rows


@pytest.mark.usefixtures("small_window")
def test_a_journal_backed_book_stays_bounded_and_exact(tmp_path: Path) -> None:
    j, book, rows = run_stream(tmp_path, 3000)
    exact = Book(SYMBOL, {n: D(10_000) for n in NAMES.values()}, slot_router(NAMES))
    assert exact.apply_all(rows) == len(rows)
    assert exact.remembered_ids == len(rows)  # alone, a Book remembers every id (the old way)
    assert book.remembered_ids <= 64 + 16
    for name in NAMES.values():
        assert book.ledger(name).state == exact.ledger(name).state
        assert book.ledger(name).fill_count == exact.ledger(name).fill_count
    # an hours-old duplicate is refused by the book itself, from the journal's index
    old = rows[0]
    assert rows[-1].exec_time_ms - old.exec_time_ms > HOUR_MS
    assert old.exec_id not in book._recent  # forgotten in memory
    assert not book.apply(old) and book.duplicates == 1
    assert j.record_executions([old, rows[1500]], "rest") == [False, False]
    assert book.ledger(NAMES[1]).state == exact.ledger(NAMES[1]).state
    # a new fill after all that is still new
    new = journal_fill(len(rows), random.Random(1), ("",))
    assert engine_path(j, book, [new]) == 1 and book.orphan_fills == 1
    assert len(j.exec_ids()) == len(rows) + 1  # the chaos check still reads every execId
    j.close()


@pytest.mark.usefixtures("small_window")
def test_rebuild_and_the_dashboard_copy_are_bounded_and_equal(tmp_path: Path) -> None:
    j, live, rows = run_stream(tmp_path, 2000)
    rebuilt = j.rebuild()[SYMBOL]
    source = JournalSource(j.path)
    while not source.refresh(max_rows=137):
        pass
    shown = source._books[SYMBOL]
    for book in (rebuilt, shown):
        assert bounded(book) and book.remembered_ids <= 64 + 16
        for name in NAMES.values():
            assert book.ledger(name).state == live.ledger(name).state
            assert book.ledger(name).fill_count == live.ledger(name).fill_count
        assert not book.apply(rows[3]) and book.duplicates == 1
    assert [m.equity for m in source.snapshot().models] == [
        m.equity for m in JournalSource(j.path).snapshot().models
    ]
    source.close()
    j.close()


@pytest.mark.usefixtures("small_window")
def test_an_id_the_journal_never_had_is_never_forgotten(tmp_path: Path) -> None:
    j, book, rows = run_stream(tmp_path, 200)
    stray = msgspec.structs.replace(rows[0], exec_id=ExecId("not-journaled"))
    assert book.apply(stray)  # misuse (not journaled first), but dedupe must stay exact
    rng = random.Random(9)
    links = tuple(make(slot, j.run_id, 10_000 + slot) for slot in NAMES)
    more = [journal_fill(i, rng, links) for i in range(200, 600)]
    assert engine_path(j, book, more) == len(more)
    assert not book.apply(stray) and book.remembered_ids <= 64 + 16 + 1
    j.close()


@pytest.mark.usefixtures("small_window")
def test_funding_parts_stay_exact_in_a_bounded_book(tmp_path: Path) -> None:
    j, book, rows = run_stream(tmp_path, 500)
    funding = msgspec.structs.replace(
        rows[-1], exec_id=ExecId("fund-1"), exec_type="Funding", fee=D("0.37"), order_link_id=""
    )
    before = total_funding(book)
    assert engine_path(j, book, [funding]) == 1
    assert total_funding(book) - before == D("0.37")
    assert engine_path(j, book, [funding]) == 0 and not book.apply(funding)
    j.close()


def test_the_private_streams_memory_is_bounded_and_asks_the_journal(tmp_path: Path) -> None:
    j, links = open_journal(tmp_path / "journal.sqlite")
    rng = random.Random(2)
    rows = [journal_fill(i, rng, links) for i in range(300)]
    seen = ExecIdSet(capacity=50, known=j.has_execution)
    delivered = []
    for e in rows:  # the stream delivers, then the engine journals what it was given
        if seen.add(e.exec_id):
            delivered.append(e)
            j.record_executions([e], "ws")
    assert len(delivered) == len(rows) and len(seen) == 50
    assert not seen.add(rows[0].exec_id) and rows[0].exec_id in seen  # hours old, refused
    assert len(seen) == 50
    assert seen.add("brand-new") and "never-seen" not in seen
    j.close()


def test_reconcile_does_not_reapply_old_fills_the_venue_reports_again(tmp_path: Path) -> None:
    j, links = open_journal(tmp_path / "journal.sqlite")
    book = j.rebuild()[SYMBOL]
    rng = random.Random(4)
    rows = [journal_fill(i, rng, links) for i in range(1200)]
    engine_path(j, book, rows)
    missing = journal_fill(1200, rng, links)
    plan = reconcile(j, book, [], book.total_inventory() + missing.signed_qty, [*rows, missing])
    assert plan.apply == (missing,) and plan.orphan_position == 0
    j.close()


def test_every_long_lived_connection_caps_sqlites_page_cache(tmp_path: Path) -> None:
    j, _ = open_journal(tmp_path / "journal.sqlite")
    reader = Journal(j.path, readonly=True)
    tail = JournalTail(j.path)
    decisions = DecisionLog(j.path)
    for db in (j._db, reader._db, tail._db, decisions._db):
        assert db is not None
        assert db.execute("PRAGMA cache_size").fetchone()[0] == -CACHE_KIB
    decisions.close()
    tail.close()
    reader.close()
    j.close()


@pytest.mark.slow
def test_fifty_thousand_fills_at_the_real_window_sizes(tmp_path: Path) -> None:
    j, book, rows = run_stream(tmp_path, 50_000)
    assert book.remembered_ids <= ledger_mod.RECENT_EXEC_IDS + ledger_mod.FORGET_BATCH
    assert sum(lg.fill_count for lg in book.ledgers.values()) == len(rows)
    assert all(len(lg.fills) <= MAX_KEPT_FILLS + CHECKPOINT_EVERY for lg in book.ledgers.values())
    assert not book.apply(rows[0]) and book.duplicates == 1
    assert len(j.exec_ids()) == len(rows)
    j.close()


def test_a_shadow_challenger_remembers_a_bounded_window_of_its_virtual_fills() -> None:
    """A challenger may run in shadow for days: its virtual ledger's ids are unique and
    sequential, so it keeps only the newest RECENT_EXEC_IDS (the soak's Pit Crew found it)."""
    shadow = Shadow.start("ab" * 32, Const(0.0), SYMBOL, D(10_000), D("0.3"), now_s=0.0,
                          now_ms=0, costs=CostModel(), max_position=D(100))  # fmt: skip
    rng = random.Random(3)
    n = ledger_mod.RECENT_EXEC_IDS * 3
    for i in range(n):
        assert shadow.model.ledger.apply(fill(i, rng))
    assert shadow.model.ledger.fill_count == n
    assert (
        shadow.model.ledger.remembered_ids <= ledger_mod.RECENT_EXEC_IDS + ledger_mod.FORGET_BATCH
    )
