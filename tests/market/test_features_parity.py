"""Event features: polars batch equals the streaming FeatureStream, and nothing looks ahead."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusforge.errors import DataError
from nexusforge.market.batch import event_features
from nexusforge.market.book import TopLevels
from nexusforge.market.features import FeatureConfig, TradeArrays, replay_events
from nexusforge.market.vmd import VmdFeatureConfig
from nexusforge.testing import assert_frames_match
from nexusforge.testing.strategies import book_and_trades

CFG = FeatureConfig(tick_size=0.5, windows_ns=(100_000_000, 1_000_000_000))


def trades_frame(t: TradeArrays) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "exch_ts": t.exch_ts,
            "local_ts": t.local_ts,
            "price": t.price,
            "qty": t.qty,
            "side": t.side,
        }
    )


def stream_frame(top: TopLevels, trades: TradeArrays, cfg: FeatureConfig) -> pl.DataFrame:
    return pl.DataFrame(replay_events(top, trades, cfg))


@settings(max_examples=60, deadline=None)
@given(book_and_trades())
def test_batch_equals_stream_on_random_books(data: tuple[TopLevels, TradeArrays]) -> None:
    top, trades = data
    batch = event_features(top, trades_frame(trades), CFG)
    assert_frames_match(batch, stream_frame(top, trades, CFG))


def _cut(top: TopLevels, trades: TradeArrays, t: int, seed: int):  # type: ignore[no-untyped-def]
    """Perturb every book message and trade stamped after t."""
    rng = np.random.default_rng(seed)
    bl, tl = top.local_ts > t, trades.local_ts > t
    scale_b = np.where(bl[:, None], rng.uniform(0.5, 2.0, top.bid_qty.shape), 1.0)
    top2 = replace(
        top, valid=top.valid ^ (bl & (rng.random(len(bl)) < 0.5)),
        bid_px=top.bid_px + np.where(bl[:, None], 0.5, 0.0), bid_qty=top.bid_qty * scale_b,
        ask_qty=top.ask_qty / scale_b,
    )  # fmt: skip
    trades2 = TradeArrays(
        trades.exch_ts, trades.local_ts,
        trades.price + np.where(tl, rng.integers(-4, 5, len(tl)) * 0.5, 0.0),
        trades.qty * np.where(tl, 3.0, 1.0),
        np.where(tl, -trades.side, trades.side).astype(np.int8),
    )  # fmt: skip
    return top2, trades2


@settings(max_examples=40, deadline=None)
@given(book_and_trades(), st.floats(0.0, 1.0), st.integers(0, 2**31))
def test_changing_the_future_changes_nothing_before(
    data: tuple[TopLevels, TradeArrays], frac: float, seed: int
) -> None:
    top, trades = data
    ts = np.concatenate([top.local_ts, trades.local_ts])
    if ts.size == 0:
        return
    t = int(np.quantile(ts, frac))
    top2, trades2 = _cut(top, trades, t, seed)
    a = event_features(top, trades_frame(trades), CFG)
    b = event_features(top2, trades_frame(trades2), CFG)
    past = pl.col("local_ts") <= t
    assert_frames_match(a.filter(past), b.filter(past), atol=0.0)


def test_window_values_by_hand() -> None:
    """Two trades 0.5 s apart: the 1 s window holds both, the 100 ms window only the last."""
    top = TopLevels(
        np.array([0], dtype=np.int64), np.array([0], dtype=np.int64),
        np.array([1], dtype=np.int64), np.array([True]),
        np.array([[99.0]]), np.array([[3.0]]), np.array([[101.0]]), np.array([[1.0]]),
    )  # fmt: skip
    trades = TradeArrays(
        np.array([0, 400_000_000], dtype=np.int64), np.array([0, 500_000_000], dtype=np.int64),
        np.array([100.0, 100.5]),
        np.array([2.0, 1.0]), np.array([1, -1], dtype=np.int8),
    )  # fmt: skip
    cfg = FeatureConfig(tick_size=0.5, depths=(1,), windows_ns=(100_000_000, 1_000_000_000))
    out = event_features(top, trades_frame(trades), cfg)
    last = out.row(-1, named=True)
    assert out["kind"].to_list() == [0, 1, 1]
    assert last["imb_1"] == 0.5 and last["spread_ticks"] == 4.0
    assert last["microprice_dev_bps"] == ((99 * 1 + 101 * 3) / 4 - 100) / 100 * 1e4
    assert last["trade_pressure_1s"] == (2.0 - 1.0) / 3.0
    assert last["trade_pressure_100ms"] == -1.0
    assert last["clv_1s"] == 1.0  # the last trade is at the high of the window
    assert np.isnan(last["clv_100ms"])  # one trade: high == low
    assert last["trade_intensity_1s"] == 2.0 and last["trade_intensity_100ms"] == 10.0


def _one_level_top(local_ts: list[int], exch_ts: list[int], bids: list[float]) -> TopLevels:
    n = len(local_ts)
    return TopLevels(
        np.array(exch_ts, dtype=np.int64), np.array(local_ts, dtype=np.int64),
        np.arange(1, n + 1, dtype=np.int64), np.ones(n, dtype=bool),
        np.array(bids)[:, None], np.ones((n, 1)),
        np.array(bids)[:, None] + 1.0, np.ones((n, 1)),
    )  # fmt: skip


def test_events_follow_the_receive_clock_not_venue_stamps() -> None:
    """Venue stamps run backwards here; rows, windows and OFI follow local_ts (arrival order)."""
    top = _one_level_top([0, 10, 20], [30, 5, 25], [100.0, 101.0, 100.0])
    trades = TradeArrays(
        np.array([0], dtype=np.int64), np.array([10], dtype=np.int64),
        np.array([100.5]), np.array([1.0]), np.array([1], dtype=np.int8),
    )  # fmt: skip
    cfg = FeatureConfig(tick_size=0.5, depths=(1,), windows_ns=(15,))
    batch = event_features(top, trades_frame(trades), cfg)
    stream = stream_frame(top, trades, cfg)
    assert_frames_match(batch, stream)
    assert batch["local_ts"].to_list() == [0, 10, 10, 20]
    assert batch["exch_ts"].to_list() == [30, 5, 0, 25]
    assert batch["kind"].to_list() == [0, 0, 1, 0]  # book first on a tie
    # OFI e_n: message 2 vs 1 (both sides up a tick: +2), message 3 vs 2 (both down: −2).
    assert batch["ofi_15ns"].to_list() == [0.0, 2.0, 2.0, -2.0 + 2.0]


def test_a_receive_clock_that_goes_back_is_refused() -> None:
    top = _one_level_top([0, 10, 5], [0, 10, 5], [100.0, 100.0, 100.0])
    trades = TradeArrays(*(np.array([], dtype=d) for d in ("i8", "i8", "f8", "f8", "i1")))
    with pytest.raises(DataError, match="book local_ts goes back at row 2"):
        event_features(top, trades_frame(trades), CFG)
    with pytest.raises(DataError, match="book local_ts goes back at row 2"):
        replay_events(top, trades, CFG)


CFG_VMD = FeatureConfig(
    tick_size=0.5, windows_ns=(1_000_000_000,), vmd=VmdFeatureConfig(window=16, stride=3, k=2)
)


@settings(max_examples=15, deadline=None)
@given(book_and_trades())
def test_vmd_of_log_mid_batch_equals_stream(data: tuple[TopLevels, TradeArrays]) -> None:
    """Invalid books (NaN mid) inside a window make the row NaN on both sides alike."""
    top, trades = data
    batch = event_features(top, trades_frame(trades), CFG_VMD)
    assert_frames_match(batch, stream_frame(top, trades, CFG_VMD))
