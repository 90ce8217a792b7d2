"""A momentum signal on real Bybit BTCUSDT 5m candles with 8h funding: the Rust engine
equals a pure-numpy loop to 1e-9 relative, the equity identity holds, metrics are finite."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from reference_backtest import reference_backtest

from nexusforge.forge.backtest import BacktestConfig, MarketData, run_backtest

BAR_MS = 5 * 60 * 1000
BARS_PER_YEAR = 365 * 24 * 12
LOOKBACK = 48


def _candles_and_funding(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Closes and a funding rate on the bar whose close is the funding timestamp."""
    hist = root / "history"
    bars = pl.read_csv(hist / "bybit_linear_BTCUSDT_5m_2025.csv.gz")
    fund = pl.read_csv(hist / "bybit_linear_BTCUSDT_funding_8h_2025.csv.gz")
    close_ms = bars["open_time_ms"].to_numpy() + BAR_MS
    at = np.searchsorted(close_ms, fund["funding_time_ms"].to_numpy())
    hit = (at < len(close_ms)) & (
        close_ms[np.minimum(at, len(close_ms) - 1)] == fund["funding_time_ms"].to_numpy()
    )
    funding = np.zeros(len(close_ms))
    funding[at[hit]] = fund["funding_rate"].to_numpy()[hit]
    assert hit.mean() > 0.95, "funding timestamps should land on bar closes"
    return bars["close"].to_numpy().astype(np.float64), funding


def _momentum(close: np.ndarray) -> np.ndarray:
    """Half capital in the direction of the last LOOKBACK bars' return; NaN before."""
    target = np.full(len(close), np.nan)
    target[LOOKBACK:] = 0.5 * np.sign(close[LOOKBACK:] / close[:-LOOKBACK] - 1.0)
    return target


@pytest.fixture(scope="module")
def market(shared_data: Path) -> tuple[np.ndarray, np.ndarray]:
    return _candles_and_funding(shared_data)


def test_real_candles_match_numpy_reference(market: tuple[np.ndarray, np.ndarray]) -> None:
    close, funding = market
    target = _momentum(close)
    cfg = BacktestConfig(tick_size=0.1, qty_step=0.001, min_qty=0.001, half_spread_bps=0.5)
    data = MarketData(funding=funding)
    r = run_backtest(target, close, market=data, bars_per_year=BARS_PER_YEAR, config=cfg)
    np.testing.assert_allclose(r.equity, r.cash + r.position * close, rtol=1e-12)
    ref = reference_backtest(target, close, funding, cfg)
    for name in ("position", "cash", "equity"):
        np.testing.assert_allclose(getattr(r, name), ref[name], rtol=1e-9, atol=1e-9)
    assert r.metrics.fees_paid == pytest.approx(ref["fees"].sum(), rel=1e-9)
    assert r.metrics.funding_paid == pytest.approx(ref["funding"].sum(), rel=1e-9)
    assert r.metrics.funding_paid != 0.0
    assert all(np.isfinite(r.metrics.as_tuple())), r.metrics
    assert r.metrics.round_trips > 10
    _check_ratios(r.equity, cfg.initial_capital, r.metrics.sharpe, r.metrics.max_drawdown)


def _check_ratios(equity: np.ndarray, initial: float, sharpe: float, max_dd: float) -> None:
    """Sharpe and max drawdown recomputed in numpy from the equity curve."""
    rets = np.diff(np.concatenate([[initial], equity])) / np.concatenate([[initial], equity[:-1]])
    assert sharpe == pytest.approx(
        rets.mean() / rets.std(ddof=1) * np.sqrt(BARS_PER_YEAR), rel=1e-9
    )
    peak = np.maximum.accumulate(np.concatenate([[initial], equity]))[1:]
    assert max_dd == pytest.approx(np.max(1 - equity / peak), rel=1e-9)
