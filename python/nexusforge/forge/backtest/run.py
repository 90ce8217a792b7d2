"""Backtest one strategy file on one candle series of the store: load, build MTFA features,
evaluate the expression to targets, attach funding (and impact inputs) and run the Rust
backtester with the costs of a `CostOptions`.

Funding rows are charged at the bar whose close time equals the funding time; rows with no
such bar (outside the series or in a gap) are counted in `funding_unmatched`, never guessed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.data.schema import BARS, FUNDING
from nexusforge.data.store import Store
from nexusforge.errors import DataError, ExpressionError
from nexusforge.forge.backtest.engine import (
    BacktestConfig,
    BacktestResult,
    MarketData,
    run_backtest,
)
from nexusforge.forge.backtest.options import CostOptions, impact_inputs
from nexusforge.market.batch import bars_from_candles, mtfa_table
from nexusforge.market.mtfa import HIGHER_TIMEFRAMES_S, MtfaConfig
from nexusforge.strategy import Expr, evaluate, loads, to_infix
from nexusforge.strategy.expr import columns

NS_PER_S = 1_000_000_000
SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """Which candle series of the store to trade."""

    venue: str = "bybit_linear"
    symbol: str = "BTCUSDT"
    interval_s: int = 300


@dataclass(frozen=True, slots=True)
class StrategyFile:
    """A parsed strategy file with the SHA-256 of its bytes (what the report cites)."""

    path: Path
    expr: Expr
    sha256: str

    @property
    def infix(self) -> str:
        """The expression in readable infix form."""
        return to_infix(self.expr)


@dataclass(frozen=True, slots=True)
class StrategyRun:
    """Everything one backtest of a strategy file used and produced."""

    strategy: StrategyFile
    store: Path
    series: SeriesSpec
    config: BacktestConfig
    bars_per_year: float
    close_ts: npt.NDArray[np.int64]
    close: npt.NDArray[np.float64]
    target: npt.NDArray[np.float64]
    funding_rate: npt.NDArray[np.float64]
    funding_unmatched: int
    result: BacktestResult = field(repr=False)
    options: CostOptions = field(default_factory=CostOptions)


def load_strategy(path: Path) -> StrategyFile:
    """Read and parse a strategy JSON file; unreadable files raise `DataError`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read strategy file {path}: {exc.strerror}") from exc
    try:
        expr = loads(raw)
    except ExpressionError as exc:
        raise ExpressionError(f"{path}: {exc}") from exc
    return StrategyFile(path, expr, hashlib.sha256(raw).hexdigest())


def load_candles(store: Store, series: SeriesSpec) -> pl.DataFrame:
    """The series' candles as MTFA bar columns, sorted and de-duplicated (last write wins)."""
    candles = _series_candles(store, series).collect()
    if candles.is_empty():
        raise DataError(
            f"no {series.interval_s}s candles for {series.venue} {series.symbol} in {store.path}"
        )
    unique = candles.unique("open_ts", keep="last").sort("open_ts")
    return bars_from_candles(unique, series.interval_s * NS_PER_S)


def turnover_kind(store: Store, series: SeriesSpec) -> str:
    """ "recorded" when every candle of the series carries its turnover, else "estimated" (VWAP
    from volume x typical price, as `bars_from_candles` fills it): what a live engine's
    `bar_turnover` must be to compute the same VWAP features."""
    candles = _series_candles(store, series)
    if "turnover" not in candles.collect_schema().names():
        return "estimated"
    missing = candles.select(pl.col("turnover").is_null().any()).collect().item()
    return "estimated" if missing else "recorded"


def _series_candles(store: Store, series: SeriesSpec) -> pl.LazyFrame:
    if BARS not in store.tables():
        raise DataError(f"store {store.path} has no {BARS} table")
    return store.scan(BARS).filter(
        (pl.col("venue") == series.venue)
        & (pl.col("symbol") == series.symbol)
        & (pl.col("interval_s") == series.interval_s)
    )


def feature_table(bars: pl.DataFrame, interval_s: int) -> pl.DataFrame:
    """MTFA features of the base bars with the 15 m and 1 h timeframes above them."""
    base_s = interval_s
    higher = tuple(tf * NS_PER_S for tf in HIGHER_TIMEFRAMES_S if tf > base_s)
    cfg = MtfaConfig(base_ns=base_s * NS_PER_S, timeframes_ns=higher)
    return mtfa_table(bars, cfg)


def require_columns(expr: Expr, table: pl.DataFrame) -> None:
    """Raise `ExpressionError` naming every column the expression reads that the table lacks."""
    missing = [c for c in columns(expr) if c not in table.columns]
    if missing:
        available = ", ".join(c for c in table.columns if c != "close_ts")
        raise ExpressionError(
            f"strategy reads missing columns {', '.join(missing)}; available: {available}"
        )


def funding_per_bar(
    store: Store, series: SeriesSpec, close_ts: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], int]:
    """Funding rate per bar (0 where none) and how many funding rows matched no bar close."""
    rates = np.zeros(close_ts.size, dtype=np.float64)
    if FUNDING not in store.tables():
        return rates, 0
    rows = (
        store.scan(FUNDING)
        .filter((pl.col("venue") == series.venue) & (pl.col("symbol") == series.symbol))
        .collect()
        .unique("ts", keep="last")
    )
    ts = rows["ts"].to_numpy()
    idx = np.searchsorted(close_ts, ts)
    inside = idx < close_ts.size
    hit = np.zeros(ts.size, dtype=bool)
    hit[inside] = close_ts[idx[inside]] == ts[inside]
    rates[idx[hit]] = rows["rate"].to_numpy()[hit]
    return rates, int(ts.size - hit.sum())


def run_strategy_file(
    path: Path,
    store: Path,
    series: SeriesSpec | None = None,
    options: CostOptions | None = None,
) -> StrategyRun:
    """Backtest the strategy in `path` on one series of the store at `store`."""
    spec = series or SeriesSpec()
    opts = options or CostOptions()
    cfg = opts.config()
    strategy = load_strategy(path)
    if not store.is_dir():
        raise DataError(f"store {store} is not a folder")
    target_store = Store(store)
    bars = load_candles(target_store, spec)
    table = feature_table(bars, spec.interval_s)
    require_columns(strategy.expr, table)
    target = evaluate(strategy.expr, table)
    close_ts = bars["close_ts"].to_numpy().astype(np.int64)
    close = bars["close"].to_numpy().astype(np.float64)
    funding, unmatched = funding_per_bar(target_store, spec, close_ts)
    if not opts.funding:
        funding = np.zeros_like(funding)
    sigma, volume = (
        impact_inputs(close, bars["volume"].to_numpy(), opts.impact_window)
        if opts.impact_on
        else (None, None)
    )
    bars_per_year = SECONDS_PER_YEAR / spec.interval_s
    result = run_backtest(
        target,
        close,
        bars_per_year=bars_per_year,
        market=MarketData(funding=funding, sigma=sigma, volume=volume),
        config=cfg,
    )
    return StrategyRun(
        strategy, store, spec, cfg, bars_per_year, close_ts, close, target, funding,
        unmatched, result, opts,
    )  # fmt: skip
