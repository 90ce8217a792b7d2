"""Benchmark: polars batch features vs idiomatic pandas twins, on real data, same numbers.

Part 1 (bars): ingests `shared/data/history` into a temporary store, builds for each candle
series its base-timeframe features plus 15 m, 1 h and 4 h features aligned backward
(`mtfa_plan`, all series in one `collect_all`), and the same with pandas (resample, rolling,
merge_asof).
Part 2 (events): the microstructure features (`event_features`: 3 depths, 1 s/10 s/60 s windows)
over the real Binance USD-M capture (book replayed with `replay_top_levels`, trades), TILED
`--tiles` times end to end in time (default 100: about 2.8 M event rows), against a pandas twin
(`_events_pandas.py`: concat + stable sort, ffill, time-based rolling).
Both parts check polars == pandas (max abs diff, NaN in the same places) before timing counts.
Last line: `RESULT feature_rows_per_s=<n> ratio_vs_pandas=<r>` over both parts together
(rows of both / polars seconds of both; pandas seconds / polars seconds).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl

from _events_pandas import event_features as pd_event_features
from nexusforge.data.ingest import ingest
from nexusforge.data.store import Store
from nexusforge.market.batch import bars_from_candles, event_features, mtfa_plan, mtfa_table
from nexusforge.market.book import TopLevels, replay_top_levels
from nexusforge.market.events import BookLevelRows
from nexusforge.market.features import FeatureConfig
from nexusforge.market.mtfa import BAR_FEATURES, MtfaConfig, tf_label
from nexusforge.testing._asserts import max_abs_diff

S = 1_000_000_000
MIN = 60_000_000_000
HIGHER = (15 * MIN, 60 * MIN, 240 * MIN)
N_BARS = 20
REPEATS = 3


def load_series(history: Path) -> list[tuple[str, int, pl.DataFrame]]:
    """(source, base interval ns, bars) per candle series in the history folder."""
    store = Store(Path(tempfile.mkdtemp(prefix="nf-bench-")))
    ingest(history, store)
    candles = store.scan("bars").collect()
    out = []
    for (venue, symbol, interval_s), part in candles.group_by(
        ["venue", "symbol", "interval_s"], maintain_order=True
    ):
        width = int(interval_s) * 1_000_000_000  # type: ignore[call-overload]
        bars = bars_from_candles(part.unique("open_ts", keep="last"), width)
        out.append((f"{venue}:{symbol}:{interval_s}s", width, bars))
    return out


def polars_run(series: list[tuple[str, int, pl.DataFrame]]) -> list[pl.DataFrame]:
    """All series as lazy queries collected together, so polars runs them side by side.

    The in-memory engine: these plans are whole-column scans (cum_sum, shift, join_asof), which
    polars 2.1's streaming engine runs about 6× slower here.
    """
    plans = [mtfa_plan(bars.lazy(), config(width)) for _, width, bars in series]
    return pl.collect_all(plans, engine="in-memory")


def config(width: int) -> MtfaConfig:
    return MtfaConfig(
        base_ns=width, timeframes_ns=tuple(t for t in HIGHER if t > width), n_bars=N_BARS
    )


def pd_features(df: pd.DataFrame, n: int) -> pd.DataFrame:
    """The bar features of `mtfa.py`, written the usual pandas way (rolling windows)."""
    c, h, lo, v = df["close"], df["high"], df["low"], df["volume"]
    ret = np.log(c / c.shift(1))
    std = v.rolling(n).std()
    vwap = (df["turnover"] / v).where(v > 0)
    return pd.DataFrame(
        {
            "close_ts": df["close_ts"],
            "ret": ret,
            "clv": (((c - lo) - (h - c)) / (h - lo)).where(h != lo),
            "rv": np.sqrt((ret**2).rolling(n).sum()),
            "vol_z": ((v - v.rolling(n).mean()) / std).where(std > 0),
            "range_close": (h - lo) / c,
            "vwap_dev_bps": (c - vwap) / vwap * 1e4,
        }
    )


def pd_resample(df: pd.DataFrame, every_ns: int) -> pd.DataFrame:
    idx = pd.to_datetime(df["open_ts"], unit="ns")
    agg = (
        df.set_index(idx)
        .resample(pd.Timedelta(every_ns, "ns"), label="left", closed="left")
        .agg({"open": "first", "high": "max", "low": "min", "close": "last",
              "volume": "sum", "turnover": "sum", "open_ts": "count"})
    )  # fmt: skip
    agg = agg[agg["open_ts"] > 0]
    agg["close_ts"] = agg.index.asi8 + every_ns
    return agg.reset_index(drop=True)


def pandas_mtfa(df: pd.DataFrame, width: int) -> pd.DataFrame:
    out = pd_features(df, N_BARS).add_prefix(f"{tf_label(width)}_")
    out = out.rename(columns={f"{tf_label(width)}_close_ts": "close_ts"})
    for tf in (t for t in HIGHER if t > width):
        htf = pd_features(pd_resample(df, tf), N_BARS)
        htf = htf.rename(columns={f: f"{tf_label(tf)}_{f}" for f in BAR_FEATURES})
        out = pd.merge_asof(out, htf, on="close_ts", direction="backward")
    return out


def pandas_run(frames: list[tuple[int, pd.DataFrame]]) -> list[pd.DataFrame]:
    return [pandas_mtfa(df, width) for width, df in frames]


EVENT_CFG = FeatureConfig(tick_size=0.1, windows_ns=(S, 10 * S, 60 * S))
CAPTURE = "bybit/market/binance_usdm_BTCUSDT_20240808_2355utc.gz"


def load_capture(path: Path, tiles: int) -> tuple[TopLevels, pl.DataFrame]:
    """Book tops and trades of the Binance capture, repeated `tiles` times end to end in time."""
    store = Store(Path(tempfile.mkdtemp(prefix="nf-bench-ev-")))
    ingest(path, store)
    rows = BookLevelRows.from_frame(store.scan("book_events").collect())
    top = replay_top_levels(rows, EVENT_CFG.tick_size, EVENT_CFG.max_depth)
    trades = store.scan("trades").select("local_ts", "exch_ts", "price", "qty", "side").collect()
    start = min(int(top.local_ts[0]), int(trades["local_ts"][0]))
    end = max(int(top.local_ts[-1]), int(trades["local_ts"][-1]), int(top.exch_ts.max()))
    step = end - start + 120 * S  # a 2 min pause between copies
    shift = np.repeat(np.arange(tiles, dtype=np.int64) * step, len(top))
    levels = {
        f: np.tile(getattr(top, f), (tiles, 1)) for f in ("bid_px", "bid_qty", "ask_px", "ask_qty")
    }
    tiled = TopLevels(
        exch_ts=np.tile(top.exch_ts, tiles) + shift, local_ts=np.tile(top.local_ts, tiles) + shift,
        update_id=np.tile(top.update_id, tiles), valid=np.tile(top.valid, tiles), **levels,
    )  # fmt: skip
    copies = [
        trades.with_columns(pl.col("local_ts") + k * step, pl.col("exch_ts") + k * step)
        for k in range(tiles)
    ]
    return tiled, pl.concat(copies)


def events_part(capture: Path, tiles: int) -> tuple[int, float, float]:
    """Rows, polars seconds, pandas seconds for the event features; checks equal numbers."""
    top, trades = load_capture(capture, tiles)
    trades_pd = trades.to_pandas()
    t_pl, got = best_of(event_features, top, trades, EVENT_CFG)
    t_pd, ref = best_of(pd_event_features, top, trades_pd, EVENT_CFG)
    diff = max_abs_diff(got, pl.from_pandas(ref[got.columns]))
    nan_same = all(
        np.array_equal(np.isnan(got[c].to_numpy()), np.isnan(ref[c].to_numpy().astype(float)))
        for c in got.columns[3:]
    )
    assert nan_same and diff < 1e-6, (diff, nan_same)
    print(f"events: {tiles} copies of the Binance capture: {got.height} rows x {got.width} cols, "
          f"max_abs_diff={diff:.3g} nan_same={nan_same}")  # fmt: skip
    print(f"events: polars {t_pl:.3f} s  pandas {t_pd:.3f} s  ratio {t_pd / t_pl:.2f}  "
          f"({got.height / t_pl:.0f} rows/s)")  # fmt: skip
    return got.height, t_pl, t_pd


def best_of(fn, *args):  # type: ignore[no-untyped-def]
    best, result = float("inf"), None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    default = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "history"
    ap.add_argument("--history", type=Path, default=Path(os.environ.get("NF_HISTORY", default)))
    ap.add_argument("--capture", type=Path, default=default.parent / CAPTURE)
    ap.add_argument("--tiles", type=int, default=100)
    args = ap.parse_args()
    print(f"machine: {platform.platform()} {platform.machine()} cpus={os.cpu_count()}")
    print(f"python {sys.version.split()[0]} polars {pl.__version__} pandas {pd.__version__} "
          f"numpy {np.__version__}; polars threads {pl.thread_pool_size()}")  # fmt: skip
    series = load_series(args.history)
    base_rows = sum(b.height for _, _, b in series)
    print(f"data: {args.history}: {len(series)} candle series, {base_rows} base bars")
    frames = [(w, b.to_pandas()) for _, w, b in series]
    t_pl, pl_out = best_of(polars_run, series)
    for (_, width, bars), got in zip(series, pl_out, strict=True):  # the checked public entry
        assert got.equals(mtfa_table(bars, config(width)))
    t_pd, pd_out = best_of(pandas_run, frames)
    worst = 0.0
    for (name, _, _), a, b in zip(series, pl_out, pd_out, strict=True):
        diff = max_abs_diff(a, pl.from_pandas(b[a.columns]))
        nan_same = all(
            np.array_equal(np.isnan(a[c].to_numpy()), np.isnan(b[c].to_numpy()))
            for c in a.columns if c != "close_ts"
        )  # fmt: skip
        print(
            f"  {name}: rows={a.height} cols={a.width} max_abs_diff={diff:.3g} nan_same={nan_same}"
        )
        worst = max(worst, diff)
    rows = sum(a.height for a in pl_out)
    print(f"bars: polars {t_pl:.3f} s  pandas {t_pd:.3f} s  ratio {t_pd / t_pl:.2f}  "
          f"(best of {REPEATS}); max abs diff {worst:.3g}")  # fmt: skip
    ev_rows, ev_pl, ev_pd = events_part(args.capture, args.tiles)
    rows, t_pl, t_pd = rows + ev_rows, t_pl + ev_pl, t_pd + ev_pd
    print(f"RESULT feature_rows_per_s={rows / t_pl:.0f} ratio_vs_pandas={t_pd / t_pl:.2f}")


if __name__ == "__main__":
    main()
