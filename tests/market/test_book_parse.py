"""parse_book_messages on the real recordings and on malformed input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from reference_book import binance_lines, bybit_lines

from nexusforge.errors import BookError
from nexusforge.market.book import (
    STATUS_BOOK,
    STATUS_OTHER,
    OrderBook,
    parse_book_messages,
)
from nexusforge.market.events import FLAG_BEGIN, FLAG_END, FLAG_SNAPSHOT


def test_bybit_archive(shared_data: Path) -> None:
    lines = bybit_lines(shared_data)
    p = parse_book_messages(lines, "bybit")
    assert (p.status == STATUS_BOOK).all() and p.errors == [] and p.malformed == 0
    r = p.rows
    assert np.count_nonzero(r.flags & FLAG_END) == 50
    first = r.flags & FLAG_SNAPSHOT != 0
    assert first.sum() == 1000 and (r.side[first] == 1).sum() == 500
    ends = r.flags & FLAG_END != 0
    assert np.array_equal(r.update_id[ends], np.arange(20254869, 20254919))
    assert (np.diff(p.seq[ends]) > 0).all()
    assert r.exch_ts[0] == 1733011200691 * 1_000_000
    assert np.array_equal(r.local_ts, r.exch_ts)


def test_binance_capture(shared_data: Path) -> None:
    msgs, local = binance_lines(shared_data)
    p = parse_book_messages(msgs, "binance", local_ts=local)
    assert p.malformed == 0
    assert (p.status == STATUS_BOOK).sum() == 6552
    assert (p.status == STATUS_OTHER).sum() == 66089 + 21313
    r = p.rows
    begins = r.flags & FLAG_BEGIN != 0
    book_idx = np.flatnonzero(p.status == STATUS_BOOK)
    assert np.array_equal(r.local_ts[begins], local[book_idx])
    snap = r.flags & FLAG_SNAPSHOT != 0
    assert set(r.update_id[snap].tolist()) == {5123107852948}


def test_malformed_messages_are_reported_not_raised() -> None:
    msgs = [
        b'{"topic":"orderbook.1.X","type":"snapshot","ts":1,"data":{"b":[["1","1"]],"a":[],"u":5}}',
        b'{"topic":"orderbook.1.X","type":"delta","ts":1,"data":{"b":[["1","1"]],"a":[],"u":6',
        b'{"topic":"orderbook.1.X","type":"delta","ts":"x","data":{"b":[],"a":[],"u":6}}',
        b'{"topic":"orderbook.1.X","type":"delta","ts":1,"data":{"b":[[1,1]],"a":[],"u":6}}',
        b'{"topic":"orderbook.1.X","type":"delta","ts":1,"data":{"b":[["1","x"]],"a":[],"u":6}}',
        b'{"topic":"orderbook.1.X","type":"delta","ts":1,"data":{"a":[],"u":6}}',
        b"not json",
        b"\xff\xfe",
        b"",
        b'{"op":"pong"}',
    ]
    p = parse_book_messages(msgs, "bybit")
    assert p.status.tolist() == [0, 2, 2, 2, 2, 2, 2, 2, 2, 1]
    assert p.malformed == 8 and len(p.errors) == 8
    assert p.errors[0].startswith("message 1:")
    assert len(p.rows) == 1
    book = OrderBook(1.0)
    assert book.apply_json(msgs, "bybit") == 8
    assert book.is_valid and book.best_bid() is not None


def test_bad_arguments() -> None:
    with pytest.raises(BookError, match="format"):
        parse_book_messages([b"{}"], "kraken")
    with pytest.raises(BookError, match="bytes"):
        parse_book_messages(["{}"], "bybit")  # type: ignore[list-item]
    with pytest.raises(BookError, match="local_ts"):
        parse_book_messages([b"{}"], "bybit", local_ts=np.array([1, 2]))


def test_apply_json_equals_apply_of_parsed_rows(shared_data: Path) -> None:
    msgs, local = binance_lines(shared_data)
    a, b = OrderBook(0.1), OrderBook(0.1)
    a.apply_json(msgs, "binance", local_ts=local)
    b.apply(parse_book_messages(msgs, "binance", local_ts=local).rows)
    assert a.stats() == b.stats()
    assert all(np.array_equal(x, y) for x, y in zip(a.depth(10**6), b.depth(10**6), strict=True))
