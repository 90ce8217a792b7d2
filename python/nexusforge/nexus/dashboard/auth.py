"""Who may act: a bearer token (constant-time compare) and a one-time confirmation code.

The dashboard is read-only unless it was started with a token. An action is two requests: `arm`
(token) returns a short-lived one-time code; `confirm` (token + that code) acts. So a single
stray click or replayed request can never flatten the account. The token travels only in the
`Authorization` header (never a cookie, so another site's page cannot make a browser send it)
and is never logged or echoed.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable

from starlette.requests import Request

from nexusforge.errors import ConfigError

MIN_TOKEN_CHARS = 16
CONFIRM_TTL_S = 30.0


def check_token_strength(token: str) -> str:
    """`token` if it is long enough to be worth requiring, else ConfigError."""
    if len(token) < MIN_TOKEN_CHARS or token.strip() != token:
        raise ConfigError(
            f"dashboard token: at least {MIN_TOKEN_CHARS} characters, no surrounding spaces"
        )
    return token


def bearer_ok(request: Request, token: str) -> bool:
    """Whether the request carries `Authorization: Bearer <token>` (constant time)."""
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class Confirmations:
    """One-time confirmation codes that expire after `ttl_s`."""

    def __init__(
        self, ttl_s: float = CONFIRM_TTL_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._codes: dict[str, float] = {}

    def arm(self) -> str:
        """A fresh code (older expired codes are forgotten)."""
        now = self._clock()
        self._codes = {c: t for c, t in self._codes.items() if t > now}
        code = secrets.token_hex(3).upper()
        self._codes[code] = now + self.ttl_s
        return code

    def confirm(self, code: str) -> bool:
        """True once for a live code; the code is used up either way."""
        expires = self._codes.pop(code.strip().upper(), None)
        return expires is not None and self._clock() < expires
