"""Running the local exchange as a process (`nexusforge exchange serve`) until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable
from pathlib import Path

from nexusforge.nexus.venues.local.config import ApiKey, ExchangeConfig, Mode, Secret
from nexusforge.nexus.venues.local.server import LocalExchange

# Keys of a config-less local run: documented, loopback only, not secrets of anything real.
DEV_KEY = ApiKey("local-dev-key", Secret("local-dev-secret"))


def load_config(path: Path | None, mode: Mode, port: int) -> ExchangeConfig:
    """The config file's settings (or defaults with the dev key), with `mode` and `port` set."""
    base = ExchangeConfig.from_toml(path) if path is not None else ExchangeConfig(keys=(DEV_KEY,))
    fields = {name: getattr(base, name) for name in base.__dataclass_fields__}
    return ExchangeConfig(**(fields | {"mode": mode, "port": port}))


async def serve(
    config: ExchangeConfig, duration_s: float | None, announce: Callable[[str], None]
) -> None:
    """Serve until SIGINT/SIGTERM, or for `duration_s` seconds."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    async with LocalExchange(config) as ex:
        announce(f"REST       {ex.rest_url}")
        announce(f"public WS  {ex.ws_public_url}")
        announce(f"private WS {ex.ws_private_url}")
        announce(f"trade WS   {ex.ws_trade_url}")
        announce(f"mode {config.mode}; symbols {', '.join(sorted(ex.venue.instruments))}")
        announce(f"api keys: {', '.join(k.key for k in config.keys) or 'none'}")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration_s)
        announce(f"stopping; served {ex.rest.requests} REST requests")
