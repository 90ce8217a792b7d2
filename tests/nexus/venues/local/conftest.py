"""A local exchange per test on an ephemeral port, replaying real recordings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from localx import LEGACY, Signed, config

from nexusforge.nexus.venues.local import LocalExchange


@pytest.fixture
def exchange(shared_data: Path) -> Iterator[LocalExchange]:
    """XRPUSDT replay, paused after its first snapshot (the book is valid)."""
    with LocalExchange(config(shared_data)) as ex:
        ex.step_market(1)
        yield ex


@pytest.fixture
def legacy_exchange(shared_data: Path) -> Iterator[LocalExchange]:
    """The 2021 capture of eight symbols with trades, paused at its start."""
    with LocalExchange(config(shared_data, LEGACY)) as ex:
        yield ex


@pytest.fixture
def client(exchange: LocalExchange) -> Iterator[Signed]:
    signed = Signed(exchange.rest_url)
    yield signed
    signed.close()


@pytest.fixture
def legacy_client(legacy_exchange: LocalExchange) -> Iterator[Signed]:
    signed = Signed(legacy_exchange.rest_url)
    yield signed
    signed.close()
