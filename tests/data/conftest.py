"""Stores ingested once per test session from the real recordings in ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexusforge.data.ingest import IngestReport, ingest
from nexusforge.data.store import Store


@pytest.fixture(scope="session")
def history_store(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Store, IngestReport]:
    root = tmp_path_factory.mktemp("history_store")
    report = ingest(shared_data / "history", root)
    return Store(root), report


@pytest.fixture(scope="session")
def bybit_store(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Store, IngestReport]:
    root = tmp_path_factory.mktemp("bybit_store")
    report = ingest(shared_data / "bybit", root)
    return Store(root), report
