"""Ingest of the real recordings under bybit/: counts per SOURCES.md, ids, sides, schemas."""

from __future__ import annotations

import polars as pl

from nexusforge.data.info import series_info
from nexusforge.data.ingest import IngestReport
from nexusforge.data.schema import BARS, BOOK_EVENTS, FUNDING, QUOTES, SCHEMAS, TRADES
from nexusforge.data.store import Store
from nexusforge.market.events import FLAG_BEGIN, FLAG_END, FLAG_SNAPSHOT

BINANCE = "binance_usdm_BTCUSDT_20240808_2355utc"
OB500 = "bybit_XRPUSDT_ob500_2024-12-01_head50"
V2 = "bybit_legacy_v2_linear_ws_20210417"


def _source(store: Store, table: str, source_id: str) -> pl.DataFrame:
    return pl.read_parquet(store.table_dir(table) / f"{source_id}.parquet")


def _messages(book: pl.DataFrame) -> pl.DataFrame:
    return book.filter((pl.col("flags") & FLAG_BEGIN) != 0)


def test_report(bybit_store: tuple[Store, IngestReport]) -> None:
    _, report = bybit_store
    assert report.failed == []
    known = {s.source_id: s.reader for s in report.sources}
    assert known[BINANCE] == "binance-capture"
    assert known[OB500] == "bybit-ws-ndjson"
    assert known[V2] == "bybit-v2-capture"
    assert known["nautilus_ws_public_trade"] == "bybit-ws-json"
    unknown = {p.split("/bybit/", 1)[1].split("/")[0] for p, _ in report.unknown}
    assert unknown == {"SOURCES.md", "rest", "ws_private"}


def test_binance_capture_counts(bybit_store: tuple[Store, IngestReport]) -> None:
    store, report = bybit_store
    src = next(s for s in report.sources if s.source_id == BINANCE)
    assert src.skipped == {}
    assert src.rows[QUOTES] == 66_089
    assert src.rows[TRADES] == 21_313
    messages = _messages(_source(store, BOOK_EVENTS, BINANCE))
    assert messages.height == 6_551 + 1
    snap = messages.filter((pl.col("flags") & FLAG_SNAPSHOT) != 0)
    assert snap.get_column("update_id").to_list() == [5_123_107_852_948]


def test_binance_depth_chain_and_times(bybit_store: tuple[Store, IngestReport]) -> None:
    store, _ = bybit_store
    book = _source(store, BOOK_EVENTS, BINANCE)
    deltas = _messages(book).filter((pl.col("flags") & FLAG_SNAPSHOT) == 0)
    # every depthUpdate continues from the previous one (pu == previous u): no breaks
    chain = deltas.select(pl.col("prev_update_id") == pl.col("update_id").shift(1)).to_series()
    assert chain.drop_nulls().all()
    first = book.row(0, named=True)
    assert first["local_ts"] == 1_723_161_255_030_314_667  # receive ns from the line prefix
    assert first["exch_ts"] == 1_723_161_256_299_000_000  # E
    assert book.get_column("symbol").unique().to_list() == ["BTCUSDT"]


def test_binance_trade_side_from_maker_flag(bybit_store: tuple[Store, IngestReport]) -> None:
    store, _ = bybit_store
    trades = _source(store, TRADES, BINANCE)
    first = trades.row(0, named=True)
    # {"t":5266583935,"p":"61800.30","q":"0.006","m":false}: buyer was taker -> +1
    assert (first["trade_id"], first["price"], first["qty"], first["side"]) == (
        "5266583935", 61800.30, 0.006, 1,
    )  # fmt: skip
    assert set(trades.get_column("side").unique()) == {1, -1}
    assert trades.get_column("trade_id").n_unique() == trades.height


def test_ob500_archive(bybit_store: tuple[Store, IngestReport]) -> None:
    store, _ = bybit_store
    book = _source(store, BOOK_EVENTS, OB500)
    messages = _messages(book)
    assert messages.height == 50
    assert messages.get_column("update_id").to_list() == list(range(20_254_869, 20_254_919))
    assert messages.get_column("prev_update_id").to_list()[1:] == list(
        range(20_254_869, 20_254_918)
    )
    snapshot = book.filter((pl.col("flags") & FLAG_SNAPSHOT) != 0)
    assert snapshot.height == 1_000
    assert snapshot.group_by("side").len().sort("side").get_column("len").to_list() == [500, 500]
    assert (
        messages.get_column("seq").is_sorted() and messages.get_column("seq")[0] == 130_020_238_981
    )
    assert book.get_column("symbol").unique().to_list() == ["XRPUSDT"]
    assert book.get_column("venue").unique().to_list() == ["bybit_linear"]
    span = messages.get_column("exch_ts")
    assert span[0] == 1_733_011_200_691_000_000  # 00:00:00.691 UTC
    assert 1_733_011_205_000 <= span[-1] // 10**6 < 1_733_011_206_000  # 00:00:05.xxx UTC


def test_legacy_v2_capture(bybit_store: tuple[Store, IngestReport]) -> None:
    store, report = bybit_store
    src = next(s for s in report.sources if s.source_id == V2)
    assert src.skipped == {"client-side line (sent message or connect)": 17, "control message": 16}
    trades = _source(store, TRADES, V2)
    assert trades.height == 101
    book = _source(store, BOOK_EVENTS, V2)
    messages = _messages(book)
    snaps = messages.filter((pl.col("flags") & FLAG_SNAPSHOT) != 0)
    assert (messages.height, snaps.height) == (8 + 3_252, 8)
    assert snaps.get_column("symbol").n_unique() == 8
    # the first BCH snapshot has 25 levels per side; every message is framed BEGIN..END
    assert book.filter((pl.col("flags") & FLAG_END) != 0).height == messages.height
    per_symbol = messages.group_by("symbol").agg(pl.col("update_id").diff().min().alias("step"))
    assert (per_symbol.get_column("step") > 0).all()  # cross_seq only rises per symbol


def test_legacy_v2_book_replays_to_plausible_top(bybit_store: tuple[Store, IngestReport]) -> None:
    """Apply the v2 level rows per symbol: the book never crosses and ends with 25+25 levels."""
    store, _ = bybit_store
    book = _source(store, BOOK_EVENTS, V2)
    for symbol in book.get_column("symbol").unique().to_list():
        levels: dict[tuple[int, float], float] = {}
        for row in book.filter(pl.col("symbol") == symbol).iter_rows(named=True):
            if row["flags"] & FLAG_SNAPSHOT and row["flags"] & FLAG_BEGIN:
                levels.clear()
            key = (row["side"], row["price"])
            if row["qty"] == 0:
                levels.pop(key, None)
            else:
                levels[key] = row["qty"]
            if row["flags"] & FLAG_END:
                bids = [p for s, p in levels if s == 1]
                asks = [p for s, p in levels if s == -1]
                assert max(bids) < min(asks), symbol
        assert len(bids) == 25 and len(asks) == 25, symbol


def test_lean_files(bybit_store: tuple[Store, IngestReport]) -> None:
    store, _ = bybit_store
    bars = _source(store, BARS, "lean_bybit_BTCUSDT_perp_minute_trade_20221213")
    assert bars.height == 721
    assert bars.get_column("open_ts")[0] == 1_670_889_600_000_000_000  # 2022-12-13 00:00 UTC
    assert bars.get_column("open_ts")[-1] == 1_670_889_600_000_000_000 + 720 * 60 * 10**9
    quotes = _source(store, QUOTES, "lean_bybit_BTCUSDT_perp_minute_quote_20221213")
    assert quotes.height == 460
    assert quotes.row(0) == (
        "bybit_linear", "BTCUSDT", 1_670_889_660_000_000_000, 1_670_889_660_000_000_000,
        17199.0, 135.724, 17199.5, 17.697,
    )  # fmt: skip
    funding = _source(store, FUNDING, "lean_bybit_BTCUSDT_funding_20221213")
    assert funding.get_column("rate").to_list() == [-0.0002016, -0.00022398, -0.00038555]
    info = {(s.venue, s.symbol, s.interval_s): s for s in series_info(store, BARS)}
    assert info[("bybit_linear", "BTCUSDT", 60)].missing_intervals == 0


def test_ws_public_samples(bybit_store: tuple[Store, IngestReport]) -> None:
    store, report = bybit_store
    by_id = {s.source_id: s for s in report.sources}
    assert by_id["nautilus_ws_public_trade"].rows == {TRADES: 1}  # `trade.linear.SYM` spelling
    assert by_id["nautilus_ws_ticker_linear"].rows == {QUOTES: 1}
    assert by_id["nautilus_ws_kline"].rows == {}
    assert by_id["nautilus_ws_kline"].skipped == {"unconfirmed kline (candle not closed)": 1}
    assert by_id["nautilus_ws_orderbook_snapshot"].rows == {BOOK_EVENTS: 4}
    delta = _source(store, BOOK_EVENTS, "nautilus_ws_orderbook_delta")
    assert delta.select("price", "qty", "side", "update_id", "prev_update_id").rows() == [
        (27450.0, 0.4, 1, 123_456_790, 123_456_789),
        (27451.0, 0.0, -1, 123_456_790, 123_456_789),
    ]
    quote = _source(store, QUOTES, "nautilus_ws_ticker_linear").row(0, named=True)
    assert (quote["bid"], quote["bid_qty"], quote["ask"], quote["ask_qty"]) == (
        17215.5, 84.489, 17216.0, 83.02,
    )  # fmt: skip
    trade = _source(store, TRADES, "nautilus_ws_public_trade").row(0, named=True)
    assert (trade["side"], trade["exch_ts"], trade["trade_id"]) == (
        1, 1_709_891_679_000_000_000, "9dc75fca-4bdd-4773-9f78-6f5d7ab2a110",
    )  # fmt: skip


def test_schemas_exact(bybit_store: tuple[Store, IngestReport]) -> None:
    store, _ = bybit_store
    assert set(store.tables()) == {BOOK_EVENTS, TRADES, QUOTES, BARS, FUNDING}
    for table in store.tables():
        for path in store.files(table):
            assert pl.read_parquet_schema(path) == SCHEMAS[table], path
