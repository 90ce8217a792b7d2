"""A pure-numpy backtest loop, written from the engine's rules, to check the Rust core."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from nexusforge.forge.backtest import BacktestConfig

EPS = 1e-9


def _steps(x: float, step: float) -> tuple[float, bool]:
    n = x / step
    r = float(np.round(n))
    return (r, True) if abs(n - r) <= EPS * max(abs(r), 1.0) else (n, False)


def lot(qty: float, step: float) -> float:
    """Round toward zero to the lot grid."""
    if step <= 0:
        return qty
    n, on = _steps(qty, step)
    return n * step if on else math.trunc(n) * step


def tick(price: float, size: float, buy: bool) -> float:
    """Round to the tick grid against the trader."""
    if size <= 0:
        return price
    n, on = _steps(price, size)
    if on:
        return n * size
    return (math.ceil(n) if buy else math.floor(n)) * size


def reference_backtest(
    target: npt.NDArray[np.float64],
    close: npt.NDArray[np.float64],
    funding: npt.NDArray[np.float64],
    cfg: BacktestConfig,
) -> dict[str, npt.NDArray[np.float64]]:
    """Per-bar position, cash, fees, funding and equity, bar by bar in plain Python."""
    n = len(close)
    out = {k: np.zeros(n) for k in ("position", "cash", "fees", "funding", "equity")}
    cash, pos = cfg.initial_capital, 0.0
    latency = cfg.costs.latency_bars if cfg.latency is None else cfg.latency
    for t in range(n):
        mark = float(close[t])
        paid = pos * mark * funding[t] if funding[t] != 0 else 0.0
        cash -= paid
        wanted = target[t - latency] if t >= latency else math.nan
        qty, fee = 0.0, 0.0
        if not math.isnan(wanted):
            cap = min(cfg.max_contracts, cfg.max_notional / mark)
            desired = min(max(wanted * max(cash + pos * mark, 0.0) / mark, -cap), cap)
            qty = lot(desired - pos, cfg.qty_step)
            if abs(qty) < cfg.min_qty * (1 - EPS):
                qty = 0.0
        if qty != 0.0:
            half = cfg.half_spread_bps * 1e-4
            price = tick(mark * (1 + half if qty > 0 else 1 - half), cfg.tick_size, qty > 0)
            fee = abs(qty) * price * cfg.costs.taker_fee
            cash -= qty * price + fee
            pos += qty
        for k, v in (("position", pos), ("cash", cash), ("fees", fee), ("funding", paid)):
            out[k][t] = v
        out["equity"][t] = cash + pos * mark
    return out
