"""`nexusforge nexus run`: the venue the config names (starting the local exchange in-process
when it is `local`), the engine on it, until stopped or for a bounded duration.

Signals: SIGINT/SIGTERM stop cleanly (positions stay; a restart continues from the journal);
SIGUSR1 trips the kill switch (stop trading, flatten everything). `on_start` receives the engine
once it trades, so a dashboard can read `engine.state`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from nexusforge.errors import ConfigError
from nexusforge.nexus.config import EngineConfig
from nexusforge.nexus.engine import Engine, Summary
from nexusforge.nexus.venues.bybit import BybitConfig, Credentials, load_credentials
from nexusforge.nexus.venues.bybit.keys import install_secret_filter

log = logging.getLogger(__name__)

# The local exchange's documented development key (loopback only, guards nothing real).
LOCAL_KEY, LOCAL_SECRET = "local-dev-key", "local-dev-secret"


def venue_config(cfg: EngineConfig, port: int | None = None) -> BybitConfig:
    """Endpoints of the configured venue (`port`: where the local exchange really listens)."""
    kind = cfg.venue.kind
    if kind == "mainnet":
        return BybitConfig.mainnet()
    if kind == "testnet":
        return BybitConfig.testnet()
    base = BybitConfig.custom(cfg.venue.host, port or cfg.venue.port)
    # Loopback: reconnect fast (the defaults are tuned for the internet).
    return BybitConfig(
        rest_url=base.rest_url,
        public_ws_url=base.public_ws_url,
        private_ws_url=base.private_ws_url,
        trade_ws_url=base.trade_ws_url,
        reconnect_min_s=0.05,
        reconnect_max_s=1.0,
    )


def credentials(cfg: EngineConfig) -> Credentials:
    """The local dev key for `local`; else a 0600 keyfile or the environment (never logged)."""
    if cfg.venue.kind == "local":
        return Credentials(LOCAL_KEY, LOCAL_SECRET)
    keyfile = Path(cfg.venue.keyfile) if cfg.venue.keyfile else None
    return load_credentials(keyfile)


@contextlib.asynccontextmanager
async def local_exchange(cfg: EngineConfig) -> AsyncIterator[int | None]:
    """The in-process local exchange when the venue is `local` (else nothing)."""
    if cfg.venue.kind != "local":
        yield None
        return
    from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, LocalExchange, Secret

    files = tuple(Path(f) for f in cfg.local.replay_files)
    ex_cfg = ExchangeConfig(
        keys=(ApiKey(LOCAL_KEY, Secret(LOCAL_SECRET)),),
        host=cfg.venue.host,
        port=cfg.venue.port,
        speed=cfg.local.speed,
        replay_files=files,
    )
    async with LocalExchange(ex_cfg) as ex:
        log.info("local exchange on %s", ex.rest_url)
        yield ex.port


async def run_nexus(
    cfg: EngineConfig,
    duration_s: float | None = None,
    on_start: Callable[[Engine], None] | None = None,
    *,
    strategy_base: Path | None = None,
) -> Summary:
    """Runs the engine (and the local exchange if configured) until a signal or `duration_s`."""
    if duration_s is not None and duration_s <= 0:
        raise ConfigError(f"--duration must be > 0, got {duration_s}")
    creds = credentials(cfg)
    install_secret_filter(creds)
    if cfg.venue.kind == "local":
        set_aside_journal(cfg.journal)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    async with local_exchange(cfg) as port:
        engine = Engine(cfg, venue_config(cfg, port), creds, strategy_base=strategy_base)
        handlers = _install_signals(loop, stop, engine)
        try:
            if on_start is not None:
                loop.call_soon(on_start, engine)
            return await engine.run(duration_s, stop)
        finally:
            for sig in handlers:
                loop.remove_signal_handler(sig)


def set_aside_journal(path: Path) -> Path | None:
    """Renames an old journal (and its WAL files) to `<name>.<time>.prev`: an in-process local
    exchange starts a fresh account, so the old books describe nothing at this venue."""
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = path.with_name(f"{path.name}.{stamp}.prev")
    for suffix in ("", "-wal", "-shm"):
        old = Path(f"{path}{suffix}")
        if old.exists():
            old.rename(Path(f"{target}{suffix}"))
    log.warning("local venue: a fresh account; the old journal was moved to %s", target)
    return target


def _install_signals(
    loop: asyncio.AbstractEventLoop, stop: asyncio.Event, engine: Engine
) -> list[signal.Signals]:
    installed = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGUSR1, engine.trigger_kill, "signal SIGUSR1")
        installed.append(signal.SIGUSR1)
    return installed


def parse_duration(text: str) -> float:
    """Seconds from `90`, `90s`, `10m`, `2h` (ConfigError otherwise)."""
    scale = {"s": 1.0, "m": 60.0, "h": 3600.0}
    t = text.strip().lower()
    unit = t[-1] if t and t[-1] in scale else "s"
    number = t[:-1] if t and t[-1] in scale else t
    try:
        value = float(number) * scale[unit]
    except ValueError:
        raise ConfigError(f"--duration: {text!r} is not a duration like 90s, 10m or 2h") from None
    if not value > 0 or value == float("inf"):
        raise ConfigError(f"--duration must be > 0, got {text!r}")
    return value
