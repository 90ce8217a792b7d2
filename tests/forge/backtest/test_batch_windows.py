"""`evaluate_windows` on real Binance BTCUSDT 1m candles: each window equals `evaluate_batch`
on the data sliced to it, bit for bit (cold start, no state from earlier rows), for random
expressions and any thread count; shared subtrees are merged; bad windows are refused."""

from __future__ import annotations

import itertools
from dataclasses import astuple
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexusforge.errors import DataError
from nexusforge.forge.backtest import BacktestConfig, MarketData
from nexusforge.forge.backtest.batch import (
    METRIC_NAMES,
    evaluate_batch,
    evaluate_windows,
    forest_size,
)
from nexusforge.strategy.expr import Call, Col, Expr
from nexusforge.testing.expressions import expressions

BARS = 12_000
BARS_PER_YEAR = 365 * 24 * 60
NAMES = ("close", "volume", "taker_buy_volume", "trade_count")
CONFIG = BacktestConfig(tick_size=0.01, half_spread_bps=0.5)
WINDOWS = [(0, 5_000), (5_000, 7_500), (7_500, 12_000), (100, 700)]


@pytest.fixture(scope="module")
def candles(shared_data: Path) -> pl.DataFrame:
    """The first BARS one-minute candles, feature columns as float64."""
    path = shared_data / "history" / "binance_spot_BTCUSDT_1m_20260301_20260709.csv.gz"
    frame = pl.read_csv(path, n_rows=BARS)
    return frame.select(pl.col(n).cast(pl.Float64) for n in NAMES)


def _funding(n: int) -> np.ndarray:
    """A funding charge every 480 bars (8 h), alternating sign."""
    f = np.zeros(n)
    f[::480] = 1e-4 * np.where(np.arange(len(f[::480])) % 2 == 0, 1.0, -1.0)
    return f


def _sliced(exprs: list[Expr], data: pl.DataFrame) -> np.ndarray:
    """Reference: one `evaluate_batch` per window on the sliced data."""
    close, fund = data["close"].to_numpy(), _funding(data.height)
    out = []
    for a, b in WINDOWS:
        res = evaluate_batch(
            exprs, data.slice(a, b - a), close[a:b], bars_per_year=BARS_PER_YEAR,
            market=MarketData(funding=fund[a:b]), config=CONFIG, threads=1,
        )  # fmt: skip
        out.append([astuple(m) for m in res])
    return np.array(out, dtype=np.float64).transpose(1, 0, 2)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.all((a == b) | (np.isnan(a) & np.isnan(b))))


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exprs=st.lists(expressions(NAMES, max_depth=5, max_window=60), min_size=1, max_size=6))
def test_windows_equal_sliced_batches(candles: pl.DataFrame, exprs: list[Expr]) -> None:
    # Each expression twice plus a sum of neighbours, so the core merges shared subtrees.
    pop = exprs + exprs + [Call("add", (a, b)) for a, b in itertools.pairwise(exprs)]
    want = _sliced(pop, candles)
    for threads in (1, 3):
        got = evaluate_windows(
            pop, candles, candles["close"], WINDOWS, bars_per_year=BARS_PER_YEAR,
            market=MarketData(funding=_funding(candles.height)), config=CONFIG, threads=threads,
        )  # fmt: skip
        assert _same(got, want)


def test_shared_subtrees_are_merged_and_results_trade(candles: pl.DataFrame) -> None:
    z = Call("zscore", (Col("close"),), 60)
    v = Call("mean", (Col("volume"),), 30)
    pop: list[Expr] = [
        Call("neg", (z,)),
        Call("tanh", (Call("mul", (z, v)),)),
        Call("sign", (Call("sub", (Col("volume"), v)),)),
        Call("tanh", (Call("mul", (z, v)),)),
    ]
    distinct, total = forest_size(pop)
    assert distinct < total
    assert distinct == 9  # close, zscore, neg, volume, mean, mul, tanh, sub, sign
    got = evaluate_windows(pop, candles, candles["close"], WINDOWS, bars_per_year=BARS_PER_YEAR,
                           config=CONFIG)  # fmt: skip
    trades = got[..., METRIC_NAMES.index("trades")]
    assert (trades[:3] > 10).all()
    assert _same(got[1], got[3])
    assert _same(got, _sliced_plain(pop, candles))


def _sliced_plain(exprs: list[Expr], data: pl.DataFrame) -> np.ndarray:
    close = data["close"].to_numpy()
    return np.array(
        [[astuple(m) for m in evaluate_batch(exprs, data.slice(a, b - a), close[a:b],
                                             bars_per_year=BARS_PER_YEAR, config=CONFIG)]
         for a, b in WINDOWS],
        dtype=np.float64,
    ).transpose(1, 0, 2)  # fmt: skip


@pytest.mark.parametrize("window", [(0, BARS + 1), (50, 50), (60, 40), (-1, 10)])
def test_bad_windows_are_refused(candles: pl.DataFrame, window: tuple[int, int]) -> None:
    with pytest.raises(DataError):
        evaluate_windows([Col("close")], candles, candles["close"], [window],
                         bars_per_year=BARS_PER_YEAR, config=CONFIG)  # fmt: skip


def test_no_expressions_or_windows_give_empty_arrays(candles: pl.DataFrame) -> None:
    empty = evaluate_windows([], candles, candles["close"], WINDOWS, bars_per_year=BARS_PER_YEAR)
    assert empty.shape[:2] == (0, len(WINDOWS))
    none = evaluate_windows([Col("close")], candles, candles["close"], [],
                            bars_per_year=BARS_PER_YEAR)  # fmt: skip
    assert none.shape[:2] == (1, 0)
