"""MTFA on real candle histories: batch equals streaming, backward-only alignment, no look-ahead."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusforge.data.ingest import ingest
from nexusforge.data.store import Store
from nexusforge.market.batch import bar_features, bars_from_candles, mtfa_table, resample_bars
from nexusforge.market.mtfa import Bar, MtfaConfig, MtfaStream
from nexusforge.market.vmd import VmdFeatureConfig, vmd_features
from nexusforge.testing import assert_frames_match

MIN = 60_000_000_000
CFG = MtfaConfig(base_ns=MIN, timeframes_ns=(15 * MIN, 60 * MIN), n_bars=20)
CFG5 = MtfaConfig(base_ns=5 * MIN, timeframes_ns=(15 * MIN, 60 * MIN, 240 * MIN), n_bars=12)
HISTORY = {
    "perp_1m": "history/binance_usdm_BTCUSDT_1m_20250504_20250624.csv.gz",
    "bybit_5m": "history/bybit_linear_BTCUSDT_5m_2025.csv.gz",
}


def _load(shared: Path, rel: str, tmp: Path) -> pl.DataFrame:
    store = Store(tmp)
    ingest(shared / rel, store)
    candles = store.scan("bars").collect().sort("open_ts")
    width = int(candles["interval_s"][0]) * 1_000_000_000
    return bars_from_candles(candles, width)


@pytest.fixture(scope="module")
def perp_1m(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    return _load(shared_data, HISTORY["perp_1m"], tmp_path_factory.mktemp("store1m"))


@pytest.fixture(scope="module")
def bybit_5m(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    return _load(shared_data, HISTORY["bybit_5m"], tmp_path_factory.mktemp("store5m"))


def stream_table(bars: pl.DataFrame, cfg: MtfaConfig) -> pl.DataFrame:
    s = MtfaStream(cfg)
    rows = [s.on_bar(Bar(**r)) for r in bars.iter_rows(named=True)]
    return pl.DataFrame(
        rows, schema={c: pl.Float64 for c in cfg.columns()} | {"close_ts": pl.Int64}
    )


def test_batch_equals_stream_on_binance_perp_1m(perp_1m: pl.DataFrame) -> None:
    part = perp_1m.slice(1_000, 3 * 1440 + 37)  # three days, starting mid-hour
    assert_frames_match(mtfa_table(part, CFG), stream_table(part, CFG))


def test_batch_equals_stream_on_bybit_5m(bybit_5m: pl.DataFrame) -> None:
    part = bybit_5m.slice(5_000, 7 * 288)
    assert_frames_match(mtfa_table(part, CFG5), stream_table(part, CFG5))


def test_whole_history_batch_matches_stream_on_its_tail(perp_1m: pl.DataFrame) -> None:
    """Features need no warm-up beyond n bars: the tail of a long run equals a fresh short run."""
    full = mtfa_table(perp_1m, CFG)
    start = 40_000 - 40_000 % 60  # on an hour boundary, so every higher bar is whole
    tail = perp_1m.slice(start)
    fresh = mtfa_table(tail, CFG)
    ok = pl.int_range(pl.len()) >= 60 * (CFG.n_bars + 1)
    assert_frames_match(full.slice(start).filter(ok), fresh.filter(ok), atol=1e-9)


def test_15m_bar_invisible_before_it_closes(perp_1m: pl.DataFrame) -> None:
    part = perp_1m.slice(0, 2000)
    table = mtfa_table(part, CFG)
    m15 = bar_features(resample_bars(part, 15 * MIN), CFG.n_bars)
    # The bar each row may see: the last 15 m bar with close_ts <= the row's close_ts.
    idx = np.searchsorted(m15["close_ts"].to_numpy(), table["close_ts"].to_numpy(), "right") - 1
    assert (
        m15["close_ts"].to_numpy()[idx[idx >= 0]] <= table["close_ts"].to_numpy()[idx >= 0]
    ).all()
    expect = np.where(idx >= 0, m15["clv"].to_numpy()[np.maximum(idx, 0)], np.nan)
    np.testing.assert_array_equal(table["m15_clv"].to_numpy(), expect)
    # The row at 00:14 close (before the 15 m bar closes) still sees the previous bar.
    t = table["close_ts"].to_numpy()
    opening = (t % (15 * MIN)) != 0
    assert (m15["close_ts"].to_numpy()[idx[opening & (idx >= 0)]] < t[opening & (idx >= 0)]).all()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 2**31))
def test_changing_later_bars_changes_nothing_before(
    perp_1m: pl.DataFrame, cut: int, seed: int
) -> None:
    part = perp_1m.slice(20_000, 3200)
    t = int(part["close_ts"][cut])
    rng = np.random.default_rng(seed)
    later = pl.col("close_ts") > t
    k = rng.uniform(0.9, 1.1, part.height)
    changed = part.with_columns(
        pl.when(later).then(pl.col(c) * pl.Series(k)).otherwise(pl.col(c)).alias(c)
        for c in ("open", "high", "low", "close", "volume", "turnover")
    )
    a, b = mtfa_table(part, CFG), mtfa_table(changed, CFG)
    early = pl.col("close_ts") <= t
    # 1e-12, not 0: a parallel reduction may round differently from run to run; a leak from the
    # changed future (prices moved by up to 10 %) would be far larger.
    assert_frames_match(a.filter(early), b.filter(early), atol=1e-12)
    assert not a.filter(~early).equals(b.filter(~early)) or cut == part.height - 1


CFG_VMD = replace(CFG, vmd=VmdFeatureConfig(window=32, stride=4, k=3))


def test_vmd_of_log_close_batch_equals_stream(perp_1m: pl.DataFrame) -> None:
    part = perp_1m.slice(7_000, 2 * 1440 + 23)
    batch = mtfa_table(part, CFG_VMD)
    assert_frames_match(batch, stream_table(part, CFG_VMD))
    assert batch.columns == CFG_VMD.columns()
    for lab in ("m1", "m15", "h1"):  # every timeframe is decomposed once warm
        assert batch[f"{lab}_vmd_freq0"].is_not_nan().sum() > 0
    direct = vmd_features(np.log(part["close"].to_numpy()), 32, 4, 3)
    np.testing.assert_array_equal(batch["m1_vmd_mode1"].to_numpy(), direct["vmd_mode1"])


def test_vmd_bar_features_change_nothing_before_a_cut(perp_1m: pl.DataFrame) -> None:
    part = perp_1m.slice(20_000, 1600)
    a = mtfa_table(part, CFG_VMD)
    for cut, seed in ((400, 3), (1100, 4)):
        t = int(part["close_ts"][cut])
        k = pl.Series(np.random.default_rng(seed).uniform(0.99, 1.01, part.height))
        later = pl.col("close_ts") > t
        changed = part.with_columns(
            pl.when(later).then(pl.col(c) * k).otherwise(pl.col(c)).alias(c)
            for c in ("open", "high", "low", "close")
        )
        b = mtfa_table(changed, CFG_VMD)
        early = pl.col("close_ts") <= t
        assert_frames_match(a.filter(early), b.filter(early), atol=0.0)
        assert not a.filter(~early)["m1_vmd_mode0"].equals(b.filter(~early)["m1_vmd_mode0"])
