"""The foundation's main job (`make run` until the live engine lands): ingest the bundled real
data, say what the store holds, and summarise the features and multi-timeframe table built on it.

Reads only; the store is the one place it writes (ingest replaces each source's files atomically).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from nexusforge.data.ingest import IngestReport, ingest
from nexusforge.data.store import Store
from nexusforge.market.batch import bars_from_candles, event_features, mtfa_table
from nexusforge.market.book import replay_top_levels
from nexusforge.market.events import BookLevelRows
from nexusforge.market.features import FeatureConfig
from nexusforge.market.instruments import infer_tick_size
from nexusforge.market.mtfa import MtfaConfig

NS_PER_MIN = 60_000_000_000


@dataclass(frozen=True)
class FeatureSummary:
    """Per-feature statistics of one feature table built from one series of the store."""

    title: str
    rows: int
    stats: pl.DataFrame  # feature, non_nan, mean, std, min, max


def ingest_bundled(shared_data: Path, store: Store) -> list[IngestReport]:
    """Ingest the real recordings and candle histories shipped in shared/data."""
    return [ingest(shared_data / name, store) for name in ("bybit", "history")]


def event_feature_summary(store: Store, venue: str, symbol: str) -> FeatureSummary:
    """Microstructure features over the recorded book and trades of one series."""
    book = _series(store, "book_events", venue, symbol)
    trades = _series(store, "trades", venue, symbol)
    rows = BookLevelRows.from_frame(book)
    cfg = FeatureConfig(tick_size=infer_tick_size(rows.price[rows.qty > 0]))
    top = replay_top_levels(rows, cfg.tick_size, cfg.max_depth)
    table = event_features(top, trades, cfg)
    title = f"event features {venue} {symbol} (tick {cfg.tick_size:g})"
    return FeatureSummary(title, table.height, describe(table.drop("local_ts", "exch_ts", "kind")))


def mtfa_summary(store: Store, venue: str, symbol: str, interval_s: int) -> FeatureSummary:
    """Bar features of one candle series with 15 m and 1 h bars aligned backward."""
    candles = _series(store, "bars", venue, symbol).filter(pl.col("interval_s") == interval_s)
    base_ns = interval_s * 1_000_000_000
    bars = bars_from_candles(candles.unique("open_ts", keep="last").sort("open_ts"), base_ns)
    cfg = MtfaConfig(base_ns=base_ns, timeframes_ns=(15 * NS_PER_MIN, 60 * NS_PER_MIN))
    table = mtfa_table(bars, cfg)
    title = f"MTFA {venue} {symbol} {interval_s}s -> 15m, 1h"
    return FeatureSummary(title, table.height, describe(table.drop("close_ts")))


def describe(table: pl.DataFrame) -> pl.DataFrame:
    """One row per float column: non-NaN count, mean, std, min and max over the finite values."""
    out = []
    for name in table.columns:
        values = table[name].cast(pl.Float64).to_numpy()
        finite = values[np.isfinite(values)]
        stats = (finite.mean(), finite.std(), finite.min(), finite.max()) if finite.size else (
            np.nan,) * 4  # fmt: skip
        out.append((name, int(finite.size), *map(float, stats)))
    return pl.DataFrame(
        out, schema=["feature", "non_nan", "mean", "std", "min", "max"], orient="row"
    )


def _series(store: Store, table: str, venue: str, symbol: str) -> pl.DataFrame:
    return (
        store.scan(table)
        .filter((pl.col("venue") == venue) & (pl.col("symbol") == symbol))
        .collect()
    )
