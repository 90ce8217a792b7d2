"""The data readers fed byte-mutated real recordings: a reader raises only DataError (a bad
file), never anything else; a file nobody recognises is simply not picked."""

from __future__ import annotations

import contextlib
import gzip
import logging
import tempfile
import zipfile
from pathlib import Path

import pytest
from fuzzx import FUZZ_FILES, mutated
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.data.readers import pick_reader
from nexusforge.errors import DataError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _seeds() -> dict[str, bytes]:
    """One real input per reader (file name -> content; `.zip` names get zipped by `_read`)."""
    market = SHARED / "bybit/market"
    legacy = market / "bybit_legacy_v2_linear_ws_20210417.txt"
    history = SHARED / "history/binance_usdm_BTCUSDT_1m_20250504_20250624.csv.gz"
    public = sorted((SHARED / "bybit/ws_public").glob("*.json"))
    with legacy.open("rb") as f, gzip.open(history) as h:
        legacy_head, history_head = f.readlines()[:40], h.readlines()[:30]
    with gzip.open(market / "binance_usdm_BTCUSDT_20240808_2355utc.gz") as b:
        binance_head = b.readlines()[:12]
    with zipfile.ZipFile(market / "lean_bybit_BTCUSDT_perp_minute_quote_20221213.zip") as z:
        quotes = z.read(z.namelist()[0]).splitlines(keepends=True)[:30]
    return {
        "bybit_legacy_v2_linear_ws_20210417.txt": b"".join(legacy_head),
        "lean_bybit_BTCUSDT_funding_20221213.csv": (
            market / "lean_bybit_BTCUSDT_funding_20221213.csv"
        ).read_bytes(),
        "lean_bybit_BTCUSDT_perp_minute_quote_20221213.zip": b"".join(quotes),
        "bybit_ws_public.ndjson": b"\n".join(p.read_bytes().replace(b"\n", b"") for p in public),
        "nautilus_ws_orderbook_snapshot.json": (
            SHARED / "bybit/ws_public/nautilus_ws_orderbook_snapshot.json"
        ).read_bytes(),
        "binance_usdm_capture.txt": b"".join(binance_head),
        "binance_usdm_BTCUSDT_1m_20250504_20250624.csv": b"".join(history_head),
    }


SEEDS = _seeds() if SHARED.is_dir() else {}


def _write(path: Path, data: bytes) -> None:
    """The file as it is stored: a `.zip` holds the (mutated) content as its one member."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("20221213_btcusdt_minute_quote_perp.csv", data)
    else:
        path.write_bytes(data)


def _read(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        _write(path, data)
        reader = pick_reader(path)
        if reader is not None:
            reader.read(path, data[:65536])


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_is_recognised_unmutated(name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        _write(path, SEEDS[name])
        reader = pick_reader(path)
        assert reader is not None  # else the fuzz below would test nothing
        result = reader.read(path, SEEDS[name][:65536])
        assert sum(f.height for f in result.frames.values()) > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SEEDS))
@FUZZ_FILES
@given(data=st.data())
def test_readers_raise_only_data_error(name: str, data: st.DataObject) -> None:
    """One target per reader: each gets the whole budget."""
    logging.getLogger("nexusforge.data").setLevel(logging.ERROR)  # skipped lines are expected
    content = data.draw(mutated(SEEDS[name]))
    with contextlib.suppress(DataError):
        _read(name, content)


def test_an_overflowing_timestamp_is_a_skipped_line() -> None:
    """Found at 20,000 inputs: one extra digit in `timestamp_e6` overflowed the Int64 column
    (a polars TypeError for the whole file); now that one line is skipped."""
    name = "bybit_legacy_v2_linear_ws_20210417.txt"
    seed = SEEDS[name]
    at = seed.index(b'"timestamp_e6":"') + len(b'"timestamp_e6":"')
    _read(name, seed[:at] + b"99999" + seed[at:])  # raises nothing
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(seed[:at] + b"99999" + seed[at:])
        reader = pick_reader(path)
        assert reader is not None
        result = reader.read(path, b"")
    assert "timestamp_e6 out of range" in result.skips.counts


def test_a_binance_line_with_bad_utf8_is_a_skipped_line() -> None:
    """Found at 300 inputs: invalid UTF-8 inside a JSON string is msgspec's UnicodeDecodeError,
    which escaped the Binance reader (the whole file failed); now that line is skipped."""
    name = "binance_usdm_capture.txt"
    seed = SEEDS[name]
    at = seed.index(b'"stream":"') + len(b'"stream":"')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(seed[:at] + b"\x80" + seed[at:])
        reader = pick_reader(path)
        assert reader is not None
        result = reader.read(path, b"")
    assert result.skips.counts.get("malformed JSON") == 1
    assert sum(f.height for f in result.frames.values()) > 0  # the other lines are kept


def test_a_binance_local_timestamp_overflowing_int64_is_a_skipped_line() -> None:
    """Found at 300 inputs: a 20-digit receive time overflowed the Int64 column (an
    OverflowError for the whole file); now that one line is skipped."""
    name = "binance_usdm_capture.txt"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(b"1" + SEEDS[name])
        reader = pick_reader(path)
        assert reader is not None
        result = reader.read(path, b"")
    assert result.skips.counts.get("local timestamp out of range") == 1
    assert sum(f.height for f in result.frames.values()) > 0


def test_a_binance_trade_time_overflowing_int64_is_a_skipped_line() -> None:
    """Found by atheris: a trade or book-ticker time `T` in ms whose ns overflow Int64 was a
    polars TypeError for the whole file; now that line is skipped."""
    name = "binance_usdm_capture.txt"
    seed = SEEDS[name]
    trade = seed.index(b'"e":"trade"')
    at = seed.index(b'"T":', trade) + len(b'"T":')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(seed[:at] + b"999999" + seed[at:])
        reader = pick_reader(path)
        assert reader is not None
        result = reader.read(path, b"")
    assert result.skips.counts.get("T out of range") == 1
