"""Id rules, counters and invalid states of the book, through the Python face."""

from __future__ import annotations

import math

import numpy as np
import pytest
from reference_book import RefMessage, rows_from_messages

from nexusforge.errors import BookError
from nexusforge.market.book import Level, OrderBook
from nexusforge.market.events import BookLevelRows

SNAP = [(100.0, 1.0, 1), (99.5, 2.0, 1), (101.0, 3.0, -1), (102.0, 4.0, -1)]


def run(*msgs: RefMessage) -> OrderBook:
    book = OrderBook(0.5)
    book.apply(rows_from_messages(list(msgs)))
    return book


def snap(uid: int) -> RefMessage:
    return RefMessage(uid, 0, True, list(SNAP))


def test_snapshot_then_delta() -> None:
    book = run(snap(10), RefMessage(11, 10, False, [(100.0, 0.0, 1), (100.5, 5.0, 1)]))
    assert book.is_valid and book.last_update_id == 11
    assert book.best_bid() == Level(100.5, 5.0)
    assert book.best_ask() == Level(101.0, 3.0)
    s = book.stats()
    assert (s.snapshots, s.deltas_applied, s.level_updates) == (1, 1, 6)


def test_delta_before_snapshot_is_held_then_dropped_as_older() -> None:
    book = run(RefMessage(5, 4, False, [(100.0, 9.0, 1)]))
    assert not book.is_valid and book.best_bid() is None
    assert book.stats().deltas_before_snapshot == 1
    book.apply(rows_from_messages([snap(10)]))
    assert book.is_valid and book.best_bid() == Level(100.0, 1.0)
    assert book.stats().replayed == 0


def test_held_delta_bridging_a_later_snapshot_is_replayed() -> None:
    book = run(RefMessage(12, 8, False, [(100.0, 9.0, 1)]), snap(10))
    assert book.is_valid and book.last_update_id == 12
    assert book.best_bid() == Level(100.0, 9.0)
    assert book.stats().replayed == 1


def test_gap_invalidates_until_next_snapshot() -> None:
    book = run(
        snap(10),
        RefMessage(13, 12, False, [(100.0, 9.0, 1)]),
        RefMessage(14, 13, False, [(100.0, 8.0, 1)]),
    )
    s = book.stats()
    assert not book.is_valid and (s.gaps, s.skipped_while_invalid) == (1, 1)
    book.apply(rows_from_messages([snap(20), RefMessage(21, 20, False, [(99.0, 1.0, 1)])]))
    assert book.is_valid and book.last_update_id == 21


def test_out_of_order_and_duplicate_ids_are_stale() -> None:
    book = run(
        snap(10),
        RefMessage(12, 10, False, [(100.0, 9.0, 1)]),
        RefMessage(11, 10, False, [(100.0, 7.0, 1)]),
        RefMessage(12, 11, False, [(100.0, 6.0, 1)]),
    )
    assert book.stats().stale == 2 and book.is_valid
    assert book.best_bid() == Level(100.0, 9.0)


def test_crossed_book_is_invalid_until_snapshot() -> None:
    book = run(snap(10), RefMessage(11, 10, False, [(101.5, 1.0, 1)]))
    assert not book.is_valid and book.stats().crossed == 1
    book.apply(rows_from_messages([snap(30)]))
    assert book.is_valid


@pytest.mark.parametrize(
    "bad",
    [(100.0, -1.0, 1), (math.nan, 1.0, 1), (100.0, math.nan, -1), (100.0, 1.0, 2), (0.0, 1.0, 1)],
)
def test_bad_level_rejects_whole_message(bad: tuple[float, float, int]) -> None:
    book = run(snap(10), RefMessage(11, 10, False, [(99.5, 0.0, 1), bad]))
    assert not book.is_valid and book.stats().bad_messages == 1
    assert book.depth(5)[0].tolist() == [[100.0, 1.0], [99.5, 2.0]]
    assert book.last_update_id == 10


def test_update_id_one_resnapshots() -> None:
    book = run(snap(10), RefMessage(1, 0, False, [(50.0, 1.0, 1), (51.0, 2.0, -1)]))
    assert book.is_valid and book.stats().snapshots == 2
    assert book.depth(3)[0].tolist() == [[50.0, 1.0]]


def test_queries_walk_the_book() -> None:
    book = run(snap(10))
    assert book.mid() == 100.5 and book.spread() == 1.0
    assert book.microprice() == (100.0 * 3.0 + 101.0 * 1.0) / 4.0
    buy = book.cost_to_buy(5.0)
    assert buy.filled_qty == 5.0 and buy.notional == 3 * 101.0 + 2 * 102.0
    assert buy.avg_price == buy.notional / 5.0
    sell = book.cost_to_sell(10.0)
    assert sell.filled_qty == 3.0 and sell.notional == 100.0 + 2 * 99.5
    with pytest.raises(BookError):
        book.cost_to_buy(-1.0)
    empty = OrderBook(0.5)
    assert empty.mid() is None and empty.microprice() is None
    assert math.isnan(empty.cost_to_sell(1.0).avg_price)
    assert empty.depth(3)[0].shape == (0, 2)


def test_bad_input_raises_book_error() -> None:
    rows = rows_from_messages([snap(10)])
    fields = {k: getattr(rows, k) for k in BookLevelRows.__dataclass_fields__}
    with pytest.raises(BookError, match="dtype"):
        OrderBook(0.5).apply(
            BookLevelRows(**{**fields, "price": fields["price"].astype(np.float32)})
        )
    with pytest.raises(BookError, match="rows"):
        OrderBook(0.5).apply(BookLevelRows(**{**fields, "qty": fields["qty"][:-1]}))
    with pytest.raises(BookError, match="END"):
        OrderBook(0.5).apply(BookLevelRows(**{**fields, "flags": fields["flags"] & ~np.uint8(4)}))
    with pytest.raises(BookError):
        OrderBook(0.0)
