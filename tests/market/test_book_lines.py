"""One-buffer JSON entry points equal the per-message ones on the real recordings."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nexusforge.errors import BookError
from nexusforge.market.book import OrderBook, parse_book_lines, parse_book_messages
from nexusforge.market.events import BOOK_COLUMNS


def _xrp_lines(shared: Path) -> list[bytes]:
    path = shared / "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
    with zipfile.ZipFile(path) as zf:
        return zf.read(zf.namelist()[0]).splitlines()


def _binance(shared: Path) -> tuple[list[bytes], np.ndarray]:
    raw = gzip.decompress(
        (shared / "bybit/market/binance_usdm_BTCUSDT_20240808_2355utc.gz").read_bytes()
    )
    pairs = [line.split(b" ", 1) for line in raw.splitlines()[:3000]]
    return [p[1] for p in pairs], np.array([int(p[0]) for p in pairs], dtype=np.int64)


@pytest.mark.parametrize("trailing_newline", [True, False])
def test_lines_equal_messages_on_bybit_archive(shared_data: Path, trailing_newline: bool) -> None:
    lines = _xrp_lines(shared_data)
    data = b"\n".join(lines) + (b"\n" if trailing_newline else b"")
    one, many = parse_book_lines(data, "bybit"), parse_book_messages(lines, "bybit")
    for name in BOOK_COLUMNS:
        np.testing.assert_array_equal(getattr(one.rows, name), getattr(many.rows, name))
    np.testing.assert_array_equal(one.status, many.status)


def test_lines_equal_messages_on_binance_capture_with_receive_times(shared_data: Path) -> None:
    msgs, local = _binance(shared_data)
    one = parse_book_lines(b"\n".join(msgs), "binance", local)
    many = parse_book_messages(msgs, "binance", local)
    np.testing.assert_array_equal(one.rows.local_ts, many.rows.local_ts)
    np.testing.assert_array_equal(one.rows.update_id, many.rows.update_id)
    a, b = OrderBook(0.1), OrderBook(0.1)
    assert a.apply_json_lines(b"\n".join(msgs) + b"\n", "binance", local) == 0
    a_bids, a_asks = a.depth(20)
    b.apply(many.rows)
    b_bids, b_asks = b.depth(20)
    np.testing.assert_array_equal(a_bids, b_bids)
    np.testing.assert_array_equal(a_asks, b_asks)
    assert a.stats() == b.stats()


def test_lines_reject_unknown_format_and_wrong_local_ts_length() -> None:
    with pytest.raises(BookError, match="unknown book format"):
        parse_book_lines(b"{}\n", "kraken")
    with pytest.raises(BookError):
        parse_book_lines(b"{}\n{}\n", "bybit", np.zeros(3, dtype=np.int64))
