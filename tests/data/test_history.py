"""Ingest of the real candle and funding histories: row counts, spans and gaps per SOURCES.md."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from nexusforge.data.info import series_info
from nexusforge.data.ingest import IngestReport
from nexusforge.data.schema import BARS, FUNDING, SCHEMAS
from nexusforge.data.store import Store

# (venue, symbol, interval_s, first candle open UTC, last candle open UTC, rows) from SOURCES.md
BAR_SERIES = [
    ("binance_spot", "BTCUSDT", 60, "2026-03-01 00:00", "2026-07-09 14:59", 188_100),
    ("binance_spot", "ETHUSDT", 60, "2026-03-23 12:09", "2026-04-22 12:07", 43_199),
    ("binance_usdm", "BTCUSDT", 60, "2025-05-04 15:33", "2025-06-24 10:31", 73_139),
    ("binance_usdm", "ETHUSDT", 60, "2025-05-04 15:33", "2025-06-24 10:32", 73_140),
    ("binance_usdm", "FILUSDT", 60, "2023-04-01 00:00", "2023-06-30 23:59", 131_040),
]
BYBIT_5M = {  # two files per symbol: 2025 (105,120 rows) and 2026-03-01..07-21 (41,100 rows)
    "BTCUSDT": 105_120 + 41_100,
    "ETHUSDT": 105_120 + 41_100,
}


def _ns(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=UTC).timestamp()) * 10**9


def test_nothing_failed_or_unknown(history_store: tuple[Store, IngestReport]) -> None:
    _, report = history_store
    assert report.failed == []
    assert report.unknown == [
        (str(p), why) for p, why in report.unknown if p.endswith("SOURCES.md")
    ]
    assert all(s.skipped_total == 0 for s in report.sources)


def test_per_file_rows(history_store: tuple[Store, IngestReport]) -> None:
    _, report = history_store
    rows = {s.source_id: s.rows for s in report.sources}
    assert rows["bybit_linear_BTCUSDT_5m_2025"] == {BARS: 105_120}
    assert rows["bybit_linear_ETHUSDT_5m_20260301_20260721"] == {BARS: 41_100}
    assert rows["bybit_linear_BTCUSDT_funding_8h_2025"] == {FUNDING: 1_094}
    assert rows["bybit_linear_ETHUSDT_funding_8h_20260301_20260721"] == {FUNDING: 429}


@pytest.mark.parametrize(("venue", "symbol", "interval", "first", "last", "rows"), BAR_SERIES)
def test_bar_series_span_and_no_gaps(
    history_store: tuple[Store, IngestReport],
    venue: str, symbol: str, interval: int, first: str, last: str, rows: int,
) -> None:  # fmt: skip
    store, _ = history_store
    info = {(s.venue, s.symbol, s.interval_s): s for s in series_info(store, BARS)}
    s = info[(venue, symbol, interval)]
    assert (s.rows, s.first_ns, s.last_ns) == (rows, _ns(first), _ns(last))
    assert s.missing_intervals == 0
    assert s.duplicates == 0
    assert s.largest_gap_s == interval


def test_bybit_5m_series_join_with_one_known_hole(
    history_store: tuple[Store, IngestReport],
) -> None:
    store, _ = history_store
    info = {(s.venue, s.symbol, s.interval_s): s for s in series_info(store, BARS)}
    for symbol, rows in BYBIT_5M.items():
        s = info[("bybit_linear", symbol, 300)]
        assert s.rows == rows and s.duplicates == 0
        # 2026-01-01 00:00 .. 2026-02-28 23:55 is not in the data: 59 days of 5 m candles.
        assert s.missing_intervals == 59 * 288
        assert s.largest_gap_s == 59 * 86_400 + 300


def test_optional_columns_empty_for_part_of_spot_btc(
    history_store: tuple[Store, IngestReport],
) -> None:
    store, _ = history_store
    bars = (
        store.scan(BARS)
        .filter((pl.col("venue") == "binance_spot") & (pl.col("symbol") == "BTCUSDT"))
        .collect()
    )
    june = _ns("2026-06-01 00:00")
    before = bars.filter(pl.col("open_ts") < june)
    after = bars.filter(pl.col("open_ts") >= june)
    assert before.get_column("trade_count").null_count() == 0
    assert before.get_column("turnover").null_count() == 0
    assert after.get_column("trade_count").null_count() == after.height
    assert after.get_column("taker_buy_volume").null_count() == after.height
    first = before.row(0, named=True)
    assert (first["open"], first["trade_count"], first["taker_buy_volume"]) == (
        66973.26,
        5610,
        4.61069,
    )


def test_fil_archive_layout(history_store: tuple[Store, IngestReport]) -> None:
    store, _ = history_store
    fil = store.scan(BARS).filter(pl.col("symbol") == "FILUSDT").sort("open_ts").collect()
    assert fil.row(0, named=True) | {} == {
        "venue": "binance_usdm", "symbol": "FILUSDT", "interval_s": 60,
        "open_ts": 1_680_307_200_000_000_000, "open": 5.685, "high": 5.695, "low": 5.684,
        "close": 5.692, "volume": 28753.6, "turnover": 163610.5208, "trade_count": 335,
        "taker_buy_volume": 22787.7,
    }  # fmt: skip


def test_funding(history_store: tuple[Store, IngestReport]) -> None:
    store, _ = history_store
    info = {(s.venue, s.symbol): s for s in series_info(store, FUNDING)}
    btc = info[("bybit_linear", "BTCUSDT")]
    assert btc.rows == 1_094 + 429
    assert btc.first_ns == _ns("2025-01-01 08:00")
    assert btc.last_ns == _ns("2026-07-21 16:00")
    first = store.scan(FUNDING).sort("ts").collect().row(0, named=True)
    assert first["rate"] == 7.085e-05


def test_schemas_exact(history_store: tuple[Store, IngestReport]) -> None:
    store, _ = history_store
    assert store.tables() == [BARS, FUNDING]
    for table in store.tables():
        assert store.scan(table).collect_schema() == pl.Schema(SCHEMAS[table])
        for path in store.files(table):
            assert pl.read_parquet_schema(path) == SCHEMAS[table]
