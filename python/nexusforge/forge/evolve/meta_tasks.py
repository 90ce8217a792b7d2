"""Causal windows for the MAML head (NumPy only): meta-training task starts, the walk-forward
use of a head (adapt on the last `support` realised rows, trade the next `query` rows, repeat)
and its net-of-cost figures."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from nexusforge.forge.evolve.meta_head import Array, MetaHead, Window, adapt_np, apply_np


def task_starts(rows: int, support: int, query: int) -> npt.NDArray[np.int64]:
    """Every start s of a task: support rows [s, s + support), query [s + support, + query)."""
    last = rows - support - query
    if last < 0:
        raise ValueError(f"{rows} rows are fewer than support {support} + query {query}")
    return np.arange(last + 1, dtype=np.int64)


def walk_forward(head: MetaHead, data: Window, start: int, query: int, adapt: bool = True) -> Array:
    """Positions for rows >= start (0 before): every `query` rows the head is adapted afresh
    from its meta weights on the `head.support` rows just before (all realised), then applied."""
    if adapt and start < head.support:
        raise ValueError(f"walk-forward starts at row {start}, before a full support window")
    n = data.signal.shape[0]
    pos = np.zeros(n)
    for t in range(start, n, query):
        h = adapt_np(head, data.rows(slice(t - head.support, t))) if adapt else head
        block = data.rows(slice(t, min(t + query, n)))
        pos[t : t + query] = apply_np(h, block.signal, block.features)
    return pos


def net_returns(pos: Array, returns: Array, fee: float) -> Array:
    """Per-bar net return p_t * r_t - fee * |p_t - p_{t-1}| (flat before the first row)."""
    r = np.nan_to_num(np.asarray(returns, np.float64))
    return np.asarray(pos * r - fee * np.abs(np.diff(pos, prepend=0.0)))


@dataclass(frozen=True)
class Figures:
    """Out-of-sample figures of one way of positioning, over the same rows."""

    mean_bps: float  # mean net return per bar, basis points
    sharpe: float  # annualised from per-bar net returns (NaN when flat)
    total_return: float  # sum of per-bar net log-returns
    turnover: float  # mean |position change| per bar
    exposure: float  # mean |position|

    def as_dict(self) -> dict[str, float | None]:
        """Plain JSON numbers (None for NaN)."""
        return {k: (v if math.isfinite(v) else None) for k, v in vars(self).items()}


def figures(pos: Array, returns: Array, fee: float, bars_per_year: float) -> Figures:
    """Net-of-cost figures of positions against realised next-bar returns."""
    net = net_returns(pos, returns, fee)
    sd = float(np.std(net))
    sharpe = float(np.mean(net)) / sd * math.sqrt(bars_per_year) if sd > 0 else math.nan
    turn = float(np.mean(np.abs(np.diff(pos, prepend=0.0))))
    return Figures(float(np.mean(net)) * 1e4, sharpe, float(np.sum(net)), turn,
                   float(np.mean(np.abs(pos))))  # fmt: skip
