"""Event features (see `features.py` for the definitions) over a whole history, in polars.

Equal to `FeatureStream` fed the same events: the same event clock (`local_ts`, the receive
time; book before trade on ties, each source in input order), the same running sums and window
starts found by `search_sorted` on `local_ts`. The merge places each row at its final position
by counting the other source's earlier rows (`search_sorted`), so no sort is needed. Must never
look ahead: the trade-price max/min per window come from the Rust kernel `trailing_max_min`
(rows up to the row itself, so a timestamp tie never sees a later row).
"""

from __future__ import annotations

from typing import Final, Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge._core import trailing_max_min
from nexusforge.errors import DataError
from nexusforge.market.features import (
    CLOCK_COLUMNS,
    KIND_BOOK,
    KIND_TRADE,
    NS_PER_S,
    FeatureConfig,
    check_clock,
    window_label,
)
from nexusforge.market.vmd import vmd_features

ENGINE: Final = "in-memory"  # whole-column plan; see batch_mtfa.ENGINE


class TopLevelsLike(Protocol):
    """Top of book after each book message (the shape of `book.replay_top_levels`)."""

    # Read-only members, so frozen dataclasses such as `book.TopLevels` satisfy it.
    @property
    def exch_ts(self) -> npt.NDArray[np.int64]: ...
    @property
    def local_ts(self) -> npt.NDArray[np.int64]: ...
    @property
    def valid(self) -> npt.NDArray[np.bool_]: ...
    @property
    def bid_px(self) -> npt.NDArray[np.float64]: ...
    @property
    def bid_qty(self) -> npt.NDArray[np.float64]: ...
    @property
    def ask_px(self) -> npt.NDArray[np.float64]: ...
    @property
    def ask_qty(self) -> npt.NDArray[np.float64]: ...


def _level_sum(qty: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """Σ of the first n levels per row, NaN as 0, added left to right like the streaming side."""
    q = np.nan_to_num(qty[:, : min(n, qty.shape[1])], nan=0.0)
    acc = np.zeros(len(q))
    for k in range(q.shape[1]):
        acc = acc + q[:, k]
    return acc


def book_frame(top: TopLevelsLike, cfg: FeatureConfig) -> pl.DataFrame:
    """One row per book message: clock, level 1 (NaN when invalid) and the imbalance sums."""
    n = len(top.exch_ts)
    width = top.bid_px.shape[1] if top.bid_px.ndim == 2 else 0
    if top.bid_px.shape != (n, width) or top.ask_qty.shape != (n, width):
        raise DataError(f"top levels must be {n}×depth arrays, got {top.bid_px.shape}")
    if width == 0:
        raise DataError("top levels have no depth")
    ok = top.valid.astype(bool) & ~np.isnan(top.bid_px[:, 0]) & ~np.isnan(top.ask_px[:, 0])
    check_clock("book", top.local_ts)
    cols: dict[str, npt.NDArray[np.generic]] = {
        "local_ts": top.local_ts.astype(np.int64),
        "exch_ts": top.exch_ts.astype(np.int64),
        "ok": ok,
    }
    for name, arr in (("bid", top.bid_px), ("bidq", top.bid_qty)):
        cols[name] = np.where(ok, arr[:, 0], np.nan)
    for name, arr in (("ask", top.ask_px), ("askq", top.ask_qty)):
        cols[name] = np.where(ok, arr[:, 0], np.nan)
    for d in cfg.depths:
        cols[f"sb_{d}"] = _level_sum(top.bid_qty, d)
        cols[f"sa_{d}"] = _level_sum(top.ask_qty, d)
    return pl.DataFrame(cols)


def _book_features(book: pl.DataFrame, cfg: FeatureConfig) -> pl.DataFrame:
    """Instantaneous book features, the OFI term e_n and the squared log-mid return per message."""
    bid, ask, bq, aq = pl.col("bid"), pl.col("ask"), pl.col("bidq"), pl.col("askq")
    ok, pok = pl.col("ok"), pl.col("ok").shift(1, fill_value=False)
    pb, pa, pbq, paq = bid.shift(1), ask.shift(1), bq.shift(1), aq.shift(1)
    # Written as the streaming side adds it: ((0 + t1) − t2 − t3) + t4.
    e = (
        (
            (pl.lit(0.0) + pl.when(bid >= pb).then(bq).otherwise(0.0))
            - pl.when(bid <= pb).then(pbq).otherwise(0.0)
        )
        - pl.when(ask <= pa).then(aq).otherwise(0.0)
    ) + pl.when(ask >= pa).then(paq).otherwise(0.0)
    mid = (bid + ask) / 2.0
    r = mid.log() - mid.shift(1).log()
    nan = pl.lit(float("nan"))
    exprs = []
    for d in cfg.depths:
        sb, sa = pl.col(f"sb_{d}"), pl.col(f"sa_{d}")
        exprs.append(pl.when(ok & (sb + sa > 0)).then((sb - sa) / (sb + sa)).otherwise(nan))
        exprs[-1] = exprs[-1].alias(f"imb_{d}")
    micro = (bid * aq + ask * bq) / (bq + aq)
    exprs += [
        pl.when(ok).then((ask - bid) / cfg.tick_size).otherwise(nan).alias("spread_ticks"),
        pl.when(ok & (bq + aq > 0))
        .then((micro - mid) / mid * 1e4)
        .otherwise(nan)
        .alias("microprice_dev_bps"),
        pl.when(ok & pok).then(e).otherwise(0.0).alias("e_ofi"),
        pl.when(ok & pok).then(r * r).otherwise(0.0).alias("r2"),
    ]
    out = book.select("local_ts", "exch_ts", *exprs)
    if cfg.vmd is None:
        return out
    # polars `log` is libm's, bit-equal to the streaming side's `math.log`.
    log_mid = book.select(pl.when(ok).then(mid.log()).otherwise(nan).alias("x"))["x"].to_numpy()
    v = cfg.vmd
    feats = vmd_features(log_mid, v.window, v.stride, v.k, v.alpha, v.tol, v.max_iter)
    return out.with_columns(pl.DataFrame(feats))


def merge_events(book: pl.DataFrame, trades: pl.DataFrame) -> pl.DataFrame:
    """Book rows and trade rows on one clock: by local_ts, book before trade, input order kept.

    Both inputs must be non-decreasing in `local_ts`; row i of the book lands at i + (trades
    stamped before it), trade j at j + (book rows stamped at or before it).
    """
    if "local_ts" not in trades.columns:
        raise DataError("trades need a local_ts column (the receive clock; exch_ts if none)")
    t = trades.select(
        pl.col("local_ts").cast(pl.Int64),
        pl.col("exch_ts").cast(pl.Int64),
        pl.col("price").cast(pl.Float64),
        pl.col("qty").cast(pl.Float64),
        pl.col("side").cast(pl.Int8),
    )
    tb, tt = book["local_ts"].to_numpy(), t["local_ts"].to_numpy()
    check_clock("book", tb)
    check_clock("trades", tt)
    pos = np.concatenate(
        [
            np.arange(len(tb)) + np.searchsorted(tt, tb, side="left"),
            np.arange(len(tt)) + np.searchsorted(tb, tt, side="right"),
        ]
    )
    order = np.empty(len(pos), dtype=np.int64)
    order[pos] = np.arange(len(pos))
    b = book.with_columns(kind=pl.lit(KIND_BOOK, pl.Int8))
    ev = pl.concat([b, t.with_columns(kind=pl.lit(KIND_TRADE, pl.Int8))], how="diagonal")
    return ev[order]


def _check_trades(trades: pl.DataFrame) -> None:
    bad = trades.filter(
        ~pl.col("side").is_in([1, -1]) | ~(pl.col("qty") >= 0) | ~pl.col("price").is_finite()
    )
    if bad.height:
        raise DataError(f"{bad.height} bad trades, first at exch_ts={bad['exch_ts'][0]}")


CUM_SOURCES: Final = {"c_e": "e_ofi", "c_sv": "sv", "c_v": "v", "c_r2": "r2", "c_n": "nt"}


def _window_sums(w: int) -> list[pl.Expr]:
    """`{c}_{w}` = cum[i] − cum_before[first index with ts > t − w], each running sum once."""
    lab = window_label(w)
    start = pl.col(f"start_{lab}")
    return [(pl.col(c) - pl.col(f"{c}_b").gather(start)).alias(f"{c}_{lab}") for c in CUM_SOURCES]


def _window_exprs(w: int) -> list[pl.Expr]:
    """The windowed features from the window sums and the trade-price extremes."""
    lab = window_label(w)

    def win(c: str) -> pl.Expr:
        return pl.col(f"{c}_{lab}")

    vol, n = win("c_v"), win("c_n")
    hi, lo = pl.col(f"hi_{lab}"), pl.col(f"lo_{lab}")
    last = pl.col("last_px")
    nan = pl.lit(float("nan"))
    clv = ((last - lo) - (hi - last)) / (hi - lo)
    return [
        win("c_e").alias(f"ofi_{lab}"),
        pl.when(vol > 0).then(win("c_sv") / vol).otherwise(nan).alias(f"trade_pressure_{lab}"),
        pl.when((n > 0) & (hi != lo)).then(clv).otherwise(nan).alias(f"clv_{lab}"),
        win("c_r2").clip(lower_bound=0.0).sqrt().alias(f"rv_{lab}"),
        (n.cast(pl.Float64) / (w / NS_PER_S)).alias(f"trade_intensity_{lab}"),
    ]


def event_features(top: TopLevelsLike, trades: pl.DataFrame, cfg: FeatureConfig) -> pl.DataFrame:
    """All event features, one row per event: `CLOCK_COLUMNS` (local_ts, exch_ts, kind: 0 book,
    1 trade), then `cfg.feature_names()`. `trades` needs local_ts, exch_ts, price, qty, side."""
    _check_trades(trades)
    ev = merge_events(_book_features(book_frame(top, cfg), cfg), trades)
    ev = ev.hstack(_price_extremes(ev, cfg))
    return _features_plan(ev.lazy(), cfg).collect(engine=ENGINE)


def _price_extremes(ev: pl.DataFrame, cfg: FeatureConfig) -> pl.DataFrame:
    """`hi_{w}` / `lo_{w}`: trade-price max/min over (t − w, t], rows up to each row only."""
    ts = ev["local_ts"].to_numpy()
    # Book rows have no price: null becomes NaN, which the kernel skips.
    price = ev["price"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    cols: dict[str, npt.NDArray[np.float64]] = {}
    for w in cfg.windows_ns:
        lab = window_label(w)
        cols[f"hi_{lab}"], cols[f"lo_{lab}"] = trailing_max_min(ts, price, w)
    return pl.DataFrame(cols)


def _features_plan(ev: pl.LazyFrame, cfg: FeatureConfig) -> pl.LazyFrame:
    """Windowed features over merged events with their `hi_{w}`/`lo_{w}` (one lazy query)."""
    book_cols = [f"imb_{d}" for d in cfg.depths] + ["spread_ticks", "microprice_dev_bps"]
    book_cols += cfg.vmd.names() if cfg.vmd is not None else []
    is_trade = pl.col("kind") == KIND_TRADE
    ev = ev.with_columns(
        *[pl.col(c).forward_fill().fill_null(float("nan")) for c in book_cols],
        sv=pl.when(is_trade).then(pl.col("side").cast(pl.Float64) * pl.col("qty")).otherwise(0.0),
        v=pl.when(is_trade).then(pl.col("qty")).otherwise(0.0),
        nt=is_trade.cast(pl.Int64),
        last_px=pl.col("price").forward_fill(),
    )
    src = {"e_ofi": pl.col("e_ofi").fill_null(0.0), "r2": pl.col("r2").fill_null(0.0)}
    ev = ev.with_columns([src.get(s, pl.col(s)).cum_sum().alias(c) for c, s in CUM_SOURCES.items()])
    # The sum before each row is the previous running sum itself (c − inc is not bit-equal).
    # Window starts and sums are materialised once: inlined, polars re-runs each search per use.
    ts = pl.col("local_ts")
    ev = ev.with_columns(
        *[pl.col(c).shift(1, fill_value=0).alias(f"{c}_b") for c in CUM_SOURCES],
        *[
            ts.search_sorted(ts - w, side="right").alias(f"start_{window_label(w)}")
            for w in cfg.windows_ns
        ],
    )
    ev = ev.with_columns(*[e for w in cfg.windows_ns for e in _window_sums(w)])
    windows = [e for w in cfg.windows_ns for e in _window_exprs(w)]
    return ev.select(*CLOCK_COLUMNS, *book_cols, *windows).select(
        *CLOCK_COLUMNS, *cfg.feature_names()
    )
