"""Memory bounds found by the soak (issue 11): a ledger keeps at most `max_kept` fills however
long it trades, and the bound changes nothing it reports (state, dedupe, fill count)."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest

from nexusforge.errors import LedgerError
from nexusforge.nexus.executions import ExecId, Execution
from nexusforge.nexus.ledger import CHECKPOINT_EVERY, MAX_KEPT_FILLS, Book, Ledger

D = Decimal
SYMBOL = "BTCUSDT"


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
