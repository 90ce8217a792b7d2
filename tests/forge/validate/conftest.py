"""Fixtures for the validation gate: tiny Forge run folders built from synthetic tables (a
planted driver, or none) and from the real Bybit 5m BTCUSDT 2025 candles."""

from __future__ import annotations

from pathlib import Path

import pytest
from validate_fixtures import planted_table, real_config, tiny_config

from nexusforge.data.ingest import ingest
from nexusforge.forge.evolve.run import parse_config, run_forge, run_on_table

FILES = ("bybit_linear_BTCUSDT_5m_2025.csv.gz", "bybit_linear_BTCUSDT_funding_8h_2025.csv.gz")


@pytest.fixture(scope="session")
def planted_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Forge run on data where `driver` really moves the price."""
    out = tmp_path_factory.mktemp("planted-run")
    run_on_table(tiny_config(), planted_table(), out)
    return out


@pytest.fixture(scope="session")
def noise_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Forge run mined from pure noise (a loose PCMCI alpha lets spurious parents in)."""
    out = tmp_path_factory.mktemp("noise-run")
    run_on_table(tiny_config(alpha=0.3), planted_table(beta=0.0), out)
    return out


@pytest.fixture(scope="session")
def validate_store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the real Bybit 5m BTCUSDT 2025 candles and funding."""
    store = tmp_path_factory.mktemp("validate-store")
    for name in FILES:
        assert not ingest(shared_data / "history" / name, store).failed
    return store


@pytest.fixture(scope="session")
def real_run(validate_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny Forge run on the last 12,000 real Bybit 5m BTCUSDT bars of 2025."""
    out = tmp_path_factory.mktemp("real-run") / "run"
    run_forge(parse_config(real_config()), validate_store, out)
    return out
