"""Vectorized backtests in Rust: per-bar fills, cash and equity, and a metrics summary."""

from nexusforge.forge.backtest.engine import (
    BacktestConfig,
    BacktestResult,
    BarDepth,
    MarketData,
    run_backtest,
    run_backtest_batch,
)
from nexusforge.forge.backtest.metrics import BacktestMetrics

__all__ = [
    "BacktestConfig",
    "BacktestMetrics",
    "BacktestResult",
    "BarDepth",
    "MarketData",
    "run_backtest",
    "run_backtest_batch",
]
