"""Where the Bybit client connects and how patient it is: mainnet, testnet or a custom host.

A custom host is how Nexus talks to the local Bybit-compatible exchange (`http://127.0.0.1:PORT`).
This module holds settings only; it never reads secrets (see `keys.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from urllib.parse import urlsplit

from nexusforge.errors import ConfigError


class PositionMode(Enum):
    """Account position mode; it decides the `positionIdx` orders must carry."""

    ONE_WAY = "one_way"
    HEDGE = "hedge"


@dataclass(frozen=True, slots=True)
class BybitConfig:
    """Endpoints and timing of one Bybit account connection (all times in seconds unless `_ms`)."""

    rest_url: str
    public_ws_url: str
    private_ws_url: str
    trade_ws_url: str
    category: str = "linear"
    recv_window_ms: int = 5000
    position_mode: PositionMode = PositionMode.ONE_WAY
    http_timeout_s: float = 10.0
    max_retries: int = 3
    ping_interval_s: float = 20.0
    pong_timeout_s: float = 10.0
    auth_timeout_s: float = 5.0
    auth_expire_ms: int = 5000
    reconnect_min_s: float = 0.5
    reconnect_max_s: float = 30.0
    stale_check_s: float = 1.0
    # Per-topic silence after which the stream counts as stale; keyed by topic prefix.
    # publicTrade is absent: a quiet market legitimately sends no trades.
    data_timeouts_s: dict[str, float] = field(
        default_factory=lambda: {"orderbook": 10.0, "tickers": 10.0, "kline": 90.0}
    )

    def __post_init__(self) -> None:
        for name in ("rest_url", "public_ws_url", "private_ws_url", "trade_ws_url"):
            _check_url(name, getattr(self, name))
        if not 0 < self.recv_window_ms <= 60_000:
            raise ConfigError(f"recv_window_ms must be in (0, 60000], got {self.recv_window_ms}")
        if self.max_retries < 0:
            raise ConfigError(f"max_retries must be >= 0, got {self.max_retries}")
        if not 0 < self.reconnect_min_s <= self.reconnect_max_s:
            raise ConfigError("need 0 < reconnect_min_s <= reconnect_max_s")
        for key in ("http_timeout_s", "ping_interval_s", "pong_timeout_s", "auth_timeout_s"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{key} must be > 0")

    @classmethod
    def mainnet(cls) -> BybitConfig:
        """Bybit production endpoints."""
        return cls(
            rest_url="https://api.bybit.com",
            public_ws_url="wss://stream.bybit.com/v5/public/linear",
            private_ws_url="wss://stream.bybit.com/v5/private",
            trade_ws_url="wss://stream.bybit.com/v5/trade",
        )

    @classmethod
    def testnet(cls) -> BybitConfig:
        """Bybit testnet endpoints."""
        return cls(
            rest_url="https://api-testnet.bybit.com",
            public_ws_url="wss://stream-testnet.bybit.com/v5/public/linear",
            private_ws_url="wss://stream-testnet.bybit.com/v5/private",
            trade_ws_url="wss://stream-testnet.bybit.com/v5/trade",
        )

    @classmethod
    def custom(cls, host: str = "127.0.0.1", port: int = 8931, *, tls: bool = False) -> BybitConfig:
        """One host serving REST and all WS paths, e.g. the local exchange on loopback."""
        if not 0 < port < 65536:
            raise ConfigError(f"port must be in 1..65535, got {port}")
        http, ws = ("https", "wss") if tls else ("http", "ws")
        base = f"{host}:{port}"
        return cls(
            rest_url=f"{http}://{base}",
            public_ws_url=f"{ws}://{base}/v5/public/linear",
            private_ws_url=f"{ws}://{base}/v5/private",
            trade_ws_url=f"{ws}://{base}/v5/trade",
        )

    def data_timeout_for(self, topic: str) -> float | None:
        """Silence allowed on `topic` before it counts as stale (None: never stale)."""
        return self.data_timeouts_s.get(topic.split(".", 1)[0])


def _check_url(name: str, url: str) -> None:
    parts = urlsplit(url)
    allowed = ("http", "https") if name == "rest_url" else ("ws", "wss")
    if parts.scheme not in allowed or not parts.hostname:
        raise ConfigError(f"{name} must be a {'/'.join(allowed)} URL with a host, got {url!r}")
