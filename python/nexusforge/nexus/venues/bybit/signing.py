"""Request signing exactly as Bybit v5 verifies it, and the server-time offset it depends on.

REST: `hex(HMAC_SHA256(secret, timestamp + api_key + recv_window + payload))` where the payload is
the query string as sent (GET) or the raw body bytes as sent (POST). Private WS auth signs
`"GET/realtime" + expires`. We sign the exact bytes we put on the wire, never a re-serialisation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

import msgspec

from nexusforge.nexus.venues.bybit.clock import Clock
from nexusforge.nexus.venues.bybit.keys import Credentials

# A value in a GET query is sent as-is (Bybit verifies the literal query), so it must not
# contain anything that would change the query's structure. Bybit cursors arrive already
# percent-encoded and are sent back verbatim.
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_.,:%+\-]*$")


def rest_signature(
    credentials: Credentials, timestamp: str, recv_window: str, payload: bytes
) -> str:
    """The X-BAPI-SIGN value for one request (payload: the query string or the body bytes)."""
    head = f"{timestamp}{credentials.api_key}{recv_window}".encode()
    return credentials.sign(head + payload)


def ws_auth_args(credentials: Credentials, expires_ms: int) -> list[str | int]:
    """The `args` of a private WS `op: auth` request expiring at `expires_ms`."""
    return [credentials.api_key, expires_ms, credentials.sign(f"GET/realtime{expires_ms}".encode())]


def _wire_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def query_string(params: Mapping[str, object]) -> str:
    """Sorted `k=v&...` without URL-encoding (as pybit sends); None values are dropped."""
    parts = []
    for key in sorted(params):
        value = params[key]
        if value is None:
            continue
        text = _wire_value(value)
        if not _SAFE_VALUE.match(text) or not _SAFE_VALUE.match(key):
            raise ValueError(f"query parameter {key}={text!r} has characters Bybit cannot sign")
        parts.append(f"{key}={text}")
    return "&".join(parts)


def body_bytes(params: Mapping[str, object]) -> bytes:
    """The JSON body of a POST (None values dropped, Decimals and numbers as strings)."""
    clean = {k: _body_value(v) for k, v in params.items() if v is not None}
    return msgspec.json.encode(clean)


def _body_value(value: object) -> object:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("pass prices and quantities as Decimal or str, never float")
    return value


class TimeSync:
    """Server time as `local wall time + offset`, the offset measured from /v5/market/time."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.offset_ms = 0
        self.synced = False
        self.resyncs = 0

    def now_ms(self) -> int:
        """Our best estimate of the server's clock, in ms."""
        return self._clock.wall_ms() + self.offset_ms

    def update(self, server_ms: int, sent_local_ms: int, received_local_ms: int) -> int:
        """Record a server-time reading taken between two local readings; returns the offset."""
        midpoint = (sent_local_ms + received_local_ms) // 2
        self.offset_ms = server_ms - midpoint
        if self.synced:
            self.resyncs += 1
        self.synced = True
        return self.offset_ms
