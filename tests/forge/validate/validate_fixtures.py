"""Synthetic tables with a planted driver (or none) and the tiny Forge config the
validation tests share."""

from __future__ import annotations

import tomllib

import numpy as np
import polars as pl

from nexusforge.forge.evolve.run import ForgeConfig, parse_config
from nexusforge.forge.evolve.table import ResearchTable, from_bars

BARS_PER_YEAR = 365 * 24 * 12.0
TINY = """
seed = 3
challengers = 2
[causal]
sample_rows = 1500
alpha = {alpha}
[gp]
population = 30
generations = 2
[fitness]
folds = 2
[surrogate]
min_train = 20
[eval]
backend = "inline"
"""


def planted_table(seed: int = 0, rows: int = 6000, beta: float = 0.0004) -> ResearchTable:
    """Returns driven by `driver` two bars earlier (strategy lag 1) plus iid noise; `decoy`
    correlates with the driver without moving the price; `noise_*` are independent.
    `beta = 0` plants nothing."""
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


def tiny_config(alpha: float = 0.01) -> ForgeConfig:
    return parse_config(tomllib.loads(TINY.format(alpha=alpha)))
