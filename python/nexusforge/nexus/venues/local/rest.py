"""The REST API: one route table, Bybit's envelope, auth on the raw bytes, per-key limits.

Business errors are HTTP 200 with a non-zero retCode (Bybit's rule); an unknown path is HTTP 404
with retCode 10017. Authenticated replies carry `X-Bapi-Limit*` headers.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from nexusforge.nexus.venues.local import market_data as md
from nexusforge.nexus.venues.local import queries as q
from nexusforge.nexus.venues.local import rejects as rc
from nexusforge.nexus.venues.local.auth import verify_rest
from nexusforge.nexus.venues.local.params import Params
from nexusforge.nexus.venues.local.ratelimit import (
    ACCOUNT_READ,
    ORDER_READ,
    ORDER_WRITE,
    RateLimited,
    RateLimiter,
)
from nexusforge.nexus.venues.local.rejects import Reject
from nexusforge.nexus.venues.local.venue import Venue
from nexusforge.nexus.venues.local.wire import envelope

log = logging.getLogger(__name__)
Handler = Callable[[Venue, Params], dict[str, Any]]
_encoder = msgspec.json.Encoder()


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    handler: Handler
    group: str | None  # rate-limit group of an authenticated endpoint; None = public


ROUTES: dict[str, Route] = {
    "/v5/market/time": Route("GET", lambda v, _: md.server_time(v.now_ms()), None),
    "/v5/market/instruments-info": Route("GET", md.instruments_info, None),
    "/v5/market/orderbook": Route("GET", md.orderbook, None),
    "/v5/market/kline": Route("GET", md.kline, None),
    "/v5/market/tickers": Route("GET", md.tickers, None),
    "/v5/market/recent-trade": Route("GET", md.recent_trades, None),
    "/v5/order/create": Route("POST", lambda v, p: v.create_order(p), ORDER_WRITE),
    "/v5/order/amend": Route("POST", lambda v, p: v.amend_order(p), ORDER_WRITE),
    "/v5/order/cancel": Route("POST", lambda v, p: v.cancel_order(p), ORDER_WRITE),
    "/v5/order/cancel-all": Route("POST", lambda v, p: v.cancel_all(p), ORDER_WRITE),
    "/v5/order/realtime": Route("GET", q.open_orders, ORDER_READ),
    "/v5/order/history": Route("GET", q.order_history, ORDER_READ),
    "/v5/execution/list": Route("GET", q.executions, ORDER_READ),
    "/v5/position/list": Route("GET", q.positions, ACCOUNT_READ),
    "/v5/account/wallet-balance": Route("GET", q.wallet, ACCOUNT_READ),
    "/v5/account/fee-rate": Route("GET", q.fee_rates, ACCOUNT_READ),
}


@dataclass
class FailNext:
    """A fault: answer the next `count` REST requests with `code` (tests only)."""

    count: int = 0
    code: int = rc.SERVER_ERROR
    message: str = "Server error (injected fault)"
    http_status: int = 200
    scope: str = "any"  # which requests fail: any | private (signed) | order (order writes)
    delay_count: int = 0  # the next `delay_count` replies are held `delay_s` (client timeouts)
    delay_s: float = 0.0


class RestApi:
    """The ASGI endpoint for every `/v5/...` REST path."""

    def __init__(self, venue: Venue, limiter: RateLimiter) -> None:
        self.venue = venue
        self.limiter = limiter
        self.fail_next = FailNext()
        self.requests = 0
        self.ret_codes: Counter[int] = Counter()  # replies by retCode, for operators and tests

    async def handle(self, request: Request) -> Response:
        self.requests += 1
        body, headers, status = await self._answer(request)
        self.ret_codes[body["retCode"]] += 1
        return Response(_encoder.encode(body), status, headers, media_type="application/json")

    async def _answer(self, request: Request) -> tuple[dict[str, Any], dict[str, str], int]:
        now = self.venue.now_ms()
        route = ROUTES.get(request.url.path)
        if route is None:
            return envelope({}, now, rc.ROUTE_NOT_FOUND, "Route not found"), {}, 404
        if request.method != route.method:
            return envelope({}, now, rc.ROUTE_NOT_FOUND, "Method not allowed"), {}, 405
        if self.fail_next.delay_count > 0:
            self.fail_next.delay_count -= 1
            await asyncio.sleep(self.fail_next.delay_s)
        if self.fail_next.count > 0 and _in_scope(self.fail_next.scope, route):
            self.fail_next.count -= 1
            body = envelope({}, now, self.fail_next.code, self.fail_next.message)
            return body, {}, self.fail_next.http_status
        headers: dict[str, str] = {}
        try:
            payload = await _payload(request)
            if route.group is not None:
                key = verify_rest(self.venue.config, request.headers, payload, now)
                headers = self.limiter.take(key, route.group, now).headers()
            params = _parse(request.method, payload)
            result = route.handler(self.venue, params)
        except RateLimited as exc:
            headers = exc.status.headers()
            return envelope({}, now, exc.code, exc.message), headers, 200
        except Reject as exc:
            return envelope({}, now, exc.code, exc.message), headers, 200
        # Stamped after the handler ran, as Bybit stamps a reply when it sends it.
        return envelope(result, self.venue.now_ms()), headers, 200


async def _payload(request: Request) -> str:
    """What the client signed: the raw query string (GET) or the raw body (POST)."""
    if request.method == "GET":
        return str(request.scope.get("query_string", b"").decode("latin-1"))
    return (await request.body()).decode("utf-8", errors="replace")


def _parse(method: str, payload: str) -> dict[str, Any]:
    if method == "GET":
        return dict(parse_qsl(payload, keep_blank_values=True))
    try:
        params = msgspec.json.decode(payload) if payload.strip() else {}
    except msgspec.DecodeError:
        raise Reject(rc.PARAMS, "request body is not valid JSON") from None
    if not isinstance(params, dict):
        raise Reject(rc.PARAMS, "request body must be a JSON object")
    return params


def _in_scope(scope: str, route: Route) -> bool:
    if scope == "private":
        return route.group is not None
    if scope == "order":
        return route.group == ORDER_WRITE
    return True


def wall_ms() -> int:
    """The exchange clock: Unix time in ms."""
    return time.time_ns() // 1_000_000
