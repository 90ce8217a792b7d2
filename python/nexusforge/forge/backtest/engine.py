"""Python face of the Rust backtester (`rust/src/backtest`): checks shapes, calls the core
with the GIL released, and maps core errors to `nexusforge.errors`.

A target in [-1, 1] per bar is the wanted position as a fraction of equity; NaN holds. A
target decided at bar t trades at bar t + latency, at the ask (buy) or bid (sell), or at the
close ± half-spread without quotes, on the tick grid, paying the taker fee. Non-zero funding
rates are charged on the position's notional at that bar (longs pay positive rates).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexusforge import _core
from nexusforge.errors import ConfigError, CoreInputError, DataError
from nexusforge.forge.backtest.metrics import BacktestMetrics

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """Instrument rules (a step of 0 means no rounding), costs, capital, limits and latency.

    Fees default to Bybit VIP0 linear perpetuals (taker 0.055 %, maker 0.02 %).
    """

    tick_size: float = 0.0
    qty_step: float = 0.0
    min_qty: float = 0.0
    initial_capital: float = 10_000.0
    max_contracts: float = math.inf
    max_notional: float = math.inf
    latency: int = 1
    taker_fee: float = 0.00055
    maker_fee: float = 0.0002
    half_spread_bps: float = 0.0

    def to_core(self) -> _core.BacktestConfigCore:
        """The validated core config; a bad value raises `ConfigError`."""
        if self.latency < 0:
            raise ConfigError(f"latency must be >= 0 bars, got {self.latency}")
        try:
            return _core.BacktestConfigCore(
                self.tick_size,
                self.qty_step,
                self.min_qty,
                self.initial_capital,
                self.max_contracts,
                self.max_notional,
                self.latency,
                self.taker_fee,
                self.maker_fee,
                self.half_spread_bps,
            )
        except CoreInputError as e:
            raise ConfigError(str(e)) from e


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Per-bar arrays (costs positive when paid, `traded_qty` signed) and the summary."""

    position: FloatArray
    cash: FloatArray
    fees: FloatArray
    spread_cost: FloatArray
    funding: FloatArray
    traded_qty: FloatArray
    fill_price: FloatArray
    equity: FloatArray
    metrics: BacktestMetrics


def _column(name: str, values: npt.ArrayLike) -> FloatArray:
    """A C-contiguous float64 1-D view (no copy when it already is one)."""
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise DataError(f"{name} must be 1-D, got shape {arr.shape}")
    return arr


def _optional(name: str, values: npt.ArrayLike | None) -> FloatArray | None:
    return None if values is None else _column(name, values)


def run_backtest(
    target: npt.ArrayLike,
    close: npt.ArrayLike,
    *,
    bars_per_year: float,
    bid: npt.ArrayLike | None = None,
    ask: npt.ArrayLike | None = None,
    funding: npt.ArrayLike | None = None,
    config: BacktestConfig | None = None,
) -> BacktestResult:
    """Backtest one target series; bad data raises `DataError`, bad settings `ConfigError`."""
    core_cfg = (config or BacktestConfig()).to_core()
    try:
        arrays, metrics = _core.backtest_run(
            _column("target", target),
            _column("close", close),
            _optional("bid", bid),
            _optional("ask", ask),
            _optional("funding", funding),
            core_cfg,
            bars_per_year,
        )
    except CoreInputError as e:
        raise DataError(str(e)) from e
    return BacktestResult(**arrays, metrics=BacktestMetrics.from_array(metrics))


def run_backtest_batch(
    targets: npt.ArrayLike,
    close: npt.ArrayLike,
    *,
    bars_per_year: float,
    bid: npt.ArrayLike | None = None,
    ask: npt.ArrayLike | None = None,
    funding: npt.ArrayLike | None = None,
    config: BacktestConfig | None = None,
    threads: int | None = None,
) -> list[BacktestMetrics]:
    """Metrics of each row of `targets` (strategies × bars) on the same prices, in parallel.

    Results do not depend on `threads` (default: the CPU count).
    """
    core_cfg = (config or BacktestConfig()).to_core()
    rows = np.ascontiguousarray(targets, dtype=np.float64)
    if rows.ndim != 2:
        raise DataError(f"targets must be 2-D (strategies × bars), got shape {rows.shape}")
    n_threads = threads if threads is not None else (os.cpu_count() or 1)
    if n_threads < 1:
        raise ConfigError(f"threads must be >= 1, got {n_threads}")
    try:
        table = _core.backtest_batch(
            rows,
            _column("close", close),
            _optional("bid", bid),
            _optional("ask", ask),
            _optional("funding", funding),
            core_cfg,
            bars_per_year,
            n_threads,
        )
    except CoreInputError as e:
        raise DataError(str(e)) from e
    return [BacktestMetrics.from_array(row) for row in table]
