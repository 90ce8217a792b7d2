"""`evaluate_batch` on real Binance BTCUSDT 1m candles: bit-identical to `evaluate` followed by
`run_backtest` for random expressions, independent of the thread count, clear errors."""

from __future__ import annotations

import math
from dataclasses import astuple
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexusforge.errors import ConfigError, DataError, ExpressionError
from nexusforge.forge.backtest import BacktestConfig, run_backtest
from nexusforge.forge.backtest.batch import evaluate_batch, shared_columns
from nexusforge.strategy import evaluate
from nexusforge.strategy.expr import Call, Col, Const, Expr
from nexusforge.testing.expressions import expressions

BARS = 20_000
BARS_PER_YEAR = 365 * 24 * 60
NAMES = ("close", "volume", "taker_buy_volume", "trade_count")
CONFIG = BacktestConfig(tick_size=0.01, qty_step=1e-5, min_qty=1e-5, half_spread_bps=0.5)


@pytest.fixture(scope="module")
def candles(shared_data: Path) -> pl.DataFrame:
    """The first BARS one-minute candles, feature columns as float64."""
    path = shared_data / "history" / "binance_spot_BTCUSDT_1m_20260301_20260709.csv.gz"
    frame = pl.read_csv(path, n_rows=BARS)
    return frame.select(pl.col(n).cast(pl.Float64) for n in NAMES)


def _same(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b, strict=True))


def _one_by_one(exprs: list[Expr], data: pl.DataFrame) -> list[tuple[float, ...]]:
    close = data["close"].to_numpy()
    return [
        astuple(
            run_backtest(
                evaluate(e, data), close, bars_per_year=BARS_PER_YEAR, config=CONFIG
            ).metrics
        )
        for e in exprs
    ]


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(exprs=st.lists(expressions(NAMES, max_depth=5, max_window=60), min_size=1, max_size=5))
def test_batch_equals_evaluate_then_backtest(candles: pl.DataFrame, exprs: list[Expr]) -> None:
    close = candles["close"].to_numpy()
    expected = _one_by_one(exprs, candles)
    for threads in (1, 3):
        got = evaluate_batch(
            exprs, candles, close, bars_per_year=BARS_PER_YEAR, config=CONFIG, threads=threads
        )
        assert len(got) == len(exprs)
        for g, e in zip(got, expected, strict=True):
            assert _same(astuple(g), e)


def test_trading_expressions_trade_and_differ(candles: pl.DataFrame) -> None:
    """A real momentum and mean-reversion pair: both trade, their results are not equal."""
    mom = Call("sign", (Call("sub", (Col("close"), Call("lag", (Col("close"),), 30))),))
    rev = Call("neg", (Call("zscore", (Col("close"),), 60),))
    got = evaluate_batch(
        [mom, rev], candles, candles["close"], bars_per_year=BARS_PER_YEAR, config=CONFIG
    )
    assert all(m.trades > 100 for m in got)
    assert got[0].final_equity != got[1].final_equity
    for g, e in zip(got, _one_by_one([mom, rev], candles), strict=True):
        assert _same(astuple(g), e)


def test_shared_columns_in_first_use_order() -> None:
    a = Call("add", (Col("volume"), Col("close")))
    assert shared_columns([a, Col("trade_count"), Col("close")]) == (
        "volume",
        "close",
        "trade_count",
    )


def test_constant_only_expression_and_empty_batch(candles: pl.DataFrame) -> None:
    close = candles["close"].to_numpy()
    [m] = evaluate_batch([Const(0.5)], {}, close, bars_per_year=BARS_PER_YEAR, config=CONFIG)
    assert m.trades >= 1
    assert evaluate_batch([], candles, close, bars_per_year=BARS_PER_YEAR) == []


def test_bad_inputs_raise(candles: pl.DataFrame) -> None:
    close = candles["close"].to_numpy()
    e = Call("zscore", (Col("close"),), 10)
    with pytest.raises(DataError, match="rows"):
        evaluate_batch([e], candles, close[:-1], bars_per_year=BARS_PER_YEAR)
    with pytest.raises(ExpressionError, match="no column"):
        evaluate_batch([Col("nope")], candles, close, bars_per_year=BARS_PER_YEAR)
    with pytest.raises(ConfigError, match="threads"):
        evaluate_batch([e], candles, close, bars_per_year=BARS_PER_YEAR, threads=0)
    with pytest.raises(DataError, match="bars_per_year"):
        evaluate_batch([e], candles, close, bars_per_year=0.0)
    bad = np.array(close)
    bad[5] = -1.0
    with pytest.raises(DataError, match="close"):
        evaluate_batch([e], candles, bad, bars_per_year=BARS_PER_YEAR)
