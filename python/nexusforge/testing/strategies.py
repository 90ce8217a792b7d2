"""Hypothesis strategies shared by parity and no-look-ahead tests (books, trades, bars)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from hypothesis import strategies as st

from nexusforge.market.book import TopLevels
from nexusforge.market.features import TradeArrays


def _times(rng: np.random.Generator, n: int, start: int, max_gap_ns: int) -> npt.NDArray[np.int64]:
    """Non-decreasing stamps with many ties (gap 0 about a third of the time)."""
    gaps = rng.integers(0, max_gap_ns, n) * (rng.random(n) > 0.33)
    return (start + np.cumsum(gaps)).astype(np.int64)


def _venue_stamps(
    rng: np.random.Generator, local_ts: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Venue stamps some random latency (0–20 ms) before receipt: not monotonic, like Binance."""
    return (local_ts - rng.integers(0, 20_000_000, len(local_ts))).astype(np.int64)


@st.composite
def book_and_trades(
    draw: st.DrawFn, max_events: int = 300, depth: int = 10
) -> tuple[TopLevels, TradeArrays]:
    """A random walk book (some invalid and one-sided messages, missing levels) and trades."""
    seed = draw(st.integers(0, 2**32 - 1))
    nb = draw(st.integers(0, max_events))
    nt = draw(st.integers(0, max_events))
    rng = np.random.default_rng(seed)
    tick = 0.5
    mid = 1000.0 + tick * np.cumsum(rng.integers(-2, 3, nb))
    half = tick * rng.integers(1, 4, nb)
    steps = tick * np.arange(depth)
    bid_px = (mid - half)[:, None] - steps[None, :]
    ask_px = (mid + half)[:, None] + steps[None, :]
    bid_qty = rng.integers(0, 50, (nb, depth)) / 10.0 + 0.001
    ask_qty = rng.integers(0, 50, (nb, depth)) / 10.0 + 0.001
    levels = rng.integers(0, depth + 1, nb)  # fewer levels on some messages (NaN beyond)
    missing = np.arange(depth)[None, :] >= levels[:, None]
    for arr in (bid_px, bid_qty):
        arr[missing] = np.nan
    ask_missing = np.arange(depth)[None, :] >= rng.integers(0, depth + 1, nb)[:, None]
    for arr in (ask_px, ask_qty):
        arr[ask_missing] = np.nan
    valid = rng.random(nb) > 0.1
    span = 3_000_000_000
    book_ts = _times(rng, nb, 0, span // max(nb, 1) + 1)
    top = TopLevels(
        exch_ts=_venue_stamps(rng, book_ts), local_ts=book_ts,
        update_id=np.arange(1, nb + 1, dtype=np.int64), valid=valid,
        bid_px=bid_px, bid_qty=bid_qty, ask_px=ask_px, ask_qty=ask_qty,
    )  # fmt: skip
    trade_ts = _times(rng, nt, 0, span // max(nt, 1) + 1)
    trades = TradeArrays(
        _venue_stamps(rng, trade_ts),
        trade_ts,
        (1000.0 + tick * rng.integers(-20, 21, nt)).astype(np.float64),
        rng.integers(1, 100, nt) / 100.0,
        rng.choice(np.array([1, -1], dtype=np.int8), nt),
    )
    return top, trades
