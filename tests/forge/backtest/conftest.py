"""A store ingested once per session from the real Bybit 5m BTCUSDT 2025 candles and funding."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusforge.data.ingest import ingest

FILES = ("bybit_linear_BTCUSDT_5m_2025.csv.gz", "bybit_linear_BTCUSDT_funding_8h_2025.csv.gz")
STRATEGY = Path(__file__).resolve().parents[3] / "examples" / "strategies" / "mtfa_momentum.json"


@pytest.fixture(scope="session")
def store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("bt-store")
    for name in FILES:
        report = ingest(shared_data / "history" / name, out)
        assert not report.failed
    return out
