"""Sim backend: the HF-ABM matching engine (`nexusforge.forge.sim`) as the exchange's market."""

from __future__ import annotations

from nexusforge.errors import ConfigError
from nexusforge.nexus.venues.local.config import ExchangeConfig
from nexusforge.nexus.venues.local.market.base import MarketBackend


def build_sim_market(config: ExchangeConfig) -> MarketBackend:
    """The simulator market for `config`; a clear error while the engine is not available."""
    raise ConfigError(
        "mode 'sim' needs the HF-ABM engine (nexusforge.forge.sim), which has not landed yet; "
        "use mode 'replay'"
    )
