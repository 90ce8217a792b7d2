"""Bybit v5 request authentication: HMAC-SHA256 over the exact bytes the client sent.

REST signs `timestamp + key + recv_window + payload`, where the payload is the raw query string
(GET, never re-encoded or re-sorted) or the raw body (POST, never re-serialised). The websocket
auth op signs `"GET/realtime" + expires`. Checks run in Bybit's order: key (10003), time window
(10002), signature (10004). Secrets are compared in constant time and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from nexusforge.nexus.venues.local.config import ExchangeConfig, Secret
from nexusforge.nexus.venues.local.rejects import BAD_KEY, BAD_SIGN, PARAMS, TIMESTAMP, Reject

DEFAULT_RECV_WINDOW = 5000
FUTURE_TOLERANCE_MS = 1000
MAX_RECV_WINDOW = 600_000


def sign(secret: Secret, text: str) -> str:
    """Lower-case hex HMAC-SHA256 of `text` under `secret` (what clients send)."""
    return hmac.new(secret.reveal().encode(), text.encode(), hashlib.sha256).hexdigest()


def verify_rest(
    config: ExchangeConfig, headers: Mapping[str, str], payload: str, now_ms: int
) -> str:
    """The API key of a correctly signed request in its time window, else `Reject`."""
    key = headers.get("x-bapi-api-key", "")
    secret = config.secret_for(key) if key else None
    if secret is None:
        raise Reject(BAD_KEY, "API key is invalid.")
    timestamp = headers.get("x-bapi-timestamp", "")
    recv_window = headers.get("x-bapi-recv-window", str(DEFAULT_RECV_WINDOW))
    check_window(timestamp, recv_window, now_ms)
    given = headers.get("x-bapi-sign", "")
    expected = sign(secret, f"{timestamp}{key}{recv_window}{payload}")
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise Reject(BAD_SIGN, "error sign! origin_string[hidden]")
    return key


def check_window(timestamp: object, recv_window: object, now_ms: int) -> None:
    """`now - recv_window <= timestamp < now + 1000`, else 10002 (numbers or digit strings)."""
    ts = _int(timestamp, "timestamp")
    window = _int(recv_window, "recv_window")
    if not 0 < window <= MAX_RECV_WINDOW:
        raise Reject(PARAMS, f"recv_window must be in (0, {MAX_RECV_WINDOW}]")
    if not now_ms - window <= ts < now_ms + FUTURE_TOLERANCE_MS:
        raise Reject(
            TIMESTAMP,
            f"invalid request, please check your server timestamp or recv_window param. "
            f"req_timestamp[{ts}],server_timestamp[{now_ms}],recv_window[{window}]",
        )


def verify_ws_auth(config: ExchangeConfig, args: object, now_ms: int) -> str:
    """The API key of a websocket `auth` op `[key, expires, signature]`, else `Reject`."""
    if not (isinstance(args, list) and len(args) == 3):
        raise Reject(PARAMS, "auth args must be [api_key, expires, signature]")
    key, expires, given = args
    secret = config.secret_for(key) if isinstance(key, str) else None
    if secret is None:
        raise Reject(BAD_KEY, "Invalid apikey")
    expires_ms = _int(expires, "expires")
    if expires_ms <= now_ms:
        raise Reject(TIMESTAMP, "Params Error: auth expired")
    expected = sign(secret, f"GET/realtime{expires_ms}")
    if not (isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())):
        raise Reject(BAD_SIGN, "Invalid sign")
    return str(key)


def _int(raw: object, name: str) -> int:
    if isinstance(raw, bool):
        raise Reject(TIMESTAMP if name == "timestamp" else PARAMS, f"{name} must be an integer")
    if isinstance(raw, int):
        return raw
    if isinstance(raw, str) and raw.isdigit() and len(raw) <= 19:
        return int(raw)
    raise Reject(TIMESTAMP if name == "timestamp" else PARAMS, f"{name} must be an integer")
