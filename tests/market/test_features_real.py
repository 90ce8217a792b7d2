"""Event features on real recordings: the polars batch over `replay_top_levels` equals a streaming
run that applies each message to an `OrderBook` and feeds `FeatureStream`; nothing looks ahead."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nexusforge.data.ingest import ingest
from nexusforge.data.store import Store
from nexusforge.market.batch import event_features
from nexusforge.market.book import OrderBook, replay_top_levels
from nexusforge.market.events import FLAG_BEGIN, BookLevelRows
from nexusforge.market.features import CLOCK_COLUMNS, FeatureConfig, FeatureStream
from nexusforge.market.vmd import VmdFeatureConfig, vmd_features
from nexusforge.testing import assert_frames_match

S = 1_000_000_000
BINANCE = "bybit/market/binance_usdm_BTCUSDT_20240808_2355utc.gz"
OB500 = "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
CFG_BTC = FeatureConfig(tick_size=0.1, windows_ns=(S // 10, S, 10 * S))
CFG_XRP = FeatureConfig(tick_size=0.0001, windows_ns=(S // 10, S))


@dataclass(frozen=True)
class Recording:
    """Level rows and trades of one real recording, as the store gives them back."""

    rows: BookLevelRows
    trades: pl.DataFrame


def _load(shared: Path, rel: str, tmp: Path) -> Recording:
    store = Store(tmp)
    report = ingest(shared / rel, store)
    assert not report.failed and report.sources
    book = store.scan("book_events").collect()
    empty = pl.DataFrame(schema={"exch_ts": pl.Int64, "local_ts": pl.Int64, "price": pl.Float64,
                                 "qty": pl.Float64, "side": pl.Int8})  # fmt: skip
    trades = store.scan("trades").collect() if "trades" in store.tables() else empty
    return Recording(BookLevelRows.from_frame(book), trades)


@pytest.fixture(scope="module")
def binance(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return _load(shared_data, BINANCE, tmp_path_factory.mktemp("binance"))


@pytest.fixture(scope="module")
def ob500(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Recording:
    return _load(shared_data, OB500, tmp_path_factory.mktemp("ob500"))


def batch_table(rec: Recording, cfg: FeatureConfig) -> pl.DataFrame:
    top = replay_top_levels(rec.rows, cfg.tick_size, cfg.max_depth)
    return event_features(top, rec.trades, cfg)


def _messages(rows: BookLevelRows) -> Iterator[BookLevelRows]:
    """One BookLevelRows per venue message, in arrival order."""
    starts = np.flatnonzero(rows.flags & FLAG_BEGIN)
    ends = np.append(starts[1:], len(rows))
    cols = {c: getattr(rows, c) for c in rows.__dataclass_fields__}
    for a, b in zip(starts, ends, strict=True):
        yield BookLevelRows(**{c: v[a:b] for c, v in cols.items()})


def _padded(levels: np.ndarray, depth: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.full((depth, 2), np.nan)
    out[: len(levels)] = levels
    return out[:, 0], out[:, 1]


def stream_table(rec: Recording, cfg: FeatureConfig) -> pl.DataFrame:
    """Apply one message at a time to a live book and feed trades as they were received."""
    book, fs = OrderBook(cfg.tick_size), FeatureStream(cfg)
    t = rec.trades
    t_local, t_exch = t["local_ts"].to_list(), t["exch_ts"].to_list()
    t_px, t_q, t_side = t["price"].to_list(), t["qty"].to_list(), t["side"].to_list()
    out: list[dict[str, float]] = []
    j = 0

    def trades_until(ts: int | None) -> None:
        nonlocal j
        while j < len(t_local) and (ts is None or t_local[j] < ts):
            row = fs.on_trade(t_local[j], t_px[j], t_q[j], t_side[j])
            out.append(row | {"local_ts": t_local[j], "exch_ts": t_exch[j], "kind": 1})
            j += 1

    for msg in _messages(rec.rows):
        ts = int(msg.local_ts[0])
        trades_until(ts)  # book first on a tie: only trades received strictly earlier
        book.apply(msg)
        bids, asks = book.depth(cfg.max_depth)
        (bp, bq), (ap, aq) = _padded(bids, cfg.max_depth), _padded(asks, cfg.max_depth)
        row = fs.on_book(ts, book.is_valid, bp, bq, ap, aq)
        out.append(row | {"local_ts": ts, "exch_ts": int(msg.exch_ts[0]), "kind": 0})
    trades_until(None)
    schema = {"local_ts": pl.Int64, "exch_ts": pl.Int64, "kind": pl.Int8}
    schema |= dict.fromkeys(cfg.feature_names(), pl.Float64)
    return pl.DataFrame(out, schema=schema).select(*CLOCK_COLUMNS, *cfg.feature_names())


def test_binance_batch_equals_streaming_book(binance: Recording) -> None:
    batch = batch_table(binance, CFG_BTC)
    assert batch.height == int(np.count_nonzero(binance.rows.flags & FLAG_BEGIN)) + len(
        binance.trades
    )
    assert_frames_match(batch, stream_table(binance, CFG_BTC))


def test_ob500_batch_equals_streaming_book(ob500: Recording) -> None:
    batch = batch_table(ob500, CFG_XRP)
    assert batch.height == 50
    assert_frames_match(batch, stream_table(ob500, CFG_XRP))
    assert batch["imb_10"].is_not_nan().all()  # every ob500 message leaves a valid book


def test_binance_book_rows_are_mostly_valid(binance: Recording) -> None:
    """The parity above exercises the book features: nearly every message leaves a valid book."""
    book = batch_table(binance, CFG_BTC).filter(pl.col("kind") == 0)
    share = book["spread_ticks"].is_not_nan().mean()
    assert isinstance(share, float) and share > 0.99
    assert (book["spread_ticks"].drop_nans() > 1.0 - 1e-6).all()  # never crossed or locked


def _perturb_after(rec: Recording, t: int, seed: int) -> Recording:
    """Change every level row and trade received after t: level sizes (a third of the updates
    become deletions, which moves the top of book), trade prices, sizes and sides."""
    rng = np.random.default_rng(seed)
    late = rec.rows.local_ts > t
    scaled = rec.rows.qty * rng.uniform(0.5, 2.0, late.size)
    scaled[rng.random(late.size) < 0.3] = 0.0
    qty = np.where(late, scaled, rec.rows.qty)
    rows = replace(rec.rows, qty=qty)
    after = pl.col("local_ts") > t
    n = rec.trades.height
    trades = rec.trades.with_columns(
        pl.when(after).then(pl.col("price") + pl.Series(rng.integers(-5, 6, n) * 0.1))
        .otherwise(pl.col("price")),
        pl.when(after).then(pl.col("qty") * 3.0).otherwise(pl.col("qty")),
        pl.when(after).then(-pl.col("side")).otherwise(pl.col("side")),
    )  # fmt: skip
    return Recording(rows, trades)


@settings(max_examples=4, deadline=None)
@given(st.floats(0.02, 0.98), st.integers(0, 2**31))
def test_binance_future_changes_nothing_before(binance: Recording, frac: float, seed: int) -> None:
    ts = np.concatenate([binance.rows.local_ts, binance.trades["local_ts"].to_numpy()])
    t = int(np.quantile(ts, frac))
    a = batch_table(binance, CFG_BTC)
    b = batch_table(_perturb_after(binance, t, seed), CFG_BTC)
    early = pl.col("local_ts") <= t
    assert_frames_match(a.filter(early), b.filter(early), atol=0.0)
    assert not a.filter(~early).equals(b.filter(~early))


def test_ob500_future_changes_nothing_before(ob500: Recording) -> None:
    t = int(np.quantile(ob500.rows.local_ts, 0.5))
    a = batch_table(ob500, CFG_XRP)
    b = batch_table(_perturb_after(ob500, t, 7), CFG_XRP)
    early = pl.col("local_ts") <= t
    assert_frames_match(a.filter(early), b.filter(early), atol=0.0)
    assert not a.filter(~early).equals(b.filter(~early))


def test_windowed_sums_match_exact_sums(binance: Recording) -> None:
    """Cum-sum differences vs exact (fsum) window sums on the real trades: error ≲ ε·|S|·√m."""
    table = batch_table(binance, CFG_BTC).filter(pl.col("kind") == 1)
    ts, sv, v = (binance.trades[c].to_numpy() for c in ("local_ts", "side", "qty"))
    w = 10 * S
    got = table["trade_pressure_10s"].to_numpy()
    worst = 0.0
    for i in np.random.default_rng(0).choice(len(ts), 400, replace=False):
        a = int(np.searchsorted(ts, ts[i] - w, side="right"))
        k = i + 1  # trades received at the same instant but later come after row i
        exact = math.fsum(sv[a:k] * v[a:k]) / math.fsum(v[a:k])
        worst = max(worst, abs(got[i] - exact))
    assert worst < 1e-12


CFG_VMD = replace(CFG_BTC, vmd=VmdFeatureConfig(window=64, stride=8, k=3))


def test_binance_vmd_of_log_mid_batch_equals_stream(binance: Recording) -> None:
    batch = batch_table(binance, CFG_VMD)
    assert_frames_match(batch, stream_table(binance, CFG_VMD))
    book = batch.filter(pl.col("kind") == 0)
    assert book["vmd_mode0"].is_not_nan().sum() > 6000  # the real mid, decomposed
    # Equal to decomposing log mid of the book messages directly, carried onto trade rows.
    top = replay_top_levels(binance.rows, 0.1, 10)
    ok = top.valid & ~np.isnan(top.bid_px[:, 0]) & ~np.isnan(top.ask_px[:, 0])
    mid = pl.Series(np.where(ok, (top.bid_px[:, 0] + top.ask_px[:, 0]) / 2.0, np.nan)).log()
    direct = vmd_features(mid.to_numpy(), 64, 8, 3)
    np.testing.assert_array_equal(book["vmd_freq2"].to_numpy(), direct["vmd_freq2"])


def test_binance_vmd_future_changes_nothing_before(binance: Recording) -> None:
    ts = binance.rows.local_ts
    a = batch_table(binance, CFG_VMD)
    for frac, seed in ((0.3, 1), (0.8, 2)):
        t = int(np.quantile(ts, frac))
        b = batch_table(_perturb_after(binance, t, seed), CFG_VMD)
        early = pl.col("local_ts") <= t
        assert_frames_match(a.filter(early), b.filter(early), atol=0.0)
        assert not a.filter(~early)["vmd_mode2"].equals(b.filter(~early)["vmd_mode2"])
