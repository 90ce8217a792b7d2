"""Bad input: damaged containers, malformed lines, wrong types, bad values, empty files, and a
failure in the middle of writing. Each is a DataError naming file and line, or a counted skip.

Type decision (documented in readers/_bybit_wire.py): wire fields must have the venue's JSON
type. Bybit/Binance prices and sizes are strings; a number there skips the message as "wrong type".
"""

from __future__ import annotations

import gzip
import json
import shutil
import zipfile
from pathlib import Path

import polars as pl
import pytest

from nexusforge.data.ingest import ingest
from nexusforge.data.schema import BARS, BOOK_EVENTS, QUOTES, TRADES
from nexusforge.data.store import Store, conform
from nexusforge.errors import DataError

TRADE = {
    "topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1672304486868,
    "data": [{"T": 1672304486865, "s": "BTCUSDT", "S": "Buy", "v": "0.001", "p": "16578.50",
              "L": "PlusTick", "i": "20f43950", "BT": False, "seq": 1783284617}],
}  # fmt: skip


def _trade(**changes: object) -> str:
    msg = json.loads(json.dumps(TRADE))
    msg["data"][0].update(changes)
    return json.dumps(msg)


def _write_ndjson(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_truncated_gzip_fails_with_file_name(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "bybit/market/binance_usdm_BTCUSDT_20240808_2355utc.gz"
    bad = tmp_path / "in" / "binance_usdm_BTCUSDT_20240808_2355utc.gz"
    bad.parent.mkdir()
    bad.write_bytes(src.read_bytes()[:200_000])
    report = ingest(bad.parent, tmp_path / "store")
    assert len(report.failed) == 1
    path, why = report.failed[0]
    assert path == str(bad) and str(bad) in why and "truncated gzip" in why
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").rglob("*.parquet"))


def test_truncated_history_gzip(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "history/bybit_linear_BTCUSDT_5m_2025.csv.gz"
    bad = tmp_path / src.name
    bad.write_bytes(src.read_bytes()[:500_000])
    report = ingest(bad, tmp_path / "store")
    assert [p for p, _ in report.failed] == [str(bad)]
    assert str(bad) in report.failed[0][1]


def test_truncated_zip(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
    bad = tmp_path / src.name
    bad.write_bytes(src.read_bytes()[:40_000])
    report = ingest(bad, tmp_path / "store")
    # a zip cut short loses its directory: no reader can even open it, so it is listed, not read
    assert report.sources == []
    assert [p for p, _ in report.unknown + report.failed] == [str(bad)]


def test_malformed_json_line_is_counted(tmp_path: Path) -> None:
    path = _write_ndjson(
        tmp_path / "t.ndjson", [_trade(), '{"topic":"publicTrade.BTCUSDT",', _trade(i="b")]
    )
    report = ingest(path, tmp_path / "store")
    (src,) = report.sources
    assert src.rows == {TRADES: 2}
    assert src.skipped == {"malformed JSON": 1}
    assert src.examples[0].startswith(f"{path}:2: malformed JSON")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"p": 16578.5}, "wrong type"),  # number where Bybit sends a string
        ({"T": "1672304486865"}, "wrong type"),  # string where Bybit sends an integer
        ({"v": "-0.001"}, "non-positive size"),
        ({"p": "nan"}, "price is not finite"),
        ({"p": "abc"}, "price is not a number"),
        ({"S": "Short"}, "unknown side"),
    ],
)
def test_bad_trade_fields_are_counted(tmp_path: Path, bad: dict[str, object], reason: str) -> None:
    path = _write_ndjson(tmp_path / "t.ndjson", [_trade(), _trade(**bad)])
    (src,) = ingest(path, tmp_path / "store").sources
    assert src.rows == {TRADES: 1}
    assert src.skipped == {reason: 1}
    assert f"{path}:2: {reason}" in src.examples[0]


def test_bad_book_message_is_counted_with_parser_reason(tmp_path: Path) -> None:
    data = {"s": "BTCUSDT", "b": [["1.0", "2"]], "a": [["1.1", "3"]], "u": 5, "seq": 9}
    snap = {"topic": "orderbook.1.BTCUSDT", "type": "snapshot", "ts": 1, "data": data}
    bad = json.loads(json.dumps(snap))
    bad["data"]["b"] = [[1.0, "2"]]  # price as a number
    path = _write_ndjson(tmp_path / "b.ndjson", [json.dumps(snap), json.dumps(bad)])
    (src,) = ingest(path, tmp_path / "store").sources
    assert src.rows == {BOOK_EVENTS: 2}
    assert src.skipped == {"malformed book message": 1}
    assert src.examples[0].startswith(f"{path}:2: malformed book message (")


def test_out_of_order_candles_fail_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bybit_linear_BTCUSDT_5m_test.csv"
    header = "open_time_ms,open_time_utc,open,high,low,close,volume"
    rows = [
        "1735689600000,x,1,2,0.5,1.5,10",
        "1735690200000,x,1,2,0.5,1.5,10",
        "1735689900000,x,1,2,0.5,1.5,10",
    ]
    path.write_text("\n".join([header, *rows]) + "\n")
    report = ingest(path, tmp_path / "store")
    assert report.failed == [
        (str(path), f"{path}:4: open_ts does not increase (duplicate or out of order)")
    ]


def test_wrong_interval_in_name_fails(tmp_path: Path) -> None:
    path = tmp_path / "bybit_linear_BTCUSDT_1m_test.csv"
    header = "open_time_ms,open_time_utc,open,high,low,close,volume"
    rows = [f"{1735689600000 + k * 300_000},x,1,2,0.5,1.5,10" for k in range(4)]
    path.write_text("\n".join([header, *rows]) + "\n")
    (_, why) = ingest(path, tmp_path / "store").failed[0]
    assert "name says a 60 s interval but the data steps 300 s" in why


def test_bad_candle_rows_are_counted(tmp_path: Path) -> None:
    path = tmp_path / "bybit_linear_BTCUSDT_5m_test.csv"
    header = "open_time_ms,open_time_utc,open,high,low,close,volume"
    rows = [
        "1735689600000,x,1,2,0.5,1.5,10",
        "1735689900000,x,1,2,0.5,1.5,-1",  # negative volume
        "1735690200000,x,1,2,0.5,abc,10",  # not a number
        "1735690500000,x,1,2,1.2,1.5,10",  # low above open
        "1735690800000,x,1,2,0.5,1.5,10",
        "1735691100000,x,1,2,0.5,1.5,10",
    ]
    path.write_text("\n".join([header, *rows]) + "\n")
    (src,) = ingest(path, tmp_path / "store").sources
    assert src.rows == {BARS: 3}
    assert src.skipped == {
        "negative volume": 1, "close is not a number": 1, "high/low do not bound open/close": 1,
    }  # fmt: skip
    assert any(e.startswith(f"{path}:3: ") for e in src.examples)


def test_negative_quote_size_in_binance_capture(tmp_path: Path) -> None:
    good = {"e": "bookTicker", "u": 1, "s": "BTCUSDT", "b": "1.0", "B": "2", "a": "1.1", "A": "3",
            "T": 1, "E": 1}  # fmt: skip
    bad = dict(good, B="-2")
    lines = [f"1723161255030314667 {json.dumps({'stream': 's', 'data': d})}" for d in (good, bad)]
    path = tmp_path / "binance_usdm_BTCUSDT_x.gz"
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    (src,) = ingest(path, tmp_path / "store").sources
    assert src.rows == {QUOTES: 1}
    assert src.skipped == {"negative bid size": 1}


def test_empty_file_is_listed_not_fatal(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    empty = tmp_path / "in" / "empty.ndjson"
    empty.write_bytes(b"")
    report = ingest(tmp_path / "in", tmp_path / "store")
    assert report.unknown == [(str(empty), "empty or unreadable file")]
    assert report.sources == [] and report.failed == []


def test_failure_mid_write_leaves_no_partial_file(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = shared_data / "bybit/market/binance_usdm_BTCUSDT_20240808_2355utc.gz"
    store = Store(tmp_path / "store")
    real = pl.DataFrame.write_parquet
    calls = {"n": 0}

    def failing(self: pl.DataFrame, file: Path, **kw: object) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the second table of the source
            Path(file).write_bytes(b"half a parquet file")
            raise OSError("disk full (injected)")
        real(self, file, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(pl.DataFrame, "write_parquet", failing)
    with pytest.raises(OSError, match="injected"):
        ingest(src, store)
    leftovers = [p for p in store.path.rglob("*") if p.is_file()]
    assert leftovers == []
    monkeypatch.setattr(pl.DataFrame, "write_parquet", real)
    report = ingest(src, store)
    assert report.rows()[TRADES] == 21_313
    assert len(store.files(TRADES)) == 1


def test_reingest_replaces(shared_data: Path, tmp_path: Path) -> None:
    src = tmp_path / "lean_bybit_BTCUSDT_perp_minute_trade_20221213.zip"
    shutil.copy(shared_data / "bybit/market" / src.name, src)
    store = Store(tmp_path / "store")
    ingest(src, store)
    ingest(src, store)
    assert store.scan(BARS).collect().height == 721


def test_conform_rejects_schema_mismatch() -> None:
    with pytest.raises(DataError, match="missing"):
        conform(TRADES, pl.DataFrame({"venue": ["x"]}))
    frame = pl.DataFrame({"venue": ["x"], "symbol": ["y"], "ts": ["not a time"], "rate": [0.1]})
    with pytest.raises(DataError, match="cannot cast"):
        conform("funding", frame)


def test_zip_with_two_members_fails(tmp_path: Path) -> None:
    path = tmp_path / "two.data.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.data", _trade() + "\n")
        archive.writestr("b.data", _trade() + "\n")
    report = ingest(path, tmp_path / "store")
    assert [p for p, _ in report.unknown + report.failed] == [str(path)]
