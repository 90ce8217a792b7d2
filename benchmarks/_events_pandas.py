"""pandas twin of the event features (`market/features.py`), written the usual pandas way:
merge_asof of the book onto trades, concat + stable sort onto the receive clock, time-based
`rolling` windows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from nexusforge.market.features import FeatureConfig, window_label


def book_table(top, cfg: FeatureConfig) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """One row per book message with its instantaneous features, e_n and (Δ log mid)²."""
    ok = top.valid & ~np.isnan(top.bid_px[:, 0]) & ~np.isnan(top.ask_px[:, 0])
    b = pd.DataFrame({"local_ts": top.local_ts, "exch_ts": top.exch_ts})
    bid = pd.Series(np.where(ok, top.bid_px[:, 0], np.nan))
    ask = pd.Series(np.where(ok, top.ask_px[:, 0], np.nan))
    bq = pd.Series(np.where(ok, top.bid_qty[:, 0], np.nan))
    aq = pd.Series(np.where(ok, top.ask_qty[:, 0], np.nan))
    for d in cfg.depths:
        sb = np.nansum(top.bid_qty[:, :d], axis=1)
        sa = np.nansum(top.ask_qty[:, :d], axis=1)
        b[f"imb_{d}"] = np.where(
            ok & (sb + sa > 0), (sb - sa) / np.where(sb + sa > 0, sb + sa, 1), np.nan
        )
    mid = (bid + ask) / 2
    b["spread_ticks"] = (ask - bid) / cfg.tick_size
    micro = (bid * aq + ask * bq) / (bq + aq)
    b["microprice_dev_bps"] = ((micro - mid) / mid * 1e4).where(bq + aq > 0)
    pb, pa, pbq, paq = bid.shift(), ask.shift(), bq.shift(), aq.shift()
    e = (bq.where(bid >= pb, 0.0) - pbq.where(bid <= pb, 0.0)
         - aq.where(ask <= pa, 0.0) + paq.where(ask >= pa, 0.0))  # fmt: skip
    both = pd.Series(ok) & pd.Series(ok).shift(fill_value=False)
    b["e"] = e.where(both, 0.0)
    b["r2"] = (np.log(mid).diff() ** 2).where(both, 0.0)
    b["kind"] = 0
    return b


def event_features(top, trades: pd.DataFrame, cfg: FeatureConfig) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """All event features, the same columns as `batch.event_features`."""
    b = book_table(top, cfg)
    book_cols = [f"imb_{d}" for d in cfg.depths] + ["spread_ticks", "microprice_dev_bps"]
    t = trades[["local_ts", "exch_ts", "price", "qty", "side"]].assign(kind=1)
    # Each trade carries the book as of its receipt (the last message at or before it).
    t = pd.merge_asof(t, b[["local_ts", *book_cols]], on="local_ts", direction="backward")
    ev = pd.concat([b, t], ignore_index=True).sort_values(["local_ts", "kind"], kind="stable")
    ev[["e", "r2"]] = ev[["e", "r2"]].fillna(0.0)
    is_trade = ev["kind"] == 1
    ev["sv"] = (ev["side"] * ev["qty"]).where(is_trade, 0.0)
    ev["v"] = ev["qty"].where(is_trade, 0.0)
    ev["n"] = is_trade.astype(float)
    last = ev["price"].ffill()
    idx = pd.to_datetime(ev["local_ts"].to_numpy(), unit="ns")
    x = ev[["e", "sv", "v", "r2", "n", "price"]].set_index(idx)
    out = ev[["local_ts", "exch_ts", "kind", *book_cols]].reset_index(drop=True)
    last = last.reset_index(drop=True)
    for w in cfg.windows_ns:
        lab = window_label(w)
        roll = x.rolling(pd.Timedelta(w, "ns"))
        s = roll[["e", "sv", "v", "r2", "n"]].sum().reset_index(drop=True)
        hi = roll["price"].max().reset_index(drop=True)
        lo = roll["price"].min().reset_index(drop=True)
        # rolling sums add and subtract: an emptied window can leave ±1e-17, so test the count.
        n = s["n"].round()
        out[f"ofi_{lab}"] = s["e"]
        out[f"trade_pressure_{lab}"] = (s["sv"] / s["v"]).where((n > 0) & (s["v"] > 0))
        clv = ((last - lo) - (hi - last)) / (hi - lo)
        out[f"clv_{lab}"] = clv.where((n > 0) & (hi != lo))
        out[f"rv_{lab}"] = np.sqrt(s["r2"].clip(lower=0.0))
        out[f"trade_intensity_{lab}"] = n / (w / 1e9)
    return out
