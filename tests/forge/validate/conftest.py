"""Fixtures for the validation gate: synthetic tables with a planted driver (or none), tiny
Forge run folders built from them, and a tiny run on the real Bybit 5m BTCUSDT 2025 candles."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nexusforge.data.ingest import ingest
from nexusforge.forge.evolve.run import parse_config, run_forge, run_on_table
from nexusforge.forge.evolve.table import ResearchTable, from_bars

BARS_PER_YEAR = 365 * 24 * 12.0
FILES = ("bybit_linear_BTCUSDT_5m_2025.csv.gz", "bybit_linear_BTCUSDT_funding_8h_2025.csv.gz")
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


def tiny_config(alpha: float = 0.01) -> object:
    return parse_config(tomllib.loads(TINY.format(alpha=alpha)))


@pytest.fixture(scope="session")
def planted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Forge run on data where `driver` really moves the price."""
    out = tmp_path_factory.mktemp("planted-run")
    run_on_table(tiny_config(), planted_table(), out)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="session")
def noise_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Forge run mined from pure noise (a loose PCMCI alpha lets spurious parents in)."""
    out = tmp_path_factory.mktemp("noise-run")
    run_on_table(tiny_config(alpha=0.3), planted_table(beta=0.0), out)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="session")
def real_run(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Forge run on the last 12,000 real Bybit 5m BTCUSDT bars of 2025."""
    store = tmp_path_factory.mktemp("validate-store")
    for name in FILES:
        assert not ingest(shared_data / "history" / name, store).failed
    cfg = tomllib.loads(TINY.format(alpha=0.01))
    cfg["seed"] = 5
    cfg["data"] = {"max_rows": 12000}
    out = tmp_path_factory.mktemp("real-run") / "run"
    run_forge(parse_config(cfg), store, out)
    return out
