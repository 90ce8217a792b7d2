"""An authenticated Bybit socket (private stream, order entry): the auth gate both share.

Rule: on a fresh socket the auth request is the only thing written until the venue confirms it.
`wait_ready()` blocks callers until then; the gate closes again the moment the socket is gone.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import msgspec
from websockets.asyncio.client import ClientConnection

from nexusforge.nexus.venues.bybit.clock import SystemClock
from nexusforge.nexus.venues.bybit.config import BybitConfig
from nexusforge.nexus.venues.bybit.errors import BybitError
from nexusforge.nexus.venues.bybit.keys import Credentials
from nexusforge.nexus.venues.bybit.rest import BybitRestClient
from nexusforge.nexus.venues.bybit.signing import ws_auth_args
from nexusforge.nexus.venues.bybit.ws_connection import (
    ENVELOPE,
    BybitWsConnection,
    BybitWsEnvelope,
    SessionEnded,
    StreamStatus,
    is_pong,
)

log = logging.getLogger(__name__)

E = TypeVar("E")


class AuthenticatedWs(BybitWsConnection[E]):
    """A reconnecting socket that authenticates first and gates every send on it."""

    def __init__(
        self,
        config: BybitConfig,
        url: str,
        credentials: Credentials,
        on_event: Callable[[E | StreamStatus], Awaitable[None] | None],
        *,
        rest: BybitRestClient | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(config, url, on_event, rng=rng)
        self._credentials = credentials
        self.rest = rest
        self.auth_failures = 0
        self._authed = asyncio.Event()

    @property
    def authenticated(self) -> bool:
        """True while the current socket's authentication is confirmed."""
        return self._authed.is_set() and self._ws is not None

    async def wait_ready(self) -> None:
        """Wait until a socket is authenticated (and, for streams, subscribed)."""
        while not self.authenticated:
            await self._authed.wait()

    def _closed(self) -> None:
        self._authed.clear()  # the next socket must authenticate again

    async def _authenticate(self, ws: ClientConnection) -> None:
        """Send `op: auth` and wait for its reply; raises `SessionEnded` when refused."""
        now = self.rest.time.now_ms() if self.rest is not None else SystemClock().wall_ms()
        expires = now + self.config.auth_expire_ms
        await self._send(ws, {"op": "auth", "args": ws_auth_args(self._credentials, expires)})
        try:
            reply = await asyncio.wait_for(self._auth_reply(ws), self.config.auth_timeout_s)
        except TimeoutError:
            self.auth_failures += 1
            raise SessionEnded("no auth reply") from None
        if reply.success is True or (reply.success is None and reply.retCode == 0):
            return
        self.auth_failures += 1
        why = reply.ret_msg or reply.retMsg or f"retCode {reply.retCode}"
        log.error("bybit ws %s: auth refused: %s", self.url, why)
        await self._emit(StreamStatus("auth_failed", why))
        if self.rest is not None:  # an expired signature is usually clock drift
            try:
                await self.rest.sync_time()
            except BybitError as exc:
                log.warning("bybit ws %s: time re-sync failed: %s", self.url, exc)
        raise SessionEnded(f"auth refused: {why}")

    async def _auth_reply(self, ws: ClientConnection) -> BybitWsEnvelope:
        while True:
            frame = await ws.recv()
            try:
                env = ENVELOPE.decode(frame)
            except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
                self._malformed(f"before auth: {exc}", frame)
                continue
            if env.op == "auth":
                return env
            if not is_pong(env):
                self.stats.unknown += 1
                log.warning(
                    "bybit ws %s: frame before the auth reply ignored: %.200r", self.url, frame
                )
