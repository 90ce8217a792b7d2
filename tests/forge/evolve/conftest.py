"""Fixtures for Forge evolution tests: a store ingested from the real Bybit 5m BTCUSDT 2025
candles and funding, and a synthetic table with a planted causal driver and decoys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from nexusforge.data.ingest import ingest
from nexusforge.forge.evolve.table import ResearchTable, from_bars

FILES = ("bybit_linear_BTCUSDT_5m_2025.csv.gz", "bybit_linear_BTCUSDT_funding_8h_2025.csv.gz")
BARS_PER_YEAR = 365 * 24 * 12.0


@pytest.fixture(scope="session")
def real_store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("forge-store")
    for name in FILES:
        report = ingest(shared_data / "history" / name, out)
        assert not report.failed
    return out


def planted_table(seed: int = 0, rows: int = 6000, beta: float = 0.0012) -> ResearchTable:
    """Returns driven by `driver` two bars earlier (strategy lag 1); decoys correlate with
    the driver but do not move the price; noise columns are independent."""
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
        "decoy_b": 0.7 * d + 0.7 * rng.standard_normal(rows),
        "noise_a": rng.standard_normal(rows),
        "noise_b": np.cumsum(rng.standard_normal(rows)) * 0.01,
    })  # fmt: skip
    ts = np.arange(rows, dtype=np.int64) * 300_000_000_000
    return from_bars(ts, close, feats, bars_per_year=BARS_PER_YEAR)


@pytest.fixture(scope="session")
def planted() -> ResearchTable:
    return planted_table()
