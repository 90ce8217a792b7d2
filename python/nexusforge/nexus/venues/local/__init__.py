"""A Bybit-v5-compatible exchange on 127.0.0.1, backed by replayed recordings or the simulator.

    async with LocalExchange(ExchangeConfig(keys=(ApiKey("k", Secret("s")),))) as ex:
        ...  # point a Bybit client at ex.rest_url / ex.ws_public_url / ex.ws_private_url

Unmodified Bybit clients (pybit 5.x) work against it; see `docs` in the module docstrings of
`server.py` (lifecycle, faults) and `market/replay.py` (fill rules).
"""

from nexusforge.nexus.venues.local.config import (
    ApiKey,
    ExchangeConfig,
    InstrumentOverride,
    RateLimits,
    Secret,
    default_replay_files,
)
from nexusforge.nexus.venues.local.market.base import PxLevel
from nexusforge.nexus.venues.local.rejects import Reject
from nexusforge.nexus.venues.local.server import LocalExchange, build_market

__all__ = [
    "ApiKey",
    "ExchangeConfig",
    "InstrumentOverride",
    "LocalExchange",
    "PxLevel",
    "RateLimits",
    "Reject",
    "Secret",
    "build_market",
    "default_replay_files",
]
