"""The real-data side of the fidelity check: the same observations as a simulation, from files.

Each piece names the file it came from. 1-minute returns come from a months-long candle history
(`history/`); spread and top-of-book depth from Bybit's 1-minute best bid/ask bars; trade sizes,
aggressor signs and order-flow imbalance from the one trade-by-trade capture with a live top of
book (Binance USD-M BTCUSDT; the Bybit captures hold 101 trades in all). Everything is computed
on demand from the shared data folder; nothing is cached in the repository.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from nexusforge.data.readers import pick_reader
from nexusforge.data.readers._archive import read_head
from nexusforge.data.schema import BARS, QUOTES, TRADES
from nexusforge.errors import DataError
from nexusforge.forge.sim.facts import (
    FloatArray,
    MarketSample,
    bucket_sums,
    log_returns,
    order_flow_imbalance,
    taker_orders,
)

RETURNS_FILE = "history/binance_usdm_BTCUSDT_1m_20250504_20250624.csv.gz"
QUOTE_BARS_FILE = "bybit/market/lean_bybit_BTCUSDT_perp_minute_quote_20221213.zip"
TRADE_BARS_FILE = "bybit/market/lean_bybit_BTCUSDT_perp_minute_trade_20221213.zip"
CAPTURE_FILE = "bybit/market/binance_usdm_BTCUSDT_20240808_2355utc.gz"
OFI_BUCKET_NS = 1_000_000_000  # one-second intervals for the OFI regression


def default_data_dir() -> Path:
    """`$NEXUSFORGE_SHARED/data`, else the `shared/data` folder beside the checkout."""
    env = os.environ.get("NEXUSFORGE_SHARED")
    if env:
        return Path(env) / "data"
    return Path(__file__).resolve().parents[4].parent / "shared" / "data"


@dataclass(frozen=True)
class RealFiles:
    """Which files under the data folder feed each part of the real sample."""

    returns: str = RETURNS_FILE
    quote_bars: str = QUOTE_BARS_FILE
    trade_bars: str = TRADE_BARS_FILE
    capture: str = CAPTURE_FILE


def read_table(path: Path, table: str) -> pl.DataFrame:
    """One store table read from a recording with the reader that recognises it."""
    if not path.is_file():
        raise DataError(f"{path}: no such file (is the shared data folder in place?)")
    reader = pick_reader(path)
    if reader is None:
        raise DataError(f"{path}: no reader recognises this file")
    frames = reader.read(path, read_head(path)).frames
    if table not in frames or frames[table].height == 0:
        raise DataError(f"{path}: holds no {table} rows")
    return frames[table]


def minute_returns(path: Path) -> FloatArray:
    """Close-to-close log returns of a candle file (checked to be 1-minute bars)."""
    bars = read_table(path, BARS)
    if set(bars["interval_s"].unique().to_list()) != {60}:
        raise DataError(f"{path}: expected 1-minute bars")
    return log_returns(bars.sort("open_ts")["close"].to_numpy())


def infer_tick(prices: FloatArray) -> float:
    """The price grid step: the smallest gap between distinct observed prices (rounded to 1e-9)."""
    levels = np.unique(np.round(prices[np.isfinite(prices)], 9))
    gaps = np.diff(levels)
    gaps = gaps[gaps > 1e-12]
    if len(gaps) == 0:
        raise DataError("cannot infer a tick size from fewer than two distinct prices")
    return float(np.round(gaps.min(), 9))


def top_of_book(path: Path) -> tuple[FloatArray, FloatArray, float]:
    """Spread in ticks and touch depth (mean of bid and ask quantity) per quote, and the tick."""
    quotes = read_table(path, QUOTES).sort("exch_ts")
    bid, ask = quotes["bid"].to_numpy(), quotes["ask"].to_numpy()
    tick = infer_tick(np.concatenate([bid, ask]))
    spread = np.round((ask - bid) / tick)
    depth = 0.5 * (quotes["bid_qty"].to_numpy() + quotes["ask_qty"].to_numpy())
    ok = spread > 0  # a locked or crossed quote bar is not a spread sample
    return spread[ok], depth[ok], tick


def trades(path: Path) -> tuple[FloatArray, FloatArray]:
    """Trade sizes per print, and aggressor signs (+1 buy, −1 sell) per taker order."""
    frame = read_table(path, TRADES).sort("exch_ts", maintain_order=True)
    qty = frame["qty"].to_numpy()
    sign, _ = taker_orders(frame["exch_ts"].to_numpy(), frame["side"].to_numpy(), qty)
    return qty, sign


def ofi_and_mid_change(path: Path, bucket_ns: int = OFI_BUCKET_NS) -> tuple[FloatArray, FloatArray]:
    """Order-flow imbalance and mid-price change per interval from best bid/ask updates."""
    quotes = read_table(path, QUOTES).sort("exch_ts", maintain_order=True)
    bid, ask = quotes["bid"].to_numpy(), quotes["ask"].to_numpy()
    e = order_flow_imbalance(bid, quotes["bid_qty"].to_numpy(), ask, quotes["ask_qty"].to_numpy())
    mid = 0.5 * (bid + ask)
    dmid = np.concatenate([[0.0], np.diff(mid)])
    ts = quotes["exch_ts"].to_numpy()
    _, ofi = bucket_sums(ts, e, bucket_ns)
    _, change = bucket_sums(ts, dmid, bucket_ns)
    return ofi, change


def load_real_market(data_dir: Path, files: RealFiles | None = None) -> MarketSample:
    """The real-data sample the fidelity check compares a simulation with."""
    f = files or RealFiles()
    spread, depth, _ = top_of_book(data_dir / f.quote_bars)
    qty, sign = trades(data_dir / f.capture)
    ofi, change = ofi_and_mid_change(data_dir / f.capture)
    return MarketSample(
        returns_1m=minute_returns(data_dir / f.returns),
        trade_qty=qty,
        trade_sign=sign,
        spread_ticks=spread,
        top_depth=depth,
        ofi=ofi,
        mid_change=change,
        sources={
            "returns_1m": f.returns,
            "spread_ticks": f.quote_bars,
            "top_depth": f.quote_bars,
            "trade_qty": f.capture,
            "trade_sign": f.capture,
            "ofi": f.capture,
        },
    )
