"""Event features (see `features.py` for the definitions) over a whole history, in polars.

Equal to `FeatureStream` fed the same events: the same merge order, the same running sums and
window starts found by `search_sorted` on `exch_ts`. Must never look ahead: rolling max/min use an
open window strictly before t plus a running max within the tie group up to the row itself.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import numpy.typing as npt
import polars as pl

from nexusforge.errors import DataError
from nexusforge.market.features import (
    KIND_BOOK,
    KIND_TRADE,
    NS_PER_S,
    FeatureConfig,
    window_label,
)


class TopLevelsLike(Protocol):
    """Top of book after each book message (the shape of `book.replay_top_levels`)."""

    exch_ts: npt.NDArray[np.int64]
    valid: npt.NDArray[np.bool_]
    bid_px: npt.NDArray[np.float64]
    bid_qty: npt.NDArray[np.float64]
    ask_px: npt.NDArray[np.float64]
    ask_qty: npt.NDArray[np.float64]


def _level_sum(qty: npt.NDArray[np.float64], n: int) -> npt.NDArray[np.float64]:
    """Σ of the first n levels per row, NaN as 0, added left to right like the streaming side."""
    q = np.nan_to_num(qty[:, : min(n, qty.shape[1])], nan=0.0)
    acc = np.zeros(len(q))
    for k in range(q.shape[1]):
        acc = acc + q[:, k]
    return acc


def book_frame(top: TopLevelsLike, cfg: FeatureConfig) -> pl.DataFrame:
    """One row per book message: exch_ts, level 1 (NaN when invalid) and the imbalance sums."""
    n = len(top.exch_ts)
    width = top.bid_px.shape[1] if top.bid_px.ndim == 2 else 0
    if top.bid_px.shape != (n, width) or top.ask_qty.shape != (n, width):
        raise DataError(f"top levels must be {n}×depth arrays, got {top.bid_px.shape}")
    if width == 0:
        raise DataError("top levels have no depth")
    ok = top.valid.astype(bool) & ~np.isnan(top.bid_px[:, 0]) & ~np.isnan(top.ask_px[:, 0])
    cols: dict[str, npt.NDArray[np.generic]] = {
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
    return book.select("exch_ts", *exprs)


def merge_events(book: pl.DataFrame, trades: pl.DataFrame) -> pl.DataFrame:
    """Book rows and trade rows on one clock: by exch_ts, book before trade, input order kept."""
    b = book.with_columns(kind=pl.lit(KIND_BOOK, pl.Int8), src=pl.int_range(pl.len()))
    t = trades.select(
        pl.col("exch_ts").cast(pl.Int64),
        pl.col("price").cast(pl.Float64),
        pl.col("qty").cast(pl.Float64),
        pl.col("side").cast(pl.Int8),
    ).with_columns(kind=pl.lit(KIND_TRADE, pl.Int8), src=pl.int_range(pl.len()))
    ev = pl.concat([b, t], how="diagonal")
    return ev.sort(["exch_ts", "kind", "src"], maintain_order=True).drop("src")


def _check_trades(trades: pl.DataFrame) -> None:
    bad = trades.filter(
        ~pl.col("side").is_in([1, -1]) | ~(pl.col("qty") >= 0) | ~pl.col("price").is_finite()
    )
    if bad.height:
        raise DataError(f"{bad.height} bad trades, first at exch_ts={bad['exch_ts'][0]}")


def _window_exprs(cfg: FeatureConfig, w: int) -> list[pl.Expr]:
    """Windowed features as cum[i] − cum_before[first index with ts > t − w]."""
    lab = window_label(w)
    start = pl.col("exch_ts").search_sorted(pl.col("exch_ts") - w, side="right")

    def win(c: str) -> pl.Expr:
        return pl.col(c) - pl.col(f"{c}_b").gather(start)

    vol, n = win("c_v"), win("c_n")
    hi = pl.max_horizontal(pl.col(f"hi_{lab}"), pl.col("grp_hi"))
    lo = pl.min_horizontal(pl.col(f"lo_{lab}"), pl.col("grp_lo"))
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
    """All event features, one row per event: exch_ts, kind (0 book, 1 trade), then features."""
    _check_trades(trades)
    ev = merge_events(_book_features(book_frame(top, cfg), cfg), trades)
    ts = ev["exch_ts"]
    if not ts.is_sorted():
        raise DataError("exch_ts is not sorted after merging")  # pragma: no cover - sort above
    book_cols = [f"imb_{d}" for d in cfg.depths] + ["spread_ticks", "microprice_dev_bps"]
    is_trade = pl.col("kind") == KIND_TRADE
    ev = ev.with_columns(
        *[pl.col(c).forward_fill() for c in book_cols],
        pl.col("e_ofi").fill_null(0.0),
        pl.col("r2").fill_null(0.0),
        sv=pl.when(is_trade).then(pl.col("side").cast(pl.Float64) * pl.col("qty")).otherwise(0.0),
        v=pl.when(is_trade).then(pl.col("qty")).otherwise(0.0),
        nt=is_trade.cast(pl.Int64),
        last_px=pl.col("price").forward_fill(),
    ).with_columns(
        *[pl.col(c).fill_null(float("nan")) for c in book_cols],
        grp_hi=pl.col("price").cum_max().forward_fill().over("exch_ts"),
        grp_lo=pl.col("price").cum_min().forward_fill().over("exch_ts"),
    )
    cum = {"c_e": "e_ofi", "c_sv": "sv", "c_v": "v", "c_r2": "r2", "c_n": "nt"}
    ev = ev.with_columns([pl.col(s).cum_sum().alias(c) for c, s in cum.items()])
    # The sum before each row is the previous running sum itself (c − inc is not bit-equal).
    ev = ev.with_columns(
        [pl.col(c).shift(1, fill_value=0).alias(f"{c}_b") for c in cum],
    )
    ev = ev.with_columns(
        *[
            pl.col("price").rolling_max_by("exch_ts", f"{w}i", closed="none").alias(f"hi_{lab}")
            for w, lab in ((w, window_label(w)) for w in cfg.windows_ns)
        ],
        *[
            pl.col("price").rolling_min_by("exch_ts", f"{w}i", closed="none").alias(f"lo_{lab}")
            for w, lab in ((w, window_label(w)) for w in cfg.windows_ns)
        ],
    )
    out = ev.select(
        "exch_ts", "kind", *book_cols, *[e for w in cfg.windows_ns for e in _window_exprs(cfg, w)]
    )
    return out.select("exch_ts", "kind", *cfg.feature_names())
