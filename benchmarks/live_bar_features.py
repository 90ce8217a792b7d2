"""Benchmark: what the live bar/MTFA features cost the engine, per bar and per tick.

Data: the recorded Bybit 5-minute BTCUSDT candles (`shared/data/history/bybit_linear_BTCUSDT_5m_
20260301_20260721.csv.gz`, 41,100 candles) and the recorded Bybit book snapshot
(`shared/data/bybit/ws_public/nautilus_ws_orderbook_snapshot.json`).

1. per bar: every candle as a closed `kline.5.BTCUSDT` message through `MarketFeed.on_kline`
   (decimal strings -> bar, 5 m / 15 m / 1 h features, ret_h1, the bar row): CPU µs per bar.
   Baseline, same run: the research side on the same candles (`mtfa_table` + `from_bars`, all
   rows in one polars query), CPU µs per bar.
2. per tick: `MarketFeed.on_book` on the recorded snapshot, with bars on and off: CPU µs per
   book message and the difference (the bar values are merged into every tick row).
Last line: `RESULT bar_us=<a> batch_bar_us=<b> tick_us_bars=<c> tick_us_plain=<d>`.
"""

from __future__ import annotations

import csv
import gzip
import json
import os
import time
from decimal import Decimal
from pathlib import Path

import numpy as np
import polars as pl

from nexusforge.forge.backtest.run import feature_table
from nexusforge.forge.evolve.table import from_bars
from nexusforge.market.batch_mtfa import bars_from_candles
from nexusforge.market.instruments import Instrument
from nexusforge.nexus.bar_feed import BarSpec
from nexusforge.nexus.market_feed import MarketFeed
from nexusforge.nexus.venues.bybit import BookUpdate, KlineUpdate
from nexusforge.nexus.venues.bybit.public_ws import WsKline

SHARED = Path(os.environ.get("NEXUSFORGE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CANDLES = SHARED / "data/history/bybit_linear_BTCUSDT_5m_20260301_20260721.csv.gz"
SNAPSHOT = SHARED / "data/bybit/ws_public/nautilus_ws_orderbook_snapshot.json"
BTC = Instrument("BTCUSDT", Decimal("0.1"), Decimal("0.001"), Decimal("0.001"), Decimal(100),
                 Decimal(100), Decimal(5))  # fmt: skip
TICKS = 20_000


def klines() -> list[KlineUpdate]:
    with gzip.open(CANDLES, "rt") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        start = int(r["open_time_ms"])
        d = {k: Decimal(r[k]) for k in ("open", "high", "low", "close", "volume")}
        k = WsKline(start, start + 299_999, "5", d["open"], d["close"], d["high"], d["low"],
                    d["volume"], d["volume"] * d["close"], True, start + 300_000)  # fmt: skip
        out.append(KlineUpdate("kline.5.BTCUSDT", [k]))
    return out


def per_bar(messages: list[KlineUpdate]) -> float:
    feed = MarketFeed(BTC, bars=BarSpec(300))
    t0 = time.process_time()
    for m in messages:
        feed.on_kline(m)
    return (time.process_time() - t0) / len(messages) * 1e6


def batch_per_bar(messages: list[KlineUpdate]) -> float:
    ks = [m.candles[0] for m in messages]
    candles = pl.DataFrame({
        "open_ts": [k.start * 1_000_000 for k in ks],
        **{f: [float(getattr(k, f)) for k in ks]
           for f in ("open", "high", "low", "close", "volume", "turnover")},
    })  # fmt: skip
    t0 = time.process_time()
    bars = bars_from_candles(candles, 300 * 1_000_000_000)
    feats = feature_table(bars, 300).drop("close_ts")
    from_bars(bars["close_ts"].to_numpy(), bars["close"].to_numpy(), feats, bars_per_year=1.0)
    return (time.process_time() - t0) / len(ks) * 1e6


def per_tick(bars: BarSpec | None, update: BookUpdate) -> float:
    feed = MarketFeed(BTC, bars=bars)
    for _ in range(500):  # warm
        feed.on_book(update)
    t0 = time.process_time()
    for _ in range(TICKS):
        feed.on_book(update)
    return (time.process_time() - t0) / TICKS * 1e6


def main() -> None:
    print(f"load average at start: {os.getloadavg()}")
    messages = klines()
    bar_us = float(np.median([per_bar(messages) for _ in range(3)]))
    batch_us = float(np.median([batch_per_bar(messages) for _ in range(3)]))
    snap = json.loads(SNAPSHOT.read_text())
    d = snap["data"]
    update = BookUpdate(snap["topic"], d["s"], True, [tuple(x) for x in d["b"]],
                        [tuple(x) for x in d["a"]], d["u"], d["seq"], snap["ts"], snap["ts"],
                        json.dumps(snap))  # fmt: skip
    ticks = [(per_tick(BarSpec(300), update), per_tick(None, update)) for _ in range(5)]
    tick_bars = float(np.median([t[0] for t in ticks]))
    tick_plain = float(np.median([t[1] for t in ticks]))
    print(f"per bar, live (on_kline, {len(messages)} candles): {bar_us:.1f} CPU-µs")
    print(f"per bar, research batch (same candles, one query): {batch_us:.2f} CPU-µs")
    print(f"per book message: {tick_bars:.2f} CPU-µs with bars, {tick_plain:.2f} without "
          f"(+{tick_bars - tick_plain:.2f} µs)")  # fmt: skip
    print(f"load average at end: {os.getloadavg()}")
    print(f"RESULT bar_us={bar_us:.1f} batch_bar_us={batch_us:.2f} tick_us_bars={tick_bars:.2f} "
          f"tick_us_plain={tick_plain:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
