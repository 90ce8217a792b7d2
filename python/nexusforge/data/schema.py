"""The parquet store's tables and their explicit schemas (one table per kind of data).

A store is a folder with one sub-folder per table; each ingested source becomes one parquet file
`<store>/<table>/<source_id>.parquet`, written to a temp file and renamed, so a table is never
half-written and re-ingesting a source replaces its file. Timestamps are Int64 ns since the epoch.
"""

from __future__ import annotations

import polars as pl

BOOK_EVENTS = "book_events"
TRADES = "trades"
BARS = "bars"
QUOTES = "quotes"
FUNDING = "funding"

# Venue names join the exchange and its market: BTCUSDT on Binance spot and on Binance USD-M
# futures are different instruments, so a venue name alone would mix them.
VENUE_BYBIT_LINEAR = "bybit_linear"
VENUE_BINANCE_USDM = "binance_usdm"
VENUE_BINANCE_SPOT = "binance_spot"

SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    # One row per price level changed by a book message (see market/events.py for the flags).
    BOOK_EVENTS: {
        "venue": pl.String(),
        "symbol": pl.String(),
        "exch_ts": pl.Int64(),
        "local_ts": pl.Int64(),
        "update_id": pl.Int64(),
        "prev_update_id": pl.Int64(),
        "seq": pl.Int64(),
        "price": pl.Float64(),
        "qty": pl.Float64(),
        "side": pl.Int8(),
        "flags": pl.UInt8(),
    },
    TRADES: {
        "venue": pl.String(),
        "symbol": pl.String(),
        "exch_ts": pl.Int64(),
        "local_ts": pl.Int64(),
        "price": pl.Float64(),
        "qty": pl.Float64(),
        "side": pl.Int8(),
        "trade_id": pl.String(),
    },
    # Candles, stamped by their open time; `interval_s` is the bar length in seconds.
    BARS: {
        "venue": pl.String(),
        "symbol": pl.String(),
        "interval_s": pl.Int32(),
        "open_ts": pl.Int64(),
        "open": pl.Float64(),
        "high": pl.Float64(),
        "low": pl.Float64(),
        "close": pl.Float64(),
        "volume": pl.Float64(),
        "turnover": pl.Float64(),
        "trade_count": pl.Int64(),
        "taker_buy_volume": pl.Float64(),
    },
    # Best bid/offer updates (Binance bookTicker, Bybit tickers bid1/ask1, quote bars).
    QUOTES: {
        "venue": pl.String(),
        "symbol": pl.String(),
        "exch_ts": pl.Int64(),
        "local_ts": pl.Int64(),
        "bid": pl.Float64(),
        "bid_qty": pl.Float64(),
        "ask": pl.Float64(),
        "ask_qty": pl.Float64(),
    },
    FUNDING: {
        "venue": pl.String(),
        "symbol": pl.String(),
        "ts": pl.Int64(),
        "rate": pl.Float64(),
    },
}

TABLES = tuple(SCHEMAS)
