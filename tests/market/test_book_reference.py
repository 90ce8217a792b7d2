"""The Rust book equals the dict reference book after every message, on real and random streams."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_book import (
    ReferenceBook,
    RefMessage,
    binance_lines,
    binance_message,
    bybit_lines,
    bybit_message,
    rows_from_messages,
)

from nexusforge.market.book import OrderBook, parse_book_messages, replay_top_levels
from nexusforge.market.events import FLAG_END, BookLevelRows

XRP_TICK = 0.0001
BTC_TICK = 0.1


def split_messages(rows: BookLevelRows) -> list[BookLevelRows]:
    """Level rows cut into one batch per message."""
    ends = np.flatnonzero(rows.flags & FLAG_END) + 1
    starts = np.concatenate([[0], ends[:-1]])
    names = BookLevelRows.__dataclass_fields__
    return [
        BookLevelRows(**{k: getattr(rows, k)[s:e] for k in names})
        for s, e in zip(starts, ends, strict=True)
    ]


def _as_ticks(levels: np.ndarray, tick: float) -> dict[int, float]:
    ticks = np.rint(levels[:, 0] / tick).astype(np.int64)
    return dict(zip(ticks.tolist(), levels[:, 1].tolist(), strict=True))


def assert_same_book(book: OrderBook, ref: ReferenceBook, *, prices: bool = False) -> None:
    """Level by level: same ticks and sizes, best first; with `prices`, the same floats too."""
    bids, asks = book.depth(1_000_000)
    assert np.all(np.diff(bids[:, 0]) < 0) and np.all(np.diff(asks[:, 0]) > 0)
    assert _as_ticks(bids, ref.tick_size) == ref.bids
    assert _as_ticks(asks, ref.tick_size) == ref.asks
    if prices:
        rb, ra = ref.depth(1_000_000)
        assert bids.tolist() == [list(x) for x in rb]
        assert asks.tolist() == [list(x) for x in ra]
    assert book.is_valid == ref.valid
    assert book.last_update_id == ref.last_update_id
    assert asdict(book.stats()) == ref.counters


def check_stream(rows: BookLevelRows, ref_msgs: list[RefMessage], tick: float) -> OrderBook:
    book = OrderBook(tick)
    ref = ReferenceBook(tick)
    per_message = split_messages(rows)
    assert len(per_message) == len(ref_msgs)
    for k, (batch, msg) in enumerate(zip(per_message, ref_msgs, strict=True)):
        book.apply(batch)
        ref.apply(msg)
        assert_same_book(book, ref, prices=k % 500 == 0 or k == len(ref_msgs) - 1)
    return book


def test_bybit_ob500_matches_reference(shared_data: Path) -> None:
    lines = bybit_lines(shared_data)
    parsed = parse_book_messages(lines, "bybit")
    book = check_stream(parsed.rows, [bybit_message(x) for x in lines], XRP_TICK)
    s = book.stats()
    assert (s.snapshots, s.deltas_applied, s.gaps, s.crossed) == (1, 49, 0, 0)
    assert book.is_valid and book.last_update_id == 20254918


def test_binance_depth_matches_reference(shared_data: Path) -> None:
    msgs, local = binance_lines(shared_data)
    parsed = parse_book_messages(msgs, "binance", local_ts=local)
    refs = [m for b, t in zip(msgs, local, strict=True) if (m := binance_message(b, int(t)))]
    book = check_stream(parsed.rows, refs, BTC_TICK)
    s = book.stats()
    assert s.snapshots == 1 and s.gaps == 0 and s.crossed == 0 and s.bad_messages == 0
    # Events received before the REST snapshot are held; the one that bridges it and those
    # after it are replayed, the rest of the stream chains on pu.
    assert s.deltas_before_snapshot == 6 and s.replayed == 2 and s.stale == 0
    assert s.deltas_applied == 6551 - 6 + 2
    assert book.is_valid


def test_replay_equals_streaming_on_real_data(shared_data: Path) -> None:
    msgs, local = binance_lines(shared_data)
    rows = parse_book_messages(msgs[:20_000], "binance", local_ts=local[:20_000]).rows
    depth = 5
    top = replay_top_levels(rows, BTC_TICK, depth)
    book = OrderBook(BTC_TICK)
    for k, batch in enumerate(split_messages(rows)):
        book.apply(batch)
        bids, asks = book.depth(depth)
        for side_px, side_qty, levels in (
            (top.bid_px, top.bid_qty, bids),
            (top.ask_px, top.ask_qty, asks),
        ):
            want_px = np.full(depth, np.nan)
            want_qty = np.full(depth, np.nan)
            want_px[: len(levels)] = levels[:, 0]
            want_qty[: len(levels)] = levels[:, 1]
            np.testing.assert_array_equal(side_px[k], want_px)
            np.testing.assert_array_equal(side_qty[k], want_qty)
        assert top.valid[k] == book.is_valid
        assert top.update_id[k] == batch.update_id[-1]
        assert top.local_ts[k] == batch.local_ts[-1]


# ---- random streams: gaps, stale ids, crossed books, deletes of absent levels, bad levels ----

_prices = st.one_of(
    st.integers(1990, 2010).map(lambda t: t * 0.5),  # a crowded market around 1000
    st.integers(1, 10**7).map(lambda t: t * 0.5),  # outliers outside the dense window
    st.sampled_from([float("nan"), float("inf"), -1.0, 0.0]),
)
_qtys = st.one_of(
    st.integers(1, 50).map(float),
    st.just(0.0),
    st.sampled_from([-1.0, float("nan"), float("inf")]),
)
_levels = st.tuples(_prices, _qtys, st.sampled_from([1, -1, 1, -1, 0]))


@st.composite
def _streams(draw: st.DrawFn) -> list[RefMessage]:
    n = draw(st.integers(1, 40))
    uid = draw(st.integers(1, 3))
    out = []
    for _ in range(n):
        uid += draw(st.integers(-1, 3))  # back, same, forward, jump
        snap = draw(st.booleans().map(lambda b: b and draw(st.integers(0, 9)) == 0))
        back = draw(st.integers(0, 2))
        levels = draw(st.lists(_levels, max_size=8))
        out.append(RefMessage(uid, 0 if snap else uid - back, snap, levels))
    return out


@settings(max_examples=200, deadline=None)
@given(_streams())
def test_random_streams_match_reference(msgs: list[RefMessage]) -> None:
    check_stream(rows_from_messages(msgs), msgs, 0.5)


@settings(max_examples=100, deadline=None)
@given(_streams(), st.integers(1, 4))
def test_random_replay_equals_streaming(msgs: list[RefMessage], depth: int) -> None:
    rows = rows_from_messages(msgs)
    top = replay_top_levels(rows, 0.5, depth)
    ref = ReferenceBook(0.5)
    for k, msg in enumerate(msgs):
        ref.apply(msg)
        bids, asks = ref.depth(depth)
        got_b = [(p, q) for p, q in zip(top.bid_px[k], top.bid_qty[k], strict=True) if p == p]
        got_a = [(p, q) for p, q in zip(top.ask_px[k], top.ask_qty[k], strict=True) if p == p]
        assert got_b == bids and got_a == asks
        assert top.valid[k] == ref.valid


@pytest.mark.parametrize("tick", [0.5, 0.1, 0.0001, 0.3])
def test_prices_round_trip_like_the_reference(tick: float) -> None:
    msgs = [RefMessage(5, 0, True, [(123 * tick, 1.0, 1), (124 * tick, 2.0, -1)])]
    book = check_stream(rows_from_messages(msgs), msgs, tick)
    assert book.best_bid() is not None
