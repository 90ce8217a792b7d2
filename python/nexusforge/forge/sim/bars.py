"""Research-table bars from a simulator run, built by the same code as the real research table.

The sim's trades are cut into candles by `market.batch_mtfa.bars_from_trades` (the code that
cuts real trades), their MTFA features come from `forge.backtest.run.feature_table` and the
past/forward returns from `forge.evolve.table.from_bars` — exactly the path of
`load_research_table` on a real series. So an expression evolved on history reads the same
columns, with the same definitions and the same warm-up, on simulated data. Besides the table,
the simulated touch at each bar close (the last top-of-book sample at or before it) and the
bar's traded volume feed the backtester's spread and impact costs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.errors import DataError
from nexusforge.forge.backtest.run import SECONDS_PER_YEAR, feature_table
from nexusforge.forge.evolve.table import CLOSE_TS, ResearchTable, from_bars, longest_run
from nexusforge.forge.sim.run import SimResult
from nexusforge.market.batch_mtfa import BAR_COLUMNS, bars_from_trades

NS_PER_S = 1_000_000_000
Array = npt.NDArray[np.float64]
_INT_COLUMNS = ("open_ts", "close_ts", "trade_count")


@dataclass(frozen=True)
class SimBars:
    """A simulated research table with the touch and volume at each of its bars."""

    table: ResearchTable
    bid: Array
    ask: Array
    volume: Array


def sim_bars(result: SimResult, interval_s: int, horizon: int = 1) -> SimBars:
    """The research table of one sim run at `interval_s` bars (complete bars only, the longest
    stretch without an empty bar), with the touch at each close."""
    every = interval_s * NS_PER_S
    trades = result.trades.select(
        pl.col("ts_ns").alias("exch_ts"), "price", "qty", pl.col("taker_side").alias("side")
    ).sort("exch_ts", maintain_order=True)
    end = int(result.config.duration_s * NS_PER_S)
    bars = bars_from_trades(trades, every).filter(pl.col(CLOSE_TS) <= end)
    keep = longest_run(bars[CLOSE_TS].to_numpy().astype(np.int64), every)
    bars = bars.slice(keep.start, keep.stop - keep.start)
    if bars.height <= max(horizon, 1) + 1:
        raise DataError(
            f"sim run of {result.config.duration_s:.0f} s gives {bars.height} complete "
            f"{interval_s} s bars; run it longer"
        )
    feats = feature_table(bars, interval_s).drop(CLOSE_TS)
    close_ts = bars[CLOSE_TS].to_numpy().astype(np.int64)
    table = from_bars(close_ts, bars["close"].to_numpy(), feats,
                      bars_per_year=SECONDS_PER_YEAR / interval_s, horizon=horizon)  # fmt: skip
    bid, ask = _touch(result.top, close_ts)
    return SimBars(table, bid, ask, bars["volume"].to_numpy().astype(np.float64))


def sim_feature_names(interval_s: int, horizon: int = 1) -> tuple[str, ...]:
    """The feature columns `sim_bars` gives at this bar interval and horizon (the same code on
    no bars), known before any simulator run."""
    empty = pl.DataFrame(
        {c: pl.Series([], dtype=pl.Int64 if c in _INT_COLUMNS else pl.Float64) for c in BAR_COLUMNS}
    )
    return (*feature_table(empty, interval_s).drop(CLOSE_TS).columns, f"ret_h{horizon}")


def _touch(top: pl.DataFrame, close_ts: npt.NDArray[np.int64]) -> tuple[Array, Array]:
    """Bid and ask of the last two-sided top-of-book sample at or before each close (NaN when
    none yet: the backtester then prices the fill at its configured half-spread)."""
    two_sided = top.drop_nulls(["bid", "ask"]).select("ts_ns", "bid", "ask").sort("ts_ns")
    at = pl.DataFrame({"ts_ns": close_ts}).join_asof(two_sided, on="ts_ns", strategy="backward")
    bid = at["bid"].fill_null(np.nan).to_numpy().astype(np.float64)
    ask = at["ask"].fill_null(np.nan).to_numpy().astype(np.float64)
    return bid, ask
