"""Helpers for the local exchange tests: a replay config and an independent signed client.

The client signs with its own HMAC code (not the server's), so auth tests check the server
against an independent implementation of Bybit's rule.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from nexusforge.nexus.venues.local import ApiKey, ExchangeConfig, Secret

KEY, SECRET = "testkey", "testsecret"
XRP = "bybit/market/bybit_XRPUSDT_ob500_2024-12-01_head50.data.zip"
LEGACY = "bybit/market/bybit_legacy_v2_linear_ws_20210417.txt"


def config(shared_data: Path, *files: str, **settings: Any) -> ExchangeConfig:
    """A paused replay of `files` (default: the XRPUSDT ob500 recording) with the test key."""
    settings.setdefault("start_paused", True)
    return ExchangeConfig(
        keys=(ApiKey(KEY, Secret(SECRET)),),
        replay_files=tuple(shared_data / f for f in (files or (XRP,))),
        **settings,
    )


class Signed:
    """A minimal signed Bybit v5 REST client (GET query / POST raw body, HMAC-SHA256 hex)."""

    def __init__(self, base: str, key: str = KEY, secret: str = SECRET) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)
        self.key, self.secret = key, secret
        self.last: httpx.Response | None = None

    def headers(self, payload: str, ts: int | None = None, window: str = "5000") -> dict[str, str]:
        stamp = str(ts if ts is not None else time.time_ns() // 1_000_000)
        text = f"{stamp}{self.key}{window}{payload}"
        sign = hmac.new(self.secret.encode(), text.encode(), hashlib.sha256).hexdigest()
        return {
            "X-BAPI-API-KEY": self.key,
            "X-BAPI-TIMESTAMP": stamp,
            "X-BAPI-RECV-WINDOW": window,
            "X-BAPI-SIGN": sign,
        }

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        query = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
        url = f"{path}?{query}" if query else path
        self.last = self.http.get(url, headers=self.headers(query))
        return dict(self.last.json())

    def post(self, path: str, **params: Any) -> dict[str, Any]:
        body = json.dumps(params)
        headers = self.headers(body) | {"Content-Type": "application/json"}
        self.last = self.http.post(path, content=body, headers=headers)
        return dict(self.last.json())

    def public(self, path: str, **params: Any) -> dict[str, Any]:
        self.last = self.http.get(path, params=params)
        return dict(self.last.json())

    def order(self, **params: Any) -> dict[str, Any]:
        return self.post("/v5/order/create", category="linear", **params)

    def close(self) -> None:
        self.http.close()


def ok(reply: dict[str, Any]) -> dict[str, Any]:
    """The result of a successful reply (fails the test with the reply otherwise)."""
    assert reply["retCode"] == 0, reply
    result = reply["result"]
    assert isinstance(result, dict)
    return result


def ws_auth_args(expires: int, secret: str = SECRET, key: str = KEY) -> list[object]:
    """`[key, expires, signature]` of the websocket auth op."""
    sign = hmac.new(secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256)
    return [key, expires, sign.hexdigest()]


class Ws:
    """A blocking websocket client speaking JSON frames."""

    def __init__(self, url: str) -> None:
        self._opened = connect(url, open_timeout=10)
        self.conn: ClientConnection = self._opened.__enter__()

    def send(self, message: dict[str, Any]) -> None:
        self.conn.send(json.dumps(message))

    def recv(self, timeout: float = 5.0) -> dict[str, Any]:
        return dict(json.loads(self.conn.recv(timeout=timeout)))

    def until(self, topic: str, timeout: float = 5.0) -> dict[str, Any]:
        """The next frame of `topic`, skipping others."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(0.01, deadline - time.monotonic()))
            if frame.get("topic") == topic:
                return frame

    def quiet(self, timeout: float = 0.3) -> list[dict[str, Any]]:
        """Every frame that arrives within `timeout` seconds."""
        frames = []
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                frames.append(self.recv(left))
            except TimeoutError:
                break
        return frames

    def auth(self, expires_in_ms: int = 5000) -> dict[str, Any]:
        self.send({"op": "auth", "args": ws_auth_args(time.time_ns() // 1_000_000 + expires_in_ms)})
        return self.recv()

    def close(self) -> None:
        self._opened.__exit__(None, None, None)
