"""Bars from real trades: the streaming `BarBuilder` equals `bars_from_trades`, and both equal a
plain reference aggregation (OHLCV, turnover/VWAP, trade count, taker buy volume)."""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest

from nexusforge.data.ingest import ingest
from nexusforge.data.store import Store
from nexusforge.errors import DataError
from nexusforge.market.batch import BAR_COLUMNS, bars_from_trades
from nexusforge.market.mtfa import BarBuilder
from nexusforge.testing import assert_frames_match

S = 1_000_000_000
BINANCE = "bybit/market/binance_usdm_BTCUSDT_20240808_2355utc.gz"


@pytest.fixture(scope="module")
def trades(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    store = Store(tmp_path_factory.mktemp("binance_trades"))
    ingest(shared_data / BINANCE, store)
    out = store.scan("trades").collect()
    assert out.height == 21_313 and out["exch_ts"].is_sorted()
    return out


def stream_bars(trades: pl.DataFrame, every_ns: int) -> pl.DataFrame:
    builder, done = BarBuilder(every_ns), []
    for ts, px, q, side in trades.select("exch_ts", "price", "qty", "side").iter_rows():
        bar = builder.on_trade(ts, px, q, side)
        if bar is not None:
            done.append(bar)
    last = builder.flush()
    done += [last] if last is not None else []
    rows = [{c: getattr(b, c) for c in BAR_COLUMNS} for b in done]
    return pl.DataFrame(rows, schema=_schema())


def _schema() -> dict[str, type[pl.DataType]]:
    ints = {"open_ts", "close_ts", "trade_count"}
    return {c: pl.Int64 if c in ints else pl.Float64 for c in BAR_COLUMNS}


def reference_bars(trades: pl.DataFrame, every_ns: int) -> pl.DataFrame:
    """The textbook aggregation: one dict per interval, in trade order."""
    bars: dict[int, dict[str, float]] = {}
    for ts, px, q, side in trades.select("exch_ts", "price", "qty", "side").iter_rows():
        key = ts // every_ns * every_ns
        fresh = {"open_ts": key, "close_ts": key + every_ns, "open": px, "high": px, "low": px,
                 "close": px, "volume": 0.0, "turnover": 0.0, "trade_count": 0,
                 "buy_volume": 0.0}  # fmt: skip
        b = bars.setdefault(key, fresh)
        b["high"], b["low"], b["close"] = max(b["high"], px), min(b["low"], px), px
        b["volume"] += q
        b["turnover"] += px * q
        b["trade_count"] += 1
        b["buy_volume"] += q if side == 1 else 0.0
    return pl.DataFrame(list(bars.values()), schema=_schema())


@pytest.mark.parametrize("every_ns", [S, 60 * S])
def test_bar_builder_equals_batch_and_reference(trades: pl.DataFrame, every_ns: int) -> None:
    batch = bars_from_trades(trades, every_ns)
    assert_frames_match(batch, stream_bars(trades, every_ns), atol=0.0)
    assert_frames_match(batch, reference_bars(trades, every_ns), atol=0.0)
    assert batch["trade_count"].sum() == trades.height
    assert batch.height == (trades["exch_ts"] // every_ns).n_unique()


def test_vwap_and_volumes_against_exact_sums(trades: pl.DataFrame) -> None:
    """Turnover/volume (VWAP) within 1e-12 relative of exactly rounded sums, per minute."""
    batch = bars_from_trades(trades, 60 * S)
    t = trades.with_columns(key=pl.col("exch_ts") // (60 * S) * (60 * S))
    for row in batch.iter_rows(named=True):
        part = t.filter(pl.col("key") == row["open_ts"])
        px, q = part["price"].to_list(), part["qty"].to_list()
        vol = math.fsum(q)
        vwap = math.fsum(p * x for p, x in zip(px, q, strict=True)) / vol
        assert abs(row["volume"] - vol) <= 1e-12 * vol
        assert abs(row["turnover"] / row["volume"] - vwap) <= 1e-12 * vwap
        buy = math.fsum(x for x, s in zip(q, part["side"].to_list(), strict=True) if s == 1)
        assert abs(row["buy_volume"] - buy) <= 1e-12 * vol
        assert row["low"] <= min(row["open"], row["close"]) <= row["high"]


def test_gaps_are_not_filled(trades: pl.DataFrame) -> None:
    """An interval with no trade has no bar: bar features count bars, not time."""
    gap = trades.filter((pl.col("exch_ts") // S) % 7 != 3)  # drop every 7th second
    bars = bars_from_trades(gap, S)
    assert not ((bars["open_ts"] // S) % 7 == 3).any()
    assert_frames_match(bars, stream_bars(gap, S), atol=0.0)


def test_unsorted_trades_are_refused(trades: pl.DataFrame) -> None:
    with pytest.raises(DataError, match="sorted"):
        bars_from_trades(trades.reverse(), S)
    builder = BarBuilder(S)
    builder.on_trade(5 * S, 1.0, 1.0, 1)
    with pytest.raises(DataError, match="older"):
        builder.on_trade(3 * S, 1.0, 1.0, 1)
