"""The data readers fed byte-mutated real recordings: a reader raises only DataError (a bad
file), never anything else; a file nobody recognises is simply not picked."""

from __future__ import annotations

import contextlib
import gzip
import logging
import tempfile
from pathlib import Path

import pytest
from fuzzx import FUZZ, mutated
from hypothesis import given
from hypothesis import strategies as st

from nexusforge.data.readers import pick_reader
from nexusforge.errors import DataError

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"


def _seeds() -> dict[str, bytes]:
    legacy = SHARED / "bybit/market/bybit_legacy_v2_linear_ws_20210417.txt"
    history = SHARED / "history/binance_usdm_BTCUSDT_1m_20250504_20250624.csv.gz"
    public = sorted((SHARED / "bybit/ws_public").glob("*.json"))
    with legacy.open("rb") as f, gzip.open(history) as h:
        legacy_head, history_head = f.readlines()[:40], h.readlines()[:30]
    return {
        "bybit_legacy_v2_linear_ws_20210417.txt": b"".join(legacy_head),
        "lean_bybit_BTCUSDT_funding_20221213.csv": (
            SHARED / "bybit/market/lean_bybit_BTCUSDT_funding_20221213.csv"
        ).read_bytes(),
        "bybit_ws_public.ndjson": b"\n".join(p.read_bytes().replace(b"\n", b"") for p in public),
        "binance_usdm_BTCUSDT_1m_20250504_20250624.csv": b"".join(history_head),
    }


SEEDS = _seeds() if SHARED.is_dir() else {}


def _read(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        reader = pick_reader(path)
        if reader is not None:
            reader.read(path, data[:65536])


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_every_seed_is_recognised_unmutated(name: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(SEEDS[name])
        assert pick_reader(path) is not None  # else the fuzz below would test nothing


@FUZZ
@given(st.sampled_from(sorted(SEEDS)).flatmap(lambda n: st.tuples(st.just(n), mutated(SEEDS[n]))))
def test_readers_raise_only_data_error(case: tuple[str, bytes]) -> None:
    logging.getLogger("nexusforge.data").setLevel(logging.ERROR)  # skipped lines are expected
    with contextlib.suppress(DataError):
        _read(*case)


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
