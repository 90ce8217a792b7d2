"""Python face of the Rust backtester (`rust/src/backtest`): checks shapes, calls the core
with the GIL released, and maps core errors to `nexusforge.errors`.

A target in [-1, 1] per bar is the wanted position as a fraction of equity; NaN holds. A
target decided at bar t trades at bar t + latency as a taker market order priced by the one
cost model (`nexusforge.market.costs.CostModel`, its Rust twin): the touch is the depth's best
level, else the bid/ask arrays, else close ± half-spread on the tick grid; the mid is
(bid + ask) / 2, or the close without quotes. Depth is walked, impact needs `sigma` and
`volume` (off without them), and permanent impact is carried as a price offset on later fills
(not on the close used for marking); what it costs them is reported as `impact_perm`.
Non-zero funding rates are charged on the position's notional at that bar (longs pay positive
rates).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from nexusforge import _core
from nexusforge.errors import ConfigError, CoreInputError, DataError
from nexusforge.forge.backtest.metrics import BacktestMetrics
from nexusforge.market.costs import CostModel

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BacktestConfig:
    """Instrument rules (a step of 0 means no rounding), cost model, capital, limits, latency.

    `costs` defaults to Bybit VIP0; `latency` (bars) defaults to `costs.latency_bars`;
    `half_spread_bps` sets the touch when no bid/ask or depth is given.
    """

    tick_size: float = 0.0
    qty_step: float = 0.0
    min_qty: float = 0.0
    initial_capital: float = 10_000.0
    max_contracts: float = math.inf
    max_notional: float = math.inf
    latency: int | None = None
    costs: CostModel = field(default_factory=CostModel)
    half_spread_bps: float = 0.0

    def to_core(self) -> _core.BacktestConfigCore:
        """The validated core config; a bad value raises `ConfigError`."""
        latency = self.costs.latency_bars if self.latency is None else self.latency
        if latency < 0:
            raise ConfigError(f"latency must be >= 0 bars, got {latency}")
        try:
            return _core.BacktestConfigCore(
                self.tick_size,
                self.qty_step,
                self.min_qty,
                self.initial_capital,
                self.max_contracts,
                self.max_notional,
                latency,
                self.costs.to_core(),
                self.half_spread_bps,
            )
        except CoreInputError as e:
            raise ConfigError(str(e)) from e


@dataclass(frozen=True, slots=True)
class BarDepth:
    """Top-N book levels per bar (each bars × levels, best first, NaN pads missing levels)."""

    bid_px: npt.ArrayLike
    bid_qty: npt.ArrayLike
    ask_px: npt.ArrayLike
    ask_qty: npt.ArrayLike

    def to_core(self) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """C-contiguous float64 grids of one shape; a bad shape raises `DataError`."""
        grids = tuple(
            np.ascontiguousarray(a, dtype=np.float64)
            for a in (self.bid_px, self.bid_qty, self.ask_px, self.ask_qty)
        )
        shape = grids[0].shape
        if len(shape) != 2 or any(g.shape != shape for g in grids):
            raise DataError(f"depth grids must share one 2-D shape, got {[g.shape for g in grids]}")
        return grids[0], grids[1], grids[2], grids[3]


@dataclass(frozen=True, slots=True)
class MarketData:
    """Per-bar inputs besides the close; every array has one value per bar."""

    bid: npt.ArrayLike | None = None
    ask: npt.ArrayLike | None = None
    funding: npt.ArrayLike | None = None
    sigma: npt.ArrayLike | None = None  # return volatility per bar, for impact
    volume: npt.ArrayLike | None = None  # traded base units per bar, for impact
    depth: BarDepth | None = None

    def columns(self) -> tuple[FloatArray | None, ...]:
        """(bid, ask, funding, sigma, volume) as core columns."""
        return tuple(
            _optional(name, getattr(self, name))
            for name in ("bid", "ask", "funding", "sigma", "volume")
        )

    def core_args(self) -> _CoreMarketArgs:
        """(bid, ask, funding, sigma, volume, depth) in the order every core entry takes them."""
        bid, ask, funding, sigma, volume = self.columns()
        depth = self.depth.to_core() if self.depth is not None else None
        return bid, ask, funding, sigma, volume, depth


_Opt = FloatArray | None
_CoreMarketArgs = tuple[_Opt, _Opt, _Opt, _Opt, _Opt, Any]


def resolve_threads(threads: int | None) -> int:
    """Worker threads for a batch call: the CPU count by default, at least one."""
    n = threads if threads is not None else (os.cpu_count() or 1)
    if n < 1:
        raise ConfigError(f"threads must be >= 1, got {n}")
    return n


@dataclass(frozen=True, slots=True)
class BacktestResult:
    """Per-bar arrays (costs positive when paid, `traded_qty` signed) and the summary."""

    position: FloatArray
    cash: FloatArray
    fees: FloatArray
    spread_cost: FloatArray
    slippage: FloatArray
    impact: FloatArray
    impact_perm: FloatArray
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
    market: MarketData | None = None,
    config: BacktestConfig | None = None,
) -> BacktestResult:
    """Backtest one target series; bad data raises `DataError`, bad settings `ConfigError`."""
    core_cfg = (config or BacktestConfig()).to_core()
    try:
        arrays, metrics = _core.backtest_run(
            _column("target", target),
            _column("close", close),
            (market or MarketData()).core_args(),
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
    market: MarketData | None = None,
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
    n_threads = resolve_threads(threads)
    try:
        table = _core.backtest_batch(
            rows,
            _column("close", close),
            (market or MarketData()).core_args(),
            core_cfg,
            bars_per_year,
            n_threads,
        )
    except CoreInputError as e:
        raise DataError(str(e)) from e
    return [BacktestMetrics.from_array(row) for row in table]
