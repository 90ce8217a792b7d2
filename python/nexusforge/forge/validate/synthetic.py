"""Synthetic research tables with a known truth, for calibrating the gate: the return is
driven by `driver` (an AR(1) feature) two bars earlier, or by nothing when `beta = 0`."""

from __future__ import annotations

import numpy as np
import polars as pl

from nexusforge.forge.evolve.table import ResearchTable, from_bars

BARS_PER_YEAR = 365 * 24 * 12.0  # 5-minute bars


def planted_table(seed: int = 0, rows: int = 6000, beta: float = 0.0004) -> ResearchTable:
    """Returns = `beta` * driver[t-2] + iid noise (sd 0.002); `decoy_a` correlates with the
    driver without moving the price; `noise_a` (iid) and `noise_b` (a random walk) are
    independent of everything."""
    rng = np.random.default_rng(seed)
    d = np.zeros(rows)
    for t in range(1, rows):
        d[t] = 0.95 * d[t - 1] + np.sqrt(1 - 0.95**2) * rng.standard_normal()
    ret = np.zeros(rows)
    ret[2:] = beta * d[:-2] + 0.002 * rng.standard_normal(rows - 2)
    close = 100.0 * np.exp(np.cumsum(ret))
    feats = pl.DataFrame({
        "driver": d,
        "decoy_a": d + 0.6 * rng.standard_normal(rows),
        "noise_a": rng.standard_normal(rows),
        "noise_b": np.cumsum(rng.standard_normal(rows)) * 0.01,
    })  # fmt: skip
    ts = np.arange(rows, dtype=np.int64) * 300_000_000_000
    return from_bars(ts, close, feats, bars_per_year=BARS_PER_YEAR)
