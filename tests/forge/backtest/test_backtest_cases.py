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
    BarDepth,
    MarketData,
    run_backtest,
    run_backtest_batch,
)
from nexusforge.market.costs import CostModel

NAN = math.nan
FREE = BacktestConfig(initial_capital=1000.0, costs=CostModel(taker_fee=0.0))


def test_metric_names_match_the_core() -> None:
    assert list(BacktestMetrics.names()) == _core.backtest_metric_names()


def test_one_trade_pnl() -> None:
    r = run_backtest([1.0, NAN, NAN], [100.0, 100.0, 125.0], bars_per_year=365, config=FREE)
    np.testing.assert_array_equal(r.position, [0.0, 10.0, 10.0])
    np.testing.assert_array_equal(r.equity, [1000.0, 1000.0, 1250.0])
    assert r.metrics.total_return == pytest.approx(0.25, rel=1e-12)


def test_round_trip_with_fee() -> None:
    cfg = BacktestConfig(initial_capital=1000.0, costs=CostModel(taker_fee=0.001))
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
        market=MarketData(funding=[0.0, 0.0, 0.0004]),
        bars_per_year=365,
        config=FREE,
    )
    # Short 2.5 contracts × 200 × 0.04 % is received.
    assert r.funding[2] == pytest.approx(-0.2, rel=1e-12)
    assert r.equity[2] == pytest.approx(1000.2, rel=1e-12)
    assert r.metrics.funding_paid == pytest.approx(-0.2, rel=1e-12)


def test_lot_rounding_and_position_limit() -> None:
    cfg = BacktestConfig(
        initial_capital=1000.0, costs=CostModel(taker_fee=0.0), qty_step=0.01, min_qty=0.01
    )
    r = run_backtest([1.0, NAN], [300.0, 300.0], bars_per_year=365, config=cfg)
    assert r.traded_qty[1] == pytest.approx(3.33, rel=1e-12)
    capped = BacktestConfig(
        initial_capital=1000.0, costs=CostModel(taker_fee=0.0), max_notional=600.0
    )
    r = run_backtest([-1.0, NAN], [300.0, 300.0], bars_per_year=365, config=capped)
    assert r.position[1] == pytest.approx(-2.0, rel=1e-12)


def test_zero_position_zero_cost() -> None:
    cfg = BacktestConfig(initial_capital=1000.0, half_spread_bps=5.0)
    r = run_backtest(
        [0.0, 0.0, NAN],
        [10.0, 12.0, 8.0],
        market=MarketData(funding=[0.01, 0.0, 0.02]),
        bars_per_year=1,
        config=cfg,
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
        ([1.0], [1.0], {"sigma": [0.01]}),
        ([1.0], [1.0], {"sigma": [-0.01], "volume": [1.0]}),
        ([1.0], [1.0], {"sigma": [0.01], "volume": [0.0]}),
        ([[1.0]], [1.0], {}),
    ],
)
def test_bad_data_is_a_data_error(target: object, close: object, extra: dict[str, object]) -> None:
    with pytest.raises(DataError):
        market = MarketData(**extra)  # type: ignore[arg-type]
        run_backtest(target, close, bars_per_year=365, market=market)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "cfg",
    [
        BacktestConfig(initial_capital=0.0),
        BacktestConfig(half_spread_bps=NAN),
        BacktestConfig(qty_step=-1.0),
        BacktestConfig(max_contracts=0.0),
        BacktestConfig(latency=-1),
    ],
)
def test_bad_config_is_a_config_error(cfg: BacktestConfig) -> None:
    with pytest.raises(ConfigError):
        run_backtest([1.0], [1.0], bars_per_year=365, config=cfg)
    with pytest.raises(ConfigError):
        CostModel(taker_fee=NAN)


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
    market = MarketData(funding=funding)
    r = run_backtest(target, close, market=market, bars_per_year=365, config=cfg)
    np.testing.assert_allclose(r.equity, r.cash + r.position * close, rtol=1e-9, atol=1e-6)
    if np.all(
        np.isnan(target[: max(len(target) - latency, 0)])
        | (target[: max(len(target) - latency, 0)] == 0)
    ):
        assert r.metrics.total_cost == 0.0


def test_taker_fee_only_maker_rate_unused() -> None:
    cfg = BacktestConfig(
        initial_capital=1000.0, latency=0, costs=CostModel(taker_fee=0.001, maker_fee=0.009)
    )
    r = run_backtest([0.5], [100.0], bars_per_year=365, config=cfg)
    assert r.fees[0] == pytest.approx(5 * 100.0 * 0.001, rel=1e-12)
    assert r.spread_cost[0] == 0.0 and r.slippage[0] == 0.0 and r.impact[0] == 0.0


def test_walks_two_levels_of_depth() -> None:
    depth = BarDepth(
        bid_px=[[99.9, 99.7]], bid_qty=[[4.0, 10.0]], ask_px=[[100.1, 100.3]], ask_qty=[[4.0, 10.0]]
    )
    cfg = BacktestConfig(initial_capital=1000.0, latency=0, qty_step=1.0, costs=CostModel(0.0, 0.0))
    r = run_backtest([0.6], [100.0], bars_per_year=365, market=MarketData(depth=depth), config=cfg)
    avg = (4 * 100.1 + 2 * 100.3) / 6
    assert r.fill_price[0] == pytest.approx(avg, rel=1e-12)
    assert r.spread_cost[0] == pytest.approx(0.6, rel=1e-9)
    assert r.slippage[0] == pytest.approx(0.4, rel=1e-9)
    assert r.metrics.cost_breakdown()["slippage"] == pytest.approx(0.4, rel=1e-9)
    assert r.equity[0] == pytest.approx(1000.0 - 6 * (avg - 100.0), rel=1e-12)


def test_impact_scales_with_square_root_and_is_off_without_volume() -> None:
    costs = CostModel(maker_fee=0.0, taker_fee=0.0, impact_eta=1.0, impact_gamma=0.0)
    cfg = BacktestConfig(initial_capital=1000.0, latency=0, costs=costs)
    market = MarketData(sigma=[0.01, 0.01], volume=[1000.0, 1000.0])
    per_unit = []
    for target, qty in ((0.1, 1.0), (0.4, 4.0)):
        r = run_backtest(
            [target, NAN], [100.0, 100.0], bars_per_year=365, market=market, config=cfg
        )
        assert r.impact[0] == pytest.approx(0.01 * math.sqrt(qty / 1000) * 100 * qty, rel=1e-12)
        per_unit.append(r.impact[0] / qty)
    assert per_unit[1] == pytest.approx(2 * per_unit[0], rel=1e-12)
    plain = run_backtest([0.4, NAN], [100.0, 100.0], bars_per_year=365, config=cfg)
    assert plain.impact[0] == 0.0
