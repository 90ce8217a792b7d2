"""Closed-form PnL cases, the equity identity (hypothesis), latency and bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from nexusforge import _core
from nexusforge.errors import ConfigError, DataError
from nexusforge.forge.backtest import (
    BacktestConfig,
    BacktestMetrics,
    run_backtest,
    run_backtest_batch,
)

NAN = math.nan
FREE = BacktestConfig(initial_capital=1000.0, taker_fee=0.0)


def test_metric_names_match_the_core() -> None:
    assert list(BacktestMetrics.names()) == _core.backtest_metric_names()


def test_one_trade_pnl() -> None:
    r = run_backtest([1.0, NAN, NAN], [100.0, 100.0, 125.0], bars_per_year=365, config=FREE)
    np.testing.assert_array_equal(r.position, [0.0, 10.0, 10.0])
    np.testing.assert_array_equal(r.equity, [1000.0, 1000.0, 1250.0])
    assert r.metrics.total_return == pytest.approx(0.25, rel=1e-12)


def test_round_trip_with_fee() -> None:
    cfg = BacktestConfig(initial_capital=1000.0, taker_fee=0.001)
    r = run_backtest(
        [1.0, 0.0, NAN, NAN], [100.0, 100.0, 90.0, 90.0], bars_per_year=365, config=cfg
    )
    expected = 1000.0 - 10 * 10.0 - 0.001 * 10 * (100.0 + 90.0)
    assert r.equity[-1] == pytest.approx(expected, rel=1e-12)
    m = r.metrics
    assert (m.round_trips, m.hit_rate, m.avg_holding_bars) == (1.0, 0.0, 1.0)
    assert m.cost_breakdown()["fee"] == pytest.approx(1.9, rel=1e-12)
    assert m.max_drawdown == pytest.approx(1 - expected / 1000.0, rel=1e-12)


def test_funding_payment() -> None:
    r = run_backtest(
        [-0.5, NAN, NAN],
        [200.0, 200.0, 200.0],
        funding=[0.0, 0.0, 0.0004],
        bars_per_year=365,
        config=FREE,
    )
    # Short 2.5 contracts × 200 × 0.04 % is received.
    assert r.funding[2] == pytest.approx(-0.2, rel=1e-12)
    assert r.equity[2] == pytest.approx(1000.2, rel=1e-12)
    assert r.metrics.funding_paid == pytest.approx(-0.2, rel=1e-12)


def test_lot_rounding_and_position_limit() -> None:
    cfg = BacktestConfig(initial_capital=1000.0, taker_fee=0.0, qty_step=0.01, min_qty=0.01)
    r = run_backtest([1.0, NAN], [300.0, 300.0], bars_per_year=365, config=cfg)
    assert r.traded_qty[1] == pytest.approx(3.33, rel=1e-12)
    capped = BacktestConfig(initial_capital=1000.0, taker_fee=0.0, max_notional=600.0)
    r = run_backtest([-1.0, NAN], [300.0, 300.0], bars_per_year=365, config=capped)
    assert r.position[1] == pytest.approx(-2.0, rel=1e-12)


def test_zero_position_zero_cost() -> None:
    cfg = BacktestConfig(initial_capital=1000.0, half_spread_bps=5.0)
    r = run_backtest(
        [0.0, 0.0, NAN], [10.0, 12.0, 8.0], funding=[0.01, 0.0, 0.02], bars_per_year=1, config=cfg
    )
    np.testing.assert_array_equal(r.equity, [1000.0] * 3)
    assert r.metrics.total_cost == 0.0


def test_latency_shifts_fills() -> None:
    for latency in (0, 1, 3):
        cfg = BacktestConfig(initial_capital=1000.0, latency=latency)
        r = run_backtest([1.0] + [NAN] * 4, [50.0] * 5, bars_per_year=365, config=cfg)
        assert int(np.flatnonzero(r.traded_qty)[0]) == latency


@pytest.mark.parametrize(
    ("target", "close", "extra"),
    [
        ([], [], {}),
        ([1.0], [1.0, 2.0], {}),
        ([math.inf], [1.0], {}),
        ([2.0], [1.0], {}),
        ([1.0], [NAN], {}),
        ([1.0], [-1.0], {}),
        ([1.0], [1.0], {"funding": [math.inf]}),
        ([1.0], [1.0], {"bid": [0.9]}),
        ([1.0], [1.0], {"bid": [1.1], "ask": [1.0]}),
        ([[1.0]], [1.0], {}),
    ],
)
def test_bad_data_is_a_data_error(target: object, close: object, extra: dict[str, object]) -> None:
    with pytest.raises(DataError):
        run_backtest(target, close, bars_per_year=365, **extra)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "cfg",
    [
        BacktestConfig(initial_capital=0.0),
        BacktestConfig(taker_fee=NAN),
        BacktestConfig(qty_step=-1.0),
        BacktestConfig(max_contracts=0.0),
        BacktestConfig(latency=-1),
    ],
)
def test_bad_config_is_a_config_error(cfg: BacktestConfig) -> None:
    with pytest.raises(ConfigError):
        run_backtest([1.0], [1.0], bars_per_year=365, config=cfg)


def test_bad_bars_per_year() -> None:
    with pytest.raises(DataError):
        run_backtest([1.0], [1.0], bars_per_year=0.0)


def test_batch_rows_equal_single_runs_for_any_thread_count() -> None:
    rng = np.random.default_rng(7)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, 500)))
    targets = np.clip(rng.normal(0, 0.6, (6, 500)), -1, 1)
    cfg = BacktestConfig(qty_step=0.001, tick_size=0.01, half_spread_bps=1.0)
    base = run_backtest_batch(targets, close, bars_per_year=1e4, config=cfg, threads=1)
    for threads in (2, 5):
        assert (
            run_backtest_batch(targets, close, bars_per_year=1e4, config=cfg, threads=threads)
            == base
        )
    single = run_backtest(targets[3], close, bars_per_year=1e4, config=cfg).metrics
    assert base[3] == single
    with pytest.raises(DataError):
        run_backtest_batch(targets[:, :10], close, bars_per_year=1e4)


@given(
    data=st.lists(
        st.tuples(
            st.floats(1.0, 1e5),
            st.one_of(st.floats(-1.0, 1.0), st.just(NAN)),
            st.sampled_from([0.0, 0.0, 0.0, 1e-4, -3e-4]),
        ),
        min_size=1,
        max_size=60,
    ),
    latency=st.integers(0, 3),
    step=st.sampled_from([0.0, 0.001, 0.1]),
)
def test_equity_identity(data: list[tuple[float, float, float]], latency: int, step: float) -> None:
    close, target, funding = (np.array(col) for col in zip(*data, strict=True))
    cfg = BacktestConfig(latency=latency, qty_step=step, tick_size=0.01, half_spread_bps=2.0)
    r = run_backtest(target, close, funding=funding, bars_per_year=365, config=cfg)
    np.testing.assert_allclose(r.equity, r.cash + r.position * close, rtol=1e-9, atol=1e-6)
    if np.all(
        np.isnan(target[: max(len(target) - latency, 0)])
        | (target[: max(len(target) - latency, 0)] == 0)
    ):
        assert r.metrics.total_cost == 0.0
