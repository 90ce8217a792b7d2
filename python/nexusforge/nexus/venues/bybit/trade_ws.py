"""Bybit v5 order-entry WebSocket (`/v5/trade`): create, amend and cancel with low latency.

Orders are written only on a socket whose authentication is confirmed, and never replayed: a
request in flight when its socket dies fails with `BybitTransportError` (ambiguous — the order
may have reached the venue), and the caller resolves it by orderLinkId over REST
(`BybitRestClient.find_order`) rather than sending it again blindly.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import secrets
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from nexusforge.nexus.venues.bybit.clock import SystemClock
from nexusforge.nexus.venues.bybit.config import BybitConfig
from nexusforge.nexus.venues.bybit.errors import (
    BybitAmbiguousError,
    BybitError,
    BybitProtocolError,
    BybitTransportError,
    error_for,
)
from nexusforge.nexus.venues.bybit.keys import Credentials
from nexusforge.nexus.venues.bybit.models import BybitOrderAck
from nexusforge.nexus.venues.bybit.orders import OrderRequest, check_order_link_id
from nexusforge.nexus.venues.bybit.ratelimit import EndpointClass
from nexusforge.nexus.venues.bybit.rest import BybitRestClient
from nexusforge.nexus.venues.bybit.ws_auth import AuthenticatedWs
from nexusforge.nexus.venues.bybit.ws_connection import BybitWsEnvelope, StreamStatus

log = logging.getLogger(__name__)

_ACK = msgspec.json.Decoder(BybitOrderAck)


class BybitTradeWs(AuthenticatedWs[StreamStatus]):
    """Order entry over `/v5/trade`; replies are matched to requests by `reqId`."""

    def __init__(
        self,
        config: BybitConfig,
        credentials: Credentials,
        on_event: Callable[[StreamStatus], Awaitable[None] | None] | None = None,
        *,
        rest: BybitRestClient | None = None,
        rng: random.Random | None = None,
    ) -> None:
        super().__init__(
            config, config.trade_ws_url, credentials, on_event or _ignore, rest=rest, rng=rng
        )
        self._pending: dict[str, asyncio.Future[BybitOrderAck]] = {}
        self._prefix = secrets.token_hex(4)
        self._seq = itertools.count(1)

    async def create_order(self, request: OrderRequest) -> BybitOrderAck:
        """Place an order; the ack is not a fill (fills arrive on the private stream)."""
        params = request.params(self.config.category, self.config.position_mode)
        return await self._request("order.create", params)

    async def amend_order(
        self,
        symbol: str,
        *,
        order_link_id: str,
        qty: Decimal | None = None,
        price: Decimal | None = None,
    ) -> BybitOrderAck:
        """Change the qty and/or price of an open order."""
        check_order_link_id(order_link_id)
        params = {
            "category": self.config.category,
            "symbol": symbol,
            "orderLinkId": order_link_id,
            "qty": None if qty is None else format(qty, "f"),
            "price": None if price is None else format(price, "f"),
        }
        return await self._request("order.amend", params)

    async def cancel_order(self, symbol: str, *, order_link_id: str) -> BybitOrderAck:
        """Cancel one order by its orderLinkId."""
        check_order_link_id(order_link_id)
        params = {"category": self.config.category, "symbol": symbol, "orderLinkId": order_link_id}
        return await self._request("order.cancel", params)

    # ---- plumbing ----

    async def _open(self, ws: ClientConnection) -> None:
        await self._authenticate(ws)
        self._authed.set()
        await self._emit(StreamStatus("ready", self.url))

    def _closed(self) -> None:
        super()._closed()
        for req_id, fut in self._pending.items():
            if not fut.done():
                fut.set_exception(
                    BybitTransportError(-1, f"socket closed before the reply to {req_id}")
                )
        self._pending.clear()

    async def _request(self, op: str, params: Mapping[str, object]) -> BybitOrderAck:
        if self.rest is not None:
            await self.rest.limiter.acquire(EndpointClass.ORDER_WRITE)  # shared with REST
        await self.wait_ready()
        ws = self._ws
        assert ws is not None  # ready implies a socket; no await since the check
        req_id = f"{self._prefix}-{next(self._seq)}"
        fut: asyncio.Future[BybitOrderAck] = asyncio.get_running_loop().create_future()
        self._pending[req_id] = fut
        now = self.rest.time.now_ms() if self.rest is not None else SystemClock().wall_ms()
        header = {
            "X-BAPI-TIMESTAMP": str(now),
            "X-BAPI-RECV-WINDOW": str(self.config.recv_window_ms),
        }
        message = {
            "reqId": req_id,
            "header": header,
            "op": op,
            "args": [{k: v for k, v in params.items() if v is not None}],
        }
        try:
            await self._send(ws, message)
            return await asyncio.wait_for(fut, self.config.http_timeout_s)
        except ConnectionClosed as exc:
            raise BybitTransportError(-1, f"{op}: socket closed while sending: {exc}") from None
        except TimeoutError:
            raise BybitTransportError(-1, f"{op}: no reply within the timeout") from None
        finally:
            self._pending.pop(req_id, None)

    def _on_reply(self, env: BybitWsEnvelope) -> bool:
        fut = self._pending.get(env.reqId or "")
        if fut is None:
            return False
        if fut.done():
            return True
        if env.retCode != 0:
            fut.set_exception(_error(env))
            return True
        try:
            fut.set_result(_ACK.decode(env.data))
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
            # Accepted (retCode 0) but the ack is unreadable: the order may exist.
            fut.set_exception(BybitAmbiguousError(-1, f"unreadable {env.op} ack: {exc}"))
        return True

    async def _on_data(self, env: BybitWsEnvelope, frame: str | bytes) -> None:
        self.stats.unknown += 1
        log.warning("bybit trade ws: unexpected topic frame %r", env.topic)


def _error(env: BybitWsEnvelope) -> BybitError:
    if env.retCode is None:
        return BybitProtocolError(-1, f"reply to {env.op} without retCode", "/v5/trade")
    return error_for(env.retCode, env.retMsg or "", f"/v5/trade {env.op}")


def _ignore(event: StreamStatus) -> None:
    """Default event sink: connection events are only logged."""
